"""Bias of ``fit_dyson_index`` under both ratio laws, on spectra the table was not made from.

Prints, for tridiagonal GβE (bulk levels and whole spectra) and for real/complex
Gaussian Wishart matrices WᵀW/M (whole spectra, as ``cg.analyze`` passes them), the fitted
β̂ ± error with ``law="surmise"`` and ``law="large-n"``. Seeds fixed (independent of
the table's). Run: ``python tools/dyson_bias_check.py`` (~1 min).
"""

from __future__ import annotations

import numpy as np

from coulombgas import CoulombGas, spectra
from coulombgas.samplers.tridiagonal import sample_exact


def _row(label, beta, x):
    a = spectra.fit_dyson_index(x, law="surmise")
    b = spectra.fit_dyson_index(x, law="large-n")
    print(f"| {label} | {beta:g} | {a.samples} | {a.beta:.3f} ± {a.error:.3f} | {b.beta:.3f} ± {b.error:.3f} "
          f"| {(b.beta - beta) / b.error:+.1f} |", flush=True)


def main():
    print("| spectra | β | ratios | β̂ surmise | β̂ large-n | (β̂ − β)/σ large-n |")
    print("|---|---|---|---|---|---|")
    for i, beta in enumerate((0.5, 1.0, 1.5, 2.0, 3.0, 4.0)):
        x = sample_exact(CoulombGas.gaussian(200, beta=beta), 2000, seed=1000 + i)
        _row("GβE n=200, levels 50–149", beta, x[:, 50:150])
        _row("GβE n=200, whole", beta, x)
    rng = np.random.default_rng(2000)
    for m, n in ((400, 200), (200, 200)):
        w = rng.standard_normal((500, m, n))
        _row(f"real Wishart {m}×{n}, whole", 1.0, np.linalg.eigvalsh(np.swapaxes(w, 1, 2) @ w / m))
        w = (rng.standard_normal((500, m, n)) + 1j * rng.standard_normal((500, m, n))) / np.sqrt(2.0)
        _row(f"complex Wishart {m}×{n}, whole", 2.0, np.linalg.eigvalsh(np.swapaxes(w, 1, 2).conj() @ w / m))


if __name__ == "__main__":
    main()
