"""The xoshiro256++ / ziggurat random stream shared by the CPU and the CUDA kernels.

A kernel that draws many normals per model (the RBM's Gibbs sampler: gibbs_steps·|B|·(n_h + n)
per update) cannot afford an indirect call into a NumPy ``Generator`` for every 64 bits (≈3 ns a
normal); this inline generator costs about a third of that, and it runs unchanged on a GPU thread,
so a CUDA kernel reproduces the CPU's stream bit for bit.

* xoshiro256++ (Blackman & Vigna 2021): state s = (s0, s1, s2, s3), 4 × uint64, never all zero;
  output rotl(s0 + s3, 23) + s0, then the linear update of the state (:func:`xoshiro`).
* Uniforms on [0, 1): the top 53 bits of one output, times 2⁻⁵³.
* Standard normals: a 256-layer ziggurat for f(x) = exp(−x²/2) (Marsaglia & Tsang 2000). One
  64-bit output u gives the layer i = bits 0–7, the sign = bit 8 and a 52-bit abscissa
  j = bits 12–63, z = ±j·x_i/2⁵²; when j < k_i the point lies inside the curve for sure (≈99 %
  of draws). Otherwise :func:`normal_edge` takes the base layer's tail |z| > r by Marsaglia's
  (1964) exponential method, tests a layer's wedge against f, or starts a fresh try.

Twins (one source, two compilers). The functions below are written once, as plain Python
(``*_py``). This module compiles them with the project's ``njit`` (cached; the names without
suffix: :func:`next_u64`, :func:`uniform`, :func:`normal`, :func:`fill_normals`, ...), and
:func:`compile_with` compiles the same sources with another decorator, e.g.
``numba.cuda.jit(device=True)``, rebinding the calls between them to the other compiler's
versions. So the CPU kernels of :mod:`coulombgas.training.rbm` and the CUDA kernel of
:mod:`coulombgas.cuda.training` draw from one definition of the stream.

Seeding: :func:`seed_state` draws the 4 words from a NumPy ``Generator`` (or a ``SeedSequence``)
so that each model's stream derives from the model's own spawned stream.

References
----------
D. Blackman, S. Vigna, "Scrambled linear pseudorandom number generators", ACM TOMS 47, 36 (2021),
arXiv:1805.01407; G. Marsaglia, W. W. Tsang, "The ziggurat method for generating random
variables", J. Stat. Softw. 5(8) (2000); G. Marsaglia, "Generating a variable from the tail of
the normal distribution", Technometrics 6, 101 (1964).
"""

from __future__ import annotations

import math
import types

import numpy as np
from numba import float64, int64, uint64

from ._jit import njit

__all__ = ["LAYERS", "ZIG_W", "ZIG_K", "ZIG_F", "ZIG_R", "ziggurat_tables", "xoshiro", "next_u64", "uniform",
           "layer", "normal_edge", "normal", "fill_normals", "normals", "seed_state", "compile_with", "SOURCES"]

#: Layers of the ziggurat.
LAYERS = 256


def ziggurat_tables(layers: int = LAYERS, r: float = 3.6541528853610088):
    """Tables of the ziggurat for f(x) = exp(−x²/2): ``(w, k, f, r)``.

    Layer 0 is the base strip [0, r] × [0, f(r)] plus the tail x > r, of total area
    v = r f(r) + √(π/2) erfc(r/√2), given the pseudo-width x_0 = v/f(r); layers i ≥ 1
    are the rectangles [0, x_i] × [f(x_i), f(x_{i+1})] of area v, x_1 = r, x_256 = 0.
    ``w[i]`` = x_i/2⁵² (abscissa per unit of j), ``k[i]`` = ⌊2⁵² x_{i+1}/x_i⌋ (a j below it
    gives |z| < x_{i+1}: inside the curve for sure), ``f[i]`` = f(x_i) (length layers + 1).
    """
    from scipy.special import erfc

    v = r * math.exp(-0.5 * r * r) + math.sqrt(0.5 * math.pi) * erfc(r / math.sqrt(2.0))
    x = np.zeros(layers + 1)
    x[0], x[1] = v / math.exp(-0.5 * r * r), r
    for i in range(1, layers - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(v / x[i] + math.exp(-0.5 * x[i] ** 2)))
    two52 = 2.0**52
    k = np.array([int(two52 * x[i + 1] / x[i]) for i in range(layers)], dtype=np.uint64)
    return x[:layers] / two52, k, np.exp(-0.5 * x**2), r


ZIG_W, ZIG_K, ZIG_F, ZIG_R = ziggurat_tables()


# -- the sources (plain Python; compiled below and by compile_with) ------------------------------
def xoshiro_py(s0, s1, s2, s3):
    """One xoshiro256++ output and the next state, all in registers: ``(out, s0, s1, s2, s3)``."""
    t = s0 + s3
    out = ((t << uint64(23)) | (t >> uint64(41))) + s0
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << uint64(45)) | (s3 >> uint64(19))
    return out, s0, s1, s2, s3


def next_u64_py(s):
    """The next 64 random bits; advances the state ``s`` (uint64, shape (4,)) in place."""
    out, s[0], s[1], s[2], s[3] = xoshiro(s[0], s[1], s[2], s[3])
    return out


def uniform_py(s):
    """A double uniform on [0, 1) from the top 53 bits of one output."""
    return float64(next_u64(s) >> uint64(11)) * (1.0 / 9007199254740992.0)


def layer_py(u, zw):
    """Decode one output: ``(i, negative, j, z)`` with layer i, sign, abscissa j and z = ±j·w_i."""
    i = int64(u & uint64(0xFF))
    negative = ((u >> uint64(8)) & uint64(1)) != 0
    j = u >> uint64(12)
    z = float64(j) * zw[i]
    if negative:
        z = -z
    return i, negative, j, z


def normal_edge_py(s, zw, zk, zf, r, i, z, negative):
    """The ziggurat's rare branches for a draw outside its layer's core: tail, wedge, or fresh tries."""
    while True:
        if i == 0:  # the tail |z| > r (Marsaglia 1964)
            while True:
                a = -math.log(1.0 - uniform(s)) / r
                b = -math.log(1.0 - uniform(s))
                if b + b > a * a:
                    return -(r + a) if negative else r + a
        if zf[i] + uniform(s) * (zf[i + 1] - zf[i]) < math.exp(-0.5 * z * z):
            return z
        i, negative, j, z = layer(next_u64(s), zw)
        if j < zk[i]:
            return z


def normal_py(s, zw, zk, zf, r):
    """One standard normal from state ``s`` (advanced in place)."""
    i, negative, j, z = layer(next_u64(s), zw)
    if j < zk[i]:
        return z
    return normal_edge(s, zw, zk, zf, r, i, z, negative)


def fill_normals_py(s, out, scale, zw, zk, zf, r):
    """Fill ``out`` (rows, cols) with ``scale`` × standard normals, column by column, advancing ``s``.

    The draws come in the C order of ``out.T``: the same numbers as ``normal`` called
    rows·cols times in that order. The state lives in registers here: a store to ``out``
    could otherwise alias ``s`` and force a reload of the state on every draw (measured:
    about 1.5× slower on the CPU).
    """
    rows, cols = out.shape
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for col in range(cols):
        for row in range(rows):
            u, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
            i, negative, j, z = layer(u, zw)
            if j >= zk[i]:
                s[0], s[1], s[2], s[3] = s0, s1, s2, s3
                z = normal_edge(s, zw, zk, zf, r, i, z, negative)
                s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
            out[row, col] = scale * z
    s[0], s[1], s[2], s[3] = s0, s1, s2, s3


#: The sources in dependency order (a function calls only those before it).
SOURCES = {"xoshiro": xoshiro_py, "next_u64": next_u64_py, "uniform": uniform_py, "layer": layer_py,
           "normal_edge": normal_edge_py, "normal": normal_py, "fill_normals": fill_normals_py}

# -- the CPU twins: module globals, so that the compiled callers find the compiled callees (cached) -----
xoshiro = njit(xoshiro_py)
next_u64 = njit(next_u64_py)
uniform = njit(uniform_py)
layer = njit(layer_py)
normal_edge = njit(normal_edge_py)
normal = njit(normal_py)
fill_normals = njit(fill_normals_py)


def compile_with(jit) -> types.SimpleNamespace:
    """The stream's functions compiled by ``jit`` (e.g. ``numba.cuda.jit(device=True)``).

    Each source is copied with its own globals, in which the names of the other
    functions are bound to their ``jit``-compiled copies, so that the calls between them
    stay within one compiler. Returns a namespace with the names of :data:`SOURCES`.
    Call it once per decorator (the copies are not cached by Numba).
    """
    glb = dict(globals())
    out = types.SimpleNamespace()
    for name, py in SOURCES.items():
        fn = types.FunctionType(py.__code__, glb, name, py.__defaults__, py.__closure__)
        glb[name] = jit(fn)
        setattr(out, name, glb[name])
    return out


def normals(s, count: int) -> np.ndarray:
    """``count`` standard normals from state ``s`` (advanced in place): the kernels' stream, for tests."""
    out = np.empty((1, int(count)))
    fill_normals(s, out, 1.0, ZIG_W, ZIG_K, ZIG_F, ZIG_R)
    return out[0]


def seed_state(seed) -> np.ndarray:
    """A xoshiro256++ state (uint64, shape (4,)) drawn from a Generator or SeedSequence; never all zero."""
    g = seed if isinstance(seed, np.random.Generator) else np.random.Generator(np.random.PCG64(seed))
    s = g.integers(0, 2**64, size=4, dtype=np.uint64)
    if not s.any():
        s[0] = 1
    return s
