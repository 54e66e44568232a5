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

import functools
import glob
import hashlib
import os
import types

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



def rebind(dispatcher, **names):
    """A copy of a jitted function whose globals ``names`` are replaced (compiled per process).

    Used for user potentials: the same kernel source, with e.g. ``_dV`` bound to
    the user's derivative, because Numba cannot cache code that takes a user's
    function as an argument. The copy keeps the original's parallel and
    fast-math options and is not cached (its globals are not the module's).
    """
    py = dispatcher.py_func
    glb = dict(py.__globals__)
    glb.update(names)
    fn = types.FunctionType(py.__code__, glb, py.__name__, py.__defaults__, py.__closure__)
    return numba.njit(fastmath=dispatcher.targetoptions.get("fastmath", False),
                      error_model="numpy", parallel=dispatcher.targetoptions.get("parallel", False))(fn)

# ------------------------------------------------------------ cache invalidation
# Numba validates a cached kernel against its *own* source file only, but a kernel
# compiled here inlines callees from other modules (dynamics calls _implicit, forces,
# potentials). After an upgrade or an edit of a callee's module, a stale kernel would
# load and compute with the old code. Kernels of this package are therefore stamped
# with a digest of every source file of the package: any change recompiles them all.

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=4)
def _digest(key):
    h = hashlib.sha256()
    for path, _, _ in key:
        h.update(path.encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def package_digest() -> str:
    """SHA-256 of the package's sources (re-read only when a file's mtime or size changes)."""
    files = sorted(glob.glob(os.path.join(_PACKAGE, "**", "*.py"), recursive=True))
    key = []
    for path in files:
        st = os.stat(path)
        key.append((os.path.relpath(path, _PACKAGE), st.st_mtime_ns, st.st_size))
    return _digest(tuple((os.path.join(_PACKAGE, p), m, s) for p, m, s in key))


def _install_package_locators():
    try:
        from numba.core import caching
        bases = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator)
        impl = caching.CacheImpl
    except (ImportError, AttributeError):  # pragma: no cover - a Numba without these hooks
        return
    if any(getattr(k, "_coulombgas", False) for k in impl._locator_classes):
        return

    class _PackageStamp:
        _coulombgas = True

        def get_source_stamp(self):
            return package_digest()

        @classmethod
        def from_function(cls, py_func, py_file):
            if not os.path.abspath(py_file).startswith(_PACKAGE + os.sep):
                return None
            return super().from_function(py_func, py_file)

    locators = [type(f"Package{b.__name__}", (_PackageStamp, b), {}) for b in bases]
    impl._locator_classes[:0] = locators


_install_package_locators()
