"""Potentials: values, derivatives (NumPy and the compiled kernel), serialisation, bad input."""

import numpy as np
import pytest

import coulombgas as cg
from coulombgas import potentials as P

CASES = [
    P.Quadratic(0.3, 0.7),
    P.Quadratic([0.0, 1.0, -2.0], [0.5, 1.0, 2.0]),
    P.Quartic(t=-1.0, g=0.5),
    P.Polynomial([[1.0, 0.2, 0.5, 0.0, 0.1], [0.0, -0.3, 1.0, 0.1, 0.2], [0.0, 0.0, 2.0, 0.0, 0.0]]),
    P.Laguerre(a=[0.5, 1.0, 1.5], scale=2.0),
]


@pytest.mark.parametrize("pot", CASES, ids=lambda p: type(p).__name__)
def test_derivative_matches_finite_difference_and_kernel(pot):
    x = np.array([[0.4, 1.1, 2.3], [0.9, 1.7, 3.0]])
    h = 1e-6
    fd = (pot.value(x + h) - pot.value(x - h)) / (2 * h)
    np.testing.assert_allclose(pot.derivative(x), fd, rtol=1e-7, atol=1e-8)
    kind, params, _ = pot.kernel_data(3)
    kernel = np.array([[P.dV_kernel(xi, i, kind, params) for i, xi in enumerate(row)] for row in x])
    np.testing.assert_allclose(kernel, pot.derivative(x), rtol=1e-14, atol=1e-14)


def test_quadratic_and_quartic_values():
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(P.Quadratic(0.3, 0.7).value(x), (x - 0.3) ** 2 / (2 * 0.49), rtol=1e-14)
    np.testing.assert_allclose(P.Quartic(t=-1.0, g=0.5).value(x), -x**2 / 2 + 0.5 * x**4 / 4, rtol=1e-14)
    lag = P.Laguerre(a=1.5, scale=2.0)
    np.testing.assert_allclose(lag.value(x[:1] + 1), 1.5 / 2.0 - 1.5 * np.log(1.5), rtol=1e-14)


@pytest.mark.parametrize("pot", [CASES[1], CASES[3], CASES[4]], ids=lambda p: type(p).__name__)
def test_round_trip_through_dict(pot):
    assert P.from_dict(pot.to_dict()) == pot
    gas = cg.CoulombGas.dyson(pot, 3, beta=2.0)
    assert cg.CoulombGas.from_dict(gas.to_dict()) == gas


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="coeffs"):
        cg.CoulombGas.dyson(CASES[3], 4)
    with pytest.raises(ValueError, match="a"):
        cg.CoulombGas.dyson(P.Laguerre(a=[1.0, 2.0]), 3)
    with pytest.raises(ValueError, match="a"):
        P.Laguerre(a=0.0)
    with pytest.raises(ValueError, match="g"):
        P.Quartic(g=-1.0)


# ---------------------------------------------------------------- issue 13: O(n) checks, compiled custom values

def test_per_mode_degrees_are_checked_row_by_row_vectorised():
    rows = np.array([[0.0, 0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.25]])
    p = P.Polynomial(rows)
    assert p.coeffs.shape == (2, 5)
    assert P.Polynomial(np.array([[0.0, 0.0, 1.0, 0.0, 0.0]] * 3)).coeffs.shape == (3, 3)  # common zeros trimmed
    with pytest.raises(ValueError, match="degree 3"):
        P.Polynomial(np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 2.0]]))
    with pytest.raises(ValueError, match="leading coefficient -1"):
        P.Polynomial(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]))
    with pytest.raises(ValueError, match="degree 0"):
        P.Polynomial(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]))


def test_custom_value_and_derivative_in_a_compiled_loop_match_direct_calls():
    import numba

    @numba.njit
    def value(x, i):
        return (x - 0.1 * i) ** 2 + 0.5 * i

    @numba.njit
    def derivative(x, i):
        return 2.0 * (x - 0.1 * i)

    c = P.Custom(value, derivative)
    x = np.random.default_rng(0).normal(size=(3, 7))
    want_v = np.array([[value(x[r, i], i) for i in range(7)] for r in range(3)])
    want_d = np.array([[derivative(x[r, i], i) for i in range(7)] for r in range(3)])
    np.testing.assert_array_equal(c.value(x), want_v)
    np.testing.assert_array_equal(c.derivative(x[0]), want_d[0])
