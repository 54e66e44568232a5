"""Durable long runs: checksums of what they store, and Ctrl-C answered at once with nothing lost.

:func:`checksum` is the per-record hash :mod:`coulombgas.store` keeps beside
every record and checks on load and resume; :func:`write_json` replaces a JSON
file atomically (with :func:`dumps`, the canonical form runs compare).

Numba kernels cannot be interrupted: Python's SIGINT handler runs only when a
kernel returns. So the loops of :func:`coulombgas.simulate` and of the
training driver size each kernel call by wall time (:class:`Pacer`, ~0.2 s a
call at any problem size), hold Ctrl-C until the chunk under way is committed
to its store (:class:`Interrupts`), then raise :class:`RunInterrupted`, which
the CLI turns into exit status 130 and a line saying how many records were
kept and how to resume.

Layer 0 of the package: NumPy and the standard library.
"""

from __future__ import annotations

import json
import os

import numpy as np

__all__ = ["checksum", "block_checksums", "index_shape", "damage_message", "RunInterrupted", "Pacer", "Interrupts",
           "json_default", "dumps", "write_json", "read_json"]

_WEIGHT_SEED = 0x636F756C  # fixed forever: the checksums of every file depend on it
_weights_cache = np.zeros(0, dtype=np.uint64)


def _weights(size: int) -> np.ndarray:
    """The first ``size`` odd 64-bit weights of the checksum (one fixed stream, extended on demand)."""
    global _weights_cache
    if _weights_cache.size < size:
        gen = np.random.Generator(np.random.PCG64(_WEIGHT_SEED))
        _weights_cache = gen.integers(0, 2**64, size=max(size, 2 * _weights_cache.size), dtype=np.uint64,
                                      endpoint=False) | np.uint64(1)
    return _weights_cache[:size]


def checksum(values, key_ndim: int = 0) -> np.ndarray:
    """Checksum of each entry of the leading ``key_ndim`` axes of ``values`` (uint64).

    The bytes behind one entry, read as 64-bit words u_1 … u_m (zero-padded),
    give h = Σ_j w_j u_j mod 2^64 with fixed odd weights w_j (a multilinear hash,
    Carter & Wegman 1979). Any change of a single word changes h (an odd w_j is
    invertible mod 2^64), and a random change goes unseen with probability
    2^-64. Unlike HDF5's Fletcher-32 filter it needs no filtered chunks, so a
    write never moves a chunk or touches HDF5's metadata (see the module
    docstring); NaN fill (an unwritten record) never hashes to the stored 0.
    """
    a = np.ascontiguousarray(values)
    key = a.shape[:key_ndim]
    b = a.reshape(key + (-1,)).view(np.uint8) if a.size else np.zeros(key + (0,), dtype=np.uint8)
    pad = -b.shape[-1] % 8
    if pad:
        b = np.concatenate([b, np.zeros(key + (pad,), dtype=np.uint8)], axis=-1)
    u = np.ascontiguousarray(b).view(np.uint64)
    return (u * _weights(u.shape[-1])).sum(axis=-1, dtype=np.uint64)


def block_checksums(values, key_ndim, block=0) -> np.ndarray:
    """:func:`checksum` of each entry of the leading ``key_ndim`` axes; with ``block`` (key (row, record)),
    one per ``block`` rows and record, over those rows' bytes in row order (the last block may be shorter)."""
    if not block or block == 1:
        return checksum(values, key_ndim)
    n = values.shape[0]
    whole = n - n % block
    out = [checksum(np.moveaxis(values[:whole].reshape((whole // block, block) + values.shape[1:]), 1, 2), 2)]
    if whole < n:
        out.append(checksum(np.moveaxis(values[whole:], 1, 0), 1)[None])
    return np.concatenate(out) if len(out) > 1 else out[0]



def index_shape(index, shape) -> tuple:
    """The shape ``array[index]`` has for an array of ``shape`` (ints and slices; no array built)."""
    index = index if isinstance(index, tuple) else (index,)
    out = []
    for i, size in enumerate(shape):
        item = index[i] if i < len(index) else slice(None)
        if isinstance(item, slice):
            out.append(len(range(*item.indices(size))))
        elif not isinstance(item, (int, np.integer)):
            raise TypeError(f"store indices are ints and slices, got {type(item).__name__}")
    return tuple(out)


def damage_message(path, name, bad, key_ndim, rows, block, size, resume=False) -> str:
    """The message for a checksum mismatch: the file, the dataset and its first bad record."""
    first = bad[np.lexsort((bad[:, 0], bad[:, -1]))][0] if key_ndim else ()
    if key_ndim == 2:
        good = int(first[1])
        lo, hi = int(first[0]) * block, min(size, (int(first[0]) + 1) * block)
        whose = "" if (lo, hi) == (0, size) else f" of {rows or 'row'} {lo}" if hi == lo + 1 else \
            f" of {rows or 'row'}s {lo}..{hi - 1}"
        where = f"record {good}{whose}"
    elif key_ndim == 1:
        where, good = f"record {int(first[0])}", int(first[0])
    else:
        where, good = "its only entry", 0
    then = ("it cannot be continued bit for bit: start again with a new path (or overwrite=True / --force)"
            if resume else "the records before it are intact: read them with "
            f"coulombgas.store.read_store({path!r}, prefix=True)")
    return (f"{path} is damaged: {where} of '{name}' does not match its checksum ({good} good records "
            f"before it); {then}")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C answered after the current chunk was committed: ``path`` holds ``records`` records."""

    def __init__(self, path, records: int, what: str = "records"):
        super().__init__(f"interrupted: {records} {what} kept in {path}")
        self.path, self.records, self.what = path, records, what


class Pacer:
    """Work per uninterruptible call sized by wall time: each call should take about ``target`` seconds.

    Numba kernels cannot be interrupted, so Ctrl-C is answered between calls;
    calls of ~0.2 s answer it within a second at any problem size. The size
    starts at ``start`` units and follows the measured rate (at most x4 per
    call, so a slow first call, e.g. compiling, is not taken as the rate).
    ``fixed=True`` keeps ``start`` (the caller chose the chunk).
    """

    def __init__(self, start: int = 1, target: float = 0.2, fixed: bool = False):
        self.size, self.target, self.fixed = max(1, int(start)), target, fixed

    def took(self, units: int, seconds: float) -> None:
        if self.fixed or 4 * units < self.size:  # a short remainder says little about the rate
            return
        want = 4 * self.size if seconds <= 0 else int(units * self.target / seconds)
        self.size = max(1, min(4 * self.size, want))


class Interrupts:
    """Ctrl-C (SIGINT) held until the caller's next commit: ``with Interrupts() as stop: ... stop.pending``.

    The first SIGINT only sets ``pending`` (the loop commits its chunk, then
    raises :class:`RunInterrupted`); a second one raises KeyboardInterrupt at
    once, and so does the first while ``now`` is set (a callable making the
    exception: there is nothing to commit, e.g. while kernels compile).
    Outside the main thread, or with ``active=False``, nothing changes.
    """

    def __init__(self, active: bool = True):
        self.active, self.pending, self._old, self.now = active, False, None, None

    def _handler(self, signum, frame):
        if self.now is not None:
            raise self.now()
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def __enter__(self):
        import signal
        import threading

        if self.active and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        import signal

        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def json_default(obj):
    """``json.dump``'s ``default`` for NumPy arrays and scalars (lists and Python numbers)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def dumps(obj) -> str:
    """Canonical JSON (sorted keys, NumPy values allowed): equal metadata gives equal strings."""
    return json.dumps(obj, default=json_default, sort_keys=True)


def write_json(path, data) -> None:
    """Write ``data`` as indented JSON (NumPy arrays and scalars allowed), atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, default=json_default, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, path)


def read_json(path):
    """The JSON document in ``path``."""
    with open(path) as fh:
        return json.load(fh)
