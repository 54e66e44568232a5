"""Which device runs a kernel: the CUDA probe, the ``device=`` choice, the lazy ``numba.cuda`` handle.

Importing coulombgas never imports ``numba.cuda`` (a missing driver or ``numba-cuda`` package must
not break the CPU path): :func:`load` binds it on first use. With ``NUMBA_ENABLE_CUDASIM=1`` set
before Numba is imported, the kernels run in Numba's CUDA simulator (about 10⁴× slower: for tests
only), and :func:`simulator` is True.
"""

from __future__ import annotations

import functools
import types
import warnings

import numpy as np

from .. import _prng
from .. import _validate as v

__all__ = ["DEVICES", "available", "require", "simulator", "load", "threads", "quiet", "block_models",
           "device_twin"]

#: Accepted values of ``device``.
DEVICES = ("cpu", "cuda")
# Device memory given to one block of training models when the caller does not choose.
_BLOCK_BYTES_FRACTION = 0.25


def simulator() -> bool:
    """True when Numba's CUDA simulator is enabled (``NUMBA_ENABLE_CUDASIM=1`` before Numba's import)."""
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def available() -> bool:
    """True when a CUDA device can run the kernels (or the CUDA simulator is enabled).

    Never raises: a missing driver, GPU or ``numba-cuda`` package all give False.
    """
    try:
        from numba import cuda
    except Exception:  # pragma: no cover - numba-cuda missing or broken (e.g. numpy too new for it)
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(cuda.is_available())
    except Exception:  # pragma: no cover - driver present but unusable
        return False


def require(device: str = "cuda", *, fallback: bool = False, probe=None) -> bool:
    """Whether to run on the GPU for ``device``: True for a usable "cuda", False for "cpu".

    ``device="cuda"`` without a usable CUDA device raises ValueError, unless
    ``fallback=True``, which warns and returns False (run on the CPU). ``probe``
    (default :func:`available`) is the function asked whether a device exists.
    """
    device = v.one_of("device", device, DEVICES)
    if not isinstance(fallback, (bool, np.bool_)):
        raise TypeError(f"`fallback` must be a bool, got {type(fallback).__name__}")
    if device == "cpu":
        return False
    if (available if probe is None else probe)():
        return True
    if fallback:
        warnings.warn("`device` is 'cuda' but no CUDA device was found; running on the CPU (fallback=True)",
                      RuntimeWarning, stacklevel=3)
        return False
    raise ValueError("`device` is 'cuda' but no CUDA device was found (numba.cuda.is_available() is False: "
                     "no NVIDIA GPU or driver, or the extra is missing: pip install 'coulombgas[gpu]'); "
                     "use device='cpu', or pass fallback=True to run on the CPU instead")


def load():
    """``numba.cuda``, imported on first use.

    Kernel modules keep it in a module global named ``cuda`` (set from this function
    before they build a kernel): the CUDA simulator swaps in its fake module through
    the kernels' globals, so the kernels must refer to it by that global name.
    """
    from numba import cuda

    return cuda


def threads(gpu: int, sim: int = 32) -> int:
    """Threads per block: ``gpu`` on a device, ``sim`` under the simulator (one Python thread each)."""
    return sim if simulator() else gpu


class quiet:
    """Silence the simulator's NumPy overflow warnings: uint64 wrap-around is the RNG's arithmetic."""

    def __enter__(self):
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.filterwarnings("ignore", message="overflow encountered in scalar", category=RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def block_models(block_models, per_model_bytes: float, models: int) -> int:
    """Models per block on the device: the caller's choice (checked), else what fits in a quarter of its free memory."""
    if block_models is not None:
        return v.integer("block_models", block_models, minimum=1)
    budget = 64e6
    if not simulator():
        try:
            free, _ = load().current_context().get_memory_info()
            budget = _BLOCK_BYTES_FRACTION * free
        except Exception:  # pragma: no cover - memory query unsupported
            budget = 2e9
    return max(1, min(models, int(budget // max(1, per_model_bytes))))


def device_twin(kernel, **callees):
    """The CUDA device-function twin of a CPU kernel: the same source, compiled by ``cuda.jit(device=True)``.

    ``kernel`` is an ``njit`` dispatcher (or a plain function) whose body uses only what
    CUDA device code supports (scalars, arrays passed in, ``math``). The kernels it calls
    (its globals that are ``njit`` dispatchers) get their own twins, recursively, and the
    module :mod:`coulombgas._prng` is replaced by its device compilation; ``callees``
    rebind other names. One source, so the two devices cannot drift apart. Twins are
    made once per process.
    """
    py = getattr(kernel, "py_func", kernel)
    key = (py, tuple(sorted(callees.items(), key=lambda kv: kv[0])))
    if key not in _TWINS:
        from numba.core.registry import CPUDispatcher

        glb = dict(py.__globals__)
        for name in py.__code__.co_names:
            obj = glb.get(name)
            if isinstance(obj, CPUDispatcher) and obj.py_func is not py:
                glb[name] = device_twin(obj)
            elif obj is _prng:
                glb[name] = _prng_module()
        glb.update(callees)
        fn = types.FunctionType(py.__code__, glb, py.__name__, py.__defaults__, py.__closure__)
        _TWINS[key] = load().jit(device=True)(fn)
    return _TWINS[key]


_TWINS = {}


@functools.lru_cache(maxsize=None)
def _prng_module():
    """:mod:`coulombgas._prng` compiled as device functions, as a module object (kernels use ``_prng.name``)."""
    module = types.ModuleType("coulombgas._prng.device")
    for name, fn in vars(_prng.compile_with(load().jit(device=True))).items():
        setattr(module, name, fn)
    for name in ("ZIG_W", "ZIG_K", "ZIG_F", "ZIG_R", "LAYERS"):
        setattr(module, name, getattr(_prng, name))
    return module
