"""Paper 4's soft-spin density (coulombgas.theory.soft_spin): normalisation, the law of tanh(z), σ_c² = ½."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from coulombgas import theory


@pytest.mark.parametrize("var", [0.1, 0.5, 2.0])  # the three curves of the paper's Fig. 1
def test_normalised_and_matches_formula(var):
    law = theory.soft_spin(math.sqrt(var))
    total, err = integrate.quad(law.pdf, -1.0, 1.0, limit=200)
    assert abs(total - 1.0) < 1e-9 + err
    phi = np.array([-0.9, -0.3, 0.0, 0.4, 0.95])
    by_hand = np.exp(-np.arctanh(phi) ** 2 / (2 * var)) / ((1 - phi**2) * np.sqrt(2 * np.pi * var))
    np.testing.assert_allclose(law.pdf(phi), by_hand, rtol=1e-14)
    assert law.pdf(1.0) == 0.0 and law.pdf(-1.5) == 0.0


def test_is_the_law_of_tanh_of_a_gaussian():
    """KS of tanh(σ_z z) samples (own draws, not the law's rvs) against the cdf; level 1e-3."""
    sigma = math.sqrt(2.0)
    x = np.tanh(sigma * np.random.default_rng(5).standard_normal(20_000))
    assert stats.kstest(x, theory.soft_spin(sigma).cdf).pvalue > 1e-3
    # and the histogram against the density: z-score of each bin count (binomial), |z| < 4.5
    edges = np.linspace(-0.99, 0.99, 21)
    counts, _ = np.histogram(x, edges)
    p = np.diff(theory.soft_spin(sigma).cdf(edges))
    z = (counts - len(x) * p) / np.sqrt(len(x) * p * (1 - p))
    assert np.max(np.abs(z)) < 4.5


def test_one_peak_below_and_two_above_critical_variance():
    assert theory.SOFT_SPIN_CRITICAL_VARIANCE == 0.5
    for var, peaked_at_zero in ((0.4, True), (0.6, False)):
        law = theory.soft_spin(math.sqrt(var))
        assert bool(law.pdf(0.0) > law.pdf(0.05)) == peaked_at_zero


def test_bad_input():
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="`sigma_z`"):
            theory.soft_spin(bad)
