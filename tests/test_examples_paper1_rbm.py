"""examples/paper1_rbm.py runs at a tiny size and prints/saves the numbers its figures show."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scripts import load_script

from coulombgas.theory.rbm_levels import rbm_level_shifts



def load():
    return load_script("examples/paper1_rbm.py")


@pytest.mark.slow  # the example end to end: the long stage
def test_tiny_run_writes_figure_and_summary(tmp_path, capsys):
    mod = load()
    rows = mod.main(["--models", "6", "--steps", "240", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert (tmp_path / "rbm.png").stat().st_size > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["start"] == "fixed-point" and len(summary["rows"]) == len(mod.SMALL) == len(rows)
    for row in summary["rows"]:
        th = rbm_level_shifts(lr=row["lr"], batch_size=row["batch_size"], gibbs_steps=3)
        assert len(row["levels"]) == 6 and len(row["pairs"]) == 4 and len(row["singles"]) == 2
        pred = [lv["predicted"] for lv in row["levels"]]
        kappa = np.array([lv["kappa"] for lv in row["levels"]])
        np.testing.assert_allclose(pred, 1.0 - th.group_shifts() / kappa, rtol=1e-12)
        assert all(np.isfinite(p["sqrt_pi_sigma"]) and p["sqrt_pi_sigma"] > 0 for p in row["pairs"])
        assert f"T = {row['T']:.5f}" in out
    assert "λ_fit/κ" in out and "√πσ" in out and "Gaussian width" in out


def test_full_grid_is_the_papers():
    mod = load()
    grid = mod.settings(True)
    assert sorted({a for a, b in grid if b == 16}) == [0.01, 0.02, 0.04, 0.06, 0.08, 0.1]
    assert sorted({b for a, b in grid if a == 0.1}) == [4, 8, 16, 32, 64]
    assert len(grid) == len(set(grid)) == 10
