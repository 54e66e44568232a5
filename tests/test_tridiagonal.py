"""Tests of coulombgas.tridiagonal: exact Dumitriu–Edelman samples of the stationary gas.

Every stochastic check uses a fixed seed and a tolerance from tests/stats.py:
KS tests at a stated alpha (Bonferroni-split over the ordered eigenvalues, so a
family of tests has false-alarm rate alpha), z-scores at z = 4 (6.3e-5 per test).

Exact laws used as references, derived from the gas density itself (not from
the matrix model):

* homogeneity of the log-gas: for P ∝ |Δ|^β exp(−κ Σ(x−m)²/2), polar
  coordinates around (m, …, m) give r² = Σ(x−m)² with density
  ∝ r^{n−1+βn(n−1)/2} e^{−κr²/2}, i.e. κ r² ~ χ²_ν, ν = n + βn(n−1)/2 (so
  E Σ(x−m)² = [n(n−1)/2 + n/β]·β/κ); for P ∝ |Δ|^β Π x^ρ e^{−θΣx},
  θ Σx ~ Gamma(βn(n−1)/2 + n(ρ+1));
* n = 2: the centre of mass u ~ N(m, 1/(2κ)) and the gap S with S√(κ/2) ~ χ_{β+1},
  independent;
* dense GOE/GUE (density ∝ exp(−β tr H²/2)) and real/complex Wishart matrices;
* large n: semicircle / Marchenko–Pastur counting functions with their 1/n
  corrections (see the tests).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from stats import assert_ks, assert_mean_z, assert_two_sample, assert_z

from coulombgas import CoulombGas, _rng, potentials, theory
from coulombgas import tridiagonal as tri
from coulombgas.samplers.tridiagonal import laguerre_entries

ALPHA = 1e-3


def report(name, **values):
    """Print the observed statistics (shown with ``pytest -s``)."""
    text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
    print(f"\n[{name}] {text}")


def laguerre_gas(n, m, beta, scale=1.0):
    """Dyson-form gas whose stationary law is the β-Laguerre ensemble with parameter m, x = scale·λ.

    Dyson form: P ∝ |Δ|^β Π x^{β a} e^{−β x / s}. Matching β a = β(m−n+1)/2 − 1 and
    β/s = 1/(2·scale) gives a = (m−n+1)/2 − 1/β, s = 2β·scale.
    """
    return CoulombGas.dyson(potentials.Laguerre(a=(m - n + 1) / 2.0 - 1.0 / beta, scale=2.0 * beta * scale),
                            n, beta=beta)


# --------------------------------------------------------------------------- model matching

def test_exact_model_gaussian_and_affine():
    model = tri.exact_model(CoulombGas.gaussian(5, beta=2.5))
    assert model["kind"] == "hermite" and model["n"] == 5 and model["beta"] == 2.5
    assert model["shift"] == 0.0 and model["scale"] == pytest.approx(1 / math.sqrt(2.5), rel=1e-14)
    # Dyson form with V = (x − 2)²/(2·0.5²): exponent β V = κ(x − 2)²/2 with κ = β/0.25.
    model = tri.exact_model(CoulombGas.dyson(potentials.Quadratic(2.0, 0.5), 4, beta=2.0))
    assert model["shift"] == pytest.approx(2.0, rel=1e-14)
    assert model["scale"] == pytest.approx(1 / math.sqrt(8.0), rel=1e-14)
    # SGD form, equal g: exponent V/(T g²), κ = 1/(T g² w²), scale = √T g w.
    lr, bs, g, w = 0.05, 8, 0.3, 0.8
    model = tri.exact_model(CoulombGas.from_sgd(potentials.Quadratic(1.5, w), g, lr=lr, batch_size=bs, n=3))
    assert model["kind"] == "hermite" and model["shift"] == pytest.approx(1.5, rel=1e-14)
    assert model["scale"] == pytest.approx(math.sqrt(lr / bs) * g * w, rel=1e-13)


def test_exact_model_laguerre_parameter_may_be_real():
    n, m, beta = 6, 9.37, 2.5
    model = tri.exact_model(laguerre_gas(n, m, beta, scale=3.0))
    assert model["kind"] == "laguerre" and model["shift"] == 0.0
    assert model["m"] == pytest.approx(m, rel=1e-13)
    assert model["scale"] == pytest.approx(3.0, rel=1e-13)
    assert model["exponent"] == pytest.approx(beta * (m - n + 1) / 2 - 1, rel=1e-13)
    # SGD form: exponent (a_V log x − x/s)/(T g²), so ρ = a_V/(T g²), θ = 1/(T g² s).
    lr, bs, g, a_v, s = 0.1, 4, 0.5, 0.7, 2.0
    T = lr / bs
    model = tri.exact_model(CoulombGas.from_sgd(potentials.Laguerre(a=a_v, scale=s), g, lr=lr,
                                                batch_size=bs, n=4))
    assert model["exponent"] == pytest.approx(a_v / (T * g**2), rel=1e-13)
    assert model["scale"] == pytest.approx(T * g**2 * s / 2, rel=1e-13)
    assert model["m"] == pytest.approx(4 - 1 + 2 * (a_v / (T * g**2) + 1), rel=1e-13)


NO_MODEL = {
    "quartic": (lambda: CoulombGas.dyson(potentials.Quartic(1.0, 1.0), 4), "degree 4"),
    "unequal widths": (lambda: CoulombGas.dyson(potentials.Quadratic(0.0, [1.0, 1.0, 1.0, 2.0]), 4),
                       "unequal curvature"),
    "unequal centres": (lambda: CoulombGas.dyson(potentials.Quadratic([0.0, 0.0, 1.0, 0.0], 1.0), 4),
                        "unequal centres"),
    "unequal g": (lambda: CoulombGas.from_sgd(potentials.Quadratic(0.0, 1.0), [1.0, 1.0, 1.0, 2.0],
                                              lr=0.1, batch_size=4), "unequal noise"),
    "unequal Laguerre scale": (lambda: CoulombGas.dyson(potentials.Laguerre(a=2.0, scale=[1.0, 1.0, 2.0]), 3),
                               "unequal `scale`"),
}


@pytest.mark.parametrize("case", sorted(NO_MODEL))
def test_no_exact_model(case):
    make, reason = NO_MODEL[case]
    gas = make()
    assert tri.exact_model(gas) is None
    with pytest.raises(ValueError, match="tridiagonal") as info:
        tri.sample_exact(gas, 3, seed=0)
    assert reason in str(info.value)


def test_bad_arguments():
    gas = CoulombGas.gaussian(4)
    with pytest.raises(ValueError, match="n_samples"):
        tri.sample_exact(gas, 0, seed=0)
    with pytest.raises(TypeError, match="n_samples"):
        tri.sample_exact(gas, 2.5, seed=0)
    with pytest.raises(ValueError, match="lapack_driver"):
        tri.sample_exact(gas, 2, seed=0, lapack_driver="dsyevd")
    with pytest.raises(ValueError, match="pteqr"):
        tri.sample_exact(gas, 2, seed=0, lapack_driver="pteqr")
    with pytest.raises(TypeError, match="gas"):
        tri.exact_model("GOE")


def test_same_seed_same_samples_and_shape():
    gas = CoulombGas.gaussian(7, beta=1.3)
    a = tri.sample_exact(gas, 50, seed=123)
    b = tri.sample_exact(gas, 50, seed=123)
    c = tri.sample_exact(gas, 50, seed=124)
    assert a.shape == (50, 7) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(np.isfinite(a)) and np.all(np.diff(a, axis=1) > 0)
    lag = laguerre_gas(5, 8.5, 0.7)
    x = tri.sample_exact(lag, 40, seed=np.random.SeedSequence(9))
    assert np.array_equal(x, tri.sample_exact(lag, 40, seed=np.random.SeedSequence(9)))
    assert np.all(x > 0) and np.all(np.diff(x, axis=1) > 0)


@pytest.mark.parametrize("kind", ["hermite", "laguerre"])
def test_all_drivers_agree(kind):
    gas = CoulombGas.gaussian(60, beta=0.8) if kind == "hermite" else laguerre_gas(60, 90.5, 1.7)
    ref = tri.sample_exact(gas, 4, seed=5)
    for driver in tri.DRIVERS:
        if kind == "hermite" and driver == "pteqr":
            continue
        x = tri.sample_exact(gas, 4, seed=5, lapack_driver=driver)
        np.testing.assert_allclose(x, ref, rtol=0, atol=1e-11 * np.max(np.abs(ref)), err_msg=driver)


def test_laguerre_default_keeps_small_eigenvalues_relatively_accurate():
    """dpteqr (the β-Laguerre default) vs bisection on the Golub–Kahan form of B.

    Bisection on the zero-diagonal 2n×2n Golub–Kahan matrix of the bidiagonal B
    gives its singular values to high relative accuracy (Demmel & Kahan 1990),
    so it is the reference for λ = σ². A tiny log strength puts the smallest
    eigenvalue near the hard edge, where an absolute-accuracy solver (dsterf on
    B Bᵀ) loses digits.
    """
    n, beta, seed = 400, 1.0, 77
    gas = CoulombGas.dyson(potentials.Laguerre(a=1e-6, scale=2.0), n, beta=beta)
    model = tri.exact_model(gas)
    x = tri.sample_exact(gas, 1, seed=seed)[0]
    diag2, sub2 = laguerre_entries(_rng.generator(seed), n, beta, 0.5 * beta * model["m"], 1)
    off = np.empty(2 * n - 1)
    off[0::2], off[1::2] = np.sqrt(diag2[0]), np.sqrt(sub2[0])
    sigma = scipy.linalg.eigvalsh_tridiagonal(np.zeros(2 * n), off, select="i", select_range=(n, 2 * n - 1),
                                              lapack_driver="stebz", tol=1e-300)
    ref = np.sort(sigma) ** 2 * model["scale"]
    rel = float(np.max(np.abs(x / ref - 1)))
    report("laguerre relative accuracy", n=n, lambda_min=float(ref[0]), lambda_max=float(ref[-1]),
           max_rel_err=rel)
    assert rel < 1e-11


# --------------------------------------------------------------------------- exact small-n laws

def _goe(rng, n, size):
    a = rng.standard_normal((size, n, n))
    return np.linalg.eigvalsh(0.5 * (a + np.swapaxes(a, -1, -2)))


def _gue(rng, n, size):
    a = (rng.standard_normal((size, n, n)) + 1j * rng.standard_normal((size, n, n))) / math.sqrt(2.0)
    return np.linalg.eigvalsh(0.5 * (a + np.swapaxes(a, -1, -2).conj()))


@pytest.mark.parametrize("beta", [1, 2])
def test_hermite_matches_dense_gaussian_ensembles(beta):
    """β = 1, 2 at n = 5: per ordered eigenvalue, tridiagonal vs dense GOE/GUE.

    H = (A + Aᵀ)/2 (GOE) and H = (A + A†)/2, A = (X + iY)/√2 (GUE) have density
    ∝ exp(−β tr H²/2), the stationary law of CoulombGas.gaussian(n, beta).
    Two-sample KS on each of the 5 ordered eigenvalues at alpha/5 each (family
    false-alarm rate 1e-3).
    """
    n, size = 5, 4000
    dense = (_goe if beta == 1 else _gue)(np.random.default_rng(300 + beta), n, size)
    exact = tri.sample_exact(CoulombGas.gaussian(n, beta=beta), size, seed=310 + beta)
    p = [assert_two_sample(exact[:, k], dense[:, k], alpha=ALPHA / n) for k in range(n)]
    report(f"hermite vs dense beta={beta}", n=n, samples=size, min_p=min(p))


@pytest.mark.parametrize("beta", [1, 2])
def test_laguerre_matches_dense_wishart(beta):
    """β = 1, 2 at n = 4: eigenvalues of WᵀW, W (m×n) real or complex Gaussian.

    Real W with N(0,1) entries: density ∝ |Δ| Π λ^{(m−n−1)/2} e^{−Σλ/2}; complex W
    with Re, Im ~ N(0,1): ∝ |Δ|² Π λ^{m−n} e^{−Σλ/2} — both β(m−n+1)/2 − 1.
    """
    n, m, size = 4, 7, 4000
    rng = np.random.default_rng(400 + beta)
    w = rng.standard_normal((size, m, n))
    if beta == 2:
        w = w + 1j * rng.standard_normal((size, m, n))
    dense = np.linalg.eigvalsh(np.swapaxes(w, -1, -2).conj() @ w)
    exact = tri.sample_exact(laguerre_gas(n, m, beta), size, seed=410 + beta)
    p = [assert_two_sample(exact[:, k], dense[:, k], alpha=ALPHA / n) for k in range(n)]
    report(f"laguerre vs dense Wishart beta={beta}", n=n, m=m, samples=size, min_p=min(p))


@pytest.mark.parametrize("beta", [0.5, 1.0, 3.7])
def test_gaussian_radial_law_and_trace(beta):
    """CoulombGas.gaussian(n, beta): β Σx² ~ χ²_ν, ν = n + βn(n−1)/2, for any real β.

    Hence E Σx² = n(n−1)/2 + n/β and Var Σx² = n(n−1)/β + 2n/β² (z-test, exact σ).
    """
    n, size = 6, 20000
    x = tri.sample_exact(CoulombGas.gaussian(n, beta=beta), size, seed=int(100 * beta))
    r2 = np.sum(x**2, axis=1)
    nu = n + beta * n * (n - 1) / 2
    z = assert_mean_z(r2, n * (n - 1) / 2 + n / beta, math.sqrt(n * (n - 1) / beta + 2 * n / beta**2))
    p = assert_ks(beta * r2, scipy.stats.chi2(nu), alpha=ALPHA)
    report(f"gaussian trace beta={beta}", n=n, samples=size, z_mean=z, p_ks=p)


AFFINE = {
    "dyson quadratic(2, 0.5) beta=2": lambda n: CoulombGas.dyson(potentials.Quadratic(2.0, 0.5), n, beta=2.0),
    "sgd quadratic equal g": lambda n: CoulombGas.from_sgd(potentials.Quadratic(-0.7, 1.3), 0.4, lr=0.05,
                                                           batch_size=8, n=n),
    "sgd beta=2.6 equal g": lambda n: CoulombGas.from_sgd(potentials.Quadratic(0.3, 0.9), 0.2, lr=0.1,
                                                          batch_size=2, n=n, beta=2.6),
}


def _curvature_and_centre(gas):
    """κ and m read from gas.log_density: for n = 2 it must equal β log S − κ Σ(x−m)²/2 + const."""
    _, params, _ = gas.potential.kernel_data(gas.n)
    strength = gas.drift_scale / gas.diffusion[0]
    return 2 * strength * params[0, 2], -params[0, 1] / (2 * params[0, 2])


@pytest.mark.parametrize("case", sorted(AFFINE))
def test_affine_gas_two_particles_exact_law(case):
    """n = 2: the sampled law is the gas's own log-density, checked three ways.

    1. gas.log_density(x) − [β log|x₂−x₁| − κ Σ(x_i−m)²/2] is constant (the κ, m
       used below really are the gas's);
    2. centre of mass u ~ N(m, 1/(2κ)) (KS);
    3. gap S: S√(κ/2) ~ χ_{β+1} (KS). Alpha/2 each.
    """
    gas = AFFINE[case](2)
    kappa, centre = _curvature_and_centre(gas)
    rng = np.random.default_rng(1)
    pts = centre + rng.normal(0, 3 / math.sqrt(kappa), (50, 2))
    diff = gas.log_density(pts) - (gas.beta * np.log(np.abs(pts[:, 1] - pts[:, 0]))
                                   - kappa * np.sum((pts - centre) ** 2, axis=1) / 2)
    assert np.ptp(diff) < 1e-9 * max(1.0, float(np.max(np.abs(diff))))

    x = tri.sample_exact(gas, 20000, seed=20 + sorted(AFFINE).index(case))
    p_u = assert_ks(x.mean(axis=1), scipy.stats.norm(centre, 1 / math.sqrt(2 * kappa)), alpha=ALPHA / 2)
    p_s = assert_ks((x[:, 1] - x[:, 0]) * math.sqrt(kappa / 2), scipy.stats.chi(gas.beta + 1),
                    alpha=ALPHA / 2)
    report(f"n=2 {case}", kappa=kappa, centre=centre, p_centre=p_u, p_gap=p_s)


@pytest.mark.parametrize("case", sorted(AFFINE))
def test_affine_gas_radial_law(case):
    """n = 5: κ Σ(x−m)² ~ χ²_ν, ν = n + βn(n−1)/2; mean (βn(n−1)/2 + n)/κ (z-test)."""
    n, size = 5, 20000
    gas = AFFINE[case](n)
    kappa, centre = _curvature_and_centre(gas)
    x = tri.sample_exact(gas, size, seed=30 + sorted(AFFINE).index(case))
    r2 = np.sum((x - centre) ** 2, axis=1)
    nu = n + gas.beta * n * (n - 1) / 2
    z = assert_mean_z(r2, nu / kappa, math.sqrt(2 * nu) / kappa)
    p = assert_ks(kappa * r2, scipy.stats.chi2(nu), alpha=ALPHA)
    report(f"radial {case}", n=n, z_mean=z, p_ks=p)


@pytest.mark.parametrize("make", [
    lambda n: laguerre_gas(n, 9.37, 2.5, scale=3.0),
    lambda n: laguerre_gas(n, 9.1, 0.6),
    lambda n: CoulombGas.from_sgd(potentials.Laguerre(a=0.03, scale=2.0), 0.5, lr=0.1, batch_size=4, n=n),
], ids=["dyson m=9.37 beta=2.5", "dyson m=9.1 beta=0.6", "sgd equal g"])
def test_laguerre_sum_law(make):
    """θ Σx ~ Gamma(βn(n−1)/2 + n(ρ+1)) with θ, ρ read from the gas (homogeneity); real m.

    Equivalently E Σλ = βmn for λ = x/scale (Dumitriu–Edelman's E tr B Bᵀ).
    """
    n, size = 5, 20000
    gas = make(n)
    _, params, _ = gas.potential.kernel_data(n)
    strength = gas.drift_scale / gas.diffusion[0]
    theta, rho = strength * params[0, 1], strength * params[0, 2]
    shape = gas.beta * n * (n - 1) / 2 + n * (rho + 1)
    x = tri.sample_exact(gas, size, seed=4)
    t = theta * np.sum(x, axis=1)
    z = assert_mean_z(t, shape, math.sqrt(shape))
    p = assert_ks(t, scipy.stats.gamma(shape), alpha=ALPHA)
    model = tri.exact_model(gas)
    assert_z(np.mean(np.sum(x, axis=1)) / model["scale"], gas.beta * model["m"] * n,
             math.sqrt(2 * gas.beta * model["m"] * n / size))
    report("laguerre sum law", m=model["m"], beta=gas.beta, z_mean=z, p_ks=p)


# --------------------------------------------------------------------------- large n

def _counting(x, points):
    """N_s(t) = #{eigenvalues of sample s <= t}, shape (samples, points)."""
    return np.stack([np.searchsorted(row, points, side="right") for row in x])


SEMICIRCLE_Q = np.array([-0.75, -0.5, -0.25, 0.25, 0.5, 0.75])


def _check_semicircle(beta, n, size, seed):
    """Mean counting function at bulk points vs n F_sc(t) + the 1/n correction.

    For P ∝ |Δ|^β e^{−βΣx²/2} the eigenvalues fill the semicircle of radius
    R = √(2n). The expected number below t in the bulk is

        E N(t) = n F_sc(t) − (1/β − 1/2) arcsin(t/R)/π + O(1/n)

    (the O(1/N) term of the GβE density, Witte & Forrester 2014: mass moves from
    the bulk to the edges for β < 2; zero at β = 2; confirmed here with z-scores
    ~N(0,1) at n = 300 with 3000 samples for β = 1, 2, 3.7). N_s(t) are independent
    over samples, so a z-test with the sample standard error applies (z = 4 per
    point; 6 points: false alarm < 4e-4). Rigidity (Var N = O(log n)) makes this
    sharp: a 1 % error in R shifts N(R/2) by ≈ 0.0028 n counts, ~20 standard errors
    at n = 300, 300 samples.
    """
    R = math.sqrt(2 * n)
    x = tri.sample_exact(CoulombGas.gaussian(n, beta=beta), size, seed=seed)
    t = SEMICIRCLE_Q * R
    counts = _counting(x, t)
    expected = n * theory.semicircle(R).cdf(t) - (1 / beta - 0.5) * np.arcsin(SEMICIRCLE_Q) / math.pi
    se = counts.std(axis=0, ddof=1) / math.sqrt(size)
    z = assert_z(counts.mean(axis=0), expected, se)
    # The second moment pins the radius exactly at finite n (see test_gaussian_radial_law_and_trace).
    z2 = assert_mean_z(np.mean(x**2, axis=1) / (R**2 / 4), 1 + (2 / beta - 1) / n)
    return z, z2


@pytest.mark.parametrize("beta", [2.0, 0.5, 3.7])
def test_large_n_semicircle(beta):
    z, z2 = _check_semicircle(beta, n=300, size=300, seed=int(10 * beta))
    report(f"semicircle beta={beta}", n=300, samples=300, max_z_counting=z, z_second_moment=z2)


def _check_marchenko_pastur(n, size, seed):
    """β = 2, m = 2n: λ/(2m) follows Marchenko–Pastur with ratio n/m = 1/2.

    Complex Wishart W*W/m with E|w|² = 2 → MP(λ, σ² = 2); the model with
    θ = 1/2 is exactly that (β = 2, integer m). Its moments have a genus expansion
    in 1/n² at fixed m/n, so E N(t) = n F_MP(t) + O(1/n) in the bulk: z-test at 5
    quantiles (z = 4, false alarm < 3.2e-4). For β ≠ 2 the O(1) correction also
    depends on the O(1) parts of the exponent β(m−n+1)/2 − 1, so those are tested
    by the exact sum law and the Wishart comparison instead.
    """
    m, beta = 2 * n, 2.0
    law = theory.marchenko_pastur(n / m)
    x = tri.sample_exact(laguerre_gas(n, m, beta), size, seed=seed) / (beta * m)
    q = np.array([0.15, 0.3, 0.5, 0.7, 0.85])
    counts = _counting(x, law.ppf(q))
    se = counts.std(axis=0, ddof=1) / math.sqrt(size)
    return assert_z(counts.mean(axis=0), n * q, se)


def test_large_n_marchenko_pastur():
    z = _check_marchenko_pastur(n=300, size=300, seed=31)
    report("marchenko-pastur beta=2", n=300, samples=300, max_z=z)


@pytest.mark.slow
def test_large_n_laws_slow(slow_scale):
    # About 40 s at slow_scale = 1 (n = 1000: ~14 ms per spectrum).
    size = max(50, int(500 * slow_scale))
    for beta in (2.0, 0.5, 3.7):
        z, z2 = _check_semicircle(beta, n=1000, size=size, seed=500 + int(10 * beta))
        report(f"slow semicircle beta={beta}", n=1000, samples=size, max_z_counting=z, z_second_moment=z2)
    z = _check_marchenko_pastur(n=1000, size=size, seed=531)
    report("slow marchenko-pastur beta=2", n=1000, samples=size, max_z=z)


def test_sample_exact_refuses_a_request_over_memory_before_drawing():
    from coulombgas import CoulombGas
    from coulombgas.tridiagonal import sample_exact

    with pytest.raises(ValueError, match=r"`n_samples` × `n`.*would need about"):
        sample_exact(CoulombGas.gaussian(1000), 10**12, seed=0)
