"""compare's linear-scaling check: the finite-α law fitted, the continuum law beside it."""
from __future__ import annotations

import importlib
import math

import numpy as np

from coulombgas.training import teacher_student

cmp = importlib.import_module("coulombgas.report.comparison")
mc = importlib.import_module("coulombgas.report.model_checks")


def rows_from_law(lrs, slope, err_rel=0.003, bs=16, eps=0.1, a=1.0):
    """Rows exactly on ⟨S⟩ = a√(αε²/|B|)/√(1 − α|K′|/2), with stated errors."""
    rows = []
    for lr in lrs:
        c = lr / bs * eps**2
        f = (1.0 - 0.5 * lr * abs(slope)) ** -0.5
        S = a * math.sqrt(c) * f
        rows.append({"lr": lr, "batch_size": bs, "eps": eps, "c": c, "mean_S": S, "mean_S_err": err_rel * S,
                     "drift_slope": slope, "step_factor": f})
    return rows


def test_finite_alpha_law_agrees_and_continuum_differs():
    rows = rows_from_law([0.1, 0.2, 0.3, 0.4, 0.5], -1.0)
    checks = cmp._check_scaling(rows, 0.01)
    assert [c["verdict"] for c in checks] == ["agrees", "differs"]
    assert checks[0]["measured"] == np.float64(checks[0]["measured"])
    np.testing.assert_allclose(checks[0]["measured"], 1.0, rtol=1e-12)
    np.testing.assert_allclose([r["fit"] for r in rows], [r["mean_S"] for r in rows], rtol=1e-12)
    assert "continuum" in checks[1]["check"]


def test_a_wrong_step_factor_is_rejected():
    """Rows from a law whose factor is 1/(1 − α|K′|/2) with |K′| 30 % larger than the one the check uses."""
    rows = rows_from_law([0.1, 0.2, 0.3, 0.4, 0.5], -1.3)
    for r in rows:
        r["drift_slope"], r["step_factor"] = -1.0, (1.0 - 0.5 * r["lr"]) ** -0.5
    assert cmp._check_scaling(rows, 0.01)[0]["verdict"] == "differs"


def test_without_a_slope_only_the_continuum_law():
    rows = rows_from_law([0.1, 0.2, 0.3], -1.0)
    for r in rows:
        r["step_factor"] = None
    checks = cmp._check_scaling(rows, 0.01)
    assert len(checks) == 1 and "continuum law only" in checks[0]["note"]


def test_pair_drift_slope_of_the_teacher_student_is_minus_one():
    """X → 4·1 relaxes as dX/dt = −α(X − 4): K′ = −1 per unit lr (within the fit's error)."""
    h = teacher_student(lr=0.1, batch_size=16, eps=0.1, models=40, steps=1000, record_every=50, seed=3,
                        progress=False)
    slope = cmp._pair_drift_slope(h, [(0, 1)])
    assert abs(slope + 1.0) < 0.1


def test_rbm_checks_compare_levels_with_the_predicted_shifts():
    """Levels drawn around x* + Δ (Δ from theory.rbm_levels) agree; the bare fixed point is reported far off."""
    import dataclasses

    from coulombgas.theory.rbm_levels import rbm_level_shifts
    from coulombgas.training import gaussian_rbm

    h = gaussian_rbm(models=20, steps=2, record_every=1, seed=1, progress=False, record_weights=False)
    th = rbm_level_shifts(lr=0.1, batch_size=16, gibbs_steps=3)
    rng = np.random.default_rng(0)
    models = 4000
    ev = th.fixed_point + th.shift + 0.01 * rng.standard_normal((models, 10))
    ev.sort(axis=-1)
    fake = dataclasses.replace(h, eigenvalues=ev[:, None], singular_values=np.sqrt(ev)[:, None],
                               loss=np.zeros((models, 1)), steps=np.array([0]), model_ids=np.arange(models))
    extra = {}
    (row,) = mc.rbm_checks(fake, extra)
    assert row["verdict"] == "agrees" and "Jensen" in row["note"] and "bare fixed point" in row["note"]
    np.testing.assert_allclose(row["predicted"], th.fixed_point + th.shift, rtol=1e-12)
    plain = float(row["note"].split("max |z| = ")[1].split(";")[0].split()[0])
    assert plain > 10


def test_compare_builds_the_step_corrected_gas_by_default_and_the_continuum_on_request():
    """The gas compare builds carries the AR(1) factor 1/(1 − α|K′|/2) on each mode's noise: at α = 0.5
    and K′ = −1 (teacher–student) its temperature-weighted noise is 4/3 of the continuum one."""
    import pytest

    h = teacher_student(lr=0.5, models=40, steps=400, record_every=20, seed=3, progress=False)
    module = importlib.import_module("coulombgas.training.teacher_student")
    step = cmp._matching_gas(h, module, {}, "step")
    cont = cmp._matching_gas(h, module, {}, "continuum")
    ratio = np.asarray(step.g) ** 2 / np.asarray(cont.g) ** 2
    np.testing.assert_allclose(ratio, 4.0 / 3.0, rtol=0.05)  # slopes measured from 40 models: a few %
    with pytest.raises(ValueError, match="corrections"):
        cmp.compare("teacher-student", corrections="stepp", models=40, steps=100, progress=False)
