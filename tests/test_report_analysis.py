"""cg.analyze: one row per matrix; ⟨r⟩ against the published GOE value, T_eff against an exact AR(1), and
every unusual run (no statistics, unconfined modes, NaN weights) as a row that says what is missing."""

import math
import warnings

import numpy as np
import pytest

import coulombgas as cg
from coulombgas.report.analysis import COLUMNS, NOT_AVAILABLE, Table, analyze
from coulombgas.training import Harvest
from coulombgas.training.recording import RecordedHarvest
from coulombgas.training.torch_stats import MODE_FIELDS, PAIR_FIELDS


def _harvest(ev, **params):
    models, records, n = ev.shape
    return Harvest(model="w", eigenvalues=ev, singular_values=np.sqrt(np.abs(ev)), loss=np.zeros((models, records)),
                   steps=np.arange(records, dtype=np.int64), params={"shape": [n, n], **params}, seed={},
                   model_ids=np.arange(models))


def test_gap_ratio_mean_of_goe_spectra_is_atas_value():
    """⟨r⟩ of GOE spectra: 0.5307 (Atas et al., PRL 110, 084101 (2013), large-N value; surmise 0.5359)."""
    rng = np.random.default_rng(0)
    n, models = 200, 10
    A = rng.standard_normal((models, n, n))
    ev = np.linalg.eigvalsh((A + np.swapaxes(A, 1, 2)) / 2)[:, None]  # one record per model
    row = analyze(_harvest(ev), table="plain").rows[0]
    assert abs(row["r_mean"] - 0.5307) <= 3 * row["r_err"]
    assert row["r_err"] == pytest.approx(np.std(cg.spectra.gap_ratios(ev[:, 0]), ddof=1) / math.sqrt(models * 198))
    assert row["mp_ratio_init"] == NOT_AVAILABLE or isinstance(row["mp_ratio_init"], float)


def _ou_recording(b=(-1.0, -1.0), centres=(1.0, 6.0), g2=0.5, lr=0.1, batch_size=8, updates=200_000, every=20,
                  seed=1):
    """Two well-separated modes, each an exact AR(1) SGD map x ← x + α b (x − c) + √(2α²g²/|B|) ξ."""
    rng = np.random.default_rng(seed)
    b, c = np.asarray(b), np.asarray(centres)
    x = c.copy()
    amp = math.sqrt(2 * lr**2 * g2 / batch_size)
    recs = []
    for t in range(updates + 1):
        if t % every == 0:
            recs.append(x.copy())
        x = x + lr * b * (x - c) + amp * rng.standard_normal(2)
    ev = np.array(recs)[None]
    R = ev.shape[1]
    stats = {k: np.zeros((1, R, 2)) for k in MODE_FIELDS}
    stats.update({k: np.zeros((1, R, 2, 2)) for k in PAIR_FIELDS})
    stats["drift"] = b * (ev - c)
    stats["g2"][:] = g2
    stats["variance"][:] = g2  # GOE-like: C_ij = C_ii/2 = g²
    stats["variance"][..., [0, 1], [0, 1]] = 2 * g2
    return RecordedHarvest(model="w", eigenvalues=ev, singular_values=np.sqrt(np.abs(ev)), loss=np.zeros((1, R)),
                           steps=np.arange(R, dtype=np.int64) * every,
                           params={"shape": [2, 2], "lr": lr, "batch_size": batch_size}, seed={},
                           model_ids=np.zeros(1, dtype=np.int64), stats=stats, stats_samples=64)


def test_effective_temperature_of_an_exact_ar1_map():
    """Var x = T g²/|b| / (1 − α|b|/2) for the SGD map: T_eff/T = 1/(1 − α|b|/2) = 1.0526 at α|b| = 0.1."""
    h = _ou_recording()
    table = analyze(h, table="plain", gas=False)
    row, det = table.rows[0], table.details["w"]
    expected = 1.0 / (1.0 - 0.1 / 2)
    # Relative error of a variance from its effective sample size: 2·err(sd)/sd.
    rel = 2 * det["jitter_err"] / det["jitter"]
    assert np.all(np.abs(det["T_eff"] / row["T"] - expected) <= 3 * rel * expected)
    np.testing.assert_allclose(det["slope"], -1.0, rtol=1e-12)
    assert row["confined"] == 2 and row["unconfined"] == [] and row["drift_noise_ratio"] > 0
    assert row["gas_verdict"] is None
    assert row["step"] == 200_000 and row["T"] == pytest.approx(0.1 / 8)


@pytest.mark.slow
def test_stationary_gas_of_an_exact_ar1_map_matches_its_spread():
    """The gas built from the measured drift and noise predicts the recorded spread (up to the 5 % step factor)."""
    row = analyze(_ou_recording(lr=0.02), table="plain", gas_samples=4000).rows[0]
    assert row["gas_verdict"] == "agrees", row


def test_unconfined_modes_are_reported_not_raised():
    h = _ou_recording(b=(-1.0, 0.002), updates=20_000)
    row = analyze(h, table="plain").rows[0]
    assert row["unconfined"] == [1] and row["confined"] == 1
    assert row["gas_verdict"] == "not built" and "does not confine modes [1]" in row["note"]


def test_plain_harvest_row_says_what_is_missing_and_tables():
    rng = np.random.default_rng(2)
    h = _harvest(np.sort(rng.random((1, 10, 5)), axis=-1), lr=0.1, batch_size=4)
    df = analyze(h)
    pd = pytest.importorskip("pandas")
    assert isinstance(df, pd.DataFrame) and list(df.columns) == list(COLUMNS)
    assert "no gradient statistics" in df.loc[0, "note"] and df.loc[0, "T_eff"] is None
    plain = analyze(h, table="plain")
    assert isinstance(plain, Table) and len(plain) == 1 and "matrix" in str(plain)
    late = h.late(0.5)[0]  # records 5..9; jitter: std about each mode's least-squares line in time, ddof 2
    t = np.arange(5, 10, dtype=float)
    resid = [late[:, i] - np.polyval(np.polyfit(t, late[:, i], 1), t) for i in range(5)]
    assert plain["jitter"][0] == pytest.approx(np.median([np.sqrt((r**2).sum() / 3) for r in resid]), rel=1e-10)
    assert plain.to_markdown().startswith("| matrix |")


def test_bad_arguments_name_themselves(tmp_path):
    h = _harvest(np.ones((1, 3, 2)))
    with pytest.raises(TypeError, match="source"):
        analyze(42)
    with pytest.raises(ValueError, match="names"):
        analyze(h, names="nope")
    with pytest.raises(ValueError, match="late"):
        analyze(h, late=0.0)
    with pytest.raises(ValueError, match="does not exist"):
        analyze(tmp_path / "missing.h5")
    (tmp_path / "junk.npz").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="neither"):
        analyze(tmp_path / "junk.npz")


def test_nan_weights_mid_training_give_a_row_not_a_traceback(tmp_path):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    out = tmp_path / "run.h5"
    rec = cg.training.TorchRecorder(net, every=2, lr=0.1, batch_size=8, loss_fn=F.mse_loss, out=out)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.warns(RuntimeWarning, match="non-finite"):
        for s in range(12):
            x, y = torch.randn(8, 4), torch.randn(8, 2)
            rec.batch(x, y)
            loss = F.mse_loss(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if s == 6:
                with torch.no_grad():
                    net[0].weight[0, 0] = float("nan")
            rec.step(loss)
    rec.detach()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = analyze(out, table="plain", gas=False)
    assert len(table) == 2
    for row in table.rows:
        assert "diverged at step 8" in row["note"] and row["records"] == 4


def test_random_matrix_columns_of_pure_and_spiked_wishart():
    """W (200×100) i.i.d. N(0, σ²): MP ratio 1/2 and σ recovered, no outlier; one strong spike is flagged."""
    rng = np.random.default_rng(5)
    m, k, sigma = 200, 100, 0.3
    W = sigma * rng.standard_normal((m, k))
    spiked = W + 3.0 * sigma * np.sqrt(m) * np.outer(rng.standard_normal(m) / np.sqrt(m), np.eye(k)[0])
    ev = np.stack([np.linalg.eigvalsh(W.T @ W), np.linalg.eigvalsh(spiked.T @ spiked)])[None]
    h = _harvest(ev)
    h.params["shape"] = [m, k]
    row = analyze(h, table="plain").rows[0]
    assert row["mp_ratio_init"] == pytest.approx(0.5, abs=0.1)
    assert row["mp_sigma_init"] == pytest.approx(sigma, rel=0.05)
    assert row["outliers"] == 1 and row["outlier_tw_p"][0] < 1e-6
    assert row["mp_sigma_now"] == pytest.approx(sigma, rel=0.05)
    assert isinstance(row["delta3"], float) and isinstance(row["sff"], float)
    assert 0.5 < row["beta_fit"] < 1.6  # GOE-like level repulsion of the Wishart bulk (β = 1), one matrix


def test_a_record_interval_longer_than_the_run_is_refused_or_reported():
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(6, 5)
    with pytest.raises(ValueError, match="`every` must be <= the run's `steps`"):
        cg.training.TorchRecorder(net, every=100, steps=10)
    rec = cg.training.TorchRecorder(net, every=100, lr=0.1, batch_size=4)  # steps unknown: only step 0 recorded
    row = analyze(rec, table="plain").rows[0]
    assert row["records"] == 1 and "only 1 records" in row["note"] and "no gradient statistics" in row["note"]
    assert row["jitter"] is None and row["T_eff"] is None
