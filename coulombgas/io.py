"""Storage: HDF5 streaming of long runs, and small JSON helpers.

A streamed run writes its records chunk by chunk into one HDF5 file together
with everything needed to continue it exactly: the current state of every
replica, each replica's random-stream state, and the work counters. A run
killed between chunks (Ctrl-C, a crash, a time limit) keeps every record it
flushed; :func:`coulombgas.simulate` with ``resume=True`` continues it and
produces the same numbers as an uninterrupted run (emcee's HDF backend idea).

Layout of the file::

    /x            (replicas, records, n) float64, filled up to attrs["records_done"]
    /t            (records,) float64
    /state/x      (replicas, n)      current state
    /state/counts (replicas, 6)      accepted, rejected, status, failed step, implicit steps,
                                     Newton iterations
    /state/gaps   (replicas, 1)      smallest gap so far
    attrs: meta (JSON: gas, scheme, dt, seed, record_every, t_end), records_done,
           rng (JSON list of bit-generator states)
"""

from __future__ import annotations

import json
import os

import numpy as np

__all__ = ["TrajectoryStore", "read_trajectory", "write_json"]


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("streaming to HDF5 needs h5py: pip install 'coulombgas[hdf5]'") from None
    return h5py


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def write_json(path, data) -> None:
    """Write ``data`` as indented JSON (NumPy arrays and scalars allowed), atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, default=_json_default, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, path)


class TrajectoryStore:
    """An HDF5 file that a simulation appends chunks of records to (see the module docstring)."""

    def __init__(self, path, *, gas, scheme, dt, n_records, replicas, record_every, seed, resume, x0, t_end,
                 t=None, n_counts=6):
        h5py = _h5py()
        self.path = os.fspath(path)
        meta = {"gas": gas.to_dict(), "scheme": scheme, "dt": dt, "seed": seed,
                "record_every": record_every, "t_end": t_end, "replicas": replicas, "n_records": n_records}
        self._meta_json = json.dumps(meta, default=_json_default, sort_keys=True)
        exists = os.path.exists(self.path)
        if exists and not resume:
            raise ValueError(f"`out` file {self.path} exists; pass resume=True to continue it, "
                             "or choose a new path")
        if resume and exists:
            self.f = h5py.File(self.path, "r+")
            stored = self.f.attrs["meta"]
            if stored != self._meta_json:
                self.f.close()
                raise ValueError(f"`resume`: the run in {self.path} was made with other parameters "
                                 "(gas, scheme, dt, seed, record_every, t_end, replicas must match)")
            return
        self.f = h5py.File(self.path, "w")
        n = gas.n
        chunk = (replicas, max(1, min(n_records, int(2**20 // max(1, replicas * n)))), n)
        self.f.create_dataset("x", shape=(replicas, n_records, n), dtype="f8", chunks=chunk)
        if t is None:
            t = np.arange(n_records) * (record_every * dt)
        self.f.create_dataset("t", data=np.asarray(t, dtype=np.float64))
        self.f["x"][:, 0, :] = x0
        self.f.create_dataset("state/x", data=x0)
        self.f.create_dataset("state/counts", data=np.zeros((replicas, n_counts), dtype=np.int64))
        self.f.create_dataset("state/gaps", data=np.full((replicas, 1), np.inf))
        self.f.attrs["meta"] = self._meta_json
        self.f.attrs["records_done"] = 0
        self.f.attrs["rng"] = "[]"
        self.f.flush()

    @property
    def records_done(self) -> int:
        return int(self.f.attrs["records_done"])

    def state(self):
        """(x, rng states, counts, gaps) at the last flushed chunk."""
        rng = json.loads(self.f.attrs["rng"])
        return (self.f["state/x"][()].copy(), rng, self.f["state/counts"][()].copy(),
                self.f["state/gaps"][()].copy())

    def read_x(self) -> np.ndarray:
        """Records written so far (including record 0)."""
        return self.f["x"][:, : self.records_done + 1, :]

    def append(self, chunk, x, rng_states, counts, gaps) -> None:
        """Write one chunk of records and the state to continue from, then flush."""
        done = self.records_done
        k = chunk.shape[1]
        self.f["x"][:, done + 1: done + 1 + k, :] = chunk
        self.f["state/x"][...] = x
        self.f["state/counts"][...] = counts
        self.f["state/gaps"][...] = gaps
        self.f.attrs["rng"] = json.dumps(rng_states, default=_json_default)
        # records_done last: a crash before this line leaves the previous chunk consistent.
        self.f.attrs["records_done"] = done + k
        self.f.flush()

    def close(self) -> None:
        if self.f.id.valid:
            self.f.close()


def read_trajectory(path):
    """The records a streamed run wrote so far, as a :class:`~coulombgas.dynamics.Trajectory`."""
    h5py = _h5py()
    from .dynamics import Trajectory
    from .gas import CoulombGas

    with h5py.File(path, "r") as f:
        meta = json.loads(f.attrs["meta"])
        done = int(f.attrs["records_done"])
        x = f["x"][:, : done + 1, :]
        t = f["t"][: done + 1]
        counts = f["state/counts"][()]
        gaps = f["state/gaps"][()]
    steps = min(done * meta["record_every"], int(round(meta["t_end"] / meta["dt"]))) if meta["dt"] > 0 else 0
    diagnostics = {"steps": steps, "accepted": int(counts[:, 0].sum()),
                   "rejected": int(counts[:, 1].sum()), "smallest_gap": float(gaps.min()),
                   "complete": done + 1 == meta["n_records"]}
    return Trajectory(t=t, x=x, gas=CoulombGas.from_dict(meta["gas"]), scheme=meta["scheme"], dt=meta["dt"],
                      seed=meta["seed"], diagnostics=diagnostics)
