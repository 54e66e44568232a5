"""`Trajectory`: the recorded eigenvalue paths of a :func:`coulombgas.simulate` run.

Arrays with named axes (replica, record, mode) plus the gas, scheme, step, seed
and diagnostics that made them; :meth:`Trajectory.save`/:meth:`Trajectory.load`
round-trip them exactly (``.npz``), and :meth:`Trajectory.load` also reads the
HDF5 file a run streams to (:mod:`coulombgas.store`).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from . import _validate as v
from .gas import CoulombGas

__all__ = ["Trajectory"]


@dataclasses.dataclass(frozen=True, eq=False)
class Trajectory:
    """Recorded eigenvalue paths of ``replicas`` independent runs.

    Attributes
    ----------
    t : ndarray, shape (records,)
        Record times; ``t[0]`` is the start (the initial state is record 0).
    x : ndarray, shape (replicas, records, n)
        Eigenvalues, ascending along the last axis.
    gas : CoulombGas
        The system simulated.
    scheme : str
        The integrator's name (see :data:`SCHEMES`).
    dt : float
        Nominal step (t_end / number of steps).
    seed : dict
        Entropy and spawn key of the seed sequence that made the run.
    diagnostics : dict
        ``steps`` (nominal steps per replica), ``accepted`` and ``rejected``
        sub-steps (summed over replicas), ``implicit_steps`` (IMEX sub-steps) or
        ``implicit_pair_steps`` (adaptive schemes' deepest-level pair steps),
        ``newton_iterations`` (IMEX), ``smallest_gap`` (the path minimum over every
        accepted sub-step), ``smallest_recorded_gap`` (over the records: fixed-time
        snapshots), ``max_gap_factor`` and ``max_refinements`` used.
    """

    t: np.ndarray
    x: np.ndarray
    gas: CoulombGas
    scheme: str
    dt: float
    seed: dict
    diagnostics: dict

    @property
    def replicas(self) -> int:
        return self.x.shape[0]

    def final(self) -> np.ndarray:
        """The last recorded state, shape (replicas, n)."""
        return self.x[:, -1, :]

    def flat(self, discard: int = 0) -> np.ndarray:
        """All records after the first ``discard`` ones, pooled: shape (replicas·kept, n)."""
        discard = v.integer("discard", discard, minimum=0, maximum=self.x.shape[1] - 1)
        return self.x[:, discard:, :].reshape(-1, self.x.shape[-1])

    def save(self, path) -> None:
        """Write to a ``.npz`` file; :meth:`load` round-trips it exactly."""
        meta = {"gas": self.gas.to_dict(), "scheme": self.scheme, "dt": self.dt, "seed": self.seed,
                "diagnostics": self.diagnostics}
        with open(path, "wb") as fh:
            np.savez(fh, t=self.t, x=self.x, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path) -> "Trajectory":
        """Read a file written by :meth:`save` or an HDF5 file streamed by :func:`simulate`."""
        if str(path).endswith((".h5", ".hdf5")):
            from .store import read_trajectory_arrays

            f = read_trajectory_arrays(path)
            return cls(t=f["t"], x=f["x"], gas=CoulombGas.from_dict(f["gas"]), scheme=f["scheme"],
                       dt=f["dt"], seed=f["seed"], diagnostics=f["diagnostics"])
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            return cls(t=f["t"], x=f["x"], gas=CoulombGas.from_dict(meta["gas"]), scheme=meta["scheme"],
                       dt=meta["dt"], seed=meta["seed"], diagnostics=meta["diagnostics"])
