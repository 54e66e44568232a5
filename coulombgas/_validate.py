"""Argument checks at the public boundary, with messages in one style.

Every message names the parameter in backticks, the allowed range and the
value received, e.g. "`dt` must be > 0, got -0.01".
"""

from __future__ import annotations

import numbers
import os

import numpy as np

__all__ = [
    "real", "positive", "nonnegative", "integer", "one_of", "finite_array",
    "spectrum", "positive_array", "flag", "memory_budget", "fits_in_memory",
]


def _is_real_scalar(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def real(name: str, value) -> float:
    """A finite real scalar."""
    if not _is_real_scalar(value):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an int such as 10**400: no float holds it
        raise ValueError(f"`{name}` must be a finite real number, got an int too large for a float") from None
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value}")
    return value


def positive(name: str, value) -> float:
    """A finite real scalar > 0."""
    value = real(name, value)
    if value <= 0:
        raise ValueError(f"`{name}` must be > 0, got {value:g}")
    return value


def nonnegative(name: str, value) -> float:
    """A finite real scalar >= 0."""
    value = real(name, value)
    if value < 0:
        raise ValueError(f"`{name}` must be >= 0, got {value:g}")
    return value


def integer(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """An int in ``[minimum, maximum]`` (bounds optional)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}")
    return value


def one_of(name: str, value, allowed):
    """``value`` must be one of ``allowed`` (compared with ==)."""
    for a in allowed:
        try:
            if value == a:
                return a
        except (TypeError, ValueError):
            continue
    shown = ", ".join(repr(a) for a in allowed)
    raise ValueError(f"`{name}` must be one of {shown}, got {value!r}")


def finite_array(name: str, value, *, ndim: int | None = None, min_size: int = 0) -> np.ndarray:
    """A float64 array with only finite entries (and optionally a fixed ``ndim``)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise ValueError(f"`{name}` must hold finite real numbers, got an int too large for a float") from None
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be an array of real numbers") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"`{name}` must have at least {min_size} elements, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must contain only finite values (found NaN or inf)")
    return arr


def positive_array(name: str, value, shape=None) -> np.ndarray:
    """A finite float64 array with every entry > 0, broadcast to ``shape`` if given."""
    arr = finite_array(name, value)
    if np.any(arr <= 0):
        raise ValueError(f"`{name}` must be > 0 everywhere, got minimum {arr.min():g}")
    if shape is not None:
        try:
            arr = np.broadcast_to(arr, shape).copy()
        except ValueError:
            raise ValueError(f"`{name}` must broadcast to shape {shape}, got shape {arr.shape}") from None
    return arr


def spectrum(name: str, value, *, min_size: int = 2, require_sorted: bool = False,
             sort: bool = False) -> np.ndarray:
    """Eigenvalues along the last axis: finite, at least ``min_size`` per spectrum.

    With ``require_sorted`` an unsorted spectrum is an error; with ``sort`` it is
    sorted along the last axis (a copy).
    """
    arr = finite_array(name, value)
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must be an array of eigenvalues, got a scalar")
    if arr.shape[-1] < min_size:
        raise ValueError(
            f"`{name}` must hold at least {min_size} eigenvalues along its last axis, "
            f"got {arr.shape[-1]}"
        )
    if sort:
        return np.sort(arr, axis=-1)
    if require_sorted and np.any(np.diff(arr, axis=-1) < 0):
        raise ValueError(f"`{name}` must be sorted in ascending order along its last axis")
    return arr


def flag(name: str, value) -> bool:
    """A true boolean (``bool`` or ``numpy.bool_``): never a string or number read by truthiness.

    ``progress="no"`` would be true by truthiness; here it is a ``TypeError``.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"`{name}` must be True or False, got {type(value).__name__} {value!r}")


def memory_budget() -> int:
    """Bytes one request may allocate: ``COULOMBGAS_MAX_MEMORY`` (bytes) if set, else 80 % of RAM.

    Requests are refused *before* any work when their estimated footprint is over
    this budget, so a typo such as ``models=10**12`` is an immediate error with the
    memory it would need, never a hang or a ``MemoryError`` deep inside.
    """
    env = os.environ.get("COULOMBGAS_MAX_MEMORY")
    if env:
        return int(float(env))
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        total = 16 * 2**30
    return int(0.8 * total)


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"  # pragma: no cover


def fits_in_memory(what: str, nbytes: float) -> None:
    """Refuse a request whose estimated footprint ``nbytes`` is over :func:`memory_budget`.

    ``what`` names the parameters that set the size, e.g. "`replicas` x `n`"; the
    message gives the estimate and the budget.
    """
    budget = memory_budget()
    if not np.isfinite(nbytes) or nbytes > budget:
        raise ValueError(
            f"{what} is too large for this machine: it would need about {_human(float(nbytes))} "
            f"of memory, and at most {_human(budget)} is available (set COULOMBGAS_MAX_MEMORY "
            f"to change the limit)"
        )
