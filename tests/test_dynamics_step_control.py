"""The IMEX integrators (implicit nearest-neighbour step), gap laws, records and bad input.

The implicit step is checked against its defining equation y = z + h I(y) and
against a slow independent minimiser; the drift split against the gas's own
NumPy drift. Statistical checks compare with exact β-Hermite samples
(Dumitriu–Edelman tridiagonal model) at stated α (KS at 1e-3, z at 4).
"""

import math

import numba
import numpy as np
import pytest
import scipy.stats
from stats import assert_ks, assert_two_sample, assert_z

import coulombgas as cg
from coulombgas import _implicit as imp
from coulombgas import _sde
from coulombgas import dynamics as dyn
from coulombgas import potentials as P
from coulombgas import theory


def _prox(z, start, h, sig, lower=-math.inf, omega=0.0):
    n = z.size
    y = np.empty(n)
    work = [np.empty(n) for _ in range(6)]
    it = imp._prox(z, start, h, sig, float(np.min(sig)), lower, omega, y, *work)
    return y, it


def _implicit_force(y, sig, lower=-math.inf, omega=0.0):
    """I_i(y) = σ_{i−1}/(y_i − y_{i−1}) − σ_i/(y_{i+1} − y_i) [+ ω/(y_0 − L)], written out directly."""
    n = y.size
    out = np.zeros(n)
    for i in range(n):
        if i > 0:
            out[i] += sig[i - 1] / (y[i] - y[i - 1])
        if i < n - 1:
            out[i] -= sig[i] / (y[i + 1] - y[i])
    if omega > 0:
        out[0] += omega / (y[0] - lower)
    return out


@pytest.mark.parametrize("h", [1e-3, 0.05, 2.0])
@pytest.mark.parametrize("wall", [False, True])
def test_prox_solves_the_implicit_equation(h, wall):
    rng = np.random.default_rng(1)
    n = 9
    x = np.sort(rng.uniform(0.5, 4.0, n))
    z = x + rng.normal(0.0, 0.6, n)  # crosses: not ordered
    z[0] = 0.2 if wall else z[0]
    sig = rng.uniform(0.3, 1.5, n - 1)  # unequal strengths
    lower, omega = (0.0, 0.7) if wall else (-math.inf, 0.0)
    y, it = _prox(z, x, h, sig, lower, omega)
    assert it > 0 and np.all(np.diff(y) > 0) and (not wall or y[0] > 0)
    # The defining equation, to Newton's stopping tolerance (|y − y*| ≲ 1e-10 √(σh)) plus roundoff.
    resid = y - z - h * _implicit_force(y, sig, lower, omega)
    assert np.max(np.abs(resid)) < 1e-9 * math.sqrt(h * max(sig.max(), omega)) + 1e-12 * (1 + np.max(np.abs(y)))
    # An independent minimiser (BFGS in log-gap variables) finds the same point.
    np.testing.assert_allclose(y, imp.prox_reference(z, h, sig, lower, omega), atol=1e-6)


# (Much smaller h with O(1) crossings would ask for gaps below the floating-point spacing of y.)
@pytest.mark.parametrize("h", [1e-8, 1e-5, 1.0, 1e4])
def test_prox_is_ordered_for_any_step_and_any_input(h):
    n = 50
    x = np.linspace(-1.0, 1.0, n)
    sig = np.ones(n - 1)
    for z in (x[::-1].copy(), np.zeros(n), x + 3.0 * np.sin(np.arange(n))):
        y, it = _prox(z, x, h, sig)
        assert it > 0 and np.all(np.diff(y) > 0)
        # Momentum conservation: the barrier's gradient sums to zero, so Σy = Σz.
        assert abs(np.sum(y) - np.sum(z)) < 1e-9 * (np.sum(np.abs(z)) + n)


@pytest.mark.parametrize("potential", [P.Quadratic(0.3, [0.5, 1.0, 2.0, 0.8]), P.Laguerre(a=0.5, scale=2.0)])
def test_explicit_and_implicit_parts_add_up_to_the_drift(potential):
    # Unequal weights: the nearest-neighbour force is not a gradient; the split must still be exact.
    gas = cg.CoulombGas.from_sgd(potential, [0.5, 1.0, 1.5, 0.7], lr=0.2, batch_size=8)
    kind, params, lower, a, c, w, s = gas.kernel_arrays()
    x = np.array([0.4, 0.9, 1.0, 2.3])
    sig = 0.5 * c * (w[:-1] + w[1:])
    omega = a * params[0, 2] if kind == P.LAGUERRE else 0.0
    b = np.empty(4)
    _sde._drift_into(x, kind, params, a, c, w, None, None, b)
    imp._remove_implicit(x, b, sig, lower, omega)
    np.testing.assert_allclose(b + _implicit_force(x, sig, lower, omega), gas.drift(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scheme", ["imex-euler", "imex-heun"])
@pytest.mark.parametrize("n, replicas", [(6, 16), (300, 1), (1200, 1)])
def test_imex_same_bits_for_one_and_two_threads(scheme, n, replicas):
    # (6, 16): prange over replicas; (300, 1): forces parallel over particles; (1200, 1): fast multipole.
    gas = cg.CoulombGas.gaussian(n, beta=1.0)
    x0 = np.sort(np.random.default_rng(0).normal(0.0, math.sqrt(n), n))
    before = numba.get_num_threads()
    try:
        runs = []
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            runs.append(cg.simulate(gas, 20 * 1e-3 / n, 1e-3 / n, x0=x0, replicas=replicas, scheme=scheme,
                                    seed=5).x)
    finally:
        numba.set_num_threads(before)
    assert all(r.tobytes() == runs[0].tobytes() for r in runs)


@pytest.mark.parametrize("scheme", ["imex-euler", "imex-heun"])
def test_imex_with_custom_potential_matches_builtin(scheme):
    from reference import quartic_derivative, quartic_value

    custom = cg.CoulombGas.dyson(P.Custom(quartic_value, quartic_derivative), 3, beta=1.0)
    builtin = cg.CoulombGas.dyson(P.Quartic(t=1.0, g=1.0), 3, beta=1.0)
    x0 = np.array([-1.0, 0.0, 1.0])
    a = cg.simulate(custom, 1.0, 0.01, x0=x0, replicas=4, seed=2, scheme=scheme).x
    b = cg.simulate(builtin, 1.0, 0.01, x0=x0, replicas=4, seed=2, scheme=scheme).x
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _bulk_unfolded_gaps(x, n):
    """Bulk (middle half) gaps in units of the local mean spacing, via the semicircle's n·F."""
    u = n * theory.semicircle(math.sqrt(2 * n)).cdf(x)
    return np.diff(u, axis=-1)[..., n // 4: 3 * n // 4 - 1].ravel()


# dt/d² (d ≈ 0.35 the bulk spacing): the IMEX step does not resolve pairs closer than ~√dt, and its
# small-gap tail carries an O(dt/d²) bias — measured P(s < 0.25) = 0.069 (imex-euler) and 0.066
# (imex-heun) against the exact 0.047 ± 0.003 at dt = 2e-3 (dt/d² = 0.016), 0.052 at dt = 5e-4
# (within 2σ). adaptive-heun resolves every gap (at ~27 sub-steps per nominal step here): 0.048
# at dt = 2e-3. So the snapshot law is right for the old scheme too: its 1e-8 was a path minimum.
@pytest.mark.parametrize("scheme, dt", [("imex-euler", 5e-4), ("imex-heun", 5e-4), ("adaptive-heun", 2e-3)])
def test_snapshot_gaps_keep_the_stationary_law_and_its_small_gap_tail(scheme, dt):
    # Start from exact GOE (β = 1) samples, run 4 local relaxation times (gap² ≈ 0.12 at n = 40)
    # and compare the fixed-time gap law with fresh exact samples: the whole law (KS) and the
    # small-gap tail P(s < 0.25) ≈ (π²/12)·0.25² ≈ 5% (two-proportion z-test at 4σ).
    n, replicas, beta = 40, 300, 1.0
    gas = cg.CoulombGas.gaussian(n, beta=beta)
    start = cg.sample(gas, replicas, method="tridiagonal", seed=1).x
    ref = cg.sample(gas, 6 * replicas, method="tridiagonal", seed=2).x
    traj = cg.simulate(gas, 0.5, dt, x0=start, replicas=replicas, record_every=int(round(0.5 / dt)),
                       scheme=scheme, seed=3)
    sim = _bulk_unfolded_gaps(traj.final(), n)
    exact = _bulk_unfolded_gaps(ref, n)
    assert_two_sample(sim, exact)
    eps = 0.25
    p_sim, p_ref = np.mean(sim < eps), np.mean(exact < eps)
    pooled = (p_sim * sim.size + p_ref * exact.size) / (sim.size + exact.size)
    assert_z(p_sim, p_ref, math.sqrt(pooled * (1 - pooled) * (1 / sim.size + 1 / exact.size)))
    d = traj.diagnostics
    # The path minimum (every accepted sub-step) is never above the smallest recorded (snapshot) gap.
    assert 0 < d["smallest_gap"] <= d["smallest_recorded_gap"]


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_exact_pair_step_reproduces_the_bessel_transition_from_a_tiny_gap(beta):
    # Two particles of the GβE gas, V = x²/2: the gap r obeys dr = (2/r − r) dt + σ_r dB,
    # σ_r² = 4/β, so X = r² is a CIR process dX = (δσ_r² − 2X) dt + 2σ_r √X dB with δ = 1 + β,
    # whose exact transition is X_h = c_h χ'²_δ(X_0 e^{−2h}/c_h), c_h = σ_r²(1 − e^{−2h})/2
    # (Revuz & Yor ch. XI; Cox–Ingersoll–Ross). From r_0 = 1e-4 ≪ √h the implicit step alone
    # gets this badly wrong (its gap is ≈ √(2hσ) whatever the noise); the exact pair step
    # (Lie splitting of the smooth −r drift) is within O(h) = 1e-3 of it, far below the KS
    # resolution at 20,000 replicas (~0.01).
    h, r0, replicas = 1e-3, 1e-4, 20_000
    gas = cg.CoulombGas.gaussian(2, beta=beta)
    traj = cg.simulate(gas, h, h, x0=np.array([-r0 / 2, r0 / 2]), replicas=replicas, seed=17)
    x_h = np.diff(traj.final(), axis=-1).ravel() ** 2
    var = 4.0 / beta

    def law(delta):
        c_h = var * (1.0 - math.exp(-2.0 * h)) / 2.0
        return lambda x: scipy.stats.ncx2.cdf(x / c_h, delta, r0**2 * math.exp(-2.0 * h) / c_h)

    assert_ks(x_h, law(1.0 + beta))
    # The test has power: the law of the other β (Bessel dimension off by 1) is rejected.
    with pytest.raises(AssertionError):
        assert_ks(x_h, law(1.0 + (3.0 - beta)))


def test_small_gap_tail_of_the_default_scheme_matches_the_exact_goe_law():
    # Issue 18: at n = 2,000, dt = 1e-6 the implicit step alone put 0 / 52 / 903 recorded gaps below
    # s = 0.003 / 0.01 / 0.03 against ≈ 7 / 82 / 740 expected. Same dt/d² here (d² ∝ 1/n): n = 200,
    # dt = 1e-5, 400 replicas from exact GOE samples, 200 records each (≈ 7.9e6 bulk gaps). Gaps
    # this small live ≲ 1 step ((s d)²/σ_r² ≤ dt), so the counts are Poisson with mean
    # N (π²/12) s² (the exact GOE small-s law; its next term is O(s⁴), < 0.1% here); z-test at 4σ.
    # Measured with the exact pair step: 63 / 660 / 5868 against 58.6 / 651.4 / 5862.5 (the implicit
    # step alone: 0 / 407 / 8063).
    n, replicas, steps, dt = 200, 400, 200, 1e-5
    gas = cg.CoulombGas.gaussian(n, beta=1.0)
    start = cg.sample(gas, replicas, method="tridiagonal", seed=1).x
    traj = cg.simulate(gas, steps * dt, dt, x0=start, replicas=replicas, seed=3)
    assert traj.scheme == "imex-euler"
    gaps = _bulk_unfolded_gaps(traj.x[:, 1:, :], n)
    for eps in (0.003, 0.01, 0.03):
        expected = (math.pi**2 / 12) * eps**2 * gaps.size
        assert_z(np.sum(gaps < eps), expected, math.sqrt(expected))
    # The whole spacing law of the final snapshot (one per replica: independent) against exact samples.
    ref = cg.sample(gas, 2 * replicas, method="tridiagonal", seed=2).x
    assert_two_sample(_bulk_unfolded_gaps(traj.final(), n), _bulk_unfolded_gaps(ref, n))


def test_record_every_that_does_not_divide_the_steps_still_ends_at_t_end():
    gas = cg.CoulombGas.gaussian(3)
    every = cg.simulate(gas, 1.0, 0.3, replicas=2, record_every=1, seed=4)  # 4 steps of 0.25
    assert every.t[-1] == 1.0 and np.allclose(every.t, [0, 0.25, 0.5, 0.75, 1.0])
    thin = cg.simulate(gas, 1.0, 0.3, replicas=2, record_every=3, seed=4)
    np.testing.assert_allclose(thin.t, [0.0, 0.75, 1.0])  # the last interval is shorter
    np.testing.assert_array_equal(thin.x, every.x[:, [0, 3, 4]])
    assert thin.diagnostics["steps"] == 4


def test_record_every_beyond_the_steps_records_the_final_state():
    gas = cg.CoulombGas.gaussian(3)
    every = cg.simulate(gas, 0.1, 0.01, replicas=2, record_every=1, seed=6)
    sparse = cg.simulate(gas, 0.1, 0.01, replicas=2, record_every=20, seed=6)
    assert sparse.t.tolist() == [0.0, 0.1]
    np.testing.assert_array_equal(sparse.x, every.x[:, [0, -1]])


def test_record_every_remainder_survives_streaming_and_resume(tmp_path):
    pytest.importorskip("h5py")
    gas = cg.CoulombGas.gaussian(3)
    kw = dict(replicas=2, record_every=3, seed=8, chunk_records=2)
    full = cg.simulate(gas, 1.0, 0.1, **kw)  # 10 steps: records at 0, 3, 6, 9 and 10
    streamed = cg.simulate(gas, 1.0, 0.1, out=tmp_path / "r.h5", **kw)
    np.testing.assert_array_equal(streamed.x, full.x)
    back = cg.Trajectory.load(tmp_path / "r.h5")
    np.testing.assert_array_equal(back.t, full.t)
    assert back.t[-1] == 1.0 and back.diagnostics["complete"] and back.diagnostics["steps"] == 10


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(dt=5e-324), ValueError, "`dt`"),
        (dict(replicas=10**9), ValueError, "`replicas`"),
        (dict(t_end=1e9, dt=1e-3, replicas=1000), ValueError, "`replicas`"),
        (dict(progress="no"), TypeError, "`progress`"),
        (dict(resume="yes"), TypeError, "`resume`"),
        (dict(fallback="no"), TypeError, "`fallback`"),
        (dict(out="/nonexistent-folder/run.h5"), ValueError, "`out`"),
        (dict(resume=True), ValueError, "`resume`"),
        (dict(scheme="imex"), ValueError, "`scheme`"),
    ],
)
def test_bad_simulate_arguments_are_refused_before_work(kwargs, error, match):
    args = dict(t_end=1.0, dt=0.01)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        cg.simulate(cg.CoulombGas.gaussian(3), args.pop("t_end"), args.pop("dt"), **args)


def test_imex_never_rejects_and_reports_newton_work():
    gas = cg.CoulombGas.gaussian(200, beta=1.0)
    traj = cg.simulate(gas, 1e-3, 1e-5, x0=np.linspace(-20.0, 20.0, 200), seed=1)
    d = traj.diagnostics
    assert traj.scheme == "imex-euler" and cg.dynamics.SCHEMES["auto"].keeps_order
    assert d["rejected"] == 0 and d["accepted"] == d["steps"] == 100 and d["implicit_steps"] == 100
    assert d["newton_iterations"] >= 100
    assert np.all(np.diff(traj.x, axis=-1) > 0)


@numba.njit
def _shifted(x, i):
    return 0.5 * (x - 5.0) ** 2


@numba.njit
def _shifted_d(x, i):
    return x - 5.0


def test_auto_takes_the_adaptive_scheme_for_a_custom_potential_with_an_edge():
    # The IMEX step has no wall for a user's edge (it would stop with LEFT_DOMAIN): "auto" takes the
    # adaptive scheme there, whose step control keeps x > lower.
    gas = cg.CoulombGas.dyson(P.Custom(_shifted, _shifted_d, lower=0.0), 4, beta=1.0)
    traj = cg.simulate(gas, 2.0, 0.05, x0=[3.5, 4.5, 5.5, 6.5], replicas=20, seed=3)
    assert traj.scheme == "adaptive-heun"
    assert np.all(traj.x > 0) and np.all(np.diff(traj.x, axis=-1) > 0)
    assert cg.simulate(gas, 2.0, 0.05, x0=[3.5, 4.5, 5.5, 6.5], scheme="imex-euler", seed=3).scheme == "imex-euler"
