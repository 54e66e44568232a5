"""`RecordedHarvest`: a harvest from the user's own PyTorch loop, with its gradient statistics.

:class:`~coulombgas.training.torch_hook.TorchRecorder` returns these. A
:class:`RecordedHarvest` is a :class:`~coulombgas.training.harvest.Harvest` (same axes,
same methods) plus, when the recorder was given a ``loss_fn``, the per-sample
gradient statistics measured at each record (:mod:`coulombgas.training.torch_stats`):

``stats[field]``  (models, records, n) for ``drift``, ``drift_err``, ``g2``, ``g2_err``,
                  ``gbar2``, ``ito``; (models, records, n, n) for ``variance``, ``mean_change``

with NaN at records whose gradients were not measured. :meth:`drift_noise` turns them
into the :class:`~coulombgas.training.drift_noise.DriftNoise` that the papers' models
get from their ``per_sample_gradients``, so that
``CoulombGas.from_harvest(recorded)`` builds the matching gas from the measured drift
and noise (this module registers that converter; every other harvest goes on to
:func:`~coulombgas.training.drift_noise.gas_from_harvest` unchanged).

Files: :meth:`RecordedHarvest.save` writes ``.npz`` with the statistics (``stats_<field>``);
:meth:`RecordedHarvest.load` reads it back exactly (and reads plain harvests too).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from ..gas import register_harvest_converter
from ..store import dumps
from .drift_noise import DriftNoise, gas_from_harvest
from .harvest import Harvest
from .torch_stats import MODE_FIELDS, PAIR_FIELDS, as_drift_noise

__all__ = ["RecordedHarvest", "gas_from_recording", "late_records"]


def late_records(records: int, fraction: float = 0.5) -> np.ndarray:
    """Indices of the records in the last ``fraction`` of a run (at least one)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"`fraction` must be in (0, 1], got {fraction}")
    start = min(records - 1, int(np.floor(records * (1.0 - fraction))))
    return np.arange(max(start, 0), records)


@dataclasses.dataclass(eq=False, repr=False)
class RecordedHarvest(Harvest):
    """A :class:`Harvest` with the gradient statistics of each record (module docstring).

    Extra attributes: ``stats`` (dict of arrays, or None when no ``loss_fn`` was
    given) and ``stats_samples`` (samples per record the moments are over).
    """

    stats: dict | None = None
    stats_samples: int = 0

    def __post_init__(self):
        # The training package registers gas_from_harvest when it is imported, after this
        # module; a recorded harvest exists only later, so installing the wrapper here wins.
        register_harvest_converter(gas_from_recording)

    @property
    def has_statistics(self) -> bool:
        """True when at least one record has finite gradient statistics for every model."""
        if not self.stats:
            return False
        return bool(np.any(np.all(np.isfinite(self.stats["drift"]), axis=(0, 2))))

    def statistics_records(self) -> np.ndarray:
        """Indices of the records with gradient statistics for every model."""
        if not self.stats:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.all(np.isfinite(self.stats["drift"]), axis=(0, 2)))

    def drift_noise(self, records=None, fraction: float = 0.5) -> DriftNoise:
        """The measured drift and noise as a :class:`DriftNoise`.

        ``records``: indices (default: the records with statistics in the last
        ``fraction`` of the run, or the last record with statistics when none is that late).

        Raises
        ------
        ValueError
            No gradient statistics (the recorder had no ``loss_fn``), or none at ``records``;
            no ``lr``/``batch_size`` known.
        """
        if not self.stats:
            raise ValueError(f"`harvest` {self.model!r} has no gradient statistics: build the TorchRecorder with "
                             "loss_fn= (and data=, or call batch(x, y) before each update) to measure drift "
                             "and noise")
        if self.lr is None or self.batch_size is None:
            raise ValueError("`lr` and `batch_size` must be given to the TorchRecorder to measure drift and noise")
        have = self.statistics_records()
        if records is None:
            late = np.intersect1d(have, late_records(self.records, fraction))
            records = late if late.size else have[-1:]
        return as_drift_noise(self.stats, self.eigenvalues, self.steps, lr=self.lr, batch_size=self.batch_size,
                              samples=max(self.stats_samples, 2), gram=self.gram, model=self.model,
                              records=records)

    def select(self, rows) -> "RecordedHarvest":
        rows = np.arange(self.models)[rows]
        out = super().select(rows)
        if self.stats:
            out.stats = {k: v[rows] for k, v in self.stats.items()}
        return out

    # -- storage -----------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write ``.npz`` with the statistics; :meth:`load` round-trips it exactly."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            raise ValueError(f"`path` of a recorded harvest must end in .npz, got {path!r}")
        arrays = {name: getattr(self, name) for name in ("eigenvalues", "singular_values", "loss", "steps",
                                                         "model_ids", "diverged_ids", "diverged_step", "weights")
                  if getattr(self, name) is not None}
        for key, value in (self.stats or {}).items():
            arrays[f"stats_{key}"] = value
        meta = dict(self._meta(), stats_samples=self.stats_samples, recorded=True)
        tmp = path + ".tmp.npz"
        np.savez(tmp, meta=np.array(dumps(meta)), **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "RecordedHarvest":
        """Read a file written by :meth:`save` (or a plain harvest's ``.npz``: no statistics)."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            base = Harvest.load(path)
            return cls(**{f.name: getattr(base, f.name) for f in dataclasses.fields(Harvest)})
        with np.load(path, allow_pickle=False) as fh:
            meta = json.loads(str(fh["meta"]))
            arrays = {name: fh[name] for name in fh.files if name != "meta" and not name.startswith("stats_")}
            stats = {name[6:]: fh[name] for name in fh.files if name.startswith("stats_")} or None
        if stats is not None and set(stats) != set(MODE_FIELDS + PAIR_FIELDS):
            raise ValueError(f"`path` {path!r} holds incomplete gradient statistics: {sorted(stats)}")
        return cls(model=meta["model"], params=meta["params"], seed=meta["seed"], gram=meta["gram"],
                   stats=stats, stats_samples=int(meta.get("stats_samples", 0)), **arrays)


def gas_from_recording(harvest, estimate=None, **kwargs):
    """:meth:`CoulombGas.from_harvest` for every harvest: a recorded one's measured statistics first.

    A :class:`RecordedHarvest` with gradient statistics and no ``estimate``/``gradients``
    gets ``estimate = harvest.drift_noise(records)`` (default: the late records); one
    without statistics raises ValueError saying how to record them. Anything else goes
    to :func:`~coulombgas.training.drift_noise.gas_from_harvest` unchanged.
    """
    if isinstance(harvest, RecordedHarvest) and estimate is None and kwargs.get("gradients") is None:
        records = kwargs.pop("records", None)
        kwargs.pop("gradients", None)
        estimate = harvest.drift_noise(records)
    return gas_from_harvest(harvest, estimate, **kwargs)
