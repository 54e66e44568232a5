"""The ensemble training driver shared by every model in :mod:`coulombgas.training`.

A model supplies three things (see ``teacher_student.py`` for one):

``init(params, gens) -> (data, state)``
    Draw each model's dataset and initial weights from its own stream
    ``gens[i]`` (one :class:`numpy.random.Generator` per model; a dataset shared
    by every model, e.g. ``data_seed``, comes from its own seed and may have a
    first axis of 1). ``data`` and ``state`` are dicts of arrays whose first axis
    is the model; a model's own kernel streams and batch orders live in ``state``
    (saved with it, so a resumed run continues them);
    ``state["W"]`` is the weight matrix whose spectrum is recorded,
    shape (models, m, k).
``advance(data, state, gens, n_steps, params) -> loss``
    Do ``n_steps`` SGD updates of every model in place (a Numba ``prange``
    over models, each drawing only from its own ``gens[i]``, so results do not
    depend on the number of threads) and return each model's mean batch loss
    over those updates, shape (models,). ``n_steps = 0`` returns the loss of
    the next batch without updating. A kernel whose loss is that mean continues
    ``state["loss_sum"]`` (:func:`._kernels.loss_carry`) batch by batch, so the
    driver may split a record interval over several calls and get one call's
    bits (``init`` creates that sum, :func:`._kernels.with_loss_sum`; a model
    whose loss is a value at the final weights, the RBM's KL, has none and
    returns that value). Before each update the kernel compares
    the batch loss with ``params["divergence_loss"]``; a model whose loss
    exceeds it (or is not finite) gets ``state["diverged"][i] = update + 1``
    and is not updated again.
``GRAM``
    ``"WtW"`` or ``"WWt"``: which Gram matrix of W the paper diagonalises.

The driver adds ``state["step"]`` and ``state["diverged"]`` (int64 per
model), runs the models in blocks (bounded
memory), records spectra every ``record_every`` updates, streams each record to
HDF5 when given a path (with the block's state and random-stream states, so
``resume=True`` continues exactly), and assembles the
:class:`~coulombgas.training.harvest.Harvest`. A record interval runs as kernel
calls of about 0.2 s each (:class:`~coulombgas._durable.Pacer`): Ctrl-C
is answered between calls, with the block's state committed mid-interval
(``interval_done`` updates of interval ``record``) and resumed from there.
"""

from __future__ import annotations

import os
import time

import numba
import numpy as np

from .. import _rng
from .. import _validate as v
from .._durable import Interrupts, Pacer, RunInterrupted
from ..store import ChunkedStore
from .harvest import Harvest, spectra_of

__all__ = ["check_common", "check_run_options", "check_footprint", "run_ensemble", "record_steps",
           "replay_init"]

# Bytes one model's random stream costs (Generator + PCG64 + SeedSequence objects), measured ~1.2 KB.
_STREAM_BYTES = 2048
# Wall time between commits of a streamed run (each commit costs two flushes).
_COMMIT_SECONDS = 0.25


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
                       steps_at=at, models=models, resume=resume, record_weights=record_weights,
                       block_models=block_models)
    show = progress if progress is not None else models * steps > 2e6
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=models * steps, unit="update", desc=name, leave=False)
    pieces = []
    pace = Pacer()  # updates per kernel call, ~0.2 s each: Ctrl-C is answered between calls
    stop = Interrupts(active=store is not None)
    try:
        stop.__enter__()
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
            loss_is_mean = "loss_sum" in state  # else the loss is a value at the final weights
            first, done = 0, 0
            if store is not None:
                first, done = store.restore(lo, state, gens)
            typed = numba.typed.List(gens)
            piece = _empty_piece(hi - lo, len(at), state["W"].shape[1:], gram, record_weights)
            if first > 0:
                store.read_piece(lo, hi, first, piece)
            if bar is not None:
                bar.update((hi - lo) * (int(at[first - 1]) if first else 0) + (hi - lo) * done)
            committed = time.perf_counter()
            for r in range(first, len(at)):
                todo = int(at[r] - (at[r - 1] if r else 0))
                if done == 0 and loss_is_mean:
                    state["loss_sum"][:] = 0.0
                while True:  # the interval in calls of ~0.2 s; the carried loss sum makes the split exact
                    k = min(todo - done, pace.size)
                    start = time.perf_counter()
                    loss = advance(data, state, typed, k, params)
                    now = time.perf_counter()
                    pace.took(k, now - start)
                    done += k
                    if bar is not None:
                        bar.update((hi - lo) * k)
                    if done >= todo:
                        break
                    if store is not None and (stop.pending or now - committed >= _COMMIT_SECONDS):
                        saved = store.checkpoint(lo, hi, r, state, gens, done)
                        committed = now
                        if stop.pending and saved:
                            raise RunInterrupted(store.path, r, f"of {len(at)} records for models {lo}..{hi - 1} "
                                                 f"and {done} of the {todo} updates toward the next ({lo} models "
                                                 "before them complete)")
                if loss_is_mean:  # what one call of `todo` updates returns (mean_loss), from the carried sum
                    loss = np.where(state["diverged"] == 0, state["loss_sum"] / max(todo, 1), np.nan)
                done = 0
                _record(piece, r, state, loss, gram, record_weights)
                if store is not None:
                    # Commit (two flushes) every ~0.25 s of work, at the block's end and on Ctrl-C:
                    # a run with a record per update is not bound by flushing.
                    now = time.perf_counter()
                    last = r == len(at) - 1 or stop.pending or now - committed >= _COMMIT_SECONDS
                    store.write(lo, hi, r, piece, state, gens, commit=last)
                    committed = now if last else committed
                    if stop.pending:
                        raise RunInterrupted(store.path, r + 1, f"of {len(at)} records for models {lo}..{hi - 1} "
                                             f"({lo} models before them complete)")
            pieces.append(piece)
    finally:
        stop.__exit__()
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
    return Harvest.from_rows(model=name, params=params, seed=seed_rec, gram=gram, steps=at, arrays=cat,
                             diverged=cat["diverged"], ids=np.arange(len(cat["diverged"])))


class _Store:
    """The file a training run streams to: the one store (:mod:`coulombgas.store`), kind "harvest".

    Axes model, record, mode (and row, col for the weights); ``records_done``
    per model; ``/state`` holds the current block's state (``W``, ``step``,
    ``diverged``, ``loss_sum``, the model's own arrays), its first model ``block``, the
    record count it belongs to, the updates of the next interval already done
    (``interval_done``, nonzero for a mid-interval commit) and the block's random-stream
    states (``bit_generators``). Blocks of models run one after the other, so only one
    block's state is ever kept.
    The file is created at the first write, when the weights' shape is known.
    """

    def __init__(self, path, *, name, params, seed, gram, steps_at, models, resume, record_weights, block_models):
        self.path, self.models, self.steps_at, self.block_models = path, models, steps_at, block_models
        self.record_weights = record_weights
        self.meta = {"model": name, "params": params, "seed": seed, "gram": gram, "record_weights": record_weights}
        self.store, self.resume = None, resume
        if os.path.exists(path):  # refused without resume, or if another run's; else reopened now
            self._open(None)

    def _open(self, shape, state=None, rng_rows=None):
        dims = {"model": self.models, "record": len(self.steps_at)}
        fields = {"diverged": (("model",), "i8")}
        if shape is not None:
            m, k = shape[-2:]
            dims.update(mode=k if self.meta["gram"] == "WtW" else m, row=m, col=k)
            fields.update(eigenvalues=(("model", "record", "mode"), "f8"),
                          singular_values=(("model", "record", "mode"), "f8"), loss=(("model", "record"), "f8"))
            if self.record_weights:
                fields["weights"] = (("model", "record", "row", "col"), "f8")
        self.store = ChunkedStore(
            self.path, kind="harvest", meta=self.meta, rows="model", resume=self.resume,
            dims=dims, fields=fields, state=state, rng_rows=rng_rows, row_block=self.block_models,
            data={"steps": (("record",), self.steps_at), "model_id": (("model",), np.arange(self.models, dtype=np.int64))})

    def block_done(self, lo) -> bool:
        return self.store is not None and int(self.store.done[lo]) == len(self.steps_at)

    def restore(self, lo, state, gens) -> int:
        """Overwrite ``state`` and ``gens`` with the saved ones of block ``lo``; returns the next record."""
        if self.store is None:  # the file is built now (the state's shapes are known) and appears at the first commit
            self._open(state["W"].shape, self._slots(lo, state, 0), len(gens))
            return 0, 0
        saved = self.store.state()
        if int(saved.get("block", -1)) != lo:
            return 0, 0
        for key in state:
            if key in saved:  # a file from before loss_sum existed committed only whole intervals (sum 0)
                state[key][...] = saved[key]
        for g, st in zip(gens, saved["bit_generators"]):
            g.bit_generator.state = st
        return int(saved["record"]), int(saved.get("interval_done", 0))

    def _slots(self, lo, state, done) -> dict:
        """The state arrays to save: the block's state, its first model and the interval's progress."""
        out = dict(state, block=np.int64(lo), interval_done=np.int64(done))
        if self.store is not None:  # a file made before some of these existed keeps its own slots
            names = self.store.state_names()
            out = {key: value for key, value in out.items() if key in names}
        return out

    def checkpoint(self, lo, hi, r, state, gens, done) -> bool:
        """Commit the block's state ``done`` updates into interval ``r`` (records 0..r-1 written); True if done.

        A file made before mid-interval commits existed has no ``interval_done`` slot:
        there this does nothing (False), and a stop waits for the interval's end as it did then.
        """
        if "interval_done" not in self.store.state_names():
            return False
        self.store.save_state(self._slots(lo, state, done), [g.bit_generator.state for g in gens], record=r)
        self.store.commit(r, slice(lo, hi))
        return True

    def read_piece(self, lo, hi, first, piece):
        for key in ("eigenvalues", "singular_values", "loss", "weights"):
            if key in piece:
                piece[key][:, :first] = self.store.verified(key, slice(lo, hi), first)

    def write(self, lo, hi, r, piece, state, gens, commit=True):
        """Record ``r`` of models lo..hi; with ``commit``, the block's state and the marker (the store's order)."""
        rows = slice(lo, hi)
        for key in ("eigenvalues", "singular_values", "loss", "weights"):
            if key in piece:
                self.store.write(key, (rows, r), piece[key][:, r])
        self.store.write("diverged", rows, piece["diverged"])
        if commit:
            self.store.save_state(self._slots(lo, state, 0), [g.bit_generator.state for g in gens], record=r + 1)
            self.store.commit(r + 1, rows)

    def close(self):
        if self.store is not None:
            self.store.discard()
