"""Coulomb forces: compiled kernels and the fast multipole method against a slow NumPy reference."""

import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

from coulombgas import _fmm, _pairs, forces
from coulombgas.forces import coulomb_energy, coulomb_force
from reference import reference_energy, reference_force



def error(force, ref):
    """The documented error measure: max_i |F_i - F_i^ref| / max_j |F_j^ref|."""
    return np.max(np.abs(force - ref)) / np.max(np.abs(ref))


def configuration(kind, n, rng):
    """Sorted test points of the kinds the fast method must handle."""
    if kind == "uniform":  # independent points: close pairs make max|F| large
        x = rng.uniform(-1.0, 1.0, n)
    elif kind == "gaussian":
        x = rng.standard_normal(n)
    elif kind == "semicircle":  # rigid like eigenvalues: jittered quantiles of the semicircle on [-2, 2]
        t = np.linspace(-2.0, 2.0, 20001)
        cdf = 0.5 + (t * np.sqrt(4.0 - t * t) / 4.0 + 2.0 * np.arcsin(t / 2.0)) / (2.0 * np.pi)
        x = np.interp((np.arange(n) + rng.uniform(0.3, 0.7, n)) / n, cdf, t)
    elif kind == "lattice":  # the hardest case for the error measure: nothing inflates max|F|
        x = np.linspace(-1.0, 1.0, n)
    elif kind == "clustered":  # clusters of width 1e-6, O(1) apart, unequal populations
        sizes = rng.multinomial(n, [0.1, 0.4, 0.2, 0.2, 0.1])
        x = np.concatenate([c + 1e-6 * (np.arange(m) + rng.uniform(0.1, 0.9, m)) / m
                            for c, m in zip((-3.0, -1.0, 0.5, 2.0, 7.0), sizes)])
    elif kind == "graded":  # spacings from 1e-13 to O(1), exponentially graded towards 0
        x = np.exp(np.linspace(-30.0, 2.0, n) + rng.uniform(-0.2, 0.2, n) * 32.0 / n)
    else:
        raise ValueError(kind)
    x = np.sort(x)
    assert np.all(np.diff(x) > 0)
    return x


KINDS = ["uniform", "gaussian", "semicircle", "lattice", "clustered", "graded"]


@pytest.fixture
def rng():
    return np.random.default_rng(20240917)


@pytest.mark.parametrize("n", [2, 3, 5, 16, 17, 50, 300, 1000])
@pytest.mark.parametrize("weighted", [False, True])
def test_direct_kernels_match_reference(n, weighted, rng):
    x = configuration("gaussian", n, rng)
    w = rng.uniform(0.1, 3.0, n) if weighted else np.ones(n)
    ref = reference_force(x, w)
    for kernel in (_pairs.direct_force, _pairs.direct_force_parallel):
        out = np.empty(n)
        kernel(x, w, out)
        assert error(out, ref) < 1e-12, kernel.__name__


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [2, 3, 50, 5000])
@pytest.mark.parametrize("weighted", [False, True])
def test_fast_matches_reference(kind, n, weighted, rng):
    x = configuration(kind, n, rng)
    w = rng.uniform(0.1, 3.0, n) if weighted else np.ones(n)
    ref = reference_force(x, w)
    assert error(coulomb_force(x, w, method="fast"), ref) <= 1e-8


@pytest.mark.parametrize("kind", KINDS)
def test_fast_matches_reference_large(kind, rng):
    n = 20_000
    x = configuration(kind, n, rng)
    w = rng.uniform(0.1, 3.0, n)
    ref = reference_force(x, w)
    fast = coulomb_force(x, w, method="fast")
    assert error(fast, ref) <= 1e-8
    # Per-point relative error where the force is not a near-cancellation
    # (bounded by 1e3 times the error above, by construction).
    big = np.abs(ref) > 1e-3 * np.max(np.abs(ref))
    assert np.max(np.abs(fast - ref)[big] / np.abs(ref[big])) <= 1e-5


@pytest.mark.parametrize("tol", [1e-4, 1e-6, 1e-9, 1e-12])
@pytest.mark.parametrize("kind", ["lattice", "offset clusters"])
def test_fast_meets_requested_tolerance(tol, kind, rng):
    if kind == "offset clusters":
        # Clusters of width 1e-6 far from 0: the FMM must work with differences
        # of node centres (absolute positions would lose 1e-16 * 100 / 1e-6).
        x = np.sort(rng.choice([100.0, 101.5, 103.0], 3000) + 1e-6 * rng.random(3000))
    else:
        x = configuration(kind, 4000, rng)
    w = np.ones(x.size)
    ref = reference_force(x, w)
    assert error(coulomb_force(x, method="fast", tol=tol), ref) <= tol


def test_fast_error_shrinks_with_order(rng):
    x = configuration("lattice", 3000, rng)
    w = np.ones(x.size)
    ref = reference_force(x, w)
    errors = []
    for order in (4, 8, 12):
        out = np.empty(x.size)
        _fmm.fast_force(x, w, out, order, _fmm.LEAF_SIZE)
        errors.append(error(out, ref))
    # Chebyshev interpolation converges geometrically (about 5.8x per order).
    assert errors[0] > 50 * errors[1] > 50 * 50 * errors[2]


def test_fast_kernel_flags_unsorted_input(rng):
    x = rng.permutation(configuration("uniform", 100, rng))
    out = np.zeros(x.size)
    _fmm.fast_force(x, np.ones(x.size), out, 8, _fmm.LEAF_SIZE)
    assert np.all(np.isnan(out))


@pytest.mark.parametrize("method", ["direct", "fast"])
@pytest.mark.parametrize("n", [3, 400, 5000])
def test_unsorted_input_gives_sorted_answer(method, n, rng):
    x = configuration("gaussian", n, rng)
    w = rng.uniform(0.5, 2.0, n)
    perm = rng.permutation(n)
    sorted_force = coulomb_force(x, w, method=method)
    np.testing.assert_array_equal(coulomb_force(x[perm], w[perm], method=method), sorted_force[perm])


def test_auto_switches_at_the_crossover(rng):
    for n in (forces.FAST_CROSSOVER - 1, forces.FAST_CROSSOVER):
        x = configuration("uniform", n, rng)
        expected = "fast" if n >= forces.FAST_CROSSOVER else "direct"
        np.testing.assert_array_equal(coulomb_force(x), coulomb_force(x, method=expected))


def test_same_bits_for_any_thread_count(rng):
    x = configuration("semicircle", 6000, rng)
    w = rng.uniform(0.5, 2.0, x.size)
    threads = numba.get_num_threads()
    results = {}
    try:
        for t in sorted({1, threads}):
            numba.set_num_threads(t)
            results[t] = [coulomb_force(x, w, method=m) for m in ("direct", "fast")]
    finally:
        numba.set_num_threads(threads)
    for direct, fast in results.values():
        np.testing.assert_array_equal(direct, results[1][0])
        np.testing.assert_array_equal(fast, results[1][1])


def test_physics_sanity(rng):
    # Symmetric points feel opposite forces; with equal weights the forces
    # cancel in total (Newton's third law); weights scale the force linearly.
    half = np.sort(rng.random(200)) + 0.1
    x = np.concatenate([-half[::-1], half])
    for method in ("direct", "fast"):
        f = coulomb_force(x, method=method)
        np.testing.assert_allclose(f, -f[::-1], rtol=0, atol=1e-9 * np.max(np.abs(f)))
        assert abs(np.sum(f)) <= 1e-9 * np.max(np.abs(f)) * x.size
        np.testing.assert_allclose(coulomb_force(x, 2.5, method=method), 2.5 * f, rtol=1e-12)
    np.testing.assert_allclose(coulomb_force([0.0, 2.0]), [-0.5, 0.5])


def test_energy_matches_reference_and_gradient(rng):
    x = configuration("gaussian", 40, rng)
    w = rng.uniform(0.5, 2.0, x.size)
    ones = np.ones(x.size)
    assert coulomb_energy(x) == pytest.approx(reference_energy(x, ones), rel=1e-13)
    assert coulomb_energy(x, w) == pytest.approx(reference_energy(x, w), rel=1e-13)
    assert coulomb_energy(x[::-1]) == pytest.approx(coulomb_energy(x), rel=1e-13)
    # -dE/dx_i = w_i F_i (central differences).
    h = 1e-7
    for i in (0, 17, 39):
        step = np.zeros(x.size)
        step[i] = h
        grad = (coulomb_energy(x + step, w) - coulomb_energy(x - step, w)) / (2 * h)
        assert -grad == pytest.approx(w[i] * coulomb_force(x, w)[i], rel=1e-6)
    assert coulomb_energy([0.0, 1.0, 1.0]) == np.inf


def test_kernels_do_not_raise_on_coincident_points():
    x = np.array([0.0, 1.0, 1.0, 2.0])
    out = np.empty(4)
    _pairs.direct_force(x, np.ones(4), out)
    assert not np.all(np.isfinite(out))
    big = np.concatenate([np.linspace(0, 1, 501), [0.5]])  # 0.5 twice
    big.sort()
    out = np.empty(big.size)
    _pairs.direct_force_parallel(big, np.ones(big.size), out)
    assert not np.all(np.isfinite(out))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(x=[[0.0, 1.0], [2.0, 3.0]]), ValueError, "`x`"),
        (dict(x=[1.0]), ValueError, "`x`"),
        (dict(x=5.0), ValueError, "`x`"),
        (dict(x=[0.0, np.nan, 1.0]), ValueError, "`x` must contain only finite"),
        (dict(x=[0.0, np.inf]), ValueError, "`x` must contain only finite"),
        (dict(x=["a", "b"]), TypeError, "`x`"),
        (dict(x=[0.0, 1.0, 0.0]), ValueError, "`x` must not contain coincident points"),
        (dict(x=[0.0, 1.0], weights=[1.0, 0.0]), ValueError, "`weights`"),
        (dict(x=[0.0, 1.0], weights=-1.0), ValueError, "`weights`"),
        (dict(x=[0.0, 1.0], weights=[1.0, 2.0, 3.0]), ValueError, "`weights`"),
        (dict(x=[0.0, 1.0], weights=[1.0, np.nan]), ValueError, "`weights`"),
        (dict(x=[0.0, 1.0], method="fmm"), ValueError, "`method`"),
        (dict(x=[0.0, 1.0], tol=0.0), ValueError, "`tol`"),
        (dict(x=[0.0, 1.0], tol=1.0), ValueError, "`tol`"),
        (dict(x=[0.0, 1.0], tol="small"), TypeError, "`tol`"),
    ],
)
def test_bad_input_raises(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        coulomb_force(**kwargs)


def test_coincident_message_names_original_indices():
    with pytest.raises(ValueError, match=r"x\[1\] == x\[3\]"):
        coulomb_force([2.0, 0.5, 1.0, 0.5])


def test_energy_bad_input():
    with pytest.raises(ValueError, match="`x`"):
        coulomb_energy([1.0])
    with pytest.raises(ValueError, match="`weights`"):
        coulomb_energy([0.0, 1.0], weights=[1.0, -2.0])


def test_cached_serial_caller_of_parallel_kernel_does_not_crash(tmp_path):
    # numba/numba#8578: a cached non-parallel kernel calling a parallel one
    # segfaulted when loaded from the cache; importing forces starts the pool.
    (tmp_path / "caller.py").write_text(textwrap.dedent("""
        import numpy as np
        from coulombgas._jit import njit
        from coulombgas._pairs import direct_force_parallel as _direct_force_parallel

        @njit
        def outer(x, w, out):
            _direct_force_parallel(x, w, out)

        x = np.linspace(0.0, 1.0, 300)
        out = np.empty(300)
        outer(x, np.ones(300), out)
        print(out[0])
    """))
    for _ in range(3):  # compile and cache, then load from the cache
        run = subprocess.run([sys.executable, "caller.py"], cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
