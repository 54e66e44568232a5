"""Tests of coulombgas.spectra: kernels against slow loops, statistics against exact laws.

Stochastic checks use fixed seeds and tolerances from tests/stats.py, derived
from the sample size (z = 4: false alarm ~6e-5; KS at alpha = 1e-3).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
from stats import assert_ks, assert_mean_z, assert_two_sample, assert_z

from coulombgas import spectra
from coulombgas.spectra import _fits  # the Anderson–Darling p-value helpers
from reference import naive_a2, naive_ratios, naive_spacings

RNG = np.random.default_rng


# ----------------------------------------------------------------- slow references


def ad_limit_cdf(z, terms=20):
    """Exact asymptotic P(A^2 < z), the series of Anderson & Darling (1954), by quadrature."""
    total = 0.0
    for j in range(terms):
        k = 4 * j + 1
        a = (-1) ** j * scipy.special.gamma(j + 0.5) / (np.sqrt(np.pi) * scipy.special.factorial(j))
        inner, _ = scipy.integrate.quad(
            lambda w: np.exp(z / (8 * (w * w + 1)) - k * k * np.pi**2 * w * w / (8 * z)), 0, np.inf)
        total += a * k * np.exp(-k * k * np.pi**2 / (8 * z)) * inner
    return np.sqrt(2 * np.pi) / z * total


# ----------------------------------------------------------------- spacings and ratios

def test_spacings_match_loop():
    x = RNG(1).normal(size=(3, 4, 7))
    np.testing.assert_allclose(spectra.spacings(x), naive_spacings(x), rtol=0, atol=1e-15)
    groups = [(1, 2), (6, 0, 3), (4, 5)]
    got = spectra.spacings(x, groups=groups)
    assert got.shape == (3, 4, 4)
    np.testing.assert_allclose(got, naive_spacings(x, groups), rtol=0, atol=1e-15)


def test_spacings_sort_flag():
    assert np.all(spectra.spacings([3.0, 1.0, 2.0]) == [1.0, 1.0])
    assert np.all(spectra.spacings([1.0, 2.0, 4.0], sort=False) == [1.0, 2.0])
    with pytest.raises(ValueError, match="`x` must be sorted"):
        spectra.spacings([3.0, 1.0, 2.0], sort=False)
    with pytest.raises(ValueError, match="`x` must be ascending within each of `groups`"):
        spectra.spacings([0.0, 2.0, 1.0], groups=[(1, 2)], sort=False)


def test_normalized_spacings():
    x = RNG(2).normal(size=(50, 6)) * [1, 1, 1, 5, 5, 5]
    s = spectra.normalized_spacings(x, groups=[(0, 1), (3, 4)])
    assert s.mean() == pytest.approx(1.0, abs=1e-12)
    each = spectra.normalized_spacings(x, groups=[(0, 1), (3, 4)], separate=True)
    np.testing.assert_allclose(each.mean(axis=0), [1.0, 1.0], atol=1e-12)
    with pytest.raises(ValueError, match="zero mean spacing"):
        spectra.normalized_spacings(np.ones((3, 2)))


def test_gap_ratios_match_loop():
    x = RNG(3).normal(size=(5, 9))
    np.testing.assert_allclose(spectra.gap_ratios(x), naive_ratios(x), rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="`x`.*coinciding"):
        spectra.gap_ratios([0.0, 1.0, 1.0, 1.0])
    assert spectra.gap_ratios([0.0, 1.0, 1.0])[0] == 0.0  # one zero spacing is a valid 0


def test_gap_ratios_poisson_exact_law():
    # For i.i.d. uniform levels, r = S_k/S_{k+1} is a ratio of independent exponentials,
    # so r~ has cdf 2t/(1+t) and mean 2 ln 2 - 1 exactly; ratios on disjoint spacing pairs
    # (every other one) are independent, as KS requires.
    x = RNG(4).uniform(size=(400, 41))
    r = spectra.gap_ratios(x)[:, ::2]
    assert_ks(r, lambda t: 2 * t / (1 + t))
    assert_mean_z(r, 2 * np.log(2) - 1)


def test_gap_ratios_goe_mean():
    # GOE: <r~> = 0.5307 (Atas et al. 2013, large n); ratios in one spectrum are correlated,
    # so the z-test runs over per-spectrum means, which are independent.
    rng = RNG(5)
    a = rng.normal(size=(60, 80, 80))
    x = np.linalg.eigvalsh((a + np.swapaxes(a, 1, 2)) / 2)
    assert_mean_z(spectra.gap_ratios(x)[:, 10:-10].mean(axis=1), 0.5307)


# ----------------------------------------------------------------- unfolding

def test_unfold_poisson_with_known_law():
    # n i.i.d. draws from a law are a Poisson-like process with density n f; n F maps them
    # to uniform levels on [0, n], whose spacings are n Beta(1, n) -> Exp(1).
    law = scipy.stats.norm(2.0, 3.0)
    x = np.sort(law.rvs(size=(20, 500), random_state=RNG(6)), axis=-1)
    xi = spectra.unfold(x, law)
    assert xi.shape == x.shape and 0 <= xi.min() and xi.max() <= 500
    s = spectra.spacings(xi, sort=False)
    assert_mean_z(s, 1.0)
    assert_ks(s, scipy.stats.expon())


def test_unfold_by_fit_semicircle():
    law = scipy.stats.semicircular()
    x = np.sort(law.rvs(size=(50, 400), random_state=RNG(7)), axis=-1)
    xi = spectra.unfold(x)
    assert np.all(np.diff(xi, axis=-1) >= 0)  # a monotone map keeps the order
    s = spectra.spacings(xi, sort=False)
    bulk = (xi[:, :-1] > 100) & (xi[:, 1:] < 300)
    per_spectrum = np.array([row[m].mean() for row, m in zip(s, bulk)])
    assert_mean_z(per_spectrum, 1.0)
    # the fitted counting function follows the exact one within the staircase noise
    # (Kolmogorov band: ~2 sqrt(M)/m levels for M pooled points of m spectra)
    exact = spectra.unfold(x, law)
    assert np.max(np.abs(xi - exact)[:, 100:300]) < 2 * np.sqrt(x.size) / 50


def test_unfold_bad_input():
    with pytest.raises(TypeError, match="`law`"):
        spectra.unfold([0.0, 1.0], law=object())
    with pytest.raises(ValueError, match="`n`"):
        spectra.unfold([0.0, 1.0], scipy.stats.norm(), n=0)
    with pytest.raises(ValueError, match="`bandwidth`"):
        spectra.unfold([0.0, 1.0, 2.0], bandwidth=0.0)
    with pytest.raises(ValueError, match="no spread"):
        spectra.unfold([[1.0, 1.0], [1.0, 1.0]])


def test_unfold_by_fit_is_monotone_on_full_goe_spectra():
    # A polynomial fit of the staircase bends back beyond the edges of full GOE
    # spectra; the smoothed staircase is increasing by construction.
    rng = RNG(9)
    a = rng.standard_normal((100, 100, 100))
    x = np.linalg.eigvalsh((a + np.swapaxes(a, 1, 2)) / 2)
    xi = spectra.unfold(x)
    assert np.all(np.diff(np.sort(xi.ravel())) >= 0)
    assert np.all(np.diff(xi, axis=-1) > 0)
    # Bulk mean spacing is 1 (per-spectrum means, z-test).
    s = spectra.spacings(xi[:, 25:75], sort=False)
    assert_mean_z(s.mean(axis=-1), 1.0)


# ----------------------------------------------------------------- number variance

def test_number_variance_matches_loop():
    x = np.sort(RNG(9).uniform(0, 30, size=(3, 30)), axis=-1)
    nv = spectra.number_variance(x, [0.7, 3.0], bulk=(5.0, 25.0), windows=11)
    for L, var in zip(nv.L, nv.variance):
        counts = [np.sum((row >= a) & (row < a + L)) for row in x
                  for a in np.linspace(5.0, 25.0 - L, 11)]
        assert var == pytest.approx(np.var(counts), abs=1e-12)


def test_number_variance_poisson():
    # n uniform levels on [0, n]: a window of length L holds Binomial(n, L/n) levels,
    # so Sigma^2 = L (1 - L/n) exactly, -> L (Poisson).
    n = 2000
    x = RNG(10).uniform(0, n, size=(40, n))
    L = np.array([0.5, 1.0, 2.0, 5.0, 10.0])
    nv = spectra.number_variance(x, L)
    assert_z(nv.variance, L * (1 - L / n), nv.error)
    assert spectra.number_variance(x[0], L).error is None
    with pytest.raises(ValueError, match="`L`"):
        spectra.number_variance(x, [5000.0])
    with pytest.raises(ValueError, match="`bulk`"):
        spectra.number_variance(x, L, bulk=1.5)
    with pytest.raises(ValueError, match="`bulk`"):
        spectra.number_variance(x, L, bulk=(3.0, 1.0))


# ----------------------------------------------------------------- histogram

def test_histogram_normalisation_and_errors():
    data = RNG(11).exponential(size=5000)
    h = spectra.histogram(data)
    np.testing.assert_array_equal(h.edges, np.histogram_bin_edges(data, "fd"))
    width = np.diff(h.edges)
    assert np.sum(h.density * width) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(h.error, np.sqrt(h.counts) / (data.size * width), rtol=1e-12)
    np.testing.assert_allclose(h.centers, (h.edges[1:] + h.edges[:-1]) / 2)
    # normalised by all samples: integrates to the fraction inside `range`
    h = spectra.histogram(data, bins=20, range=(0.0, 1.0))
    assert np.sum(h.density * np.diff(h.edges)) == pytest.approx(np.mean(data <= 1.0), abs=1e-12)
    # equal weights change nothing; weights w give errors sqrt(sum w^2)
    hw = spectra.histogram(data, bins=20, range=(0.0, 1.0), weights=np.full(data.size, 2.0))
    np.testing.assert_allclose(hw.density, h.density, rtol=1e-12)
    np.testing.assert_allclose(hw.error, h.error, rtol=1e-12)


@pytest.mark.parametrize("kwargs, name", [
    ({"bins": "magic"}, "bins"), ({"bins": 0}, "bins"), ({"bins": [0.0, 2.0, 1.0]}, "bins"),
    ({"bins": 2.5}, "bins"), ({"range": (1.0, 0.0)}, "range"), ({"range": (0.0, 1.0, 2.0)}, "range"),
    ({"weights": [1.0]}, "weights"),
])
def test_histogram_bad_input(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        spectra.histogram([0.1, 0.2, 0.3], **kwargs)


# ----------------------------------------------------------------- goodness of fit

def test_goodness_of_fit_accepts_right_law_rejects_wrong():
    data = scipy.stats.expon().rvs(size=2000, random_state=RNG(12))
    for method in ("ks", "cvm", "ad"):
        right = spectra.goodness_of_fit(data, scipy.stats.expon(), method)
        wrong = spectra.goodness_of_fit(data, scipy.stats.rayleigh(scale=np.sqrt(2 / np.pi)), method)
        assert right.method == method and right.n == data.size
        assert right.pvalue > 1e-3, (method, right)
        assert wrong.pvalue < 1e-6, (method, wrong)
    ks = scipy.stats.kstest(data, "expon")
    assert spectra.goodness_of_fit(data, scipy.stats.expon()).statistic == ks.statistic


def test_anderson_darling_statistic():
    data = RNG(13).normal(size=40)
    law = scipy.stats.norm(0.1, 1.2)
    got = spectra.goodness_of_fit(data, law, "ad").statistic
    assert got == pytest.approx(naive_a2(data, law.cdf), rel=1e-12)
    # scipy computes the same A^2, but only against a law it fitted itself
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = scipy.stats.anderson(data, "norm").statistic
    fitted = scipy.stats.norm(data.mean(), data.std(ddof=1))
    assert spectra.goodness_of_fit(data, fitted, "ad").statistic == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("a2, p", [(1.933, 0.10), (2.492, 0.05), (3.857, 0.01), (3.878, 0.01)])
def test_anderson_darling_critical_values(a2, p):
    # Classical asymptotic critical values (Stephens 1974, case 0). The tabulated 1 % point
    # 3.857 is itself slightly off: the exact limit law (ad_limit_cdf) gives p = 0.0102
    # there and puts the 1 % point at 3.878, hence the tolerance of 3e-4.
    assert 1 - _fits._ad_inf(a2) == pytest.approx(p, abs=3e-4)
    # the finite-n correction vanishes as n grows
    assert _fits._ad_pvalue(10**6, a2) == pytest.approx(1 - _fits._ad_inf(a2), abs=1e-7)


def test_anderson_darling_limit_law():
    # ADinf against the exact series: Marsaglia's fit is good to ~2e-5
    for z in (0.3, 0.8, 1.5, 2.5, 4.0, 6.0):
        assert _fits._ad_inf(z) == pytest.approx(ad_limit_cdf(z), abs=3e-5)


@pytest.mark.parametrize("n", [2, 8, 1000])
def test_anderson_darling_pvalue_monotone_to_zero(n):
    z = np.linspace(0.05, 60.0, 4000)
    p = np.array([_fits._ad_pvalue(n, v) for v in z])
    assert p[0] == 1.0 and p[-1] < 1e-100 and np.all(np.diff(p) <= 0)


def test_anderson_darling_tail_by_simulation():
    # P(A_8^2 >= z) from 2e5 simulated uniform samples of size 8, binomial standard error
    n, size = 8, 200_000
    u = np.sort(RNG(21).uniform(size=(size, n)), axis=1)
    k = np.arange(1, n + 1)
    a2 = -n - np.sum((2 * k - 1) * (np.log(u) + np.log1p(-u[:, ::-1])), axis=1) / n
    for z in (1.0, 2.492, 3.857, 6.0):
        p = _fits._ad_pvalue(n, z)
        assert_z(np.mean(a2 >= z), p, np.sqrt(p * (1 - p) / size))


def test_anderson_darling_pvalues_uniform_at_small_n():
    # with the finite-n correction, p-values of correct laws are uniform even at n = 8
    rng = RNG(14)
    p = [spectra.goodness_of_fit(rng.uniform(size=8), scipy.stats.uniform(), "ad").pvalue
         for _ in range(1000)]
    assert_ks(p, scipy.stats.uniform())


def test_goodness_of_fit_bad_input():
    with pytest.raises(ValueError, match="`data`"):
        spectra.goodness_of_fit([1.0], scipy.stats.norm())
    with pytest.raises(ValueError, match="`data`"):
        spectra.goodness_of_fit([1.0, np.inf], scipy.stats.norm())
    with pytest.raises(ValueError, match="`method`.*'ks', 'cvm', 'ad'"):
        spectra.goodness_of_fit([1.0, 2.0], scipy.stats.norm(), "chi2")
    with pytest.raises(TypeError, match="`law`"):
        spectra.goodness_of_fit([1.0, 2.0], "norm")
    outside = spectra.goodness_of_fit([-1.0, 0.5], scipy.stats.uniform(), "ad")
    assert outside.statistic == np.inf and outside.pvalue == 0.0


# ----------------------------------------------------------------- jackknife

def test_jackknife_mean_is_standard_error():
    x = RNG(15).normal(size=57)
    jk = spectra.jackknife(np.mean, x[:, None])
    assert float(jk.estimate) == pytest.approx(x.mean(), abs=1e-15)
    assert float(jk.error) == pytest.approx(x.std(ddof=1) / np.sqrt(x.size), rel=1e-12)
    assert float(jk.bias_corrected) == pytest.approx(x.mean(), abs=1e-12)  # the mean is unbiased
    # the bias-corrected ddof=0 variance is the unbiased ddof=1 variance, exactly
    jk = spectra.jackknife(np.var, x[:, None])
    assert float(jk.bias_corrected) == pytest.approx(x.var(ddof=1), rel=1e-12)


def test_jackknife_runs_and_blocks():
    rng = RNG(16)
    runs = [rng.normal(size=(k, 3)) for k in (4, 5, 6, 4)]  # ragged runs of (records, n)
    jk = spectra.jackknife(lambda a: a.mean(axis=0), runs)
    assert jk.estimate.shape == (3,) and jk.covariance.shape == (3, 3) and jk.replicates.shape == (4, 3)
    np.testing.assert_allclose(np.sqrt(np.diag(jk.covariance)), jk.error)
    np.testing.assert_allclose(jk.estimate, np.concatenate(runs).mean(axis=0))
    # blocks of consecutive runs: same as merging them by hand
    merged = [np.concatenate(runs[:2]), np.concatenate(runs[2:])]
    a = spectra.jackknife(np.mean, runs, blocks=2)
    b = spectra.jackknife(np.mean, merged)
    assert float(a.error) == float(b.error)


@pytest.mark.parametrize("runs", [np.ones(5), [1.0, 2.0], [np.ones(3)], [np.ones(2), np.array([])],
                                  [np.ones((2, 2)), np.ones((2, 3))]])
def test_jackknife_bad_runs(runs):
    with pytest.raises(ValueError, match="`runs`"):
        spectra.jackknife(np.mean, runs)


def test_jackknife_bad_statistic():
    with pytest.raises(TypeError, match="`statistic`"):
        spectra.jackknife(3.0, np.ones((3, 2)))
    with pytest.raises(ValueError, match="`statistic`"):
        spectra.jackknife(lambda a: np.nan, np.ones((3, 2)))
    with pytest.raises(ValueError, match="`blocks`"):
        spectra.jackknife(np.mean, np.ones((3, 2)), blocks=5)


# ----------------------------------------------------------------- fits

def gauss(x, mu, sigma):  # plain numpy: scipy.stats.norm.pdf's per-call overhead dominates refits
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def test_fit_density_gaussian():
    runs = RNG(17).normal(1.5, 0.7, size=(30, 200))
    jk = spectra.fit_density(runs, gauss, [1.0, 1.0])
    # the Gaussian MLE is known in closed form
    np.testing.assert_allclose(jk.params, [runs.mean(), runs.std()], rtol=1e-7)
    assert_z(jk.params, [1.5, 0.7], jk.errors)
    # errors of the MLE: sigma/sqrt(N) and sigma/sqrt(2N); jackknife error of an error
    # estimate from 30 runs is ~1/sqrt(2*29) = 13 %
    np.testing.assert_allclose(jk.errors, [0.7 / np.sqrt(6000), 0.7 / np.sqrt(12000)], rtol=0.5)
    bs = spectra.fit_density(runs, gauss, [1.0, 1.0], error="bootstrap",
                             n_resamples=100, seed=3)
    assert bs.method == "bootstrap" and bs.replicates.shape == (100, 2)
    np.testing.assert_allclose(bs.params, jk.params)
    np.testing.assert_allclose(bs.errors, jk.errors, rtol=0.3)
    again = spectra.fit_density(runs, gauss, [1.0, 1.0], error="bootstrap",
                                n_resamples=100, seed=3)
    np.testing.assert_array_equal(again.errors, bs.errors)


def test_fit_density_rayleigh_with_bounds():
    # the N = 2 spacing law: Rayleigh with scale^2 = sigma1^2 + sigma2^2 (SCIENCE.md section 4)
    scale = np.sqrt(0.3**2 + 0.5**2)
    runs = scipy.stats.rayleigh(scale=scale).rvs(size=(40, 50), random_state=RNG(18))
    fit = spectra.fit_density(runs, lambda s, c: scipy.stats.rayleigh.pdf(s, scale=c), [1.0],
                              bounds=[(1e-3, None)])
    assert_z(fit.params, scale, fit.errors)
    # a scipy distribution stands for its pdf(x, loc, scale)
    loc_scale = spectra.fit_density(runs, scipy.stats.rayleigh, [0.0, 1.0], bounds=[(0, 0), (1e-3, None)])
    assert loc_scale.params[1] == pytest.approx(fit.params[0], rel=1e-6)
    # closed-form MLE: c^2 = <s^2>/2
    assert fit.params[0] == pytest.approx(np.sqrt(np.mean(runs**2) / 2), rel=1e-7)


def test_fit_density_bad_input():
    runs = np.ones((3, 4))
    with pytest.raises(TypeError, match="`pdf`"):
        spectra.fit_density(runs, None, [1.0])
    with pytest.raises(TypeError, match="`pdf`"):
        spectra.fit_density(runs, lambda x, a: 1.0, [1.0])  # not one density per sample
    with pytest.raises(TypeError, match="`pdf`"):
        spectra.fit_density(runs, scipy.stats.norm.pdf, [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="`p0`"):
        spectra.fit_density(runs * 2, scipy.stats.uniform.pdf, [0.0, 1.0])  # zero likelihood
    with pytest.raises(ValueError, match="`error`"):
        spectra.fit_density(runs, scipy.stats.norm.pdf, [1.0, 1.0], error="magic")
    with pytest.raises(ValueError, match="`bounds`"):
        spectra.fit_density(runs, scipy.stats.norm.pdf, [1.0, 1.0], bounds=[(0, 1)])
    with pytest.raises(ValueError, match="`runs`"):
        spectra.fit_density(np.ones(5), scipy.stats.norm.pdf, [1.0, 1.0])


def test_fit_through_origin_exact():
    # by hand, weights w = 1/yerr^2 = (1, 4, 1):
    # sum w x y = 2 + 36 + 16.5 = 54.5, sum w x^2 = 1 + 16 + 9 = 26
    fit = spectra.fit_through_origin([1.0, 2.0, 3.0], [2.0, 4.5, 5.5], [1.0, 0.5, 1.0])
    a = 54.5 / 26
    assert fit.slope == pytest.approx(a, rel=1e-15)
    assert fit.error == pytest.approx(26**-0.5, rel=1e-15)
    chi2 = (2 - a) ** 2 + 4 * (4.5 - 2 * a) ** 2 + (5.5 - 3 * a) ** 2
    assert fit.chi2 == pytest.approx(chi2, rel=1e-12)
    assert fit.dof == 2 and fit.reduced_chi2 == pytest.approx(chi2 / 2, rel=1e-12)


def test_fit_through_origin_in_distribution():
    # with Gaussian errors: chi^2 ~ chi2(k - 1) and the slope pull ~ N(0, 1)
    rng = RNG(19)
    x = np.linspace(0.1, 1.0, 6)
    yerr = 0.05 + 0.1 * x
    fits = [spectra.fit_through_origin(x, 2.0 * x + yerr * rng.normal(size=6), yerr) for _ in range(2000)]
    chi2 = np.array([f.chi2 for f in fits])
    pull = np.array([(f.slope - 2.0) / f.error for f in fits])
    assert_ks(chi2, scipy.stats.chi2(5))
    assert_mean_z([f.reduced_chi2 for f in fits], 1.0, expected_std=np.sqrt(2 / 5))
    assert_ks(pull, scipy.stats.norm())
    assert_ks([f.pvalue for f in fits], scipy.stats.uniform())


def test_fit_through_origin_bad_input():
    with pytest.raises(ValueError, match="`x`"):
        spectra.fit_through_origin([1.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="`y`"):
        spectra.fit_through_origin([1.0, 2.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="`yerr`"):
        spectra.fit_through_origin([1.0, 2.0], [1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="`x`"):
        spectra.fit_through_origin([0.0, 0.0], [1.0, 2.0], 1.0)


# ----------------------------------------------------------------- spectra: bad input

@pytest.mark.parametrize("func", [spectra.spacings, spectra.gap_ratios, spectra.unfold,
                                  spectra.normalized_spacings])
@pytest.mark.parametrize("x", [[], [1.0], [[1.0], [2.0]], [0.0, np.nan, 1.0], 3.0, "abc"])
def test_spectrum_bad_input(func, x):
    with pytest.raises((ValueError, TypeError), match="`x`"):
        func(x)


@pytest.mark.parametrize("groups", [[], [(0,)], [(0, 0)], [(0, 7)], [(0.5, 1)], [(-1, 0)]])
def test_bad_groups(groups):
    with pytest.raises(ValueError, match="`groups`"):
        spectra.spacings(np.arange(5.0), groups=groups)


def test_stats_helpers_fail_when_they_should():
    rng = RNG(20)
    with pytest.raises(AssertionError):
        assert_mean_z(rng.normal(0.1, 1.0, 10000), 0.0)
    with pytest.raises(AssertionError):
        assert_ks(rng.normal(size=2000), scipy.stats.norm(0.2))
    with pytest.raises(AssertionError):
        assert_two_sample(rng.normal(size=2000), rng.normal(0.2, 1.0, 2000))
    assert_two_sample(rng.normal(size=2000), rng.normal(size=2000))


# --------------------------------------------------------------------------- issue 18: bad input

def test_fit_through_origin_tiny_errors_scale_free():
    """yerr = 1e-200 (1/σ² = 1e400 overflows) gives the slope and error of yerr = 1, scaled."""
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])
    a = spectra.fit_through_origin(x, y, 1e-200)
    b = spectra.fit_through_origin(x, y, 1.0)
    assert a.slope == 2.0 and a.error == pytest.approx(b.error * 1e-200, rel=1e-14)
    c = spectra.fit_through_origin(x, [2.0, 4.1, 5.9], [0.1, 0.2, 0.1])  # unchanged at ordinary scales
    w = np.array([100.0, 25.0, 100.0])
    assert c.slope == pytest.approx(np.sum(w * x * [2.0, 4.1, 5.9]) / np.sum(w * x * x), rel=1e-14)
    with pytest.raises(ValueError, match="`yerr`"):  # chi² = (0.1/1e-200)² is beyond the float range
        spectra.fit_through_origin(x, [2.0, 4.1, 5.9], 1e-200)


def test_histogram_rule_bin_count_matches_numpy_and_refuses_outliers(monkeypatch):
    from coulombgas.spectra import _rule_bins

    rng = np.random.default_rng(3)
    data = rng.standard_normal(5000)
    for rule in ("fd", "auto"):
        assert _rule_bins(data, rule, None) == np.histogram_bin_edges(data, rule).size - 1
        assert _rule_bins(data, rule, (-1.0, 2.0)) == np.histogram_bin_edges(data, rule, (-1.0, 2.0)).size - 1
    monkeypatch.setenv("COULOMBGAS_MAX_MEMORY", str(2**30))
    with pytest.raises(ValueError, match=r"`bins` \(rule 'fd' gives \d.\d+e\+09 bins"):
        spectra.histogram(np.r_[rng.standard_normal(999), 1e9])


@pytest.mark.parametrize("call,name,error", [
    (lambda: spectra.spacings(np.array([True, False, True])), "x", TypeError),
    (lambda: spectra.spacings([0.0, 1.0], sort="no"), "sort", TypeError),
    (lambda: spectra.normalized_spacings([0.0, 1.0], separate="yes"), "separate", TypeError),
    (lambda: spectra.gap_ratios([0.0, 1.0, 3.0], sort=1), "sort", TypeError),
    (lambda: spectra.normalized_spacings([-1.7e308, 1.7e308]), "x", ValueError),
    (lambda: spectra.spacings(np.zeros((0, 3))), "x", ValueError),
    (lambda: spectra.number_variance(np.arange(100.0), [1.0], bulk=(200.0, 300.0)), "bulk", ValueError),
    (lambda: spectra.unfold(np.arange(10.0), bandwidth=1e-300), "bandwidth", ValueError),
    (lambda: spectra.unfold(np.arange(10.0), bandwidth=1e301), "bandwidth", ValueError),
    (lambda: spectra.jackknife(np.mean, [[1e300], [-1e300], [0.0]]), "statistic", ValueError),
    (lambda: spectra.fit_through_origin([1.0, 2.0], [2.0, 4.0], [True, True]), "yerr", TypeError),
])
def test_bad_input_named(call, name, error):
    with pytest.raises(error, match=f"`{name}`"):
        call()


def test_unfold_wide_bandwidth_is_smooth_and_monotone():
    """bandwidth >> span used to fail ("fp and xp are not of the same length"): the kernel is cut at
    the grid; the result is the smoothed staircase, monotone, centred on n/2 at the centre."""
    x = np.arange(10.0)
    xi = spectra.unfold(x, bandwidth=1e3)
    assert np.all(np.diff(xi) > 0) and xi[4] < 5.0 < xi[5]
    assert np.all(np.isfinite(spectra.unfold(x, bandwidth=1e300)))


def test_normalized_spacings_near_the_float_limit():
    s = spectra.normalized_spacings([-1e308, 0.0, 1e308])
    np.testing.assert_array_equal(s, [1.0, 1.0])
