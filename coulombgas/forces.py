r"""Coulomb (log-gas) pair forces on the real line: direct sums and a fast multipole method.

The force on point :math:`i` of a one-dimensional log-gas is

.. math:: F_i = \sum_{j \ne i} \frac{w_j}{x_i - x_j},

the Coulomb term of the eigenvalue Langevin equation (SCIENCE.md §2) with
:math:`w_j = g_j^2` in the SGD form and :math:`w_j = 1` in the textbook Dyson
form. Two ways to evaluate it sit behind :func:`coulomb_force`:

* ``"direct"``: the O(N²) pair sum, compiled and vectorised; each pair is
  visited once and its single division serves both points.
* ``"fast"``: a 1-D fast multipole method (FMM) for the Cauchy kernel
  :math:`1/(x-y)` with Chebyshev interpolation ("black-box FMM", Fong & Darve
  2009) on an adaptive binary tree over the sorted points, O(N) work per
  evaluation for any spacing of the points.

The compiled kernels live in the private modules :mod:`coulombgas._pairs`
(direct sums) and :mod:`coulombgas._fmm` (the multipole method), as plain
functions ``(x, w, out, ...)`` that other kernels (the SDE integrators, the
Monte Carlo chains) call from compiled code; this module validates, sorts and
dispatches.
"""

from __future__ import annotations

import numpy as np

from . import _validate
from ._fmm import LEAF_SIZE, fast_force, order_for_tol
from ._pairs import PARALLEL_MIN_N, direct_force, direct_force_parallel, pair_log_energy

__all__ = ["coulomb_force", "coulomb_energy", "points_and_weights", "METHODS", "FAST_CROSSOVER"]

#: Method names accepted by :func:`coulomb_force`.
METHODS = ("auto", "direct", "fast")

#: ``method="auto"`` uses the fast method from this many points on. Measured
#: with ``coulombgas.bench.forces.bench_forces`` (its ``crossover`` entry) on
#: the 2-core AMD EPYC (Zen 4, AVX-512) development machine, jittered
#: semicircle quantiles, tol = 1e-10 (order 13), medians of 7 warm calls:
#: N = 700: direct (parallel) 0.048 ms, fast 0.057 ms; N = 1000: 0.090 vs
#: 0.076 ms; N = 3000: 0.72 vs 0.22 ms. Below the crossover the exact direct
#: sum is as fast, so it is kept.
FAST_CROSSOVER = 1000


def points_and_weights(x, weights):
    """``x`` (finite, 1-D, n >= 2) and ``weights`` (> 0, broadcast to (n,)) as contiguous float64 arrays."""
    x = _validate.finite_array("x", x, ndim=1, min_size=2)
    n = x.shape[0]
    if weights is None:
        w = np.ones(n)
    else:
        w = _validate.positive_array("weights", weights, shape=(n,))
    return np.ascontiguousarray(x), np.ascontiguousarray(w, dtype=np.float64)


def _ascending(x, w):
    """``x`` and ``w`` sorted by ``x`` plus the permutation (None if already ascending)."""
    if np.all(x[1:] >= x[:-1]):
        return x, w, None
    perm = np.argsort(x, kind="stable")
    return x[perm], w[perm], perm


def _check_distinct(xs, perm):
    equal = np.flatnonzero(xs[1:] == xs[:-1])
    if equal.size:
        i, j = equal[0], equal[0] + 1
        if perm is not None:
            i, j = sorted((perm[i], perm[j]))
        raise ValueError(
            f"`x` must not contain coincident points, got x[{i}] == x[{j}] == {float(xs[equal[0]])!r} "
            "(the Coulomb force is infinite there)"
        )


def coulomb_force(x, weights=None, *, method="auto", tol=1e-10):
    r"""Coulomb (log-gas) pair force on each of N points on the real line.

    .. math:: F_i = \sum_{j \ne i} \frac{w_j}{x_i - x_j}

    Parameters
    ----------
    x : array_like, shape (n,)
        Positions (eigenvalues), finite and pairwise distinct, n >= 2. Any
        order; the result is in the order of ``x``.
    weights : float or array_like, shape (n,), > 0, optional
        Strength w_j with which point j pushes the others; broadcast to (n,).
        Default 1 (textbook Dyson Brownian motion). In the SGD form of the
        Dyson equation w_j = g_j² (SCIENCE.md §2): point i feels w_j from j
        but j feels w_i from i, so for unequal weights the pair force is not
        antisymmetric.
    method : {"auto", "direct", "fast"}
        ``"direct"``: exact O(n²) sum (compiled, parallel for n >= 256).
        ``"fast"``: 1-D fast multipole method, O(n) work, with error ``tol``.
        ``"auto"``: ``"fast"`` from :data:`FAST_CROSSOVER` points on, else
        ``"direct"``.
    tol : float, in (0, 1)
        Requested accuracy of the fast method in the measure of the Notes;
        it sets the Chebyshev expansion order (4 to 32). Below about 1e-14
        the result is limited by rounding. Ignored by ``"direct"``.

    Returns
    -------
    force : ndarray, shape (n,)
        ``force[i]`` = F_i, the force on point ``x[i]``.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D, has fewer than 2 points, non-finite or coincident
        values; if ``weights`` are not > 0 or do not broadcast to (n,); if
        ``method`` is unknown or ``tol`` is not in (0, 1).
    TypeError
        If ``x`` or ``weights`` are not arrays of real numbers.

    Notes
    -----
    The points are sorted first (NumPy ``argsort``, skipped when already
    ascending), so a permuted input gives the permuted, bit-identical result.
    The fast method splits them into a binary tree whose nodes halve in width
    at each level (so clusters and graded spacings get deeper trees), and
    interpolates the Cauchy kernel 1/(x - y) between well-separated nodes
    (gap >= width of the wider node) on p Chebyshev points per node, the
    kernel-independent scheme of Fong & Darve (2009) in the form of the 1-D
    algorithms of Dutt, Gu & Rokhlin (1996); nearby points are summed
    directly. The FMM idea is Greengard & Rokhlin's (1987).

    Its error is measured relative to the largest force,

    .. math:: \epsilon = \max_i |F_i^{fast} - F_i| / \max_j |F_j|,

    because F_i passes through zero in the bulk of a gas (symmetric
    neighbours cancel) where a per-point relative error is meaningless.
    Measured on random (uniform, Gaussian), rigid (semicircle quantiles,
    lattice), clustered (width 1e-6) and exponentially graded points, n up
    to 1e6: ε <= ``tol`` for 1e-13 <= ``tol`` <= 1e-4; at the default
    ``tol=1e-10`` the worst case (a lattice) gives ε ≈ 3e-11, random points
    ~1e-14. Where |F_i| > 1e-3 max|F| the per-point relative error is at
    most 1e3 ε by construction; measured up to ~400 ε (lattice edges).

    Both methods give the same result whatever the number of Numba threads
    (each output is summed in a fixed order).

    References
    ----------
    .. [1] L. Greengard and V. Rokhlin, "A fast algorithm for particle
       simulations", J. Comput. Phys. 73, 325 (1987).
    .. [2] A. Dutt, M. Gu and V. Rokhlin, "Fast algorithms for polynomial
       interpolation, integration, and differentiation", SIAM J. Numer. Anal.
       33, 1689 (1996).
    .. [3] W. Fong and E. Darve, "The black-box fast multipole method",
       J. Comput. Phys. 228, 8712 (2009).

    Examples
    --------
    >>> import numpy as np
    >>> from coulombgas.forces import coulomb_force
    >>> coulomb_force([-1.0, 0.0, 1.0])
    array([-1.5,  0. ,  1.5])
    """
    x, w = points_and_weights(x, weights)
    method = _validate.one_of("method", method, METHODS)
    tol = _validate.positive("tol", tol)
    if tol >= 1:
        raise ValueError(f"`tol` must be in (0, 1), got {tol:g}")
    # Sorted once here: the FMM needs it, and the direct sum then adds in the
    # same order whatever the order of the input (permuted input, same bits).
    xs, ws, perm = _ascending(x, w)
    _check_distinct(xs, perm)
    n = xs.shape[0]
    if method == "auto":
        method = "fast" if n >= FAST_CROSSOVER else "direct"
    out = np.empty(n)
    if method == "fast":
        fast_force(xs, ws, out, order_for_tol(tol), LEAF_SIZE)
    elif n >= PARALLEL_MIN_N:
        direct_force_parallel(xs, ws, out)
    else:
        direct_force(xs, ws, out)
    if perm is None:
        return out
    force = np.empty(n)
    force[perm] = out
    return force


def coulomb_energy(x, weights=None):
    r"""Logarithmic (Coulomb) interaction energy of N points on the real line.

    .. math:: E = -\sum_{i<j} w_i w_j \log|x_i - x_j|

    Parameters
    ----------
    x : array_like, shape (n,)
        Positions (eigenvalues), finite, n >= 2, any order.
    weights : float or array_like, shape (n,), > 0, optional
        Charges w_i, broadcast to (n,); default 1.

    Returns
    -------
    energy : float
        E; ``+inf`` when two points coincide (zero Boltzmann weight).

    Raises
    ------
    ValueError, TypeError
        As for :func:`coulomb_force` (coincident points are allowed here).

    Notes
    -----
    -∂E/∂x_i = w_i F_i with F from :func:`coulomb_force` with the same
    weights, so for w = 1 (textbook Dyson case) the force is exactly -∇E and
    the Coulomb-gas density is ∝ exp(-β E - β Σ V). For unequal weights the
    SGD force (w_j = g_j²) is not a gradient (SCIENCE.md §2) and E is only
    the symmetric part. O(n²) work.

    Examples
    --------
    >>> from coulombgas.forces import coulomb_energy
    >>> round(coulomb_energy([0.0, 1.0, 3.0]), 12)  # -(log 1 + log 3 + log 2)
    -1.791759469228
    """
    x, w = points_and_weights(x, weights)
    rows = np.empty(x.shape[0])
    pair_log_energy(x, w, rows)
    return float(np.sum(rows))
