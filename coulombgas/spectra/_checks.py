"""Input checks that the observables and the fits of :mod:`coulombgas.spectra` share.

Private to :mod:`coulombgas.spectra`; the names are public so that its modules
can import them. Every check raises ``TypeError``/``ValueError`` naming the
parameter, and refuses boolean, complex and string arrays before NumPy would
cast them to float.
"""

from __future__ import annotations

import numpy as np

from .. import _validate

__all__ = ["refuse_non_real", "finite_real", "real_spectrum", "checked_law", "pooled_samples", "interval_pair",
           "index_groups", "independent_runs", "merged_blocks", "pooled_runs"]


def refuse_non_real(name: str, value) -> None:
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


def finite_real(name: str, value, **kwargs) -> np.ndarray:
    """:func:`_validate.finite_array` that refuses booleans (and other non-real arrays)."""
    try:
        refuse_non_real(name, value)
    except ValueError:  # ragged nesting: finite_array gives the message
        pass
    return _validate.finite_array(name, value, **kwargs)


def real_spectrum(name: str, value, **kwargs) -> np.ndarray:
    """:func:`_validate.spectrum` that refuses booleans (and other non-real arrays) and zero spectra."""
    try:
        refuse_non_real(name, value)
    except ValueError:
        pass
    arr = _validate.spectrum(name, value, **kwargs)
    if arr.size == 0:
        raise ValueError(f"`{name}` must hold at least one spectrum, got shape {arr.shape}")
    return arr


def checked_law(law, *methods: str):
    """``law`` must offer the callables ``methods`` (e.g. ``cdf``, ``pdf``)."""
    if not all(callable(getattr(law, m, None)) for m in methods):
        need = " and ".join(f".{m}" for m in methods)
        raise TypeError(
            f"`law` must be a frozen scipy.stats distribution (an object with {need}), "
            f"got {type(law).__name__}"
        )
    return law


def pooled_samples(name: str, data, min_size: int = 2) -> np.ndarray:
    """All entries of ``data`` pooled into one finite 1-D array."""
    arr = finite_real(name, data).ravel()
    if arr.size < min_size:
        raise ValueError(f"`{name}` must hold at least {min_size} samples, got {arr.size}")
    return arr


def interval_pair(name: str, value) -> tuple[float, float]:
    """A pair (lo, hi) of finite reals with lo < hi."""
    arr = finite_real(name, value)
    if arr.shape != (2,) or not arr[0] < arr[1]:
        raise ValueError(f"`{name}` must be a pair (lo, hi) with lo < hi, got {arr.tolist()!r}")
    return float(arr[0]), float(arr[1])


def bulk_interval(x: np.ndarray, bulk) -> tuple[float, float]:
    """[lo, hi] of the levels ``x`` a window statistic uses: a central fraction ``bulk`` of their
    range, or a given pair (lo, hi) inside it (a window outside the levels counts nothing:
    variance 0, silently wrong)."""
    if np.ndim(bulk) == 0:
        fraction = _validate.positive("bulk", bulk)
        if fraction > 1:
            raise ValueError(f"`bulk` must be a fraction in (0, 1] or a pair (lo, hi), got {fraction:g}")
        centre, half = 0.5 * (x.min() + x.max()), 0.5 * fraction * (x.max() - x.min())
        return centre - half, centre + half
    lo, hi = interval_pair("bulk", bulk)
    if lo < x.min() or hi > x.max():
        raise ValueError(f"`bulk` must lie within the levels' range [{x.min():g}, {x.max():g}], "
                         f"got ({lo:g}, {hi:g})")
    return lo, hi


def index_groups(groups, n: int) -> list[np.ndarray]:
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


def independent_runs(runs) -> list[np.ndarray]:
    """Independent runs: axis 0 of an array with ndim >= 2, or a sequence of arrays."""
    if isinstance(runs, np.ndarray) and runs.dtype != object:
        if runs.ndim < 2:
            raise ValueError(
                "`runs` must be a 2-D array (runs, samples) or a sequence of arrays, one per "
                f"independent run, got shape {runs.shape}; for independent samples pass "
                "x[:, None]"
            )
        out = list(finite_real("runs", runs))
    else:
        try:
            out = [finite_real("runs", r) for r in runs]
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


def merged_blocks(runs: list[np.ndarray], blocks) -> list[np.ndarray]:
    """Merge consecutive runs into ``blocks`` blocks (binned jackknife/bootstrap)."""
    if blocks is None:
        return runs
    blocks = _validate.integer("blocks", blocks, minimum=2, maximum=len(runs))
    return [np.concatenate([runs[i] for i in part], axis=0)
            for part in np.array_split(np.arange(len(runs)), blocks)]


def pooled_runs(runs: list[np.ndarray], keep) -> np.ndarray:
    return np.concatenate([runs[i] for i in keep], axis=0)


def scales(name: str, value, *, zero: bool = False) -> np.ndarray:
    """``value`` (a scalar or 1-D, at least one) as a 1-D array of finite reals > 0 (≥ 0 with ``zero``):
    the window lengths or times a spectral statistic is evaluated at."""
    v = finite_real(name, value, min_size=1)
    if v.ndim > 1:
        raise ValueError(f"`{name}` must be a scalar or 1-D, got shape {v.shape}")
    v = np.atleast_1d(v)
    if np.any(v < 0 if zero else v <= 0):
        raise ValueError(f"`{name}` must be {'>= 0' if zero else '> 0'}, got minimum {v.min():g}")
    return v


def window_args(x, L, windows, most_windows: int | None = None):
    """Checked arguments of a window statistic: levels ``x`` as (spectra, n) sorted, window
    lengths ``L`` as a 1-D positive array, and the number of ``windows`` (an int ≥ 1)."""
    x = real_spectrum("x", x, sort=True)
    x = x.reshape(-1, x.shape[-1])
    return x, scales("L", L), _validate.integer("windows", windows, minimum=1, maximum=most_windows)
