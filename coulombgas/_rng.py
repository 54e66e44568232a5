"""Seeds to random streams, the same way everywhere.

Every public function that draws takes ``seed``: ``None``, an ``int``, a
:class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`.
Replicas (independent runs) get one child stream each, spawned from a single
:class:`~numpy.random.SeedSequence`, so results do not depend on how work is
split over threads.
"""

from __future__ import annotations

import json
import numbers

import numpy as np

__all__ = ["seed_sequence", "generator", "streams", "seed_record", "from_record", "pack_pcg64", "unpack_pcg64"]


def seed_sequence(seed) -> np.random.SeedSequence:
    """Turn any accepted ``seed`` into a :class:`numpy.random.SeedSequence`."""
    if isinstance(seed, np.random.SeedSequence):
        # A fresh copy: spawning from the caller's object would advance its
        # child counter, and the same SeedSequence would give new streams.
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    if isinstance(seed, np.random.Generator):
        # A Generator's own SeedSequence is reachable through its bit generator;
        # spawn from it so the caller's generator state is left untouched.
        return seed.bit_generator.seed_seq.spawn(1)[0]
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            "`seed` must be None, a non-negative int, a numpy SeedSequence or a numpy "
            f"Generator, got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"`seed` must be a non-negative int, got {seed}")
    return np.random.SeedSequence(int(seed))


def generator(seed) -> np.random.Generator:
    """One :class:`numpy.random.Generator` (PCG64) from ``seed``.

    A Generator passed in is returned as is (the caller owns its stream).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.Generator(np.random.PCG64(seed_sequence(seed)))


def streams(seed, count: int) -> list[np.random.Generator]:
    """``count`` independent Generators, one per replica, spawned from ``seed``."""
    children = seed_sequence(seed).spawn(int(count))
    return [np.random.Generator(np.random.PCG64(c)) for c in children]


def seed_record(seed) -> dict:
    """A JSON-friendly record of the seed (entropy and spawn key) that made a result.

    Pass the :class:`~numpy.random.SeedSequence` the result was drawn from
    (:func:`seed_sequence` of the user's seed) so that :func:`from_record`
    gives it back exactly.
    """
    ss = seed_sequence(seed) if not isinstance(seed, np.random.Generator) else seed.bit_generator.seed_seq
    return {"entropy": int(ss.entropy) if ss.entropy is not None else None,
            "spawn_key": [int(k) for k in ss.spawn_key]}


def from_record(record: dict) -> np.random.SeedSequence:
    """The :class:`~numpy.random.SeedSequence` that :func:`seed_record` described."""
    return np.random.SeedSequence(record["entropy"], spawn_key=tuple(record["spawn_key"]))


_LOW64 = (1 << 64) - 1  # the low half of a 128-bit PCG64 word


def pack_pcg64(states) -> np.ndarray:
    """PCG64 bit-generator states as a (rows, 6) uint64 array."""
    out = np.empty((len(states), 6), dtype=np.uint64)
    for row, st in zip(out, states):
        if st.get("bit_generator") != "PCG64":
            raise ValueError(f"only PCG64 streams can be stored, got {st.get('bit_generator')}")
        s, inc = int(st["state"]["state"]), int(st["state"]["inc"])
        row[:] = (s >> 64, s & _LOW64, inc >> 64, inc & _LOW64, int(st["has_uint32"]), int(st["uinteger"]))
    return out


def unpack_pcg64(arr) -> list:
    """The states :func:`pack_pcg64` packed (or, from the first store, JSON strings), as state dicts."""
    if getattr(arr, "dtype", None) is not None and arr.dtype.kind == "O":  # version 1 JSON strings
        return [json.loads(text if isinstance(text, str) else text.decode()) for text in arr]
    return [{"bit_generator": "PCG64", "state": {"state": (int(a) << 64) | int(b), "inc": (int(c) << 64) | int(d)},
             "has_uint32": int(e), "uinteger": int(f)} for a, b, c, d, e, f in arr]
