"""Spectral rigidity Δ₃(L) and the spectral form factor K(τ) of unfolded spectra.

:func:`spectral_rigidity` and :func:`spectral_form_factor` are re-exported by
:mod:`coulombgas.spectra`; their large-N targets are :func:`coulombgas.theory.delta3`
and :func:`coulombgas.theory.form_factor`.

References
----------
F. J. Dyson, M. L. Mehta, J. Math. Phys. 4, 701 (1963) (Δ₃).
O. Bohigas, M.-J. Giannoni, Ann. Phys. 89, 393 (1975) (Δ₃ of a level sequence in closed form).
F. Haake, *Quantum Signatures of Chaos*, 3rd ed., Springer (2010), §4.14 (form factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _validate
from ._checks import bulk_interval, real_spectrum, scales, window_args

__all__ = ["spectral_rigidity", "spectral_form_factor", "Rigidity", "FormFactor"]


@dataclass(frozen=True)
class Rigidity:
    """Result of :func:`spectral_rigidity`: ``L`` (k,), ``delta3`` (k,), ``error`` (k,) or None."""

    L: np.ndarray
    delta3: np.ndarray
    error: np.ndarray | None


@dataclass(frozen=True)
class FormFactor:
    """Result of :func:`spectral_form_factor`: ``tau`` (k,), ``K`` (k,), ``error`` (k,) or None, ``width``."""

    tau: np.ndarray
    K: np.ndarray
    error: np.ndarray | None
    width: float


def _bulk(x: np.ndarray, bulk) -> tuple[float, float]:
    """[lo, hi]: a central fraction of the pooled range, or a given pair inside it."""
    lo, hi = bulk_interval(x, bulk)
    # Unfolded levels have unit mean spacing: a span beyond 1e12 is not an unfolded spectrum,
    # and the phases 2πτx and the squares x² of the window sums would lose every digit.
    if not np.ptp(x) <= 1e12:
        raise ValueError(f"`x` must be unfolded (mean spacing 1): its levels span {np.ptp(x):g} > 1e12")
    return lo, hi


def _window_delta3(xs: np.ndarray, starts: np.ndarray, length: float) -> np.ndarray:
    """Δ₃ of each window [a, a + L) of the sorted levels xs, in closed form (O(1) per window).

    With N(E) the staircase counted from a, y = E − a − L/2 and the least-squares line
    A y + B over the centred interval (∫y = 0 decouples A and B):
        Δ₃ = (1/L)∫N² − B² − A²L²/12,  B = (1/L)Σ(c − x_j),  A = 6 Σ(L²/4 − y_j²)/L³,
        ∫N² = Σ_i (2i − 1)(c − x_i),    c = a + L,
    the sums running over the window's levels x_i (i = 1, 2, … in order). Prefix sums of
    1, j, x_j, j x_j, x_j² over the spectrum (centred on its middle to limit rounding)
    give every window at once.
    """
    ref = 0.5 * (xs[0] + xs[-1])
    z = xs - ref
    j = np.arange(z.size, dtype=float)
    pre = [np.concatenate([[0.0], np.cumsum(v)]) for v in (z, j * z, z * z)]
    a = starts - ref
    c = a + length
    i0 = np.searchsorted(z, a, side="left")
    i1 = np.searchsorted(z, c, side="left")
    n = (i1 - i0).astype(float)
    sx, sjx, sxx = (p[i1] - p[i0] for p in pre)
    sj = 0.5 * (i1 * (i1 - 1.0) - i0 * (i0 - 1.0))           # Σ j over [i0, i1)
    # Σ (2(j − i0) + 1)(c − x_j)
    n2 = c * (2.0 * sj + n - 2.0 * i0 * n) - (2.0 * sjx + sx - 2.0 * i0 * sx)
    b = (n * c - sx) / length
    m = a + 0.5 * length
    syy = sxx - 2.0 * m * sx + n * m * m                       # Σ (x_j − m)²
    slope = 6.0 * (n * length**2 / 4.0 - syy) / length**3
    return n2 / length - b * b - slope * slope * length**2 / 12.0


def spectral_rigidity(x, L, *, bulk=0.5, windows: int = 256) -> Rigidity:
    r"""Dyson–Mehta spectral rigidity Δ₃(L) of unfolded spectra.

    .. math::

        \Delta_3(L) = \Big\langle \min_{A,B} \frac1L \int_a^{a+L}
                      \big[N(E) - A E - B\big]^2 dE \Big\rangle_a

    with N(E) the level staircase; the minimum over the line is done in closed form
    for each window (Bohigas & Giannoni 1975). Windows as in :func:`number_variance`:
    ``windows`` starts evenly spaced over [lo, hi − L], the same for every spectrum;
    the average runs over windows and spectra. Targets: L/15 (Poisson) and
    :func:`coulombgas.theory.delta3` (GOE ≈ (ln 2πL − 0.0687)/π² at large L).

    Parameters
    ----------
    x : array_like, shape (..., n), finite, n >= 2
        **Unfolded** eigenvalues (mean spacing 1, see :func:`unfold`); any order.
    L : float or array_like, shape (k,), 0 < L <= hi − lo
        Window lengths in units of the mean spacing.
    bulk : float in (0, 1] or (lo, hi), default 0.5
        Central fraction of the pooled range, or the interval itself.
    windows : int in [1, 1e8], default 256

    Returns
    -------
    Rigidity
        ``L``, ``delta3`` and ``error`` (jackknife over spectra; None for one spectrum).

    Raises
    ------
    TypeError, ValueError
        Bad ``x``, ``L`` (longer than the bulk), ``bulk`` or ``windows``.

    References
    ----------
    F. J. Dyson, M. L. Mehta, J. Math. Phys. 4, 701 (1963); O. Bohigas, M.-J. Giannoni,
    Ann. Phys. 89, 393 (1975).

    Examples
    --------
    >>> import numpy as np
    >>> from coulombgas import spectra
    >>> r = spectra.spectral_rigidity(np.arange(200.0), [10.0])   # picket fence: 1/12
    >>> round(float(r.delta3[0]), 3)
    0.083
    """
    x, L, windows = window_args(x, L, windows, most_windows=10**8)
    lo, hi = _bulk(x, bulk)
    if np.any(L > hi - lo):
        raise ValueError(f"`L` must be <= the bulk width {hi - lo:g}, got {L.max():g}")
    _validate.fits_in_memory("`windows` x len(`L`) x spectra of `x`", 12.0 * 8.0 * x.shape[0] * L.size * windows)
    per = np.empty((x.shape[0], L.size))                  # window mean per spectrum and L
    for k, length in enumerate(L):
        starts = lo + (hi - lo - length) * np.linspace(0.0, 1.0, windows)
        for s, xs in enumerate(x):
            per[s, k] = _window_delta3(xs, starts, float(length)).mean()
    m = x.shape[0]
    value = per.mean(axis=0)
    error = None
    if m >= 2:
        loo = (per.sum(axis=0) - per) / (m - 1)
        error = np.sqrt((m - 1) / m * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))
    return Rigidity(L=L, delta3=value, error=error)


def spectral_form_factor(x, tau, *, bulk=0.5) -> FormFactor:
    r"""Spectral form factor of unfolded spectra, with a Gaussian window on the bulk.

    .. math::

        K(\tau) = \frac{\big\langle \big|\sum_j g(\varepsilon_j)\, e^{2\pi i \tau \varepsilon_j}\big|^2
                  \big\rangle}{\big\langle \sum_j g(\varepsilon_j)^2 \big\rangle},\qquad
        g(\varepsilon) = e^{-(\varepsilon - c)^2 / 2w^2},

    c the centre and w a sixth of the width of the bulk interval (so g < e^{−4.5}
    outside it): the window removes the edges and confines the smooth-density peak to
    τ ≲ 1/(πw); beyond it, K(τ) estimates the connected form factor
    (:func:`coulombgas.theory.form_factor`: τ for GUE up to 1, 1 for Poisson). The
    average runs over spectra; K of a single spectrum fluctuates by ~100 % at each τ
    (it is not self-averaging), so average over spectra or over a band of τ.

    Parameters
    ----------
    x : array_like, shape (..., n), finite, n >= 2
        **Unfolded** eigenvalues (mean spacing 1).
    tau : float or array_like, shape (k,), >= 0
        Times in units of the Heisenberg time (inverse mean spacing).
    bulk : float in (0, 1] or (lo, hi), default 0.5
        As in :func:`spectral_rigidity`.

    Returns
    -------
    FormFactor
        ``tau``, ``K``, ``error`` (standard error over spectra; None for one spectrum),
        ``width`` w.

    Raises
    ------
    TypeError, ValueError
        Bad ``x``, ``tau`` or ``bulk``.

    References
    ----------
    F. Haake, *Quantum Signatures of Chaos*, 3rd ed., Springer (2010), §4.14.

    Examples
    --------
    >>> import numpy as np
    >>> from coulombgas import spectra
    >>> x = np.cumsum(np.random.default_rng(1).exponential(size=(200, 400)), axis=-1)
    >>> ff = spectra.spectral_form_factor(x, [0.5, 1.0])      # Poisson: K = 1
    >>> bool(np.all(np.abs(ff.K - 1) < 4 * ff.error))
    True
    """
    x = real_spectrum("x", x, sort=True)
    x = x.reshape(-1, x.shape[-1])
    tau = scales("tau", tau, zero=True)
    lo, hi = _bulk(x, bulk)
    centre, width = 0.5 * (lo + hi), (hi - lo) / 6.0
    if not width > 0:
        raise ValueError("`bulk` has zero width: no window for the form factor")
    _validate.fits_in_memory("len(`tau`) x levels of `x`", 3.0 * 16.0 * tau.size * x.shape[-1])
    g = np.exp(-0.5 * ((x - centre) / width) ** 2)           # (spectra, n)
    norm = np.sum(g * g, axis=1)                               # (spectra,)
    per = np.empty((x.shape[0], tau.size))
    for s in range(x.shape[0]):
        keep = g[s] > 1e-12
        phase = np.exp(2j * math.pi * np.outer(tau, x[s, keep] - centre))
        per[s] = np.abs(phase @ g[s, keep]) ** 2
    value = per.sum(axis=0) / norm.sum()
    error = None
    m = x.shape[0]
    if m >= 2:
        loo = (per.sum(axis=0) - per) / (norm.sum() - norm)[:, None]
        error = np.sqrt((m - 1) / m * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))
    return FormFactor(tau=tau, K=value, error=error, width=width)
