"""`TorchRecorder`: harvest weight-matrix spectra from the user's own PyTorch training loop.

The papers' models (:mod:`coulombgas.training`) train their own weights; this
recorder instead watches any :class:`torch.nn.Module` while the user trains it
and writes the same :class:`~coulombgas.training.harvest.Harvest` — the
eigenvalues of X = WᵀW (``gram="WtW"``, the convention of arXiv:2407.16427)
or of WWᵀ for each chosen 2-D weight W (m, k), every ``every`` optimiser
steps. Paper 2 (arXiv:2411.13512) follows a nano-GPT's matrices this way, from
Marchenko–Pastur at initialisation to structured spectra after training.

Usage (two equivalent ways to count steps)::

    rec = TorchRecorder(model, every=10, lr=1e-3, batch_size=32)   # records step 0 now
    for x, y in batches:
        loss = loss_fn(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        rec.step(loss)                    # records after updates 10, 20, ...
    # or, without touching the loop body:  rec.attach(opt)  (+ rec.note_loss(loss) if wanted)
    harvests = rec.harvest()              # {parameter name: RecordedHarvest}

With gradient statistics (drift and noise per mode, for ``cg.analyze`` and ``cg.compare``)::

    rec = TorchRecorder(model, every=10, lr=0.05, batch_size=32, loss_fn=F.cross_entropy)
    for x, y in batches:
        rec.batch(x, y)                   # before the update: a pending record measures on it
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        rec.step(loss)
    # or data=(X_ref, Y_ref): each record measures on samples of that fixed set, no batch() needed

Conventions
-----------
* ``steps`` counts optimiser updates applied to the weights when they were
  read: the record at construction is step 0, ``step()`` (or the attached
  optimiser hook) adds one update and records when the count is a multiple of
  ``every``; :meth:`record` reads the weights at the current count (a second
  record at the same count replaces the first).
* Spectra: ``torch.linalg.svdvals`` of a detached float64 copy (on the CPU by
  default: one device-to-host copy per matrix and record, no other sync, no
  autograd graph); eigenvalues are the squared singular values, ascending,
  with exact zeros in front when the Gram matrix is larger than min(m, k) —
  the conventions of :func:`~coulombgas.training.harvest.spectra_of`.
* ``loss`` at a record is the mean of the losses received (``step(loss)``,
  ``note_loss``, ``record(loss)``) since the previous record. **NaN means no
  loss was passed** in that interval; the recorder never makes a NaN itself.
  Loss tensors are kept (detached) and read once per record, so a GPU loop is
  not synchronised every step.
* One :class:`Harvest` per parameter (``models = 1``, ``model_ids = [0]``,
  ``model`` = the parameter name); ``harvest([name1, name2, ...])`` stacks
  identically shaped parameters along the models axis (e.g. the same matrix of
  every transformer block), ``model_ids`` then index that list.
* Divergence: if a recorded weight or a received loss is not finite, the
  recorder warns (``RuntimeWarning``), keeps every earlier record, stops
  recording, and reports the update count of the record that saw it as
  ``params["diverged_step"]`` (the records kept are finite, so the model stays
  in the arrays and ``diverged_ids`` is empty, unlike the ensemble models,
  which drop a diverged model's rows).

Streaming: with ``out`` (needs h5py), every record is appended to the package's
one store (:mod:`coulombgas.store`, kind ``"recording"``) and committed, so a
run that is killed keeps everything written so far; read it with
:meth:`TorchRecorder.load`, or as labelled arrays with
``xr.open_dataset(out, engine="h5netcdf")`` (``steps``, ``loss``) and
``group="spectra/<name>"`` (one parameter's spectra). Layout::

    /steps  (record,) int64          /loss  (record,) float64     /records_done  () rows complete
    /spectra/<name>/eigenvalues      (record, mode)
    /spectra/<name>/singular_values  (record, mode)
    /spectra/<name>/weights          (record, row, col), only with record_weights
    /stats/<name>/<field>            (record, mode[, mode2]), only with loss_fn: drift, drift_err, g2,
                                     g2_err, gbar2, ito (per mode), variance, mean_change (per pair);
                                     NaN at a record whose gradients were not (yet) measured
    state diverged_step              () the update count at divergence, -1 if none (in the store's
                                     checksummed state slots, with the committed record count)
    attrs: meta (JSON: module, names, shapes, dtypes, every, gram, record_weights, lr, batch_size, seed)

The record axis grows by doubling, each time on a copy that replaces the file at
the next commit (so a kill never leaves it half resized); entries past
``records_done`` are fill values. Every record is checksummed and checked on
load. Files written by earlier versions (``attrs["records"]``) still load.

References: G. Aarts, B. Lucini, C. Park, arXiv:2407.16427; G. Aarts,
O. Hajizadeh, B. Lucini, C. Park, arXiv:2411.13512; SCIENCE.md §5, §7.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import time
import warnings

import numpy as np

from .. import _rng
from .. import _validate as v
from ..store import ChunkedStore, is_store, open_h5, read_store
from .recording import RecordedHarvest
from .torch_stats import MODE_FIELDS, PAIR_FIELDS, empty_statistics, per_sample_gradients, projected_statistics

__all__ = ["TorchRecorder"]


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("TorchRecorder needs PyTorch: pip install 'coulombgas[torch]'") from None
    return torch


def _seed_record(seed) -> dict:
    if seed is None:
        return {"entropy": None, "spawn_key": []}
    if isinstance(seed, dict):
        if set(seed) != {"entropy", "spawn_key"}:
            raise ValueError(f"`seed` as a dict must have exactly the keys 'entropy' and 'spawn_key', got {sorted(seed)}")
        return {"entropy": seed["entropy"], "spawn_key": [int(k) for k in seed["spawn_key"]]}
    return _rng.seed_record(seed)


def _select(module, names) -> list[str]:
    """Resolve ``names`` (None, a name, a list of names, or a predicate) to 2-D parameter names."""
    params = dict(module.named_parameters())
    two_d = [n for n, p in params.items() if p.ndim == 2]
    shown = ", ".join(two_d) if two_d else "none"
    if names is None:
        chosen = two_d
    elif callable(names):
        chosen = [n for n in two_d if names(n, params[n])]
        if not chosen:
            raise ValueError(f"`names`: the predicate selected no 2-D parameter of {type(module).__name__}; "
                             f"2-D parameters are: {shown}")
    else:
        if isinstance(names, str):
            names = [names]
        try:
            chosen = list(names)
        except TypeError:
            raise TypeError("`names` must be None, a parameter name, a list of names or a predicate "
                            f"f(name, parameter) -> bool, got {type(names).__name__}") from None
        if not chosen:
            raise ValueError("`names` must name at least one parameter, got an empty list")
        for n in chosen:
            if not isinstance(n, str):
                raise TypeError(f"`names` must hold parameter names (str), got {type(n).__name__}")
            if n not in params:
                raise ValueError(f"`names`: {n!r} is not a parameter of {type(module).__name__}; "
                                 f"2-D parameters are: {shown}")
            if params[n].ndim != 2:
                raise ValueError(f"`names`: {n!r} must be a 2-D weight matrix, got shape {tuple(params[n].shape)}")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"`names` must not repeat a name, got {chosen}")
    if not chosen:
        raise ValueError(f"`module` {type(module).__name__} has no 2-D parameter to record")
    return chosen


def _spectra(sv_desc: np.ndarray, m: int, k: int, gram: str) -> tuple[np.ndarray, np.ndarray]:
    """Ascending eigenvalues of the Gram matrix and singular values, zero-padded as ``spectra_of``."""
    sv = sv_desc[::-1].copy()
    size = k if gram == "WtW" else m
    pad = np.zeros(size - sv.size)
    return np.concatenate([pad, sv**2]), np.concatenate([pad, sv])


class TorchRecorder:
    """Record the spectra of a module's weight matrices during the user's training loop.

    Parameters
    ----------
    module : torch.nn.Module
        The model being trained; parameters are looked up by name at each
        record (so ``load_state_dict`` or re-assigned parameters are seen).
    names : None, str, list of str, or callable, optional
        Which 2-D parameters to record: None (default) every 2-D parameter
        (``Linear``/``Embedding`` weights, attention ``in_proj_weight``, ...);
        names as in ``module.named_parameters()``; or a predicate
        ``f(name, parameter) -> bool`` applied to the 2-D parameters.
    every : int, >= 1
        Record when the optimiser-step count is a multiple of ``every``.
    gram : {"WtW", "WWt"}
        X = WᵀW (k eigenvalues for W of shape (m, k)) or WWᵀ (m eigenvalues).
    record_weights : bool
        Also keep a float64 copy of each matrix at each record (``Harvest.weights``).
    out : path, optional
        Stream every record to this HDF5 file (module docstring); must not exist
        unless ``overwrite=True``.
    lr, batch_size : float > 0, int >= 1, optional
        Stored in ``Harvest.params`` (so the temperature α/|B| is known downstream).
    seed : None, int, SeedSequence or {"entropy", "spawn_key"} dict, optional
        The seed the user trained with, stored (not applied) as ``Harvest.seed``.
    initial : bool
        Record step 0 now (default), i.e. the weights as the recorder is built.
    device : str or torch.device or None
        Where the SVD runs: "cpu" (default; float64 everywhere) or None for the
        parameter's own device (fast for large matrices on a GPU that has float64).
    overwrite : bool
        Replace an existing ``out`` file.
    loss_fn : callable, optional
        ``loss_fn(output, target) -> scalar tensor``, the per-sample training loss
        (e.g. ``torch.nn.functional.mse_loss``). Given it, every record also keeps
        the per-sample gradient statistics of each matrix in its eigenbasis (drift,
        noise, pair coefficients: :mod:`coulombgas.training.torch_stats`), computed
        with ``torch.func`` (``vmap`` of ``grad``); needs ``lr`` and ``batch_size``.
    data : (inputs, targets), optional
        A fixed reference set for those statistics (tensors, samples on axis 0):
        ``stats_samples`` of its samples, drawn afresh at each record. Without it
        the recorder uses the next batch handed to :meth:`batch` before its update.
    stats_samples : int >= 2, optional
        Samples of ``data`` per record (default: all of them).
    steps : int >= 1, optional
        The planned number of optimiser steps: ``every`` larger than it is refused
        (the run would record nothing after initialisation).

    Raises
    ------
    TypeError, ValueError
        Naming the argument: a non-module, unknown / non-2-D / repeated names,
        ``every`` < 1, an unknown ``gram``, an existing ``out``.

    Examples
    --------
    >>> import torch                                  # doctest: +SKIP
    >>> net = torch.nn.Linear(8, 4)                   # doctest: +SKIP
    >>> rec = TorchRecorder(net, every=2)             # doctest: +SKIP
    >>> rec.harvest("weight").eigenvalues.shape       # doctest: +SKIP
    (1, 1, 8)
    """

    def __init__(self, module, names=None, every: int = 1, gram: str = "WtW", record_weights: bool = False,
                 out=None, *, lr=None, batch_size=None, seed=None, initial: bool = True, device="cpu",
                 overwrite: bool = False, loss_fn=None, data=None, stats_samples=None, steps=None):
        torch = _torch()
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"`module` must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.names = _select(module, names)
        self.every = v.integer("every", every, minimum=1)
        self.gram = v.one_of("gram", gram, ("WtW", "WWt"))
        for flag, value in (("record_weights", record_weights), ("initial", initial), ("overwrite", overwrite)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"`{flag}` must be True or False, got {type(value).__name__}")
        self.record_weights = bool(record_weights)
        try:
            self._device = None if device is None else torch.device(device)
        except (TypeError, RuntimeError):
            raise ValueError(f"`device` must be None or a torch device such as 'cpu', got {device!r}") from None
        params = {n: module.get_parameter(n) for n in self.names}
        self.shapes = {n: tuple(int(s) for s in p.shape) for n, p in params.items()}
        self.dtypes = {n: str(p.dtype).removeprefix("torch.") for n, p in params.items()}
        self.meta = {"module": type(module).__name__, "names": self.names,
                     "shapes": {n: list(s) for n, s in self.shapes.items()}, "dtypes": self.dtypes,
                     "every": self.every, "gram": self.gram, "record_weights": self.record_weights,
                     "seed": _seed_record(seed)}
        if lr is not None:
            self.meta["lr"] = v.positive("lr", lr)
        if batch_size is not None:
            self.meta["batch_size"] = v.integer("batch_size", batch_size, minimum=1)
        if steps is not None:  # the planned run: a record interval longer than it records nothing
            steps = v.integer("steps", steps, minimum=1)
            if self.every > steps:
                raise ValueError(f"`every` must be <= the run's `steps` ({steps}) to record anything after "
                                 f"initialisation, got {self.every}")
        self._stats = _StatsPlan(self, loss_fn, data, stats_samples)
        self.meta["gradient_statistics"] = self._stats.enabled
        self.meta["stats_source"] = self._stats.source
        self.meta["stats_samples"] = self._stats.samples
        self.updates = 0              # optimiser steps counted so far
        self.spectra_seconds = 0.0    # wall-clock spent reading spectra (cost per record: / records)
        self.stats_seconds = 0.0      # wall-clock spent on gradient statistics
        self.diverged_step = None     # update count at which a non-finite value was seen
        self._pending_floats: list[float] = []
        self._pending_tensors: list = []
        self._hook = None
        self._closed = False
        self._store = None
        self._mem = None
        if out is not None:
            self._store = _Store(os.fspath(out), self.meta, self.shapes, self.gram, self.record_weights, overwrite,
                                 self._stats.enabled)
            self.out = self._store.path
        else:
            self.out = None
            self._mem = {"steps": [], "loss": [], "ev": {n: [] for n in self.names},
                         "sv": {n: [] for n in self.names}, "w": {n: [] for n in self.names},
                         "stats": {n: [] for n in self.names}}
        if initial:
            self.record()

    # -- counting ------------------------------------------------------------------------------
    def step(self, loss=None) -> bool:
        """Count one optimiser step (call it after ``optimizer.step()``); record on multiples of ``every``.

        ``loss`` (optional, a real number or a one-element tensor) is the batch
        loss of this step. Returns True when a record was made.
        """
        self._check_open("step")
        if self._hook is not None:
            raise RuntimeError("`step`: this recorder is attached to an optimizer, which already counts its "
                               "steps; pass losses with note_loss(loss) instead, or detach() first")
        self.note_loss(loss)
        return self._tick()

    def attach(self, optimizer):
        """Count the steps of ``optimizer`` through a step post-hook, so the loop needs no change.

        Losses are not visible to the hook: pass them with :meth:`note_loss` if
        they should be recorded. Returns ``self``.
        """
        torch = _torch()
        self._check_open("attach")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"`optimizer` must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if self._hook is not None:
            raise ValueError("`optimizer`: this recorder is already attached to an optimizer; detach() first")
        self._hook = optimizer.register_step_post_hook(lambda opt, args, kwargs: self._tick())
        return self

    def note_loss(self, loss) -> None:
        """Hand over a batch loss; the next record stores the mean of those received since the last one."""
        if loss is None:
            return
        self._check_open("note_loss")
        torch = _torch()
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                raise ValueError(f"`loss` must be a scalar (one-element) tensor, got shape {tuple(loss.shape)}")
            if loss.is_complex() or loss.dtype == torch.bool:
                raise TypeError(f"`loss` must be a real tensor, got dtype {loss.dtype}")
            self._pending_tensors.append(loss.detach().reshape(()))  # read at the record: no sync per step
        elif isinstance(loss, numbers.Real) and not isinstance(loss, (bool, np.bool_)):
            self._pending_floats.append(float(loss))
        else:
            raise TypeError(f"`loss` must be a real number or a scalar tensor, got {type(loss).__name__}")

    def _tick(self) -> bool:
        self._check_open("step")
        self.updates += 1
        if self.updates % self.every:
            return False
        return self.record()

    # -- recording -----------------------------------------------------------------------------
    def record(self, loss=None) -> bool:
        """Record the spectra now, at the current step count (replacing a record already made at it).

        Returns False (and records nothing) once the run has diverged.
        """
        self._check_open("record")
        self.note_loss(loss)
        if self.diverged_step is not None:
            self._pending_floats.clear()
            self._pending_tensors.clear()
            return False
        torch = _torch()
        start = time.perf_counter()
        mean_loss, given = self._take_loss(torch)
        spectra = {}
        with torch.no_grad():
            for name in self.names:
                p = self.module.get_parameter(name)
                if tuple(p.shape) != self.shapes[name]:
                    raise ValueError(f"`names`: parameter {name!r} changed shape from {self.shapes[name]} to "
                                     f"{tuple(p.shape)}; build a new recorder")
                w = p.detach().to(device=self._device or p.device, dtype=torch.float64, copy=True)
                if not bool(torch.isfinite(w).all()):
                    return self._diverge(f"parameter {name!r} has non-finite entries")
                sv = torch.linalg.svdvals(w).cpu().numpy()
                m, k = self.shapes[name]
                ev, svs = _spectra(sv, m, k, self.gram)
                spectra[name] = (ev, svs, w.cpu().numpy() if self.record_weights else None)
        if given and not math.isfinite(mean_loss):
            return self._diverge(f"the loss is {mean_loss}")
        self._write(self.updates, mean_loss, spectra)
        self.spectra_seconds += time.perf_counter() - start
        if self._stats.enabled:
            self._stats.at_record(self._rows() - 1)
        return True

    def _take_loss(self, torch) -> tuple[float, bool]:
        """Mean of the pending losses (one host copy for all tensors; NaN if none) and whether any came."""
        values = list(self._pending_floats)
        if self._pending_tensors:
            stacked = torch.stack([t.to(self._pending_tensors[0].device) for t in self._pending_tensors])
            values.extend(stacked.to("cpu", torch.float64).numpy().tolist())
        self._pending_floats.clear()
        self._pending_tensors.clear()
        return (float(np.mean(values)), True) if values else (math.nan, False)

    def _diverge(self, why: str) -> bool:
        self.diverged_step = self.updates
        warnings.warn(f"TorchRecorder: {why} at optimiser step {self.updates}; recording stopped, "
                      "earlier records are kept", RuntimeWarning, stacklevel=3)
        if self._store is not None:
            self._store.diverged(self.updates)
        return False

    def _write(self, step, loss, spectra):
        if self._store is not None:
            self._store.write(step, loss, spectra)
            return
        mem = self._mem
        replace = bool(mem["steps"]) and mem["steps"][-1] == step
        if replace:
            if math.isnan(loss):  # a re-read without a new loss keeps the loss already recorded
                loss = mem["loss"][-1]
            for key in ("steps", "loss"):
                mem[key].pop()
            for name in self.names:
                for key in ("ev", "sv", "w", "stats"):
                    if mem[key][name]:
                        mem[key][name].pop()
        mem["steps"].append(step)
        mem["loss"].append(loss)
        for name, (ev, sv, w) in spectra.items():
            mem["ev"][name].append(ev)
            mem["sv"][name].append(sv)
            if w is not None:
                mem["w"][name].append(w)
            if self._stats.enabled:
                mem["stats"][name].append(empty_statistics(ev.size))

    def _rows(self) -> int:
        return self._store.records if self._store is not None else len(self._mem["steps"])

    def _write_stats(self, row: int, stats: dict) -> None:
        """Store one record's gradient statistics ``{name: {field: array}}`` at ``row``."""
        if self._store is not None:
            self._store.write_stats(row, stats)
            return
        for name, values in stats.items():
            self._mem["stats"][name][row] = values

    # -- gradient statistics -------------------------------------------------------------------
    def batch(self, inputs, targets=None) -> None:
        """Hand over the batch the next update will use; call it *before* ``optimizer.step()``.

        With ``loss_fn`` and no ``data``, a record waits for this call: the per-sample
        gradients at the recorded weights are taken on this batch, which has not yet
        moved them (the batch just applied would bias the drift, see
        :mod:`coulombgas.training.torch_stats`). Without ``loss_fn`` it does nothing.
        """
        self._check_open("batch")
        if self._stats.enabled:
            self._stats.on_batch(inputs, targets)

    def cost(self) -> dict:
        """Wall-clock cost of recording so far: total and per record, spectra and gradient statistics."""
        records = max(self._rows(), 1)
        measured = max(self._stats.measured, 1)
        return {"records": self._rows(), "spectra_seconds": self.spectra_seconds,
                "stats_seconds": self.stats_seconds, "stats_records": self._stats.measured,
                "spectra_seconds_per_record": self.spectra_seconds / records,
                "stats_seconds_per_record": self.stats_seconds / measured}

    # -- results -------------------------------------------------------------------------------
    def harvest(self, name=None):
        """The records so far: ``{name: Harvest}`` (default), one ``Harvest``, or a stacked one.

        ``name`` may be a recorded parameter name (models = 1) or a list of
        recorded names of equal shape, stacked along the models axis in that order.
        """
        if self._store is not None:
            data = self._store.read() if not self._closed else _read_file(self.out)
        else:
            mem = self._mem
            data = {"meta": dict(self.meta, diverged_step=self.diverged_step),
                    "steps": np.asarray(mem["steps"], dtype=np.int64), "loss": np.asarray(mem["loss"], float),
                    "ev": {n: np.asarray(mem["ev"][n], float) for n in self.names},
                    "sv": {n: np.asarray(mem["sv"][n], float) for n in self.names},
                    "w": {n: np.asarray(mem["w"][n], float) for n in self.names} if self.record_weights else None,
                    "stats": _stack_stats(mem["stats"], self.names) if self._stats.enabled else None}
        return _harvests(data, name)

    @staticmethod
    def load(out, name=None):
        """Read a file streamed by a recorder (finished or interrupted): as :meth:`harvest`."""
        return _harvests(_read_file(os.fspath(out)), name)

    # -- lifetime ------------------------------------------------------------------------------
    def detach(self) -> None:
        """Remove the optimizer hook and close the ``out`` file; :meth:`harvest` still works."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if self._store is not None and not self._closed:
            self._store.close()
        self._closed = True

    def _check_open(self, what):
        if self._closed:
            raise RuntimeError(f"`{what}`: this recorder has been detached; build a new one to record more")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()
        return False

    def __repr__(self) -> str:
        return (f"TorchRecorder(module={self.meta['module']}, names={len(self.names)}, every={self.every}, "
                f"gram={self.gram!r}, updates={self.updates}, out={self.out!r})")


# ----------------------------------------------------------------------------------- storage

class _Store:
    """The one store a recorder appends to (layout in the module docstring)."""

    def __init__(self, path, meta, shapes, gram, record_weights, overwrite, stats=False):
        dims, fields = {"record": None}, {"steps": (("record",), "i8"), "loss": (("record",), "f8")}
        self.names, self.stats = list(shapes), stats
        self.sizes = {}
        for name, (m, k) in shapes.items():
            group = f"spectra/{name}"
            dims[f"{group}/mode"] = self.sizes[name] = k if gram == "WtW" else m
            for key in ("eigenvalues", "singular_values"):
                fields[f"{group}/{key}"] = (("record", f"{group}/mode"), "f8")
            if stats:
                dims[f"{group}/mode2"] = self.sizes[name]
                for key in MODE_FIELDS:
                    fields[f"stats/{name}/{key}"] = (("record", f"{group}/mode"), "f8")
                for key in PAIR_FIELDS:
                    fields[f"stats/{name}/{key}"] = (("record", f"{group}/mode", f"{group}/mode2"), "f8")
            if record_weights:
                dims.update({f"{group}/row": m, f"{group}/col": k})
                fields[f"{group}/weights"] = (("record", f"{group}/row", f"{group}/col"), "f8")
        self.store = ChunkedStore(path, kind="recording", meta=meta, dims=dims, fields=fields, overwrite=overwrite,
                                  state={"diverged_step": np.int64(-1)},
                                  exists_hint="choose a new path or pass overwrite=True")
        self.path = self.store.path
        self.store.save_state({"diverged_step": np.int64(-1)})
        self.store.commit(0)
        self.records, self.capacity, self.last_step, self.last_loss = 0, 0, None, math.nan

    def write(self, step, loss, spectra):
        r = self.records
        if r and self.last_step == step:  # a second record at this step replaces the first
            r -= 1
            if math.isnan(loss):
                loss = self.last_loss
        if r >= self.capacity:  # grow by doubling: rows past records_done are never read
            self.capacity = max(16, 2 * self.capacity)
            self.store.grow("record", self.capacity)
        self.store.write("steps", r, step)
        self.store.write("loss", r, loss)
        for name, (ev, sv, w) in spectra.items():
            self.store.write(f"spectra/{name}/eigenvalues", r, ev)
            self.store.write(f"spectra/{name}/singular_values", r, sv)
            if w is not None:
                self.store.write(f"spectra/{name}/weights", r, w)
            if self.stats:  # placeholders until measured (every committed row has its checksums)
                for key, value in empty_statistics(ev.size).items():
                    self.store.write(f"stats/{name}/{key}", r, value)
        self.records, self.last_step, self.last_loss = r + 1, step, loss
        self.store.commit(self.records)

    def write_stats(self, row, stats):
        for name, values in stats.items():
            for key, value in values.items():
                self.store.write(f"stats/{name}/{key}", row, value)
        self.store.commit(self.records)

    def diverged(self, step):
        self.store.save_state({"diverged_step": np.int64(step)})
        self.store.commit(self.records)

    def read(self):
        self.store.flush()
        return _read_handle(self.store.fh)

    def close(self):
        self.store.discard()


def _read_file(path):
    if not os.path.exists(path):
        raise ValueError(f"`out` {path!r} does not exist")
    with open_h5(path, "r") as fh:
        if is_store(fh) and fh.attrs["kind"] == "recording":
            return _read_handle(fh)
        if not is_store(fh) and "meta" in fh.attrs and "records" in fh.attrs:
            return _read_before_store(fh)
        raise ValueError(f"`out` {path!r} is not a file written by TorchRecorder")


def _read_handle(fh):
    stored = read_store(fh)
    meta, a = stored["meta"], stored["arrays"]
    r = int(stored["done"])
    diverged = int(stored["state"]["diverged_step"])
    meta["diverged_step"] = None if diverged < 0 else diverged
    return _records(meta, r, lambda key: a[key])


def _read_before_store(fh):
    """The recorder's layout of earlier versions: the marker and divergence as attributes."""
    meta = json.loads(fh.attrs["meta"])
    diverged = int(fh.attrs["diverged_step"])
    meta["diverged_step"] = None if diverged < 0 else diverged
    return _records(meta, int(fh.attrs["records"]), lambda key: fh[key])


def _records(meta, r, get):
    names = meta["names"]
    weights = {n: get(f"spectra/{n}/weights")[:r] for n in names} if meta["record_weights"] else None
    stats = None
    if meta.get("gradient_statistics"):
        stats = {n: {key: get(f"stats/{n}/{key}")[:r] for key in MODE_FIELDS + PAIR_FIELDS} for n in names}
    return {"meta": meta, "steps": get("steps")[:r].astype(np.int64), "loss": get("loss")[:r],
            "ev": {n: get(f"spectra/{n}/eigenvalues")[:r] for n in names},
            "sv": {n: get(f"spectra/{n}/singular_values")[:r] for n in names}, "w": weights, "stats": stats}


def _stack_stats(per_name, names):
    """``{name: [record dicts]}`` -> ``{name: {field: (records, ...)}}``."""
    out = {}
    for n in names:
        rows = per_name[n]
        out[n] = {key: np.asarray([row[key] for row in rows], float) for key in MODE_FIELDS + PAIR_FIELDS}
    return out


def _harvests(data, name):
    meta = data["meta"]
    names = meta["names"]
    if data["steps"].size == 0:
        raise ValueError("the recorder holds no records yet (it was built with initial=False); "
                         "call step() or record() first")
    if name is None:
        return {n: _one(data, [n]) for n in names}
    if isinstance(name, str):
        group = [name]
    else:
        try:
            group = list(name)
        except TypeError:
            raise TypeError(f"`name` must be None, a recorded parameter name or a list of them, "
                            f"got {type(name).__name__}") from None
        if not group:
            raise ValueError("`name` must list at least one recorded parameter")
    for n in group:
        if n not in names:
            raise ValueError(f"`name`: {n!r} was not recorded; recorded parameters are: {', '.join(names)}")
    shapes = {tuple(meta["shapes"][n]) for n in group}
    if len(shapes) > 1:
        raise ValueError(f"`name`: stacked parameters must have one shape, got {sorted(shapes)}")
    return _one(data, group)


def _one(data, group) -> RecordedHarvest:
    meta = data["meta"]
    models = len(group)
    params = {"every": meta["every"], "shape": list(meta["shapes"][group[0]]), "dtype": meta["dtypes"][group[0]],
              "module": meta["module"], "names": list(group), "models": models}
    for key in ("lr", "batch_size", "diverged_step", "stats_source"):
        if meta.get(key) is not None:
            params[key] = meta[key]
    weights = None
    if data["w"] is not None:
        weights = np.stack([data["w"][n] for n in group])
    stats = None
    if data.get("stats") is not None:
        stats = {key: np.stack([data["stats"][n][key] for n in group]) for key in MODE_FIELDS + PAIR_FIELDS}
    return RecordedHarvest(
        stats=stats, stats_samples=int(meta.get("stats_samples") or 0),
        model=group[0] if models == 1 else "+".join(group),
        eigenvalues=np.stack([data["ev"][n] for n in group]),
        singular_values=np.stack([data["sv"][n] for n in group]),
        loss=np.tile(np.asarray(data["loss"], float), (models, 1)),
        steps=np.asarray(data["steps"], dtype=np.int64), params=params, seed=dict(meta["seed"]),
        model_ids=np.arange(models, dtype=np.int64), weights=weights, gram=meta["gram"])


class _StatsPlan:
    """When and on which samples a recorder measures per-sample gradient statistics."""

    def __init__(self, rec, loss_fn, data, samples):
        self.rec, self.loss_fn, self.pending, self.measured = rec, loss_fn, None, 0
        self.enabled = loss_fn is not None
        self.source, self.samples, self.data = None, None, None
        if loss_fn is None:
            if data is not None or samples is not None:
                raise ValueError("`data` and `stats_samples` need `loss_fn` (the per-sample loss whose gradients "
                                 "give drift and noise)")
            return
        if not callable(loss_fn):
            raise TypeError(f"`loss_fn` must be callable as loss_fn(output, target) -> scalar tensor, "
                            f"got {type(loss_fn).__name__}")
        for key in ("lr", "batch_size"):
            if key not in rec.meta:
                raise ValueError(f"`{key}` must be given with `loss_fn`: drift and noise are per update of "
                                 "plain SGD at this learning rate and batch size")
        if data is None:
            self.source, self.samples = "next batch", rec.meta["batch_size"]
            if samples is not None:
                raise ValueError("`stats_samples` needs `data` (with batch() the batch's own size is used)")
            return
        torch = _torch()
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise TypeError("`data` must be a pair (inputs, targets) of tensors with the samples on axis 0")
        inputs, targets = data
        first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        if not isinstance(first, torch.Tensor) or first.ndim == 0:
            raise TypeError("`data` inputs must be a tensor (or tuple of tensors) with the samples on axis 0")
        size = int(first.shape[0])
        self.samples = v.integer("stats_samples", size if samples is None else samples, minimum=2)
        if self.samples > size:
            raise ValueError(f"`stats_samples` must be <= the {size} samples of `data`, got {self.samples}")
        self.data, self.source = (inputs, targets), "data"
        self.rng = np.random.default_rng(0)  # which reference samples; independent of training's streams

    def at_record(self, row):
        if self.data is None:  # wait for the next batch, at these weights
            torch = _torch()
            with torch.no_grad():
                copies = {n: self.rec.module.get_parameter(n).detach().clone() for n in self.rec.names}
            self.pending = (row, copies)
            return
        inputs, targets = self.data
        size = int((inputs[0] if isinstance(inputs, (tuple, list)) else inputs).shape[0])
        idx = np.sort(self.rng.choice(size, self.samples, replace=False)) if self.samples < size else None
        pick = (lambda t: t) if idx is None else (lambda t: t[_torch().as_tensor(idx, device=t.device)])
        sub = tuple(pick(a) for a in inputs) if isinstance(inputs, (tuple, list)) else pick(inputs)
        self._measure(row, sub, None if targets is None else pick(targets))

    def on_batch(self, inputs, targets):
        if self.pending is None:
            return
        torch = _torch()
        row, copies = self.pending
        self.pending = None
        moved = [n for n in self.rec.names if not torch.equal(self.rec.module.get_parameter(n).detach(), copies[n])]
        if moved:
            warnings.warn("TorchRecorder.batch: the weights changed since the record (call batch(x, y) before "
                          "optimizer.step()); this record keeps no gradient statistics", RuntimeWarning,
                          stacklevel=3)
            return
        self._measure(row, inputs, targets)

    def _measure(self, row, inputs, targets):
        start = time.perf_counter()
        rec = self.rec
        grads = per_sample_gradients(rec.module, rec.names, self.loss_fn, inputs, targets)
        stats = {}
        for name in rec.names:
            W = rec.module.get_parameter(name).detach().to("cpu", _torch().float64).numpy()
            G = grads[name]
            if not (np.all(np.isfinite(W)) and np.all(np.isfinite(G))):
                warnings.warn(f"TorchRecorder: non-finite per-sample gradients of {name!r} at row {row}; that "
                              "record keeps no gradient statistics", RuntimeWarning, stacklevel=4)
                return
            stats[name] = projected_statistics(W, G, gram=rec.gram, lr=rec.meta["lr"],
                                               batch_size=rec.meta["batch_size"], name=name)
        rec._write_stats(row, stats)
        self.measured += 1
        if self.data is None:
            rec.meta["stats_samples"] = int(G.shape[0])
        rec.stats_seconds += time.perf_counter() - start
