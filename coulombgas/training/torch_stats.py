"""Per-sample gradient statistics of a PyTorch module's weight matrices, in the eigenbasis of X.

:class:`~coulombgas.training.torch_hook.TorchRecorder` calls this module at a record
when it was given a ``loss_fn``: the per-sample gradients G_b = ∇_W ℓ(f(x_b), y_b) of
every recorded matrix W come from ``torch.func`` (``vmap`` of ``grad`` through
``functional_call``, so the user writes no gradient code and the module's own
``.grad`` is never touched), and their moments in the eigenbasis of X = WᵀW (or WWᵀ)
from :func:`coulombgas.training.drift_noise.estimate_drift_noise` — the same
quantities, kernel and conventions as :class:`~coulombgas.training.drift_noise.DriftNoise`
(module docstring there):

* drift K_i = mean_b (D_b)_ii and its standard error, per unit lr and per update;
* noise g_i² = Var_b (D_b)_ii / 2 and its standard error;
* the pair coefficients C_ij = Var_b (D_b)_ij (``variance``) and the mean change D̄
  (``mean_change``), ‖Ḡu_i‖² (``gbar2``) and Q_i (``ito``),

with D_b = Uᵀ δX_b U, δX_b = −(G_bᵀW + WᵀG_b). Means and variances are over the
S samples given (ddof 0), which the SDE of SCIENCE.md §2 reads as the population a
batch of |B| is drawn from.

Convention on the loss: ``loss_fn(output, target)`` applied to a batch of one sample
is that sample's loss ℓ_b, and the training loss of a batch is the mean of the ℓ_b
(true of PyTorch's losses with ``reduction="mean"`` whenever each sample has the same
number of outputs), so one plain SGD update is W ← W − α mean_{b∈B} G_b.

Which batch: the statistics at a record must be measured at the recorded weights on
samples that did not produce them. The batch just applied by ``optimizer.step()`` is
correlated with the weights it moved (to order α it biases the measured dK/dx by
+2, enough to make a confining drift look repulsive), so the recorder uses either a
fixed reference set (``data=``), or the next batch the loop hands over *before* its
update (:meth:`TorchRecorder.batch`).

Reference: G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (the SDE);
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (drift against noise).
"""

from __future__ import annotations

import warnings

import numpy as np

from .drift_noise import DriftNoise, estimate_drift_noise
from .harvest import Harvest

__all__ = ["MODE_FIELDS", "PAIR_FIELDS", "per_sample_gradients", "projected_statistics", "empty_statistics",
           "as_drift_noise"]

#: Per-mode statistics, each (n,) per record.
MODE_FIELDS = ("drift", "drift_err", "g2", "g2_err", "gbar2", "ito")
#: Pair statistics, each (n, n) per record.
PAIR_FIELDS = ("variance", "mean_change")


def _as_tuple(inputs):
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def per_sample_gradients(module, names, loss_fn, inputs, targets=None) -> dict:
    """Per-sample gradients of the parameters ``names`` of ``module``: ``{name: ndarray (S, m, k)}``.

    ``inputs`` is a tensor or a tuple of tensors (the module's positional arguments),
    each with the samples on axis 0; ``targets`` a tensor with samples on axis 0 or
    None. Computed as ``vmap(grad(ℓ))`` over the samples with every other parameter
    and buffer held fixed (``torch.func.functional_call``); dropout draws differently
    per sample. Returns float64 arrays on the CPU.
    """
    import torch
    from torch.func import functional_call, grad, vmap

    args = _as_tuple(inputs)
    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        raise TypeError("`inputs` must be a tensor or a tuple of tensors with the samples on axis 0")
    S = int(args[0].shape[0]) if args[0].ndim else 0
    if S < 2 or any(a.ndim == 0 or a.shape[0] != S for a in args):
        raise ValueError(f"`inputs` must hold at least 2 samples along axis 0 of every tensor, got shapes "
                         f"{[tuple(a.shape) for a in args]}")
    if targets is not None:
        if not isinstance(targets, torch.Tensor):
            raise TypeError(f"`targets` must be a tensor or None, got {type(targets).__name__}")
        if targets.ndim == 0 or targets.shape[0] != S:
            raise ValueError(f"`targets` must hold {S} samples along axis 0, got shape {tuple(targets.shape)}")
    params = dict(module.named_parameters())
    chosen = {n: params[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in params.items() if n not in chosen}
    buffers = {n: b.detach() for n, b in module.named_buffers()}

    def sample_loss(weights, sample_args, target):
        batch = tuple(a.unsqueeze(0) for a in sample_args)
        out = functional_call(module, (weights, fixed, buffers), batch)
        loss = loss_fn(out, None if target is None else target.unsqueeze(0))
        return loss.reshape(())

    target_dim = None if targets is None else 0
    try:
        grads = vmap(grad(sample_loss), in_dims=(None, 0, target_dim), randomness="different")(
            chosen, args, targets)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ValueError(f"`loss_fn`: per-sample gradients through torch.func failed ({exc}); the module must "
                         "run on a batch of one sample (no BatchNorm in training mode) and loss_fn(output, "
                         "target) must return a scalar") from None
    return {n: grads[n].detach().to("cpu", torch.float64).numpy() for n in names}


def projected_statistics(W, G, *, gram: str, lr: float, batch_size: int, name: str = "") -> dict:
    """The :class:`DriftNoise` quantities of one matrix W (m, k) from its per-sample gradients G (S, m, k).

    Calls :func:`~coulombgas.training.drift_noise.estimate_drift_noise` on a one-record,
    one-model harvest. Returns ``{field: ndarray}`` for :data:`MODE_FIELDS` (n,) and
    :data:`PAIR_FIELDS` (n, n). Degenerate eigenvalues (the exact zeros of WᵀW when
    k > m) are expected here: the first-order fields are exact; the warning about
    their second-order terms is left to whoever reads them.
    """
    W = np.asarray(W, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    from .harvest import spectra_of

    ev, sv = spectra_of(W, gram)
    h = Harvest(model=name, eigenvalues=ev[None, None], singular_values=sv[None, None], loss=np.zeros((1, 1)),
                steps=np.zeros(1, dtype=np.int64), params={"lr": lr, "batch_size": batch_size}, seed={},
                model_ids=np.zeros(1, dtype=np.int64), weights=W[None, None], gram=gram)
    import numba

    # The kernel runs its models in parallel; with one model, waking a thread pool costs
    # 2000x the work (54 ms against 25 µs for a 6x8 matrix on this 2-core machine).
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            est = estimate_drift_noise(h, lambda harvest, record: (W[None], G[None]), records=[0])
    finally:
        numba.set_num_threads(threads)
    return {f: getattr(est, f)[0, 0] for f in MODE_FIELDS + PAIR_FIELDS}


def empty_statistics(n: int) -> dict:
    """NaN placeholders of one record's statistics (a record whose gradients were not measured)."""
    out = {f: np.full(n, np.nan) for f in MODE_FIELDS}
    out.update({f: np.full((n, n), np.nan) for f in PAIR_FIELDS})
    return out


def as_drift_noise(stats: dict, eigenvalues, steps, *, lr, batch_size, samples, gram, model,
                   records=None) -> DriftNoise:
    """A :class:`DriftNoise` from stored statistics.

    ``stats[field]`` has shape (models, records, n[, n]) and ``eigenvalues``
    (models, records, n); ``records`` picks the records (default: those where every
    model's statistics are finite). Raises ValueError when no record has statistics.
    """
    drift = np.asarray(stats["drift"], float)
    ok = np.all(np.isfinite(drift), axis=(0, 2))
    if records is None:
        records = np.flatnonzero(ok)
    records = np.asarray(records, dtype=np.int64)
    if records.size == 0 or not np.all(ok[records]):
        raise ValueError("the recording has no gradient statistics at these records: build the recorder with "
                         "loss_fn= (and data= or batch() before each update) to measure drift and noise")
    models = drift.shape[0]
    return DriftNoise(**{f: np.asarray(stats[f], float)[:, records] for f in MODE_FIELDS + PAIR_FIELDS},
                      eigenvalues=np.asarray(eigenvalues, float)[:, records], records=records,
                      steps=np.asarray(steps, dtype=np.int64)[records], model_ids=np.arange(models, dtype=np.int64),
                      lr=float(lr), batch_size=int(batch_size), samples=int(samples), gram=gram, model=str(model))
