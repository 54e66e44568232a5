"""Independent reference computations shared by several test modules.

Dense Gaussian-ensemble eigenvalues in plain NumPy, and user potentials compiled
with numba.njit for the tests of :class:`coulombgas.potentials.Custom`.
"""

import math

import numba
import numpy as np


def gaussian_ensemble_eigenvalues(n, count, rng, beta):
    """Eigenvalues of ``count`` dense n×n matrices with density ∝ exp(−β tr H²/2): GOE (β=1) or GUE (β=2)."""
    if beta == 1:
        a = rng.standard_normal((count, n, n))
        h = (a + np.swapaxes(a, 1, 2)) / 2
    else:
        a = (rng.standard_normal((count, n, n)) + 1j * rng.standard_normal((count, n, n))) / math.sqrt(2)
        h = (a + np.conj(np.swapaxes(a, 1, 2))) / 2
    return np.linalg.eigvalsh(h)


@numba.njit
def quartic_value(x, i):
    """V(x) = x²/2 + x⁴/4, the built-in Quartic(t=1, g=1) written as a user potential."""
    return 0.5 * x * x + 0.25 * x**4


@numba.njit
def quartic_derivative(x, i):
    """V'(x) = x + x³."""
    return x + x**3
