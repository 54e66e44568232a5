"""General-β level-statistics surmises: the Wigner surmise and the Atas gap-ratio law.

:func:`general_wigner_surmise` and :func:`general_gap_ratio` are re-exported by
:mod:`coulombgas.theory`; for β = 1, 2, 4 they coincide with
:func:`~coulombgas.theory.wigner_surmise` and :func:`~coulombgas.theory.gap_ratio`
(tested). Both are exact for the smallest Gaussian β-ensembles (2×2 for the spacing,
3×3 for the ratio) at any real β > 0, and are the likelihoods behind the Dyson-index
fits of :mod:`coulombgas.spectra`.

The gap-ratio law is an exponential family in β,

    p_β(r̃) = 2 (r̃ + r̃²)^β / [Z_β (1 + r̃ + r̃²)^{1+3β/2}] = h(r̃) exp(β T(r̃) − A(β)),
    T(r) = log(r + r²) − (3/2) log(1 + r + r²),   h(r) = 2/(1 + r + r²),

so the maximum-likelihood β̂ solves E_β̂[T] = mean(T) (a unique root: dE/dβ = Var T > 0)
and the Fisher information per ratio is Var_β[T] (:func:`ratio_statistic_moments`).

References
----------
Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013), arXiv:1212.5611.
I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002) (the β-ensembles for real β > 0).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy import integrate, special, stats

from .. import _validate
from ._law import Law, invert_cdf

__all__ = ["general_wigner_surmise", "general_gap_ratio", "ratio_statistic", "ratio_statistic_moments", "ratio_statistic_mean",
           "ratio_log_normaliser", "surmise_constants", "BETA_MIN", "BETA_MAX"]

# Real β accepted by the general laws. Near 0 the laws are smooth in β (the ratio surmise
# tends to 1/(Z₀(1 + r + r²)), ⟨r̃⟩ → 3√3 ln3/(2π) − 1/2 = 0.4087, which is *not* the
# Poisson law, ⟨r̃⟩ = 0.3863); at 100 the levels are a crystal and the quadrature
# weight 2^{−β−1} of the ratio law would soon underflow.
BETA_MIN, BETA_MAX = 1e-3, 100.0
# Gauss–Jacobi nodes with weight u^β on [0, 1]: the rest of the integrand,
# (1 + xu)^β (1 + xu + x²u²)^{−1−3β/2}, is analytic on a Bernstein ellipse of
# parameter > 5 (singularities at u = −1/x and at the roots of 1 + r + r²), so 48 nodes
# reach rounding level.
_JACOBI_NODES = 48


def _checked_beta(beta) -> float:
    beta = _validate.real("beta", beta)
    if not BETA_MIN <= beta <= BETA_MAX:
        raise ValueError(f"`beta` must be a real number in [{BETA_MIN:g}, {BETA_MAX:g}], got {beta:g}")
    return beta


# ------------------------------------------------------------------ Wigner surmise

def surmise_constants(beta):
    """(k, b, log a) of p_β(s) = a s^β e^{−b s²}: k = (β+1)/2, b = [Γ(β/2+1)/Γ(k)]², a = 2b^k/Γ(k)."""
    k = 0.5 * (np.asarray(beta, dtype=float) + 1.0)
    b = np.exp(2.0 * (special.gammaln(k + 0.5) - special.gammaln(k)))
    return k, b, np.log(2.0) + k * np.log(b) - special.gammaln(k)


class _GeneralSurmiseGen(stats.rv_continuous):
    """p_β(s) = a_β s^β exp(−b_β s²) for real β > 0; b s² ~ Gamma((β+1)/2)."""

    def _argcheck(self, beta):
        return (beta >= BETA_MIN) & (beta <= BETA_MAX)

    def _logpdf(self, x, beta):
        _, b, loga = surmise_constants(beta)
        with np.errstate(divide="ignore"):
            return loga + beta * np.log(x) - b * x * x

    def _pdf(self, x, beta):
        return np.exp(self._logpdf(x, beta))

    def _cdf(self, x, beta):
        k, b, _ = surmise_constants(beta)
        return special.gammainc(k, b * x * x)

    def _sf(self, x, beta):
        k, b, _ = surmise_constants(beta)
        return special.gammaincc(k, b * x * x)

    def _ppf(self, q, beta):
        k, b, _ = surmise_constants(beta)
        return np.sqrt(special.gammaincinv(k, q) / b)

    def _isf(self, q, beta):
        k, b, _ = surmise_constants(beta)
        return np.sqrt(special.gammainccinv(k, q) / b)

    def _munp(self, n, beta):
        k, b, _ = surmise_constants(beta)
        return np.exp(special.gammaln(k + 0.5 * n) - special.gammaln(k)) / b ** (0.5 * n)

    def _rvs(self, beta, size=None, random_state=None):
        k, b, _ = surmise_constants(beta)
        return np.sqrt(random_state.standard_gamma(k, size=size) / b)


_general_surmise = _GeneralSurmiseGen(a=0.0, name="general_wigner_surmise", shapes="beta")


def general_wigner_surmise(beta):
    r"""Wigner surmise for any real Dyson index β > 0, normalised to unit mean spacing.

    .. math::

        p_\beta(s) = a_\beta\, s^\beta e^{-b_\beta s^2},\qquad
        b_\beta = \left[\frac{\Gamma(\beta/2+1)}{\Gamma((\beta+1)/2)}\right]^2,\quad
        a_\beta = \frac{2\,b_\beta^{(\beta+1)/2}}{\Gamma((\beta+1)/2)}.

    It is the exact spacing law of the 2×2 Gaussian β-ensemble (density
    ∝ |λ₁ − λ₂|^β e^{−(λ₁²+λ₂²)/2}, any β > 0) rescaled to unit mean; for β = 1, 2, 4
    it is :func:`~coulombgas.theory.wigner_surmise`. b s² is Gamma((β+1)/2)-distributed,
    so cdf, ppf, moments and sampling are closed forms; ⟨s²⟩ = (β+1)/(2b_β).

    Parameters
    ----------
    beta : float in [1e-3, 100]
        Dyson index (level repulsion p ∝ s^β at small s).

    Returns
    -------
    scipy.stats frozen distribution
        Support [0, ∞), mean 1.

    Raises
    ------
    TypeError
        If `beta` is not a real number.
    ValueError
        If `beta` is outside [1e-3, 100].

    References
    ----------
    M. L. Mehta, *Random Matrices*, 3rd ed., Elsevier (2004), §1.5.
    I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002).

    Examples
    --------
    >>> from coulombgas import theory
    >>> round(float(theory.general_wigner_surmise(1.5).mean()), 12)
    1.0
    """
    beta = _checked_beta(beta)
    return Law(_general_surmise, beta, label=f"general_wigner_surmise(beta={beta:g})")


# ------------------------------------------------------------------ gap ratio

@functools.lru_cache(maxsize=256)
def _jacobi_rule(beta):
    """Nodes and weights on [0, 1] for ∫ u^β f(u) du."""
    x, w = special.roots_jacobi(_JACOBI_NODES, 0.0, beta)
    return 0.5 * (x + 1.0), w * 0.5 ** (beta + 1.0)


def _smooth_part(r, beta):
    """(1 + r)^β (1 + r + r²)^{−1−3β/2}: the ratio density without its r^β and constants."""
    return np.exp(beta * np.log1p(r) - (1.0 + 1.5 * beta) * np.log1p(r + r * r))


def ratio_log_normaliser(beta) -> float:
    """log Z_β, Z_β = ∫_0^∞ (r + r²)^β (1 + r + r²)^{−1−3β/2} dr = 2 ∫_0^1 (same).

    Z₁ = 8/27, Z₂ = 4π/(81√3), Z₄ = 4π/(729√3) (Atas et al. 2013; tested).
    """
    u, w = _jacobi_rule(float(beta))
    return math.log(2.0 * float(np.sum(w * _smooth_part(u, beta))))


def _ratio_cdf_unnormalised(x, beta):
    # ∫_0^x r^β g(r) dr = x^{β+1} ∫_0^1 u^β g(xu) du, g = _smooth_part.
    u, w = _jacobi_rule(float(beta))
    x = np.asarray(x, dtype=float)
    return x ** (beta + 1.0) * (_smooth_part(x[..., None] * u, beta) @ w)


class _GeneralGapRatioGen(stats.rv_continuous):
    """Density 2P_β(r̃) of r̃ = min/max of consecutive spacings on [0, 1], real β > 0."""

    def _argcheck(self, beta):
        return (beta >= BETA_MIN) & (beta <= BETA_MAX)

    def _logpdf(self, x, beta):
        def one(xs, b):
            with np.errstate(divide="ignore"):
                return (math.log(2.0) + b * np.log(xs + xs * xs) - (1.0 + 1.5 * b) * np.log1p(xs + xs * xs)
                        - ratio_log_normaliser(b))
        return _per_value(one, x, beta)

    def _pdf(self, x, beta):
        return np.exp(self._logpdf(x, beta))

    def _cdf(self, x, beta):
        def one(xs, b):
            return np.clip(2.0 * _ratio_cdf_unnormalised(xs, b) / math.exp(ratio_log_normaliser(b)), 0.0, 1.0)
        return _per_value(one, x, beta)

    def _ppf(self, q, beta):
        return invert_cdf(self._cdf, self._pdf, q, 0.0, 1.0, beta)

    def _munp(self, n, beta):
        def one(_, b):
            u, w = _jacobi_rule(float(b))
            return 2.0 * float(np.sum(w * u**n * _smooth_part(u, b))) / math.exp(ratio_log_normaliser(b))
        return _per_value(one, np.zeros(np.shape(beta)), beta)


def _per_value(func, x, beta):
    """``func(x_subset, β)`` for each distinct real β of a broadcast call."""
    x, beta = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(beta, dtype=float))
    out = np.empty(x.shape)
    for b in np.unique(beta):
        mask = beta == b
        out[mask] = func(x[mask], float(b))
    return out


_general_gap_ratio = _GeneralGapRatioGen(a=0.0, b=1.0, name="general_gap_ratio", shapes="beta")


def general_gap_ratio(beta):
    r"""Atas et al. gap-ratio surmise for any real β > 0, as the law of r̃ = min/max ∈ [0, 1].

    .. math::

        P_\beta(r) = \frac{1}{Z_\beta}\,\frac{(r + r^2)^\beta}{(1 + r + r^2)^{1 + 3\beta/2}},
        \qquad r = s_{n+1}/s_n \in [0, \infty),

    and r̃ = min(r, 1/r) has density 2P_β(r̃) on [0, 1] (P(r) = P(1/r)/r²). Z_β is
    computed (Gauss–Jacobi quadrature with weight r^β, exact to rounding), as are the
    cdf and the moments; ⟨r̃⟩ is ``law.mean()``. The surmise is the exact ratio law of
    the 3×3 Gaussian β-ensemble for every β > 0; for β = 1, 2, 4 it is
    :func:`~coulombgas.theory.gap_ratio` (Z₁ = 8/27, Z₂ = 4π/(81√3), Z₄ = 4π/(729√3)).
    For large matrices it is an approximation: ⟨r̃⟩ = 0.5359 (surmise) against 0.5307
    (large-N GOE) and 0.6027 against 0.5996 (GUE). As β → 0 it tends to
    1/(Z₀(1 + r + r²)) with ⟨r̃⟩ = 3√3 ln 3/(2π) − 1/2 ≈ 0.4087, not to Poisson
    levels (2/(1 + r̃)², ⟨r̃⟩ = 0.3863): uncorrelated levels lie outside the family.

    Parameters
    ----------
    beta : float in [1e-3, 100]
        Dyson index.

    Returns
    -------
    scipy.stats frozen distribution
        Support [0, 1].

    Raises
    ------
    TypeError
        If `beta` is not a real number.
    ValueError
        If `beta` is outside [1e-3, 100].

    References
    ----------
    Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013),
    doi:10.1103/PhysRevLett.110.084101, arXiv:1212.5611.

    Examples
    --------
    >>> from coulombgas import theory
    >>> round(float(theory.general_gap_ratio(1).mean()), 6)   # 4 − 2√3
    0.535898
    """
    beta = _checked_beta(beta)
    return Law(_general_gap_ratio, beta, label=f"general_gap_ratio(beta={beta:g})")


def ratio_statistic(r):
    """T(r̃) = log(r̃ + r̃²) − (3/2) log(1 + r̃ + r̃²), the sufficient statistic of the ratio family."""
    r = np.asarray(r, dtype=float)
    with np.errstate(divide="ignore"):
        return np.log(r + r * r) - 1.5 * np.log1p(r + r * r)


def ratio_statistic_mean(beta: float) -> float:
    """E_β[T] = A'(β) by adaptive quadrature with the algebraic(-log) weights r^β (log r)."""
    z = 0.5 * math.exp(ratio_log_normaliser(beta))          # ∫_0^1 r^β g(r) dr
    g = lambda r: _smooth_part(r, beta)                      # noqa: E731
    rest = lambda r: g(r) * (np.log1p(r) - 1.5 * np.log1p(r + r * r))   # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        log_part = integrate.quad(g, 0.0, 1.0, weight="alg-loga", wvar=(beta, 0.0), epsabs=0, epsrel=1e-13)[0]
        smooth = integrate.quad(rest, 0.0, 1.0, weight="alg", wvar=(beta, 0.0), epsabs=0, epsrel=1e-13)[0]
    return (log_part + smooth) / z


def ratio_statistic_moments(beta) -> tuple[float, float]:
    """(E_β[T], Var_β[T]) of T = :func:`ratio_statistic` under the ratio law of index β.

    E[T] = A'(β) by quadrature; Var T = A''(β) = dE[T]/dβ by a central difference
    (step 1e-4 β: truncation ~1e-9, rounding ~1e-9, relative), the Fisher information
    per ratio.
    """
    beta = _checked_beta(beta)
    h = 1e-4 * beta
    mean = ratio_statistic_mean(beta)
    var = (ratio_statistic_mean(beta + h) - ratio_statistic_mean(beta - h)) / (2.0 * h)
    return mean, var
