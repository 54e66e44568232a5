"""Paper 1's Gaussian RBM: levels against the fixed point, √πσ fits per pair, widths of the single levels.

Aarts, Lucini, Park, arXiv:2407.16427, §IV (also papers 2–3). A 10×10 Gaussian RBM learns a free
scalar field on a periodic lattice (m² = 4, μ² = 9): the eigenvalues of X = WᵀW settle near
μ² − κ_k (two singles, four doubly degenerate pairs). For every (α, |B|) this prints, and draws:

1. λ_fit/κ against T = α/|B| for each level (λ = μ² − x, the eigenvalue of A = μ² − X: singles and
   pair centres), beside the prediction 1 − Δ_k/κ_k with Δ_k the O(T) shift of each level from
   :func:`coulombgas.theory.rbm_levels.rbm_level_shifts` (the Itô term of X = WᵀW, the drift's
   second order, repulsion from non-degenerate neighbours and the chains' correlation; Jensen's
   inequality accounts only for the mean over all levels);
2. per degenerate pair, σ of the equal-σ two-mode density ρ(x) fitted with a free centre
   (maximum likelihood, jackknife over models), √πσ against the measured ⟨S⟩ (on y = x);
3. the Gaussian width of each single level against the linear-response prediction
   (:func:`coulombgas.training.rbm.stationary_variance`, chains included).

    python examples/paper1_rbm.py            # 3 settings, 32 models, 2,400 updates from the fixed point (< 1 min)
    python examples/paper1_rbm.py --full     # the paper's grid: α ∈ {0.01 … 0.1} at |B| = 16 and
                                             # |B| ∈ {4 … 64} at α = 0.1, 7,500 models × 1e5 updates
                                             # from W(0) ~ N(0, 0.1²) (hours; device="cuda" helps)

The default starts at the fixed point (``start="fixed-point"``) and discards the first third, so
that a small run is stationary; ``--full`` follows the papers' protocol and uses the last half.
"""

from __future__ import annotations

import argparse
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import coulombgas as cg  # noqa: E402
from coulombgas import spectra, theory  # noqa: E402
from coulombgas.theory.rbm_levels import rbm_level_shifts  # noqa: E402
from coulombgas.training.rbm import fixed_point, stationary_variance  # noqa: E402

FULL_ALPHAS = (0.01, 0.02, 0.04, 0.06, 0.08, 0.1)
FULL_BATCHES = (4, 8, 16, 32, 64)
SMALL = ((0.05, 16), (0.1, 16), (0.1, 64))
MU2 = 9.0


def settings(full):
    if not full:
        return list(SMALL)
    out = [(a, 16) for a in FULL_ALPHAS]
    return out + [(0.1, b) for b in FULL_BATCHES if b != 16]


def equal_sigma_pdf(x, centre, sigma):
    return theory.two_mode_density(sigma, sigma, loc=centre).pdf(x)


def analyse(h, lr, bs, burn):
    """Per-level shifts, pair fits and single widths of one harvest (late records only)."""
    x_star, kappa_sorted = fixed_point()
    kappa = MU2 - x_star  # κ of each ascending level
    late = h.eigenvalues[:, h.steps >= burn]  # (models, records, n)
    th = rbm_level_shifts(lr=lr, batch_size=bs, gibbs_steps=h.params["gibbs_steps"])
    _, s2 = stationary_variance(lr=lr, batch_size=bs, gibbs_steps=h.params["gibbs_steps"])
    T = lr / bs
    row = {"lr": lr, "batch_size": bs, "T": T, "models": int(h.models), "records": int(late.shape[1]),
           "levels": [], "pairs": [], "singles": []}
    for g in th.groups:
        per_model = late[..., list(g)].mean(axis=(1, 2))
        x, e = per_model.mean(), per_model.std(ddof=1) / math.sqrt(len(per_model))
        k = kappa[g[0]]
        row["levels"].append({"levels": list(g), "kappa": float(k), "lambda_over_kappa": float((MU2 - x) / k),
                              "err": float(e / k), "predicted": float(1.0 - th.shift[g[0]] / k),
                              "shift_over_T": float((x - x_star[g[0]]) / T),
                              "shift_over_T_err": float(e / T), "predicted_shift_over_T": float(th.shift[g[0]] / T)})
        if len(g) == 2:
            two = late[..., list(g)]
            S = np.abs(two[..., 1] - two[..., 0]).mean(axis=1)  # per model
            sig0 = S.mean() / math.sqrt(math.pi)
            fit = spectra.fit_density(two.reshape(len(two), -1), equal_sigma_pdf, [float(two.mean()), sig0],
                                      bounds=[(None, None), (1e-6, None)], blocks=min(10, len(two)))
            sigma, sigma_err = fit.params[1], fit.errors[1]
            row["pairs"].append({"levels": list(g), "kappa": float(k), "centre": float(fit.params[0]),
                                 "sqrt_pi_sigma": float(math.sqrt(math.pi) * sigma),
                                 "sqrt_pi_sigma_err": float(math.sqrt(math.pi) * sigma_err),
                                 "mean_S": float(S.mean()), "mean_S_err": float(S.std(ddof=1) / math.sqrt(len(S)))})
        else:
            i = g[0]
            v = late[..., i]
            width = v.std(ddof=1)
            # Error of a standard deviation over independent models: the spread of per-model widths.
            per = np.sqrt(((v - v.mean()) ** 2).mean(axis=1))
            row["singles"].append({"level": i, "kappa": float(k), "width": float(width),
                                   "width_err": float(per.std(ddof=1) / math.sqrt(len(per))),
                                   "predicted": float(math.sqrt(s2[i]))})
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the paper's grid, 7,500 models × 1e5 updates")
    parser.add_argument("--models", type=int, help="models per setting (default 32; --full 7500)")
    parser.add_argument("--steps", type=int, help="updates per setting (default 2400; --full 100000)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out", default="paper1-rbm", help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    models = args.models or (7500 if args.full else 32)
    steps = args.steps or (100_000 if args.full else 2400)
    start = "random" if args.full else "fixed-point"
    burn = steps // 2 if args.full else steps // 3
    os.makedirs(args.out, exist_ok=True)

    rows = []
    for k, (lr, bs) in enumerate(settings(args.full)):
        h = cg.training.gaussian_rbm(lr=lr, batch_size=bs, models=models, steps=steps,
                                     record_every=max(1, steps // 24), seed=args.seed + k, progress=False,
                                     record_weights=False, start=start, device=args.device, fallback=True)
        row = analyse(h, lr, bs, burn)
        rows.append(row)
        print(f"α = {lr:<5g} |B| = {bs:<3d} T = {row['T']:.5f}  ({row['models']} models, {row['records']} records)")
        print("   level κ      λ_fit/κ            predicted   shift/T (train)     shift/T (theory)")
        for lv in row["levels"]:
            print(f"   {str(tuple(lv['levels'])):7s}{lv['kappa']:6.3f} {lv['lambda_over_kappa']:.5f} ± {lv['err']:.5f}"
                  f"   {lv['predicted']:.5f}   {lv['shift_over_T']:+7.2f} ± {lv['shift_over_T_err']:.2f}"
                  f"      {lv['predicted_shift_over_T']:+7.2f}")
        for p in row["pairs"]:
            print(f"   pair {tuple(p['levels'])}: √πσ = {p['sqrt_pi_sigma']:.4f} ± {p['sqrt_pi_sigma_err']:.4f}, "
                  f"⟨S⟩ = {p['mean_S']:.4f} ± {p['mean_S_err']:.4f}, centre {p['centre']:.4f}")
        for s in row["singles"]:
            print(f"   single level {s['level']}: Gaussian width {s['width']:.4f} ± {s['width_err']:.4f}, "
                  f"linear response {s['predicted']:.4f}")

    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    n_groups = len(rows[0]["levels"])
    Ts = np.array([r["T"] for r in rows])
    order = np.argsort(Ts)
    for j in range(n_groups):
        y = np.array([r["levels"][j]["lambda_over_kappa"] for r in rows])[order]
        e = np.array([r["levels"][j]["err"] for r in rows])[order]
        p = np.array([r["levels"][j]["predicted"] for r in rows])[order]
        lab = f"κ = {rows[0]['levels'][j]['kappa']:.2f}"
        axes[0].errorbar(Ts[order], y, yerr=e, fmt="o", color=f"C{j}", ms=4, label=lab)
        axes[0].plot(Ts[order], p, "-", color=f"C{j}", lw=1)
    axes[0].axhline(1.0, color="k", lw=0.5)
    axes[0].set(xlabel="T = α/|B|", ylabel="λ_fit/κ", title="levels (points) and O(T) prediction (lines)")
    axes[0].legend(fontsize=7)
    allp = [p for r in rows for p in r["pairs"]]
    axes[1].errorbar([p["mean_S"] for p in allp], [p["sqrt_pi_sigma"] for p in allp],
                     xerr=[p["mean_S_err"] for p in allp], yerr=[p["sqrt_pi_sigma_err"] for p in allp], fmt="o", ms=4)
    top = max(max(p["mean_S"], p["sqrt_pi_sigma"]) for p in allp) * 1.05
    axes[1].plot([0, top], [0, top], "k-", lw=0.8, label="y = x")
    axes[1].set(xlabel="⟨S⟩ (training)", ylabel="√πσ (two-mode density fit)", title="pairs")
    axes[1].legend()
    for j, s0 in enumerate(rows[0]["singles"]):
        w = [r["singles"][j]["width"] for r in rows]
        we = [r["singles"][j]["width_err"] for r in rows]
        pr = [r["singles"][j]["predicted"] for r in rows]
        axes[2].errorbar(np.sqrt(Ts), w, yerr=we, fmt="o", color=f"C{j}", label=f"single κ = {s0['kappa']:.0f}")
        axes[2].plot(np.sqrt(Ts)[order], np.array(pr)[order], "-", color=f"C{j}", lw=1)
    axes[2].set(xlabel="√T", ylabel="Gaussian width", title="single levels (lines: linear response)")
    axes[2].legend()
    fig.savefig(os.path.join(args.out, "rbm.png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump({"models": models, "steps": steps, "start": start, "burn": burn, "rows": rows}, fh, indent=2)
    print(f"wrote {args.out}/rbm.png and summary.json")
    return rows


if __name__ == "__main__":
    main()
