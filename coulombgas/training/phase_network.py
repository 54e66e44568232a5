"""Paper 4's two-hidden-layer tanh teacher–student network, whose phase diagram is mapped by SGD.

Protocol (Park, Lucini, Aarts, arXiv:2509.01349; SCIENCE.md §6 "Phase diagram, paper 4"):

* network y = Z tanh(W tanh(M x)) with input x ∈ ℝ³ (``n_in``), M (32×3, ``n_mid×n_in``),
  W (16×32, ``n_hidden×n_mid``) and Z (1×16); M and Z are fixed and shared by teacher and
  student, only the student's W is trained;
* teacher: M ~ N(0, 1/n_in), W_t ~ N(0, 1/n_mid), Z ~ N(0, 1/n_hidden) entrywise;
  student: W(0) ~ N(0, σ_W²/n_mid) entrywise (σ_W = ``sigma_w``; σ_W = 1 is the teacher's scale);
* data: x ~ N(0, 1_{n_in}), labels y = teacher(x) (noise-free); a fixed dataset of
  1000·|B| samples (``epoch_batches`` batches) swept in order, batch b = samples
  b|B| … (b+1)|B|−1, the same batches every epoch;
* loss (``loss="half_mse"``, the default): half the mean squared error, as in the authors'
  released ``generate.py``, L_B(W) = (1/2|B|) Σ_{n∈B} (ŷ_n − y_n)²; plain SGD W ← W − α ∇_W L_B.
  The ½ fixes what α and T = α/|B| mean: with ``loss="mse"`` (PyTorch's ``MSELoss``, no ½,
  this module's convention before issue 16) every gradient is twice as large, so α and T there
  are twice the paper's (α_mse = α_paper/2 gives the same trajectory).

Per-sample gradient (exact backpropagation through both tanh layers), with
h = tanh(M x) (fixed: precomputed once per model), t = tanh(W h), e = Z t − y and
c = 1 (``"half_mse"``) or 2 (``"mse"``):

    G_n = c e_n [Z ⊙ (1 − t_n²)] h_nᵀ,      W ← W − α mean_{n∈B} G_n.

The recorded spectrum is that of X = WWᵀ (16 eigenvalues, ``GRAM = "WWt"``) and the
singular values of W. The phases (:func:`classify_regime`) are read from their
dynamics: ordered (learns the teacher), high-temperature (T = α/|B| large:
eigenvalues grow without bound) and jammed (σ_W² large: tanh saturates and the
features stay frozen at their initial scale).

Random streams: by default (``seeds_per_dataset=1``) each model is an independent run
with its *own* teacher and dataset, which is what the authors' ``generate.py`` does: inside
its loop over seeds it draws M, W_t, Z and the 1000·|B| inputs afresh for every seed (the
paper's 100 networks per point are 10 runs of that script × 10 seeds, all independent).
Model i then draws, from its own stream and in this order, M (n_mid×n_in), W_t
(n_hidden×n_mid), Z (n_hidden), the student's W(0) (n_hidden×n_mid), then the inputs x
(S×n_in). With ``seeds_per_dataset=s > 1`` the models i = g·s … g·s + s − 1 share one teacher
and one dataset (quenched disorder, SCIENCE.md §8): M, W_t, Z and x, in that order, come
from the group's stream (the SeedSequence with the models' common entropy and spawn key
``(..., DATASET_KEY, g)``, so a group does not depend on how models are split into blocks),
and each model's own stream draws only its W(0). Training itself draws nothing (the batches
are swept in order), so results do not depend on the thread count.

Freezing (the paper's rule): ``generate.py`` stops a network whose batch loss (½·MSE)
exceeds 100 before it applies that batch's update; here such a model (or one whose loss is
not finite) is stopped at that update and flagged (``Harvest.diverged_ids``), as in
:mod:`.teacher_student`. The outputs are bounded, |ŷ|, |y| ≤ Σ_j |Z_j| (≈ 3 for
Z ~ N(0, 1/16)), so the batch loss stays below ≈ 20 and the threshold is practically never
reached.

Numerics: the compiled code evaluates tanh with arithmetic only (:func:`_tanh`,
|error| ≤ 6e-16 against ``numpy.tanh``), so that the loop over the 16 hidden
units runs in SIMD lanes; the features h = tanh(M x) and labels are computed once
per model, in parallel, by the same function. :func:`per_sample_gradients` uses
``numpy.tanh``; the two agree to ~1e-15.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numba import prange

from .. import _validate as v
from .._jit import njit
from ..cuda import training as cuda_training
from ._kernels import loss_carry, mean_loss, pick_device, stop_update, with_loss_sum
from ._loop import check_common, check_footprint, check_run_options, replay_init, run_ensemble

__all__ = ["phase_network", "per_sample_gradients", "gradients_at", "classify_regime", "Regimes", "GRAM", "REGIMES", "LOSSES",
           "snapshot_every"]

GRAM = "WWt"
NAME = "phase-network"
REGIMES = ("ordered", "high-temperature", "jammed")
#: Loss conventions: name → factor s of L_B = s · mean_B (ŷ − y)² (the paper's is ½).
LOSSES = {"half_mse": 0.5, "mse": 1.0}
#: Spawn-key entry that marks a dataset group's stream (far above any model index).
DATASET_KEY = 2**31 + 16


def phase_network(*, lr: float = 2.0**-3, sigma_w: float = 1.0, batch_size: int = 4, models: int = 10,
                  steps: int = 100_000, record_every: int = 1000, seed=0, n_in: int = 3, n_mid: int = 32,
                  n_hidden: int = 16, epoch_batches: int = 1000, divergence_loss: float = 100.0, out=None,
                  resume: bool = False, progress: bool | None = None, record_weights: bool = True,
                  device: str = "cpu", fallback: bool = False, block_models: int | None = None,
                  loss: str = "half_mse", seeds_per_dataset: int = 1, snapshots: int | None = None):
    """Train an ensemble of paper 4's networks y = Z tanh(W tanh(M x)) by SGD on W only.

    Parameters
    ----------
    lr, batch_size : float, int
        Learning rate α > 0 and batch size |B| ≥ 1 (paper: |B| = 4; α and σ_W over 2⁻³…2⁸).
    sigma_w : float
        Student initial scale σ_W > 0: W(0) entries ~ N(0, σ_W²/n_mid).
    models, steps, record_every : int
        Independent models (own teacher, data and init each), SGD updates, updates between records.
    seed : int, SeedSequence or Generator
    n_in, n_mid, n_hidden : int
        Layer widths (3, 32, 16): M is n_mid×n_in, W is n_hidden×n_mid, Z is 1×n_hidden.
    epoch_batches : int
        Batches in the fixed dataset (1000: the dataset has 1000·|B| samples).
    divergence_loss : float
        A model whose batch loss exceeds this (or is not finite) is stopped and flagged.
    out : path, optional
        Stream records to this HDF5 file (``resume=True`` continues an interrupted run).
    device : {"cpu", "cuda"}
        ``"cuda"``: run the updates on an NVIDIA GPU (:mod:`coulombgas.cuda.training`, a team of
        threads per model; teachers, data and initial weights still drawn here, so the same
        results within rounding: ŷ is summed in another order, tanh is CUDA's); without one,
        ValueError unless ``fallback=True`` (warn, run on the CPU).
    block_models : int, optional
        How many models share memory at once (default: ~200 MB of datasets on the CPU, a
        quarter of the free device memory on the GPU); results do not depend on it.
    loss : {"half_mse", "mse"}
        ``"half_mse"`` (default): the paper's L = ½·MSE, so ``lr`` and T = lr/|B| are the
        paper's ε and ε/|B|. ``"mse"``: the MSE without ½ (this function's convention before
        issue 16), where lr and T are twice the paper's.
    seeds_per_dataset : int ≥ 1
        Models that share one teacher and dataset (module docstring). 1 (default): every
        model its own, as the authors' ``generate.py`` does.
    snapshots : int ≥ 2, optional
        Record ``snapshots`` equally spaced states, 0, steps/(snapshots − 1), …, steps (the
        paper: 21); overrides ``record_every``. ``steps`` must be a multiple of
        ``snapshots − 1``.

    Returns
    -------
    Harvest
        ``eigenvalues`` of X = WWᵀ and ``singular_values`` of W, (models, records, n_hidden),
        ascending; ``weights`` (models, records, n_hidden, n_mid); ``loss`` the mean batch
        loss (in the ``loss`` convention) since the previous record (record 0: the first batch,
        before any update).

    See Also
    --------
    classify_regime : ordered / high-temperature / jammed label of every model.
    per_sample_gradients : the gradients G_n behind each update, for drift and noise estimates.

    References
    ----------
    C. Park, B. Lucini, G. Aarts, arXiv:2509.01349.

    Examples
    --------
    >>> h = phase_network(lr=0.125, sigma_w=1.0, models=2, steps=200, record_every=100, progress=False)
    >>> h.eigenvalues.shape  # (models, records at updates 0, 100, 200, eigenvalues of WWᵀ)
    (2, 3, 16)
    """
    # Every check before any work, on either device: flags, sizes and the memory the run needs.
    check_run_options(out, resume, progress, record_weights)
    if snapshots is not None:
        record_every = snapshot_every(steps, snapshots)
    params, models, steps, record_every = validated(lr, sigma_w, batch_size, models, steps, record_every,
                                                    n_in, n_mid, n_hidden, epoch_batches, divergence_loss,
                                                    loss, seeds_per_dataset)
    bs, eb, n_in, n_mid, nh = (params[k] for k in ("batch_size", "epoch_batches", "n_in", "n_mid", "n_hidden"))
    # Bytes of features h, inputs x, labels y, and the fixed layers M, W_t, Z, W.
    per_model = 8.0 * (float(bs) * eb * (n_mid + n_in + 1) + n_mid * n_in + 2.0 * nh * n_mid + nh)
    check_footprint(models=models, steps=steps, record_every=record_every, weight_shape=(nh, n_mid), gram=GRAM,
                    data_bytes=per_model, block_models=max(1, int(2e8 // per_model)),
                    record_weights=record_weights)
    run, block_models = pick_device(device, fallback, block_models, advance, cuda_training.phase_network_advance,
                                    cpu_block=max(1, int(2e8 // (8 * bs * eb * (n_mid + n_in + 1)))),
                                    device_bytes=8 * bs * eb * (n_mid + 1) + 8 * nh * (n_mid + 1), models=models)
    return run_ensemble(init, run, GRAM, params, models=models, steps=steps, record_every=record_every, seed=seed,
                        name=NAME, out=out, resume=resume, progress=progress, block_models=block_models,
                        record_weights=record_weights)


def snapshot_every(steps, snapshots) -> int:
    """Updates between ``snapshots`` equally spaced records of a ``steps``-update run (first at 0, last at steps)."""
    steps = v.integer("steps", steps, minimum=1)
    snapshots = v.integer("snapshots", snapshots, minimum=2)
    if snapshots - 1 > steps:
        raise ValueError(f"`snapshots` must be in [2, steps + 1 = {steps + 1}] (one record per update at most), "
                         f"got {snapshots}")
    if steps % (snapshots - 1):
        raise ValueError(f"`snapshots` - 1 must divide `steps`={steps} (equally spaced records), got {snapshots}")
    return steps // (snapshots - 1)


def validated(lr, sigma_w, batch_size, models, steps, record_every, n_in, n_mid, n_hidden, epoch_batches,
              divergence_loss, loss="half_mse", seeds_per_dataset=1):
    """Checked arguments of :func:`phase_network` (CPU and GPU): ``(params, models, steps, record_every)``."""
    lr, batch_size, models, steps, record_every = check_common(lr, batch_size, models, steps, record_every)
    v.one_of("loss", loss, tuple(LOSSES))
    params = {
        "lr": lr, "batch_size": batch_size, "sigma_w": v.positive("sigma_w", sigma_w),
        "n_in": v.integer("n_in", n_in, minimum=1), "n_mid": v.integer("n_mid", n_mid, minimum=1),
        "n_hidden": v.integer("n_hidden", n_hidden, minimum=1),
        "epoch_batches": v.integer("epoch_batches", epoch_batches, minimum=1),
        "divergence_loss": v.positive("divergence_loss", divergence_loss),
        "loss": loss, "seeds_per_dataset": v.integer("seeds_per_dataset", seeds_per_dataset, minimum=1),
    }
    return params, models, steps, record_every


def teacher_of(params, gen):
    """One model's fixed layers and teacher, the first draws of its stream: (M, W_t, Z)."""
    n_in, n_mid, n_hidden = params["n_in"], params["n_mid"], params["n_hidden"]
    M = gen.standard_normal((n_mid, n_in)) / math.sqrt(n_in)
    Wt = gen.standard_normal((n_hidden, n_mid)) / math.sqrt(n_mid)
    Z = gen.standard_normal(n_hidden) / math.sqrt(n_hidden)
    return M, Wt, Z


def dataset_stream(gen, share: int) -> np.random.Generator:
    """The stream of the dataset group of the model whose own stream is ``gen`` (``share`` models a group)."""
    ss = gen.bit_generator.seed_seq
    if not isinstance(ss, np.random.SeedSequence) or not ss.spawn_key:
        raise ValueError("`seeds_per_dataset` > 1 needs the models' streams spawned from one SeedSequence")
    group = int(ss.spawn_key[-1]) // share
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        ss.entropy, spawn_key=tuple(ss.spawn_key[:-1]) + (DATASET_KEY, group))))


def init(params, gens):
    """Fixed layers, features h = tanh(M x), labels and initial W of every model (stream order: module docstring).

    ``data``: ``H`` (models, S, n_mid) the features, ``y`` (models, S) the labels, ``Z``
    (models, n_hidden), the teacher ``Wt`` (models, n_hidden, n_mid) and ``M`` (models,
    n_mid, n_in); ``state``: ``W``.
    """
    count = len(gens)
    n_in, n_mid, n_hidden = params["n_in"], params["n_mid"], params["n_hidden"]
    size = params["batch_size"] * params["epoch_batches"]
    share = int(params.get("seeds_per_dataset", 1))  # runs made before issue 16 have no such key
    Ms = np.empty((count, n_mid, n_in))
    Zs = np.empty((count, n_hidden))
    Wts = np.empty((count, n_hidden, n_mid))
    W = np.empty((count, n_hidden, n_mid))
    x = np.empty((count, size, n_in))
    scale = params["sigma_w"] / math.sqrt(n_mid)
    for i, g in enumerate(gens):
        if share == 1:
            Ms[i], Wts[i], Zs[i] = teacher_of(params, g)
            W[i] = g.standard_normal((n_hidden, n_mid)) * scale
            x[i] = g.standard_normal((size, n_in))
        else:
            d = dataset_stream(g, share)
            Ms[i], Wts[i], Zs[i] = teacher_of(params, d)
            x[i] = d.standard_normal((size, n_in))
            W[i] = g.standard_normal((n_hidden, n_mid)) * scale
    # M is fixed, so the first layer's features are computed once per model, not once per step.
    H = np.empty((count, size, n_mid))
    y = np.empty((count, size))
    _features(x, Ms, Wts, Zs, H, y)
    return {"H": H, "y": y, "Z": Zs, "Wt": Wts, "M": Ms}, with_loss_sum({"W": W})


@njit(parallel=True)
def _features(x, M, Wt, Z, H, y):
    """H = tanh(M x) and teacher labels y = Z tanh(W_t H) for every model and sample (written in place)."""
    models, size, n_in = x.shape
    n_hidden, n_mid = Wt.shape[1], Wt.shape[2]
    for m in prange(models):
        for n in range(size):
            for i in range(n_mid):
                s = 0.0
                for a in range(n_in):
                    s += M[m, i, a] * x[m, n, a]
                H[m, n, i] = _tanh(s)
            out = 0.0
            for j in range(n_hidden):
                s = 0.0
                for i in range(n_mid):
                    s += Wt[m, j, i] * H[m, n, i]
                out += Z[m, j] * _tanh(s)
            y[m, n] = out


def advance(data, state, gens, n_steps, params):
    """``n_steps`` SGD updates of every model (see :mod:`coulombgas.training._loop`)."""
    return _advance(data["H"], data["y"], data["Z"], state["W"], state["step"], state["diverged"], loss_carry(state),
                    n_steps, params["lr"], params["batch_size"], params["divergence_loss"], loss_scale(params))


def loss_scale(params) -> float:
    """s of L_B = s · mean_B (ŷ − y)²: ½ for the paper's loss, 1 for ``loss="mse"`` (and runs made before it)."""
    return LOSSES[params.get("loss", "mse")]


@njit
def _tanh(x):
    """tanh x from arithmetic alone (no libm call, so a loop of it vectorises); |error| < 1e-15.

    With q = 2x/64 (x clamped to ±20, where tanh rounds to ±1), a = e^q − 1 by its Taylor
    series to q¹⁶ (|q| ≤ 0.625: truncation < 2e-18 relative), then six doublings
    e^{2z} − 1 = a(2 + a) turn it into a = e^{2x} − 1, and tanh x = a/(a + 2). The doubling
    map does not amplify relative errors where they matter (|x| ≲ 1) and keeps the sign and
    zero of x; NaN passes through. Against numpy.tanh: |error| ≤ 6e-16 (tests).
    """
    v = 2.0 * x
    if v > 40.0:
        v = 40.0
    elif v < -40.0:
        v = -40.0
    q = v * (1.0 / 64.0)
    p = _EXPM1_TAYLOR[0]
    for c in _EXPM1_TAYLOR[1:]:
        p = c + q * p
    a = q * p
    for _ in range(6):
        a = a * (2.0 + a)
    return a / (a + 2.0)


#: 1/16!, 1/15!, …, 1/2!, 1: Horner coefficients of (e^q − 1)/q.
_EXPM1_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(16, 0, -1))


@njit(parallel=True)
def _advance(H, y, Z, W, step, diverged, loss_sum, n_steps, lr, bs, limit, scale):
    """SGD on W of y = Z tanh(W h), h = H[m, n] fixed; loss scale · MSE. Inputs are validated by the caller.

    ``loss_sum`` is each model's running batch-loss sum, continued in place (:mod:`._loop`).
    """
    models, size, n_mid = H.shape
    n_hidden = W.shape[1]
    batches = size // bs
    loss_out = np.zeros(models)
    for m in prange(models):
        if diverged[m] != 0:
            loss_out[m] = np.nan
            continue
        w = W[m].copy()  # contiguous private copies: a few allocations per call, none per step
        z = Z[m].copy()
        d = np.empty((bs, n_hidden))
        total = loss_sum[m]
        for it in range(max(n_steps, 1)):
            start = (step[m] % batches) * bs
            hb = H[m, start:start + bs]
            # Pre-activations W h_b, four samples at a time: four independent reductions share
            # every load of w (1.4× faster than one sample at a time).
            for b0 in range(0, bs - 3, 4):
                h0, h1, h2, h3 = hb[b0], hb[b0 + 1], hb[b0 + 2], hb[b0 + 3]
                for j in range(n_hidden):
                    s0 = s1 = s2 = s3 = 0.0
                    for k in range(n_mid):
                        wjk = w[j, k]
                        s0 += wjk * h0[k]
                        s1 += wjk * h1[k]
                        s2 += wjk * h2[k]
                        s3 += wjk * h3[k]
                    d[b0, j], d[b0 + 1, j], d[b0 + 2, j], d[b0 + 3, j] = s0, s1, s2, s3
            for b in range(bs - bs % 4, bs):
                for j in range(n_hidden):
                    s0 = 0.0
                    for k in range(n_mid):
                        s0 += w[j, k] * hb[b, k]
                    d[b, j] = s0
            batch_loss = 0.0
            for b in range(bs):
                for j in range(n_hidden):  # a loop of its own, so that _tanh runs in SIMD lanes
                    d[b, j] = _tanh(d[b, j])
                yhat = 0.0
                for j in range(n_hidden):
                    yhat += z[j] * d[b, j]
                e = yhat - y[m, start + b]
                batch_loss += e * e
                for j in range(n_hidden):  # backprop: ∂(e²)/∂(W h)_j = 2 e z_j (1 − t_j²)
                    t = d[b, j]
                    d[b, j] = e * z[j] * (1.0 - t * t)
            batch_loss *= scale / bs
            total += batch_loss
            if stop_update(batch_loss, n_steps, limit, step, diverged, m):
                break
            c = 2.0 * scale * lr / bs  # ∂(s e²)/∂e = 2 s e (½·MSE: c = α/|B|), the mean over the batch
            for b0 in range(0, bs - 3, 4):
                h0, h1, h2, h3 = hb[b0], hb[b0 + 1], hb[b0 + 2], hb[b0 + 3]
                for j in range(n_hidden):
                    c0, c1, c2, c3 = c * d[b0, j], c * d[b0 + 1, j], c * d[b0 + 2, j], c * d[b0 + 3, j]
                    for k in range(n_mid):
                        w[j, k] -= c0 * h0[k] + c1 * h1[k] + c2 * h2[k] + c3 * h3[k]
            for b in range(bs - bs % 4, bs):
                for j in range(n_hidden):
                    cj = c * d[b, j]
                    for k in range(n_mid):
                        w[j, k] -= cj * hb[b, k]
            step[m] += 1
        W[m] = w
        loss_sum[m] = total
        loss_out[m] = mean_loss(total, n_steps, diverged[m])
    return loss_out


def per_sample_gradients(harvest, record: int = -1, samples: int | None = None):
    """Per-sample loss gradients G_n = 2 s e_n [Z ⊙ (1 − t_n²)] h_nᵀ at recorded weights (s: ``loss_scale``).

    Returns ``(W, G)``: W (models, n_hidden, n_mid) the weights at ``record`` and G
    (models, S, n_hidden, n_mid) the gradients of s (ŷ_n − y_n)² with respect to W (s = ½ for
    the paper's ½·MSE, 1 for ``loss="mse"``) over
    the first S = ``samples`` samples (default: the whole dataset) of each model's
    own training set, so that one SGD update is W ← W − α mean_{n∈B} G_n. The
    datasets are regenerated from the harvest's seed.
    """
    if harvest.weights is None:
        raise ValueError("the harvest has no weights (train with record_weights=True)")
    records = harvest.weights.shape[1]
    record = v.integer("record", record, minimum=-records, maximum=records - 1)
    size = harvest.params["batch_size"] * harvest.params["epoch_batches"]
    if samples is not None:
        samples = v.integer("samples", samples, minimum=1, maximum=size)
    data, _ = replay_init(init, harvest)
    W = harvest.weights[:, record]
    H, y, Z = data["H"][:, :samples], data["y"][:, :samples], data["Z"]
    return W, gradients_at(W, H, y, Z, loss_scale(harvest.params))


def gradients_at(W, H, y, Z, scale: float = 0.5):
    """Per-sample gradients G_n = 2s e_n [Z ⊙ (1 − t_n²)] h_nᵀ of s(ŷ_n − y_n)², any weights and inputs.

    W (models, K, L), features H = tanh(M x) (models, S, L), labels y (models, S), Z
    (models, K); returns G (models, S, K, L). :func:`per_sample_gradients` applies it to the
    training data, the criterion of :mod:`.phase_boundary` to held-out inputs.
    """
    t = np.tanh(np.einsum("mjk,mnk->mnj", W, H))
    e = np.einsum("mnj,mj->mn", t, Z) - y
    delta = (2.0 * scale) * e[..., None] * Z[:, None, :] * (1.0 - t * t)
    return np.einsum("mnj,mnk->mnjk", delta, H)


@dataclasses.dataclass(frozen=True, eq=False)
class Regimes:
    """Per-model phase labels of a :func:`phase_network` harvest, with the statistics behind them.

    Arrays run over ``model_ids`` (ascending; diverged models included, their
    statistics NaN). ``labels`` holds one of :data:`REGIMES` per model.
    """

    model_ids: np.ndarray
    labels: np.ndarray
    loss_ratio: np.ndarray
    growth: np.ndarray
    exponent: np.ndarray
    movement: np.ndarray
    thresholds: dict

    def counts(self) -> dict:
        """Number of models in each regime."""
        return {name: int(np.sum(self.labels == name)) for name in REGIMES}

    def fraction(self, regime: str) -> float:
        """Fraction of the models labelled ``regime``."""
        v.one_of("regime", regime, REGIMES)
        return float(np.mean(self.labels == regime))


def classify_regime(harvest, *, exponent_min: float = 0.25, growth_max: float = 16.0,
                    loss_ratio_max: float = 0.01, movement_max: float = 0.1,
                    late_fraction: float = 0.1) -> Regimes:
    """Label every model of a :func:`phase_network` run ordered, high-temperature or jammed.

    The labels follow the dynamics of the eigenvalues λ_i(t) of X = WWᵀ
    (arXiv:2509.01349), read from four statistics per model:

    * growth exponent p = Δ ln λ̄ / Δ ln t of the mean eigenvalue λ̄ = tr X / n over the
      second half of the run (first record at t ≥ t_end/2 to the last record);
    * growth g = λ̄(t_end) / max(λ̄(0), λ̄_teacher), the mean eigenvalue in units of the
      larger of its initial value and the teacher's (tr W_tW_tᵀ / n, ≈ 1);
    * loss ratio r = (mean batch loss over the last ``late_fraction`` of the records) /
      (loss over the whole dataset at W(0), recomputed exactly from the replayed data);
    * movement μ = median_i |ln(λ_i(t_end)/λ_i(0))|, how far the spectrum left its start.

    Rules, in this order:

    1. diverged (flagged by the run), or g ≥ ``growth_max``, or p ≥ ``exponent_min`` and
       g > 1: **high-temperature** (the eigenvalues grow without bound: far beyond every
       scale of the problem, or still rising as a power of t above both the initial and
       the teacher scale);
    2. r ≤ ``loss_ratio_max``: **ordered** (the student learnt the teacher, spectrum settled);
    3. μ ≤ ``movement_max``: **jammed** (loss stays high, spectrum frozen at its start);
    4. otherwise **high-temperature** (the loss does not fall while the eigenvalues wander).

    Why these thresholds (measured with the defaults of :func:`phase_network` over
    lr, σ_W ∈ 2⁻³…2⁸, 10⁵ updates): a settled spectrum has |p| < 0.05 and a noise-driven
    one p ≈ 0.4–0.7 (a random walk slowed by tanh saturation; free diffusion would give
    p = 1), so 0.25 splits the gap; an ordered student approaching the teacher from a
    small σ_W also has p ≈ 0.2 but g < 1, hence the condition g > 1. At the largest
    lr the first updates already throw W to saturation (g ≈ 10³–10⁵) and the growth
    then slows (p can be < 0.25 early on); ordered runs never exceed g ≈ 6, so
    g ≥ 16 (singular values 4× the larger of the initial and teacher scales) is a
    run-away spectrum whatever its current slope. Learning runs
    reach r ≈ 10⁻⁴–2·10⁻³ within 10⁴–10⁵ updates (σ_W ≤ 2³, lr ≤ 1), while from
    σ_W ≈ 2⁴ on the loss creeps down slowly through the few unsaturated units
    (r ≈ 0.01 at σ_W = 2⁴, 0.03–0.08 at 2⁶, 0.1–0.7 at 2⁸, still falling):
    "learnt" means the loss fell by two orders of magnitude. Jammed spectra move by
    μ ≈ 0.01–0.05 (their relative updates are suppressed by tanh′ ≈ 0), so 0.1 is
    their ceiling. Labels near the boundaries depend on the run length: these are
    dynamical regimes of a finite run, not equilibrium phases (e.g. at lr = σ_W = 2⁸
    the noise is still unjamming the spectra after 10⁵ updates).

    With W(0) ~ N(0, σ_W²/n_mid) the jammed regime appears from σ_W ≈ 2⁴ (lr ≤ 1,
    10⁵ updates), not at σ_W² > 1/2 as SCIENCE.md §6 summarises paper 4; at σ_W = 1
    (the teacher's own scale) students learn. The paper's σ_W does carry the 1/n_mid
    (the authors' generate.py draws W(0) with standard deviation σ_W/√L).

    These thresholds were tuned on runs with the MSE without ½ (lr there is twice the
    paper's ε). The paper's own order parameters (test MSE, overlap q, alignment hs,
    spacing exponent λ) and its phase rule are in :mod:`.phase_observables`
    (:func:`~.phase_observables.classify_phase`); prefer them to compare with the paper.

    Parameters
    ----------
    harvest : Harvest
        From :func:`phase_network`, with at least 3 records.
    exponent_min, growth_max, loss_ratio_max, movement_max : float
        The thresholds above (> 0).
    late_fraction : float in (0, 1]
        Fraction of the records averaged for the late loss.

    Returns
    -------
    Regimes
    """
    if getattr(harvest, "model", None) != NAME:
        raise ValueError(f"`harvest` must come from phase_network (model {NAME!r}), "
                         f"got {getattr(harvest, 'model', type(harvest).__name__)!r}")
    exponent_min = v.positive("exponent_min", exponent_min)
    growth_max = v.positive("growth_max", growth_max)
    loss_ratio_max = v.positive("loss_ratio_max", loss_ratio_max)
    movement_max = v.positive("movement_max", movement_max)
    late_fraction = v.positive("late_fraction", late_fraction)
    if late_fraction > 1:
        raise ValueError(f"`late_fraction` must be in (0, 1], got {late_fraction:g}")
    if harvest.records < 3:
        raise ValueError(f"`harvest` must hold at least 3 records to classify, got {harvest.records}")
    steps = np.asarray(harvest.steps, dtype=float)
    mid = int(np.searchsorted(steps, 0.5 * steps[-1]))
    mid = min(max(mid, 1), harvest.records - 2)

    data, state = replay_init(init, harvest)
    W0, H, y, Z = state["W"], data["H"], data["y"], data["Z"]
    loss0 = loss_scale(harvest.params) * np.mean(
        (np.einsum("mnj,mj->mn", np.tanh(np.einsum("mjk,mnk->mnj", W0, H)), Z) - y) ** 2, axis=1)
    teacher = np.einsum("mjk,mjk->m", data["Wt"], data["Wt"]) / harvest.n

    ev = harvest.eigenvalues
    mean_ev = ev.mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.log(mean_ev[:, -1] / mean_ev[:, mid]) / np.log(steps[-1] / steps[mid])
        growth = mean_ev[:, -1] / np.maximum(mean_ev[:, 0], teacher)
        late = harvest.loss[:, -max(1, int(round(late_fraction * harvest.records))):].mean(axis=1)
        loss_ratio = late / loss0
        movement = np.median(np.abs(np.log(ev[:, -1] / ev[:, 0])), axis=-1)

    labels = np.full(harvest.models, "high-temperature", dtype=object)
    hot = (growth >= growth_max) | ((exponent >= exponent_min) & (growth > 1.0))
    learnt = ~hot & (loss_ratio <= loss_ratio_max)
    labels[learnt] = "ordered"
    labels[~hot & ~learnt & (movement <= movement_max)] = "jammed"

    ids = np.concatenate([harvest.model_ids, harvest.diverged_ids]).astype(np.int64)
    nan = np.full(len(harvest.diverged_ids), np.nan)
    order = np.argsort(ids, kind="stable")
    stack = lambda a: np.concatenate([a, nan])[order]  # noqa: E731
    all_labels = np.concatenate([labels, np.full(len(harvest.diverged_ids), "high-temperature", dtype=object)])
    return Regimes(model_ids=ids[order], labels=all_labels[order].astype(str), loss_ratio=stack(loss_ratio),
                   growth=stack(growth), exponent=stack(exponent), movement=stack(movement),
                   thresholds={"exponent_min": exponent_min, "growth_max": growth_max,
                               "loss_ratio_max": loss_ratio_max,
                               "movement_max": movement_max, "late_fraction": late_fraction})


def degenerate_groups(harvest=None) -> list[tuple[int, ...]]:
    """None: every model has its own random teacher, so no two modes share a fixed point."""
    return []
