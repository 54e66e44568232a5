"""The authors' drift-versus-noise criterion for paper 4's ordered/high-temperature boundary.

Park, Lucini, Aarts, arXiv:2509.01349; the criterion as the authors evaluate it in their
analysis notebook (github chanjure/phase_ml, ``src/notebooks/empirical_phase.ipynb``), read
for its facts. For one network at its final snapshot, over the n = 128 held-out inputs
(:func:`~.phase_observables.held_out_inputs`):

1. per input, the descent direction of the per-sample loss, Ĝ_n = −∂(½(y_t − ŷ)²)/∂W (the
   notebook's ``grad``; K × L), and the change it makes in X = WWᵀ to first order,
   dX_n = W Ĝ_nᵀ + Ĝ_n Wᵀ (K × K);
2. U: the eigenvectors of X, column 0 the largest (``numpy.linalg.svd(X)``, as written);
3. K̃ = Uᵀ mean_n(dX) U, Ṽ = Uᵀ var_n(dX) U (element-wise variance over inputs);
4. drift spread K_t = |K̃₀₀| − |K̃_{K−1,K−1}|; Coulomb-weighted noise
   V_t = 2Ṽ_{0,K−1}/(K − 1) + Σ_{k=1}^{K−2} (Ṽ_{0,k} + Ṽ_{K−1,K−k})/k;
5. the network is *drift-dominated* when K_t/(√r (K − 1)) ≥ (ε/|B|) V_t/(4σ_W²), r = L/K
   (the notebook's ``r = 2``, 32/16).

Over a grid, the fraction of drift-dominated networks per point is contoured at
0.68/0.95/0.997 (:data:`LEVELS`), masked where (ε/|B|)/σ_W ≤ 0.1 (:func:`criterion_mask`), and
T_c(level) = (ε_k + ε_{k+1})/(2|B|) with k the *largest* ε index whose fraction exceeds the
level (:func:`critical_temperature`; the notebook evaluates it on the row σ_W = 1/8 only).

``form="notebook"`` reproduces steps 3–4 as written; two of them look unintended, and
``form="corrected"`` changes exactly these:

* **index** — for k = 1 the term Ṽ_{K−1,K−k} is the diagonal entry Ṽ_{K−1,K−1} (the
  bottom mode's own variance), and in general it sits k − 1 places from the bottom mode
  while being divided by k. Coulomb weighting of the bottom mode's neighbours needs
  Ṽ_{K−1,K−1−k}/k, the mirror image of Ṽ_{0,k}/k; the 2Ṽ_{0,K−1}/(K−1) term is then the
  k = K − 1 term of both sums.
* **rotation of a variance** — U ᵀ var(dX) U is not the variance of the rotated matrices
  (var_n[(Uᵀ dX_n U)_{ab}]): it mixes element variances with the signs of U's columns, so
  its off-diagonal entries change sign with the arbitrary sign LAPACK gives an
  eigenvector and can be negative. The corrected form uses var_n(Uᵀ dX_n U) (≥ 0,
  sign-free).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import _validate as v
from ._loop import replay_init
from .phase_network import NAME, gradients_at, init
from .phase_observables import features
from .phase_paper import PhaseRun

__all__ = ["CriterionTerms", "criterion_terms", "rotated_moments", "drift_spread", "coulomb_noise", "drift_dominated_fraction",
           "critical_temperature", "crossing",
           "criterion_mask", "LEVELS", "FORMS", "MASK_BELOW"]

#: Contour levels of the fraction of drift-dominated networks (1σ, 2σ, 3σ).
LEVELS = (0.68, 0.95, 0.997)
#: The notebook's criterion as written, and with its two corrections (module docstring).
FORMS = ("notebook", "corrected")
#: The contours are masked where (ε/|B|)/σ_W is at most this.
MASK_BELOW = 0.1


@dataclasses.dataclass(frozen=True, eq=False)
class CriterionTerms:
    """Per-network terms of the criterion (axes: model); ``drift`` = K_t/(√r (K−1)), ``noise`` = T V_t/(4σ_W²)."""

    K_t: np.ndarray
    V_t: np.ndarray
    drift: np.ndarray
    noise: np.ndarray
    passes: np.ndarray
    form: str
    temperature: float
    sigma_w: float

    @property
    def fraction(self) -> float:
        """Fraction of the networks that are drift-dominated."""
        return float(np.mean(self.passes))


def _inputs(run, record):
    """(W, M, Wt, Z, lr, batch_size, sigma_w) at the final snapshot of a PhaseRun or a record of a harvest."""
    if isinstance(run, PhaseRun):
        return run
    if getattr(run, "model", None) != NAME:
        raise TypeError(f"`run` must be a PhaseRun or a phase_network Harvest, got {type(run).__name__}")
    if run.weights is None:
        raise ValueError("`run` has no per-sample gradients: its weights were not recorded "
                         "(train with record_weights=True, or pass a PhaseRun)")
    rec = v.integer("record", record, minimum=-run.records, maximum=run.records - 1)
    data, _ = replay_init(init, run)
    p = run.params
    return PhaseRun(W=run.weights[:, [rec]], dW=np.zeros(0),
                    loss=np.zeros(0), M=data["M"], Wt=data["Wt"], Z=data["Z"], epochs_at=np.zeros(1, dtype=np.int64),
                    model_ids=np.asarray(run.model_ids), lr=float(p["lr"]), sigma_w=float(p["sigma_w"]),
                    batch_size=int(p["batch_size"]), epochs=1, loss_name=str(p.get("loss", "mse")), frozen=0)


def criterion_terms(run, *, form: str = "notebook", record: int = -1, x=None) -> CriterionTerms:
    """K_t, V_t and the verdict of every network (module docstring), at the final snapshot.

    Parameters
    ----------
    run : PhaseRun or Harvest
        A :class:`~.phase_paper.PhaseRun`, or a phase-network harvest with recorded weights
        (``record`` chooses its record; the default is the last).
    form : {"notebook", "corrected"}
    x : array (n, n_in), optional
        Inputs (default: the notebook's 128 held-out inputs, seed 42).

    Raises
    ------
    ValueError
        A harvest without weights (no per-sample gradients can be formed), an unknown ``form``.
    """
    v.one_of("form", form, FORMS)
    run = _inputs(run, record)
    f = features(run, -1, x)
    W = run.W[:, -1]
    models, K, L = W.shape
    # Descent direction of ½(y_t − ŷ)² per input: minus the per-sample gradient of phase_network.
    G = -gradients_at(W, f["s0"], f["yt"], run.Z, 0.5)
    dXl = np.einsum("mal,mnbl->mnab", W, G)
    dX = dXl + np.swapaxes(dXl, -1, -2)
    X = np.einsum("mal,mbl->mab", W, W)
    U = np.linalg.svd(X)[0]  # columns: eigenvectors of X = WWᵀ, largest eigenvalue first
    Kt_mat, Vt_mat = rotated_moments(U, dX, form)
    K_t = drift_spread(Kt_mat)
    V_t = coulomb_noise(Vt_mat, form)
    r = L / K
    T = run.lr / run.batch_size
    drift = K_t / math.sqrt(r) / (K - 1.0)
    noise = T * V_t / run.sigma_w**2 / 4.0
    return CriterionTerms(K_t=K_t, V_t=V_t, drift=drift, noise=noise, passes=drift >= noise, form=form,
                          temperature=T, sigma_w=run.sigma_w)


def rotated_moments(U, dX, form: str = "notebook"):
    """(K̃, Ṽ): K̃ = Uᵀ mean_n(dX) U and Ṽ = Uᵀ var_n(dX) U (notebook) or var_n(Uᵀ dX_n U) (corrected).

    U (models, K, K) eigenvectors in columns; dX (models, n, K, K) one matrix per input.
    """
    v.one_of("form", form, FORMS)
    Kt = np.einsum("mba,mbc,mcd->mad", U, dX.mean(axis=1), U)
    if form == "notebook":
        return Kt, np.einsum("mba,mbc,mcd->mad", U, dX.var(axis=1), U)
    return Kt, np.einsum("mba,mnbc,mcd->mnad", U, dX, U).var(axis=1)


def drift_spread(K_tilde) -> np.ndarray:
    """K_t = |K̃₀₀| − |K̃_{K−1,K−1}| of rotated drift matrices (..., K, K), index 0 the largest eigenvalue."""
    diag = np.abs(np.diagonal(np.asarray(K_tilde, dtype=float), axis1=-2, axis2=-1))
    return diag[..., 0] - diag[..., -1]


def coulomb_noise(V_tilde, form: str = "notebook") -> np.ndarray:
    """V_t of rotated noise matrices (..., K, K): 2Ṽ_{0,K−1}/(K−1) + Σ_{k=1}^{K−2} (Ṽ_{0,k} + Ṽ_{K−1,j_k})/k.

    j_k = K − k as the notebook writes it (``form="notebook"``: j₁ is the diagonal entry),
    j_k = K − 1 − k for ``form="corrected"`` (the bottom mode's k-th neighbour).
    """
    v.one_of("form", form, FORMS)
    V = np.asarray(V_tilde, dtype=float)
    K = V.shape[-1]
    out = 2.0 * V[..., 0, K - 1] / (K - 1.0)
    for k in range(1, K - 1):
        j = K - k if form == "notebook" else K - 1 - k
        out = out + (V[..., 0, k] + V[..., K - 1, j]) / k
    return out


def _grid_axis(name, values):
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or a.size < 1:
        raise ValueError(f"`{name}` must be a 1-d list of values > 0, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"`{name}` must hold finite values > 0, got {a.tolist()}")
    return a


def drift_dominated_fraction(terms) -> np.ndarray:
    """Fraction of drift-dominated networks at every grid point: ``terms`` a nested list (σ_W rows × ε columns)."""
    return np.array([[t.fraction for t in row] for row in terms], dtype=float)


def criterion_mask(lr, sigma_w, batch_size: int = 4) -> np.ndarray:
    """True where the criterion's contour is hidden: (ε/|B|)/σ_W ≤ 0.1; shape (len(sigma_w), len(lr))."""
    lr, sigma_w = _grid_axis("lr", lr), _grid_axis("sigma_w", sigma_w)
    batch_size = v.integer("batch_size", batch_size, minimum=1)
    return (lr[None, :] / batch_size) / sigma_w[:, None] <= MASK_BELOW


def critical_temperature(fraction, lr, batch_size: int = 4, level: float = LEVELS[0]) -> np.ndarray:
    """T_c per σ_W row: (ε_k + ε_{k+1})/(2|B|), k the largest ε index with fraction > ``level``.

    ``fraction`` (σ_W rows, ε columns, ε ascending). NaN where no ε passes, or where the
    last one does (no ε_{k+1}: the notebook would index past its grid).
    """
    lr = _grid_axis("lr", lr)
    if np.any(np.diff(lr) <= 0):
        raise ValueError(f"`lr` must be ascending, got {lr.tolist()}")
    batch_size = v.integer("batch_size", batch_size, minimum=1)
    level = v.positive("level", level)
    f = np.atleast_2d(np.asarray(fraction, dtype=float))
    if f.shape[-1] != lr.size:
        raise ValueError(f"`fraction` must have len(lr)={lr.size} columns, got shape {f.shape}")
    out = np.full(f.shape[0], np.nan)
    for i, row in enumerate(f):
        above = np.flatnonzero(row > level)
        if above.size and above[-1] + 1 < lr.size:
            k = above[-1]
            out[i] = (lr[k] + lr[k + 1]) / (2.0 * batch_size)
    return out


def crossing(x, y, level: float) -> float:
    """Where y(x) first crosses ``level`` going along x, interpolated linearly in (log x, y); NaN if it never does.

    Used for the ordered/jammed boundary: x = 1/σ_W ascending along a row of fixed T, y the
    ensemble-mean overlap q, level ½ (:data:`~.phase_observables.PHASE_THRESHOLDS`).
    """
    x = _grid_axis("x", x)
    y = np.asarray(y, dtype=float)
    if y.shape != x.shape:
        raise ValueError(f"`y` must have the shape of `x` {x.shape}, got {y.shape}")
    side = y >= level
    for i in range(len(x) - 1):
        if side[i] != side[i + 1] and np.isfinite(y[i]) and np.isfinite(y[i + 1]):
            a, b = math.log(x[i]), math.log(x[i + 1])
            return float(math.exp(a + (level - y[i]) * (b - a) / (y[i + 1] - y[i])))
    return math.nan
