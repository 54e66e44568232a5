"""Benchmark of :func:`coulombgas.sweep`: speed-up of a 2-worker local Dask cluster over one worker.

Four CPU-bound ``simulate`` points (single-threaded each), run once on a one-worker and
once on a two-worker local cluster (cluster start-up included in both); the ratio of wall
times is the speed-up (2 is linear on two cores).
"""

from __future__ import annotations

import shutil
import tempfile
import time

from . import format_rows

__all__ = ["bench_sweep", "format_table"]


def bench_sweep(quick: bool = False) -> list[dict]:
    from ..sweep import sweep

    points = 4
    fixed = {"n": 30, "t_end": 0.5 if quick else 4.0, "dt": 1e-3, "replicas": 40}
    grid = {"seed": list(range(points))}
    rows = []
    times = {}
    for workers in (1, 2):
        out = tempfile.mkdtemp(prefix="cg-bench-sweep-")
        try:
            t0 = time.perf_counter()
            table = sweep("simulate", grid, fixed=fixed, out=out, workers=workers, progress=False)
            times[workers] = time.perf_counter() - t0
            busy = sum(row["seconds"] for row in table)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        rows.append({"case": f"{points} simulate points (n=30, 40 replicas, t_end={fixed['t_end']})",
                     "workers": workers, "wall_s": times[workers], "task_s_sum": busy})
    rows.append({"case": "speed-up 2 workers vs 1", "speedup": times[1] / times[2], "target": "near 2 (linear)"})
    return rows


def format_table(rows) -> str:
    return format_rows("Sweep on a local Dask cluster (cluster start-up included)", rows)
