"""The checks of :mod:`coulombgas._validate`, with an int too large for a float refused cleanly.

``float(10**400)`` raises ``OverflowError``; at the public boundary that must be a
``ValueError`` naming the parameter (issue 18). Used by theory, spectra and
training; every other name is :mod:`_validate`'s own.
"""

from __future__ import annotations

import functools

from ._validate import *  # noqa: F401,F403 - the same checks under the same names
from . import _validate as _v


def _overflow_safe(check):
    @functools.wraps(check)
    def wrapped(name, value, *args, **kwargs):
        try:
            return check(name, value, *args, **kwargs)
        except OverflowError:
            raise ValueError(f"`{name}` must be a finite real number (or an array of them), "
                             f"got a value too large for a float") from None
    return wrapped


real = _overflow_safe(_v.real)
positive = _overflow_safe(_v.positive)
nonnegative = _overflow_safe(_v.nonnegative)
finite_array = _overflow_safe(_v.finite_array)
positive_array = _overflow_safe(_v.positive_array)
spectrum = _overflow_safe(_v.spectrum)
integer = _v.integer
one_of = _v.one_of
flag = _v.flag
fits_in_memory = _v.fits_in_memory
memory_budget = _v.memory_budget
