"""Compiled CPU kernels of :func:`coulombgas.simulate`: the eigenvalue SDE's integrators.

    dx_i = [ a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j) ] dt + s_i dW_i

The schemes (adaptive Heun/Euler with gap control and Brownian-bridge refinement,
plain Euler–Maruyama, and the IMEX schemes with a drift-implicit nearest-neighbour
repulsion and exact close-pair Bessel steps) are described, with their references,
in :mod:`coulombgas.dynamics`, which validates the input, plans the run and calls
:func:`run_replicas` (a ``prange`` over replicas, serial forces in each) or
:func:`run_single` (one large replica, forces parallel over particles or by the
fast multipole method). Kernels never raise: they stop with a code of
:mod:`coulombgas._status` in their counters.

Compile only what runs: the integrator family (``imex``) and the force kernel
(``par``, ``fmm``) are chosen by arguments that are either None or a value, so Numba
prunes the unused branches by type and a run compiles only what it calls (a small
gas never compiles the fast multipole method).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._fmm import LEAF_SIZE, fast_force, order_for_tol
from ._implicit import _positive_root, _prox, _remove_implicit
from ._jit import njit, rebind
from ._pairs import direct_force, direct_force_parallel
from ._status import CROSSED, DIVERGED, ESCAPE, LEFT_DOMAIN, NEWTON_FAILED, OK, TOO_MANY_REFINEMENTS
from .potentials import dV_kernel

__all__ = ["run_replicas", "run_single", "kernels_for", "N_COUNTS", "FAST_ORDER", "IMEX_EULER", "IMEX_HEUN"]

#: Columns of the per-replica work counters: [accepted sub-steps, rejected sub-steps, status,
#: failed step, implicit (pair) steps, Newton iterations].
N_COUNTS = 6

#: Scheme codes of the IMEX integrators (the adaptive ones are 0, 1; Euler-Maruyama 2).
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
#: Chebyshev order of the fast method: relative error ~1e-10 against direct summation.
FAST_ORDER = order_for_tol(1e-10)

@njit
def _drift_into(x, kind, params, a, c, w, par, fmm, out):
    """out_i = −a V_i'(x_i) + c Σ_{j≠i} w_j/(x_i − x_j) (inputs validated by the caller).

    Forces: the fast multipole method of order ``fmm`` unless ``fmm`` is None, else the
    direct sum, parallel over particles unless ``par`` is None. The choice is made by
    the arguments' *types* (None or not), so Numba prunes the other branches and
    compiles only the force kernel a run uses (the FMM costs seconds to compile).
    """
    if fmm is not None:
        fast_force(x, w, out, fmm, LEAF_SIZE)
    elif par is not None:
        direct_force_parallel(x, w, out)
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
        if not (abs(y[i]) < ESCAPE):
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
        if not (abs(y[i]) < ESCAPE):
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
                  par, fmm, counts, gaps, omega):
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
            status = _imex_step(x, y, z, b0, b1, dw, h, kind, params, lower, a, c, w, s, heun, par, fmm,
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
def _imex_step(x, y, z, b0, b1, dw, h, kind, params, lower, a, c, w, s, heun, par, fmm, sig, sig_min,
               omega, g, dg, off, st, cp, trial, counts, gaps, sig2, gen):
    """One IMEX step of size h with Brownian increment dw; x ← y. Returns a status code."""
    n = x.shape[0]
    _drift_into(x, kind, params, a, c, w, par, fmm, b0)
    _remove_implicit(x, b0, sig, lower, omega)
    for i in range(n):
        z[i] = x[i] + h * b0[i] + s[i] * dw[i]
    if heun:
        # Predictor: the fully implicit nearest-neighbour step.
        it = _prox(z, x, h, sig, sig_min, lower, omega, y, g, dg, off, st, cp, trial)
        if it > 0:
            counts[5] += it
            _drift_into(y, kind, params, a, c, w, par, fmm, b1)
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
        if not (abs(z[i]) < ESCAPE):
            return False
    return True


@njit
def _advance(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme, imex, adapt,
             factor, max_depth, par, fmm, counts, gaps, wall):
    """Advance one replica by n_steps nominal steps, writing every record_every-th state to rec.

    counts = [accepted sub-steps, rejected sub-steps, status, failed step, implicit pair steps,
    Newton iterations]; gaps = [smallest gap]; wall = strength of a log wall at ``lower``
    (Laguerre), else 0. Kernels never raise: problems end the run with a status code
    (coulombgas._status). Exactly one of ``imex`` (the Heun flag of an IMEX
    scheme) and ``adapt`` (True for the adaptive and Euler–Maruyama schemes, ``scheme``
    0, 1, 2) is not None; ``par``/``fmm`` choose the force kernel (:func:`_drift_into`).
    Numba prunes a branch whose condition is ``arg is not None`` with ``arg`` None, so a
    run compiles only the integrator and the force kernel it uses.
    """
    if imex is not None:
        _advance_imex(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s,
                      imex, par, fmm, counts, gaps, a * wall)
    if adapt is not None:
        _advance_adaptive(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme,
                          factor, max_depth, par, fmm, counts, gaps, wall)


@njit
def _advance_adaptive(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme,
                      factor, max_depth, par, fmm, counts, gaps, wall):
    """Adaptive Heun (scheme 0) / Euler (1) with gap control, or plain Euler–Maruyama (2)."""
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
                _drift_into(x, kind, params, a, c, w, par, fmm, b0)
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
                    _drift_into(y, kind, params, a, c, w, par, fmm, b1)
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
def run_replicas(x, gens, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme, imex,
                 adapt, factor, max_depth, counts, gaps, wall):
    """prange over replicas; x (R, n) is advanced in place, rec is (R, records, n)."""
    for r in numba.prange(x.shape[0]):
        if counts[r, 2] != OK:
            continue
        _advance(x[r], gens[np.intp(r)], n_steps, dt, record_every, rec[r], kind, params, lower, a, c, w, s,
                 scheme, imex, adapt, factor, max_depth, None, None, counts[r], gaps[r], wall)


@njit
def run_single(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme, imex,
               adapt, factor, max_depth, counts, gaps, wall, par, fmm):
    """One large replica: forces parallel over particles (``par`` not None) or by the FMM (``fmm``)."""
    _advance(x, gen, n_steps, dt, record_every, rec, kind, params, lower, a, c, w, s, scheme, imex, adapt,
             factor, max_depth, par, fmm, counts, gaps, wall)


_CUSTOM_KERNELS: dict = {}


def kernels_for(potential):
    """(run_replicas, run_single) for a gas's potential: cached ones for built-in kinds."""
    if getattr(potential, "derivative_fn", None) is None:
        return run_replicas, run_single
    key = id(potential.derivative_fn)
    if key not in _CUSTOM_KERNELS:
        user = potential.derivative_fn

        @numba.njit
        def dV(x, i, kind, params):
            return user(x, i)

        drift = rebind(_drift_into, dV_kernel=dV)
        imex = rebind(_advance_imex, _imex_step=rebind(_imex_step, _drift_into=drift))
        adaptive = rebind(_advance_adaptive, _drift_into=drift)
        advance = rebind(_advance, _advance_adaptive=adaptive, _advance_imex=imex)
        _CUSTOM_KERNELS[key] = (potential.derivative_fn,  # keep alive so id stays unique
                                rebind(run_replicas, _advance=advance),
                                rebind(run_single, _advance=advance))
    return _CUSTOM_KERNELS[key][1:]
