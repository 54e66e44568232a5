"""The verdicts and number formats every report row uses (:mod:`coulombgas.report`).

A check *agrees* when its p-value is at least the level (0.01 by default) or its
|z| ≤ 3, and *differs* otherwise.
"""

from __future__ import annotations

import math
import sys

import numpy as np

__all__ = ["fmt", "pm", "verdict_p", "verdict_z", "zscore", "progress_bar", "sem"]


def fmt(x) -> str:
    """A number as the report prints it (4 significant digits; arrays as lists; None as empty)."""
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if np.ndim(x) > 0:
        return "[" + ", ".join(fmt(float(y)) for y in np.ravel(x)) + "]"
    x = float(x)
    return f"{x:.4g}"


def pm(x, e) -> str:
    """``x ± e`` as the report prints it."""
    if x is None:
        return ""
    if e is None or np.ndim(x) > 0:
        return fmt(x)
    return f"{float(x):.4g} ± {float(e):.2g}"


def verdict_p(p, level):
    """*agrees* when the p-value is at least ``level``."""
    return "agrees" if p >= level else "differs"


def verdict_z(z):
    """*agrees* when |z| ≤ 3."""
    return "agrees" if abs(z) <= 3.0 else "differs"


def progress_bar(progress, total, desc):
    """A tqdm bar on stderr, or a stand-in that does nothing when ``progress`` is off."""
    if not progress:
        class _Off:
            def update(self, n=1):
                pass

            def close(self):
                pass

        return _Off()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="setting", file=sys.stderr)


def zscore(a, ea, b, eb):
    """(a − b)/√(ea² + eb²)."""
    return float((a - b) / math.hypot(ea, eb))


def sem(x) -> float:
    """Standard error of the mean of ``x`` (ddof 1)."""
    return float(np.std(x, ddof=1) / math.sqrt(len(x)))
