"""Tests for the general-β surmises (theory.general_wigner_surmise, theory.general_gap_ratio).

Exact targets: reduction to the β = 1, 2, 4 laws, the closed-form normalisations and
means of Atas et al. (2013), adaptive quadrature of the densities, and the exact 3×3
(2×2) Gaussian β-ensemble for non-integer β (fixed seeds, Dumitriu–Edelman model).
"""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from scipy import integrate, stats

from coulombgas import CoulombGas, theory
from coulombgas.samplers.tridiagonal import sample_exact
from coulombgas.theory._general_beta import ratio_log_normaliser, ratio_statistic, ratio_statistic_moments


def quad(f, a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return integrate.quad(f, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)[0]


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_reduce_to_the_existing_laws(beta):
    s = np.linspace(0.0, 4.0, 41)
    old, new = theory.wigner_surmise(beta), theory.general_wigner_surmise(beta)
    assert np.allclose(new.pdf(s), old.pdf(s), rtol=1e-13, atol=1e-15)
    assert np.allclose(new.cdf(s), old.cdf(s), rtol=1e-13, atol=1e-15)
    r = np.linspace(0.0, 1.0, 41)
    old, new = theory.gap_ratio(beta), theory.general_gap_ratio(beta)
    assert np.allclose(new.pdf(r), old.pdf(r), rtol=1e-12, atol=1e-14)
    assert np.allclose(new.cdf(r), old.cdf(r), rtol=0, atol=1e-14)
    assert abs(float(new.mean()) - float(old.mean())) < 1e-13
    assert abs(float(new.var()) - float(old.var())) < 1e-13


@pytest.mark.parametrize("beta, z", [(1, 8 / 27), (2, 4 * math.pi / (81 * math.sqrt(3))),
                                     (4, 4 * math.pi / (729 * math.sqrt(3)))])
def test_normaliser_closed_forms(beta, z):
    assert math.exp(ratio_log_normaliser(beta)) == pytest.approx(z, rel=1e-13)


@pytest.mark.parametrize("beta, mean", [(1, 4 - 2 * math.sqrt(3)), (2, 2 * math.sqrt(3) / math.pi - 0.5),
                                        (4, 32 * math.sqrt(3) / (15 * math.pi) - 0.5)])
def test_mean_ratio_published_closed_forms(beta, mean):
    assert float(theory.general_gap_ratio(beta).mean()) == pytest.approx(mean, abs=1e-13)


@pytest.mark.parametrize("beta", [0.001, 0.3, 0.5, 1.5, 2.7, 3.0, 10.0, 100.0])
def test_laws_normalised_and_moments_by_quadrature(beta):
    ratio = theory.general_gap_ratio(beta)
    assert quad(ratio.pdf, 0.0, 1.0) == pytest.approx(1.0, abs=1e-10)
    assert float(ratio.mean()) == pytest.approx(quad(lambda r: r * ratio.pdf(r), 0.0, 1.0), abs=1e-10)
    for x in (0.1, 0.5, 0.9):
        assert float(ratio.cdf(x)) == pytest.approx(quad(ratio.pdf, 0.0, x), abs=1e-10)
    surmise = theory.general_wigner_surmise(beta)
    assert float(surmise.mean()) == pytest.approx(1.0, abs=1e-13)
    assert quad(surmise.pdf, 0.0, 30.0) == pytest.approx(1.0, abs=1e-10)
    # the ratio statistic's mean and variance (the Fisher information) by quadrature
    mean, var = ratio_statistic_moments(beta)
    m1 = quad(lambda r: ratio_statistic(r) * ratio.pdf(r), 0.0, 1.0)
    m2 = quad(lambda r: ratio_statistic(r) ** 2 * ratio.pdf(r), 0.0, 1.0)
    assert mean == pytest.approx(m1, rel=1e-9)
    assert var == pytest.approx(m2 - m1**2, rel=1e-6)


def test_mean_ratio_increases_from_poisson_like_to_crystal():
    means = [float(theory.general_gap_ratio(b).mean()) for b in (0.001, 0.5, 1, 2, 4, 10, 100)]
    assert np.all(np.diff(means) > 0)
    # β → 0: 1/(Z₀(1 + r + r²)), ⟨r̃⟩ = 3√3 ln3/(2π) − 1/2, not the Poisson 2 ln 2 − 1
    assert means[0] == pytest.approx(3 * math.sqrt(3) * math.log(3) / (2 * math.pi) - 0.5, abs=1e-3)


@pytest.mark.parametrize("beta", [0.5, 1.5, 3.0])
def test_exact_for_smallest_gaussian_beta_ensembles(beta):
    # 3×3 GβE ratio and 2×2 GβE spacing follow the surmises exactly at any real β:
    # KS at 4000 samples detects a cdf error of ~0.03 at 1e-3 significance.
    x3 = sample_exact(CoulombGas.gaussian(3, beta=beta), 4000, seed=3)
    s = np.diff(x3, axis=-1)
    r = np.minimum(s[:, 0], s[:, 1]) / np.maximum(s[:, 0], s[:, 1])
    assert stats.kstest(r, theory.general_gap_ratio(beta).cdf).pvalue > 1e-3
    x2 = sample_exact(CoulombGas.gaussian(2, beta=beta), 4000, seed=4)
    sp = np.diff(x2, axis=-1).ravel()
    # unit mean by the exact scale: for density ∝ |Δ|^β e^{−βΣx²/2}, s = λ₂ − λ₁
    # has ⟨s⟩ = 2Γ(β/2+1)/(√β Γ((β+1)/2)).
    mean = 2.0 * math.exp(math.lgamma(beta / 2 + 1) - math.lgamma((beta + 1) / 2)) / math.sqrt(beta)
    assert stats.kstest(sp / mean, theory.general_wigner_surmise(beta).cdf).pvalue > 1e-3


def test_other_betas_are_distinguished():
    x3 = sample_exact(CoulombGas.gaussian(3, beta=1.5), 4000, seed=3)
    s = np.diff(x3, axis=-1)
    r = np.minimum(s[:, 0], s[:, 1]) / np.maximum(s[:, 0], s[:, 1])
    assert stats.kstest(r, theory.general_gap_ratio(1.0).cdf).pvalue < 1e-3
    assert stats.kstest(r, theory.general_gap_ratio(2.0).cdf).pvalue < 1e-3


def test_repr_pickle_and_sampling():
    law = theory.general_gap_ratio(1.5)
    assert repr(law) == "general_gap_ratio(beta=1.5)"
    assert pickle.loads(pickle.dumps(law)).cdf(0.3) == law.cdf(0.3)
    assert repr(theory.general_wigner_surmise(0.5)) == "general_wigner_surmise(beta=0.5)"
    draws = theory.general_wigner_surmise(0.5).rvs(size=20000, random_state=1)
    assert abs(draws.mean() - 1.0) < 4 * draws.std() / math.sqrt(draws.size)
    q = np.array([0.01, 0.5, 0.99])
    assert np.allclose(law.cdf(law.ppf(q)), q, atol=1e-12)


@pytest.mark.parametrize("make", [theory.general_wigner_surmise, theory.general_gap_ratio])
@pytest.mark.parametrize("beta, error", [(0.0, ValueError), (-1.0, ValueError), (101.0, ValueError),
                                         (float("nan"), ValueError), ("1", TypeError), (None, TypeError)])
def test_bad_beta(make, beta, error):
    with pytest.raises(error, match="beta"):
        make(beta)
