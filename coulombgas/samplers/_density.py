r"""Compiled pieces shared by the Markov-chain samplers: log P_s, its gradient, the HMC coordinates.

The target is the stationary law of :class:`~coulombgas.gas.CoulombGas` on
the ordered configurations x_1 < … < x_n (inside the potential's domain
x > ``lower``),

.. math::

    \log P_s(x) = \beta \sum_{i<j} \log|x_i - x_j| - \sum_i \kappa_i V_i(x_i),
    \qquad \kappa_i = a / D_i,

    \partial_{x_i} \log P_s = -\kappa_i V_i'(x_i) + \beta \sum_{j \ne i} \frac{1}{x_i - x_j}

(:meth:`CoulombGas.log_density`). The pair sums are the kernels of
:mod:`coulombgas._pairs`, the potential those of :mod:`coulombgas.potentials`.

Coordinates q of the hybrid Monte Carlo sampler (:mod:`.hmc`):

* ``COORD_X``: q = x, Chafaï & Ferré's choice; a trajectory that leaves the
  ordered domain has infinite energy and is rejected;
* ``COORD_GAPS``: q = (x_1, log gaps), x_k = x_{k−1} + e^{q_k} (x_1 = lower + e^{q_1}
  with a hard wall): the order holds by construction and a collision, singular
  in x, is a linear potential (β + 1) q_k in q;
* ``COORD_SOFT``: gap_k = s_k log(1 + e^{q_k}), logarithmic for small gaps,
  linear for large ones, which log gaps make stiff (their density falls like
  exp(−c e^{2q})); s_k = the starting configuration's gaps.

:func:`log_target` is the density of q, log P_s(x(q)) + log|det ∂x/∂q|, and
:func:`log_target_grad` its gradient, pulled back from x by an O(n) suffix sum.

Also the layout of the per-chain counters every chain kernel fills
(``C_ITER`` … ``C_GRAD``). A private module made for sharing inside
:mod:`coulombgas.samplers` (and the benchmarks): its names are public, its
kernels take validated inputs only.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .._jit import njit
from .._pairs import direct_force, direct_force_parallel, sum_log_dist
from ..potentials import V_kernel, dV_kernel

#: Pair sums on one thread, or parallel over particles (one large chain).
FORCE_SERIAL, FORCE_PARALLEL = 0, 1
#: HMC coordinates: the eigenvalues themselves, (x_1, log gaps), or soft gaps.
COORD_X, COORD_GAPS, COORD_SOFT = 0, 1, 2
#: Fixed number of accumulator slots of the parallel pair sum (bit-identical for any thread count).
CHUNKS = 16
#: Per-chain counters: [iterations, accepted, divergent transitions, status, where, gradient evaluations].
C_ITER, C_ACC, C_DIVT, C_STATUS, C_WHERE, C_GRAD = 0, 1, 2, 3, 4, 5


# ------------------------------------------------------------------ log P_s and its gradient in x

@njit
def sum_log_ratio(y, xi, xs):
    """Σ_k log[(y − xs_k)/(xi − xs_k)] for y, xi on the same side of every xs_k (ratios > 0)."""
    m = xs.shape[0]
    s = 0.0
    k = 0
    while k + 4 <= m:
        p = ((y - xs[k]) / (xi - xs[k])) * ((y - xs[k + 1]) / (xi - xs[k + 1])) \
            * ((y - xs[k + 2]) / (xi - xs[k + 2])) * ((y - xs[k + 3]) / (xi - xs[k + 3]))
        if p > 1e-250 and p < 1e250:
            s += math.log(p)
        else:
            for q in range(k, k + 4):
                s += math.log((y - xs[q]) / (xi - xs[q]))
        k += 4
    for q in range(k, m):
        s += math.log((y - xs[q]) / (xi - xs[q]))
    return s


@njit(parallel=True)
def pair_log_parallel(x, acc):
    """Σ_{i<j} log(x_j − x_i) over all threads; rows interleaved over a fixed number of slots."""
    n = x.shape[0]
    for c in prange(CHUNKS):
        s = 0.0
        for i in range(c, n - 1, CHUNKS):
            s += sum_log_dist(x[i], x[i + 1:])
        acc[c] = s
    total = 0.0
    for c in range(CHUNKS):
        total += acc[c]
    return total


@njit
def pair_log_serial(x, acc):
    """Σ_{i<j} log(x_j − x_i) in one thread (same signature as :func:`pair_log_parallel`)."""
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += sum_log_dist(x[i], x[i + 1:])
    return s


@njit
def ordered(x, lower, radius):
    """True if lower < x_1 < … < x_n and every |x_i| < radius (finite)."""
    n = x.shape[0]
    if not (x[0] > lower):
        return False
    for i in range(n):
        if not (abs(x[i]) < radius):
            return False
    for i in range(n - 1):
        if not (x[i + 1] > x[i]):
            return False
    return True


@njit
def log_density(x, kind, params, lower, beta, kappa, radius, force_mode):
    """log P_s(x) = β Σ_{i<j} log(x_j − x_i) − Σ κ_i V_i(x_i); −inf off the ordered domain.

    Inputs are validated by the caller.
    """
    if not ordered(x, lower, radius):
        return -np.inf
    n = x.shape[0]
    conf = 0.0
    for i in range(n):
        conf += kappa[i] * V_kernel(x[i], i, kind, params)
    if force_mode == FORCE_PARALLEL:
        pair = pair_log_parallel(x, np.empty(CHUNKS))
    else:
        pair = pair_log_serial(x, np.empty(0))
    out = beta * pair - conf
    if math.isnan(out):
        return -np.inf
    return out


@njit
def grad_log_density(x, kind, params, beta, kappa, ones, force_mode, out):
    """out_i = ∂_i log P_s = −κ_i V_i'(x_i) + β Σ_{j≠i} 1/(x_i − x_j) (inputs validated by the caller)."""
    if force_mode == FORCE_PARALLEL:
        direct_force_parallel(x, ones, out)
    else:
        direct_force(x, ones, out)
    for i in range(x.shape[0]):
        out[i] = beta * out[i] - kappa[i] * dV_kernel(x[i], i, kind, params)


# ------------------------------------------------------------------ coordinates q of HMC

@njit
def softplus(q):
    """log(1 + e^q) without overflow."""
    return max(q, 0.0) + math.log1p(math.exp(-abs(q)))


@njit
def sigmoid(q):
    """1/(1 + e^{−q}) without overflow."""
    if q >= 0.0:
        return 1.0 / (1.0 + math.exp(-q))
    e = math.exp(q)
    return e / (1.0 + e)


@njit
def gap(q, s, coords):
    """A gap from its coordinate: e^q (log gaps) or s·softplus(q) (soft gaps)."""
    if coords == COORD_GAPS:
        return math.exp(q)
    return s * softplus(q)


@njit
def to_x(q, lower, coords, scale, x):
    """x from the sampler's coordinates q (inputs validated by the caller).

    coords = x: x = q. Otherwise x_1 = q_1 (or lower + gap(q_1) with a wall)
    and x_k = x_{k−1} + gap(q_k): gap = e^q (log gaps) or s_k·log(1 + e^q)
    (soft gaps, s_k = ``scale[k]``).
    """
    n = q.shape[0]
    if coords == COORD_X:
        for i in range(n):
            x[i] = q[i]
        return
    x[0] = lower + gap(q[0], scale[0], coords) if lower > -np.inf else q[0]
    for k in range(1, n):
        x[k] = x[k - 1] + gap(q[k], scale[k], coords)


@njit
def log_jacobian(q, lower, coords, scale):
    """log|det ∂x/∂q| = Σ_k log gap'(q_k) over the gap coordinates; 0 for coords = x.

    gap' = e^q (log gaps: the sum of the q_k) or s σ(q) (soft gaps: log s − softplus(−q)).
    """
    if coords == COORD_X:
        return 0.0
    s = 0.0
    start = 0 if lower > -np.inf else 1
    for k in range(start, q.shape[0]):
        if coords == COORD_GAPS:
            s += q[k]
        else:
            s += math.log(scale[k]) - softplus(-q[k])
    return s


@njit
def log_target(q, x, kind, params, lower, beta, kappa, radius, coords, scale, force_mode):
    """log density of q: log P_s(x(q)) + log|det ∂x/∂q| (fills x = x(q)); inputs validated by the caller."""
    to_x(q, lower, coords, scale, x)
    return log_density(x, kind, params, lower, beta, kappa, radius, force_mode) \
        + log_jacobian(q, lower, coords, scale)


@njit
def log_target_grad(q, x, kind, params, lower, beta, kappa, ones, coords, scale, force_mode, out):
    """∇_q of :func:`log_target` at q, given x = x(q): the chain rule is a suffix sum, O(n).

    ∂x_i/∂q_k = gap'(q_k) for i ≥ k (k ≥ 2, or k ≥ 1 with a wall), so
    ∂_{q_k} = gap'(q_k) Σ_{i≥k} ∂_{x_i} log P_s + (log gap')'(q_k), with
    (log gap')' = 1 for log gaps and σ(−q) for soft gaps.
    """
    grad_log_density(x, kind, params, beta, kappa, ones, force_mode, out)
    if coords == COORD_X:
        return
    acc = 0.0
    for k in range(q.shape[0] - 1, -1, -1):
        acc += out[k]
        if k == 0 and not (lower > -np.inf):
            out[0] = acc
        elif coords == COORD_GAPS:
            out[k] = acc * math.exp(q[k]) + 1.0
        else:
            out[k] = acc * scale[k] * sigmoid(q[k]) + sigmoid(-q[k])


@njit(parallel=True)
def prepare(Q, LP, G, kind, params, lower, beta, kappa, ones, radius, coords, scale):
    """Log density LP[c, 0] and gradient G[c] (in coordinates ``coords``) of every chain's state Q[c]."""
    for c in prange(Q.shape[0]):
        x = np.empty(Q.shape[1])
        LP[c, 0] = log_target(Q[c], x, kind, params, lower, beta, kappa, radius, coords, scale, FORCE_SERIAL)
        log_target_grad(Q[c], x, kind, params, lower, beta, kappa, ones, coords, scale, FORCE_SERIAL, G[c])


@njit
def max_abs(x):
    """max |x_i|, +inf if any entry is NaN."""
    m = 0.0
    for i in range(x.shape[0]):
        ax = abs(x[i])
        if ax != ax:
            return np.inf
        if ax > m:
            m = ax
    return m


@njit
def log_density_unordered(x, kind, params, beta, kappa):
    """log P_s without the order check, NaN → −inf (used only to classify a runaway)."""
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s -= kappa[i] * V_kernel(x[i], i, kind, params)
    for i in range(n - 1):
        s += beta * sum_log_dist(x[i], x[i + 1:])
    if math.isnan(s):
        return -np.inf
    return s
