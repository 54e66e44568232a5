"""Parameter sweeps: a grid of ``train``/``simulate``/``sample``/``compare`` runs as Dask tasks.

:func:`sweep` takes the Cartesian product of ``grid`` (name → list of values), adds
``fixed``, validates every point in this process before anything is submitted, and
runs each point as one task on Dask distributed: a local cluster of ``workers``
single-threaded processes by default, or the cluster at ``scheduler``
(``tcp://HOST:PORT``). Each point writes its files into ``out/point-NNNN/`` and its
summary row into ``out/point-NNNN/row.json``; the table of all rows is written to
``out/table.csv`` and ``out/table.json`` as points finish. A rerun with the same
``out`` skips the points whose row exists with the same parameters; a point that
raises is recorded with ``status = "failed"`` and its error, and the others go on.

Each task sets Numba to ``threads`` threads (1 by default): a sweep's parallelism is
across points, and one thread per worker process avoids oversubscribing the cores.

Needs the ``dask`` extra: ``pip install 'coulombgas[dask]'``. The package exposes
:func:`sweep` as ``cg.sweep``; this module has another name so that the function and
the module never shadow each other.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import time
import warnings

import numpy as np

from . import _validate as v
from .gas import GAS_PARAMS, CoulombGas
from .store import json_default, write_json
from .training.registry import check_params, check_seed, degenerate_pairs

__all__ = ["sweep", "check_sweep", "gas_from_params", "grid_points", "validate_point", "run_point", "TASKS",
           "GAS_PARAMS", "SweepWarning"]


class SweepWarning(RuntimeWarning):
    """Some points of a sweep failed (their errors are in the table's ``error`` column)."""

TASKS = ("train", "simulate", "sample", "compare")

_SIMULATE = {"t_end": 1.0, "dt": 1e-3, "replicas": 1, "record_every": 1, "scheme": "auto"}
_SAMPLE = {"n_samples": 1000, "method": "auto", "chains": 4, "warmup": None}


def gas_from_params(**params):
    """A :class:`~coulombgas.CoulombGas` from flat parameters: :meth:`CoulombGas.from_params` (kept by this name)."""
    return CoulombGas.from_params(**params)


# ------------------------------------------------------------------ one point

def _split(params, own):
    gas = {k: params[k] for k in params if k in GAS_PARAMS}
    rest = {k: params[k] for k in params if k not in GAS_PARAMS}
    unknown = sorted(set(rest) - set(own) - {"seed"})
    if unknown:
        raise ValueError(f"`{unknown[0]}` is not a parameter of this task; choose from "
                         f"{', '.join(sorted(set(GAS_PARAMS) | set(own) | {'seed'}))}")
    return gas, {**own, **rest}


def _model_params(params, task="train"):
    """``(func, module, kwargs, seed)`` of a train/compare point: the one check of the registry
    (:func:`coulombgas.training.registry.check_params`; a compare point with compare's defaults)."""
    if "model" not in params:
        raise ValueError("`model` must be given (in `fixed` or `grid`) for train and compare sweeps")
    rest = {k: val for k, val in params.items() if k != "model"}
    if task == "compare":
        from .report import check_compare_params

        return check_compare_params(params["model"], rest)
    return check_params(params["model"], rest)


def validate_point(task: str, params: dict) -> None:
    """Raise ValueError/TypeError if ``params`` is not a valid point of ``task`` (nothing runs long)."""
    check_seed(params.get("seed"))
    if task in ("simulate", "sample"):
        gas_p, rest = _split(params, _SIMULATE if task == "simulate" else _SAMPLE)
        CoulombGas.from_params(**gas_p)
        if task == "simulate":
            v.nonnegative("t_end", rest["t_end"])
            v.positive("dt", rest["dt"])
            v.integer("replicas", rest["replicas"], minimum=1)
            v.integer("record_every", rest["record_every"], minimum=1)
        else:
            v.integer("n_samples", rest["n_samples"], minimum=1)
            from .stationary import METHODS

            v.one_of("method", rest["method"], ("auto", *METHODS))
    else:
        # Names, values and a memory lower bound, in microseconds (models=10**12 is refused here).
        func, module, kwargs, _ = _model_params(params, task)
        if getattr(module, "validated", None) is None:
            # No separate check: the model checks its own parameters before it trains, so a
            # one-update run of one model finds what is left.
            small = {k: val for k, val in kwargs.items() if k != "record_weights"}
            small.update(models=1, steps=1, record_every=1)
            func(progress=False, **small)


def run_point(task: str, params: dict, directory: str, threads: int = 1) -> dict:
    """Run one point, write its files into ``directory``, return its summary row (no parameters)."""
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    os.makedirs(directory, exist_ok=True)
    start = time.perf_counter()
    seed = params.get("seed", 0)  # every point is reproducible: seed 0 unless the grid or `fixed` says
    if task == "simulate":
        from .dynamics import simulate

        gas_p, rest = _split(params, _SIMULATE)
        traj = simulate(CoulombGas.from_params(**gas_p), rest["t_end"], rest["dt"], replicas=rest["replicas"],
                        record_every=rest["record_every"], scheme=rest["scheme"], seed=seed, progress=False)
        traj.save(os.path.join(directory, "trajectory.npz"))
        late = traj.x[:, traj.x.shape[1] // 2:]
        row = {"late_mean": float(late.mean()), "late_std": float(late.std()),
               "mean_gap": float(np.diff(late, axis=-1).mean()),
               "rejected_steps": int(traj.diagnostics["rejected"])}
    elif task == "sample":
        from .stationary import sample

        gas_p, rest = _split(params, _SAMPLE)
        s = sample(CoulombGas.from_params(**gas_p), rest["n_samples"], method=rest["method"], chains=rest["chains"],
                   warmup=rest["warmup"], seed=seed, progress=False)
        np.savez(os.path.join(directory, "samples.npz"), x=s.x)
        row = {"mean": float(s.x.mean()), "std": float(s.x.std()), "mean_gap": float(np.diff(s.x, axis=-1).mean()),
               "method": s.method}
        if "ess" in s.diagnostics:
            row["min_ess"] = float(np.min(s.diagnostics["ess"]))
    elif task == "train":
        func, _, kwargs, _ = _model_params(params, task)  # `seed` is not in kwargs: passed once, here
        h = func(seed=seed, progress=False, **kwargs)
        h.save(os.path.join(directory, "harvest.npz"))
        row = {"models_finite": h.models, "models_diverged": int(len(h.diverged_ids))}
        if h.models:
            late = h.late(0.5)
            row.update(late_mean=float(late.mean()), late_std=float(late.std()),
                       final_loss_median=float(np.median(h.loss[:, -1])))
            pairs = degenerate_pairs(h)
            if pairs:
                final = h.final()
                S = np.stack([final[:, j] - final[:, i] for i, j in pairs], axis=-1)
                row.update(mean_S=float(S.mean()), mean_S_err=float(S.std(ddof=1) / math.sqrt(S.size)))
    else:
        from .report import compare

        model = params["model"]
        _, _, kwargs, _ = _model_params(params, task)
        report = compare(model, out=directory, seed=seed, force=True, progress=False, **kwargs)
        row = {"checks": len(report.checks),
               "agree": sum(c["verdict"] in ("agrees", "equal-σ suffices") for c in report.checks)}
        for c in report.checks:
            row[c["check"]] = c["verdict"]
    row["seconds"] = time.perf_counter() - start
    return row


def _task(task, params, directory, threads):
    """What a Dask worker runs: never raises, so one failed point cannot stop the sweep."""
    try:
        row = run_point(task, params, directory, threads)
        row["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded in the table
        row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    record = {"params": params, "row": row}
    try:
        write_json(os.path.join(directory, "row.json"), record)
    except OSError as exc:  # the table still gets the row
        row.update(status="failed", error=row.get("error") or f"{type(exc).__name__}: {exc}")
    return record


# ------------------------------------------------------------------ the sweep

def grid_points(grid, fixed):
    """The points of a sweep: the Cartesian product of ``grid``'s lists, each with ``fixed`` added, in order."""
    if not isinstance(grid, dict) or not grid:
        raise TypeError("`grid` must be a non-empty dict of parameter name -> list of values")
    fixed = dict(fixed or {})
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"`grid[{name!r}]` must be a list of values, got {type(values).__name__}")
        if name in fixed:
            raise ValueError(f"`{name}` is in both `grid` and `fixed`")
    names = list(grid)
    values = [list(grid[k]) for k in names]
    if any(len(vs) == 0 for vs in values):
        raise ValueError("every `grid` entry needs at least one value")
    return [{**fixed, **{k: _plain(x) for k, x in zip(names, combo)}} for combo in itertools.product(*values)]


def _plain(x):
    """JSON-friendly scalars (a numpy int from np.arange becomes an int)."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def _client(scheduler, workers, timeout):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("sweeps need Dask: pip install 'coulombgas[dask]'") from None
    if scheduler is None:
        import dask

        # The statistical profiler samples every worker thread's stack each 10 ms for a
        # dashboard this cluster does not serve: off, it gives CPU-bound points their core.
        try:
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
        except RuntimeError as exc:
            raise RuntimeError(
                "the local Dask cluster could not start its worker processes. Workers are spawned and "
                "import the calling script: call sweep under `if __name__ == \"__main__\":` in a script file "
                "(not from standard input), or use the `coulombgas sweep` command") from exc
        return Client(cluster), cluster
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise ValueError(f"`scheduler` must be an address like tcp://HOST:PORT, got {scheduler!r}")
    try:
        return Client(scheduler, timeout=timeout), None
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"`scheduler` {scheduler} is not reachable within {timeout:g} s: {exc}") from None


def check_sweep(task, grid, fixed=None, *, workers=2, threads=1):
    """Check a whole sweep before anything runs or is written; returns ``(task, points)``.

    The task name, ``workers`` and ``threads``, and every point of the grid
    (:func:`validate_point`); an error names the point and its parameters.
    """
    task = v.one_of("task", task, TASKS)
    v.integer("workers", workers, minimum=1)
    v.integer("threads", threads, minimum=1)
    points = grid_points(grid, fixed)
    for k, point in enumerate(points):  # reject a bad grid before any task runs
        try:
            validate_point(task, point)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"grid point {k} {json.dumps(point, default=json_default)}: {exc}") from None
    return task, points


def sweep(task: str, grid: dict, *, fixed: dict | None = None, scheduler: str | None = None, out=None,
          workers: int = 2, threads: int = 1, progress: bool = True, timeout: float = 5.0) -> list[dict]:
    """Run ``task`` at every point of ``grid`` (× ``fixed``) on Dask; returns the table, one row per point.

    Parameters
    ----------
    task : {"train", "simulate", "sample", "compare"}
    grid : dict
        Parameter name → list of values; the sweep is their Cartesian product. Names are
        those of the task: gas parameters (:data:`GAS_PARAMS`) and ``t_end``, ``dt``,
        ``replicas``, ``record_every``, ``scheme`` for ``simulate``; gas parameters and
        ``n_samples``, ``method``, ``chains``, ``warmup`` for ``sample``; ``model`` and the
        model's parameters for ``train``/``compare``; ``seed`` for all (an int >= 0, in
        ``grid`` or ``fixed``; 0 when neither gives it).
    fixed : dict, optional
        Parameters shared by every point.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running Dask scheduler; default a local cluster.
    out : path, optional
        Directory for the points' files and ``table.csv``/``table.json`` (default:
        ``sweep-<task>`` in the working directory). Finished points are reused.
    workers : int
        Worker processes of the local cluster.
    threads : int
        Numba threads inside each task.
    timeout : float
        Seconds to wait for ``scheduler``.

    Returns
    -------
    list of dict
        One row per point, in grid order: the point's parameters, ``status`` (``"ok"`` or
        ``"failed"``), ``error`` and the task's summary numbers. When any point failed a
        :class:`SweepWarning` says how many (and the first error), so a sweep whose every
        point failed never passes silently.

    Notes
    -----
    The local cluster's workers are spawned processes that import the calling script, so
    a script must call ``sweep`` under ``if __name__ == "__main__":``.

    Examples
    --------
    >>> rows = cg.sweep("simulate", grid={"seed": [1, 2]},
    ...                 fixed={"n": 20, "t_end": 1.0, "dt": 1e-3})  # doctest: +SKIP
    """
    task, points = check_sweep(task, grid, fixed, workers=workers, threads=threads)
    timeout = v.positive("timeout", timeout)
    progress = v.flag("progress", progress)  # never truthiness: progress="no" is a TypeError
    out = os.fspath(out) if out is not None else f"sweep-{task}"
    os.makedirs(out, exist_ok=True)
    records = [None] * len(points)
    todo = []
    for k, point in enumerate(points):
        directory = os.path.join(out, f"point-{k:04d}")
        done = _finished(directory, point)
        if done is not None:
            records[k] = done
        else:
            todo.append((k, directory))
    if todo:
        client, cluster = _client(scheduler, workers, timeout)
        bar = None
        try:
            from dask.distributed import as_completed

            futures = {client.submit(_task, task, points[k], d, threads, pure=False): k for k, d in todo}
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(points), initial=len(points) - len(todo), unit="point", desc=f"sweep {task}")
            for future in as_completed(futures):
                k = futures[future]
                try:
                    records[k] = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker, say: record it, go on
                    records[k] = {"params": points[k], "row": {"status": "failed",
                                                               "error": f"{type(exc).__name__}: {exc}"}}
                _write_table(out, points, records)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            client.close()
            if cluster is not None:
                cluster.close()
    table = _write_table(out, points, records)
    failed = [row for row in table if row.get("status") != "ok"]
    if failed:
        # Never a silent failure: the table holds each error, this says how many there are.
        first = failed[0]
        warnings.warn(f"{len(failed)} of {len(table)} sweep point(s) failed"
                      f"{' (every point)' if len(failed) == len(table) else ''}; point {first['point']}: "
                      f"{first.get('error')}; see {os.path.join(out, 'table.csv')}", SweepWarning, stacklevel=2)
    return table


def _finished(directory, point):
    path = os.path.join(directory, "row.json")
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        record = json.load(fh)
    same = json.loads(json.dumps(point, default=json_default)) == record.get("params")
    return record if same and record["row"].get("status") == "ok" else None


def _write_table(out, points, records) -> list[dict]:
    table = []
    for k, (point, record) in enumerate(zip(points, records)):
        row = {"point": k, **point}
        row.update(record["row"] if record is not None else {"status": "pending"})
        table.append(row)
    write_json(os.path.join(out, "table.json"), table)
    columns = list(dict.fromkeys(c for row in table for c in row))
    tmp = os.path.join(out, "table.csv.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in table:
            writer.writerow({c: json.dumps(_plain(row[c]), default=json_default)
                             if isinstance(row.get(c), (list, dict)) else row.get(c, "") for c in columns})
    os.replace(tmp, os.path.join(out, "table.csv"))
    return table
