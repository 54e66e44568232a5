"""User potentials compiled with numba.njit, shared by the tests of the Custom potential."""

import numba


@numba.njit
def quartic_value(x, i):
    """V(x) = x²/2 + x⁴/4, the built-in Quartic(t=1, g=1) written as a user potential."""
    return 0.5 * x * x + 0.25 * x**4


@numba.njit
def quartic_derivative(x, i):
    """V'(x) = x + x³."""
    return x + x**3
