"""Paper 1's Gaussian RBM: fixed points, the Wigner surmise per degenerate pair, width scaling.

Aarts, Lucini, Park, arXiv:2407.16427, §IV (also papers 2–3). A 10×10 Gaussian RBM learns a free
scalar field on a periodic lattice (m² = 4, μ² = 9): the eigenvalues of X = WᵀW settle at
μ² − κ_k (two singles, four doubly degenerate pairs), each pair's normalised spacing follows the
β = 1 surmise, and the widths scale as √(α/|B|·(μ² − κ)). Prints, for the α scan at |B| = 16 and
the |B| scan at α = 0.1:

* final eigenvalues against μ² − κ_k (pair centres; the small downward shift is the noise's
  own doing: ⟨A⁻¹⟩ = K⁻¹ with A = μ² − X fluctuating forces ⟨A⟩ > K by Jensen's inequality);
* KS p-value of each pair's normalised spacing against the surmise;
* ⟨S⟩ of every pair against √(α/|B|·(μ² − κ)) with one fitted slope.

    python examples/paper1_rbm.py            # 200 models × 2e4 updates per setting (a few minutes)
    python examples/paper1_rbm.py --full     # 7,500 models × 1e5 updates (the paper's size; hours)
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
from coulombgas.training.rbm import fixed_point  # noqa: E402

SETTINGS = [(0.025, 16), (0.05, 16), (0.1, 16), (0.1, 32), (0.1, 64)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the paper's 7,500 models × 1e5 updates")
    parser.add_argument("--out", default="paper1-rbm", help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    models, steps = (7500, 100_000) if args.full else (200, 20_000)
    os.makedirs(args.out, exist_ok=True)
    x_star, kappa = fixed_point()
    pairs = [(1, 2), (3, 4), (5, 6), (7, 8)]

    rows, spacings = [], []
    for k, (lr, bs) in enumerate(SETTINGS):
        h = cg.training.gaussian_rbm(lr=lr, batch_size=bs, models=models, steps=steps, record_every=steps // 10,
                                     seed=args.seed + k, progress=False, record_weights=False)
        final = h.final()
        for i, j in pairs:
            S = final[:, j] - final[:, i]
            centre = 0.5 * (final[:, i] + final[:, j])
            s = S / S.mean()
            spacings.append(s)
            rows.append({"lr": lr, "batch_size": bs, "pair": (i, j), "x_star": float(x_star[i]),
                         "centre": float(centre.mean()), "centre_err": float(centre.std(ddof=1) / math.sqrt(len(S))),
                         "mean_S": float(S.mean()), "mean_S_err": float(S.std(ddof=1) / math.sqrt(len(S))),
                         "c": math.sqrt(lr / bs * x_star[i]),
                         "surmise_p": float(spectra.goodness_of_fit(s, theory.wigner_surmise(1)).pvalue)})
        singles = [final[:, 0].mean(), final[:, -1].mean()]
        print(f"α = {lr:<5g} |B| = {bs:<3d}: singles {singles[0]:.3f}, {singles[1]:.3f} (μ² − κ: "
              f"{x_star[0]:.3f}, {x_star[-1]:.3f}); pair centres "
              + ", ".join(f"{r['centre']:.3f}±{r['centre_err']:.3f}" for r in rows[-4:])
              + f" (μ² − κ: {', '.join(f'{x:.3f}' for x in x_star[[1, 3, 5, 7]])}); surmise p "
              + ", ".join(f"{r['surmise_p']:.2f}" for r in rows[-4:]))
    fit = spectra.fit_through_origin([r["c"] for r in rows], [r["mean_S"] for r in rows],
                                     [r["mean_S_err"] for r in rows])
    print(f"⟨S⟩ = slope · √(α/|B|·(μ² − κ)) over {len(rows)} pairs × settings: slope {fit.slope:.3f} ± "
          f"{fit.error:.3f}, χ²/dof = {fit.reduced_chi2:.2f}, p = {fit.pvalue:.3g}")
    s_all = np.concatenate(spacings)
    gof = spectra.goodness_of_fit(s_all, theory.wigner_surmise(1))
    print(f"all {s_all.size} normalised pair spacings vs the surmise: KS p = {gof.pvalue:.3g}")

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    hist = spectra.histogram(s_all)
    axes[0].errorbar(hist.centers, hist.density, yerr=hist.error, fmt=".", ms=3, label="RBM, all pairs")
    grid = np.linspace(0, 3.5, 300)
    axes[0].plot(grid, theory.wigner_surmise(1).pdf(grid), "C3", label="Wigner surmise β = 1")
    axes[0].set(xlabel="s", ylabel="P(s)", title="spacings within degenerate pairs")
    axes[0].legend()
    for k, (i, j) in enumerate(pairs):
        sel = [r for r in rows if r["pair"] == (i, j)]
        axes[1].errorbar([r["c"] for r in sel], [r["mean_S"] for r in sel], yerr=[r["mean_S_err"] for r in sel],
                         fmt="o", color=f"C{k}", label=f"pair μ² − κ = {x_star[i]:.2f}")
    g = np.linspace(0, max(r["c"] for r in rows) * 1.05, 50)
    axes[1].plot(g, fit.slope * g, "k-", lw=1, label=f"slope {fit.slope:.3f}")
    axes[1].set(xlabel="√(α/|B|·(μ² − κ))", ylabel="⟨S⟩", title="width scaling")
    axes[1].legend(fontsize=8)
    fig.savefig(os.path.join(args.out, "rbm.png"), dpi=120, bbox_inches="tight")
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump({"models": models, "steps": steps, "fixed_point": x_star.tolist(), "kappa": kappa.tolist(),
                   "rows": rows, "slope": {"slope": fit.slope, "error": fit.error,
                                           "reduced_chi2": fit.reduced_chi2, "pvalue": fit.pvalue},
                   "surmise_ks_p": gof.pvalue}, fh, indent=2)
    print(f"wrote {args.out}/rbm.png and summary.json")


if __name__ == "__main__":
    main()
