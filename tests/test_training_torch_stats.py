"""Per-sample gradient statistics through torch.func: gradients against autograd one sample at a time, and
the projected moments against a direct NumPy computation of the formulas of coulombgas.training.drift_noise."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from coulombgas.training.torch_stats import (MODE_FIELDS, PAIR_FIELDS, as_drift_noise, empty_statistics,
                                             per_sample_gradients, projected_statistics)


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).double()


def test_per_sample_gradients_equal_autograd_sample_by_sample():
    net = _net()
    x, y = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    loss_fn = torch.nn.functional.mse_loss
    grads = per_sample_gradients(net, ["0.weight", "2.weight"], loss_fn, x, y)
    for b in range(7):
        net.zero_grad()
        loss_fn(net(x[b:b + 1]), y[b:b + 1]).backward()
        for name, p in net.named_parameters():
            if name in grads:
                np.testing.assert_allclose(grads[name][b], p.grad.numpy(), rtol=1e-12, atol=1e-14)
    # The module's own gradients are untouched by the vmap (they hold the last sample's from above).
    assert net[0].weight.grad is not None


def test_projected_statistics_match_the_formulas():
    """D_b = Uᵀ(−G_bᵀW − WᵀG_b)U: drift = mean diag, g² = var diag / 2, C = var, by plain NumPy."""
    rng = np.random.default_rng(3)
    W, G = rng.standard_normal((4, 3)), rng.standard_normal((9, 4, 3))
    st = projected_statistics(W, G, gram="WtW", lr=0.1, batch_size=4)
    x, U = np.linalg.eigh(W.T @ W)
    D = np.stack([U.T @ (-(g.T @ W + W.T @ g)) @ U for g in G])
    # Eigenvectors are defined up to sign: the diagonal and the variances do not depend on it.
    np.testing.assert_allclose(st["drift"], np.diagonal(D.mean(0)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(st["g2"], np.diagonal(D.var(0)) / 2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(st["variance"], D.var(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(st["drift_err"], np.sqrt(np.diagonal(D.var(0)) / 8), rtol=1e-10)
    assert set(st) == set(MODE_FIELDS + PAIR_FIELDS)
    # WWᵀ: the same map on the transposes.
    st2 = projected_statistics(W.T, np.swapaxes(G, 1, 2), gram="WWt", lr=0.1, batch_size=4)
    np.testing.assert_allclose(st2["drift"], st["drift"], rtol=1e-10, atol=1e-12)


def test_as_drift_noise_picks_records_with_statistics():
    n, R = 3, 4
    stats = {k: np.stack([np.stack([empty_statistics(n)[k]] * R)]) for k in MODE_FIELDS + PAIR_FIELDS}
    with pytest.raises(ValueError, match="no gradient statistics"):
        as_drift_noise(stats, np.ones((1, R, n)), np.arange(R), lr=0.1, batch_size=2, samples=4, gram="WtW",
                       model="w")
    for k in stats:
        stats[k][:, 2] = 1.0
    est = as_drift_noise(stats, np.ones((1, R, n)), np.arange(R) * 10, lr=0.1, batch_size=2, samples=4,
                         gram="WtW", model="w")
    assert est.records.tolist() == [2] and est.steps.tolist() == [20] and est.drift.shape == (1, 1, n)


def test_bad_batches_name_the_argument():
    net = _net()
    with pytest.raises(ValueError, match="inputs.*2 samples"):
        per_sample_gradients(net, ["0.weight"], torch.nn.functional.mse_loss, torch.randn(1, 5), torch.randn(1, 3))
    with pytest.raises(ValueError, match="targets"):
        per_sample_gradients(net, ["0.weight"], torch.nn.functional.mse_loss, torch.randn(4, 5).double(),
                             torch.randn(3, 3).double())
    with pytest.raises(ValueError, match="loss_fn"):
        per_sample_gradients(net, ["0.weight"], lambda out, t: out, torch.randn(4, 5).double(),
                             torch.randn(4, 3).double())
