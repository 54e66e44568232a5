"""Paper 4's training history, as the authors record it: 21 snapshots of W, its epoch-mean gradient and loss.

Park, Lucini, Aarts, arXiv:2509.01349; the layout is that of the authors' released
``src/bin/generate.py`` (github chanjure/phase_ml), read for its facts:

* a run of E epochs (one epoch = the 1000·|B| fixed samples swept in order, ``epoch_batches``
  updates) keeps ``save_points`` = min(20, E) snapshots after the initial one;
* snapshot 0 is W(0) with the loss (½·MSE) and gradient over the *whole* dataset at W(0);
* snapshot k ≥ 1 is taken at the end of epoch e_k = (k − 1)·E/save_points (counted from 0),
  i.e. after (k − 1)·E/save_points + 1 epochs: the script saves after epoch e whenever e is
  one of 0, E/20, 2E/20, …, so its first saved state follows one epoch and its last one
  19E/20 + 1 epochs, and the final E/20 − 1 epochs are trained but never saved (reproduced
  here as written; :func:`snapshot_epochs`);
* with a snapshot the script keeps the *mean batch loss* and the *mean batch gradient* over
  that epoch, ⟨∇L_B⟩_epoch. Since an epoch's updates sum to W(start) − W(end) = ε Σ_B ∇L_B,
  that mean is exactly (W(start) − W(end))/(ε · epoch_batches), which is how it is computed
  here (to rounding, ~1e-16·|W|/ε).

:func:`paper_snapshots` builds this history from a :func:`~.phase_network.phase_network`
harvest recorded with ``snapshots=save_points + 1`` (records every E/save_points epochs): the
state at the start of each saved epoch is a record, and one more epoch of training from it
(deterministic: the batches are swept in order, nothing is drawn) gives the epoch's mean loss,
mean gradient and the saved W. A frozen network (batch loss > 100) is left out of the
harvest by the training driver; the paper keeps it at its last W (it practically never
happens: the loss is bounded by ≈ 20, see :mod:`.phase_network`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import _validate as v
from .phase_network import NAME, advance, init, loss_scale, phase_network
from ._loop import replay_init

__all__ = ["PhaseRun", "paper_snapshots", "snapshot_epochs", "paper_run"]


def snapshot_epochs(epochs: int) -> np.ndarray:
    """Epochs completed at each of generate.py's snapshots of an ``epochs``-epoch run: 0, 1, E/20 + 1, …

    ``epochs`` must be ≤ 20 or a multiple of 20 (the script's save rule needs it: for other
    values it compares the epoch with non-integer marks or indexes past its arrays).
    """
    epochs = v.integer("epochs", epochs, minimum=1)
    points = min(20, epochs)
    if epochs % points:
        raise ValueError(f"`epochs` must be <= 20 or a multiple of 20 (generate.py's snapshot rule), got {epochs}")
    interval = epochs // points
    return np.r_[0, np.arange(points) * interval + 1].astype(np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class PhaseRun:
    """One grid point's networks in generate.py's history layout.

    Axes: model (``model_ids``, the harvest's kept models), snapshot (``epochs_at``), then
    K = n_hidden rows and L = n_mid columns of W.

    Attributes
    ----------
    W, dW : ndarray (models, snapshots, K, L)
        Weights and the epoch-mean gradient of the loss (module docstring; snapshot 0: the
        full-dataset gradient at W(0)).
    loss : ndarray (models, snapshots)
        Epoch-mean batch loss (snapshot 0: full-dataset loss at W(0)), in the run's convention.
    M, Wt, Z : ndarray (models, L, n_in), (models, K, L), (models, K)
        Each model's fixed first layer, teacher and read-out.
    epochs_at : ndarray (snapshots,)
        Epochs completed at each snapshot (:func:`snapshot_epochs`).
    lr, sigma_w, batch_size, epochs, loss_name, frozen
        ε, σ_W, |B|, the run's length in epochs, ``"half_mse"`` or ``"mse"``, and the number
        of networks that froze (left out).
    """

    W: np.ndarray
    dW: np.ndarray
    loss: np.ndarray
    M: np.ndarray
    Wt: np.ndarray
    Z: np.ndarray
    epochs_at: np.ndarray
    model_ids: np.ndarray
    lr: float
    sigma_w: float
    batch_size: int
    epochs: int
    loss_name: str
    frozen: int

    @property
    def temperature(self) -> float:
        """T = ε/|B| (the paper's, when ``loss_name == "half_mse"``)."""
        return self.lr / self.batch_size

    @property
    def models(self) -> int:
        return int(self.W.shape[0])

    def save(self, path) -> None:
        """Write every field to a ``.npz`` file (:meth:`load` reads it back exactly)."""
        arrays = {f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self)}
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path) -> "PhaseRun":
        with np.load(path, allow_pickle=False) as a:
            kw = {f.name: a[f.name] for f in dataclasses.fields(cls)}
        for name, typ in (("lr", float), ("sigma_w", float), ("batch_size", int), ("epochs", int),
                          ("loss_name", str), ("frozen", int)):
            kw[name] = typ(kw[name])
        return cls(**kw)


def paper_snapshots(harvest, epochs: int | None = None) -> PhaseRun:
    """generate.py's history (module docstring) from a :func:`phase_network` harvest.

    Parameters
    ----------
    harvest : Harvest
        From :func:`~coulombgas.training.phase_network` with ``record_weights=True``, a run
        of E whole epochs (``steps`` = E·``epoch_batches``) recorded at least at every
        E/min(20, E) epochs (e.g. ``snapshots=21`` for E a multiple of 20).
    epochs : int, optional
        Treat the run as if it had stopped after this many epochs (≤ the run's): training
        draws nothing, so the first E′ epochs of a long run *are* an E′-epoch run. One run
        recorded every epoch thus gives the history of every shorter length (run-length
        extrapolation).

    Returns
    -------
    PhaseRun

    Raises
    ------
    ValueError
        Naming ``harvest`` (not a phase-network run, no weights, records not at the needed
        epochs) or ``steps`` (not whole epochs, or an epoch count generate.py cannot save).
    """
    if getattr(harvest, "model", None) != NAME:
        raise ValueError(f"`harvest` must come from phase_network (model {NAME!r}), "
                         f"got {getattr(harvest, 'model', type(harvest).__name__)!r}")
    if harvest.weights is None:
        raise ValueError("`harvest` has no weights: train with record_weights=True to take snapshots")
    p = harvest.params
    nb, lr = int(p["epoch_batches"]), float(p["lr"])
    steps = int(harvest.steps[-1])
    if steps % nb:
        raise ValueError(f"`steps`={steps} must be whole epochs (a multiple of epoch_batches={nb})")
    epochs_run = steps // nb
    epochs = epochs_run if epochs is None else v.integer("epochs", epochs, minimum=1, maximum=epochs_run)
    try:
        at = snapshot_epochs(epochs)
    except ValueError as exc:
        raise ValueError(f"`steps`: {exc}") from None
    starts = (at[1:] - 1) * nb  # updates done when each saved epoch begins
    where = np.searchsorted(harvest.steps, starts)
    if np.any(where >= len(harvest.steps)) or np.any(harvest.steps[np.minimum(where, len(harvest.steps) - 1)] != starts):
        raise ValueError(f"`harvest` needs records at updates {starts.tolist()} (train with "
                         f"snapshots={len(at)} or a record_every dividing {int(starts[1]) if len(starts) > 1 else nb})")
    data, _ = replay_init(init, harvest)
    models, K, L = harvest.models, harvest.weights.shape[2], harvest.weights.shape[3]
    S = len(at)
    W = np.empty((models, S, K, L))
    dW = np.empty((models, S, K, L))
    loss = np.empty((models, S))
    scale = loss_scale(p)
    W0 = harvest.weights[:, 0]
    W[:, 0] = W0
    loss[:, 0], dW[:, 0] = full_loss_and_gradient(W0, data["H"], data["y"], data["Z"], scale)
    kept = np.ones(models, dtype=bool)
    for k, (start, r) in enumerate(zip(starts, where), start=1):
        Ws = np.ascontiguousarray(harvest.weights[:, r])
        state = {"W": Ws.copy(), "step": np.full(models, int(start), dtype=np.int64),
                 "diverged": np.zeros(models, dtype=np.int64)}
        loss[:, k] = advance(data, state, None, nb, p)
        W[:, k] = state["W"]
        dW[:, k] = (Ws - state["W"]) / (lr * nb)
        kept &= state["diverged"] == 0
    return PhaseRun(W=W[kept], dW=dW[kept], loss=loss[kept], M=data["M"][kept], Wt=data["Wt"][kept],
                    Z=data["Z"][kept], epochs_at=at, model_ids=np.asarray(harvest.model_ids)[kept], lr=lr,
                    sigma_w=float(p["sigma_w"]), batch_size=int(p["batch_size"]), epochs=epochs,
                    loss_name=str(p.get("loss", "mse")), frozen=int(len(harvest.diverged_ids) + np.sum(~kept)))


def full_loss_and_gradient(W, H, y, Z, scale):
    """Loss s·mean_n (ŷ_n − y_n)² and its gradient over a whole dataset, per model: ((models,), (models, K, L))."""
    t = np.tanh(np.einsum("mjk,mnk->mnj", W, H))
    e = np.einsum("mnj,mj->mn", t, Z) - y
    delta = (2.0 * scale) * e[..., None] * Z[:, None, :] * (1.0 - t * t)
    return scale * np.mean(e * e, axis=1), np.einsum("mnj,mnk->mjk", delta, H) / H.shape[1]


def paper_run(*, lr: float, sigma_w: float, epochs: int = 100, models: int = 10, seed=0, batch_size: int = 4,
              epoch_batches: int = 1000, seeds_per_dataset: int = 1, device: str = "cpu",
              fallback: bool = False) -> PhaseRun:
    """Train one grid point as the authors did (½·MSE, sweeps in order, 21 snapshots) and return its history.

    ``epochs`` (≤ 20 or a multiple of 20) of ``epoch_batches`` updates each; the paper runs
    100,000 epochs of 1000 batches (10⁸ updates) and 100 models per point. Arguments as in
    :func:`~coulombgas.training.phase_network`.
    """
    points = snapshot_epochs(epochs).size
    steps = v.integer("epochs", epochs, minimum=1) * v.integer("epoch_batches", epoch_batches, minimum=1)
    h = phase_network(lr=lr, sigma_w=sigma_w, batch_size=batch_size, models=models, steps=steps,
                         snapshots=points, seed=seed, epoch_batches=epoch_batches, loss="half_mse",
                         seeds_per_dataset=seeds_per_dataset, progress=False, device=device, fallback=fallback)
    return paper_snapshots(h)
