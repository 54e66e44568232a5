"""Benchmark of :func:`coulombgas.sweep`: speed-up of a 2-worker local Dask cluster over one worker.

Eight CPU-bound ``simulate`` points (single-threaded each; records thinned so that writing
them is negligible) run on a one-worker and on a two-worker local cluster, cluster start-up
included. The ratio of wall times is the speed-up (2 is linear on two cores). ``dask_over_plain``
sets the whole call beside plain processes and ``dask_over_tasks`` beside the tasks' own time
(wall x workers / summed task seconds: 1 when the cluster costs nothing). For scale the
same points also run through :func:`coulombgas.sweeps.run_point` in one and in two plain
processes (``concurrent.futures``, process start-up included): what the cores give
without Dask, the ceiling a sweep can reach on this machine.
"""

from __future__ import annotations

import shutil
import tempfile
import time

from . import format_rows

__all__ = ["bench_sweep", "format_table"]


def _plain_processes(points, workers, out):
    """Wall time of ``run_point`` over ``points`` in ``workers`` fresh processes (spawned)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from ..sweeps import run_point

    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        jobs = [pool.submit(run_point, "simulate", p, os.path.join(out, f"p{k}")) for k, p in enumerate(points)]
        for job in jobs:
            job.result()
    return time.perf_counter() - t0


def bench_sweep(quick: bool = False) -> list[dict]:
    from ..sweeps import grid_points, sweep

    n_points = 4 if quick else 8
    fixed = {"n": 30, "t_end": 0.5 if quick else 4.0, "dt": 1e-3, "replicas": 40, "record_every": 100}
    grid = {"seed": list(range(n_points))}
    case = f"{n_points} simulate points (n=30, 40 replicas, t_end={fixed['t_end']})"
    rows = []
    dask_s, plain_s = {}, {}
    for workers in (1, 2):
        out = tempfile.mkdtemp(prefix="cg-bench-sweep-")
        try:
            t0 = time.perf_counter()
            table = sweep("simulate", grid, fixed=fixed, out=out, workers=workers, progress=False)
            dask_s[workers] = time.perf_counter() - t0
            busy = sum(row["seconds"] for row in table)
            plain_s[workers] = _plain_processes(grid_points(grid, fixed), workers, out)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        # The whole call (cg.sweep on Dask) beside the same points in plain processes and the tasks'
        # own time: the ratios show what the cluster costs on top of the work.
        rows.append({"case": case, "workers": workers, "dask_wall_s": dask_s[workers], "task_s_sum": busy,
                     "plain_processes_wall_s": plain_s[workers],
                     "dask_over_plain": dask_s[workers] / plain_s[workers],
                     "dask_over_tasks": dask_s[workers] * workers / busy})
    rows.append({"case": "speed-up 2 workers vs 1", "dask": dask_s[1] / dask_s[2],
                 "plain_processes": plain_s[1] / plain_s[2], "target": "near 2 (linear)"})
    return rows


def format_table(rows) -> str:
    return format_rows("Sweep on a local Dask cluster vs plain processes (start-up included)", rows)
