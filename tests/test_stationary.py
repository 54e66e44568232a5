"""Stationary sampling: MCMC kernels vs references, exact laws, diagnostics, determinism, bad input.

Statistical checks compare ~independent draws: each chain is thinned by the
measured integrated autocorrelation time (``Samples.independent``) before a
two-sample Kolmogorov–Smirnov test at α = 1e-3 (false alarm 0.1% per test,
about 4% over the ~40 KS tests of this file; seeds are fixed, so the outcome
is deterministic). Sizes of tests marked ``slow`` scale with ``slow_scale``.
"""

import math
import types
import warnings

import numba
import numpy as np
import pytest
import scipy.signal
from reference import gaussian_ensemble_eigenvalues, quartic_derivative, quartic_value
from stats import assert_two_sample, assert_z

import coulombgas as cg
from coulombgas import _pairs, mcmc
from coulombgas.samplers import _density
from coulombgas.samplers import chains as mc_chains
from coulombgas.samplers import tridiagonal as exact_sampler
from coulombgas import potentials as P
from coulombgas.stationary import Samples, sample


def _independent(s, minimum):
    ind = s.independent()
    assert ind.shape[0] >= minimum, (ind.shape, s.diagnostics["autocorr_time"])
    return ind


# ---------------------------------------------------------------- kernels vs NumPy references

def _kernel_args(gas):
    kind, params, lower, a, c, w, s = gas.kernel_arrays()
    return kind, params, float(lower), float(gas.beta), a / gas.diffusion


@pytest.mark.parametrize("gas", [
    cg.CoulombGas.gaussian(7, beta=2.0),
    cg.CoulombGas.dyson(P.Quartic(t=-1.0, g=[0.5, 1, 1, 2, 1, 1, 3]), 7, beta=1.0),
    cg.CoulombGas.dyson(P.Laguerre(a=1.5, scale=2.0), 7, beta=1.0),
    cg.CoulombGas.from_sgd(P.Quadratic(1.0, [1, 2, 3, 1, 2, 3, 1]), [1, 2, 1, 2, 1, 2, 1], lr=0.1, batch_size=4),
], ids=["gue", "quartic", "laguerre", "sgd"])
def test_compiled_energy_and_gradient_match_numpy(gas):
    kind, params, lower, beta, kappa = _kernel_args(gas)
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0.1, 3.0, size=(5, gas.n)), axis=-1)
    ones = np.ones(gas.n)
    for row in x:
        lp = _density.log_density(row, kind, params, lower, beta, kappa, 1e300, mcmc.FORCE_SERIAL)
        np.testing.assert_allclose(lp, gas.log_density(row), rtol=1e-12, atol=1e-12)
        g = np.empty(gas.n)
        _density.grad_log_density(row, kind, params, beta, kappa, ones, mcmc.FORCE_SERIAL, g)
        # ∂ log P_s = −κ V' + β Σ 1/(x_i − x_j), κ = a/D.
        d = row[:, None] - row[None, :]
        np.fill_diagonal(d, np.inf)
        ref = -kappa * gas.potential.derivative(row, gas.n) + beta * np.sum(1.0 / d, axis=1)
        np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-12)
    # Outside the ordered domain the density is zero.
    bad = x[0].copy()
    bad[[1, 2]] = bad[[2, 1]]
    assert _density.log_density(bad, kind, params, lower, beta, kappa, 1e300, mcmc.FORCE_SERIAL) == -np.inf


@pytest.mark.parametrize("coords", [mcmc.COORD_X, mcmc.COORD_GAPS, mcmc.COORD_SOFT])
@pytest.mark.parametrize("potential", [P.Quartic(t=1.0, g=1.0), P.Laguerre(a=1.0, scale=1.0)],
                         ids=["quartic", "laguerre"])
def test_target_gradient_matches_finite_differences(coords, potential):
    gas = cg.CoulombGas.dyson(potential, 6, beta=1.0)
    kind, params, lower, beta, kappa = _kernel_args(gas)
    x = np.array([0.2, 0.5, 0.9, 1.3, 2.0, 2.2])
    runner = mc_chains._Runner(gas, "hmc", x[None, :] + [[0.0, 0.1, 0.0, -0.2, 0.1, 0.0]], cg._rng.streams(0, 1),
                               mc_chains._BUILTIN, 0.0, 0.65, 10, 1, False, coords)
    q = runner.to_q(x[None, :])[0]  # soft-gap scales from a different configuration than x
    scale = runner.scale
    buf = np.empty(6)
    f = lambda qq: _density.log_target(qq, buf, kind, params, lower, beta, kappa, 1e300, coords, scale,  # noqa: E731
                                    mcmc.FORCE_SERIAL)
    grad = np.empty(6)
    xq = np.empty(6)
    _density.to_x(q, lower, coords, scale, xq)
    np.testing.assert_allclose(xq, x, rtol=1e-13)
    _density.log_target_grad(q, xq, kind, params, lower, beta, kappa, np.ones(6), coords, scale, mcmc.FORCE_SERIAL, grad)
    # The Jacobian is that of the map q → x (finite differences of x(q)).
    jac = np.empty((6, 6))
    for k, e in enumerate(np.eye(6)):
        xp, xm = np.empty(6), np.empty(6)
        _density.to_x(q + 1e-6 * e, lower, coords, scale, xp)
        _density.to_x(q - 1e-6 * e, lower, coords, scale, xm)
        jac[:, k] = (xp - xm) / 2e-6
    np.testing.assert_allclose(_density.log_jacobian(q, lower, coords, scale), np.linalg.slogdet(jac)[1],
                               rtol=1e-6, atol=1e-6)
    h = 1e-6
    fd = np.array([(f(q + h * e) - f(q - h * e)) / (2 * h) for e in np.eye(6)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_blocked_log_sums_match_numpy():
    rng = np.random.default_rng(1)
    xs = np.sort(rng.normal(size=37))
    # Includes a near-coincident pair and far points: exercises the one-log-per-factor fallback.
    xs = np.concatenate([xs, [1e200, 2e200]])
    xi = -5.0
    np.testing.assert_allclose(_pairs.sum_log_dist(xi, xs), np.sum(np.log(np.abs(xs - xi))), rtol=1e-13)
    below, above = xs[:10], xs[11:30]
    y, x0 = xs[10] + 1e-3, xs[10]
    ref = np.sum(np.log((y - below) / (x0 - below))) + np.sum(np.log((y - above) / (x0 - above)))
    got = _density.sum_log_ratio(y, x0, below) + _density.sum_log_ratio(y, x0, above)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- exact references

@pytest.mark.slow
@pytest.mark.parametrize("method, coordinates", [("mh", "x"), ("hmc", "softgaps"), ("hmc", "gaps"), ("hmc", "x")],
                         ids=["mh", "hmc", "hmc-loggaps", "hmc-x"])
@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_marginals_match_dense_gaussian_ensembles(method, coordinates, beta, slow_scale):
    # n = 10, every ordered eigenvalue against eigenvalues of dense GOE/GUE matrices.
    n, want = 10, int(4000 * slow_scale)
    per_tau = {"mh": 30, "hmc": 3}[method]  # measured τ (draws) of the slowest mode, rounded up
    s = sample(cg.CoulombGas.gaussian(n, beta=beta), want * per_tau, method=method, coordinates=coordinates,
               seed=int(10 * beta) + len(method))
    assert np.all(np.diff(s.x, axis=-1) > 0)
    # R̂ − 1 fluctuates like 1/√(draws per chain): 1.01 at full size, scaled for CI's smaller runs.
    assert np.nanmax(s.diagnostics["rhat"]) < 1 + 0.01 / math.sqrt(min(slow_scale, 1.0))
    ind = _independent(s, want // 2)
    ref = gaussian_ensemble_eigenvalues(n, 20000, np.random.default_rng(3), beta)
    for i in range(n):
        assert_two_sample(ind[:, i], ref[:, i])


@pytest.mark.slow
@pytest.mark.parametrize("method, coordinates", [("mh", "x"), ("hmc", "softgaps"), ("hmc", "x")])
def test_second_moment_of_the_gaussian_ensemble_is_exact(method, coordinates, slow_scale):
    # E Σ x_i² = n(n−1)/2 + n/β for density ∝ |Δ|^β e^{−β Σ x²/2} (Dumitriu & Edelman 2002).
    n, beta = 10, 1.0
    draws = int(200_000 * slow_scale) // 400 * 400
    s = sample(cg.CoulombGas.gaussian(n, beta=beta), draws, method=method, coordinates=coordinates, seed=21)
    m2 = np.sum(s.x_chains**2, axis=-1)
    # Batch means (4 chains × 100 batches, each ≫ τ): an error bar that does not rely on the τ estimate.
    b = m2.reshape(4, 100, -1).mean(axis=-1).ravel()
    assert_z(b.mean(), n * (n - 1) / 2 + n / beta, b.std(ddof=1) / math.sqrt(b.size))


@pytest.mark.slow
def test_agrees_with_long_time_dynamics_for_per_mode_potentials(slow_scale):
    # Dyson form with per-mode widths: reversible, so P_s is the exact stationary law of the SDE.
    gas = cg.CoulombGas.dyson(P.Quadratic(0.0, [0.5, 1.0, 2.0]), 3, beta=1.0)
    assert gas.stationary_is_exact
    replicas = int(2000 * slow_scale)
    # Slowest relaxation time ≈ width² = 4: records at t = 40, 60, 80 are ~independent of x0 and of each other.
    traj = cg.simulate(gas, 80.0, 0.02, replicas=replicas, record_every=1000, seed=4)
    dyn = traj.x[:, 2:, :].reshape(-1, 3)
    for method in ("hmc", "mh"):
        s = sample(gas, 3 * replicas * 8, method=method, seed=5)
        ind = _independent(s, replicas)
        for i in range(3):
            assert_two_sample(ind[:, i], dyn[:, i])


@pytest.mark.slow
def test_hmc_and_mh_agree_on_the_quartic_gas(slow_scale):
    gas = cg.CoulombGas.dyson(P.Quartic(t=1.0, g=1.0), 20, beta=1.0)
    want = int(3000 * slow_scale)
    h = sample(gas, want * 4, method="hmc", seed=6)
    m = sample(gas, want * 60, method="mh", seed=7)
    hi, mi = _independent(h, want // 2), _independent(m, want // 2)
    for i in range(gas.n):
        assert_two_sample(hi[:, i], mi[:, i])
    assert_two_sample(gas.log_density(hi), gas.log_density(mi))


@pytest.mark.slow
def test_hmc_and_mh_agree_next_to_a_hard_wall(slow_scale):
    # Laguerre (Wishart) gas: x > 0, log wall; HMC samples log(x_1) there.
    gas = cg.CoulombGas.dyson(P.Laguerre(a=0.5, scale=1.0), 4, beta=1.0)
    want = int(3000 * slow_scale)
    h = sample(gas, want * 4, method="hmc", seed=8)
    m = sample(gas, want * 30, method="mh", seed=9)
    assert h.x.min() > 0 and m.x.min() > 0
    hi, mi = _independent(h, want // 2), _independent(m, want // 2)
    for i in range(gas.n):
        assert_two_sample(hi[:, i], mi[:, i])


def test_auto_uses_the_exact_model_when_there_is_one(monkeypatch):
    calls = []
    fake = types.ModuleType("coulombgas.tridiagonal")
    fake.exact_model = lambda gas: {"kind": "hermite"} if gas.potential.coeffs.shape[-1] == 3 else None

    def sample_exact(gas, n_samples, *, seed=None):
        calls.append(n_samples)
        return np.random.default_rng(0).normal(size=(n_samples, gas.n))

    fake.sample_exact = sample_exact
    # The exact sampler lives in coulombgas.samplers.tridiagonal (coulombgas.tridiagonal is its facade).
    monkeypatch.setattr(exact_sampler, "exact_model", fake.exact_model)
    monkeypatch.setattr(exact_sampler, "sample_exact", fake.sample_exact)
    s = sample(cg.CoulombGas.gaussian(4), 50, seed=1)
    assert s.method == "tridiagonal" and calls == [50]
    assert np.all(np.diff(s.x, axis=-1) >= 0) and s.x_chains.shape == (1, 50, 4)
    quartic = cg.CoulombGas.dyson(P.Quartic(), 4)
    with pytest.warns(UserWarning, match="shorter than 50"):  # 10 draws per chain: too short, says so
        assert sample(quartic, 40, warmup=20, seed=1).method == "hmc"
    with pytest.raises(ValueError, match="tridiagonal"):
        sample(quartic, 10, method="tridiagonal")


def test_tridiagonal_method_runs_the_exact_sampler():
    pytest.importorskip("coulombgas.tridiagonal")
    s = sample(cg.CoulombGas.gaussian(6, beta=2.0), 300, seed=2)
    assert s.method == "tridiagonal" and s.x.shape == (300, 6)
    assert np.all(np.diff(s.x, axis=-1) > 0) and np.all(np.isfinite(s.log_density))


# ---------------------------------------------------------------- diagnostics

@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_integrated_time_is_exact_on_ar1(phi):
    # AR(1) x_t = φ x_{t−1} + ε_t has ρ(t) = φ^t and τ = (1 + φ)/(1 − φ).
    chains, draws = 4, 250_000
    rng = np.random.default_rng(int(10 * phi))
    eps = rng.standard_normal((chains, draws + 1000))
    x = scipy.signal.lfilter([1.0], [1.0, -phi], eps, axis=1)[:, 1000:]  # drop the start: stationary
    tau = mcmc.integrated_time(x)
    exact = (1 + phi) / (1 - phi)
    # Sokal (1997) eq. 3.19: var(τ̂) ≈ 2(2M + 1) τ²/N with window M ≈ cτ, N all draws.
    window = 5.0 * exact
    assert_z(tau, exact, math.sqrt(2 * (2 * window + 1) / (chains * draws)) * exact)
    ess = mcmc.effective_sample_size(x)
    np.testing.assert_allclose(ess, chains * draws / tau)


def test_short_chains_warn_or_raise():
    x = scipy.signal.lfilter([1.0], [1.0, -0.95], np.random.default_rng(0).standard_normal((2, 500)), axis=1)
    with pytest.warns(UserWarning, match="shorter than 50"):
        mcmc.integrated_time(x)
    with pytest.raises(mcmc.AutocorrError, match="shorter than 50"):
        mcmc.integrated_time(x, quiet=False)
    gas = cg.CoulombGas.dyson(P.Quartic(t=1.0, g=1.0), 6, beta=1.0)
    with pytest.warns(UserWarning, match="shorter than 50 integrated autocorrelation times"):
        sample(gas, 40, method="mh", warmup=50, seed=1)
    with pytest.raises(mcmc.AutocorrError):
        sample(gas, 40, method="mh", warmup=50, seed=1, strict=True)


def test_rhat_near_one_for_iid_and_large_for_disjoint_modes():
    rng = np.random.default_rng(2)
    iid = rng.standard_normal((4, 2000, 3))
    assert np.all(mcmc.split_rhat(iid) < 1.01)
    assert np.all(mcmc.split_rhat(iid, rank=False) < 1.01)
    # Double well V = −8x² + x⁴/4: minima at ±4, barrier 64 (β = 1). Two chains start with both
    # eigenvalues in the left well, two in the right: neither crosses in a short run.
    gas = cg.CoulombGas.dyson(P.Quartic(t=-16.0, g=1.0), 2, beta=1.0)
    x0 = np.array([[-4.3, -3.7], [-4.2, -3.8], [3.7, 4.3], [3.8, 4.2]])
    for method in ("hmc", "mh"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            s = sample(gas, 800, method=method, chains=4, warmup=200, x0=x0, seed=3)
        assert np.all(s.x_chains[:2] < 0) and np.all(s.x_chains[2:] > 0)
        assert np.all(s.diagnostics["rhat"] > 1.1)
        assert s.diagnostics["rhat_log_density"] < 1.1  # the wells are mirror images: same law of log P_s


def test_converged_chains_have_rhat_near_one_and_consistent_diagnostics():
    s = sample(cg.CoulombGas.gaussian(8, beta=2.0), 8000, method="hmc", seed=11)
    d = s.diagnostics
    assert np.all(d["rhat"] < 1.01) and d["rhat_log_density"] < 1.01
    assert s.x_chains.shape == (4, 2000, 8) and s.log_density.shape == (4, 2000)
    np.testing.assert_allclose(s.log_density, s.gas.log_density(s.x_chains), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(d["ess"], 8000 / d["autocorr_time"])
    # The kept dual-averaging iterate ε̄ lies below the last iterates: realised acceptance ≥ target.
    assert np.all((d["acceptance"] > 0.6) & (d["acceptance"] < 0.99))
    assert np.all(d["divergent_transitions"] == 0)
    assert d["warmup"] == 1000 and d["thin"] == 1 and d["chains"] == 4


# ---------------------------------------------------------------- determinism and storage

@pytest.mark.parametrize("method", ["mh", "hmc"])
def test_same_seed_same_samples_for_any_thread_count(method):
    gas = cg.CoulombGas.dyson(P.Quartic(t=1.0, g=1.0), 5, beta=2.0)
    kw = dict(method=method, chains=3, warmup=60, thin=2, seed=42)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = sample(gas, 300, **kw)
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            b = sample(gas, 300, **kw)
        finally:
            numba.set_num_threads(threads)
        c = sample(gas, 300, **{**kw, "seed": 43})
    np.testing.assert_array_equal(a.x_chains, b.x_chains)
    np.testing.assert_array_equal(a.log_density, b.log_density)
    assert a.seed == b.seed
    assert not np.array_equal(a.x, c.x)
    assert a.x.shape == (300, 5)


def test_save_load_round_trip(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = sample(cg.CoulombGas.dyson(P.Quadratic(0.0, [1.0, 2.0, 3.0]), 3, beta=1.0), 101, chains=2,
                   warmup=40, seed=5)
    path = tmp_path / "s.npz"
    s.save(path)
    t = Samples.load(path)
    for name in ("x", "x_chains", "log_density"):
        np.testing.assert_array_equal(getattr(t, name), getattr(s, name))
    assert t.gas == s.gas and t.method == s.method and t.seed == s.seed
    assert t.diagnostics.keys() == s.diagnostics.keys()
    for key, value in s.diagnostics.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(t.diagnostics[key], value)
        elif isinstance(value, float) and math.isnan(value):
            assert math.isnan(t.diagnostics[key])
        else:
            assert t.diagnostics[key] == value, key
    assert s.x.shape == (101, 3) and s.x_chains.shape == (2, 51, 3)


# ---------------------------------------------------------------- bad input and failures

@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(n_samples=0), ValueError, "n_samples"),
    (dict(n_samples=2.5), TypeError, "n_samples"),
    (dict(chains=0), ValueError, "chains"),
    (dict(thin=0), ValueError, "thin"),
    (dict(warmup=-1), ValueError, "warmup"),
    (dict(method="gibbs"), ValueError, "method"),
    (dict(method=3), TypeError, "method"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(persistence=1.0), ValueError, "persistence"),
    (dict(target_accept=1.5), ValueError, "target_accept"),
    (dict(max_leapfrog=0), ValueError, "max_leapfrog"),
    (dict(coordinates="polar"), ValueError, "coordinates"),
    (dict(metric="full"), ValueError, "metric"),
    (dict(strict="yes"), TypeError, "strict"),
    (dict(x0=[0.0, 1.0]), ValueError, "x0"),
    (dict(x0=[2.0, 1.0, 3.0]), ValueError, "x0"),
    (dict(x0=[0.0, np.nan, 3.0]), ValueError, "x0"),
])
def test_bad_arguments_name_the_parameter(kwargs, exc, match):
    gas = cg.CoulombGas.dyson(P.Quartic(), 3)
    args = {"n_samples": 10, **kwargs}
    n_samples = args.pop("n_samples")
    with pytest.raises(exc, match=match):
        sample(gas, n_samples, **args)


def test_bad_gas_and_domain():
    with pytest.raises(TypeError, match="gas"):
        sample("GOE", 10)
    wishart = cg.CoulombGas.dyson(P.Laguerre(a=1.0), 3)
    with pytest.raises(ValueError, match="x0"):
        sample(wishart, 10, method="mh", x0=[-1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="tridiagonal"):
        sample(cg.CoulombGas.dyson(P.Quartic(), 3), 10, method="tridiagonal")


@numba.njit
def _inverted_value(x, i):
    return -0.5 * x * x


@numba.njit
def _inverted_derivative(x, i):
    return -x


@pytest.mark.parametrize("method", ["hmc", "mh"])
def test_non_confining_potential_is_reported_as_divergence(method):
    # V = −x²/2: P_s grows without bound; the chains run away and must say so.
    gas = cg.CoulombGas.dyson(P.Custom(_inverted_value, _inverted_derivative), 3, beta=1.0)
    with pytest.raises(FloatingPointError, match=r"chain \d+ diverged at (warm-up|sampling) \w+ \d+"):
        sample(gas, 400, method=method, warmup=300, x0=[-1.0, 0.0, 1.0], seed=1)


def test_custom_potential_kernels_match_the_builtin_ones():
    custom = cg.CoulombGas.dyson(P.Custom(quartic_value, quartic_derivative), 5, beta=2.0)
    builtin = cg.CoulombGas.dyson(P.Quartic(t=1.0, g=1.0), 5, beta=2.0)
    q = np.sort(np.random.default_rng(4).normal(size=(3, 5)), axis=-1)
    out = []
    for gas in (custom, builtin):
        kind, params, lower, beta, kappa = _kernel_args(gas)
        lp, grad = np.empty((3, 1)), np.empty((3, 5))
        mc_chains.kernels_for(gas.potential).prepare(q, lp, grad, kind, np.array(params), lower, beta, kappa,
                                                      np.ones(5), 1e300, mcmc.COORD_SOFT, np.full(5, 0.7))
        out.append((lp, grad))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- issue 13/18: cost and absurd sizes

def test_exact_sampler_computes_log_density_only_when_read():
    gas = cg.CoulombGas.gaussian(30, beta=2.0)
    s = sample(gas, 5, seed=0)
    assert s.__dict__.get("_log_density") is None  # nothing computed for a number nobody asked for
    lp = s.log_density
    assert lp.shape == (1, 5)
    np.testing.assert_allclose(lp, gas.log_density(s.x_chains), rtol=0, atol=0)
    assert s.log_density is lp  # computed once, then kept


def test_summary_keeps_arrays_out_of_json_with_one_schema_per_field(tmp_path):
    import json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = sample(cg.CoulombGas.gaussian(30), 40, method="hmc", warmup=60, chains=2, seed=1)
    s.save(tmp_path / "samples.npz")
    summ = s.summary("samples.npz")
    text = json.dumps(summ, allow_nan=False)
    assert len(text) < 4000  # the dense 30 × 30 metric alone is 900 numbers
    metric = summ["diagnostics"]["inverse_metric"]
    assert metric["shape"] == [30, 30] and metric["key"] == "diag__inverse_metric"
    with np.load(tmp_path / "samples.npz") as f:
        np.testing.assert_array_equal(f[metric["key"]], s.diagnostics["inverse_metric"])
        assert metric["max"] == float(np.max(f[metric["key"]]))
    exact = sample(cg.CoulombGas.gaussian(30), 3, seed=0).summary()
    # The same field has the same schema whatever the method.
    for key in ("acceptance", "autocorr_time", "ess"):
        assert isinstance(summ["diagnostics"][key], dict) and isinstance(exact["diagnostics"][key], dict)
    for key in ("autocorr_time_log_density", "ess_log_density"):
        assert isinstance(summ["diagnostics"][key], float) and isinstance(exact["diagnostics"][key], float)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_samples=1, method="hmc"), "n_samples"),
    (dict(n_samples=3, method="mh", chains=4), "n_samples"),
    (dict(n_samples=10, method="hmc", warmup=10**12), "warmup"),
    (dict(n_samples=10**12, method="hmc"), "n_samples"),
    (dict(n_samples=10**10, method="hmc", chains=10**9), "chains"),
    (dict(n_samples=10, chains=10**12), "chains"),  # exact method: chains unused, still refused
    (dict(n_samples=10**13), "n_samples"),
    (dict(n_samples=10**9, method="mh", chains=1), "n_samples"),
])
def test_absurd_sizes_are_refused_before_any_work(kwargs, match):
    n_samples = kwargs.pop("n_samples")
    with pytest.raises(ValueError, match=f"`{match}`"):
        sample(cg.CoulombGas.gaussian(5), n_samples, seed=0, **kwargs)


def test_memory_refusal_names_the_memory_needed(monkeypatch):
    monkeypatch.setenv("COULOMBGAS_MAX_MEMORY", str(10**6))
    with pytest.raises(ValueError, match=r"`chains`.*would need about"):
        sample(cg.CoulombGas.gaussian(50), 4000, method="hmc", seed=0)
    with pytest.raises(ValueError, match=r"`n_samples` × `n`.*would need about"):
        sample(cg.CoulombGas.gaussian(50), 4000, seed=0)


@pytest.mark.parametrize("name, value", [("progress", "no"), ("progress", 1), ("strict", "yes"), ("strict", 0)])
def test_flags_are_strict_booleans(name, value):
    with pytest.raises(TypeError, match=f"`{name}`"):
        sample(cg.CoulombGas.gaussian(5), 10, seed=0, **{name: value})


def test_two_draws_per_chain_give_a_valid_result_and_a_warning():
    with pytest.warns(UserWarning, match="autocorrelation"):
        s = sample(cg.CoulombGas.gaussian(4), 8, method="hmc", warmup=20, seed=0)
    assert s.x.shape == (8, 4) and np.all(np.isfinite(s.x))
