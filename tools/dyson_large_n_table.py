"""Generator of the large-n gap-ratio table behind ``fit_dyson_index(law="large-n")``.

For each Dyson index β it samples independent n×n tridiagonal β-Hermite matrices
(Dumitriu & Edelman 2002, :func:`coulombgas.samplers.tridiagonal.hermite_entries`),
keeps the bulk levels (the middle half, ranks n/4 … 3n/4), and measures, over the gap
ratios r̃ = min/max of consecutive spacings there,

* E[T], T(r̃) = log(r̃ + r̃²) − (3/2) log(1 + r̃ + r̃²) (the sufficient statistic of the
  Atas surmise family, so matching it is the surmise's maximum likelihood),
* Var[T] per ratio, and ⟨r̃⟩,

each with its standard error over matrices (matrices are independent; ratios within
one are not). Run ``python tools/dyson_large_n_table.py`` to print the table literal
stored in ``coulombgas/spectra/_dyson_table.py``; the seed of β-grid entry i is
``SEED + i`` so any entry can be regenerated alone (``tests/test_spectra_dyson.py``
does so for a few, slow).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.linalg import lapack

from coulombgas.samplers.tridiagonal import hermite_entries

SEED = 20261204
N_LEVELS = 100           # matrix size of the table (n-dependence measured: see the Notes of fit_dyson_index)
MATRICES = 40000         # per β ≤ 2: 40000 matrices × 48 bulk ratios; × β/2 above (see matrices_for)
BETAS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)


def bulk_ratio_moments(beta: float, n: int, matrices: int, seed: int, batch: int = 500):
    """Per-matrix means of T, T² and r̃ over the bulk ratios of `matrices` β-Hermite matrices.

    Returns an array (matrices, 3). Bulk = levels [n//4, n − n//4) (n/2 levels, n/2 − 2 ratios).
    """
    rng = np.random.default_rng(seed)
    lo, hi = n // 4, n - n // 4
    out = np.empty((matrices, 3))
    done = 0
    while done < matrices:
        size = min(batch, matrices - done)
        diag, off = hermite_entries(rng, n, beta, size)
        lam = np.empty((size, n))
        for i in range(size):
            w, info = lapack.dsterf(diag[i], off[i])
            if info != 0:
                raise RuntimeError(f"dsterf failed (info = {info})")
            lam[i] = w
        s = np.diff(lam[:, lo:hi], axis=1)
        r = np.minimum(s[:, 1:], s[:, :-1]) / np.maximum(s[:, 1:], s[:, :-1])
        t = np.log(r + r * r) - 1.5 * np.log1p(r + r * r)
        out[done:done + size] = np.stack([t.mean(axis=1), (t * t).mean(axis=1), r.mean(axis=1)], axis=1)
        done += size
    return out


def matrices_for(beta: float) -> int:
    """Matrices sampled at β: MATRICES, times β/2 above β = 2 (the error in β grows ∝ β there)."""
    return int(round(MATRICES * max(1.0, beta / 2.0)))


def entry(beta: float, n: int = N_LEVELS, matrices: int | None = None, seed: int = SEED):
    """(E[T], se, Var[T], ⟨r̃⟩, se) at one β from per-matrix means (se over matrices).

    ``matrices=None``: :func:`matrices_for` (the table's choice).
    """
    m = bulk_ratio_moments(beta, n, matrices_for(beta) if matrices is None else matrices, seed)
    mean = m.mean(axis=0)
    se = m.std(axis=0, ddof=1) / np.sqrt(len(m))
    return float(mean[0]), float(se[0]), float(mean[1] - mean[0] ** 2), float(mean[2]), float(se[2])


def main(argv=None):
    """Print the table; ``argv`` (optional): grid indices to compute (default all)."""
    argv = sys.argv[1:] if argv is None else argv
    which = [int(a) for a in argv] if argv else range(len(BETAS))
    rows = []
    for i in which:
        beta = BETAS[i]
        t0 = time.perf_counter()
        rows.append((beta, *entry(beta, seed=SEED + i)))
        print(f"# beta={beta:g} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    print("# beta, E[T], se(E[T]), Var[T], <r~>, se(<r~>)")
    print("TABLE = (")
    for row in rows:
        print("    (" + ", ".join(f"{v:.7g}" if k else f"{v:g}" for k, v in enumerate(row)) + "),")
    print(")")


if __name__ == "__main__":
    main()
