"""Closed-form laws of random-matrix theory as frozen ``scipy.stats`` distributions.

Every public function returns a *frozen* continuous distribution (a subclass of
scipy's ``rv_continuous_frozen``), so ``pdf``, ``cdf``, ``sf``, ``ppf``, ``rvs``,
``moment``, ``stats`` and ``scipy.stats.kstest(data, law.cdf)`` work unchanged,
and ``repr(law)`` says which law it is, e.g. ``spacing(beta=2)``.

=====================  ===========================================================
``wigner_surmise``     spacing law of 2x2 GβE matrices, β = 1, 2, 4 (mean 1)
``spacing``            exact infinite-N bulk spacing law (Gaudin–Mehta), β = 1, 2, 4
``poisson_spacing``    spacing of uncorrelated levels, Exp(1)
``gap_ratio``          adjacent-gap ratio r̃ = min/max (Atas et al. 2013 surmise)
``two_mode_spacing``   spacing of the two-mode gas (Rayleigh)
``two_mode_density``   exact one-point density of the two-mode gas
``semicircle``         Wigner semicircle on [-R, R]
``marchenko_pastur``   Marchenko–Pastur law of (1/M) WᵀW
=====================  ===========================================================

The physics is in SCIENCE.md §4–5.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.polynomial import Chebyshev
from scipy import fft, special, stats

from . import _validate

__all__ = [
    "wigner_surmise", "spacing", "poisson_spacing", "gap_ratio",
    "two_mode_spacing", "two_mode_density", "semicircle", "marchenko_pastur",
]

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)

# scipy's frozen class, reached through a public object rather than the private
# scipy.stats._distn_infrastructure module.
_Frozen = type(stats.uniform())


# Widths and radii are accepted in [1e-150, 1e150]: there the variance (∝ scale²) and the
# density's peak (∝ 1/scale) are normal floats, so no law underflows to a zero-variance
# point mass or overflows to an infinite variance (issue 18).
_SCALE_MIN, _SCALE_MAX = 1e-150, 1e150


def _scale(name: str, value, lo: float = _SCALE_MIN, hi: float = _SCALE_MAX) -> float:
    """A width/radius in ``[lo, hi]`` (message names the parameter and the range)."""
    value = _validate.positive(name, value)
    if not lo <= value <= hi:
        raise ValueError(f"`{name}` must be in [{lo:g}, {hi:g}] (outside it the law's variance or "
                         f"density is not a finite normal float), got {value:g}")
    return value


def _size(size) -> tuple[int, ...] | None:
    """``rvs``'s ``size``: None, an int >= 0 or a tuple of them, within the memory budget."""
    if size is None:
        return None
    dims = size if isinstance(size, (tuple, list)) else (size,)
    out = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"`size` must be None, an int >= 0 or a tuple of ints >= 0, got {size!r}")
        if d < 0:
            raise ValueError(f"`size` must be >= 0 in every dimension, got {size!r}")
        out.append(int(d))
    # The samplers hold a few float64 temporaries of the output's size (five for two_mode_density).
    _validate.fits_in_memory("`size`", 6.0 * 8.0 * math.prod(float(d) for d in out))
    return tuple(out) if isinstance(size, (tuple, list)) else out[0]


def _random_state(random_state):
    """``rvs``'s ``random_state``: None, a seed in [0, 2**32) or a NumPy Generator/RandomState."""
    if random_state is None or isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, (int, np.integer)):
        raise TypeError("`random_state` must be None, an int seed or a numpy.random.Generator, "
                        f"got {type(random_state).__name__}")
    if not 0 <= random_state < 2**32:
        raise ValueError(f"`random_state` must be an int seed in [0, 2**32), got {random_state}")
    return int(random_state)


class _Law(_Frozen):
    """A frozen scipy distribution whose repr names the law and its parameters."""

    def __init__(self, dist, *args, label: str, **kwds):
        super().__init__(dist, *args, **kwds)
        self._label = label

    def __repr__(self) -> str:
        return self._label

    def rvs(self, size=None, random_state=None):
        """Random variates; ``size`` and ``random_state`` checked (and the memory) before any draw."""
        return super().rvs(size=_size(size), random_state=_random_state(random_state))


def _beta(value, allowed) -> int:
    """Validate a Dyson index: a real number equal to one of ``allowed``."""
    return int(_validate.one_of("beta", _validate.real("beta", value), allowed))


def _invert_cdf(cdf, pdf, q, lo, hi, *args):
    """Solve cdf(x) = q on [lo, hi] by Newton's method safeguarded by bisection.

    Used where no closed-form inverse exists. scipy's default runs one ``brentq``
    per element; this is vectorised over the elements not yet converged. When the
    shape parameters are the same for all elements (a frozen law), a 257-point
    table of the cdf first narrows each bracket, so Newton needs ~4 steps. A Newton
    step that leaves its bracket (flat pdf near an edge) is replaced by bisection,
    so the iteration always converges.
    """
    q, lo, hi, *args = np.broadcast_arrays(np.asarray(q, dtype=float), lo, hi, *args)
    shape = q.shape
    q, lo, hi = q.ravel(), lo.ravel().astype(float), hi.ravel().astype(float)
    args = [np.ravel(a) for a in args]
    if q.size > 16 and all(np.ptp(a) == 0 for a in (lo, hi, *args)):
        grid = np.linspace(lo[0], hi[0], 257)
        table = np.maximum.accumulate(cdf(grid, *(np.full(257, a[0]) for a in args)))
        i = np.clip(np.searchsorted(table, q), 1, 256)     # table[i-1] < q <= table[i]
        lo, hi = grid[i - 1], grid[i]
    x = 0.5 * (lo + hi)
    active = np.arange(q.size)
    for _ in range(100):
        xa, la, ha, aa = x[active], lo[active], hi[active], [a[active] for a in args]
        resid = cdf(xa, *aa) - q[active]
        below = resid < 0
        la, ha = np.where(below, xa, la), np.where(below, ha, xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = xa - resid / pdf(xa, *aa)
        newton = (new > la) & (new < ha)
        new = np.where(newton, new, 0.5 * (la + ha))
        new = np.where(resid == 0, xa, new)               # exact hit: keep it
        # A Newton step below 1e-14 relative means the new point is at rounding level
        # (quadratic convergence); a bisection step needs the bracket itself at 1 ulp.
        done = ((newton & (np.abs(new - xa) <= 1e-14 * np.abs(new)))
                | (ha - la <= 4e-16 * np.abs(new)) | (resid == 0))
        x[active], lo[active], hi[active] = new, la, ha
        active = active[~done]
        if active.size == 0:
            break
    return x.reshape(shape)


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
    beta = _beta(beta, (1, 2, 4))
    return _Law(_wigner_surmise, beta, label=f"wigner_surmise(beta={beta})")


# --------------------------------------------------------------------------------------
# Exact bulk spacing law (Gaudin–Mehta) via Fredholm determinants
# --------------------------------------------------------------------------------------

# Gauss–Legendre nodes for the Nyström discretisation. The kernel is entire in s and
# in (x, y), so the Nyström determinant converges exponentially in m (Bornemann 2010,
# Math. Comp.): E'' reaches rounding level from m ≈ 16 on [0, s_max] (tested); 48 is a
# wide margin at a one-off cost (cached) of 0.1–0.4 s per β on this 2-core machine.
_NYSTROM_NODES = 48
# Chebyshev interpolation points on [0, s_max]; the interpolant of E, E', E'' agrees
# with direct evaluation to ~3e-15 at 81 points already (tested).
_CHEB_POINTS = 97
# Beyond s_max the density is below 1e-17 and is set to 0 (cdf to 1).
_SPACING_SMAX = {1: 8.0, 2: 6.0, 4: 5.0}


def _parity_gap(s, sign, m=_NYSTROM_NODES):
    r"""E_±(0; s) and its first two s-derivatives, by Nyström discretisation.

    E_±(0; s) = det(I − K_±) on L²(0, s/2) with K_±(x, y) = S(x−y) ± S(x+y) and
    S(z) = sin(πz)/(πz): the sine kernel on (−s/2, s/2) restricted to even (+) or
    odd (−) functions. After x = (s/2)u the kernel lives on u ∈ (0, 1) and depends
    on s only through g(z) = sin(π s z/2)/(π z), whose s-derivatives are explicit.

    Derivatives: with L = log det(I − A(s)), R = (I − A)⁻¹ (Jacobi's formula)
        L' = −tr(R A'),   L'' = −tr(R A'') − tr(R A' R A'),
        E' = E L',        E'' = E (L'' + L'²).
    These are *exact* derivatives of the discretised determinant; since the
    discretisation error is analytic in s and exponentially small on a complex
    neighbourhood, its derivatives are exponentially small too (Cauchy estimates).
    This avoids numerical differentiation, which would lose ~n² accuracy per order.
    Working in the eigenbasis of the symmetric A makes R diagonal and E = ∏(1 − λ_k)
    keeps good relative accuracy while E is tiny.
    """
    u, w = np.polynomial.legendre.leggauss(m)
    u, w = 0.5 * (u + 1.0), 0.5 * w
    s = np.asarray(s, dtype=float)[..., None, None]
    sw = np.sqrt(np.outer(w, w))

    def g(z):  # g, dg/ds, d²g/ds² for g = sin(π s z/2)/(π z); finite at z = 0
        arg = 0.5 * np.pi * s * z
        return 0.5 * s * np.sinc(arg / np.pi), 0.5 * np.cos(arg), -0.25 * np.pi * z * np.sin(arg)

    diff, plus = g(u[:, None] - u[None, :]), g(u[:, None] + u[None, :])
    a0, a1, a2 = (sw * (d + sign * p) for d, p in zip(diff, plus))
    lam, vec = np.linalg.eigh(a0)
    vt = np.swapaxes(vec, -1, -2)
    r = 1.0 / (1.0 - lam)                                   # resolvent, eigenbasis
    b1 = vt @ a1 @ vec
    b2 = np.einsum("...kk->...k", vt @ a2 @ vec)
    rb1 = r[..., :, None] * b1
    dlog = -np.einsum("...kk->...", rb1)
    d2log = -np.sum(r * b2, axis=-1) - np.sum(rb1 * np.swapaxes(rb1, -1, -2), axis=(-1, -2))
    e = np.prod(1.0 - lam, axis=-1)
    return e, e * dlog, e * (d2log + dlog**2)


def _gap_derivatives(s, beta, m=_NYSTROM_NODES):
    r"""E_β(0; s), E', E'' for the bulk (mean spacing 1), by direct evaluation.

    Gaudin's factorisation of the sine-kernel determinant by parity
    (Bornemann 2010 review, §5, eqs. 5.7–5.8 for β = 1, 2; Mehta 2004, chs. 6–8):
        β = 1:  E₁ = E₊(s),
        β = 2:  E₂ = E₊(s) E₋(s)       (= det(I − K_sine) on (0, s)),
        β = 4:  E₄ = [E₊(2s) + E₋(2s)] / 2.
    """
    if beta == 1:
        return _parity_gap(s, +1.0, m)
    if beta == 2:
        (p, p1, p2), (q, q1, q2) = _parity_gap(s, +1.0, m), _parity_gap(s, -1.0, m)
        return p * q, p1 * q + p * q1, p2 * q + 2.0 * p1 * q1 + p * q2
    (p, p1, p2), (q, q1, q2) = (_parity_gap(2.0 * np.asarray(s, dtype=float), sign, m)
                                for sign in (+1.0, -1.0))
    return 0.5 * (p + q), p1 + q1, 2.0 * (p2 + q2)


@functools.lru_cache(maxsize=None)
def _gap_interpolants(beta):
    """Chebyshev interpolants of (E, E', E'') on [0, s_max], built once per β.

    Values at first-kind Chebyshev points, coefficients by a DCT-II (a Vandermonde
    product would lose two digits near the ends at this degree).
    """
    smax = _SPACING_SMAX[beta]
    n = _CHEB_POINTS
    x = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    values = _gap_derivatives(0.5 * smax * (x + 1.0), beta)
    out = []
    for v in values:
        c = fft.dct(v, type=2) / n
        c[0] *= 0.5
        out.append(Chebyshev(c, domain=[0.0, smax]))
    return tuple(out)


def _per_beta(func, x, beta):
    """Evaluate ``func(x_subset, beta_value)`` for each distinct β in a broadcast call."""
    x, beta = np.broadcast_arrays(np.asarray(x, dtype=float), beta)
    out = np.empty(x.shape)
    for b in np.unique(beta):
        mask = beta == b
        out[mask] = func(x[mask], int(b))
    return out


def _spacing_pdf(x, beta):
    smax = _SPACING_SMAX[beta]
    p = _gap_interpolants(beta)[2](np.minimum(x, smax))
    return np.where(x < smax, np.maximum(p, 0.0), 0.0)


def _spacing_sf(x, beta):
    smax = _SPACING_SMAX[beta]
    sf = -_gap_interpolants(beta)[1](np.minimum(x, smax))      # sf = −E'(s)
    return np.where(x < smax, np.clip(sf, 0.0, 1.0), 0.0)


class _SpacingGen(stats.rv_continuous):
    """Gaudin–Mehta bulk spacing law p_β(s) = E_β''(0; s)."""

    def _argcheck(self, beta):
        return np.isin(beta, (1, 2, 4))

    def _pdf(self, x, beta):
        return _per_beta(_spacing_pdf, x, beta)

    def _sf(self, x, beta):
        return _per_beta(_spacing_sf, x, beta)

    def _cdf(self, x, beta):
        return 1.0 - self._sf(x, beta)

    def _ppf(self, q, beta):
        hi = np.vectorize(_SPACING_SMAX.get)(np.asarray(beta, dtype=int))
        return _invert_cdf(self._cdf, self._pdf, q, 0.0, hi, beta)

    def _munp(self, n, beta):
        # 200 Gauss–Legendre nodes integrate s^n × (degree-96 interpolant) to rounding.
        def moment(_, b):
            smax = _SPACING_SMAX[b]
            t, w = np.polynomial.legendre.leggauss(200)
            s = 0.5 * smax * (t + 1.0)
            return 0.5 * smax * np.sum(w * s**n * _spacing_pdf(s, b))
        return _per_beta(moment, np.zeros(np.shape(beta)), beta)


_spacing = _SpacingGen(a=0.0, name="spacing", shapes="beta")


def spacing(beta):
    r"""Exact infinite-N bulk nearest-neighbour spacing law (Gaudin–Mehta).

    .. math::

        p_\beta(s) = \frac{d^2}{ds^2} E_\beta(0; s),\qquad
        F(s) = 1 + E_\beta'(0; s),

    where E_β(0; s) is the probability that an interval of length s (in units of
    the mean spacing) holds no eigenvalue. With S(z) = sin(πz)/(πz) and
    E_±(s) = det(I − K_±) on L²(0, s/2), K_±(x, y) = S(x−y) ± S(x+y):
    E₁ = E₊(s), E₂ = E₊(s)E₋(s) = det(I − K_sine) on (0, s),
    E₄ = [E₊(2s) + E₋(2s)]/2.

    The Fredholm determinants are discretised by Gauss–Legendre (Nyström) quadrature
    with 48 nodes (Bornemann 2010); E' and E'' are exact derivatives of the discrete
    determinant (traces of the resolvent), not finite differences. E, E', E'' are
    tabulated once per β (cached) on 97 Chebyshev points of [0, s_max] and evaluated
    by Clenshaw's recurrence, so ``pdf``/``cdf`` are vectorised and cheap. The pdf is
    accurate to about 1e-13 on [0, s_max] (s_max = 8, 6, 5 for β = 1, 2, 4; checked
    against 64 nodes and against spectral differentiation of E), and is set to 0
    beyond, where it is below 1e-17. Published variances (Bornemann 2010
    review, Tables 7–8): 0.2855306557 (GOE) and 0.1799938776 (GUE); this module
    reproduces them to 1e-10. For GSE the variance is 0.1040984222 (Mehta: 0.104).

    Parameters
    ----------
    beta : {1, 2, 4}
        Dyson index (GOE, GUE, GSE).

    Returns
    -------
    scipy.stats frozen distribution
        Support [0, ∞), mean 1. Small-s behaviour p₁ ≈ (π²/6)s, p₂ ≈ (π²/3)s²,
        p₄ ≈ (16π⁴/135)s⁴.

    Raises
    ------
    TypeError
        If `beta` is not a real number.
    ValueError
        If `beta` is not 1, 2 or 4.

    Notes
    -----
    β = 4 reuses the E_± determinants of β = 1, 2 at argument 2s. ``cdf`` and ``sf``
    are accurate in absolute terms (~1e-15), not relative ones, so ``sf`` values far
    out in the tail, below ~1e-15, carry no significant digits.

    References
    ----------
    M. Gaudin, Nucl. Phys. 25, 447 (1961), doi:10.1016/0029-5582(61)90176-3.
    M. L. Mehta, *Random Matrices*, 3rd ed., Elsevier (2004).
    F. Bornemann, "On the numerical evaluation of Fredholm determinants",
    Math. Comp. 79, 871 (2010), doi:10.1090/S0025-5718-09-02280-7, arXiv:0804.2543.
    F. Bornemann, "On the numerical evaluation of distributions in random matrix
    theory: a review", Markov Process. Related Fields 16, 803 (2010), arXiv:0904.1581.

    Examples
    --------
    >>> from coulombgas import theory
    >>> law = theory.spacing(2)
    >>> round(float(law.var()), 8)
    0.17999388
    """
    beta = _beta(beta, (1, 2, 4))
    return _Law(_spacing, beta, label=f"spacing(beta={beta})")


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
    return _Law(stats.expon, label="poisson_spacing()")


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
        return _per_beta(_ratio_pdf, x, beta)

    def _cdf(self, x, beta):
        return _per_beta(_ratio_cdf, x, beta)

    def _ppf(self, q, beta):
        return _invert_cdf(self._cdf, self._pdf, q, 0.0, 1.0, beta)

    def _munp(self, n, beta):
        # The same Gauss rule on [0, 1] is exact to rounding for ∫ r^n 2P(r) dr.
        t, w = _RATIO_GL
        r = 0.5 * (t + 1.0)
        return _per_beta(lambda _, b: 0.5 * (r**n * _ratio_pdf(r, b)) @ w,
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
        beta = _beta(beta, (1, 2, 4, 0))
    label = "gap_ratio(beta='poisson')" if beta == 0 else f"gap_ratio(beta={beta})"
    return _Law(_gap_ratio, beta, label=label)


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
    sigma1 = _scale("sigma1", sigma1)
    sigma2 = _scale("sigma2", sigma2)
    return _Law(stats.rayleigh, scale=math.hypot(sigma1, sigma2),
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
        return _invert_cdf(self._cdf, self._pdf, q, -half, half, sigma1, sigma2)

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
    sigma1 = _scale("sigma1", sigma1)
    sigma2 = _scale("sigma2", sigma2)
    loc = _validate.real("loc", loc)
    if abs(loc) > 1e12 * max(sigma1, sigma2):  # the widths would vanish in loc's float resolution
        raise ValueError(f"`loc` must satisfy |loc| <= 1e12 x max(`sigma1`, `sigma2`) = "
                         f"{1e12 * max(sigma1, sigma2):g}, got {loc:g}")
    return _Law(_two_mode_density, sigma1, sigma2, loc=loc,
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
    radius = _scale("radius", radius)
    return _Law(stats.semicircular, scale=radius, label=f"semicircle(radius={radius:g})")


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
        return _invert_cdf(self._cdf, self._pdf, q, a, b, ratio)

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
    ratio = _scale("ratio", ratio, _MP_RATIO_MIN, _MP_RATIO_MAX)
    sigma = _scale("sigma", sigma, _MP_SIGMA_MIN, _MP_SIGMA_MAX)
    return _Law(_marchenko_pastur, ratio, scale=sigma**2,
                label=f"marchenko_pastur(ratio={ratio:g}, sigma={sigma:g})")
