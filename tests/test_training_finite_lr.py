"""Finite-α corrections of the harvest's gas (coulombgas.training.finite_lr, gas_from_harvest(corrections=)).

The core check is an exactly solvable linear model: a symmetric 2×2 W = 2·1 + E trained by
SGD with an exact gradient E and fresh GOE-like noise each step. E is then an AR(1) process
with the exact stationary law E_ij ~ N(0, v(1 + δ_ij)), v = αε²/(|B|(2 − α)) (the continuum
SDE gives αε²/(2|B|)), so the eigenvalues x = (2 + λ)² of X = W² have ⟨S⟩ = 4√(2πv) exactly
(the centre of mass λ₁ + λ₂ of a GOE pair is independent of the spacing). The whole pipeline
(per-sample gradients → estimate → fit → gas → its own log_density) must reproduce that number.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from stats import assert_z

from coulombgas import CoulombGas, theory
from coulombgas.training.harvest import Harvest, spectra_of

dn = importlib.import_module("coulombgas.training.drift_noise")
fl = importlib.import_module("coulombgas.training.finite_lr")

EPS = 0.1


def exact_variance(lr, bs, eps=EPS):
    """Off-diagonal variance of E for the AR(1) E' = (1 − α)E − α ā, Var ā_12 = ε²/|B|."""
    return lr * eps**2 / (bs * (2.0 - lr))


def linear_harvest(lr, bs, models=200, records=10, seed=0):
    """Independent draws of W = 2·1 + E from the exact stationary law (records of the same models)."""
    rng = np.random.default_rng(seed)
    v = exact_variance(lr, bs)
    E = rng.standard_normal((models, records, 2, 2)) * math.sqrt(v)
    E = (E + np.swapaxes(E, -1, -2)) / math.sqrt(2.0)  # off-diagonal var v, diagonal 2v
    W = 2.0 * np.eye(2) + E
    ev, sv = spectra_of(W.reshape(-1, 2, 2), "WtW")
    return Harvest(model="linear-symmetric", eigenvalues=ev.reshape(models, records, 2),
                   singular_values=sv.reshape(models, records, 2), loss=np.zeros((models, records)),
                   steps=np.arange(records) * 1000, params={"lr": lr, "batch_size": bs, "models": models}, seed={},
                   model_ids=np.arange(models), weights=W, gram="WtW")


def linear_gradients(samples):
    """G_b = E + a_b, a_b symmetric with off-diagonal std ε, diagonal std √2 ε (fresh per call)."""
    def gradients(harvest, record):
        W = harvest.weights[:, record]
        rng = np.random.default_rng(1000 + record)
        a = rng.standard_normal((len(W), samples, 2, 2)) * EPS
        a = (a + np.swapaxes(a, -1, -2)) / math.sqrt(2.0)
        return W, (W - 2.0 * np.eye(2))[:, None] + a
    return gradients


def gas_spacing(gas, center, sigma):
    """⟨S⟩ of the gas's own stationary law (its log_density, by quadrature on a 2-D grid)."""
    c, L = float(np.mean(center)), 9.0 * float(np.max(sigma))
    u = np.linspace(c - L, c + L, 1201)
    X1, X2 = np.meshgrid(u, u, indexing="ij")
    lp = gas.log_density(np.stack([X1, X2], axis=-1))
    p = np.exp(lp - lp.max())
    return float((np.abs(X1 - X2) * p).sum() / p.sum())


@pytest.fixture(scope="module")
def linear_case():
    lr, bs = 0.5, 16
    h = linear_harvest(lr, bs)
    est = dn.estimate_drift_noise(h, linear_gradients(4000), records=np.arange(h.records))
    return lr, bs, h, est


# ----------------------------------------------------------------- exact values

def test_step_factor_is_the_ar1_variance():
    """Σ_t (1 − r)^{2t}·q (the AR(1) sum, term by term) over the continuum q/(2r): 1/(1 − r/2)."""
    for lr, slope in [(0.1, -1.0), (0.5, -1.0), (0.3, -2.5), (0.01, -0.7)]:
        r = lr * abs(slope)
        series = sum((1.0 - r) ** (2 * t) for t in range(20000))  # q = 1
        np.testing.assert_allclose(fl.step_factor([slope], lr)[0], series / (1.0 / (2.0 * r)), rtol=1e-12)
    with pytest.raises(ValueError, match=r"`lr`.*stable range.*modes \[1\]"):
        fl.step_factor([-1.0, -4.0], 0.5)


def test_spacing_mean_two_modes_against_rayleigh_and_quadrature():
    np.testing.assert_allclose(fl.spacing_mean_two_modes([1.0, 1.0], [0.3, 0.4]),
                               theory.two_mode_spacing(0.3, 0.4).mean(), rtol=1e-12)
    # Unequal centres: direct 2-D quadrature of |x1 − x2| p.
    c, s = np.array([0.0, 0.25]), np.array([0.2, 0.15])
    u = np.linspace(-2, 2, 1601)
    X1, X2 = np.meshgrid(u, u, indexing="ij")
    p = np.abs(X1 - X2) * np.exp(-(X1 - c[0]) ** 2 / (2 * s[0] ** 2) - (X2 - c[1]) ** 2 / (2 * s[1] ** 2))
    np.testing.assert_allclose(fl.spacing_mean_two_modes(c, s), (np.abs(X1 - X2) * p).sum() / p.sum(), rtol=2e-5)  # kink at x1 = x2


def test_parse_corrections():
    assert fl.parse_corrections("continuum") == ()
    assert fl.parse_corrections(None) == ()
    assert fl.parse_corrections("all") == fl.CORRECTIONS
    assert fl.parse_corrections(["drift2", "step"]) == ("step", "drift2")
    with pytest.raises(ValueError, match=r"`corrections`.*'step'.*'pairs'.*'wishart'.*'drift2'.*got 'ito'"):
        fl.parse_corrections(["step", "ito"])
    with pytest.raises(ValueError, match="`corrections` cannot combine 'continuum'"):
        fl.parse_corrections(["continuum", "step"])
    with pytest.raises(TypeError, match="`corrections`"):
        fl.parse_corrections(3)


# ----------------------------------------------------------------- the linear model, end to end

def test_step_corrected_gas_matches_the_exact_linear_law(linear_case):
    """α = 0.5: the continuum gas is 15.5 % low; the step-corrected gas is exact within its errors,
    and a gas whose noise amplitude is off by 2 % is rejected (the test has the power to see it)."""
    lr, bs, h, est = linear_case
    exact = 4.0 * math.sqrt(2.0 * math.pi * exact_variance(lr, bs))
    fit = dn.quadratic_fit(est)
    cont = dn.gas_from_harvest(h, est)
    corr = dn.gas_from_harvest(h, est, corrections="step")
    f = fl.step_factor(fit.slope, lr)
    np.testing.assert_allclose(corr.g**2, cont.g**2 * f, rtol=1e-12)
    np.testing.assert_allclose(corr.weights, corr.g**2, rtol=1e-12)
    sig_c = fit.width * np.sqrt(cont.temperature * cont.g**2)
    s_cont = gas_spacing(cont, fit.center, sig_c)
    s_corr = gas_spacing(corr, fit.center, sig_c * np.sqrt(f))
    # Error of the prediction: width ∝ |K′|^(-1/2) (jackknife slope error), g ∝ √g² (its error over samples).
    g2_rel = float(np.mean(est.ensemble("g2")[1][-1] / est.ensemble("g2")[0][-1])) / math.sqrt(est.records.size)
    err = s_corr * math.hypot(0.5 * float(np.mean(fit.slope_err / -fit.slope)), 0.5 * g2_rel)
    assert err < 0.004 * exact  # a precise test: 2 % is many errors
    assert_z(s_corr, exact, err)
    assert abs(s_cont / exact - math.sqrt(1.0 - lr / 2.0)) < 5 * err / exact  # the continuum's known bias
    with pytest.raises(AssertionError):
        assert_z(1.02 * s_corr, exact, err)  # noise amplitude 2 % off
    with pytest.raises(AssertionError):
        assert_z(s_cont, exact, err)


def test_pairs_correction_uses_measured_coulomb_coefficients(linear_case):
    """GOE-like noise: C_12 = C_11/2 = g², so 'pairs' reproduces the SDE's weights within sampling error."""
    lr, bs, h, est = linear_case
    base = dn.gas_from_harvest(h, est, corrections="step")
    both = dn.gas_from_harvest(h, est, corrections=["step", "pairs"])
    c12 = est.variance[..., 0, 1].mean()
    np.testing.assert_allclose(both.weights, c12 * fl.step_factor(dn.quadratic_fit(est).slope, lr), rtol=1e-12)
    np.testing.assert_allclose(both.weights, base.weights, rtol=0.03)


def test_wishart_effective_potential_has_the_ito_stationary_law(linear_case):
    """The Laguerre V_eff gives exp(−aV_eff/D̄) ∝ exp(∫aK/D dx)/D(x) for D(x) = D̄ x/x̄ (checked by quadrature)."""
    lr, bs, h, est = linear_case
    gas = dn.gas_from_harvest(h, est, corrections="wishart")
    fit = dn.quadratic_fit(est)
    xbar = est.eigenvalues.mean(axis=(0, 1))
    T, g2 = lr / bs, est.g2.mean(axis=(0, 1))
    for i in range(2):
        x = np.linspace(xbar[i] - 0.3, xbar[i] + 0.3, 2001)
        K = -(x - fit.center[i]) / fit.width[i] ** 2
        D = T * g2[i] * x / xbar[i]  # D/a
        integral = np.concatenate([[0.0], np.cumsum(0.5 * (K[1:] / D[1:] + K[:-1] / D[:-1]) * np.diff(x))])
        want = integral - np.log(D)
        cols = np.tile(xbar, (x.size, 1))
        cols[:, i] = x
        got = -gas.potential.value(cols)[:, i] / (T * gas.g[i] ** 2)
        np.testing.assert_allclose(got - got[1000], want - want[1000], atol=1e-6)


def test_drift2_moves_the_centres(linear_case):
    lr, bs, h, est = linear_case
    fit = dn.quadratic_fit(est)
    gas = dn.gas_from_harvest(h, est, corrections="drift2")
    delta = lr * est.drift2.mean(axis=(0, 1)) + lr / bs * est.ito.mean(axis=(0, 1))
    kind, params, _ = gas.potential.kernel_data(2)
    center = -params[:, 1] / (2 * params[:, 2])
    np.testing.assert_allclose(center, fit.center + fit.width**2 * delta, rtol=1e-12)


def test_gas_from_harvest_bad_corrections(linear_case):
    lr, bs, h, est = linear_case
    with pytest.raises(ValueError, match="`corrections`.*'step'.*got 'euler'"):
        dn.gas_from_harvest(h, est, corrections="euler")
    from coulombgas import potentials
    with pytest.raises(ValueError, match="`corrections`.*'wishart'.*potential='quadratic'"):
        dn.gas_from_harvest(h, est, potential=potentials.Quadratic(4.0, 1.0), corrections="wishart")
    # A user potential still gets the step factor, from its own curvature V'' = 1/w².
    gas = dn.gas_from_harvest(h, est, potential=potentials.Quadratic(4.0, 2.0), corrections="step")
    np.testing.assert_allclose(gas.g**2, est.g2.mean(axis=(0, 1)) / (1 - lr * 0.25 / 2), rtol=1e-8)
    assert isinstance(gas, CoulombGas)


@pytest.mark.slow
def test_teacher_student_step_corrected_gas_matches_training():
    """Paper 1's teacher–student at α = 0.4, |B| = 16, ε = 0.1 (3,000 models, 5,000 updates): the
    step-corrected gas's ⟨S⟩ agrees with training within z = 4 (training's error over models, the
    gas's from the jackknife slope error), the continuum gas (−10 %, measured z ≈ −10) does not."""
    from functools import partial

    from coulombgas.training import teacher_student

    ts = importlib.import_module("coulombgas.training.teacher_student")
    lr = 0.4
    h = teacher_student(lr=lr, batch_size=16, eps=0.1, models=3000, steps=5000, record_every=50, seed=103,
                        progress=False)
    sub = h.select(np.arange(200))
    est = dn.estimate_drift_noise(sub, partial(ts.per_sample_gradients, samples=8000),
                                  records=np.arange(h.records - 6, h.records))
    fit = dn.quadratic_fit(est)
    S = np.diff(h.final(), axis=-1)[:, 0]
    s_err = S.std(ddof=1) / math.sqrt(S.size)
    pred = {}
    for name in ("continuum", "step"):
        gas = dn.gas_from_harvest(sub, est, corrections=name)
        pred[name] = fl.spacing_mean_two_modes(fit.center, fit.width * np.sqrt(gas.temperature * gas.g**2))
    err = math.hypot(s_err, pred["step"] * 0.5 * float(np.mean(fit.slope_err / -fit.slope)))
    assert_z(S.mean(), pred["step"], err)
    assert abs(S.mean() - pred["continuum"]) > 4 * err
