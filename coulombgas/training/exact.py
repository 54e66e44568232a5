"""Exact finite-α law of the linear teacher–student models' weights across seeds.

Both linear models of :mod:`coulombgas.training` are affine in their weights. With
D = W − W_t, C_s = mean_{n∈B_s} x_n x_nᵀ (the batch of update s) and H = ZᵀZ
(H = 1 for paper 1's model, :mod:`~coulombgas.training.teacher_student`),

    D ← D − α H D C_s + α ā_s,        ā_s = mean_{n∈B_s} a_n   (injected noise)
                                      ā_s = mean_{n∈B_s} Zᵀ ξ_n x_nᵀ   (label noise)

For a given dataset and batch schedule, D(t) is *linear* in the Gaussian W(0) and
noises, so the law of W(t) across seeds (which differ only in W(0) and the noise) is
Gaussian, with a covariance that this module computes exactly — no continuum limit,
no small-α expansion. In the eigenbasis of H (H q_k = z_k q_k, D̃ = QᵀD) the rows
evolve independently, d̃_k ← d̃_k (1 − α z_k C_s) + noise, so the propagators are
n×n blocks Φ_k(s→t) = Π_{u=s}^{t−1} (1 − α z_k C_u) (ordered left to right).

Noise tied to a sample (``noise_draw="per-sample"``, paper 1) reaches D(t) through
J_n = (α/|B|) Σ_{s<t: n∈B_s} Φ(s+1→t) — every epoch's use of the *same* a_n adds up
coherently; fresh noise (``"per-step"``) through (α/|B|) Φ(s+1→t) once per update.
With GOE-like a (Cov(a_ri, a_r'j) = ε²(δ_rr'δ_ij + δ_rj δ_ir')) the covariance of
row blocks k, l is

    Σ_{ki,lj} = ε² Σ_n [δ_kl (J_nkᵀ J_nl)_ij + (J_nkᵀ Q)_il (Qᵀ J_nl)_kj]
              + init_std² δ_kl (Φ_k(0→t)ᵀ Φ_k(0→t))_ij,

and label noise (Cov ξ = λ² 1) gives λ² z_k δ_kl Σ_n (J_nkᵀ x_n x_nᵀ J_nk)_ij; the mean
is −(QᵀW_t)_k Φ_k(0→t) (E a = 0). Note the rows of D are correlated: they share the
symmetric a₁₂.

Schedules (``batch_order``):

* ``"in-order"``: one deterministic schedule. ``steps=None`` gives the stationary
  periodic orbit at batch position ``position`` of the epoch: with the one-epoch map
  M_k = Φ_k over an epoch that starts there, per-sample noise is summed exactly through
  J_b (1 − M_k)⁻¹ (each seed sits on a deterministic orbit linear in its own noise);
  per-step noise solves the periodic discrete Lyapunov equation Σ = A Σ Aᵀ + R over one
  epoch (A = blockdiag M_kᵀ, :func:`scipy.linalg.solve_discrete_lyapunov`). With an
  integer ``steps`` the law is the exact one after that many updates from W(0),
  transient included.
* ``"reshuffle"``, ``"with-replacement"``: the schedule is itself random (each model
  draws its own). Given the schedule the law is the Gaussian above; across seeds it is
  the *mixture* over schedules, so only approximately Gaussian. It is computed as a
  Monte Carlo average over ``orders`` schedules sampled from the protocol's law (exact
  in the noise and W(0) given each schedule): the covariance is the exact
  second-moment average up to that sampling.

Datasets (``data_seed``): with shared data the law is that one dataset's (quenched);
with a dataset per model the ensemble is the mixture over datasets, computed from
``datasets`` independent datasets drawn from a fixed seed (Monte Carlo over datasets;
exact given each).

The law of the spectrum follows by sampling the Gaussian (mixture) with a fixed seed:
singular values of W and eigenvalues of X = WᵀW, the spacing S of each degenerate
pair, ⟨S⟩, σ = (⟨S²⟩/4)^{1/2} (the Rayleigh scale: ⟨S⟩ = √π σ for the equal-σ
two-mode gas) and the mode means (:class:`ExactLaw`). The continuum (α → 0) prediction
for paper 1 is ⟨S⟩ = √(π α ε²/|B|); at α = 0.5, |B| = 16 the exact law is 17 % above it.

Stability: the one-epoch linear map must contract (spectral radius < 1); otherwise
ValueError naming ``lr`` and the stable range of the given dataset.

References: G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (Phys. Rev. E 111, 015303),
§III (the model and protocol); SCIENCE.md §8 (finite learning rate, quenched data).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.linalg

from .. import _rng
from .. import _validate as v
from .._jit import njit
from .hidden_layer import degenerate_groups as _hidden_layer_groups
from .teacher_student import degenerate_groups as _teacher_student_groups

__all__ = ["ExactLaw", "predict", "continuum_mean_spacing", "stable_lr", "linear_law"]

_ORDERS = ("in-order", "reshuffle", "with-replacement")
_DRAWS = ("per-sample", "per-step")
_TS_NAMES = ("teacher-student",)
_HL_NAMES = ("hidden-layer-teacher-student", "hidden-layer")


@njit
def _propagate(x, idx, z, lr, slots, per_step, J, phi):
    """Backward pass over the schedule ``idx`` (t, |B|): J[slot] += (α/|B|) Φ(s+1→t), then Φ ← (1 − α z C_s) Φ.

    ``phi`` (n, n, n) enters as the identity per block k and leaves as Φ_k(0→t); per-sample
    noise accumulates into J[slots[sample]] once per use, per-step noise into J[s] once per
    update. Inputs are validated by the caller.
    """
    t, bs = idx.shape
    n = x.shape[1]
    c = lr / bs
    C = np.empty((n, n))
    tmp = np.empty((n, n))
    for s in range(t - 1, -1, -1):
        if per_step:
            for k in range(n):
                for i in range(n):
                    for j in range(n):
                        J[s, k, i, j] += c * phi[k, i, j]
        else:
            for p in range(bs):
                g = slots[idx[s, p]]
                for k in range(n):
                    for i in range(n):
                        for j in range(n):
                            J[g, k, i, j] += c * phi[k, i, j]
        C[:, :] = 0.0
        for p in range(bs):
            for i in range(n):
                xi = x[idx[s, p], i]
                for j in range(n):
                    C[i, j] += xi * x[idx[s, p], j]
        for i in range(n):
            for j in range(n):
                C[i, j] /= bs
        for k in range(n):
            for i in range(n):
                for j in range(n):
                    acc = 0.0
                    for u in range(n):
                        acc += C[i, u] * phi[k, u, j]
                    tmp[i, j] = acc
            for i in range(n):
                for j in range(n):
                    phi[k, i, j] -= lr * z[k] * tmp[i, j]


def _schedule(order, size, bs, t, start, rng):
    """Sample indices (t, |B|) of updates start … start + t − 1 under ``order`` (a random one from ``rng``)."""
    nb = size // bs
    if order == "in-order":
        b = (start + np.arange(t)) % nb
        return (b[:, None] * bs + np.arange(bs)).astype(np.int64)
    if order == "with-replacement":
        return rng.integers(0, size, size=(t, bs), dtype=np.int64)
    steps = start + np.arange(t)
    epochs = steps // nb
    out = np.empty((t, bs), dtype=np.int64)
    perms = {}
    for e in np.unique(epochs):
        perms[e] = rng.permutation(size)
    for e, perm in perms.items():
        rows = np.flatnonzero(epochs == e)
        pos = (steps[rows] % nb)[:, None] * bs + np.arange(bs)
        out[rows] = perm[pos]
    return out


def _slots(draw, size, t):
    """Slot of each sample for J and the slot count: the sample (per-sample noise), else the update."""
    if draw == "per-step":
        return np.zeros(size, dtype=np.int64), t
    return np.arange(size, dtype=np.int64), size


def _run(x, idx, z, lr, order, draw):
    size, n = x.shape
    bs = idx.shape[1]
    slots, count = _slots(draw, size, len(idx))
    J = np.zeros((count, n, n, n))
    phi = np.zeros((n, n, n))
    phi[:, np.arange(n), np.arange(n)] = 1.0
    _propagate(np.ascontiguousarray(x), np.ascontiguousarray(idx), np.asarray(z, float), float(lr), slots,
               draw == "per-step", J, phi)
    return J, phi, slots


def _loads(x, idx, slots, draw, count, label):
    """Per slot: independent noises m_g (injected) or Σ_{n∈g} x_n x_nᵀ (label noise)."""
    n = x.shape[1]
    if draw == "per-step":
        m = np.full(count, float(idx.shape[1]))
        L = np.einsum("spi,spj->sij", x[idx], x[idx]) if label else None
        return m, L
    m = np.bincount(slots, minlength=count).astype(float)
    L = None
    if label:
        L = np.zeros((count, n, n))
        np.add.at(L, slots, np.einsum("si,sj->sij", x, x))
    return m, L


def _noise_cov(J, m, L, Q, z, noise, scale):
    """Σ̃ (n², n²) of vec(D̃) from the slots' J (module docstring), row-major (k, i)."""
    count, n = J.shape[0], J.shape[1]
    eye = np.eye(n)
    if noise == "injected":
        t1 = np.einsum("g,gkai,gkaj->kij", m, J, J)
        out = np.einsum("kl,kij->kilj", eye, t1)
        U = np.einsum("gkai,al->gkil", J, Q)
        V = np.einsum("bk,glbj->gklj", Q, J)
        out = out + np.einsum("g,gkil,gklj->kilj", m, U, V)
        return scale**2 * out.reshape(n * n, n * n)
    t1 = np.einsum("gkai,gab,gkbj->kij", J, L, J)
    out = np.einsum("kl,k,kij->kilj", eye, z, t1)
    return scale**2 * out.reshape(n * n, n * n)


def _init_cov(phi, init_std):
    n = phi.shape[0]
    blocks = np.einsum("kai,kaj->kij", phi, phi)
    return init_std**2 * np.einsum("kl,kij->kilj", np.eye(n), blocks).reshape(n * n, n * n)


def _epoch_radius(x, z, lr, bs, order, rng):
    """Spectral radius of one epoch's linear map (the first epoch of a sampled schedule for random orders)."""
    size = x.shape[0]
    nb = size // bs
    idx = _schedule(order, size, bs, nb, 0, rng)
    _, phi, _ = _run(x, idx, z, lr, "in-order", "per-step")
    return max(float(np.max(np.abs(np.linalg.eigvals(phi[k])))) for k in range(len(z)))


def stable_lr(x, batch_size: int, z=None, upper: float = 8.0) -> float:
    """Largest α (to 0.1 %) below which the in-order one-epoch map of dataset ``x`` contracts.

    Scans α upward from 0 (the map contracts for small α) and bisects the first crossing
    of spectral radius 1. ``z``: the eigenvalues of ZᵀZ (default 1).
    """
    x = v.finite_array("x", x, ndim=2)
    bs = v.integer("batch_size", batch_size, minimum=1)
    z = np.ones(x.shape[1]) if z is None else np.asarray(z, float)
    rng = np.random.default_rng(0)

    def radius(lr):
        return _epoch_radius(x, z, lr, bs, "in-order", rng)

    lo, grid = 0.0, upper * np.arange(1, 129) / 128
    for lr in grid:
        if radius(lr) >= 1.0:
            hi = lr
            break
        lo = lr
    else:
        return float(upper)
    while hi - lo > 1e-3 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if radius(mid) < 1.0 else (lo, mid)
    return float(lo)


def linear_law(x, *, lr: float, batch_size: int, teacher, Z=None, noise: str = "injected", scale: float = 0.1,
               init_std: float = 0.1, batch_order: str = "in-order", noise_draw: str = "per-sample",
               steps: int | None = None, position: int = 0, seed=0, schedule=None):
    """Mean (n²,) and covariance (n², n²) of vec(W) (row-major) for one dataset and one schedule.

    ``x`` (S, n) the dataset (S a multiple of ``batch_size``); ``teacher`` (n, n) W_t; ``Z``
    (n, n) the hidden layer (None: 1); ``noise`` "injected" (``scale`` = ε) or "label"
    (``scale`` = λ); ``steps`` None: the stationary periodic orbit at batch ``position``
    (in order only); else the law after ``steps`` updates from W(0), with the schedule of a
    random order drawn from ``seed`` (or the given ``schedule``: sample indices (steps, |B|),
    any order, repeats allowed). Returns ``(mean, cov, radius)`` with the spectral
    radius of the one-epoch map. Raises ValueError when it is ≥ 1 (naming ``lr``).
    """
    x = v.finite_array("x", x, ndim=2)
    size, n = x.shape
    bs = v.integer("batch_size", batch_size, minimum=1)
    if size % bs or size < bs:
        raise ValueError(f"the dataset's size ({size}) must be a positive multiple of `batch_size` ({bs})")
    lr = v.positive("lr", lr)
    batch_order = v.one_of("batch_order", batch_order, _ORDERS)
    noise_draw = v.one_of("noise_draw", noise_draw, _DRAWS)
    noise = v.one_of("noise", noise, ("injected", "label"))
    Wt = np.asarray(teacher, float)
    Zm = np.eye(n) if Z is None else np.asarray(Z, float)
    z, Q = np.linalg.eigh(Zm.T @ Zm)
    if np.allclose(z, z[0], rtol=1e-12, atol=0.0):
        Q = np.eye(n)
    rng = _rng.generator(seed)
    nb = size // bs
    radius = _epoch_radius(x, z, lr, bs, batch_order, rng)
    if not radius < 1.0:
        top = stable_lr(x, bs, z)
        raise ValueError(f"`lr` = {lr:g} is outside the stable range of the linear SGD map: the one-epoch map's "
                         f"spectral radius is {radius:.6g} >= 1 (weights grow without bound); for this dataset "
                         f"and `batch_size` = {bs} the in-order map contracts for 0 < lr < {top:.4g}")
    if steps is None:
        if batch_order != "in-order":
            raise ValueError(f"`steps`=None (the stationary orbit) needs batch_order='in-order', got "
                             f"{batch_order!r}: give the number of updates instead")
        position = v.integer("position", position, minimum=0, maximum=nb - 1)
        idx = _schedule("in-order", size, bs, nb, position, rng)
        J, phi, slots = _run(x, idx, z, lr, "in-order", noise_draw)
        m, L = _loads(x, idx, slots, noise_draw, J.shape[0], noise == "label")
        if noise_draw == "per-sample":
            # Every later epoch adds the same noise through M_k again: Σ_e J M^e = J (1 − M)⁻¹.
            inv = np.stack([np.linalg.inv(np.eye(n) - phi[k]) for k in range(n)])
            J = np.einsum("gkij,kjl->gkil", J, inv)
            cov = _noise_cov(J, m, L, Q, z, noise, scale)
        else:
            R = _noise_cov(J, m, L, Q, z, noise, scale)
            A = scipy.linalg.block_diag(*[phi[k].T for k in range(n)])
            cov = scipy.linalg.solve_discrete_lyapunov(A, R)
            resid = np.abs(cov - A @ cov @ A.T - R).max()
            if not np.all(np.isfinite(cov)) or resid > 1e-8 * max(np.abs(cov).max(), 1e-300):
                raise RuntimeError(f"the periodic discrete Lyapunov solve did not converge (residual {resid:.3g}, "
                                   f"spectral radius {radius:.6g}): lower `lr`")
        mean_t = np.zeros(n * n)
    else:
        steps = v.integer("steps", steps, minimum=1)
        if schedule is not None:
            idx = np.asarray(schedule, dtype=np.int64)
            if idx.shape != (steps, bs) or idx.min() < 0 or idx.max() >= size:
                raise ValueError(f"`schedule` must hold indices in [0, {size}) with shape (steps, batch_size) = "
                                 f"({steps}, {bs}), got shape {idx.shape}")
        else:
            idx = _schedule(batch_order, size, bs, steps, 0, rng)
        J, phi, slots = _run(x, idx, z, lr, batch_order, noise_draw)
        m, L = _loads(x, idx, slots, noise_draw, J.shape[0], noise == "label")
        cov = _noise_cov(J, m, L, Q, z, noise, scale) + _init_cov(phi, init_std)
        mean_t = -np.einsum("ki,kij->kj", Q.T @ Wt, phi).ravel()
    cov = 0.5 * (cov + cov.T)
    # Back from the eigenbasis of ZᵀZ: W = W_t + Q D̃, vec(Q D̃) = (Q ⊗ 1) vec(D̃) (row-major).
    R = np.kron(Q, np.eye(n))
    return Wt.ravel() + R @ mean_t, R @ cov @ R.T, radius


@dataclasses.dataclass(eq=False)
class ExactLaw:
    """The exact law of a linear model's weights across seeds, and of their spectrum (by sampling).

    Attributes
    ----------
    means, covs : arrays (K, n²), (K, n², n²)
        The Gaussian components of vec(W) (row-major), one per dataset × schedule, equal weights.
    component : array (samples,)
        Which component each sample came from; ``dataset`` (K,) the dataset of each component.
    singular_values, eigenvalues : arrays (samples, n)
        Samples of the singular values of W and the eigenvalues of X = WᵀW, ascending.
    pairs : list of (i, j)
        The degenerate pairs; ``spacings`` (samples, pairs) of the singular values,
        ``eigen_spacings`` of the eigenvalues of X.
    radius : float
        Largest spectral radius of the one-epoch linear maps (stability; < 1).
    steps : int or None
        Updates after which the law holds (None: the stationary orbit).
    """

    params: dict
    means: np.ndarray
    covs: np.ndarray
    dataset: np.ndarray
    component: np.ndarray
    singular_values: np.ndarray
    eigenvalues: np.ndarray
    pairs: list
    radius: float
    steps: int | None

    @property
    def spacings(self) -> np.ndarray:
        return np.stack([self.singular_values[:, j] - self.singular_values[:, i] for i, j in self.pairs], -1)

    @property
    def eigen_spacings(self) -> np.ndarray:
        return np.stack([self.eigenvalues[:, j] - self.eigenvalues[:, i] for i, j in self.pairs], -1)

    def mean_spacing(self, field: str = "singular_values"):
        """(⟨S⟩ per pair, Monte Carlo standard error) of ``field``'s spacings.

        With several components (datasets, schedules) the error is the standard error of
        the components' means, which holds both the sampling of the Gaussian draws and of
        the datasets/schedules; with one, that of the draws.
        """
        S = self.spacings if field == "singular_values" else self.eigen_spacings
        K = len(self.means)
        if K == 1:
            return S.mean(axis=0), S.std(axis=0, ddof=1) / math.sqrt(len(S))
        per = np.stack([S[self.component == k].mean(axis=0) for k in range(K)])
        return per.mean(axis=0), per.std(axis=0, ddof=1) / math.sqrt(K)

    def sigma(self, field: str = "singular_values") -> np.ndarray:
        """σ = (⟨S²⟩/4)^{1/2} per pair: the Rayleigh scale (⟨S⟩ = √π σ for the equal-σ two-mode gas)."""
        S = self.spacings if field == "singular_values" else self.eigen_spacings
        return np.sqrt((S**2).mean(axis=0) / 4.0)

    def mode_means(self, field: str = "singular_values") -> np.ndarray:
        return getattr(self, field).mean(axis=0)

    def dataset_mean_spacing(self, field: str = "singular_values") -> np.ndarray:
        """⟨S⟩ of each dataset's law (datasets, pairs): the quenched ensemble mean per dataset."""
        S = self.spacings if field == "singular_values" else self.eigen_spacings
        ds = self.dataset[self.component]
        return np.stack([S[ds == d].mean(axis=0) for d in np.unique(ds)])


def continuum_mean_spacing(lr: float, batch_size: int, eps: float) -> float:
    """Paper 1's α → 0 prediction for the singular values' spacing: ⟨S⟩ = √(π α ε²/|B|)."""
    return math.sqrt(math.pi * lr * eps**2 / batch_size)


def _model_setup(params):
    """(n, teacher, Z, noise, scale) of a harvest's ``params`` for either linear model."""
    if "Z" in params:
        n = int(params["n"])
        noise = params.get("noise", "injected")
        scale = params["eps"] if noise == "injected" else params["label_noise"]
        return n, np.asarray(params["teacher"], float), np.asarray(params["Z"], float), noise, float(scale)
    return 2, float(params["teacher"]) * np.eye(2), None, "injected", float(params["eps"])


def _shared_x(params, size, n):
    seed = params["data_seed"]
    ss = _rng.from_record(seed) if isinstance(seed, dict) else np.random.SeedSequence(int(seed))
    return np.random.Generator(np.random.PCG64(ss)).standard_normal((size, n))


def predict(source, *, steps="harvest", position=None, datasets: int = 64, orders: int = 16,
            samples: int = 200_000, seed: int = 0, pairs=None) -> ExactLaw:
    """The exact law across seeds for a harvest of a linear model (or its ``params``), and its spectrum.

    Parameters
    ----------
    source : Harvest or dict
        A harvest of ``teacher_student`` or ``hidden_layer_teacher_student``, or its ``params``
        (with the protocol keys ``data_seed``, ``batch_order``, ``noise_draw`` where not default).
    steps : "harvest", int or None
        Updates after which to predict: the harvest's last record (``"harvest"``; for a dict,
        ``params["steps"]``), a number, or None for the stationary periodic orbit (in order only).
    position : int, optional
        Batch position in the epoch for ``steps=None`` (default: where ``params["steps"]`` ends, else 0).
    datasets : int >= 1
        Datasets averaged over when each model draws its own (ignored with shared data).
    orders : int >= 1
        Schedules averaged over for a random batch order with shared data (ignored in order; with
        a dataset per model each dataset gets one schedule of its own, as each model does).
    samples : int >= 1000
        Gaussian draws for the spectrum's law (split evenly over the components).
    seed : int >= 0
        Seeds the datasets, the schedules and the draws (fixed: the prediction is reproducible).
    pairs : list of (i, j), optional
        Degenerate pairs (default: the model's own).

    Returns
    -------
    ExactLaw
    """
    params = dict(source.params) if hasattr(source, "params") else dict(source)
    seed = v.integer("seed", seed, minimum=0)
    datasets = v.integer("datasets", datasets, minimum=1)
    orders = v.integer("orders", orders, minimum=1)
    samples = v.integer("samples", samples, minimum=1000)
    if isinstance(steps, str):
        if steps != "harvest":
            raise ValueError(f"`steps` must be 'harvest', an int >= 1 or None, got {steps!r}")
        steps = int(source.steps[-1]) if hasattr(source, "steps") else params.get("steps")
    n, Wt, Z, noise, scale = _model_setup(params)
    bs, nb = int(params["batch_size"]), int(params["epoch_batches"])
    size = bs * nb
    order = params.get("batch_order", "in-order")
    draw = params.get("noise_draw", "per-sample")
    if steps is None and position is None:
        position = int(params["steps"]) % nb if "steps" in params else 0
    root = np.random.SeedSequence([seed, 15])
    data_rng, order_rng, draw_rng = (np.random.Generator(np.random.PCG64(s)) for s in root.spawn(3))
    shared = params.get("data_seed") is not None
    xs = [_shared_x(params, size, n)] if shared else [data_rng.standard_normal((size, n)) for _ in range(datasets)]
    # With a dataset per model each model also has its own schedule: one sampled schedule per dataset is
    # a sample of the joint law, so the mixture needs no product of the two.
    k_orders = 1 if order == "in-order" or not shared else orders
    means, covs, owner, radius = [], [], [], 0.0
    for d, x in enumerate(xs):
        for _ in range(k_orders):
            mu, cov, r = linear_law(x, lr=params["lr"], batch_size=bs, teacher=Wt, Z=Z, noise=noise, scale=scale,
                                    init_std=params.get("init_std", 0.1), batch_order=order, noise_draw=draw,
                                    steps=steps, position=position or 0, seed=order_rng)
            means.append(mu)
            covs.append(cov)
            owner.append(d)
            radius = max(radius, r)
    means, covs = np.array(means), np.array(covs)
    K = len(means)
    per = -(-samples // K)
    comp = np.repeat(np.arange(K), per)
    draws = np.empty((K * per, n * n))
    for k in range(K):
        # Eigen-decomposition, not Cholesky: the covariance may be singular (e.g. ε = 0 directions).
        w, U = np.linalg.eigh(covs[k])
        root_cov = U * np.sqrt(np.clip(w, 0.0, None))
        draws[k * per:(k + 1) * per] = means[k] + draw_rng.standard_normal((per, n * n)) @ root_cov.T
    sv = np.linalg.svd(draws.reshape(-1, n, n), compute_uv=False)[:, ::-1]
    if pairs is None:
        pairs = _hidden_layer_groups(Wt) if Z is not None else _teacher_student_groups()
        pairs = [tuple(int(i) for i in g) for g in pairs if len(g) == 2]
    return ExactLaw(params=params, means=means, covs=covs, dataset=np.array(owner), component=comp,
                    singular_values=sv, eigenvalues=sv**2, pairs=pairs, radius=radius, steps=steps)
