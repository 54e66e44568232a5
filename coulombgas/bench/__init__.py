"""Benchmarks run side by side with plain NumPy versions of the same computation.

``coulombgas bench WHAT`` prints a table and writes ``bench.json``. Times are
medians of repeated warm calls (compilation is timed separately); the machine
is shared, so ratios measured in one process are the figures to quote.
"""

from __future__ import annotations

import os
import platform

__all__ = ["run_bench", "machine", "median_time", "format_rows"]


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


def run_bench(what: str, *, out: str | None = None, quick: bool = False) -> int:
    """Run one benchmark suite, print its table, write ``out/bench.json``; returns 0."""
    from ..io import write_json

    if what == "dynamics":
        from .dynamics import bench_dynamics, format_table
        result = bench_dynamics(quick=quick)
    elif what == "stationary":
        from .stationary import bench_stationary, format_table
        from .mcmc import bench_mcmc
        result = bench_stationary(quick=quick)
        result["mcmc"] = bench_mcmc(quick=quick)
    elif what == "training":
        from .training import bench_training, format_table as _table
        result = {"training": bench_training(quick=quick)}

        def format_table(r):
            return _table(r["training"])
    elif what == "sweep":
        from .sweep import bench_sweep, format_table as _sweep_table
        result = {"sweep": bench_sweep(quick=quick)}

        def format_table(r):
            return _sweep_table(r["sweep"])
    elif what == "gpu":
        from .gpu import bench_gpu, format_table as _gpu_table
        result = {"gpu": bench_gpu(quick=quick)}

        def format_table(r):
            return _gpu_table(r["gpu"])
    else:
        raise ValueError(f"`what` must be 'dynamics', 'stationary', 'training', 'sweep' or 'gpu', got {what!r}")
    result["machine"] = machine()
    print(format_table(result))
    if out is not None:
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "bench.json")
        write_json(path, result)
        print(f"wrote {path}")
    return 0
