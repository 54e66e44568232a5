"""Spectral observables: spacings, ratios, unfolding, densities, fits with error bars.

Plain functions over arrays with scipy's convention: eigenvalues lie along the
**last** axis and any leading axes (e.g. ``(replicas, records, n)``) index
independent spectra. Laws are frozen :mod:`scipy.stats` distributions (anything
with ``.cdf``, and ``.pdf`` where a density is needed), so the closed forms of
:mod:`coulombgas.theory` and scipy's own laws are used the same way.

Error bars are computed over independent *runs* (seeds, models): a run is one
array of samples, and runs are resampled whole, because samples within a run
(records of one trajectory, levels of one spectrum) are correlated.

References
----------
.. [1] G. Aarts, B. Lucini, C. Park, "Stochastic weight matrix dynamics during
   learning and Dyson Brownian motion", Phys. Rev. E 111, 015303 (2025),
   arXiv:2407.16427.
.. [2] Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, "Distribution of the ratio
   of consecutive level spacings in random matrix ensembles", Phys. Rev. Lett.
   110, 084101 (2013).
.. [3] G. Marsaglia, J. Marsaglia, "Evaluating the Anderson-Darling
   distribution", J. Stat. Softw. 9(2) (2004).
.. [4] M. L. Mehta, *Random Matrices*, 3rd ed., Elsevier (2004), ch. 16
   (number variance).
.. [5] B. Efron, R. Tibshirani, *An Introduction to the Bootstrap*, Chapman &
   Hall (1993), ch. 11 (jackknife).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.optimize
import scipy.stats

from . import _rng
from . import _validate

__all__ = [
    "spacings", "normalized_spacings", "gap_ratios", "unfold", "number_variance",
    "histogram", "goodness_of_fit", "jackknife", "fit_density", "fit_through_origin",
    "Histogram", "GoodnessOfFit", "Jackknife", "DensityFit", "LineFit", "NumberVariance",
]

_BANDWIDTH_MAX = 1e300
_BIN_RULES = ("fd", "auto", "doane", "scott", "stone", "rice", "sturges", "sqrt")


# --------------------------------------------------------------------------- helpers

def _numeric(name: str, value) -> None:
    """Refuse boolean, complex, string and object arrays before NumPy casts them to float.

    ``np.asarray([True, False], float)`` is [1., 0.]: a mask passed by mistake would
    otherwise be read as a spectrum (issue 18).
    """
    kind = np.asarray(value).dtype.kind if not isinstance(value, np.ndarray) else value.dtype.kind
    if kind in "bcSUVO" and not (kind == "O" and _all_real(value)):
        what = {"b": "booleans", "c": "complex numbers", "S": "strings", "U": "strings",
                "V": "raw bytes", "O": "objects"}[kind]
        raise TypeError(f"`{name}` must be an array of real numbers, got {what}")


def _all_real(value) -> bool:
    try:
        return all(isinstance(v, (int, float, np.integer, np.floating))
                   and not isinstance(v, (bool, np.bool_)) for v in np.asarray(value, dtype=object).ravel())
    except (TypeError, ValueError):
        return False


def _finite(name: str, value, **kwargs) -> np.ndarray:
    """:func:`_validate.finite_array` that refuses booleans (and other non-real arrays)."""
    try:
        _numeric(name, value)
    except ValueError:  # ragged nesting: finite_array gives the message
        pass
    return _validate.finite_array(name, value, **kwargs)


def _spectrum(name: str, value, **kwargs) -> np.ndarray:
    """:func:`_validate.spectrum` that refuses booleans (and other non-real arrays) and zero spectra."""
    try:
        _numeric(name, value)
    except ValueError:
        pass
    arr = _validate.spectrum(name, value, **kwargs)
    if arr.size == 0:
        raise ValueError(f"`{name}` must hold at least one spectrum, got shape {arr.shape}")
    return arr


def _law(law, *methods: str):
    """``law`` must offer the callables ``methods`` (e.g. ``cdf``, ``pdf``)."""
    if not all(callable(getattr(law, m, None)) for m in methods):
        need = " and ".join(f".{m}" for m in methods)
        raise TypeError(
            f"`law` must be a frozen scipy.stats distribution (an object with {need}), "
            f"got {type(law).__name__}"
        )
    return law


def _samples(name: str, data, min_size: int = 2) -> np.ndarray:
    """All entries of ``data`` pooled into one finite 1-D array."""
    arr = _finite(name, data).ravel()
    if arr.size < min_size:
        raise ValueError(f"`{name}` must hold at least {min_size} samples, got {arr.size}")
    return arr


def _interval(name: str, value) -> tuple[float, float]:
    """A pair (lo, hi) of finite reals with lo < hi."""
    arr = _finite(name, value)
    if arr.shape != (2,) or not arr[0] < arr[1]:
        raise ValueError(f"`{name}` must be a pair (lo, hi) with lo < hi, got {arr.tolist()!r}")
    return float(arr[0]), float(arr[1])


def _groups(groups, n: int) -> list[np.ndarray]:
    """Validate ``groups``: index sequences of length >= 2 into an axis of length n."""
    msg = ("`groups` must be a non-empty sequence of index sequences, each with at least "
           f"2 distinct indices in [0, {n - 1}]")
    try:
        out = [np.asarray(g) for g in groups]
    except TypeError:
        raise TypeError(msg) from None
    except ValueError:  # ragged nesting
        raise ValueError(msg) from None
    if not out:
        raise ValueError(msg + ", got an empty sequence")
    for g in out:
        if g.ndim != 1 or g.size < 2 or not np.issubdtype(g.dtype, np.integer):
            raise ValueError(msg + f", got {g.tolist()!r}")
        if g.min() < 0 or g.max() >= n or np.unique(g).size != g.size:
            raise ValueError(msg + f", got {g.tolist()!r}")
    return out


def _runs(runs) -> list[np.ndarray]:
    """Independent runs: axis 0 of an array with ndim >= 2, or a sequence of arrays."""
    if isinstance(runs, np.ndarray) and runs.dtype != object:
        if runs.ndim < 2:
            raise ValueError(
                "`runs` must be a 2-D array (runs, samples) or a sequence of arrays, one per "
                f"independent run, got shape {runs.shape}; for independent samples pass "
                "x[:, None]"
            )
        out = list(_finite("runs", runs))
    else:
        try:
            out = [_finite("runs", r) for r in runs]
        except TypeError:
            raise TypeError("`runs` must be a sequence of arrays, one per independent run") from None
        if any(r.ndim == 0 for r in out):
            raise ValueError(
                "`runs` must hold one array per run, got scalars; for independent samples "
                "pass x[:, None]"
            )
    if len(out) < 2:
        raise ValueError(f"`runs` must hold at least 2 independent runs, got {len(out)}")
    if any(r.size == 0 for r in out):
        raise ValueError("`runs` must not contain an empty run")
    if len({r.shape[1:] for r in out}) != 1:
        raise ValueError("`runs` must have the same trailing shape in every run (only axis 0 may differ)")
    return out


def _blocks(runs: list[np.ndarray], blocks) -> list[np.ndarray]:
    """Merge consecutive runs into ``blocks`` blocks (binned jackknife/bootstrap)."""
    if blocks is None:
        return runs
    blocks = _validate.integer("blocks", blocks, minimum=2, maximum=len(runs))
    return [np.concatenate([runs[i] for i in part], axis=0)
            for part in np.array_split(np.arange(len(runs)), blocks)]


def _pool(runs: list[np.ndarray], keep) -> np.ndarray:
    return np.concatenate([runs[i] for i in keep], axis=0)


# --------------------------------------------------------------------------- spacings

def spacings(x, *, groups=None, sort: bool = True) -> np.ndarray:
    r"""Nearest-neighbour spacings of each spectrum.

    .. math:: S_k = x_{(k+1)} - x_{(k)}

    over the ascending eigenvalues of a spectrum, or, with ``groups``, over the
    ascending eigenvalues of each group separately (e.g. the doubly degenerate
    pairs of the RBM target, SCIENCE.md section 6).

    Parameters
    ----------
    x : array_like, shape (..., n), finite, n >= 2
        Eigenvalues along the last axis; leading axes index independent spectra.
    groups : sequence of sequences of int, optional
        Index groups into the last axis of ``x`` *as given* (each with at least
        2 distinct indices in ``[0, n)``). Spacings are taken within each group
        only, and concatenated in the order of ``groups``.
    sort : bool, default True
        Sort each spectrum (or each group) first. With ``False`` the input must
        already be ascending; this is checked.

    Returns
    -------
    ndarray, shape (..., n - 1), or (..., sum(len(g) - 1 for g in groups))
        Spacings, >= 0, last axis in ascending order of the eigenvalues.

    Raises
    ------
    ValueError
        If ``x`` is empty, has fewer than 2 eigenvalues, is not finite, or is not
        ascending while ``sort=False``; if ``groups`` is malformed.

    References
    ----------
    .. [1] Aarts, Lucini, Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427.

    Examples
    --------
    >>> spacings([0.0, 3.0, 1.0])
    array([1., 2.])
    >>> spacings([0.0, 1.0, 1.5, 3.5], groups=[(0, 1), (2, 3)])
    array([1., 2.])
    """
    sort = _validate.flag("sort", sort)
    if groups is None:
        x = _spectrum("x", x, sort=sort, require_sorted=not sort)
        with np.errstate(over="ignore"):
            return _finite_spacings(np.diff(x, axis=-1))
    x = _spectrum("x", x)
    out = []
    for g in _groups(groups, x.shape[-1]):
        xg = x[..., g]
        if sort:
            xg = np.sort(xg, axis=-1)
        elif np.any(np.diff(xg, axis=-1) < 0):
            raise ValueError(
                f"`x` must be ascending within each of `groups` when sort=False; "
                f"group {g.tolist()} is not"
            )
        with np.errstate(over="ignore"):
            out.append(np.diff(xg, axis=-1))
    return _finite_spacings(np.concatenate(out, axis=-1))


def _finite_spacings(s: np.ndarray) -> np.ndarray:
    """Spacings of finite levels can still overflow (levels near ±1.8e308): refuse, never inf."""
    if not np.all(np.isfinite(s)):
        raise ValueError("`x` spans more than the largest float (~1.8e308): its spacings overflow; "
                         "rescale the eigenvalues")
    return s


def normalized_spacings(x, *, groups=None, sort: bool = True, separate: bool = False) -> np.ndarray:
    r"""Spacings in units of their ensemble mean, :math:`s = S/\langle S\rangle`.

    The papers normalise by the mean over all runs (SCIENCE.md section 4), so
    that for two levels :math:`s` follows the Wigner surmise whatever the widths.

    Parameters
    ----------
    x, groups, sort
        As in :func:`spacings`.
    separate : bool, default False
        ``False``: divide by the mean over all spacings of all spectra.
        ``True``: divide each spacing position (each index of the last axis of
        the spacings) by its own mean over the spectra, e.g. degenerate pairs
        with different widths.

    Returns
    -------
    ndarray, same shape as :func:`spacings`
        Normalised spacings with ensemble mean 1 (per position if ``separate``).

    Raises
    ------
    ValueError
        As :func:`spacings`, or if a mean spacing is zero (all levels coincide).

    References
    ----------
    .. [1] Aarts, Lucini, Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427.

    Examples
    --------
    >>> normalized_spacings([[0.0, 1.0], [0.0, 3.0]]).ravel()
    array([0.5, 1.5])
    """
    separate = _validate.flag("separate", separate)
    s = spacings(x, groups=groups, sort=sort)
    flat = s.reshape(-1, s.shape[-1])
    # Mean in units of the largest spacing: the plain sum can overflow for spacings ~1e308.
    top = flat.max(axis=0) if separate else flat.max()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = ((flat / top).mean(axis=0) if separate else (flat / top).mean()) * top
    if np.any(~(mean > 0)):
        raise ValueError("`x` has a zero mean spacing (all levels coincide): cannot normalise")
    return s / mean


def gap_ratios(x, *, sort: bool = True) -> np.ndarray:
    r"""Ratios of consecutive spacings, :math:`\tilde r_k \in [0, 1]`.

    .. math:: \tilde r_k = \frac{\min(S_k, S_{k+1})}{\max(S_k, S_{k+1})}

    Independent of the local density, so no unfolding is needed [1]_.
    Reference means: 2 ln 2 - 1 = 0.3863 (Poisson), 0.5307 (GOE), 0.5996 (GUE).

    Parameters
    ----------
    x : array_like, shape (..., n), finite, n >= 3
        Eigenvalues along the last axis.
    sort : bool, default True
        Sort each spectrum first; with ``False`` it must be ascending (checked).

    Returns
    -------
    ndarray, shape (..., n - 2)
        Gap ratios in [0, 1].

    Raises
    ------
    ValueError
        If fewer than 3 eigenvalues, non-finite or unsorted (``sort=False``)
        input, or three coinciding consecutive levels (ratio 0/0).

    References
    ----------
    .. [1] Atas, Bogomolny, Giraud, Roux, PRL 110, 084101 (2013).

    Examples
    --------
    >>> gap_ratios([0.0, 1.0, 3.0, 4.0])
    array([0.5, 0.5])
    """
    sort = _validate.flag("sort", sort)
    x = _spectrum("x", x, min_size=3, sort=sort, require_sorted=not sort)
    with np.errstate(over="ignore"):
        s = _finite_spacings(np.diff(x, axis=-1))
    lo = np.minimum(s[..., :-1], s[..., 1:])
    hi = np.maximum(s[..., :-1], s[..., 1:])
    if np.any(hi == 0):
        raise ValueError("`x` has three coinciding consecutive eigenvalues: gap ratio 0/0 is undefined")
    return lo / hi


# --------------------------------------------------------------------------- unfolding

def unfold(x, law=None, *, n: int | None = None, bandwidth: float | None = None) -> np.ndarray:
    r"""Map eigenvalues to unit mean spacing with the mean counting function.

    .. math:: \xi = \bar N(x), \qquad \bar N(x) = n\,F(x) \ \text{(known law)}

    With a ``law`` (the one-point density of the eigenvalues, normalised to 1),
    :math:`\bar N = n F` with F = ``law.cdf``. Without one, :math:`\bar N` is the
    empirical staircase pooled over all spectra (divided by the number of
    spectra) smoothed with a Gaussian kernel of width ``bandwidth``,

    .. math:: \bar N(x) = \frac{1}{M}\sum_{k} \Phi\!\left(\frac{x - x_k}{h}\right),

    which is smooth and increasing by construction (a polynomial fit of the
    staircase is not: it bends back beyond the spectral edges). Pooling
    assumes all spectra share one mean density (unfold drifting records
    separately). The kernel blurs the density on the scale h, so features of
    the mean density narrower than h (and the square-root edges) are smoothed.

    Parameters
    ----------
    x : array_like, shape (..., n), finite, n >= 2
        Eigenvalues along the last axis (any order; the map is monotone).
    law : frozen scipy.stats distribution, optional
        Known eigenvalue density, needs ``.cdf``.
    n : int, optional, >= 1
        Eigenvalues per spectrum, with ``law`` only; default ``x.shape[-1]``
        (set it when ``x`` holds a subset of each spectrum, e.g. its bulk).
    bandwidth : float, optional, > 0
        Kernel width h without ``law``; default Silverman's rule on the pooled
        eigenvalues, 0.9 min(std, IQR/1.34) P^(-1/5) for P pooled values.

    Returns
    -------
    ndarray, same shape as ``x``
        Unfolded eigenvalues, in [0, n] with a ``law``.

    Raises
    ------
    ValueError
        Bad ``x``, ``n`` or ``bandwidth``.
    TypeError
        If ``law`` has no ``.cdf``.

    References
    ----------
    .. [1] T. Guhr, A. Müller-Groeling, H. A. Weidenmüller, "Random-matrix theories in
       quantum physics: common concepts", Phys. Rep. 299, 189 (1998), section 3.
    .. [2] B. W. Silverman, *Density Estimation for Statistics and Data Analysis* (1986), eq. 3.31.

    Examples
    --------
    >>> import scipy.stats
    >>> unfold([-1.0, 0.0, 1.0], scipy.stats.uniform(-1.5, 3.0))
    array([0.5, 1.5, 2.5])
    """
    x = _spectrum("x", x)
    if law is None and n is not None:
        raise ValueError("`n` is only used with `law`; the fit counts the eigenvalues of `x`")
    if law is not None:
        _law(law, "cdf")
        n = x.shape[-1] if n is None else _validate.integer("n", n, minimum=1)
        xi = n * np.asarray(law.cdf(x), dtype=np.float64)
        if not np.all(np.isfinite(xi)):
            raise ValueError("`law`.cdf returned non-finite values on `x`")
        return xi
    pooled = x.ravel()
    spectra = pooled.size // x.shape[-1]
    if bandwidth is None:
        q75, q25 = np.percentile(pooled, [75, 25])
        spread = min(np.std(pooled), (q75 - q25) / 1.34) or np.std(pooled)
        if spread <= 0:
            raise ValueError("`x` has no spread: all eigenvalues coincide, nothing to unfold")
        bandwidth = 0.9 * spread * pooled.size ** -0.2
    h = _validate.positive("bandwidth", bandwidth)
    # The grid has at most 2**16 bins over [min - 6h, max + 6h]: h below span/2**14 would fall
    # under 4 bins (no smoothing at all), and 6h must stay a finite float.
    span = float(pooled.max() - pooled.min())
    if not span / 2**14 <= h <= _BANDWIDTH_MAX or not np.isfinite(span + 12 * h):
        raise ValueError(f"`bandwidth` must be in [{span / 2**14:g}, {_BANDWIDTH_MAX:g}] for this `x` "
                         f"(span/2**14 up to {_BANDWIDTH_MAX:g}), got {h:g}")
    # Bin the pooled values finely (bins << h), smooth, integrate: a monotone N̄ on a grid.
    lo, hi = pooled.min() - 6 * h, pooled.max() + 6 * h
    bins = int(min(2**16, max(2**10, 16 * (hi - lo) / h)))
    counts, edges = np.histogram(pooled, bins=bins, range=(lo, hi))
    width = edges[1] - edges[0]
    # Gaussian smoothing of the counts = exact kernel sum up to the binning (error O(width²/h²)).
    # The kernel is cut at 6h, and at most at the grid's length (then within e^-18 of 6h).
    half = min(int(np.ceil(6 * h / width)), (bins - 1) // 2)
    u = np.arange(-half, half + 1) * width / h
    kernel = np.exp(-0.5 * u**2)
    smooth = np.convolve(counts, kernel / kernel.sum(), mode="same")
    staircase = np.concatenate([[0.0], np.cumsum(smooth)]) / spectra
    return np.interp(x, edges, staircase)


@dataclass(frozen=True)
class NumberVariance:
    """Result of :func:`number_variance`; arrays of shape (k,) over ``L``."""

    L: np.ndarray
    variance: np.ndarray
    error: np.ndarray | None


def number_variance(x, L, *, bulk=0.5, windows: int = 256) -> NumberVariance:
    r"""Number variance :math:`\Sigma^2(L)` of unfolded spectra.

    .. math:: \Sigma^2(L) = \langle N(a, L)^2\rangle - \langle N(a, L)\rangle^2

    where N(a, L) counts levels in [a, a + L). Windows: for each L, ``windows``
    starts a evenly spaced over [lo, hi - L], the same for every spectrum;
    averages run over windows and spectra. Poisson: :math:`\Sigma^2 = L`; GOE:
    :math:`\Sigma^2 \simeq (2/\pi^2)(\ln 2\pi L + \gamma + 1 - \pi^2/8)` [1]_.

    Parameters
    ----------
    x : array_like, shape (..., n), finite, n >= 2
        **Unfolded** eigenvalues (see :func:`unfold`); any order.
    L : float or array_like, shape (k,), 0 < L <= hi - lo
        Window lengths in units of the mean spacing.
    bulk : float in (0, 1] or (lo, hi), default 0.5
        A fraction: the central part of [min, max] of the pooled levels. A pair:
        the interval [lo, hi] itself.
    windows : int >= 1, default 256
        Window starts per length and spectrum (windows overlap; this averages,
        it adds no independent information).

    Returns
    -------
    NumberVariance
        ``L`` (k,), ``variance`` (k,), and ``error`` (k,): jackknife over
        spectra, ``None`` for a single spectrum.

    Raises
    ------
    ValueError
        Bad ``x``, ``L`` (a window longer than the bulk), ``bulk`` or ``windows``.

    References
    ----------
    .. [1] Mehta, *Random Matrices*, 3rd ed. (2004), section 16.

    Examples
    --------
    >>> nv = number_variance(np.arange(100.0), [1.0])
    >>> float(nv.variance[0])  # picket fence: every unit window holds one level
    0.0
    """
    x = _spectrum("x", x, sort=True)
    x = x.reshape(-1, x.shape[-1])
    L = _finite("L", L, min_size=1)
    if L.ndim > 1:
        raise ValueError(f"`L` must be a scalar or 1-D, got shape {L.shape}")
    L = np.atleast_1d(L)
    if np.any(L <= 0):
        raise ValueError(f"`L` must be > 0, got minimum {L.min():g}")
    windows = _validate.integer("windows", windows, minimum=1)
    if np.ndim(bulk) == 0:
        fraction = _validate.positive("bulk", bulk)
        if fraction > 1:
            raise ValueError(f"`bulk` must be a fraction in (0, 1] or a pair (lo, hi), got {fraction:g}")
        centre, half = 0.5 * (x.min() + x.max()), 0.5 * fraction * (x.max() - x.min())
        lo, hi = centre - half, centre + half
    else:
        lo, hi = _interval("bulk", bulk)
        # A window outside the levels counts nothing: variance 0, silently wrong (issue 18).
        if lo < x.min() or hi > x.max():
            raise ValueError(f"`bulk` must lie within the levels' range [{x.min():g}, {x.max():g}], "
                             f"got ({lo:g}, {hi:g})")
    if not np.isfinite(hi - lo):
        raise ValueError("`x` spans more than the largest float (~1.8e308); rescale the levels")
    # counts (spectra, k, windows) as int64 and float64, starts/ends, squares.
    _validate.fits_in_memory("`windows` x len(`L`) x spectra of `x`",
                             6.0 * 8.0 * x.shape[0] * L.size * windows)
    if np.any(L > hi - lo):
        raise ValueError(f"`L` must be <= the bulk width {hi - lo:g}, got {L.max():g}")
    starts = lo + (hi - lo - L)[:, None] * np.linspace(0.0, 1.0, windows)  # (k, windows)
    counts = np.stack([np.searchsorted(xs, starts + L[:, None]) - np.searchsorted(xs, starts)
                       for xs in x]).astype(np.float64)  # (spectra, k, windows)
    s1, s2 = counts.sum(axis=2), (counts ** 2).sum(axis=2)  # (spectra, k)
    m = x.shape[0]

    def var(a, b, count):
        return b / count - (a / count) ** 2

    variance = var(s1.sum(0), s2.sum(0), m * windows)
    error = None
    if m >= 2:
        loo = var(s1.sum(0) - s1, s2.sum(0) - s2, (m - 1) * windows)  # leave one spectrum out
        error = np.sqrt((m - 1) / m * ((loo - loo.mean(0)) ** 2).sum(0))
    return NumberVariance(L=L, variance=variance, error=error)


# --------------------------------------------------------------------------- densities

@dataclass(frozen=True)
class Histogram:
    """A normalised histogram with Poisson error bars (see :func:`histogram`).

    Attributes: ``edges`` (bins + 1,), ``centers``, ``density``, ``error``,
    ``counts`` (bins,).
    """

    edges: np.ndarray
    centers: np.ndarray
    density: np.ndarray
    error: np.ndarray
    counts: np.ndarray


def histogram(data, bins="fd", range=None, weights=None) -> Histogram:
    r"""Probability density estimate with Poisson errors, comparable to ``law.pdf``.

    .. math:: \rho_b = \frac{c_b}{N\,w_b}, \qquad \delta\rho_b = \frac{\sqrt{c_b}}{N\,w_b}

    with :math:`c_b` the count in bin b, :math:`w_b` its width and N the number
    of samples. N counts *all* samples, also those outside ``range``, so the
    density matches the pdf of the whole sample (unlike ``numpy.histogram``,
    which renormalises to the range); it integrates to the fraction in range.
    With weights, :math:`c_b = \sum w`, :math:`\delta c_b = \sqrt{\sum w^2}`, N = sum
    of all weights.

    Parameters
    ----------
    data : array_like, finite, at least 2 entries
        Samples; all axes are pooled.
    bins : str, int or array_like, default "fd"
        A numpy rule (``"fd"`` Freedman-Diaconis, ``"auto"``, ``"scott"``,
        ``"sturges"``, ``"rice"``, ``"sqrt"``, ``"doane"``, ``"stone"``), a number
        of bins >= 1, or increasing edges (at least 2). Rules use the unweighted
        samples (numpy has no weighted rules).
    range : (float, float), optional
        ``(lo, hi)`` with lo < hi; default the data range.
    weights : array_like, same shape as ``data``, >= 0, optional

    Returns
    -------
    Histogram
        ``edges`` (bins + 1,), ``centers``, ``density``, ``error``, ``counts`` (bins,).

    Raises
    ------
    ValueError
        Bad ``data``, ``bins``, ``range`` or ``weights``.

    References
    ----------
    .. [1] D. Freedman, P. Diaconis, "On the histogram as a density estimator: L2
       theory", Z. Wahrscheinlichkeitstheorie verw. Gebiete 57, 453 (1981).

    Examples
    --------
    >>> h = histogram([0.1, 0.2, 0.7], bins=2, range=(0.0, 1.0))
    >>> h.density, h.counts
    (array([1.33333333, 0.66666667]), array([2., 1.]))
    """
    data = _samples("data", data)
    if weights is not None:
        weights = _finite("weights", weights).ravel()
        if weights.shape != data.shape:
            raise ValueError(f"`weights` must have one entry per sample ({data.size}), got {weights.size}")
        if np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError("`weights` must be >= 0 with a positive sum")
    if range is not None:
        range = _interval("range", range)
    with np.errstate(over="ignore"):
        span = (range[1] - range[0]) if range is not None else float(data.max() - data.min())
    if not np.isfinite(span):
        raise ValueError("`data` (or `range`) spans more than the largest float (~1.8e308); rescale it")
    if isinstance(bins, str):
        _validate.one_of("bins", bins, _BIN_RULES)
        count = _rule_bins(data, bins, range)
        rule = f" (rule {bins!r} gives {count:.3g} bins for this `data`; pass an int or edges)"
    elif np.ndim(bins) == 0:
        bins = _validate.integer("bins", bins, minimum=1)
        count, rule = float(bins), ""
    else:
        bins = _finite("bins", bins, ndim=1, min_size=2)
        if np.any(np.diff(bins) <= 0):
            raise ValueError("`bins` edges must be strictly increasing")
        count, rule = float(bins.size), ""
    # edges, counts, squares, widths, centres, density, error: seven float64 arrays of `bins`.
    _validate.fits_in_memory("`bins`" + rule, 8.0 * 8.0 * count)
    edges = np.histogram_bin_edges(data, bins, range)
    counts, _ = np.histogram(data, edges, weights=weights)
    square, _ = np.histogram(data, edges, weights=None if weights is None else weights ** 2)
    total = data.size if weights is None else weights.sum()
    width = np.diff(edges)
    return Histogram(edges=edges, centers=0.5 * (edges[1:] + edges[:-1]),
                     density=counts / (total * width), error=np.sqrt(square) / (total * width),
                     counts=counts.astype(np.float64))


def _rule_bins(data: np.ndarray, rule: str, range) -> float:
    """Bins a NumPy rule would make, without making them (only 'fd' and 'auto' are unbounded).

    NumPy's Freedman–Diaconis width is 2·IQR·n^(-1/3); one outlier far from a
    narrow bulk makes span/width enormous (1e9 → 74.5 GiB of edges, issue 18).
    'auto' takes the smaller width of 'fd' and 'sturges'. The other rules make at
    most O(√n) bins.
    """
    if range is not None:
        data = data[(data >= range[0]) & (data <= range[1])]
        first, last = range
    else:
        first, last = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
    if rule not in ("fd", "auto") or data.size == 0 or last <= first:
        return float(max(1, 4 * int(np.sqrt(data.size)) + 64))
    q75, q25 = np.percentile(data, [75, 25])
    width = 2.0 * (q75 - q25) * data.size ** (-1.0 / 3.0)
    if rule == "auto":
        sturges = (last - first) / (np.log2(data.size) + 1.0)
        width = min(width, sturges) if width > 0 else sturges
    if not width > 0:
        return 1.0
    with np.errstate(over="ignore"):
        return float(np.ceil((last - first) / width))


# --------------------------------------------------------------------------- goodness of fit

@dataclass(frozen=True)
class GoodnessOfFit:
    """Result of :func:`goodness_of_fit`: ``statistic``, ``pvalue``, ``method``, ``n``."""

    statistic: float
    pvalue: float
    method: str
    n: int


def _ad_log_log(z: float) -> float:
    """Exponent of ADinf's upper piece, ADinf(z) = exp(-exp(g(z))) for z >= 2."""
    return 1.0776 - (2.30695 - (0.43424 - (0.082433 - (0.008056 - 0.0003146 * z) * z) * z) * z) * z


def _ad_inf(z: float) -> float:
    """Asymptotic P(A^2 < z): the two-piece fit ADinf of Marsaglia & Marsaglia (2004)."""
    if z < 2.0:
        poly = 2.00012 + (0.247105 - (0.0649821 - (0.0347962 - (0.011672 - 0.00168691 * z) * z) * z) * z) * z
        return np.exp(-1.2337141 / z) / np.sqrt(z) * poly
    return np.exp(-np.exp(_ad_log_log(z)))


def _ad_inf_sf(z: float) -> float:
    """Asymptotic P(A^2 >= z), without the cancellation of 1 - ADinf in the tail."""
    return 1.0 - _ad_inf(z) if z < 2.0 else -np.expm1(-np.exp(_ad_log_log(z)))


def _ad_errfix(n: int, x: float) -> float:
    """Marsaglia's finite-n correction: P(A_n^2 < z) ~ x + errfix(n, x), x = ADinf(z)."""
    if x > 0.8:
        return (-130.2137 + (745.2337 - (1705.091 - (1950.646 - (1116.360 - 255.7844 * x) * x) * x) * x) * x) / n
    c = 0.01265 + 0.1757 / n
    if x < c:
        t = x / c
        return np.sqrt(t) * (1 - t) * (49 * t - 102) * (0.0037 / n**2 + 0.00078 / n + 0.00006) / n
    t = (x - c) / (0.8 - c)
    t = -0.00022633 + (6.54034 - (14.6538 - (14.458 - (8.259 - 1.91864 * t) * t) * t) * t) * t
    return t * (0.04213 + 0.01365 / n) / n


_AD_TAIL = 1e-3  # asymptotic p-value below which the finite-n correction is held relative


def _ad_pvalue(n: int, z: float) -> float:
    """P(A_n^2 >= z) for n i.i.d. samples of a fully specified law (checked by simulation, n >= 2).

    The published correction does not vanish at x = 1 (its rounded coefficients leave
    6e-4/n there), which would put a floor under tiny p-values; below an asymptotic
    p-value of 1e-3 it is therefore continued as a constant relative correction, which
    also matches simulated tails better (n = 4, 8).
    """
    if z <= 0:
        return 1.0
    sf = _ad_inf_sf(z)
    if sf >= _AD_TAIL:
        return float(np.clip(sf - _ad_errfix(n, 1.0 - sf), 0.0, 1.0))
    return float(sf * (1.0 - _ad_errfix(n, 1.0 - _AD_TAIL) / _AD_TAIL))


def _anderson_darling(data: np.ndarray, law) -> tuple[float, float]:
    """A^2 against a fully specified law, and its p-value."""
    x = np.sort(data)
    n = x.size
    # logcdf/logsf keep precision in the tails, where 1 - F rounds to 0.
    log_f = np.asarray(law.logcdf(x), dtype=np.float64) if hasattr(law, "logcdf") else np.log(law.cdf(x))
    log_s = np.asarray(law.logsf(x), dtype=np.float64) if hasattr(law, "logsf") else np.log1p(-law.cdf(x))
    if np.any(np.isnan(log_f)) or np.any(np.isnan(log_s)):
        raise ValueError("`law`.cdf returned NaN on `data`")
    k = np.arange(1, n + 1)
    a2 = -n - np.sum((2 * k - 1) * (log_f + log_s[::-1])) / n
    if not np.isfinite(a2):  # a sample where the law has no mass
        return np.inf, 0.0
    return float(a2), _ad_pvalue(n, a2)


def goodness_of_fit(data, law, method: str = "ks") -> GoodnessOfFit:
    r"""Test that ``data`` are i.i.d. draws from the fully specified ``law``.

    - ``"ks"``: Kolmogorov-Smirnov, :math:`D = \sup|F_n - F|` (scipy.stats.kstest);
    - ``"cvm"``: Cramér-von Mises, :math:`\omega^2 = n\int (F_n - F)^2 dF`
      (scipy.stats.cramervonmises);
    - ``"ad"``: Anderson-Darling, :math:`A^2 = -n - \frac1n\sum_{k=1}^n (2k-1)
      [\ln F(x_{(k)}) + \ln(1 - F(x_{(n+1-k)}))]`, more sensitive in the tails;
      p-value from the asymptotic law (Marsaglia & Marsaglia's ADinf, within
      ~2e-5 of the exact limit) with their finite-n correction [1]_.

    The law must not have been fitted to the same data (then the p-values are
    too large); samples must be independent (pool runs, not correlated records).

    Parameters
    ----------
    data : array_like, finite, at least 2 entries
        Samples; all axes are pooled.
    law : frozen scipy.stats distribution
        Needs ``.cdf`` (``.logcdf``/``.logsf`` are used by "ad" when present).
    method : {"ks", "cvm", "ad"}, default "ks"

    Returns
    -------
    GoodnessOfFit
        ``statistic``, ``pvalue`` in [0, 1], ``method``, ``n`` (samples). For
        ``"ad"``, a sample where the law's cdf is exactly 0 or 1 (no mass there in
        floating point) gives ``statistic = inf`` and ``pvalue = 0``: a certain rejection.

    Raises
    ------
    ValueError
        Bad ``data`` or ``method``; a cdf returning NaN.
    TypeError
        If ``law`` has no ``.cdf``.

    References
    ----------
    .. [1] Marsaglia & Marsaglia, J. Stat. Softw. 9(2) (2004).

    Examples
    --------
    >>> import scipy.stats
    >>> r = goodness_of_fit([0.1, 0.4, 0.5, 0.9], scipy.stats.uniform(), method="ad")
    >>> r.method, r.n, bool(r.pvalue > 0.5)
    ('ad', 4, True)
    """
    data = _samples("data", data)
    _law(law, "cdf")
    method = _validate.one_of("method", method, ("ks", "cvm", "ad"))
    if method == "ad":
        stat, p = _anderson_darling(data, law)
    else:
        test = scipy.stats.kstest if method == "ks" else scipy.stats.cramervonmises
        res = test(data, law.cdf)
        stat, p = float(res.statistic), float(res.pvalue)
        if np.isnan(stat) or np.isnan(p):
            raise ValueError("`law`.cdf returned NaN on `data`")
    return GoodnessOfFit(statistic=stat, pvalue=min(max(p, 0.0), 1.0), method=method, n=data.size)


# --------------------------------------------------------------------------- errors over runs

@dataclass(frozen=True)
class Jackknife:
    """Result of :func:`jackknife`.

    ``estimate`` (the statistic of all runs), ``error``, ``bias_corrected``,
    ``covariance`` (p, p) for a vector statistic with p entries (() for a
    scalar), ``replicates`` (runs, ...) the leave-one-out values.
    """

    estimate: np.ndarray
    error: np.ndarray
    bias_corrected: np.ndarray
    covariance: np.ndarray
    replicates: np.ndarray


def _jackknife_from(estimate: np.ndarray, replicates: np.ndarray) -> Jackknife:
    m = replicates.shape[0]
    dev = (replicates - replicates.mean(axis=0)).reshape(m, -1)
    # Products in units of the largest deviation (squares of 1e155 overflow); a covariance
    # that is itself beyond the float range is refused.
    scale = float(np.abs(dev).max()) or 1.0
    with np.errstate(over="ignore"):
        cov = (m - 1) / m * ((dev / scale).T @ (dev / scale)) * scale * scale
    if not np.all(np.isfinite(cov)):
        raise ValueError("`statistic`'s values spread over more than ~1e154 between runs: their variance "
                         "overflows a float; rescale the data")
    shape = estimate.shape
    return Jackknife(
        estimate=estimate,
        error=np.sqrt(np.diag(cov)).reshape(shape),
        bias_corrected=m * estimate - (m - 1) * replicates.mean(axis=0),
        covariance=cov if shape else cov.reshape(()),
        replicates=replicates,
    )


def jackknife(statistic: Callable, runs, *, blocks: int | None = None) -> Jackknife:
    r"""Delete-one jackknife over independent runs.

    With :math:`\hat\theta` the statistic of all m runs and :math:`\theta_{(k)}`
    that without run k, :math:`\bar\theta = \frac1m\sum_k\theta_{(k)}`:

    .. math::
        \sigma^2 = \frac{m-1}{m}\sum_k (\theta_{(k)} - \bar\theta)^2, \qquad
        \theta_{\rm bc} = m\hat\theta - (m-1)\bar\theta

    (covariance likewise for a vector statistic). For the mean of m runs of one
    sample each, :math:`\sigma` is exactly the standard error s/√m.

    Parameters
    ----------
    statistic : callable
        ``statistic(pooled) -> float or 1-D array``, where ``pooled`` is the
        kept runs concatenated along axis 0.
    runs : array_like, shape (runs, ...), or sequence of arrays
        Independent runs (>= 2); runs may differ in length along axis 0 only.
    blocks : int, optional, 2 <= blocks <= runs
        Merge consecutive runs into this many blocks first (cheaper with
        thousands of runs; the same estimator on the blocks).

    Returns
    -------
    Jackknife
        ``estimate``, ``error``, ``bias_corrected``, ``covariance``, ``replicates``.

    Raises
    ------
    ValueError
        Bad ``runs`` or ``blocks``; a statistic that returns non-finite values.
    TypeError
        If ``statistic`` is not callable.

    References
    ----------
    .. [1] Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 11.

    Examples
    --------
    >>> jk = jackknife(np.mean, [[1.0], [2.0], [4.0]])
    >>> float(jk.estimate), round(float(jk.error), 6)
    (2.3333333333333335, 0.881917)
    """
    if not callable(statistic):
        raise TypeError(f"`statistic` must be callable, got {type(statistic).__name__}")
    runs = _blocks(_runs(runs), blocks)
    m = len(runs)

    def evaluate(keep):
        value = np.asarray(statistic(_pool(runs, keep)), dtype=np.float64)
        if value.ndim > 1 or not np.all(np.isfinite(value)):
            raise ValueError("`statistic` must return a finite scalar or 1-D array")
        return value

    estimate = evaluate(np.arange(m))
    replicates = np.stack([evaluate(np.delete(np.arange(m), k)) for k in range(m)])
    return _jackknife_from(estimate, replicates)


@dataclass(frozen=True)
class DensityFit:
    """Result of :func:`fit_density`.

    ``params``, ``errors`` (p,); ``covariance`` (p, p); ``method`` of the
    errors; ``replicates`` (resamples, p) the refitted parameters; ``nll`` the
    mean negative log-likelihood per sample at ``params``; ``runs``, ``samples``.
    """

    params: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    method: str
    replicates: np.ndarray
    nll: float
    runs: int
    samples: int


def _maximum_likelihood(samples: np.ndarray, pdf: Callable, p0: np.ndarray, bounds):
    """Minimise the mean negative log-likelihood with Nelder-Mead.

    Nelder-Mead because densities vanish outside their support (log-likelihood
    -inf), which breaks finite-difference gradients. Parameters are scaled by
    |p0| so that one relative tolerance suits every parameter.
    """
    scale = np.where(p0 != 0, np.abs(p0), 1.0)

    def nll(q):
        with np.errstate(all="ignore"):
            f = np.asarray(pdf(samples, *(q * scale)), dtype=np.float64)
            if f.shape != samples.shape or not np.all(f > 0) or not np.all(np.isfinite(f)):
                return np.inf
            return -np.mean(np.log(f))

    q0 = p0 / scale
    scaled = None if bounds is None else [(lo / s, hi / s) for (lo, hi), s in zip(bounds, scale)]
    res = scipy.optimize.minimize(nll, q0, method="Nelder-Mead", bounds=scaled,
                                  options={"xatol": 1e-10, "fatol": 1e-14,
                                           "maxiter": 4000 * p0.size, "maxfev": 8000 * p0.size})
    if not res.success:
        raise RuntimeError(f"maximum-likelihood fit did not converge ({res.message}); "
                           "try a better `p0` or `bounds`")
    return res.x * scale, float(res.fun)


def fit_density(runs, pdf: Callable, p0, *, bounds=None, error: str = "jackknife",
                n_resamples: int = 200, blocks: int | None = None, seed=None) -> DensityFit:
    r"""Maximum-likelihood fit of a density, with errors over independent runs.

    .. math:: \hat\theta = \arg\min_\theta\; -\frac1N\sum_{i=1}^N \ln p(x_i; \theta)

    over the N samples of all runs pooled. Errors: delete-one jackknife over
    runs (:func:`jackknife`), or bootstrap over runs (runs drawn with
    replacement, ``n_resamples`` refits, sample covariance). Resampling whole
    runs keeps the errors honest when samples within a run are correlated.

    Parameters
    ----------
    runs : array_like, shape (runs, ...), or sequence of arrays
        Samples of >= 2 independent runs; each run is flattened.
    pdf : callable or scipy.stats distribution
        ``pdf(x, *params) -> array`` like ``x``, normalised in x for every
        params; for an (unfrozen) scipy.stats distribution its ``.pdf`` is
        used, params being its shapes, loc, scale.
    p0 : array_like, shape (p,)
        Starting parameters; the pdf must be positive at every sample there.
    bounds : sequence of (lo, hi), length p, optional
        Bounds for the parameters (``None`` entries for no bound on a side).
    error : {"jackknife", "bootstrap"}, default "jackknife"
    n_resamples : int in [2, 10**6], default 200
        Bootstrap resamples (``error="bootstrap"`` only).
    blocks : int, optional
        Merge runs into this many blocks first (see :func:`jackknife`).
    seed : None, int, SeedSequence or Generator
        Randomness of the bootstrap.

    Returns
    -------
    DensityFit
        ``params``, ``errors``, ``covariance``, ``method``, ``replicates``,
        ``nll``, ``runs``, ``samples``.

    Raises
    ------
    ValueError
        Bad ``runs``, ``p0``, ``bounds``, ``error`` or ``n_resamples``.
    TypeError
        If ``pdf`` is not callable or does not return an array like ``x``.
    RuntimeError
        If the optimiser does not converge.

    References
    ----------
    .. [1] Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 6, 11.

    Examples
    --------
    >>> import scipy.stats
    >>> rng = np.random.default_rng(0)
    >>> fit = fit_density(rng.normal(1.0, 2.0, (20, 100)), scipy.stats.norm.pdf, [0.0, 1.0])
    >>> bool(np.all(np.abs(fit.params - [1.0, 2.0]) < 4 * fit.errors))
    True
    """
    pdf = getattr(pdf, "pdf", pdf)  # a scipy.stats distribution: fit its shapes, loc, scale
    if not callable(pdf):
        raise TypeError(f"`pdf` must be callable as pdf(x, *params), got {type(pdf).__name__}")
    runs = [r.ravel() for r in _blocks(_runs(runs), blocks)]
    p0 = _finite("p0", p0, min_size=1)
    if p0.ndim > 1:
        raise ValueError(f"`p0` must be 1-D, got shape {p0.shape}")
    p0 = np.atleast_1d(p0)
    if bounds is not None:
        bounds = [tuple(b) for b in bounds]
        if len(bounds) != p0.size or any(len(b) != 2 for b in bounds):
            raise ValueError(f"`bounds` must be {p0.size} pairs (lo, hi), got {bounds!r}")
        try:
            bounds = [(-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))
                      for lo, hi in bounds]
        except (TypeError, ValueError):
            raise TypeError(f"`bounds` must be pairs (lo, hi) of real numbers or None, got {bounds!r}") from None
        if any(np.isnan(b).any() or b[0] > b[1] for b in np.asarray(bounds)):
            raise ValueError(f"`bounds` must be pairs (lo, hi) with lo <= hi and no NaN, got {bounds!r}")
        if any(not lo <= p <= hi for (lo, hi), p in zip(bounds, p0)):
            raise ValueError(f"`p0` must lie within `bounds`, got p0={p0.tolist()}")
    error = _validate.one_of("error", error, ("jackknife", "bootstrap"))
    if error == "bootstrap":  # checked before the fit, not after it
        n_resamples = _validate.integer("n_resamples", n_resamples, minimum=2, maximum=10**6)
    m = len(runs)
    pooled = np.concatenate(runs)
    try:
        f0 = np.asarray(pdf(pooled, *p0), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`pdf` must be callable as pdf(x, *params) with {p0.size} params and "
                        f"return densities ({exc})") from exc
    if f0.shape != pooled.shape:
        raise TypeError(f"`pdf` must return one density per sample, got shape {f0.shape}")
    if not np.all(np.isfinite(f0) & (f0 > 0)):
        raise ValueError("`p0` must give a positive, finite `pdf` at every sample")

    params, nll = _maximum_likelihood(pooled, pdf, p0, bounds)

    def refit(keep):  # start from the full estimate: replicates are close to it
        return _maximum_likelihood(_pool(runs, keep), pdf, params, bounds)[0]

    if error == "jackknife":
        replicates = np.stack([refit(np.delete(np.arange(m), k)) for k in range(m)])
        cov = _jackknife_from(params, replicates).covariance
    else:
        rng = _rng.generator(seed)
        # Resample whole runs: numpy draws the indices, the refit is ours (scipy.stats.bootstrap
        # resamples observations for confidence intervals, not clusters for a covariance).
        replicates = np.stack([refit(rng.integers(m, size=m)) for _ in range(n_resamples)])
        cov = np.atleast_2d(np.cov(replicates, rowvar=False, ddof=1))
    return DensityFit(params=params, errors=np.sqrt(np.diag(cov)), covariance=cov, method=error,
                      replicates=replicates, nll=nll, runs=m,
                      samples=sum(r.size for r in runs))


# --------------------------------------------------------------------------- straight lines

@dataclass(frozen=True)
class LineFit:
    """Result of :func:`fit_through_origin`: ``slope``, ``error``, ``chi2``, ``dof``,
    ``reduced_chi2`` (chi2/dof) and ``pvalue`` (chi-square survival at chi2)."""

    slope: float
    error: float
    chi2: float
    dof: int
    reduced_chi2: float
    pvalue: float


def fit_through_origin(x, y, yerr) -> LineFit:
    r"""Weighted least-squares fit of the line y = a x through the origin.

    .. math::
        a = \frac{\sum x y/\sigma^2}{\sum x^2/\sigma^2}, \qquad
        \sigma_a = \Big(\sum x^2/\sigma^2\Big)^{-1/2}, \qquad
        \chi^2 = \sum \frac{(y - a x)^2}{\sigma^2}

    with dof = points - 1. The form the papers test: ⟨S⟩ and σ linear in
    √(α/|B|) (SCIENCE.md section 6).

    Parameters
    ----------
    x, y : array_like, shape (k,), finite, k >= 2
        Abscissae (not all zero) and measurements.
    yerr : float or array_like, shape (k,), > 0
        Standard errors of ``y``.

    Returns
    -------
    LineFit
        ``slope``, ``error``, ``chi2``, ``dof``, ``reduced_chi2``, ``pvalue``.

    Raises
    ------
    ValueError
        Mismatched shapes, fewer than 2 points, all ``x`` zero, ``yerr`` <= 0.

    References
    ----------
    .. [1] P. R. Bevington, D. K. Robinson, *Data Reduction and Error Analysis for the
       Physical Sciences*, 3rd ed. (2003), ch. 6.

    Examples
    --------
    >>> fit = fit_through_origin([1.0, 2.0], [2.0, 4.0], [0.1, 0.1])
    >>> fit.slope, fit.chi2, fit.dof
    (2.0, 0.0, 1)
    """
    x = _finite("x", x, ndim=1, min_size=2)
    y = _finite("y", y, ndim=1)
    if y.shape != x.shape:
        raise ValueError(f"`y` must have the shape of `x` {x.shape}, got {y.shape}")
    _numeric("yerr", yerr)
    yerr = _validate.positive_array("yerr", yerr, shape=x.shape)
    if not np.any(x != 0):
        raise ValueError("`x` must not be all zero")
    # In units of the largest |x|, |y| and the smallest error, so 1/σ² (1e400 for σ = 1e-200)
    # and x·y never overflow: a = (Y/X)·Σŵx̂ŷ/Σŵx̂², σ_a = (e/X)/√Σŵx̂², with ŵ = (e/σ)² <= 1.
    X, Y, e = np.abs(x).max(), np.abs(y).max() or 1.0, yerr.min()
    xs, ys, ws = x / X, y / Y, (e / yerr) ** 2
    sxx = np.sum(ws * xs * xs)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        slope = float(np.sum(ws * xs * ys) / sxx * (Y / X))
        error = float(e / X / np.sqrt(sxx))
        chi2 = float(np.sum(((y - slope * x) / yerr) ** 2))
    if not (np.isfinite(slope) and np.isfinite(error) and error > 0 and np.isfinite(chi2)):
        raise ValueError("`x`, `y` and `yerr` span too many orders of magnitude: the slope, its error "
                         f"or chi² = Σ((y − a·x)/yerr)² is not a finite float (slope {slope:g}, chi² "
                         f"{chi2:g}, smallest `yerr` {e:g})")
    dof = x.size - 1
    return LineFit(slope=slope, error=error, chi2=chi2, dof=dof,
                   reduced_chi2=chi2 / dof, pvalue=float(scipy.stats.chi2.sf(chi2, dof)))
