"""The main job end to end at a tiny size: report, numbers, figures, bad input."""

import json
import math
import os

import numpy as np
import pytest

import coulombgas as cg
from coulombgas import spectra, theory
from coulombgas.cli import main
from coulombgas.training import Harvest

TINY = {"models": 80, "steps": 1500, "record_every": 25}


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "report"
    assert main(["compare", "teacher-student", "--models", "80", "--steps", "1500", "--record-every", "25",
                 "--seed", "2", "--out", str(out), "--quiet"]) == 0
    return out


def test_report_files_exist_and_are_not_empty(report_dir):
    summary = json.loads((report_dir / "summary.json").read_text())
    for name in summary["figures"] + ["report.md", "summary.json", "harvest.npz"]:
        assert os.path.getsize(report_dir / name) > 0, name
    assert {"spacings.png", "density.png", "scaling.png", "trajectories.png", "stationary.png"} <= set(
        summary["figures"])
    text = (report_dir / "report.md").read_text()
    assert text.count("\n| ") == len(summary["checks"]) + 2  # header, separator, one row per check
    for check in summary["checks"]:
        assert check["check"] in text
        assert check["verdict"] in ("agrees", "differs", "equal-σ suffices", "two-component")


def test_report_numbers_recomputed_from_the_saved_harvest(report_dir):
    summary = json.loads((report_dir / "summary.json").read_text())
    h = Harvest.load(report_dir / "harvest.npz")
    assert h.models == summary["models"] - summary["diverged"]
    checks = {c["check"]: c for c in summary["checks"]}
    final = h.final()
    S = final[:, 1] - final[:, 0]
    s = S / S.mean()
    surmise = checks["Wigner surmise (β = 1) within degenerate pairs"]
    assert surmise["statistic"] == pytest.approx(
        spectra.goodness_of_fit(s, theory.wigner_surmise(1), "ks").pvalue, rel=1e-12)
    assert surmise["measured"] == [pytest.approx(np.mean(s**2), rel=1e-12)]
    pair = checks["⟨S⟩ of pair (0,1): harvest vs gas from drift/noise"]
    assert pair["measured"] == [pytest.approx(S.mean(), rel=1e-12)]
    assert pair["error"] == [pytest.approx(S.std(ddof=1) / math.sqrt(S.size), rel=1e-12)]
    means = checks["mode means: harvest vs stationary gas"]
    np.testing.assert_allclose(means["measured"], final.mean(axis=0), rtol=1e-12)
    # The gas in the summary is the one the report used: rebuild it and check its stationary width.
    gas = cg.CoulombGas.from_dict(summary["gas"])
    assert gas.n == 2 and gas.lr == h.lr and gas.batch_size == h.batch_size


def test_summary_has_one_schema_per_check_field(report_dir):
    """measured/error/predicted are always lists of numbers, statistic a number or null, texts strings."""
    summary = json.loads((report_dir / "summary.json").read_text())
    kinds = {}
    for check in summary["checks"]:
        for key in ("measured", "error", "predicted"):
            assert isinstance(check[key], list) and all(isinstance(y, float) for y in check[key]), (key, check)
        assert check["statistic"] is None or isinstance(check["statistic"], float), check
        for key in ("measured_text", "predicted_text", "statistic_text", "statistic_name", "note", "verdict"):
            assert isinstance(check[key], str), (key, check)
        kinds.setdefault(frozenset(check), []).append(check["check"])
    assert len(kinds) == 1, kinds  # every check has the same fields
    text = (report_dir / "report.md").read_text()
    for check in summary["checks"]:  # the texts are the report's cells
        assert f"| {check['predicted_text'].replace('|', chr(92) + '|')} |" in text


def test_too_few_models_refused_before_training(monkeypatch, tmp_path, capsys):
    import functools

    real = cg.training.teacher_student

    @functools.wraps(real)
    def must_not_train(**kwargs):
        raise AssertionError("trained before refusing")

    monkeypatch.setattr(cg.training, "teacher_student", must_not_train)
    with pytest.raises(ValueError, match="`models` must be >= 20"):
        cg.compare("teacher-student", models=5, progress=False)
    with pytest.raises(TypeError, match="progress"):
        cg.compare("teacher-student", progress="no")
    out = tmp_path / "five"
    assert main(["compare", "teacher-student", "--models", "5", "--out", str(out), "--quiet"]) == 2
    assert "models" in capsys.readouterr().err and not out.exists()


def test_teacher_student_theory_and_training_agree(report_dir):
    """At the paper's α, |B|, ε the surmise, the gas's ⟨S⟩ and linear scaling all agree."""
    summary = json.loads((report_dir / "summary.json").read_text())
    checks = {c["check"]: c for c in summary["checks"]}
    for name in ("Wigner surmise (β = 1) within degenerate pairs",
                 "⟨S⟩ of pair (0,1): harvest vs gas from drift/noise",
                 "linear scaling: ⟨S⟩ ∝ √(α c/|B|) with one slope",
                 "mode means: harvest vs stationary gas"):
        assert checks[name]["verdict"] == "agrees", checks[name]
    assert summary["goe_ratio"] == pytest.approx(0.5, abs=0.1)


def test_python_entry_point_without_output_directory():
    report = cg.compare("teacher-student", seed=1, progress=False, scan=False, **TINY)
    assert report.summary["models"] == 80 and not report.summary["scan"]
    assert isinstance(report.gas, cg.CoulombGas)
    assert "| check |" in report.to_markdown()


def test_refuses_existing_directory_and_writes_nothing_on_bad_input(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["compare", "teacher-student", "--out", str(out), "--quiet"]) == 2
    assert os.listdir(out) == ["notes.txt"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists" in err[0]
    fresh = tmp_path / "fresh"
    for argv, word in ((["compare", "no-such-model"], "unknown model"),
                       (["compare", "teacher-student", "--lr", "0"], "lr"),
                       (["compare", "teacher-student", "--set", "eps=-1"], "eps"),
                       (["compare", "teacher-student", "--set", "bogus=1"], "bogus")):
        assert main(argv + ["--out", str(fresh), "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and word in err[0], err
        assert not fresh.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".compare-")]
    with pytest.raises(ValueError, match="model"):
        cg.compare("nope")


@pytest.mark.parametrize("model, argv", [
    ("hidden-layer", ["--models", "60", "--steps", "1000", "--set", "Z='random'", "--no-scan"]),
    ("phase-network", ["--models", "20", "--steps", "4000", "--record-every", "200"]),
])
def test_every_model_runs_end_to_end(model, argv, tmp_path):
    out = tmp_path / model
    assert main(["compare", model, *argv, "--seed", "1", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == model and summary["checks"]
    for name in summary["figures"] + ["report.md", "harvest.npz"]:
        assert os.path.getsize(out / name) > 0, name
    if model == "phase-network":
        assert sum(summary["regimes"].values()) == 20


def test_linear_model_rows_exact_and_continuum(report_dir):
    """The teacher–student report shows ⟨S⟩ against the exact finite-α law and the continuum one, each with z."""
    from coulombgas.training import exact

    summary = json.loads((report_dir / "summary.json").read_text())
    h = Harvest.load(report_dir / "harvest.npz")
    checks = {c["check"]: c for c in summary["checks"]}
    sv = h.final("singular_values")
    S = sv[:, 1] - sv[:, 0]
    se = S.std(ddof=1) / math.sqrt(S.size)
    row = checks["⟨S⟩ of pair (0,1) (singular values): exact finite-α law"]
    law = exact.predict(h, datasets=64, orders=16, samples=200_000, seed=2)
    m, e = law.mean_spacing()
    assert row["measured"] == [pytest.approx(S.mean(), rel=1e-12)]
    assert row["predicted"] == [pytest.approx(m[0], rel=1e-12)]
    assert row["statistic"] == pytest.approx((S.mean() - m[0]) / math.hypot(se, e[0]), rel=1e-9)
    cont = checks["⟨S⟩ of pair (0,1) (singular values): continuum √(π α ε²/|B|)"]
    c = math.sqrt(math.pi * h.lr * h.params["eps"] ** 2 / h.batch_size)
    assert cont["predicted"] == [pytest.approx(c, rel=1e-12)]
    assert cont["statistic"] == pytest.approx((S.mean() - c) / se, rel=1e-9)  # a dataset per model: no disorder term
    assert not any("over datasets" in name for name in checks)


def test_shared_data_report_predicts_and_measures_the_dataset_spread():
    r = cg.compare("teacher-student", models=60, steps=600, record_every=50, scan=False, progress=False, seed=1,
                   data_seed=4, datasets=3, lr=0.3)
    checks = {c["check"]: c for c in r.checks}
    spread = checks["spread of ⟨S⟩ of pair (0,1) over datasets (shared data)"]
    sweep = r.summary["exact"]["dataset_sweep"]
    assert [s["data_seed"] for s in sweep] == [5, 6, 7]
    means = np.array([s["mean_S"][0] for s in sweep])
    errs = np.array([s["mean_S_err"][0] for s in sweep])
    assert spread["measured"] == pytest.approx(math.sqrt(max(np.var(means, ddof=1) - np.mean(errs**2), 0.0)))
    predicted = r.summary["exact"]["dataset_spread_predicted"][0]
    assert spread["predicted"] == pytest.approx(predicted) and predicted > 0
    # The continuum's z carries the disorder; the exact law's (this dataset's) does not.
    cont = checks["⟨S⟩ of pair (0,1) (singular values): continuum √(π α ε²/|B|)"]
    m, se = cont["measured"], cont["error"]
    assert cont["statistic"] == pytest.approx((m - cont["predicted"]) / math.hypot(se, predicted), rel=1e-9)
    with pytest.raises(ValueError, match="datasets"):
        cg.compare("teacher-student", models=60, steps=600, datasets=-1)
