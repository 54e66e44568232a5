"""Fokker–Planck solvers: the n = 2 grid solver and the large-n mean-field densities.

Deterministic checks are against exact results (P_s for a reversible gas, the
Rayleigh gap law, stationarity identities, the free Ornstein–Uhlenbeck mean,
closed-form equilibrium measures, the singular integral equation). Stochastic
checks compare with ``coulombgas.simulate`` at fixed seeds: KS tests at
α = 1e-3, and z-tests of counting functions whose threshold is the
t-distribution quantile for an overall false-alarm rate of 1e-3 (Bonferroni
over the points tested).
"""

import math

import numpy as np
import pytest
import scipy.stats as st
from scipy import integrate
from stats import assert_ks

import coulombgas as cg
from coulombgas import fokker_planck as fp
from coulombgas import potentials as P
from coulombgas import theory


def _unequal_gas(ratio=1.5):
    """SGD-form gas with a common V = x²/2 and g₂/g₁ = ratio (not a gradient flow)."""
    return cg.CoulombGas.from_sgd(P.Quadratic(0.0, 1.0), [1.0, ratio], lr=0.5, batch_size=1)


def _z_threshold(dof, tests, alpha=1e-3):
    """|t| threshold for `tests` two-sided t-tests with an overall false-alarm rate alpha."""
    return float(st.t.ppf(1.0 - alpha / (2 * tests), dof))


def _assert_counting(samples, expected_counting, points):
    """Mean counting function N(x) over independent spectra vs the predicted n·F(x).

    ``samples`` (m, n) independent spectra; returns the largest |t| statistic.
    """
    counts = (samples[:, :, None] <= points[None, None, :]).sum(axis=1)
    mean, se = counts.mean(axis=0), counts.std(axis=0, ddof=1) / math.sqrt(counts.shape[0])
    tstat = np.abs(mean - expected_counting(points)) / se
    limit = _z_threshold(counts.shape[0] - 1, points.size)
    assert np.all(tstat <= limit), f"counting function off: |t| = {tstat.max():.2f} > {limit:.2f}"
    return float(tstat.max()), limit


# ----------------------------------------------------------------------------- n = 2, stationary

def test_equal_g_stationary_state_is_coulomb_gas_with_h2_convergence():
    gas = cg.CoulombGas.dyson(P.Quadratic(0.0, 1.0), 2, beta=1.0)
    assert gas.stationary_is_exact
    errors = {}
    for flux in fp.FLUXES:
        errors[flux] = [fp.stationary_two_mode(gas, grid=m, flux=flux).l1_distance for m in (48, 96, 192)]
    exp = errors["exponential"]
    assert exp[1] <= 1e-3 and exp[2] <= 3e-4
    assert exp[1] == pytest.approx(fp.l1_distance_to_coulomb_gas(gas, grid=96), rel=1e-12)
    # Measured orders against the declared ones: the exponential flux is second order
    # from the start (local order 2.00); the classical flux approaches 2 from below
    # (local orders 1.6 → 1.7 between grids 32 and 256), so it gets a looser bound.
    for flux, slack in (("exponential", 0.1), ("scharfetter-gummel", 0.5)):
        orders = np.log2(np.array(errors[flux][:-1]) / np.array(errors[flux][1:]))
        assert np.all(orders > fp.FLUXES[flux].order - slack), (flux, orders)


def test_time_steppers_have_their_declared_order():
    gas = _unequal_gas(1.5)

    def p0(x1, x2):
        return np.exp(-((x1 + 0.5) ** 2 + (x2 - 1.5) ** 2) / 0.5)

    ref = fp.evolve_two_mode(gas, p0, 1.0, 1 / 160, grid=48, method="tr-bdf2")
    for method, entry in fp.TIME_METHODS.items():
        err = [np.abs(fp.evolve_two_mode(gas, p0, 1.0, dt, grid=48, method=method).density[-1]
                      - ref.density[-1]).sum() * ref.grid.area for dt in (0.1, 0.05, 0.025)]
        orders = np.log2(np.array(err[:-1]) / np.array(err[1:]))   # measured 0.98 and 2.05
        assert np.all(np.abs(orders - entry.order) < 0.2), (method, orders)


def test_equal_g_marginals_match_the_two_mode_closed_forms():
    # Per-mode widths, equal noise: still reversible. The papers' ρ integrates both orderings,
    # ρ_sym(x) = ½[ρ_<(x) + ρ_<(−x)] (x → −x swaps the sectors), and the gap is Rayleigh.
    s1, s2 = 0.6, 1.7
    gas = cg.CoulombGas.dyson(P.Quadratic(0.0, [s1, s2]), 2, beta=1.0)
    x = np.linspace(-5.0, 5.0, 201)
    cdf_errors = []
    for m in (96, 192):
        res = fp.stationary_two_mode(gas, grid=m)
        sym = 0.5 * (res.cdf(x) + 1.0 - res.cdf(-x))
        cdf_errors.append(np.max(np.abs(sym - theory.two_mode_density(s1, s2).cdf(x))))
    # O(h²) from the cell-wise density (measured 3.6e-3 → 9.8e-4; hu = 0.16 at 192 vs σ₁ = 0.6).
    assert cdf_errors[1] < 1.5e-3 and cdf_errors[0] / cdf_errors[1] > 3.0
    assert res.l1_distance < 1e-3
    gap = theory.two_mode_spacing(s1, s2)
    assert np.sum(np.abs(res.spacing_density - gap.pdf(res.spacing))) * res.grid.hr < 1e-3
    assert res.diagnostics["residual"] < 1e-12 and res.diagnostics["edge_mass"] < 1e-10


def test_unequal_g_matches_sde_and_differs_from_coulomb_gas():
    gas = _unequal_gas(1.5)
    assert not gas.stationary_is_exact
    coarse, res = fp.stationary_two_mode(gas, grid=64), fp.stationary_two_mode(gas, grid=128)
    # The approximation error dwarfs the discretisation error (grid change 1e-3; equal g: 4e-4).
    assert res.l1_distance > 0.7 and abs(res.l1_distance - coarse.l1_distance) < 0.01 * res.l1_distance
    assert res.l1_one_point > 0.4
    # Exact identities of the non-reversible stationary state: ⟨x₁⟩/⟨x₂⟩ = −w₂/w₁ from
    # stationarity of ⟨x_i⟩, and the autonomous gap is Rayleigh with σ² = T(g₁² + g₂²).
    w = res.density * res.grid.area
    m1, m2 = (w * res.grid.x1).sum(), (w * res.grid.x2).sum()
    assert m1 / m2 == pytest.approx(-gas.weights[1] / gas.weights[0], rel=2e-3)
    t = gas.temperature
    gap = theory.two_mode_spacing(math.sqrt(t) * gas.g[0], math.sqrt(t) * gas.g[1])
    assert np.sum(np.abs(res.spacing_density - gap.pdf(res.spacing))) * res.grid.hr < 2e-3
    # SDE: 2000 replicas, records 8 time units apart (slowest relaxation rate 0.5: correlation e⁻⁴).
    traj = cg.simulate(gas, 24.0, 0.02, replicas=2000, record_every=400, seed=3)
    xs = traj.x[:, 1:, :].reshape(-1, 2)
    for mode in (0, 1):
        assert_ks(xs[:, mode], lambda x, m=mode: res.cdf(x, mode=m))
    # ... and the same samples reject the papers' P_s marginal (the test has power).
    for mode in (0, 1):
        assert st.kstest(xs[:, mode], lambda x, m=mode: res.coulomb_gas_cdf(x, mode=m)).pvalue < 1e-10


# ----------------------------------------------------------------------------- n = 2, time evolution

def test_evolution_conserves_mass_stays_positive_and_relaxes():
    gas = _unequal_gas(1.5)
    stat = fp.stationary_two_mode(gas, grid=80)
    run = fp.evolve_two_mode(gas, (1.0, 2.5), 20.0, 0.1, grid=80, record_every=10)
    assert run.grid == stat.grid
    assert run.diagnostics["mass_drift"] < 1e-12 and np.all(np.abs(run.mass - 1.0) < 1e-12)
    assert run.diagnostics["min_density"] >= 0.0 and run.density.min() >= 0.0
    l1 = np.abs(run.density - stat.density).sum(axis=(1, 2)) * run.grid.area
    # (I − Δt A)⁻¹ is column-stochastic: the L1 distance to the fixed point never grows.
    assert np.all(np.diff(l1) <= 1e-12) and l1[0] > 1.9 and l1[-1] < 1e-3
    # TR-BDF2 conserves mass too (positivity is not guaranteed from a point mass).
    tr = fp.evolve_two_mode(gas, (1.0, 2.5), 2.0, 0.1, grid=80, method="tr-bdf2")
    assert tr.diagnostics["mass_drift"] < 1e-12


def test_stationary_state_is_a_fixed_point_and_a_quench_relaxes():
    equal = cg.CoulombGas.dyson(P.Quadratic(0.0, 1.0), 2, beta=1.0)
    unequal = _unequal_gas(1.5)
    start = fp.stationary_two_mode(equal, grid=64)
    kept = fp.evolve_two_mode(equal, start, 5.0, 0.5, grid=64)
    assert np.max(np.abs(kept.density - start.density)) < 1e-12 * start.density.max()
    # Quench: the equal-g state (interpolated onto the other gas's grid) relaxes to the new one.
    target = fp.stationary_two_mode(unequal, grid=64)
    run = fp.evolve_two_mode(unequal, start.pdf, 20.0, 0.2, grid=64, record_every=25)
    l1 = np.abs(run.density - target.density).sum(axis=(1, 2)) * run.grid.area
    assert l1[0] > 0.3 and np.all(np.diff(l1) < 0) and l1[-1] < 1e-4
    with pytest.raises(ValueError, match="p0"):
        fp.evolve_two_mode(unequal, start, 1.0, 0.1, grid=64)


def test_evolution_centre_of_mass_follows_the_exact_ou_mean():
    # Equal g, common V = x²/2 (a = 1): x₁ + x₂ is an OU process, ⟨x₁ + x₂⟩_t = e^{−t}⟨x₁ + x₂⟩₀.
    gas = cg.CoulombGas.dyson(P.Quadratic(0.0, 1.0), 2, beta=1.0)

    def p0(x1, x2):
        return np.exp(-((x1 + 0.5) ** 2 + (x2 - 1.5) ** 2) / 0.3)

    errors = []
    for m in (48, 96):
        run = fp.evolve_two_mode(gas, p0, 1.0, 0.05, grid=m, method="tr-bdf2", record_every=5)
        total = run.mean().sum(axis=1)
        errors.append(np.max(np.abs(total - total[0] * np.exp(-run.t))))
    # O(h²): measured 1.5e-2 → 3.8e-3 (h = 0.36 → 0.18; the initial width is 0.39).
    assert errors[1] < 5e-3 and errors[0] / errors[1] > 3.0


def test_evolution_matches_sde_at_an_intermediate_time():
    gas = _unequal_gas(1.5)
    stat = fp.stationary_two_mode(gas, grid=96)
    g = stat.grid
    i, j = g.shape[0] // 2, int(round(1.0 / g.hr))   # start at a cell centre with gap ≈ 1
    start = (g.x1[i, j], g.x2[i, j])
    run = fp.evolve_two_mode(gas, start, 1.0, 0.01, grid=96, method="tr-bdf2", record_every=100)
    traj = cg.simulate(gas, 1.0, 0.005, x0=np.array(start), replicas=4000, record_every=200, seed=8)
    for mode in (0, 1):
        assert_ks(traj.x[:, -1, mode], lambda x, m=mode: run.cdf(x, mode=m, record=-1))


# ----------------------------------------------------------------------------- large n, equilibrium

def _principal_value(law, x):
    """PV∫ρ(y)/(x − y) dy by QUADPACK's Cauchy weight, per cut."""
    total = 0.0
    for lo, hi in law.cuts:
        if lo < x < hi:
            total -= integrate.quad(law.pdf, lo, hi, weight="cauchy", wvar=x, limit=400)[0]
        else:
            total += integrate.quad(lambda y: law.pdf(y) / (x - y), lo, hi, limit=400)[0]
    return total


@pytest.mark.parametrize("t", [1.0, -10.0, -30.0])
def test_quartic_equilibrium_density_solves_the_integral_equation(t):
    n, g = 100, 1.0
    law = fp.equilibrium_density(P.Quartic(t=t, g=g), n=n)
    assert law.regime == ("one-cut" if t >= -math.sqrt(2 * g * n) else "two-cut")
    mass = sum(integrate.quad(law.pdf, lo, hi, limit=400)[0] for lo, hi in law.cuts)
    assert mass == pytest.approx(1.0, abs=1e-8) and law.cdf(law.support()[1]) == pytest.approx(1.0)
    # PV∫ρ(y)/(x − y) dy = Q'(x) = (t x + g x³)/n inside the support.
    for lo, hi in law.cuts:
        for x in lo + (hi - lo) * np.array([0.1, 0.37, 0.8]):
            assert _principal_value(law, x) == pytest.approx((t * x + g * x**3) / n, abs=1e-7)
    if law.regime == "one-cut":
        a, b = law.support()
        # Endpoint conditions checked independently with QUADPACK's algebraic weight.
        qp = lambda x: (t * x + g * x**3) / n  # noqa: E731
        f1 = integrate.quad(qp, a, b, weight="alg", wvar=(-0.5, -0.5))[0]
        f2 = integrate.quad(lambda x: x * qp(x), a, b, weight="alg", wvar=(-0.5, -0.5))[0] / math.pi
        assert abs(f1) < 1e-10 and f2 == pytest.approx(1.0, abs=1e-10)
        assert np.all(np.abs(law.endpoint_residuals) < 1e-12)
        b2 = 2.0 / (3 * g / n) * (math.sqrt((t / n) ** 2 + 6 * g / n) - t / n)
        assert b == pytest.approx(math.sqrt(b2), rel=1e-14)
    else:
        # Each cut holds half the eigenvalues; ⟨x²⟩ = (a + b)/2 = −t/g.
        assert law.cdf(0.0) == pytest.approx(0.5) and law.var() == pytest.approx(-t / g, rel=1e-8)


def test_quartic_one_cut_to_two_cut_transition_is_continuous():
    n, g = 100, 1.0
    tc = -math.sqrt(2 * g * n)
    before = fp.equilibrium_density(P.Quartic(t=tc * (1 - 1e-9), g=g), n=n)
    after = fp.equilibrium_density(P.Quartic(t=tc * (1 + 1e-9), g=g), n=n)
    assert before.regime == "one-cut" and after.regime == "two-cut"
    x = np.linspace(-7, 7, 101)
    assert np.max(np.abs(before.pdf(x) - after.pdf(x))) < 1e-5
    assert before.pdf(0.0) < 1e-5


def test_generic_one_cut_solver_matches_closed_forms_and_the_integral_equation():
    # A shifted quartic through the general endpoint solver vs the closed form.
    base = np.polynomial.Polynomial([0.0, 0.0, 0.5, 0.0, 0.25])
    shifted = base(np.polynomial.Polynomial([-1.3, 1.0])).coef
    law = fp.equilibrium_density(P.Polynomial(shifted), n=50)
    ref = fp.equilibrium_density(P.Quartic(t=1.0, g=1.0), n=50)
    assert law.method == "one-cut-endpoints" and ref.method == "quartic-closed-form"
    x = np.linspace(-6, 6, 61)
    np.testing.assert_allclose(law.pdf(x + 1.3), ref.pdf(x), atol=1e-12)
    # An asymmetric sextic: normalised and solving PV∫ρ/(x − y) = Q'(x).
    coeffs = np.array([0.0, 1.0, 0.5, 0.3, 0.2, 0.0, 0.05])
    law = fp.equilibrium_density(P.Polynomial(coeffs), n=30)
    a, b = law.support()
    assert integrate.quad(law.pdf, a, b)[0] == pytest.approx(1.0, abs=1e-10)
    qprime = np.polynomial.Polynomial(coeffs).deriv() / 30
    for xx in a + (b - a) * np.array([0.2, 0.5, 0.9]):
        assert _principal_value(law, xx) == pytest.approx(qprime(xx), abs=1e-7)
    # The quantile function inverts the exact cdf.
    q = np.array([0.01, 0.3, 0.77])
    np.testing.assert_allclose(law.cdf(law.ppf(q)), q, atol=1e-12)


def test_quadratic_potential_gives_the_semicircle():
    law = fp.equilibrium_density(P.Quadratic(0.7, 2.0), n=40)
    sc = theory.semicircle(math.sqrt(2 * 40) * 2.0)   # R = √(2n/κ), κ = 1/width²
    x = np.linspace(-20, 20, 81)
    np.testing.assert_allclose(law.pdf(x + 0.7), sc.pdf(x), atol=1e-14)
    np.testing.assert_allclose(law.cdf(x + 0.7), sc.cdf(x), atol=1e-14)
    # Canonical (SGD) form: R² = 2 c w n/(a κ) = 2 β T g² n width² for V = (x − c)²/(2 width²).
    gas = cg.CoulombGas.from_sgd(P.Quadratic(1.0, 4.0), 2.0, lr=0.1, batch_size=16, n=64)
    radius = math.sqrt(2 * gas.temperature * 2.0**2 * 64 * 4.0**2)
    assert fp.equilibrium_density(gas).support() == pytest.approx((1.0 - radius, 1.0 + radius), rel=1e-12)


def test_quartic_gas_samples_follow_the_equilibrium_density():
    # β = 2: the 1/n correction to the density (∝ 1 − 2/β) vanishes, so N(x) = n F(x) + O(1/n).
    n = 100
    gas = cg.CoulombGas.dyson(P.Quartic(t=1.0, g=1.0), n, beta=2.0)
    law = fp.equilibrium_density(gas)
    # Start at the predicted quantiles; slowest collective mode relaxes at rate ⟨V''⟩ ≈ 13.
    x0 = law.ppf((np.arange(n) + 0.5) / n)
    traj = cg.simulate(gas, 0.6, 2e-3, x0=x0, replicas=16, record_every=150, seed=5)
    spectra = traj.x[:, 2:, :].reshape(-1, n)   # t = 0.3, 0.6 (correlation e^{-4})
    points = law.ppf(np.linspace(0.1, 0.9, 9))
    _assert_counting(spectra, law.counting, points)
    # Power: a semicircle with the same variance is rejected by the same statistic.
    wrong = theory.semicircle(2.0 * math.sqrt(float(law.var())))
    with pytest.raises(AssertionError):
        _assert_counting(spectra, lambda x: n * wrong.cdf(x), points)


# ----------------------------------------------------------------------------- large n, time evolution

def test_free_convolution_is_exact_for_semicircle_and_relaxes_mp_to_semicircle():
    n = 100
    gas = cg.CoulombGas.gaussian(n, beta=2.0)     # θ = 1, γ = n, v∞ = n/2
    x = np.linspace(-16, 16, 161)
    # Semicircle ⊞ semicircle: radius² = e^{−2t}R₀² + 4 v(t).
    run = fp.mean_field_evolution(gas, theory.semicircle(6.0), [0.3])
    radius = math.sqrt(math.exp(-0.6) * 36.0 + 4 * 50 * (1 - math.exp(-0.6)))
    assert np.max(np.abs(run.cdf(x) - theory.semicircle(radius).cdf(x))) < 5e-5
    # Marchenko–Pastur relaxes to the semicircle of radius √(2n).
    mp = theory.marchenko_pastur(0.25, 2.0)
    run = fp.mean_field_evolution(gas, mp, [0.0, 0.3, 10.0])
    assert np.max(np.abs(run.cdf(x, 0) - mp.cdf(x))) < 1e-5       # t = 0: the law itself, interpolated
    assert np.max(np.abs(run.cdf(x, 2) - theory.semicircle(math.sqrt(2 * n)).cdf(x))) < 5e-5
    assert min(run.diagnostics["mass"]) > 0.9999
    # The particle method (any polynomial) agrees with the exact formula to O(1/K).
    parts = fp.mean_field_evolution(gas, mp, [0.3], method="particles", atoms=200)
    assert np.max(np.abs(parts.cdf(x) - run.cdf(x, 1))) < 5e-3


def test_mp_start_relaxes_like_the_free_convolution_in_simulate():
    n = 100
    gas = cg.CoulombGas.gaussian(n, beta=2.0)
    x0 = theory.marchenko_pastur(0.25, 2.0).ppf((np.arange(n) + 0.5) / n)
    traj = cg.simulate(gas, 0.3, 2e-3, x0=x0, replicas=32, record_every=150, seed=6)
    run = fp.mean_field_evolution(gas, x0, [0.3])   # the empirical start, ⊞ semicircle
    spectra = traj.x[:, -1, :]
    points = np.quantile(spectra, np.linspace(0.1, 0.9, 7))
    _assert_counting(spectra, lambda x: run.counting(x), points)
    # Power: the stationary semicircle (or the unrelaxed start) is far off at t = 0.3.
    with pytest.raises(AssertionError):
        _assert_counting(spectra, lambda x: n * theory.semicircle(math.sqrt(2 * n)).cdf(x), points)


def test_particle_method_relaxes_to_the_equilibrium_of_a_general_polynomial():
    gas = cg.CoulombGas.dyson(P.Polynomial([0.0, 1.0, 0.5, 0.3, 0.2, 0.0, 0.05]), 30, beta=2.0)
    law = fp.equilibrium_density(gas)
    run = fp.mean_field_evolution(gas, theory.semicircle(3.0), [0.0, 5.0], atoms=200)
    x = np.linspace(-3, 3, 301)
    assert run.method == "particles"
    assert np.max(np.abs(run.cdf(x) - law.cdf(x))) < 3e-3      # O(1/K) with K = 200


# ----------------------------------------------------------------------------- round trips and bad input

def test_results_save_and_load(tmp_path):
    res = fp.stationary_two_mode(cg.CoulombGas.gaussian(2), grid=32)
    res.save(tmp_path / "s.npz")
    back = fp.TwoModeStationary.load(tmp_path / "s.npz")
    assert np.array_equal(back.density, res.density) and back.grid == res.grid and back.gas == res.gas
    run = fp.mean_field_evolution(cg.CoulombGas.gaussian(20, beta=2.0), theory.semicircle(2.0), [0.1])
    run.save(tmp_path / "m.npz")
    assert np.array_equal(fp.MeanFieldEvolution.load(tmp_path / "m.npz").density, run.density)


def test_bad_input_names_the_parameter():
    two = cg.CoulombGas.gaussian(2)
    with pytest.raises(ValueError, match="potential"):
        fp.equilibrium_density([0.0, 0.0, -1.0, 0.0, 0.0], n=10)      # −x²: not confining
    with pytest.raises(ValueError, match="coeffs"):
        P.Polynomial([0.0, 0.0, 0.0, 1.0])                             # odd degree
    with pytest.raises(ValueError, match="`n`"):
        fp.equilibrium_density(cg.CoulombGas.gaussian(10), n=11)
    with pytest.raises(ValueError, match="`n`"):
        fp.equilibrium_density(P.Quadratic(0.0, 1.0))
    with pytest.raises(ValueError, match="`n`"):
        fp.equilibrium_density(P.Quadratic(0.0, 1.0), n=1)
    with pytest.raises(ValueError, match="gas.n"):
        fp.stationary_two_mode(cg.CoulombGas.gaussian(3))
    with pytest.raises(ValueError, match="`grid`"):
        fp.stationary_two_mode(two, grid=8)
    with pytest.raises(ValueError, match="`grid`"):   # a narrow mode needs more cells
        fp.stationary_two_mode(cg.CoulombGas.dyson(P.Quadratic(0.0, [0.01, 3.0]), 2), grid=32)
    with pytest.raises(ValueError, match="`box`"):
        fp.stationary_two_mode(two, box=(1.0, -1.0))
    with pytest.raises(ValueError, match="`flux`"):
        fp.stationary_two_mode(two, flux="upwind")
    with pytest.raises(ValueError, match="`method`"):
        fp.evolve_two_mode(two, (-0.5, 0.5), 1.0, 0.1, grid=32, method="crank-nicolson")
    with pytest.raises(ValueError, match="`p0`"):
        fp.evolve_two_mode(two, (0.5, -0.5), 1.0, 0.1, grid=32)
    with pytest.raises(ValueError, match="`dt`"):
        fp.evolve_two_mode(two, (-0.5, 0.5), 1.0, -0.1, grid=32)
    with pytest.raises(ValueError, match="`times`"):
        fp.mean_field_evolution(cg.CoulombGas.gaussian(10), theory.semicircle(1.0), [-1.0])
    with pytest.raises(ValueError, match="gas"):    # unequal weights: not a one-species mean field
        fp.mean_field_evolution(cg.CoulombGas.from_sgd(P.Quadratic(0.0, 1.0), [1.0, 2.0, 3.0],
                                                       lr=0.1, batch_size=4), [0.0, 1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="gas.potential"):
        fp.equilibrium_density(cg.CoulombGas.dyson(P.Quadratic(0.0, [1.0, 2.0]), 2))
    with pytest.raises(NotImplementedError, match="multi-cut"):
        fp.equilibrium_density(P.Polynomial([0.0, 0.0, -20.0, 1.0, 1.0]), n=50)
    with pytest.raises(NotImplementedError, match="polynomial"):
        fp.equilibrium_density(P.Laguerre(a=1.0), n=10)


# ---------------------------------------------------------------- issue 13/18: sizes refused before work

@pytest.mark.parametrize("call, match", [
    (lambda fp, cg: fp.stationary_two_mode(cg.CoulombGas.gaussian(2), grid=10**6), "`grid`"),
    (lambda fp, cg: fp.stationary_two_mode(cg.CoulombGas.gaussian(2), grid=(64, 10**9)), "`grid`"),
    (lambda fp, cg: fp.evolve_two_mode(cg.CoulombGas.gaussian(2), (-0.5, 0.5), 1.0, 1e-300, grid=64), "`dt`"),
    (lambda fp, cg: fp.evolve_two_mode(cg.CoulombGas.gaussian(2), (-0.5, 0.5), 1.0, 1e-7, grid=512), "records"),
    (lambda fp, cg: fp.mean_field_evolution(cg.CoulombGas.gaussian(10), np.linspace(-1, 1, 10**6), [0.0, 1.0],
                                            method="particles"), "`atoms`"),
    (lambda fp, cg: fp.mean_field_evolution(cg.CoulombGas.gaussian(10), np.linspace(-1, 1, 100), [0.0, 1.0],
                                            atoms=10**12), "`atoms`"),
    (lambda fp, cg: fp.mean_field_evolution(cg.CoulombGas.gaussian(10), np.linspace(-1, 1, 100), [0.0],
                                            points=10**12), "`points`"),
])
def test_huge_sizes_are_refused_with_the_memory_they_need(call, match):
    import coulombgas as cg
    from coulombgas import fokker_planck as fp

    with pytest.raises(ValueError, match=match):
        call(fp, cg)


def test_free_convolution_in_blocks_matches_the_one_table_version():
    from coulombgas.fokker_planck import mean_field as fp  # the private kernels live with the mean-field solver

    rng = np.random.default_rng(0)
    atoms = np.sort(rng.normal(size=3000))
    x, dens = fp._free_convolution(atoms, 0.3, 200)  # 3000 atoms: blocks of 66 rows
    u = np.linspace(atoms[0] - 1.02 * np.sqrt(0.3), atoms[-1] + 1.02 * np.sqrt(0.3), 200)
    big_y, re = fp._free_convolution_block(u, atoms, 0.3)  # one (200, 3000) table
    np.testing.assert_allclose(x, u + 0.3 * re, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dens, np.sqrt(big_y) / (np.pi * 0.3), rtol=1e-10, atol=1e-12)
