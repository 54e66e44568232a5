"""Tests for spectra.fit_dyson_index on exact Gaussian β-ensemble samples (fixed seeds).

The surmises are exact for 3×3 (ratio) and 2×2 (spacing) GβE at every real β, so β̂
must recover β within its error there; on large matrices the fit is biased by the
surmise's own error, which is pinned here to the size documented in the docstring.
"""

from __future__ import annotations

import numpy as np
import pytest

from coulombgas import CoulombGas, spectra
from coulombgas.samplers.tridiagonal import sample_exact


@pytest.mark.parametrize("beta", [0.5, 1.5, 3.0])
def test_ratio_fit_recovers_beta_within_its_error(beta):
    x = sample_exact(CoulombGas.gaussian(3, beta=beta), 20000, seed=int(10 * beta))
    fit = spectra.fit_dyson_index(x)
    assert fit.statistic == "ratio" and fit.samples == 20000 and fit.blocks == 64 and not fit.at_bound
    assert abs(fit.beta - beta) < 3.0 * fit.error
    # independent samples: the jackknife agrees with the Fisher error (64 blocks: ±9 %)
    assert fit.error == pytest.approx(fit.error_fisher, rel=0.35)


@pytest.mark.parametrize("beta", [0.5, 1.5, 3.0])
def test_spacing_fit_recovers_beta_within_its_error(beta):
    x = sample_exact(CoulombGas.gaussian(2, beta=beta), 20000, seed=int(10 * beta) + 1)
    fit = spectra.fit_dyson_index(x, statistic="spacing")
    assert abs(fit.beta - beta) < 3.0 * fit.error
    assert fit.error == pytest.approx(fit.error_fisher, rel=0.35)


def test_fisher_error_is_the_spread_of_repeated_fits():
    # 40 independent fits of 2000 3×3 samples: their spread matches the Fisher error.
    fits = [spectra.fit_dyson_index(sample_exact(CoulombGas.gaussian(3, beta=2.0), 2000, seed=s), error="fisher")
            for s in range(40)]
    spread = np.std([f.beta for f in fits], ddof=1)
    predicted = np.mean([f.error for f in fits])
    assert spread == pytest.approx(predicted, rel=0.35)      # 40 fits: sd of sd ≈ 11 %


@pytest.mark.parametrize("beta", [0.5, 1.5, 3.0])
def test_large_matrix_bias_is_as_documented(beta):
    x = sample_exact(CoulombGas.gaussian(200, beta=beta), 100, seed=7)[:, 50:150]
    fit = spectra.fit_dyson_index(x)
    assert fit.error > fit.error_fisher * 0.8           # 100 spectra: blocks of whole spectra
    assert -0.25 < fit.beta - beta < 0.1                # the surmise's bias (~ −0.06) plus 3 σ


def test_poisson_levels_fit_near_zero_and_crystal_at_bound():
    rng = np.random.default_rng(0)
    poisson = np.cumsum(rng.exponential(size=(100, 60)), axis=-1)
    fit = spectra.fit_dyson_index(poisson)
    # Poisson ⟨r̃⟩ = 0.386 lies below the family's β → 0 limit 0.409: β̂ at the lower bound
    assert fit.beta < 0.05 and fit.at_bound and 0.36 < fit.mean_ratio < 0.41
    lattice = np.arange(50.0)[None, :] + 1e-9 * rng.standard_normal((3, 50))
    assert spectra.fit_dyson_index(lattice).at_bound


@pytest.mark.parametrize("kwargs, error, name", [
    ({"x": [[0.0, 1.0]]}, ValueError, "x"),                       # ratios need 3 levels
    ({"x": [0.0, np.nan, 2.0, 3.0]}, ValueError, "x"),
    ({"x": [0.0, 1.0, 2.0], "statistic": "gap"}, ValueError, "statistic"),
    ({"x": [0.0, 1.0, 2.0], "error": "bootstrap"}, ValueError, "error"),
    ({"x": [0.0, 2.0, 1.0], "sort": False}, ValueError, "x"),
    ({"x": [0.0, 0.0, 0.0, 1.0]}, ValueError, "x"),
    ({"x": "abc"}, TypeError, "x"),
])
def test_bad_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        spectra.fit_dyson_index(**kwargs)
