r"""Direct O(N²) Coulomb pair kernels shared by the integrators, samplers and :mod:`coulombgas.forces`.

.. math:: F_i = \sum_{j \ne i} \frac{w_j}{x_i - x_j}, \qquad
          E = -\sum_{i<j} w_i w_j \log|x_i - x_j|

Plain compiled functions ``(x, w, out)`` so that other kernels (the SDE
integrators, the Monte Carlo chains) can call them from compiled code; the
public, validating wrappers are :func:`coulombgas.forces.coulomb_force` and
:func:`coulombgas.forces.coulomb_energy`. Kernels never raise: coincident points
give non-finite forces, which the caller must check. Every sum is taken in a
fixed order, so results are bit-identical for any number of threads.

Importing this module starts Numba's thread pool: a cached non-parallel kernel
that calls a parallel one (``direct_force_parallel``) otherwise segfaults when
loaded from the cache (numba/numba#8578, reproduced with numba 0.68).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from ._jit import njit

numba.get_num_threads()  # starts the pool; compiles nothing (numba/numba#8578)

__all__ = ["direct_force", "direct_force_parallel", "pair_log_energy", "sum_log_dist", "PARALLEL_MIN_N"]

# Below this size the plain masked loop beats the pair-once loop (slice set-up
# and the extra store per pair dominate); measured in compiled code over
# replicas: equal at N ≈ 20, pair-once 1.7x faster at N = 100.
_SMALL_N = 16
# Columns per block of the pair row (a multiple of 8): 2 KiB of terms stay in L1.
_ROW_BLOCK = 256
#: Below this size a parallel region costs more than it saves (measured: equal
#: at N ≈ 200, parallel 1.2x faster at N = 300, 1.9x at N = 3000).
PARALLEL_MIN_N = 256
# The parallel pair-once kernel splits rows into a FIXED number of chunks,
# each with its own accumulator row, then reduces them in a fixed order: the
# result is then bit-identical whatever the number of threads.
_CHUNKS = 16

@njit
def _pair_row(x, w, acc, i, scratch):
    """Add the pairs (i, j > i) to ``acc``: acc[i] += Σ w_j/(x_i-x_j), acc[j] -= w_i/(x_i-x_j).

    ``scratch`` has at least ``min(n - i - 1, _ROW_BLOCK)`` entries. The kernels are compiled without
    ``reassoc`` (``_jit``: bit-identical results cold or warm), under which a
    loop that both divides and sums cannot vectorise. So the divisions (the
    cost) go first, in a loop with no reduction that vectorises and stores the
    terms w_j/(x_i-x_j), and the row sum follows with eight independent partial
    sums in a fixed order (lane k mod 8), which hides the add latency.
    """
    # Loops over slices that start at 0 let LLVM drop Numba's negative-index
    # checks and vectorise; indexing x[j] with j = i+1.. does not vectorise.
    xi = x[i]
    wi = w[i]
    xs = x[i + 1:]
    ws = w[i + 1:]
    accs = acc[i + 1:]
    m = xs.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    # Blocks of _ROW_BLOCK columns keep the terms in L1; a multiple of 8, so
    # every partial sum still takes the columns k ≡ lane (mod 8) in order.
    for lo in range(0, m, _ROW_BLOCK):
        hi = min(lo + _ROW_BLOCK, m)
        t = scratch[:hi - lo]
        xb = xs[lo:hi]
        wb = ws[lo:hi]
        ab = accs[lo:hi]
        for k in range(hi - lo):
            q = 1.0 / (xi - xb[k])
            t[k] = wb[k] * q
            ab[k] -= wi * q
        b = (hi - lo) - (hi - lo) % 8
        for k in range(0, b, 8):
            s0 += t[k]
            s1 += t[k + 1]
            s2 += t[k + 2]
            s3 += t[k + 3]
            s4 += t[k + 4]
            s5 += t[k + 5]
            s6 += t[k + 6]
            s7 += t[k + 7]
        for k in range(b, hi - lo):  # only in the last block: lanes 0..6
            lane = k % 8
            if lane == 0:
                s0 += t[k]
            elif lane == 1:
                s1 += t[k]
            elif lane == 2:
                s2 += t[k]
            elif lane == 3:
                s3 += t[k]
            elif lane == 4:
                s4 += t[k]
            elif lane == 5:
                s5 += t[k]
            else:
                s6 += t[k]
    s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    acc[i] += s


@njit
def direct_force(x, w, out):
    """out_i = Σ_{j≠i} w_j/(x_i - x_j), serial O(N²) (for use inside a prange over replicas).

    Inputs are validated by the caller; coincident points give ±inf or NaN.
    """
    n = x.shape[0]
    if n <= _SMALL_N:
        for i in range(n):
            xi = x[i]
            s = 0.0
            for j in range(n):
                if j != i:
                    s += w[j] / (xi - x[j])
            out[i] = s
        return
    scratch = np.empty(_ROW_BLOCK)
    for i in range(n):
        out[i] = 0.0
    for i in range(n - 1):
        _pair_row(x, w, out, i, scratch)


@njit(parallel=True)
def direct_force_parallel(x, w, out):
    """out_i = Σ_{j≠i} w_j/(x_i - x_j), O(N²) over all threads, bit-identical for any thread count.

    Inputs are validated by the caller; coincident points give ±inf or NaN.
    """
    n = x.shape[0]
    acc = np.empty((_CHUNKS, n))  # np.zeros would be one more parallel region
    # One scratch row per chunk, allocated here: an allocation inside the prange
    # body would be hoisted out of it and shared between threads.
    scratch = np.empty((_CHUNKS, _ROW_BLOCK))
    # Interleaved rows give every chunk nearly the same share of the triangle.
    for c in prange(_CHUNKS):
        row = acc[c]
        for i in range(n):
            row[i] = 0.0
        for i in range(c, n - 1, _CHUNKS):
            _pair_row(x, w, row, i, scratch[c])
    for i in prange(n):
        s = 0.0
        for c in range(_CHUNKS):
            s += acc[c, i]
        out[i] = s


@njit(parallel=True)
def pair_log_energy(x, w, rows):
    """rows[i] = -Σ_{j>i} w_i w_j log|x_i - x_j| (the caller sums the rows: a fixed order for any thread count)."""
    n = x.shape[0]
    rows[n - 1] = 0.0
    for i in prange(n - 1):
        xi = x[i]
        xs = x[i + 1:]
        ws = w[i + 1:]
        s = 0.0
        for k in range(xs.shape[0]):
            s += ws[k] * math.log(abs(xi - xs[k]))
        rows[i] = -w[i] * s


@njit
def sum_log_dist(xi, xs):
    """Σ_k log|xs_k − xi|, eight factors per logarithm (inputs validated by the caller).

    Without SVML one libm log costs ~10 ns, eight multiplications ~1 ns: the
    pair energy of n = 1000 points drops from ~5 ms to ~1 ms. A product that
    leaves [1e-250, 1e250] (near-coincident or far points) falls back to one
    log per factor, so the result is accurate for any spacing.
    """
    m = xs.shape[0]
    s = 0.0
    k = 0
    while k + 8 <= m:
        p = abs(((xs[k] - xi) * (xs[k + 1] - xi)) * ((xs[k + 2] - xi) * (xs[k + 3] - xi))) \
            * abs(((xs[k + 4] - xi) * (xs[k + 5] - xi)) * ((xs[k + 6] - xi) * (xs[k + 7] - xi)))
        if p > 1e-250 and p < 1e250:
            s += math.log(p)
        else:
            for q in range(k, k + 8):
                s += math.log(abs(xs[q] - xi))
        k += 8
    for q in range(k, m):
        s += math.log(abs(xs[q] - xi))
    return s
