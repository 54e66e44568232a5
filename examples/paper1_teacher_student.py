"""Paper 1, teacher–student: Wigner surmise and the linear scaling of ⟨S⟩ over ε, α and |B|.

Aarts, Lucini, Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427, §III. For every
setting of the paper's three scans, train an ensemble of 2×2 students against W_t = 2·1 with
injected GOE-like noise, take the singular values of the final W_s, and measure their spacing
S: the normalised spacings follow the β = 1 Wigner surmise, and ⟨S⟩ and √π σ are linear in
√(α ε²/|B|) with one slope for all three scans, up to SGD's discrete-time factor 1/√(1 − α/2)
that the α scan resolves at α ≳ 0.3 (printed separately).

    python examples/paper1_teacher_student.py             # 600 models per setting (~1 min)
    python examples/paper1_teacher_student.py --full      # the paper's 3,000 models per setting
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

SCANS = {
    "eps": [(0.1, 16, e) for e in (0.05, 0.06, 0.07, 0.08, 0.09, 0.1)],
    "lr": [(a, 16, 0.1) for a in (0.1, 0.2, 0.3, 0.4, 0.5)],
    "batch_size": [(0.1, b, 0.1) for b in (4, 8, 16, 32, 64)],
}


def measure(lr, batch_size, eps, models, seed):
    h = cg.training.teacher_student(lr=lr, batch_size=batch_size, eps=eps, models=models, steps=5000,
                                    record_every=5000, seed=seed, progress=False)
    sv = h.final("singular_values")
    S = sv[:, 1] - sv[:, 0]
    # σ of the equal-σ two-mode density (SCIENCE.md §4), singular values measured from κ = 2.
    x = (sv - 2.0).reshape(min(20, len(sv)), -1)
    fit = spectra.fit_density(x, lambda x, s: theory.two_mode_density(s, s).pdf(x), [S.mean() / 1.77],
                              bounds=[(1e-12, None)])
    return {"lr": lr, "batch_size": batch_size, "eps": eps, "c": math.sqrt(lr * eps**2 / batch_size),
            "mean_S": float(S.mean()), "mean_S_err": float(S.std(ddof=1) / math.sqrt(S.size)),
            "root_pi_sigma": float(math.sqrt(math.pi) * fit.params[0]),
            "root_pi_sigma_err": float(math.sqrt(math.pi) * fit.errors[0]),
            "surmise_ks_p": float(spectra.goodness_of_fit(S / S.mean(), theory.wigner_surmise(1)).pvalue),
            "diverged": int(len(h.diverged_ids)), "s": (S / S.mean()).tolist()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the paper's 3,000 models per setting")
    parser.add_argument("--out", default="paper1-teacher-student", help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    models = 3000 if args.full else 600
    os.makedirs(args.out, exist_ok=True)

    rows = {}
    for k, (name, settings) in enumerate(SCANS.items()):
        rows[name] = [measure(*s, models=models, seed=args.seed + 100 * k + j) for j, s in enumerate(settings)]
    every = [r for rs in rows.values() for r in rs]
    x = np.array([r["c"] for r in every])
    fits = {}
    for key in ("mean_S", "root_pi_sigma"):
        fits[key] = spectra.fit_through_origin(x, [r[key] for r in every], [r[key + "_err"] for r in every])
    per_scan = {name: spectra.fit_through_origin([r["c"] for r in rs], [r["mean_S"] for r in rs],
                                                 [r["mean_S_err"] for r in rs]) for name, rs in rows.items()}

    print(f"{models} models per setting, 5,000 updates, |B|·500 samples swept in order")
    print(f"{'scan':>10} {'α':>5} {'|B|':>4} {'ε':>5} {'√(αε²/|B|)':>11} {'⟨S⟩':>17} {'√π σ':>17} {'KS p':>6}")
    for name, rs in rows.items():
        for r in rs:
            print(f"{name:>10} {r['lr']:5.2f} {r['batch_size']:4d} {r['eps']:5.2f} {r['c']:11.5f} "
                  f"{r['mean_S']:.5f} ± {r['mean_S_err']:.5f} {r['root_pi_sigma']:.5f} ± "
                  f"{r['root_pi_sigma_err']:.5f} {r['surmise_ks_p']:6.3f}")
    for name, f in per_scan.items():
        print(f"slope of ⟨S⟩ over the {name} scan: {f.slope:.4f} ± {f.error:.4f} (χ²/dof {f.reduced_chi2:.2f})")
    for key, f in fits.items():
        print(f"common slope of {key}: {f.slope:.4f} ± {f.error:.4f}, χ²/dof = {f.reduced_chi2:.2f}, "
              f"p = {f.pvalue:.3g}")
    # SGD's discrete time: the stationary variance of δ' = δ(1 − αC) + αA (C ≈ 1) is α v/(2 − α),
    # the continuum SDE's α v/2 times 1/(1 − α/2). With that factor the α scan falls on the line.
    xc = x / np.sqrt(1.0 - np.array([r["lr"] for r in every]) / 2.0)
    corrected = spectra.fit_through_origin(xc, [r["mean_S"] for r in every], [r["mean_S_err"] for r in every])
    print(f"with the discrete-time factor 1/√(1 − α/2): slope {corrected.slope:.4f} ± {corrected.error:.4f}, "
          f"χ²/dof = {corrected.reduced_chi2:.2f}, p = {corrected.pvalue:.3g}")
    s_all = np.concatenate([r["s"] for r in every])
    gof = spectra.goodness_of_fit(s_all, theory.wigner_surmise(1))
    print(f"all {s_all.size} normalised spacings vs the Wigner surmise: KS D = {gof.statistic:.4f}, "
          f"p = {gof.pvalue:.3g}")

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    h = spectra.histogram(s_all)
    axes[0].errorbar(h.centers, h.density, yerr=h.error, fmt=".", ms=3, label="training")
    grid = np.linspace(0, 3.5, 300)
    axes[0].plot(grid, theory.wigner_surmise(1).pdf(grid), "C3", label="Wigner surmise β = 1")
    axes[0].set(xlabel="s = S/⟨S⟩", ylabel="P(s)", title="normalised singular-value spacings")
    axes[0].legend()
    for k, (name, rs) in enumerate(rows.items()):
        axes[1].errorbar([r["c"] for r in rs], [r["mean_S"] for r in rs], yerr=[r["mean_S_err"] for r in rs],
                         fmt="o", color=f"C{k}", label=f"⟨S⟩, {name} scan")
        axes[1].errorbar([r["c"] for r in rs], [r["root_pi_sigma"] for r in rs],
                         yerr=[r["root_pi_sigma_err"] for r in rs], fmt="x", color=f"C{k}")
    g = np.linspace(0, x.max() * 1.05, 50)
    axes[1].plot(g, fits["mean_S"].slope * g, "k-", lw=1, label=f"common slope {fits['mean_S'].slope:.3f}")
    axes[1].set(xlabel="√(α ε²/|B|)", ylabel="⟨S⟩ (o), √π σ (x)", title="linear scaling rule")
    axes[1].legend(fontsize=8)
    fig.savefig(os.path.join(args.out, "teacher_student.png"), dpi=120, bbox_inches="tight")
    for rs in rows.values():
        for r in rs:
            r.pop("s")
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump({"models": models, "scans": rows,
                   "common_slope": {k: {"slope": f.slope, "error": f.error, "reduced_chi2": f.reduced_chi2,
                                        "pvalue": f.pvalue} for k, f in fits.items()},
                   "common_slope_discrete_time": {"slope": corrected.slope, "error": corrected.error,
                                                  "reduced_chi2": corrected.reduced_chi2,
                                                  "pvalue": corrected.pvalue},
                   "surmise_ks": {"statistic": gof.statistic, "pvalue": gof.pvalue}}, fh, indent=2)
    print(f"wrote {args.out}/teacher_student.png and summary.json")


if __name__ == "__main__":
    main()
