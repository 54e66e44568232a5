"""Paper 4's phase diagram as the authors ran it: every figure, in the paper's axes (1/σ_W, ε/|B|).

Park, Lucini, Aarts, arXiv:2509.01349. The student y = Z tanh(W tanh(M x)) learns a teacher of
the same form with only W (16×32) trained by SGD on ½·MSE (``coulombgas.training.phase_network``,
the authors' ``generate.py`` protocol: 1000·|B| fixed samples swept in order, |B| = 4, 21
snapshots). At every grid point (ε, σ_W ∈ 2⁻³…2⁸) the script measures the paper's order
parameters (``coulombgas.training.phase_observables``) and the authors' drift-versus-noise
criterion (``coulombgas.training.phase_boundary``), and draws:

  fig1_soft_spin.png        soft-spin density p(φ) of φ = tanh z, σ_z² = 2, ½, 0.1 (Fig. 1)
  fig2_test_mse.png         test MSE on 128 held-out inputs (Fig. 2)
  fig3_loss_grad.png        final loss and gradient norm against ε/|B|, one line per σ_W (Fig. 3)
  fig4_ordered_column.png   loss and gradient norm at the smallest σ_W (16/84 % band) and the initial
                            gradient norm against 1/σ_W (Fig. 4)
  fig5_q_hs.png             overlap q and alignment hs (Fig. 5)
  fig6_eigenvalue_flow.png  eigenvalues of WWᵀ at (σ_W, T) = (1/8, 1/32), (1/8, 4), (256, 1/32) (Fig. 6)
  fig7_lyapunov.png         spacing exponent λ (Fig. 7)
  fig8_criterion.png        gradient norm with T_c, q and hs with the criterion's 0.68/0.95/0.997 contours (Fig. 8)
  fig9_boundaries.png       test MSE, q, hs, λ with the masked 0.68 contour, the paper's line 1/σ_W = √2
                            and ours (the q = ½ crossing) (Fig. 9)

    python examples/paper4_phase_diagram.py           # 12×12 grid, 10 networks × 2·10⁴ updates (minutes)
    python examples/paper4_phase_diagram.py --full    # the paper's size through cg.sweep (Dask; CUDA if present)

The time each would take here is printed before it starts. ``--epochs``, ``--models``,
``--lr``, ``--sigma-w`` change the size; ``--sweep`` runs any size through ``cg.sweep``.
In-process, point (i, j) is seeded ``seed + 1000 i + j`` (independent points, as the paper's
separate runs); through ``cg.sweep`` every point gets ``seed`` (the same teachers and data at
every point: common random numbers, so neighbouring points differ only by ε and σ_W).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import coulombgas as cg  # noqa: E402
from coulombgas.cuda.device import available as cuda_available  # noqa: E402
from coulombgas.cuda.device import simulator as cuda_simulator  # noqa: E402
from coulombgas.training import phase_boundary as pb  # noqa: E402
from coulombgas.training import phase_observables as po  # noqa: E402
from coulombgas.training import phase_paper as pp  # noqa: E402

GRID = 2.0 ** np.arange(-3, 9)  # ε and σ_W of the paper, 2⁻³ … 2⁸
BS = 4
#: The three representative points of Fig. 6: (σ_W, ε).
POINTS = {"ordered": (0.125, 0.125), "high-temperature": (0.125, 16.0), "jammed": (256.0, 0.125)}
PAPER_LINE = math.sqrt(2.0)  # the paper's ordered/jammed boundary, 1/σ_W = √2 (σ_W² = ½)


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the paper's size: 100 networks × 10⁸ updates per point")
    ap.add_argument("--sweep", action="store_true", help="run through cg.sweep (Dask) at any size")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per run (≤ 20 or a multiple of 20)")
    ap.add_argument("--models", type=int, default=None, help="networks per grid point")
    ap.add_argument("--epoch-batches", type=int, default=1000, help="batches per epoch (paper: 1000)")
    ap.add_argument("--lr", default=None, help="comma-separated ε values (default 2^-3…2^8)")
    ap.add_argument("--sigma-w", default=None, help="comma-separated σ_W values (default 2^-3…2^8)")
    ap.add_argument("--workers", type=int, default=2, help="Dask workers for --sweep/--full")
    ap.add_argument("--out", default="paper4-phase-diagram", help="output directory")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    a.epochs = a.epochs or (100_000 if a.full else 20)
    a.models = a.models or (100 if a.full else 10)
    a.lr = np.array(sorted(float(s) for s in a.lr.split(","))) if a.lr else GRID
    a.sigma_w = np.array(sorted(float(s) for s in a.sigma_w.split(","))) if a.sigma_w else GRID
    for name, vals in (("lr", a.lr), ("sigma_w", a.sigma_w)):
        if np.any(vals <= 0) or not np.all(np.isfinite(vals)):
            ap.error(f"--{name.replace('_', '-')} values must be > 0, got {vals.tolist()}")
    pp.snapshot_epochs(a.epochs)  # ValueError naming `epochs` for a count generate.py cannot save
    return a


def rate_here():
    """Updates per second here: 8 networks × 5,000 updates of the training kernel (after a warm-up call)."""
    kw = dict(lr=0.125, models=8, record_weights=False, progress=False)
    cg.training.phase_network(steps=10, record_every=10, **kw)  # compile or load the cached kernel
    t = time.perf_counter()
    cg.training.phase_network(steps=5_000, record_every=5_000, **kw)
    return 8 * 5_000 / (time.perf_counter() - t)


def run_points(a, device):
    """{(i σ_W, j ε): PhaseRun} in-process, or through cg.sweep (one harvest per point)."""
    steps = a.epochs * a.epoch_batches
    snaps = len(pp.snapshot_epochs(a.epochs))
    runs = {}
    if a.sweep or a.full:
        fixed = {"model": "phase-network", "models": a.models, "steps": steps, "snapshots": snaps,
                 "record_every": steps // (snaps - 1), "epoch_batches": a.epoch_batches, "batch_size": BS,
                 "loss": "half_mse", "device": device, "seed": a.seed}
        out = os.path.join(a.out, "sweep")
        rows = cg.sweep("train", {"sigma_w": a.sigma_w.tolist(), "lr": a.lr.tolist()}, fixed=fixed, out=out,
                        workers=a.workers, progress=True)
        for k, row in enumerate(rows):
            i, j = divmod(k, len(a.lr))
            path = os.path.join(out, f"point-{k:04d}", "harvest.npz")
            if row.get("status") == "ok":
                runs[i, j] = pp.paper_snapshots(cg.training.Harvest.load(path))
        return runs
    for i, s in enumerate(a.sigma_w):
        for j, e in enumerate(a.lr):
            runs[i, j] = pp.paper_run(lr=e, sigma_w=s, epochs=a.epochs, models=a.models, seed=a.seed + 1000 * i + j,
                                      epoch_batches=a.epoch_batches, device=device)
    return runs


def measure(a, runs):
    """Matrices (σ_W rows, ε columns) of every order parameter, the criterion's fractions, T_c and boundaries."""
    shape = (len(a.sigma_w), len(a.lr))
    keys = ("test_mse", "q", "hs", "lyapunov", "final_loss_median", "gradient_norm_median",
            "initial_gradient_norm_median")
    m = {k: np.full(shape, np.nan) for k in keys}
    m["fraction"] = np.full(shape, np.nan)
    m["fraction_corrected"] = np.full(shape, np.nan)
    phase = np.full(shape, "", dtype=object)
    bands = {}
    for (i, j), run in runs.items():
        op = po.order_parameters(run)
        for k in keys:
            m[k][i, j] = getattr(op, k)
        phase[i, j] = op.phase
        m["fraction"][i, j] = pb.criterion_terms(run).fraction
        m["fraction_corrected"][i, j] = pb.criterion_terms(run, form="corrected").fraction
        bands[i, j] = (po.median_band(po.final_loss(run)), po.median_band(po.gradient_norm(run)),
                       po.median_band(po.gradient_norm(run, 0)))
    T = a.lr / BS
    tc = {str(lv): pb.critical_temperature(m["fraction"], a.lr, BS, lv).tolist() for lv in pb.LEVELS}
    inv = 1.0 / a.sigma_w[::-1]  # ascending 1/σ_W
    ours = [pb.crossing(inv, m["q"][::-1, j], po.PHASE_THRESHOLDS["q_jammed"]) if len(inv) > 1 else math.nan
            for j in range(len(T))]
    return m, phase, bands, tc, ours


def heat(ax, a, values, title, norm=None, vmin=None, vmax=None, fig=None):
    X, Y = np.meshgrid(1.0 / a.sigma_w, a.lr / BS, indexing="ij")
    im = ax.pcolormesh(X, Y, values, norm=norm, vmin=vmin, vmax=vmax, cmap="inferno", shading="nearest")
    ax.set(xscale="log", yscale="log", xlabel="1/σ_W", ylabel="ε/|B|", title=title)
    if fig is not None:
        fig.colorbar(im, ax=ax)
    return X, Y


def contours(ax, a, m, levels, masked=False, color=None):
    X, Y = np.meshgrid(1.0 / a.sigma_w, a.lr / BS, indexing="ij")
    f = m["fraction"]
    if masked:
        f = np.ma.array(f, mask=pb.criterion_mask(a.lr, a.sigma_w, BS))
    if min(f.shape) >= 2:
        ax.contour(X, Y, f, levels=list(levels), colors=color, linestyles="-.", linewidths=2)


def figures(a, runs, m, phase, bands, tc, ours):
    out, T, inv = a.out, a.lr / BS, 1.0 / a.sigma_w
    lognorm = matplotlib.colors.LogNorm
    # Fig. 1
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    phi = np.linspace(-0.999, 0.999, 1000)
    for var in (2.0, 0.5, 0.1):
        ax[0].plot(phi, cg.theory.soft_spin(math.sqrt(var)).pdf(phi), label=f"σ_z² = {var:g}")
    ax[0].set(xlim=(-1.2, 1.2), ylim=(0, 3), xlabel="φ", ylabel="p(φ)")
    ax[0].legend()
    z = np.linspace(-10, 10, 400)
    ax[1].plot(z, np.tanh(z), "k")
    ax[1].axvspan(-1, 1, alpha=0.15, label="linear regime")
    ax[1].axvspan(5, 10, alpha=0.15, color="gray", label="jamming regime")
    ax[1].axvspan(-10, -5, alpha=0.15, color="gray")
    ax[1].set(xlabel="z", ylabel="φ = tanh z")
    ax[1].legend(loc="upper left")
    fig.savefig(os.path.join(out, "fig1_soft_spin.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    # Fig. 2
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    heat(ax, a, m["test_mse"], "test MSE", norm=lognorm(1e-7, 1e-1), fig=fig)
    fig.savefig(os.path.join(out, "fig2_test_mse.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    # Fig. 3
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.cm.inferno(np.linspace(0, 0.8, len(a.sigma_w)))
    for i in range(len(a.sigma_w)):
        ax[0].plot(T, m["final_loss_median"][i], "o-", color=colors[i], label=f"1/σ_W = {inv[i]:.3g}")
        ax[1].plot(T, m["gradient_norm_median"][i], "o-", color=colors[i])
    ax[0].set(xscale="log", yscale="log", xlabel="ε/|B|", ylabel="final loss (median)")
    ax[1].set(xscale="log", yscale="log", xlabel="ε/|B|", ylabel="‖∇L‖ at t_f (median)")
    fig.legend(loc="center right", fontsize=7)
    fig.savefig(os.path.join(out, "fig3_loss_grad.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    # Fig. 4 (smallest σ_W row; initial gradient at the smallest ε column)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    for col, (k, label) in enumerate(((0, "final loss"), (1, "‖∇L‖ at t_f"))):
        med = np.array([bands[0, j][k][0] for j in range(len(T)) if (0, j) in bands])
        lo = np.array([bands[0, j][k][1] for j in range(len(T)) if (0, j) in bands])
        hi = np.array([bands[0, j][k][2] for j in range(len(T)) if (0, j) in bands])
        ax[col].errorbar(T[:len(med)], med, yerr=[med - lo, hi - med], fmt="o", color="navy")
        ax[col].set(xscale="log", yscale="log", xlabel="ε/|B|", ylabel=label, title=f"1/σ_W = {inv[0]:.3g}")
    med = np.array([bands[i, 0][2][0] for i in range(len(inv))])
    lo = np.array([bands[i, 0][2][1] for i in range(len(inv))])
    hi = np.array([bands[i, 0][2][2] for i in range(len(inv))])
    ax[2].errorbar(inv, med, yerr=[med - lo, hi - med], fmt="o", color="navy")
    ax[2].set(xscale="log", yscale="log", xlabel="1/σ_W", ylabel="‖∇L‖ at t = 0")
    fig.savefig(os.path.join(out, "fig4_ordered_column.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    # Fig. 5
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.5))
    heat(ax[0], a, m["q"], "overlap q", vmin=0.0, vmax=0.8, fig=fig)
    heat(ax[1], a, m["hs"], "alignment hs", vmin=0.5e-3, vmax=2e-3, fig=fig)
    fig.savefig(os.path.join(out, "fig5_q_hs.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    # Fig. 6
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for k, (name, (s, e)) in enumerate(POINTS.items()):
        key = next(((i, j) for (i, j) in runs if a.sigma_w[i] == s and a.lr[j] == e), None)
        if key is None:
            ax[k].set_title(f"{name}: (σ_W, ε) = ({s:g}, {e:g}) not on this grid")
            continue
        run = runs[key]
        flow = po.eigenvalue_flow(run)
        for f in flow:
            ax[k].plot(run.epochs_at * a.epoch_batches, f, color="steelblue", lw=0.6)
        target = np.linalg.svd(run.Wt, compute_uv=False) ** 2
        for x in np.unique(np.round(target.ravel(), 6))[:: max(1, target.size // 40)]:
            ax[k].axhline(x, color="k", ls="--", alpha=0.1)
        ax[k].set(xlabel="t (updates)", ylabel="x(t), eigenvalues of WWᵀ",
                  title=f"{name}: ε/|B| = {e / BS:g}, 1/σ_W = {1 / s:g}")
    fig.savefig(os.path.join(out, "fig6_eigenvalue_flow.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    # Fig. 7
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    heat(ax, a, m["lyapunov"], "spacing exponent λ (per epoch)", vmin=0, vmax=20 / a.epochs, fig=fig)
    fig.savefig(os.path.join(out, "fig7_lyapunov.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    # Fig. 8
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.5))
    ax[0].plot(T, m["gradient_norm_median"][0], "o", color="navy")
    for lv, style in zip(pb.LEVELS, ("-.", "--", ":")):
        t_c = tc[str(lv)][0]
        if np.isfinite(t_c):
            ax[0].axvline(t_c, ls=style, color="C3", label=f"T_c at {lv:g}: {t_c:.3g}")
    ax[0].set(xscale="log", yscale="log", xlabel="ε/|B|", ylabel="‖∇L‖ at t_f", title=f"1/σ_W = {inv[0]:.3g}")
    ax[0].legend(fontsize=8)
    heat(ax[1], a, m["q"], "q with the criterion", vmin=0, vmax=0.8)
    contours(ax[1], a, m, pb.LEVELS, color="w")
    heat(ax[2], a, m["hs"], "hs with the criterion", vmin=0.5e-3, vmax=2e-3)
    contours(ax[2], a, m, pb.LEVELS, color="w")
    fig.savefig(os.path.join(out, "fig8_criterion.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    # Fig. 9
    fig, ax = plt.subplots(2, 2, figsize=(11, 9))
    for axis, (key, title, kw) in zip(ax.ravel(), (
            ("test_mse", "test MSE", {"norm": lognorm(1e-7, 1e-1)}), ("q", "q", {"vmin": 0, "vmax": 0.8}),
            ("hs", "hs", {"vmin": 0.5e-3, "vmax": 2.5e-3}), ("lyapunov", "λ", {"vmin": 0, "vmax": 20 / a.epochs}))):
        heat(axis, a, m[key], title, fig=fig, **kw)
        contours(axis, a, m, [pb.LEVELS[0]], masked=True, color="w")
        axis.axvline(PAPER_LINE, ymax=0.436, color="w", ls="--", lw=2.5, label="paper: 1/σ_W = √2")
        axis.plot(ours, T, "c^-", ms=4, label="ours: q = ½")
    ax[0, 0].legend(fontsize=7, loc="upper right")
    fig.savefig(os.path.join(out, "fig9_boundaries.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    a = parse(argv)
    os.makedirs(a.out, exist_ok=True)
    device = "cuda" if cuda_available() and not cuda_simulator() else "cpu"
    points = len(a.lr) * len(a.sigma_w)
    updates = points * a.models * a.epochs * a.epoch_batches
    rate = rate_here()
    print(f"{len(a.sigma_w)}×{len(a.lr)} grid, {a.models} networks × {a.epochs} epochs × {a.epoch_batches} "
          f"batches (|B| = {BS}): {updates:.3g} updates; here at {rate:.3g} updates/s: "
          f"≈ {updates / rate / 60:.3g} min ({updates / rate / 86400:.3g} days) on the CPU"
          + (" — running on the GPU" if device == "cuda" else ""), flush=True)
    if a.full and device == "cpu" and not os.environ.get("PAPER4_FULL_ON_CPU"):
        print("--full on the CPU would take the time above; set PAPER4_FULL_ON_CPU=1 to start it anyway.")
        return 2
    start = time.perf_counter()
    runs = run_points(a, device)
    m, phase, bands, tc, ours = measure(a, runs)
    figures(a, runs, m, phase, bands, tc, ours)
    T = a.lr / BS
    low = [x for x, t in zip(ours, T) if np.isfinite(x) and t <= 1.0]
    offset = float(np.median(np.log2(np.array(low) / PAPER_LINE))) if low else math.nan
    short = {"ordered": "O", "high-temperature": "H", "jammed": "J", "": "-"}
    print(f"phase by the paper's order parameters (q ≥ ½: J; test MSE ≤ 1e-3: O; else H), "
          f"rows 1/σ_W, columns ε/|B|  [{time.perf_counter() - start:.0f} s]")
    print("  1/σ_W \\ T " + " ".join(f"{t:>6.3g}" for t in T))
    for i in range(len(a.sigma_w)):
        print(f"{1 / a.sigma_w[i]:>11.4g} " + " ".join(f"{short[phase[i, j]]:>6}" for j in range(len(T))))
    print("T_c (σ_W = %g):" % a.sigma_w[0], {lv: tc[lv][0] for lv in tc})
    print(f"ordered/jammed boundary (q = ½) at T ≤ 1: 1/σ_W = {[round(x, 3) for x in low]}; "
          f"median log2(ours/√2) = {offset:+.2f} octaves")
    summary = {"models": a.models, "epochs": a.epochs, "epoch_batches": a.epoch_batches, "batch_size": BS,
               "lr": a.lr.tolist(), "sigma_w": a.sigma_w.tolist(), "device": device,
               "phase": phase.tolist(), "T_c": tc, "boundary_q_half_inv_sigma_w": ours,
               "boundary_offset_octaves_from_sqrt2": offset,
               **{k: np.where(np.isfinite(val), val, None).tolist() for k, val in m.items()}}
    with open(os.path.join(a.out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    print(f"wrote {a.out}/fig1…fig9 and summary.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
