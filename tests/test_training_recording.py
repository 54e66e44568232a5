"""RecordedHarvest: gradient statistics kept per record, saved exactly, and turned into the matching gas."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import coulombgas as cg
from coulombgas.training import TorchRecorder
from coulombgas.training.recording import RecordedHarvest

F = torch.nn.functional


def _run(steps=40, every=5, out=None, data=False, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4))
    X, Y = torch.randn(200, 6), torch.randn(200, 4)
    kwargs = {"data": (X, Y), "stats_samples": 50} if data else {}
    rec = TorchRecorder(net, every=every, lr=0.05, batch_size=8, loss_fn=F.mse_loss, out=out, overwrite=True,
                        **kwargs)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for s in range(steps):
        i = torch.randint(0, 200, (8,))
        if not data:
            rec.batch(X[i], Y[i])
        loss = F.mse_loss(net(X[i]), Y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step(loss)
    return rec


def test_statistics_at_every_record_but_the_last_waiting_one():
    rec = _run()
    h = rec.harvest("2.weight")
    assert isinstance(h, RecordedHarvest) and isinstance(h, cg.training.Harvest)
    assert h.stats["drift"].shape == (1, 9, 4) and h.stats["variance"].shape == (1, 9, 4, 4)
    # The record after the last update waits for a batch that never came.
    assert h.statistics_records().tolist() == list(range(8))
    est = h.drift_noise()
    assert est.n == 4 and est.lr == 0.05 and est.batch_size == 8 and est.samples == 8
    np.testing.assert_array_equal(est.eigenvalues[0], h.eigenvalues[0, est.records])
    cost = rec.cost()
    assert cost["stats_records"] == 8 and cost["stats_seconds_per_record"] > 0


def test_batch_after_the_update_is_refused_with_a_warning():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 3)
    rec = TorchRecorder(net, every=1, lr=0.1, batch_size=4, loss_fn=F.mse_loss)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(4, 3), torch.randn(4, 3)
    F.mse_loss(net(x), y).backward()
    opt.step()
    with pytest.warns(RuntimeWarning, match="before optimizer.step"):
        rec.batch(x, y)
    assert not rec.harvest("weight").has_statistics


def test_streamed_statistics_equal_the_ones_in_memory(tmp_path):
    mem = _run(data=True).harvest()
    path = tmp_path / "rec.h5"
    rec = _run(data=True, out=path)
    rec.detach()
    loaded = TorchRecorder.load(path)
    for name, h in mem.items():
        for key, value in h.stats.items():
            np.testing.assert_array_equal(loaded[name].stats[key], value)
        assert loaded[name].has_statistics and len(loaded[name].statistics_records()) == h.records


def test_save_load_round_trip_and_select(tmp_path):
    h = _run().harvest(["2.weight"])
    h.save(tmp_path / "h.npz")
    back = RecordedHarvest.load(tmp_path / "h.npz")
    for key in h.stats:
        np.testing.assert_array_equal(back.stats[key], h.stats[key])
    np.testing.assert_array_equal(back.eigenvalues, h.eigenvalues)
    assert back.params == h.params and back.stats_samples == h.stats_samples
    with pytest.raises(ValueError, match="npz"):
        h.save(tmp_path / "h.h5")


def test_no_statistics_says_how_to_record_them():
    torch.manual_seed(0)
    rec = TorchRecorder(torch.nn.Linear(3, 3), lr=0.1, batch_size=4)
    h = rec.harvest("weight")
    with pytest.raises(ValueError, match="loss_fn"):
        h.drift_noise()
    with pytest.raises(ValueError, match="loss_fn"):
        cg.CoulombGas.from_harvest(h)
    with pytest.raises(ValueError, match="`lr`"):
        TorchRecorder(torch.nn.Linear(3, 3), loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match="`every`"):
        TorchRecorder(torch.nn.Linear(3, 3), every=50, steps=20)
    with pytest.raises(TypeError, match="loss_fn"):
        TorchRecorder(torch.nn.Linear(3, 3), lr=0.1, batch_size=4, loss_fn="mse")
    with pytest.raises(ValueError, match="no 2-D parameter"):
        TorchRecorder(torch.nn.LayerNorm(3))


def test_from_harvest_uses_the_recorded_statistics():
    from coulombgas.training.torch_teacher_student import train_teacher_student_torch

    _, h = train_teacher_student_torch(models=20, steps=400, record_every=10, epoch_batches=20, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gas = cg.CoulombGas.from_harvest(h)
    assert gas.n == 2 and gas.lr == 0.1 and gas.batch_size == 16
    # Injected GOE-like noise of scale ε: the measured g² is of order (2ε)²·... > 0 for both modes.
    assert np.all(gas.g > 0)
    # A plain harvest still goes to the papers' route (and its message).
    plain = cg.training.Harvest(**{f: getattr(h, f) for f in ("model", "eigenvalues", "singular_values", "loss",
                                                               "steps", "params", "seed", "model_ids")})
    with pytest.raises(ValueError, match="per_sample_gradients"):
        cg.CoulombGas.from_harvest(plain)
