"""Two-level statistics of the bulk: cluster function, spectral rigidity Δ₃, form factor.

:func:`cluster_function`, :func:`delta3` and :func:`form_factor` are re-exported by
:mod:`coulombgas.theory`, for unfolded levels (mean spacing 1) in the large-N bulk of
the Gaussian ensembles (β = 1, 2, 4) and for uncorrelated (Poisson) levels (β = 0).

References
----------
M. L. Mehta, *Random Matrices*, 3rd ed., Elsevier (2004), §§6.5, 7.2, 8.2 (Y₂),
§16 (Δ₃ from Y₂ and its asymptotics), appendix A.17 (b(τ)).
F. Haake, *Quantum Signatures of Chaos*, 3rd ed., Springer (2010), §4.14 (form factors).
O. Bohigas, M.-J. Giannoni, Ann. Phys. 89, 393 (1975) (Δ₃ of a level sequence).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .. import _validate

__all__ = ["cluster_function", "delta3", "form_factor", "delta3_asymptotic"]

_EULER = 0.5772156649015329
_BETAS = (0, 1, 2, 4)


def _beta(beta) -> int:
    if isinstance(beta, str):
        _validate.one_of("beta", beta, ("poisson",))
        return 0
    return int(_validate.one_of("beta", _validate.real("beta", beta), _BETAS))


def _sine(x):
    """s(x) = sin(πx)/(πx) and its derivative."""
    s = np.sinc(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        ds = np.where(x == 0, 0.0, (np.cos(np.pi * x) - s) / np.where(x == 0, 1.0, x))
    return s, ds


def cluster_function(r, beta):
    r"""Two-level cluster function Y₂(r) of the unfolded bulk (R₂(r) = 1 − Y₂(r)).

    With s(r) = sin(πr)/(πr) (Mehta 2004, eqs. 6.5.x, 7.2.x, 8.2.x):

    - β = 2: Y₂ = s(r)²;
    - β = 1: Y₂ = s(r)² + s'(r) ∫_r^∞ s(t) dt, with ∫_r^∞ s = ½ − Si(πr)/π;
    - β = 4: Y₂ = s(2r)² − [d s(2r)/dr] ∫_0^r s(2t) dt, with ∫_0^r s(2t) dt = Si(2πr)/(2π);
    - β = 0 (Poisson): Y₂ = 0.

    Y₂(0) = 1 for β > 0 (no two levels coincide); 1 − Y₂ ≈ (π²/6)r, (π²/3)r²,
    (16π⁴/135)r⁴ at small r (tested), and K(τ) = 1 − ∫ Y₂(r) e^{2πiτr} dr is
    :func:`form_factor` (tested by quadrature).

    Parameters
    ----------
    r : array_like
        Distance in units of the mean spacing (even in r).
    beta : {0, 1, 2, 4, "poisson"}

    Returns
    -------
    ndarray
    """
    beta = _beta(beta)
    r = np.abs(np.asarray(r, dtype=float))
    if beta == 0:
        return np.zeros_like(r)
    if beta == 2:
        return np.sinc(r) ** 2
    if beta == 1:
        s, ds = _sine(r)
        tail = 0.5 - special.sici(np.pi * r)[0] / np.pi          # ∫_r^∞ s(t) dt
        return s * s + ds * tail
    s, ds = _sine(2.0 * r)
    head = special.sici(2.0 * np.pi * r)[0] / (2.0 * np.pi)      # ∫_0^r s(2t) dt
    return s * s - 2.0 * ds * head


def delta3(L, beta):
    r"""Spectral rigidity Δ₃(L) of the infinite unfolded bulk, from the cluster function.

    .. math::

        \Delta_3(L) = \frac{L}{15} - \frac{1}{15 L^4}\int_0^L (L - r)^3
                      (2L^2 - 9Lr - 3r^2)\, Y_2(r)\, dr

    (Mehta 2004, eq. 16.1.x; Dyson & Mehta 1963). Poisson: L/15 exactly. The integral
    is done by 200-point Gauss–Legendre quadrature on each unit interval of r (Y₂ is
    entire; rounding-level accuracy, tested against the asymptotics of
    :func:`delta3_asymptotic` and against Poisson).

    Parameters
    ----------
    L : float or array_like, in [1e-3, 1e4]
        Interval length(s) in units of the mean spacing.
    beta : {0, 1, 2, 4, "poisson"}

    Returns
    -------
    ndarray, shape of L

    Raises
    ------
    TypeError, ValueError
        If `beta` is not one of the allowed values or L is not in [1e-3, 1e4].

    Examples
    --------
    >>> from coulombgas import theory
    >>> float(theory.delta3(15.0, "poisson"))
    1.0
    """
    beta = _beta(beta)
    if isinstance(L, (str, bytes, bool, np.bool_)) or L is None:
        raise TypeError(f"`L` must be a real number or an array of them, got {type(L).__name__}")
    try:
        L = np.asarray(L, dtype=float)
    except (OverflowError, ValueError, TypeError):
        raise ValueError("`L` must be a real number or a (rectangular) array of finite reals") from None
    # Below 1e-3 the two terms cancel to more than half the digits (Δ₃ → L/15 there anyway).
    if not np.all(np.isfinite(L)) or np.any(L < 1e-3) or np.any(L > 1e4):
        raise ValueError("`L` must be finite and in [1e-3, 1e4]")
    out = L / 15.0
    if beta == 0:
        return out
    u, w = np.polynomial.legendre.leggauss(24)
    result = np.empty(L.shape)
    for idx, length in np.ndenumerate(L):
        pieces = max(int(math.ceil(length)), 1)
        edges = np.linspace(0.0, length, pieces + 1)
        r = (0.5 * (edges[:-1, None] + edges[1:, None]) + 0.5 * np.diff(edges)[:, None] * u).ravel()
        wr = (0.5 * np.diff(edges)[:, None] * w).ravel()
        f = (length - r) ** 3 * (2 * length**2 - 9 * length * r - 3 * r * r) * cluster_function(r, beta)
        result[idx] = length / 15.0 - np.sum(wr * f) / (15.0 * length**4)
    return result


def delta3_asymptotic(L, beta):
    r"""Large-L asymptotics of Δ₃ (Dyson & Mehta 1963; Mehta 2004 §16):

    β = 1: (ln 2πL + γ − 5/4 − π²/8)/π²;  β = 2: (ln 2πL + γ − 5/4)/(2π²);
    β = 4: (ln 4πL + γ − 5/4 + π²/8)/(4π²);  Poisson: L/15. Corrections are O(1/L).
    """
    beta = _beta(beta)
    L = np.asarray(L, dtype=float)
    if beta == 0:
        return L / 15.0
    if beta == 1:
        return (np.log(2 * np.pi * L) + _EULER - 1.25 - np.pi**2 / 8) / np.pi**2
    if beta == 2:
        return (np.log(2 * np.pi * L) + _EULER - 1.25) / (2 * np.pi**2)
    return (np.log(4 * np.pi * L) + _EULER - 1.25 + np.pi**2 / 8) / (4 * np.pi**2)


def form_factor(tau, beta):
    r"""Spectral form factor K(τ) = 1 − b(τ), b the Fourier transform of Y₂ (τ in Heisenberg times).

    .. math::

        K_{\rm GUE} = \min(|\tau|, 1),\qquad
        K_{\rm GOE} = \begin{cases} 2|\tau| - |\tau|\ln(1 + 2|\tau|) & |\tau| \le 1\\
                      2 - |\tau| \ln\frac{2|\tau| + 1}{2|\tau| - 1} & |\tau| > 1\end{cases},

        K_{\rm GSE} = \begin{cases} \tfrac{|\tau|}{2} - \tfrac{|\tau|}{4}\ln\bigl|1 - |\tau|\bigr| & |\tau| \le 2\\
                      1 & |\tau| > 2\end{cases},\qquad K_{\rm Poisson} = 1

    (Mehta 2004, A.17; Haake 2010, §4.14), the connected form factor of unfolded
    levels for N → ∞ (the δ-peak at τ = 0 left out). At τ = 1 (GSE) the logarithmic
    singularity is integrable; the value there is returned as +inf.

    Parameters
    ----------
    tau : array_like
    beta : {0, 1, 2, 4, "poisson"}

    Returns
    -------
    ndarray
    """
    beta = _beta(beta)
    t = np.abs(np.asarray(tau, dtype=float))
    if beta == 0:
        return np.ones_like(t)
    if beta == 2:
        return np.minimum(t, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if beta == 1:
            inner = 2 * t - t * np.log1p(2 * t)
            outer = 2 - t * np.log((2 * t + 1) / (2 * t - 1))
            return np.where(t <= 1, inner, outer)
        inner = t / 2 - t / 4 * np.log(np.abs(1 - t))
        return np.where(t <= 2, inner, 1.0)
