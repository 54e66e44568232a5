"""Tests for theory.cluster_function, delta3, delta3_asymptotic, form_factor.

Independent routes: the Fourier transform of Y₂ by quadrature against the closed-form
form factors; Δ₃ through the number variance Σ² (a second integral formula) and the
Dyson–Mehta asymptotics; the small-r behaviour of Y₂ against the level repulsion.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate

from coulombgas import theory


def quad(f, a, b, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return integrate.quad(f, a, b, limit=kw.pop("limit", 4000), **kw)[0]


@pytest.mark.parametrize("beta, coef, power", [(1, math.pi**2 / 6, 1), (2, math.pi**2 / 3, 2),
                                               (4, 16 * math.pi**4 / 135, 4)])
def test_cluster_function_small_r_is_the_level_repulsion(beta, coef, power):
    r = 1e-3
    assert theory.cluster_function(0.0, beta) == pytest.approx(1.0)
    assert 1 - theory.cluster_function(r, beta) == pytest.approx(coef * r**power, rel=1e-3)
    assert theory.cluster_function(-0.7, beta) == theory.cluster_function(0.7, beta)


@pytest.mark.parametrize("beta", [1, 2, 4])
@pytest.mark.parametrize("tau", [0.3, 0.7, 1.5, 2.5])
def test_form_factor_is_one_minus_fourier_transform_of_y2(beta, tau):
    f = lambda r: theory.cluster_function(r, beta) * np.cos(2 * np.pi * tau * r)   # noqa: E731
    b = 2 * quad(f, 0.0, 400.0, epsabs=1e-11)        # tail beyond 400: |Y₂| < 1e-6/r², oscillating
    assert float(theory.form_factor(tau, beta)) == pytest.approx(1 - b, abs=2e-6)


def test_form_factor_closed_values():
    assert np.array_equal(theory.form_factor([0.0, 0.5, 1.0, 3.0], 2), [0.0, 0.5, 1.0, 1.0])
    assert np.array_equal(theory.form_factor([0.2, 7.0], "poisson"), [1.0, 1.0])
    assert float(theory.form_factor(1.0, 1)) == pytest.approx(2 - math.log(3))
    assert float(theory.form_factor(-0.4, 1)) == float(theory.form_factor(0.4, 1))


def _delta3_from_number_variance(L, beta):
    """Δ₃ = (2/L⁴)∫_0^L (L³ − 2L²r + r³) Σ²(r) dr, Σ²(r) = r − 2∫_0^r (r − s) Y₂(s) ds."""
    def sigma2(r):
        return r - 2 * quad(lambda s: (r - s) * theory.cluster_function(s, beta), 0.0, r, epsabs=1e-13)
    return 2 / L**4 * quad(lambda r: (L**3 - 2 * L**2 * r + r**3) * sigma2(r), 0.0, L, epsabs=1e-11,
                           limit=200)


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_delta3_agrees_with_the_number_variance_route(beta):
    for L in (0.5, 3.0):
        assert float(theory.delta3(L, beta)) == pytest.approx(_delta3_from_number_variance(L, beta), rel=1e-8)


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_delta3_approaches_dyson_mehta_asymptotics(beta):
    gaps = [abs(float(theory.delta3(L, beta) - theory.delta3_asymptotic(L, beta))) for L in (25.0, 100.0, 400.0)]
    assert gaps[2] < 3e-4 and gaps[2] < gaps[1] < gaps[0]   # O(1/L) corrections


def test_delta3_poisson_and_small_l():
    L = np.array([0.1, 1.0, 15.0, 300.0])
    assert np.array_equal(theory.delta3(L, 0), L / 15)
    assert np.array_equal(theory.delta3_asymptotic(L, "poisson"), L / 15)
    # L → 0: Δ₃ → L/15 for every β (no two levels within a tiny window)
    assert float(theory.delta3(1e-3, 1)) == pytest.approx(1e-3 / 15, rel=1e-3)


@pytest.mark.parametrize("call, error", [
    (lambda: theory.delta3(1.0, 3), ValueError),
    (lambda: theory.delta3(0.0, 1), ValueError),
    (lambda: theory.delta3(1e-4, 1), ValueError),
    (lambda: theory.delta3(2e4, 1), ValueError),
    (lambda: theory.form_factor(0.5, "goe"), ValueError),
    (lambda: theory.cluster_function(0.5, None), TypeError),
])
def test_bad_input(call, error):
    with pytest.raises(error):
        call()
