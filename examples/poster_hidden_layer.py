"""The poster's teacher–student with a hidden layer: surmise, unequal widths, two-component density.

Park, Favoni, Lucini, Aarts, arXiv:2412.20496 (poster; SCIENCE.md §6). Student Z W x with a
fixed Z: the hidden layer sets each mode's relaxation rate, so for Z ≠ 1 the two modes of a
degenerate pair fluctuate with different widths σ₁ ≠ σ₂. Prints and draws:

* n = 2, Z = 1 and a general Z: the normalised spacing against the Wigner surmise, the widths
  of the two hidden-layer modes (F-test of equality), and the one-point density of the pair
  against the exact two-component ρ(x) (σ₁ ≠ σ₂) and the equal-σ form, with the likelihood
  ratio between them;
* n = 10 with four doubly degenerate pairs: the spacing within each pair against the surmise;
* for n = 2, ⟨S⟩ of the pair beside the exact finite-α law of the linear model
  (:mod:`coulombgas.training.exact`, averaged over datasets: each model draws its own).

    python examples/poster_hidden_layer.py            # 1,000 models (~1 min)
    python examples/poster_hidden_layer.py --full     # 3,000 models, n = 10 with 3,000 models
"""

from __future__ import annotations

import argparse
import importlib
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402

import coulombgas as cg  # noqa: E402
from coulombgas import spectra, theory  # noqa: E402
from coulombgas.training import exact  # noqa: E402

hl = importlib.import_module("coulombgas.training.hidden_layer")


def two_mode(args, Z, seed):
    h = cg.training.hidden_layer_teacher_student(n=2, Z=Z, models=args.models, steps=5000, record_every=5000,
                                                 seed=seed, progress=False)
    final = h.final()
    S = final[:, 1] - final[:, 0]
    surmise = spectra.goodness_of_fit(S / S.mean(), theory.wigner_surmise(1))
    z, modes = hl.hidden_modes(h)
    a, b = modes[:, 0], modes[:, 1]
    F = np.var(a, ddof=1) / np.var(b, ddof=1)
    p_equal = 2 * min(scipy.stats.f.cdf(F, len(a) - 1, len(b) - 1), scipy.stats.f.sf(F, len(a) - 1, len(b) - 1))
    # One-point density of the pair about its centre; a random mirror per model (x₁, x₂) → (−x₂, −x₁).
    flip = np.random.default_rng(seed).choice([-1.0, 1.0], size=(len(final), 1))
    x = flip * (final - final.mean())
    sd = float(x.std())
    two = spectra.fit_density(x, lambda x, s1, s2: theory.two_mode_density(s1, s2).pdf(x), [0.8 * sd, 1.2 * sd],
                              bounds=[(1e-9, None), (1e-9, None)], blocks=20)
    one = spectra.fit_density(x, lambda x, s: theory.two_mode_density(s, s).pdf(x), [sd], bounds=[(1e-9, None)],
                              blocks=20)
    lr_stat = 2 * (one.nll - two.nll) * two.samples
    law = exact.predict(h, datasets=64, samples=100_000, seed=seed)
    m_ex, e_ex = law.mean_spacing("eigenvalues")
    return {"mean_S": float(S.mean()), "mean_S_err": float(S.std(ddof=1) / np.sqrt(len(S))),
            "exact_S": float(m_ex[0]), "exact_S_err": float(e_ex[0]),
            "Z": "identity" if isinstance(Z, str) and Z == "identity" else "random", "z": z.tolist(),
            "surmise_ks_p": surmise.pvalue, "mode_std": [float(a.std(ddof=1)), float(b.std(ddof=1))],
            "F": float(F), "F_test_p_equal_widths": float(p_equal),
            "sigma_two_component": sorted(two.params.tolist()), "sigma_errors": two.errors.tolist(),
            "sigma_equal": float(one.params[0]), "likelihood_ratio": float(lr_stat), "x": x}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the poster-size ensembles")
    parser.add_argument("--out", default="poster-hidden-layer", help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.models = 3000 if args.full else 1000
    os.makedirs(args.out, exist_ok=True)

    results = [two_mode(args, "identity", args.seed), two_mode(args, "random", args.seed + 1)]
    threshold = scipy.stats.chi2.isf(1e-3, 1)
    for r in results:
        verdict = "two-component fits better" if r["likelihood_ratio"] > threshold else "equal σ suffices"
        print(f"n = 2, Z = {r['Z']:8s}: surmise KS p = {r['surmise_ks_p']:.3f}; mode widths "
              f"{r['mode_std'][0]:.4f}, {r['mode_std'][1]:.4f} (F = {r['F']:.2f}, p(equal) = "
              f"{r['F_test_p_equal_widths']:.2g}); σ₁, σ₂ = {r['sigma_two_component'][0]:.4f}, "
              f"{r['sigma_two_component'][1]:.4f} vs equal σ = {r['sigma_equal']:.4f}; "
              f"2Δlog L = {r['likelihood_ratio']:.1f} → {verdict}; ⟨S⟩ = {r['mean_S']:.5f} ± {r['mean_S_err']:.5f}"
              f" vs exact finite-α law {r['exact_S']:.5f} ± {r['exact_S_err']:.5f}")

    h10 = cg.training.hidden_layer_teacher_student(n=10, Z="random", models=args.models if args.full else 600,
                                                   steps=5000, record_every=5000, seed=args.seed + 2,
                                                   progress=False)
    groups = hl.degenerate_groups(h10)
    final = h10.final()
    pair_p = []
    s10 = []
    for i, j in groups:
        S = final[:, j] - final[:, i]
        s10.append(S / S.mean())
        pair_p.append(spectra.goodness_of_fit(s10[-1], theory.wigner_surmise(1)).pvalue)
    print(f"n = 10, Z random, pairs {groups}: surmise KS p per pair = "
          + ", ".join(f"{p:.3f}" for p in pair_p))

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    for ax, r in zip(axes[:2], results):
        h = spectra.histogram(r["x"].ravel())
        ax.errorbar(h.centers, h.density, yerr=h.error, fmt=".", ms=3, label="training (final, mirrored)")
        grid = np.linspace(h.edges[0], h.edges[-1], 400)
        s1, s2 = r["sigma_two_component"]
        ax.plot(grid, theory.two_mode_density(s1, s2).pdf(grid), "C3", label=f"σ₁, σ₂ = {s1:.3f}, {s2:.3f}")
        se = r["sigma_equal"]
        ax.plot(grid, theory.two_mode_density(se, se).pdf(grid), "C2--", label=f"equal σ = {se:.3f}")
        ax.set(xlabel="x − centre", ylabel="ρ(x)", title=f"n = 2, Z = {r['Z']}: 2Δlog L = {r['likelihood_ratio']:.1f}")
        ax.legend(fontsize=8)
    s_all = np.concatenate(s10)
    h = spectra.histogram(s_all)
    axes[2].errorbar(h.centers, h.density, yerr=h.error, fmt=".", ms=3, label="n = 10, four pairs")
    grid = np.linspace(0, 3.5, 300)
    axes[2].plot(grid, theory.wigner_surmise(1).pdf(grid), "C3", label="Wigner surmise β = 1")
    axes[2].set(xlabel="s", ylabel="P(s)", title="spacings within degenerate pairs")
    axes[2].legend(fontsize=8)
    fig.savefig(os.path.join(args.out, "hidden_layer.png"), dpi=120, bbox_inches="tight")
    for r in results:
        r.pop("x")
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump({"models": args.models, "two_mode": results, "n10_pairs": groups, "n10_surmise_p": pair_p},
                  fh, indent=2)
    print(f"wrote {args.out}/hidden_layer.png and summary.json")


if __name__ == "__main__":
    main()
