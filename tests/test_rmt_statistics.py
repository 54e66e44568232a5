"""Cross-checks of coulombgas.theory and coulombgas.spectra against sampled random matrices.

Every matrix here is drawn with plain numpy from a fixed seed, and every stochastic
assertion has a tolerance derived from the sample size (tests/stats.py):

- KS tests at alpha = 1e-3: a false alarm in 1 of 1000 seeds when the law is right.
  Levels of one spectrum are correlated (spacings and ratios of neighbours,
  rigid eigenvalues), which makes the pooled KS *conservative*: its fluctuations
  are smaller than for i.i.d. draws (observed p-values are correspondingly high);
- z-scores at z = 4 (false alarm 6.3e-5, two-sided), always from statistics that
  are independent across matrices (per-matrix means), never from correlated levels;
- "rejects the wrong law" checks only where a computed sample size guarantees the
  power (stated next to each test).

Normalisation: H = (A + Aᵀ)/2 with A i.i.d. N(0, 1) has density ∝ exp(−tr H²/2),
diagonal variance 1, off-diagonal variance 1/2, and semicircle radius
R = 2√(n · 1/2) = √(2n). The GUE used here, H = (A + A†)/2 with
A = (X + iY)/√2, has E|H_ij|² = 1/2 too, density ∝ exp(−tr H²) and R = √(2n).

Large samples (the slow tests, ~10⁶ levels) use the Dumitriu–Edelman tridiagonal
model, which has exactly the same eigenvalue law (checked against dense matrices
below) at O(n²) instead of O(n³) per matrix.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import math
import os

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
from scipy.linalg import lapack
from stats import assert_ks, assert_mean_z, assert_two_sample, assert_z

from coulombgas import spectra, theory

RNG = np.random.default_rng
KS_ALPHA = 1e-3
# sqrt(n) * D above which the (asymptotic) KS p-value is below KS_ALPHA: 1.9495.
KS_CRIT = float(scipy.stats.kstwobign.isf(KS_ALPHA))


def report(name, **values):
    """Print the observed statistics (shown with ``pytest -s``)."""
    text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
    print(f"\n[{name}] {text}")


def ks(data, law):
    res = scipy.stats.kstest(np.ravel(data), law.cdf)
    return float(res.statistic), float(res.pvalue)


def sup_cdf_distance(law_a, law_b, hi=6.0):
    """sup_s |F_a(s) − F_b(s)| on a fine grid (both laws smooth, mass beyond `hi` < 1e-12)."""
    s = np.linspace(0.0, hi, 60001)
    return float(np.max(np.abs(law_a.cdf(s) - law_b.cdf(s))))


def ks_power_size(distance, margin=2.0):
    """Samples for which a KS test rejects a law at distance `distance` with p < KS_ALPHA.

    D_n >= distance − |F_n(s*) − F(s*)| at the point s* of largest distance, and the
    last term has std <= 0.5/sqrt(n) for independent samples (smaller still for the
    negatively correlated neighbouring spacings of a spectrum). Requiring
    sqrt(n) * distance >= KS_CRIT + margin, i.e. a 4-sigma margin for margin = 2,
    makes a miss a < 3e-5 event.
    """
    return math.ceil(((KS_CRIT + margin) / distance) ** 2)


# --------------------------------------------------------------------------- BLAS threads

def _openblas_thread_api():
    """(get, set) thread-count functions of the OpenBLAS bundled with numpy, or None."""
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    names = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
             ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
             ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
             ("openblas_get_num_threads", "openblas_set_num_threads")]
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: this only gets a handle
        except OSError:
            continue
        for get_name, set_name in names:
            get, set_ = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and set_ is not None:
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None


@contextlib.contextmanager
def single_threaded_blas():
    """Limit numpy's BLAS to one thread (threadpoolctl if installed, else numpy's OpenBLAS).

    Many small eigvalsh calls on a loaded 2-core machine ran 10–20x slower with
    OpenBLAS threads than single-threaded (measured: 200 GOE matrices, n = 200:
    8–9 s vs 0.4 s). Without either route this is a no-op (slower, same results).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
        return
    api = _openblas_thread_api()
    if api is None:
        yield
        return
    get, set_ = api
    before = get()
    set_(1)
    try:
        yield
    finally:
        set_(before)


@pytest.fixture(scope="module", autouse=True)
def _blas_one_thread():
    with single_threaded_blas():
        yield


# --------------------------------------------------------------------------- samplers

def goe(rng, n, size, batch=25):
    """Ascending eigenvalues, shape (size, n), of H = (A + Aᵀ)/2, A i.i.d. N(0, 1)."""
    out = []
    for start in range(0, size, batch):
        a = rng.standard_normal((min(batch, size - start), n, n))
        out.append(np.linalg.eigvalsh(0.5 * (a + np.swapaxes(a, -1, -2))))
    return np.concatenate(out)


def gue(rng, n, size, batch=25):
    """Ascending eigenvalues of H = (A + A†)/2, A = (X + iY)/√2, X, Y i.i.d. N(0, 1)."""
    out = []
    for start in range(0, size, batch):
        shape = (min(batch, size - start), n, n)
        a = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)
        out.append(np.linalg.eigvalsh(0.5 * (a + np.swapaxes(a, -1, -2).conj())))
    return np.concatenate(out)


def dense(beta, rng, n, size):
    return goe(rng, n, size) if beta == 1 else gue(rng, n, size)


def tridiagonal(beta, rng, n, size):
    """Eigenvalues of the Dumitriu–Edelman β-Hermite model, scaled to match goe()/gue().

    The symmetric tridiagonal matrix with diagonal N(0, 1/β) and off-diagonal
    χ_{βk}/√(2β), k = n−1, …, 1, has eigenvalue density ∝ |Δ(λ)|^β exp(−β Σλ²/2)
    (Dumitriu & Edelman, J. Math. Phys. 43, 5830 (2002), scaled by 1/√β): the law
    of goe() for β = 1 and of gue() for β = 2. LAPACK dsterf (eigenvalues only,
    no BLAS) costs O(n²).
    """
    diag = rng.standard_normal((size, n)) / math.sqrt(beta)
    off = np.sqrt(rng.chisquare(beta * np.arange(n - 1, 0, -1.0), size=(size, n - 1)) / (2.0 * beta))
    out = np.empty((size, n))
    for i in range(size):
        out[i], info = lapack.dsterf(diag[i], off[i])
        assert info == 0
    return out


def bulk(ev):
    """The central half of each spectrum, by index: levels n/4 … 3n/4."""
    n = ev.shape[-1]
    return ev[..., n // 4: 3 * n // 4 + 1]


def bulk_spacings(ev):
    """Spacings of the central half, unfolded by the semicircle of radius √(2n), mean 1."""
    n = ev.shape[-1]
    xi = spectra.unfold(bulk(ev), theory.semicircle(math.sqrt(2.0 * n)), n=n)
    return spectra.normalized_spacings(xi)


# Module-level samples shared between tests (each built once, when first needed).
DENSE_N, DENSE_MATRICES = 200, 200


@pytest.fixture(scope="module")
def goe_dense():
    return goe(RNG(20240601), DENSE_N, DENSE_MATRICES)


@pytest.fixture(scope="module")
def gue_dense():
    return gue(RNG(20240602), DENSE_N, DENSE_MATRICES)


# --------------------------------------------------------------------------- 1. 2x2 matrices

# Exact mean spacing of the 2x2 matrices above: S = sqrt((a−d)² + 4|b|²) with
# (a − d), 2 Re b, 2 Im b independent N(0, 2) (GOE: S = √2 χ₂, mean √π) or N(0, 1)
# (GUE: S = χ₃, mean 2√(2/π)).
MEAN_SPACING_2X2 = {1: math.sqrt(math.pi), 2: 2.0 * math.sqrt(2.0 / math.pi)}
PAIRS = 20_000


@pytest.mark.parametrize("beta", [1, 2])
def test_2x2_spacings_follow_wigner_surmise(beta):
    ev = dense(beta, RNG(100 + beta), 2, PAIRS)
    raw = spectra.spacings(ev).ravel()
    s = spectra.normalized_spacings(ev).ravel()
    assert s.size == PAIRS and abs(s.mean() - 1.0) < 1e-12
    # Normalising by the sample mean estimates one scale parameter, which only makes
    # the KS p-value conservative (Lilliefors); the mean itself is checked exactly.
    p = assert_ks(s, theory.wigner_surmise(beta), alpha=KS_ALPHA)
    z = assert_mean_z(raw, MEAN_SPACING_2X2[beta])
    D, _ = ks(s, theory.wigner_surmise(beta))
    report(f"2x2 beta={beta}", n=PAIRS, D=D, p=p, z_mean=z)


@pytest.mark.parametrize("beta, wrong", [(1, 2), (2, 1)])
def test_2x2_spacings_reject_the_other_surmise(beta, wrong):
    # sup|F_surmise(1) − F_surmise(2)| = 0.0681 (at s ≈ 0.57), so
    # ks_power_size = ((1.95 + 2)/0.0681)² ≈ 3.4e3 samples suffice; 20,000 are used.
    distance = sup_cdf_distance(theory.wigner_surmise(1), theory.wigner_surmise(2))
    assert PAIRS >= ks_power_size(distance)
    s = spectra.normalized_spacings(dense(beta, RNG(110 + beta), 2, PAIRS))
    D, p = ks(s, theory.wigner_surmise(wrong))
    report(f"2x2 beta={beta} vs surmise({wrong})", n=PAIRS, distance=distance, D=D, p=p)
    assert p < KS_ALPHA


# --------------------------------------------------------------------------- 2. bulk spacings

def test_tridiagonal_model_matches_dense_matrices():
    """The β-Hermite sampler of the slow tests has the law of goe()/gue().

    One statistic per matrix (independent samples): the largest eigenvalue and the
    middle spacing, two-sample KS at alpha = 1e-3 each; and tr H² = Σλ², whose mean is
    exactly n(n+1)/2 (GOE) and n²/2 (GUE) for the normalisation above (z = 4).
    """
    n, size = 100, 400
    for beta in (1, 2):
        a, b = dense(beta, RNG(200 + beta), n, size), tridiagonal(beta, RNG(210 + beta), n, size)
        mid = n // 2
        p_max = assert_two_sample(a[:, -1], b[:, -1], alpha=KS_ALPHA)
        p_mid = assert_two_sample(a[:, mid] - a[:, mid - 1], b[:, mid] - b[:, mid - 1], alpha=KS_ALPHA)
        trace = n * (n + 1) / 2 if beta == 1 else n * n / 2
        z_dense = assert_mean_z(np.sum(a**2, axis=-1), trace)
        z_tri = assert_mean_z(np.sum(b**2, axis=-1), trace)
        report(f"tridiagonal vs dense beta={beta}", n=n, matrices=size, p_lambda_max=p_max,
               p_mid_spacing=p_mid, z_trace_dense=z_dense, z_trace_tridiagonal=z_tri)


@pytest.mark.parametrize("beta", [1, 2])
def test_bulk_spacings_follow_gaudin_mehta(beta, goe_dense, gue_dense):
    # 200 matrices, n = 200: 20,000 bulk spacings; KS resolves D ≈ 1.95/√n = 0.014.
    # Finite-n bias of semicircle unfolding in the central half: the 1/n density
    # correction, −1/(4n) relative at the centre, is removed by the mean-1
    # normalisation up to its variation over the bulk (~0.05/n = 2.5e-4); measured
    # D against the exact law stays < 7e-4 even for n = 50 at 1.2e6 spacings.
    ev = goe_dense if beta == 1 else gue_dense
    s = bulk_spacings(ev)
    p = assert_ks(s, theory.spacing(beta), alpha=KS_ALPHA)
    D, _ = ks(s, theory.spacing(beta))
    report(f"bulk spacings beta={beta}", n=DENSE_N, matrices=len(ev), spacings=s.size, D=D, p=p)


# Slow sample: GOE bulk spacings from the tridiagonal model, n = 100 (50 per matrix).
#   sup|F_spacing(1) − F_surmise(1)| = 0.00657 (at s ≈ 0.70), so
#   ks_power_size = ((1.95 + 2)/0.00657)² ≈ 3.62e5 spacings reject the surmise at
#   p < 1e-3 with a 4-sigma margin. The floor keeps that power at any slow_scale;
#   at slow_scale = 1 the sample is 1.2e6. Measured at the floor (6 seeds): p_surmise
#   1e-18 – 2e-15, p_exact 0.42–0.97; at 1.2e6: D_surmise ≈ 0.0065, p ~ 1e-44,
#   D_exact ≈ 4–7e-4, p ≈ 0.65–0.98.
#   For GUE the distance is only 0.00155: 6.5e6 spacings, ~30 s here; not done.
SLOW_N = 100
GOE_SPACINGS_FULL = 1_200_000


@pytest.fixture(scope="module")
def goe_slow(slow_scale):
    per_matrix = SLOW_N // 2
    distance = sup_cdf_distance(theory.spacing(1), theory.wigner_surmise(1))
    target = max(ks_power_size(distance), round(slow_scale * GOE_SPACINGS_FULL))
    ev = tridiagonal(1, RNG(300), SLOW_N, -(-target // per_matrix))
    return ev, distance


@pytest.mark.slow
def test_goe_bulk_spacings_resolve_exact_law_from_surmise(goe_slow):
    ev, distance = goe_slow
    s = bulk_spacings(ev)
    assert s.size >= ks_power_size(distance)
    p_exact = assert_ks(s, theory.spacing(1), alpha=KS_ALPHA)
    D_exact, _ = ks(s, theory.spacing(1))
    D_surmise, p_surmise = ks(s, theory.wigner_surmise(1))
    report("GOE bulk exact vs surmise", n=SLOW_N, matrices=len(ev), spacings=s.size,
           distance=distance, needed=ks_power_size(distance), D_exact=D_exact, p_exact=p_exact,
           D_surmise=D_surmise, p_surmise=p_surmise)
    assert p_surmise < KS_ALPHA, f"surmise not rejected: D = {D_surmise:.4g}, p = {p_surmise:.3g}"


# --------------------------------------------------------------------------- 3. gap ratios

# Large-n means of r̃ (Atas, Bogomolny, Giraud, Roux, PRL 110, 084101 (2013)).
RATIO_LARGE_N = {1: (0.5307, 1e-4), 2: (0.5996, 1e-4)}


def check_ratio_mean(ev, beta, name, require_resolved=False):
    """⟨r̃⟩ of the bulk agrees with the large-n value, and differs from the surmise if resolvable.

    Neighbouring ratios share a spacing and are correlated (positively: the per-matrix
    standard error is ~1.2x the naive one), so the error comes from the per-matrix means,
    which are independent; the reference's own error is added in quadrature.
    Resolvable: |surmise − reference| >= 8 errors, so that agreement within 4 errors
    with the one forces a distance of >= 4 errors from the other.
    """
    per_matrix = spectra.gap_ratios(bulk(ev)).mean(axis=-1)
    mean = float(per_matrix.mean())
    ref, ref_error = RATIO_LARGE_N[beta]
    error = math.hypot(per_matrix.std(ddof=1) / math.sqrt(per_matrix.size), ref_error)
    z_ref = assert_z(mean, ref, error)
    surmise = float(theory.gap_ratio(beta).mean())
    resolvable = abs(surmise - ref) >= 8.0 * error
    z_surmise = abs(mean - surmise) / error
    report(name, matrices=per_matrix.size, ratios=per_matrix.size * (bulk(ev).shape[-1] - 2),
           mean=mean, error=error, z_ref=z_ref, surmise=surmise, z_surmise=z_surmise,
           resolvable=resolvable)
    if require_resolved:
        assert resolvable, f"sample too small to resolve the surmise: error {error:.3g}"
    if resolvable:
        assert z_surmise >= 4.0, f"⟨r̃⟩ = {mean:.5f} not distinguished from the surmise {surmise:.5f}"


@pytest.mark.parametrize("beta", [1, 2])
def test_gap_ratio_mean_large_n(beta, goe_dense, gue_dense):
    # 200 matrices x 99 ratios: error ≈ 2e-3, far from the 8 x error needed to tell
    # the large-n mean from the surmise's (gaps 5.2e-3 GOE, 3.1e-3 GUE): agreement only.
    check_ratio_mean(goe_dense if beta == 1 else gue_dense, beta, f"gap ratio dense beta={beta}")


# Per-ratio effective standard deviation of the mean (measured at n = 100, central half,
# from per-matrix means): 0.31 (GOE), 0.29 (GUE). Resolving the surmise needs
# sqrt(σ²/N + 1e-8) <= gap/8: N >= 2.3e5 ratios (GOE, gap 5.2e-3) and 6.2e5 (GUE, gap
# 3.06e-3); floors with ~10% margin below. The GOE sample is the slow spacing sample.
GUE_RATIOS_FLOOR, GUE_RATIOS_FULL = 680_000, 1_000_000


@pytest.mark.slow
def test_gap_ratio_mean_resolves_surmise_goe(goe_slow):
    ev, _ = goe_slow
    assert ev.shape[0] * (bulk(ev).shape[-1] - 2) >= 250_000
    check_ratio_mean(ev, 1, "gap ratio GOE slow", require_resolved=True)


@pytest.mark.slow
def test_gap_ratio_mean_resolves_surmise_gue(slow_scale):
    per_matrix = SLOW_N // 2 - 1
    target = max(GUE_RATIOS_FLOOR, round(slow_scale * GUE_RATIOS_FULL))
    ev = tridiagonal(2, RNG(400), SLOW_N, -(-target // per_matrix))
    check_ratio_mean(ev, 2, "gap ratio GUE slow", require_resolved=True)


# --------------------------------------------------------------------------- 4. Marchenko–Pastur

MP_MATRICES = 200


def wishart_eigenvalues(rng, m, n, sigma, size, batch=25):
    """Non-zero eigenvalues of X = (1/M) WᵀW, W (M x N) i.i.d. N(0, σ²): min(M, N) per matrix.

    For N > M they are computed from (1/M) W Wᵀ (M x M), which has the same non-zero
    eigenvalues (checked in test_marchenko_pastur_rank_deficient_case).
    """
    out = []
    for start in range(0, size, batch):
        w = sigma * rng.standard_normal((min(batch, size - start), m, n))
        wt = np.swapaxes(w, -1, -2)
        out.append(np.linalg.eigvalsh((wt @ w if n <= m else w @ wt) / m))
    return np.concatenate(out)


@pytest.mark.parametrize("m, n", [(400, 100), (100, 400)])
def test_marchenko_pastur(m, n):
    sigma = 1.3
    ratio = n / m
    law = theory.marchenko_pastur(ratio, sigma)
    ev = wishart_eigenvalues(RNG(500 + n), m, n, sigma, MP_MATRICES)
    # KS on 200 x 100 = 20,000 pooled eigenvalues. They are rigid within a matrix, so
    # the pooled KS is conservative; what remains is the finite-size bias of the mean
    # density (1/N corrections, soft edges), measured D ≈ 0.0024 with 2e5 eigenvalues
    # of these sizes, i.e. √n·D ≈ 0.34 here, far below the 1.95 of p = 1e-3: at these
    # sizes a pooled KS stays honest up to n ≈ (1.95/0.0024)² ≈ 6.6e5 eigenvalues.
    p = assert_ks(ev, law, alpha=KS_ALPHA)
    D, _ = ks(ev, law)
    # Mean and variance, from per-matrix statistics (independent across matrices), with
    # k = min(M, N) eigenvalues per matrix. Exactly, at any size: the mean eigenvalue
    # has E = σ² max(1, λ) (= the law's mean) and, as tr WᵀW ~ σ²χ²_{MN}, variance
    # 2MNσ⁴/(Mk)²; E tr (WᵀW)² = σ⁴MN(M + N + 1) gives E[mean eigenvalue²] =
    # σ⁴ max(1, λ)(1 + λ + 1/M). So the within-matrix variance has expectation
    #     law.var() + σ⁴ max(1, λ)/M − 2MNσ⁴/(Mk)².
    # The 1/N relative correction to law.var() is resolved already here (z ≈ 6 against
    # law.var() alone, measured), so the exact finite-size value is the target.
    k = min(m, n)
    first, spread = ev.mean(axis=-1), ev.var(axis=-1)
    z_mean = assert_mean_z(first, float(law.mean()))
    exact_var = float(law.var()) + sigma**4 * max(1.0, ratio) / m - 2.0 * m * n * sigma**4 / (m * k) ** 2
    z_var = assert_mean_z(spread, exact_var)
    z_var_limit = abs(spread.mean() - float(law.var())) / (spread.std(ddof=1) / math.sqrt(spread.size))
    assert law.mean() == pytest.approx(sigma**2 * max(1.0, ratio), rel=1e-12)
    assert law.var() == pytest.approx(sigma**4 * ratio, rel=1e-12)
    report(f"Marchenko-Pastur M={m} N={n}", matrices=MP_MATRICES, eigenvalues=ev.size, D=D, p=p,
           z_mean=z_mean, z_variance=z_var, z_variance_vs_limit=z_var_limit)


def test_marchenko_pastur_rank_deficient_case():
    # λ = N/M > 1: X = (1/M) WᵀW (N x N) has N − M zero eigenvalues, and its others are
    # those of (1/M) W Wᵀ, the ones the λ > 1 law describes (deterministic check).
    m, n, sigma = 100, 400, 1.3
    rng = RNG(600)
    for _ in range(2):
        w = sigma * rng.standard_normal((m, n))
        full = np.linalg.eigvalsh(w.T @ w / m)
        small = np.linalg.eigvalsh(w @ w.T / m)
        scale = full[-1]
        assert np.all(np.abs(full[: n - m]) <= 1e-10 * scale)
        np.testing.assert_allclose(full[n - m:], small, rtol=0, atol=1e-10 * scale)


# --------------------------------------------------------------------------- 5. number variance

def sigma2_goe(L):
    """Σ²(L) of the sine-kernel GOE (Mehta 2004, §16.1): 2Σ²_GUE(L) + Si(πL)²/π² − Si(πL)/π,
    Σ²_GUE(L) = [ln 2πL + γ + 1 − cos 2πL − Ci(2πL)]/π² + L[1 − (2/π) Si(2πL)].
    """
    si2, ci2 = scipy.special.sici(2.0 * np.pi * L)
    si1, _ = scipy.special.sici(np.pi * L)
    gue_ = (np.log(2.0 * np.pi * L) + np.euler_gamma + 1.0 - np.cos(2.0 * np.pi * L) - ci2) / np.pi**2 \
        + L * (1.0 - 2.0 / np.pi * si2)
    return 2.0 * gue_ + si1**2 / np.pi**2 - si1 / np.pi


def test_sigma2_goe_reference():
    # The closed form against L − 2∫₀ᴸ (L − r) Y₂(r) dr with the GOE cluster function
    # Y₂ = S² + S'(1/2 − Si(πr)/π), S = sin(πr)/(πr) (Mehta ch. 7), and its large-L form.
    def y2(r):
        s = np.sinc(r)
        ds = (np.pi * r * np.cos(np.pi * r) - np.sin(np.pi * r)) / (np.pi * r * r)
        return s * s + ds * (0.5 - scipy.special.sici(np.pi * r)[0] / np.pi)

    for L in (0.5, 2.0, 5.0):
        direct = L - 2.0 * scipy.integrate.quad(lambda r: (L - r) * y2(r), 0.0, L, limit=200)[0]
        assert sigma2_goe(L) == pytest.approx(direct, abs=1e-9)
    large = (2 / np.pi**2) * (np.log(2 * np.pi * 50.0) + np.euler_gamma + 1 - np.pi**2 / 8)
    assert sigma2_goe(50.0) == pytest.approx(large, abs=1e-3)


def test_goe_number_variance_below_poisson(goe_dense):
    # 200 GOE spectra, n = 200, unfolded by the semicircle; Σ² over the central half
    # (unfolded [50, 150]), errors by jackknife over the (independent) spectra.
    L = np.array([2.0, 3.0, 4.0, 5.0])
    xi = spectra.unfold(goe_dense, theory.semicircle(math.sqrt(2.0 * DENSE_N)))
    nv = spectra.number_variance(xi, L)
    expected = sigma2_goe(L)
    z = assert_z(nv.variance, expected, nv.error)              # sine-kernel GOE, z = 4
    below = (L - nv.variance) / nv.error                      # Poisson: Σ² = L
    assert np.all(below >= 4.0)
    assert nv.variance[-1] + 4.0 * nv.error[-1] < 1.5         # Σ²(5) < 1.5
    report("GOE number variance", n=DENSE_N, spectra=len(goe_dense),
           sigma2=np.round(nv.variance, 4).tolist(), error=np.round(nv.error, 4).tolist(),
           expected=np.round(expected, 4).tolist(), max_z=z,
           poisson_z=np.round(below, 1).tolist())
