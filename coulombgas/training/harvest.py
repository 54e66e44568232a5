"""`Harvest`: the spectra of weight matrices recorded during training.

A harvest is what every training run returns, whether it ran one of the
papers' models (:mod:`coulombgas.training`) or the user's own PyTorch loop
(:class:`coulombgas.training.TorchRecorder`). Axes:

``eigenvalues``      (models, records, n)   eigenvalues of X = WᵀW (or WWᵀ), ascending
``singular_values``  (models, records, n)   singular values of W, ascending (√ of the above)
``loss``             (models, records)      training loss at each record (see the model)
``steps``            (records,)             SGD updates done at each record
``weights``          (models, records, m, k) the weight matrix itself (optional)

Only models that stayed finite are in these arrays: a run whose batch loss
exceeded the divergence threshold (100, as in the papers) or became
non-finite is stopped and listed in ``diverged_ids`` with the update at which
it blew up, so ensemble statistics are never poisoned by inf/NaN.
``model_ids`` maps each kept row back to its model (its random stream).

Files: ``save``/``load`` write ``.npz`` or, for ``.h5``/``.hdf5``, the package's
one store (:mod:`coulombgas.store`, kind ``"harvest"``): the arrays above on the
named axes (model, record, mode, row, col) plus ``model_id`` and ``diverged``
per row — the same layout a streamed training run writes, so
``xr.open_dataset(path, engine="h5netcdf")`` reads both. Files written before
the store (``attrs["meta"]`` without ``attrs["format"]``) still load.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from ..store import ChunkedStore, dumps, is_store, open_h5, read_store

__all__ = ["Harvest", "spectra_of", "coincident_groups"]


def coincident_groups(values, tol: float) -> list[tuple[int, ...]]:
    """Index groups (two or more) of an ascending sequence whose neighbours differ by at most ``tol``.

    Used for a teacher's or a fixed point's degenerate levels: ``[1, 2, 2, 3, 3]`` gives
    ``[(1, 2), (3, 4)]``.
    """
    groups, start = [], 0
    for k in range(1, len(values) + 1):
        if k == len(values) or values[k] - values[k - 1] > tol:
            if k - start >= 2:
                groups.append(tuple(range(start, k)))
            start = k
    return groups


def spectra_of(W, gram: str = "WtW") -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of the Gram matrix and singular values of ``W`` (last two axes).

    ``gram="WtW"`` gives the k eigenvalues of X = WᵀW for W of shape (m, k);
    ``"WWt"`` the m eigenvalues of WWᵀ. Where the Gram matrix is larger than
    min(m, k), its extra eigenvalues are exact zeros. Both outputs ascend.
    Eigenvalues are computed as squared singular values (LAPACK gesdd), which
    is accurate to relative precision also for the small ones.
    """
    if gram not in ("WtW", "WWt"):
        raise ValueError(f"`gram` must be 'WtW' or 'WWt', got {gram!r}")
    W = np.asarray(W, dtype=float)
    if W.ndim < 2:
        raise ValueError(f"`W` must have at least 2 dimensions (…, m, k), got shape {W.shape}")
    m, k = W.shape[-2:]
    sv = np.linalg.svd(W, compute_uv=False)[..., ::-1]
    size = k if gram == "WtW" else m
    ev = sv**2
    if size > sv.shape[-1]:
        pad = np.zeros(sv.shape[:-1] + (size - sv.shape[-1],))
        ev = np.concatenate([pad, ev], axis=-1)
        sv = np.concatenate([pad, sv], axis=-1)
    return ev, sv


@dataclasses.dataclass(eq=False)
class Harvest:
    """Spectra recorded during training (axes in the module docstring)."""

    model: str
    eigenvalues: np.ndarray
    singular_values: np.ndarray
    loss: np.ndarray
    steps: np.ndarray
    params: dict[str, Any]
    seed: dict[str, Any]
    model_ids: np.ndarray
    diverged_ids: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    diverged_step: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    weights: np.ndarray | None = None
    gram: str = "WtW"

    @property
    def models(self) -> int:
        """Number of (finite) models in the arrays."""
        return int(self.eigenvalues.shape[0])

    @property
    def n(self) -> int:
        return int(self.eigenvalues.shape[-1])

    @property
    def records(self) -> int:
        return int(self.eigenvalues.shape[1])

    @property
    def lr(self) -> float | None:
        return self.params.get("lr")

    @property
    def batch_size(self) -> int | None:
        return self.params.get("batch_size")

    def final(self, field: str = "eigenvalues") -> np.ndarray:
        """The last record of ``field`` for every model, shape (models, n)."""
        return getattr(self, field)[:, -1]

    def late(self, fraction: float = 0.5, field: str = "eigenvalues") -> np.ndarray:
        """Records in the last ``fraction`` of the run, shape (models, late records, n)."""
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"`fraction` must be in (0, 1], got {fraction}")
        start = min(self.records - 1, int(np.floor(self.records * (1.0 - fraction))))
        return getattr(self, field)[:, start:]

    def select(self, rows) -> "Harvest":
        """A harvest of the models in ``rows`` (indices or a boolean mask of this harvest's models)."""
        rows = np.arange(self.models)[rows]
        return dataclasses.replace(
            self, eigenvalues=self.eigenvalues[rows], singular_values=self.singular_values[rows],
            loss=self.loss[rows], model_ids=self.model_ids[rows],
            weights=None if self.weights is None else self.weights[rows])

    def degenerate_pairs(self, fraction: float = 0.5, threshold: float = 3.0) -> list[tuple[int, int]]:
        """Neighbouring modes that share a fixed point: the pairs the Wigner surmise speaks about.

        Modes i, i+1 are paired when the gap of their late-time means is below
        ``threshold`` times the sum of their fluctuations (std over models and
        late records). A split pair's mean gap is ⟨S⟩ = √π σ ≈ 1.8σ, while
        distinct fixed points are many σ apart. Pairs do not overlap.
        """
        late = self.late(fraction)
        if late.shape[0] == 0:
            return []
        mean = late.mean(axis=(0, 1))
        std = late.std(axis=(0, 1))
        pairs, i = [], 0
        while i < self.n - 1:
            if mean[i + 1] - mean[i] < threshold * (std[i] + std[i + 1]):
                pairs.append((i, i + 1))
                i += 2
            else:
                i += 1
        return pairs

    # -- storage -----------------------------------------------------------------------------
    def _meta(self) -> dict:
        return {"model": self.model, "params": self.params, "seed": self.seed, "gram": self.gram}

    def save(self, path) -> None:
        """Write to ``path``: ``.h5``/``.hdf5`` as the one store (needs h5py), anything else as ``.npz``."""
        arrays = {name: getattr(self, name) for name in _ARRAYS if getattr(self, name) is not None}
        path = os.fspath(path)
        if path.endswith((".h5", ".hdf5")):
            self._save_store(path)
            return
        tmp = path + ".tmp.npz"
        np.savez(tmp, meta=np.array(dumps(self._meta())), **arrays)
        os.replace(tmp, path)

    def _save_store(self, path) -> None:
        models, records, n = self.eigenvalues.shape
        dims = {"model": models, "record": records, "mode": n, "diverged_model": len(self.diverged_ids)}
        rec = ("model", "record")
        data = {"steps": (("record",), self.steps), "model_id": (("model",), self.model_ids),
                "diverged": (("model",), np.zeros(models, dtype=np.int64)),
                "eigenvalues": (rec + ("mode",), self.eigenvalues),
                "singular_values": (rec + ("mode",), self.singular_values), "loss": (rec, self.loss),
                "diverged_ids": (("diverged_model",), self.diverged_ids),
                "diverged_step": (("diverged_model",), self.diverged_step)}
        if self.weights is not None:
            dims.update(row=self.weights.shape[2], col=self.weights.shape[3])
            data["weights"] = (rec + ("row", "col"), self.weights)
        with ChunkedStore(path, kind="harvest", meta=self._meta(), dims=dims, fields={}, data=data, rows="model",
                          overwrite=True) as store:
            store.commit(records)

    @classmethod
    def from_rows(cls, *, model, params, seed, gram, steps, arrays, diverged, ids, diverged_ids=(),
                  diverged_step=()) -> "Harvest":
        """A harvest from per-model rows: ``arrays`` (eigenvalues, singular_values, loss[, weights]) of shape
        (rows, records, ...), ``diverged`` (rows,) the update at which a row's model blew up (0: it did not),
        ``ids`` (rows,) the rows' model ids; ``diverged_ids``/``diverged_step``: models already left out."""
        diverged = np.asarray(diverged, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        keep = np.flatnonzero(diverged == 0)
        bad = np.flatnonzero(diverged != 0)
        weights = arrays.get("weights")
        return cls(model=model, eigenvalues=arrays["eigenvalues"][keep],
                   singular_values=arrays["singular_values"][keep], loss=arrays["loss"][keep],
                   steps=np.asarray(steps, dtype=np.int64), params=params, seed=seed, model_ids=ids[keep],
                   diverged_ids=np.r_[ids[bad], np.asarray(diverged_ids, dtype=np.int64)],
                   diverged_step=np.r_[diverged[bad], np.asarray(diverged_step, dtype=np.int64)],
                   weights=None if weights is None else weights[keep], gram=gram)

    @classmethod
    def load(cls, path) -> "Harvest":
        """Read a harvest written by :meth:`save` or streamed by a training run (finished or interrupted).

        An interrupted run keeps the models that got furthest and the records
        they all have (a single block interrupted mid-way keeps every model, cut
        at the last record written); models that had not started are left out.
        """
        path = os.fspath(path)
        if path.endswith((".h5", ".hdf5")):
            with open_h5(path, "r") as fh:
                if not is_store(fh):
                    return _load_before_store(cls, fh)
                stored = read_store(fh)
            if stored["kind"] != "harvest":
                raise ValueError(f"{path} holds a {stored['kind']}, not a harvest")
            return _from_store(cls, stored)
        with np.load(path, allow_pickle=False) as fh:
            meta = json.loads(str(fh["meta"]))
            arrays = {name: fh[name] for name in _ARRAYS if name in fh.files}
        return cls(model=meta["model"], params=meta["params"], seed=meta["seed"], gram=meta["gram"], **arrays)

    def __repr__(self) -> str:
        return (f"Harvest(model={self.model!r}, models={self.models}, records={self.records}, n={self.n}, "
                f"diverged={len(self.diverged_ids)}, lr={self.lr}, batch_size={self.batch_size})")


_ARRAYS = ("eigenvalues", "singular_values", "loss", "steps", "model_ids", "diverged_ids", "diverged_step",
           "weights")



def _from_store(cls, stored) -> Harvest:
    """A harvest from :func:`coulombgas.store.read_store`'s values (saved or streamed, maybe interrupted)."""
    meta, a, done = stored["meta"], stored["arrays"], stored["done"]
    last = int(done.max()) if done.size else 0
    if last == 0:
        raise ValueError("the training file holds no records yet")
    rows = done == last
    arrays = {key: a[key][rows][:, :last] for key in ("eigenvalues", "singular_values", "loss", "weights")
              if key in a}
    return cls.from_rows(model=meta["model"], params=meta["params"], seed=meta["seed"], gram=meta["gram"],
                         steps=a["steps"][:last], arrays=arrays, diverged=a["diverged"][rows],
                         ids=a["model_id"][rows], diverged_ids=a.get("diverged_ids", ()),
                         diverged_step=a.get("diverged_step", ()))


def _load_before_store(cls, fh) -> Harvest:
    """Read the two HDF5 layouts of earlier versions: a saved harvest, or a streamed run (``/state``)."""
    meta = json.loads(fh.attrs["meta"])
    if "state" not in fh:
        arrays = {name: fh[name][()] for name in _ARRAYS if name in fh}
        return cls(model=meta["model"], params=meta["params"], seed=meta["seed"], gram=meta["gram"], **arrays)
    at = fh["steps"][()]
    cat = {key: fh[key][()] for key in ("eigenvalues", "singular_values", "loss", "weights") if key in fh}
    diverged = fh["diverged"][()]
    if "loss" not in cat:
        raise ValueError("the training file holds no records yet")
    # That layout had no marker: a row's records are its leading finite losses (a diverged row counts as done).
    finite = np.isfinite(cat["loss"])
    written = np.where(diverged != 0, len(at), np.argmin(np.c_[finite, np.zeros(len(finite), bool)], axis=1))
    last = int(written.max())
    rows = written == last
    arrays = {key: value[rows][:, :last] for key, value in cat.items()}
    return cls.from_rows(model=meta["model"], params=meta["params"], seed=meta["seed"], gram=meta["gram"],
                         steps=at[:last], arrays=arrays, diverged=diverged[rows], ids=np.flatnonzero(rows))
