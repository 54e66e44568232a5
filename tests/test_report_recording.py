"""compare on a recording (cg.compare(recording) / coulombgas compare --run) and the linear-scaling check."""

import json
import math
import os

import numpy as np
import pytest

from coulombgas.report.recording import compare_recording, is_recording, linear_scaling
from coulombgas.training.recording import RecordedHarvest


def _jittery(lr, batch_size, scale=1.0, n=6, records=80, seed=0, gamma=0.5):
    """One run whose modes jitter as (lr/batch_size)^gamma, each mode with its own amplitude."""
    rng = np.random.default_rng(seed)
    amp = np.linspace(1.0, 3.0, n) * scale * (lr / batch_size) ** gamma
    ev = np.arange(1, n + 1, dtype=float) * 10 + amp * rng.standard_normal((records, n))
    return RecordedHarvest(model="w", eigenvalues=ev[None], singular_values=np.sqrt(ev)[None],
                           loss=np.zeros((1, records)), steps=np.arange(records, dtype=np.int64) * 10,
                           params={"shape": [n, n], "lr": lr, "batch_size": batch_size}, seed={},
                           model_ids=np.zeros(1, dtype=np.int64))


def test_linear_scaling_recovers_the_exponent():
    runs = [_jittery(lr, bs, seed=k) for k, (lr, bs) in enumerate([(0.05, 16), (0.1, 16), (0.05, 32), (0.1, 32)])]
    check = linear_scaling(runs)
    assert abs(check.exponent - 0.5) <= 3 * check.exponent_err and check.verdict == "agrees"
    bad = [_jittery(lr, bs, seed=k, gamma=1.0, n=20, records=400)
           for k, (lr, bs) in enumerate([(0.05, 16), (0.2, 16), (0.05, 64)])]
    assert linear_scaling(bad).verdict == "differs"
    with pytest.raises(ValueError, match="sources"):
        linear_scaling(runs[:1])
    with pytest.raises(ValueError, match="2 values"):
        linear_scaling([runs[0], _jittery(0.05, 16, seed=9)])


def test_compare_a_recording_without_statistics_says_so(tmp_path):
    h = _jittery(0.1, 16)
    assert is_recording(h) and not is_recording("teacher-student")
    report = compare_recording(h, out=tmp_path / "rep")
    assert report.checks[0]["verdict"] == "not built" and "gradient statistics" in report.checks[0]["note"]
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["matrices"]["w"]["models"] == 1
    assert "## w" in (tmp_path / "rep" / "report.md").read_text()
    assert all(os.path.getsize(f) > 0 for f in report.figures)
    with pytest.raises(ValueError, match="out"):
        compare_recording(h, out=tmp_path / "rep")
    with pytest.raises(ValueError, match="level"):
        compare_recording(h, level=2.0)


@pytest.mark.slow
def test_pytorch_teacher_student_agrees_with_the_built_in_report():
    """The papers' teacher-student trained through PyTorch and recorded: its report agrees with the built-in
    model's within errors (same protocol, different random numbers: compare the quantities, not the draws)."""
    import coulombgas as cg
    from coulombgas.training.torch_teacher_student import train_teacher_student_torch

    setting = dict(models=100, steps=2000, record_every=25, epoch_batches=100)
    _, h = train_teacher_student_torch(seed=1, **setting)
    torch_report = compare_recording(h, seed=1)
    built_in = cg.compare("teacher-student", scan=False, progress=False, seed=1, **setting)

    def row(report, start):
        return next(c for c in report.checks if c["check"].startswith(start))

    for report in (torch_report, built_in):
        for c in report.checks:
            if c["verdict"] in ("agrees", "differs"):
                assert c["verdict"] == "agrees", c
    # ⟨S⟩ measured in both runs, and each gas's prediction against the other run's measurement.
    a = row(torch_report, "⟨S⟩ of pair (0,1)")
    b = row(built_in, "⟨S⟩ of pair (0,1)")
    assert abs(a["measured"] - b["measured"]) <= 3 * math.hypot(a["error"], b["error"])
    assert abs(a["predicted"] - b["measured"]) <= 3 * b["error"]
    assert abs(b["predicted"] - a["measured"]) <= 3 * a["error"]
    # analyze's effective temperature: 0.715 T for the ordered modes of a degenerate pair (module docstring).
    row_a = cg.analyze(h, table="plain", gas=False).rows[0]
    assert row_a["unconfined"] == [] and 0.5 < row_a["T_eff/T"] < 1.0


def test_cg_compare_takes_a_recording_or_a_model_name(tmp_path):
    """report.recording.compare: what cg.compare becomes once report/__init__.py exports it (lead's edit)."""
    from types import SimpleNamespace

    from coulombgas.report.recording import compare

    cg = SimpleNamespace(compare=compare)
    h = _jittery(0.1, 16)
    report = cg.compare(h, out=tmp_path / "rep", progress=False)
    assert list(report.reports) == ["w"] and (tmp_path / "rep" / "report.md").exists()
    h.save(tmp_path / "h.npz")
    assert list(cg.compare(str(tmp_path / "h.npz"), progress=False).reports) == ["w"]
    with pytest.raises(ValueError, match="training parameter"):
        cg.compare(h, lr=0.1)
    with pytest.raises(ValueError, match="no-such-model"):
        cg.compare("no-such-model")
    with pytest.raises(ValueError, match="names"):
        cg.compare("teacher-student", names=["w"])
