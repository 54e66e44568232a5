"""Benchmarks run side by side with plain NumPy versions of the same computation.

``coulombgas bench WHAT`` prints a table and writes ``bench.json``. Times are
medians of repeated warm calls (compilation is timed separately); the machine
is shared, so ratios measured in one process are the figures to quote.
"""

from __future__ import annotations

import os
import platform

__all__ = ["run_bench", "machine", "median_time", "format_rows", "BENCHES"]


def format_rows(title: str, rows, digits: int = 4) -> str:
    """A title line and one ``key=value, …`` line per row (floats to ``digits`` significant digits)."""
    def fmt(value):
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)

    return "\n".join([title] + ["  " + ", ".join(f"{k}={fmt(v)}" for k, v in row.items()) for row in rows])


def median_time(fn, repeats: int, warm: bool = False) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``fn()`` (after one untimed call when ``warm``)."""
    import time

    import numpy as np

    if warm:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def machine() -> dict:
    """What the numbers were measured on: CPU model and SIMD flags (from /proc/cpuinfo), cores, versions."""
    import numba
    import numpy as np

    info = {"cpu": platform.processor() or "unknown", "cores": os.cpu_count(), "avx512": None,
            "numba_threads": numba.get_num_threads(), "python": platform.python_version(),
            "numba": numba.__version__, "numpy": np.__version__}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    info["avx512"] = "avx512f" in flags
                    info["simd"] = sorted(f for f in flags if f.startswith(("avx", "fma")))
                    break
    except OSError:
        pass
    return info


#: The suites of ``coulombgas bench WHAT``: name -> (module, function, format_table, what it measures).
#: Each figure is a whole public call with defaults beside its kernel (and a plain NumPy version),
#: so the gap between them is visible; each module's docstring says how it measures.
BENCHES = {
    "dynamics": ("dynamics", "bench_dynamics", "format_table",
                 "forces, SDE steps and ensembles: simulate() beside its kernels and NumPy"),
    "stationary": ("stationary", "bench_stationary", "format_table",
                   "exact and Monte Carlo samplers: sample() beside bare LAPACK dsterf and the MCMC kernels"),
    "training": ("training", "bench_training", "format_table",
                 "the papers' models: the training functions beside NumPy loops"),
    "sweep": ("sweep", "bench_sweep", "format_table", "Dask speed-up, 2 workers vs 1, beside plain processes"),
    "gpu": ("gpu", "bench_gpu", "format_table", "CUDA kernels vs CPU and full-size estimates"),
}


def run_bench(what: str, *, out: str | None = None, quick: bool = False) -> int:
    """Run one suite of :data:`BENCHES`, print its table, write ``out/bench.json``; returns 0."""
    import importlib

    from ..store import write_json

    if what not in BENCHES:
        raise ValueError(f"`what` must be one of {', '.join(map(repr, BENCHES))}, got {what!r}")
    module_name, function, table, _ = BENCHES[what]
    module = importlib.import_module(f"{__name__}.{module_name}")
    rows = getattr(module, function)(quick=quick)
    if what == "stationary":  # the Markov-chain samplers' kernels are timed beside the exact sampler
        from .mcmc import bench_mcmc

        rows["mcmc"] = bench_mcmc(quick=quick)
    result = rows if isinstance(rows, dict) else {what: rows}
    text = getattr(module, table)(rows)
    result["machine"] = machine()
    print(text)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "bench.json")
        write_json(path, result)
        print(f"wrote {path}")
    return 0
