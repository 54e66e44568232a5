"""Tests for the Wishart edge: spectra.edge_scaling, largest_eigenvalue_pvalue, mp_outliers.

Null Wishart matrices (real, complex; quaternion through the exact β-Laguerre
tridiagonal model) give uniform Tracy–Widom p-values; spiked matrices above the
Baik–Ben Arous–Péché threshold are flagged, below it they are not. Fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import linalg, stats

from coulombgas import spectra, theory
from coulombgas.samplers.tridiagonal import laguerre_entries


def _null_wishart(beta, n, m, size, seed, sigma=1.0):
    """Eigenvalues (size, n) of X = (1/M) W*W, E|W_ij|² = σ², β = 1, 2, 4."""
    rng = np.random.default_rng(seed)
    if beta == 1:
        w = rng.standard_normal((size, m, n))
        return sigma**2 * np.linalg.eigvalsh(np.swapaxes(w, 1, 2) @ w / m)
    if beta == 2:
        w = (rng.standard_normal((size, m, n)) + 1j * rng.standard_normal((size, m, n))) / math.sqrt(2.0)
        return sigma**2 * np.linalg.eigvalsh(np.conj(np.swapaxes(w, 1, 2)) @ w / m)
    # β-Laguerre (Dumitriu–Edelman): L = B Bᵀ with α = βM/2 is W*W for entries with E|w|² = β.
    d2, s2 = laguerre_entries(rng, n, beta, 0.5 * beta * m, size)
    off = np.sqrt(d2[:, :-1] * s2)
    diag = d2.copy()
    diag[:, 1:] += s2
    lam = np.array([linalg.eigvalsh_tridiagonal(d, o) for d, o in zip(diag, off)])
    return sigma**2 * lam / (beta * m)


def test_edge_scaling_limits_and_symmetry():
    for beta in (1, 2, 4):
        mu, s = spectra.edge_scaling(10**6, 4 * 10**6, beta=beta, sigma=2.0)
        assert mu == pytest.approx(4.0 * (1 + 0.5) ** 2, rel=1e-6)            # σ²(1 + √q)²
        assert s == pytest.approx(4.0 * 1.5 * (1 + 2.0) ** (1 / 3) / (4e6) ** (2 / 3), rel=1e-5)
    # (√M' + √N')² is symmetric: N > M only changes the 1/M normalisation
    a = spectra.edge_scaling(300, 100, beta=2)
    b = spectra.edge_scaling(100, 300, beta=2)
    assert a[0] * 100 == pytest.approx(b[0] * 300) and a[1] * 100 == pytest.approx(b[1] * 300)
    # Johnstone's real case with Ma's correction, written out
    mu, s = spectra.edge_scaling(50, 200, beta=1)
    r = math.sqrt(199.5) + math.sqrt(49.5)
    assert mu == pytest.approx(r * r / 200) and s == pytest.approx(r * (1 / math.sqrt(199.5) + 1 / math.sqrt(49.5)) ** (1 / 3) / 200)


@pytest.mark.parametrize("beta, n, m", [(1, 40, 160), (2, 40, 160), (4, 40, 80), (1, 60, 60), (1, 120, 40)])
def test_null_pvalues_are_uniform(beta, n, m):
    # 400 null matrices: KS at level 1e-3 rejects a p-value cdf off by 0.1 (power ~0.99
    # at 0.12); the finite-N error of the TW approximation here is ~0.02 in the cdf.
    lam = _null_wishart(beta, n, m, 400, seed=100 + beta, sigma=1.7)
    p = spectra.largest_eigenvalue_pvalue(lam[:, -1], n, m, beta=beta, sigma=1.7)
    assert stats.kstest(p, "uniform").pvalue > 1e-3
    # and the test has power: with σ off by 2 % the p-values are far from uniform
    p_wrong = spectra.largest_eigenvalue_pvalue(lam[:, -1], n, m, beta=beta, sigma=1.7 * 1.02)
    assert stats.kstest(p_wrong, "uniform").pvalue < 1e-6


def _spiked(theta, n, m, seed, sigma=1.0):
    """Real W with population covariance σ²I + θ e₁e₁ᵀ; eigenvalues of (1/M) WᵀW."""
    rng = np.random.default_rng(seed)
    w = sigma * rng.standard_normal((m, n))
    w[:, 0] *= math.sqrt(1.0 + theta / sigma**2)
    return np.linalg.eigvalsh(w.T @ w / m)


@pytest.mark.parametrize("estimate", [False, True])
def test_spike_above_bbp_threshold_is_flagged_and_below_is_not(estimate):
    n, m = 200, 800                                   # q = 1/4, threshold θ_c = √q = 0.5
    sigma = None if estimate else 1.0
    above = spectra.mp_outliers(_spiked(1.5, n, m, seed=1), m, sigma=sigma)
    assert above.flagged == 1 and above.pvalues[0] < 1e-6
    assert above.bbp_threshold == pytest.approx(0.5, rel=0.02)
    assert above.indices[0] == n - 1
    # Baik–Silverstein location (1 + θ)(1 + q/θ) = 2.917, fluctuations ~ 0.1 at M = 800
    assert abs(above.values[0] - 2.5 * (1 + 0.25 / 1.5)) < 0.3
    below = spectra.mp_outliers(_spiked(0.25, n, m, seed=2), m, sigma=sigma)
    assert below.flagged == 0
    assert np.all(below.pvalues >= 0.01)


def test_several_spikes_are_counted_sequentially():
    rng = np.random.default_rng(5)
    n, m = 100, 1000
    w = rng.standard_normal((m, n))
    w[:, :3] *= np.sqrt([6.0, 4.0, 3.0])       # θ = 5, 3, 2 ≫ √q ≈ 0.32
    out = spectra.mp_outliers(np.linalg.eigvalsh(w.T @ w / m), m)
    assert out.flagged == 3
    assert np.all(np.diff(out.values) < 0) and np.all(out.pvalues[:3] < 1e-10)


def test_null_matrices_are_rarely_flagged():
    lam = _null_wishart(1, 60, 240, 200, seed=9)
    flags = np.array([spectra.mp_outliers(row, 240, sigma=1.0).flagged for row in lam])
    # at alpha = 0.01 the first step rejects with probability ~0.01: ≤ 7 of 200 (p ≈ 1e-3 tail)
    assert np.sum(flags > 0) <= 7


def test_pvalue_keeps_tail_digits_and_matches_tw():
    mu, s = spectra.edge_scaling(100, 400, beta=2)
    x = mu + s * np.array([-2.0, 0.0, 3.0, 6.0])
    law = theory.tracy_widom(2, scaling="beta")
    assert np.allclose(spectra.largest_eigenvalue_pvalue(x, 100, 400, beta=2),
                       law.sf([-2.0, 0.0, 3.0, 6.0]), rtol=1e-12)
    assert 0 < spectra.largest_eigenvalue_pvalue(mu + 12 * s, 100, 400, beta=2) < 1e-20


@pytest.mark.parametrize("call, error, name", [
    (lambda: spectra.edge_scaling(0, 10), ValueError, "n"),
    (lambda: spectra.edge_scaling(10, 2.5), TypeError, "m"),
    (lambda: spectra.edge_scaling(10, 10, beta=3), ValueError, "beta"),
    (lambda: spectra.edge_scaling(10, 10, sigma=-1.0), ValueError, "sigma"),
    (lambda: spectra.largest_eigenvalue_pvalue(np.nan, 10, 10), ValueError, "value"),
    (lambda: spectra.mp_outliers([], 10), ValueError, "eigenvalues"),
    (lambda: spectra.mp_outliers([[1.0, 2.0]], 10), ValueError, "eigenvalues"),
    (lambda: spectra.mp_outliers([1.0, 2.0], 10, alpha=1.5), ValueError, "alpha"),
    (lambda: spectra.mp_outliers([0.0, 0.0], 10), ValueError, "sigma"),
])
def test_bad_input(call, error, name):
    with pytest.raises(error, match=name):
        call()
