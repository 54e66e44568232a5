"""Paper 1's N = 2 teacher–student model with injected GOE-like gradient noise.

Protocol (Aarts, Lucini, Park, arXiv:2407.16427, §III; SCIENCE.md §6):

* teacher W_t = 2·1 (2×2), a doubly degenerate target;
* data: x ~ N(0, 1₂), y = W_t x; a fixed dataset of |B|·500 samples (``epoch_batches``
  batches), swept in order, batch b = samples b|B| … (b+1)|B|−1;
* loss per sample ½‖y − W_s x‖²; its gradient (W_s − W_t) x xᵀ vanishes at the
  solution, so a symmetric Gaussian matrix a_n (off-diagonal std ε, diagonal
  std √2 ε: GOE-like) is drawn once per sample and added to that sample's
  gradient, the same a_n every epoch;
* update W_s ← W_s + α · mean_{n∈B}[(W_t − W_s) x_n x_nᵀ + a_n]
  (the sign of a_n is immaterial, its law is symmetric);
* W_s(0) entries ~ N(0, 0.1²); the observable is the pair of singular values
  of W_s, which settle around 2 with a spacing S whose mean grows linearly in
  √(α ε²/|B|).

Random streams: model i draws, from its own stream and in this order, W_s(0)
(2×2), then the dataset x (S×2), then the noise matrices (S×3: a₁₁, a₂₂, a₁₂).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .. import _validate as v
from .._jit import njit
from ..cuda import training as cuda_training
from ._kernels import mean_loss, pick_device
from ._loop import check_common, check_footprint, check_run_options, replay_init, run_ensemble

__all__ = ["teacher_student", "per_sample_gradients", "degenerate_groups", "GRAM"]

GRAM = "WtW"
NAME = "teacher-student"


def teacher_student(*, lr: float = 0.1, batch_size: int = 16, eps: float = 0.1, models: int = 3000,
                    steps: int = 5000, record_every: int = 50, seed=0, teacher: float = 2.0,
                    init_std: float = 0.1, epoch_batches: int = 500, divergence_loss: float = 100.0,
                    out=None, resume: bool = False, progress: bool | None = None,
                    record_weights: bool = True, device: str = "cpu", fallback: bool = False,
                    block_models: int | None = None):
    """Train an ensemble of paper 1's 2×2 teacher–student models with injected noise.

    Parameters
    ----------
    lr, batch_size : float, int
        Learning rate α > 0 and batch size |B| ≥ 1.
    eps : float
        Injected noise scale ε ≥ 0 (off-diagonal std ε, diagonal std √2 ε).
    models, steps, record_every : int
        Independent models (one random stream each), SGD updates, and updates between records.
    seed : int, SeedSequence or Generator
    teacher : float
        The teacher is ``teacher`` times the identity (2 in the paper).
    init_std : float
        Std of the student's initial entries (0.1).
    epoch_batches : int
        Batches in the fixed dataset (500: the dataset has |B|·500 samples).
    divergence_loss : float
        A model whose batch loss exceeds this (or is not finite) is stopped and flagged.
    out : path, optional
        Stream records to this HDF5 file (``resume=True`` continues an interrupted run).
    device : {"cpu", "cuda"}
        ``"cuda"``: run the updates on an NVIDIA GPU (:mod:`coulombgas.cuda.training`, one thread
        per model; datasets and initial weights still drawn here, so the same results within
        rounding); without one, ValueError unless ``fallback=True`` (warn, run on the CPU).
    block_models : int, optional
        Models trained at once (memory); default: what fits in ~200 MB (CPU) or in a quarter
        of the GPU's free memory.

    Returns
    -------
    Harvest
        ``eigenvalues`` of X = W_sᵀW_s and ``singular_values`` of W_s, (models, records, 2);
        ``loss`` is the mean batch loss since the previous record (at record 0: the first batch).
    """
    # Every check before any work, on either device: flags, sizes and the memory the run needs.
    check_run_options(out, resume, progress, record_weights)
    params, models, steps, record_every = validated(lr, batch_size, eps, models, steps, record_every, teacher,
                                                    init_std, epoch_batches, divergence_loss)
    per_model = 40.0 * params["batch_size"] * params["epoch_batches"]  # inputs x (2) and noises a (3)
    check_footprint(models=models, steps=steps, record_every=record_every, weight_shape=(2, 2), gram=GRAM,
                    data_bytes=per_model, block_models=max(1, int(2e8 // per_model)),
                    record_weights=record_weights)
    cpu_block = max(1, int(2e8 // (48 * params["batch_size"] * params["epoch_batches"])))
    run, block_models = pick_device(device, fallback, block_models, advance, cuda_advance,
                                    cpu_block=cpu_block, device_bytes=per_model, models=models)
    return run_ensemble(init, run, GRAM, params, models=models, steps=steps, record_every=record_every, seed=seed,
                        name=NAME, out=out, resume=resume, progress=progress, block_models=block_models,
                        record_weights=record_weights)


def validated(lr, batch_size, eps, models, steps, record_every, teacher, init_std, epoch_batches,
              divergence_loss):
    """Checked arguments of :func:`teacher_student` (CPU and GPU): ``(params, models, steps, record_every)``."""
    lr, batch_size, models, steps, record_every = check_common(lr, batch_size, models, steps, record_every)
    params = {
        "lr": lr, "batch_size": batch_size, "eps": v.nonnegative("eps", eps),
        "teacher": v.real("teacher", teacher), "init_std": v.nonnegative("init_std", init_std),
        "epoch_batches": v.integer("epoch_batches", epoch_batches, minimum=1),
        "divergence_loss": v.positive("divergence_loss", divergence_loss),
    }
    return params, models, steps, record_every


def init(params, gens):
    """Initial weights and the fixed dataset of every model (stream order in the module docstring)."""
    count, size = len(gens), params["batch_size"] * params["epoch_batches"]
    W = np.empty((count, 2, 2))
    x = np.empty((count, size, 2))
    a = np.empty((count, size, 3))
    scale = np.array([math.sqrt(2.0), math.sqrt(2.0), 1.0]) * params["eps"]
    for i, g in enumerate(gens):
        W[i] = params["init_std"] * g.standard_normal((2, 2))
        x[i] = g.standard_normal((size, 2))
        a[i] = g.standard_normal((size, 3)) * scale
    return {"x": x, "a": a}, {"W": W}


def advance(data, state, gens, n_steps, params):
    """``n_steps`` SGD updates of every model (see :mod:`coulombgas.training._loop`)."""
    return _advance(data["x"], data["a"], state["W"], state["step"], state["diverged"], n_steps,
                    params["lr"], params["batch_size"], params["teacher"], params["divergence_loss"])


def cuda_advance(data, state, gens, n_steps, params):
    """:func:`advance` on the GPU: :func:`update_model` compiled for the device, one thread per model."""
    return cuda_training.teacher_student_advance(data, state, gens, n_steps, params, update=update_model)


@njit
def update_model(x, a, w11, w12, w21, w22, step, n_steps, lr, bs, teacher, limit):
    """``n_steps`` SGD updates of one model: the body the CPU and the CUDA kernels both compile.

    W_s ← W_s + (α/|B|) Σ_{n∈B} [(W_t − W_s) x_n x_nᵀ + a_n] on batch ``step`` mod (S/|B|)
    of the model's dataset ``x`` (S, 2) and noises ``a`` (S, 3: a₁₁, a₂₂, a₁₂), any strides;
    W_s = [[w11, w12], [w21, w22]]. Returns ``(w11, w12, w21, w22, total, step, flag)``:
    the summed batch losses, the update count, and ``flag`` = the update at which the batch
    loss exceeded ``limit`` (counted from 1; 0 if none). ``n_steps = 0`` only measures
    the next batch's loss.
    """
    size = x.shape[0]
    total = 0.0
    flag = 0
    for it in range(n_steps if n_steps > 1 else 1):  # not max(): the CUDA target refuses it
        start = (step % (size // bs)) * bs
        # Residual matrix R = W_t − W_s; per-sample gradient step R x xᵀ + a.
        r11, r12, r21, r22 = teacher - w11, -w12, -w21, teacher - w22
        g11 = g12 = g21 = g22 = 0.0
        batch_loss = 0.0
        for n in range(start, start + bs):
            x1, x2 = x[n, 0], x[n, 1]
            e1 = r11 * x1 + r12 * x2  # y − W_s x
            e2 = r21 * x1 + r22 * x2
            batch_loss += 0.5 * (e1 * e1 + e2 * e2)
            g11 += e1 * x1 + a[n, 0]
            g12 += e1 * x2 + a[n, 2]
            g21 += e2 * x1 + a[n, 2]
            g22 += e2 * x2 + a[n, 1]
        batch_loss /= bs
        total += batch_loss
        if n_steps == 0:
            break
        if not (batch_loss <= limit):  # also catches NaN
            flag = step + 1
            break
        c = lr / bs
        w11 += c * g11
        w12 += c * g12
        w21 += c * g21
        w22 += c * g22
        step += 1
    return w11, w12, w21, w22, total, step, flag


@njit(parallel=True)
def _advance(x, a, W, step, diverged, n_steps, lr, bs, teacher, limit):
    """:func:`update_model` for every model in parallel; inputs are validated by the caller."""
    loss_out = np.full(x.shape[0], np.nan)  # NaN stays for a model stopped earlier
    for m in prange(x.shape[0]):
        if diverged[m] == 0:
            W[m, 0, 0], W[m, 0, 1], W[m, 1, 0], W[m, 1, 1], total, step[m], diverged[m] = update_model(
                x[m], a[m], W[m, 0, 0], W[m, 0, 1], W[m, 1, 0], W[m, 1, 1], step[m], n_steps, lr, bs, teacher,
                limit)
            loss_out[m] = mean_loss(total, n_steps, diverged[m])
    return loss_out


def per_sample_gradients(harvest, record: int = -1, samples: int | None = None):
    """Per-sample loss gradients at recorded weights, with the injected noise.

    Returns ``(W, G)``: W (models, 2, 2) the weights at ``record`` and G
    (models, S, 2, 2) the per-sample gradients G_n = (W − W_t) x_n x_nᵀ − a_n
    over the first S = ``samples`` samples (default: the whole dataset) of each
    model's own training set, so that one SGD update is W ← W − α mean_{n∈B} G_n.
    The datasets are regenerated from the harvest's seed.
    """
    if harvest.weights is None:
        raise ValueError("the harvest has no weights (train with record_weights=True)")
    data, _ = replay_init(init, harvest)
    W = harvest.weights[:, record]
    x, a = data["x"][:, :samples], data["a"][:, :samples]
    R = W - harvest.params["teacher"] * np.eye(2)
    A = np.empty(a.shape[:-1] + (2, 2))
    A[..., 0, 0], A[..., 1, 1], A[..., 0, 1], A[..., 1, 0] = a[..., 0], a[..., 1], a[..., 2], a[..., 2]
    return W, np.einsum("mij,mnj,mnk->mnik", R, x, x) - A


def degenerate_groups(harvest=None) -> list[tuple[int, ...]]:
    """The teacher 2·1 is doubly degenerate: the two modes form one pair."""
    return [(0, 1)]
