"""CoulombGas: the SGD ↔ Dyson mapping, ground states, O(n)-memory log-density and force, bad input.

Exact references: Hermite zeros from numpy's ``hermroots`` (small n) and from the
Jacobi matrix's eigenvalues (LAPACK, any n); the Stieltjes equilibrium equations
(zeros of H_n and L_n^(α) are the T = 0 log-gas); the log-density against the
dense ``triu_indices`` formula.
"""

import math

import numba
import scipy.optimize
import numpy as np
import pytest

import coulombgas as cg
from coulombgas import _zeros
from coulombgas import potentials as P
from coulombgas.forces import coulomb_force
from coulombgas.gas import ground_state, minimum_and_curvature


def _jacobi_hermite(n):
    z = _zeros.jacobi_eigenvalues(np.zeros(n), np.sqrt(0.5 * np.arange(1, n)))
    return 0.5 * (z - z[::-1])


# ---------------------------------------------------------------- Hermite and Laguerre zeros

@pytest.mark.parametrize("n", [1, 2, 3, 10, 51, 100])
def test_hermite_zeros_match_hermroots(n):
    ref = np.sort(np.polynomial.hermite.hermroots([0] * n + [1]))
    z = _zeros.hermite_zeros(n)
    np.testing.assert_allclose(z, ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("n", [_zeros.HERMITE_JACOBI_MAX + 1, _zeros.HERMITE_JACOBI_MAX + 2, 1000, 2001, 5000])
def test_hermite_marching_matches_jacobi_matrix(n):
    # Above the crossover the zeros are marched (Glaser–Liu–Rokhlin); the Jacobi
    # eigenvalues are an independent computation with absolute error ~ε·√(2n).
    z = _zeros.hermite_zeros(n)
    ref = _jacobi_hermite(n)
    scale = np.maximum(np.abs(ref), np.sqrt(2.0 * n) * 1e-3)
    assert np.max(np.abs(z - ref) / scale) < 1e-10
    assert np.all(np.diff(z) > 0)
    np.testing.assert_array_equal(z, -z[::-1])


@pytest.mark.parametrize("n", [20_000, 200_000])
def test_hermite_zeros_are_the_stieltjes_equilibrium_at_large_n(n):
    # ζ_i = Σ_{j≠i} 1/(ζ_i − ζ_j) (Stieltjes); the fast force is accurate to ~1e-13 of max |F|.
    z = _zeros.hermite_zeros(n)
    residual = z - coulomb_force(z, tol=1e-13)
    assert np.max(np.abs(residual)) / np.max(np.abs(z)) < 1e-10
    # The edge: largest zero ≈ √(2n+1) − 1.8558 (2n+1)^(−1/6) (Airy), to O(n^(−1/2)).
    edge = math.sqrt(2 * n + 1) - 1.85575708 * (2 * n + 1) ** (-1 / 6)
    assert abs(z[-1] - edge) < 2.0 / math.sqrt(n)


@pytest.mark.parametrize("n, alpha", [(5, 0.0), (30, 2.5), (40, -0.5)])
def test_laguerre_zeros_match_numpy(n, alpha):
    if alpha == 0.0:
        ref = np.sort(np.polynomial.laguerre.lagroots([0] * n + [1]))
        np.testing.assert_allclose(_zeros.laguerre_zeros(n, alpha), ref, rtol=1e-10)
    x = _zeros.laguerre_zeros(n, alpha)
    # Stieltjes: Σ_{j≠i} 1/(x_i − x_j) = 1/2 − (α + 1)/(2 x_i).
    lhs = coulomb_force(x, method="direct")
    rhs = 0.5 - (alpha + 1.0) / (2.0 * x)
    assert np.max(np.abs(lhs - rhs)) / np.max(np.abs(rhs)) < 1e-11


@pytest.mark.parametrize("n, alpha", [(_zeros.LAGUERRE_JACOBI_MAX + 1, 0.0), (300, -0.99), (1000, -0.5),
                                      (2000, 7.0), (2000, 500.0), (1000, 5000.0)])
def test_laguerre_marching_matches_the_jacobi_matrix(n, alpha):
    # dpteqr (Cholesky + dqds) is LAPACK's relatively accurate tridiagonal solver; it is
    # still off by ~ε·n relative at the hard edge, where the marching is not (next test).
    from scipy.linalg import lapack

    k = np.arange(n, dtype=np.float64)
    w, _, _, info = lapack.dpteqr(2 * k + alpha + 1, np.sqrt(k[1:] * (k[1:] + alpha)), np.zeros((1, 1)),
                                  compute_z=0)
    assert info == 0
    z = _zeros.laguerre_zeros(n, alpha)
    np.testing.assert_allclose(z, w[::-1], rtol=1e-10)
    assert np.all(np.diff(z) > 0)


def test_laguerre_smallest_zeros_are_relatively_exact():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    n, alpha = 3000, 0.3
    z = _zeros.laguerre_zeros(n, alpha)
    for i in (0, 1, 5, n - 1):
        x = mp.mpf(z[i])
        newton = mp.laguerre(n, alpha, x) / -mp.laguerre(n - 1, alpha + 1, x)  # L/L' (exact step)
        assert abs(float(newton / x)) < 1e-14


@pytest.mark.parametrize("alpha", [0.0, 2.0 * 10**5])
def test_laguerre_zeros_at_large_n_are_the_stieltjes_equilibrium(alpha):
    n = 200_000
    z = _zeros.laguerre_zeros(n, alpha)
    assert np.all(np.diff(z) > 0) and z[0] > 0
    lhs = coulomb_force(z, tol=1e-13)
    rhs = 0.5 - (alpha + 1.0) / (2.0 * z)
    assert np.max(np.abs(lhs - rhs)) / np.max(np.abs(rhs)) < 1e-9
    # Soft edge of the Marchenko–Pastur law: (√(n+α) + √n)², up to O(n^(1/3)).
    edge = (math.sqrt(n + alpha + 1) + math.sqrt(n)) ** 2
    assert abs(z[-1] - edge) < 10 * edge ** (1 / 3)


# ---------------------------------------------------------------- ground states

def _old_minimum_and_curvature(params):
    """The loop over modes with Polynomial.roots that ground_state replaced (the reference)."""
    mins, curvs = [], []
    for row in params:
        poly = np.polynomial.Polynomial(row)
        crit = poly.deriv().roots()
        crit = crit[np.abs(crit.imag) < 1e-12].real
        best = crit[np.argmin(poly(crit))]
        mins.append(best)
        curvs.append(max(poly.deriv(2)(best), 1e-6))
    return float(np.mean(mins)), float(np.mean(curvs))


@pytest.mark.parametrize("potential", [
    P.Quadratic(0.0, 1.0),
    P.Quadratic(np.linspace(-1, 1, 12), np.linspace(1, 2, 12)),
    P.Quartic(t=1.0, g=1.0),
    # Per-mode tilted quartics (double wells for t < 0; the tilt breaks the tie between the wells).
    P.Polynomial(np.stack([np.zeros(12), np.linspace(0.1, 0.5, 12), np.linspace(-2, 2, 12) / 2,
                           np.zeros(12), np.linspace(0.5, 1.5, 12) / 4], axis=-1)),
    P.Polynomial(np.array([[0.0, 0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.5, 0.0, 0.0]] * 6)),
    P.Polynomial([1.0, -3.0, 0.0, 0.5, 0.0, 0.0, 0.1]),
])
def test_minimum_and_curvature_match_the_per_mode_loop(potential):
    params = potential.kernel_data(12)[1]
    m, k = minimum_and_curvature(potential, 12)
    m_ref, k_ref = _old_minimum_and_curvature(params)
    assert m == pytest.approx(m_ref, rel=1e-10, abs=1e-12)
    assert k == pytest.approx(k_ref, rel=1e-10)


def test_ground_state_of_the_gaussian_gas_is_the_hermite_zeros_and_an_equilibrium():
    for n, beta in [(7, 1.0), (300, 2.0), (3000, 4.0)]:
        gas = cg.CoulombGas.gaussian(n, beta=beta)
        x = gas.ground_state()
        np.testing.assert_allclose(x, _jacobi_hermite(n), rtol=1e-10, atol=1e-12 * math.sqrt(n))
        np.testing.assert_array_equal(x, cg.dynamics.default_x0(gas))
        # Zero drift: −x_i + Σ_{j≠i} 1/(x_i − x_j) = 0.
        assert np.max(np.abs(gas.drift(x))) < 1e-9 * math.sqrt(n)


def test_ground_state_sgd_form_is_the_scaled_equilibrium():
    gas = cg.CoulombGas.from_sgd(P.Quadratic(0.3, 2.0), 1.5, lr=0.1, batch_size=8, n=40)
    x = gas.ground_state()
    scale = np.max(np.abs(gas.drift_scale * gas.potential.derivative(x, gas.n)))
    assert np.max(np.abs(gas.drift(x))) < 1e-12 * scale


@pytest.mark.parametrize("a, scale, n", [(1.5, 2.0, 60), (0.1, 1.0, 60), (5.0, 0.3, 60), (1.5, 2.0, 500),
                                         (300.0, 1.0, 2000)])
def test_ground_state_laguerre_is_the_exact_equilibrium(a, scale, n):
    gas = cg.CoulombGas.dyson(P.Laguerre(a=a, scale=scale), n)
    x = gas.ground_state()
    assert x[0] > 0 and np.all(np.diff(x) > 0)
    force = gas.coulomb_scale * gas.force(x)
    assert np.max(np.abs(gas.drift(x))) < 1e-11 * np.max(np.abs(force))


def test_ground_state_custom_potential_matches_the_quadratic():
    @numba.njit
    def value(x, i):
        return 0.5 * (x - 0.25) ** 2 / 0.81

    @numba.njit
    def derivative(x, i):
        return (x - 0.25) / 0.81

    n = 50
    custom = cg.CoulombGas.dyson(P.Custom(value, derivative), n)
    quad = cg.CoulombGas.dyson(P.Quadratic(0.25, 0.9), n)
    m, k = minimum_and_curvature(custom.potential, n)
    # Grid minimum: the fine grid has spacing 2·(20/400)/400 = 2.5e-4; curvature by a 3-point difference.
    assert m == pytest.approx(0.25, abs=2.5e-4)
    assert k == pytest.approx(1 / 0.81, rel=1e-6)
    np.testing.assert_allclose(custom.ground_state(), quad.ground_state(), atol=1e-3)


def test_ground_state_of_a_million_modes_is_cheap_in_memory():
    import tracemalloc

    gas = cg.CoulombGas.gaussian(10**6)
    tracemalloc.start()
    x = gas.ground_state()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * x.nbytes  # O(n): a few arrays of n floats (8 MB each), not n² (8 TB)
    assert np.all(np.diff(x) > 0)


# ---------------------------------------------------------------- log-density and force

def _log_density_dense(gas, x):
    """The old O(n²)-memory formula (triu_indices), the reference."""
    iu = np.triu_indices(gas.n, 1)
    diff = np.abs(x[..., iu[0]] - x[..., iu[1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        pair = gas.beta * np.sum(np.log(diff), axis=-1)
        conf = np.sum(gas.drift_scale * gas.potential.value(x, gas.n) / gas.diffusion, axis=-1)
        out = pair - conf
    return np.where(np.isnan(out), -np.inf, out)


@pytest.mark.parametrize("make", [
    lambda n: cg.CoulombGas.gaussian(n, beta=2.0),
    lambda n: cg.CoulombGas.dyson(P.Laguerre(a=1.0, scale=2.0), n),
    lambda n: cg.CoulombGas.from_sgd(P.Quartic(t=-1.0, g=0.5), np.linspace(0.5, 1.5, n), lr=0.05, batch_size=4),
])
def test_log_density_matches_the_dense_formula(make):
    rng = np.random.default_rng(3)
    for n in (2, 3, 9, 40):
        gas = make(n)
        x = np.sort(np.abs(rng.normal(size=(2, 3, n))) * 3 + 0.01, axis=-1)
        x[0, 0] = rng.permutation(x[0, 0])  # order does not matter for the formula
        got = gas.log_density(x)
        ref = _log_density_dense(gas, x)
        assert got.shape == (2, 3)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
        assert gas.log_density(x[1, 2]).shape == ()


def test_log_density_is_minus_inf_at_coincident_points_and_outside_the_domain():
    gas = cg.CoulombGas.dyson(P.Laguerre(a=1.0), 3)
    assert gas.log_density([1.0, 1.0, 2.0]) == -np.inf
    assert gas.log_density([-1.0, 1.0, 2.0]) == -np.inf
    assert np.isfinite(gas.log_density([0.5, 1.0, 2.0]))


def test_force_matches_the_dense_formula_and_the_fast_force():
    rng = np.random.default_rng(0)
    gas = cg.CoulombGas.from_sgd(P.Quadratic(), rng.uniform(0.5, 2, 30), lr=0.1, batch_size=2)
    x = np.sort(rng.normal(size=(4, 30)), axis=-1)
    d = x[..., :, None] - x[..., None, :]
    with np.errstate(divide="ignore"):
        dense = np.where(np.eye(30, dtype=bool), 0.0, 1.0 / np.where(d == 0, np.inf, d)) @ gas.weights
    np.testing.assert_allclose(gas.force(x), dense, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gas.force(x[0]), coulomb_force(x[0], gas.weights, method="direct"), rtol=1e-13)


# ---------------------------------------------------------------- bad input

def test_huge_n_is_refused_at_once_with_the_memory_it_needs():
    with pytest.raises(ValueError, match=r"`n`.*too large.*would need"):
        cg.CoulombGas.gaussian(10**13)


@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=1e200, batch_size=1.0), "lr"),
    (dict(lr=0.1, batch_size=1e-320), "batch_size"),
    (dict(lr=0.1, batch_size=1.0, beta=1e-320), "beta"),
])
def test_from_sgd_refuses_overflowing_parameters(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        cg.CoulombGas.from_sgd(P.Quadratic(), 1.0, n=4, **kwargs)


@pytest.mark.parametrize("beta", [1e-320, 1e-300, 1e300])
def test_beta_out_of_range_is_refused_naming_beta(beta):
    with pytest.raises(ValueError, match="`beta`"):
        cg.CoulombGas.gaussian(4, beta=beta)


def test_ground_state_needs_a_gas():
    with pytest.raises(TypeError, match="`gas`"):
        ground_state("gas")


def test_summary_is_small_and_has_one_schema_per_field():
    import json

    dyson = cg.CoulombGas.gaussian(10**5).summary()
    sgd = cg.CoulombGas.from_sgd(P.Quadratic(np.linspace(-1, 1, 1000)), np.linspace(0.5, 2.0, 1000), lr=0.1,
                                 batch_size=4).summary()
    for s in (dyson, sgd):
        assert len(json.dumps(s, allow_nan=False)) < 1000
        assert set(s["weights"]) == {"min", "median", "max"}
    assert dyson["g"] is None and dyson["lr"] is None and dyson["potential"] == {"type": "Polynomial",
                                                                                  "per_mode": False}
    assert sgd["g"] == {"min": 0.5, "median": 1.25, "max": 2.0}
    assert sgd["potential"]["per_mode"] and not sgd["stationary_is_exact"]
    assert sgd["temperature"] == pytest.approx(0.1 / 4)


@pytest.mark.parametrize("t", [0.0, 1.0, -2.0])
def test_ground_state_of_a_quartic_obeys_the_virial_identity(t):
    # Σ_i (x_i − m) V'(x_i) = (c w̄/a) n(n−1)/2 at the equilibrium; the start keeps it exactly,
    # and for V = x⁴/4 (zero curvature at the minimum: the harmonic guess was ~1400x too wide)
    # it lies within 20% of the true equilibrium (scipy root of the drift, an independent solve).
    n = 5
    gas = cg.CoulombGas.dyson(cg.potentials.Quartic(t=t, g=1.0), n)
    x = gas.ground_state()
    m, _ = minimum_and_curvature(gas.potential, n)
    virial = float(np.dot(x - m, gas.potential.derivative(x, n)))
    assert virial == pytest.approx(gas.coulomb_scale / gas.drift_scale * n * (n - 1) / 2, rel=1e-10)
    if t == 0.0:
        exact = np.sort(scipy.optimize.root(gas.drift, x, tol=1e-13).x)
        np.testing.assert_allclose(x, exact, atol=0.2 * np.ptp(exact))
        assert np.ptp(x) == pytest.approx(np.ptp(exact), rel=0.05)
