"""The one Numba preset used by every kernel in coulombgas.

Why these choices:

* ``cache=True`` so that a kernel compiles once per machine, not once per
  process (CI budget, CLI start-up).
* A *safe* fastmath set: ``nnan`` and ``ninf`` are left out on purpose,
  because with them LLVM may fold ``np.isnan``/``np.isinf`` checks to
  ``False`` and a diverging run would leak NaN silently.
* ``error_model="numpy"``: a division by zero (two coincident eigenvalues)
  yields ``inf`` instead of raising inside the kernel; kernels detect
  non-finite values and return a status code that the Python wrapper turns
  into an error naming the step and replica.

Kernels never raise; the public function that calls them validates inputs
and interprets their status.
"""

from __future__ import annotations

import numba

#: LLVM fast-math flags that keep NaN/inf semantics intact.
SAFE_FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})


def njit(*args, parallel: bool = False, fastmath=SAFE_FASTMATH, **kwargs):
    """``numba.njit`` with the project preset (cache, safe fastmath, numpy errors).

    Use as ``@njit`` or ``@njit(parallel=True)``.
    """
    options = dict(cache=True, fastmath=set(fastmath), error_model="numpy", parallel=parallel)
    options.update(kwargs)
    if args and callable(args[0]) and len(args) == 1:
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)
