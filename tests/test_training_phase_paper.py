"""Tests of generate.py's history layout (coulombgas.training.phase_paper).

The snapshots, epoch-mean losses and gradients against a plain NumPy replay of the
authors' training loop and save rule (written here from its description), to 1e-10.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from test_training_phase_network import generate_py_replay, hand_streams

pp = importlib.import_module("coulombgas.training.phase_paper")
pn = importlib.import_module("coulombgas.training.phase_network")


def replay_history(M, Wt, Z, x, W0, lr, bs, epochs):
    """generate.py's history: W, mean batch gradient and mean batch loss of each saved epoch."""
    nb = len(x) // bs
    points = min(20, epochs)
    interval = epochs // points
    marks = np.linspace(0, epochs, points + 1)
    Ws, losses = generate_py_replay(M, Wt, Z, x, W0, lr, bs, epochs * nb)
    hist_W, hist_dW, hist_loss = [W0], [], []
    # snapshot 0: the whole dataset at W(0)
    _, l0 = generate_py_replay(M, Wt, Z, x, W0, 0.0, len(x), 1)
    hist_loss.append(l0[0])
    hi = np.tanh(x @ M.T)
    t = np.tanh(hi @ W0.T)
    yt = np.tanh(hi @ Wt.T) @ Z
    hist_dW.append(np.mean(((t @ Z - yt)[:, None] * Z * (1 - t**2))[:, :, None] * hi[:, None, :], axis=0))
    for e in range(epochs):
        if e in marks:
            assert e // interval + 1 == len(hist_W)
            hist_W.append(Ws[(e + 1) * nb])
            hist_dW.append((Ws[e * nb] - Ws[(e + 1) * nb]) / (lr * nb))  # = mean of the epoch's batch gradients
            hist_loss.append(losses[e * nb:(e + 1) * nb].mean())
    return np.array(hist_W), np.array(hist_dW), np.array(hist_loss)


def test_snapshot_epochs_follow_generate_py():
    np.testing.assert_array_equal(pp.snapshot_epochs(100_000)[:4], [0, 1, 5001, 10001])
    assert pp.snapshot_epochs(100_000)[-1] == 95_001 and len(pp.snapshot_epochs(100_000)) == 21
    np.testing.assert_array_equal(pp.snapshot_epochs(3), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="`epochs`"):
        pp.snapshot_epochs(30)


@pytest.mark.parametrize("epochs", [3, 40])
def test_history_equals_replay_of_generate_py(epochs):
    lr, bs, eb, models = 0.6, 4, 5, 2
    h = pn.phase_network(lr=lr, batch_size=bs, epoch_batches=eb, models=models, steps=epochs * eb,
                         snapshots=len(pp.snapshot_epochs(epochs)), seed=4, progress=False)
    run = pp.paper_snapshots(h)
    assert run.W.shape == (models, len(pp.snapshot_epochs(epochs)), 16, 32) and run.temperature == lr / bs
    for m, (M, Wt, Z, W0, x) in enumerate(hand_streams(4, models, bs, eb)):
        W, dW, loss = replay_history(M, Wt, Z, x, W0, lr, bs, epochs)
        np.testing.assert_allclose(run.W[m], W, rtol=0, atol=1e-12)
        np.testing.assert_allclose(run.dW[m], dW, rtol=0, atol=1e-12 / lr)
        np.testing.assert_allclose(run.loss[m], loss, rtol=1e-12)
        np.testing.assert_allclose(run.M[m], M, rtol=0, atol=0)


def test_save_load_round_trip(tmp_path):
    run = pp.paper_run(lr=0.5, sigma_w=2.0, epochs=2, models=2, epoch_batches=3, seed=1)
    run.save(tmp_path / "run.npz")
    back = pp.PhaseRun.load(tmp_path / "run.npz")
    for f in ("W", "dW", "loss", "M", "Wt", "Z", "epochs_at", "model_ids"):
        np.testing.assert_array_equal(getattr(back, f), getattr(run, f))
    assert (back.lr, back.sigma_w, back.batch_size, back.epochs, back.loss_name) == (0.5, 2.0, 4, 2, "half_mse")


def test_bad_input():
    with pytest.raises(ValueError, match="`harvest`"):
        pp.paper_snapshots(pn.phase_network(lr=0.5, models=1, steps=10, record_every=5, record_weights=False,
                                            epoch_batches=5, progress=False))
    with pytest.raises(ValueError, match="`steps`"):
        pp.paper_snapshots(pn.phase_network(lr=0.5, models=1, steps=12, record_every=4, epoch_batches=5,
                                            progress=False))
    with pytest.raises(ValueError, match="`harvest`"):  # records every 2 epochs, snapshots need every one
        pp.paper_snapshots(pn.phase_network(lr=0.5, models=1, steps=20, record_every=10, epoch_batches=5,
                                            progress=False))
    with pytest.raises(ValueError, match="`epochs`"):
        pp.paper_run(lr=0.5, sigma_w=1.0, epochs=0)


def test_shorter_history_from_a_longer_run():
    """The first 2 epochs of a 4-epoch run are the 2-epoch run (training draws nothing)."""
    kw = dict(lr=0.5, sigma_w=1.0, models=2, epoch_batches=3, seed=2, progress=False)
    long = pn.phase_network(steps=12, record_every=3, **kw)
    short = pp.paper_run(lr=0.5, sigma_w=1.0, epochs=2, models=2, epoch_batches=3, seed=2)
    cut = pp.paper_snapshots(long, epochs=2)
    for f in ("W", "dW", "loss"):
        np.testing.assert_array_equal(getattr(cut, f), getattr(short, f))
    assert cut.epochs == 2
    with pytest.raises(ValueError, match="`epochs`"):
        pp.paper_snapshots(long, epochs=5)
