"""Paper 4's order parameters (coulombgas.training.phase_observables) against independent computations.

Each observable on small synthetic PhaseRuns whose value is known in closed form, or against a
loop over networks and test inputs written from the notebook's definitions.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

po = importlib.import_module("coulombgas.training.phase_observables")
pp = importlib.import_module("coulombgas.training.phase_paper")


def synthetic(models=3, K=4, L=6, snapshots=3, seed=0, epochs=40, W=None):
    g = np.random.default_rng(seed)
    W = g.standard_normal((models, snapshots, K, L)) if W is None else W
    models, snapshots, K, L = W.shape
    return pp.PhaseRun(W=W, dW=g.standard_normal(W.shape), loss=g.random((models, snapshots)),
                       M=g.standard_normal((models, L, 3)), Wt=g.standard_normal((models, K, L)) / math.sqrt(L),
                       Z=g.standard_normal((models, K)) / math.sqrt(K), epochs_at=np.arange(snapshots),
                       model_ids=np.arange(models), lr=0.5, sigma_w=1.0, batch_size=4, epochs=epochs,
                       loss_name="half_mse", frozen=0)


def loop_features(run, m, k, x):
    """s and y of network m at snapshot k, and the teacher's y_t, one input at a time."""
    s, y, yt = [], [], []
    for xn in x:
        s0 = np.tanh(run.M[m] @ xn)
        sn = np.tanh(run.W[m, k] @ s0)
        s.append(sn)
        y.append(run.Z[m] @ sn)
        yt.append(run.Z[m] @ np.tanh(run.Wt[m] @ s0))
    return np.array(s), np.array(y), np.array(yt)


def test_held_out_inputs_are_the_notebooks():
    state = np.random.get_state()
    try:
        np.random.seed(42)
        ref = np.random.normal(0.0, 1.0, size=(128, 3))
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(po.held_out_inputs(), ref)


def test_test_mse_overlap_and_alignment_against_loops():
    run = synthetic()
    x = po.held_out_inputs()
    mse, q, hs = po.test_mse(run), po.overlap_q(run), po.alignment_hs(run)
    for m in range(run.models):
        s_f, y, yt = loop_features(run, m, -1, x)
        s_0, _, _ = loop_features(run, m, 0, x)
        assert mse[m] == pytest.approx(np.mean((yt - y) ** 2), rel=1e-12)
        assert q[m] == pytest.approx(np.sum(s_0 * s_f) / (128 * 4), rel=1e-12)
        h = np.outer(yt, run.Z[m])
        cos = np.sum(h * s_f) / (np.linalg.norm(h) * np.linalg.norm(s_f))
        assert hs[m] == pytest.approx(cos / 128, rel=1e-12)


def test_overlap_of_unchanged_saturated_features_is_one():
    """W(t_f) = W(0) with huge weights: s = ±1 everywhere, so q = 1 exactly (the jammed limit)."""
    W = np.repeat(1e6 * np.random.default_rng(1).standard_normal((2, 1, 4, 6)), 3, axis=1)
    assert np.allclose(po.overlap_q(synthetic(W=W)), 1.0, atol=1e-12)


def test_couplings_are_the_loss_as_a_soft_spin_energy():
    """½(y_t − Z·s)² = ½y_t² − h·s + ½ sᵀJs for any s: h = Zᵀ y_t, J = ZᵀZ."""
    run = synthetic()
    h, J = po.spin_glass_couplings(run)
    yt = po.features(run)["yt"]
    s = np.random.default_rng(3).uniform(-1, 1, size=h.shape)
    lhs = 0.5 * (yt - np.einsum("mk,mnk->mn", run.Z, s)) ** 2
    rhs = 0.5 * yt**2 - np.einsum("mnk,mnk->mn", h, s) + 0.5 * np.einsum("mnk,mkl,mnl->mn", s, J, s)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-14)
    assert h.shape == (3, 128, 4) and J.shape == (3, 4, 4)


def test_spacing_lyapunov_exact():
    """Eigenvalues of WWᵀ 3, 2, 1 → 30, 20, 10: mean spacing ×10, λ = ln 10 / E."""
    W = np.zeros((1, 2, 3, 5))
    W[0, 0, :, :3] = np.diag(np.sqrt([3.0, 2.0, 1.0]))
    W[0, 1, :, :3] = np.diag(np.sqrt([10.0, 30.0, 20.0]))
    run = synthetic(W=W, epochs=50)
    np.testing.assert_allclose(po.eigenvalue_flow(run)[0], [[3, 2, 1], [30, 20, 10]], rtol=1e-12)
    assert po.spacing_lyapunov(run)[0] == pytest.approx(math.log(10.0) / 50, rel=1e-12)


def test_losses_gradient_norms_and_band():
    run = synthetic()
    np.testing.assert_array_equal(po.final_loss(run), run.loss[:, -1])
    np.testing.assert_allclose(po.gradient_norm(run, 0), np.sqrt((run.dW[:, 0] ** 2).sum(axis=(1, 2))), rtol=1e-14)
    med, lo, hi = po.median_band(np.arange(101.0))
    assert (med, lo, hi) == (50.0, 16.0, 84.0)


def test_initial_gradient_is_the_full_dataset_gradient():
    """Snapshot 0's gradient against central differences of the whole-dataset ½·MSE."""
    run = pp.paper_run(lr=0.5, sigma_w=2.0, epochs=1, models=1, epoch_batches=2, seed=3)
    pn = importlib.import_module("coulombgas.training.phase_network")
    from coulombgas.training import _loop  # noqa: PLC0415
    h = pn.phase_network(lr=0.5, sigma_w=2.0, models=1, steps=2, snapshots=2, epoch_batches=2, seed=3,
                         progress=False)
    data, _ = _loop.replay_init(pn.init, h)
    H, y, Z, W0 = data["H"][0], data["y"][0], data["Z"][0], run.W[0, 0]

    def loss(W):
        return 0.5 * np.mean((np.tanh(H @ W.T) @ Z - y) ** 2)

    fd = np.zeros_like(W0)
    for j in range(W0.shape[0]):
        for k in range(W0.shape[1]):
            e = np.zeros_like(W0)
            e[j, k] = 1e-6
            fd[j, k] = (loss(W0 + e) - loss(W0 - e)) / 2e-6
    np.testing.assert_allclose(run.dW[0, 0], fd, rtol=1e-6, atol=1e-9)
    assert run.loss[0, 0] == pytest.approx(loss(W0), rel=1e-12)


def test_bad_input():
    run = synthetic()
    with pytest.raises(TypeError, match="`run`"):
        po.test_mse("run")
    with pytest.raises(ValueError, match="`snapshot`"):
        po.gradient_norm(run, 3)
    with pytest.raises(ValueError, match="`n_test`"):
        po.held_out_inputs(0)


def test_classify_phase_rules():
    assert po.classify_phase(1e-5, 0.9) == "jammed"
    assert po.classify_phase(1e-5, 0.01) == "ordered"
    assert po.classify_phase(1e-2, 0.01) == "high-temperature"
    with pytest.raises(ValueError, match="`q_jammed`"):
        po.classify_phase(1e-5, 0.1, q_jammed=0.0)


# The paper's three representative points (σ_W, T = ε/|B|), 10 networks × 2·10⁴ updates (20 epochs).
# Measured at seed 0: q = 0.008 / −0.0002 / 0.94, test MSE = 1.5e-4 / 2.7e-2 / 0.59.
@pytest.mark.parametrize("sigma_w, T, phase", [(0.125, 1 / 32, "ordered"), (0.125, 4.0, "high-temperature"),
                                               (256.0, 1 / 32, "jammed")])
def test_representative_points_land_in_the_papers_phases(sigma_w, T, phase):
    run = pp.paper_run(lr=4 * T, sigma_w=sigma_w, epochs=20, models=10, seed=0)
    op = po.order_parameters(run)
    assert op.phase == phase, op
    if phase == "high-temperature":  # the spectrum spreads: largest spacing exponent of the three
        assert op.lyapunov * run.epochs > 5
    if phase == "jammed":
        assert abs(op.lyapunov * run.epochs) < 0.1
