"""The Markov-chain samplers (coulombgas.samplers: metropolis, hmc, warmup, chains) against exact values.

Target with a one-dimensional Gaussian inside: for the Dyson gas with V = x²/2 and n = 2,
P_s ∝ |x_2 − x_1|^β exp(−β(x_1² + x_2²)/2). With c = (x_1 + x_2)/2 and d = x_2 − x_1,
x_1² + x_2² = 2c² + d²/2, so c ~ N(0, 1/(2β)) exactly, independent of d, and d has density
∝ d^β e^{−βd²/4} on d > 0, whence E d² = 2(β + 1)/β. Errors of the estimates are
σ/√ESS with ESS from the chains' own integrated autocorrelation time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from stats import assert_z

import coulombgas as cg
from coulombgas import _rng, _status, mcmc
from coulombgas import diagnostics as dg
from coulombgas.samplers import chains as mc_chains
from coulombgas.samplers import hmc, warmup


def _mean_z(series, expected, sd):
    """z-test of the mean of correlated draws (chains, draws): error sd/√ESS."""
    ess = dg.effective_sample_size(series)
    return assert_z(series.mean(), expected, sd / math.sqrt(ess))


@pytest.mark.parametrize("method, kwargs", [
    ("mh", {}),
    ("hmc", {}),                                   # soft gaps, dense metric
    ("hmc", {"coordinates": "x", "metric": "diag"}),
    ("hmc", {"coordinates": "gaps", "persistence": 0.5}),
])
def test_samplers_reproduce_the_exact_two_particle_law(method, kwargs):
    beta = 2.0
    gas = cg.CoulombGas.gaussian(2, beta=beta)
    s = cg.sample(gas, 20000, method=method, chains=4, warmup=300, seed=11, **kwargs)
    x = s.x_chains
    com = x.mean(axis=-1)  # c ~ N(0, 1/(2β))
    var = 1.0 / (2.0 * beta)
    _mean_z(com, 0.0, math.sqrt(var))
    _mean_z(com**2, var, math.sqrt(2.0) * var)  # var(c²) = 2 var²
    d2 = (x[..., 1] - x[..., 0]) ** 2  # E d² = 2(β+1)/β; d²·β/4 ~ Gamma((β+1)/2): var(d²) = 8(β+1)/β²
    _mean_z(d2, 2.0 * (beta + 1) / beta, math.sqrt(8.0 * (beta + 1)) / beta)
    # The recorded log-density is the gas's own log P_s, and independent chains agree (R̂).
    np.testing.assert_allclose(s.log_density, gas.log_density(x), rtol=1e-12, atol=1e-12)
    assert np.all(s.diagnostics["rhat"] < 1.01)


def test_dual_averaging_finds_the_step_of_the_target_acceptance():
    # Synthetic acceptance a(ε) = e^{−ε}: the fixed point of the target 0.65 is ε* = −log 0.65.
    st = np.zeros(warmup.DA_STATE)
    warmup.restart_dual_averaging(st, math.log(5.0))
    for _ in range(3000):
        warmup.da_update(st, math.exp(-math.exp(st[warmup.LOG_EPS])), 0.65)
    assert math.exp(st[warmup.LOG_EPS_BAR]) == pytest.approx(-math.log(0.65), rel=0.02)
    assert st[warmup.DA_COUNT] == 3000


def test_step_collapse_is_reported_with_the_shared_status():
    st = np.zeros(warmup.DA_STATE)
    warmup.restart_dual_averaging(st, -680.0)
    counts = np.zeros(6, dtype=np.int64)
    counts[0] = 7
    # Acceptance 0 always: log ε falls until it passes e^-690, then the kernel's status is set.
    for _ in range(100):
        if warmup.adapt_collapsed(st, 0.0, 0.65, counts):
            break
    assert counts[3] == _status.STEP_COLLAPSED and counts[4] == 7
    assert mcmc.STEP_COLLAPSED == _status.STEP_COLLAPSED and mcmc.DIVERGED == _status.DIVERGED


@pytest.mark.parametrize("total, expected", [
    (0, []),
    (10, [(10, False)]),
    (100, [(15, False), (75, True), (10, False)]),
    # Stan's defaults: 75 fast, slow windows 25, 50, 100, …, the last absorbing the rest, 50 fast.
    (1000, [(75, False), (25, True), (50, True), (100, True), (200, True), (500, True), (50, False)]),
])
def test_warmup_windows_follow_stans_schedule(total, expected):
    assert warmup.warmup_windows(total) == expected
    assert sum(length for length, _ in warmup.warmup_windows(total)) == total


@pytest.mark.parametrize("dense", [True, False])
def test_adapted_metric_is_the_draws_covariance(dense):
    rng = np.random.default_rng(3)
    cov = np.array([[4.0, 1.2, 0.0], [1.2, 1.0, 0.3], [0.0, 0.3, 0.25]])
    q = rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=(4, 5000))
    inv_metric, sd_mom, traj_time = warmup.adapt_metric(q, dense)
    # Shrinkage and regularisation are O(n/N) and O(1/k): a few 1e-3 here.
    want = cov if dense else np.diag(cov)[None, :]
    np.testing.assert_allclose(inv_metric, want, rtol=0.05, atol=0.02)
    # W draws momenta of covariance M = (M⁻¹)⁻¹: W Wᵀ M⁻¹ = I (exact algebra, not statistics).
    m = inv_metric if dense else np.diag(inv_metric[0])
    w = sd_mom if dense else np.diag(sd_mom[0])
    np.testing.assert_allclose(w @ w.T @ m, np.eye(3), atol=1e-10)
    # Whitened by M the draws have covariance I (dense) or the correlation matrix (diagonal M):
    # quarter period (π/2)√λ_max, λ_max = 1 or 1 + 0.6√2 for this correlation matrix.
    sd = np.sqrt(np.diag(cov))
    lam = 1.0 if dense else float(np.linalg.eigvalsh(cov / np.outer(sd, sd)).max())
    assert traj_time == pytest.approx(0.5 * math.pi * math.sqrt(lam), rel=0.02)


def test_momentum_and_metric_products_match_numpy():
    n = 5
    rng = np.random.default_rng(4)
    upper = np.triu(rng.standard_normal((n, n)))
    full = rng.standard_normal((n, n))
    p = rng.standard_normal(n)
    out = np.empty(n)
    hmc._metric_times(full, p, out)
    np.testing.assert_allclose(out, full @ p, rtol=1e-14)
    hmc._metric_times(full[:1], p, out)
    np.testing.assert_allclose(out, full[0] * p, rtol=1e-14)
    z = np.empty(n)
    hmc._draw_momentum(upper, np.random.default_rng(9), z, out)
    np.testing.assert_array_equal(z, np.random.default_rng(9).standard_normal(n))  # numpy's stream
    np.testing.assert_allclose(out, upper @ z, rtol=1e-14)


@pytest.mark.parametrize("method", ["mh", "hmc"])
def test_a_runaway_chain_stops_with_the_sample_message(method):
    # A tiny escape radius turns the first accepted move into a "runaway": the kernel stops with
    # _status.DIVERGED and the driver names the chain and iteration in the shared message.
    gas = cg.CoulombGas.gaussian(3)
    x0 = np.array([[-1.0, 0.0, 1.0]])
    runner = mc_chains._Runner(gas, method, x0, _rng.streams(0, 1), mc_chains.kernels_for(gas.potential), 0.0,
                               0.5, 10, 1, False, 0)
    runner.radius = 0.5
    text = _status.SAMPLE_MESSAGES[_status.DIVERGED].format(radius=0.5)
    with pytest.raises(FloatingPointError, match=r"chain 0 diverged at warm-up") as err:
        runner.run(20, 1, True, False, "warm-up", 0)
    assert text in str(err.value)
