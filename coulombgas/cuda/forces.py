"""The direct Coulomb force F_i = Σ_{j≠i} w_j/(x_i − x_j) of one large system on the GPU.

The CUDA twin of :func:`coulombgas._pairs.direct_force` (all pairs, fp64). Layout: one thread
per two targets, source points streamed through shared memory in tiles; the reciprocals of a
group of G = 8 pairs are combined into one fraction P/Q (P ← P d + w Q, Q ← Q d), so a pair costs
3 multiply-adds and 1/G of an IEEE division instead of a full division; a group whose Q leaves
[1e-280, 1e280] (extreme spacings) is summed pair by pair instead. The self pair makes Q = 0
and takes that exit; the padding past N has w = 0, which leaves P/Q as it was (or takes the
exit); so the inner loop has no tests. Inputs are validated by the caller
(:func:`coulombgas.forces.points_and_weights`); a device must be present (:mod:`.device`).
"""

from __future__ import annotations

import functools

import numpy as np

from . import device

__all__ = ["direct_force", "force_kernel", "TPB", "GROUP"]

#: Threads per block (= tile length) and pairs per fraction group.
TPB = 128
GROUP = 8
# |Q| outside this range: the group is summed pair by pair (no overflow/underflow of P/Q).
_Q_SAFE = 1e280

# numba.cuda, bound by device.load() on first use (module docstring of .device).
cuda = None


@functools.lru_cache(maxsize=None)
def force_kernel(tpb: int, group: int):
    """Tiled all-pairs kernel: out_i = Σ_{j≠i} w_j/(x_i − x_j), two targets per thread."""
    global cuda
    cuda = device.load()
    from numba import float64

    @cuda.jit(device=True)
    def plain(xi, i, tile, g, xs, ws, n):
        """The group's pairs one division each (extreme spacings or coincident points)."""
        acc = 0.0
        for k in range(group):
            j = tile + g + k
            if j < n and j != i:
                acc += ws[g + k] / (xi - xs[g + k])
        return acc

    @cuda.jit
    def kernel(x, w, out, n):
        tid = cuda.threadIdx.x
        i0 = cuda.blockIdx.x * (2 * tpb) + tid
        i1 = i0 + tpb
        xs = cuda.shared.array(tpb, float64)
        ws = cuda.shared.array(tpb, float64)
        x0 = x[i0] if i0 < n else 0.0
        x1 = x[i1] if i1 < n else 0.0
        acc0 = 0.0
        acc1 = 0.0
        for tile in range(0, n, tpb):
            j = tile + tid
            if j < n:
                xs[tid] = x[j]
                ws[tid] = w[j]
            else:
                xs[tid] = 0.0
                ws[tid] = 0.0
            cuda.syncthreads()
            for g in range(0, tpb, group):
                p0 = 0.0
                q0 = 1.0
                p1 = 0.0
                q1 = 1.0
                for k in range(group):
                    # No test for the self pair or the padding past n: the self pair makes
                    # Q = 0 and the group goes to ``plain`` (which skips it); padding has w = 0,
                    # so P/Q keeps its value (or Q leaves the safe range: ``plain`` again).
                    xj = xs[g + k]
                    wj = ws[g + k]
                    d0 = x0 - xj
                    d1 = x1 - xj
                    p0 = p0 * d0 + wj * q0
                    q0 = q0 * d0
                    p1 = p1 * d1 + wj * q1
                    q1 = q1 * d1
                a0 = abs(q0)
                if a0 > 1.0 / _Q_SAFE and a0 < _Q_SAFE:
                    acc0 += p0 / q0
                else:
                    acc0 += plain(x0, i0, tile, g, xs, ws, n)
                a1 = abs(q1)
                if a1 > 1.0 / _Q_SAFE and a1 < _Q_SAFE:
                    acc1 += p1 / q1
                else:
                    acc1 += plain(x1, i1, tile, g, xs, ws, n)
            cuda.syncthreads()
        if i0 < n:
            out[i0] = acc0
        if i1 < n:
            out[i1] = acc1

    return kernel


def direct_force(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """F_i = Σ_{j≠i} w_j/(x_i − x_j) on the device; ``x``, ``w`` validated float64 (n,), n ≥ 2.

    Returns the force in the order of ``x``; coincident points give non-finite entries
    (the caller reports them).
    """
    tpb = device.threads(TPB)
    kernel = force_kernel(tpb, GROUP)
    n = x.shape[0]
    out = cuda.device_array(n, dtype=np.float64)
    with device.quiet():
        kernel[(n + 2 * tpb - 1) // (2 * tpb), tpb](cuda.to_device(x), cuda.to_device(w), out, n)
        return out.copy_to_host()
