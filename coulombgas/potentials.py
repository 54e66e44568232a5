"""Confining potentials V_i(x) of the Coulomb gas, one per mode.

A potential is data, not code: a frozen dataclass whose parameters broadcast
to one row per mode, tagged with an integer ``kind`` that the cached Numba
kernels switch on. That keeps simulation kernels cacheable (compiled once per
machine), potentials picklable (for Dask) and serialisable into
``summary.json``.

Every potential is written as a polynomial-plus-logarithm

    V_i(x) = Σ_k p_{i,k} x^k  −  a_i log(x − x_min)        (Laguerre only has a_i ≠ 0)

so one kernel (:func:`dV_kernel`) evaluates every built-in kind. The drift of mode i
is K_i = −V_i'(x_i) (SCIENCE.md §2).

The escape hatch :class:`Custom` takes user ``@numba.njit`` functions; a kernel
that calls them is compiled once per Python process (Numba cannot cache code
that depends on a user's function).

References
----------
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (per-mode potentials V_i).
I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002) (Hermite and Laguerre weights).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numba
import numpy as np

from . import _validate as v
from ._jit import njit

__all__ = ["Potential", "Quadratic", "Polynomial", "Quartic", "Laguerre", "Custom", "from_dict"]

# Kind tags read by the kernels.
POLYNOMIAL = 0
LAGUERRE = 1
CUSTOM = 2


class Potential:
    """Base of all potentials: ``value(x)``, ``derivative(x)`` and kernel data.

    Subclasses provide :meth:`kernel_data`, returning ``(kind, params, lower)``:
    ``params`` has shape (n, P) (one row per mode), ``lower`` is the left edge
    of the domain (``-inf`` except for :class:`Laguerre`).
    """

    def kernel_data(self, n: int) -> tuple[int, np.ndarray, float]:  # pragma: no cover
        raise NotImplementedError

    def value(self, x, n: int | None = None) -> np.ndarray:
        """V_i(x_i) for x of shape (..., n) (NumPy, for tests, plots and densities)."""
        x = np.asarray(x, dtype=np.float64)
        kind, params, lower = self.kernel_data(x.shape[-1] if n is None else n)
        return _value_numpy(kind, params, lower, x)

    def derivative(self, x, n: int | None = None) -> np.ndarray:
        """V_i'(x_i) for x of shape (..., n)."""
        x = np.asarray(x, dtype=np.float64)
        kind, params, lower = self.kernel_data(x.shape[-1] if n is None else n)
        return _derivative_numpy(kind, params, lower, x)

    def __eq__(self, other):
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    __hash__ = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description; :func:`from_dict` inverts it."""
        fields = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"type": type(self).__name__, **fields}


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _broadcast_rows(name: str, value, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    try:
        return np.broadcast_to(arr, (n,)).astype(np.float64)
    except ValueError:
        raise ValueError(f"`{name}` must be a scalar or have shape ({n},), got shape {arr.shape}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class Polynomial(Potential):
    """V_i(x) = Σ_k coeffs[i, k] x^k, a polynomial per mode.

    Parameters
    ----------
    coeffs : array_like, shape (K+1,) or (n, K+1)
        Coefficients in increasing powers (``coeffs[..., k]`` multiplies x^k).
        Confining requires an even degree with a positive leading coefficient.
    """

    coeffs: Any

    def __post_init__(self):
        c = v.finite_array("coeffs", self.coeffs)
        if c.ndim not in (1, 2) or c.shape[-1] < 1:
            raise ValueError(f"`coeffs` must have shape (K+1,) or (n, K+1), got shape {c.shape}")
        rows = c.reshape(-1, c.shape[-1])
        # Each mode's own degree (modes may differ, e.g. one quartic, one quadratic), vectorised:
        # the last nonzero column of every row (0 for an all-zero row).
        nonzero = rows != 0
        degrees = np.where(nonzero.any(axis=1), rows.shape[1] - 1 - np.argmax(nonzero[:, ::-1], axis=1), 0)
        # Trim trailing zero columns common to every mode so the degree is true.
        c = c[..., : int(degrees.max()) + 1]
        leading = rows[np.arange(rows.shape[0]), degrees]
        bad = np.flatnonzero((degrees < 2) | (degrees % 2 == 1) | (leading <= 0))
        if bad.size:
            degree, lead = int(degrees[bad[0]]), float(leading[bad[0]])
            raise ValueError(
                "`coeffs` must describe a confining potential for every mode: even degree >= 2 "
                f"with a positive leading coefficient, got degree {degree} with leading "
                f"coefficient {lead:g}"
            )
        object.__setattr__(self, "coeffs", c)

    def kernel_data(self, n):
        c = self.coeffs
        if c.ndim == 2 and c.shape[0] != n:
            raise ValueError(f"`coeffs` has {c.shape[0]} rows but the gas has n = {n} modes")
        return POLYNOMIAL, np.ascontiguousarray(np.broadcast_to(c, (n, c.shape[-1]))), -math.inf


def Quadratic(center=0.0, width=1.0) -> Polynomial:
    """V_i(x) = (x − center_i)² / (2 width_i²): harmonic confinement per mode.

    ``width`` is the standard deviation of a single mode's Gaussian when the
    Coulomb term is switched off and the temperature is 1. Scalars or arrays
    of shape (n,).
    """
    center = v.finite_array("center", center)
    width = v.positive_array("width", width)
    center, width = np.broadcast_arrays(center, width)
    k = 1.0 / (2.0 * width**2)
    coeffs = np.stack([k * center**2, -2.0 * k * center, k], axis=-1)
    return Polynomial(coeffs)


def Quartic(t=1.0, g=1.0) -> Polynomial:
    """V(x) = t x²/2 + g x⁴/4, the quartic matrix-model potential (g > 0).

    t may be negative (a double well); ``g`` must be > 0 for confinement.
    Equilibrium density: see :func:`coulombgas.fokker_planck` (issue 4).
    """
    t = v.finite_array("t", t)
    g = v.positive_array("g", g)
    t, g = np.broadcast_arrays(t, g)
    zero = np.zeros_like(t)
    return Polynomial(np.stack([zero, zero, t / 2.0, zero, g / 4.0], axis=-1))


@dataclasses.dataclass(frozen=True, eq=False)
class Laguerre(Potential):
    """V_i(x) = x / scale − a log x on x > 0: the Wishart (β-Laguerre) weight.

    In the Dyson convention the stationary density is
    Π|x_i − x_j|^β Π x_i^{βa} e^{−βx_i/scale}; the β-Laguerre ensemble of
    Dumitriu & Edelman (2002) with parameter m ≥ n has βa = β(m − n + 1)/2 − 1 and
    β/scale = 1/2. ``a > 0`` keeps the eigenvalues off the hard edge x = 0.
    """

    a: Any = 1.0
    scale: Any = 1.0

    def __post_init__(self):
        object.__setattr__(self, "a", v.positive_array("a", self.a))
        object.__setattr__(self, "scale", v.positive_array("scale", self.scale))

    def kernel_data(self, n):
        a = _broadcast_rows("a", self.a, n)
        scale = _broadcast_rows("scale", self.scale, n)
        # Columns: [p0, p1, log coefficient]; V = p1 x − a log x.
        params = np.stack([np.zeros(n), 1.0 / scale, a], axis=-1)
        return LAGUERRE, np.ascontiguousarray(params), 0.0


@dataclasses.dataclass(frozen=True, eq=False)
class Custom(Potential):
    """A user potential from two ``@numba.njit`` functions ``value(x, i)`` and ``derivative(x, i)``.

    ``i`` is the mode index, so one pair of functions can describe per-mode
    potentials. A kernel using a custom potential is compiled once per Python
    process (about a second); built-in potentials are cached across processes.
    Confinement cannot be checked in advance: a run that escapes to infinity
    stops with an error.
    """

    value_fn: Any
    derivative_fn: Any
    lower: float = -math.inf

    def __post_init__(self):
        for name in ("value_fn", "derivative_fn"):
            fn = getattr(self, name)
            if not isinstance(fn, numba.core.registry.CPUDispatcher):
                raise TypeError(
                    f"`{name}` must be a function compiled with numba.njit taking (x: float, i: int), "
                    f"got {type(fn).__name__}"
                )
            try:
                out = fn(0.5 if self.lower < 0.5 else self.lower + 0.5, 0)
            except Exception as exc:  # noqa: BLE001 - report any failure as a type problem
                raise TypeError(f"`{name}` must be callable as {name}(x: float, i: int) -> float: {exc}") from None
            if not isinstance(out, (float, int, np.floating)):
                raise TypeError(f"`{name}` must return a float, got {type(out).__name__}")

    def kernel_data(self, n):
        return CUSTOM, np.zeros((n, 1)), float(self.lower)

    def value(self, x, n=None):
        return _apply_custom(self.value_fn, x)

    def derivative(self, x, n=None):
        return _apply_custom(self.derivative_fn, x)

    def to_dict(self):
        return {"type": "Custom", "value_fn": getattr(self.value_fn, "__name__", "?"),
                "derivative_fn": getattr(self.derivative_fn, "__name__", "?"), "lower": self.lower}


def _apply_custom(fn, x):
    """fn(x[..., i], i) for every entry, in a compiled loop (not one Python call per entry)."""
    x = np.asarray(x, dtype=np.float64)
    rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1))
    out = np.empty_like(rows)
    _custom_rows(fn, rows, out)
    return out.reshape(x.shape)


@numba.njit(cache=False)
def _custom_rows(fn, x, out):
    """out[r, i] = fn(x[r, i], i); compiled once per process for each user function."""
    for r in range(x.shape[0]):
        for i in range(x.shape[1]):
            out[r, i] = fn(x[r, i], i)


def from_dict(d: dict) -> Potential:
    """Rebuild a built-in potential from :meth:`Potential.to_dict` output."""
    kind = d.get("type")
    if kind == "Polynomial":
        return Polynomial(np.asarray(d["coeffs"], dtype=np.float64))
    if kind == "Laguerre":
        return Laguerre(a=np.asarray(d["a"]), scale=np.asarray(d["scale"]))
    raise ValueError(f"`type` must be 'Polynomial' or 'Laguerre' to rebuild a potential, got {kind!r}")


# ---------------------------------------------------------------- kernels

@njit
def dV_kernel(x, i, kind, params):
    """V_i'(x) for the built-in kinds (inputs validated by the caller)."""
    p = params[i]
    if kind == LAGUERRE:
        return p[1] - p[2] / x
    # Horner for the derivative of Σ p_k x^k.
    m = p.shape[0]
    acc = 0.0
    for k in range(m - 1, 0, -1):
        acc = acc * x + k * p[k]
    return acc


@njit
def V_kernel(x, i, kind, params):
    """V_i(x) for the built-in kinds (inputs validated by the caller; x > lower for Laguerre)."""
    p = params[i]
    if kind == LAGUERRE:
        return p[1] * x - p[2] * math.log(x)
    # Horner for Σ p_k x^k.
    acc = 0.0
    for k in range(p.shape[0] - 1, -1, -1):
        acc = acc * x + p[k]
    return acc


def _value_numpy(kind, params, lower, x):
    if kind == LAGUERRE:
        with np.errstate(divide="ignore", invalid="ignore"):
            return params[:, 1] * x - params[:, 2] * np.log(x)
    out = np.zeros_like(x)
    for k in range(params.shape[1] - 1, -1, -1):
        out = out * x + params[:, k]
    return out


def _derivative_numpy(kind, params, lower, x):
    if kind == LAGUERRE:
        return params[:, 1] - params[:, 2] / x
    out = np.zeros_like(x)
    for k in range(params.shape[1] - 1, 0, -1):
        out = out * x + k * params[:, k]
    return out
