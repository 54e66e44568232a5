"""``coulombgas bench``: the Gaussian RBM's training throughput vs a vectorised NumPy update.

One *model-update* is one SGD update of one model of papers 1–3's Gaussian RBM
(:func:`coulombgas.training.gaussian_rbm`: n = n_h = 10, |B| = 16 persistent chains,
3 Gibbs sweeps, the KL/normalisability check), random numbers included. Rows, all
measured side by side in one process, medians of warm repeats (compilation timed
separately):

* ``gaussian_rbm`` — the whole public call (initialisation, kernel, recording);
* ``kernel`` — the compiled update alone on a prepared ensemble, on all threads and
  on one thread;
* ``numpy`` — the same update written as plain NumPy batched over models
  (:func:`numpy_update`).

Rates are given per wall-clock second and per CPU-second (process time over all
threads): on a shared machine the second one, times the number of cores, is what
an idle machine would give.
"""

from __future__ import annotations

import importlib
import math
import time

import numba
import numpy as np

__all__ = ["bench_rbm", "format_table", "numpy_update"]

TARGET = 3e5  # model-updates per second on the 2-core machine


def numpy_update(W, phi, gen, *, lr, mu2, sigma_h, sweeps, kinv, logdet_k, limit=100.0):
    """One RBM update of every model in plain NumPy, batched over the model axis.

    ``W`` (models, n_h, n), ``phi`` (models, |B|, n) persistent chains. Checks
    the KL loss/normalisability as the kernel does, runs ``sweeps`` Gibbs
    sweeps (h | φ ~ N(σ_h²Wφ, σ_h²), φ | h ~ N(Wᵀh/μ², 1/μ²)) and applies
    W ← W + α σ_h² W (K⁻¹ − φᵀφ/|B|) to the models that passed. Returns
    ``(W, phi, kl)``.
    """
    models, nh, n = W.shape
    bs = phi.shape[1]
    s2 = sigma_h * sigma_h
    A = mu2 * np.eye(n) - s2 * np.matmul(W.transpose(0, 2, 1), W)
    sign, logdet = np.linalg.slogdet(A)
    kl = 0.5 * (np.einsum("mij,ij->m", A, kinv) - n - logdet + logdet_k)
    ok = (sign > 0) & (kl <= limit)
    Wt = W.transpose(0, 2, 1)
    for _ in range(sweeps):
        h = s2 * np.matmul(phi, Wt) + sigma_h * gen.standard_normal((models, bs, nh))
        phi = np.matmul(h, W) / mu2 + gen.standard_normal((models, bs, n)) / math.sqrt(mu2)
    C = np.matmul(phi.transpose(0, 2, 1), phi) / bs
    dW = lr * s2 * np.matmul(W, kinv - C)
    return np.where(ok[:, None, None], W + dW, W), phi, kl


def _timed(fn, repeats):
    """Median wall and CPU (process) seconds of ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def bench_rbm(quick: bool = False) -> list[dict]:
    """Measure model-updates per second of :func:`~coulombgas.training.gaussian_rbm` and of NumPy.

    Returns rows (dicts) with ``case``, ``models``, ``updates`` (per timed call),
    ``wall_s`` and ``cpu_s`` (medians), ``rate`` (model-updates per wall second),
    ``rate_cpu`` (per CPU-second), ``speedup`` (rate vs the NumPy row) and ``target``.
    """
    rbm = importlib.import_module("coulombgas.training.rbm")
    models, steps, repeats = (1024, 50, 3) if quick else (4096, 200, 5)
    np_steps = 5 if quick else 20
    cfg = dict(n=10, n_hidden=10, mu2=9.0, sigma_h=1.0, m2=4.0, lr=0.1, batch_size=16, gibbs_steps=3)

    t0 = time.perf_counter()
    rbm.gaussian_rbm(models=2, steps=2, record_every=1, progress=False, **cfg)
    compile_s = time.perf_counter() - t0

    rows = []

    def row(case, n_models, updates, wall, cpu, target=""):
        rows.append({"case": case, "models": n_models, "updates": updates, "wall_s": wall, "cpu_s": cpu,
                     "rate": updates / wall, "rate_cpu": updates / max(cpu, 1e-12), "target": target,
                     "compile_s": compile_s})

    wall, cpu = _timed(lambda: rbm.gaussian_rbm(models=models, steps=steps, record_every=steps, seed=1,
                                                progress=False, record_weights=False, **cfg), repeats)
    row("gaussian_rbm (whole call)", models, models * steps, wall, cpu, f">= {TARGET:.0e} /s")

    # The kernel alone on a prepared ensemble (no initialisation, no recording).
    params = dict(cfg, init_std=0.1, divergence_loss=100.0)
    gens = [np.random.default_rng(i) for i in range(models)]
    data, state = rbm.init(params, gens)
    state["step"] = np.zeros(models, dtype=np.int64)
    state["diverged"] = np.zeros(models, dtype=np.int64)
    rbm.advance(data, state, None, 1, params)
    wall, cpu = _timed(lambda: rbm.advance(data, state, None, steps, params), repeats)
    row(f"kernel, {numba.get_num_threads()} threads", models, models * steps, wall, cpu, f">= {TARGET:.0e} /s")
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        wall, cpu = _timed(lambda: rbm.advance(data, state, None, steps, params), repeats)
    finally:
        numba.set_num_threads(threads)
    row("kernel, 1 thread", models, models * steps, wall, cpu)

    # Plain NumPy, batched over models, the same update.
    kinv, logdet_k = data["kinv"], data["logdet_k"]  # the target, as init made it
    gen = np.random.default_rng(0)
    W = state["W"].copy()
    phi = state["phi"].copy()
    kw = dict(lr=cfg["lr"], mu2=cfg["mu2"], sigma_h=cfg["sigma_h"], sweeps=cfg["gibbs_steps"], kinv=kinv,
              logdet_k=logdet_k)

    def numpy_run():
        w, p = W, phi
        for _ in range(np_steps):
            w, p, _ = numpy_update(w, p, gen, **kw)

    wall, cpu = _timed(numpy_run, repeats)
    row("numpy (batched over models)", models, models * np_steps, wall, cpu)
    base = rows[-1]["rate"]
    for r in rows:
        r["speedup"] = r["rate"] / base
    return rows


def format_table(rows) -> str:
    """A plain-text table of :func:`bench_rbm` rows."""
    lines = ["Gaussian RBM training (n = n_h = 10, |B| = 16, 3 Gibbs sweeps; model-updates per second)",
             f"{'case':30s} {'models':>7s} {'wall s':>8s} {'rate /s':>10s} {'per CPU-s':>10s} {'vs numpy':>9s}  target"]
    for r in rows:
        lines.append(f"{r['case']:30s} {r['models']:7d} {r['wall_s']:8.3g} {r['rate']:10.3g} {r['rate_cpu']:10.3g} "
                     f"{r['speedup']:8.1f}x  {r['target']}")
    if rows:
        lines.append(f"(first call incl. compile or cache load: {rows[0]['compile_s']:.3g} s; "
                     "numbers are medians of warm repeats)")
    return "\n".join(lines)
