"""Paper 4's phase diagram on a coarse grid: ordered, high-temperature and jammed SGD.

Park, Lucini, Aarts, arXiv:2509.01349. The student y = Z tanh(W tanh(M x)) learns a teacher of
the same form with only W (16×32) trained; over a grid of learning rate α and initial weight
scale σ_W, each network is labelled by the dynamics of the eigenvalues of WWᵀ
(:func:`coulombgas.training.classify_regime`): *ordered* (learns the teacher), *high-temperature*
(T = α/|B| large, eigenvalues grow without bound), *jammed* (tanh saturated, spectrum frozen at
its initial scale). Prints the majority label per grid point and draws the diagram.

    python examples/paper4_phase_diagram.py            # 6×6 grid, 10 networks, 5e4 updates (~1 min)
    python examples/paper4_phase_diagram.py --full     # 12×12 grid 2^-3…2^8, 20 networks, 1e5 updates

The paper's own runs (100 networks × 1e8 updates per point) are far beyond one CPU: see
``coulombgas bench gpu`` for the estimate (about 120 CPU-hours here).
"""

from __future__ import annotations

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import coulombgas as cg  # noqa: E402
from coulombgas.training.phase_network import REGIMES  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="12×12 grid, 20 networks, 1e5 updates per point")
    parser.add_argument("--out", default="paper4-phase-diagram", help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    exponents = np.arange(-3, 9) if args.full else np.arange(-3, 9, 2)
    models, steps = (20, 100_000) if args.full else (10, 50_000)
    os.makedirs(args.out, exist_ok=True)

    labels = np.empty((len(exponents), len(exponents)), dtype=object)
    fractions = {r: np.zeros((len(exponents), len(exponents))) for r in REGIMES}
    for i, a in enumerate(exponents):          # rows: learning rate 2^a
        for j, s in enumerate(exponents):      # columns: σ_W = 2^s
            h = cg.training.phase_network(lr=2.0**a, sigma_w=2.0**s, models=models, steps=steps,
                                          record_every=steps // 50, seed=args.seed + 1000 * i + j,
                                          progress=False, record_weights=False)
            regimes = cg.training.classify_regime(h)
            counts = regimes.counts()
            labels[i, j] = max(counts, key=counts.get)
            for r in REGIMES:
                fractions[r][i, j] = counts[r] / max(1, sum(counts.values()))
    short = {"ordered": "O", "high-temperature": "H", "jammed": "J"}
    print(f"{models} networks × {steps} updates per point; O ordered, H high-temperature, J jammed")
    print("   lr \\ σ_W " + " ".join(f"{'2^' + str(s):>5}" for s in exponents))
    for i, a in enumerate(exponents):
        print(f"{'2^' + str(a):>11} " + " ".join(f"{short[labels[i, j]]:>5}" for j in range(len(exponents))))

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    code = np.vectorize({"ordered": 0, "high-temperature": 1, "jammed": 2}.get)(labels).astype(float)
    cmap = matplotlib.colors.ListedColormap(["#4c9be8", "#e8704c", "#8a8a8a"])
    ax.imshow(code, origin="lower", cmap=cmap, vmin=-0.5, vmax=2.5,
              extent=[exponents[0] - 0.5, exponents[-1] + 0.5, exponents[0] - 0.5, exponents[-1] + 0.5])
    for i, a in enumerate(exponents):
        for j, s in enumerate(exponents):
            ax.text(s, a, short[labels[i, j]], ha="center", va="center", fontsize=8)
    ax.set(xlabel="log₂ σ_W", ylabel="log₂ α", title="phase network: majority regime per point")
    fig.savefig(os.path.join(args.out, "phase_diagram.png"), dpi=120, bbox_inches="tight")
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump({"models": models, "steps": steps, "log2_lr": exponents.tolist(),
                   "log2_sigma_w": exponents.tolist(), "labels": labels.tolist(),
                   "fractions": {r: f.tolist() for r, f in fractions.items()}}, fh, indent=2)
    print(f"wrote {args.out}/phase_diagram.png and summary.json")


if __name__ == "__main__":
    main()
