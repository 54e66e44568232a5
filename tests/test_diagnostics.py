"""Chain diagnostics (coulombgas.diagnostics) against exact values and slow, obvious reference versions.

References: Sokal, Cargèse lectures (1997) eq. 3.19 for var(τ̂); Gelman et al., BDA3 §11.4 for
split R̂; Vehtari et al., Bayesian Analysis 16, 667 (2021) for the rank-normalised, folded R̂.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.signal
from stats import assert_z

from coulombgas import diagnostics as dg
from coulombgas import mcmc
from reference import naive_rho, naive_tau


def _ar1(phi, chains, draws, seed, burn=1000):
    """Stationary AR(1) x_t = φ x_{t−1} + ε_t: ρ(t) = φ^t, τ = (1 + φ)/(1 − φ)."""
    eps = np.random.default_rng(seed).standard_normal((chains, draws + burn))
    return scipy.signal.lfilter([1.0], [1.0, -phi], eps, axis=1)[:, burn:]



def test_autocorr_function_matches_the_direct_sum():
    x = _ar1(0.7, 3, 300, seed=1)
    np.testing.assert_allclose(dg.autocorr_function(x), naive_rho(x), rtol=0, atol=1e-12)
    # One chain given as (draws,), several dimensions as (chains, draws, dims).
    np.testing.assert_allclose(dg.autocorr_function(x[0]), naive_rho(x[:1]), rtol=0, atol=1e-12)
    both = np.stack([x, -2.0 * x + 5.0], axis=2)  # affine images have the same ρ
    rho = dg.autocorr_function(both)
    assert rho.shape == (300, 2)
    np.testing.assert_allclose(rho[:, 1], rho[:, 0], atol=1e-12)


@pytest.mark.parametrize("c", [3.0, 5.0, 8.0])
def test_integrated_time_uses_sokals_window(c):
    x = _ar1(0.8, 2, 2000, seed=2)
    got = dg.integrated_time(x, c=c, quiet=False)  # 2000 draws > 50 τ = 450: no warning
    assert got == pytest.approx(naive_tau(naive_rho(x), c), rel=1e-10)


def test_integrated_time_per_dimension_is_exact_on_ar1():
    # Three AR(1) coordinates with different φ in one call; tolerance from the chain length.
    chains, draws, phis = 4, 50_000, (0.0, 0.5, 0.8)
    x = np.stack([_ar1(p, chains, draws, seed=10 + k) for k, p in enumerate(phis)], axis=2)
    tau = dg.integrated_time(x)
    exact = np.array([(1 + p) / (1 - p) for p in phis])
    # Sokal (1997) eq. 3.19: var(τ̂) ≈ 2(2M + 1) τ²/N, window M ≈ 5τ, N = all draws; the window's
    # truncation bias 2 φ^{M+1}/(1 − φ) is below 1e-3 here.
    error = np.sqrt(2 * (2 * 5 * exact + 1) / (chains * draws)) * exact
    assert_z(tau, exact, error)
    ess = dg.effective_sample_size(x)
    np.testing.assert_allclose(ess, chains * draws / tau, rtol=1e-14)


def test_short_chain_warns_or_raises_and_says_how_long_to_run():
    x = _ar1(0.9, 1, 400, seed=3)  # τ = 19: 400 < 50 τ
    with pytest.warns(UserWarning, match=r"run at least \d+ draws"):
        dg.integrated_time(x)
    with pytest.raises(dg.AutocorrError, match="shorter than 50"):
        dg.integrated_time(x, quiet=False)
    # tol = 0 switches the check off; the facade's names are the same objects.
    dg.integrated_time(x, tol=0.0, quiet=False)
    assert mcmc.AutocorrError is dg.AutocorrError and mcmc.integrated_time is dg.integrated_time


def _plain_rhat(seqs):
    """BDA3 eq. 11.4 by hand, for sequences (m, n): R̂ = √(((n−1)/n W + B/n)/W)."""
    m, n = seqs.shape
    w = np.mean([np.var(s, ddof=1) for s in seqs])
    means = seqs.mean(axis=1)
    b = n * np.sum((means - means.mean()) ** 2) / (m - 1)
    return math.sqrt(((n - 1) / n * w + b / n) / w)


def test_plain_split_rhat_matches_bda3():
    x = np.random.default_rng(4).standard_normal((3, 101)) + np.array([[0.0], [0.2], [0.5]])
    # Split: the first 50 and the last 50 draws of each chain (the middle one of 101 is dropped).
    seqs = np.concatenate([x[:, :50], x[:, 51:]], axis=0)
    assert dg.split_rhat(x, rank=False) == pytest.approx(_plain_rhat(seqs), rel=1e-12)


def test_split_rhat_flags_shifted_means_and_passes_iid():
    rng = np.random.default_rng(5)
    iid = rng.standard_normal((4, 4000))
    assert 1.0 - 1e-3 < dg.split_rhat(iid) < 1.005
    # One chain off by two sd: of the 8 half-chains 2 have mean 2, so B/W ≈ var(means) = 6/7 and
    # plain R̂ ≈ √(1 + 6/7) ≈ 1.36.
    shifted = iid + np.array([[0.0], [0.0], [0.0], [2.0]])
    assert dg.split_rhat(shifted) > 1.1 and dg.split_rhat(shifted, rank=False) > 1.1
    # Chains that drift (non-stationary) are caught by the split, even with equal chain means:
    # half-chain means ±1, W ≈ 1 + 1/3, plain R̂ ≈ √(1 + (8/7)/(4/3)) ≈ 1.36.
    drift = iid + np.linspace(-2.0, 2.0, 4000)
    assert dg.split_rhat(drift) > 1.1


def test_folded_rhat_flags_unequal_scales_that_the_plain_one_misses():
    # Equal means, sd 1 in two chains and 3 in two: B ≈ 0, so plain R̂ ≈ 1; the folded
    # |x − median| has unequal means, which the rank-normalised tail R̂ sees (Vehtari et al. §4.2).
    x = np.random.default_rng(6).standard_normal((4, 4000)) * np.array([[1.0], [1.0], [3.0], [3.0]])
    assert dg.split_rhat(x, rank=False) < 1.01
    assert dg.split_rhat(x) > 1.1


def test_chain_diagnostics_of_iid_draws():
    rng = np.random.default_rng(7)
    xc = rng.standard_normal((4, 3000, 2))
    lp = rng.standard_normal((4, 3000))
    d = dg.chain_diagnostics(xc, lp)
    assert d["autocorr_time"].shape == (2,) and d["rhat"].shape == (2,)
    # τ of iid draws is 1 (σ(τ̂) ≈ √(2·11/12000) ≈ 0.043); ESS = chains·draws/τ exactly.
    assert_z(np.append(d["autocorr_time"], d["autocorr_time_log_density"]), 1.0, math.sqrt(22 / 12000))
    np.testing.assert_allclose(d["ess"], 12000 / d["autocorr_time"], rtol=1e-14)
    assert np.all(np.append(d["rhat"], d["rhat_log_density"]) < 1.01)
    # Too short for the 50 τ rule (τ ≈ 19): a warning naming the slowest coordinate, or an error.
    slow = _ar1(0.9, 2, 300, seed=8)[:, :, None]
    with pytest.warns(UserWarning, match="eigenvalue 0"):
        dg.chain_diagnostics(slow, np.zeros((2, 300)))
    with pytest.raises(dg.AutocorrError):
        dg.chain_diagnostics(slow, np.zeros((2, 300)), strict=True)
    # Fewer than 4 draws: R̂ is undefined (NaN), not an error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        short = dg.chain_diagnostics(xc[:, :3], lp[:, :3])
    assert np.all(np.isnan(short["rhat"])) and math.isnan(short["rhat_log_density"])


@pytest.mark.parametrize("call, match", [
    (lambda: dg.integrated_time(np.zeros(10), c=0.0), "`c`"),
    (lambda: dg.integrated_time(np.zeros((2, 1))), "at least 2 draws"),
    (lambda: dg.autocorr_function(np.zeros((1, 2, 3, 4))), "shape"),
    (lambda: dg.split_rhat(np.zeros(10)), "shape"),
    (lambda: dg.split_rhat(np.zeros((2, 3))), "at least 4 draws"),
])
def test_bad_input_names_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()
