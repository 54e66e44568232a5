"""Tracy–Widom laws of the largest eigenvalue (β = 1, 2, 4) from Fredholm determinants.

:func:`tracy_widom` is re-exported by :mod:`coulombgas.theory`. Every value comes
from the eigenvalues λ_k(s) of one symmetric operator, the shifted Airy Hankel
operator B_s(x, y) = Ai(x + y + s) on L²(0, ∞) (Ferrari–Spohn 2005), discretised
by Gauss–Legendre (Nyström) quadrature (Bornemann 2010), as
:mod:`coulombgas.theory._spacing` does for the sine kernel:

    F₁(s) = det(I − B_s),
    F₂(s) = det(I − B_s²) = det(I − B_s) det(I + B_s)   (= det(I − K_Airy) on (s, ∞)),
    F₄(s) = [det(I − B_{√2 s}) + det(I + B_{√2 s})] / 2.

The s-derivatives are exact derivatives of the discrete determinants: for the
symmetric matrix B, λ_k' = (Vᵀ B' V)_kk (Hellmann–Feynman) with B' = Ai'(x + y + s).

References
----------
C. A. Tracy, H. Widom, Commun. Math. Phys. 159, 151 (1994) and 177, 727 (1996).
P. L. Ferrari, H. Spohn, J. Phys. A 38, L557 (2005), arXiv:math-ph/0505012.
F. Bornemann, Math. Comp. 79, 871 (2010), arXiv:0804.2543; Markov Process. Relat.
Fields 16, 803 (2010), arXiv:0904.1581 (its 13-digit table of the TW moments, checked in the tests).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.linalg
from scipy import fft, special, stats

from .. import _validate
from ._law import Law, dyson_index, invert_cdf, per_beta

__all__ = ["tracy_widom", "airy_eigenvalues", "tw_direct", "tw_tables", "TW_NODES", "TW_RANGE",
           "BETA_SCALING"]

# Nyström nodes on (0, 16 − s): the discretisation error of log det is at rounding level
# (~1e-14) from ~48 nodes on for s in [−12, 12] (tested against 128 nodes); where s < −6
# the error is set by rounding of eigenvalues near ±1 instead (absolute, i.e. invisible
# next to F ≈ e^{−|s|³/24}).
TW_NODES = 64
# Below TW_RANGE[β][0] the cdf is < 1e-20 and set to 0; between it and TW_RANGE[β][1]
# log F and its derivative are tabulated; beyond, every value is computed directly,
# so the right tail (p-values) keeps its relative accuracy.
TW_RANGE = {1: (-12.0, 4.0), 2: (-10.0, 4.0), 4: (-8.0, 2.0)}
# Right of TW_RANGE, log sf and log pdf are tabulated up to TW_TAIL[β] (sf ≈ 1e-26, 1e-30,
# 1e-40 there), from the relatively accurate direct values; beyond, values are direct.
TW_TAIL = {1: 20.0, 2: 16.0, 4: 12.0}
_PIECE_WIDTH = 2.0
_PIECE_POINTS = 24
# The β-uniform edge scaling (see tracy_widom) differs from Tracy–Widom's F₄ by this factor.
BETA_SCALING = {1: 1.0, 2: 1.0, 4: 2.0 ** (-1.0 / 6.0)}


def airy_eigenvalues(s, m=TW_NODES):
    """Eigenvalues λ_k(s) of the discretised B_s and their s-derivatives, shape (..., m) each.

    The interval (0, ∞) is cut at x = max(16 − s, 4): beyond it Ai(x + s) < 1e-19.
    """
    s = np.asarray(s, dtype=float)[..., None, None]
    u, w = np.polynomial.legendre.leggauss(m)
    hi = np.maximum(16.0 - s, 4.0)
    x = 0.5 * hi * (u + 1.0)                                   # (..., 1, m)
    sw = 0.5 * hi * np.sqrt(np.outer(w, w))
    z = s + x + np.swapaxes(x, -1, -2)
    ai, aip, _, _ = special.airy(z)
    b, db = (sw * ai).reshape(-1, m, m), (sw * aip).reshape(-1, m, m)
    lam = np.empty((b.shape[0], m))
    dlam = np.empty((b.shape[0], m))
    # One LAPACK dsyevd call per matrix: numpy's batched eigh was measured 100x slower
    # (20 s for 192 matrices) under multithreaded OpenBLAS on a loaded machine.
    for i in range(b.shape[0]):
        lam[i], vec = scipy.linalg.eigh(b[i], driver="evd", check_finite=False)
        dlam[i] = np.sum(vec * (db[i] @ vec), axis=0)
    shape = z.shape[:-2] + (m,)
    return lam.reshape(shape), dlam.reshape(shape)


def _even_symmetric(lam, dlam):
    """Σ_{j even ≥ 2} e_j(λ) and its s-derivative, by the product recurrence with dual numbers.

    e_j are the elementary symmetric polynomials; the recurrence multiplies the
    factors (1 + λ_k z) one by one, so no two nearly equal sums are subtracted and
    the result keeps its relative accuracy when all |λ_k| are small (right tail).
    """
    shape, m = lam.shape[:-1], lam.shape[-1]
    e = np.zeros(shape + (m + 1,))
    de = np.zeros(shape + (m + 1,))
    e[..., 0] = 1.0
    for k in range(m):
        lk, dk = lam[..., k:k + 1], dlam[..., k:k + 1]
        de[..., 1:] = de[..., 1:] + lk * de[..., :-1] + dk * e[..., :-1]
        e[..., 1:] = e[..., 1:] + lk * e[..., :-1]
    return e[..., 2::2].sum(axis=-1), de[..., 2::2].sum(axis=-1)


def tw_direct(t, beta, m=TW_NODES):
    """(log F, d log F/dt, sf, pdf) of F_β at t, computed from the discretised determinants.

    For β = 4 the operator argument is s = √2 t. Where s > 0 the survival function
    and the density come from relatively accurate forms (log1p/expm1 sums, the
    elementary-symmetric recurrence), so tiny p-values keep their digits.
    """
    t = np.asarray(t, dtype=float)
    c = math.sqrt(2.0) if beta == 4 else 1.0
    lam, dlam = airy_eigenvalues(c * t, m)
    # Far left the top eigenvalues round to ±1 (F < 1e-20 there): keep log1p(∓λ) finite.
    lam = np.clip(lam, np.nextafter(-1.0, 0.0), np.nextafter(1.0, 0.0))
    dlam = c * dlam
    if beta == 1:
        logf = np.sum(np.log1p(-lam), axis=-1)
        dlogf = -np.sum(dlam / (1.0 - lam), axis=-1)
        sf = -np.expm1(logf)
        return logf, dlogf, sf, np.exp(logf) * dlogf
    if beta == 2:
        logf = np.sum(np.log1p(-lam * lam), axis=-1)
        dlogf = -np.sum(2.0 * lam * dlam / (1.0 - lam * lam), axis=-1)
        sf = -np.expm1(logf)
        return logf, dlogf, sf, np.exp(logf) * dlogf
    with np.errstate(divide="ignore"):
        a, b = np.sum(np.log1p(-lam), axis=-1), np.sum(np.log1p(lam), axis=-1)
    logf = np.logaddexp(a, b) - math.log(2.0)
    da, db = -np.sum(dlam / (1.0 - lam), axis=-1), np.sum(dlam / (1.0 + lam), axis=-1)
    wa = np.exp(a - np.logaddexp(a, b))                      # weight of det(I − B) in F₄
    dlogf = wa * da + (1.0 - wa) * db
    sf, pdf = np.array(-np.expm1(logf)), np.array(np.exp(logf) * dlogf)
    right = c * t > 0.0
    if np.any(right):
        sf[right], pdf[right] = _even_symmetric(lam[right], dlam[right])
        sf[right] *= -1.0
        dlogf = np.where(right, pdf / np.exp(logf), dlogf)
    return logf, dlogf, sf, pdf


def _chebyshev_coefficients(values):
    """Coefficients on first-kind Chebyshev points along the last axis (DCT-II)."""
    n = values.shape[-1]
    c = fft.dct(values, type=2, axis=-1) / n
    c[..., 0] *= 0.5
    return c


def _clenshaw(coef, y):
    """Σ_k coef[..., k] T_k(y), vectorised over rows of coef (one row per point)."""
    b1 = np.zeros_like(y)
    b2 = np.zeros_like(y)
    for k in range(coef.shape[-1] - 1, 0, -1):
        b1, b2 = 2.0 * y * b1 - b2 + coef[..., k], b1
    return y * b1 - b2 + coef[..., 0]


def _piece_points(lo, hi):
    pieces = int(round((hi - lo) / _PIECE_WIDTH))
    y = np.cos(np.pi * (np.arange(_PIECE_POINTS) + 0.5) / _PIECE_POINTS)
    return lo + _PIECE_WIDTH * np.arange(pieces)[:, None] + 0.5 * _PIECE_WIDTH * (y[None, :] + 1.0)


@functools.lru_cache(maxsize=None)
def tw_tables(beta):
    """Piecewise Chebyshev coefficients, built once per β (~0.3 s each on one core).

    (log F, d log F/dt) on TW_RANGE[β] and (log sf, log pdf) on [TW_RANGE[β][1], TW_TAIL[β]],
    pieces of width 2 with 24 points each: the interpolants agree with :func:`tw_direct`
    to ~1e-13 in log F and in the relative tail values (tested).
    """
    lo, hi = TW_RANGE[beta]
    logf, dlogf, _, _ = tw_direct(_piece_points(lo, hi), beta)
    _, _, sf, pdf = tw_direct(_piece_points(hi, TW_TAIL[beta]), beta)
    return tuple(_chebyshev_coefficients(v) for v in (logf, dlogf, np.log(sf), np.log(pdf)))


def _tabulated(t, beta, lo, tables):
    k = np.clip(((t - lo) // _PIECE_WIDTH).astype(int), 0, tables[0].shape[0] - 1)
    y = 2.0 * (t - lo - _PIECE_WIDTH * k) / _PIECE_WIDTH - 1.0
    return tuple(_clenshaw(c[k], y) for c in tables)


def _evaluate(x, beta):
    """(cdf, sf, pdf) at x: 0 below the table, the table inside it, direct above it."""
    x = np.asarray(x, dtype=float)
    lo, hi = TW_RANGE[beta]
    cdf, sf, pdf = np.zeros(x.shape), np.ones(x.shape), np.zeros(x.shape)
    tables = tw_tables(beta)
    mid = (x >= lo) & (x <= hi)
    if np.any(mid):
        logf, dlogf = _tabulated(x[mid], beta, lo, tables[:2])
        cdf[mid] = np.exp(logf)
        sf[mid] = -np.expm1(logf)
        pdf[mid] = np.maximum(cdf[mid] * dlogf, 0.0)
    tail = (x > hi) & (x <= TW_TAIL[beta])
    if np.any(tail):
        logsf, logpdf = _tabulated(x[tail], beta, hi, tables[2:])
        sf[tail] = np.exp(logsf)
        cdf[tail] = -np.expm1(logsf)
        pdf[tail] = np.exp(logpdf)
    # Beyond s = 150 (β = 4: 150/√2) Ai(s) < 1e-500: the operator is 0 in floating point.
    far = x > (150.0 / math.sqrt(2.0) if beta == 4 else 150.0)
    cdf[far], sf[far] = 1.0, 0.0
    right = (x > TW_TAIL[beta]) & ~far
    if np.any(right):
        # Far out Ai underflows and the operator is 0: sf = 0, cdf = 1 (correctly).
        _, _, sf_r, pdf_r = tw_direct(x[right], beta)
        sf[right] = np.clip(sf_r, 0.0, 1.0) + 0.0           # + 0.0: no −0.0 where sf underflows
        cdf[right] = 1.0 - sf[right]
        pdf[right] = np.maximum(pdf_r, 0.0)
    return cdf, sf, pdf


@functools.lru_cache(maxsize=None)
def _moments(beta):
    """⟨t⟩, ⟨t²⟩, ⟨t³⟩, ⟨t⁴⟩ by Gauss–Legendre quadrature of t^n p(t), 40 nodes per width-2 piece."""
    lo, hi = TW_RANGE[beta]
    u, w = np.polynomial.legendre.leggauss(40)
    edges = np.arange(lo, hi + 12.0 + 1e-9, _PIECE_WIDTH)    # beyond hi + 12 the density is < 1e-40
    t = (edges[:-1, None] + 0.5 * _PIECE_WIDTH * (u + 1.0)).ravel()
    wt = np.tile(0.5 * _PIECE_WIDTH * w, len(edges) - 1)
    p = _evaluate(t, beta)[2]
    return tuple(float(np.sum(wt * t**n * p)) for n in (1, 2, 3, 4))


class _TracyWidomGen(stats.rv_continuous):
    """Tracy–Widom law F_β of the scaled largest eigenvalue (TW's own normalisation)."""

    def _argcheck(self, beta):
        return np.isin(beta, (1, 2, 4))

    def _pdf(self, x, beta):
        return per_beta(lambda t, b: _evaluate(t, b)[2], x, beta)

    def _cdf(self, x, beta):
        return per_beta(lambda t, b: _evaluate(t, b)[0], x, beta)

    def _sf(self, x, beta):
        return per_beta(lambda t, b: _evaluate(t, b)[1], x, beta)

    def _ppf(self, q, beta):
        lo = np.vectorize(lambda b: TW_RANGE[b][0])(np.asarray(beta, dtype=int))
        return invert_cdf(self._cdf, self._pdf, q, lo, 12.0, beta)

    def _munp(self, n, beta):
        if n == 0:
            return np.ones(np.shape(beta))
        if n > 4:
            return super()._munp(n, beta)
        return per_beta(lambda _, b: _moments(b)[int(n) - 1], np.zeros(np.shape(beta)), beta)


_tracy_widom = _TracyWidomGen(name="tracy_widom", shapes="beta")


def tracy_widom(beta, scaling="tracy-widom"):
    r"""Tracy–Widom law of the edge-scaled largest eigenvalue, β = 1, 2, 4.

    .. math::

        F_1(s) = \det(I - B_s),\quad F_2(s) = \det(I - B_s)\det(I + B_s),\quad
        F_4(s) = \tfrac12\left[\det(I - B_{\sqrt2 s}) + \det(I + B_{\sqrt2 s})\right],

    with B_s(x, y) = Ai(x + y + s) on L²(0, ∞) (Ferrari–Spohn 2005). F₂ is
    det(I − K_Airy) on L²(s, ∞); F₁ and F₄ are the Painlevé II expressions of
    Tracy & Widom (1996), exp(∓½∫_s^∞ q) F₂^{1/2} summed as above, q the
    Hastings–McLeod solution.

    Two normalisations are offered, because the literature uses both for β = 4:

    - ``scaling="tracy-widom"`` (default): Tracy & Widom's F₁, F₂, F₄ as written above,
      the laws of the published moment tables (Bornemann 2010, MPRF): mean / variance
      −1.2065335745820 / 1.6077810345810 (β = 1), −1.7710868074116 / 0.8131947928329
      (β = 2), −2.3068848932410 / 0.5177237207726 (β = 4). For β = 4 it is the limit
      of 2^{1/6} n^{1/6}(μ_max − 2√n) in the β-ensemble normalisation below (tested
      on tridiagonal GSE matrices).
    - ``scaling="beta"``: the law TW_β of the limit of n^{1/6}(μ_max − 2√n) for the
      Gaussian β-ensemble of density ∝ |Δ(μ)|^β exp(−(β/4) Σ μ²), the same
      centring and scaling for every β (Dumitriu–Edelman; Ramírez–Rider–Virág 2011).
      It equals F_β for β = 1, 2 and F₄(2^{1/6} s) for β = 4, i.e. a scale 2^{−1/6}:
      mean −2.3068848932410·2^{−1/6} = −2.0552, variance 0.5177237207726·2^{−1/3}.
      This is the one to use with the Wishart/Laguerre edge scalings of
      :func:`coulombgas.spectra.edge_scaling` for every β.

    Numerics: B_s is discretised by Gauss–Legendre quadrature with 64 nodes on
    (0, max(16 − s, 4)) (Bornemann 2010); derivatives are exact derivatives of the
    discrete determinants (λ_k' = (VᵀB'V)_kk, B' = Ai'(x + y + s)). log F and its
    derivative are tabulated once per β (cached; a few seconds on a loaded 2-core
    machine) on width-2 pieces of 24 Chebyshev points over [−12, 4] (β = 1), [−10, 4]
    (β = 2), [−8, 2] (β = 4); below, the cdf is < 1e-20 and set to 0. To the right,
    log sf and log pdf are tabulated up to 20, 16, 12 from relatively accurate formulas
    (log1p/expm1 sums; for β = 4, where the first-order terms cancel, the elementary
    symmetric polynomials of the λ_k), and beyond that computed directly, so ``sf`` (a
    p-value) keeps ~12 significant digits down to ~1e-300 (0 beyond s = 150, where
    Ai underflows). Moments reproduce the published values to ~1e-12.

    Parameters
    ----------
    beta : {1, 2, 4}
        Dyson index (real, complex, quaternion).
    scaling : {"tracy-widom", "beta"}, optional
        Normalisation for β = 4 (identical for β = 1, 2), see above.

    Returns
    -------
    scipy.stats frozen distribution
        Support (−∞, ∞); ``sf(x)`` is the p-value of an observed scaled largest eigenvalue x.

    Raises
    ------
    TypeError
        If `beta` is not a real number or `scaling` not a string.
    ValueError
        If `beta` is not 1, 2 or 4, or `scaling` is unknown.

    References
    ----------
    C. A. Tracy, H. Widom, Commun. Math. Phys. 159, 151 (1994); 177, 727 (1996).
    P. L. Ferrari, H. Spohn, J. Phys. A 38, L557 (2005), arXiv:math-ph/0505012.
    F. Bornemann, Math. Comp. 79, 871 (2010), arXiv:0804.2543.
    J. A. Ramírez, B. Rider, B. Virág, J. Amer. Math. Soc. 24, 919 (2011), arXiv:math/0607331.

    Examples
    --------
    >>> from coulombgas import theory
    >>> law = theory.tracy_widom(2)
    >>> round(float(law.mean()), 10), round(float(law.var()), 10)
    (-1.7710868074, 0.8131947928)
    """
    beta = dyson_index(beta, (1, 2, 4))
    if not isinstance(scaling, str):
        raise TypeError(f"`scaling` must be a string, got {type(scaling).__name__}")
    _validate.one_of("scaling", scaling, ("tracy-widom", "beta"))
    scale = BETA_SCALING[beta] if scaling == "beta" else 1.0
    label = f"tracy_widom(beta={beta})" if scaling == "tracy-widom" else \
        f"tracy_widom(beta={beta}, scaling='beta')"
    return Law(_tracy_widom, beta, scale=scale, label=label)
