"""The poster's teacher–student model with a fixed hidden layer Z, for any n ≥ 2.

Protocol (poster, SCIENCE.md §6 "Teacher–student with a hidden layer"; data and
noise as in Aarts, Lucini, Park, arXiv:2407.16427, §III):

* teacher y = Z W_t x, student ŷ = Z W x, with Z (n×n) fixed and shared;
  only W is trained;
* data: x ~ N(0, 1_n); a fixed dataset of |B|·``epoch_batches`` samples swept in
  order, batch b = samples b|B| … (b+1)|B|−1 (update t uses batch t mod epoch_batches);
* loss ½ mean_{s∈B} ‖y_s − Z W x_s‖², per-sample gradient −Zᵀ e_s x_sᵀ with
  e_s = y_s − Z W x_s; plain SGD, W ← W − α mean_{s∈B} G_s;
* W(0) entries ~ N(0, ``init_std``²); the spectrum recorded is that of
  X = WᵀW (``GRAM = "WtW"``) and the singular values of W.

Why noise has to be supplied, and which. With an exact teacher every per-sample
gradient vanishes at W = W_t, so the stationary state would be a point. Two
sources are offered (``noise=``), each fixed per sample and reused every epoch:

``"injected"`` (default)
    paper 1's GOE-like matrix: G_s = −Zᵀ e_s x_sᵀ − a_s with a_s symmetric,
    off-diagonal std ε, diagonal std √2 ε. The noise is isotropic while the
    drift is ZᵀZ (W − W_t), so near the teacher the mode along the k-th
    eigenvector of ZᵀZ (eigenvalue z_k) relaxes at rate α z_k and has variance
    ∝ 1/z_k: the hidden layer sets each eigenvalue's speed and width — the
    poster's effect (σ₁ ≠ σ₂ within a degenerate pair when ZᵀZ ≠ 1).
``"label"``
    y_s = Z W_t x_s + ξ_s, ξ_s ~ N(0, λ² 1_n). The gradient noise −Zᵀ ξ xᵀ then
    has covariance λ² ZᵀZ ⊗ 1, proportional to the drift, so (a fluctuation–
    dissipation balance) the stationary law of W − W_t is isotropic, variance
    αλ²/(|B|(2 − α z_k)) ≈ αλ²/(2|B|) per entry, *whatever* Z: the widths of a
    degenerate pair stay equal up to O(α z) and Z has almost no visible effect
    on the spectrum (tested: width ratio (2 − α z₁)/(2 − α z₀), 0.92 at the
    defaults with the random Z, against 3.7 with injected noise).

The injected noise is therefore the default: it is paper 1's protocol and the one
under which the poster's result can appear. The poster does not say which it used.

Linear theory of a degenerate pair (n = 2, W_t = d·1, to first order in
δW = W − W_t): in the eigenbasis of ZᵀZ, δW_kk has variance
α ε² / (|B| z_k (1 − α z_k / 2)) (an AR(1) process), so the diagonal entries of X
in that basis (:func:`hidden_modes`), d² + 2d δW_kk, have widths whose ratio is
set by the z_k (tested). For Z = 1 the pair block of δX = d(δW + δWᵀ) is a GOE
matrix, so the two eigenvalues follow the equal-σ two-mode gas and their spacing
the Wigner surmise; for ZᵀZ ≠ 1 the block has unequal diagonal variances (the
two-mode form with σ₁ ≠ σ₂ describes it better; its spacing is then a Hoyt rather
than a Rayleigh law, but once normalised it differs from the surmise by a KS distance
of ≈ 10⁻³ for the default random Z at n = 2 (Monte Carlo): invisible below ~10⁶ models).
Eigenvalue means sit above/below the teacher's by the second-order perturbative shift
(δWᵀδW and level repulsion between groups), which the tests account for; E[W] = W_t
exactly, since the update is affine in W and the noise has mean zero.

Defaults (document of choices):

* ``Z = "identity"``; ``Z = "random"`` is Q diag(s) Rᵀ with Q, R Haar-orthogonal
  and s_k = 2^{k/(n−1) − 1/2} (so ZᵀZ has eigenvalues from 1/2 to 2, condition
  number of Z equal to 2), drawn from ``numpy.random.Generator(PCG64(
  SeedSequence(z_seed)))`` — Q then R, each the sign-fixed QR factor of an n×n
  standard normal matrix (Mezzadri 2007) — so every model of a run, and every run
  with the same ``z_seed``, shares one Z (:func:`random_hidden_layer`);
* teacher (:func:`default_teacher`): n = 2: W_t = 2·1 (paper 1); n ≥ 3:
  W_t = diag(1 + ¼⌈k/2⌉), k = 0 … n−1, so n = 10 has singular values
  1, 1.25, 1.25, 1.5, 1.5, 1.75, 1.75, 2, 2, 2.25: two singles and four doubly
  degenerate pairs, X eigenvalues at least 0.56 apart (≫ the fluctuations ~0.03
  at the defaults) and an initial loss (≈ 14 for Z = 1) far below the
  divergence threshold;
* α = 0.1, |B| = 16, ε = λ = 0.1, 5000 updates, 3000 models, |B|·500 samples, as
  paper 1.

Protocols (the options of :func:`~coulombgas.training.teacher_student`, the same names and
meanings): ``data_seed`` (None: a dataset per model; else one input set x shared by every
model, :func:`~coulombgas.training.teacher_student.shared_dataset` with n columns),
``batch_order`` ("in-order", "reshuffle", "with-replacement") and ``noise_draw``
("per-sample": each sample's injected a_s or label noise ξ_s fixed and reused every epoch;
"per-step": drawn afresh for every sample of every update; with label noise the
loss of a loss-only pass, at a record, then leaves ξ out). The batch order and the per-step
noise come from the same in-kernel xoshiro256++ stream as the teacher–student model's, drawn
in the same order, so for n = 2, Z = 1 the two models agree to rounding under every protocol.

Random streams: model i draws from its own stream, in this order, W(0) (n×n),
the inputs x (S×n) unless shared, then either the injected noise (S × n(n+1)/2: the n
diagonal entries, then the upper triangle row by row) or the label noise ξ (S×n), unless
drawn per step, then the 4 words of its kernel stream when the protocol needs one. For
n = 2, Z = 1, W_t = 2·1 and injected noise this is exactly the stream of
:func:`~coulombgas.training.teacher_student` (the two models then agree to
rounding; tested). The draws run in a Numba kernel over models that reproduces
NumPy's ``g.standard_normal`` stream element by element. The training kernel uses
the injected noise summed per batch, which is all an update needs;
:func:`per_sample_gradients` regenerates it per sample.

References: G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (Phys. Rev. E 111,
015303); the poster in SCIENCE.md's seeds; F. Mezzadri, Notices AMS 54, 592
(2007), arXiv:math-ph/0609050 (Haar orthogonal matrices).
"""

from __future__ import annotations

import math
import numbers

import numba
import numpy as np
from numba import prange

from .. import _prng, _rng
from .. import _validate as v
from .._jit import njit
from ._kernels import loss_carry, mean_loss, stop_update, with_loss_sum
from ._loop import check_common, check_footprint, check_run_options, replay_init, run_ensemble
from .harvest import coincident_groups
from .teacher_student import (check_protocol, protocol_of, protocol_params, sample_index,
                              shared_dataset)
from .teacher_student import BATCH_ORDERS

__all__ = ["hidden_layer_teacher_student", "per_sample_gradients", "default_teacher", "random_hidden_layer",
           "degenerate_groups", "hidden_modes", "GRAM", "NOISES"]

GRAM = "WtW"
NAME = "hidden-layer-teacher-student"
NOISES = ("injected", "label")
_DEFAULT_NOISE = 0.1
# Z must be invertible for the teacher to be learnable; beyond this the
# slowest mode (rate α z_min) never relaxes in any practical run.
_MAX_COND = 1e8


def default_teacher(n: int) -> np.ndarray:
    """The default teacher W_t (n×n): 2·1 for n = 2, else diag(1 + ⌈k/2⌉/4) (module docstring)."""
    n = v.integer("n", n, minimum=2)
    if n == 2:
        return 2.0 * np.eye(2)
    return np.diag(1.0 + 0.25 * np.ceil(np.arange(n) / 2.0))


def random_hidden_layer(n: int, z_seed: int = 0) -> np.ndarray:
    """The matrix ``Z="random"`` stands for: Q diag(s) Rᵀ, s_k = 2^{k/(n−1) − 1/2} (module docstring)."""
    n = v.integer("n", n, minimum=2)
    z_seed = v.integer("z_seed", z_seed, minimum=0)
    g = _rng.generator(z_seed)
    q, r = (_haar_orthogonal(g, n) for _ in range(2))
    s = 2.0 ** (np.arange(n) / (n - 1) - 0.5)
    return (q * s) @ r.T


def _haar_orthogonal(g, n):
    q, r = np.linalg.qr(g.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)  # sign fix makes Q Haar-distributed


def degenerate_groups(teacher, rtol: float = 1e-9) -> list[tuple[int, ...]]:
    """Index groups of the ascending spectrum of X_t = W_tᵀW_t that are degenerate.

    ``teacher`` is an (n, n) array or a :class:`Harvest` of this model. Returns
    e.g. ``[(1, 2), (3, 4), (5, 6), (7, 8)]`` for the default n = 10 teacher and
    ``[(0, 1)]`` for n = 2; pass it as ``groups=`` to
    :func:`coulombgas.spectra.spacings`. Eigenvalues within ``rtol`` × the largest
    count as equal.
    """
    if hasattr(teacher, "params"):
        teacher = teacher.params["teacher"]
    W = v.finite_array("teacher", teacher, ndim=2)
    rtol = v.positive("rtol", rtol)
    ev = np.sort(np.linalg.svd(W, compute_uv=False) ** 2)
    return coincident_groups(ev, rtol * max(float(ev[-1]), 1e-300))


def hidden_modes(harvest, record: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The diagonal of X = WᵀW in the eigenbasis of ZᵀZ: each hidden-layer mode's value.

    Returns ``(z, modes)``: z (n,) the ascending eigenvalues of ZᵀZ (each mode's
    relaxation rate in units of α) and modes (models, n), modes[:, k] = q_kᵀ X q_k
    at ``record``. For a teacher ∝ 1 these are the "particles" of the two-mode
    picture: with injected noise their widths scale as 1/√z_k (module docstring).
    For Z = 1 the basis is the standard one.
    """
    W = _weights(harvest, record)
    Z = np.asarray(harvest.params["Z"], dtype=float)
    z, q = np.linalg.eigh(Z.T @ Z)
    if np.allclose(z, z[0], rtol=1e-12, atol=0.0):
        q = np.eye(len(z))  # degenerate ZᵀZ: any basis; keep the standard one
    Wq = W @ q
    return z, np.einsum("mik,mik->mk", Wq, Wq)


def _weights(harvest, record):
    if harvest.weights is None:
        raise ValueError("the harvest has no weights (train with record_weights=True)")
    records = harvest.weights.shape[1]
    record = v.integer("record", record, minimum=-records, maximum=records - 1)
    return harvest.weights[:, record]


def hidden_layer_teacher_student(*, n: int = 2, Z="identity", lr: float = 0.1, batch_size: int = 16,
                                 models: int = 3000, steps: int = 5000, record_every: int = 50, seed=0,
                                 noise: str = "injected", eps: float | None = None,
                                 label_noise: float | None = None, teacher=None, init_std: float = 0.1,
                                 epoch_batches: int = 500, divergence_loss: float = 100.0, z_seed: int = 0,
                                 data_seed=None, batch_order: str = "in-order", noise_draw: str = "per-sample",
                                 out=None, resume: bool = False, progress: bool | None = None,
                                 record_weights: bool = True):
    r"""Train an ensemble of the poster's teacher–student models with a fixed hidden layer Z.

    .. math::

        W \leftarrow W + \frac{\alpha}{|B|}\sum_{s\in B}
        \left[Z^\top (y_s - Z W x_s)\, x_s^\top + a_s\right],
        \qquad y_s = Z W_t x_s\ (+\,\xi_s)

    with a_s the injected GOE-like noise (``noise="injected"``) or ξ_s the label
    noise (``noise="label"``); see the module docstring for the protocol, the
    defaults and why injected noise is the default.

    Parameters
    ----------
    n : int, >= 2
        Size of x, y and of the square matrices W, Z.
    Z : {"identity", "random"} or array_like, shape (n, n)
        The fixed hidden layer: the identity (no hidden layer), the fixed random
        matrix :func:`random_hidden_layer` ``(n, z_seed)``, or a finite invertible
        matrix (condition number < 1e8).
    lr, batch_size : float > 0, int >= 1
        Learning rate α and batch size |B|.
    models, steps, record_every : int >= 1
        Independent models (one random stream each), SGD updates, updates between records.
    seed : int, SeedSequence or Generator
    noise : {"injected", "label"}
        Which noise keeps the stationary state from collapsing (module docstring).
    eps : float >= 0, optional
        Injected noise scale ε (off-diagonal std ε, diagonal √2 ε); default 0.1.
        Only with ``noise="injected"``.
    label_noise : float >= 0, optional
        Label noise std λ per output component; default 0.1. Only with ``noise="label"``.
    teacher : None, float or array_like, shape (n, n)
        W_t: None for :func:`default_teacher` ``(n)``, a number c for c·1, or a finite matrix.
    init_std : float >= 0
        Std of the student's initial entries (0.1).
    epoch_batches : int >= 1
        Batches in the fixed dataset (500).
    divergence_loss : float > 0
        A model whose batch loss exceeds this (or is not finite) is stopped and flagged.
    z_seed : int >= 0
        Seed of ``Z="random"`` (ignored otherwise); independent of ``seed``.
    data_seed, batch_order, noise_draw
        The protocol (module docstring): one input set shared by every model, the batch
        order, and noise fixed per sample or drawn per step.
    out : path, optional
        Stream records to this HDF5 file (``resume=True`` continues an interrupted run).
    progress : bool, optional
        Show a progress bar (default: for runs of more than 2·10⁶ model-updates).
    record_weights : bool
        Keep W at every record (needed by :func:`per_sample_gradients`, :func:`hidden_modes`).

    Returns
    -------
    Harvest
        ``eigenvalues`` of X = WᵀW and ``singular_values`` of W, (models, records, n);
        ``loss`` is the mean batch loss since the previous record (record 0: the first
        batch; with label noise it includes the noise). ``params`` holds Z and the
        teacher as nested lists.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, naming the parameter and the allowed range.

    Examples
    --------
    >>> h = hidden_layer_teacher_student(Z="random", models=4, steps=200, record_every=100)
    >>> h.eigenvalues.shape
    (4, 3, 2)
    """
    check_run_options(out, resume, progress, record_weights)
    lr, batch_size, models, steps, record_every = check_common(lr, batch_size, models, steps, record_every)
    n = v.integer("n", n, minimum=2)
    v.fits_in_memory("`n` x `n` (the hidden layer Z, teacher and weights)", 8.0 * 8 * float(n) * n)
    z_seed = v.integer("z_seed", z_seed, minimum=0)
    Zm = _hidden_layer(Z, n, z_seed)
    noise = v.one_of("noise", noise, NOISES)
    eps = _noise_scale("eps", eps, noise == "injected", noise)
    label_noise = _noise_scale("label_noise", label_noise, noise == "label", noise)
    data_seed, batch_order, noise_draw = check_protocol(data_seed, batch_order, noise_draw)
    params = {
        "lr": lr, "batch_size": batch_size, "n": n, "Z": Zm.tolist(),
        "Z_kind": Z if isinstance(Z, str) else "array", "z_seed": z_seed,
        "teacher": _teacher(teacher, n).tolist(), "noise": noise, "eps": eps, "label_noise": label_noise,
        "init_std": v.nonnegative("init_std", init_std),
        "epoch_batches": v.integer("epoch_batches", epoch_batches, minimum=1),
        "divergence_loss": v.positive("divergence_loss", divergence_loss),
    }
    params.update(protocol_params(data_seed, batch_order, noise_draw))
    size = batch_size * params["epoch_batches"]
    rows = params["epoch_batches"] if batch_order == "in-order" else size
    per_model = 8 * (2 * size * n + rows * _packed(n, noise) + n * n + (size if batch_order == "reshuffle" else 0))
    check_footprint(models=models, steps=steps, record_every=record_every, weight_shape=(n, n), gram=GRAM,
                    data_bytes=per_model, block_models=max(1, int(2e8 // per_model)),
                    record_weights=record_weights)
    return run_ensemble(init, advance, GRAM, params, models=models, steps=steps, record_every=record_every,
                        seed=seed, name=NAME, out=out, resume=resume, progress=progress,
                        block_models=max(1, int(2e8 // per_model)), record_weights=record_weights)


def _noise_scale(name, value, selected, noise):
    if value is None:
        return _DEFAULT_NOISE if selected else 0.0
    value = v.nonnegative(name, value)
    if not selected and value != 0.0:
        other = "injected" if name == "eps" else "label"
        raise ValueError(f"`{name}` applies only with noise={other!r}, got noise={noise!r} and {name}={value:g}")
    return value


def _hidden_layer(Z, n, z_seed):
    if isinstance(Z, str):
        if Z == "identity":
            return np.eye(n)
        if Z == "random":
            return random_hidden_layer(n, z_seed)
        raise ValueError(f"`Z` must be 'identity', 'random' or an (n, n) array, got {Z!r}")
    Z = v.finite_array("Z", Z)
    if Z.shape != (n, n):
        raise ValueError(f"`Z` must have shape (n, n) = ({n}, {n}), got {Z.shape}")
    cond = np.linalg.cond(Z)
    if not cond < _MAX_COND:
        raise ValueError(f"`Z` must be invertible with condition number < {_MAX_COND:g}, got {cond:.3g}")
    return Z.copy()


def _teacher(teacher, n):
    if teacher is None:
        return default_teacher(n)
    if isinstance(teacher, numbers.Real) and not isinstance(teacher, bool):
        return v.real("teacher", teacher) * np.eye(n)
    W = v.finite_array("teacher", teacher)
    if W.shape != (n, n):
        raise ValueError(f"`teacher` must be a number or have shape (n, n) = ({n}, {n}), got {W.shape}")
    return W.copy()


def _packed(n, noise):
    """Entries of the packed symmetric injected-noise matrix (0 without injected noise)."""
    return n * (n + 1) // 2 if noise == "injected" else 0


def _unpack(a, n):
    """(…, n(n+1)/2) packed [diagonal, upper triangle row by row] → symmetric (…, n, n)."""
    out = np.empty(a.shape[:-1] + (n, n))
    d = np.arange(n)
    out[..., d, d] = a[..., :n]
    iu, ju = np.triu_indices(n, 1)
    out[..., iu, ju] = a[..., n:]
    out[..., ju, iu] = a[..., n:]
    return out


def init(params, gens):
    """Initial weights, datasets (injected noise summed per batch when in order) and kernel streams."""
    data, state = _draw(params, gens, per_sample=protocol_of(params)[1] != "in-order")
    _, order, draw = protocol_of(params)
    if draw == "per-step" or order != "in-order":
        count, size = len(gens), params["batch_size"] * params["epoch_batches"]
        length = size if order == "reshuffle" else (params["batch_size"] if order == "with-replacement" else 0)
        state["rng"] = np.array([_prng.seed_state(g) for g in gens], dtype=np.uint64).reshape(count, 4)
        state["order"] = np.empty((count, length), dtype=np.int64)
        state["order"][:] = np.arange(length)
        state["order_at"] = np.full(count, -1, dtype=np.int64)
    return data, with_loss_sum(state)


def _draw(params, gens, per_sample, keep=None):
    """Training data (``per_sample=False``: injected noise summed per batch) or, for
    :func:`per_sample_gradients` and the random batch orders, the first ``keep`` samples
    with their own noise (the rest of the stream is drawn and discarded, so memory scales
    with ``keep``). With noise drawn per step no noise is drawn here (y = Z W_t x)."""
    n, bs, nb = params["n"], params["batch_size"], params["epoch_batches"]
    count, size = len(gens), bs * nb
    keep = size if keep is None or not per_sample else keep
    data_seed, _, draw = protocol_of(params)
    ZWt = np.asarray(params["Z"], dtype=float) @ np.asarray(params["teacher"], dtype=float)
    npack = _packed(n, params["noise"]) if draw == "per-sample" else 0
    label = params["label_noise"] if draw == "per-sample" else 0.0
    W = np.empty((count, n, n))
    x = np.empty((count, keep, n))
    y = np.empty((count, keep, n))
    a = np.empty((count, keep if per_sample else nb, npack))
    shared = data_seed is not None
    if shared:
        x[:] = _shared_inputs(data_seed, size, n)[:keep]
    if count:
        # Diagonal entries of a GOE-like matrix have twice the off-diagonal variance.
        _draw_kernel(numba.typed.List(gens), W, x, y, a, ZWt, params["init_std"], math.sqrt(2.0) * params["eps"],
                     params["eps"], label, bs, size, per_sample, shared,
                     params["noise"] == "label" and draw == "per-sample")
    return {"x": x, "y": y, "a": a}, {"W": W}


def _shared_inputs(data_seed, size, n):
    """The inputs x (size, n) every model shares (n = 2: exactly the teacher–student model's shared set)."""
    if n == 2:
        return shared_dataset(data_seed, size)
    ss = _rng.from_record(data_seed) if isinstance(data_seed, dict) else np.random.SeedSequence(data_seed)
    return np.random.Generator(np.random.PCG64(ss)).standard_normal((size, n))


@njit(parallel=True)
def _draw_kernel(gens, W, x, y, a, ZWt, init_std, scale_diag, scale_off, label_noise, bs, size, per_sample, shared,
                 label):
    """Model i draws from gens[i] only, element by element in C order: the same numbers as
    ``g.standard_normal(shape)`` in NumPy (module docstring: W(0), x unless ``shared``, then
    the noise: ``a.shape[2]`` packed injected entries, or, with ``label``, ξ). Samples >= x.shape[1] are drawn but not kept; with ``per_sample=False``
    (x holds all ``size`` samples) the injected noise is summed per batch. Inputs validated by the caller.
    """
    count, keep, n = x.shape
    npack = a.shape[2]
    for i in prange(count):
        g = gens[np.int64(i)]  # prange indices are unsigned; typed lists index with int64
        for r in range(n):
            for c in range(n):
                W[i, r, c] = init_std * g.standard_normal()
        if not shared:
            for s in range(size):
                for j in range(n):
                    value = g.standard_normal()
                    if s < keep:
                        x[i, s, j] = value
        for s in range(keep):
            for r in range(n):
                acc = 0.0
                for j in range(n):
                    acc += ZWt[r, j] * x[i, s, j]
                y[i, s, r] = acc
        if npack > 0:
            if not per_sample:
                a[i] = 0.0
            for s in range(keep):
                row = s if per_sample else s // bs
                for k in range(npack):
                    value = g.standard_normal() * (scale_diag if k < n else scale_off)
                    if per_sample:
                        a[i, row, k] = value
                    else:
                        a[i, row, k] += value
        elif label:
            for s in range(keep):
                for r in range(n):
                    y[i, s, r] += label_noise * g.standard_normal()


def advance(data, state, gens, n_steps, params):
    """``n_steps`` SGD updates of every model (see :mod:`coulombgas.training._loop`)."""
    _, order, draw = protocol_of(params)
    count = state["W"].shape[0]
    if "rng" in state:
        rng, perm, at = state["rng"], state["order"], state["order_at"]
    else:  # the default protocol draws nothing in the kernel
        rng, perm, at = np.zeros((count, 4), np.uint64), np.zeros((count, 0), np.int64), np.zeros(count, np.int64)
    eps = params["eps"]
    return _advance(data["x"], data["y"], data["a"], np.asarray(params["Z"], dtype=float), state["W"],
                    state["step"], state["diverged"], loss_carry(state), n_steps, params["lr"], params["batch_size"],
                    params["divergence_loss"], BATCH_ORDERS.index(order), draw == "per-step",
                    params["noise"] == "label", math.sqrt(2.0) * eps, eps, params["label_noise"], rng, perm, at,
                    _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R)


@njit(parallel=True)
def _advance(x, y, a, Z, W, step, diverged, loss_sum, n_steps, lr, bs, limit, mode, per_step, label, scale_diag,
             scale_off, label_noise, rng, order, order_at, zw, zk, zf, zr):
    """W ← W + (α/|B|)[Zᵀ Σ_s e_s x_sᵀ + Σ_s a_s], e_s = y_s − Z W x_s (+ ξ_s drawn per step).

    ``a`` holds per-batch sums (in order, noise per sample), per-sample noise (random
    orders) or nothing (per step, or label noise). Batch ``mode`` and per-step draws as in
    :func:`coulombgas.training.teacher_student.update_model` (one xoshiro256++ stream
    ``rng[m]`` per model). ``loss_sum`` is each model's running batch-loss sum, continued in
    place (:mod:`._loop`). Inputs are validated by the caller; each model touches only its own rows.
    """
    models, size, n = x.shape
    nb = size // bs
    per_batch = mode == 0 and not per_step
    loss_out = np.zeros(models)
    for m in prange(models):
        if diverged[m] != 0:
            loss_out[m] = np.nan
            continue
        P = np.empty((n, n))
        E = np.empty((n, n))
        A = np.empty((n, n))
        e = np.empty(n)
        s = rng[m]
        om = order[m]
        total = loss_sum[m]
        for it in range(max(n_steps, 1)):
            b = step[m] % nb
            for i in range(n):  # P = Z W, once per update
                for j in range(n):
                    acc = 0.0
                    for k in range(n):
                        acc += Z[i, k] * W[m, k, j]
                    P[i, j] = acc
            E[:, :] = 0.0
            A[:, :] = 0.0
            batch_loss = 0.0
            draw_xi = label and per_step and n_steps > 0
            for pos in range(bs):
                smp, order_at[m] = sample_index(pos, step[m], size, bs, mode, s, om, order_at[m])
                for i in range(n):
                    r = y[m, smp, i]
                    for j in range(n):
                        r -= P[i, j] * x[m, smp, j]
                    if draw_xi:
                        r += label_noise * _prng.normal(s, zw, zk, zf, zr)
                    e[i] = r
                    batch_loss += 0.5 * r * r
                for i in range(n):
                    for j in range(n):
                        E[i, j] += e[i] * x[m, smp, j]
                if not label and not per_step and not per_batch:  # this sample's own noise
                    _add_packed(A, a[m, smp], n)
            batch_loss /= bs
            total += batch_loss
            if stop_update(batch_loss, n_steps, limit, step, diverged, m):
                break
            if not label and per_step:
                for pos in range(bs):  # the packed order: diagonal, then the upper triangle row by row
                    for i in range(n):
                        A[i, i] += scale_diag * _prng.normal(s, zw, zk, zf, zr)
                    for i in range(n):
                        for j in range(i + 1, n):
                            value = scale_off * _prng.normal(s, zw, zk, zf, zr)
                            A[i, j] += value
                            A[j, i] += value
            if not label and per_batch:
                _add_packed(A, a[m, b], n)
            c = lr / bs
            for i in range(n):  # W += c (Zᵀ E + A); Zᵀ E does not depend on W
                for j in range(n):
                    acc = 0.0
                    for k in range(n):
                        acc += Z[k, i] * E[k, j]
                    P[i, j] = acc + A[i, j]
            for i in range(n):
                for j in range(n):
                    W[m, i, j] += c * P[i, j]
            step[m] += 1
        loss_sum[m] = total
        loss_out[m] = mean_loss(total, n_steps, diverged[m])
    return loss_out


@njit
def _add_packed(A, packed, n):
    """A += the symmetric matrix of ``packed`` (n diagonal entries, then the upper triangle row by row)."""
    for i in range(n):
        A[i, i] += packed[i]
    k = n
    for i in range(n):
        for j in range(i + 1, n):
            A[i, j] += packed[k]
            A[j, i] += packed[k]
            k += 1


def per_sample_gradients(harvest, record: int = -1, samples: int | None = None):
    """Per-sample loss gradients at recorded weights, with the sample's noise.

    Returns ``(W, G)``: W (models, n, n) the weights at ``record`` and G
    (models, S, n, n) the per-sample gradients

        G_s = −Zᵀ (y_s − Z W x_s) x_sᵀ  [− a_s with injected noise]

    over the first S = ``samples`` samples (default: the whole dataset) of each
    model's own training set (with label noise y_s includes ξ_s), so that one SGD
    update is W ← W − α mean_{s∈B} G_s. The datasets are regenerated from the
    harvest's seed (:func:`coulombgas.training._loop.replay_init`); only the first S
    samples are kept, so memory is models·S·(n² + 2n + n(n+1)/2) doubles.
    """
    W = _weights(harvest, record)
    p = harvest.params
    size = p["batch_size"] * p["epoch_batches"]
    if samples is not None:
        samples = v.integer("samples", samples, minimum=1, maximum=size)
    data, _ = replay_init(lambda params, gens: _draw(params, gens, per_sample=True, keep=samples), harvest)
    x, y, a = data["x"], data["y"], data["a"]
    n = p["n"]
    if protocol_of(p)[2] == "per-step":
        # No noise is tied to a sample: a fresh draw of its law, from a stream fixed by the harvest's seed.
        g = np.random.Generator(np.random.PCG64(_rng.from_record(harvest.seed).spawn(1)[0]))
        if p["noise"] == "injected":
            scale = np.r_[np.full(n, math.sqrt(2.0)), np.ones(_packed(n, "injected") - n)] * p["eps"]
            a = g.standard_normal(x.shape[:2] + (len(scale),)) * scale
        else:
            y = y + p["label_noise"] * g.standard_normal(y.shape)
    Z = np.asarray(p["Z"], dtype=float)
    e = y - np.einsum("ij,mjk,msk->msi", Z, W, x)
    G = -np.einsum("ki,msk,msj->msij", Z, e, x)
    if p["noise"] == "injected":
        G -= _unpack(a, n)
    return W, G
