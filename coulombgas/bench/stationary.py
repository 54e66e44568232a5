"""``coulombgas bench stationary``: exact β-ensemble sampling vs the alternatives, in one process.

Rows (medians of warm repeats, seconds per independent sample of n eigenvalues):

* ``coulombgas`` — :func:`coulombgas.tridiagonal.sample_exact` on
  ``CoulombGas.gaussian(n, beta=1)`` (random numbers, LAPACK solve, affine map);
* ``bare LAPACK`` — ``scipy.linalg.lapack.dsterf`` alone on pre-drawn matrices
  of the same model: the floor for any tridiagonal sampler (target: coulombgas
  within 1.2× of it);
* ``dense GOE`` — draw an n×n GOE matrix and ``numpy.linalg.eigvalsh`` it (O(n³),
  BLAS threads as configured); at the largest n it only runs when the n³
  extrapolation from the largest measured size is below 60 s, else the row
  says ``skipped (too slow)`` with that estimate;
* ``DPPy`` (``HermiteEnsemble(beta).sample_banded_model(size_N=n)``) and
  ``scikit-rmt`` (``GaussianEnsemble(beta, n, tridiagonal_form=True)`` then
  ``eigvals()``), when importable — they are *not* dependencies; otherwise the
  row says ``not installed``;
* the same comparison for the β-Laguerre model (``Laguerre`` gas, default
  solver dpteqr vs bare dpteqr).

Whole public calls (issue 13), beside the kernel figures above:

* ``sample(gaussian(n), 2)`` with defaults (validation, method choice, draws,
  LAPACK, result object; log P_s is not computed unless read) against bare
  ``dsterf`` on two pre-drawn matrices (target ≤ 1.2×);
* the default start ``CoulombGas.ground_state()`` (Hermite zeros: Golub–Welsch
  / Glaser–Liu–Rokhlin, O(n)) against numpy's ``hermroots`` (dense companion
  matrix, O(n³), the old default; run up to n = 1000) and scipy's Jacobi-matrix
  ``dsterf`` (O(n²), up to n = 1e4);
* ``CoulombGas.log_density`` (compiled O(n)-memory pair loop) against the NumPy
  ``triu_indices`` formula (O(n²) memory, run up to n = 3000);
* peak resident memory of ``sample(gaussian(n))``, ``ground_state`` at n = 1e6
  and ``log_density`` at n = 3e4, each in a fresh subprocess
  beside the same interpreter's footprint after ``import coulombgas`` (``VmHWM``).

The result is ``{"exact": [rows], "whole_call": [rows], "peak_memory": [rows],
"machine_note": str}``; the Markov-chain
benchmark adds its rows under ``"mcmc"`` (rendered generically by
:func:`format_table`).
"""

from __future__ import annotations

import os
import platform

import numpy as np
import scipy
from scipy.linalg import lapack

from ..samplers import tridiagonal
from ..gas import CoulombGas
from ..potentials import Laguerre
from . import machine, median_time

__all__ = ["bench_stationary", "format_table"]

DENSE_LIMIT_S = 60.0
TARGET = "<= 1.2x bare LAPACK"


def _cycling(fn, count):
    """A no-argument callable that applies ``fn`` to 0, 1, …, count−1, 0, … in turn."""
    state = {"i": 0}

    def call():
        fn(state["i"] % count)
        state["i"] += 1

    return call


def _row(model, n, method, seconds, *, status="ok", note="", **extra):
    return {"model": model, "n": int(n), "method": method, "status": status,
            "seconds": None if seconds is None else float(seconds), "note": note, **extra}


def _goe(n, rng):
    a = rng.standard_normal((n, n))
    return np.linalg.eigvalsh(0.5 * (a + a.T))


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001 - metadata missing: report unknown
        return "?"


def _dppy_row(n, beta, repeats, rng):
    try:
        from dppy.beta_ensembles import HermiteEnsemble
    except ImportError:
        return _row("hermite", n, "DPPy sample_banded_model", None, status="not installed",
                    note="pip install dppy (optional, not a dependency)")
    ens = HermiteEnsemble(beta=beta)
    state = np.random.RandomState(int(rng.integers(2**31)))  # DPPy takes a legacy RandomState

    def one():
        ens.sample_banded_model(size_N=n, random_state=state)
        ens.flush_samples()

    t = median_time(one, repeats, warm=True)
    return _row("hermite", n, "DPPy sample_banded_model", t,
                note=f"dppy {_version('dppy')}; scipy {scipy.__version__} "
                     "eigvalsh_tridiagonal default driver")


def _skrmt_row(n, beta, repeats):
    try:
        from skrmt.ensemble import GaussianEnsemble
    except ImportError:
        return _row("hermite", n, "scikit-rmt tridiagonal_form", None, status="not installed",
                    note="pip install scikit-rmt (pins numpy<=1.26, scipy<=1.12; optional)")
    version = _version("scikit-rmt")
    ens = GaussianEnsemble(beta=int(beta), n=n, tridiagonal_form=True, random_state=1)

    def one():
        ens.resample()
        return ens.eigvals()

    t = median_time(one, repeats, warm=True)
    return _row("hermite", n, "scikit-rmt tridiagonal_form", t,
                note=f"scikit-rmt {version}; builds a dense n×n array, Python loop over χ draws")


def _hermite_rows(n, repeats, dense_estimate, dense_limit=DENSE_LIMIT_S, beta=1.0):
    rng = np.random.default_rng(12345)
    gas = CoulombGas.gaussian(n, beta=beta)
    rows = []
    t_ours = median_time(lambda: tridiagonal.sample_exact(gas, 1, seed=rng), repeats, warm=True)
    # Fresh pre-drawn matrices for the bare solve too: the QL iteration count varies
    # from matrix to matrix, so timing one fixed matrix would bias the ratio.
    d, e = tridiagonal.hermite_entries(rng, n, beta, repeats + 1)
    t_bare = median_time(_cycling(lambda i: lapack.dsterf(d[i], e[i]), repeats + 1), repeats, warm=True)
    rows.append(_row("hermite", n, "coulombgas sample_exact", t_ours,
                     ratio_to_lapack=t_ours / t_bare, target=TARGET,
                     note="dsterf + χ draws + affine map"))
    rows.append(_row("hermite", n, "bare LAPACK dsterf", t_bare, ratio_to_lapack=1.0,
                     note="eigenvalues only, pre-drawn matrices"))
    for driver in ("stemr", "stebz"):
        if driver == "stebz" and n > 2000:
            est = t_bare * 22.0
            rows.append(_row("hermite", n, f"sample_exact lapack_driver='{driver}'", None,
                             status="skipped (too slow)", estimate_s=est,
                             note="≈ 22× dsterf (measured 25.6 s at n = 1e4)"))
            continue
        t = median_time(lambda: tridiagonal.sample_exact(gas, 1, seed=rng, lapack_driver=driver),
                         max(1, repeats // 2), warm=True)
        rows.append(_row("hermite", n, f"sample_exact lapack_driver='{driver}'", t,
                         ratio_to_lapack=t / t_bare))
    # Dense GOE: run when the n³ extrapolation from the largest measured size is < 60 s.
    est = dense_estimate(n)
    if est is None or est < dense_limit:
        # Cold single call above n = 1000: BLAS is warm by then, and each call costs seconds.
        t = (median_time(lambda: _goe(n, rng), max(1, repeats // 2), warm=True) if est is None
             else median_time(lambda: _goe(n, rng), 1, warm=False))
        rows.append(_row("hermite", n, "dense GOE numpy.linalg.eigvalsh", t,
                         ratio_to_lapack=t / t_bare, note="draw + symmetrise + eigvalsh, O(n³)"))
    else:
        rows.append(_row("hermite", n, "dense GOE numpy.linalg.eigvalsh", None,
                         status="skipped (too slow)", estimate_s=est,
                         ratio_to_lapack=est / t_bare,
                         note=f"estimate from n³ scaling > {dense_limit:.0f} s"))
    for name, make in (("DPPy sample_banded_model", lambda: _dppy_row(n, beta, repeats, rng)),
                       ("scikit-rmt tridiagonal_form", lambda: _skrmt_row(n, beta, repeats))):
        try:
            r = make()
        except Exception as exc:  # noqa: BLE001 - a third-party failure is a row, not a crash
            r = _row("hermite", n, name, None, status="failed", note=f"{type(exc).__name__}: {exc}")
        if r["seconds"] is not None:
            r["ratio_to_lapack"] = r["seconds"] / t_bare
        rows.append(r)
    return rows


def _laguerre_rows(n, repeats, beta=1.0):
    rng = np.random.default_rng(54321)
    # Dyson-form Laguerre gas with θ = β/scale = 1/2 and m = 2n: x are the
    # eigenvalues of B Bᵀ directly (Wishart with ratio n/m = 1/2 at β = 1).
    a = (2 * n - n + 1) / 2.0 - 1.0 / beta
    gas = CoulombGas.dyson(Laguerre(a=a, scale=2.0 * beta), n, beta=beta)
    model = tridiagonal.exact_model(gas)
    t_ours = median_time(lambda: tridiagonal.sample_exact(gas, 1, seed=rng), repeats, warm=True)
    k = repeats + 1
    d2, s2 = tridiagonal.laguerre_entries(rng, n, beta, 0.5 * beta * model["m"], k)
    off = np.sqrt(d2[:, :-1] * s2)
    diag = d2.copy()
    diag[:, 1:] += s2
    dummy = np.zeros((1, 1))
    t_pteqr = median_time(_cycling(lambda i: lapack.dpteqr(diag[i], off[i], dummy, compute_z=0), k),
                          repeats, warm=True)
    t_sterf = median_time(_cycling(lambda i: lapack.dsterf(diag[i], off[i]), k), repeats, warm=True)
    return [
        _row("laguerre", n, "coulombgas sample_exact", t_ours, ratio_to_lapack=t_ours / t_pteqr,
             target=TARGET, note=f"dpteqr on B Bᵀ, m = {model['m']:g}"),
        _row("laguerre", n, "bare LAPACK dpteqr", t_pteqr, ratio_to_lapack=1.0),
        _row("laguerre", n, "bare LAPACK dsterf", t_sterf, ratio_to_lapack=t_sterf / t_pteqr,
             note="faster, absolute accuracy only near the hard edge"),
    ]


def _whole_call_rows(sizes, repeats):
    """Whole public calls beside their kernels and plain NumPy/SciPy baselines (issue 13)."""
    from ..stationary import sample

    rows = []
    rng = np.random.default_rng(2024)
    for n in sizes:
        gas = CoulombGas.gaussian(n)
        d, e = tridiagonal.hermite_entries(rng, n, 1.0, 2 * (repeats + 1))

        def bare(i):
            lapack.dsterf(d[2 * i], e[2 * i])
            lapack.dsterf(d[2 * i + 1], e[2 * i + 1])

        seeds = iter(range(10**6))
        t_bare = median_time(_cycling(bare, repeats + 1), repeats, warm=True)
        t_call = median_time(lambda: sample(gas, 2, seed=next(seeds)), repeats, warm=True)
        rows.append({"what": "sample(gaussian(n), 2), whole call", "n": n, "seconds": t_call,
                     "baseline": "bare dsterf x 2", "baseline_seconds": t_bare, "ratio": t_call / t_bare,
                     "target": "<= 1.2x"})
    for n in (1000, 2000, 10**4, 10**5, 10**6):
        gas = CoulombGas.gaussian(n)
        t = median_time(gas.ground_state, 3 if n < 10**6 else 1, warm=True)
        row = {"what": "ground_state (default start)", "n": n, "seconds": t}
        if n <= 10**4:
            jac = median_time(lambda: lapack.dsterf(np.zeros(n), np.sqrt(0.5 * np.arange(1, n))), 1, warm=False)
            row.update(baseline="scipy dsterf on the Jacobi matrix (O(n²))", baseline_seconds=jac, ratio=t / jac)
        if n <= 1000:
            hr = median_time(lambda: np.polynomial.hermite.hermroots([0] * n + [1]), 1, warm=False)
            row.update(numpy_hermroots_seconds=hr, ratio_to_hermroots=t / hr)
        elif n <= 10**5:
            row.update(numpy_hermroots_note=f"O(n³): ~{(n / 1000) ** 3:.3g}× the n = 1000 time, "
                                            f"{8 * n * n / 2**30:.3g} GiB companion matrix")
        rows.append(row)
    for n in (1000, 3000, 30000):
        gas = CoulombGas.gaussian(n)
        x = gas.ground_state()
        t = median_time(lambda: gas.log_density(x), 3, warm=True)
        row = {"what": "log_density (compiled pair loop, O(n) memory)", "n": n, "seconds": t}
        if n <= 3000:
            def dense():
                iu = np.triu_indices(n, 1)
                return gas.beta * np.sum(np.log(np.abs(x[iu[0]] - x[iu[1]]))) - np.sum(x**2) / 2
            t_np = median_time(dense, 3, warm=True)
            row.update(baseline="NumPy triu_indices (O(n²) memory)", baseline_seconds=t_np, ratio=t / t_np,
                       baseline_bytes=int(3 * 8 * n * (n - 1) / 2))
        rows.append(row)
    return rows


_PEAK_SCRIPT = """
import sys, time
import numpy as np
import coulombgas as cg
what, n = sys.argv[1], int(sys.argv[2])
def hwm():  # VmHWM: this process's peak resident set (ru_maxrss would keep the forking parent's)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))
base = hwm()
t = time.perf_counter()
gas = cg.CoulombGas.gaussian(n)
if what == "sample":
    cg.sample(gas, 1, seed=0)
elif what == "ground_state":
    gas.ground_state()
elif what == "log_density":
    gas.log_density(gas.ground_state())
print(base, hwm(), time.perf_counter() - t)
"""


def _peak_rows(sample_n):
    """Peak resident memory (VmHWM, KiB → MiB) of whole calls, each in a fresh interpreter (Linux)."""
    import subprocess
    import sys

    rows = []
    for what, n in (("sample", sample_n), ("ground_state", 10**6), ("log_density", 30000)):
        try:
            out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, what, str(n)], capture_output=True,
                                 text=True, timeout=900, check=True).stdout.split()
            base, peak, secs = int(out[-3]), int(out[-2]), float(out[-1])
            rows.append({"what": what, "n": n, "peak_rss_mib": peak / 1024, "after_import_mib": base / 1024,
                         "call_mib": (peak - base) / 1024, "seconds": secs})
        except Exception as exc:  # noqa: BLE001 - a failed measurement is a row, not a crash
            rows.append({"what": what, "n": n, "status": f"failed: {type(exc).__name__}: {exc}"})
    return rows


def _machine_note() -> str:
    cpu = machine()["cpu"]
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return (f"{cpu}, {os.cpu_count()} cores (shared), load average {load}; Python "
            f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}. "
            "Medians of warm repeats in one process; the ratios are the figures to quote.")


def bench_stationary(quick: bool = False) -> dict:
    """Time exact β-Hermite / β-Laguerre sampling against LAPACK, dense GOE, DPPy, scikit-rmt.

    Parameters
    ----------
    quick : bool
        Sizes n = 1e3 and 3e3 with fewer repeats, dense GOE only where it
        takes < 5 s (about 15 s in all), instead of n = 1e3 and 1e4 (about a
        minute).

    Returns
    -------
    dict
        ``{"exact": rows, "machine_note": str}``; each row has ``model``, ``n``,
        ``method``, ``status`` ("ok", "not installed", "skipped (too slow)"),
        ``seconds`` (per sample, None unless ok), optional ``ratio_to_lapack``,
        ``estimate_s``, ``target`` and ``note``.
    """
    sizes, repeats = ((1000, 3000), (5, 3)) if quick else ((1000, 10000), (7, 3))
    rows = []
    measured = {}

    def dense_estimate(n):
        if not measured:
            return None
        n0 = max(measured)
        return measured[n0] * (n / n0) ** 3

    for n, rep in zip(sizes, repeats):
        hermite = _hermite_rows(n, rep, dense_estimate, 5.0 if quick else DENSE_LIMIT_S)
        for r in hermite:
            if r["method"].startswith("dense") and r["seconds"] is not None:
                measured[n] = r["seconds"]
        rows += hermite
    for n, rep in zip(sizes, repeats):
        rows += _laguerre_rows(n, rep)
    whole = _whole_call_rows(sizes, 3)
    peak = _peak_rows(sizes[-1])
    return {"exact": rows, "whole_call": whole, "peak_memory": peak, "machine_note": _machine_note()}


def _fmt_s(x) -> str:
    if x is None:
        return "-"
    return f"{x * 1e3:.3g} ms" if x < 1.0 else f"{x:.3g} s"


def format_table(result: dict) -> str:
    """Plain-text table of a :func:`bench_stationary` result (plus any ``"mcmc"`` rows)."""
    lines = ["Exact stationary sampling (one sample of n eigenvalues, median of warm calls)",
             f"{'model':9s} {'n':>6s} {'method':40s} {'time':>10s} {'x LAPACK':>9s}  status / note"]
    for r in result["exact"]:
        ratio = r.get("ratio_to_lapack")
        t = _fmt_s(r["seconds"]) if r["seconds"] is not None else (
            f"~{_fmt_s(r['estimate_s'])}" if r.get("estimate_s") is not None else "-")
        status = r["status"] if r["status"] != "ok" else ""
        extra = "; ".join(s for s in (status, r.get("target", ""), r.get("note", "")) if s)
        lines.append(f"{r['model']:9s} {r['n']:6d} {r['method']:40s} {t:>10s} "
                     f"{'' if ratio is None else f'{ratio:8.2f}x':>9s}  {extra}")
    if result.get("whole_call"):
        lines += ["", "Whole public calls with defaults, beside their kernels / baselines (medians of warm calls)"]
        for r in result["whole_call"]:
            base = (f"; {r['baseline']} {_fmt_s(r['baseline_seconds'])} -> {r['ratio']:.3g}x"
                    if "baseline" in r else "")
            if "numpy_hermroots_seconds" in r:
                base += (f"; numpy hermroots {_fmt_s(r['numpy_hermroots_seconds'])} -> "
                         f"{r['ratio_to_hermroots']:.3g}x")
            elif "numpy_hermroots_note" in r:
                base += f"; numpy hermroots not run ({r['numpy_hermroots_note']})"
            target = f" (target {r['target']})" if "target" in r else ""
            lines.append(f"  {r['what']:48s} n={r['n']:<8d} {_fmt_s(r['seconds']):>10s}{base}{target}")
    if result.get("peak_memory"):
        lines += ["", "Peak memory of whole calls (fresh subprocess each, VmHWM)"]
        for r in result["peak_memory"]:
            if "status" in r:
                lines.append(f"  {r['what']:14s} n={r['n']:<8d} {r['status']}")
            else:
                lines.append(f"  {r['what']:14s} n={r['n']:<8d} peak {r['peak_rss_mib']:.0f} MiB "
                             f"(after import {r['after_import_mib']:.0f} MiB; the call {r['call_mib']:.0f} MiB), "
                             f"{r['seconds']:.3g} s")
    mcmc = result.get("mcmc")
    if mcmc:
        lines += ["", "Markov-chain samplers"]
        for r in mcmc:
            lines.append("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in r.items()))
    lines += ["", f"machine: {result.get('machine_note', '')}"]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - manual runs in throwaway venvs
    import sys

    print(format_table(bench_stationary(quick="--quick" in sys.argv)))
