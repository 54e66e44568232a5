"""RBM level shifts to O(T) (coulombgas.theory.rbm_levels) against independent computations.

1. A generic small-noise expansion that knows nothing of the closed form: the exact expected
   update E[X' − X | X] of the map X' = PXP (fresh Gaussian samples), its Jacobian and second
   derivatives by finite differences in an orthonormal basis of symmetric matrices, the noise
   covariance from the Wishart moments, scipy's Lyapunov solvers, and eigenvalue derivatives by
   finite differences of eigvalsh.
2. The training module's linear-response variance (rbm.stationary_variance), chains included.
3. (slow) A Monte Carlo of the map X' = PXP with fresh samples at small T.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from coulombgas.theory.rbm_levels import rbm_level_shifts
from coulombgas.training import rbm


def sym_basis(n):
    out = []
    for i in range(n):
        for j in range(i, n):
            B = np.zeros((n, n))
            if i == j:
                B[i, i] = 1.0
            else:
                B[i, j] = B[j, i] = 1.0 / math.sqrt(2.0)
            out.append(B)
    return np.array(out)


def generic_shifts(n, mu2, m2, sigma_h, lr, bs, discrete):
    s = sigma_h**2
    K = rbm.target_kernel(n, m2)
    Kinv = np.linalg.inv(K)
    Xs = (mu2 * np.eye(n) - K) / s
    basis = sym_basis(n)
    dim = len(basis)

    def F(y):
        X = Xs + np.tensordot(y, basis, 1)
        Ai = np.linalg.inv(mu2 * np.eye(n) - s * X)
        m = Kinv - Ai
        enxn = (Ai @ X @ Ai + Ai * np.trace(X @ Ai)) / bs
        # α → 0 at fixed T keeps the Itô term (O(α²/|B|) = O(αT)) but not α²s² mXm (O(α² Y²)).
        d = lr * s * (X @ m + m @ X) + lr**2 * s**2 * ((m @ X @ m if discrete else 0.0) + enxn)
        return np.tensordot(basis, d, axes=([1, 2], [0, 1]))

    h = 1e-5
    F0 = F(np.zeros(dim))
    J = np.column_stack([(F(h * e) - F(-h * e)) / (2 * h) for e in np.eye(dim)])
    Sig = np.linalg.inv(K)
    S = np.array([B @ Xs + Xs @ B for B in basis])
    Q = lr**2 * s**2 * 2.0 * np.einsum("kab,bc,lcd,da->kl", S, Sig, S, Sig) / bs
    if discrete:
        C = scipy.linalg.solve_discrete_lyapunov(np.eye(dim) + J, Q)
    else:
        C = scipy.linalg.solve_continuous_lyapunov(J, -Q)
    e, V = np.linalg.eigh((C + C.T) / 2)
    hh = 1e-3

    def second(fun):
        return sum(ek * (fun(hh * vk) + fun(-hh * vk) - 2 * fun(0 * vk)) / hh**2 for ek, vk in zip(e, V.T))

    ybar = -np.linalg.solve(J, F0 + 0.5 * second(F))
    x0 = np.linalg.eigvalsh(Xs)

    def levels(y):
        return np.linalg.eigvalsh(Xs + np.tensordot(y, basis, 1))

    grad = np.column_stack([(levels(h * e) - levels(-h * e)) / (2 * h) for e in np.eye(dim)])
    shift = grad @ ybar + 0.5 * second(levels)
    return x0, shift


@pytest.mark.parametrize("discrete", [True, False])
def test_closed_form_matches_generic_expansion(discrete):
    """|B| = 10⁶ makes the O(T²) remainder negligible; shifts are compared per unit T."""
    n, mu2, m2, sigma_h, lr, bs = 6, 9.0, 4.0, 1.0, 0.2, 10**6
    x0, shift = generic_shifts(n, mu2, m2, sigma_h, lr, bs, discrete)
    res = rbm_level_shifts(n, mu2, m2, sigma_h, lr=lr, batch_size=bs, gibbs_steps=None, finite_lr=discrete)
    np.testing.assert_allclose(res.fixed_point, x0, rtol=1e-12)
    T = lr / bs
    got = np.array([shift[list(g)].mean() for g in res.groups]) / T  # pair centres are smooth functions of X
    np.testing.assert_allclose(res.group_shifts() / T, got, rtol=2e-4, atol=2e-4 * np.abs(got).max())


def test_sigma_h_enters_like_the_generic_expansion():
    n, mu2, m2, sigma_h, lr, bs = 4, 8.0, 3.0, 1.3, 0.05, 10**6
    x0, shift = generic_shifts(n, mu2, m2, sigma_h, lr, bs, True)
    res = rbm_level_shifts(n, mu2, m2, sigma_h, lr=lr, batch_size=bs, gibbs_steps=None)
    got = np.array([shift[list(g)].mean() for g in res.groups]) / res.temperature
    np.testing.assert_allclose(res.group_shifts() / res.temperature, got, rtol=2e-4, atol=2e-4 * np.abs(got).max())


def test_single_level_variance_is_the_training_modules_linear_response():
    """c_kk with the chains' correlation equals rbm.stationary_variance (derived there separately)."""
    for lr, bs in [(0.1, 16), (0.05, 4)]:
        res = rbm_level_shifts(lr=lr, batch_size=bs, gibbs_steps=3)
        x, s2 = rbm.stationary_variance(lr=lr, batch_size=bs, gibbs_steps=3)
        np.testing.assert_allclose(res.fixed_point, x, rtol=1e-12)
        np.testing.assert_allclose(res.variance, s2, rtol=1e-12)


def test_papers_setting_signs_and_mean():
    """Top single level up, bottom single and every pair centre down; the mean is the diagonal mean."""
    res = rbm_level_shifts(lr=0.1, batch_size=16)
    c = res.group_shifts() / res.temperature
    assert c[-1] > 0 and np.all(c[:-1] < 0)
    np.testing.assert_allclose(res.shift.mean(), res.diagonal.mean(), rtol=1e-12)
    # The continuum coefficient does not depend on |B| (only on T): linear in T.
    a = rbm_level_shifts(lr=0.1, batch_size=16, finite_lr=False)
    b = rbm_level_shifts(lr=0.1, batch_size=64, finite_lr=False)
    np.testing.assert_allclose(a.coefficient, b.coefficient, rtol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="`mu2`"):
        rbm_level_shifts(mu2=7.0)
    with pytest.raises(ValueError, match="`lr`.*stable range"):
        rbm_level_shifts(lr=20.0)
    with pytest.raises(ValueError, match="`gibbs_steps`"):
        rbm_level_shifts(gibbs_steps=0)


@pytest.mark.slow
@pytest.mark.parametrize("lr, burn, steps", [(0.1, 1500, 4000), (0.05, 3000, 8000)])
def test_against_training_at_two_temperatures(lr, burn, steps):
    """Training from the fixed point (|B| = 16, 400 models, records every 50 updates after ≥ 4.7
    relaxation times of the slowest level) against the prediction, for the bottom single level and
    the three lowest pairs (the top single and the top pair, 0.38 apart, carry O(T^{3/2}/gap) terms
    of 1–3 T, see the module docstring). Tolerance z = 4 with the error of the mean over independent
    models. Jensen's mean shift alone (the same shift for every level) and the bare fixed point both
    fail it. The mean over all ten levels (per model, then over models) agrees within z = 4 too."""
    bs = 16
    h = rbm.gaussian_rbm(lr=lr, batch_size=bs, models=400, steps=burn + steps, record_every=50, seed=77,
                         start="fixed-point", record_weights=False, progress=False)
    late = h.eigenvalues[:, h.steps >= burn]
    th = rbm_level_shifts(lr=lr, batch_size=bs, gibbs_steps=3)
    for g in th.groups[:4]:
        c = late[..., list(g)].mean(axis=(1, 2))
        err = c.std(ddof=1) / math.sqrt(len(c))
        z = (c.mean() - th.fixed_point[g[0]] - th.shift[g[0]]) / err
        assert abs(z) < 4, (g, z)
        assert abs((c.mean() - th.fixed_point[g[0]]) / err) > 10  # the bare fixed point is far off
        assert abs((c.mean() - th.fixed_point[g[0]] - th.shift.mean()) / err) > 4  # Jensen's mean alone too
    per_model = (late.mean(axis=1) - th.fixed_point).mean(axis=1)  # the mean level's shift, per model
    err = per_model.std(ddof=1) / math.sqrt(len(per_model))
    assert abs(per_model.mean() - th.shift.mean()) < 4 * err


def test_chain_terms_against_a_two_site_training():
    """n = 2 (levels 1 and 5, four apart: no close neighbours), one Gibbs sweep per update (the top
    level's chain correlation b = 0.31): trained shifts agree with the prediction within z = 4 (error
    over 300 independent models), and the fresh-sample prediction (no chain terms) is rejected for
    the top level. α = 0.2, |B| = 64 (T = 0.003125): the slowest level relaxes in 160 updates."""
    lr, bs = 0.2, 64
    h = rbm.gaussian_rbm(n=2, n_hidden=2, lr=lr, batch_size=bs, gibbs_steps=1, models=300, steps=3500,
                         record_every=20, start="fixed-point", seed=3, progress=False, record_weights=False)
    per_model = h.eigenvalues[:, h.steps >= 1000].mean(axis=1)
    err = per_model.std(axis=0, ddof=1) / math.sqrt(len(per_model))
    chains = rbm_level_shifts(2, lr=lr, batch_size=bs, gibbs_steps=1)
    fresh = rbm_level_shifts(2, lr=lr, batch_size=bs, gibbs_steps=None)
    shift = per_model.mean(axis=0) - chains.fixed_point
    assert np.all(np.abs(shift - chains.shift) < 4 * err), (shift, chains.shift, err)
    assert abs(shift[1] - fresh.shift[1]) > 4 * err[1]
