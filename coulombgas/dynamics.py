"""`simulate`: integrate the eigenvalue Langevin equation (Dyson Brownian motion).

The SDE is the canonical form of :class:`~coulombgas.gas.CoulombGas`,

    dx_i = [ a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j) ] dt + s_i dW_i,

integrated for many independent replicas at once (one Numba ``prange``
iteration and one random stream per replica, so results are bit-identical
whatever the number of threads).

Schemes (``scheme=``):

``"imex-euler"`` (default, ``"auto"``)
    Implicit–explicit Euler. The nearest-neighbour repulsion (and the log wall
    of a Laguerre potential) is drift-implicit, everything else — far-field
    Coulomb, confinement, the part of an unequal-weight pair force that moves
    the pair rigidly — is explicit:

        z = x + h E(x) + s ΔW,   y = argmin_y |y − z|²/(2h) − Σ_k θ_k σ_k log(y_{k+1} − y_k),

    σ_k = c (w_k + w_{k+1})/2 (see :mod:`coulombgas._implicit`). The objective
    is strictly convex on the ordered chamber and +∞ outside, so y is unique
    and ordered for every h and every z: **no crossing and no rejected step,
    by construction**, and the cost per step is one force evaluation (direct,
    parallel or fast multipole, as for Euler–Maruyama) plus a few O(n)
    tridiagonal Newton iterations — not a function of the smallest gap.
    Pairs the step resolves (gap² ≥ 4hσ_k at x) take the trapezoidal rule
    (θ_k = ½, the other half explicit at x); closer pairs keep backward Euler
    (θ_k = 1), which is L-stable and positivity-preserving (the drift-implicit
    scheme for Bessel-type processes of Alfonsi, Stat. Probab. Lett. 83, 602
    (2013)). The explicit far field needs h·2(π²/6 − 1)c w/d² ≲ 1.5 (d the
    smallest local mean spacing over 8 gaps); a nominal step beyond that is
    split into equal sub-steps whose Brownian increments are bridged from the
    nominal one. Measured weak order 1. Close pairs: the implicit step alone
    does not resolve pairs closer than ~√(2hσ) (it moved gap-law mass from
    s ≲ 2√(hσ)/d to just above). So an isolated pair with gap² < 16 h σ_r²
    (σ_r² = s_k² + s_{k+1}², equal s and w; its neighbouring gaps not that close)
    takes the **exact** transition of its Bessel part instead: the gap's
    singular part is a Bessel process of dimension δ = 1 + 2c(w_k + w_{k+1})/σ_r²
    (1 + β for the GβE), r²/σ_r² a squared Bessel process with the noncentral
    χ² transition, drawn as r'² = (r + hμ + σ_r ΔB)² + 2hσ_r² Gamma((δ−1)/2)
    (Lie splitting with the smooth relative drift μ; ΔB the pair's own noise;
    one gamma variate per close pair is the only extra cost); the pair's centre
    of mass comes from the implicit step, and the pair is kept strictly inside
    its neighbours (Revuz & Yor ch. XI; Göing-Jaeschke & Yor, Bernoulli 9, 313
    (2003)). Measured at n = 2,000, dt = 1e-6, 1,000 records (1e6 bulk gaps):
    gaps below s = 0.003 / 0.01 / 0.03 / 0.1: 9 / 77 / 699 / 7668 against
    ≈ 7 / 82 / 740 / 8216 for the exact GOE small-s law (π²/12)s² (the implicit
    step alone: 0 / 52 / 903 / 8195; adaptive-heun 9 / 105 / 705 / 7965); at
    n = 200, dt = 1e-5 (same dt/d²), 7.9e6 gaps: 63 / 660 / 5868 against
    58.6 / 651.4 / 5862.5 (implicit alone 0 / 407 / 8063). Triples of mutually
    close particles and pairs with unequal s or w keep the implicit step.
    ``"imex-heun"`` does not use the exact pair step.
``"imex-heun"``
    The same with a Heun (trapezoidal) corrector for the explicit part; two
    force evaluations per step. Weak order 1 at β = 1 (higher at β = 2).
``"adaptive-heun"`` (the previous default)
    Stochastic Heun (trapezoidal drift, the same ΔW in predictor and
    corrector). The noise is additive, for which Heun is a weak order-2 scheme
    for smooth drifts (Kloeden & Platen 1992, §15.1); with the singular Coulomb
    drift and path-dependent step control the measured weak order is 1, with an
    error constant several times smaller than Euler's. Step control: a trial step is accepted only if every
    gap x_{k+1} − x_k (and the distance to a hard wall such as x = 0 for a
    Laguerre potential) changes by at most a factor ``max_gap_factor`` (2 by
    default). A rejected step is halved and its Brownian increment split by a
    Brownian bridge drawn from the same stream — the rejected path is refined,
    never redrawn, so the step control does not bias the noise (Gaines & Lyons,
    SIAM J. Appl. Math. 57, 1455 (1997); the idea behind diffrax's
    ``VirtualBrownianTree``). Because every accepted step keeps all gaps
    positive, eigenvalues never cross, for any dt. The control is global: one
    close pair sets the step of all n particles, and with n gaps some gap is
    always close (issue 18: 284 s for 10 steps at n = 10,000). It resolves the
    path of every close pair, so its ``smallest_gap`` is the *path minimum*,
    which for a Bessel process of dimension 2 (β = 1: neighbourhood-recurrent)
    is logarithmically small — the 1e-8 of issue 13 is that path minimum, not a
    violation of the fixed-time gap law, which it reproduces
    (tests/test_dynamics_step_control.py).
``"adaptive-euler"``
    Euler–Maruyama drift with the same step control (weak order 1).
``"euler-maruyama"``
    Plain fixed-step Euler–Maruyama (weak order 1). Kept for comparison; a
    step that reorders the eigenvalues stops the run with an error.

References
----------
F. J. Dyson, J. Math. Phys. 3, 1191 (1962).
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (the SGD form).
P. E. Kloeden, E. Platen, *Numerical Solution of Stochastic Differential Equations*, Springer (1992).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types

import numba
import numpy as np

from . import _rng
from . import _validate as v
from ._implicit import _positive_root, _prox, _remove_implicit
from ._jit import njit
from ._fmm import LEAF_SIZE, fast_force, order_for_tol
from ._pairs import direct_force, direct_force_parallel
from .forces import FAST_CROSSOVER
from .gas import CoulombGas
from .potentials import CUSTOM, LAGUERRE, dV_kernel

__all__ = ["simulate", "Trajectory", "SCHEMES", "Scheme", "default_x0"]


@dataclasses.dataclass(frozen=True)
class Scheme:
    """A named integrator: its kernel code, weak order, and whether it keeps the ordering."""

    name: str
    code: int
    weak_order: float
    keeps_order: bool
    adaptive: bool
    reference: str


SCHEMES = {
    # Weak orders are the measured ones (tests/test_dynamics.py::test_weak_order): Heun is
    # order 2 for smooth drifts with additive noise, but the singular Coulomb drift and the
    # path-dependent step control bring both adaptive schemes to order 1; Heun's error
    # constant is 4-9x smaller than Euler's at the same dt.
    "adaptive-heun": Scheme("adaptive-heun", 0, 1.0, True, True,
                            "Kloeden & Platen (1992) §15.1; Gaines & Lyons (1997)"),
    "adaptive-euler": Scheme("adaptive-euler", 1, 1.0, True, True,
                             "Kloeden & Platen (1992) §14.1; Gaines & Lyons (1997)"),
    "euler-maruyama": Scheme("euler-maruyama", 2, 1.0, False, False, "Kloeden & Platen (1992) §14.1"),
    # IMEX: nearest-neighbour repulsion implicit (a proximal step, coulombgas._implicit; trapezoidal
    # for pairs the step resolves, backward Euler for closer ones), the rest explicit; never
    # rejects, never crosses. Measured weak order (test_weak_order, E Σλ² of the n = 3 GβE):
    # imex-euler biases +0.049, +0.028, +0.016 at dt = 2^-4, 2^-5, 2^-6 (β = 2); imex-heun
    # −0.072, −0.038, −0.019 at dt = 2^-5, 2^-6, 2^-7 (β = 1), approaching order 1.5-2 at β = 2.
    "imex-euler": Scheme("imex-euler", 3, 1.0, True, False,
                         "Alfonsi, Stat. Probab. Lett. 83, 602 (2013); coulombgas._implicit; exact close-pair "
                         "BESQ transition: Revuz & Yor, ch. XI"),
    "imex-heun": Scheme("imex-heun", 4, 1.0, True, False,
                        "Alfonsi (2013); Kloeden & Platen (1992) §15.1 for the explicit part"),
}
SCHEMES["auto"] = SCHEMES["imex-euler"]

# Kernel status codes and what they mean to a user.
OK, TOO_MANY_REFINEMENTS, DIVERGED, CROSSED, NEWTON_FAILED, LEFT_DOMAIN = 0, 1, 2, 3, 4, 5
_MESSAGES = {
    NEWTON_FAILED: "the implicit nearest-neighbour step (Newton on a convex problem) did not converge; "
                   "this should not happen for finite input: please report it, and use "
                   "scheme='adaptive-heun' meanwhile",
    LEFT_DOMAIN: "the lowest eigenvalue left the domain of a Custom potential with a finite `lower` edge "
                 "(the implicit scheme keeps the order, but has no wall for a user potential); "
                 "use scheme='adaptive-heun' or a smaller `dt`",
    TOO_MANY_REFINEMENTS: "a step was halved `max_refinements` times without keeping every gap "
                          "within `max_gap_factor` (a collision: beta < 1, or a potential whose "
                          "force is singular); try a smaller `dt` or a larger `max_refinements`",
    DIVERGED: "the eigenvalues escaped to infinity or became non-finite (a potential that does not "
              "confine, or a step far too large for the drift); reduce `dt` or check the potential",
    CROSSED: "two eigenvalues crossed (or one left the potential's domain) under plain "
             "Euler-Maruyama; use scheme='auto' (adaptive, never crosses) or a smaller `dt`",
}
# |x| beyond this is treated as divergence: far below overflow of x² in the drift.
_ESCAPE = 1e100

# Force evaluation inside the kernels: serial (per replica), parallel over particles, or
# the fast multipole method (forces.py) for one large system, chosen in `simulate`.
FORCE_SERIAL, FORCE_PARALLEL, FORCE_FAST = 0, 1, 2
# Scheme codes of the IMEX integrators (the adaptive ones are 0, 1; Euler-Maruyama 2).
IMEX_EULER, IMEX_HEUN = 3, 4
# IMEX sub-steps keep h × (explicit stiffness) below this (explicit Euler and Heun are stable
# below 2); more than _MAX_SUBSTEPS per nominal step means the run has blown up.
_STABLE_STIFFNESS = 1.5
# A pair takes the trapezoidal rule when gap² ≥ this × hσ at both ends of the step.
_TRAPEZOID_GAP2 = 4.0
# An isolated pair with gap² < this × hσ_r² (σ_r² = s_k² + s_{k+1}², the variance rate of its
# gap) takes the exact Bessel transition (_exact_pairs): up to 4 noise standard deviations,
# well past the scale √(2hσ) below which the implicit step distorts the gap law.
_EXACT_PAIR_GAP2 = 16.0
_MAX_SUBSTEPS = 1 << 20
# Chebyshev order of the fast method: relative error ~1e-10 against direct summation.
_FAST_ORDER = order_for_tol(1e-10)


# ------------------------------------------------------------------ kernels

@njit
def _drift_into(x, kind, params, a, c, w, force_mode, out):
    """out_i = −a V_i'(x_i) + c Σ_{j≠i} w_j/(x_i − x_j) (inputs validated by the caller)."""
    if force_mode == FORCE_PARALLEL:
        direct_force_parallel(x, w, out)
    elif force_mode == FORCE_FAST:
        fast_force(x, w, out, _FAST_ORDER, LEAF_SIZE)
    else:
        direct_force(x, w, out)
    for i in range(x.shape[0]):
        out[i] = c * out[i] - a * dV_kernel(x[i], i, kind, params)


@njit
def _check_step(x, y, lower, factor):
    """Smallest gap of y if every gap of y is within a factor of x's, else −1 (reject).

    Returns −2 if y is non-finite or escaped (divergence, not a step-size problem).
    """
    n = x.shape[0]
    for i in range(n):
        if not (abs(y[i]) < _ESCAPE):
            return -2.0
    smallest = np.inf
    if lower > -np.inf:
        old = x[0] - lower
        new = y[0] - lower
        if not (new >= old / factor and new <= old * factor):
            return -1.0
        smallest = new
    for k in range(n - 1):
        old = x[k + 1] - x[k]
        new = y[k + 1] - y[k]
        if not (new >= old / factor and new <= old * factor):
            return -1.0
        if new < smallest:
            smallest = new
    return smallest


@njit
def _implicit_pair_step(x, b, h, dw, s, c, w, lower, wall, factor, y):
    """Euler step in which each collapsing pair's mutual repulsion is drift-implicit.

    For a pair (k, k+1) whose gap would shrink by more than ``factor``, the new
    gap solves g' = A + h c (w_k + w_{k+1})/g' (A: the explicit gap without the
    pair's own repulsion), i.e. g' = [A + √(A² + 4hc(w_k + w_{k+1}))]/2 > 0 for
    any A — the drift-implicit Euler idea that keeps Bessel-type processes
    positive (Alfonsi, Stat. Probab. Lett. 83, 602 (2013)). A log wall of
    strength ``wall`` at ``lower`` is treated the same way. Used only at the
    deepest refinement level, where h is tiny. Returns the smallest gap, or
    −1 if the result is still not ordered.
    """
    n = x.shape[0]
    for i in range(n):
        y[i] = x[i] + h * b[i] + s[i] * dw[i]
    if wall > 0.0:
        d_old = x[0] - lower
        d_new = y[0] - lower
        if d_new < d_old / factor:
            A = d_new - h * wall / d_old
            y[0] = lower + _positive_root(A, h * wall)
    for k in range(n - 1):
        g_old = x[k + 1] - x[k]
        g_new = y[k + 1] - y[k]
        if g_new < g_old / factor:
            strength = c * (w[k] + w[k + 1])
            A = g_new - h * strength / g_old
            g = _positive_root(A, h * strength)
            mid = 0.5 * (y[k] + y[k + 1])
            y[k] = mid - 0.5 * g
            y[k + 1] = mid + 0.5 * g
    gap = _check_order(y, lower)
    return gap if gap >= 0.0 else -1.0


@njit
def _check_order(y, lower):
    """Smallest gap of y if ordered and inside the domain, −1 if not, −2 if non-finite."""
    n = y.shape[0]
    smallest = np.inf
    for i in range(n):
        if not (abs(y[i]) < _ESCAPE):
            return -2.0
    if lower > -np.inf:
        smallest = y[0] - lower
        if not smallest > 0.0:
            return -1.0
    for k in range(n - 1):
        gap = y[k + 1] - y[k]
        if not gap > 0.0:
            return -1.0
        if gap < smallest:
            smallest = gap
    return smallest


@njit
def _advance_imex(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, heun,
                  force_mode, counts, gaps, omega):
    """IMEX steps of one replica: nearest-neighbour repulsion (and a Laguerre wall) drift-implicit.

    Euler (heun = False):  z = x + h E(x) + s ΔW,                 y = prox_h(z);
    Heun  (heun = True):   y* as above, z = x + h [E(x) + E(y*)]/2 + s ΔW,  y = prox_h(z);
    prox_h(z) = argmin |y − z|²/(2h) − Φ(y) (see coulombgas._implicit). Every step is
    accepted and ordered. counts as in _advance plus counts[5] = Newton iterations.
    """
    n = x.shape[0]
    sig = np.empty(max(n - 1, 1))
    sig2 = np.empty(max(n - 1, 1))
    sig_min = np.inf
    for k in range(n - 1):
        sig[k] = 0.5 * c * (w[k] + w[k + 1])
        if sig[k] < sig_min:
            sig_min = sig[k]
    b0 = np.empty(n)
    b1 = np.empty(n)
    z = np.empty(n)
    y = np.empty(n)
    dw = np.empty(n)
    g = np.empty(n)
    dg = np.empty(n)
    off = np.empty(n)
    st = np.empty(n)
    cp = np.empty(n)
    trial = np.empty(n)
    sqrt_dt = math.sqrt(dt)
    w_max = 0.0
    for i in range(n):
        if w[i] > w_max:
            w_max = w[i]
    total = np.empty(n)
    r = 0
    for step in range(n_steps):
        for i in range(n):
            total[i] = sqrt_dt * gen.standard_normal()
        # Sub-steps: the explicit far field must be stable (see _explicit_stiffness); at the
        # step sizes the bulk resolves anyway this is 1, and a close pair never changes it.
        ratio = dt * _explicit_stiffness(x, c * w_max) / _STABLE_STIFFNESS
        if not (ratio < _MAX_SUBSTEPS):
            counts[2] = DIVERGED
            counts[3] = step
            return
        m = max(1, int(math.ceil(ratio - 1e-9)))
        h = dt / m
        for j in range(m):
            # Brownian bridge: the sub-step increments sum to the nominal one, drawn in order.
            if j == m - 1:
                for i in range(n):
                    dw[i] = total[i]
            else:
                left = m - j
                sd = math.sqrt(h * (left - 1) / left)
                for i in range(n):
                    dw[i] = total[i] / left + sd * gen.standard_normal()
                    total[i] -= dw[i]
            status = _imex_step(x, y, z, b0, b1, dw, h, kind, params, lower, a, c, w, s, heun, force_mode,
                                sig, sig_min, omega, g, dg, off, st, cp, trial, counts, gaps, sig2, gen)
            if status != OK:
                counts[2] = status
                counts[3] = step
                return
        if (step + 1) % record_every == 0:
            for i in range(n):
                rec[r, i] = x[i]
            r += 1


@njit
def _imex_step(x, y, z, b0, b1, dw, h, kind, params, lower, a, c, w, s, heun, force_mode, sig, sig_min,
               omega, g, dg, off, st, cp, trial, counts, gaps, sig2, gen):
    """One IMEX step of size h with Brownian increment dw; x ← y. Returns a status code."""
    n = x.shape[0]
    _drift_into(x, kind, params, a, c, w, force_mode, b0)
    _remove_implicit(x, b0, sig, lower, omega)
    for i in range(n):
        z[i] = x[i] + h * b0[i] + s[i] * dw[i]
    if heun:
        # Predictor: the fully implicit nearest-neighbour step.
        it = _prox(z, x, h, sig, sig_min, lower, omega, y, g, dg, off, st, cp, trial)
        if it > 0:
            counts[5] += it
            _drift_into(y, kind, params, a, c, w, force_mode, b1)
            _remove_implicit(y, b1, sig, lower, omega)
            for i in range(n):
                z[i] = x[i] + 0.5 * h * (b0[i] + b1[i]) + s[i] * dw[i]
            smin = _trapezoid_split(x, y, z, h, sig, sig2)
            for i in range(n):
                trial[i] = y[i]  # the predictor: an ordered start close to the answer
            it = _prox(z, trial, h, sig2, smin, lower, omega, y, g, dg, off, st, cp, b1)
    else:
        smin = _trapezoid_split(x, x, z, h, sig, sig2)
        it = _prox(z, x, h, sig2, smin, lower, omega, y, g, dg, off, st, cp, trial)
        if it > 0:
            _exact_pairs(x, y, b0, dw, h, sig, s, w, lower, omega, gen)
    gap = _check_order(y, lower)
    if gap == -2.0 or (it < 0 and not _finite(z)):
        return DIVERGED
    if it < 0:
        return NEWTON_FAILED
    if gap < 0.0:  # ordered by construction, so only below a Custom potential's edge
        return LEFT_DOMAIN
    counts[5] += it
    for i in range(n):
        x[i] = y[i]
    counts[0] += 1
    counts[4] += 1
    if gap < gaps[0]:
        gaps[0] = gap
    return OK


@njit
def _exact_pairs(x, y, b, dw, h, sig, s, w, lower, omega, gen):
    """Replace the implicit step's gap of each isolated close pair by its exact Bessel transition.

    A pair (k, k+1) with s_k = s_{k+1} = s and w_k = w_{k+1}, whose gap r = x_{k+1} − x_k
    has r² < K h σ_r² (σ_r² = 2s², K = _EXACT_PAIR_GAP2) while both neighbouring gaps
    (and a log wall) are not that close, has the relative coordinate

        dr = [2σ_k/r + μ] dt + σ_r dB,   B = (s W_{k+1} − s W_k)/σ_r,

    whose singular part is a Bessel process of dimension δ = 1 + 4σ_k/σ_r²
    (= 1 + β for the Gaussian β-ensemble). Y = r²/σ_r² is then BESQ^δ, with the
    exact transition Y_h = h χ'²_δ(Y_0/h) (Revuz & Yor, ch. XI §1; Göing-Jaeschke &
    Yor, Bernoulli 9, 313 (2003)); for δ > 1, χ'²_δ(λ) = 2 Gamma((δ−1)/2) + (Z + √λ)².
    Lie splitting: the smooth relative drift μ (everything but the pair's own repulsion,
    at x) first, clamped at r = 0 (BESQ starts from 0 as well), then the exact step:

        r' = √( (max(r + hμ, 0) + σ_r ΔB)² + 2hσ_r² G ),   G ~ Gamma((δ−1)/2, 1),

    with ΔB the pair's own relative Brownian increment (so Z is the step's noise and
    one gamma variate per pair is the only extra draw). The pair's centre of mass
    (y_k + y_{k+1})/2 is kept from the implicit step: with equal s and w the pair's own
    repulsion does not move it and its noise is independent of B. The exact step is
    used only where it is exact in this sense (equal s, w; isolated pairs, so pairs are
    disjoint: a close triple keeps the implicit step) and only when the new pair stays
    strictly inside its neighbours (otherwise the implicit result is kept).
    """
    n = x.shape[0]
    if n < 2:
        return
    thr = _EXACT_PAIR_GAP2 * h
    # One pass with the closeness (gap² < K h σ_r²) of gaps k − 1, k, k + 1 rolling along;
    # "gap −1" is the distance to a log wall, measured against its own scale 2ω.
    prev = omega > 0.0 and (x[0] - lower) ** 2 < thr * 2.0 * omega
    g0 = x[1] - x[0]
    cur = g0 * g0 < thr * (s[0] * s[0] + s[1] * s[1])
    for k in range(n - 1):
        nxt = False
        if k + 2 < n:
            g1 = x[k + 2] - x[k + 1]
            nxt = g1 * g1 < thr * (s[k + 1] * s[k + 1] + s[k + 2] * s[k + 2])
        isolated = cur and not prev and not nxt
        prev = cur
        cur = nxt
        if not isolated or s[k] != s[k + 1] or w[k] != w[k + 1] or not (s[k] > 0.0):
            continue
        r0 = x[k + 1] - x[k]
        var = 2.0 * s[k] * s[k]  # σ_r²
        # Smooth relative drift: explicit part plus the outer neighbours' repulsion at x.
        mu = b[k + 1] - b[k]
        if k + 2 < n:
            mu -= sig[k + 1] / (x[k + 2] - x[k + 1])
        if k >= 1:
            mu -= sig[k - 1] / (x[k] - x[k - 1])
        elif omega > 0.0:
            mu -= omega / (x[0] - lower)
        start = max(r0 + h * mu, 0.0) + s[k] * (dw[k + 1] - dw[k])
        shape = 2.0 * sig[k] / var  # (δ − 1)/2
        r2 = start * start + 2.0 * h * var * gen.gamma(shape, 1.0)
        r = math.sqrt(r2)
        mid = 0.5 * (y[k] + y[k + 1])
        lo = mid - 0.5 * r
        hi = mid + 0.5 * r
        if not (hi > lo):  # r below the resolution of mid: keep the implicit pair
            continue
        if k >= 1 and not (lo > y[k - 1]):
            continue
        if k == 0 and not (lo > lower):
            continue
        if k + 2 < n and not (hi < y[k + 2]):
            continue
        y[k] = lo
        y[k + 1] = hi


@njit
def _trapezoid_split(x, y, z, h, sig, sig2):
    """Trapezoidal rule for the resolved pairs; returns the smallest implicit strength.

    A pair whose gap² ≥ 4hσ at x and at y takes half of its repulsion explicitly at x
    (added to z) and half implicitly (sig2 = σ/2); a closer pair keeps the fully
    implicit, L-stable step (sig2 = σ), whose explicit half would throw it apart by
    hσ/(2g) ≫ g. The barrier stays convex either way.
    """
    smin = np.inf
    for k in range(x.shape[0] - 1):
        gx = x[k + 1] - x[k]
        gy = y[k + 1] - y[k]
        lim = _TRAPEZOID_GAP2 * h * sig[k]
        if gx * gx >= lim and gy * gy >= lim:
            f = 0.5 * h * sig[k] / gx
            z[k] -= f
            z[k + 1] += f
            sig2[k] = 0.5 * sig[k]
        else:
            sig2[k] = sig[k]
        if sig2[k] < smin:
            smin = sig2[k]
    return smin


@njit
def _explicit_stiffness(x, cw):
    """Stiffness of the explicit far field: 2(π²/6 − 1)·c·w_max/d², d the smallest local mean spacing.

    On a lattice of spacing d the Coulomb Jacobian beyond nearest neighbours has
    eigenvalues up to c w Σ_{m≥2} 2/(m d)² = 2(π²/6 − 1) c w/d². d is the smallest
    mean over windows of 8 consecutive gaps (already below the bulk spacing): explicit
    Euler blows up through collective modes of a dense region, while one close
    pair or triple only overshoots outwards, which the ordered implicit step absorbs.
    """
    n = x.shape[0]
    win = min(8, n - 1)
    if win < 2:
        return 0.0
    smallest = math.inf
    for k in range(n - win):
        d = (x[k + win] - x[k]) / win
        if d < smallest:
            smallest = d
    return 2.0 * (math.pi ** 2 / 6.0 - 1.0) * cw / (smallest * smallest)


@njit
def _finite(z):
    for i in range(z.shape[0]):
        if not (abs(z[i]) < _ESCAPE):
            return False
    return True


@njit
def _advance(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme,
             factor, max_depth, force_mode, counts, gaps, wall):
    """Advance one replica by n_steps nominal steps, writing every record_every-th state to rec.

    counts = [accepted sub-steps, rejected sub-steps, status, failed step, implicit pair steps,
    Newton iterations]; gaps = [smallest gap]; wall = strength of a log wall at ``lower``
    (Laguerre), else 0. Kernels never raise: problems end the run with a status code (see _MESSAGES).
    """
    if scheme >= IMEX_EULER:
        _advance_imex(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s,
                      scheme == IMEX_HEUN, force_mode, counts, gaps, a * wall)
        return
    n = x.shape[0]
    b0 = np.empty(n)
    b1 = np.empty(n)
    y = np.empty(n)
    half = np.empty(n)
    depth = max_depth + 2
    stack_dw = np.empty((depth, n))
    stack_h = np.empty(depth)
    stack_level = np.empty(depth, dtype=np.int64)
    sqrt_dt = math.sqrt(dt)
    r = 0
    for step in range(n_steps):
        for i in range(n):
            stack_dw[0, i] = sqrt_dt * gen.standard_normal()
        stack_h[0] = dt
        stack_level[0] = 0
        top = 1
        fresh = False  # is b0 the drift at the current x?
        while top > 0:
            top -= 1
            h = stack_h[top]
            dw = stack_dw[top]
            if not fresh:
                _drift_into(x, kind, params, a, c, w, force_mode, b0)
                fresh = True
            for i in range(n):
                y[i] = x[i] + h * b0[i] + s[i] * dw[i]
            if scheme == 2:  # plain Euler-Maruyama: no control, crossing is fatal
                gap = _check_order(y, lower)
                if gap == -1.0:
                    counts[2] = CROSSED
                    counts[3] = step
                    return
            else:
                gap = _check_step(x, y, lower, factor)
                if gap >= 0.0 and scheme == 0:  # Heun corrector on an accepted predictor
                    _drift_into(y, kind, params, a, c, w, force_mode, b1)
                    for i in range(n):
                        y[i] = x[i] + 0.5 * h * (b0[i] + b1[i]) + s[i] * dw[i]
                    gap = _check_step(x, y, lower, factor)
            if gap == -2.0:
                counts[2] = DIVERGED
                counts[3] = step
                return
            if gap >= 0.0:
                for i in range(n):
                    x[i] = y[i]
                fresh = False
                counts[0] += 1
                if gap < gaps[0]:
                    gaps[0] = gap
                continue
            counts[1] += 1
            level = stack_level[top]
            if level >= max_depth:
                # Deepest level: resolve the collision with a pair-implicit step
                # (see _implicit_pair_step) instead of halving for ever.
                gap = _implicit_pair_step(x, b0, h, dw, s, c, w, lower, a * wall, factor, y)
                if gap < 0.0:
                    counts[2] = TOO_MANY_REFINEMENTS
                    counts[3] = step
                    return
                for i in range(n):
                    x[i] = y[i]
                fresh = False
                counts[0] += 1
                counts[4] += 1
                if gap < gaps[0]:
                    gaps[0] = gap
                continue
            # Brownian bridge: W(t+h/2) − W(t) given W(t+h) − W(t) = dw is N(dw/2, h/4).
            sd = 0.5 * math.sqrt(h)
            for i in range(n):
                half[i] = 0.5 * dw[i] + sd * gen.standard_normal()
            for i in range(n):
                stack_dw[top, i] = dw[i] - half[i]  # second half, done after the first
                stack_dw[top + 1, i] = half[i]
            stack_h[top] = 0.5 * h
            stack_h[top + 1] = 0.5 * h
            stack_level[top] = level + 1
            stack_level[top + 1] = level + 1
            top += 2
        if (step + 1) % record_every == 0:
            for i in range(n):
                rec[r, i] = x[i]
            r += 1


@njit(parallel=True)
def _run_replicas(x, gens, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme,
                  factor, max_depth, counts, gaps, wall):
    """prange over replicas; x (R, n) is advanced in place, rec is (R, records, n)."""
    for r in numba.prange(x.shape[0]):
        if counts[r, 2] != OK:
            continue
        _advance(x[r], gens[np.intp(r)], n_steps, dt, record_every, rec[r], kind, params, lower, a, c, w, s,
                 scheme, factor, max_depth, FORCE_SERIAL, counts[r], gaps[r], wall)


@njit
def _run_single(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme,
                factor, max_depth, counts, gaps, wall, force_mode):
    """One large replica: forces parallel over particles (direct or fast multipole)."""
    _advance(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme,
             factor, max_depth, force_mode, counts, gaps, wall)


def _rebind(dispatcher, **names):
    """A copy of a jitted function whose globals ``names`` are replaced (compiled per process).

    Used for user potentials: the same kernel source, with ``_dV`` bound to the
    user's derivative, because Numba cannot cache code that takes a user's
    function as an argument.
    """
    py = dispatcher.py_func
    glb = dict(py.__globals__)
    glb.update(names)
    fn = types.FunctionType(py.__code__, glb, py.__name__, py.__defaults__, py.__closure__)
    return numba.njit(fastmath=dispatcher.targetoptions.get("fastmath", False),
                      error_model="numpy", parallel=dispatcher.targetoptions.get("parallel", False))(fn)


_CUSTOM_KERNELS: dict = {}


def _kernels_for(potential):
    """(run_replicas, run_single) for a gas's potential: cached ones for built-in kinds."""
    if getattr(potential, "derivative_fn", None) is None:
        return _run_replicas, _run_single
    key = id(potential.derivative_fn)
    if key not in _CUSTOM_KERNELS:
        user = potential.derivative_fn

        @numba.njit
        def dV(x, i, kind, params):
            return user(x, i)

        drift = _rebind(_drift_into, dV_kernel=dV)
        imex = _rebind(_advance_imex, _imex_step=_rebind(_imex_step, _drift_into=drift))
        advance = _rebind(_advance, _drift_into=drift, _advance_imex=imex)
        _CUSTOM_KERNELS[key] = (potential.derivative_fn,  # keep alive so id stays unique
                                _rebind(_run_replicas, _advance=advance),
                                _rebind(_run_single, _advance=advance))
    return _CUSTOM_KERNELS[key][1:]


# ------------------------------------------------------------------ results

@dataclasses.dataclass(frozen=True, eq=False)
class Trajectory:
    """Recorded eigenvalue paths of ``replicas`` independent runs.

    Attributes
    ----------
    t : ndarray, shape (records,)
        Record times; ``t[0]`` is the start (the initial state is record 0).
    x : ndarray, shape (replicas, records, n)
        Eigenvalues, ascending along the last axis.
    gas : CoulombGas
        The system simulated.
    scheme : str
        The integrator's name (see :data:`SCHEMES`).
    dt : float
        Nominal step (t_end / number of steps).
    seed : dict
        Entropy and spawn key of the seed sequence that made the run.
    diagnostics : dict
        ``steps`` (nominal steps per replica), ``accepted`` and ``rejected``
        sub-steps (summed over replicas), ``implicit_steps`` (IMEX sub-steps) or
        ``implicit_pair_steps`` (adaptive schemes' deepest-level pair steps),
        ``newton_iterations`` (IMEX), ``smallest_gap`` (the path minimum over every
        accepted sub-step), ``smallest_recorded_gap`` (over the records: fixed-time
        snapshots), ``max_gap_factor`` and ``max_refinements`` used.
    """

    t: np.ndarray
    x: np.ndarray
    gas: CoulombGas
    scheme: str
    dt: float
    seed: dict
    diagnostics: dict

    @property
    def replicas(self) -> int:
        return self.x.shape[0]

    def final(self) -> np.ndarray:
        """The last recorded state, shape (replicas, n)."""
        return self.x[:, -1, :]

    def flat(self, discard: int = 0) -> np.ndarray:
        """All records after the first ``discard`` ones, pooled: shape (replicas·kept, n)."""
        discard = v.integer("discard", discard, minimum=0, maximum=self.x.shape[1] - 1)
        return self.x[:, discard:, :].reshape(-1, self.x.shape[-1])

    def save(self, path) -> None:
        """Write to a ``.npz`` file; :meth:`load` round-trips it exactly."""
        meta = {"gas": self.gas.to_dict(), "scheme": self.scheme, "dt": self.dt, "seed": self.seed,
                "diagnostics": self.diagnostics}
        with open(path, "wb") as fh:
            np.savez(fh, t=self.t, x=self.x, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path) -> "Trajectory":
        """Read a file written by :meth:`save` or an HDF5 file streamed by :func:`simulate`."""
        if str(path).endswith((".h5", ".hdf5")):
            from .io import read_trajectory
            return read_trajectory(path)
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            return cls(t=f["t"], x=f["x"], gas=CoulombGas.from_dict(meta["gas"]), scheme=meta["scheme"],
                       dt=meta["dt"], seed=meta["seed"], diagnostics=meta["diagnostics"])


# ------------------------------------------------------------------ public API

def default_x0(gas: CoulombGas) -> np.ndarray:
    """A sensible ordered start: the gas's T = 0 equilibrium, :meth:`CoulombGas.ground_state`.

    Exact (zeros of H_n or L_n^{(α)}, Stieltjes 1885) for a common quadratic or
    Laguerre potential, the harmonic approximation around the mean minimum
    otherwise; O(n) memory (O(n) time for the Hermite zeros).
    """
    return gas.ground_state()


def _minimum_and_curvature(gas):
    from .gas import minimum_and_curvature

    return minimum_and_curvature(gas.potential, gas.n)


def simulate(gas: CoulombGas, t_end: float, dt: float, *, x0=None, replicas: int = 1,
             record_every: int = 1, scheme: str = "auto", seed=None, max_gap_factor: float = 2.0,
             max_refinements: int = 30, out=None, resume: bool = False, chunk_records: int | None = None,
             progress: bool | None = None, device: str = "cpu", fallback: bool = False) -> Trajectory:
    """Integrate the eigenvalue SDE of ``gas`` from t = 0 to ``t_end``.

    dx_i = [a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j)] dt + s_i dW_i (see :class:`CoulombGas`).

    Parameters
    ----------
    gas : CoulombGas
        The system.
    t_end : float, >= 0
        Final time (in the gas's time unit: SGD steps for the SGD form).
    dt : float, > 0
        Largest step. The run takes ``ceil(t_end/dt)`` equal nominal steps (at most
        2**53); adaptive schemes subdivide a step where a gap would change too fast,
        the IMEX schemes one whose explicit far field would be unstable.
    x0 : array_like, shape (n,) or (replicas, n), optional
        Initial eigenvalues, strictly increasing (and inside the potential's
        domain). Default: :func:`default_x0`.
    replicas : int, >= 1
        Independent runs, each with its own random stream.
    record_every : int, >= 1
        Record every this many nominal steps (record 0 is the initial state). The
        last record is always at ``t_end``: when ``record_every`` does not divide
        the number of steps (or exceeds it) the last interval is shorter.
    scheme : str
        ``"auto"`` (= ``"imex-euler"``; ``"adaptive-heun"`` for a Custom potential
        with a finite ``lower`` edge), ``"imex-heun"``, ``"adaptive-heun"``,
        ``"adaptive-euler"`` or ``"euler-maruyama"`` (module docstring).
    seed : None, int, SeedSequence or Generator
        Randomness; the same seed gives bit-identical output for any thread count.
    max_gap_factor : float, > 1
        Adaptive schemes accept a step only if every gap changes by at most this factor.
    max_refinements : int, 1..60
        How many times one step may be halved; at that depth a collapsing pair
        takes a drift-implicit step (always ordered) instead of being halved again.
    out : path, optional
        Stream records to this HDF5 file (needs ``h5py``: ``pip install coulombgas[hdf5]``)
        in chunks, with each replica's random-stream state, so an interrupted run
        keeps what it wrote and ``resume=True`` continues it bit for bit.
    resume : bool
        Continue the run stored in ``out`` (same gas, dt, scheme and seed required).
    chunk_records : int, optional
        Records per chunk (progress and streaming granularity).
    progress : bool, optional
        Show a tqdm progress bar (default: for runs with more than 1e7 particle-steps).
        ``progress``, ``resume`` and ``fallback`` must be real booleans.
    device : {"cpu", "cuda"}
        ``"cuda"`` runs the replicas on an NVIDIA GPU (:func:`coulombgas.gpu.simulate_cuda`,
        extra ``gpu``): the same SDE and step control, its own random streams (same law,
        not the same paths), no ``out``/``resume``. Without a GPU: ValueError, unless
        ``fallback=True`` (warn and run on the CPU).

    Returns
    -------
    Trajectory
        ``t`` (records,), ``x`` (replicas, records, n), diagnostics.

    Raises
    ------
    ValueError, TypeError
        Bad arguments (named in the message), before any work: a ``dt`` so small
        that the steps overflow, records that would not fit in memory, noise
        that overflows, an ``out`` in a missing folder, ``resume`` without ``out``.
    FloatingPointError
        The run diverged or could not keep the eigenvalues apart (names t and replica).

    Examples
    --------
    >>> import coulombgas as cg
    >>> traj = cg.simulate(cg.CoulombGas.gaussian(5, beta=2.0), t_end=1.0, dt=1e-2, replicas=4, seed=1)
    >>> traj.x.shape
    (4, 101, 5)
    """
    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a CoulombGas, got {type(gas).__name__}")
    fallback = v.flag("fallback", fallback)
    resume = v.flag("resume", resume)
    if progress is not None:
        progress = v.flag("progress", progress)
    from . import gpu

    if gpu.require(device, fallback=fallback):
        if out is not None:
            raise ValueError("`out` (HDF5 streaming) is not available with device='cuda'; use device='cpu'")
        # The GPU kernel has the adaptive and Euler-Maruyama schemes; "auto" there is adaptive Heun.
        gpu_scheme = "adaptive-heun" if scheme == "auto" else scheme
        if gpu_scheme in _CPU_ONLY:
            raise ValueError(f"`scheme` {scheme!r} runs on device='cpu' only; on 'cuda' use one of "
                             "'auto', 'adaptive-heun', 'adaptive-euler', 'euler-maruyama'")
        return gpu.simulate_cuda(gas, t_end, dt, x0=x0, replicas=replicas, record_every=record_every,
                                 scheme=gpu_scheme, seed=seed, max_gap_factor=max_gap_factor,
                                 max_refinements=max_refinements, chunk_records=chunk_records)
    t_end = v.nonnegative("t_end", t_end)
    dt = v.positive("dt", dt)
    replicas = v.integer("replicas", replicas, minimum=1)
    record_every = v.integer("record_every", record_every, minimum=1)
    chosen = SCHEMES[v.one_of("scheme", scheme, tuple(SCHEMES))]
    max_gap_factor = v.real("max_gap_factor", max_gap_factor)
    if max_gap_factor <= 1.0:
        raise ValueError(f"`max_gap_factor` must be > 1, got {max_gap_factor:g}")
    max_refinements = v.integer("max_refinements", max_refinements, minimum=1, maximum=60)
    n_steps, dt_eff = _step_count(t_end, dt)
    n = gas.n
    # The records dominate the footprint: refuse before drawing the start or any stream.
    n_records = n_steps // record_every + 1 + (n_steps % record_every > 0)
    v.fits_in_memory("`replicas` x records x `n` (records = steps / `record_every` + 1)",
                     8.0 * replicas * n * (n_records + 12))
    t = _record_times(n_steps, record_every, dt_eff, t_end)
    kind, params, lower, a, c, w, s = gas.kernel_arrays()
    if scheme == "auto" and kind == CUSTOM and lower > -math.inf:
        # The IMEX step has no wall for a user potential's edge; the adaptive step keeps x > lower.
        chosen = SCHEMES["adaptive-heun"]
    if not math.isfinite(float(np.max(s)) * math.sqrt(dt_eff) * 40.0):
        raise ValueError(f"the noise amplitude s·√dt overflows (largest s = {float(np.max(s)):g}): "
                         "`beta` or the gas's noise is out of range, or `dt` is too large")
    if out is not None:
        folder = os.path.dirname(os.path.abspath(os.fspath(out)))
        if not os.path.isdir(folder):
            raise ValueError(f"`out`: the folder {folder} does not exist; create it first")
    elif resume:
        raise ValueError("`resume` needs `out`, the file of the run to continue (got resume=True without out)")
    if chunk_records is not None:
        chunk_records = v.integer("chunk_records", chunk_records, minimum=1)
    x = _initial_state(gas, x0, replicas, lower)
    if chunk_records is None:
        # About 1e7 particle-steps per chunk: responsive progress and Ctrl-C.
        chunk_records = max(1, int(1e7 // max(1, replicas * n * record_every)))

    ss = _rng.seed_sequence(seed)
    seed_info = _rng.seed_record(ss)
    gens = _rng.streams(ss, replicas)
    counts = np.zeros((replicas, _N_COUNTS), dtype=np.int64)
    # Strength of the log wall at `lower` (Laguerre: V = p1 x − a log x), for implicit steps.
    wall = float(params[0, 2]) if kind == LAGUERRE else 0.0  # only the lowest mode meets the wall
    gaps = np.full((replicas, 1), np.inf)
    gaps[:, 0] = _smallest_gaps(x, lower)

    store = None
    start_record = 0
    if out is not None:
        from .io import TrajectoryStore
        store = TrajectoryStore(out, gas=gas, scheme=chosen.name, dt=dt_eff, n_records=n_records,
                                replicas=replicas, record_every=record_every, seed=seed_info,
                                resume=resume, x0=x, t_end=t_end, t=t)
        if resume and store.records_done > 0:
            start_record = store.records_done
            x, states, stored_counts, gaps = store.state()
            counts[:, : stored_counts.shape[1]] = stored_counts
            for gen, st in zip(gens, states):
                gen.bit_generator.state = st

    records = np.empty((replicas, n_records, n))
    records[:, 0, :] = x
    if store is not None and start_record > 0:
        records[:, : start_record + 1, :] = store.read_x()
    run_replicas, run_single = _kernels_for(gas.potential)
    typed_gens = numba.typed.List(gens)
    single = replicas == 1 and n >= _PARALLEL_FORCE_N
    force_mode = FORCE_FAST if n >= FAST_CROSSOVER else FORCE_PARALLEL
    show = progress if progress is not None else replicas * n * n_steps > 1e7
    bar = _progress_bar(show, n_records - 1, start_record)
    # Records 1 .. full are record_every steps apart; a last, shorter interval (the
    # remainder of the steps) ends exactly at t_end.
    full = n_steps // record_every
    try:
        done = start_record
        while done < n_records - 1:
            if done < full:
                todo = min(chunk_records, full - done)
                per = record_every
            else:
                todo, per = 1, n_steps - full * record_every
            chunk = np.empty((replicas, todo, n))
            if single:
                run_single(x[0], gens[0], todo * per, dt_eff, per, chunk[0], kind, params, lower, a, c, w, s,
                           chosen.code, max_gap_factor, max_refinements, counts[0], gaps[0], wall, force_mode)
            else:
                run_replicas(x, typed_gens, todo * per, dt_eff, per, chunk, kind, params,
                             lower, a, c, w, s, chosen.code, max_gap_factor, max_refinements, counts, gaps, wall)
            _raise_on_status(counts, min(done, full) * record_every, dt_eff, store)
            records[:, done + 1: done + 1 + todo, :] = chunk
            done += todo
            if store is not None:
                store.append(chunk, x, [g.bit_generator.state for g in gens], counts, gaps)
            if bar is not None:
                bar.update(todo)
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
    diagnostics = {
        "steps": n_steps, "accepted": int(counts[:, 0].sum()), "rejected": int(counts[:, 1].sum()),
        "implicit_pair_steps": int(counts[:, 4].sum()) if chosen.adaptive else 0,
        "implicit_steps": int(counts[:, 4].sum()) if not chosen.adaptive else 0,
        "newton_iterations": int(counts[:, 5].sum()),
        "smallest_gap": float(gaps.min()),
        "smallest_recorded_gap": _smallest_recorded_gap(records, lower),
        "max_gap_factor": max_gap_factor, "max_refinements": max_refinements,
    }
    return Trajectory(t=t, x=records, gas=gas, scheme=chosen.name, dt=dt_eff, seed=seed_info,
                      diagnostics=diagnostics)


# Columns of the per-replica work counters (see _advance).
_N_COUNTS = 6
# Schemes the GPU kernel does not have.
_CPU_ONLY = ("imex-euler", "imex-heun")
# Most nominal steps one call may take (a loop counter far below int64 overflow).
_MAX_STEPS = 2**53


# Smallest step a run may take: far above the subnormal range, so 1/h and h·drift stay finite.
_MIN_STEP = 1e-280


def _step_count(t_end, dt):
    """(nominal steps, equal step t_end/steps); refuses a dt so small that the count overflows."""
    if t_end == 0:
        return 0, dt
    ratio = t_end / dt
    if not ratio < _MAX_STEPS:
        raise ValueError(f"`dt` must be >= t_end / 2**53 = {t_end / _MAX_STEPS:.3g} (at most 2**53 steps), "
                         f"got {dt:g}")
    n_steps = max(1, int(math.ceil(ratio - 1e-12)))
    h = t_end / n_steps
    if h < _MIN_STEP:  # subnormal steps: 1/h overflows in the implicit solve
        raise ValueError(f"`t_end` and `dt` must give a step >= {_MIN_STEP:g} (got t_end = {t_end:g}, "
                         f"dt = {dt:g}); use t_end = 0 for no step")
    return n_steps, h


def _record_times(n_steps, record_every, dt, t_end):
    """Record 0 at t = 0, then every record_every steps, and always a last record at t_end."""
    full = n_steps // record_every
    t = np.arange(full + 1) * (record_every * dt)
    if n_steps > full * record_every:
        t = np.append(t, t_end)
    elif n_steps > 0:
        t[-1] = t_end  # the same time up to roundoff: make it exact
    return t


def _smallest_recorded_gap(records, lower):
    """Smallest gap (or distance to the domain's edge) in any record (a fixed-time snapshot)."""
    if records.shape[-1] < 2:
        return math.inf
    smallest = math.inf
    for r in range(records.shape[0]):  # one replica at a time: no (replicas, records, n) temporary
        smallest = min(smallest, float(np.min(np.diff(records[r], axis=-1))))
        if lower > -math.inf:
            smallest = min(smallest, float(np.min(records[r, :, 0] - lower)))
    return smallest


# A single replica with at least this many eigenvalues evaluates forces in
# parallel over particles instead of in one thread.
_PARALLEL_FORCE_N = 256


def _initial_state(gas, x0, replicas, lower):
    n = gas.n
    if x0 is None:
        x = np.broadcast_to(default_x0(gas), (replicas, n)).copy()
    else:
        x = v.finite_array("x0", x0)
        if x.shape not in ((n,), (replicas, n)):
            raise ValueError(f"`x0` must have shape ({n},) or ({replicas}, {n}), got shape {x.shape}")
        x = np.broadcast_to(x, (replicas, n)).copy()
    if np.any(np.diff(x, axis=-1) <= 0):
        raise ValueError("`x0` must be strictly increasing along its last axis (sorted, no coincident values)")
    if np.any(x[:, 0] <= lower):
        raise ValueError(f"`x0` must lie inside the potential's domain x > {lower:g}")
    return np.ascontiguousarray(x)


def _smallest_gaps(x, lower):
    gaps = np.min(np.diff(x, axis=-1), axis=-1)
    if lower > -math.inf:
        gaps = np.minimum(gaps, x[:, 0] - lower)
    return gaps


def _raise_on_status(counts, steps_before, dt, store):
    bad = np.flatnonzero(counts[:, 2] != OK)
    if bad.size == 0:
        return
    r = int(bad[0])
    status = int(counts[r, 2])
    t_fail = (steps_before + int(counts[r, 3])) * dt
    kept = f"; records up to the last full chunk are in {store.path}" if store is not None else ""
    raise FloatingPointError(f"simulation stopped at t ≈ {t_fail:.6g} in replica {r} "
                             f"({bad.size} replica(s) affected): {_MESSAGES[status]}{kept}")


def _progress_bar(show, total, initial):
    if not show:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit="record", desc="simulate", leave=False)
