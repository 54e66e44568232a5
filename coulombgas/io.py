"""Storage under its old public names (a facade over :mod:`coulombgas.store`).

The one chunked, resumable HDF5 layout and the JSON helpers live in
:mod:`coulombgas.store` (layer 0); this module keeps ``coulombgas.io.write_json``,
``coulombgas.io.TrajectoryStore`` and ``coulombgas.io.read_trajectory`` working.
"""

from __future__ import annotations

from .store import TrajectoryStore, json_default, read_json, read_trajectory_arrays, write_json

__all__ = ["TrajectoryStore", "read_trajectory", "write_json", "read_json", "json_default"]


def read_trajectory(path):
    """The records a streamed run wrote so far, as a :class:`~coulombgas.dynamics.Trajectory`."""
    from .dynamics import Trajectory
    from .gas import CoulombGas

    d = read_trajectory_arrays(path)
    return Trajectory(t=d["t"], x=d["x"], gas=CoulombGas.from_dict(d["gas"]), scheme=d["scheme"], dt=d["dt"],
                      seed=d["seed"], diagnostics=d["diagnostics"])
