"""The one Numba preset used by every kernel in coulombgas.

Why these choices:

* ``cache=True`` so that a kernel compiles once per machine, not once per
  process (CI budget, CLI start-up).
* No value-changing fast-math flags at all (``SAFE_FASTMATH`` is empty), for
  bit-identical results with a cold or a warm cache. A compiled callee exists
  in several copies: its own library and a ``linkonce_odr`` copy linked into
  every caller and re-optimised there. Which copy runs depends on what the
  process loaded first (a cold process compiles, and so loads, the callee
  first; a warm one loads only the caller from the cache). With ``reassoc``,
  ``contract``, ``arcp`` or ``afn`` LLVM may rewrite each copy differently
  (reduction order, FMA, x*(1/y) for x/y), so the same seed gave runs that
  differed by ~1e-15 per step, which a Markov chain amplifies into a different
  chain. Measured (``_pair_row`` under arcp): a warm process that first loads
  the callee's own library reproduces the cold bits, one that does not,
  does not. Without flags every copy computes the IEEE result. ``nnan`` and
  ``ninf`` would also fold ``np.isnan`` checks to ``False``. Reductions that
  must vectorise are written with explicit independent partial sums
  (``forces._pair_row``), a fixed order that needs no ``reassoc``.
* ``error_model="numpy"``: a division by zero (two coincident eigenvalues)
  yields ``inf`` instead of raising inside the kernel; kernels detect
  non-finite values and return a status code that the Python wrapper turns
  into an error naming the step and replica.

Kernels never raise; the public function that calls them validates inputs
and interprets their status.
"""

from __future__ import annotations

import numba

#: LLVM fast-math flags of the preset: none (module docstring). Kept as a name so that a kernel
#: that needs a different set says so relative to it.
SAFE_FASTMATH = frozenset()


def njit(*args, parallel: bool = False, fastmath=SAFE_FASTMATH, **kwargs):
    """``numba.njit`` with the project preset (cache, no fast-math, numpy errors).

    Use as ``@njit`` or ``@njit(parallel=True)``.
    """
    options = dict(cache=True, fastmath=set(fastmath) or False, error_model="numpy", parallel=parallel)
    options.update(kwargs)
    if args and callable(args[0]) and len(args) == 1:
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)
