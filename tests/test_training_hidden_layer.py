"""Tests of the poster's teacher–student model with a hidden layer (coulombgas.training.hidden_layer).

Exact checks: the kernel against a plain NumPy loop, per-sample gradients against finite
differences and against one SGD step, paper 1's model (n = 2, Z = 1) reproduced to rounding,
determinism and thread-count independence, divergence flags, bad input.

Statistical checks (fixed seeds; one record per model, the final one, so samples are
independent across models — within a model the fixed dataset makes the late trajectory
periodic with the epoch, so successive records are not independent):

* E[W] = W_t exactly (the SGD map is affine in W and the noise has mean zero); eigenvalue
  centres equal the teacher's after the second-order perturbative shift, z <= 4;
* hidden-layer modes (diagonal of X in the eigenbasis of ZᵀZ): Z = 1 equal widths (F-test,
  two-sided level 1e-3), random Z unequal (F rejects at 1e-3) with the ratio of the linear
  theory z₁(2 − αz₁)/(z₀(2 − αz₀)); label noise: the ratio (2 − αz₁)/(2 − αz₀) instead;
* the two-mode density with σ₁ ≠ σ₂ against the equal-σ form: likelihood ratio below (Z = 1)
  or above (random Z) the χ²₁ 0.999 quantile;
* normalised spacings against the β = 1 Wigner surmise (KS at 1e-3; Bonferroni over the four
  n = 10 pairs).
"""

from __future__ import annotations

import importlib

import numba
import numpy as np
import pytest
import scipy.stats
from stats import assert_ks, assert_mean_z, assert_z

from coulombgas import _rng, spectra, theory
from coulombgas.training import teacher_student
from coulombgas.training._loop import replay_init

hl = importlib.import_module("coulombgas.training.hidden_layer")
train = hl.hidden_layer_teacher_student

LEVEL = 1e-3          # two-sided level of the F-tests and the KS tests
CHI2_1 = scipy.stats.chi2.isf(LEVEL, 1)  # 10.83


def _small(**kw):
    base = dict(models=6, steps=40, record_every=10, seed=7, epoch_batches=5, batch_size=4, progress=False)
    base.update(kw)
    return train(**base)


def _per_sample_data(harvest):
    return replay_init(lambda p, g: hl._draw(p, g, per_sample=True), harvest)[0]


# --------------------------------------------------------------------------- exact checks

def _numpy_reference(params, seed, models, steps):
    """Plain NumPy SGD, all models at once, from the per-sample data: W_t+1 = W_t − α mean_B G_s."""
    gens = _rng.streams(_rng.seed_sequence(seed), models)
    data, state = hl._draw(params, gens, per_sample=True)
    W = state["W"].copy()
    Z, bs, n = np.asarray(params["Z"]), params["batch_size"], params["n"]
    A = hl._unpack(data["a"], n) if params["noise"] == "injected" else 0.0
    nb = params["epoch_batches"]
    out = [W.copy()]
    for t in range(steps):
        sl = slice((t % nb) * bs, (t % nb + 1) * bs)
        x, y = data["x"][:, sl], data["y"][:, sl]
        e = y - np.einsum("ij,mjk,msk->msi", Z, W, x)
        G = -np.einsum("ki,msk,msj->msij", Z, e, x)
        if params["noise"] == "injected":
            G = G - A[:, sl]
        W = W - params["lr"] * G.mean(axis=1)
        out.append(W.copy())
    return np.stack(out, axis=1)


@pytest.mark.parametrize("noise", ["injected", "label"])
def test_kernel_matches_numpy_reference(noise):
    h = _small(n=3, Z="random", noise=noise, steps=12, record_every=1, lr=0.2)
    ref = _numpy_reference(h.params, 7, 6, 12)
    np.testing.assert_allclose(h.weights, ref, rtol=1e-12, atol=1e-13)


def test_reproduces_paper1_teacher_student():
    # n = 2, Z = 1, W_t = 2·1, injected noise draws exactly paper 1's streams.
    kw = dict(models=5, steps=300, record_every=50, seed=3, epoch_batches=7, batch_size=8, eps=0.08)
    a = train(**kw, progress=False)
    b = teacher_student(**kw, progress=False)
    np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-12)


@pytest.mark.parametrize("noise", ["injected", "label"])
def test_per_sample_gradient_is_finite_difference_of_the_loss(noise):
    h = _small(n=3, Z="random", noise=noise)
    W, G = hl.per_sample_gradients(h, record=1, samples=6)
    data = _per_sample_data(h)
    x, y = data["x"][:, :6], data["y"][:, :6]
    Z = np.asarray(h.params["Z"])
    noise_part = -hl._unpack(data["a"][:, :6], 3) if noise == "injected" else 0.0

    def loss(Wm, m, s):  # ℓ_s(W) = ½‖y_s − Z W x_s‖², quadratic: central differences exact to rounding
        r = y[m, s] - Z @ Wm @ x[m, s]
        return 0.5 * r @ r

    step = 1e-5
    fd = np.empty_like(G)
    for m in range(W.shape[0]):
        for s in range(6):
            for i in range(3):
                for j in range(3):
                    d = np.zeros((3, 3))
                    d[i, j] = step
                    fd[m, s, i, j] = (loss(W[m] + d, m, s) - loss(W[m] - d, m, s)) / (2 * step)
    np.testing.assert_allclose(G - noise_part, fd, rtol=0, atol=1e-8)


@pytest.mark.parametrize("noise", ["injected", "label"])
def test_one_sgd_step_is_minus_lr_mean_of_per_sample_gradients(noise):
    h = _small(n=4, Z="random", noise=noise, steps=7, record_every=1)
    bs, nb = h.params["batch_size"], h.params["epoch_batches"]
    for r in range(h.records - 1):
        W, G = hl.per_sample_gradients(h, record=r)
        b = int(h.steps[r]) % nb
        W_next = W - h.params["lr"] * G[:, b * bs:(b + 1) * bs].mean(axis=1)
        np.testing.assert_allclose(h.weights[:, r + 1], W_next, rtol=1e-12, atol=1e-13)
    assert G.shape == (6, bs * nb, 4, 4)
    # Asking for fewer samples replays the same stream and keeps only those.
    assert np.array_equal(hl.per_sample_gradients(h, record=r, samples=5)[1], G[:, :5])


def test_same_seed_same_harvest_and_seed_matters():
    a, b, c = _small(Z="random"), _small(Z="random"), _small(Z="random", seed=8)
    for field in ("eigenvalues", "singular_values", "loss", "weights", "steps"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.weights, c.weights)
    assert a.params == b.params


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
def test_thread_count_independent():
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _small(n=3, Z="random", models=9)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = _small(n=3, Z="random", models=9)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one.weights, two.weights) and np.array_equal(one.loss, two.loss)


def test_spectra_recorded_are_those_of_the_weights():
    h = _small(n=3, Z="random")
    ev = np.linalg.eigvalsh(np.einsum("mrki,mrkj->mrij", h.weights, h.weights))
    np.testing.assert_allclose(h.eigenvalues, ev, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.singular_values ** 2, h.eigenvalues, rtol=1e-12)
    assert h.gram == "WtW" and h.model == "hidden-layer-teacher-student"


def test_divergence_is_flagged_at_the_right_update():
    # W_t = 20·1: the first batch loss ½‖20 x‖² ≈ 400 > 100, every model stops before update 1.
    h = _small(teacher=20.0)
    assert h.models == 0 and np.array_equal(h.diverged_step, np.ones(6, dtype=np.int64))
    # Z = 2·1 (z = 4) and α = 3: every batch map 1 − α z C_b overshoots, so models blow up after a
    # few updates (the first loss, ½‖Z W_t x‖² ≈ 16, is fine): flagged, never NaN in the harvest.
    h = _small(Z=2 * np.eye(2), lr=3.0, steps=200, record_every=20)
    assert len(h.diverged_ids) == 6 and np.all(h.diverged_step > 1)
    ok = _small()
    assert ok.models == 6 and len(ok.diverged_ids) == 0 and np.all(np.isfinite(ok.eigenvalues))


def test_stream_to_hdf5_round_trips(tmp_path):
    pytest.importorskip("h5py")
    mem = _small(n=3, Z="random")
    disk = _small(n=3, Z="random", out=tmp_path / "run.h5")
    for field in ("eigenvalues", "loss", "weights"):
        assert np.array_equal(getattr(mem, field), getattr(disk, field))
    np.testing.assert_array_equal(hl.per_sample_gradients(disk, samples=4)[1],
                                  hl.per_sample_gradients(mem, samples=4)[1])


def test_defaults_documented():
    assert np.array_equal(hl.default_teacher(2), 2 * np.eye(2))
    t10 = hl.default_teacher(10)
    assert np.array_equal(np.diag(t10), [1, 1.25, 1.25, 1.5, 1.5, 1.75, 1.75, 2, 2, 2.25])
    assert hl.degenerate_groups(t10) == [(1, 2), (3, 4), (5, 6), (7, 8)]
    assert hl.degenerate_groups(hl.default_teacher(2)) == [(0, 1)]
    assert hl.degenerate_groups(hl.default_teacher(4)) == [(1, 2)]
    Z = hl.random_hidden_layer(10, z_seed=5)
    np.testing.assert_allclose(np.sort(np.linalg.svd(Z, compute_uv=False)),
                               2.0 ** (np.arange(10) / 9 - 0.5), rtol=1e-12)
    assert np.array_equal(Z, hl.random_hidden_layer(10, z_seed=5))
    assert not np.allclose(Z, hl.random_hidden_layer(10, z_seed=6))
    h = _small(Z="random", z_seed=5)
    assert np.array_equal(np.asarray(h.params["Z"]), hl.random_hidden_layer(2, 5))
    assert h.params["eps"] == 0.1 and h.params["label_noise"] == 0.0
    assert _small(noise="label").params["label_noise"] == 0.1


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(n=1), ValueError, "n"),
    (dict(n=2.5), TypeError, "n"),
    (dict(Z="orthogonal"), ValueError, "Z"),
    (dict(Z=np.eye(3)), ValueError, "Z"),
    (dict(Z=[[1.0, 2.0], [2.0, 4.0]]), ValueError, "Z"),
    (dict(Z=[[1.0, np.nan], [0.0, 1.0]]), ValueError, "Z"),
    (dict(Z=[["a", "b"], ["c", "d"]]), TypeError, "Z"),
    (dict(teacher=np.eye(3)), ValueError, "teacher"),
    (dict(teacher=[[1.0, np.inf], [0.0, 1.0]]), ValueError, "teacher"),
    (dict(teacher=np.nan), ValueError, "teacher"),
    (dict(noise="gaussian"), ValueError, "noise"),
    (dict(eps=-0.1), ValueError, "eps"),
    (dict(noise="label", eps=0.1), ValueError, "eps"),
    (dict(label_noise=0.2), ValueError, "label_noise"),
    (dict(noise="label", label_noise=-1.0), ValueError, "label_noise"),
    (dict(z_seed=-1), ValueError, "z_seed"),
    (dict(init_std=-0.1), ValueError, "init_std"),
    (dict(epoch_batches=0), ValueError, "epoch_batches"),
    (dict(divergence_loss=0.0), ValueError, "divergence_loss"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(record_every=100), ValueError, "record_every"),
])
def test_bad_input_names_the_parameter(kwargs, exc, name):
    with pytest.raises(exc, match=f"`{name}`"):
        _small(**kwargs)


def test_bad_input_of_helpers():
    h = _small()
    with pytest.raises(ValueError, match="`record`"):
        hl.per_sample_gradients(h, record=h.records)
    with pytest.raises(ValueError, match="`samples`"):
        hl.per_sample_gradients(h, samples=h.params["batch_size"] * h.params["epoch_batches"] + 1)
    with pytest.raises(ValueError, match="weights"):
        hl.per_sample_gradients(_small(record_weights=False))
    with pytest.raises(ValueError, match="`n`"):
        hl.random_hidden_layer(1)
    with pytest.raises(ValueError, match="`record`"):
        hl.hidden_modes(h, record=-h.records - 1)


# --------------------------------------------------------------------------- statistics

def _run(n, Z, models, noise="injected", seed=11, steps=600):
    # α z_min = 0.05 per update: 600 updates relax W(0) ≈ 0 to the teacher by e^-30.
    return train(n=n, Z=Z, noise=noise, models=models, steps=steps, record_every=steps // 2, seed=seed,
                 epoch_batches=100, progress=False)


@pytest.fixture(scope="module")
def n2_identity():
    return _run(2, "identity", 3000)


@pytest.fixture(scope="module")
def n2_random():
    return _run(2, "random", 3000)


def _check_converged(h):
    """E[W] = W_t entrywise, and each eigenvalue group's centre = teacher + second-order shift."""
    W = h.weights[:, -1]
    Wt = np.asarray(h.params["teacher"])
    n = h.n
    # n² z-scores at z = 4.5: family-wise false-alarm rate <= n² · 6.8e-6.
    assert_z(W.mean(axis=0), Wt, W.std(axis=0, ddof=1) / np.sqrt(len(W)), z=4.5)
    # Teacher eigenbasis; second-order perturbation theory for the mean of each group
    # (δ = W − W_t, V1 = W_tᵀδ + δᵀW_t, V2 = δᵀδ):
    # Σ_{k∈G} λ_k = Σ_{k∈G} [x_k + V1_kk + V2_kk + Σ_{j∉G} V1_kj² / (x_k − x_j)] + O(δ³).
    xt, Q = np.linalg.eigh(Wt.T @ Wt)
    d = W - Wt
    V1 = Q.T @ (np.swapaxes(Wt.T @ d, 1, 2) + Wt.T @ d) @ Q
    V2 = Q.T @ np.swapaxes(d, 1, 2) @ d @ Q
    groups = hl.degenerate_groups(Wt)
    singles = [(k,) for k in range(n) if not any(k in g for g in groups)]
    ev = h.final()
    for g in groups + singles:
        out = [j for j in range(n) if j not in g]
        shift = sum(V2[:, k, k] + (V1[:, k, out] ** 2 / (xt[k] - xt[out])).sum(axis=1) for k in g) / len(g)
        centre = ev[:, list(g)].mean(axis=1)
        assert_mean_z(centre - shift, xt[g[0]])


def test_converges_to_the_teacher_n2(n2_identity, n2_random):
    _check_converged(n2_identity)
    _check_converged(n2_random)


def _log_width_ratio(h):
    """log var(mode 0)/var(mode 1) from independent halves (even/odd models), and its standard error."""
    z, modes = hl.hidden_modes(h)
    a, b = modes[0::2, 0], modes[1::2, 1]
    F = a.var(ddof=1) / b.var(ddof=1)
    p = 2 * min(scipy.stats.f.cdf(F, len(a) - 1, len(b) - 1), scipy.stats.f.sf(F, len(a) - 1, len(b) - 1))
    # Gaussian samples: Var(log s²) = 2/(m − 1).
    return z, np.log(F), np.sqrt(2 / (len(a) - 1) + 2 / (len(b) - 1)), p


def test_identity_hidden_layer_modes_have_equal_widths(n2_identity):
    _, _, _, p = _log_width_ratio(n2_identity)
    assert p >= LEVEL, f"F-test rejects equal widths for Z = 1: p = {p:.3g}"


def test_random_hidden_layer_sets_the_widths(n2_random):
    z, log_f, se, p = _log_width_ratio(n2_random)
    assert p < LEVEL, f"F-test does not reject equal widths for Z ≠ 1: p = {p:.3g}"
    # Linear theory: var_k ∝ 1/(z_k (2 − α z_k)) for isotropic injected noise (z = 0.5, 2: ratio 3.69).
    alpha = n2_random.lr
    expected = np.log(z[1] * (2 - alpha * z[1]) / (z[0] * (2 - alpha * z[0])))
    assert_z(log_f, expected, se)


@pytest.mark.slow
def test_label_noise_hides_the_hidden_layer(slow_scale):
    # Noise covariance ∝ ZᵀZ like the drift: var_k ∝ 1/(2 − α z_k), ratio 0.92 instead of 3.69.
    h = _run(2, "random", int(8000 * slow_scale), noise="label", seed=12)
    z, log_f, se, _ = _log_width_ratio(h)
    alpha = h.lr
    assert_z(log_f, np.log((2 - alpha * z[1]) / (2 - alpha * z[0])), se)
    _check_converged(h)


def _two_mode_likelihood_ratio(h):
    """2 ln(L_{σ₁,σ₂} / L_{σ}) for one eigenvalue per model (lower for even, upper for odd models)."""
    ev = h.final()
    x = np.where(np.arange(h.models) % 2 == 0, ev[:, 0], ev[:, 1])

    def pdf2(x, s1, s2, loc):
        try:
            return theory.two_mode_density(s1, s2, loc).pdf(x)
        except ValueError:  # a width <= 0 proposed by the optimiser
            return np.full(np.shape(x), np.nan)

    def pdf1(x, s, loc):
        return pdf2(x, s, s, loc)

    sd, c = x.std(), ev.mean()
    one = spectra.fit_density(x[:, None], pdf1, [sd, c], blocks=2)
    two = spectra.fit_density(x[:, None], pdf2, [0.8 * sd, 1.2 * sd, c], blocks=2)
    return 2 * x.size * (one.nll - two.nll), two.params


def test_two_mode_density_with_unequal_widths_fits_better_only_with_a_hidden_layer(n2_identity, n2_random):
    # Eigenvalues are taken from their common centre by fitting it (loc) in both forms. ρ is even,
    # so mirror-averaging would leave the likelihood unchanged. One eigenvalue per model keeps the
    # samples independent. Under σ₁ = σ₂ the statistic is ½χ²₀ + ½χ²₁ (ρ depends on (σ₁ − σ₂)²
    # only), so the χ²₁ quantile is conservative: false alarm <= 5e-4.
    lr_identity, _ = _two_mode_likelihood_ratio(n2_identity)
    lr_random, (s1, s2, _) = _two_mode_likelihood_ratio(n2_random)
    assert lr_identity < CHI2_1, f"Z = 1: equal-σ form rejected, 2 ln LR = {lr_identity:.2f}"
    assert lr_random > CHI2_1, f"Z random: σ₁ ≠ σ₂ not preferred, 2 ln LR = {lr_random:.2f}"
    assert max(s1, s2) / min(s1, s2) > 1.2


def test_n2_spacings_follow_the_wigner_surmise(n2_identity, n2_random):
    # Normalising by the sample mean makes KS conservative (a fitted scale).
    for h in (n2_identity, n2_random):
        assert_ks(spectra.normalized_spacings(h.final()), theory.wigner_surmise(1), alpha=LEVEL)


@pytest.mark.slow
def test_n10_degenerate_pairs_follow_the_wigner_surmise(slow_scale):
    h = _run(10, "random", max(400, int(2000 * slow_scale)), seed=13, steps=800)
    assert len(h.diverged_ids) == 0
    _check_converged(h)
    groups = hl.degenerate_groups(h)
    assert len(groups) == 4
    # Each pair separately (samples independent across models), Bonferroni over the four.
    s = spectra.normalized_spacings(h.final(), groups=groups, separate=True)
    for k in range(len(groups)):
        assert_ks(s[:, k], theory.wigner_surmise(1), alpha=LEVEL / len(groups))


# --------------------------------------------------------------------------- protocols (issue 15)

@pytest.mark.parametrize("protocol", [
    {"data_seed": 3}, {"batch_order": "reshuffle"}, {"batch_order": "with-replacement"}, {"noise_draw": "per-step"},
    {"data_seed": 2, "batch_order": "reshuffle", "noise_draw": "per-step"},
])
def test_protocols_reproduce_paper1_teacher_student(protocol):
    """n = 2, Z = 1, injected noise: the same streams as teacher_student under every protocol."""
    kw = dict(models=5, steps=300, record_every=50, seed=3, epoch_batches=7, batch_size=8, eps=0.08, **protocol)
    a = train(**kw, progress=False)
    b = teacher_student(**kw, progress=False)
    np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-12)
    assert {k: a.params[k] for k in protocol} == {k: b.params[k] for k in protocol}


@pytest.mark.parametrize("noise", ["injected", "label"])
def test_records_do_not_change_the_stream_under_random_protocols(noise):
    kw = dict(n=3, Z="random", noise=noise, batch_order="with-replacement", noise_draw="per-step", steps=60)
    a, b = _small(record_every=7, **kw), _small(record_every=60, **kw)
    np.testing.assert_array_equal(a.weights[:, -1], b.weights[:, -1])
    W, G = hl.per_sample_gradients(a, samples=4)
    assert G.shape == (6, 4, 3, 3) and np.all(np.isfinite(G))


@pytest.mark.parametrize("noise, protocol", [
    ("injected", {"data_seed": 1}), ("label", {"data_seed": 1, "noise_draw": "per-step"}),
    ("injected", {"data_seed": 1, "batch_order": "reshuffle"}),
])
def test_exact_law_matches_training(noise, protocol):
    """The exact law of :mod:`coulombgas.training.exact` for n = 3 with a random Z: the whitened weights
    ‖Σ^{-1/2}(w − μ)‖² average n² = 9 (std √18 per model) within 4 standard errors."""
    from coulombgas.training import exact

    h = train(n=3, Z="random", noise=noise, lr=0.2, batch_size=8, epoch_batches=12, models=3000, steps=400,
              record_every=400, seed=4, progress=False, **protocol)
    law = exact.predict(h, orders=32, samples=2000)
    W = h.weights[:, -1].reshape(h.models, -1)
    # One Gaussian in order; for a random order the mixture's mean and covariance (whose q is not χ²
    # but still averages n² exactly), with the error from the measured spread of q.
    mean = law.means.mean(axis=0)
    cov = law.covs.mean(axis=0) + np.cov(law.means.T, bias=True) if len(law.means) > 1 else law.covs[0]
    w, U = np.linalg.eigh(cov)
    z = (W - mean) @ U / np.sqrt(w)
    q = (z**2).sum(axis=1)
    assert_z(q.mean(), 9.0, np.sqrt(18.0 / len(q)) if len(law.means) == 1 else q.std(ddof=1) / np.sqrt(len(q)))


@pytest.mark.parametrize("kwargs, name", [({"batch_order": "sorted"}, "batch_order"),
                                          ({"noise_draw": "always"}, "noise_draw"), ({"data_seed": -3}, "data_seed")])
def test_bad_protocol_names_the_option(kwargs, name):
    with pytest.raises(ValueError, match=name):
        _small(**kwargs)
