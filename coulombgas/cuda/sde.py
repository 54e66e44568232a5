"""Replica ensembles of the eigenvalue SDE on the GPU: one thread per replica.

The CUDA twin of the CPU integrators of :mod:`coulombgas._sde` for the canonical SDE

    dx_i = [a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j)] dt + s_i dW_i,     K_i = −V_i′,

with the adaptive schemes (a step is accepted only when every gap changes by at most
``max_gap_factor``; a rejected step is halved and its Brownian increment split by a Brownian
bridge from the same stream; at depth ``max_refinements`` a collapsing pair takes a
drift-implicit step) and plain Euler–Maruyama (which stops when two eigenvalues cross).
:func:`integrate` takes validated plain arrays and returns plain arrays; validation, the
plan of steps and records, and the result object belong to :func:`coulombgas.simulate`.

Layout: one thread per replica; the n positions, drifts and trial states are thread-local
arrays of compile-time size n (fully unrolled loops, so they can live in registers), the
random stream is xoroshiro128+ held in two registers, and a whole chunk of steps runs inside
one launch; records are written with the replica index fastest (coalesced). Euler–Maruyama has
its own fixed-step loop; the adaptive schemes carry their stack of Brownian-bridge sub-steps
(indexed at run time, so in local memory).

Randomness: xoroshiro128+ streams (the generator of :mod:`numba.cuda.random`, same state
layout), one per replica, initialised like :func:`numba.cuda.random.init_xoroshiro128p_states`
(SplitMix64 of one 64-bit seed, then successive 2⁶⁴-step jumps: non-overlapping streams) with
the seed drawn from the caller's :class:`numpy.random.SeedSequence`. Normals come from
Box–Muller on two 53-bit uniforms, both outputs used; numba's own
``xoroshiro128p_normal_float64`` is not used because it builds them from float32 uniforms,
which reach 0 with probability 2⁻²⁴ (log 0 = −inf) — at 10¹⁰ draws a certainty. So a GPU run
is reproducible for a given seed, but its random numbers differ from the CPU path's (NumPy
PCG64): the two agree in law, not path by path.

References
----------
D. Blackman, S. Vigna, "Scrambled linear pseudorandom number generators", arXiv:1805.01407 (xoroshiro128+);
G. E. P. Box, M. E. Muller, Ann. Math. Stat. 29, 610 (1958);
P. E. Kloeden, E. Platen, Numerical Solution of Stochastic Differential Equations (1992), §14.1, §15.1;
J. G. Gaines, T. J. Lyons, SIAM J. Appl. Math. 57, 1455 (1997) (Brownian-bridge step control).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import _sde
from .._jit import njit
from .._status import CROSSED, DIVERGED, OK, TOO_MANY_REFINEMENTS
from ..potentials import LAGUERRE
from . import device

__all__ = ["integrate", "SCHEMES", "MAX_N", "RNG", "N_COUNTS", "device_states", "rng_functions", "sde_kernel"]

#: Schemes with a CUDA kernel, and their codes (the codes of coulombgas.dynamics.SCHEMES).
SCHEMES = {"adaptive-heun": 0, "adaptive-euler": 1, "euler-maruyama": 2}
#: Largest gas the kernel integrates (one thread per replica holds the whole state).
MAX_N = 64
#: The random generator, for the result's diagnostics.
RNG = "xoroshiro128+ (Box-Muller)"
#: Columns of ``counts`` (the CPU layout): accepted, rejected, status, failed step, implicit steps,
#: Newton iterations (always 0 here).
N_COUNTS = 6

# numba.cuda, bound by device.load() on first use (module docstring of .device).
cuda = None


def _load():
    global cuda
    cuda = device.load()
    return cuda

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


def device_states(seed_sequence, count):
    """Host array of ``count`` xoroshiro128+ states (numba.cuda.random's dtype) from a SeedSequence."""
    from numba.cuda.random import xoroshiro128p_dtype

    seed = np.uint64(seed_sequence.generate_state(1, np.uint64)[0])
    raw = np.empty((count, 2), dtype=np.uint64)
    _seed_states(seed, count, raw)
    states = np.empty(count, dtype=xoroshiro128p_dtype)
    states["s0"], states["s1"] = raw[:, 0], raw[:, 1]
    return states


@functools.lru_cache(maxsize=None)
def rng_functions():
    """Device functions of the in-register xoroshiro128+ stream and Box–Muller normals."""
    _load()
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


@functools.lru_cache(maxsize=None)
def step_control():
    """``(check_step, check_order, implicit_pair_step)``: the device twins of the CPU's kernels.

    The same sources as :mod:`coulombgas._sde` (``_check_step``, ``_check_order``,
    ``_implicit_pair_step`` with the ``_positive_root`` it calls), so the two
    devices accept, reject and split the same steps.
    """
    _load()
    return (device.device_twin(_sde._check_step), device.device_twin(_sde._check_order),
            device.device_twin(_sde._implicit_pair_step))


@functools.lru_cache(maxsize=None)
def sde_kernel(N: int, M: int, kind: int, scheme: int, depth: int):
    """One thread per replica; N eigenvalues, M potential coefficients, fixed scheme and depth (compile-time)."""
    _load()
    from numba import float64, int64

    _, normal_pair = rng_functions()
    S = depth + 2  # stack entries: each split pushes two and pops one
    # Array sizes must be compile-time literals: products are formed here, not in the kernel.
    NM, SN = N * M, S * N
    EM, HEUN = 2, 0

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

    # Step control and the implicit pair step: the CPU's own kernels, compiled for the device.
    check_step, check_order, implicit_pair_step = step_control()

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
        pl = cuda.local.array(NM, float64)
        stack_dw = cuda.local.array(SN, float64)
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



def integrate(x, kind, params, lower, a, c, w, s, scheme, dt, n_steps, record_every, max_gap_factor,
              max_refinements, seed, chunk_records=None):
    """Integrate the SDE for every replica on the device; validated plain inputs, plain outputs.

    Parameters
    ----------
    x : ndarray, shape (replicas, n), float64
        Initial states, strictly increasing along the last axis, inside the domain (x > ``lower``);
        n ≤ :data:`MAX_N`.
    kind, params, lower, a, c, w, s
        The gas in kernel form (:meth:`coulombgas.gas.CoulombGas.kernel_arrays`): potential kind
        (a built-in one: polynomial or Laguerre), coefficients (n, M), the domain's lower edge,
        drift scale a, Coulomb scale c, weights w (n,) and noise amplitudes s (n,).
    scheme : {"adaptive-heun", "adaptive-euler", "euler-maruyama"}
    dt : float
        The (equal) step; ``n_steps`` steps in all.
    n_steps, record_every : int
        Records are taken every ``record_every`` steps, plus one at the last step when
        ``record_every`` does not divide ``n_steps`` (the times of ``coulombgas.simulate``).
    max_gap_factor, max_refinements
        Step control of the adaptive schemes (> 1; 1..60).
    seed : numpy.random.SeedSequence
        The run's seed: one 64-bit word of it seeds the replicas' xoroshiro128+ streams.
    chunk_records : int, optional
        Records per kernel launch (the device record buffer; default about 256 MB).

    Returns
    -------
    records : ndarray, shape (replicas, n_records, n)
        Record 0 is ``x``; n_records = ⌊n_steps/record_every⌋ + 1 (+1 for a remainder).
        After a failure, the records past the failing launch are NaN.
    x : ndarray, shape (replicas, n)
        The final states.
    counts : ndarray, shape (replicas, 6), int64
        The CPU layout (:data:`N_COUNTS`): accepted steps, rejected steps, status (a code of
        :mod:`coulombgas._status`), the step at which the status was set (counted from the
        start of the run, so the time is ``counts[r, 3] * dt``), implicit pair steps, 0.
        Launches stop after the first one in which a replica fails.
    gaps : ndarray, shape (replicas,)
        Each replica's smallest gap (or distance to ``lower``) over all steps.
    """
    _load()
    x = np.ascontiguousarray(x, dtype=np.float64)
    replicas, n = x.shape
    full = n_steps // record_every
    n_records = full + 1 + (n_steps % record_every > 0)
    if chunk_records is None:
        chunk_records = max(1, int(32e6 // max(1, replicas * n)))
    kernel = sde_kernel(n, int(params.shape[1]), int(kind), SCHEMES[scheme], int(max_refinements))
    gaps0 = np.min(np.diff(x, axis=-1), axis=-1) if n > 1 else np.full(replicas, math.inf)
    if lower > -math.inf:
        gaps0 = np.minimum(gaps0, x[:, 0] - lower)
    wall = float(params[0, 2]) if kind == LAGUERRE else 0.0  # strength of the Laguerre log wall
    d = {
        "x": cuda.to_device(np.ascontiguousarray(x.T)),  # (n, replicas): replica fastest
        "states": cuda.to_device(device_states(seed, replicas)),
        "spare": cuda.to_device(np.zeros(replicas)),
        "has_spare": cuda.to_device(np.zeros(replicas, dtype=np.int64)),
        "counts": cuda.to_device(np.zeros((5, replicas), dtype=np.int64)),
        "gaps": cuda.to_device(np.ascontiguousarray(gaps0, dtype=np.float64)),
        "params": cuda.to_device(np.ascontiguousarray(params, dtype=np.float64)),
        "w": cuda.to_device(np.ascontiguousarray(w, dtype=np.float64)),
        "s": cuda.to_device(np.ascontiguousarray(s, dtype=np.float64)),
    }
    records = np.full((replicas, n_records, n), np.nan)
    records[:, 0, :] = x
    counts = np.zeros((replicas, N_COUNTS), dtype=np.int64)
    tpb = device.threads(64)
    blocks = (replicas + tpb - 1) // tpb
    done = 0
    with device.quiet():
        while done < n_records - 1:
            if done < full:
                todo, per = min(chunk_records, full - done), record_every
            else:  # the last, shorter interval ends exactly at the last step
                todo, per = 1, n_steps - full * record_every
            rec = cuda.device_array((todo, n, replicas), dtype=np.float64)
            kernel[blocks, tpb](d["x"], d["states"], d["spare"], d["has_spare"], rec, todo * per, float(dt),
                                per, d["params"], float(lower), float(a), float(c), d["w"], d["s"],
                                float(max_gap_factor), d["counts"], d["gaps"], wall)
            before = counts[:, 2] != OK
            counts[:, :5] = d["counts"].copy_to_host().T
            # The kernel counts the failing step from the launch's first step: make it absolute.
            new = (counts[:, 2] != OK) & ~before
            counts[new, 3] += min(done, full) * record_every
            records[:, done + 1: done + 1 + todo, :] = rec.copy_to_host().transpose(2, 0, 1)
            done += todo
            if np.any(counts[:, 2] != OK):
                break
        final = np.ascontiguousarray(d["x"].copy_to_host().T)
        gaps = d["gaps"].copy_to_host()
    return records, final, counts, gaps
