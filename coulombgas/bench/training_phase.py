"""Benchmark: SGD updates per second of paper 4's network (:mod:`coulombgas.training.phase_network`).

One *step* is one SGD update of one model (W is 16×32, |B| = 4: a forward and
backward pass through tanh(W h) for 4 samples, ≈ 12 kflop). Rows, measured side
by side in one process (medians of warm repeats; the machine is shared, so quote
the ratios):

* ``numba kernel`` — the Numba training kernel alone (``prange`` over an ensemble
  large enough to fill every core), no recording;
* ``phase_network()`` — the whole public call: drawing teachers and datasets,
  training, and recording the 16 eigenvalues and singular values (one SVD per
  model per record) every ``record_every`` updates, plus the harvest;
* ``numpy, per model`` — a straightforward loop, one model at a time, one
  update per iteration with NumPy arrays (what a plain PyTorch/NumPy script does);
* ``numpy, ensemble`` — the same update vectorised over the ensemble with
  batched ``matmul`` (the best plain NumPy can do for many small models);
* ``authors' code`` — not measured: the authors quote about 56 CPU-hours per
  10 models of 10⁸ updates, ≈ 5·10³ updates per second per core.

Target: ≥ 5·10⁵ updates per second on this 2-core machine. Each row gives wall
time and process CPU time (all threads); on a shared machine the CPU figure,
times the cores used, estimates the rate on an idle machine. The NumPy rows
also report how far their weights are from the kernel's after the same updates
from the same start (a correctness check, ~1e-15).
"""

from __future__ import annotations

import importlib
import os
import time

import numba
import numpy as np

from .. import _rng

__all__ = ["bench_phase", "format_table", "AUTHORS_STEPS_PER_S", "TARGET_STEPS_PER_S"]

#: 10 models × 10⁸ updates in 56 CPU-hours (Park, Lucini, Aarts, arXiv:2509.01349).
AUTHORS_STEPS_PER_S = 10 * 1e8 / (56 * 3600)
TARGET_STEPS_PER_S = 5e5

_pn = importlib.import_module("coulombgas.training.phase_network")


def _median(fn, repeats):
    """Median wall-clock and process-CPU seconds of ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def _numpy_model(W, H, y, Z, lr, bs, first, n_steps):
    """Plain NumPy SGD on one model: ``n_steps`` updates from batch ``first``; returns W."""
    W = W.copy()
    batches = len(y) // bs
    for s in range(first, first + n_steps):
        start = (s % batches) * bs
        h = H[start:start + bs]
        t = np.tanh(h @ W.T)
        e = t @ Z - y[start:start + bs]
        W -= (2.0 * lr / bs) * (((e[:, None] * Z) * (1.0 - t * t)).T @ h)
    return W


def _numpy_ensemble(W, H, y, Z, lr, bs, first, n_steps):
    """Plain NumPy SGD vectorised over models (all at the same step); returns W."""
    W = W.copy()
    batches = y.shape[1] // bs
    for s in range(first, first + n_steps):
        start = (s % batches) * bs
        h = H[:, start:start + bs]                       # (models, bs, n_mid)
        t = np.tanh(h @ W.transpose(0, 2, 1))            # (models, bs, n_hidden)
        e = np.einsum("mbj,mj->mb", t, Z) - y[:, start:start + bs]
        delta = e[..., None] * Z[:, None, :] * (1.0 - t * t)
        W -= (2.0 * lr / bs) * (delta.transpose(0, 2, 1) @ h)
    return W


def _row(method, models, steps, times=None, *, rate=None, status="measured", note="", **extra):
    """One table row; ``times`` = (wall, cpu) seconds for ``models × steps`` updates."""
    row = {"method": method, "models": models, "steps": steps, "status": status, "target": TARGET_STEPS_PER_S,
           "note": note, **extra}
    if times is not None:
        wall, cpu = times
        row.update(seconds=wall, cpu_seconds=cpu, steps_per_s=models * steps / wall,
                   steps_per_cpu_s=models * steps / cpu if cpu > 0 else None)
    else:
        row.update(seconds=None, cpu_seconds=None, steps_per_s=rate, steps_per_cpu_s=rate)
    return row


def bench_phase(quick: bool = False) -> list[dict]:
    """Measure the rows in the module docstring; returns them as a list of dicts."""
    threads = numba.get_num_threads()
    models = 8 * threads if quick else 32 * threads
    kernel_steps = 2_000 if quick else 20_000
    repeats = 3 if quick else 5
    lr, bs = 0.125, 4
    params = dict(lr=lr, batch_size=bs, sigma_w=1.0, n_in=3, n_mid=32, n_hidden=16, epoch_batches=1000,
                  divergence_loss=100.0, loss="half_mse", seeds_per_dataset=1)  # phase_network's defaults
    data, state = _pn.init(params, _rng.streams(0, models))
    W0 = state["W"].copy()
    H, y, Z = data["H"], data["y"], data["Z"]

    def run_kernel(n):
        state["W"][...] = W0
        state["step"] = np.zeros(models, dtype=np.int64)
        state["diverged"] = np.zeros(models, dtype=np.int64)
        _pn.advance(data, state, None, n, params)

    t0 = time.perf_counter()
    run_kernel(1)  # compiles, or loads the cached kernel
    first_call = time.perf_counter() - t0
    rows = [_row("numba kernel", models, kernel_steps, _median(lambda: run_kernel(kernel_steps), repeats),
                 threads=threads, note=f"training only; first call (compile or cache load) {first_call:.2f} s")]

    # The whole call: init + training + SVD records every 1000 updates.
    call_steps = 2_000 if quick else 20_000

    def run_call():
        _pn.phase_network(lr=lr, batch_size=bs, models=models, steps=call_steps, record_every=1000, seed=0,
                          progress=False)

    run_call()
    rows.append(_row("phase_network()", models, call_steps, _median(run_call, max(1, repeats - 2)), threads=threads,
                     note="teachers, datasets, training, eigenvalues+singular values every 1000 updates"))

    # Plain NumPy, one model at a time (few steps: it is slow), then vectorised over the ensemble.
    np_steps = 100 if quick else 1_000
    np_models = min(models, 2)
    t_np = _median(lambda: [_numpy_model(W0[m], H[m], y[m], Z[m], lr, bs, 0, np_steps) for m in range(np_models)],
                   repeats)
    run_kernel(np_steps)
    ref = np.stack([_numpy_model(W0[m], H[m], y[m], Z[m], lr, bs, 0, np_steps) for m in range(np_models)])
    diff_model = float(np.abs(ref - state["W"][:np_models]).max())
    t_ens = _median(lambda: _numpy_ensemble(W0, H, y, Z, lr, bs, 0, np_steps), repeats)
    diff_ens = float(np.abs(_numpy_ensemble(W0, H, y, Z, lr, bs, 0, np_steps) - state["W"]).max())
    rows.append(_row("numpy, per model", np_models, np_steps, t_np, threads=1, max_abs_diff_vs_kernel=diff_model,
                     note="one update per Python iteration"))
    rows.append(_row("numpy, ensemble", models, np_steps, t_ens, threads=1, max_abs_diff_vs_kernel=diff_ens,
                     note="batched matmul over the models"))
    rows.append(_row("authors' code (quoted)", 10, int(1e8), rate=AUTHORS_STEPS_PER_S, status="quoted", threads=1,
                     note="56 CPU-hours per 10 models of 1e8 updates (arXiv:2509.01349)"))
    np_rate, ens_rate = rows[2]["steps_per_s"], rows[3]["steps_per_s"]
    for r in rows:
        r["ratio_to_numpy_per_model"] = r["steps_per_s"] / np_rate
        r["ratio_to_numpy_ensemble"] = r["steps_per_s"] / ens_rate
        if r["status"] == "measured" and r["method"] in ("numba kernel", "phase_network()"):
            r["meets_target"] = bool(r["steps_per_s"] >= TARGET_STEPS_PER_S)
            # what the measured CPU time would give with every core free (the machine is shared)
            r["steps_per_s_idle_estimate"] = r["steps_per_cpu_s"] * min(threads, os.cpu_count() or 1)
    return rows


def format_table(rows) -> str:
    """A plain-text table of :func:`bench_phase` rows."""
    lines = ["Paper 4 network (W 16x32, |B| = 4): SGD updates per second (one update of one model), medians",
             f"{'method':24s} {'models':>6s} {'thr':>3s} {'updates/s':>10s} {'per CPU-s':>10s} {'vs numpy':>9s} "
             f"{'vs numpy-ens':>13s}  note"]
    for r in rows:
        lines.append(f"{r['method']:24s} {r['models']:6d} {r['threads']:3d} {r['steps_per_s']:10.3g} "
                     f"{r['steps_per_cpu_s']:10.3g} {r['ratio_to_numpy_per_model']:8.1f}x "
                     f"{r['ratio_to_numpy_ensemble']:12.1f}x  {r['note']}")
    lines.append(f"target: >= {TARGET_STEPS_PER_S:.0e} updates/s; "
                 + "; ".join(f"{r['method']}: {'met' if r['meets_target'] else 'NOT met'} "
                             f"(idle-machine estimate {r['steps_per_s_idle_estimate']:.3g}/s)"
                             for r in rows if "meets_target" in r))
    diffs = [f"{r['method']} {r['max_abs_diff_vs_kernel']:.1e}" for r in rows if "max_abs_diff_vs_kernel" in r]
    lines.append("max |W_numpy - W_kernel| after the same updates: " + ", ".join(diffs))
    return "\n".join(lines)
