"""``coulombgas bench dynamics``: forces, one SDE step, and replica ensembles vs NumPy.

Rows (each run side by side in one process, medians of warm repeats):

* direct and fast Coulomb forces (:mod:`coulombgas.bench.forces`);
* one Euler–Maruyama step of the GβE Dyson gas for a single large system:
  the compiled kernel vs a plain vectorised NumPy step (broadcast force), and
  vs evolving the full matrix and diagonalising it every step (where feasible);
  the default adaptive Heun step is reported too (two force evaluations per step);
* ensembles of 1e4 replicas × n = 10: particle-steps per second, random numbers
  included, for the whole call and in steady state (the per-call set-up of one
  random stream per replica is timed separately), vs a NumPy step vectorised
  over replicas.
"""

from __future__ import annotations

import math

import numpy as np

from ..dynamics import default_x0, simulate
from ..gas import CoulombGas
from . import median_time

__all__ = ["bench_dynamics", "format_table"]


def numpy_step(x, dt, beta, rng):
    """One Euler–Maruyama step of dλ = (−λ + Σ 1/(λ_i − λ_j)) dt + √(2/β) dB, plain NumPy.

    ``x`` has shape (..., n); the pair sum is a broadcast (…, n, n) array.
    """
    d = x[..., :, None] - x[..., None, :]
    n = x.shape[-1]
    d[..., np.arange(n), np.arange(n)] = np.inf  # 1/inf = 0 on the diagonal
    force = np.sum(1.0 / d, axis=-1)
    return x + dt * (force - x) + math.sqrt(2.0 * dt / beta) * rng.standard_normal(x.shape)


def matrix_step(h, dt, rng):
    """One step of the GOE matrix Ornstein–Uhlenbeck process, then its eigenvalues (β = 1).

    dH = −H dt + dB_sym with the GOE increment whose eigenvalues perform the
    Dyson Brownian motion of :func:`numpy_step` (Dyson 1962).
    """
    a = rng.standard_normal(h.shape)
    h = h - dt * h + math.sqrt(dt) * (a + a.T) / 2.0
    return h, np.linalg.eigvalsh(h)


def _single_system_rows(sizes, steps, repeats):
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        gas = CoulombGas.gaussian(n, beta=1.0)
        x0 = default_x0(gas)
        dt = 1e-3 / n  # small enough that Euler–Maruyama never reorders here
        t_end = steps * dt
        simulate(gas, t_end, dt, x0=x0, scheme="euler-maruyama", seed=1, record_every=steps)  # warm-up
        t_em = median_time(lambda: simulate(gas, t_end, dt, x0=x0, scheme="euler-maruyama", seed=1,
                                             record_every=steps), repeats) / steps
        t_heun = median_time(lambda: simulate(gas, t_end, dt, x0=x0, seed=1, record_every=steps),
                              repeats) / steps

        np_steps = max(3, steps // (4 if n >= 2000 else 1))
        t_np = median_time(lambda: [numpy_step(x0, dt, 1.0, rng) for _ in range(np_steps)], repeats) / np_steps
        rows.append({"case": "EM step, one system", "n": n, "numpy_s": t_np, "coulombgas_s": t_em,
                     "speedup": t_np / t_em, "target": ">= 20x" if n == 1000 else (">= 30x" if n == 4000 else "")})
        rows.append({"case": "adaptive Heun step (default)", "n": n, "numpy_s": t_np, "coulombgas_s": t_heun,
                     "speedup": t_np / t_heun, "target": ""})
        if n <= 1000:
            h = np.diag(x0)
            mats = max(3, min(50, int(2e8 // n**3)))

            def matrix_run():
                hh = h
                for _ in range(mats):
                    hh, _ = matrix_step(hh, dt, rng)

            t_mat = median_time(matrix_run, repeats) / mats
            rows.append({"case": "full matrix + eigvalsh per step", "n": n, "numpy_s": t_mat,
                         "coulombgas_s": t_em, "speedup": t_mat / t_em, "target": ""})
    return rows


def _ensemble_rows(replicas, n, steps, repeats):
    # β = 2 and a small dt so that plain Euler–Maruyama does not reorder over the run
    # (at β = 1 gaps come arbitrarily close and EM crosses in some of 1e4 replicas).
    gas = CoulombGas.gaussian(n, beta=2.0)
    dt = 1e-5
    rng = np.random.default_rng(0)
    x0 = np.broadcast_to(default_x0(gas), (replicas, n)).copy()
    # Per-call set-up: spawning one PCG64 stream per replica and handing them to Numba.
    setup = median_time(lambda: simulate(gas, 0.0, dt, x0=x0, replicas=replicas, seed=1), repeats)
    rows = []
    for scheme in ("euler-maruyama", "adaptive-euler", "adaptive-heun"):
        simulate(gas, 2 * dt, dt, x0=x0, replicas=replicas, scheme=scheme, seed=1, record_every=2)
        t = median_time(lambda: simulate(gas, steps * dt, dt, x0=x0, replicas=replicas, scheme=scheme,
                                          seed=1, record_every=steps, progress=False), repeats)
        # Steady state = the time beyond the per-call set-up; unresolved (None) when the set-up
        # is nearly the whole call, as in --quick runs of a few steps.
        steady = replicas * n * steps / (t - setup) if t - setup > 0.1 * t else None
        rows.append({"scheme": scheme, "particle_steps_per_s": replicas * n * steps / t,
                     "steady_particle_steps_per_s": steady, "setup_s": setup})
    np_steps = max(5, steps // 20)

    def numpy_run():
        x = x0
        for _ in range(np_steps):
            x = numpy_step(x, dt, 2.0, rng)

    t_np = median_time(numpy_run, repeats)
    rate_np = replicas * n * np_steps / t_np
    for r in rows:
        r.update({"case": f"ensemble {replicas} x n={n}", "numpy_particle_steps_per_s": rate_np,
                  "speedup": (r["steady_particle_steps_per_s"] or r["particle_steps_per_s"]) / rate_np,
                  "target": ">= 5e7 /s"})
    return rows


def _rate(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def bench_dynamics(*, quick: bool = False) -> dict:
    """Run the dynamics benchmarks; returns a JSON-friendly dict with ``forces``, ``steps``, ``ensembles``."""
    from .forces import bench_forces

    if quick:
        forces = bench_forces(sizes=(1000,), repeats=3, fast_sizes=(10**4,))
        steps = _single_system_rows((200,), steps=20, repeats=3)
        ensembles = _ensemble_rows(1000, 10, steps=20, repeats=3)
    else:
        forces = bench_forces()
        steps = _single_system_rows((1000, 4000), steps=40, repeats=5)
        ensembles = _ensemble_rows(10_000, 10, steps=1000, repeats=3)
    return {"forces": forces, "steps": steps, "ensembles": ensembles}


def format_table(result: dict) -> str:
    """Plain-text tables of a :func:`bench_dynamics` result."""
    from .forces import format_table as force_table

    lines = [force_table(result["forces"]), "", "One SDE step (median, seconds per step)"]
    lines.append(f"{'case':34s} {'n':>6s} {'numpy':>10s} {'coulombgas':>11s} {'speed-up':>9s}  target")
    for r in result["steps"]:
        lines.append(f"{r['case']:34s} {r['n']:6d} {r['numpy_s']:10.3g} {r['coulombgas_s']:11.3g} "
                     f"{r['speedup']:8.1f}x  {r['target']}")
    lines += ["", "Replica ensembles (random numbers included)"]
    lines.append(f"{'case':24s} {'scheme':16s} {'whole call /s':>14s} {'steady /s':>10s} {'numpy /s':>10s} "
                 f"{'speed-up':>9s}  target")
    for r in result["ensembles"]:
        lines.append(f"{r['case']:24s} {r['scheme']:16s} {r['particle_steps_per_s']:14.3g} "
                     f"{_rate(r['steady_particle_steps_per_s']):>10s} {r['numpy_particle_steps_per_s']:10.3g} "
                     f"{r['speedup']:8.1f}x  {r['target']}")
    if result["ensembles"]:
        lines.append(f"(per-call set-up of {result['ensembles'][0]['setup_s']:.3g} s: one PCG64 stream per replica)")
    return "\n".join(lines)
