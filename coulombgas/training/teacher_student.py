"""Paper 1's N = 2 teacher–student model with injected GOE-like gradient noise.

Protocol (Aarts, Lucini, Park, arXiv:2407.16427, §III; SCIENCE.md §6):

* teacher W_t = 2·1 (2×2), a doubly degenerate target;
* data: x ~ N(0, 1₂), y = W_t x; a fixed dataset of |B|·500 samples (``epoch_batches``
  batches), by default swept in order, batch b = samples b|B| … (b+1)|B|−1;
* loss per sample ½‖y − W_s x‖²; its gradient (W_s − W_t) x xᵀ vanishes at the
  solution, so a symmetric Gaussian matrix a_n (off-diagonal std ε, diagonal
  std √2 ε: GOE-like) is drawn once per sample and added to that sample's
  gradient, by default the same a_n every epoch;
* update W_s ← W_s + α · mean_{n∈B}[(W_t − W_s) x_n x_nᵀ + a_n]
  (the sign of a_n is immaterial, its law is symmetric);
* W_s(0) entries ~ N(0, 0.1²); the observable is the pair of singular values
  of W_s, which settle around 2 with a spacing S whose mean grows linearly in
  √(α ε²/|B|).

Protocols (options of :func:`teacher_student`, named as practitioners say them):

``data_seed``
    ``None`` (default): every model draws its own dataset from its own stream. An int
    ≥ 0 or a ``SeedSequence``: one dataset is drawn from it and **shared by every
    model** — the authors' released script (``check_mp_ts.py``) draws the inputs once
    per setting; only W_s(0) and the noise a_n differ between seeds, so the ensemble is
    one dataset's (quenched disorder, SCIENCE.md §8).
``batch_order``
    ``"in-order"`` (default): update t uses batch t mod ``epoch_batches``.
    ``"reshuffle"``: each epoch sweeps a new uniformly random permutation of the dataset
    (Fisher–Yates from the model's stream, drawn when the epoch's first batch is needed).
    ``"with-replacement"``: each batch is |B| sample indices drawn uniformly with
    replacement (⌊u·S⌋ with u uniform on [0, 1) from 53 bits: the bias, below S·2⁻⁵³, is
    negligible).
``noise_draw``
    ``"per-sample"`` (default): a_n drawn once per sample and reused every epoch
    (paper 1). ``"per-step"``: a fresh a drawn for every sample of every update.

:data:`PAPER1` is the authors' protocol as keyword arguments (shared data, in order,
noise per sample, |B|·500 samples, 5,000 updates, 3,000 seeds):
``teacher_student(lr=0.2, **PAPER1)``.

Random streams: model i draws, from its own stream and in this order, W_s(0)
(2×2), then its dataset x (S×2) unless the data are shared, then its noise
matrices (S×3: a₁₁, a₂₂, a₁₂) unless the noise is drawn per step, then, when the
batch order is random or the noise is drawn per step, the 4 words seeding its
in-kernel xoshiro256++ stream (:mod:`coulombgas._prng`, the same on the CPU and the
GPU). A shared dataset is ``Generator(PCG64(SeedSequence(data_seed))).standard_normal((S, 2))``.
The in-kernel stream is used, per update, for the epoch's permutation (at its first
batch) or the batch's indices, then for the per-step noise (a₁₁, a₂₂, a₁₂ per sample
in batch order); a loss-only pass draws no noise, so records do not change the
stream. With the defaults the streams (and results) are those of earlier versions.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numba import int64, prange

from .. import _prng, _rng
from .. import _validate as v
from .._jit import njit
from ..cuda import training as cuda_training
from ._kernels import loss_carry, mean_loss, pick_device, with_loss_sum
from ._loop import check_common, check_footprint, check_run_options, replay_init, run_ensemble

__all__ = ["teacher_student", "per_sample_gradients", "degenerate_groups", "GRAM", "BATCH_ORDERS", "NOISE_DRAWS",
           "PAPER1", "shared_dataset", "check_protocol"]

GRAM = "WtW"
NAME = "teacher-student"
#: Accepted ``batch_order`` values, in the kernels' numbering (0, 1, 2).
BATCH_ORDERS = ("in-order", "reshuffle", "with-replacement")
#: Accepted ``noise_draw`` values.
NOISE_DRAWS = ("per-sample", "per-step")
#: Paper 1's protocol as in the authors' released script: one dataset of |B|·500 samples shared by every
#: seed, swept in order, noise fixed per sample; 5,000 updates, 3,000 seeds per setting.
PAPER1 = {"data_seed": 0, "batch_order": "in-order", "noise_draw": "per-sample", "epoch_batches": 500,
          "steps": 5000, "models": 3000}


def teacher_student(*, lr: float = 0.1, batch_size: int = 16, eps: float = 0.1, models: int = 3000,
                    steps: int = 5000, record_every: int = 50, seed=0, teacher: float = 2.0,
                    init_std: float = 0.1, epoch_batches: int = 500, divergence_loss: float = 100.0,
                    data_seed=None, batch_order: str = "in-order", noise_draw: str = "per-sample",
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
    data_seed : None, int >= 0 or SeedSequence
        None: a dataset per model (drawn from the model's stream); else one dataset drawn
        from ``data_seed`` and shared by every model (the authors' protocol, :data:`PAPER1`).
    batch_order : {"in-order", "reshuffle", "with-replacement"}
        How batches are taken from the dataset (module docstring).
    noise_draw : {"per-sample", "per-step"}
        Injected noise fixed per sample and reused every epoch, or drawn afresh every update.
    out : path, optional
        Stream records to this HDF5 file (``resume=True`` continues an interrupted run; a
        file written with other protocol options is refused).
    device : {"cpu", "cuda"}
        ``"cuda"``: run the updates on an NVIDIA GPU (:mod:`coulombgas.cuda.training`, one thread
        per model; datasets and initial weights still drawn here, so the same results within
        rounding, for every protocol); without one, ValueError unless ``fallback=True``
        (warn, run on the CPU).
    block_models : int, optional
        Models trained at once (memory); default: what fits in ~200 MB (CPU) or in a quarter
        of the GPU's free memory.

    Returns
    -------
    Harvest
        ``eigenvalues`` of X = W_sᵀW_s and ``singular_values`` of W_s, (models, records, 2);
        ``loss`` is the mean batch loss since the previous record (at record 0: the first batch).
        ``params`` records the protocol (``data_seed``, ``batch_order``, ``noise_draw``), so that
        :func:`per_sample_gradients`, resume and :func:`coulombgas.training.exact.predict` reproduce it.

    Raises
    ------
    ValueError, TypeError
        Naming the parameter: unknown ``batch_order``/``noise_draw``, a bad ``data_seed``.
    """
    # Every check before any work, on either device: flags, sizes and the memory the run needs.
    check_run_options(out, resume, progress, record_weights)
    params, models, steps, record_every = validated(lr, batch_size, eps, models, steps, record_every, teacher,
                                                    init_std, epoch_batches, divergence_loss, data_seed,
                                                    batch_order, noise_draw)
    size = params["batch_size"] * params["epoch_batches"]
    data_seed, order, draw = protocol_of(params)
    shared = data_seed is not None
    # Per model: inputs x (2 doubles) unless shared, noises a (3) unless per step, a permutation (1 int).
    per_model = 8.0 * size * ((0 if shared else 2) + (0 if draw == "per-step" else 3)
                              + (1 if order == "reshuffle" else 0)) + 64.0
    check_footprint(models=models, steps=steps, record_every=record_every, weight_shape=(2, 2), gram=GRAM,
                    data_bytes=per_model + (16.0 * size if shared else 0.0),
                    block_models=max(1, int(2e8 // per_model)), record_weights=record_weights)
    cpu_block = max(1, int(2e8 // (1.2 * per_model)))
    run, block_models = pick_device(device, fallback, block_models, advance, cuda_advance,
                                    cpu_block=cpu_block, device_bytes=per_model, models=models)
    return run_ensemble(init, run, GRAM, params, models=models, steps=steps, record_every=record_every, seed=seed,
                        name=NAME, out=out, resume=resume, progress=progress, block_models=block_models,
                        record_weights=record_weights)


def check_protocol(data_seed, batch_order, noise_draw):
    """The protocol options checked: ``(data_seed, batch_order, noise_draw)`` with ``data_seed`` as data.

    ``data_seed`` comes back as None, an int, or a seed record (dict of ``entropy`` and
    ``spawn_key``, :func:`coulombgas._rng.seed_record`) for a ``SeedSequence``; a record is
    accepted too (a harvest's ``params`` round-trip).
    """
    batch_order = v.one_of("batch_order", batch_order, BATCH_ORDERS)
    noise_draw = v.one_of("noise_draw", noise_draw, NOISE_DRAWS)
    if data_seed is not None:
        if isinstance(data_seed, np.random.SeedSequence):
            data_seed = _rng.seed_record(data_seed)
        elif isinstance(data_seed, dict):
            if set(data_seed) != {"entropy", "spawn_key"}:
                raise ValueError("`data_seed` given as a dict must be a seed record with keys 'entropy' and "
                                 f"'spawn_key', got keys {sorted(data_seed)}")
            data_seed = {"entropy": data_seed["entropy"], "spawn_key": [int(k) for k in data_seed["spawn_key"]]}
        elif isinstance(data_seed, numbers.Integral) and not isinstance(data_seed, (bool, np.bool_)):
            data_seed = v.integer("data_seed", data_seed, minimum=0)
        else:
            raise TypeError("`data_seed` must be None (a dataset per model), an int >= 0 or a numpy SeedSequence "
                            f"(one dataset shared by every model), got {type(data_seed).__name__}")
    return data_seed, batch_order, noise_draw


def validated(lr, batch_size, eps, models, steps, record_every, teacher, init_std, epoch_batches,
              divergence_loss, data_seed=None, batch_order="in-order", noise_draw="per-sample"):
    """Checked arguments of :func:`teacher_student` (CPU and GPU): ``(params, models, steps, record_every)``.

    The protocol keys enter ``params`` only when they differ from the defaults, so a default
    run's parameters (and the files it writes) are those of earlier versions.
    """
    lr, batch_size, models, steps, record_every = check_common(lr, batch_size, models, steps, record_every)
    data_seed, batch_order, noise_draw = check_protocol(data_seed, batch_order, noise_draw)
    params = {
        "lr": lr, "batch_size": batch_size, "eps": v.nonnegative("eps", eps),
        "teacher": v.real("teacher", teacher), "init_std": v.nonnegative("init_std", init_std),
        "epoch_batches": v.integer("epoch_batches", epoch_batches, minimum=1),
        "divergence_loss": v.positive("divergence_loss", divergence_loss),
    }
    params.update(protocol_params(data_seed, batch_order, noise_draw))
    return params, models, steps, record_every


def protocol_params(data_seed, batch_order, noise_draw) -> dict:
    """The protocol keys a harvest records: only those that differ from the defaults."""
    out = {}
    if data_seed is not None:
        out["data_seed"] = data_seed
    if batch_order != "in-order":
        out["batch_order"] = batch_order
    if noise_draw != "per-sample":
        out["noise_draw"] = noise_draw
    return out


def protocol_of(params) -> tuple:
    """``(data_seed, batch_order, noise_draw)`` of a harvest's ``params`` (defaults where absent)."""
    return (params.get("data_seed"), params.get("batch_order", "in-order"), params.get("noise_draw", "per-sample"))


def shared_dataset(data_seed, size: int) -> np.ndarray:
    """The inputs x (size, 2) that every model shares under ``data_seed`` (module docstring)."""
    data_seed, _, _ = check_protocol(data_seed, "in-order", "per-sample")
    if data_seed is None:
        raise ValueError("`data_seed` is None: each model draws its own dataset (nothing shared)")
    ss = _rng.from_record(data_seed) if isinstance(data_seed, dict) else np.random.SeedSequence(data_seed)
    return np.random.Generator(np.random.PCG64(ss)).standard_normal((int(size), 2))


def init(params, gens):
    """Initial weights, datasets and kernel streams of every model (stream order in the module docstring)."""
    count, size = len(gens), params["batch_size"] * params["epoch_batches"]
    data_seed, order, draw = protocol_of(params)
    shared = data_seed is not None
    per_step = draw == "per-step"
    W = np.empty((count, 2, 2))
    x = shared_dataset(data_seed, size)[None] if shared else np.empty((count, size, 2))
    a = np.empty((count, 0 if per_step else size, 3))
    scale = np.array([math.sqrt(2.0), math.sqrt(2.0), 1.0]) * params["eps"]
    needs_stream = per_step or order != "in-order"
    state = {"W": W}
    if needs_stream:
        state["rng"] = np.zeros((count, 4), dtype=np.uint64)
        length = size if order == "reshuffle" else (params["batch_size"] if order == "with-replacement" else 0)
        state["order"] = np.empty((count, length), dtype=np.int64)
        state["order"][:] = np.arange(length)  # a permutation to shuffle (reshuffle); overwritten (replacement)
        state["order_at"] = np.full(count, -1, dtype=np.int64)
    for i, g in enumerate(gens):
        W[i] = params["init_std"] * g.standard_normal((2, 2))
        if not shared:
            x[i] = g.standard_normal((size, 2))
        if not per_step:
            a[i] = g.standard_normal((size, 3)) * scale
        if needs_stream:
            state["rng"][i] = _prng.seed_state(g)
    return {"x": x, "a": a}, with_loss_sum(state)


def kernel_args(state, params):
    """The protocol arguments of :func:`update_model` every model shares, and each model's stream arrays.

    Returns ``(mode, per_step, rng, order, order_at)``: the batch-order code (index in
    :data:`BATCH_ORDERS`), whether noise is drawn per step, and the state's arrays (empty
    stand-ins for the default protocol, which draws nothing in the kernel).
    """
    _, order, draw = protocol_of(params)
    count = state["W"].shape[0]
    if "rng" in state:
        rng, perm, at = state["rng"], state["order"], state["order_at"]
    else:
        rng, perm, at = np.zeros((count, 4), np.uint64), np.zeros((count, 0), np.int64), np.zeros(count, np.int64)
    return BATCH_ORDERS.index(order), draw == "per-step", rng, perm, at


def advance(data, state, gens, n_steps, params):
    """``n_steps`` SGD updates of every model (see :mod:`coulombgas.training._loop`)."""
    mode, per_step, rng, order, at = kernel_args(state, params)
    eps = params["eps"]
    return _advance(data["x"], data["a"], state["W"], state["step"], state["diverged"], loss_carry(state), n_steps,
                    params["lr"], params["batch_size"], params["teacher"], params["divergence_loss"], mode,
                    per_step, math.sqrt(2.0) * eps, eps, rng, order, at, _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F,
                    _prng.ZIG_R)


def cuda_advance(data, state, gens, n_steps, params):
    """:func:`advance` on the GPU: :func:`update_model` compiled for the device, one thread per model."""
    return cuda_training.teacher_student_advance(data, state, gens, n_steps, params, update=update_model,
                                                 protocol=kernel_args(state, params))


@njit
def sample_index(pos, step, size, bs, mode, s, order, order_at):
    """Dataset index of the sample at position ``pos`` of update ``step``'s batch; may draw (returns it, order_at).

    ``mode`` 0: in order; 1: position in this epoch's permutation ``order`` (shuffled in
    place, Fisher–Yates from the stream ``s``, when ``order_at`` is not this epoch);
    2: ``order`` holds the batch's indices drawn with replacement (drawn when ``order_at``
    is not this update).
    """
    nb = size // bs
    if mode == 0:
        return (step % nb) * bs + pos, order_at
    if mode == 1:
        epoch = step // nb
        if order_at != epoch:
            for i in range(size - 1, 0, -1):
                j = int64(_prng.uniform(s) * (i + 1))
                t = order[i]
                order[i] = order[j]
                order[j] = t
            order_at = epoch
        return order[(step % nb) * bs + pos], order_at
    if order_at != step:
        for i in range(bs):
            order[i] = int64(_prng.uniform(s) * size)
        order_at = step
    return order[pos], order_at


@njit
def update_model(x, a, w11, w12, w21, w22, step, total, n_steps, lr, bs, teacher, limit, mode, per_step, scale_diag,
                 scale_off, s, order, order_at, zw, zk, zf, zr):
    """``n_steps`` SGD updates of one model: the body the CPU and the CUDA kernels both compile.

    W_s ← W_s + (α/|B|) Σ_{n∈B} [(W_t − W_s) x_n x_nᵀ + a_n] on update ``step``'s batch
    (:func:`sample_index`, by the protocol ``mode``) of the model's dataset ``x`` (S, 2) and
    noises ``a`` (S, 3: a₁₁, a₂₂, a₁₂; unused when ``per_step``: then drawn from the stream
    ``s`` with stds ``scale_diag``, ``scale_off``), any strides; W_s = [[w11, w12], [w21, w22]].
    Returns ``(w11, w12, w21, w22, total, step, flag, order_at)``: ``total`` continued with each
    batch loss in turn (so a run split over several calls sums in one call's order), the
    update count, ``flag`` = the update at which the batch loss exceeded ``limit`` (counted
    from 1; 0 if none), and the protocol's marker. ``n_steps = 0`` only measures the next
    batch's loss (and draws no noise).
    """
    size = x.shape[0]
    flag = 0
    for it in range(n_steps if n_steps > 1 else 1):  # not max(): the CUDA target refuses it
        # Residual matrix R = W_t − W_s; per-sample gradient step R x xᵀ + a.
        r11, r12, r21, r22 = teacher - w11, -w12, -w21, teacher - w22
        g11 = g12 = g21 = g22 = 0.0
        batch_loss = 0.0
        for pos in range(bs):
            n, order_at = sample_index(pos, step, size, bs, mode, s, order, order_at)
            x1, x2 = x[n, 0], x[n, 1]
            e1 = r11 * x1 + r12 * x2  # y − W_s x
            e2 = r21 * x1 + r22 * x2
            batch_loss += 0.5 * (e1 * e1 + e2 * e2)
            if per_step:  # its noise is added after the batch's gradient (below)
                g11 += e1 * x1
                g12 += e1 * x2
                g21 += e2 * x1
                g22 += e2 * x2
            else:  # (e x + a) first, then the running sum: the rounding of earlier versions, bit for bit
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
        if per_step:
            for pos in range(bs):
                a11 = scale_diag * _prng.normal(s, zw, zk, zf, zr)
                a22 = scale_diag * _prng.normal(s, zw, zk, zf, zr)
                a12 = scale_off * _prng.normal(s, zw, zk, zf, zr)
                g11 += a11
                g12 += a12
                g21 += a12
                g22 += a22
        c = lr / bs
        w11 += c * g11
        w12 += c * g12
        w21 += c * g21
        w22 += c * g22
        step += 1
    return w11, w12, w21, w22, total, step, flag, order_at


@njit(parallel=True)
def _advance(x, a, W, step, diverged, loss_sum, n_steps, lr, bs, teacher, limit, mode, per_step, scale_diag,
             scale_off, rng, order, order_at, zw, zk, zf, zr):
    """:func:`update_model` for every model in parallel; inputs are validated by the caller.

    ``x`` holds one dataset per model, or one shared by all (first axis 1); ``loss_sum``
    is each model's running batch-loss sum, continued in place (:mod:`._loop`).
    """
    loss_out = np.full(W.shape[0], np.nan)  # NaN stays for a model stopped earlier
    shared = x.shape[0] == 1
    for m in prange(W.shape[0]):
        if diverged[m] == 0:
            xm = x[0] if shared else x[m]
            W[m, 0, 0], W[m, 0, 1], W[m, 1, 0], W[m, 1, 1], total, step[m], diverged[m], order_at[m] = update_model(
                xm, a[m], W[m, 0, 0], W[m, 0, 1], W[m, 1, 0], W[m, 1, 1], step[m], loss_sum[m], n_steps, lr, bs,
                teacher, limit, mode, per_step, scale_diag, scale_off, rng[m], order[m], order_at[m], zw, zk, zf, zr)
            loss_sum[m] = total
            loss_out[m] = mean_loss(total, n_steps, diverged[m])
    return loss_out


def per_sample_gradients(harvest, record: int = -1, samples: int | None = None):
    """Per-sample loss gradients at recorded weights, with the injected noise.

    Returns ``(W, G)``: W (models, 2, 2) the weights at ``record`` and G
    (models, S, 2, 2) the per-sample gradients G_n = (W − W_t) x_n x_nᵀ − a_n
    over the first S = ``samples`` samples (default: the whole dataset) of each
    model's training set (the shared one under ``data_seed``), so that one SGD update
    is W ← W − α mean_{n∈B} G_n. The datasets are regenerated from the harvest's seed.
    With ``noise_draw="per-step"`` no noise is tied to a sample: G_n is the loss gradient
    plus a fresh draw of the noise's law (from a stream fixed by the harvest's seed), which
    has the same first and second moments as the noise the update added.
    """
    if harvest.weights is None:
        raise ValueError("the harvest has no weights (train with record_weights=True)")
    data, _ = replay_init(init, harvest)
    W = harvest.weights[:, record]
    models = W.shape[0]
    x = np.broadcast_to(data["x"], (models,) + data["x"].shape[1:])[:, :samples]
    if protocol_of(harvest.params)[2] == "per-step":
        g = np.random.Generator(np.random.PCG64(_rng.from_record(harvest.seed).spawn(1)[0]))
        scale = np.array([math.sqrt(2.0), math.sqrt(2.0), 1.0]) * harvest.params["eps"]
        a = g.standard_normal(x.shape[:2] + (3,)) * scale
    else:
        a = data["a"][:, :samples]
    R = W - harvest.params["teacher"] * np.eye(2)
    A = np.empty(a.shape[:-1] + (2, 2))
    A[..., 0, 0], A[..., 1, 1], A[..., 0, 1], A[..., 1, 0] = a[..., 0], a[..., 1], a[..., 2], a[..., 2]
    return W, np.einsum("mij,mnj,mnk->mnik", R, x, x) - A


def degenerate_groups(harvest=None) -> list[tuple[int, ...]]:
    """The teacher 2·1 is doubly degenerate: the two modes form one pair."""
    return [(0, 1)]
