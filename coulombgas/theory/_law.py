"""The frozen-law machinery every law of :mod:`coulombgas.theory` shares.

A law is a frozen ``scipy.stats`` distribution whose ``repr`` names it
(:class:`Law`); its parameters are checked here (:func:`checked_scale`,
:func:`dyson_index`), and laws without a closed-form inverse cdf use
:func:`invert_cdf`. Private to :mod:`coulombgas.theory`; the names are public
so that its modules can import them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .. import _validate

__all__ = ["Law", "SCALE_MIN", "SCALE_MAX", "checked_scale", "dyson_index", "invert_cdf", "per_beta"]

# scipy's frozen class, reached through a public object rather than the private
# scipy.stats._distn_infrastructure module.
_Frozen = type(stats.uniform())


# Widths and radii are accepted in [1e-150, 1e150]: there the variance (∝ scale²) and the
# density's peak (∝ 1/scale) are normal floats, so no law underflows to a zero-variance
# point mass or overflows to an infinite variance (issue 18).
SCALE_MIN, SCALE_MAX = 1e-150, 1e150


def checked_scale(name: str, value, lo: float = SCALE_MIN, hi: float = SCALE_MAX) -> float:
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


class Law(_Frozen):
    """A frozen scipy distribution whose repr names the law and its parameters."""

    def __init__(self, dist, *args, label: str, **kwds):
        super().__init__(dist, *args, **kwds)
        self._label = label

    def __repr__(self) -> str:
        return self._label

    def rvs(self, size=None, random_state=None):
        """Random variates; ``size`` and ``random_state`` checked (and the memory) before any draw."""
        return super().rvs(size=_size(size), random_state=_random_state(random_state))


def dyson_index(value, allowed) -> int:
    """Validate a Dyson index: a real number equal to one of ``allowed``."""
    return int(_validate.one_of("beta", _validate.real("beta", value), allowed))


def invert_cdf(cdf, pdf, q, lo, hi, *args):
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

def per_beta(func, x, beta):
    """Evaluate ``func(x_subset, beta_value)`` for each distinct β in a broadcast call."""
    x, beta = np.broadcast_arrays(np.asarray(x, dtype=float), beta)
    out = np.empty(x.shape)
    for b in np.unique(beta):
        mask = beta == b
        out[mask] = func(x[mask], int(b))
    return out
