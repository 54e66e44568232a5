"""Paper 1's teacher–student model: faithfulness, reproducibility, streaming, bad input."""

import importlib

import numpy as np
import pytest

import coulombgas as cg
from coulombgas import spectra, theory
from coulombgas.training import Harvest

from stats import assert_ks, assert_mean_z

ts = importlib.import_module("coulombgas.training.teacher_student")


def _numpy_reference(h, steps):
    """Plain NumPy replay of the protocol for every model, from the replayed datasets."""
    data, state = cg.training._loop.replay_init(ts.init, h)
    W = state["W"].copy()
    lr, bs, teacher = h.params["lr"], h.params["batch_size"], h.params["teacher"]
    nb = data["x"].shape[1] // bs
    Wt = teacher * np.eye(2)
    for step in range(steps):
        sl = slice((step % nb) * bs, (step % nb + 1) * bs)
        x, a = data["x"][:, sl], data["a"][:, sl]
        A = np.stack([np.stack([a[..., 0], a[..., 2]], -1), np.stack([a[..., 2], a[..., 1]], -1)], -2)
        grad = np.einsum("mij,mnj,mnk->mnik", Wt - W, x, x) + A
        W = W + lr * grad.mean(axis=1)
    return W


def test_kernel_matches_numpy_protocol():
    h = cg.training.teacher_student(models=7, steps=1037, record_every=100, seed=11, epoch_batches=20,
                                    progress=False)
    W = _numpy_reference(h, 1037)
    np.testing.assert_allclose(h.weights[:, -1], W, rtol=1e-12, atol=1e-13)
    ev = np.sort(np.linalg.eigvalsh(np.einsum("mji,mjk->mik", W, W)), axis=-1)
    np.testing.assert_allclose(h.eigenvalues[:, -1], ev, rtol=1e-11)
    np.testing.assert_allclose(h.singular_values[:, -1] ** 2, h.eigenvalues[:, -1], rtol=1e-12)
    assert h.steps.tolist() == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1037]


def test_per_sample_gradients_are_loss_gradients_plus_noise():
    h = cg.training.teacher_student(models=3, steps=60, record_every=20, seed=2, eps=0.0, progress=False)
    W, G = ts.per_sample_gradients(h, record=1, samples=5)
    data, _ = cg.training._loop.replay_init(ts.init, h)
    x = data["x"][:, :5]

    def loss(Wm, m, n):
        r = 2.0 * x[m, n] - Wm @ x[m, n]
        return 0.5 * r @ r

    h_fd = 1e-6
    for m in range(3):
        for n in range(5):
            fd = np.zeros((2, 2))
            for i in range(2):
                for j in range(2):
                    E = np.zeros((2, 2))
                    E[i, j] = h_fd
                    fd[i, j] = (loss(W[m] + E, m, n) - loss(W[m] - E, m, n)) / (2 * h_fd)
            np.testing.assert_allclose(G[m, n], fd, rtol=1e-7, atol=1e-9)


def test_same_seed_same_harvest_and_different_seed_differs():
    a = cg.training.teacher_student(models=20, steps=300, record_every=30, seed=4, progress=False)
    b = cg.training.teacher_student(models=20, steps=300, record_every=30, seed=4, progress=False)
    c = cg.training.teacher_student(models=20, steps=300, record_every=30, seed=5, progress=False)
    for field in ("eigenvalues", "singular_values", "loss", "weights"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.eigenvalues, c.eigenvalues)
    # A block boundary does not change any model's stream.
    d = cg.training._loop.run_ensemble(ts.init, ts.advance, ts.GRAM, dict(a.params), models=20, steps=300,
                                       record_every=30, seed=4, name="teacher-student", block_models=6,
                                       progress=False)
    np.testing.assert_array_equal(a.eigenvalues, d.eigenvalues)


@pytest.fixture(scope="module")
def paper_setting():
    return cg.training.teacher_student(models=600, steps=5000, record_every=250, seed=1, progress=False)


def test_singular_values_converge_to_two(paper_setting):
    sv = paper_setting.final("singular_values")
    # The pair's centre of mass is the teacher's value; level repulsion only splits the pair.
    assert_mean_z(sv.mean(axis=1), 2.0)
    assert np.all(np.abs(sv - 2.0) < 0.1)
    assert paper_setting.loss[:, -1].mean() < 1e-3 * paper_setting.loss[:, 0].mean()


def test_normalised_spacings_follow_wigner_surmise(paper_setting):
    sv = paper_setting.final("singular_values")
    s = spectra.normalized_spacings(sv)
    assert_ks(s.ravel(), theory.wigner_surmise(1).cdf)
    # And not the Poisson law (no level repulsion), which the same test rejects.
    p = spectra.goodness_of_fit(s.ravel(), theory.poisson_spacing(), "ks").pvalue
    assert p < 1e-6


@pytest.mark.slow
def test_mean_spacing_and_width_obey_linear_scaling():
    """⟨S⟩ and √π σ are linear in √(α ε²/|B|) with one slope across the paper's three scans.

    The α scan stops at 0.3: SGD's discrete time gives the stationary variance
    of the linear map W − W_t ↦ (W − W_t)(1 − αC) + αA the factor 1/(1 − α/2)
    (AR(1) process), a 6 % rise of ⟨S⟩/√α at α = 0.5 that 400 models per point
    resolve; the continuum SDE (and the paper's linear fit) is its α → 0 limit.
    """
    settings = ([(0.1, 16, e) for e in (0.05, 0.075, 0.1)] + [(a, 16, 0.1) for a in (0.2, 0.3)]
                + [(0.1, b, 0.1) for b in (4, 8, 32, 64)])
    c, mean_s, err_s, root_pi_sigma, err_sigma = [], [], [], [], []
    for k, (lr, bs, eps) in enumerate(settings):
        h = cg.training.teacher_student(models=400, steps=4000, record_every=4000, lr=lr, batch_size=bs,
                                        eps=eps, seed=100 + k, progress=False)
        sv = h.final("singular_values")
        S = sv[:, 1] - sv[:, 0]
        c.append(np.sqrt(lr * eps**2 / bs))
        mean_s.append(S.mean())
        err_s.append(S.std(ddof=1) / np.sqrt(S.size))
        # σ of the equal-σ two-mode density, fitted to the singular values measured from κ = 2.
        x = (sv - h.params["teacher"]).reshape(20, -1)
        fit = spectra.fit_density(x, lambda x, s: theory.two_mode_density(s, s).pdf(x), [S.mean() / 1.77],
                                  bounds=[(1e-9, None)])
        root_pi_sigma.append(np.sqrt(np.pi) * fit.params[0])
        err_sigma.append(np.sqrt(np.pi) * fit.errors[0])
    level = 1e-3
    line_s = spectra.fit_through_origin(c, mean_s, err_s)
    line_sigma = spectra.fit_through_origin(c, root_pi_sigma, err_sigma)
    assert line_s.pvalue > level, line_s
    assert line_sigma.pvalue > level, line_sigma
    # ⟨S⟩ = √π σ for the Gaussian two-mode gas: the two slopes agree.
    z = abs(line_s.slope - line_sigma.slope) / np.hypot(line_s.error, line_sigma.error)
    assert z < 4.0, (line_s, line_sigma)


def test_streaming_resume_is_exact(tmp_path):
    path = tmp_path / "ts.h5"
    full = cg.training.teacher_student(models=9, steps=400, record_every=50, seed=3, progress=False)
    # Simulate an interruption: kill the advance after a few records of the second block (4 models).

    def flaky(data, state, gens, n_steps, params):
        if len(state["W"]) == 4 and state["step"][0] >= 200:
            raise KeyboardInterrupt
        return ts.advance(data, state, gens, n_steps, params)

    with pytest.raises(KeyboardInterrupt):
        cg.training._loop.run_ensemble(ts.init, flaky, ts.GRAM, dict(full.params), models=9, steps=400,
                                       record_every=50, seed=3, name="teacher-student", block_models=5,
                                       out=path, progress=False)
    partial = Harvest.load(path)  # what was written survives: the finished block
    assert partial.models == 5 and partial.records == 9
    np.testing.assert_array_equal(partial.eigenvalues, full.eigenvalues[:5])
    done = cg.training._loop.run_ensemble(ts.init, ts.advance, ts.GRAM, dict(full.params), models=9,
                                          steps=400, record_every=50, seed=3, name="teacher-student",
                                          block_models=5, out=path, resume=True, progress=False)
    for field in ("eigenvalues", "loss", "weights"):
        np.testing.assert_array_equal(getattr(done, field), getattr(full, field))


def test_save_load_round_trip(tmp_path):
    h = cg.training.teacher_student(models=4, steps=100, record_every=25, seed=8, progress=False)
    for name in ("h.npz", "h.h5"):
        h.save(tmp_path / name)
        back = Harvest.load(tmp_path / name)
        for field in ("eigenvalues", "singular_values", "loss", "steps", "weights", "model_ids"):
            np.testing.assert_array_equal(getattr(back, field), getattr(h, field))
        assert back.params == h.params and back.seed == h.seed and back.model == h.model


def test_diverging_models_are_flagged_not_poisoning():
    # Near α = 2/λ_max(x xᵀ) the map W − W_t ↦ (W − W_t)(1 − α C_b) expands on some models' small
    # datasets (5 batches of 4) and not on others; at α = 2.5 with |B| = 1 it expands on every one.
    h = cg.training.teacher_student(models=50, steps=400, record_every=40, lr=1.4, batch_size=4,
                                    epoch_batches=5, seed=0, progress=False)
    assert 0 < len(h.diverged_ids) < 50
    assert np.all(np.isfinite(h.eigenvalues)) and np.all(np.isfinite(h.loss))
    assert h.models + len(h.diverged_ids) == 50
    assert set(h.model_ids) | set(h.diverged_ids) == set(range(50))
    assert np.all(h.diverged_step >= 1)
    everything = cg.training.teacher_student(models=5, steps=200, record_every=20, lr=2.5, batch_size=1,
                                             seed=0, progress=False)
    assert everything.models == 0 and len(everything.diverged_ids) == 5


@pytest.mark.parametrize("kwargs, name", [
    ({"lr": 0.0}, "lr"), ({"lr": -1}, "lr"), ({"batch_size": 0}, "batch_size"), ({"models": 0}, "models"),
    ({"steps": 0}, "steps"), ({"record_every": 0}, "record_every"), ({"record_every": 10**6}, "record_every"),
    ({"eps": -0.1}, "eps"), ({"batch_size": 2.5}, "batch_size"), ({"epoch_batches": 0}, "epoch_batches"),
    ({"lr": float("nan")}, "lr"),
])
def test_bad_input_names_the_parameter(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        cg.training.teacher_student(**{"models": 2, "steps": 10, "record_every": 5, **kwargs})


def test_existing_output_is_not_overwritten(tmp_path):
    path = tmp_path / "h.h5"
    cg.training.teacher_student(models=2, steps=10, record_every=5, out=path, progress=False)
    with pytest.raises(ValueError, match="out"):
        cg.training.teacher_student(models=2, steps=10, record_every=5, out=path, progress=False)
    with pytest.raises(ValueError, match="different run"):
        cg.training.teacher_student(models=2, steps=10, record_every=5, seed=9, out=path, resume=True,
                                    progress=False)


def test_spectra_of_pads_and_orders():
    W = np.random.default_rng(0).standard_normal((3, 5))
    ev, sv = cg.training.spectra_of(W, "WtW")
    np.testing.assert_allclose(ev, np.linalg.eigvalsh(W.T @ W), atol=1e-12)
    assert ev[:2].tolist() == [0.0, 0.0] and np.all(np.diff(ev) >= 0)
    ev, sv = cg.training.spectra_of(W, "WWt")
    np.testing.assert_allclose(ev, np.linalg.eigvalsh(W @ W.T), rtol=1e-12)
    with pytest.raises(ValueError, match="gram"):
        cg.training.spectra_of(W, "XX")


# -- protocols (issue 15) ---------------------------------------------------------------------------

def _protocol_reference(h, steps):
    """Plain NumPy replay of any protocol: the batch order and per-step noise drawn from a copy of each
    model's xoshiro256++ state with the stream's own uniform/normal (module docstring's order)."""
    from coulombgas import _prng

    data, state = cg.training._loop.replay_init(ts.init, h)
    p = h.params
    bs, size = p["batch_size"], p["batch_size"] * p["epoch_batches"]
    nb = size // bs
    order, draw = p.get("batch_order", "in-order"), p.get("noise_draw", "per-sample")
    W = state["W"].copy()
    out = np.empty_like(W)
    for m in range(len(W)):
        x = data["x"][0 if len(data["x"]) == 1 else m]
        s = state["rng"][m].copy() if "rng" in state else None
        perm = np.arange(size)
        w = W[m]
        for step in range(steps):
            if order == "in-order":
                idx = (step % nb) * bs + np.arange(bs)
            elif order == "reshuffle":
                if step % nb == 0:
                    for i in range(size - 1, 0, -1):
                        j = int(_prng.uniform(s) * (i + 1))
                        perm[i], perm[j] = perm[j], perm[i]
                idx = perm[(step % nb) * bs + np.arange(bs)]
            else:
                idx = np.array([int(_prng.uniform(s) * size) for _ in range(bs)])
            if draw == "per-step":
                a = np.array([[_prng.normal(s, _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R) for _ in range(3)]
                              for _ in range(bs)]) * np.array([np.sqrt(2), np.sqrt(2), 1.0]) * p["eps"]
            else:
                a = data["a"][m, idx]
            A = np.stack([np.stack([a[:, 0], a[:, 2]], -1), np.stack([a[:, 2], a[:, 1]], -1)], -2)
            xb = x[idx]
            grad = np.einsum("ij,nj,nk->nik", p["teacher"] * np.eye(2) - w, xb, xb) + A
            w = w + p["lr"] * grad.mean(axis=0)
        out[m] = w
    return out


@pytest.mark.parametrize("protocol", [
    {"data_seed": 4}, {"batch_order": "reshuffle"}, {"batch_order": "with-replacement"},
    {"noise_draw": "per-step"}, {"data_seed": np.random.SeedSequence(9), "batch_order": "reshuffle",
                                 "noise_draw": "per-step"},
])
def test_protocols_match_a_numpy_replay(protocol):
    h = cg.training.teacher_student(models=4, steps=83, record_every=20, seed=2, batch_size=3, epoch_batches=7,
                                    progress=False, **protocol)
    np.testing.assert_allclose(h.weights[:, -1], _protocol_reference(h, 83), rtol=1e-12, atol=1e-13)
    for key in protocol:
        assert key in h.params
    # Records (loss-only passes) do not change the stream: another record spacing, the same weights.
    other = cg.training.teacher_student(models=4, steps=83, record_every=83, seed=2, batch_size=3, epoch_batches=7,
                                        progress=False, **protocol)
    np.testing.assert_array_equal(other.weights[:, -1], h.weights[:, -1])


def test_default_protocol_records_nothing_new_and_shared_data_is_shared():
    h = cg.training.teacher_student(models=3, steps=20, record_every=10, seed=1, progress=False)
    assert not {"data_seed", "batch_order", "noise_draw"} & set(h.params)
    s = cg.training.teacher_student(models=3, steps=20, record_every=10, seed=1, data_seed=5, progress=False)
    data, _ = cg.training._loop.replay_init(ts.init, s)
    assert data["x"].shape == (1, 16 * 500, 2)
    np.testing.assert_array_equal(data["x"][0], ts.shared_dataset(5, 16 * 500))
    # W(0) comes first in every model's stream: the same initial weights as with per-model data.
    np.testing.assert_array_equal(s.weights[:, 0], h.weights[:, 0])
    assert not np.array_equal(s.weights[:, -1], h.weights[:, -1])
    # Per-sample gradients see the shared dataset.
    W, G = ts.per_sample_gradients(s, samples=4)
    assert G.shape == (3, 4, 2, 2)
    x = data["x"][0, :4]
    a = data["a"][:, :4]
    expect = np.einsum("mij,nj,nk->mnik", W - 2 * np.eye(2), x, x)
    expect[..., 0, 0] -= a[..., 0]
    expect[..., 1, 1] -= a[..., 1]
    expect[..., 0, 1] -= a[..., 2]
    expect[..., 1, 0] -= a[..., 2]
    np.testing.assert_allclose(G, expect, rtol=1e-12, atol=1e-15)


def test_protocol_resume_is_exact_and_other_options_are_refused(tmp_path):
    path = tmp_path / "ts.h5"
    kw = dict(models=7, steps=300, record_every=30, seed=3, batch_size=4, epoch_batches=9,
              batch_order="reshuffle", noise_draw="per-step")
    full = cg.training.teacher_student(progress=False, **kw)
    params, *_ = ts.validated(**{k: v for k, v in {**full.params}.items()
                                 if k not in ("steps", "record_every", "models")}, models=7, steps=300,
                              record_every=30)

    def flaky(data, state, gens, n_steps, p):  # stops the second block (3 models) after a few records
        if len(state["W"]) == 3 and state["step"][0] >= 120:
            raise KeyboardInterrupt
        return ts.advance(data, state, gens, n_steps, p)

    with pytest.raises(KeyboardInterrupt):
        cg.training._loop.run_ensemble(ts.init, flaky, ts.GRAM, params, models=7, steps=300, record_every=30,
                                       seed=3, name="teacher-student", block_models=4, out=path, progress=False)
    with pytest.raises(ValueError, match="different run"):
        cg.training.teacher_student(progress=False, out=path, resume=True, **{**kw, "batch_order": "in-order"})
    done = cg.training._loop.run_ensemble(ts.init, ts.advance, ts.GRAM, params, models=7, steps=300,
                                          record_every=30, seed=3, name="teacher-student", block_models=4, out=path,
                                          resume=True, progress=False)
    for field in ("eigenvalues", "loss", "weights"):
        np.testing.assert_array_equal(getattr(done, field), getattr(full, field))


@pytest.mark.parametrize("kwargs, name, error", [
    ({"batch_order": "shuffled"}, "batch_order", ValueError), ({"noise_draw": "fresh"}, "noise_draw", ValueError),
    ({"data_seed": -1}, "data_seed", ValueError), ({"data_seed": "a"}, "data_seed", TypeError),
    ({"data_seed": 1.5}, "data_seed", TypeError), ({"data_seed": {"entropy": 1}}, "data_seed", ValueError),
])
def test_bad_protocol_names_the_option(kwargs, name, error):
    with pytest.raises(error, match=name):
        cg.training.teacher_student(models=2, steps=10, record_every=5, **kwargs)


def test_paper1_protocol_is_shared_in_order_per_sample():
    assert ts.PAPER1["data_seed"] is not None
    assert ts.PAPER1["batch_order"] == "in-order" and ts.PAPER1["noise_draw"] == "per-sample"
    h = cg.training.teacher_student(**{**ts.PAPER1, "models": 3, "steps": 10, "record_every": 5}, progress=False)
    assert h.params["data_seed"] == ts.PAPER1["data_seed"] and h.params["epoch_batches"] == 500


# The protocols' kernels (in-kernel stream: reshuffle, with-replacement, noise per step) give the same
# bytes compiled afresh and loaded from the cache, with 1 and 2 threads: the "training" part of
# tests/test_reproducibility.py runs them in its cold and warm processes (no second pair of cold
# compiles here).


@pytest.mark.slow  # the example end to end: the long stage
def test_paper1_example_runs_at_a_tiny_size(tmp_path, capsys):
    """examples/paper1_teacher_student.py end to end (24 seeds, 300 updates): every setting printed."""
    import json

    from scripts import load_script

    example = load_script("examples/paper1_teacher_student.py")
    example.main(["--models", "24", "--steps", "300", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [len(v) for v in summary["scans"].values()] == [6, 5, 5]
    assert summary["protocol"]["data_seed"] == ts.PAPER1["data_seed"]
    for rows in summary["scans"].values():
        for r in rows:
            assert r["models"] == 24 and r["exact_S"] > 0 and np.isfinite(r["z_exact"])
    assert (tmp_path / "teacher_student.png").stat().st_size > 0
    assert "exact ⟨S⟩" in capsys.readouterr().out
