"""Drift K_i and noise g_i of the eigenvalue SDE, measured from per-sample gradients.

One SGD update W' = W − α Ĝ, Ĝ = mean_{b∈B} G_b, changes X = WᵀW by

    X' − X = α Σ_b δX_b/|B| + α² ĜᵀĜ,        δX_b = −(G_bᵀW + WᵀG_b)

(for X = WWᵀ: δX_b = −(G_b Wᵀ + W G_bᵀ), α² ĜĜᵀ). In the eigenbasis U of X
(X u_i = x_i u_i) write D_b = Uᵀ δX_b U and d = mean_{b∈B} D_b. Second-order
perturbation theory gives, for non-degenerate x,

    x_i' = x_i + α d_ii + α² [ (UᵀĜᵀĜU)_ii + Σ_{j≠i} d_ij²/(x_i − x_j) ] + O(α³).

Averaging over a batch of |B| samples drawn independently from the data
(mean D̄ = mean_b D_b, population variance C_ij = Var_b (D_b)_ij):

    E δx_i = α K_i + α² K2_i + (α²/|B|) [ Σ_{j≠i} C_ij/(x_i − x_j) + Q_i ] + O(α³)
    Var δx_i = (α²/|B|) C_ii + O(α³)

with

* **drift** K_i = D̄_ii (per unit lr, per update);
* deterministic second order K2_i = ‖Ḡ u_i‖² + Σ_{j≠i} D̄_ij²/(x_i − x_j) (per unit lr²);
* **Coulomb coefficients** C_ij (i ≠ j): the noise-induced repulsion of second-order
  perturbation theory, (α²/|B|) Σ_j C_ij/(x_i − x_j);
* Q_i = mean_b ‖(G_b − Ḡ) u_i‖², the Itô-like shift from the α² ĜᵀĜ term (it moves
  every mode the same way to leading order and is absent from the papers' SDE);
* **noise** g_i² = C_ii / 2.

Why g_i² = C_ii/2 (SCIENCE.md §2, consistency note; :meth:`coulombgas.CoulombGas.from_sgd`):
the SDE dx_i = α K_i dt + (α²/|B|) Σ_j g_j²/(x_i − x_j) dt + (α/√|B|) √2 g_i dW_i, with t
counted in updates, has per-update variance s_i² = 2 α² g_i²/|B| (diffusion coefficient
D_i = s_i²/2 = α² g_i²/|B|). Matching it to Var δx_i = (α²/|B|) C_ii gives 2 g_i² = C_ii.
For GOE-like noise (Var of an off-diagonal entry half that of a diagonal one, a law
invariant under rotations) C_ij = C_ii/2 = g² for every pair, so the measured Coulomb
coefficients equal the SDE's g_j² and the stationary law is the β = 1 Coulomb gas; the
*GOE-ness ratio* mean_{i<j} C_ij / mean_i C_ii (= 1/2 for GOE-like noise) measures how
far a model is from that.

Conventions: means and variances are over the S samples returned by the model's
``per_sample_gradients`` (the population: ddof = 0). In-order batches of a fixed dataset
of size S_data are samples *without* replacement: multiply every α²/|B| term by
(S_data − |B|)/(S_data − 1) (``population=`` of :meth:`DriftNoise.expected_change`).
Errors: per model, standard errors over samples; over the ensemble, the jackknife over
models (independent runs), :func:`coulombgas.spectra.jackknife`.

References
----------
G. Aarts, B. Lucini, C. Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427 (the SDE).
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (drift versus noise phase criterion).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings

import numpy as np
from numba import prange

from .. import _validate as v
from .. import potentials as pot
from .._jit import njit
from ..store import json_default
from .finite_lr import corrected_terms, parse_corrections, potential_slope
from .registry import module_of

__all__ = ["DriftNoise", "estimate_drift_noise", "quadratic_fit", "QuadraticFit", "gas_from_harvest",
           "phase_criterion", "PhaseCriterion"]


# ------------------------------------------------------------------ kernel

@njit(parallel=True)
def _moments(W, G, U):
    """Per model: D̄, C = Var_b D (ddof 0), 4th central moment of D_ii, ‖Ḡu_i‖², Q_i.

    W (M, m, k), G (M, S, m, k), U (M, k, k) eigenvectors of WᵀW in columns;
    D_b = −(H + Hᵀ), H = (WU)ᵀ(G_b U). Inputs are validated by the caller.
    """
    M, S, m, k = G.shape
    mean = np.zeros((M, k, k))
    var = np.zeros((M, k, k))
    m4 = np.zeros((M, k))
    gbar2 = np.zeros((M, k))
    ito = np.zeros((M, k))
    for a in prange(M):
        P = np.zeros((m, k))  # W U
        for r in range(m):
            for j in range(k):
                acc = 0.0
                for l in range(k):
                    acc += W[a, r, l] * U[a, l, j]
                P[r, j] = acc
        GU = np.empty((m, k))
        D = np.empty((k, k))
        gsum = np.zeros((m, k))
        dsum = np.zeros((k, k))
        for p in range(2):  # pass 0: means; pass 1: central moments (two-pass for accuracy)
            for b in range(S):
                for r in range(m):
                    for j in range(k):
                        acc = 0.0
                        for l in range(k):
                            acc += G[a, b, r, l] * U[a, l, j]
                        GU[r, j] = acc
                for i in range(k):
                    for j in range(i, k):
                        hij = 0.0
                        hji = 0.0
                        for r in range(m):
                            hij += P[r, i] * GU[r, j]
                            hji += P[r, j] * GU[r, i]
                        D[i, j] = -(hij + hji)
                        D[j, i] = D[i, j]
                if p == 0:
                    for r in range(m):
                        for j in range(k):
                            gsum[r, j] += G[a, b, r, j]
                    for i in range(k):
                        for j in range(k):
                            dsum[i, j] += D[i, j]
                else:
                    for i in range(k):
                        for j in range(k):
                            dev = D[i, j] - mean[a, i, j]
                            var[a, i, j] += dev * dev
                        dev = D[i, i] - mean[a, i, i]
                        m4[a, i] += dev * dev * dev * dev
                        # (G_b − Ḡ) u_i = G_b u_i − Ḡ u_i; gsum holds Ḡ U after pass 0.
                        q = 0.0
                        for r in range(m):
                            e = GU[r, i] - gsum[r, i]
                            q += e * e
                        ito[a, i] += q
            if p == 0:
                for i in range(k):
                    for j in range(k):
                        mean[a, i, j] = dsum[i, j] / S
                gbar = gsum / S
                for r in range(m):  # gsum ← Ḡ U
                    for j in range(k):
                        acc = 0.0
                        for l in range(k):
                            acc += gbar[r, l] * U[a, l, j]
                        gsum[r, j] = acc
                for i in range(k):
                    acc = 0.0
                    for r in range(m):
                        acc += gsum[r, i] * gsum[r, i]
                    gbar2[a, i] = acc
        for i in range(k):
            for j in range(k):
                var[a, i, j] /= S
            m4[a, i] /= S
            ito[a, i] /= S
    return mean, var, m4, gbar2, ito


def _eigenbasis(W):
    """Eigenvalues (ascending) and eigenvectors (columns) of WᵀW, W (M, m, k), via the SVD.

    The SVD gives small eigenvalues to relative precision and matches
    :func:`~coulombgas.training.harvest.spectra_of`; modes beyond min(m, k) are exact zeros.
    """
    _, s, Vt = np.linalg.svd(W, full_matrices=True)
    k = W.shape[-1]
    x = np.zeros(W.shape[:-2] + (k,))
    x[..., : s.shape[-1]] = s**2
    U = np.swapaxes(Vt, -1, -2)
    return x[..., ::-1].copy(), np.ascontiguousarray(U[..., ::-1])


def _pair_sum(coef, x):
    """Σ_{j≠i} coef_ij/(x_i − x_j) over the last axes; inf where a pair is degenerate."""
    d = x[..., :, None] - x[..., None, :]
    n = x.shape[-1]
    off = ~np.eye(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(off, coef / np.where(off, d, 1.0), 0.0)
    return term.sum(axis=-1)


# ------------------------------------------------------------------ result

_ARRAYS = ("drift", "drift_err", "g2", "g2_err", "variance", "mean_change", "gbar2", "ito", "eigenvalues",
           "records", "steps", "model_ids")


@dataclasses.dataclass(frozen=True, eq=False)
class DriftNoise:
    """Drift and noise per model, record and mode (formulas in the module docstring).

    Axes: ``models`` (the harvest's finite models, ``model_ids``), ``records`` (the
    harvest records used, ``records``/``steps``), ``modes`` (eigenvalues of X, ascending).

    Attributes
    ----------
    drift, drift_err : ndarray, shape (models, records, n)
        K_i = mean_b (D_b)_ii per unit lr per update, and its standard error over samples.
    g2, g2_err : ndarray, shape (models, records, n)
        g_i² = Var_b (D_b)_ii / 2 and its standard error over samples.
    variance : ndarray, shape (models, records, n, n)
        C_ij = Var_b (D_b)_ij (diagonal 2 g_i²; off-diagonal the Coulomb coefficients).
    mean_change : ndarray, shape (models, records, n, n)
        D̄ = mean_b D_b (diagonal K_i).
    gbar2, ito : ndarray, shape (models, records, n)
        ‖Ḡ u_i‖² and Q_i = mean_b ‖(G_b − Ḡ) u_i‖².
    eigenvalues : ndarray, shape (models, records, n)
        x_i at each record (eigenvalues of X from the returned W).
    records, steps : ndarray, shape (records,)
        Harvest record indices (non-negative) and the updates done at them.
    model_ids : ndarray, shape (models,)
    lr, batch_size : float, int
        α and |B| used by the derived quantities.
    samples : int
        S, samples per model the moments are over.
    gram : {"WtW", "WWt"}
    model : str
    """

    drift: np.ndarray
    drift_err: np.ndarray
    g2: np.ndarray
    g2_err: np.ndarray
    variance: np.ndarray
    mean_change: np.ndarray
    gbar2: np.ndarray
    ito: np.ndarray
    eigenvalues: np.ndarray
    records: np.ndarray
    steps: np.ndarray
    model_ids: np.ndarray
    lr: float
    batch_size: int
    samples: int
    gram: str = "WtW"
    model: str = ""

    @property
    def models(self) -> int:
        return int(self.drift.shape[0])

    @property
    def n(self) -> int:
        return int(self.drift.shape[-1])

    @property
    def degenerate(self) -> np.ndarray:
        """(models, records): True where two eigenvalues coincide (second-order terms are inf)."""
        x = self.eigenvalues
        scale = np.maximum(np.abs(x).max(axis=-1), np.finfo(float).tiny)
        gaps = np.diff(np.sort(x, axis=-1), axis=-1)
        return np.any(gaps <= 1e-12 * scale[..., None], axis=-1)

    @property
    def coulomb(self) -> np.ndarray:
        """Σ_{j≠i} C_ij/(x_i − x_j), (models, records, n): multiply by α²/|B| for the per-update drift."""
        return _pair_sum(self.variance, self.eigenvalues)

    @property
    def drift2(self) -> np.ndarray:
        """K2_i = ‖Ḡu_i‖² + Σ_{j≠i} D̄_ij²/(x_i − x_j), (models, records, n), per unit lr²."""
        return self.gbar2 + _pair_sum(self.mean_change**2, self.eigenvalues)

    @property
    def goe_ratio(self) -> np.ndarray:
        """mean_{i<j} C_ij / mean_i C_ii per (model, record): 1/2 for GOE-like noise."""
        n = self.n
        iu = np.triu_indices(n, 1)
        diag = np.diagonal(self.variance, axis1=-2, axis2=-1).mean(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.variance[..., iu[0], iu[1]].mean(axis=-1) / diag

    def _scale(self, lr, batch_size, population):
        lr = self.lr if lr is None else v.positive("lr", lr)
        bs = self.batch_size if batch_size is None else v.integer("batch_size", batch_size, minimum=1)
        f = 1.0
        if population is not None:
            population = v.integer("population", population, minimum=bs)
            f = (population - bs) / (population - 1) if population > 1 else 0.0
        return lr, bs, f

    def expected_change(self, *, lr=None, batch_size=None, population=None, order: int = 2) -> np.ndarray:
        """E δx_i per update, (models, records, n), to first or second order in α.

        α K_i [+ α² K2_i + f (α²/|B|)(Σ_{j≠i} C_ij/(x_i−x_j) + Q_i)], with f = 1 for batches
        drawn with replacement and f = (S_data − |B|)/(S_data − 1) for batches of a dataset
        of ``population`` = S_data samples drawn without replacement (in-order epochs).
        """
        lr, bs, f = self._scale(lr, batch_size, population)
        v.one_of("order", order, (1, 2))
        out = lr * self.drift
        if order == 2:
            out = out + lr**2 * self.drift2 + f * lr**2 / bs * (self.coulomb + self.ito)
        return out

    def step_variance(self, *, lr=None, batch_size=None, population=None) -> np.ndarray:
        """Var δx_i per update to leading order: f (α²/|B|) 2 g_i², (models, records, n)."""
        lr, bs, f = self._scale(lr, batch_size, population)
        return f * lr**2 / bs * 2.0 * self.g2

    def ensemble(self, name: str = "drift") -> tuple[np.ndarray, np.ndarray]:
        """Mean over models and its error, each (records, n) (or (records,) for ``goe_ratio``).

        For a per-model field the mean and its standard error s/√models (which is the
        delete-one jackknife error exactly). ``goe_ratio`` is the ratio of the ensemble
        means of the off-diagonal and diagonal variances, with a jackknife error over
        models (:func:`coulombgas.spectra.jackknife`).
        """
        from .. import spectra

        allowed = ("drift", "g2", "drift2", "coulomb", "ito", "goe_ratio", "eigenvalues")
        v.one_of("name", name, allowed)
        if self.models < 2:
            raise ValueError(f"`ensemble` needs at least 2 models for an error, got {self.models}")
        if name == "goe_ratio":
            iu = np.triu_indices(self.n, 1)
            off = self.variance[..., iu[0], iu[1]].mean(axis=-1)
            diag = np.diagonal(self.variance, axis1=-2, axis2=-1).mean(axis=-1)
            runs = np.stack([off, diag], axis=-1)  # (models, records, 2)

            def stat(pooled):
                return pooled[..., 0].mean(axis=0) / pooled[..., 1].mean(axis=0)

            jk = spectra.jackknife(stat, runs[:, None], blocks=min(self.models, 100))
            return jk.estimate, jk.error
        value = getattr(self, name)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"`{name}` has non-finite entries (degenerate eigenvalues); see `degenerate`")
        return value.mean(axis=0), value.std(axis=0, ddof=1) / math.sqrt(self.models)

    # -- storage ------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write to a ``.npz`` file; :meth:`load` round-trips it exactly."""
        meta = {"lr": self.lr, "batch_size": self.batch_size, "samples": self.samples, "gram": self.gram,
                "model": self.model}
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        path = os.fspath(path)
        with open(path, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta, default=json_default)), **arrays)

    @classmethod
    def load(cls, path) -> "DriftNoise":
        """Read a file written by :meth:`save`."""
        with np.load(os.fspath(path), allow_pickle=False) as fh:
            meta = json.loads(str(fh["meta"]))
            arrays = {name: fh[name] for name in _ARRAYS}
        return cls(**arrays, **meta)

    def __repr__(self) -> str:
        return (f"DriftNoise(model={self.model!r}, models={self.models}, records={len(self.records)}, n={self.n}, "
                f"samples={self.samples}, lr={self.lr}, batch_size={self.batch_size})")


# ------------------------------------------------------------------ estimator

def _records(harvest, records) -> np.ndarray:
    R = harvest.records
    arr = np.atleast_1d(np.asarray(records))
    if arr.size == 0 or arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"`records` must be an int or a 1-D sequence of ints in [{-R}, {R - 1}], got {records!r}")
    if arr.min() < -R or arr.max() >= R:
        raise ValueError(f"`records` must be in [{-R}, {R - 1}] (the harvest has {R} records), got {records!r}")
    return np.where(arr < 0, arr + R, arr).astype(np.int64)


def estimate_drift_noise(harvest, gradients, *, records=-1, lr=None, batch_size=None) -> DriftNoise:
    """Drift K_i and noise g_i² (and the Coulomb coefficients) from per-sample gradients.

    For every model and record: X = WᵀW (or WWᵀ for ``harvest.gram == "WWt"``), its
    eigenbasis U, the per-sample first-order changes D_b = Uᵀ δX_b U with
    δX_b = −(G_bᵀW + WᵀG_b) (WWᵀ: −(G_b Wᵀ + W G_bᵀ)), and their moments over
    samples: K_i = mean D_ii, g_i² = Var D_ii / 2, C_ij = Var D_ij (module docstring).

    Parameters
    ----------
    harvest : Harvest
        A training run recorded with ``record_weights=True``.
    gradients : callable
        ``gradients(harvest, record) -> (W, G)`` with W (models, m, k) the weights at
        ``record`` and G (models, S, m, k) per-sample gradients such that one SGD update
        is W ← W − lr·mean_{b∈B} G_b (the per-sample-gradient contract; e.g. a model
        module's ``per_sample_gradients``, or ``functools.partial`` of it with ``samples=``).
    records : int or sequence of int, in [-records, records-1]
        Harvest records to evaluate at (default: the last).
    lr, batch_size : float > 0, int >= 1, optional
        α and |B| stored with the result (default: the harvest's).

    Returns
    -------
    DriftNoise

    Raises
    ------
    ValueError
        No weights in the harvest, records out of range, missing lr/batch_size,
        ``gradients`` returning wrong shapes, non-finite values or weights that differ
        from the harvest's.
    TypeError
        ``gradients`` not callable.

    Notes
    -----
    Where two eigenvalues coincide (e.g. the exact zero modes of WᵀW when k > m) the
    first-order quantities are still exact, but the second-order ones (``coulomb``,
    ``drift2``) are infinite; a ``RuntimeWarning`` says so and ``degenerate`` marks them.

    References
    ----------
    G. Aarts, B. Lucini, C. Park, arXiv:2407.16427; C. Park, B. Lucini, G. Aarts, arXiv:2509.01349.
    """
    if getattr(harvest, "weights", None) is None:
        raise ValueError("`harvest` has no weights: train with record_weights=True to estimate drift and noise")
    if not callable(gradients):
        raise TypeError(f"`gradients` must be callable as gradients(harvest, record) -> (W, G), "
                        f"got {type(gradients).__name__}")
    recs = _records(harvest, records)
    lr = harvest.lr if lr is None else lr
    batch_size = harvest.batch_size if batch_size is None else batch_size
    if lr is None or batch_size is None:
        raise ValueError("`lr` and `batch_size` must be given when the harvest does not record them")
    lr = v.positive("lr", lr)
    batch_size = v.integer("batch_size", batch_size, minimum=1)
    v.one_of("harvest.gram", harvest.gram, ("WtW", "WWt"))
    M, _, m, k = harvest.weights.shape
    out = {key: [] for key in ("drift", "drift_err", "g2", "g2_err", "variance", "mean_change", "gbar2", "ito",
                               "eigenvalues")}
    samples = None
    for r in recs:
        res = gradients(harvest, int(r))
        if not (isinstance(res, tuple) and len(res) == 2):
            raise ValueError("`gradients` must return a pair (W, G)")
        W = np.asarray(res[0], dtype=np.float64)
        G = np.asarray(res[1], dtype=np.float64)
        if W.shape != (M, m, k):
            raise ValueError(f"`gradients` returned W of shape {W.shape}, expected (models, m, k) = {(M, m, k)}")
        if G.ndim != 4 or G.shape[0] != M or G.shape[2:] != (m, k) or G.shape[1] < 2:
            raise ValueError(f"`gradients` returned G of shape {G.shape}, expected (models, S, m, k) = "
                             f"({M}, S, {m}, {k}) with S >= 2")
        if samples is not None and G.shape[1] != samples:
            raise ValueError(f"`gradients` returned {G.shape[1]} samples at record {r}, {samples} before")
        samples = G.shape[1]
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(G))):
            raise ValueError(f"`gradients` returned non-finite values at record {r}")
        if not np.allclose(W, harvest.weights[:, r], rtol=1e-6, atol=0.0):
            raise ValueError(f"`gradients` returned W that differs from harvest.weights[:, {r}]")
        if harvest.gram == "WWt":  # X = WWᵀ = (Wᵀ)ᵀ(Wᵀ); δX = −(G Wᵀ + W Gᵀ) is the same map on Wᵀ, Gᵀ
            W = np.swapaxes(W, -1, -2)
            G = np.swapaxes(G, -1, -2)
        W = np.ascontiguousarray(W)
        G = np.ascontiguousarray(G)
        x, U = _eigenbasis(W)
        mean, var, m4, gbar2, ito = _moments(W, G, U)
        diag = np.diagonal(var, axis1=-2, axis2=-1)
        out["drift"].append(np.diagonal(mean, axis1=-2, axis2=-1))
        out["drift_err"].append(np.sqrt(diag / (samples - 1)))
        out["g2"].append(diag / 2.0)
        # SE of a variance: √((μ₄ − σ⁴)/S); halved for g² = σ²/2.
        out["g2_err"].append(0.5 * np.sqrt(np.maximum(m4 - diag**2, 0.0) / samples))
        out["variance"].append(var)
        out["mean_change"].append(mean)
        out["gbar2"].append(gbar2)
        out["ito"].append(ito)
        out["eigenvalues"].append(x)
    arrays = {key: np.stack(val, axis=1) for key, val in out.items()}
    result = DriftNoise(**arrays, records=recs, steps=np.asarray(harvest.steps)[recs].astype(np.int64),
                        model_ids=np.asarray(harvest.model_ids, dtype=np.int64), lr=lr, batch_size=batch_size,
                        samples=int(samples), gram=harvest.gram, model=str(harvest.model))
    if result.degenerate.any():
        warnings.warn(f"{int(result.degenerate.sum())} (model, record) pairs have degenerate eigenvalues: "
                      "their second-order terms (coulomb, drift2) are infinite", RuntimeWarning, stacklevel=2)
    return result


# ------------------------------------------------------------------ gas from the estimate

@dataclasses.dataclass(frozen=True)
class QuadraticFit:
    """Per-mode fit K_i = −(x_i − center_i)/width_i² (:func:`quadratic_fit`).

    ``slope`` = −1/width², with standard error ``slope_err`` (jackknife over models);
    ``method`` is ``"within"`` (slope from variation within each model across records)
    or ``"pooled"`` (one record: across models).
    """

    center: np.ndarray
    width: np.ndarray
    slope: np.ndarray
    slope_err: np.ndarray
    method: str

    @property
    def potential(self):
        """The fitted :func:`coulombgas.potentials.Quadratic`."""
        return pot.Quadratic(self.center, self.width)


def quadratic_fit(estimate: DriftNoise) -> QuadraticFit:
    """Fit a quadratic potential per mode to the measured drift: K_i = b_i (x_i − c_i).

    With at least two records the slope b_i is the *within-model* least-squares slope
    (K and x demeaned per model, then pooled): each model's finite dataset shifts its
    drift by a constant that is correlated with where its eigenvalues sit, which biases
    an across-model fit; the within-model slope is free of it. With one record the
    pooled across-model slope is used. The centre follows from the grand means,
    c_i = x̄_i − K̄_i/b_i, so the Coulomb shift of ⟨x_i⟩ (non-zero mean drift) is
    attributed to the repulsion, not to the well. Width: w_i = 1/√(−b_i).

    Raises
    ------
    ValueError
        A mode whose drift does not confine it (b_i >= 0) or has no spread in x.
    """
    K, x = estimate.drift, estimate.eigenvalues
    within = K.shape[1] >= 2
    if within:
        Kc = K - K.mean(axis=1, keepdims=True)
        xc = x - x.mean(axis=1, keepdims=True)
    else:
        Kc = K - K.mean(axis=(0, 1), keepdims=True)
        xc = x - x.mean(axis=(0, 1), keepdims=True)
    sxy = (Kc * xc).sum(axis=1)  # per model, (models, n)
    sxx = (xc * xc).sum(axis=1)
    if np.any(sxx.sum(axis=0) <= 0):
        raise ValueError("`estimate` has no spread of eigenvalues to fit a slope to; use more records or models")
    slope = sxy.sum(axis=0) / sxx.sum(axis=0)
    M = estimate.models
    if within and M >= 2:
        loo = (sxy.sum(axis=0) - sxy) / (sxx.sum(axis=0) - sxx)
        slope_err = np.sqrt((M - 1) / M * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))
    else:
        resid = Kc - slope * xc
        dof = max(K.shape[0] * K.shape[1] - 2, 1)
        slope_err = np.sqrt((resid**2).sum(axis=(0, 1)) / dof / sxx.sum(axis=0))
    if np.any(slope >= 0):
        bad = np.flatnonzero(slope >= 0).tolist()
        raise ValueError(f"the drift does not confine modes {bad} (fitted dK/dx >= 0); "
                         "pass an explicit `potential` instead of 'quadratic'")
    center = x.mean(axis=(0, 1)) - K.mean(axis=(0, 1)) / slope
    return QuadraticFit(center=center, width=1.0 / np.sqrt(-slope), slope=slope, slope_err=slope_err,
                        method="within" if within else "pooled")


def _default_gradients(harvest):
    module = module_of(str(harvest.model))
    if module is None or not hasattr(module, "per_sample_gradients"):
        raise ValueError(f"no per_sample_gradients known for model {harvest.model!r}; pass `estimate` or "
                         "`gradients`")
    return module.per_sample_gradients


def gas_from_harvest(harvest, estimate: DriftNoise | None = None, *, potential="quadratic", gradients=None,
                     records=None, beta: float = 1.0, corrections="continuum"):
    """The :class:`~coulombgas.CoulombGas` whose SDE has the drift and noise measured in training.

    ``CoulombGas.from_sgd(V, g, lr=α, batch_size=|B|, n=n)`` with g_i = √⟨g_i²⟩ (mean over
    models and the estimate's records) and V_i from :func:`quadratic_fit` (or ``potential``
    when it is a :class:`~coulombgas.potentials.Potential`). Its stationary law is
    P_s ∝ Π|x_i − x_j|^β exp(−Σ V_i/(T g_i²)), T = α/|B|: for a quadratic V_i the
    single-mode width is σ_i = w_i √(T g_i²).

    Why a drift fit and not the fluctuation–dissipation relation: the width w_i then
    comes from the drift alone, and the gas's spacing ⟨S⟩ is a prediction that can be
    compared with the harvest's; matching ⟨x⟩ and Var x instead would make that
    comparison circular.

    Parameters
    ----------
    harvest : Harvest
    estimate : DriftNoise, optional
        Default: :func:`estimate_drift_noise` on up to 8 records of the harvest's last
        half, with ``gradients`` (default: the model module's ``per_sample_gradients``).
    potential : "quadratic" or Potential
    gradients : callable, optional
    records : int or sequence of int, optional
        Records for the default estimate.
    beta : float > 0
        Vandermonde exponent (1 for real weights).
    corrections : "continuum", "all", or names from ("step", "pairs", "wishart", "drift2")
        Finite-α corrections (:mod:`coulombgas.training.finite_lr`, where each is derived):
        ``"step"`` the AR(1) factor 1/(1 − α|K′_i|/2) of each mode's stationary variance;
        ``"pairs"`` the measured symmetric C_ij as pair weights; ``"wishart"`` noise
        growing like x (a Laguerre effective potential); ``"drift2"`` the measured Itô and
        second-order drift. Default ``"continuum"``: none, the α → 0 SDE of the papers
        (today's gas, unchanged).

    Raises
    ------
    ValueError
        Unconfining drift, a mode with g = 0, an estimate of another harvest, an unknown
        correction, α outside the step's stable range (α|K′_i| ≥ 2) for ``"step"``.
    """
    names = parse_corrections(corrections)
    if estimate is None:
        grads = _default_gradients(harvest) if gradients is None else gradients
        if records is None:
            late = np.arange(harvest.records // 2, harvest.records)
            records = np.unique(late[np.linspace(0, len(late) - 1, min(8, len(late))).round().astype(int)])
        estimate = estimate_drift_noise(harvest, grads, records=records)
    if not isinstance(estimate, DriftNoise):
        raise TypeError(f"`estimate` must be a DriftNoise, got {type(estimate).__name__}")
    if estimate.n != harvest.n or estimate.models != harvest.models:
        raise ValueError(f"`estimate` (models={estimate.models}, n={estimate.n}) is not of this harvest "
                         f"(models={harvest.models}, n={harvest.n})")
    fit = None
    if isinstance(potential, pot.Potential):
        V = potential
    else:
        v.one_of("potential", potential, ("quadratic",))
        fit = quadratic_fit(estimate)
        V = fit.potential
    g2 = estimate.g2.mean(axis=(0, 1))
    if np.any(g2 <= 0):
        raise ValueError(f"modes {np.flatnonzero(g2 <= 0).tolist()} have no gradient noise (g = 0): "
                         "no Coulomb gas describes them")
    from ..gas import CoulombGas

    if not names:
        return CoulombGas.from_sgd(V, np.sqrt(g2), lr=estimate.lr, batch_size=estimate.batch_size, n=estimate.n,
                                   beta=beta)
    if fit is not None:
        slope = fit.slope
    else:
        slope = potential_slope(V, estimate.eigenvalues.mean(axis=(0, 1)))
    terms = corrected_terms(estimate, V, slope, names, center=None if fit is None else fit.center,
                                      width=None if fit is None else fit.width)
    gas = CoulombGas.from_sgd(terms.potential, terms.g, lr=estimate.lr, batch_size=estimate.batch_size,
                              n=estimate.n, beta=beta)
    if "pairs" in names:
        gas = dataclasses.replace(gas, weights=terms.weights)
    return gas


# ------------------------------------------------------------------ phase criterion

@dataclasses.dataclass(frozen=True, eq=False)
class PhaseCriterion:
    """Drift spread versus Coulomb-weighted noise (:func:`phase_criterion`) *(reconstructed)*.

    Per (model, record): ``drift_spread`` Δ = std_i(α K_i), ``coulomb_noise``
    Γ = mean_i (α²/|B|) Σ_{j≠i} c_ij/|x_i − x_j|, ``diffusion_noise``
    √(mean_i (α²/|B|) 2 g_i²) (for reference). ``ratio`` (records,) is ⟨Δ⟩/⟨Γ⟩ over
    models with jackknife ``ratio_err``; ``verdict`` (records,) is ``"ordered"``
    (drift-dominated, ratio > 1) or ``"high-temperature"`` (noise-dominated).
    """

    drift_spread: np.ndarray
    coulomb_noise: np.ndarray
    diffusion_noise: np.ndarray
    ratio: np.ndarray
    ratio_err: np.ndarray
    verdict: tuple
    steps: np.ndarray
    weights: str

    @property
    def final(self) -> str:
        """The verdict at the last record evaluated."""
        return self.verdict[-1]


def phase_criterion(estimate: DriftNoise, *, weights: str = "variance") -> PhaseCriterion:
    """A drift-spread versus Coulomb-weighted-noise diagnostic of any harvest (not paper 4's criterion).

    *(An early reconstruction of paper 4's criterion, arXiv:2509.01349, before its authors'
    notebook was read. It is kept as a general diagnostic; its threshold 1 labels paper 4's
    high-temperature phase "ordered" (measured ratios 2.5–4). For the authors' criterion use
    :func:`coulombgas.training.phase_boundary.criterion_terms`.)*
    Both sides are per-update eigenvalue velocities from the SDE of the module docstring:

        Δ = std_i(α K_i),      Γ = mean_i (α²/|B|) Σ_{j≠i} c_ij / |x_i − x_j|,

    with c_ij = C_ij, the measured Coulomb coefficients (``weights="variance"``) or the
    SDE's c_ij = g_j² (``weights="g2"``). Δ measures how strongly the loss landscape
    pulls different modes to different places (ordering); Γ how strongly the noise
    pushes neighbouring modes apart (heating). ratio = ⟨Δ⟩/⟨Γ⟩ > 1: drift-dominated,
    the ordered (ferromagnetic) phase that learns the teacher; < 1: noise-dominated,
    the high-temperature (paramagnetic) phase. The jammed phase of paper 4 (saturated
    activations, σ_W² > 1/2) is not decided by this criterion.

    Raises
    ------
    ValueError
        Degenerate eigenvalues (Γ infinite), fewer than 2 models, bad ``weights``.
    """
    if not isinstance(estimate, DriftNoise):
        raise TypeError(f"`estimate` must be a DriftNoise, got {type(estimate).__name__}")
    v.one_of("weights", weights, ("variance", "g2"))
    if estimate.models < 2:
        raise ValueError(f"`estimate` must hold at least 2 models for an error, got {estimate.models}")
    if estimate.degenerate.any():
        raise ValueError("`estimate` has degenerate eigenvalues: the Coulomb-weighted noise is infinite")
    lr, bs = estimate.lr, estimate.batch_size
    drift_spread = np.std(lr * estimate.drift, axis=-1)
    if weights == "variance":
        c = estimate.variance
    else:
        c = np.broadcast_to(estimate.g2[..., None, :], estimate.variance.shape)
    x = estimate.eigenvalues
    d = np.abs(x[..., :, None] - x[..., None, :])
    off = ~np.eye(estimate.n, dtype=bool)
    coul = np.where(off, c / np.where(off, d, 1.0), 0.0).sum(axis=-1)
    coulomb_noise = lr**2 / bs * coul.mean(axis=-1)
    diffusion_noise = np.sqrt(lr**2 / bs * 2.0 * estimate.g2.mean(axis=-1))
    M = estimate.models
    sd, sc = drift_spread.sum(axis=0), coulomb_noise.sum(axis=0)
    ratio = sd / sc
    loo = (sd - drift_spread) / (sc - coulomb_noise)
    ratio_err = np.sqrt((M - 1) / M * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))
    verdict = tuple("ordered" if r > 1.0 else "high-temperature" for r in ratio)
    return PhaseCriterion(drift_spread=drift_spread, coulomb_noise=coulomb_noise, diffusion_noise=diffusion_noise,
                          ratio=ratio, ratio_err=ratio_err, verdict=verdict, steps=estimate.steps, weights=weights)
