"""Closed-form laws of random-matrix theory as frozen ``scipy.stats`` distributions.

Every law is a *frozen* continuous distribution (a subclass of scipy's
``rv_continuous_frozen``), so ``pdf``, ``cdf``, ``sf``, ``ppf``, ``rvs``,
``moment``, ``stats`` and ``scipy.stats.kstest(data, law.cdf)`` work unchanged,
and ``repr(law)`` says which law it is, e.g. ``spacing(beta=2)``.

============================  ===========================================================
``wigner_surmise``            spacing law of 2x2 GβE matrices, β = 1, 2, 4 (mean 1)
``general_wigner_surmise``    the same for any real β > 0
``spacing``                   exact infinite-N bulk spacing law (Gaudin–Mehta), β = 1, 2, 4
``poisson_spacing``           spacing of uncorrelated levels, Exp(1)
``gap_ratio``                 adjacent-gap ratio r̃ = min/max (Atas et al. 2013 surmise)
``general_gap_ratio``         the same for any real β > 0
``tracy_widom``               largest eigenvalue at the edge (Tracy–Widom), β = 1, 2, 4
``two_mode_spacing``          spacing of the two-mode gas (Rayleigh)
``two_mode_density``          exact one-point density of the two-mode gas
``semicircle``                Wigner semicircle on [-R, R]
``marchenko_pastur``          Marchenko–Pastur law of (1/M) WᵀW
============================  ===========================================================

Two-level functions of the unfolded bulk (plain functions returning arrays), for
β = 0 (Poisson), 1, 2, 4: ``cluster_function`` Y₂(r), ``delta3`` the spectral
rigidity Δ₃(L) (and ``delta3_asymptotic``), ``form_factor`` K(τ).

The physics is in SCIENCE.md §4–5.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from .. import _validate
from ._law import Law, checked_scale, dyson_index, invert_cdf, per_beta
from ._rigidity import cluster_function, delta3, delta3_asymptotic, form_factor
from ._general_beta import general_gap_ratio, general_wigner_surmise
from ._spacing import spacing
from ._tracy_widom import tracy_widom

__all__ = [
    "wigner_surmise", "spacing", "poisson_spacing", "gap_ratio",
    "two_mode_spacing", "two_mode_density", "semicircle", "marchenko_pastur", "tracy_widom",
    "general_wigner_surmise", "general_gap_ratio",
    "cluster_function", "delta3", "delta3_asymptotic", "form_factor",
]

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)

# --------------------------------------------------------------------------------------
# Wigner surmise
# --------------------------------------------------------------------------------------

def _surmise_constants(beta):
    """(k, b) with P(s) = 2 b^k / Γ(k) · s^β e^{-b s²}, k = (β+1)/2, fixed by ⟨s⟩ = 1."""
    k = 0.5 * (beta + 1.0)
    b = np.exp(2.0 * (special.gammaln(k + 0.5) - special.gammaln(k)))
    return k, b


class _WignerSurmiseGen(stats.rv_continuous):
    """P_β(s) = a_β s^β exp(-b_β s²), s >= 0, mean 1."""

    def _argcheck(self, beta):
        return np.isin(beta, (1, 2, 4))

    def _pdf(self, x, beta):
        k, b = _surmise_constants(beta)
        logc = np.log(2.0) + k * np.log(b) - special.gammaln(k)
        return np.exp(logc - b * x * x) * x**beta

    def _cdf(self, x, beta):
        k, b = _surmise_constants(beta)
        return special.gammainc(k, b * x * x)

    def _sf(self, x, beta):
        k, b = _surmise_constants(beta)
        return special.gammaincc(k, b * x * x)

    def _ppf(self, q, beta):
        k, b = _surmise_constants(beta)
        return np.sqrt(special.gammaincinv(k, q) / b)

    def _isf(self, q, beta):
        k, b = _surmise_constants(beta)
        return np.sqrt(special.gammainccinv(k, q) / b)

    def _munp(self, n, beta):
        # b s² is Gamma(k)-distributed, so ⟨s^n⟩ = Γ(k + n/2) / (Γ(k) b^{n/2}).
        k, b = _surmise_constants(beta)
        return np.exp(special.gammaln(k + 0.5 * n) - special.gammaln(k)) / b ** (0.5 * n)

    def _rvs(self, beta, size=None, random_state=None):
        k, b = _surmise_constants(beta)
        return np.sqrt(random_state.standard_gamma(k, size=size) / b)


_wigner_surmise = _WignerSurmiseGen(a=0.0, name="wigner_surmise", shapes="beta")


def wigner_surmise(beta):
    r"""Wigner surmise: the nearest-neighbour spacing law of 2x2 GβE matrices.

    .. math::

        P_\beta(s) = a_\beta\, s^\beta e^{-b_\beta s^2},\qquad
        b_\beta = \left[\frac{\Gamma(\beta/2+1)}{\Gamma((\beta+1)/2)}\right]^2,\quad
        a_\beta = \frac{2\, b_\beta^{(\beta+1)/2}}{\Gamma((\beta+1)/2)},

    normalised to unit mean spacing, i.e.

    - β = 1: (π/2) s exp(−π s²/4),
    - β = 2: (32/π²) s² exp(−4 s²/π),
    - β = 4: (2¹⁸/(3⁶π³)) s⁴ exp(−64 s²/(9π)).

    Since b s² is Gamma((β+1)/2)-distributed, cdf, ppf, moments and sampling are
    closed forms (regularised incomplete gamma function); ⟨s²⟩ = (β+1)/(2b_β), i.e.
    4/π, 3π/8 and 45π/128.

    Parameters
    ----------
    beta : {1, 2, 4}
        Dyson index (GOE, GUE, GSE).

    Returns
    -------
    scipy.stats frozen distribution
        Support [0, ∞), mean 1.

    Raises
    ------
    TypeError
        If `beta` is not a real number.
    ValueError
        If `beta` is not 1, 2 or 4.

    See Also
    --------
    spacing : the exact large-N law; the surmise's density differs from it by ~1e-2.

    References
    ----------
    M. L. Mehta, *Random Matrices*, 3rd ed., Elsevier (2004), §1.5.
    F. Haake, *Quantum Signatures of Chaos*, 3rd ed., Springer (2010), §4.5.

    Examples
    --------
    >>> from coulombgas import theory
    >>> law = theory.wigner_surmise(1)
    >>> round(float(law.mean()), 12), round(float(law.pdf(1.0)), 6)
    (1.0, 0.716186)
    """
    beta = dyson_index(beta, (1, 2, 4))
    return Law(_wigner_surmise, beta, label=f"wigner_surmise(beta={beta})")


def poisson_spacing():
    r"""Spacing law of uncorrelated (Poisson) levels: P(s) = e^{−s}, mean 1.

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.expon()``.

    Examples
    --------
    >>> from coulombgas import theory
    >>> float(theory.poisson_spacing().mean())
    1.0
    """
    return Law(stats.expon, label="poisson_spacing()")


# --------------------------------------------------------------------------------------
# Adjacent-gap ratio (Atas, Bogomolny, Giraud, Roux 2013)
# --------------------------------------------------------------------------------------

_RATIO_Z = {
    1: 8.0 / 27.0,
    2: 4.0 * math.pi / (81.0 * math.sqrt(3.0)),
    4: 4.0 * math.pi / (729.0 * math.sqrt(3.0)),
}
# P(r) is analytic on [0, 1] with its nearest singularities at the zeros of
# 1 + r + r², exp(±2πi/3); a 24-node Gauss rule on [0, x] is then exact to
# rounding (Bernstein-ellipse parameter ≈ 5 ⇒ error ≈ 5^-48).
_RATIO_GL = np.polynomial.legendre.leggauss(24)


def _ratio_pdf(x, beta):
    if beta == 0:
        return 2.0 / (1.0 + x) ** 2
    return 2.0 * (x + x * x) ** beta / (1.0 + x + x * x) ** (1.0 + 1.5 * beta) / _RATIO_Z[beta]


def _ratio_cdf(x, beta):
    if beta == 0:
        return 2.0 * x / (1.0 + x)
    t, w = _RATIO_GL
    u = 0.5 * (t + 1.0)
    return np.clip(0.5 * x * (_ratio_pdf(x[..., None] * u, beta) @ w), 0.0, 1.0)


class _GapRatioGen(stats.rv_continuous):
    """Density 2P(r) of r̃ = min(s_n, s_{n+1}) / max(...) on [0, 1]."""

    def _argcheck(self, beta):
        return np.isin(beta, (0, 1, 2, 4))

    def _pdf(self, x, beta):
        return per_beta(_ratio_pdf, x, beta)

    def _cdf(self, x, beta):
        return per_beta(_ratio_cdf, x, beta)

    def _ppf(self, q, beta):
        return invert_cdf(self._cdf, self._pdf, q, 0.0, 1.0, beta)

    def _munp(self, n, beta):
        # The same Gauss rule on [0, 1] is exact to rounding for ∫ r^n 2P(r) dr.
        t, w = _RATIO_GL
        r = 0.5 * (t + 1.0)
        return per_beta(lambda _, b: 0.5 * (r**n * _ratio_pdf(r, b)) @ w,
                         np.zeros(np.shape(beta)), beta)


_gap_ratio = _GapRatioGen(a=0.0, b=1.0, name="gap_ratio", shapes="beta")


def gap_ratio(beta):
    r"""Adjacent-gap ratio law r̃ = min(s_n, s_{n+1}) / max(s_n, s_{n+1}) ∈ [0, 1].

    Surmise of Atas et al. (3x3 GβE matrices) for the ratio r = s_{n+1}/s_n:

    .. math::

        P_\beta(r) = \frac{1}{Z_\beta}\,
                     \frac{(r + r^2)^\beta}{(1 + r + r^2)^{1 + 3\beta/2}},\qquad
        Z_1 = \tfrac{8}{27},\ Z_2 = \tfrac{4\pi}{81\sqrt3},\ Z_4 = \tfrac{4\pi}{729\sqrt3},

    and, because P(r) = P(1/r)/r², r̃ has density 2P_β(r̃) on [0, 1]. For Poisson
    levels P(r) = 1/(1+r)², so r̃ has density 2/(1+r̃)² and cdf 2r̃/(1+r̃).

    Means: ⟨r̃⟩ = 4 − 2√3 ≈ 0.5359 (β=1), 2√3/π − 1/2 ≈ 0.6027 (β=2),
    32√3/(15π) − 1/2 ≈ 0.6762 (β=4), 2 ln 2 − 1 ≈ 0.3863 (Poisson).
    The surmise is not the large-N law: numerics give ⟨r̃⟩ ≈ 0.5307 (GOE) and
    0.5996 (GUE) for large matrices (Atas et al. 2013, large-N numerics).

    Parameters
    ----------
    beta : {1, 2, 4, 0, "poisson"}
        Dyson index; ``0`` and ``"poisson"`` both select uncorrelated levels.

    Returns
    -------
    scipy.stats frozen distribution
        Support [0, 1]. The cdf uses a 24-node Gauss rule (exact to rounding).

    Raises
    ------
    TypeError
        If `beta` is neither a real number nor a string.
    ValueError
        If `beta` is not one of the allowed values.

    References
    ----------
    Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013),
    doi:10.1103/PhysRevLett.110.084101, arXiv:1212.5611.
    V. Oganesyan, D. A. Huse, Phys. Rev. B 75, 155111 (2007), arXiv:cond-mat/0610854.

    Examples
    --------
    >>> from coulombgas import theory
    >>> round(float(theory.gap_ratio("poisson").mean()), 6)
    0.386294
    """
    if isinstance(beta, str):
        _validate.one_of("beta", beta, ("poisson",))
        beta = 0
    else:
        beta = dyson_index(beta, (1, 2, 4, 0))
    label = "gap_ratio(beta='poisson')" if beta == 0 else f"gap_ratio(beta={beta})"
    return Law(_gap_ratio, beta, label=label)


# --------------------------------------------------------------------------------------
# The two-mode gas (N = 2)
# --------------------------------------------------------------------------------------

def two_mode_spacing(sigma1, sigma2):
    r"""Spacing law of the two-mode gas: a Rayleigh law.

    For P(x₁, x₂) ∝ |x₁ − x₂| exp(−x₁²/2σ₁² − x₂²/2σ₂²), S = |x₁ − x₂| has

    .. math::

        P(S) = \frac{S}{\sigma_1^2+\sigma_2^2}
               \exp\!\left(-\frac{S^2}{2(\sigma_1^2+\sigma_2^2)}\right),

    with mean √(π/2)·√(σ₁²+σ₂²); S/⟨S⟩ follows the β = 1 Wigner surmise.

    Parameters
    ----------
    sigma1, sigma2 : float in [1e-150, 1e150]
        Widths of the two quadratic wells.

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.rayleigh(scale=sqrt(sigma1**2 + sigma2**2))``.

    Raises
    ------
    TypeError, ValueError
        If a width is not a real number in [1e-150, 1e150].

    References
    ----------
    G. Aarts, B. Lucini, C. Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427.

    Examples
    --------
    >>> from coulombgas import theory
    >>> round(float(theory.two_mode_spacing(0.6, 0.8).mean()), 6)
    1.253314
    """
    sigma1 = checked_scale("sigma1", sigma1)
    sigma2 = checked_scale("sigma2", sigma2)
    return Law(stats.rayleigh, scale=math.hypot(sigma1, sigma2),
                label=f"two_mode_spacing(sigma1={sigma1:g}, sigma2={sigma2:g})")


def _two_mode_scaled(x, sigma1, sigma2):
    """x/m, a_i = σ_i/m ∈ (0, 1] and T = √(a₁² + a₂²) ∈ [1, √2], m = max(σ₁, σ₂): no σ² is formed."""
    m = np.maximum(sigma1, sigma2)
    a1, a2 = sigma1 / m, sigma2 / m
    return x / m, m, a1, a2, np.sqrt(a1 * a1 + a2 * a2)


class _TwoModeDensityGen(stats.rv_continuous):
    """ρ(x) = [p₁(x) + p₂(x)]/2 for the two-mode gas centred at 0.

    Computed in units of m = max(σ₁, σ₂) and in log space, so that widths from
    1e-150 to 1e150 (ratios up to 1e300) and any x give finite, correct values.
    """

    def _logpdf(self, x, sigma1, sigma2):
        # ρ = [2T² e₁e₂/(a₁a₂) + √(2π) (x/m)(erf₁ e₂/a₂ + erf₂ e₁/a₁)] / (4√(2π) T m), with
        # e_i = exp(−z_i²/2), z_i = x/σ_i, erf_i = erf(z_i/√2): every term is >= 0 (x erf(x) >= 0).
        xs, m, a1, a2, T = _two_mode_scaled(x, sigma1, sigma2)
        with np.errstate(over="ignore", divide="ignore", under="ignore", invalid="ignore"):
            h1, h2 = -0.5 * (xs / a1) ** 2, -0.5 * (xs / a2) ** 2
            log_ax = np.log(np.abs(xs)) + 0.5 * math.log(2.0 * math.pi)
            terms = np.stack(np.broadcast_arrays(
                np.log(2.0 * T * T) + h1 + h2 - np.log(a1) - np.log(a2),
                log_ax + np.log(np.abs(special.erf(xs / (_SQRT2 * a1)))) + h2 - np.log(a2),
                log_ax + np.log(np.abs(special.erf(xs / (_SQRT2 * a2)))) + h1 - np.log(a1)))
            out = special.logsumexp(terms, axis=0) - np.log(4.0 * _SQRT2PI * T * m)
        return np.where(np.isinf(xs), -np.inf, out)  # ρ(±∞) = 0 (the terms give ∞ − ∞ there)

    def _pdf(self, x, sigma1, sigma2):
        return np.exp(self._logpdf(x, sigma1, sigma2))

    def _cdf(self, x, sigma1, sigma2):
        # Integrating by parts: F(x) = Φ(x/s) − Σ_i σ_j e^{−x²/2σ_j²} erf(x/√2σ_i) / (4√(σ₁²+σ₂²)),
        # with s = σ₁σ₂/√(σ₁²+σ₂²) and j ≠ i. For x < 0 every term is >= 0 (no cancellation).
        # In units of m: s = m a₁a₂/T and the odd term is Σ a_j e_j erf_i / (4T).
        xs, m, a1, a2, T = _two_mode_scaled(x, sigma1, sigma2)
        with np.errstate(over="ignore", under="ignore"):
            e1, e2 = np.exp(-0.5 * (xs / a1) ** 2), np.exp(-0.5 * (xs / a2) ** 2)
            odd = (a2 * e2 * special.erf(xs / (_SQRT2 * a1)) + a1 * e1 * special.erf(xs / (_SQRT2 * a2)))
            return special.ndtr(xs * T / (a1 * a2)) - odd / (4.0 * T)

    def _sf(self, x, sigma1, sigma2):
        return self._cdf(-x, sigma1, sigma2)               # ρ is even

    def _ppf(self, q, sigma1, sigma2):
        half = 40.0 * np.maximum(sigma1, sigma2)           # |x| > 40σ has probability < 1e-300
        return invert_cdf(self._cdf, self._pdf, q, -half, half, sigma1, sigma2)

    def _stats(self, sigma1, sigma2):
        # With u = x₁ − x₂ ~ N(0, Σ²) reweighted by |u| and x₁ | u Gaussian with mean
        # σ₁²u/Σ² and variance σ₁²σ₂²/Σ²: ⟨x₁²⟩ = σ₁²(2σ₁² + σ₂²)/Σ², using ⟨|u|³⟩/⟨|u|⟩ = 2Σ²,
        # ⟨|u|⁵⟩/⟨|u|⟩ = 8Σ⁴. ρ averages the two particles. Evaluated in units of m = max σ
        # (the kurtosis is scale-free; the variance is m² times its scaled value).
        m = np.maximum(sigma1, sigma2)
        v1, v2 = (sigma1 / m) ** 2, (sigma2 / m) ** 2
        t = v1 + v2
        var = (v1 * v1 + v1 * v2 + v2 * v2) / t
        m4 = 0.5 * (v1 * v1 * (8 * v1 * v1 + 12 * v1 * v2 + 3 * v2 * v2)
                    + v2 * v2 * (8 * v2 * v2 + 12 * v1 * v2 + 3 * v1 * v1)) / (t * t)
        return 0.0 * t, m * m * var, 0.0 * t, m4 / var**2 - 3.0

    def _rvs(self, sigma1, sigma2, size=None, random_state=None):
        # Exact sampler of the pair density: |u| is Rayleigh(Σ) with a random sign,
        # then x₁ | u is Gaussian, x₂ = x₁ − u, and ρ picks either particle.
        rng = random_state
        v1, v2 = sigma1**2, sigma2**2
        t = v1 + v2
        u = np.sqrt(2.0 * t * rng.standard_exponential(size)) * rng.choice([-1.0, 1.0], size)
        x1 = v1 / t * u + sigma1 * sigma2 / np.sqrt(t) * rng.standard_normal(size)
        return np.where(rng.random(size) < 0.5, x1, x1 - u)


_two_mode_density = _TwoModeDensityGen(name="two_mode_density", shapes="sigma1, sigma2")


def two_mode_density(sigma1, sigma2, loc=0.0):
    r"""Exact one-point density of the two-mode gas.

    The pair density P(x₁, x₂) ∝ |x₁ − x₂| exp(−x₁²/2σ₁² − x₂²/2σ₂²) (x measured
    from the degenerate value κ = `loc`) has the one-point density
    ρ(x) = [p₁(x) + p₂(x)]/2, with p_i the exact marginals:

    .. math::

        \rho(x) = \frac{e^{-x^2/2\sigma_1^2 - x^2/2\sigma_2^2}}
                       {4\sqrt{2\pi}\,\sigma_1\sigma_2\sqrt{\sigma_1^2+\sigma_2^2}}
                  \sum_{i=1,2}\left[2\sigma_i^2 + e^{+x^2/2\sigma_i^2}\sqrt{2\pi}\,
                  x\,\sigma_i\,\mathrm{erf}\!\left(\frac{x}{\sqrt2\,\sigma_i}\right)\right].

    The seed poster prints the exponent inside the sum as e^{−x²/2σ_i²}; that is a
    sign error: the minus-sign formula is not the marginal and is not even
    normalised (tested). For σ₁ = σ₂ = σ it reduces to
    ρ(x) = e^{−x²/2σ²}/(4√π σ) · [2e^{−x²/2σ²} + √(2π)(x/σ) erf(x/(√2σ))],
    the form the authors fit, with ⟨S⟩ = √π σ.

    Closed forms (derived by integration by parts and conditioning on x₁ − x₂):
    cdf F(x) = Φ(x/s) − Σ_i σ_j e^{−x²/2σ_j²} erf(x/(√2σ_i)) / (4√(σ₁²+σ₂²)) with
    s = σ₁σ₂/√(σ₁²+σ₂²), j ≠ i; mean `loc`; variance
    (σ₁⁴ + σ₁²σ₂² + σ₂⁴)/(σ₁² + σ₂²); skewness 0; ``rvs`` samples the pair exactly.

    Parameters
    ----------
    sigma1, sigma2 : float in [1e-150, 1e150]
        Widths of the two quadratic wells.
    loc : float, optional
        Centre κ, default 0; |loc| <= 1e12·max(σ₁, σ₂) (farther, the widths are below the
        float resolution at loc).

    Returns
    -------
    scipy.stats frozen distribution
        Support (−∞, ∞), mean `loc`.

    Raises
    ------
    TypeError, ValueError
        If a width is not a real in [1e-150, 1e150] or `loc` is not finite.

    References
    ----------
    G. Aarts, B. Lucini, C. Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427
    (the two-mode model; the marginal above is rederived, see SCIENCE.md §4).

    Examples
    --------
    >>> from coulombgas import theory
    >>> law = theory.two_mode_density(0.7, 1.9)
    >>> round(float(law.var()), 6)
    3.668561
    """
    sigma1 = checked_scale("sigma1", sigma1)
    sigma2 = checked_scale("sigma2", sigma2)
    loc = _validate.real("loc", loc)
    if abs(loc) > 1e12 * max(sigma1, sigma2):  # the widths would vanish in loc's float resolution
        raise ValueError(f"`loc` must satisfy |loc| <= 1e12 x max(`sigma1`, `sigma2`) = "
                         f"{1e12 * max(sigma1, sigma2):g}, got {loc:g}")
    return Law(_two_mode_density, sigma1, sigma2, loc=loc,
                label=f"two_mode_density(sigma1={sigma1:g}, sigma2={sigma2:g}, loc={loc:g})")


# --------------------------------------------------------------------------------------
# Large-N densities
# --------------------------------------------------------------------------------------

def semicircle(radius):
    r"""Wigner semicircle law on [−R, R].

    .. math:: \rho(x) = \frac{2}{\pi R^2}\sqrt{R^2 - x^2},\qquad |x| \le R,

    with mean 0 and variance R²/4 (R = 2 for a GOE matrix scaled by 1/√N with
    unit off-diagonal variance).

    Parameters
    ----------
    radius : float in [1e-150, 1e150]
        Edge R of the support.

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.semicircular(scale=radius)``.

    Raises
    ------
    TypeError, ValueError
        If `radius` is not a real number in [1e-150, 1e150].

    References
    ----------
    E. P. Wigner, Ann. Math. 62, 548 (1955), doi:10.2307/1970079.

    Examples
    --------
    >>> from coulombgas import theory
    >>> float(theory.semicircle(2.0).var())
    1.0
    """
    radius = checked_scale("radius", radius)
    return Law(stats.semicircular, scale=radius, label=f"semicircle(radius={radius:g})")


_MP_RATIO_MIN, _MP_RATIO_MAX = 1e-12, 1e12
_MP_SIGMA_MIN, _MP_SIGMA_MAX = 1e-30, 1e30


def _mp_edges(ratio):
    return (1.0 - np.sqrt(ratio)) ** 2, (1.0 + np.sqrt(ratio)) ** 2


class _MarchenkoPasturGen(stats.rv_continuous):
    """MP law for σ = 1 (σ² enters as scipy's scale); for ratio > 1 the non-zero part."""

    def _get_support(self, ratio):
        return _mp_edges(ratio)

    def _pdf(self, x, ratio):
        a, b = _mp_edges(ratio)
        root = np.sqrt(np.clip((b - x) * (x - a), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = root / (2.0 * np.pi * np.minimum(ratio, 1.0) * x)
        # x = 0 is in the support only for λ = 1, where ρ ~ 1/(π√x) diverges.
        return np.where(x > 0, dens, np.inf)

    def _sf(self, x, ratio):
        # ∫_x^b √((b−t)(t−a))/t dt with t = m + r cos θ (m = 1+λ, r = 2√λ) gives
        # mθ − √((b−x)(x−a)) − 2|1−λ| arctan(k tan(θ/2)), k = √(a/b); half-angle
        # forms with √(b−x), √(x−a) keep full accuracy at both edges.
        a, b = _mp_edges(ratio)
        x = np.clip(x, a, b)
        p, q = np.sqrt(b - x), np.sqrt(x - a)
        k = np.abs(1.0 - np.sqrt(ratio)) / (1.0 + np.sqrt(ratio))
        theta = 2.0 * np.arctan2(p, q)
        val = ((1.0 + ratio) * theta - p * q
               - 2.0 * np.abs(1.0 - ratio) * np.arctan2(k * p, q))
        return np.clip(val / (2.0 * np.pi * np.minimum(ratio, 1.0)), 0.0, 1.0)

    def _cdf(self, x, ratio):
        return 1.0 - self._sf(x, ratio)

    def _ppf(self, q, ratio):
        a, b = _mp_edges(ratio)
        return invert_cdf(self._cdf, self._pdf, q, a, b, ratio)

    def _stats(self, ratio):
        # Central moments in closed form (from the Narayana moments 1, 1+λ, 1+3λ+λ², 1+6λ+6λ²+λ³:
        # μ₂ = λ, μ₃ = λ², μ₄ = 2λ² + λ³), so no cancellation between raw moments at extreme λ.
        # For λ > 1 the law is λ × MP(1/λ).
        lam = np.asarray(ratio, dtype=float)
        r = np.minimum(lam, 1.0 / lam)
        f = np.maximum(lam, 1.0)
        return f, f * f * r, np.sqrt(r), r - 1.0

    def _munp(self, n, ratio):
        # Narayana polynomials: ⟨x^n⟩ = Σ_j λ^j C(n,j) C(n−1,j)/(j+1) for λ <= 1;
        # for λ > 1 the non-zero part is λ × MP(1/λ), so ⟨x^n⟩ = λ^n × (same at 1/λ).
        lam = np.asarray(ratio, dtype=float)
        small = np.minimum(lam, 1.0 / lam)
        total = sum(small**j * special.comb(n, j) * special.comb(n - 1, j) / (j + 1)
                    for j in range(int(n)))
        total = total if n > 0 else np.ones_like(lam)
        return np.where(lam > 1.0, lam**n, 1.0) * total


_marchenko_pastur = _MarchenkoPasturGen(a=0.0, name="marchenko_pastur", shapes="ratio")


def marchenko_pastur(ratio, sigma=1.0):
    r"""Marchenko–Pastur law of the eigenvalues of X = (1/M) WᵀW.

    W is M x N with i.i.d. entries of variance σ², X is N x N, λ = N/M. For
    0 < λ <= 1 the limiting spectral law is continuous:

    .. math::

        \rho(x) = \frac{\sqrt{(b - x)(x - a)}}{2\pi\sigma^2\lambda x},\qquad
        a, b = \sigma^2(1 \mp \sqrt\lambda)^2,

    with mean σ² and variance σ⁴λ.

    For λ > 1, X has rank M < N: a fraction 1 − 1/λ of its eigenvalues is exactly 0
    and the law has an atom that a continuous distribution cannot hold. This
    function then returns the law of the **non-zero** eigenvalues. They are the
    eigenvalues of (1/M) W Wᵀ = λ · (1/N) W Wᵀ, and (1/N) W Wᵀ is an MP matrix of
    ratio 1/λ, so the law is λ x MP(1/λ, σ): the same edges σ²(1 ∓ √λ)², density
    √((b−x)(x−a))/(2πσ²x), mean λσ², variance λσ⁴. The full spectral law is
    (1 − 1/λ) δ₀ + (1/λ) × (this law), with mean σ².

    The cdf is closed-form (substitution x = σ²(1 + λ + 2√λ cos θ)), the moments
    are Narayana polynomials.

    Parameters
    ----------
    ratio : float in [1e-12, 1e12]
        λ = N/M (columns over rows of W).
    sigma : float in [1e-30, 1e30], optional
        Standard deviation of the entries of W, default 1.

    Returns
    -------
    scipy.stats frozen distribution
        Support [σ²(1−√λ)², σ²(1+√λ)²].

    Raises
    ------
    TypeError, ValueError
        If `ratio` or `sigma` is outside its range.

    References
    ----------
    V. A. Marchenko, L. A. Pastur, Math. USSR-Sbornik 1, 457 (1967),
    doi:10.1070/SM1967v001n04ABEH001994.
    Z. Bai, J. W. Silverstein, *Spectral Analysis of Large Dimensional Random
    Matrices*, 2nd ed., Springer (2010), ch. 3.

    Examples
    --------
    >>> from coulombgas import theory
    >>> law = theory.marchenko_pastur(0.25)
    >>> float(law.mean()), float(law.var())
    (1.0, 0.25)
    """
    # λ in [1e-12, 1e12] keeps the support's width 4√λ resolvable against its centre 1 + λ
    # and the fourth moment (∝ σ⁸λ⁴ for λ > 1) finite for σ in [1e-30, 1e30].
    ratio = checked_scale("ratio", ratio, _MP_RATIO_MIN, _MP_RATIO_MAX)
    sigma = checked_scale("sigma", sigma, _MP_SIGMA_MIN, _MP_SIGMA_MAX)
    return Law(_marchenko_pastur, ratio, scale=sigma**2,
                label=f"marchenko_pastur(ratio={ratio:g}, sigma={sigma:g})")


# --------------------------------------------------------------------------------------
# Paper 4's soft spin (issue 16; a block of its own, for the merge)
# --------------------------------------------------------------------------------------

from ._soft_spin import SOFT_SPIN_CRITICAL_VARIANCE, soft_spin  # noqa: E402

__all__ += ["soft_spin", "SOFT_SPIN_CRITICAL_VARIANCE"]

from .rbm_levels import RBMLevelShifts, rbm_level_shifts  # noqa: E402  (papers 1-3's RBM levels at finite T)

__all__ += ["rbm_level_shifts", "RBMLevelShifts"]
