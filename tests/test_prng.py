"""The shared xoshiro256++/ziggurat stream (coulombgas._prng) against independent references.

The references are written from the published algorithms in plain Python integers and floats:
xoshiro256++ from Blackman & Vigna (arXiv:1805.01407, the reference C code ``xoshiro256plusplus.c``),
and the ziggurat's decision rules from Marsaglia & Tsang (2000) with the module's tables. The
compiled CPU twin, the same sources compiled by another decorator (what the CUDA kernels do), and
the sources run as plain Python must all give the same bits.
"""

import math

import numba
import numpy as np
import pytest
import scipy.stats

from coulombgas import _prng

from stats import assert_ks, assert_z

MASK = (1 << 64) - 1


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def _xoshiro_ref(s):
    """xoshiro256++ (reference C code): returns the output and advances the list ``s``."""
    out = (_rotl((s[0] + s[3]) & MASK, 23) + s[0]) & MASK
    t = (s[1] << 17) & MASK
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return out


def _normal_ref(s):
    """One ziggurat normal in plain Python from the module's tables (Marsaglia & Tsang 2000)."""
    w, k, f, r = _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R

    def uniform():
        return (_xoshiro_ref(s) >> 11) * 2.0**-53

    while True:
        u = _xoshiro_ref(s)
        i, negative, j = u & 0xFF, (u >> 8) & 1, u >> 12
        z = -(j * float(w[i])) if negative else j * float(w[i])
        if j < int(k[i]):
            return z
        if i == 0:
            while True:
                a = -math.log(1.0 - uniform()) / r
                b = -math.log(1.0 - uniform())
                if 2 * b > a * a:
                    return -(r + a) if negative else r + a
        if float(f[i]) + uniform() * (float(f[i + 1]) - float(f[i])) < math.exp(-0.5 * z * z):
            return z


def test_xoshiro_matches_reference_implementation():
    s = np.array([1, 2, 3, 4], dtype=np.uint64)
    assert int(_prng.next_u64(s)) == 41943041  # published first output for the state (1, 2, 3, 4)
    state = _prng.seed_state(np.random.default_rng(5))
    ref = [int(x) for x in state]
    got = [int(_prng.next_u64(state)) for _ in range(500)]
    assert got == [_xoshiro_ref(ref) for _ in range(500)]
    assert [int(x) for x in state] == ref


def test_uniform_is_top_53_bits():
    s = _prng.seed_state(np.random.SeedSequence(9))
    ref = [int(x) for x in s]
    for _ in range(100):
        assert _prng.uniform(s) == (_xoshiro_ref(ref) >> 11) * 2.0**-53


def test_normals_match_plain_python_ziggurat():
    # 30 000 draws pass through every branch: core (~99 %), wedges and the tail (P ≈ 2.6e-4 per draw).
    s = _prng.seed_state(np.random.default_rng(11))
    ref = [int(x) for x in s]
    z = _prng.normals(s, 30_000)
    expected = np.array([_normal_ref(ref) for _ in range(z.size)])
    np.testing.assert_array_equal(z, expected)
    assert [int(x) for x in s] == ref  # the same number of words consumed
    assert np.any(np.abs(z) > _prng.ZIG_R)  # the tail branch ran


def test_fill_normals_order_and_scale():
    # fill_normals writes column by column (the C order of out.T), scaled; normal draws one at a time.
    s1 = _prng.seed_state(np.random.default_rng(3))
    s2 = s1.copy()
    out = np.empty((3, 5))
    _prng.fill_normals(s1, out, 2.5, _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R)
    one = np.array([_prng.normal(s2, _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R) for _ in range(15)])
    np.testing.assert_array_equal(out, 2.5 * one.reshape(5, 3).T)
    np.testing.assert_array_equal(s1, s2)


@pytest.mark.parametrize("jit", ["python", "numba"])
def test_twins_from_one_source_give_the_same_bits(jit):
    """What the CUDA kernels do: the same sources compiled by another decorator (or not at all)."""
    twin = _prng.compile_with((lambda f: f) if jit == "python" else numba.njit)
    s1 = _prng.seed_state(np.random.default_rng(21))
    s2 = s1.copy()
    n = 2000 if jit == "python" else 100_000
    a = np.empty((1, n))
    b = np.empty((1, n))
    with np.errstate(over="ignore"):  # uint64 wrap-around is the generator's arithmetic
        twin.fill_normals(s1, a, 1.0, _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R)
    _prng.fill_normals(s2, b, 1.0, _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(s1, s2)


def test_normals_are_standard_normal():
    z = _prng.normals(_prng.seed_state(np.random.default_rng(6)), 400_000)
    assert_ks(z[:200_000], scipy.stats.norm)  # KS at the level stats.assert_ks states
    assert_z(z.mean(), 0.0, 1.0 / math.sqrt(z.size))
    assert_z(z.var(), 1.0, math.sqrt(2.0 / z.size))  # Var of the sample variance of N(0, 1): 2/N
    p = 2.0 * scipy.stats.norm.sf(_prng.ZIG_R)  # the tail branch: binomial error
    assert_z(np.mean(np.abs(z) > _prng.ZIG_R), p, math.sqrt(p * (1 - p) / z.size))


def test_tables_and_seeding():
    w, k, f, r = _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R
    assert w.shape == (256,) and k.shape == (256,) and f.shape == (257,)
    x = w * 2.0**52
    assert x[1] == r and np.all(np.diff(x[1:]) < 0)  # layer edges decrease from r
    # Every layer has the same area v (base strip + tail for layer 0).
    v = r * math.exp(-0.5 * r * r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    areas = x[1:255] * (np.exp(-0.5 * x[2:256] ** 2) - np.exp(-0.5 * x[1:255] ** 2))
    np.testing.assert_allclose(areas, v, rtol=1e-9)
    a = _prng.seed_state(np.random.SeedSequence(4))
    b = _prng.seed_state(np.random.default_rng(np.random.SeedSequence(4)))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint64 and a.any()
