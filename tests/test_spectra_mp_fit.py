"""Tests for spectra.fit_marchenko_pastur: recovery of (q, σ) on Wishart matrices, robustness
to outliers, fixed parameters, the goodness of fit (iid KS and the calibrated bootstrap).
Fixed seeds; tolerances from the spread over independent matrices.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from coulombgas import spectra


def _wishart(n, m, sigma, rng, entries="normal"):
    w = rng.standard_normal((m, n)) if entries == "normal" else rng.standard_t(entries, (m, n))
    return np.linalg.eigvalsh(sigma**2 * (w.T @ w) / m)


@pytest.mark.parametrize("n, m, sigma", [(200, 800, 1.3), (100, 125, 0.5)])
def test_recovers_ratio_and_sigma(n, m, sigma):
    rng = np.random.default_rng(n)
    fits = [spectra.fit_marchenko_pastur(_wishart(n, m, sigma, rng)) for _ in range(8)]
    q = np.array([f.ratio for f in fits])
    s = np.array([f.sigma for f in fits])
    # mean over 8 matrices within 4 standard errors (plus a 1/N allowance for the finite-N bias)
    assert abs(q.mean() - n / m) < 4 * q.std(ddof=1) / math.sqrt(8) + 1.0 / n
    assert abs(s.mean() - sigma) < 4 * s.std(ddof=1) / math.sqrt(8) + sigma / n
    assert all(f.pvalue > 0.5 for f in fits)          # iid KS: conservative, near 1 for MP
    f = fits[0]
    assert f.edges == pytest.approx((f.sigma**2 * (1 - math.sqrt(f.ratio)) ** 2,
                                     f.sigma**2 * (1 + math.sqrt(f.ratio)) ** 2))
    assert repr(f.law).startswith("marchenko_pastur(")


def test_fixed_parameters_are_kept_and_the_other_fitted():
    rng = np.random.default_rng(3)
    x = _wishart(150, 600, 2.0, rng)
    f = spectra.fit_marchenko_pastur(x, ratio=0.25)
    assert f.ratio == 0.25 and f.ratio_fixed and not f.sigma_fixed
    assert f.sigma == pytest.approx(2.0, rel=0.01)
    g = spectra.fit_marchenko_pastur(x, sigma=2.0)
    assert g.sigma == 2.0 and g.ratio == pytest.approx(0.25, abs=0.02)
    h = spectra.fit_marchenko_pastur(x, ratio=0.25, sigma=2.0)
    assert h.pvalue > 0.5


def test_outliers_hardly_move_the_fit():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((800, 200))
    w[:, :2] *= 4.0                                    # two spikes far above the edge
    x = np.linalg.eigvalsh(w.T @ w / 800)
    f = spectra.fit_marchenko_pastur(x)
    assert f.ratio == pytest.approx(0.25, abs=0.015) and f.sigma == pytest.approx(1.0, abs=0.015)
    moments = math.sqrt(x.mean())                      # the moment estimate is pulled up by 7 %
    assert abs(f.sigma - 1.0) < abs(moments - 1.0)
    g = spectra.fit_marchenko_pastur(x, exclude=2)
    assert g.n == 198 and g.excluded == 2 and g.sigma == pytest.approx(1.0, abs=0.01)


def test_bootstrap_pvalue_rejects_heavy_tails():
    rng = np.random.default_rng(5)
    heavy = spectra.fit_marchenko_pastur(_wishart(200, 800, 1.0, rng, entries=2.5), bootstrap=19, seed=1)
    # the iid KS p-value cannot see the heavy tails; the calibrated one can
    assert heavy.pvalue > 0.05 and heavy.null_pvalue == pytest.approx(1 / 20)
    assert heavy.null_statistics.shape == (19,) and heavy.statistic > 2 * heavy.null_statistics.max()
    plain = spectra.fit_marchenko_pastur(_wishart(50, 100, 1.0, rng))
    assert plain.null_pvalue is None and plain.null_statistics is None


@pytest.mark.slow
def test_bootstrap_null_distribution_is_calibrated():
    # D of 12 independent MP matrices against the 24 bootstrap D* of one of them:
    # the same law (two-sample KS), so null_pvalue is uniform under MP.
    rng = np.random.default_rng(8)
    fits = [spectra.fit_marchenko_pastur(_wishart(120, 480, 1.0, rng)) for _ in range(12)]
    boot = spectra.fit_marchenko_pastur(_wishart(120, 480, 1.0, rng), bootstrap=24, seed=2)
    assert stats.ks_2samp([f.statistic for f in fits], boot.null_statistics).pvalue > 1e-3


def test_near_zero_negative_eigenvalues_of_square_gram_matrices_are_accepted():
    rng = np.random.default_rng(6)
    x = _wishart(100, 100, 1.0, rng)
    x[0] = -1e-15
    f = spectra.fit_marchenko_pastur(x)
    assert f.ratio == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("kwargs, error, name", [
    ({"eigenvalues": [1.0, 2.0, 3.0]}, ValueError, "eigenvalues"),
    ({"eigenvalues": [1.0, np.inf, 2.0, 3.0, 4.0]}, ValueError, "eigenvalues"),
    ({"eigenvalues": [-1.0, 1.0, 2.0, 3.0]}, ValueError, "eigenvalues"),
    ({"eigenvalues": [0.0, 0.0, 0.0, 0.0]}, ValueError, "eigenvalues"),
    ({"eigenvalues": [1.0, 2.0, 3.0, 4.0], "ratio": 2.0}, ValueError, "ratio"),
    ({"eigenvalues": [1.0, 2.0, 3.0, 4.0], "sigma": 0.0}, ValueError, "sigma"),
    ({"eigenvalues": [1.0, 2.0, 3.0, 4.0, 5.0], "exclude": 2}, ValueError, "exclude"),
    ({"eigenvalues": [1.0, 2.0, 3.0, 4.0], "exclude": -1}, ValueError, "exclude"),
    ({"eigenvalues": [1.0, 2.0, 3.0, 4.0], "bootstrap": 1.5}, TypeError, "bootstrap"),
    ({"eigenvalues": "abcd"}, TypeError, "eigenvalues"),
])
def test_bad_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        spectra.fit_marchenko_pastur(**kwargs)
