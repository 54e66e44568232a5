"""Paper 4's order parameters of a trained network, as the authors measure them.

Park, Lucini, Aarts, arXiv:2509.01349; definitions read from the authors' analysis notebook
(github chanjure/phase_ml, ``src/notebooks/empirical_phase.ipynb``). Every function takes a
:class:`~.phase_paper.PhaseRun` (one grid point, generate.py's history layout) and returns one
value per network; ensemble statistics (the notebook's mean over networks, or
:func:`median_band`) are taken by the caller.

Test inputs: 128 inputs x ~ N(0, 1₃) from NumPy's legacy generator seeded with 42 (the
notebook's ``np.random.seed(42)``; :func:`held_out_inputs`), shared by every network; with each
network's own M, W_t, Z:

    s⁰_n = tanh(M x_n) (L),   s_n = tanh(W s⁰_n) (K),   y_n = Z·s_n,   y_{t,n} = Z·tanh(W_t s⁰_n).

=======================  ===============================================================
``test_mse``             (1/n) Σ_n (y_{t,n} − y_n)², no ½ (Fig. 2, 9)
``final_loss``           epoch-mean batch loss at the last snapshot (Fig. 3, 4)
``gradient_norm``        ‖⟨∇L_B⟩_epoch‖_F at a snapshot (Fig. 3, 4; snapshot 0: initial)
``overlap_q``            q = (1/(n K)) Σ_{n,i} s_{n,i}(t=0) s_{n,i}(t_f) (Fig. 5)
``alignment_hs``         hs = ⟨ĥ, ŝ⟩_F / n, ĥ = h/‖h‖_F, h_{n,i} = y_{t,n} Z_i (Fig. 5)
``spacing_lyapunov``     λ = log(ū(t_f)/ū(0)) / E, ū the mean eigenvalue spacing of WWᵀ (Fig. 7)
``spin_glass_couplings`` h = Zᵀ y_t (field) and J = ZᵀZ (coupling) of the features
``eigenvalue_flow``      eigenvalues of WWᵀ at every snapshot, largest first (Fig. 6)
=======================  ===============================================================

Spin-glass reading: with ½(y_t − Z s)² = ½y_t² − hᵀs + ½ sᵀJ s the loss is an energy of soft
spins s ∈ (−1, 1)^K with field h = Zᵀy_t and coupling J = ZᵀZ; s = tanh(z) with z Gaussian
of variance σ_z² has the density of :func:`coulombgas.theory.soft_spin`.

Two of the notebook's definitions are kept as written and named: hs divides the cosine of
the two n×K arrays by n (so it is ~1e-3, the notebook's colour scale 0.5e-3…2.5e-3), and λ
divides by the run's length E in epochs, although the last snapshot is at 19E/20 + 1 epochs
(:func:`~.phase_paper.snapshot_epochs`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import _validate as v
from .phase_paper import PhaseRun

__all__ = ["OrderParameters", "order_parameters", "classify_phase", "PHASES", "PHASE_THRESHOLDS", "held_out_inputs", "features", "test_mse", "final_loss", "gradient_norm", "overlap_q", "alignment_hs",
           "spacing_lyapunov", "spin_glass_couplings", "eigenvalue_flow", "median_band", "N_TEST", "TEST_SEED"]

#: The notebook's held-out inputs: how many, and the legacy NumPy seed.
N_TEST, TEST_SEED = 128, 42


def held_out_inputs(n_test: int = N_TEST, seed: int = TEST_SEED, n_in: int = 3) -> np.ndarray:
    """x (n_test, n_in) ~ N(0, 1): ``np.random.seed(seed); np.random.normal(0, 1, (n_test, n_in))`` bit for bit."""
    n_test = v.integer("n_test", n_test, minimum=1)
    seed = v.integer("seed", seed, minimum=0)
    n_in = v.integer("n_in", n_in, minimum=1)
    return np.random.RandomState(seed).normal(0.0, 1.0, size=(n_test, n_in))


def _run(run) -> PhaseRun:
    if not isinstance(run, PhaseRun):
        raise TypeError(f"`run` must be a PhaseRun (coulombgas.training.phase_paper), got {type(run).__name__}")
    return run


def _snapshot(run, snapshot) -> int:
    S = run.W.shape[1]
    return v.integer("snapshot", snapshot, minimum=-S, maximum=S - 1) % S


def features(run: PhaseRun, snapshot: int = -1, x=None) -> dict:
    """Test-input features of every network: ``s0`` (models, n, L), ``s`` and ``pre`` = W s⁰ (models, n, K),
    ``y`` and teacher ``yt`` (models, n), for W at ``snapshot`` (module docstring)."""
    run = _run(run)
    k = _snapshot(run, snapshot)
    x = held_out_inputs(n_in=run.M.shape[2]) if x is None else np.asarray(x, dtype=float)
    s0 = np.tanh(np.einsum("mli,ni->mnl", run.M, x))
    pre = np.einsum("mkl,mnl->mnk", run.W[:, k], s0)
    s = np.tanh(pre)
    yt = np.einsum("mk,mnk->mn", run.Z, np.tanh(np.einsum("mkl,mnl->mnk", run.Wt, s0)))
    return {"s0": s0, "pre": pre, "s": s, "y": np.einsum("mk,mnk->mn", run.Z, s), "yt": yt}


def test_mse(run: PhaseRun, snapshot: int = -1) -> np.ndarray:
    """(1/n) Σ_n (y_{t,n} − y_n)² on the 128 test inputs, per network (no ½, as the notebook)."""
    f = features(run, snapshot)
    return np.mean((f["yt"] - f["y"]) ** 2, axis=1)


def final_loss(run: PhaseRun) -> np.ndarray:
    """Epoch-mean batch loss at the last snapshot (the run's convention, ½·MSE for the paper), per network."""
    return np.asarray(_run(run).loss[:, -1], dtype=float)


def gradient_norm(run: PhaseRun, snapshot: int = -1) -> np.ndarray:
    """Frobenius norm of the epoch-mean gradient ⟨∇L_B⟩ at ``snapshot`` (0: full-dataset gradient at W(0))."""
    run = _run(run)
    return np.linalg.norm(run.dW[:, _snapshot(run, snapshot)], axis=(-2, -1))


def overlap_q(run: PhaseRun) -> np.ndarray:
    """q = (1/(n K)) Σ_{n,i} s_{n,i}(0) s_{n,i}(t_f): overlap of the initial and final features, per network."""
    s_init, s_final = features(run, 0)["s"], features(run, -1)["s"]
    n, K = s_final.shape[1:]
    return np.einsum("mni,mni->m", s_init, s_final) / (n * K)


def spin_glass_couplings(run: PhaseRun, x=None) -> tuple[np.ndarray, np.ndarray]:
    """Field h = Zᵀ y_t, (models, n, K) (h_{n,i} = y_{t,n} Z_i), and coupling J = ZᵀZ, (models, K, K)."""
    f = features(run, 0, x)
    return f["yt"][:, :, None] * run.Z[:, None, :], np.einsum("mi,mj->mij", run.Z, run.Z)


def alignment_hs(run: PhaseRun, snapshot: int = -1) -> np.ndarray:
    """hs = Σ_{n,i} ĥ_{n,i} ŝ_{n,i} / n with ĥ = h/‖h‖_F, ŝ = s/‖s‖_F (notebook: the cosine divided by n)."""
    h, _ = spin_glass_couplings(run)
    s = features(run, snapshot)["s"]
    hn = h / np.linalg.norm(h, axis=(1, 2), keepdims=True)
    sn = s / np.linalg.norm(s, axis=(1, 2), keepdims=True)
    return np.einsum("mni,mni->m", hn, sn) / s.shape[1]


def eigenvalue_flow(run: PhaseRun) -> np.ndarray:
    """Eigenvalues x_i(t) of WWᵀ at every snapshot, (models, snapshots, K), largest first (squared singular values)."""
    return np.linalg.svd(_run(run).W, compute_uv=False) ** 2


def spacing_lyapunov(run: PhaseRun) -> np.ndarray:
    """λ = log(ū(t_f)/ū(0)) / E per network: ū the mean spacing of adjacent eigenvalues of WWᵀ, E the epochs.

    ū = (x_max − x_min)/(K − 1); the notebook's figure shows the mean of λ over networks.
    """
    x = eigenvalue_flow(run)
    u = (x[:, :, 0] - x[:, :, -1]) / (x.shape[-1] - 1)
    return np.log(u[:, -1] / u[:, 0]) / run.epochs


def median_band(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, 16th, 84th percentile) over ``axis``: the 1σ band the paper draws for losses and gradients."""
    a = np.asarray(values, dtype=float)
    lo, med, hi = np.percentile(a, [16.0, 50.0, 84.0], axis=axis)
    return med, lo, hi


#: Phase names, as :data:`coulombgas.training.phase_network.REGIMES` (paper: ferromagnetic, paramagnetic, spin glass).
PHASES = ("ordered", "high-temperature", "jammed")
#: Cuts on the ensemble means (see :func:`classify_phase`).
PHASE_THRESHOLDS = {"q_jammed": 0.5, "test_mse_ordered": 1e-3}


@dataclasses.dataclass(frozen=True, eq=False)
class OrderParameters:
    """Ensemble means over one grid point's networks of the paper's order parameters, and its phase."""

    test_mse: float
    q: float
    hs: float
    lyapunov: float
    final_loss_median: float
    gradient_norm_median: float
    initial_gradient_norm_median: float
    phase: str
    models: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def classify_phase(test_mse_mean: float, q_mean: float, *, q_jammed: float = PHASE_THRESHOLDS["q_jammed"],
                   test_mse_ordered: float = PHASE_THRESHOLDS["test_mse_ordered"]) -> str:
    """Phase of a grid point from the ensemble means of two of the paper's order parameters.

    * **jammed** (spin glass): q ≥ ``q_jammed``: the features at the end are still, to a large
      part, those at the start (q → 1 for features saturated at initialisation and frozen;
      q ≈ 0 for features that were redrawn by learning or by noise);
    * **ordered** (ferromagnetic): otherwise, test MSE ≤ ``test_mse_ordered``: the student
      has learnt the teacher on held-out inputs;
    * **high-temperature** (paramagnetic): neither (the features moved, but not to the
      teacher's; the spacing exponent λ is then the largest of the three phases).

    The order parameters are the paper's; the two cuts are ours: the paper shows them as
    colour maps (q from 0 to 0.8, test MSE from 1e-7 to 1e-1). Measured at the three
    representative points with 10 networks × 10⁵ updates (seed 0): q = 0.008, 0.006, 0.86 and
    test MSE = 3.5e-5, 2.1e-2, 0.21 at (σ_W, T) = (1/8, 1/32), (1/8, 4), (256, 1/32): each cut
    sits more than a factor 20 (MSE) or 0.35 (q) from every value.
    """
    q_jammed = v.positive("q_jammed", q_jammed)
    test_mse_ordered = v.positive("test_mse_ordered", test_mse_ordered)
    if q_mean >= q_jammed:
        return "jammed"
    if test_mse_mean <= test_mse_ordered:
        return "ordered"
    return "high-temperature"


def order_parameters(run: PhaseRun, **thresholds) -> OrderParameters:
    """Every order parameter of one grid point (ensemble means; medians for loss and gradients) and its phase."""
    mse, q = float(np.mean(test_mse(run))), float(np.mean(overlap_q(run)))
    return OrderParameters(test_mse=mse, q=q, hs=float(np.mean(alignment_hs(run))),
                           lyapunov=float(np.mean(spacing_lyapunov(run))),
                           final_loss_median=float(np.median(final_loss(run))),
                           gradient_norm_median=float(np.median(gradient_norm(run))),
                           initial_gradient_norm_median=float(np.median(gradient_norm(run, 0))),
                           phase=classify_phase(mse, q, **thresholds), models=run.models)
