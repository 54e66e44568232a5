"""What both Fokker–Planck solvers share: named discretisation choices and the ``.npz`` round trip.

Private to :mod:`coulombgas.fokker_planck`; the names are public so that
:mod:`~coulombgas.fokker_planck.two_mode` and
:mod:`~coulombgas.fokker_planck.mean_field` can import them.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from ..gas import CoulombGas

__all__ = ["Entry", "Saveable"]


@dataclasses.dataclass(frozen=True)
class Entry:
    """A named discretisation choice: its order and where it comes from."""

    name: str
    order: int
    positive: bool
    reference: str



class Saveable:
    """npz round trip for the result dataclasses: arrays as arrays, the rest as JSON.

    ``_arrays`` names the fields stored as arrays. A :class:`CoulombGas` is written
    through its ``to_dict``; other field types a result holds (the two-mode grid)
    are declared in ``_codecs`` as ``(tag, type, to_json, from_json)`` and written
    as ``{tag: to_json(value)}``.
    """

    _arrays: tuple = ()
    _codecs: tuple = ()

    def save(self, path) -> None:
        """Write to a ``.npz`` file; :meth:`load` round-trips it exactly."""
        meta = {}
        arrays = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self._arrays:
                arrays[f.name] = np.asarray(value)
            elif isinstance(value, CoulombGas):
                meta[f.name] = {"__gas__": value.to_dict()}
            else:
                meta[f.name] = next(({tag: to_json(value)} for tag, kind, to_json, _ in self._codecs
                                     if isinstance(value, kind)), value)
        with open(path, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path):
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            kw = {name: f[name] for name in cls._arrays}
        decoders = {tag: from_json for tag, _, _, from_json in cls._codecs}
        for name, value in meta.items():
            if isinstance(value, dict) and "__gas__" in value:
                value = CoulombGas.from_dict(value["__gas__"])
            elif isinstance(value, dict) and len(value) == 1 and next(iter(value)) in decoders:
                tag, data = next(iter(value.items()))
                value = decoders[tag](data)
            kw[name] = value
        return cls(**kw)
