"""Paper 1, teacher–student, under the authors' protocol: Wigner surmise, ρ(x), ⟨S⟩ = √π σ and the scans.

Aarts, Lucini, Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427, §III, with the protocol of
the authors' released script (``coulombgas.training.teacher_student.PAPER1``): one dataset of
|B|·500 inputs per setting shared by every seed, swept in order, injected GOE-like noise fixed per
sample; 5,000 updates. For every setting of the paper's three scans (ε at α = 0.1, |B| = 16; α at
|B| = 16, ε = 0.1; |B| at α = 0.1, ε = 0.1) it trains an ensemble of 2×2 students against W_t = 2·1,
takes the singular values of the final W_s and prints what the figures show:

* ⟨S⟩ of the pair's spacing, and √π σ from a fit of the equal-σ two-mode density ρ(x) with a free
  centre (the ⟨S⟩ against √π σ figure: points on y = x);
* beside them the exact finite-α prediction for *this* dataset (:mod:`coulombgas.training.exact`:
  the Gaussian law of the weights across seeds) and the continuum one √(π α ε²/|B|), with the
  deviation of training from each in standard errors;
* the Wigner surmise KS p-value of the normalised spacings.

    python examples/paper1_teacher_student.py             # 200 seeds per setting (well under a minute)
    python examples/paper1_teacher_student.py --full      # the paper's 3,000 seeds per setting
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
from scipy.special import erf  # noqa: E402

import coulombgas as cg  # noqa: E402
from coulombgas import spectra, theory  # noqa: E402
from coulombgas.training import exact  # noqa: E402
from coulombgas.training.teacher_student import PAPER1  # noqa: E402

#: The paper's grids.
SCANS = {
    "eps": [(0.1, 16, e) for e in (0.05, 0.06, 0.07, 0.08, 0.09, 0.1)],
    "lr": [(a, 16, 0.1) for a in (0.1, 0.2, 0.3, 0.4, 0.5)],
    "batch_size": [(0.1, b, 0.1) for b in (4, 8, 16, 32, 64)],
}


def rho(x, sigma):
    """The equal-σ two-mode density the authors fit (SCIENCE.md §4), vectorised:
    ρ(x) = e^{−x²/2σ²}/(4√π σ) · [2e^{−x²/2σ²} + √(2π)(x/σ) erf(x/(√2σ))]; the same as
    ``theory.two_mode_density(σ, σ).pdf`` (checked below), without building a distribution per call."""
    u = x / sigma
    g = np.exp(-0.5 * u * u)
    return g / (4.0 * math.sqrt(math.pi) * sigma) * (2.0 * g + math.sqrt(2.0 * math.pi) * u * erf(u / math.sqrt(2.0)))


def rho_fit(sv, teacher=2.0):
    """Equal-σ two-mode density ρ(x − c) fitted to both singular values, σ and the centre c free."""
    x = sv - teacher
    blocks = min(20, len(sv))
    x = x[: len(x) // blocks * blocks].reshape(blocks, -1)
    s0 = float(np.abs(np.diff(sv, axis=1)).mean()) / math.sqrt(math.pi)
    return spectra.fit_density(x, lambda y, s, c: rho(y - c, s), [s0, 0.0], bounds=[(1e-12, None), (None, None)])


def measure(lr, batch_size, eps, *, models, steps, seed, data_seed):
    protocol = {**PAPER1, "models": models, "steps": steps, "data_seed": data_seed}
    h = cg.training.teacher_student(lr=lr, batch_size=batch_size, eps=eps, record_every=steps, seed=seed,
                                    progress=False, **protocol)
    sv = h.final("singular_values")
    S = sv[:, 1] - sv[:, 0]
    se = float(S.std(ddof=1) / math.sqrt(S.size))
    fit = rho_fit(sv)
    law = exact.predict(h, samples=100_000, seed=seed)
    m_ex, e_ex = law.mean_spacing()
    cont = exact.continuum_mean_spacing(lr, batch_size, eps)
    return {"lr": lr, "batch_size": batch_size, "eps": eps, "c": math.sqrt(lr * eps**2 / batch_size),
            "models": h.models, "mean_S": float(S.mean()), "mean_S_err": se,
            "root_pi_sigma": float(math.sqrt(math.pi) * fit.params[0]),
            "root_pi_sigma_err": float(math.sqrt(math.pi) * fit.errors[0]),
            "centre": float(2.0 + fit.params[1]), "centre_err": float(fit.errors[1]),
            "exact_S": float(m_ex[0]), "exact_S_err": float(e_ex[0]),
            "z_exact": float((S.mean() - m_ex[0]) / math.hypot(se, e_ex[0])),
            "continuum_S": cont, "z_continuum": float((S.mean() - cont) / se),
            "surmise_ks_p": float(spectra.goodness_of_fit(S / S.mean(), theory.wigner_surmise(1)).pvalue),
            "s": (S / S.mean()).tolist(), "sv": sv.tolist() if lr == 0.1 and batch_size == 16 and eps == 0.1 else None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the paper's 3,000 seeds per setting")
    parser.add_argument("--models", type=int, default=None, help="seeds per setting (default 200, --full 3000)")
    parser.add_argument("--steps", type=int, default=PAPER1["steps"], help="SGD updates (paper: 5000)")
    parser.add_argument("--data-seed", type=int, default=PAPER1["data_seed"], help="seed of the shared datasets")
    parser.add_argument("--out", default="paper1-teacher-student", help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    models = args.models or (PAPER1["models"] if args.full else 200)
    os.makedirs(args.out, exist_ok=True)
    grid = np.linspace(-0.1, 0.1, 41)
    np.testing.assert_allclose(rho(grid, 0.02), theory.two_mode_density(0.02, 0.02).pdf(grid), rtol=1e-10)

    rows = {}
    for k, (name, settings) in enumerate(SCANS.items()):
        rows[name] = [measure(*s, models=models, steps=args.steps, seed=args.seed + 100 * k + j,
                              data_seed=args.data_seed + 100 * k + j) for j, s in enumerate(settings)]
    every = [r for rs in rows.values() for r in rs]

    print(f"authors' protocol: one shared dataset per setting (data_seed from {args.data_seed}), in order, noise "
          f"fixed per sample; {models} seeds, {args.steps} updates")
    print(f"{'scan':>10} {'α':>4} {'|B|':>3} {'ε':>5} {'⟨S⟩':>17} {'√π σ (ρ fit)':>17} {'centre':>7} "
          f"{'exact ⟨S⟩':>9} {'z':>6} {'continuum':>9} {'z':>6} {'KS p':>6}")
    for name, rs in rows.items():
        for r in rs:
            print(f"{name:>10} {r['lr']:4.2f} {r['batch_size']:3d} {r['eps']:5.2f} "
                  f"{r['mean_S']:.5f} ± {r['mean_S_err']:.5f} {r['root_pi_sigma']:.5f} ± {r['root_pi_sigma_err']:.5f} "
                  f"{r['centre']:7.4f} {r['exact_S']:9.5f} {r['z_exact']:6.2f} {r['continuum_S']:9.5f} "
                  f"{r['z_continuum']:6.2f} {r['surmise_ks_p']:6.3f}")
    x = np.array([r["c"] for r in every])
    fits = {key: spectra.fit_through_origin(x, [r[key] for r in every], [r[key + "_err"] for r in every])
            for key in ("mean_S", "root_pi_sigma")}
    for key, f in fits.items():
        print(f"common slope of {key} against √(αε²/|B|): {f.slope:.4f} ± {f.error:.4f} (continuum √π = "
              f"{math.sqrt(math.pi):.4f}), χ²/dof = {f.reduced_chi2:.2f}")
    ratio = np.array([r["mean_S"] / r["root_pi_sigma"] for r in every])
    print(f"⟨S⟩/(√π σ) over all settings: {ratio.mean():.4f} ± {ratio.std(ddof=1) / math.sqrt(len(ratio)):.4f} (y = x: 1)")
    chi_exact = float(np.mean([r["z_exact"] ** 2 for r in every]))
    chi_cont = float(np.mean([r["z_continuum"] ** 2 for r in every]))
    print(f"mean z² of training against the exact law {chi_exact:.2f}, against the continuum {chi_cont:.2f}")
    s_all = np.concatenate([r["s"] for r in every])
    gof = spectra.goodness_of_fit(s_all, theory.wigner_surmise(1))
    print(f"all {s_all.size} normalised spacings vs the Wigner surmise: KS D = {gof.statistic:.4f}, p = {gof.pvalue:.3g}")

    fig, axes = plt.subplots(2, 2, figsize=(12, 9.6))
    h = spectra.histogram(s_all)
    ax = axes[0, 0]
    ax.errorbar(h.centers, h.density, yerr=h.error, fmt=".", ms=3, label="training")
    grid = np.linspace(0, 3.5, 300)
    ax.plot(grid, theory.wigner_surmise(1).pdf(grid), "C3", label="Wigner surmise β = 1")
    ax.set(xlabel="s = S/⟨S⟩", ylabel="P(s)", title="normalised singular-value spacings")
    ax.legend()
    ax = axes[0, 1]
    base = next(r for r in rows["lr"] if r["lr"] == 0.1)
    sv = np.array(base["sv"])
    fit = rho_fit(sv)
    hx = spectra.histogram(sv.ravel() - 2.0, bins=60)
    ax.errorbar(hx.centers, hx.density, yerr=hx.error, fmt=".", ms=3, label="training, both singular values")
    g = np.linspace(hx.centers[0], hx.centers[-1], 300)
    ax.plot(g, theory.two_mode_density(fit.params[0], fit.params[0]).pdf(g - fit.params[1]), "C3",
            label=f"ρ(x), σ = {fit.params[0]:.4f}, centre {fit.params[1]:+.1e}")
    ax.set(xlabel="singular value − 2", ylabel="ρ(x)", title="α = 0.1, |B| = 16, ε = 0.1")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    for k, (name, rs) in enumerate(rows.items()):
        ax.errorbar([r["root_pi_sigma"] for r in rs], [r["mean_S"] for r in rs], xerr=[r["root_pi_sigma_err"] for r in rs],
                    yerr=[r["mean_S_err"] for r in rs], fmt="o", color=f"C{k}", label=f"{name} scan")
    top = max(r["mean_S"] for r in every) * 1.1
    ax.plot([0, top], [0, top], "k-", lw=1, label="y = x")
    ax.set(xlabel="√π σ (ρ(x) fit)", ylabel="⟨S⟩", title="⟨S⟩ = √π σ")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    for k, (name, rs) in enumerate(rows.items()):
        ax.errorbar([r["c"] for r in rs], [r["mean_S"] for r in rs], yerr=[r["mean_S_err"] for r in rs], fmt="o",
                    color=f"C{k}", label=f"⟨S⟩, {name} scan")
        ax.plot([r["c"] for r in rs], [r["exact_S"] for r in rs], "x", color=f"C{k}", ms=8)
    g = np.linspace(0, x.max() * 1.05, 50)
    ax.plot(g, math.sqrt(math.pi) * g, "k--", lw=1, label="continuum √π √(αε²/|B|)")
    ax.set(xlabel="√(α ε²/|B|)", ylabel="⟨S⟩ (o training, x exact law)", title="linear scaling")
    ax.legend(fontsize=8)
    fig.savefig(os.path.join(args.out, "teacher_student.png"), dpi=120, bbox_inches="tight")
    for rs in rows.values():
        for r in rs:
            r.pop("s")
            r.pop("sv")
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump({"models": models, "steps": args.steps, "protocol": {**PAPER1, "models": models, "steps": args.steps},
                   "scans": rows,
                   "common_slope": {k: {"slope": f.slope, "error": f.error, "reduced_chi2": f.reduced_chi2}
                                    for k, f in fits.items()},
                   "mean_z2": {"exact": chi_exact, "continuum": chi_cont},
                   "surmise_ks": {"statistic": gof.statistic, "pvalue": gof.pvalue}}, fh, indent=2)
    print(f"wrote {args.out}/teacher_student.png and summary.json")


if __name__ == "__main__":
    main()
