"""GPU (CUDA) entry points under their old names: a thin facade over :mod:`coulombgas.cuda`.

The kernels live in :mod:`coulombgas.cuda` (``device``, ``forces``, ``sde``, ``training``), the
GPU twins of the CPU back ends; the public functions choose them with ``device="cuda"``:
:func:`coulombgas.simulate`, :func:`coulombgas.training.teacher_student`,
:func:`~coulombgas.training.phase_network`, :func:`~coulombgas.training.gaussian_rbm`. This module
keeps the old names working:

* :func:`available`, :func:`require`, :func:`simulator`, :data:`DEVICES` — device selection;
* :func:`direct_force_cuda` — F_i = Σ_{j≠i} w_j/(x_i − x_j) of one large system on the GPU;
* :func:`simulate_cuda` — :func:`coulombgas.simulate` on the GPU (n ≤ :data:`MAX_N`);
* :func:`teacher_student_cuda`, :func:`phase_network_cuda`, :func:`gaussian_rbm_cuda` — the
  training functions with ``device="cuda"`` (:data:`RBM_MAX_VALUES` bounds one RBM model).

Without a GPU, :func:`require` raises (or falls back to the CPU when asked); with
``NUMBA_ENABLE_CUDASIM=1`` set before Numba is imported, the kernels run in Numba's CUDA
simulator (about 10⁴× slower: for tests only). Importing this module never imports ``numba.cuda``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .cuda import device as _device
from .cuda import forces as _forces
from .cuda.device import DEVICES, available, simulator
from .cuda.sde import MAX_N
from .cuda.training import RBM_MAX_VALUES
from .dynamics import simulate
from .forces import coulomb_force, points_and_weights
from .training import gaussian_rbm, phase_network, teacher_student

__all__ = ["available", "require", "simulator", "direct_force_cuda", "simulate_cuda", "teacher_student_cuda",
           "phase_network_cuda", "gaussian_rbm_cuda", "DEVICES", "MAX_N", "RBM_MAX_VALUES"]


def _probe() -> bool:
    # Looked up at call time, so that a test (or a user) may replace ``coulombgas.gpu.available``.
    return available()


def require(device: str = "cuda", *, fallback: bool = False) -> bool:
    """Whether to run on the GPU for ``device``: True for a usable "cuda", False for "cpu".

    ``device="cuda"`` without a usable CUDA device raises ValueError, unless
    ``fallback=True``, which warns and returns False (run on the CPU).
    """
    return _device.require(device, fallback=fallback, probe=_probe)


def direct_force_cuda(x, weights=None, *, fallback: bool = False) -> np.ndarray:
    r"""Coulomb pair force F_i = Σ_{j≠i} w_j/(x_i − x_j) of every point, all pairs, on the GPU.

    The same quantity as :func:`coulombgas.forces.coulomb_force` with
    ``method="direct"`` (exact O(N²) sum, fp64), for one large system
    (:mod:`coulombgas.cuda.forces` says how the kernel works).

    Parameters
    ----------
    x : array_like, shape (n,)
        Positions, finite and pairwise distinct, n ≥ 2, any order.
    weights : float or array_like, shape (n,), > 0, optional
        Strengths w_j (default 1).
    fallback : bool
        Without a CUDA device: compute on the CPU instead of raising.

    Returns
    -------
    force : ndarray, shape (n,)
        In the order of ``x``. Agrees with the CPU direct sum to rounding: the
        difference is ≲ 1e-15 · Σ_j |w_j/(x_i − x_j)| per point (different
        summation order, and groups of 8 pairs added as one fraction).

    Raises
    ------
    ValueError
        Bad ``x``/``weights`` (as :func:`~coulombgas.forces.coulomb_force`), coincident
        points, or no device (see :func:`require`).
    """
    x, w = points_and_weights(x, weights)
    if not require("cuda", fallback=fallback):
        return coulomb_force(x, w, method="direct")
    force = _forces.direct_force(x, w)
    if not np.all(np.isfinite(force)):
        bad = int(np.flatnonzero(~np.isfinite(force))[0])
        raise ValueError(f"`x` must not contain coincident points, got x[{bad}] == another point "
                         f"({float(x[bad])!r}): the Coulomb force is infinite there")
    return force


def simulate_cuda(gas, t_end: float, dt: float, *, x0=None, replicas: int = 1, record_every: int = 1,
                  scheme: str = "auto", seed=None, max_gap_factor: float = 2.0, max_refinements: int = 30,
                  chunk_records: int | None = None, fallback: bool = False):
    """:func:`coulombgas.simulate` on the GPU: one thread per replica (:mod:`coulombgas.cuda.sde`).

    The schemes and step control of :func:`coulombgas.simulate` except the IMEX ones
    (``"auto"`` is ``"adaptive-heun"`` here; ``"adaptive"`` is a deprecated alias of it).
    Same law as the CPU path, not the same paths (another random generator).

    Parameters
    ----------
    gas : CoulombGas
        A built-in potential (Polynomial/Quadratic/Quartic or Laguerre); n ≤ :data:`MAX_N`.
    t_end, dt, x0, replicas, record_every, scheme, seed, max_gap_factor, max_refinements, chunk_records
        As for :func:`coulombgas.simulate`.
    fallback : bool
        Without a CUDA device, run :func:`coulombgas.simulate` on the CPU instead of raising.

    Returns
    -------
    Trajectory
        ``t`` (records,), ``x`` (replicas, records, n); ``diagnostics`` as on the CPU plus
        ``device`` and ``rng``.

    Raises
    ------
    ValueError, TypeError
        Bad arguments (named), no CUDA device, n > 64, a Custom potential.
    FloatingPointError
        The run diverged, crossed (Euler–Maruyama) or could not keep the eigenvalues apart.
    """
    if scheme == "adaptive":
        warnings.warn("`scheme` 'adaptive' is deprecated: use 'adaptive-heun' (the same scheme)",
                      DeprecationWarning, stacklevel=2)
        scheme = "adaptive-heun"
    device = "cuda" if require("cuda", fallback=fallback) else "cpu"
    return simulate(gas, t_end, dt, x0=x0, replicas=replicas, record_every=record_every, scheme=scheme, seed=seed,
                    max_gap_factor=max_gap_factor, max_refinements=max_refinements, chunk_records=chunk_records,
                    device=device)


def teacher_student_cuda(*, lr: float = 0.1, batch_size: int = 16, eps: float = 0.1, models: int = 3000,
                         steps: int = 5000, record_every: int = 50, seed=0, teacher: float = 2.0,
                         init_std: float = 0.1, epoch_batches: int = 500, divergence_loss: float = 100.0,
                         out=None, resume: bool = False, progress: bool | None = None,
                         record_weights: bool = True, block_models: int | None = None, fallback: bool = False,
                         data_seed=None, batch_order: str = "in-order", noise_draw: str = "per-sample"):
    """:func:`coulombgas.training.teacher_student` with ``device="cuda"`` (same arguments and results)."""
    device = "cuda" if require("cuda", fallback=fallback) else "cpu"
    return teacher_student(lr=lr, batch_size=batch_size, eps=eps, models=models, steps=steps,
                           record_every=record_every, seed=seed, teacher=teacher, init_std=init_std,
                           epoch_batches=epoch_batches, divergence_loss=divergence_loss, out=out, resume=resume,
                           progress=progress, record_weights=record_weights, block_models=block_models,
                           device=device, data_seed=data_seed, batch_order=batch_order, noise_draw=noise_draw)


def phase_network_cuda(*, lr: float = 2.0**-3, sigma_w: float = 1.0, batch_size: int = 4, models: int = 10,
                       steps: int = 100_000, record_every: int = 1000, seed=0, n_in: int = 3, n_mid: int = 32,
                       n_hidden: int = 16, epoch_batches: int = 1000, divergence_loss: float = 100.0, out=None,
                       resume: bool = False, progress: bool | None = None, record_weights: bool = True,
                       block_models: int | None = None, fallback: bool = False, loss: str = "half_mse",
                       seeds_per_dataset: int = 1, snapshots: int | None = None):
    """:func:`coulombgas.training.phase_network` with ``device="cuda"`` (same arguments and results)."""
    device = "cuda" if require("cuda", fallback=fallback) else "cpu"
    return phase_network(lr=lr, sigma_w=sigma_w, batch_size=batch_size, models=models, steps=steps,
                         record_every=record_every, seed=seed, n_in=n_in, n_mid=n_mid, n_hidden=n_hidden,
                         epoch_batches=epoch_batches, divergence_loss=divergence_loss, out=out, resume=resume,
                         progress=progress, record_weights=record_weights, block_models=block_models,
                         device=device, loss=loss, seeds_per_dataset=seeds_per_dataset, snapshots=snapshots)


def gaussian_rbm_cuda(*, n: int = 10, n_hidden: int = 10, mu2: float = 9.0, sigma_h: float = 1.0, m2: float = 4.0,
                      lr: float = 0.1, batch_size: int = 16, gibbs_steps: int = 3, models: int = 7500,
                      steps: int = 100_000, record_every: int = 1000, seed=0, init_std: float = 0.1,
                      divergence_loss: float = 100.0, out=None, resume: bool = False, progress: bool | None = None,
                      record_weights: bool = True, block_models: int | None = None, fallback: bool = False):
    """:func:`coulombgas.training.gaussian_rbm` with ``device="cuda"`` (same arguments and results).

    One GPU thread holds one model: 3·n_h·n + |B|(n + n_h) + 2n² values at most
    :data:`RBM_MAX_VALUES`.
    """
    on_gpu = require("cuda", fallback=fallback)
    return gaussian_rbm(n=n, n_hidden=n_hidden, mu2=mu2, sigma_h=sigma_h, m2=m2, lr=lr, batch_size=batch_size,
                        gibbs_steps=gibbs_steps, models=models, steps=steps, record_every=record_every, seed=seed,
                        init_std=init_std, divergence_loss=divergence_loss, out=out, resume=resume,
                        progress=progress, record_weights=record_weights, block_models=block_models,
                        device="cuda" if on_gpu else "cpu")
