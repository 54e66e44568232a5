"""Tests for coulombgas.theory: exact targets, independent numerical routes, bad input.

Deterministic throughout (quadrature against closed forms); the only random draw is
a fixed-seed check of the one hand-written sampler (two_mode_density).
"""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from numpy.polynomial import Chebyshev
from scipy import fft, integrate, linalg, special, stats

from coulombgas import theory
from coulombgas.theory._spacing import SPACING_SMAX as _SPACING_SMAX, gap_derivatives as _gap_derivatives

SQ3 = math.sqrt(3.0)


def quad(f, a, b, **kw):
    kw.setdefault("epsabs", 1e-13)
    kw.setdefault("epsrel", 1e-13)
    kw.setdefault("limit", 200)
    with warnings.catch_warnings():  # roundoff warnings at 1e-13 are expected and harmless
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return integrate.quad(f, a, b, **kw)[0]


def moment(law, n, a, b, **kw):
    return quad(lambda x: x**n * law.pdf(x), a, b, **kw)


# Every law with a finite interval holding all but < 1e-15 of its mass.
ALL_LAWS = [
    (theory.wigner_surmise(1), 0, 12),
    (theory.wigner_surmise(2), 0, 10),
    (theory.wigner_surmise(4), 0, 8),
    (theory.spacing(1), 0, 8),
    (theory.spacing(2), 0, 6),
    (theory.spacing(4), 0, 5),
    (theory.poisson_spacing(), 0, 50),
    (theory.gap_ratio(1), 0, 1),
    (theory.gap_ratio(2), 0, 1),
    (theory.gap_ratio(4), 0, 1),
    (theory.gap_ratio("poisson"), 0, 1),
    (theory.two_mode_spacing(0.7, 1.9), 0, 20),
    (theory.two_mode_density(0.7, 1.9, loc=0.3), -20, 20),
    (theory.semicircle(1.7), -1.7, 1.7),
    (theory.marchenko_pastur(0.3, sigma=1.3), *(1.3**2 * (1 + np.array([-1, 1]) * 0.3**0.5) ** 2)),
    (theory.marchenko_pastur(3.0), *((1 + np.array([-1, 1]) * 3.0**0.5) ** 2)),
    (theory.tracy_widom(1), -12, 18),
    (theory.tracy_widom(2), -10, 12),
    (theory.tracy_widom(4, scaling="beta"), -9, 8),
    (theory.general_wigner_surmise(0.5), 0, 14),
    (theory.general_wigner_surmise(3.0), 0, 8),
    (theory.general_gap_ratio(0.5), 0, 1),
    (theory.general_gap_ratio(3.0), 0, 1),
]
LAW_IDS = [repr(law) for law, *_ in ALL_LAWS]


@pytest.mark.parametrize(("law", "a", "b"), ALL_LAWS, ids=LAW_IDS)
def test_every_law_normalised_and_cdf_consistent(law, a, b):
    assert abs(quad(law.pdf, a, b) - 1.0) < 1e-10
    for x in np.linspace(a, b, 7)[1:-1]:
        assert abs(law.cdf(x) - quad(law.pdf, a, x)) < 1e-10
        assert abs(law.cdf(x) + law.sf(x) - 1.0) < 1e-14
    q = np.array([1e-6, 0.1, 0.5, 0.9, 1 - 1e-6])
    np.testing.assert_allclose(law.cdf(law.ppf(q)), q, rtol=0, atol=1e-13)


@pytest.mark.parametrize(("law", "a", "b"), ALL_LAWS, ids=LAW_IDS)
def test_every_law_frozen_pickles_and_has_readable_repr(law, a, b):
    assert isinstance(law, type(stats.norm()))
    assert "(" in repr(law) and "object at" not in repr(law)
    again = pickle.loads(pickle.dumps(law))
    assert repr(again) == repr(law)
    assert again.pdf(0.5 * (a + b)) == law.pdf(0.5 * (a + b))


# ----------------------------------------------------------------------------- surmise

@pytest.mark.parametrize(("beta", "second"), [(1, 4 / math.pi), (2, 3 * math.pi / 8),
                                              (4, 45 * math.pi / 128)])
def test_surmise_moments(beta, second):
    law = theory.wigner_surmise(beta)
    assert abs(moment(law, 0, 0, np.inf) - 1) < 1e-10
    assert abs(moment(law, 1, 0, np.inf) - 1) < 1e-10
    assert abs(moment(law, 2, 0, np.inf) - second) < 1e-10
    assert abs(law.mean() - 1) < 1e-14
    assert abs(law.moment(2) - second) < 1e-14


def test_surmise_explicit_formulas():
    s = np.linspace(0, 4, 41)
    pi = math.pi
    expected = {
        1: pi / 2 * s * np.exp(-pi * s**2 / 4),
        2: 32 / pi**2 * s**2 * np.exp(-4 * s**2 / pi),
        4: 2**18 / (3**6 * pi**3) * s**4 * np.exp(-64 * s**2 / (9 * pi)),
    }
    for beta, p in expected.items():
        np.testing.assert_allclose(theory.wigner_surmise(beta).pdf(s), p, rtol=1e-13, atol=1e-300)


# ------------------------------------------------------------------------------ ratios

@pytest.mark.parametrize(("beta", "mean"), [
    (1, 4 - 2 * SQ3),
    (2, 2 * SQ3 / math.pi - 0.5),
    (4, 32 * SQ3 / (15 * math.pi) - 0.5),
    ("poisson", 2 * math.log(2) - 1),
    (0, 2 * math.log(2) - 1),
])
def test_gap_ratio_mean(beta, mean):
    law = theory.gap_ratio(beta)
    assert abs(moment(law, 1, 0, 1) - mean) < 1e-10
    assert abs(law.mean() - mean) < 1e-12


@pytest.mark.parametrize(("beta", "z"), [(1, 8 / 27), (2, 4 * math.pi / (81 * SQ3)),
                                         (4, 4 * math.pi / (729 * SQ3))])
def test_gap_ratio_surmise_normalised_on_half_line(beta, z):
    # Z_β normalises P(r) on [0, ∞); the symmetry P(r) = P(1/r)/r² gives 2P on [0, 1].
    p = lambda r: (r + r * r) ** beta / (1 + r + r * r) ** (1 + 1.5 * beta) / z
    assert abs(quad(p, 0, np.inf) - 1) < 1e-10
    r = np.linspace(0.01, 1, 50)
    np.testing.assert_allclose(theory.gap_ratio(beta).pdf(r), 2 * p(r), rtol=1e-14)
    np.testing.assert_allclose(p(r), p(1 / r) / r**2, rtol=1e-13)


def test_gap_ratio_poisson_closed_forms():
    r = np.linspace(0, 1, 11)
    law = theory.gap_ratio("poisson")
    np.testing.assert_allclose(law.pdf(r), 2 / (1 + r) ** 2, rtol=1e-15)
    np.testing.assert_allclose(law.cdf(r), 2 * r / (1 + r), rtol=1e-15)
    assert repr(theory.gap_ratio(0)) == repr(law)


# --------------------------------------------------------------------------- two modes

def _pair_weight(x1, x2, s1, s2):
    return abs(x1 - x2) * math.exp(-x1 * x1 / (2 * s1 * s1) - x2 * x2 / (2 * s2 * s2))


def _marginals_by_quadrature(x, s1, s2):
    """Unnormalised p1(x), p2(x) from the pair density, splitting at the kink."""
    L = 40 * max(s1, s2)
    m1 = quad(lambda y: _pair_weight(x, y, s1, s2), -L, x) + quad(lambda y: _pair_weight(x, y, s1, s2), x, L)
    m2 = quad(lambda y: _pair_weight(y, x, s1, s2), -L, x) + quad(lambda y: _pair_weight(y, x, s1, s2), x, L)
    return m1, m2


def test_two_mode_density_is_the_marginal_of_the_pair_density():
    s1, s2 = 0.7, 1.9
    L = 40 * max(s1, s2)
    # Normalisation of the pair density by plain nested quadrature (no closed form).
    z = quad(lambda x: _marginals_by_quadrature(x, s1, s2)[0], -L, L, points=[0.0])
    assert abs(z - 2 * math.sqrt(2 * math.pi) * s1 * s2 * math.hypot(s1, s2)) < 1e-9 * z
    law = theory.two_mode_density(s1, s2)
    for x in (-4.0, -1.3, 0.0, 0.4, 2.2, 5.0):
        m1, m2 = _marginals_by_quadrature(x, s1, s2)
        assert abs(law.pdf(x) - 0.5 * (m1 + m2) / z) < 1e-9


def test_two_mode_density_equal_widths_and_location():
    sigma = 0.8
    x = np.linspace(-5, 5, 41)
    reduced = (np.exp(-x**2 / (2 * sigma**2)) / (4 * math.sqrt(math.pi) * sigma)
               * (2 * np.exp(-x**2 / (2 * sigma**2))
                  + math.sqrt(2 * math.pi) * x / sigma * special.erf(x / (math.sqrt(2) * sigma))))
    np.testing.assert_allclose(theory.two_mode_density(sigma, sigma).pdf(x), reduced, rtol=1e-13)
    shifted = theory.two_mode_density(sigma, sigma, loc=1.5)
    np.testing.assert_allclose(shifted.pdf(x + 1.5), reduced, rtol=1e-13)
    assert abs(shifted.mean() - 1.5) < 1e-15
    # ⟨S⟩ = √π σ for equal widths.
    assert abs(theory.two_mode_spacing(sigma, sigma).mean() - math.sqrt(math.pi) * sigma) < 1e-14


def test_poster_minus_sign_formula_is_not_normalised():
    s1, s2 = 0.7, 1.9

    def minus(x):
        pref = math.exp(-x * x / (2 * s1 * s1) - x * x / (2 * s2 * s2))
        pref /= 4 * math.sqrt(2 * math.pi) * s1 * s2 * math.hypot(s1, s2)
        return pref * sum(2 * s * s + math.exp(-x * x / (2 * s * s)) * math.sqrt(2 * math.pi) * x * s
                          * math.erf(x / (math.sqrt(2) * s)) for s in (s1, s2))

    total = quad(minus, -40, 40)
    assert abs(total - 1) > 0.05
    assert abs(quad(theory.two_mode_density(s1, s2).pdf, -40, 40) - 1) < 1e-12


@pytest.mark.parametrize(("s1", "s2"), [(0.7, 1.9), (1.0, 1.0), (3.0, 0.2)])
def test_two_mode_density_moments(s1, s2):
    law = theory.two_mode_density(s1, s2)
    L = 40 * max(s1, s2)
    var = (s1**4 + s1**2 * s2**2 + s2**4) / (s1**2 + s2**2)
    assert abs(moment(law, 1, -L, L)) < 1e-12
    assert abs(moment(law, 2, -L, L) - var) < 1e-10 * var
    m, v, skew, kurt = law.stats("mvsk")
    assert abs(v - var) < 1e-14 * var and m == 0 and skew == 0
    assert abs(kurt - (moment(law, 4, -L, L) / var**2 - 3)) < 1e-9


def test_two_mode_density_tails_are_stable():
    law = theory.two_mode_density(0.7, 1.9)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        x = np.array([-1e4, -60.0, 60.0, 1e4])
        assert np.all(law.pdf(x) >= 0) and np.all(np.isfinite(law.pdf(x)))
        np.testing.assert_allclose(law.sf(x), law.cdf(-x), rtol=1e-15)
    # The far left tail is computed without cancellation: compare with quadrature.
    assert abs(law.cdf(-8.0) / quad(law.pdf, -60, -8.0) - 1) < 1e-9


def test_two_mode_density_sampler_fixed_seed():
    # The pair sampler is the only hand-written rvs; KS at α = 1e-3 with a fixed seed
    # (a false alarm would need a 1-in-1000 draw, and the seed never changes).
    law = theory.two_mode_density(0.7, 1.9, loc=-0.5)
    x = law.rvs(size=20_000, random_state=np.random.default_rng(12345))
    assert stats.kstest(x, law.cdf).pvalue > 1e-3


def test_two_mode_spacing_is_rayleigh():
    s1, s2 = 0.7, 1.9
    law = theory.two_mode_spacing(s1, s2)
    scale = math.hypot(s1, s2)
    assert abs(law.mean() - math.sqrt(math.pi / 2) * scale) < 1e-14
    assert abs(law.var() - (2 - math.pi / 2) * scale**2) < 1e-13
    S = np.linspace(0, 8, 17)
    np.testing.assert_allclose(law.pdf(S), S / scale**2 * np.exp(-S**2 / (2 * scale**2)), rtol=1e-14)


# ----------------------------------------------------------------- exact spacing (Gaudin)

# Published values (Bornemann 2010 review, arXiv:0904.1581, Tables 7-8).
PUBLISHED_VARIANCE = {1: 0.2855306557, 2: 0.1799938776}


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_spacing_normalisation_mean_and_variance(beta):
    law = theory.spacing(beta)
    smax = _SPACING_SMAX[beta]
    assert abs(moment(law, 0, 0, smax) - 1) < 1e-9
    assert abs(moment(law, 1, 0, smax) - 1) < 1e-9
    var = moment(law, 2, 0, smax) - 1
    if beta in PUBLISHED_VARIANCE:
        assert abs(var - PUBLISHED_VARIANCE[beta]) < 1e-10
    else:
        assert abs(var - 0.104) < 5e-4          # Mehta (2004), GSE: 0.104
    assert abs(law.mean() - 1) < 1e-12
    assert abs(law.var() - var) < 1e-12


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_spacing_converges_in_quadrature_order(beta):
    # Exponential convergence of the Nyström determinant and of its exact
    # s-derivatives: the error in p = E'' falls by orders of magnitude per two nodes
    # (measured: 4e-4, 1e-7, 9e-11, 6e-14 at m = 4, 6, 8, 10 for β = 1) and is at
    # rounding level from m ≈ 16; the default m = 48 and the cached Chebyshev
    # interpolant agree with m = 64 far below the 1e-8 target. (64, not more:
    # larger batched eigh calls can hit slow multithreaded BLAS paths.)
    s = np.linspace(0, _SPACING_SMAX[beta], 41)
    fine = _gap_derivatives(s, beta, 64)
    err = {m: np.max(np.abs(_gap_derivatives(s, beta, m)[2] - fine[2])) for m in (4, 6, 8, 16)}
    assert err[4] > 1e3 * err[6] > 1e-9
    assert err[6] > 1e2 * err[8]
    assert err[16] < 1e-13
    default = _gap_derivatives(s, beta)
    for k in range(3):
        assert np.max(np.abs(default[k] - fine[k])) < 1e-13
    law = theory.spacing(beta)
    assert np.max(np.abs(law.pdf(s) - np.maximum(fine[2], 0))) < 1e-13
    assert np.max(np.abs(law.cdf(s) - (1 + fine[1]))) < 1e-13


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_spacing_second_derivative_by_spectral_differentiation(beta):
    # Independent route: interpolate E alone and differentiate the Chebyshev series
    # twice (Bornemann's route). Rounding is amplified ~n⁴, hence 1e-9, not 1e-14.
    smax, n = _SPACING_SMAX[beta], 61
    x = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    c = fft.dct(_gap_derivatives(0.5 * smax * (x + 1), beta)[0], type=2) / n
    c[0] *= 0.5
    e = Chebyshev(c, domain=[0, smax])
    s = np.linspace(0, smax, 201)
    law = theory.spacing(beta)
    assert np.max(np.abs(e.deriv(2)(s) - law.pdf(s))) < 1e-9
    assert np.max(np.abs(1 + e.deriv(1)(s) - law.cdf(s))) < 1e-11


def test_gue_gap_probability_equals_full_sine_kernel_determinant():
    # Naive reference: det(I − K_sine) on (0, s) by Gauss–Legendre without the parity
    # factorisation E₂ = E₊E₋ used by the module.
    u, w = np.polynomial.legendre.leggauss(60)
    for s in (0.3, 1.0, 2.5, 4.0):
        x, ws = 0.5 * s * (u + 1), 0.5 * s * w
        k = np.sinc(x[:, None] - x[None, :])
        det = linalg.det(np.eye(60) - np.sqrt(np.outer(ws, ws)) * k)
        assert abs(_gap_derivatives(np.array([s]), 2)[0][0] - det) < 1e-14


@pytest.mark.parametrize(("beta", "coef"), [(1, math.pi**2 / 6), (2, math.pi**2 / 3),
                                            (4, 16 * math.pi**4 / 135)])
def test_spacing_small_s_behaviour(beta, coef):
    # p(s)/s^β = coef + O(s²) (plus odd powers for β = 1): the intercept of a
    # degree-6 polynomial fit on [0.01, 0.3].
    law = theory.spacing(beta)
    s = np.linspace(0.01, 0.3, 30)
    intercept = np.polynomial.polynomial.polyfit(s, law.pdf(s) / s**beta, 6)[0]
    assert abs(intercept / coef - 1) < 1e-6


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_spacing_differs_from_surmise_and_has_clean_tail(beta):
    law, surmise = theory.spacing(beta), theory.wigner_surmise(beta)
    s = np.linspace(0, 4, 401)
    diff = np.max(np.abs(law.pdf(s) - surmise.pdf(s)))
    assert 1e-3 < diff < 0.05
    smax = _SPACING_SMAX[beta]
    assert law.pdf(smax - 1e-9) < 1e-16
    assert np.all(law.pdf([smax, smax + 1, 1e6]) == 0)
    assert np.all(law.cdf([smax, 1e6]) == 1) and law.cdf(0) == 0
    grid = np.linspace(0, smax, 2001)
    assert np.all(law.pdf(grid) >= 0) and np.all(np.diff(law.cdf(grid)) >= -3e-16)


def test_spacing_is_vectorised():
    law = theory.spacing(2)
    s = np.linspace(0, 3, 12).reshape(3, 4)
    p = law.pdf(s)
    assert p.shape == (3, 4)
    np.testing.assert_array_equal(p.ravel(), [law.pdf(v) for v in s.ravel()])
    assert law.rvs(size=(2, 5), random_state=0).shape == (2, 5)


# ------------------------------------------------------------------------- large N

@pytest.mark.parametrize("radius", [0.5, 2.0])
def test_semicircle(radius):
    law = theory.semicircle(radius)
    assert law.support() == (-radius, radius)
    assert abs(law.mean()) < 1e-15 and abs(law.var() - radius**2 / 4) < 1e-14
    assert abs(moment(law, 2, -radius, radius) - radius**2 / 4) < 1e-10
    x = np.linspace(-radius, radius, 9)
    np.testing.assert_allclose(law.pdf(x), 2 / (math.pi * radius**2) * np.sqrt(radius**2 - x**2),
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("ratio", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("sigma", [1.0, 0.6])
def test_marchenko_pastur_moments(ratio, sigma):
    law = theory.marchenko_pastur(ratio, sigma=sigma)
    a, b = law.support()
    np.testing.assert_allclose([a, b], sigma**2 * (1 + np.array([-1, 1]) * math.sqrt(ratio)) ** 2)
    if ratio == 1:   # ρ ~ 1/√x at a = 0: integrate in t = √x, where it is smooth
        m = lambda n: quad(lambda t: t ** (2 * n) * law.pdf(t * t) * 2 * t, 0, math.sqrt(b))
        assert law.pdf(0.0) == np.inf
    else:
        m = lambda n: moment(law, n, a, b)
    assert abs(m(0) - 1) < 1e-10
    assert abs(m(1) - sigma**2) < 1e-10
    assert abs(m(2) - sigma**4 - sigma**4 * ratio) < 1e-10
    assert abs(law.mean() - sigma**2) < 1e-14 and abs(law.var() - sigma**4 * ratio) < 1e-14
    # Third moment: Narayana polynomial 1 + 3λ + λ².
    assert abs(law.moment(3) - sigma**6 * (1 + 3 * ratio + ratio**2)) < 1e-12


@pytest.mark.parametrize("ratio", [1.5, 4.0])
def test_marchenko_pastur_nonzero_part_for_ratio_above_one(ratio):
    sigma = 1.2
    law, dual = theory.marchenko_pastur(ratio, sigma), theory.marchenko_pastur(1 / ratio, sigma)
    # Non-zero eigenvalues of (1/M)WᵀW = those of λ·(1/N)WWᵀ, an MP(1/λ) matrix.
    x = np.linspace(*law.support(), 23)[1:-1]
    np.testing.assert_allclose(law.pdf(x), dual.pdf(x / ratio) / ratio, rtol=1e-13)
    np.testing.assert_allclose(law.cdf(x), dual.cdf(x / ratio), atol=1e-14)
    assert abs(law.mean() - ratio * sigma**2) < 1e-13
    assert abs(law.var() - ratio * sigma**4) < 1e-12
    # The full law (1 − 1/λ)δ₀ + (1/λ)·law has mean σ², as tr X / N must.
    assert abs(law.mean() / ratio - sigma**2) < 1e-14
    a, b = law.support()
    assert abs(quad(lambda t: t * t * law.pdf(t), a, b) - law.moment(2)) < 1e-10


def test_marchenko_pastur_against_eigenvalues_of_a_dual_pair():
    # Deterministic algebra behind the λ > 1 law: WᵀW and WWᵀ share their non-zero
    # eigenvalues, so (1/M)WᵀW = λ·(1/N)WWᵀ on that subspace.
    rng = np.random.default_rng(0)
    m, n = 40, 100
    w = rng.standard_normal((m, n))
    big = np.linalg.eigvalsh(w.T @ w / m)
    small = np.linalg.eigvalsh(w @ w.T / n)
    np.testing.assert_allclose(big[-m:], (n / m) * small, rtol=1e-10)
    assert np.all(np.abs(big[:-m]) < 1e-10)


# ------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("call", "name"), [
    (lambda: theory.two_mode_density(-1.0, 1.0), "sigma1"),
    (lambda: theory.two_mode_density(1.0, 0.0), "sigma2"),
    (lambda: theory.two_mode_density(1.0, np.inf), "sigma2"),
    (lambda: theory.two_mode_density(1.0, 1.0, loc=np.nan), "loc"),
    (lambda: theory.two_mode_spacing(np.nan, 1.0), "sigma1"),
    (lambda: theory.two_mode_spacing(1.0, -2), "sigma2"),
    (lambda: theory.semicircle(0.0), "radius"),
    (lambda: theory.semicircle(-np.inf), "radius"),
    (lambda: theory.marchenko_pastur(0.0), "ratio"),
    (lambda: theory.marchenko_pastur(np.nan), "ratio"),
    (lambda: theory.marchenko_pastur(0.5, sigma=-1.0), "sigma"),
    (lambda: theory.wigner_surmise(3), "beta"),
    (lambda: theory.wigner_surmise(0), "beta"),
    (lambda: theory.spacing(4.5), "beta"),
    (lambda: theory.spacing(0), "beta"),
    (lambda: theory.spacing(np.nan), "beta"),
    (lambda: theory.gap_ratio(3), "beta"),
    (lambda: theory.gap_ratio("goe"), "beta"),
])
def test_bad_values_raise_valueerror_naming_parameter(call, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        call()


@pytest.mark.parametrize("call", [
    lambda: theory.wigner_surmise("1"),
    lambda: theory.spacing(None),
    lambda: theory.spacing(True),
    lambda: theory.gap_ratio([1]),
    lambda: theory.semicircle("2"),
    lambda: theory.two_mode_density(1.0, [1.0]),
    lambda: theory.marchenko_pastur(complex(1, 1)),
])
def test_non_numbers_raise_typeerror(call):
    with pytest.raises(TypeError):
        call()


def test_message_lists_allowed_values():
    with pytest.raises(ValueError, match="one of 1, 2, 4"):
        theory.spacing(3)
    with pytest.raises(ValueError, match="'poisson'"):
        theory.gap_ratio("GOE")


def test_numpy_and_float_betas_are_accepted():
    assert repr(theory.spacing(np.int64(2))) == "spacing(beta=2)"
    assert repr(theory.wigner_surmise(4.0)) == "wigner_surmise(beta=4)"


# --------------------------------------------------------------------------- issue 18: extreme scales

@pytest.mark.parametrize("s1,s2", [(0.7, 1.9), (1e-150, 1.0), (1e-150, 1e-10), (1e140, 1e150), (3e149, 1e150)])
def test_two_mode_density_at_extreme_scales_is_the_scaled_law(s1, s2):
    """ρ(x; σ₁, σ₂) = ρ(x/m; σ₁/m, σ₂/m)/m, m = max σ: checked against the direct formula at unit scale."""
    m = max(s1, s2)
    a1, a2 = s1 / m, s2 / m
    u = np.array([0.0, 0.3, 1.0, 2.5, 7.0]) * max(a1, 1e-3)
    v1, v2 = a1 * a1, a2 * a2
    e1, e2 = np.exp(-0.5 * u * u / v1), np.exp(-0.5 * u * u / v2)
    direct = (2 * (v1 + v2) * e1 * e2 + math.sqrt(2 * math.pi) * u
              * (a1 * special.erf(u / (math.sqrt(2) * a1)) * e2 + a2 * special.erf(u / (math.sqrt(2) * a2)) * e1)
              ) / (4 * math.sqrt(2 * math.pi) * a1 * a2 * math.sqrt(v1 + v2))
    law = theory.two_mode_density(s1, s2)
    np.testing.assert_allclose(law.pdf(u * m) * m, direct, rtol=1e-12, atol=0)
    np.testing.assert_allclose(law.var(), m * m * (v1 * v1 + v1 * v2 + v2 * v2) / (v1 + v2), rtol=1e-13)
    assert np.all(np.isfinite(law.ppf([1e-6, 0.5, 1 - 1e-6])))


def test_two_mode_density_far_tail_in_log_space():
    """logpdf at |x| = 50σ is the exact leading term, not −inf; pdf(±inf) = 0."""
    law = theory.two_mode_density(1.0, 1.0)
    # σ₁ = σ₂ = 1: ρ = e^{−x²/2}/(4√π)[2e^{−x²/2} + √(2π) x erf(x/√2)], x erf → 50 at x = 50.
    expected = -1250.0 + math.log(math.sqrt(2 * math.pi) * 50.0 / (4 * math.sqrt(math.pi)))
    assert law.logpdf(50.0) == pytest.approx(expected, rel=1e-14)
    assert law.logpdf(-50.0) == pytest.approx(expected, rel=1e-14)
    assert law.pdf(np.inf) == 0.0 and law.pdf(-np.inf) == 0.0


@pytest.mark.parametrize("call,name", [
    (lambda: theory.semicircle(1e-320), "radius"), (lambda: theory.semicircle(1e300), "radius"),
    (lambda: theory.two_mode_spacing(1e-320, 1.0), "sigma1"),
    (lambda: theory.two_mode_density(1.0, 1e200), "sigma2"),
    (lambda: theory.two_mode_density(1.0, 1.0, loc=1e200), "loc"),
    (lambda: theory.marchenko_pastur(1e300), "ratio"), (lambda: theory.marchenko_pastur(0.5, 1e200), "sigma"),
    (lambda: theory.semicircle(10**400), "radius"),
])
def test_scales_outside_the_float_range_are_refused(call, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        call()


@pytest.mark.parametrize("ratio", [1e-12, 0.3, 1.0, 7.0, 1e12])
def test_marchenko_pastur_moments_in_closed_form(ratio):
    """Mean, variance, skewness, excess kurtosis against the Narayana raw moments (exact rationals at
    moderate λ; at the range's ends the closed forms √r and r − 1 are the only accurate ones)."""
    law = theory.marchenko_pastur(ratio, sigma=2.0)
    r, f = min(ratio, 1 / ratio), max(ratio, 1.0)
    m, v, s, k = (float(a) for a in law.stats("mvsk"))
    assert m == pytest.approx(4.0 * f, rel=1e-14) and v == pytest.approx(16.0 * f * f * r, rel=1e-13)
    assert s == pytest.approx(math.sqrt(r), rel=1e-13) and k == pytest.approx(r - 1.0, rel=1e-12, abs=1e-15)
    if 1e-3 < ratio < 1e3:  # raw Narayana moments: 1, 1+r, 1+3r+r², 1+6r+6r²+r³ (unit σ, λ <= 1 form)
        m1, m2, m3, m4 = 1, 1 + r, 1 + 3 * r + r * r, 1 + 6 * r + 6 * r * r + r**3
        mu2, mu3, mu4 = m2 - m1**2, m3 - 3 * m2 * m1 + 2 * m1**3, m4 - 4 * m3 * m1 + 6 * m2 * m1**2 - 3 * m1**4
        assert s == pytest.approx(mu3 / mu2**1.5, rel=1e-9) and k == pytest.approx(mu4 / mu2**2 - 3, abs=1e-9)


@pytest.mark.parametrize("size,error", [(-1, ValueError), ((2, -1), ValueError), (2.5, TypeError),
                                        (True, TypeError), ("3", TypeError), (10**12, ValueError)])
def test_rvs_size_checked_before_drawing(size, error, monkeypatch):
    monkeypatch.setenv("COULOMBGAS_MAX_MEMORY", str(2**30))
    with pytest.raises(error, match="`size`"):
        theory.two_mode_density(1.0, 2.0).rvs(size=size)


def test_rvs_random_state_checked():
    with pytest.raises(TypeError, match="`random_state`"):
        theory.semicircle(1.0).rvs(3, random_state="x")
    with pytest.raises(ValueError, match="`random_state`"):
        theory.semicircle(1.0).rvs(3, random_state=-1)
    a = theory.semicircle(1.0).rvs((2, 3), random_state=5)
    assert a.shape == (2, 3) and np.array_equal(a, theory.semicircle(1.0).rvs((2, 3), random_state=5))
