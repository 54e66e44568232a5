r"""A fast multipole method for the 1-D Cauchy kernel: O(N) Coulomb forces for any spacing.

.. math:: F_i = \sum_{j \ne i} \frac{w_j}{x_i - x_j}

Chebyshev interpolation of 1/(x - y) between well-separated nodes of an
adaptive binary tree over the sorted points ("black-box FMM", Fong & Darve,
J. Comput. Phys. 228, 8712 (2009); the 1-D algorithms of Dutt, Gu & Rokhlin,
SIAM J. Numer. Anal. 33, 1689 (1996); the FMM idea is Greengard & Rokhlin's,
J. Comput. Phys. 73, 325 (1987)); near pairs are summed directly. The accuracy
measurements behind :func:`order_for_tol` are in :func:`coulombgas.forces.coulomb_force`.

:func:`fast_force` is a plain compiled function ``(x, w, out, order, leaf_size)``
for ascending, distinct, validated ``x`` so that the integrators can call it
from compiled code. Importing this module starts Numba's thread pool
(numba/numba#8578: see :mod:`coulombgas._pairs`).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from ._jit import SAFE_FASTMATH, njit

numba.get_num_threads()  # starts the pool; compiles nothing (numba/numba#8578)

__all__ = ["fast_force", "order_for_tol", "LEAF_SIZE"]

# A pair of tree nodes A, B is "well separated" when the gap between them is at
# least _THETA times the wider one; the nearest singularity of 1/(x - y) then
# lies >= 1 + 2*_THETA half-widths from either centre, so Chebyshev
# interpolation of order p converges like rho**-p with
# rho = (1 + 2θ) + sqrt((1 + 2θ)**2 - 1) ≈ 5.83 for θ = 1.
_THETA = 1.0
#: Most points per leaf: near-field (direct) work grows with it, the number of
#: nodes (expansions) shrinks with it. Measured (N = 1e5 and 1e6, Gaussian
#: points, p = 11): 48-64 best, 32 and 128 about 1.3x slower.
LEAF_SIZE = 64
_MIN_ORDER, _MAX_ORDER = 4, 32
# The FMM's geometry is computed as differences of node centres, e.g.
# (c_a - c_b) + h_a t_m - h_b t_j, so that a cluster of width 1e-6 at x = 7
# keeps full relative accuracy. With "reassoc" LLVM may regroup that into
# (c_a + h_a t_m) - (c_b + h_b t_j) and lose 1e-16 * 7 / 1e-6 ≈ 1e-9 (measured:
# it did, in some compilations and not others). Those kernels therefore never
# take "reassoc", whatever the project's flags (which now have none: _jit).
_ORDERED = SAFE_FASTMATH - {"reassoc"}

@njit
def _grow(a, size):
    """A copy of the 2-D int array ``a`` with room for at least ``size`` rows."""
    b = np.empty((max(size, 2 * a.shape[0]), a.shape[1]), np.int64)
    for i in range(a.shape[0]):  # explicit loops: slice assignment costs seconds of compile time
        for j in range(a.shape[1]):
            b[i, j] = a[i, j]
    return b


@njit
def _build_tree(x, leaf_size):
    """Binary tree over sorted ``x``: node k holds points lo[k]:hi[k]; children child[k], child[k]+1.

    A node is split at the midpoint of its points' span (not at the median
    index), so every child is at most half as wide as its parent: the depth
    adapts to clusters and graded spacing while nodes stay well shaped for the
    separation test. Nodes are numbered breadth-first, so parents precede children.
    """
    n = x.shape[0]
    nodes = np.empty((4 * (n // leaf_size) + 64, 4), np.int64)  # lo, hi, child, parent
    nodes[0, 0], nodes[0, 1], nodes[0, 3] = 0, n, -1
    m = 1
    k = 0
    while k < m:
        lo, hi = nodes[k, 0], nodes[k, 1]
        nodes[k, 2] = -1
        if hi - lo > leaf_size:
            mid = 0.5 * (x[lo] + x[hi - 1])
            s = lo + np.searchsorted(x[lo:hi], mid, side="right")
            if s <= lo or s >= hi:  # the span is a few ulps wide: split the indices
                s = (lo + hi) // 2
            if m + 2 > nodes.shape[0]:
                nodes = _grow(nodes, m + 2)
            nodes[m, 0], nodes[m, 1], nodes[m, 3] = lo, s, k
            nodes[m + 1, 0], nodes[m + 1, 1], nodes[m + 1, 3] = s, hi, k
            nodes[k, 2] = m
            m += 2
        k += 1
    return nodes[:m]


@njit
def _push(buf, count, a, b):
    """buf[count] = (a, b), growing ``buf`` when full; returns the (possibly new) buffer."""
    if count >= buf.shape[0]:
        buf = _grow(buf, count + 1)
    buf[count, 0] = a
    buf[count, 1] = b
    return buf


@njit
def _by_target(pairs, count, n_nodes):
    """CSR form (ptr, src) of (target, source) pairs, stable in the order found."""
    ptr = np.zeros(n_nodes + 1, np.int64)
    for k in range(count):
        ptr[pairs[k, 0] + 1] += 1
    for k in range(n_nodes):
        ptr[k + 1] += ptr[k]
    fill = np.empty(n_nodes, np.int64)
    for k in range(n_nodes):
        fill[k] = ptr[k]
    src = np.empty(count, np.int64)
    for k in range(count):
        t = pairs[k, 0]
        src[fill[t]] = pairs[k, 1]
        fill[t] += 1
    return ptr, src


@njit
def _interaction_lists(x, nodes, order):
    """Dual-tree traversal: which node pairs interact through expansions (M2L) and which directly (P2P).

    Both directions of a pair are recorded; a node's P2P list may hold
    non-leaf nodes (cheap direct interactions between small nodes).
    """
    n_nodes = nodes.shape[0]
    stack = np.empty((64, 2), np.int64)
    m2l = np.empty((4 * n_nodes + 16, 2), np.int64)
    p2p = np.empty((4 * n_nodes + 16, 2), np.int64)
    ns = nm = npp = 0
    stack = _push(stack, ns, 0, 0)
    ns += 1
    while ns > 0:
        ns -= 1
        a, b = stack[ns, 0], stack[ns, 1]
        ca, cb = nodes[a, 2], nodes[b, 2]
        if a == b:
            if ca < 0:
                p2p = _push(p2p, npp, a, a)
                npp += 1
            else:
                stack = _push(stack, ns, ca, ca)
                stack = _push(stack, ns + 1, ca + 1, ca + 1)
                stack = _push(stack, ns + 2, ca, ca + 1)
                ns += 3
            continue
        # The traversal keeps node a to the left of node b.
        width_a = x[nodes[a, 1] - 1] - x[nodes[a, 0]]
        width_b = x[nodes[b, 1] - 1] - x[nodes[b, 0]]
        gap = x[nodes[b, 0]] - x[nodes[a, 1] - 1]
        if gap >= _THETA * max(width_a, width_b):
            size = (nodes[a, 1] - nodes[a, 0]) * (nodes[b, 1] - nodes[b, 0])
            if size <= order * order:  # a direct sum is cheaper than two translations
                p2p = _push(p2p, npp, a, b)
                p2p = _push(p2p, npp + 1, b, a)
                npp += 2
            else:
                m2l = _push(m2l, nm, a, b)
                m2l = _push(m2l, nm + 1, b, a)
                nm += 2
        elif ca < 0 and cb < 0:
            p2p = _push(p2p, npp, a, b)
            p2p = _push(p2p, npp + 1, b, a)
            npp += 2
        elif cb < 0 or (ca >= 0 and width_a > width_b):
            stack = _push(stack, ns, ca, b)
            stack = _push(stack, ns + 1, ca + 1, b)
            ns += 2
        else:
            stack = _push(stack, ns, a, cb)
            stack = _push(stack, ns + 1, a, cb + 1)
            ns += 2
    m2l_ptr, m2l_src = _by_target(m2l, nm, n_nodes)
    p2p_ptr, p2p_src = _by_target(p2p, npp, n_nodes)
    return m2l_ptr, m2l_src, p2p_ptr, p2p_src


@njit(fastmath=_ORDERED)
def _chebyshev_moments(y, v, centre, inv_half, order, moments):
    """moments[k] = Σ_j v_j T_k(t_j), t_j = (y_j - centre) * inv_half, for k < order."""
    for k in range(order):
        moments[k] = 0.0
    for j in range(y.shape[0]):
        tj = (y[j] - centre) * inv_half
        vj = v[j]
        t0 = 1.0
        t1 = tj
        moments[0] += vj
        if order > 1:
            moments[1] += vj * tj
        for k in range(2, order):
            t2 = 2.0 * tj * t1 - t0
            moments[k] += vj * t2
            t0 = t1
            t1 = t2


@njit
def _matvec(a, v, out):
    """out = a @ v without allocating (safe inside prange)."""
    for m in range(a.shape[0]):
        s = 0.0
        for k in range(a.shape[1]):
            s += a[m, k] * v[k]
        out[m] = s


@njit(fastmath=_ORDERED)
def _clenshaw(coef, t):
    """Σ_k coef[k] T_k(t)."""
    b1 = 0.0
    b2 = 0.0
    for k in range(coef.shape[0] - 1, 0, -1):
        b0 = coef[k] + 2.0 * t * b1 - b2
        b2 = b1
        b1 = b0
    return coef[0] + t * b1 - b2


@njit
def _chebyshev(order):
    """Chebyshev points t_m = cos((2m+1)π/2p) and C[m, k] = c_k T_k(t_m), c_0 = 1/p, c_k = 2/p.

    S_p(t_m, t) = Σ_k C[m, k] T_k(t) are the interpolation weights of
    Fong & Darve (2009, eq. 7); Cᵀ maps values at the points to Chebyshev
    coefficients.
    """
    p = order
    tnode = np.empty(p)
    cmat = np.empty((p, p))
    for m in range(p):
        tnode[m] = math.cos((2 * m + 1) * math.pi / (2 * p))
        for k in range(p):
            cmat[m, k] = (1.0 if k == 0 else 2.0) / p * math.cos(k * (2 * m + 1) * math.pi / (2 * p))
    return tnode, cmat


@njit(fastmath=_ORDERED)
def _frames(x, nodes):
    """Centre and half-width of every node's span.

    All translations use differences of centres, never absolute positions of
    Chebyshev points, so a cluster of width 1e-9 near x = 1 keeps full
    relative accuracy.
    """
    n_nodes = nodes.shape[0]
    centre = np.empty(n_nodes)
    half = np.empty(n_nodes)
    for k in range(n_nodes):
        a, b = x[nodes[k, 0]], x[nodes[k, 1] - 1]
        centre[k] = 0.5 * (a + b)
        half[k] = 0.5 * (b - a)
    return centre, half


# In the parallel kernels below: no array expressions or np.zeros (Numba makes
# each one a parallel region of its own; thousands inside a serial loop cost
# seconds on a busy machine), no allocations inside prange bodies (Numba hoists
# them out of the loop, wrong for buffers whose size changes per iteration),
# and no large scratch arrays (first-touch page faults cost more than the work).


@njit(parallel=True, fastmath=_ORDERED)
def _upward(x, w, nodes, leaves, centre, half, tnode, cmat):
    """Source strengths at every node's Chebyshev points, W_m = Σ_j w_j S_p(t_m, t_j) (P2M, M2M)."""
    n_nodes, p = nodes.shape[0], tnode.shape[0]
    weights = np.empty((n_nodes, p))
    moments = np.empty((n_nodes, p))
    # P2M through the moments Σ_j w_j T_k(t_j) of each leaf.
    for q in prange(leaves.shape[0]):
        k = leaves[q]
        lo, hi = nodes[k, 0], nodes[k, 1]
        inv = 1.0 / half[k] if half[k] > 0.0 else 0.0  # one-point leaf: all proxies at its point
        _chebyshev_moments(x[lo:hi], w[lo:hi], centre[k], inv, p, moments[k])
        _matvec(cmat, moments[k], weights[k])
    # M2M is exact: a child's proxies reproduce every polynomial of degree < p.
    # Serial (cheap: p² per node), children before parents.
    proxies = np.empty(p)
    mom = np.empty(p)
    for k in range(n_nodes - 1, -1, -1):
        c = nodes[k, 2]
        if c < 0:
            continue
        for m in range(p):
            moments[k, m] = 0.0
        for ch in range(c, c + 2):
            for m in range(p):
                proxies[m] = (centre[ch] - centre[k]) + half[ch] * tnode[m]
            _chebyshev_moments(proxies, weights[ch], 0.0, 1.0 / half[k], p, mom)
            for m in range(p):
                moments[k, m] += mom[m]
        _matvec(cmat, moments[k], weights[k])
    return weights


@njit(parallel=True, fastmath=_ORDERED)
def _translate(m2l_ptr, m2l_src, weights, centre, half, tnode, local):
    """M2L: local[a, m] = field at node a's Chebyshev points from the proxies of each well-separated node b."""
    n_nodes, p = weights.shape
    for a in prange(n_nodes):
        for m in range(p):
            local[a, m] = 0.0
        la = local[a]
        ha = half[a]
        for q in range(m2l_ptr[a], m2l_ptr[a + 1]):
            b = m2l_src[q]
            d = centre[a] - centre[b]
            hb = half[b]
            wb = weights[b]
            # Inner loop over target points: vectorises without reordering sums.
            for j in range(p):
                yj = hb * tnode[j]
                for m in range(p):
                    la[m] += wb[j] / ((d + ha * tnode[m]) - yj)


@njit(fastmath=_ORDERED)
def _downward(nodes, local, centre, half, tnode, cmat):
    """L2L (exact, like M2M); returns every node's local field as Chebyshev coefficients."""
    n_nodes, p = local.shape
    coef = np.zeros((n_nodes, p))
    for k in range(n_nodes):  # parents before children
        _matvec(cmat.T, local[k], coef[k])
        c = nodes[k, 2]
        if c < 0:
            continue
        for ch in range(c, c + 2):
            for m in range(p):
                tm = ((centre[ch] - centre[k]) + half[ch] * tnode[m]) / half[k]
                local[ch, m] += _clenshaw(coef[k], tm)
    return coef


@njit
def _near_ranges(nodes, leaves, p2p_ptr, p2p_src):
    """Per leaf, the index ranges of its direct (P2P) sources, its own and its ancestors', merged
    where adjacent; CSR (ptr, ranges[:, lo/hi]). Sorted points make them nearly one range, so the
    near field becomes a few long loops instead of many short ones."""
    ptr = np.zeros(leaves.shape[0] + 1, np.int64)
    ranges = np.empty((4 * leaves.shape[0] + 16, 2), np.int64)
    nr = 0
    for q in range(leaves.shape[0]):
        start = nr
        a = leaves[q]
        while a >= 0:
            for r in range(p2p_ptr[a], p2p_ptr[a + 1]):
                b = p2p_src[r]
                ranges = _push(ranges, nr, nodes[b, 0], nodes[b, 1])
                nr += 1
            a = nodes[a, 3]
        for i in range(start + 1, nr):  # insertion sort by start index (a handful of ranges)
            j = i
            while j > start and ranges[j - 1, 0] > ranges[j, 0]:
                for c in range(2):
                    ranges[j - 1, c], ranges[j, c] = ranges[j, c], ranges[j - 1, c]
                j -= 1
        m = start
        for i in range(start + 1, nr):
            if ranges[i, 0] == ranges[m, 1]:
                ranges[m, 1] = ranges[i, 1]
            else:
                m += 1
                ranges[m, 0], ranges[m, 1] = ranges[i, 0], ranges[i, 1]
        nr = m + 1  # every leaf has at least itself as a source
        ptr[q + 1] = nr
    return ptr, ranges


@njit
def _near_sum(xi, xs, ws, skip):
    """Σ_{j≠skip} ws[j]/(xi - xs[j]), summed in index order (the preset has no ``reassoc``)."""
    s = 0.0
    for j in range(xs.shape[0]):
        if j != skip:
            s += ws[j] / (xi - xs[j])
    return s


@njit(parallel=True, fastmath=_ORDERED)
def _evaluate(x, w, out, nodes, leaves, centre, half, coef, near_ptr, near):
    """Far field from each leaf's expansion (L2P) plus direct sums over its near ranges."""
    for q in prange(leaves.shape[0]):
        leaf = leaves[q]
        lo, hi = nodes[leaf, 0], nodes[leaf, 1]
        inv = 1.0 / half[leaf] if half[leaf] > 0.0 else 0.0
        for i in range(lo, hi):
            out[i] = _clenshaw(coef[leaf], (x[i] - centre[leaf]) * inv)
        for r in range(near_ptr[q], near_ptr[q + 1]):
            xs = x[near[r, 0]:near[r, 1]]
            ws = w[near[r, 0]:near[r, 1]]
            own = near[r, 0] <= lo < near[r, 1]
            for i in range(lo, hi):
                out[i] += _near_sum(x[i], xs, ws, i - near[r, 0] if own else -1)


@njit
def _leaves(nodes):
    """Indices of the nodes without children."""
    count = 0
    for k in range(nodes.shape[0]):
        count += nodes[k, 2] < 0
    leaves = np.empty(count, np.int64)
    count = 0
    for k in range(nodes.shape[0]):
        if nodes[k, 2] < 0:
            leaves[count] = k
            count += 1
    return leaves


@njit(parallel=True)
def fast_force(x, w, out, order, leaf_size):
    """out_i ≈ Σ_{j≠i} w_j/(x_i - x_j) by the 1-D Chebyshev FMM with ``order`` points per node.

    ``x`` must be ascending (the integrators keep eigenvalues ordered); if it
    is not, ``out`` is filled with NaN. ``order`` >= 2 (see ``order_for_tol``),
    ``leaf_size`` >= 1 (``LEAF_SIZE``). Inputs are otherwise validated by the
    caller; coincident points give non-finite forces.
    """
    # Sorting here would cost seconds of compile time (np.argsort) for every
    # caller; the public wrapper sorts with NumPy instead.
    descents = 0
    for i in prange(x.shape[0] - 1):
        descents += x[i + 1] < x[i]
    if descents:
        for i in range(out.shape[0]):
            out[i] = np.nan
        return
    nodes = _build_tree(x, leaf_size)
    leaves = _leaves(nodes)
    centre, half = _frames(x, nodes)
    tnode, cmat = _chebyshev(order)
    m2l_ptr, m2l_src, p2p_ptr, p2p_src = _interaction_lists(x, nodes, order)
    weights = _upward(x, w, nodes, leaves, centre, half, tnode, cmat)
    local = np.empty_like(weights)
    _translate(m2l_ptr, m2l_src, weights, centre, half, tnode, local)
    coef = _downward(nodes, local, centre, half, tnode, cmat)
    near_ptr, near = _near_ranges(nodes, leaves, p2p_ptr, p2p_src)
    _evaluate(x, w, out, nodes, leaves, centre, half, coef, near_ptr, near)


def order_for_tol(tol: float) -> int:
    """Chebyshev order p for a requested error ``tol`` (measure in :func:`coulomb_force`)."""
    # Measured worst error (N = 1e3 - 2e4, leaf size 64) over random, rigid
    # (semicircle quantiles, lattices), clustered and geometric points; rigid
    # ones are the worst because nothing inflates max|F|: 1.1e-7 at p = 8,
    # 7e-11 at p = 12, 1.8e-12 at p = 14, i.e. eps(p) ≈ 0.15 * rho**-p with
    # rho = 3 + sqrt(8) (module notes). One order is added as a margin (~6x).
    rho = (1 + 2 * _THETA) + math.sqrt((1 + 2 * _THETA) ** 2 - 1)
    p = math.ceil(math.log(0.15 / tol) / math.log(rho)) + 1
    return int(min(max(p, _MIN_ORDER), _MAX_ORDER))
