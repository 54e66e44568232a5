"""examples/paper4_phase_diagram.py end to end at a tiny size: nine figures, a summary, clear errors."""

from __future__ import annotations

import json

import pytest
from scripts import load_script



def load():
    return load_script("examples/paper4_phase_diagram.py")


@pytest.mark.slow  # the example end to end: the long stage
def test_tiny_run_draws_every_figure(tmp_path, capsys):
    mod = load()
    out = tmp_path / "p4"
    rc = mod.main(["--lr", "0.125,16", "--sigma-w", "0.125,256", "--models", "2", "--epochs", "2",
                   "--epoch-batches", "10", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "updates/s" in text and "min" in text  # the time estimate comes first
    for k in range(1, 10):
        assert len(list(out.glob(f"fig{k}_*.png"))) == 1, k
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lr"] == [0.125, 16.0] and len(summary["phase"]) == 2 and "T_c" in summary
    assert summary["phase"][1][0] == "jammed"  # σ_W = 256 at T = 1/32: features frozen from the start


@pytest.mark.parametrize("args", [["--lr", "0,1"], ["--sigma-w", "-1"]])
def test_non_positive_grid_is_refused(args, tmp_path):
    with pytest.raises(SystemExit) as exc:
        load().main(args + ["--out", str(tmp_path)])
    assert exc.value.code == 2


def test_epochs_generate_py_cannot_save_is_refused(tmp_path):
    with pytest.raises(ValueError, match="`epochs`"):
        load().main(["--epochs", "30", "--out", str(tmp_path)])


def test_run_length_example_tiny(tmp_path, capsys):
    mod = load_script("examples/paper4_run_length.py")
    assert mod.main(["--lengths", "2,4", "--models", "2", "--epoch-batches", "5", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "run_length.json").read_text())
    assert len(data["rows"]) == 2 * len(mod.POINTS) and len(data["summary"]) == len(mod.POINTS)
    assert "extrapolated to 10⁵ epochs" in capsys.readouterr().out
