"""Tests of paper 4's phase-diagram network (coulombgas.training.phase_network).

Gradients against central finite differences, the Numba SGD kernel against a
plain NumPy step, the documented random-stream order against a hand replay,
the initial weight law against z-scores (tests/stats.py, z = 4: false alarm
~6e-5), reproducibility, and the three dynamical regimes at representative
points of the paper's grid (lr, σ_W ∈ 2⁻³…2⁸).
"""

from __future__ import annotations

import importlib
import math

import numba
import numpy as np
import pytest
from stats import assert_mean_z

from coulombgas import _rng
from coulombgas.training import _loop

pn = importlib.import_module("coulombgas.training.phase_network")

SMALL = dict(models=3, steps=40, record_every=20, progress=False)


def params(**kw):
    p = dict(lr=0.5, batch_size=4, sigma_w=1.0, n_in=3, n_mid=32, n_hidden=16, epoch_batches=1000,
             divergence_loss=100.0, loss="half_mse", seeds_per_dataset=1)
    p.update(kw)
    return p


def fresh(p, models=3, seed=7):
    data, state = pn.init(p, _rng.streams(seed, models))
    state["step"] = np.zeros(models, dtype=np.int64)
    state["diverged"] = np.zeros(models, dtype=np.int64)
    return data, state


# ------------------------------------------------------------------ NumPy references

def sample_loss(W, h, y, Z):
    """½(ŷ − y)² of one sample, ŷ = Z·tanh(W h): the paper's ½·MSE."""
    return 0.5 * (Z @ np.tanh(W @ h) - y) ** 2


def numpy_step(W, H, y, Z, lr, start, bs, scale=0.5):
    """One plain SGD step on the batch H[start:start+bs] by hand-written backprop (loss scale·MSE)."""
    h, yb = H[start:start + bs], y[start:start + bs]
    t = np.tanh(h @ W.T)  # (bs, n_hidden)
    e = t @ Z - yb
    grad = (2.0 * scale * e[:, None] * Z[None, :] * (1.0 - t**2)).T @ h / bs
    return W - lr * grad, scale * np.mean(e**2)


# --------------------------------------------------------------------------- tests

def test_kernel_tanh_matches_numpy():
    """The kernel's arithmetic tanh (no libm call, vectorisable) against numpy.tanh."""
    x = np.concatenate([np.linspace(-30.0, 30.0, 60_001), np.logspace(-300, 1.5, 601), -np.logspace(-300, 1.5, 601)])
    got = np.array([pn._tanh(v) for v in x])
    ref = np.tanh(x)
    np.testing.assert_allclose(got, ref, rtol=1e-15, atol=1e-15)
    assert pn._tanh(np.inf) == 1.0 and pn._tanh(-np.inf) == -1.0 and math.isnan(pn._tanh(np.nan))
    assert math.copysign(1.0, pn._tanh(-0.0)) == -1.0


def test_per_sample_gradients_match_central_differences():
    harvest = pn.phase_network(lr=0.5, seed=3, **SMALL)
    W, G = pn.per_sample_gradients(harvest, record=1, samples=3)
    assert W.shape == (3, 16, 32) and G.shape == (3, 3, 16, 32)
    np.testing.assert_array_equal(W, harvest.weights[:, 1])
    data, _ = _loop.replay_init(pn.init, harvest)
    eps = 1e-5  # truncation ~eps²·|ℓ'''| ~ 1e-10, rounding ~1e-16/eps ~ 1e-11
    for m in range(3):
        for n in range(3):
            h, y, Z = data["H"][m, n], data["y"][m, n], data["Z"][m]
            fd = np.empty((16, 32))
            for j in range(16):
                for k in range(32):
                    Wp, Wm = W[m].copy(), W[m].copy()
                    Wp[j, k] += eps
                    Wm[j, k] -= eps
                    fd[j, k] = (sample_loss(Wp, h, y, Z) - sample_loss(Wm, h, y, Z)) / (2 * eps)
            scale = np.abs(G[m, n]).max()
            assert scale > 0
            np.testing.assert_allclose(G[m, n], fd, rtol=1e-7, atol=1e-7 * scale)


def test_kernel_step_equals_numpy_step_and_contract():
    p = params(lr=0.7)
    data, state = fresh(p)
    state["step"][:] = [0, 5, 999]  # batch index wraps after 1000 batches
    W0 = state["W"].copy()
    steps0 = state["step"].copy()
    loss = pn.advance(data, state, None, 1, p)
    for m in range(3):
        start = int(steps0[m] % 1000) * 4
        ref, ref_loss = numpy_step(W0[m], data["H"][m], data["y"][m], data["Z"][m], 0.7, start, 4)
        np.testing.assert_allclose(state["W"][m], ref, rtol=1e-12, atol=1e-14)
        assert loss[m] == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_array_equal(state["step"], steps0 + 1)


@pytest.mark.parametrize("bs, loss", [(1, "half_mse"), (4, "half_mse"), (7, "mse")])  # four at a time, then one by one
def test_kernel_many_steps_equal_numpy_loop(bs, loss):
    p = params(lr=0.25, batch_size=bs, epoch_batches=3, loss=loss)  # 3 batches: the sweep wraps twice in 7 updates
    data, state = fresh(p, models=2)
    W = state["W"].copy()
    losses = np.zeros(2)
    for m in range(2):
        for s in range(7):
            W[m], batch_loss = numpy_step(W[m], data["H"][m], data["y"][m], data["Z"][m], 0.25, (s % 3) * bs, bs,
                                          pn.LOSSES[loss])
            losses[m] += batch_loss / 7
    loss = pn.advance(data, state, None, 7, p)
    np.testing.assert_allclose(state["W"], W, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(loss, losses, rtol=1e-11)


@pytest.mark.parametrize("loss", ["half_mse", "mse"])
def test_sgd_update_is_minus_lr_mean_per_sample_gradient(loss):
    """The contract: W(t+1) = W(t) − lr · mean over the batch of per_sample_gradients."""
    lr = 0.3
    harvest = pn.phase_network(lr=lr, models=2, steps=6, record_every=1, seed=11, progress=False, loss=loss)
    for r in (0, 3, 5):  # records 0..6 sit at updates 0..6; update r uses batch r
        W, G = pn.per_sample_gradients(harvest, record=r, samples=4 * (r + 1))
        predicted = W - lr * G[:, 4 * r:4 * (r + 1)].mean(axis=1)
        np.testing.assert_allclose(harvest.weights[:, r + 1], predicted, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss, scale", [("half_mse", 0.5), ("mse", 1.0)])
def test_first_loss_in_either_convention(loss, scale):
    harvest = pn.phase_network(lr=0.5, seed=2, loss=loss, **SMALL)
    data, state = _loop.replay_init(pn.init, harvest)
    for m in range(3):
        e = np.tanh(data["H"][m, :4] @ state["W"][m].T) @ data["Z"][m] - data["y"][m, :4]
        assert harvest.loss[m, 0] == pytest.approx(scale * np.mean(e**2), rel=1e-12)
    # the recorded spectrum is that of WWᵀ (16 eigenvalues), ascending
    ev = np.linalg.eigvalsh(np.einsum("mjk,mlk->mjl", harvest.weights[:, -1], harvest.weights[:, -1]))
    np.testing.assert_allclose(harvest.eigenvalues[:, -1], ev, rtol=1e-10, atol=1e-12)
    assert harvest.gram == "WWt" and harvest.n == 16


def test_stream_order_is_documented_order():
    p = params(sigma_w=2.0, epoch_batches=5)
    data, state = pn.init(p, _rng.streams(5, 2))
    for i, g in enumerate(_rng.streams(5, 2)):  # by hand: M, W_t, Z, W(0), x
        M = g.standard_normal((32, 3)) / math.sqrt(3)
        Wt = g.standard_normal((16, 32)) / math.sqrt(32)
        Z = g.standard_normal(16) / 4.0
        W0 = g.standard_normal((16, 32)) * (2.0 / math.sqrt(32))
        x = g.standard_normal((20, 3))
        np.testing.assert_array_equal(state["W"][i], W0)
        np.testing.assert_array_equal(data["Z"][i], Z)
        np.testing.assert_array_equal(data["Wt"][i], Wt)
        np.testing.assert_allclose(data["H"][i], np.tanh(x @ M.T), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(data["y"][i], [Z @ np.tanh(Wt @ np.tanh(M @ xi)) for xi in x], rtol=1e-12,
                                   atol=1e-15)


def test_initial_weight_variances():
    """W(0) ~ N(0, σ_W²/32), W_t ~ N(0, 1/32), Z ~ N(0, 1/16): z-scores of the mean square."""
    sigma_w = 3.0
    data, state = pn.init(params(sigma_w=sigma_w, epoch_batches=1), _rng.streams(1, 64))
    for values, var in ((state["W"], sigma_w**2 / 32), (data["Wt"], 1 / 32), (data["Z"], 1 / 16)):
        # entries are independent Gaussians: E w² = var, sd(w²) = √2 var (64·512 or 64·16 samples)
        assert_mean_z(values.ravel() ** 2, var, math.sqrt(2) * var)


def test_same_seed_identical_and_thread_independent():
    a = pn.phase_network(lr=2.0, seed=4, **SMALL)
    b = pn.phase_network(lr=2.0, seed=4, **SMALL)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        c = pn.phase_network(lr=2.0, seed=4, **SMALL)
    finally:
        numba.set_num_threads(threads)
    for other in (b, c):
        for key in ("eigenvalues", "singular_values", "loss", "weights", "steps", "model_ids"):
            np.testing.assert_array_equal(getattr(a, key), getattr(other, key))
    d = pn.phase_network(lr=2.0, seed=5, **SMALL)
    assert not np.array_equal(a.weights, d.weights)


def test_streamed_run_equals_in_memory(tmp_path):
    pytest.importorskip("h5py")
    a = pn.phase_network(lr=1.0, seed=8, **SMALL)
    b = pn.phase_network(lr=1.0, seed=8, out=tmp_path / "run.h5", **SMALL)
    for key in ("eigenvalues", "loss", "weights"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_divergence_is_flagged():
    h = pn.phase_network(lr=0.5, seed=1, divergence_loss=1e-12, **SMALL)  # every first batch exceeds it
    assert h.models == 0
    np.testing.assert_array_equal(h.diverged_ids, [0, 1, 2])
    np.testing.assert_array_equal(h.diverged_step, [1, 1, 1])
    reg = pn.classify_regime(h)
    assert list(reg.labels) == ["high-temperature"] * 3 and np.all(np.isnan(reg.loss_ratio))
    assert len(pn.phase_network(lr=256.0, seed=1, **SMALL).diverged_ids) == 0  # |ŷ| ≤ Σ|Z|: bounded loss


# The three regimes at representative grid points, 8 models of 2·10⁴ updates each.
# Margins measured at this seed: ordered r ≤ 5.5e-4 (threshold 0.01); high-T g ≥ 9e3 and
# p ≥ 0.33 (thresholds 16, 0.25); jammed r ≥ 0.23 and μ ≤ 0.011 (thresholds 0.01, 0.1).
@pytest.mark.parametrize("lr, sigma_w, regime", [
    (2.0**-3, 1.0, "ordered"),
    (2.0**6, 1.0, "high-temperature"),
    (2.0**-3, 2.0**8, "jammed"),
])
def test_regimes_at_representative_points(lr, sigma_w, regime):
    h = pn.phase_network(lr=lr, sigma_w=sigma_w, models=8, steps=20_000, record_every=1000, seed=0,
                         progress=False, record_weights=False)
    reg = pn.classify_regime(h)
    assert reg.counts()[regime] == 8, (reg.counts(), reg.loss_ratio, reg.exponent, reg.growth, reg.movement)
    assert reg.fraction(regime) == 1.0
    np.testing.assert_array_equal(reg.model_ids, np.arange(8))


@pytest.mark.slow
def test_regimes_at_grid_corners(slow_scale):
    """Far corners of the paper's grid, 10⁵ updates: small σ_W learns at low lr, large σ_W jams,
    lr = 2⁸ boils at small and at large σ_W.

    The labels depend on the run length, so ``slow_scale`` scales the number of models, not
    the steps. Margins at seed 1 with 16 models: ordered r ≤ 1.2e-3 (g ≤ 0.22); jammed
    r ≥ 0.06, μ ≤ 0.03; (2⁸, 2⁻³) g ≥ 5e4 and (2⁸, 2⁴) g ≥ 280 (threshold 16). The corner
    (2⁸, 2⁸) is left out: there the noise is still unjamming the spectra at 10⁵ updates
    (p = 0.20–0.48, μ = 0.06–0.42), a crossover.
    """
    steps, models = 100_000, max(4, int(16 * slow_scale))
    expected = {(2.0**-3, 2.0**-3): "ordered", (2.0**8, 2.0**-3): "high-temperature",
                (2.0**-3, 2.0**8): "jammed", (2.0**8, 2.0**4): "high-temperature"}
    for (lr, sigma_w), regime in expected.items():
        h = pn.phase_network(lr=lr, sigma_w=sigma_w, models=models, steps=steps, record_every=steps // 20,
                             seed=1, progress=False, record_weights=False)
        counts = pn.classify_regime(h).counts()
        assert counts[regime] == models, (lr, sigma_w, counts)


# ----------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kw, name, exc", [
    (dict(lr=0.0), "lr", ValueError), (dict(lr=-1.0), "lr", ValueError), (dict(lr="big"), "lr", TypeError),
    (dict(sigma_w=0.0), "sigma_w", ValueError), (dict(sigma_w=float("nan")), "sigma_w", ValueError),
    (dict(batch_size=0), "batch_size", ValueError), (dict(batch_size=2.5), "batch_size", TypeError),
    (dict(models=0), "models", ValueError), (dict(steps=0), "steps", ValueError),
    (dict(record_every=0), "record_every", ValueError), (dict(steps=10, record_every=11), "record_every", ValueError),
    (dict(n_in=0), "n_in", ValueError), (dict(n_mid=0), "n_mid", ValueError),
    (dict(n_hidden=0), "n_hidden", ValueError),
    (dict(epoch_batches=0), "epoch_batches", ValueError), (dict(divergence_loss=0.0), "divergence_loss", ValueError),
    (dict(seed=-1), "seed", ValueError),
])
def test_bad_input_names_parameter(kw, name, exc):
    args = dict(models=1, steps=10, record_every=5, progress=False)
    args.update(kw)
    with pytest.raises(exc, match=f"`{name}`"):
        pn.phase_network(**args)


def test_bad_input_to_helpers():
    h = pn.phase_network(lr=0.5, seed=0, **SMALL)
    with pytest.raises(ValueError, match="`record`"):
        pn.per_sample_gradients(h, record=h.records)
    with pytest.raises(ValueError, match="`samples`"):
        pn.per_sample_gradients(h, samples=0)
    with pytest.raises(ValueError, match="weights"):
        pn.per_sample_gradients(pn.phase_network(lr=0.5, seed=0, record_weights=False, **SMALL))
    for name in ("exponent_min", "growth_max", "loss_ratio_max", "movement_max", "late_fraction"):
        with pytest.raises(ValueError, match=f"`{name}`"):
            pn.classify_regime(h, **{name: 0.0})
    with pytest.raises(ValueError, match="`late_fraction`"):
        pn.classify_regime(h, late_fraction=1.5)
    with pytest.raises(ValueError, match="`harvest`"):
        pn.classify_regime(pn.phase_network(lr=0.5, models=1, steps=2, record_every=2, progress=False))
    ts = importlib.import_module("coulombgas.training.teacher_student")
    with pytest.raises(ValueError, match="`harvest`"):
        pn.classify_regime(ts.teacher_student(models=2, steps=10, record_every=5, progress=False))
    with pytest.raises(ValueError, match="`regime`"):
        pn.classify_regime(h).fraction("frozen")


# ------------------------------------------------------- the authors' protocol (issue 16)

def generate_py_replay(M, Wt, Z, x, W0, lr, bs, updates):
    """Plain NumPy replay of the update in the authors' generate.py (written here from its equations).

    Per batch b (swept in order): h = tanh(M x), ŷ = Z tanh(W h), y = Z tanh(W_t h);
    L_B = ½ mean_B (y − ŷ)²; ∇_W L_B = mean_B [(ŷ − y) Z ⊙ (1 − tanh²(W h))] hᵀ;
    the run stops before the update of a batch whose loss exceeds 100; W ← W − ε ∇_W L_B.
    Returns the weights after every update, (updates + 1, K, L), and the batch losses.
    """
    W = W0.copy()
    out, losses = [W.copy()], []
    batches = len(x) // bs
    for u in range(updates):
        xb = x[(u % batches) * bs:(u % batches + 1) * bs]
        hi = np.tanh(xb @ M.T)
        pre = hi @ W.T
        yp = np.tanh(pre) @ Z
        yt = np.tanh(hi @ Wt.T) @ Z
        loss = 0.5 * np.mean((yt - yp) ** 2)
        grad = np.mean(((yp - yt)[:, None] * Z[None, :] * (1.0 - np.tanh(pre) ** 2))[:, :, None] * hi[:, None, :],
                       axis=0)
        if loss > 100.0:
            break
        W = W - lr * grad
        out.append(W.copy())
        losses.append(loss)
    return np.array(out), np.array(losses)


def hand_streams(seed, models, bs, epoch_batches, sigma_w=1.0):
    """Each model's M, W_t, Z, W(0), x drawn by hand in the documented order."""
    rows = []
    for g in _rng.streams(seed, models):
        M = g.standard_normal((32, 3)) / math.sqrt(3)
        Wt = g.standard_normal((16, 32)) / math.sqrt(32)
        Z = g.standard_normal(16) / 4.0
        W0 = g.standard_normal((16, 32)) * (sigma_w / math.sqrt(32))
        x = g.standard_normal((bs * epoch_batches, 3))
        rows.append((M, Wt, Z, W0, x))
    return rows


@pytest.mark.parametrize("lr, bs", [(0.7, 4), (2.0, 3)])
def test_training_equals_numpy_replay_of_generate_py(lr, bs):
    """Every recorded W equals the replay of generate.py's ½·MSE update to 1e-12 (3 epochs: the sweep wraps)."""
    eb, updates = 5, 15
    h = pn.phase_network(lr=lr, batch_size=bs, models=2, steps=updates, record_every=1, seed=21, epoch_batches=eb,
                         progress=False)
    for m, (M, Wt, Z, W0, x) in enumerate(hand_streams(21, 2, bs, eb)):
        Ws, losses = generate_py_replay(M, Wt, Z, x, W0, lr, bs, updates)
        np.testing.assert_allclose(h.weights[m], Ws, rtol=0, atol=1e-12 * max(1.0, np.abs(Ws).max()))
        np.testing.assert_allclose(h.loss[m, 1:], losses, rtol=1e-12)


def test_temperature_is_the_papers():
    """T = ε/|B| with the paper's ε: ½·MSE at lr = ε is the trajectory of the MSE at lr = ε/2."""
    eps, bs = 0.5, 4
    half = pn.phase_network(lr=eps, batch_size=bs, seed=3, **SMALL)
    assert half.params["loss"] == "half_mse" and half.lr / half.batch_size == eps / bs
    old = pn.phase_network(lr=eps / 2, batch_size=bs, loss="mse", seed=3, **SMALL)
    np.testing.assert_allclose(old.weights, half.weights, rtol=0, atol=1e-13)
    np.testing.assert_allclose(old.loss, 2.0 * half.loss, rtol=1e-12)
    # the same lr in the old convention is twice the step: it does not reproduce the paper's run
    assert not np.allclose(pn.phase_network(lr=eps, batch_size=bs, loss="mse", seed=3, **SMALL).weights,
                           half.weights, atol=1e-6)


def test_datasets_shared_by_seed_groups():
    """seeds_per_dataset = 3: models 0-2 and 3-5 share teacher and data, W(0) is each model's own;
    the groups do not depend on the blocks the models run in, nor on replaying a subset."""
    kw = dict(lr=0.5, models=6, steps=20, record_every=10, seed=9, progress=False, seeds_per_dataset=3)
    h = pn.phase_network(**kw)
    data, state = _loop.replay_init(pn.init, h)
    for key in ("M", "Wt", "Z", "H", "y"):
        for g in (0, 3):
            np.testing.assert_array_equal(data[key][g], data[key][g + 1])
            np.testing.assert_array_equal(data[key][g], data[key][g + 2])
        assert not np.array_equal(data[key][0], data[key][3])
    own = [g.standard_normal((16, 32)) * (1.0 / math.sqrt(32)) for g in _rng.streams(9, 6)]  # W(0): the first draw
    np.testing.assert_array_equal(state["W"], np.array(own))
    blocks = pn.phase_network(block_models=2, **kw)
    np.testing.assert_array_equal(blocks.weights, h.weights)
    sub, _ = _loop.replay_init(pn.init, h, model_ids=[4])
    np.testing.assert_array_equal(sub["H"][0], data["H"][4])
    # the default keeps each model's own teacher and data (the authors' generate.py)
    solo, _ = _loop.replay_init(pn.init, pn.phase_network(lr=0.5, models=2, steps=2, record_every=1, seed=9,
                                                           progress=False))
    assert not np.array_equal(solo["M"][0], solo["M"][1])


def test_snapshots_and_their_bad_input():
    h = pn.phase_network(lr=0.5, models=1, steps=200, snapshots=21, seed=0, progress=False)
    np.testing.assert_array_equal(h.steps, np.arange(0, 201, 10))
    with pytest.raises(ValueError, match="`snapshots`"):
        pn.phase_network(lr=0.5, models=1, steps=10, snapshots=12, progress=False)  # more than the run
    with pytest.raises(ValueError, match="`snapshots`"):
        pn.phase_network(lr=0.5, models=1, steps=10, snapshots=4, progress=False)  # 3 does not divide 10
    with pytest.raises(ValueError, match="`snapshots`"):
        pn.phase_network(lr=0.5, models=1, steps=10, snapshots=1, progress=False)
    with pytest.raises(ValueError, match="`loss`"):
        pn.phase_network(lr=0.5, models=1, steps=10, record_every=5, loss="l1", progress=False)
    with pytest.raises(ValueError, match="`seeds_per_dataset`"):
        pn.phase_network(lr=0.5, models=1, steps=10, record_every=5, seeds_per_dataset=0, progress=False)
