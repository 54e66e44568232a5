"""Large-n gap-ratio law of the Gaussian β-ensemble bulk, tabulated (for ``fit_dyson_index``).

The Atas surmise is the exact ratio law of 3×3 matrices; in the bulk of large matrices
the law differs slightly and a fit with the surmise is biased low by 0.04–0.07 in β. This
module stores the large-n mean of the surmise's sufficient statistic

    T(r̃) = log(r̃ + r̃²) − (3/2) log(1 + r̃ + r̃²)

together with Var[T] per ratio and ⟨r̃⟩, measured on bulk levels (middle half) of
tridiagonal β-Hermite matrices (Dumitriu & Edelman 2002) by
``tools/dyson_large_n_table.py`` (its constants: n = 100, 40 000 × max(1, β/2)
matrices per β, seed 20261204 + grid index), with standard errors over matrices.
β = 0 is the Poisson limit of the sine-β process (Allez & Dumaz 2014), computed
exactly: p(r̃) = 2/(1 + r̃)².

n-dependence (bulk, middle half): weighted fits a + b/n over n = 50, 100, 200, 400
(and 800 at β = 0.1) give b = −0.11 ± 0.07, −0.02 ± 0.04, 0.02 ± 0.02 at β = 0.1, 1, 4
(χ² 2.4/3, 0.1/2, 0.6/2) and a − E_n=100 = 0.001 ± 0.001, 0.002 ± 0.003,
−0.005 ± 0.010 in β units: the n = 100 entries are the n → ∞ law within their errors.
Interpolation checked off the grid (independent runs at β = 0.05, 0.4, 1.75, 3.5, 7):
measured − interpolated within 1.2 combined σ (≤ 0.005 in β up to β = 2, 0.012 at β = 7).

Between grid points, E_∞[T](β) = E_surmise[T](β) + Δ(β), with the small, smooth
correction Δ interpolated by a monotone cubic (PCHIP); the surmise part is exact
quadrature (:func:`coulombgas.theory._general_beta.ratio_statistic_mean`).

References
----------
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013).
I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002).
R. Allez, L. Dumaz, J. Math. Phys. 55, 083303 (2014) (sine-β → Poisson as β → 0).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import integrate, interpolate

from ..theory._general_beta import ratio_statistic, ratio_statistic_mean

__all__ = ["TABLE", "LARGE_N_BETA_MAX", "large_n_mean", "large_n_slope", "large_n_variance",
           "large_n_mean_error", "large_n_mean_ratio", "poisson_moments"]

# (β, E[T], se of E[T], Var[T] per ratio, ⟨r̃⟩, se of ⟨r̃⟩): output of
# `python tools/dyson_large_n_table.py` (n = 100, bulk ranks 25–74, 40 000 × max(1, β/2)
# matrices per β; about 6 min on one core).
TABLE = (
    (0.1, -1.624062, 0.0007888769, 0.7297723, 0.4094277, 0.0002323352),
    (0.2, -1.549938, 0.0007142967, 0.5905763, 0.4291702, 0.0002323018),
    (0.3, -1.491156, 0.0006555596, 0.493582, 0.446663, 0.0002328839),
    (0.5, -1.401723, 0.0005547392, 0.3514124, 0.4760252, 0.0002307367),
    (0.75, -1.324518, 0.0004683926, 0.2476201, 0.5059944, 0.0002265292),
    (1, -1.269965, 0.0004035697, 0.1831723, 0.5305924, 0.0002238458),
    (1.25, -1.228775, 0.0003554474, 0.1404963, 0.5517614, 0.0002187748),
    (1.5, -1.196606, 0.0003121812, 0.110667, 0.5702731, 0.0002129539),
    (2, -1.151335, 0.0002597409, 0.07445771, 0.5998103, 0.0002060289),
    (2.5, -1.119766, 0.0001953361, 0.05283895, 0.6237325, 0.0001771052),
    (3, -1.097034, 0.0001539336, 0.03942962, 0.6432736, 0.0001563001),
    (4, -1.065984, 0.0001050943, 0.0243658, 0.6744467, 0.0001278451),
    (5, -1.045893, 7.72312e-05, 0.01643687, 0.6982644, 0.0001080788),
    (6, -1.032142, 5.996075e-05, 0.01187164, 0.7167852, 9.406805e-05),
    (8, -1.013965, 3.997755e-05, 0.006955304, 0.745337, 7.547678e-05),
)

#: Largest β of the table; fits beyond it are clipped there (``at_bound``).
LARGE_N_BETA_MAX = float(TABLE[-1][0]) if TABLE else 0.0


@functools.lru_cache(maxsize=1)
def poisson_moments() -> tuple[float, float, float]:
    """(E[T], Var[T], ⟨r̃⟩) for uncorrelated levels, r̃ with density 2/(1 + r̃)² on [0, 1]."""
    p = lambda r: 2.0 / (1.0 + r) ** 2                                    # noqa: E731
    t = lambda r: float(ratio_statistic(r))                               # noqa: E731
    # T has a log singularity at 0: split the range so quad resolves it.
    m1 = sum(integrate.quad(lambda r: t(r) * p(r), a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
             for a, b in ((0.0, 1e-3), (1e-3, 1.0)))
    m2 = sum(integrate.quad(lambda r: t(r) ** 2 * p(r), a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
             for a, b in ((0.0, 1e-3), (1e-3, 1.0)))
    return m1, m2 - m1 * m1, 2.0 * math.log(2.0) - 1.0


@functools.lru_cache(maxsize=1)
def _interpolants():
    rows = np.array(TABLE, dtype=float)
    e0, v0, r0 = poisson_moments()
    beta = np.concatenate([[0.0], rows[:, 0]])
    surm = np.array([ratio_statistic_mean(b) for b in beta])
    mean = np.concatenate([[e0], rows[:, 1]])
    delta = interpolate.PchipInterpolator(beta, mean - surm)
    se = interpolate.interp1d(beta, np.concatenate([[0.0], rows[:, 2]]))
    var = interpolate.interp1d(beta, np.concatenate([[v0], rows[:, 3]]))
    ratio = interpolate.interp1d(beta, np.concatenate([[r0], rows[:, 4]]))
    return delta, se, var, ratio


def _grid_beta(beta) -> float:
    beta = float(beta)
    if not 0.0 <= beta <= LARGE_N_BETA_MAX:
        raise ValueError(f"`beta` must be in [0, {LARGE_N_BETA_MAX:g}] for the large-n table, got {beta:g}")
    return beta


def large_n_mean(beta) -> float:
    """E_∞,β[T]: the surmise's exact E_β[T] plus the interpolated large-n correction Δ(β)."""
    beta = _grid_beta(beta)
    return ratio_statistic_mean(beta) + float(_interpolants()[0](beta))


def large_n_slope(beta) -> float:
    """dE_∞[T]/dβ by a central difference (one-sided at the ends of the table)."""
    beta = _grid_beta(beta)
    h = 1e-4 * max(beta, 1.0)
    lo, hi = max(beta - h, 0.0), min(beta + h, LARGE_N_BETA_MAX)
    return (large_n_mean(hi) - large_n_mean(lo)) / (hi - lo)


def large_n_mean_error(beta) -> float:
    """Standard error of the tabulated E_∞[T] at β (linear in the grid's errors; 0 at Poisson)."""
    return float(_interpolants()[1](_grid_beta(beta)))


def large_n_variance(beta) -> float:
    """Var_∞,β[T] per ratio (linear interpolation)."""
    return float(_interpolants()[2](_grid_beta(beta)))


def large_n_mean_ratio(beta) -> float:
    """⟨r̃⟩ of the large-n bulk at β (linear interpolation of the table)."""
    return float(_interpolants()[3](_grid_beta(beta)))
