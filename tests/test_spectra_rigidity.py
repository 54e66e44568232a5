"""Tests for spectra.spectral_rigidity and spectra.spectral_form_factor.

The closed-form window Δ₃ against a brute-force least-squares fit of the staircase;
Poisson (L/15, K = 1), the picket fence (1/12), and unfolded Gaussian β-ensembles
(exact tridiagonal samples, fixed seeds) against theory.delta3 / theory.form_factor
within errors estimated over spectra.
"""

from __future__ import annotations

import numpy as np
import pytest

from coulombgas import CoulombGas, spectra, theory
from coulombgas.samplers.tridiagonal import sample_exact
from coulombgas.spectra._rigidity import _window_delta3


def test_window_formula_matches_brute_force_least_squares():
    rng = np.random.default_rng(0)
    xs = np.sort(rng.uniform(0.0, 30.0, 30))
    for a, L in ((3.3, 12.0), (0.0, 30.0), (10.01, 2.5)):
        e = np.linspace(a, a + L, 400001)
        n = np.searchsorted(xs, e, side="right").astype(float)
        design = np.vstack([e, np.ones_like(e)]).T
        coef = np.linalg.lstsq(design, n, rcond=None)[0]
        brute = np.mean((n - design @ coef) ** 2)
        assert _window_delta3(xs, np.array([a]), L)[0] == pytest.approx(brute, abs=2e-5)


def test_picket_fence_and_poisson():
    fence = spectra.spectral_rigidity(np.arange(500.0) + 0.5, [3.0, 10.0, 40.0])
    assert np.allclose(fence.delta3, 1 / 12, atol=2e-3) and fence.error is None
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.exponential(size=(40, 2000)), axis=-1)
    L = np.array([2.0, 5.0, 10.0, 20.0])
    r = spectra.spectral_rigidity(x, L)
    assert np.all(np.abs(r.delta3 - L / 15) < 4 * r.error)
    ff = spectra.spectral_form_factor(x, [0.1, 0.5, 1.5])
    assert np.all(np.abs(ff.K - 1) < 4 * ff.error)


@pytest.fixture(scope="module")
def unfolded():
    """Unfolded GβE spectra (n = 400, 100 matrices per β), by the semicircle's cdf."""
    out = {}
    for beta in (1, 2, 4):
        n = 400
        ev = sample_exact(CoulombGas.gaussian(n, beta=beta), 100, seed=beta)
        out[beta] = n * theory.semicircle(np.sqrt(2.0 * n)).cdf(ev)
    return out


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_rigidity_of_gaussian_ensembles(unfolded, beta):
    L = np.array([1.0, 2.0, 5.0, 10.0])
    r = spectra.spectral_rigidity(unfolded[beta], L)
    target = theory.delta3(L, beta)
    # 4 σ plus 1 % for the finite-n unfolding (n = 400, bulk = central half)
    assert np.all(np.abs(r.delta3 - target) < 4 * r.error + 0.01 * target)
    # and it is far from Poisson (L/15 = 0.667 at L = 10)
    assert r.delta3[-1] < 0.4 * L[-1] / 15


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_form_factor_of_gaussian_ensembles(unfolded, beta):
    tau = np.array([0.2, 0.5, 0.8, 1.5, 2.5])
    ff = spectra.spectral_form_factor(unfolded[beta], tau)
    assert np.all(np.abs(ff.K - theory.form_factor(tau, beta)) < 4 * ff.error)
    lo, hi = np.percentile(unfolded[beta], [0, 100])
    assert ff.width == pytest.approx(0.5 * (hi - lo) / 6) and ff.K.shape == (5,)


@pytest.mark.parametrize("call, error, name", [
    (lambda: spectra.spectral_rigidity([0.0, 1.0, 2.0], [5.0]), ValueError, "L"),
    (lambda: spectra.spectral_rigidity([0.0, 1.0, 2.0], [-1.0]), ValueError, "L"),
    (lambda: spectra.spectral_rigidity([0.0, np.nan, 2.0], [0.5]), ValueError, "x"),
    (lambda: spectra.spectral_rigidity(np.arange(10.0), [1.0], bulk=2.0), ValueError, "bulk"),
    (lambda: spectra.spectral_rigidity(np.arange(10.0), [1.0], windows=0), ValueError, "windows"),
    (lambda: spectra.spectral_form_factor(np.arange(10.0), [-0.1]), ValueError, "tau"),
    (lambda: spectra.spectral_form_factor(np.arange(10.0), [[0.1]]), ValueError, "tau"),
    (lambda: spectra.spectral_form_factor(np.arange(10.0), [0.1], bulk=(-5.0, 3.0)), ValueError, "bulk"),
    (lambda: spectra.spectral_form_factor("abc", [0.1]), TypeError, "x"),
])
def test_bad_input(call, error, name):
    with pytest.raises(error, match=name):
        call()
