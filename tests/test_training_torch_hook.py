"""TorchRecorder: spectra from a user's PyTorch loop (coulombgas.training.torch_hook).

Reference values are NumPy's: ``eigvalsh`` of WᵀW (and WWᵀ) of a snapshot of the
weight taken in the loop, independent of the recorder's torch SVD.
"""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from stats import assert_ks, assert_mean_z

torch = pytest.importorskip("torch")
pytest.importorskip("h5py")

from coulombgas import theory  # noqa: E402
from coulombgas.training import Harvest, spectra_of  # noqa: E402
from coulombgas.training.torch_hook import TorchRecorder  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Small matrices on a shared 2-core machine: torch's thread pool only adds contention.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _net(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    # A wide (12x7) and a fat (5x12) matrix: WᵀW of the second is 12x12 with 7 exact zeros.
    return torch.nn.Sequential(torch.nn.Linear(7, 12), torch.nn.Tanh(), torch.nn.Linear(12, 5)).to(dtype)


def _batches(count, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 7, generator=g, dtype=dtype), torch.randn(8, 5, generator=g, dtype=dtype))
            for _ in range(count)]


def _train(net, rec, batches, *, hook=False, lr=0.05):
    """Plain SGD on MSE; returns the weights after every update (snapshots[u] = after u updates)."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    if hook:
        rec.attach(opt)
    snaps = [{n: p.detach().numpy().copy() for n, p in net.named_parameters()}]
    for x, y in batches:
        loss = torch.nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        if hook:
            rec.note_loss(loss)
            opt.step()
        else:
            opt.step()
            rec.step(loss)
        snaps.append({n: p.detach().numpy().copy() for n, p in net.named_parameters()})
    return snaps


@pytest.mark.parametrize("gram", ["WtW", "WWt"])
def test_eigenvalues_match_numpy_at_every_record(gram):
    net, k, updates = _net(), 3, 14
    rec = TorchRecorder(net, every=k, gram=gram, record_weights=True, lr=0.05, batch_size=8)
    snaps = _train(net, rec, _batches(updates))
    harvests = rec.harvest()
    assert list(harvests) == ["0.weight", "2.weight"]  # every 2-D parameter, biases left out
    for name, h in harvests.items():
        np.testing.assert_array_equal(h.steps, [0, 3, 6, 9, 12])  # exactly 0, k, 2k, ...
        assert h.models == 1 and h.records == 5 and list(h.model_ids) == [0]
        assert h.params["every"] == k and h.params["lr"] == 0.05 and h.params["batch_size"] == 8
        assert h.params["shape"] == list(snaps[0][name].shape) and h.gram == gram and h.model == name
        assert h.seed == {"entropy": None, "spawn_key": []}
        for r, step in enumerate(h.steps):
            W = snaps[step][name]
            X = W.T @ W if gram == "WtW" else W @ W.T
            ref = np.linalg.eigvalsh(X)  # ascending, with the structural zeros at rounding level
            ev = h.eigenvalues[0, r]
            assert ev.shape == ref.shape and np.all(np.diff(ev) >= 0)
            np.testing.assert_allclose(ev, ref, rtol=1e-10, atol=1e-10 * ref[-1])
            exact_ev, exact_sv = spectra_of(W, gram)  # the padding convention, exactly
            np.testing.assert_allclose(ev, exact_ev, rtol=1e-12, atol=1e-14 * ref[-1])
            np.testing.assert_allclose(h.singular_values[0, r], exact_sv, rtol=1e-12, atol=1e-14)
            np.testing.assert_array_equal(h.weights[0, r], W)
        zeros = max(0, h.n - min(h.params["shape"]))
        assert np.all(h.eigenvalues[0, :, :zeros] == 0.0) and np.all(h.eigenvalues[0, :, zeros:] > 0)


def test_loss_is_the_mean_since_the_previous_record():
    net = _net()
    rec = TorchRecorder(net, names=["0.weight"], every=3)
    for i in range(1, 8):  # updates 1..7 with losses 1..7 (the weights need not move)
        rec.step(float(i) if i != 5 else torch.tensor(5.0))
    h = rec.harvest("0.weight")
    np.testing.assert_array_equal(h.steps, [0, 3, 6])
    assert np.isnan(h.loss[0, 0])  # no loss passed before step 0: NaN means "not given"
    np.testing.assert_allclose(h.loss[0, 1:], [2.0, 5.0], rtol=1e-15)
    rec.record()  # forced record at update 7 takes the pending loss 7
    rec.record()  # same update again: replaces, keeps the loss
    h = rec.harvest("0.weight")
    np.testing.assert_array_equal(h.steps, [0, 3, 6, 7])
    assert h.loss[0, -1] == 7.0
    rec.record(loss=1.5)  # a new loss replaces the old one
    assert rec.harvest("0.weight").loss[0, -1] == 1.5 and rec.harvest("0.weight").records == 4


def test_optimizer_hook_equals_manual_steps():
    batches = _batches(10)
    manual = TorchRecorder(net_a := _net(seed=3), every=2, record_weights=True)
    _train(net_a, manual, batches)
    hooked = TorchRecorder(net_b := _net(seed=3), every=2, record_weights=True)
    _train(net_b, hooked, batches, hook=True)
    with pytest.raises(RuntimeError, match="step"):
        hooked.step()  # the hook already counts: a manual step would count twice
    hooked.detach()
    a, b = manual.harvest(), hooked.harvest()
    assert manual.updates == hooked.updates == 10
    for name in a:
        for field in ("eigenvalues", "singular_values", "loss", "steps", "weights"):
            np.testing.assert_array_equal(getattr(a[name], field), getattr(b[name], field))
        assert np.all(np.isfinite(a[name].loss[:, 1:]))


def test_marchenko_pastur_at_initialisation():
    """16 i.i.d. N(0, σ²) layers 1000x250: eigenvalues of WᵀW/M against MP(λ = 1/4, σ), pooled.

    KS at α = 1e-3 treating the 4,000 pooled eigenvalues as independent. Within a
    matrix they repel (the empirical cdf is far more rigid than for i.i.d. draws),
    so the stated level is conservative under MP; the finite-N bias is O(1/N) ≈
    0.003 in the cdf against a critical D ≈ 0.031. Power: the same test rejects a
    5% error in σ and a 20% error in λ (p < 1e-10 at this seed).
    """
    torch.manual_seed(2024)
    sigma, m, k = 0.05, 1000, 250
    net = torch.nn.ModuleList([torch.nn.Linear(k, m, bias=False) for _ in range(16)])
    for layer in net:
        torch.nn.init.normal_(layer.weight, 0.0, sigma)
    rec = TorchRecorder(net)
    h = rec.harvest(rec.names)  # stacked: 16 models, one record
    assert h.eigenvalues.shape == (16, 1, k) and h.params["dtype"] == "float32"
    x = h.eigenvalues[:, 0] / m
    assert_ks(x, theory.marchenko_pastur(k / m, sigma), alpha=1e-3)
    for wrong in (theory.marchenko_pastur(k / m, 1.05 * sigma), theory.marchenko_pastur(1.2 * k / m, sigma)):
        with pytest.raises(AssertionError, match="KS rejects"):
            assert_ks(x, wrong, alpha=1e-3)
    # Exact first moment: tr(WᵀW)/(Mk) is the mean of M·k squared N(0, σ²) entries, per matrix.
    assert_mean_z(x.mean(axis=1), sigma**2, expected_std=np.sqrt(2.0 / (m * k)) * sigma**2)


def test_marchenko_pastur_fat_matrix_default_init():
    """λ = k/m = 2 > 1: k − m exact zeros, the rest follow MP's non-zero part (torch's uniform init)."""
    torch.manual_seed(7)
    m, k = 200, 400
    net = torch.nn.ModuleList([torch.nn.Linear(k, m, bias=False) for _ in range(16)])
    h = TorchRecorder(net).harvest([f"{i}.weight" for i in range(16)])
    x = h.eigenvalues[:, 0] / m
    assert np.all(x[:, : k - m] == 0.0) and np.all(x[:, k - m:] > 0)
    sigma = np.sqrt(1.0 / (3 * k))  # kaiming_uniform(a=√5): U(±1/√fan_in), variance 1/(3 fan_in)
    assert_ks(x[:, k - m:], theory.marchenko_pastur(k / m, sigma), alpha=1e-3)
    with pytest.raises(AssertionError, match="KS rejects"):
        assert_ks(x[:, k - m:], theory.marchenko_pastur(k / m, 1.05 * sigma), alpha=1e-3)


_CRASH = textwrap.dedent("""
    import os, sys, torch
    torch.set_num_threads(1)
    from coulombgas.training.torch_hook import TorchRecorder
    torch.manual_seed(5)
    net = torch.nn.Linear(6, 4).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    rec = TorchRecorder(net, every=2, out=sys.argv[1], record_weights=True, seed=11)
    rec.attach(opt)
    g = torch.Generator().manual_seed(6)
    for i in range(100):
        x = torch.randn(5, 6, generator=g, dtype=torch.float64)
        loss = net(x).pow(2).mean()
        opt.zero_grad(); loss.backward(); rec.note_loss(loss); opt.step()
        if i == 8:
            os._exit(3)  # killed: no close, no flush, no exception handling
""")


def test_streamed_records_survive_a_killed_run(tmp_path):
    path = tmp_path / "run.h5"
    proc = subprocess.run([sys.executable, "-c", _CRASH, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    h = TorchRecorder.load(path, "weight")
    np.testing.assert_array_equal(h.steps, [0, 2, 4, 6, 8])  # 9 updates done when it died
    assert h.seed == {"entropy": 11, "spawn_key": []} and np.isnan(h.loss[0, 0])
    # The same run, uninterrupted and in memory, gives the same records.
    torch.manual_seed(5)
    net = torch.nn.Linear(6, 4).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    rec = TorchRecorder(net, every=2, record_weights=True, seed=11).attach(opt)
    g = torch.Generator().manual_seed(6)
    for _ in range(9):
        x = torch.randn(5, 6, generator=g, dtype=torch.float64)
        loss = net(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        rec.note_loss(loss)
        opt.step()
    ref = rec.harvest("weight")
    for field in ("eigenvalues", "singular_values", "loss", "steps", "weights"):
        np.testing.assert_array_equal(getattr(h, field), getattr(ref, field))
    assert h.params == ref.params
    h.save(tmp_path / "weight.npz")  # a recorder's harvest round-trips through Harvest.save/load
    back = Harvest.load(tmp_path / "weight.npz")
    for field in ("eigenvalues", "singular_values", "loss", "steps", "weights", "model_ids"):
        np.testing.assert_array_equal(getattr(back, field), getattr(h, field))
    assert (back.model, back.params, back.seed, back.gram) == (h.model, h.params, h.seed, h.gram)


def test_streaming_exception_in_loop_and_reading_while_open(tmp_path):
    path = tmp_path / "run.h5"
    net = _net()
    with pytest.raises(KeyboardInterrupt):
        with TorchRecorder(net, every=1, out=path) as rec:
            for u, (x, y) in enumerate(_batches(6)):
                rec.step(float(u))
                if u == 3:
                    assert rec.harvest("2.weight").records == 5  # read back while the file is open
                    raise KeyboardInterrupt
    loaded = TorchRecorder.load(path)
    assert rec.harvest()["0.weight"].records == 5  # after detach, harvest() reads the file
    for name, h in loaded.items():
        np.testing.assert_array_equal(h.steps, np.arange(5))
        np.testing.assert_array_equal(h.loss[0, 1:], [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="out"):
        TorchRecorder(net, out=path)  # never overwrite silently
    TorchRecorder(net, out=path, overwrite=True).detach()
    assert TorchRecorder.load(path)["0.weight"].records == 1


def test_divergence_stops_recording_and_keeps_earlier_records(tmp_path):
    net = _net()
    rec = TorchRecorder(net, every=1, out=tmp_path / "d.h5")
    rec.step(1.0)
    with pytest.warns(RuntimeWarning, match="loss is nan at optimiser step 2"):
        assert rec.step(torch.tensor(float("nan"))) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rec.step(2.0) is False  # stopped: no record, no second warning
    for h in (rec.harvest("0.weight"), TorchRecorder.load(tmp_path / "d.h5", "0.weight")):
        np.testing.assert_array_equal(h.steps, [0, 1])
        assert h.params["diverged_step"] == 2 and np.all(np.isfinite(h.eigenvalues))
    rec = TorchRecorder(net, every=2)
    with torch.no_grad():
        net[2].weight[0, 0] = float("inf")
    rec.step()
    with pytest.warns(RuntimeWarning, match="'2.weight' has non-finite entries at optimiser step 2"):
        rec.step()
    assert rec.harvest("0.weight").records == 1 and rec.diverged_step == 2


def test_bad_input():
    net = _net()
    with pytest.raises(TypeError, match="module"):
        TorchRecorder(np.eye(3))
    with pytest.raises(ValueError, match="every"):
        TorchRecorder(net, every=0)
    with pytest.raises(TypeError, match="every"):
        TorchRecorder(net, every=1.5)
    with pytest.raises(ValueError, match="gram"):
        TorchRecorder(net, gram="XtX")
    with pytest.raises(ValueError, match="names.*'nope'.*0.weight, 2.weight"):
        TorchRecorder(net, names=["nope"])
    with pytest.raises(ValueError, match="names.*2-D"):
        TorchRecorder(net, names=["0.bias"])
    with pytest.raises(ValueError, match="names"):
        TorchRecorder(net, names=[])
    with pytest.raises(ValueError, match="names"):
        TorchRecorder(net, names=["0.weight", "0.weight"])
    with pytest.raises(ValueError, match="names.*predicate"):
        TorchRecorder(net, names=lambda name, p: False)
    with pytest.raises(ValueError, match="module.*no 2-D"):
        TorchRecorder(torch.nn.Tanh())
    with pytest.raises(ValueError, match="lr"):
        TorchRecorder(net, lr=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        TorchRecorder(net, batch_size=0)
    with pytest.raises(TypeError, match="record_weights"):
        TorchRecorder(net, record_weights="yes")
    rec = TorchRecorder(net, names=lambda name, p: name.startswith("2."))
    assert rec.names == ["2.weight"]
    with pytest.raises(TypeError, match="loss"):
        rec.step("0.3")
    with pytest.raises(ValueError, match="loss"):
        rec.step(torch.ones(3))
    with pytest.raises(TypeError, match="optimizer"):
        rec.attach(net)
    with pytest.raises(ValueError, match="name.*'0.weight' was not recorded"):
        rec.harvest("0.weight")
    both = TorchRecorder(net)
    with pytest.raises(ValueError, match="name.*one shape"):
        both.harvest(["0.weight", "2.weight"])
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    both.attach(opt)
    with pytest.raises(ValueError, match="optimizer.*already attached"):
        both.attach(opt)
    both.detach()
    with pytest.raises(RuntimeError, match="detached"):
        both.record()
    with pytest.raises(ValueError, match="no records"):
        TorchRecorder(net, initial=False).harvest()


def test_imports_without_torch():
    """The module imports without PyTorch and fails with an install hint only when used."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from coulombgas.training.torch_hook import TorchRecorder\n"
            "try:\n    TorchRecorder(object())\nexcept ImportError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 0, proc.stderr
    assert "coulombgas[torch]" in proc.stdout


def test_transformer_example_smoke(tmp_path):
    """examples/transformer_mp.py runs end to end (20 steps) and finds MP at initialisation."""
    import json

    from scripts import load_script

    example = load_script("examples/transformer_mp.py")
    assert example.main(["--steps", "20", "--every", "10", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (tmp_path / "transformer_mp.png").stat().st_size > 0
    assert summary["loss"]["steps"] == [0, 10, 20]
    h = TorchRecorder.load(tmp_path / "spectra.h5", "blocks.0.mlp.fc1.weight")
    assert h.params["shape"] == [256, 64] and h.records == 3
    for group in summary["groups"].values():  # conservative KS level, see test_marchenko_pastur_at_initialisation
        assert group["init"]["step"] == 0 and group["init"]["ks_p"] >= 1e-3


def test_your_own_model_example_smoke(tmp_path):
    """examples/your_own_model.py runs end to end at a tiny size: four runs, analysis and the scaling check."""
    import json

    from scripts import load_script

    example = load_script("examples/your_own_model.py")
    assert example.main(["--steps", "120", "--every", "10", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(r["lr"], r["batch_size"]) for r in summary["runs"]] == list(example.SETTINGS)
    for run in summary["runs"]:
        assert [row["matrix"] for row in run["rows"]] == ["0.weight", "2.weight", "4.weight"]
        assert run["cost"]["stats_records"] == 13
    assert set(summary["linear_scaling"]) == {"0.weight", "2.weight", "4.weight"}
    h = TorchRecorder.load(tmp_path / "recording_0.1_16.h5", "4.weight")
    assert h.records == 13 and h.has_statistics


@pytest.mark.slow  # ~25 s: 1,100 streamed records (each committed) and 80 cut copies
def test_a_grown_recording_cut_short_keeps_exactly_the_records_before_the_cut(tmp_path):
    # 1,100 updates: the record axis grew past its first 1,024, which puts chunk-index nodes
    # among the records. Every cut past the file's head keeps exactly the leading records.
    import shutil

    from coulombgas import store as st

    path, copy = tmp_path / "run.h5", tmp_path / "cut.h5"
    net = _net()
    with TorchRecorder(net, every=1, out=path, record_weights=True, seed=2) as rec:
        _train(net, rec, _batches(1100), hook=True)
    whole = st.read_store(path)
    size = path.stat().st_size
    kept, unreadable = [], []
    for cut in range(size // 80, size, size // 80):
        shutil.copyfile(path, copy)
        with open(copy, "r+b") as fh:
            fh.truncate(cut)
        try:
            good = st.read_store(copy, prefix=True)
        except st.StoreError as exc:
            assert "nothing in it can be read" in str(exc), str(exc)
            unreadable.append(cut)
            continue
        k = int(good["done"])
        for key, values in good["arrays"].items():
            np.testing.assert_array_equal(values[:k], whole["arrays"][key][:k])
        kept.append(k)
    assert len(unreadable) <= 2 and all(c < size // 40 for c in unreadable)  # only cuts in the head
    assert len(set(kept)) >= 10 and min(kept) < 1024 < max(kept)
