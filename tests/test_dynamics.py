"""Dyson Brownian motion: stationary laws, ordering, determinism, streaming, bad input.

Stationary checks pool records taken several relaxation times apart and
thinned so that they are close to independent; KS tests run at α = 1e-3
(false alarm 0.1% per test).
"""

import math

import numba
import numpy as np
import pytest
from reference import gaussian_ensemble_eigenvalues, quartic_derivative, quartic_value
from stats import assert_ks, assert_two_sample

import coulombgas as cg
from coulombgas import potentials as P
from coulombgas import theory


def _stationary(gas, replicas, t_end, dt, burn, seed, **kw):
    traj = cg.simulate(gas, t_end, dt, replicas=replicas, record_every=int(round(1.0 / dt)), seed=seed, **kw)
    return traj, traj.x[:, burn:, :]


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_small_n_marginals_match_gaussian_ensembles(beta):
    # Records 1 time unit apart; the slowest mode of the GβE Dyson process relaxes as e^{-t}.
    gas = cg.CoulombGas.gaussian(5, beta=beta)
    _, late = _stationary(gas, 400, 12.0, 2e-3, 6, seed=11)
    ref = gaussian_ensemble_eigenvalues(5, 20000, np.random.default_rng(3), beta)
    for i in range(5):
        assert_two_sample(late[..., i].ravel(), ref[:, i])
    assert np.all(np.diff(late, axis=-1) > 0)


def test_two_modes_follow_exact_two_mode_laws():
    s1, s2 = 0.6, 1.7
    gas = cg.CoulombGas.dyson(P.Quadratic(0.0, [s1, s2]), 2, beta=1.0)
    _, late = _stationary(gas, 1000, 16.0, 2e-3, 6, seed=5)
    spacing = np.diff(late, axis=-1).ravel()
    assert_ks(spacing, theory.two_mode_spacing(s1, s2).cdf)
    # Non-crossing dynamics keeps mode 1 below mode 2; the papers' ρ(x) integrates
    # both orderings. x → −x maps one sector onto the other with equal weight, so
    # ρ(x) = ½[ρ_<(x) + ρ_<(−x)]: pool the samples with their mirror image.
    sign = np.random.default_rng(0).choice([-1.0, 1.0], size=late.shape[:-1] + (1,))
    assert_ks((sign * late).ravel(), theory.two_mode_density(s1, s2).cdf)
    # ... and the one-sector density is genuinely different (the test has power).
    with pytest.raises(AssertionError):
        assert_ks(late.ravel(), theory.two_mode_density(s1, s2).cdf)


def test_sgd_and_dyson_conventions_share_the_stationary_law():
    # Parameters chosen so that the Dyson-form potential is O(1) (curvature 2.5).
    sgd = cg.CoulombGas.from_sgd(P.Quadratic(1.0, 4.0), 2.0, lr=0.1, batch_size=16, n=4)
    dyson, factor = sgd.to_dyson()
    x = np.sort(np.random.default_rng(0).normal(1.0, 1.0, size=(20, 4)), axis=-1)
    # Same unnormalised log-density up to a constant (here exactly equal).
    np.testing.assert_allclose(sgd.log_density(x), dyson.log_density(x), rtol=1e-12)
    # Same stationary samples: the SGD gas in steps, the Dyson gas in rescaled time.
    tau = 1.0 / factor  # SGD steps per Dyson time unit
    a = cg.simulate(sgd, 8 * tau, tau / 200, replicas=400, record_every=200, seed=1).x[:, 2:, :]
    b = cg.simulate(dyson, 8.0, 1 / 200, replicas=400, record_every=200, seed=2).x[:, 2:, :]
    for i in range(4):
        assert_two_sample(a[..., i].ravel(), b[..., i].ravel())


def test_linear_scaling_rule_same_stationary_law():
    # (α, |B|) → (kα, k|B|) with time in SGD steps: the stationary law depends on α/|B| only.
    pot = P.Quadratic(0.0, [0.5, 0.7, 1.1])
    g = [0.6, 1.0, 1.3]  # unequal g: not even a gradient flow, the rule still holds
    one = cg.CoulombGas.from_sgd(pot, g, lr=0.05, batch_size=8)
    two = cg.CoulombGas.from_sgd(pot, g, lr=0.10, batch_size=16)
    # Relaxation takes O(1/α) steps: simulate 3× more steps at the smaller α.
    a = cg.simulate(one, 2400.0, 1.0, replicas=400, record_every=200, seed=3).x[:, 4:, :]
    b = cg.simulate(two, 1200.0, 0.5, replicas=400, record_every=100, seed=4).x[:, 4:, :]
    for i in range(3):
        assert_two_sample(a[..., i].ravel(), b[..., i].ravel())


@pytest.mark.parametrize("scheme", ["auto", "adaptive-heun", "imex-heun"])
def test_no_crossing_at_aggressive_dt(scheme):
    # 1000 replicas × 1000 nominal steps of dt = 0.05 (typical gap² ≈ 0.05 here): > 1e6 replica-steps.
    gas = cg.CoulombGas.gaussian(8, beta=1.0)
    traj = cg.simulate(gas, 50.0, 0.05, replicas=1000, record_every=1, seed=7, scheme=scheme)
    assert traj.diagnostics["steps"] * traj.replicas >= 1_000_000
    assert np.all(np.diff(traj.x, axis=-1) > 0)
    assert traj.diagnostics["smallest_gap"] > 0
    d = traj.diagnostics
    if cg.dynamics.SCHEMES[scheme].adaptive:
        assert d["rejected"] > 0  # the step control was exercised
    else:
        # The implicit step never rejects: one accepted step per nominal step, each a Newton solve.
        assert d["rejected"] == 0 and d["accepted"] == d["implicit_steps"] == d["steps"] * traj.replicas
        assert d["newton_iterations"] >= d["accepted"]


def test_plain_euler_maruyama_reports_crossing():
    gas = cg.CoulombGas.gaussian(8, beta=1.0)
    with pytest.raises(FloatingPointError, match="crossed"):
        cg.simulate(gas, 50.0, 0.05, replicas=200, scheme="euler-maruyama", seed=7)


def test_same_seed_same_bits_for_any_thread_count():
    gas = cg.CoulombGas.gaussian(6, beta=1.0)
    before = numba.get_num_threads()
    try:
        runs = []
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            runs.append(cg.simulate(gas, 2.0, 0.01, replicas=16, seed=123).x)
    finally:
        numba.set_num_threads(before)
    assert all(np.array_equal(runs[0], r) for r in runs)
    other = cg.simulate(gas, 2.0, 0.01, replicas=16, seed=124).x
    assert not np.array_equal(runs[0], other)


@pytest.mark.slow
def test_large_n_single_replica_follows_semicircle():
    n = 256
    gas = cg.CoulombGas.gaussian(n, beta=2.0)
    # Start squeezed to 70% of the equilibrium width; the width relaxes as e^{-t}.
    x0 = 0.7 * cg.dynamics.default_x0(gas)
    traj = cg.simulate(gas, 3.0, 0.05, x0=x0, replicas=1, record_every=20, seed=9)
    final = traj.final()[0]
    assert traj.replicas == 1 and n >= cg.dynamics._PARALLEL_FORCE_N  # the particle-parallel path
    # Rigidity: the eigenvalue counting function of the GβE deviates from n·F by O(log n).
    law = theory.semicircle(math.sqrt(2 * n))
    assert np.max(np.abs(np.arange(1, n + 1) - 0.5 - n * law.cdf(final))) < 3.0


def test_trajectory_save_load_round_trip(tmp_path):
    traj = cg.simulate(cg.CoulombGas.gaussian(3), 0.5, 0.05, replicas=2, seed=1)
    traj.save(tmp_path / "t.npz")
    back = cg.Trajectory.load(tmp_path / "t.npz")
    assert np.array_equal(back.x, traj.x) and np.array_equal(back.t, traj.t)
    assert back.gas == traj.gas and back.seed == traj.seed and back.diagnostics == traj.diagnostics


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    from coulombgas import io

    gas = cg.CoulombGas.gaussian(4, beta=1.0)
    kw = dict(replicas=3, record_every=5, seed=42, chunk_records=4)
    full = cg.simulate(gas, 3.0, 0.01, **kw)

    path = tmp_path / "run.h5"
    real_append = io.TrajectoryStore.append
    calls = {"n": 0}

    def interrupt_after_two(self, *a):
        real_append(self, *a)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(io.TrajectoryStore, "append", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        cg.simulate(gas, 3.0, 0.01, out=path, **kw)
    monkeypatch.setattr(io.TrajectoryStore, "append", real_append)
    partial = cg.Trajectory.load(path)
    assert partial.x.shape[1] == 1 + 2 * 4 and not partial.diagnostics["complete"]
    np.testing.assert_array_equal(partial.x, full.x[:, : partial.x.shape[1]])

    resumed = cg.simulate(gas, 3.0, 0.01, out=path, resume=True, **kw)
    np.testing.assert_array_equal(resumed.x, full.x)
    assert cg.Trajectory.load(path).diagnostics["complete"]
    with pytest.raises(ValueError, match="exists"):
        cg.simulate(gas, 3.0, 0.01, out=path, **kw)
    with pytest.raises(ValueError, match="other parameters"):
        cg.simulate(gas, 3.0, 0.02, out=path, resume=True, **{**kw})


@numba.njit
def _repelling(x, i):
    return -0.5 * x * x


@numba.njit
def _repelling_d(x, i):
    return -x


def test_custom_potential_runs_and_matches_builtin():
    custom = cg.CoulombGas.dyson(P.Custom(quartic_value, quartic_derivative), 3, beta=1.0)
    builtin = cg.CoulombGas.dyson(P.Quartic(t=1.0, g=1.0), 3, beta=1.0)
    x0 = np.array([-1.0, 0.0, 1.0])
    a = cg.simulate(custom, 1.0, 0.01, x0=x0, replicas=4, seed=2).x
    b = cg.simulate(builtin, 1.0, 0.01, x0=x0, replicas=4, seed=2).x
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_non_confining_potential_stops_with_clear_error():
    gas = cg.CoulombGas.dyson(P.Custom(_repelling, _repelling_d), 3, beta=1.0)
    with pytest.raises(FloatingPointError, match="escaped to infinity"):
        cg.simulate(gas, 2000.0, 0.1, x0=[-1.0, 0.0, 1.0], replicas=2, seed=1)


def test_laguerre_gas_stays_positive_and_ordered():
    gas = cg.CoulombGas.dyson(P.Laguerre(a=0.5, scale=2.0), 5, beta=1.0)
    traj = cg.simulate(gas, 20.0, 0.05, replicas=200, record_every=20, seed=4)
    assert np.all(traj.x > 0) and np.all(np.diff(traj.x, axis=-1) > 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(t_end=-1.0), "t_end"),
        (dict(dt=0.0), "dt"),
        (dict(dt=-0.1), "dt"),
        (dict(replicas=0), "replicas"),
        (dict(record_every=0), "record_every"),
        (dict(scheme="rk4"), "scheme"),
        (dict(x0=[0.0, 1.0]), "x0"),
        (dict(x0=[0.0, 1.0, np.nan]), "x0"),
        (dict(x0=[1.0, 0.0, 2.0]), "x0"),
        (dict(x0=[0.0, 0.0, 2.0]), "x0"),
        (dict(max_gap_factor=1.0), "max_gap_factor"),
        (dict(resume=True), "resume"),
    ],
)
def test_bad_simulate_arguments(kwargs, match):
    args = dict(t_end=1.0, dt=0.01)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cg.simulate(cg.CoulombGas.gaussian(3), args.pop("t_end"), args.pop("dt"), **args)


def test_bad_gas_arguments():
    with pytest.raises(ValueError, match="n"):
        cg.CoulombGas.gaussian(1)
    with pytest.raises(ValueError, match="beta"):
        cg.CoulombGas.gaussian(3, beta=0.0)
    with pytest.raises(ValueError, match="g"):
        cg.CoulombGas.from_sgd(P.Quadratic(), [1.0, -1.0], lr=0.1, batch_size=4)
    with pytest.raises(ValueError, match="lr"):
        cg.CoulombGas.from_sgd(P.Quadratic(), [1.0, 1.0], lr=0.0, batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        cg.CoulombGas.from_sgd(P.Quadratic(), [1.0, 1.0], lr=0.1, batch_size=-4)
    with pytest.raises(ValueError, match="width"):
        P.Quadratic(0.0, 0.0)
    with pytest.raises(ValueError, match="coeffs"):
        P.Polynomial([0.0, 0.0, 0.0, 1.0])  # odd degree: not confining
    with pytest.raises(ValueError, match="coeffs"):
        P.Polynomial([0.0, 0.0, -1.0])  # negative leading coefficient
    with pytest.raises(TypeError, match="value_fn"):
        P.Custom(lambda x, i: x, quartic_derivative)
    with pytest.raises(TypeError, match="potential"):
        cg.CoulombGas(n=3, beta=1.0, potential=lambda x: x)
    with pytest.raises(TypeError, match="gas"):
        cg.simulate("gas", 1.0, 0.1)


def test_stationary_density_is_exact_only_for_equal_g():
    pot = P.Quadratic()
    assert cg.CoulombGas.from_sgd(pot, 0.5, lr=0.1, batch_size=4, n=3).stationary_is_exact
    assert not cg.CoulombGas.from_sgd(pot, [0.5, 0.6, 0.7], lr=0.1, batch_size=4).stationary_is_exact
    assert cg.CoulombGas.gaussian(4, beta=2.0).stationary_is_exact


def test_drift_matches_sde_definition():
    gas = cg.CoulombGas.from_sgd(P.Quadratic(0.3, [0.5, 1.0, 2.0]), [0.5, 1.0, 1.5], lr=0.2, batch_size=8)
    x = np.array([-0.4, 0.1, 0.9])
    g2 = np.array([0.25, 1.0, 2.25])
    k = -(x - 0.3) / np.array([0.25, 1.0, 4.0])
    coul = np.array([sum(g2[j] / (x[i] - x[j]) for j in range(3) if j != i) for i in range(3)])
    np.testing.assert_allclose(gas.drift(x), 0.2 * k + 0.2**2 / 8 * coul, rtol=1e-13)
    np.testing.assert_allclose(gas.noise, math.sqrt(2) * 0.2 * np.array([0.5, 1.0, 1.5]) / math.sqrt(8))
    assert gas.temperature == pytest.approx(0.2 / 8)


@pytest.mark.slow
def test_weak_order(slow_scale):
    # Exact: for the GβE Dyson gas m2(t) = E Σλ² obeys dm2/dt = −2 m2 + n(n−1) + 2n/β from any start.
    # Each scheme is measured on a dt ladder inside its asymptotic range (measured once at
    # 2e5 replicas: Euler errors 0.24, 0.20, 0.14, 0.084, 0.054, 0.026 for dt = 2^-2 … 2^-7 are
    # pre-asymptotic above dt ≈ 0.03; Heun −0.073, −0.041, −0.021, −0.009 for dt = 2^-2 … 2^-5).
    n, beta, t_end = 3, 2.0, 0.5
    x0 = np.array([-0.5, 0.0, 0.5])
    # At least 1e5 replicas so that the smallest bias is > 4 standard errors (4e5 for the
    # IMEX ladders, whose smallest biases are 0.016-0.019).
    replicas = max(100_000, int(200_000 * slow_scale))
    ladders = {"adaptive-heun": [0.25, 0.125, 0.0625], "adaptive-euler": [0.03125, 0.015625, 0.0078125],
               # IMEX (measured at 4e5 replicas): imex-euler +0.049, +0.028, +0.016 here; imex-heun is
               # measured at β = 1 (−0.072, −0.038, −0.019), where its bias is not yet crossing over
               # to the higher order it approaches at β = 2 (−0.017, −0.0061, −0.0019 at 2^-5 … 2^-7).
               "imex-euler": [0.0625, 0.03125, 0.015625], "imex-heun": [0.03125, 0.015625, 0.0078125]}
    at_beta_1 = {"imex-heun"}

    def bias(name, dt, seed):
        reps = max(400_000, 2 * replicas) if name.startswith("imex") else replicas
        b = 1.0 if name in at_beta_1 else beta
        target = n * (n - 1) / 2 + n / b
        target += (np.sum(x0**2) - target) * math.exp(-2 * t_end)
        final = cg.simulate(cg.CoulombGas.gaussian(n, beta=b), t_end, dt, x0=x0, replicas=reps,
                            record_every=int(round(t_end / dt)), scheme=name, seed=seed).final()
        m2 = np.sum(final**2, axis=-1)
        return m2.mean() - target, m2.std() / math.sqrt(reps)

    for name, dts in ladders.items():
        rows = np.array([bias(name, dt, 100 + k) for k, dt in enumerate(dts)])
        err, se = np.abs(rows[:, 0]), rows[:, 1]
        assert np.all(err > 3 * se), "bias must be resolved above the statistical error"
        # Weighted log-log fit; σ(log|e|) ≈ se/|e|.
        slope = np.polyfit(np.log(dts), np.log(err), 1, w=err / se)[0]
        sigma = np.sqrt(np.sum((se / err) ** 2)) / np.log(dts[0] / dts[-1])
        declared = cg.dynamics.SCHEMES[name].weak_order
        assert abs(slope - declared) < 3 * sigma + 0.25, (name, slope, sigma)
    # At the same dt, Heun's bias is several times smaller than Euler's.
    heun, euler = bias("adaptive-heun", 0.0625, 7), bias("adaptive-euler", 0.0625, 8)
    assert abs(euler[0]) - abs(heun[0]) > 4 * math.hypot(euler[1], heun[1])
