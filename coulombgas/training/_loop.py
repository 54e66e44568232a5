"""The ensemble training driver shared by every model in :mod:`coulombgas.training`.

A model supplies three things (see ``teacher_student.py`` for one):

``init(params, gens) -> (data, state)``
    Draw each model's dataset and initial weights from its own stream
    ``gens[i]`` (one :class:`numpy.random.Generator` per model). ``data`` and
    ``state`` are dicts of arrays whose first axis is the model;
    ``state["W"]`` is the weight matrix whose spectrum is recorded,
    shape (models, m, k).
``advance(data, state, gens, n_steps, params) -> loss``
    Do ``n_steps`` SGD updates of every model in place (a Numba ``prange``
    over models, each drawing only from its own ``gens[i]``, so results do not
    depend on the number of threads) and return each model's mean batch loss
    over those updates, shape (models,). ``n_steps = 0`` returns the loss of
    the next batch without updating. Before each update the kernel compares
    the batch loss with ``params["divergence_loss"]``; a model whose loss
    exceeds it (or is not finite) gets ``state["diverged"][i] = update + 1``
    and is not updated again.
``GRAM``
    ``"WtW"`` or ``"WWt"``: which Gram matrix of W the paper diagonalises.

The driver adds ``state["step"]`` and ``state["diverged"]`` (int64 per
model), runs the models in blocks (bounded memory), records spectra every
``record_every`` updates, streams each record to HDF5 when given a path (with
the block's state and random-stream states, so ``resume=True`` continues
exactly), and assembles the :class:`~coulombgas.training.harvest.Harvest`.
"""

from __future__ import annotations

import json
import os

import numba
import numpy as np

from .. import _rng
from .. import _validate as v
from .harvest import Harvest, spectra_of

__all__ = ["check_common", "check_run_options", "check_footprint", "run_ensemble", "record_steps",
           "replay_init"]

# Bytes one model's random stream costs (Generator + PCG64 + SeedSequence objects), measured ~1.2 KB.
_STREAM_BYTES = 2048


def check_common(lr, batch_size, models, steps, record_every):
    """Validate the arguments every model takes; returns them typed."""
    lr = v.positive("lr", lr)
    batch_size = v.integer("batch_size", batch_size, minimum=1)
    models = v.integer("models", models, minimum=1)
    steps = v.integer("steps", steps, minimum=1)
    record_every = v.integer("record_every", record_every, minimum=1)
    if record_every > steps:
        raise ValueError(f"`record_every` must be in [1, steps={steps}], got {record_every}")
    return lr, batch_size, models, steps, record_every


def check_run_options(out, resume, progress, record_weights):
    """Strict flags (never truthiness: ``progress="no"`` is a TypeError) and ``resume`` only with ``out``."""
    resume = v.flag("resume", resume)
    if progress is not None:
        progress = v.flag("progress", progress)
    record_weights = v.flag("record_weights", record_weights)
    if resume and out is None:
        raise ValueError("`resume`=True needs `out` (the HDF5 file of the interrupted run to continue); "
                         "pass out=PATH, or resume=False")
    return resume, progress, record_weights


def n_records(steps: int, record_every: int) -> int:
    """``len(record_steps(steps, record_every))`` without building the array: ⌈steps/k⌉ + 1."""
    return -(-steps // record_every) + 1


def check_footprint(*, models: int, steps: int, record_every: int, weight_shape, gram: str,
                    data_bytes: float, block_models: int, record_weights: bool = True) -> None:
    """Refuse, before any work, a run whose arrays would not fit in memory (``_validate.fits_in_memory``).

    Counts every array the run allocates: one random stream per model, the
    data set and state of one block of models (``data_bytes`` per model, set by
    ``batch_size`` x ``epoch_batches`` x the layer sizes), and the records,
    ``models`` x records x (2 spectra + loss [+ weights]) float64, twice (the
    blocks and their concatenation).
    """
    m, k = (int(d) for d in weight_shape)
    n = k if gram == "WtW" else m
    per_record = 2.0 * n + 1.0 + (float(m) * k if record_weights else 0.0)
    records = float(n_records(steps, record_every))
    total = (float(models) * _STREAM_BYTES
             + float(min(models, block_models)) * (float(data_bytes) + 3.0 * 8.0 * m * k)
             + 2.0 * 8.0 * float(models) * records * per_record)
    v.fits_in_memory("This run (`models` x records (`steps`/`record_every`) x the weights, plus the data "
                     "sets set by `batch_size`)", total)


def record_steps(steps: int, record_every: int) -> np.ndarray:
    """Update counts at which spectra are recorded: 0, k, 2k, … and the last update."""
    return np.unique(np.r_[np.arange(0, steps, record_every), steps]).astype(np.int64)


def run_ensemble(init, advance, gram: str, params: dict, *, models: int, steps: int, record_every: int, seed, name: str,
                 out=None, resume: bool = False, progress: bool | None = None, block_models: int = 1024,
                 record_weights: bool = True) -> Harvest:
    """Train ``models`` independent copies of a model given by ``init``/``advance``/``gram`` (module docstring)."""
    block_models = v.integer("block_models", block_models, minimum=1)
    resume = v.flag("resume", resume)
    if progress is not None:
        progress = v.flag("progress", progress)
    if resume and out is None:
        raise ValueError("`resume`=True needs `out` (the HDF5 file of the interrupted run to continue)")
    at = record_steps(steps, record_every)
    seed = _rng.seed_sequence(seed)  # fixed once, so the record replays these exact streams
    gens_all = _rng.streams(seed, models)
    params = dict(params, steps=steps, record_every=record_every, models=models)
    seed_rec = _rng.seed_record(seed)
    store = None
    if out is not None:
        store = _Store(os.fspath(out), name=name, params=params, seed=seed_rec, gram=gram,
                       steps_at=at, models=models, resume=resume)
    show = progress if progress is not None else models * steps > 2e6
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=models * steps, unit="update", desc=name, leave=False)
    pieces = []
    try:
        for lo in range(0, models, block_models):
            hi = min(models, lo + block_models)
            if store is not None and store.block_done(lo):
                if bar is not None:
                    bar.update((hi - lo) * steps)
                continue
            gens = gens_all[lo:hi]
            data, state = init(params, gens)
            state["step"] = np.zeros(hi - lo, dtype=np.int64)
            state["diverged"] = np.zeros(hi - lo, dtype=np.int64)
            first = 0
            if store is not None:
                first = store.restore(lo, state, gens)
            typed = numba.typed.List(gens)
            piece = _empty_piece(hi - lo, len(at), state["W"].shape[1:], gram, record_weights)
            if first > 0:
                store.read_piece(lo, hi, first, piece)
                if bar is not None:
                    bar.update((hi - lo) * int(at[first - 1]))
            for r in range(first, len(at)):
                todo = int(at[r] - (at[r - 1] if r else 0))
                loss = advance(data, state, typed, todo, params)
                _record(piece, r, state, loss, gram, record_weights)
                if store is not None:
                    store.write(lo, hi, r, piece, state, gens)
                if bar is not None:
                    bar.update((hi - lo) * todo)
            pieces.append(piece)
            if store is not None:
                store.finish_block(lo)
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
    if store is not None:
        return Harvest.load(out)
    return _assemble(pieces, name, params, seed_rec, gram, at)


def replay_init(init, harvest: Harvest, model_ids=None):
    """Re-run ``init`` for the harvest's models: their datasets and initial state, exactly as trained.

    Returns ``(data, state)`` for ``model_ids`` (default: the harvest's kept
    models, in its row order). Used to compute per-sample gradients at
    recorded weights without storing the datasets.
    """
    ids = harvest.model_ids if model_ids is None else np.asarray(model_ids, dtype=np.int64)
    gens = _rng.streams(_rng.from_record(harvest.seed), int(harvest.params["models"]))
    return init(harvest.params, [gens[i] for i in ids])


def _empty_piece(count, records, shape, gram, record_weights):
    m, k = shape
    n = k if gram == "WtW" else m
    piece = {
        "eigenvalues": np.full((count, records, n), np.nan),
        "singular_values": np.full((count, records, n), np.nan),
        "loss": np.full((count, records), np.nan),
        "diverged": np.zeros(count, dtype=np.int64),
    }
    if record_weights:
        piece["weights"] = np.full((count, records, m, k), np.nan)
    return piece


def _record(piece, r, state, loss, gram, record_weights):
    W = state["W"]
    ok = state["diverged"] == 0
    ok &= np.all(np.isfinite(W.reshape(len(W), -1)), axis=1)
    state["diverged"][~ok & (state["diverged"] == 0)] = np.maximum(state["step"][~ok & (state["diverged"] == 0)], 1)
    piece["diverged"][:] = state["diverged"]
    if ok.any():
        ev, sv = spectra_of(W[ok], gram)
        piece["eigenvalues"][ok, r] = ev
        piece["singular_values"][ok, r] = sv
        piece["loss"][ok, r] = loss[ok]
        if record_weights:
            piece["weights"][ok, r] = W[ok]


def _assemble(pieces, name, params, seed_rec, gram, at) -> Harvest:
    cat = {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}
    return _harvest(cat, name, params, seed_rec, gram, at)


def _harvest(cat, name, params, seed_rec, gram, at) -> Harvest:
    diverged = cat["diverged"]
    keep = np.flatnonzero(diverged == 0)
    bad = np.flatnonzero(diverged != 0)
    return Harvest(
        model=name, eigenvalues=cat["eigenvalues"][keep], singular_values=cat["singular_values"][keep],
        loss=cat["loss"][keep], steps=np.asarray(at, dtype=np.int64), params=params, seed=seed_rec,
        model_ids=keep.astype(np.int64), diverged_ids=bad.astype(np.int64),
        diverged_step=diverged[bad].astype(np.int64),
        weights=cat["weights"][keep] if "weights" in cat else None, gram=gram)


class _Store:
    """HDF5 file a training run streams to: full-size record arrays plus the current block's state."""

    def __init__(self, path, *, name, params, seed, gram, steps_at, models, resume):
        from ..io import _h5py, _json_default

        h5py = _h5py()
        meta = json.dumps({"model": name, "params": params, "seed": seed, "gram": gram}, default=_json_default)
        if os.path.exists(path) and resume:
            self.fh = h5py.File(path, "r+")
            if self.fh.attrs["meta"] != meta:
                self.fh.close()
                raise ValueError(f"`out` {path!r} holds a different run (model, parameters or seed differ); "
                                 "use another path or resume=False")
        else:
            if os.path.exists(path) and not resume:
                raise ValueError(f"`out` {path!r} exists; pass resume=True to continue it or choose a new path")
            self.fh = h5py.File(path, "w")
            self.fh.attrs["meta"] = meta
            self.fh.create_dataset("steps", data=steps_at)
            self.fh.create_dataset("diverged", data=np.zeros(models, dtype=np.int64))
            self.fh.attrs["blocks_done"] = json.dumps([])
            self.fh.create_group("state")
        self.models, self.records = models, len(steps_at)

    def _dataset(self, key, shape):
        if key not in self.fh:
            chunks = (min(self.models, 256), 1) + tuple(shape)
            self.fh.create_dataset(key, shape=(self.models, self.records) + tuple(shape), dtype="f8",
                                   fillvalue=np.nan, chunks=chunks)
        return self.fh[key]

    def block_done(self, lo) -> bool:
        return lo in json.loads(self.fh.attrs["blocks_done"])

    def restore(self, lo, state, gens) -> int:
        """Overwrite ``state`` and ``gens`` with the saved ones of block ``lo``; returns the next record."""
        grp = self.fh["state"]
        if grp.attrs.get("block", -1) != lo:
            return 0
        for key in state:
            state[key][...] = grp[key][()]
        for g, s in zip(gens, json.loads(grp.attrs["rng"])):
            g.bit_generator.state = s
        return int(grp.attrs["next_record"])

    def read_piece(self, lo, hi, first, piece):
        for key in ("eigenvalues", "singular_values", "loss", "weights"):
            if key in piece and key in self.fh:
                piece[key][:, :first] = self.fh[key][lo:hi, :first]

    def write(self, lo, hi, r, piece, state, gens):
        for key in ("eigenvalues", "singular_values", "loss", "weights"):
            if key in piece:
                self._dataset(key, piece[key].shape[2:])[lo:hi, r] = piece[key][:, r]
        self.fh["diverged"][lo:hi] = piece["diverged"]
        grp = self.fh["state"]
        for key, value in state.items():
            if key in grp and grp[key].shape != value.shape:
                del grp[key]
            if key not in grp:
                grp.create_dataset(key, data=value)
            else:
                grp[key][...] = value
        grp.attrs["block"] = lo
        grp.attrs["next_record"] = r + 1
        grp.attrs["rng"] = json.dumps([g.bit_generator.state for g in gens])
        self.fh.flush()

    def finish_block(self, lo):
        done = json.loads(self.fh.attrs["blocks_done"])
        self.fh.attrs["blocks_done"] = json.dumps(sorted(set(done) | {lo}))
        self.fh["state"].attrs["block"] = -1
        self.fh.flush()

    def close(self):
        self.fh.close()


def harvest_from_store(fh) -> Harvest:
    """The :class:`Harvest` of a streamed run, finished or interrupted.

    An interrupted run keeps the models that got furthest and the records they
    all have (a single block interrupted mid-way keeps every model, cut at the
    last record written); models that had not started are left out.
    """
    meta = json.loads(fh.attrs["meta"])
    at = fh["steps"][()]
    cat = {key: fh[key][()] for key in ("eigenvalues", "singular_values", "loss", "weights") if key in fh}
    cat["diverged"] = fh["diverged"][()]
    if "loss" not in cat:  # nothing recorded yet
        raise ValueError("the training file holds no records yet")
    done = np.isfinite(cat["loss"])
    written = np.where(cat["diverged"] != 0, len(at), np.argmin(np.c_[done, np.zeros(len(done), bool)], axis=1))
    last = int(written.max())
    rows = written == last
    cat = {key: value[rows] for key, value in cat.items()}
    for key in ("eigenvalues", "singular_values", "loss", "weights"):
        if key in cat:
            cat[key] = cat[key][:, :last]
    harvest = _harvest(cat, meta["model"], meta["params"], meta["seed"], meta["gram"], at[:last])
    ids = np.flatnonzero(rows)
    harvest.model_ids = ids[harvest.model_ids]
    harvest.diverged_ids = ids[harvest.diverged_ids]
    return harvest
