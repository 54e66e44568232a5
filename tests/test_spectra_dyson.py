"""Tests for spectra.fit_dyson_index on exact Gaussian β-ensemble samples (fixed seeds).

The surmises are exact for 3×3 (ratio) and 2×2 (spacing) GβE at every real β, so β̂
with law="surmise" must recover β within its error there; on large matrices that law is
biased by the surmise's own error (pinned here to the size documented in the docstring),
and law="large-n" (the default for more than 3 levels), built on the table of
spectra/_dyson_table.py, must recover β within 2 standard errors. The table itself is
checked against exact Poisson values, published large-N ⟨r̃⟩ (Atas et al. 2013) and its
generator tools/dyson_large_n_table.py (slow).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scripts import load_script

from coulombgas import CoulombGas, spectra
from coulombgas.samplers.tridiagonal import sample_exact
from coulombgas.spectra import _dyson_table as table
from coulombgas.theory._general_beta import ratio_statistic, ratio_statistic_mean


@pytest.mark.parametrize("beta", [0.5, 1.5, 3.0])
def test_ratio_fit_recovers_beta_within_its_error(beta):
    x = sample_exact(CoulombGas.gaussian(3, beta=beta), 20000, seed=int(10 * beta))
    fit = spectra.fit_dyson_index(x, law="surmise")
    assert fit.statistic == "ratio" and fit.samples == 20000 and fit.blocks == 64 and not fit.at_bound
    assert fit.law == "surmise" and fit.error_law == 0.0
    assert spectra.fit_dyson_index(x) == fit          # auto: 3 levels per spectrum -> the exact surmise
    assert abs(fit.beta - beta) < 3.0 * fit.error
    # independent samples: the jackknife agrees with the Fisher error (64 blocks: ±9 %)
    assert fit.error == pytest.approx(fit.error_fisher, rel=0.35)


@pytest.mark.parametrize("beta", [0.5, 1.5, 3.0])
def test_spacing_fit_recovers_beta_within_its_error(beta):
    x = sample_exact(CoulombGas.gaussian(2, beta=beta), 20000, seed=int(10 * beta) + 1)
    fit = spectra.fit_dyson_index(x, statistic="spacing")
    assert fit.law == "surmise" and fit == spectra.fit_dyson_index(x, statistic="spacing", law="surmise")
    assert abs(fit.beta - beta) < 3.0 * fit.error
    assert fit.error == pytest.approx(fit.error_fisher, rel=0.35)


def test_fisher_error_is_the_spread_of_repeated_fits():
    # 40 independent fits of 2000 3×3 samples: their spread matches the Fisher error.
    fits = [spectra.fit_dyson_index(sample_exact(CoulombGas.gaussian(3, beta=2.0), 2000, seed=s), error="fisher",
                                    law="surmise")
            for s in range(40)]
    spread = np.std([f.beta for f in fits], ddof=1)
    predicted = np.mean([f.error for f in fits])
    assert spread == pytest.approx(predicted, rel=0.35)      # 40 fits: sd of sd ≈ 11 %


@pytest.mark.parametrize("beta", [0.5, 1.5, 3.0])
def test_large_matrix_bias_of_the_surmise_is_as_documented(beta):
    x = sample_exact(CoulombGas.gaussian(200, beta=beta), 100, seed=7)[:, 50:150]
    fit = spectra.fit_dyson_index(x, law="surmise")
    assert fit.error > fit.error_fisher * 0.8           # 100 spectra: blocks of whole spectra
    assert -0.25 < fit.beta - beta < 0.1                # the surmise's bias (~ −0.06) plus 3 σ


def test_poisson_levels_fit_near_zero_and_crystal_at_bound():
    rng = np.random.default_rng(0)
    poisson = np.cumsum(rng.exponential(size=(100, 60)), axis=-1)
    fit = spectra.fit_dyson_index(poisson, law="surmise")
    # Poisson ⟨r̃⟩ = 0.386 lies below the surmise's β → 0 limit 0.409: β̂ at the lower bound
    assert fit.beta < 0.05 and fit.at_bound and 0.36 < fit.mean_ratio < 0.41
    # the large-n law reaches Poisson at β = 0: β̂ within 2σ of 0 (or at that bound)
    fit = spectra.fit_dyson_index(poisson)
    assert fit.law == "large-n" and 0.0 <= fit.beta < 2.0 * fit.error
    lattice = np.arange(50.0)[None, :] + 1e-9 * rng.standard_normal((3, 50))
    for law in ("surmise", "large-n"):
        crystal = spectra.fit_dyson_index(lattice, law=law)
        assert crystal.at_bound and crystal.beta == (100.0 if law == "surmise" else table.LARGE_N_BETA_MAX)


# ------------------------------------------------------------------ large-n law

@pytest.mark.parametrize("beta, seed", [(0.5, 11), (1.5, 12), (3.0, 13)])
def test_large_n_fit_recovers_beta_of_whole_gbe_spectra(beta, seed):
    # What cg.analyze meets: whole spectra, edges included. 150 matrices of n = 100: 14 700 ratios.
    x = sample_exact(CoulombGas.gaussian(100, beta=beta), 150, seed=seed)
    fit = spectra.fit_dyson_index(x)
    assert fit.law == "large-n" and not fit.at_bound and fit.blocks == 64
    assert abs(fit.beta - beta) < 2.0 * fit.error
    assert 0.0 < fit.error_law < 0.2 * fit.error          # the table's error is a small part
    # the surmise is biased low on the same data (documented: ≈ −0.05)
    assert spectra.fit_dyson_index(x, law="surmise").beta < fit.beta - 0.02


@pytest.mark.slow
@pytest.mark.parametrize("beta, seed", [(0.5, 21), (1.5, 22), (3.0, 23)])
def test_large_n_fit_recovers_beta_at_the_table_scale(beta, seed):
    # Bulk of n = 200 (not the table's n = 100), 3000 matrices: 294 000 ratios, σ ≈ β/200,
    # so the table (error_law) and its n-extrapolation are tested at their own accuracy.
    x = sample_exact(CoulombGas.gaussian(200, beta=beta), 3000, seed=seed)[:, 50:150]
    fit = spectra.fit_dyson_index(x)
    assert abs(fit.beta - beta) < 2.0 * fit.error
    assert fit.error < 0.01 * beta + 0.003
    surmise = spectra.fit_dyson_index(x, law="surmise")       # rejected at the same 2σ level
    assert abs(surmise.beta - beta) > 2.0 * surmise.error


def test_large_n_error_is_the_spread_of_repeated_fits():
    # 60 independent fits of 20 whole n = 100 spectra (β = 1.5): the jackknife error is the
    # spread (measured 0.084 vs 0.086; the Fisher error, blind to correlated neighbours, 0.067),
    # and the mean of the fits is β within its standard error (measured 1.496 ± 0.011).
    fits = [spectra.fit_dyson_index(sample_exact(CoulombGas.gaussian(100, beta=1.5), 20, seed=500 + s))
            for s in range(60)]
    beta = np.array([f.beta for f in fits])
    spread = beta.std(ddof=1)
    assert spread == pytest.approx(np.mean([f.error for f in fits]), rel=0.3)     # 60 fits: sd of sd ≈ 9 %
    assert np.mean([f.error_fisher for f in fits]) < spread
    assert abs(beta.mean() - 1.5) < 3.0 * spread / math.sqrt(len(beta))


def test_auto_law_rule():
    x = sample_exact(CoulombGas.gaussian(4, beta=1.0), 500, seed=3)
    assert spectra.fit_dyson_index(x).law == "large-n"           # from 4 levels on
    assert spectra.fit_dyson_index(x[:, :3]).law == "surmise"    # 3 levels: the exact law
    assert spectra.fit_dyson_index(x, law="surmise").law == "surmise"


def test_table_poisson_end_is_exact():
    e, var, mean_ratio = table.poisson_moments()
    assert mean_ratio == pytest.approx(2.0 * math.log(2.0) - 1.0, abs=1e-15)   # Atas et al. 2013
    # independent: Monte Carlo of uncorrelated levels, 2e6 ratios of a renewal process.
    r = np.random.default_rng(5).exponential(size=(2, 2_000_000))
    t = ratio_statistic(np.minimum(r[0], r[1]) / np.maximum(r[0], r[1]))
    assert e == pytest.approx(t.mean(), abs=4.0 * t.std() / math.sqrt(t.size))
    assert var == pytest.approx(t.var(), rel=0.01)
    assert table.large_n_mean(0.0) == pytest.approx(e, abs=1e-12)


def test_table_matches_published_large_n_ratios():
    # Atas et al. 2013 (Table I): large-N ⟨r̃⟩ = 0.5307(1), 0.5996(1), 0.6744(1) for GOE, GUE, GSE.
    rows = {row[0]: row for row in table.TABLE}
    for beta, published in ((1.0, 0.5307), (2.0, 0.5996), (4.0, 0.6744)):
        assert abs(rows[beta][4] - published) < 3.0 * math.hypot(rows[beta][5], 1e-4)
        assert table.large_n_mean_ratio(beta) == rows[beta][4]


def test_table_interpolant_is_monotone_and_passes_through_the_table():
    for row in table.TABLE:
        assert table.large_n_mean(row[0]) == pytest.approx(row[1], abs=1e-12)
    beta = np.linspace(0.0, table.LARGE_N_BETA_MAX, 401)
    mean = np.array([table.large_n_mean(b) for b in beta])
    assert np.all(np.diff(mean) > 0)
    # the large-n law sits below the surmise by 0.04–0.09 in β over the whole table (documented)
    surm = np.array([ratio_statistic_mean(b) for b in beta])
    shift = ((mean - surm) / np.array([table.large_n_slope(b) for b in beta]))[beta >= 0.1]
    assert np.all((shift > -0.095) & (shift < -0.035))
    # dE[T]/dβ ≈ Var T, as in an exponential family with sufficient statistic T (the surmise's):
    # measured ratio 1.15, 1.06, 1.03, 1.00, 1.00, 1.02 at β = 0.1, 0.5, 1, 2, 4, 8
    for b, rel in ((0.1, 0.2), (0.5, 0.1), (1.0, 0.05), (2.0, 0.05), (4.0, 0.05), (8.0, 0.05)):
        assert table.large_n_slope(b) == pytest.approx(table.large_n_variance(b), rel=rel)


def _generator():
    return load_script("tools/dyson_large_n_table.py")


@pytest.mark.slow
def test_table_is_reproduced_by_its_generator():
    gen = _generator()
    # the same seed and size reproduce an entry to the printed digits ...
    i = gen.BETAS.index(3.0)
    row = gen.entry(3.0, seed=gen.SEED + i)
    assert row[0] == pytest.approx(table.TABLE[i][1], abs=2e-6) and row[3] == pytest.approx(table.TABLE[i][4], abs=2e-7)
    # ... and other seeds at other sizes agree within the errors (n = 200: the n-extrapolation)
    for beta in (0.5, 1.5):
        i = gen.BETAS.index(beta)
        mean, se = gen.entry(beta, n=200, matrices=5000, seed=1)[:2]
        assert abs(mean - table.TABLE[i][1]) < 3.0 * math.hypot(se, table.TABLE[i][2])


@pytest.mark.parametrize("kwargs, error, name", [
    ({"x": [[0.0, 1.0]]}, ValueError, "x"),                       # ratios need 3 levels
    ({"x": [0.0, np.nan, 2.0, 3.0]}, ValueError, "x"),
    ({"x": [0.0, 1.0, 2.0], "statistic": "gap"}, ValueError, "statistic"),
    ({"x": [0.0, 1.0, 2.0], "error": "bootstrap"}, ValueError, "error"),
    ({"x": [0.0, 1.0, 2.0], "law": "wigner"}, ValueError, "`law` must be one of 'auto', 'large-n', 'surmise'"),
    ({"x": [0.0, 1.0, 2.0], "law": None}, ValueError, "law"),
    ({"x": [0.0, 1.0, 2.0], "statistic": "spacing", "law": "large-n"}, ValueError, "law"),
    ({"x": [0.0, 2.0, 1.0], "sort": False}, ValueError, "x"),
    ({"x": [0.0, 0.0, 0.0, 1.0]}, ValueError, "x"),
    ({"x": "abc"}, TypeError, "x"),
])
def test_bad_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        spectra.fit_dyson_index(**kwargs)
