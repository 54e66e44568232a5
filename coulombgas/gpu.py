"""GPU (CUDA) kernels: replica ensembles of the eigenvalue SDE, the direct force at large N, training ensembles.

The same computations as the CPU path, on an NVIDIA GPU through Numba CUDA
(extra ``gpu``), chosen by ``device="cuda"``:

* :func:`direct_force_cuda` — F_i = Σ_{j≠i} w_j/(x_i − x_j) for one large system
  (N up to ~10⁶), all pairs, fp64, as :func:`coulombgas.forces.coulomb_force`
  with ``method="direct"``;
* :func:`simulate_cuda` — the canonical SDE of :class:`~coulombgas.gas.CoulombGas`,
  dx_i = [a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j)] dt + s_i dW_i, for many replicas
  of a small gas (n ≤ 64), with the schemes of :func:`coulombgas.simulate`;
* :func:`teacher_student_cuda`, :func:`phase_network_cuda`, :func:`gaussian_rbm_cuda`
  — ensembles of the training models of :mod:`coulombgas.training` with the CPU
  functions' arguments and results (within floating-point rounding).

Layout of the work (why it should be fast on a GPU; see ``coulombgas.bench.gpu``
for what was measured):

* force: one thread per two targets, source points streamed through shared
  memory in tiles; the reciprocals of a group of G = 8 pairs are combined into
  one fraction P/Q (P ← P d + w Q, Q ← Q d), so a pair costs 3 multiply-adds and
  1/G of an IEEE division instead of a full division; a group whose Q leaves
  [1e-280, 1e280] (extreme spacings) is summed pair by pair instead. The self
  pair makes Q = 0 and takes that exit; the padding past N has w = 0, which
  leaves P/Q as it was (or takes the exit); so the inner loop has no tests.
* SDE: one thread per replica; the n positions, drifts and trial states are
  thread-local arrays of compile-time size n (fully unrolled loops, so they can
  live in registers), the random stream is xoroshiro128+ held in two registers,
  and a whole chunk of steps runs inside one launch; records are written with
  the replica index fastest (coalesced). Euler–Maruyama has its own fixed-step
  loop; the adaptive schemes carry their stack of Brownian-bridge sub-steps
  (indexed at run time, so in local memory).
* training: teacher–student is one thread per model (data stored sample-major,
  model fastest, so loads coalesce); the phase network is one *team* of
  threads per model, each thread owning R rows of W (R·n_mid values in
  registers), the output ŷ = Σ_j Z_j tanh(u_j) summed across the team through
  shared memory in a fixed order (so all threads of a team agree bit for bit);
  the RBM is one thread per model, since each model's Gibbs noise is one
  sequential stream (see :func:`_rbm_kernel`).

Randomness: the SDE kernel draws from xoroshiro128+ streams (the generator of
:mod:`numba.cuda.random`, same state layout), one per replica, initialised
like :func:`numba.cuda.random.init_xoroshiro128p_states` (SplitMix64 of one
64-bit seed, then successive 2⁶⁴-step jumps: non-overlapping streams) with the
seed derived from the user's ``seed`` through :class:`numpy.random.SeedSequence`.
Normals come from Box–Muller on two 53-bit uniforms, both outputs used;
numba's own ``xoroshiro128p_normal_float64`` is not used because it builds
them from float32 uniforms, which reach 0 with probability 2⁻²⁴ (log 0 = −inf)
— at 10¹⁰ draws a certainty. So a GPU run is reproducible for a given seed, but
its random numbers differ from the CPU path's (NumPy PCG64): the two agree in
law, not path by path. Training models agree with the CPU to rounding: datasets
and initial weights are drawn on the host by the model's own ``init``, and the
RBM's Gibbs noise, the one thing drawn on the device, comes from each model's
xoshiro256++ generator (seeded by ``init``) in the CPU's order, with the CPU's
ziggurat.

Without a GPU, :func:`require` raises (or falls back to the CPU when asked);
with ``NUMBA_ENABLE_CUDASIM=1`` set before Numba is imported, the kernels run
in Numba's CUDA simulator (about 10⁴× slower: for tests only).

References
----------
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (teacher–student, SGD form of the SDE);
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (phase network);
D. Blackman, S. Vigna, "Scrambled linear pseudorandom number generators", arXiv:1805.01407 (xoroshiro128+);
G. E. P. Box, M. E. Muller, Ann. Math. Stat. 29, 610 (1958).
"""

from __future__ import annotations

import functools
import importlib
import math
import warnings

import numpy as np

from . import _rng
from . import _validate as v
from ._jit import njit

__all__ = ["available", "require", "simulator", "direct_force_cuda", "simulate_cuda", "teacher_student_cuda",
           "phase_network_cuda", "gaussian_rbm_cuda", "DEVICES", "MAX_N", "RBM_MAX_VALUES"]

#: Accepted values of ``device``.
DEVICES = ("cpu", "cuda")
#: Largest gas :func:`simulate_cuda` integrates (one thread per replica holds the whole state).
MAX_N = 64

# Force kernel: threads per block (= tile length) and pairs per fraction group.
_FORCE_TPB = 128
_GROUP = 8
# |Q| outside this range: the group is summed pair by pair (no overflow/underflow of P/Q).
_Q_SAFE = 1e280
# Device memory given to one block of training models when the caller does not choose.
_BLOCK_BYTES_FRACTION = 0.25


# ------------------------------------------------------------------ device selection

def simulator() -> bool:
    """True when Numba's CUDA simulator is enabled (``NUMBA_ENABLE_CUDASIM=1`` before Numba's import)."""
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def available() -> bool:
    """True when a CUDA device can run the kernels (or the CUDA simulator is enabled).

    Never raises: a missing driver, GPU or ``numba-cuda`` package all give False.
    """
    try:
        from numba import cuda
    except Exception:  # pragma: no cover - numba-cuda missing or broken (e.g. numpy too new for it)
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(cuda.is_available())
    except Exception:  # pragma: no cover - driver present but unusable
        return False


def require(device: str = "cuda", *, fallback: bool = False) -> bool:
    """Whether to run on the GPU for ``device``: True for a usable "cuda", False for "cpu".

    ``device="cuda"`` without a usable CUDA device raises ValueError, unless
    ``fallback=True``, which warns and returns False (run on the CPU).
    """
    device = v.one_of("device", device, DEVICES)
    if not isinstance(fallback, (bool, np.bool_)):
        raise TypeError(f"`fallback` must be a bool, got {type(fallback).__name__}")
    if device == "cpu":
        return False
    if available():
        return True
    if fallback:
        warnings.warn("`device` is 'cuda' but no CUDA device was found; running on the CPU (fallback=True)",
                      RuntimeWarning, stacklevel=3)
        return False
    raise ValueError("`device` is 'cuda' but no CUDA device was found (numba.cuda.is_available() is False: "
                     "no NVIDIA GPU or driver, or the extra is missing: pip install 'coulombgas[gpu]'); "
                     "use device='cpu', or pass fallback=True to run on the CPU instead")


# numba.cuda, bound on first use (importing this module must not need CUDA). Kernels refer to it as a
# module global because the CUDA simulator swaps in its fake module through the kernels' globals.
cuda = None


def _cuda():
    global cuda
    if cuda is None:
        from numba import cuda as module

        cuda = module
    return cuda


class _quiet:
    """Silence the simulator's NumPy overflow warnings: uint64 wrap-around is the RNG's arithmetic."""

    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.filterwarnings("ignore", message="overflow encountered in scalar", category=RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def _threads(gpu: int, sim: int = 32) -> int:
    """Threads per block: ``gpu`` on a device, fewer under the simulator (one Python thread each)."""
    return sim if simulator() else gpu


# ------------------------------------------------------------------ random streams

@njit
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit
def _seed_states(seed, count, out):
    """xoroshiro128+ states as :func:`numba.cuda.random.init_xoroshiro128p_states_cpu` makes them.

    out (count, 2) uint64: SplitMix64 of ``seed`` for stream 0, then each stream
    is the previous one jumped ahead by 2⁶⁴ steps (non-overlapping streams).
    """
    z = seed + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    s0 = z
    s1 = z
    for r in range(count):
        if r > 0:
            j0 = np.uint64(0)
            j1 = np.uint64(0)
            for word in range(2):
                jw = np.uint64(0xBEAC0467EBA5FACB) if word == 0 else np.uint64(0xD86B048B86AA9922)
                for b in range(64):
                    if jw & (np.uint64(1) << np.uint64(b)):
                        j0 ^= s0
                        j1 ^= s1
                    t = s1 ^ s0
                    s0 = _rotl(s0, 55) ^ t ^ (t << np.uint64(14))
                    s1 = _rotl(t, 36)
            s0 = j0
            s1 = j1
        out[r, 0] = s0
        out[r, 1] = s1


def _device_states(seed_sequence, count):
    """Host array of ``count`` xoroshiro128+ states (numba.cuda.random's dtype) from a SeedSequence."""
    from numba.cuda.random import xoroshiro128p_dtype

    seed = np.uint64(seed_sequence.generate_state(1, np.uint64)[0])
    raw = np.empty((count, 2), dtype=np.uint64)
    _seed_states(seed, count, raw)
    states = np.empty(count, dtype=xoroshiro128p_dtype)
    states["s0"], states["s1"] = raw[:, 0], raw[:, 1]
    return states


@functools.lru_cache(maxsize=None)
def _rng_device():
    """Device functions of the in-register xoroshiro128+ stream and Box–Muller normals."""
    _cuda()
    from numba import float64, uint32, uint64

    two_pi = 2.0 * math.pi
    inv53 = 1.0 / 9007199254740992.0  # 2^-53

    @cuda.jit(device=True)
    def next_u64(s0, s1):
        """One xoroshiro128+ output and the new state (numba.cuda.random's xoroshiro128p_next)."""
        out = s0 + s1
        t = s1 ^ s0
        n0 = ((s0 << uint32(55)) | (s0 >> uint32(9))) ^ t ^ (t << uint32(14))
        n1 = (t << uint32(36)) | (t >> uint32(28))
        return out, n0, n1

    @cuda.jit(device=True)
    def normal_pair(s0, s1):
        """Two independent N(0, 1) by Box–Muller; u1 in (0, 1] so log u1 is finite."""
        r1, s0, s1 = next_u64(s0, s1)
        r2, s0, s1 = next_u64(s0, s1)
        u1 = float64((r1 >> uint32(11)) + uint64(1)) * inv53
        u2 = float64(r2 >> uint32(11)) * inv53
        rad = math.sqrt(-2.0 * math.log(u1))
        ang = two_pi * u2
        return rad * math.cos(ang), rad * math.sin(ang), s0, s1

    return next_u64, normal_pair


# ------------------------------------------------------------------ direct force

@functools.lru_cache(maxsize=None)
def _force_kernel(tpb: int, group: int):
    """Tiled all-pairs kernel: out_i = Σ_{j≠i} w_j/(x_i − x_j), two targets per thread."""
    _cuda()
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


def direct_force_cuda(x, weights=None, *, fallback: bool = False) -> np.ndarray:
    r"""Coulomb pair force F_i = Σ_{j≠i} w_j/(x_i − x_j) of every point, all pairs, on the GPU.

    The same quantity as :func:`coulombgas.forces.coulomb_force` with
    ``method="direct"`` (exact O(N²) sum, fp64), for one large system.

    Parameters
    ----------
    x : array_like, shape (n,)
        Positions, finite and pairwise distinct, n ≥ 2, any order.
    weights : float or array_like, shape (n,), > 0, optional
        Strengths w_j (default 1).
    fallback : bool
        Without a CUDA device: compute on the CPU instead of raising.

    Returns
    -------
    force : ndarray, shape (n,)
        In the order of ``x``. Agrees with the CPU direct sum to rounding: the
        difference is ≲ 1e-15 · Σ_j |w_j/(x_i − x_j)| per point (different
        summation order, and groups of 8 pairs added as one fraction).

    Raises
    ------
    ValueError
        Bad ``x``/``weights`` (as :func:`~coulombgas.forces.coulomb_force`), coincident
        points, or ``device`` unavailable (see :func:`require`).
    """
    from .forces import coulomb_force, points_and_weights as _points_and_weights

    x, w = _points_and_weights(x, weights)
    if not require("cuda", fallback=fallback):
        return coulomb_force(x, w, method="direct")
    _cuda()
    n = x.shape[0]
    tpb = _threads(_FORCE_TPB)
    kernel = _force_kernel(tpb, _GROUP)
    out = cuda.device_array(n, dtype=np.float64)
    with _quiet():
        kernel[(n + 2 * tpb - 1) // (2 * tpb), tpb](cuda.to_device(x), cuda.to_device(w), out, n)
        force = out.copy_to_host()
    if not np.all(np.isfinite(force)):
        bad = int(np.flatnonzero(~np.isfinite(force))[0])
        raise ValueError(f"`x` must not contain coincident points, got x[{bad}] == another point "
                         f"({float(x[bad])!r}): the Coulomb force is infinite there")
    return force


# ------------------------------------------------------------------ SDE ensembles

@functools.lru_cache(maxsize=None)
def _sde_kernel(N: int, M: int, kind: int, scheme: int, depth: int):
    """One thread per replica; N eigenvalues, M potential coefficients, fixed scheme and depth (compile-time)."""
    _cuda()
    from numba import float64, int64

    from .dynamics import CROSSED, DIVERGED, TOO_MANY_REFINEMENTS, _ESCAPE
    from .potentials import LAGUERRE

    _, normal_pair = _rng_device()
    S = depth + 2  # stack entries: each split pushes two and pops one
    EM, HEUN = 2, 0
    inf = math.inf

    @cuda.jit(device=True)
    def drift(xv, out, wl, pl, a, c):
        """out_i = −a V_i'(x_i) + c Σ_{j≠i} w_j/(x_i − x_j), each pair's division used twice."""
        for i in range(N):
            out[i] = 0.0
        for i in range(N - 1):
            xi = xv[i]
            wi = wl[i]
            acc = 0.0
            for j in range(i + 1, N):
                r = 1.0 / (xi - xv[j])
                acc += wl[j] * r
                out[j] -= wi * r
            out[i] += acc
        for i in range(N):
            xi = xv[i]
            if kind == LAGUERRE:
                dv = pl[i * M + 1] - pl[i * M + 2] / xi
            else:
                dv = 0.0
                for k in range(M - 1, 0, -1):
                    dv = dv * xi + k * pl[i * M + k]
            out[i] = c * out[i] - a * dv

    @cuda.jit(device=True)
    def noise(out, scale, sp, hs, s0, s1):
        """out_i = scale·z_i for N standard normals, Box–Muller pairs used whole (the spare carried over)."""
        for i in range(N):
            if hs != 0:
                z = sp
                hs = 0
            else:
                z, sp, s0, s1 = normal_pair(s0, s1)
                hs = 1
            out[i] = scale * z
        return sp, hs, s0, s1

    @cuda.jit(device=True)
    def check_step(xv, y, lower, factor):
        """Smallest gap of y if every gap is within ``factor`` of x's, −1 to reject, −2 if escaped."""
        for i in range(N):
            if not (abs(y[i]) < _ESCAPE):
                return -2.0
        smallest = inf
        if lower > -inf:
            old = xv[0] - lower
            new = y[0] - lower
            if not (new >= old / factor and new <= old * factor):
                return -1.0
            smallest = new
        for k in range(N - 1):
            old = xv[k + 1] - xv[k]
            new = y[k + 1] - y[k]
            if not (new >= old / factor and new <= old * factor):
                return -1.0
            if new < smallest:
                smallest = new
        return smallest

    @cuda.jit(device=True)
    def check_order(y, lower):
        """Smallest gap of y if ordered and in the domain, −1 if not, −2 if escaped."""
        for i in range(N):
            if not (abs(y[i]) < _ESCAPE):
                return -2.0
        smallest = inf
        if lower > -inf:
            smallest = y[0] - lower
            if not smallest > 0.0:
                return -1.0
        for k in range(N - 1):
            gap = y[k + 1] - y[k]
            if not gap > 0.0:
                return -1.0
            if gap < smallest:
                smallest = gap
        return smallest

    @cuda.jit(device=True)
    def positive_root(A, q):
        """The positive root of g² − A g − q = 0 (q > 0), [A + √(A² + 4q)]/2, without cancellation for A < 0."""
        disc = math.sqrt(A * A + 4.0 * q)
        if A >= 0.0:
            return 0.5 * (A + disc)
        return 2.0 * q / (disc - A)

    @cuda.jit(device=True)
    def implicit_pair_step(xv, b, h, dw, sl, c, wl, lower, wall, factor, y):
        """Euler step with each collapsing pair's repulsion drift-implicit (dynamics._implicit_pair_step).

        The new gap is the positive root of g² − A g − h·strength = 0, taken in the form
        that does not cancel when A ≪ 0 (the CPU's [A + √(A² + 4q)]/2 loses up to
        ~1e-5 relative there; the two agree otherwise).
        """
        for i in range(N):
            y[i] = xv[i] + h * b[i] + sl[i] * dw[i]
        if wall > 0.0:
            d_old = xv[0] - lower
            d_new = y[0] - lower
            if d_new < d_old / factor:
                A = d_new - h * wall / d_old
                y[0] = lower + positive_root(A, h * wall)
        for k in range(N - 1):
            g_old = xv[k + 1] - xv[k]
            g_new = y[k + 1] - y[k]
            if g_new < g_old / factor:
                strength = c * (wl[k] + wl[k + 1])
                A = g_new - h * strength / g_old
                g = positive_root(A, h * strength)
                mid = 0.5 * (y[k] + y[k + 1])
                y[k] = mid - 0.5 * g
                y[k + 1] = mid + 0.5 * g
        gap = check_order(y, lower)
        return gap if gap >= 0.0 else -1.0

    @cuda.jit
    def kernel(x, states, spare, has_spare, rec, n_steps, dt, record_every, params, lower, a, c, w, s,
               factor, counts, gaps, wall):
        r = cuda.grid(1)
        if r >= x.shape[1]:
            return
        if counts[2, r] != 0:
            return
        xl = cuda.local.array(N, float64)
        b0 = cuda.local.array(N, float64)
        b1 = cuda.local.array(N, float64)
        y = cuda.local.array(N, float64)
        dw = cuda.local.array(N, float64)
        half = cuda.local.array(N, float64)
        wl = cuda.local.array(N, float64)
        sl = cuda.local.array(N, float64)
        pl = cuda.local.array(N * M, float64)
        stack_dw = cuda.local.array(S * N, float64)
        stack_h = cuda.local.array(S, float64)
        stack_lv = cuda.local.array(S, int64)
        for i in range(N):
            xl[i] = x[i, r]
            wl[i] = w[i]
            sl[i] = s[i]
            for k in range(M):
                pl[i * M + k] = params[i, k]
        s0 = states[r]["s0"]
        s1 = states[r]["s1"]
        sp = spare[r]
        hs = has_spare[r]
        accepted = counts[0, r]
        rejected = counts[1, r]
        implicit = counts[4, r]
        status = 0
        failed = 0
        smallest = gaps[r]
        sqrt_dt = math.sqrt(dt)
        k_rec = 0
        for step in range(n_steps):
            if scheme == EM:
                # Fixed step, no control: the noise, drift and trial state stay in registers (no split stack).
                sp, hs, s0, s1 = noise(dw, sqrt_dt, sp, hs, s0, s1)
                drift(xl, b0, wl, pl, a, c)
                for i in range(N):
                    y[i] = xl[i] + dt * b0[i] + sl[i] * dw[i]
                gap = check_order(y, lower)
                if gap < 0.0:  # −1: crossing, fatal without control; −2: escaped
                    status = CROSSED if gap == -1.0 else DIVERGED
                    failed = step
                    break
                for i in range(N):
                    xl[i] = y[i]
                accepted += 1
                if gap < smallest:
                    smallest = gap
            else:
                sp, hs, s0, s1 = noise(stack_dw, sqrt_dt, sp, hs, s0, s1)
                stack_h[0] = dt
                stack_lv[0] = 0
                top = 1
                fresh = False  # is b0 the drift at the current x?
                while top > 0:
                    top -= 1
                    h = stack_h[top]
                    for i in range(N):
                        dw[i] = stack_dw[top * N + i]
                    if not fresh:
                        drift(xl, b0, wl, pl, a, c)
                        fresh = True
                    for i in range(N):
                        y[i] = xl[i] + h * b0[i] + sl[i] * dw[i]
                    gap = check_step(xl, y, lower, factor)
                    if gap >= 0.0 and scheme == HEUN:  # corrector on an accepted predictor
                        drift(y, b1, wl, pl, a, c)
                        for i in range(N):
                            y[i] = xl[i] + 0.5 * h * (b0[i] + b1[i]) + sl[i] * dw[i]
                        gap = check_step(xl, y, lower, factor)
                    if gap == -2.0:
                        status = DIVERGED
                        failed = step
                        break
                    if gap >= 0.0:
                        for i in range(N):
                            xl[i] = y[i]
                        fresh = False
                        accepted += 1
                        if gap < smallest:
                            smallest = gap
                        continue
                    rejected += 1
                    level = stack_lv[top]
                    if level >= depth:  # deepest level: pair-implicit step instead of halving for ever
                        gap = implicit_pair_step(xl, b0, h, dw, sl, c, wl, lower, a * wall, factor, y)
                        if gap < 0.0:
                            status = TOO_MANY_REFINEMENTS
                            failed = step
                            break
                        for i in range(N):
                            xl[i] = y[i]
                        fresh = False
                        accepted += 1
                        implicit += 1
                        if gap < smallest:
                            smallest = gap
                        continue
                    # Brownian bridge: W(t+h/2) − W(t) given W(t+h) − W(t) = dw is N(dw/2, h/4).
                    sp, hs, s0, s1 = noise(half, 0.5 * math.sqrt(h), sp, hs, s0, s1)
                    for i in range(N):
                        half[i] += 0.5 * dw[i]
                    for i in range(N):
                        stack_dw[top * N + i] = dw[i] - half[i]  # second half, done after the first
                        stack_dw[(top + 1) * N + i] = half[i]
                    stack_h[top] = 0.5 * h
                    stack_h[top + 1] = 0.5 * h
                    stack_lv[top] = level + 1
                    stack_lv[top + 1] = level + 1
                    top += 2
            if status != 0:
                break
            if (step + 1) % record_every == 0:
                for i in range(N):
                    rec[k_rec, i, r] = xl[i]
                k_rec += 1
        for i in range(N):
            x[i, r] = xl[i]
        states[r]["s0"] = s0
        states[r]["s1"] = s1
        spare[r] = sp
        has_spare[r] = hs
        counts[0, r] = accepted
        counts[1, r] = rejected
        counts[2, r] = status
        counts[3, r] = failed
        counts[4, r] = implicit
        gaps[r] = smallest

    return kernel


def simulate_cuda(gas, t_end: float, dt: float, *, x0=None, replicas: int = 1, record_every: int = 1,
                  scheme: str = "auto", seed=None, max_gap_factor: float = 2.0, max_refinements: int = 30,
                  chunk_records: int | None = None, fallback: bool = False):
    """Integrate the eigenvalue SDE of ``gas`` for ``replicas`` replicas on the GPU (one thread each).

    dx_i = [a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j)] dt + s_i dW_i (:class:`~coulombgas.gas.CoulombGas`),
    with the schemes and step control of :func:`coulombgas.simulate` (``"adaptive"`` is
    accepted for ``"adaptive-heun"``): the adaptive schemes accept a step only when every
    gap changes by at most ``max_gap_factor``, else halve it and split its Brownian
    increment by a Brownian bridge, so eigenvalues never cross; plain
    ``"euler-maruyama"`` stops with an error when they do.

    Parameters
    ----------
    gas : CoulombGas
        A built-in potential (Polynomial/Quadratic/Quartic or Laguerre); n ≤ :data:`MAX_N`.
    t_end, dt, x0, replicas, record_every, scheme, seed, max_gap_factor, max_refinements
        As for :func:`coulombgas.simulate`.
    chunk_records : int, optional
        Records per kernel launch (memory of the device record buffer).
    fallback : bool
        Without a CUDA device, run :func:`coulombgas.simulate` on the CPU instead of raising.

    Returns
    -------
    Trajectory
        ``t`` (records,), ``x`` (replicas, records, n); ``diagnostics`` as on the CPU plus
        ``device`` and ``rng``. Same law as the CPU path, not the same paths
        (different random generator; module docstring).

    Raises
    ------
    ValueError, TypeError
        Bad arguments (named), no CUDA device, n > 64, a Custom potential.
    FloatingPointError
        The run diverged, crossed (Euler–Maruyama) or could not keep the eigenvalues apart.
    """
    from .dynamics import _CPU_ONLY, SCHEMES, Trajectory, _initial_state, _raise_on_status, _record_times
    from .dynamics import _smallest_gaps, _step_count
    from .dynamics import simulate as simulate_cpu
    from .gas import CoulombGas
    from .potentials import CUSTOM, LAGUERRE

    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a CoulombGas, got {type(gas).__name__}")
    names = tuple(SCHEMES) + ("adaptive",)
    scheme = v.one_of("scheme", scheme, names)
    if scheme in _CPU_ONLY:
        # The implicit nearest-neighbour (prox) step has no CUDA kernel.
        raise ValueError(f"`scheme` {scheme!r} has no CUDA kernel (the IMEX schemes run on the CPU only); "
                         "use one of 'auto' (= 'adaptive-heun' here), 'adaptive-heun', 'adaptive-euler', "
                         "'euler-maruyama', or coulombgas.simulate(..., device='cpu')")
    scheme = "adaptive-heun" if scheme == "adaptive" else scheme
    if not require("cuda", fallback=fallback):
        return simulate_cpu(gas, t_end, dt, x0=x0, replicas=replicas, record_every=record_every, scheme=scheme,
                            seed=seed, max_gap_factor=max_gap_factor, max_refinements=max_refinements,
                            chunk_records=chunk_records)
    t_end = v.nonnegative("t_end", t_end)
    dt = v.positive("dt", dt)
    replicas = v.integer("replicas", replicas, minimum=1)
    record_every = v.integer("record_every", record_every, minimum=1)
    # The GPU kernel has the adaptive and Euler-Maruyama schemes: "auto" is adaptive Heun here.
    chosen = SCHEMES["adaptive-heun" if scheme == "auto" else scheme]
    max_gap_factor = v.real("max_gap_factor", max_gap_factor)
    if max_gap_factor <= 1.0:
        raise ValueError(f"`max_gap_factor` must be > 1, got {max_gap_factor:g}")
    max_refinements = v.integer("max_refinements", max_refinements, minimum=1, maximum=60)
    n_steps, dt_eff = _step_count(t_end, dt)
    n = gas.n
    if n > MAX_N:
        raise ValueError(f"`gas.n` must be <= {MAX_N} for simulate_cuda (one thread holds a replica), got {n}; "
                         "use coulombgas.simulate (CPU, fast multipole forces) for large n")
    kind, params, lower, a, c, w, s = gas.kernel_arrays()
    if kind == CUSTOM:
        raise ValueError("`gas.potential` must be a built-in potential on device='cuda' (a Custom potential's "
                         "Numba function cannot run in a CUDA kernel); use device='cpu'")
    x = _initial_state(gas, x0, replicas, lower)
    # Records 1 .. full are record_every steps apart; a last, shorter interval (the remainder
    # of the steps) ends exactly at t_end, as on the CPU (dynamics._record_times).
    full = n_steps // record_every
    n_records = full + 1 + (n_steps % record_every > 0)
    v.fits_in_memory("`replicas` x records x `n` (records = steps / `record_every` + 1)",
                     8.0 * replicas * n * (n_records + 12))
    if chunk_records is None:
        # Device record buffer of at most ~256 MB per launch.
        chunk_records = max(1, int(32e6 // max(1, replicas * n)))
    chunk_records = v.integer("chunk_records", chunk_records, minimum=1)

    ss = _rng.seed_sequence(seed)
    seed_info = _rng.seed_record(ss)
    wall = float(params[0, 2]) if kind == LAGUERRE else 0.0
    _cuda()
    kernel = _sde_kernel(n, int(params.shape[1]), int(kind), chosen.code, max_refinements)
    gaps0 = _smallest_gaps(x, lower)
    d = {
        "x": cuda.to_device(np.ascontiguousarray(x.T)),  # (n, replicas): replica fastest
        "states": cuda.to_device(_device_states(ss, replicas)),
        "spare": cuda.to_device(np.zeros(replicas)),
        "has_spare": cuda.to_device(np.zeros(replicas, dtype=np.int64)),
        "counts": cuda.to_device(np.zeros((5, replicas), dtype=np.int64)),
        "gaps": cuda.to_device(np.ascontiguousarray(gaps0, dtype=np.float64)),
        "params": cuda.to_device(np.ascontiguousarray(params, dtype=np.float64)),
        "w": cuda.to_device(np.ascontiguousarray(w, dtype=np.float64)),
        "s": cuda.to_device(np.ascontiguousarray(s, dtype=np.float64)),
    }
    records = np.empty((replicas, n_records, n))
    records[:, 0, :] = x
    tpb = _threads(64)
    blocks = (replicas + tpb - 1) // tpb
    done = 0
    with _quiet():
        while done < n_records - 1:
            if done < full:
                todo = min(chunk_records, full - done)
                per = record_every
            else:
                todo, per = 1, n_steps - full * record_every
            rec = cuda.device_array((todo, n, replicas), dtype=np.float64)
            kernel[blocks, tpb](d["x"], d["states"], d["spare"], d["has_spare"], rec, todo * per, dt_eff,
                                per, d["params"], float(lower), float(a), float(c), d["w"], d["s"],
                                max_gap_factor, d["counts"], d["gaps"], wall)
            counts = np.ascontiguousarray(d["counts"].copy_to_host().T)
            _raise_on_status(counts, min(done, full) * record_every, dt_eff, None)
            records[:, done + 1: done + 1 + todo, :] = rec.copy_to_host().transpose(2, 0, 1)
            done += todo
        counts = np.ascontiguousarray(d["counts"].copy_to_host().T)
        gaps = d["gaps"].copy_to_host()
    t = _record_times(n_steps, record_every, dt_eff, t_end)
    diagnostics = {
        "steps": n_steps, "accepted": int(counts[:, 0].sum()), "rejected": int(counts[:, 1].sum()),
        "implicit_pair_steps": int(counts[:, 4].sum()), "smallest_gap": float(gaps.min()),
        "max_gap_factor": max_gap_factor, "max_refinements": max_refinements,
        "device": "cuda-simulator" if simulator() else "cuda", "rng": "xoroshiro128+ (Box-Muller)",
    }
    return Trajectory(t=t, x=records, gas=gas, scheme=chosen.name, dt=dt_eff, seed=seed_info,
                      diagnostics=diagnostics)


# ------------------------------------------------------------------ training ensembles

def _block_models(block_models, per_model_bytes, models):
    """Models per block: the caller's choice, else what fits in a quarter of the device memory."""
    if block_models is not None:
        return v.integer("block_models", block_models, minimum=1)
    budget = 64e6
    if not simulator():
        try:
            free, total = _cuda().current_context().get_memory_info()
            budget = _BLOCK_BYTES_FRACTION * free
        except Exception:  # pragma: no cover - memory query unsupported
            budget = 2e9
    return max(1, min(models, int(budget // max(1, per_model_bytes))))


@functools.lru_cache(maxsize=None)
def _teacher_student_kernel():
    _cuda()

    @cuda.jit
    def kernel(x, a, W, step, diverged, loss_out, n_steps, lr, bs, teacher, limit):
        """teacher_student._advance, one thread per model; x (S, 2, models), a (S, 3, models), W (4, models)."""
        m = cuda.grid(1)
        if m >= W.shape[1]:
            return
        if diverged[m] != 0:
            loss_out[m] = math.nan
            return
        size = x.shape[0]
        w11 = W[0, m]
        w12 = W[1, m]
        w21 = W[2, m]
        w22 = W[3, m]
        st = step[m]
        div = 0
        total = 0.0
        iters = max(n_steps, 1)
        for it in range(iters):
            start = (st % (size // bs)) * bs
            # Residual R = W_t − W_s; per-sample gradient step R x xᵀ + a.
            r11 = teacher - w11
            r12 = -w12
            r21 = -w21
            r22 = teacher - w22
            g11 = 0.0
            g12 = 0.0
            g21 = 0.0
            g22 = 0.0
            batch_loss = 0.0
            for n in range(start, start + bs):
                x1 = x[n, 0, m]
                x2 = x[n, 1, m]
                e1 = r11 * x1 + r12 * x2
                e2 = r21 * x1 + r22 * x2
                batch_loss += 0.5 * (e1 * e1 + e2 * e2)
                g11 += e1 * x1 + a[n, 0, m]
                g12 += e1 * x2 + a[n, 2, m]
                g21 += e2 * x1 + a[n, 2, m]
                g22 += e2 * x2 + a[n, 1, m]
            batch_loss /= bs
            total += batch_loss
            if n_steps == 0:
                break
            if not (batch_loss <= limit):  # also catches NaN
                div = st + 1
                break
            c = lr / bs
            w11 += c * g11
            w12 += c * g12
            w21 += c * g21
            w22 += c * g22
            st += 1
        W[0, m] = w11
        W[1, m] = w12
        W[2, m] = w21
        W[3, m] = w22
        step[m] = st
        diverged[m] = div
        loss_out[m] = total / iters if div == 0 else math.nan

    return kernel


def _teacher_student_advance(data, state, gens, n_steps, params):
    """``advance`` of :mod:`coulombgas.training._loop` running teacher_student's update on the device."""
    _cuda()
    dev = data.get("_cuda")
    if dev is None:  # the block's dataset goes to the device once, sample-major with the model fastest
        dev = {"x": cuda.to_device(np.ascontiguousarray(data["x"].transpose(1, 2, 0))),
               "a": cuda.to_device(np.ascontiguousarray(data["a"].transpose(1, 2, 0)))}
        data["_cuda"] = dev
    W = state["W"]
    models = W.shape[0]
    Wd = cuda.to_device(np.ascontiguousarray(W.reshape(models, 4).T))
    step = cuda.to_device(state["step"])
    div = cuda.to_device(state["diverged"])
    loss = cuda.device_array(models, dtype=np.float64)
    tpb = _threads(128)
    with _quiet():
        _teacher_student_kernel()[(models + tpb - 1) // tpb, tpb](
            dev["x"], dev["a"], Wd, step, div, loss, int(n_steps), float(params["lr"]), int(params["batch_size"]),
            float(params["teacher"]), float(params["divergence_loss"]))
        W[...] = Wd.copy_to_host().T.reshape(models, 2, 2)
        state["step"][...] = step.copy_to_host()
        state["diverged"][...] = div.copy_to_host()
        return loss.copy_to_host()


def teacher_student_cuda(*, lr: float = 0.1, batch_size: int = 16, eps: float = 0.1, models: int = 3000,
                         steps: int = 5000, record_every: int = 50, seed=0, teacher: float = 2.0,
                         init_std: float = 0.1, epoch_batches: int = 500, divergence_loss: float = 100.0,
                         out=None, resume: bool = False, progress: bool | None = None,
                         record_weights: bool = True, block_models: int | None = None, fallback: bool = False):
    """:func:`coulombgas.training.teacher_student` with the SGD updates on the GPU.

    Same arguments and the same :class:`~coulombgas.training.harvest.Harvest`
    (to rounding): datasets and initial weights are drawn on the host by the
    model's ``init`` from the same streams; the device runs one thread per model.
    ``block_models`` sets how many models share the device at once (default:
    what fits in a quarter of its free memory); ``fallback=True`` runs the CPU
    function when no CUDA device is found.
    """
    ts = importlib.import_module("coulombgas.training.teacher_student")
    from .training._loop import run_ensemble

    kw = dict(lr=lr, batch_size=batch_size, eps=eps, models=models, steps=steps, record_every=record_every,
              seed=seed, teacher=teacher, init_std=init_std, epoch_batches=epoch_batches,
              divergence_loss=divergence_loss, out=out, resume=resume, progress=progress,
              record_weights=record_weights)
    params, models, steps, record_every = ts.validated(lr, batch_size, eps, models, steps, record_every, teacher,
                                                       init_std, epoch_batches, divergence_loss)
    batch_size, epoch_batches = params["batch_size"], params["epoch_batches"]
    if not require("cuda", fallback=fallback):
        return ts.teacher_student(**kw)
    block = _block_models(block_models, 8 * 5 * batch_size * epoch_batches, models)
    return run_ensemble(ts.init, _teacher_student_advance, ts.GRAM, params, models=models, steps=steps,
                        record_every=record_every, seed=seed, name=ts.NAME, out=out, resume=resume,
                        progress=progress, block_models=block, record_weights=record_weights)


def _team_shape(n_hidden: int) -> tuple[int, int]:
    """(team, rows): threads per model (a power of two ≤ 32) and rows of W per thread (2-3 when possible).

    Two rows per thread let one load of h_k feed two multiply-adds (loads, not
    arithmetic, would otherwise bound the kernel), and keep 2·n_mid weights in
    registers (64 for paper 4's n_mid = 32).
    """
    team = 1
    while team < 32 and team * 4 <= n_hidden:
        team *= 2
    rows = -(-n_hidden // team)
    return team, rows


@functools.lru_cache(maxsize=None)
def _phase_kernel(n_mid: int, n_hidden: int, bs: int, team: int, rows: int, tpb: int):
    """SGD on W of y = Z tanh(W h) (phase_network._advance), one team of ``team`` threads per model."""
    _cuda()
    from numba import float64

    teams = tpb // team
    bc = min(bs, 8)  # samples whose partial outputs share one barrier
    NR = rows * n_mid

    @cuda.jit
    def kernel(H, y, Z, W, step, diverged, loss_out, n_steps, lr, limit):
        tid = cuda.threadIdx.x
        t_id = tid // team
        lane = tid - t_id * team
        base = t_id * team
        m = cuda.blockIdx.x * teams + t_id
        models = W.shape[0]
        size = H.shape[1]
        batches = size // bs
        part = cuda.shared.array((2, bc, tpb), float64)
        w = cuda.local.array(NR, float64)
        z = cuda.local.array(rows, float64)
        u = cuda.local.array(rows, float64)
        d = cuda.local.array(bs * rows, float64)
        live = m < models
        if live:
            live = diverged[m] == 0
        was_live = live
        st = 0
        if m < models:
            st = step[m]
        for r in range(rows):
            j = lane * rows + r
            if live and j < n_hidden:
                z[r] = Z[m, j]
                for k in range(n_mid):
                    w[r * n_mid + k] = W[m, j, k]
            else:
                z[r] = 0.0
                for k in range(n_mid):
                    w[r * n_mid + k] = 0.0
        total = 0.0
        div = 0
        par = 0
        iters = max(n_steps, 1)
        for it in range(iters):
            start = (st % batches) * bs
            batch_loss = 0.0
            for b0 in range(0, bs, bc):
                # Forward pass of up to bc samples with the old W; the team's partial outputs to shared memory.
                for bb in range(bc):
                    b = b0 + bb
                    p = 0.0
                    if live and b < bs:
                        for r in range(rows):
                            u[r] = 0.0
                        for k in range(n_mid):
                            hk = H[m, start + b, k]
                            for r in range(rows):
                                u[r] += w[r * n_mid + k] * hk
                        for r in range(rows):
                            t = math.tanh(u[r])
                            d[b * rows + r] = z[r] * (1.0 - t * t)
                            p += z[r] * t
                    part[par, bb, tid] = p
                cuda.syncthreads()
                if live:
                    for bb in range(bc):
                        b = b0 + bb
                        if b < bs:
                            yhat = 0.0
                            for lidx in range(team):  # fixed order: the whole team gets the same bits
                                yhat += part[par, bb, base + lidx]
                            e = yhat - y[m, start + b]
                            batch_loss += e * e
                            for r in range(rows):
                                d[b * rows + r] *= e
                par = 1 - par  # double buffer: the next group writes the other half, one barrier each
            if live:
                batch_loss /= bs
                total += batch_loss
                if n_steps == 0:  # loss of the next batch only, no update
                    pass
                elif not (batch_loss <= limit):  # also catches NaN
                    div = st + 1
                    live = False
                else:
                    c = 2.0 * lr[m] / bs  # d(e²)/de = 2e
                    for b in range(bs):
                        for k in range(n_mid):
                            hk = H[m, start + b, k]
                            for r in range(rows):
                                w[r * n_mid + k] -= (c * d[b * rows + r]) * hk
                    st += 1
        if m < models:
            if was_live:
                for r in range(rows):
                    j = lane * rows + r
                    if j < n_hidden:
                        for k in range(n_mid):
                            W[m, j, k] = w[r * n_mid + k]
            if lane == 0:
                if was_live:
                    step[m] = st
                    diverged[m] = div
                    loss_out[m] = total / iters if div == 0 else math.nan
                else:
                    loss_out[m] = math.nan

    return kernel


def _phase_advance(data, state, gens, n_steps, params):
    """``advance`` of :mod:`coulombgas.training._loop` running phase_network's update on the device."""
    _cuda()
    dev = data.get("_cuda")
    W = state["W"]
    models, n_hidden, n_mid = W.shape
    if dev is None:
        dev = {"H": cuda.to_device(np.ascontiguousarray(data["H"])),
               "y": cuda.to_device(np.ascontiguousarray(data["y"])),
               "Z": cuda.to_device(np.ascontiguousarray(data["Z"])),
               "lr": cuda.to_device(np.full(models, float(params["lr"])))}
        data["_cuda"] = dev
    bs = int(params["batch_size"])
    team, rows = _team_shape(n_hidden)
    tpb = max(team, _threads(128, 32))
    kernel = _phase_kernel(n_mid, n_hidden, bs, team, rows, tpb)
    Wd = cuda.to_device(np.ascontiguousarray(W))
    step = cuda.to_device(state["step"])
    div = cuda.to_device(state["diverged"])
    loss = cuda.device_array(models, dtype=np.float64)
    teams = tpb // team
    with _quiet():
        kernel[(models + teams - 1) // teams, tpb](dev["H"], dev["y"], dev["Z"], Wd, step, div, loss, int(n_steps),
                                                   dev["lr"], float(params["divergence_loss"]))
        W[...] = Wd.copy_to_host()
        state["step"][...] = step.copy_to_host()
        state["diverged"][...] = div.copy_to_host()
        return loss.copy_to_host()


def phase_network_cuda(*, lr: float = 2.0**-3, sigma_w: float = 1.0, batch_size: int = 4, models: int = 10,
                       steps: int = 100_000, record_every: int = 1000, seed=0, n_in: int = 3, n_mid: int = 32,
                       n_hidden: int = 16, epoch_batches: int = 1000, divergence_loss: float = 100.0, out=None,
                       resume: bool = False, progress: bool | None = None, record_weights: bool = True,
                       block_models: int | None = None, fallback: bool = False):
    """:func:`coulombgas.training.phase_network` with the SGD updates on the GPU.

    Same arguments and the same :class:`~coulombgas.training.harvest.Harvest`
    (to rounding: ŷ is summed in a different order, and tanh is CUDA's): teachers,
    datasets, features h = tanh(M x) and initial weights come from the model's
    ``init`` on the host, from the same streams. ``block_models`` and ``fallback``
    as for :func:`teacher_student_cuda`.
    """
    pn = importlib.import_module("coulombgas.training.phase_network")
    from .training._loop import run_ensemble

    kw = dict(lr=lr, sigma_w=sigma_w, batch_size=batch_size, models=models, steps=steps,
              record_every=record_every, seed=seed, n_in=n_in, n_mid=n_mid, n_hidden=n_hidden,
              epoch_batches=epoch_batches, divergence_loss=divergence_loss, out=out, resume=resume,
              progress=progress, record_weights=record_weights)
    params, models, steps, record_every = pn.validated(lr, sigma_w, batch_size, models, steps, record_every, n_in,
                                                       n_mid, n_hidden, epoch_batches, divergence_loss)
    batch_size, epoch_batches, n_mid, n_hidden = (params[k] for k in ("batch_size", "epoch_batches", "n_mid",
                                                                       "n_hidden"))
    if not require("cuda", fallback=fallback):
        return pn.phase_network(**kw)
    per_model = 8 * batch_size * epoch_batches * (n_mid + 1) + 8 * n_hidden * (n_mid + 1)
    block = _block_models(block_models, per_model, models)
    return run_ensemble(pn.init, _phase_advance, pn.GRAM, params, models=models, steps=steps,
                        record_every=record_every, seed=seed, name=pn.NAME, out=out, resume=resume,
                        progress=progress, block_models=block, record_weights=record_weights)


# ------------------------------------------------------------------ Gaussian RBM

#: Largest per-thread working set of :func:`gaussian_rbm_cuda` (W, the chains, h, two n × n scratch
#: matrices; float64 values): one thread holds one model, in local memory.
RBM_MAX_VALUES = 8192


@functools.lru_cache(maxsize=None)
def _rbm_kernel(n: int, nh: int, bs: int, tpb: int):
    """rbm._advance, one thread per model, drawing the model's xoshiro256++ stream in the CPU's order.

    One thread per model (not a team per chain) because the CPU draws every model's
    Gibbs noise from one sequential stream, and a ziggurat draw uses a variable
    number of 64-bit words: only one thread can reproduce it. Arrays are flat,
    row-major: w[a·n + i] (W), p[i·bs + b] (chains, site-major as on the CPU),
    h[a·bs + b]; the ziggurat tables and K_φ⁻¹ are copied to shared memory.
    """
    _cuda()
    from numba import float64, int64, uint64

    NW, NP, NH, NN = nh * n, n * bs, nh * bs, n * n
    LAYERS = 256

    @cuda.jit(device=True)
    def next_u64(s):
        """xoshiro256++ (rbm._next_u64): the next 64 bits; advances the local state ``s``."""
        s0 = s[0]
        s1 = s[1]
        s2 = s[2]
        s3 = s[3]
        t = s0 + s3
        out = ((t << uint64(23)) | (t >> uint64(41))) + s0
        t = s1 << uint64(17)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << uint64(45)) | (s3 >> uint64(19))
        s[0] = s0
        s[1] = s1
        s[2] = s2
        s[3] = s3
        return out

    @cuda.jit(device=True)
    def uniform(s):
        return float64(next_u64(s) >> uint64(11)) * (1.0 / 9007199254740992.0)

    @cuda.jit(device=True)
    def normal(s, zw, zk, zf, r):
        """One standard normal by rbm's ziggurat (rbm._fill_normals and rbm._normal_edge), same bits used."""
        while True:  # a fresh try each time round
            u = next_u64(s)
            i = int64(u & uint64(0xFF))
            negative = ((u >> uint64(8)) & uint64(1)) != 0
            j = u >> uint64(12)
            z = float64(j) * zw[i]
            if negative:
                z = -z
            if j < zk[i]:
                return z
            if i == 0:  # the tail |z| > r
                while True:
                    a = -math.log(1.0 - uniform(s)) / r
                    b = -math.log(1.0 - uniform(s))
                    if b + b > a * a:
                        return -(r + a) if negative else r + a
            if zf[i] + uniform(s) * (zf[i + 1] - zf[i]) < math.exp(-0.5 * z * z):
                return z

    @cuda.jit(device=True)
    def kl_divergence(w, A, kinv, mu2, s2, logdet_k):
        """rbm._kl: KL(p_t ‖ p_W) with A = μ² − σ_h²WᵀW factored in place; inf if A is not positive definite."""
        for i in range(NN):
            A[i] = 0.0
        for a in range(nh):
            for i in range(n):
                c = -s2 * w[a * n + i]
                for j in range(n):
                    A[i * n + j] += c * w[a * n + j]
        tr = 0.0
        for i in range(n):
            A[i * n + i] += mu2
            for j in range(n):
                tr += A[i * n + j] * kinv[i * n + j]
        det = 1.0
        logdet = 0.0
        for j in range(n):
            d = A[j * n + j]
            for k in range(j):
                d -= A[j * n + k] * A[j * n + k]
            if not (d > 0.0):
                return math.inf
            det *= d
            if det < 1e-200 or det > 1e200:
                logdet += math.log(det)
                det = 1.0
            inv = 1.0 / math.sqrt(d)
            for i in range(j + 1, n):
                acc = A[i * n + j]
                for k in range(j):
                    acc -= A[i * n + k] * A[j * n + k]
                A[i * n + j] = acc * inv
        logdet += math.log(det)
        return 0.5 * (tr - n - logdet + logdet_k)

    @cuda.jit
    def kernel(W, phi, rng, step, diverged, loss_out, n_steps, lr, mu2, sigma_h, sweeps, kinv_g, logdet_k, limit,
               zw_g, zk_g, zf_g, zr):
        zw = cuda.shared.array(LAYERS, float64)
        zk = cuda.shared.array(LAYERS, uint64)
        zf = cuda.shared.array(LAYERS + 1, float64)
        kinv = cuda.shared.array(NN, float64)
        t = cuda.threadIdx.x
        for k in range(t, LAYERS + 1, tpb):
            if k < LAYERS:
                zw[k] = zw_g[k]
                zk[k] = zk_g[k]
            zf[k] = zf_g[k]
        for k in range(t, NN, tpb):
            kinv[k] = kinv_g[k]
        cuda.syncthreads()
        m = cuda.grid(1)
        if m >= W.shape[0]:
            return
        if diverged[m] != 0:
            loss_out[m] = math.nan
            return
        s = cuda.local.array(4, uint64)
        w = cuda.local.array(NW, float64)
        p = cuda.local.array(NP, float64)
        h = cuda.local.array(NH, float64)
        d = cuda.local.array(NN, float64)
        A = cuda.local.array(NN, float64)
        row = cuda.local.array(n, float64)
        for k in range(4):
            s[k] = rng[m, k]
        for a in range(nh):
            for i in range(n):
                w[a * n + i] = W[m, a, i]
        for b in range(bs):
            for i in range(n):
                p[i * bs + b] = phi[m, b, i]
        s2 = sigma_h * sigma_h
        inv_mu = 1.0 / math.sqrt(mu2)
        scale = lr * s2
        inv_bs = 1.0 / bs
        st = step[m]
        div = 0
        kl = kl_divergence(w, A, kinv, mu2, s2, logdet_k)
        for it in range(n_steps):
            if not (kl <= limit):  # also catches NaN and a non-normalisable model (inf)
                div = st + 1
                break
            for sweep in range(sweeps):
                # h | φ ~ N(σ_h² W φ, σ_h²): noise in (chain, hidden unit) order, as on the CPU.
                for b in range(bs):
                    for a in range(nh):
                        h[a * bs + b] = sigma_h * normal(s, zw, zk, zf, zr)
                for a in range(nh):
                    for i in range(n):
                        c = s2 * w[a * n + i]
                        for b in range(bs):
                            h[a * bs + b] += c * p[i * bs + b]
                # φ | h ~ N(Wᵀh/μ², 1/μ²): noise in (chain, site) order.
                for b in range(bs):
                    for i in range(n):
                        p[i * bs + b] = inv_mu * normal(s, zw, zk, zf, zr)
                for a in range(nh):
                    for i in range(n):
                        c = w[a * n + i] / mu2
                        for b in range(bs):
                            p[i * bs + b] += c * h[a * bs + b]
            # D = K⁻¹ − (1/|B|) Σ_b φ_b φ_bᵀ, then W ← W + α σ_h² W D.
            for i in range(n):
                for j in range(i, n):
                    acc = 0.0
                    for b in range(bs):
                        acc += p[i * bs + b] * p[j * bs + b]
                    d[i * n + j] = kinv[i * n + j] - acc * inv_bs
                    d[j * n + i] = d[i * n + j]
            for a in range(nh):
                for j in range(n):
                    acc = 0.0
                    for i in range(n):
                        acc += w[a * n + i] * d[j * n + i]
                    row[j] = acc
                for j in range(n):
                    w[a * n + j] += scale * row[j]
            st += 1
            kl = kl_divergence(w, A, kinv, mu2, s2, logdet_k)
        if div == 0 and not (kl <= limit):
            div = st + 1
        for a in range(nh):
            for i in range(n):
                W[m, a, i] = w[a * n + i]
        for b in range(bs):
            for i in range(n):
                phi[m, b, i] = p[i * bs + b]
        for k in range(4):
            rng[m, k] = s[k]
        step[m] = st
        diverged[m] = div
        loss_out[m] = kl if div == 0 else math.nan

    return kernel


def _rbm_advance(data, state, gens, n_steps, params):
    """``advance`` of :mod:`coulombgas.training._loop` running gaussian_rbm's update on the device."""
    _cuda()
    rbm = importlib.import_module("coulombgas.training.rbm")
    dev = data.get("_cuda")
    if dev is None:  # the target and the ziggurat tables go to the device once per block
        kinv, logdet_k = rbm._target(params)
        dev = {"kinv": cuda.to_device(np.ascontiguousarray(kinv.ravel())), "logdet_k": logdet_k,
               "zw": cuda.to_device(rbm._ZIG_W), "zk": cuda.to_device(rbm._ZIG_K), "zf": cuda.to_device(rbm._ZIG_F)}
        data["_cuda"] = dev
    W, phi, rng = state["W"], state["phi"], state["rng"]
    models, nh, n = W.shape
    bs = phi.shape[1]
    tpb = _threads(64, 8)
    kernel = _rbm_kernel(n, nh, bs, tpb)
    Wd, phid, rngd = (cuda.to_device(np.ascontiguousarray(a)) for a in (W, phi, rng))
    step = cuda.to_device(state["step"])
    div = cuda.to_device(state["diverged"])
    loss = cuda.device_array(models, dtype=np.float64)
    with _quiet():
        kernel[(models + tpb - 1) // tpb, tpb](
            Wd, phid, rngd, step, div, loss, int(n_steps), float(params["lr"]), float(params["mu2"]),
            float(params["sigma_h"]), int(params["gibbs_steps"]), dev["kinv"], float(dev["logdet_k"]),
            float(params["divergence_loss"]), dev["zw"], dev["zk"], dev["zf"], float(rbm._ZIG_R))
        W[...] = Wd.copy_to_host()
        phi[...] = phid.copy_to_host()
        rng[...] = rngd.copy_to_host()
        state["step"][...] = step.copy_to_host()
        state["diverged"][...] = div.copy_to_host()
        return loss.copy_to_host()


def gaussian_rbm_cuda(*, n: int = 10, n_hidden: int = 10, mu2: float = 9.0, sigma_h: float = 1.0, m2: float = 4.0,
                      lr: float = 0.1, batch_size: int = 16, gibbs_steps: int = 3, models: int = 7500,
                      steps: int = 100_000, record_every: int = 1000, seed=0, init_std: float = 0.1,
                      divergence_loss: float = 100.0, out=None, resume: bool = False, progress: bool | None = None,
                      record_weights: bool = True, block_models: int | None = None, fallback: bool = False):
    """:func:`coulombgas.training.gaussian_rbm` with the persistent-chain updates on the GPU.

    Same arguments and the same :class:`~coulombgas.training.harvest.Harvest` (to
    rounding): initial weights, chains and each model's Gibbs generator come from the
    model's ``init`` on the host, and the device draws every model's Gibbs noise from
    that generator in the CPU's order (one thread per model). The working set of one
    model, n_h·n + |B|(n + n_h) + 2n² + n values, must stay within
    :data:`RBM_MAX_VALUES`. ``block_models`` and ``fallback`` as for
    :func:`teacher_student_cuda`.
    """
    rbm = importlib.import_module("coulombgas.training.rbm")
    from .training._loop import run_ensemble

    kw = dict(n=n, n_hidden=n_hidden, mu2=mu2, sigma_h=sigma_h, m2=m2, lr=lr, batch_size=batch_size,
              gibbs_steps=gibbs_steps, models=models, steps=steps, record_every=record_every, seed=seed,
              init_std=init_std, divergence_loss=divergence_loss, out=out, resume=resume, progress=progress,
              record_weights=record_weights)
    params, models, steps, record_every = rbm.validated(n, n_hidden, mu2, sigma_h, m2, lr, batch_size, gibbs_steps,
                                                        models, steps, record_every, init_std, divergence_loss)
    n, nh, bs = params["n"], params["n_hidden"], params["batch_size"]
    values = nh * n + bs * (n + nh) + 2 * n * n + n
    if values > RBM_MAX_VALUES:
        raise ValueError(f"`n`, `n_hidden` and `batch_size` must keep n_h·n + |B|(n + n_h) + 2n² + n <= "
                         f"{RBM_MAX_VALUES} (one GPU thread holds one model), got {values}")
    if not require("cuda", fallback=fallback):
        return rbm.gaussian_rbm(**kw)
    block = _block_models(block_models, 8 * (nh * n + bs * n + 4 + 3), models)
    return run_ensemble(rbm.init, _rbm_advance, rbm.GRAM, params, models=models, steps=steps,
                        record_every=record_every, seed=seed, name=rbm.NAME, out=out, resume=resume,
                        progress=progress, block_models=block, record_weights=record_weights)
