"""Benchmark of the Coulomb force kernels against a plain NumPy broadcast, side by side in one process.

``bench_forces()`` returns a JSON-serialisable dict; ``format_table(result)``
renders it as plain text. Timings are medians over ``repeats`` warm calls; the
first call of each kernel (compilation, or loading from Numba's cache) is
reported separately.
"""

from __future__ import annotations

import platform
import time

import numba
import numpy as np
from numba import prange

from .. import _fmm, _pairs, forces
from .._jit import njit
from . import machine, median_time

__all__ = ["bench_forces", "format_table", "numpy_force"]


def numpy_force(x, w):
    """The plain NumPy version: an (n, n) matrix of 1/(x_i - x_j), diagonal masked, times w."""
    d = x[:, None] - x[None, :]
    np.fill_diagonal(d, np.inf)
    return (1.0 / d) @ w


@njit(parallel=True)
def _direct_force_at(x, w, targets, out):
    """out[k] = Σ_{j≠i} w_j/(x_i - x_j) for i = targets[k] (exact check of the FMM at large n)."""
    for k in prange(targets.shape[0]):
        i = targets[k]
        xi = x[i]
        s = 0.0
        for j in range(x.shape[0]):
            if j != i:
                s += w[j] / (xi - x[j])
        out[k] = s


@njit(parallel=True)
def _replica_loop(xs, w, out):
    """The integrators' pattern: the serial kernel inside a prange over replicas."""
    for r in prange(xs.shape[0]):
        _pairs.direct_force(xs[r], w, out[r])


def _semicircle(n, rng):
    """Eigenvalue-like points: jittered quantiles of the Wigner semicircle on [-2, 2].

    Rigid (no close pairs, like a Coulomb gas) rather than independent draws:
    nothing inflates max|F|, so this is the harder case for the error measure.
    """
    t = np.linspace(-2.0, 2.0, 200_001)
    cdf = 0.5 + (t * np.sqrt(4.0 - t * t) / 4.0 + 2.0 * np.arcsin(t / 2.0)) / (2.0 * np.pi)
    return np.interp((np.arange(n) + rng.uniform(0.3, 0.7, n)) / n, cdf, t)


def _clustered(n, rng):
    """Sorted points in five clusters of width 1e-6, O(1) apart, unequal populations.

    Points are jittered on a regular grid inside each cluster: independent
    uniform points would collide in floating point at n ~ 1e5.
    """
    sizes = rng.multinomial(n, [0.1, 0.4, 0.2, 0.2, 0.1])
    parts = [c + 1e-6 * (np.arange(m) + rng.uniform(0.1, 0.9, m)) / m
             for c, m in zip((-3.0, -1.0, 0.5, 2.0, 7.0), sizes)]
    return np.concatenate(parts)


def _timed(fn, repeats, warmup_s=0.05):
    """(seconds of the first call, median seconds of ``repeats`` further calls).

    Before timing, ``fn`` runs for about ``warmup_s``: on a shared VM an idle
    second vCPU takes milliseconds to be scheduled again, which would
    otherwise land in the first parallel timings.
    """
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if not repeats:
        return first, None
    end = time.perf_counter() + warmup_s
    while time.perf_counter() < end:
        fn()
    return first, median_time(fn, repeats)


def _error(force, ref, scale):
    """Max |F - F_ref| / scale, and the per-point relative error where |F_ref| > 1e-3 scale."""
    diff = np.abs(force - ref)
    big = np.abs(ref) > 1e-3 * scale
    rel = float(np.max(diff[big] / np.abs(ref[big]))) if np.any(big) else 0.0
    return float(np.max(diff) / scale), rel


def _machine():
    return {**machine(), "machine": platform.machine(), "threads": numba.get_num_threads()}


def bench_forces(sizes=(1000, 4000), repeats=7, fast_sizes=(10**5, 10**6),
                 crossover_sizes=(300, 500, 700, 1000, 1500, 2000, 3000), replica_sizes=(4, 32, 100),
                 tol=1e-10, seed=0) -> dict:
    """Time the Coulomb force methods side by side and check the fast method's error.

    Parameters
    ----------
    sizes : sequence of int
        N for the NumPy / direct serial / direct parallel / fast comparison
        (the error reference is the parallel direct sum).
    repeats : int
        Warm calls per timing; the median is reported (large N use fewer).
    fast_sizes : sequence of int
        N for the fast method alone; its error is checked against direct sums
        at 1000 random target points (a full direct sum at N = 1e6 would cost
        ~1e12 pair evaluations).
    crossover_sizes : sequence of int
        N at which the parallel direct sum and the fast method are raced to
        locate the crossover used by ``method="auto"``.
    replica_sizes : sequence of int
        Small N for the serial kernel inside a compiled prange over replicas
        (the integrators' pattern).
    tol : float
        Requested accuracy of the fast method.
    seed : int
        Seed for the test points (semicircle- and cluster-distributed).

    Returns
    -------
    dict
        ``machine`` (CPU, AVX-512, threads, versions), ``first_call_s`` (per
        kernel: compile or cache-load time), ``rows`` (one dict per method and
        N: ``config, n, method, median_s, pairs_per_s, vs_numpy, max_error,
        rel_error``; for the fast method ``pairs_per_s`` is the equivalent
        rate n(n-1)/time), ``crossover`` (timings and the smallest N where the fast
        method won) and ``fast_order``. Errors use the measure of
        :func:`coulombgas.forces.coulomb_force`, max_i |F_i - F_i^direct| /
        max_j |F_j|, and ``rel_error`` is the per-point relative error where
        |F_i| > 1e-3 max|F|.
    """
    rng = np.random.default_rng(seed)
    order = _fmm.order_for_tol(tol)
    leaf = _fmm.LEAF_SIZE
    first_call = {}
    rows = []

    def fast(x, w, out):
        _fmm.fast_force(x, w, out, order, leaf)

    kernels = {
        "direct_serial": _pairs.direct_force,
        "direct_parallel": _pairs.direct_force_parallel,
        "fast": fast,
    }
    # First calls on a small problem: compile time (or cache load) per kernel.
    x0 = _semicircle(64, rng)
    w0 = np.ones(64)
    for name, kernel in kernels.items():
        first_call[name] = _timed(lambda: kernel(x0, w0, np.empty(64)), 0)[0]
    first_call["direct_at"] = _timed(lambda: _direct_force_at(x0, w0, np.arange(3), np.empty(3)), 0)[0]
    first_call["replica_loop"] = _timed(lambda: _replica_loop(x0[None, :8], w0[:8], np.empty((1, 8))), 0)[0]

    for n in sizes:
        x = _semicircle(n, rng)
        w = np.ones(n)
        pairs = n * (n - 1)
        reps = repeats if n <= 5000 else max(1, repeats // 3)
        ref = np.empty(n)
        _pairs.direct_force_parallel(x, w, ref)
        scale = float(np.max(np.abs(ref)))
        _, t_numpy = _timed(lambda: numpy_force(x, w), max(1, reps // 2))
        err, rel = _error(numpy_force(x, w), ref, scale)
        rows.append(dict(config="semicircle", n=n, method="numpy", median_s=t_numpy,
                         pairs_per_s=pairs / t_numpy, vs_numpy=1.0, max_error=err, rel_error=rel))
        for name, kernel in kernels.items():
            out = np.empty(n)
            _, t = _timed(lambda: kernel(x, w, out), reps)
            err, rel = _error(out, ref, scale)
            rows.append(dict(config="semicircle", n=n, method=name, median_s=t,
                             pairs_per_s=pairs / t, vs_numpy=t_numpy / t, max_error=err, rel_error=rel))

    for n in replica_sizes:
        replicas = max(16, 2_000_000 // (n * n))
        # Independent semicircle draws (a disc projection), sorted per replica.
        xs = np.sort(2.0 * np.sqrt(rng.random((replicas, n))) * np.cos(2.0 * np.pi * rng.random((replicas, n))),
                     axis=1)
        w = np.ones(n)
        out = np.empty_like(xs)
        _, t = _timed(lambda: _replica_loop(xs, w, out), repeats)
        rows.append(dict(config=f"semicircle x {replicas} replicas", n=n, method="direct_serial_replicas",
                         median_s=t / replicas, pairs_per_s=replicas * n * (n - 1) / t, vs_numpy=None,
                         max_error=None, rel_error=None))

    for n in fast_sizes:
        for config, make in (("semicircle", _semicircle), ("clustered", _clustered)):
            x = make(n, rng)
            w = np.ones(n)
            out = np.empty(n)
            _, t = _timed(lambda: fast(x, w, out), max(1, repeats // 2) if n < 10**6 else 3)
            targets = np.sort(rng.choice(n, size=min(n, 1000), replace=False))
            ref = np.empty(targets.size)
            _direct_force_at(x, w, targets, ref)
            # max|F| over all points from the FMM itself (it is accurate to ~tol).
            err, rel = _error(out[targets], ref, float(np.max(np.abs(out))))
            rows.append(dict(config=config, n=n, method="fast", median_s=t, pairs_per_s=n * (n - 1) / t,
                             vs_numpy=None, max_error=err, rel_error=rel, checked_points=int(targets.size)))

    # The public call with its defaults (validation, ascending check, coincidence check,
    # method="auto") beside the kernel rows above: the gap between them is the set-up cost.
    for n in tuple(sizes) + tuple(fast_sizes):
        x = _semicircle(n, rng)
        reps = repeats if n <= 10**5 else 3
        _, t = _timed(lambda: forces.coulomb_force(x), reps)
        rows.append(dict(config="semicircle", n=n, method="coulomb_force() whole call", median_s=t,
                         pairs_per_s=n * (n - 1) / t, vs_numpy=None, max_error=None, rel_error=None))
    peak = _peak_memory(max(tuple(sizes) + tuple(fast_sizes)))

    race = []
    crossover = None
    for n in crossover_sizes:
        x = _semicircle(n, rng)
        w = np.ones(n)
        out = np.empty(n)
        _, t_direct = _timed(lambda: _pairs.direct_force_parallel(x, w, out), repeats)
        _, t_fast = _timed(lambda: fast(x, w, out), repeats)
        race.append(dict(n=n, direct_parallel_s=t_direct, fast_s=t_fast))
        if crossover is None and t_fast < t_direct:
            crossover = n
    return dict(
        machine=_machine(),
        threading_layer=numba.threading_layer(),
        tol=tol,
        fast_order=order,
        leaf_size=leaf,
        repeats=repeats,
        first_call_s=first_call,
        rows=rows,
        peak_memory=peak,
        crossover=dict(measured=race, first_n_where_fast_wins=crossover,
                       module_constant=forces.FAST_CROSSOVER),
    )


_PEAK_SCRIPT = """
import sys
import numpy as np
def hwm():  # VmHWM: this process's peak resident set (Linux)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))
from coulombgas.forces import coulomb_force
n = int(sys.argv[1])
x = np.sqrt(2.0 * n) * np.sin(np.pi * (np.arange(n) + 0.5 - n / 2) / n)
coulomb_force(x[:64])
base = hwm()
coulomb_force(x)
print(base, hwm())
"""


def _peak_memory(n):
    """Peak resident memory of one ``coulomb_force`` call at n points, in a fresh interpreter (MiB)."""
    import subprocess
    import sys

    try:
        out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(n)], capture_output=True, text=True,
                             timeout=600, check=True).stdout.split()
        base, peak = int(out[-2]), int(out[-1])
        return {"n": n, "peak_rss_mib": peak / 1024, "before_call_mib": base / 1024,
                "call_mib": (peak - base) / 1024, "input_mib": 8 * n / 2**20}
    except Exception as exc:  # noqa: BLE001 - a failed measurement is reported, not raised
        return {"n": n, "status": f"failed: {type(exc).__name__}: {exc}"}


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def format_table(result) -> str:
    """Plain-text table of a :func:`bench_forces` result (returns the text; the caller prints it)."""
    m = result["machine"]
    lines = [
        f"Coulomb forces on {m.get('cpu')} ({m.get('cores', '?')} cores, AVX-512: {m.get('avx512')}), "
        f"{m['threads']} Numba threads ({result['threading_layer']}), numba {m['numba']}",
        f"fast method: tol {result['tol']:g} -> Chebyshev order {result['fast_order']}, "
        f"leaf size {result['leaf_size']}; medians of warm calls",
        "",
        f"{'config':<28}{'n':>9}  {'method':<24}{'median':>12}{'pairs/s':>11}{'vs numpy':>10}"
        f"{'max err':>10}{'rel err':>10}",
    ]
    for r in result["rows"]:
        t = r["median_s"]
        shown = f"{t * 1e3:.3f} ms" if t >= 1e-4 else f"{t * 1e9:.0f} ns"
        lines.append(
            f"{r['config']:<28}{r['n']:>9}  {r['method']:<24}{shown:>12}{r['pairs_per_s']:>11.3g}"
            f"{_fmt(r['vs_numpy'], '.1f'):>10}{_fmt(r['max_error'], '.1e'):>10}{_fmt(r['rel_error'], '.1e'):>10}"
        )
    lines.append("")
    lines.append("crossover (direct parallel vs fast):")
    for r in result["crossover"]["measured"]:
        lines.append(f"  n = {r['n']:>6}: direct {r['direct_parallel_s'] * 1e3:8.3f} ms   "
                     f"fast {r['fast_s'] * 1e3:8.3f} ms")
    c = result["crossover"]
    lines.append(f"  fast first wins at n = {c['first_n_where_fast_wins']}; "
                 f"FAST_CROSSOVER = {c['module_constant']}")
    p = result.get("peak_memory")
    if p:
        lines.append(f"peak memory of coulomb_force at n = {p['n']}: " + (
            p["status"] if "status" in p else
            f"{p['peak_rss_mib']:.0f} MiB (before the call {p['before_call_mib']:.0f} MiB; the call "
            f"{p['call_mib']:.0f} MiB for {p['input_mib']:.0f} MiB of input)"))
    lines.append("first call (compile or cache load): " + ", ".join(
        f"{k} {v:.2f} s" for k, v in result["first_call_s"].items()))
    return "\n".join(lines)
