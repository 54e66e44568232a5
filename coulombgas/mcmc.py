r"""Markov-chain Monte Carlo for the stationary Coulomb gas: kernels, tuning and chain diagnostics.

The target is the stationary law of :class:`~coulombgas.gas.CoulombGas` on
the ordered configurations x_1 < … < x_n (inside the potential's domain
x > ``lower``),

.. math::

    \log P_s(x) = \beta \sum_{i<j} \log|x_i - x_j| - \sum_i \kappa_i V_i(x_i),
    \qquad \kappa_i = a / D_i,

(:meth:`CoulombGas.log_density`; exact when ``gas.stationary_is_exact``).
Two samplers run ``chains`` independent chains, one Numba ``prange``
iteration and one random stream per chain, so the output is bit-identical
for any number of threads. Public entry point: :func:`coulombgas.sample`
(``coulombgas/stationary.py``); this module holds the kernels, the warm-up
(tuning) schedules and the estimators of :func:`integrated_time`,
:func:`effective_sample_size` and :func:`split_rhat`.

``"mh"`` — random-walk Metropolis, single-site systematic scan
    One *draw* is one sweep i = 1…n: x_i' = x_i + h_i ξ, ξ ~ N(0, 1), accepted
    with probability min(1, P_s(x')/P_s(x)). A proposal that leaves
    (x_{i−1}, x_{i+1}) — the ordered domain — has P_s = 0 and is rejected.
    The change of log P_s costs O(n), a sweep O(n²): the same as one
    evaluation of log P_s, which an all-site proposal would need for a move
    whose per-coordinate size must shrink like n^{-1/2} (Roberts, Gelman &
    Gilks 1997) and stay below the smallest gap to keep the order. Single-site
    updates move every eigenvalue by about its local gap per sweep instead,
    so they are chosen here. The per-site step h_i is tuned in warm-up by dual
    averaging (Hoffman & Gelman 2014) to acceptance 0.44, the optimum for
    one-dimensional random-walk updates (Gelman, Roberts & Gilks 1996; Roberts
    & Rosenthal 2001); 0.234 is the optimum of *all-site* proposals in high
    dimension, not of single-site ones.

``"hmc"`` — hybrid (Hamiltonian) Monte Carlo
    Potential energy U(q) = −log P_s(x(q)) − log|det ∂x/∂q|, kinetic energy
    ½ pᵀ M⁻¹ p. Leapfrog (Neal 2011, §5.2.3) with the gradient

    .. math:: \partial_{x_i} \log P_s = -\kappa_i V_i'(x_i) + \beta \sum_{j \ne i} \frac{1}{x_i - x_j},

    (the pair sum is the compiled Coulomb force of :mod:`coulombgas.forces`,
    O(n²) per gradient) pulled back to q by an O(n) suffix sum, then a
    Metropolis test on the energy error (Chafaï & Ferré 2018). Coordinates q:

    * ``"x"``: q = x, Chafaï & Ferré's choice; a trajectory that leaves the
      ordered domain has infinite energy and is rejected;
    * ``"gaps"``: q = (x_1, log gaps), x_k = x_{k−1} + e^{q_k} (x_1 = lower + e^{q_1}
      with a hard wall): the order holds by construction and a collision,
      singular in x, is a linear potential (β + 1) q_k in q;
    * ``"softgaps"`` (default): gap_k = s_k log(1 + e^{q_k}), logarithmic for
      small gaps, linear for large ones, which log gaps make stiff (their
      density falls like exp(−c e^{2q})); s_k = the starting configuration's gaps.

    Measured gradient evaluations per effective sample of log P_s (n = 100 GOE,
    dense metric): ≈ 20 (soft gaps), 38 (log gaps), 175 (x, where near-collisions
    force ε ≈ 0.002 with a diagonal metric). Optional partial momentum refresh
    p ← η p + √(1 − η²) ξ (Horowitz 1991; Chafaï & Ferré's Metropolis-adjusted
    kinetic Langevin, η = e^{−γ δt}), with a momentum flip on rejection.
    Warm-up follows Stan's windowed adaptation: the step ε is tuned by dual
    averaging to acceptance 0.65, M⁻¹ is set from the within-chain covariance
    over doubling windows (dense with shrinkage, or diagonal: the per-mode step
    scales), and the integration time is (π/2)√λ_max, a quarter period of the
    slowest mode left after preconditioning, with the number of leapfrog steps
    drawn uniformly in [L/2, 3L/2] to avoid periodicities.

Kernels never raise: they return a status code and the iteration where it
happened; :func:`run_chains` turns it into an error naming the chain and draw.
A chain *diverges* when an accepted state (or, for HMC, a proposal whose
log-density is higher than the current one) lies beyond ``radius`` (10¹⁰ times
the initial configuration's scale) or has a non-finite log-density — the
signature of a potential that does not confine.

References
----------
D. Chafaï, G. Ferré, "Simulating Coulomb and log-gases with hybrid Monte Carlo
algorithms", J. Stat. Phys. 174, 692 (2019), arXiv:1806.05985.
R. M. Neal, "MCMC using Hamiltonian dynamics", Handbook of MCMC (2011), arXiv:1206.1901.
M. D. Hoffman, A. Gelman, "The No-U-Turn sampler", JMLR 15, 1593 (2014), §3.2 (dual averaging).
A. Gelman, G. O. Roberts, W. R. Gilks, Bayesian Statistics 5, 599 (1996);
G. O. Roberts, J. S. Rosenthal, Statist. Sci. 16, 351 (2001) (optimal scaling).
A. D. Sokal, "Monte Carlo methods in statistical mechanics", Cargèse lectures (1997);
D. Foreman-Mackey et al., emcee, PASP 125, 306 (2013) (integrated autocorrelation time).
A. Vehtari, A. Gelman, D. Simpson, B. Carpenter, P.-C. Bürkner, "Rank-normalization,
folding, and localization: an improved R̂", Bayesian Analysis 16, 667 (2021), arXiv:1903.08008.
Stan Reference Manual, "HMC algorithm parameters" (windowed adaptation).
"""

from __future__ import annotations

import math
import time
import warnings

import numba
import numpy as np
import scipy.special
import scipy.stats
from numba import prange

from ._jit import njit
from ._pairs import direct_force as _direct_force
from ._pairs import direct_force_parallel as _direct_force_parallel
from ._pairs import sum_log_dist as _sum_log_dist
from .potentials import V_kernel as _V
from .potentials import dV_kernel as _dV

__all__ = [
    "integrated_time", "autocorr_function", "effective_sample_size", "split_rhat",
    "AutocorrError", "run_chains", "TARGET_ACCEPT",
]

#: Default target acceptance of the warm-up's dual averaging, per sampler.
TARGET_ACCEPT = {"mh": 0.44, "hmc": 0.65}

# Kernel status codes and their meaning (the wrapper adds chain and draw).
OK, DIVERGED, STEP_COLLAPSED = 0, 1, 2
_MESSAGES = {
    DIVERGED: "the log-density became non-finite or the chain ran away to |x| > {radius:.3g} "
              "(a potential that does not confine: V_i must grow faster than "
              "(β(n−1)/κ_i) log|x|; check a Custom potential's sign and growth)",
    STEP_COLLAPSED: "the tuned step size fell below 1e-300: every move was rejected "
                    "(a log-density that is −inf or NaN around the chain)",
}

# Dual averaging constants (Hoffman & Gelman 2014, §3.2.1; Stan's defaults).
_DA_GAMMA, _DA_T0, _DA_KAPPA = 0.05, 10.0, 0.75
# Layout of a dual-averaging state row: [log ε, m, H̄, log ε̄, μ].
_LOG_EPS, _M, _HBAR, _LOG_EPS_BAR, _MU = 0, 1, 2, 3, 4
# HMC counters: [iterations, accepted, divergent transitions, status, where, gradient evaluations].
_C_ITER, _C_ACC, _C_DIVT, _C_STATUS, _C_WHERE, _C_GRAD = 0, 1, 2, 3, 4, 5
# An energy error above this marks a "divergent transition" (Stan's threshold), a counter only.
_DIVERGENT_ENERGY = 1000.0
FORCE_SERIAL, FORCE_PARALLEL = 0, 1
# HMC coordinates: the eigenvalues themselves, or (x_1, log gaps) in which the order is automatic.
COORD_X, COORD_GAPS, COORD_SOFT = 0, 1, 2
# Fixed number of accumulator slots of the parallel pair sum (bit-identical for any thread count).
_CHUNKS = 16


# ------------------------------------------------------------------ compiled energy and gradient

@njit
def _sum_log_ratio(y, xi, xs):
    """Σ_k log[(y − xs_k)/(xi − xs_k)] for y, xi on the same side of every xs_k (ratios > 0)."""
    m = xs.shape[0]
    s = 0.0
    k = 0
    while k + 4 <= m:
        p = ((y - xs[k]) / (xi - xs[k])) * ((y - xs[k + 1]) / (xi - xs[k + 1])) \
            * ((y - xs[k + 2]) / (xi - xs[k + 2])) * ((y - xs[k + 3]) / (xi - xs[k + 3]))
        if p > 1e-250 and p < 1e250:
            s += math.log(p)
        else:
            for q in range(k, k + 4):
                s += math.log((y - xs[q]) / (xi - xs[q]))
        k += 4
    for q in range(k, m):
        s += math.log((y - xs[q]) / (xi - xs[q]))
    return s


@njit(parallel=True)
def _pair_log_parallel(x, acc):
    """Σ_{i<j} log(x_j − x_i) over all threads; rows interleaved over a fixed number of slots."""
    n = x.shape[0]
    for c in prange(_CHUNKS):
        s = 0.0
        for i in range(c, n - 1, _CHUNKS):
            s += _sum_log_dist(x[i], x[i + 1:])
        acc[c] = s
    total = 0.0
    for c in range(_CHUNKS):
        total += acc[c]
    return total


@njit
def _pair_log_serial(x, acc):
    """Σ_{i<j} log(x_j − x_i) in one thread (same signature as :func:`_pair_log_parallel`)."""
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += _sum_log_dist(x[i], x[i + 1:])
    return s


@njit
def _ordered(x, lower, radius):
    """True if lower < x_1 < … < x_n and every |x_i| < radius (finite)."""
    n = x.shape[0]
    if not (x[0] > lower):
        return False
    for i in range(n):
        if not (abs(x[i]) < radius):
            return False
    for i in range(n - 1):
        if not (x[i + 1] > x[i]):
            return False
    return True


@njit
def _log_density(x, kind, params, lower, beta, kappa, radius, force_mode):
    """log P_s(x) = β Σ_{i<j} log(x_j − x_i) − Σ κ_i V_i(x_i); −inf off the ordered domain.

    Inputs are validated by the caller.
    """
    if not _ordered(x, lower, radius):
        return -np.inf
    n = x.shape[0]
    conf = 0.0
    for i in range(n):
        conf += kappa[i] * _V(x[i], i, kind, params)
    if force_mode == FORCE_PARALLEL:
        pair = _pair_log_parallel(x, np.empty(_CHUNKS))
    else:
        pair = _pair_log_serial(x, np.empty(0))
    out = beta * pair - conf
    if math.isnan(out):
        return -np.inf
    return out


@njit
def _grad_log_density(x, kind, params, beta, kappa, ones, force_mode, out):
    """out_i = ∂_i log P_s = −κ_i V_i'(x_i) + β Σ_{j≠i} 1/(x_i − x_j) (inputs validated by the caller)."""
    if force_mode == FORCE_PARALLEL:
        _direct_force_parallel(x, ones, out)
    else:
        _direct_force(x, ones, out)
    for i in range(x.shape[0]):
        out[i] = beta * out[i] - kappa[i] * _dV(x[i], i, kind, params)


@njit(parallel=True)
def _prepare(Q, LP, G, kind, params, lower, beta, kappa, ones, radius, coords, scale):
    """Log density LP[c, 0] and gradient G[c] (in coordinates ``coords``) of every chain's state Q[c]."""
    for c in prange(Q.shape[0]):
        x = np.empty(Q.shape[1])
        LP[c, 0] = _target(Q[c], x, kind, params, lower, beta, kappa, radius, coords, scale, FORCE_SERIAL)
        _target_grad(Q[c], x, kind, params, lower, beta, kappa, ones, coords, scale, FORCE_SERIAL, G[c])


# ------------------------------------------------------------------ dual averaging

@njit
def _da_update(st, accept_prob, target):
    """One dual-averaging step on log ε towards mean acceptance ``target`` (Hoffman & Gelman 2014, eq. 6)."""
    m = st[_M] + 1.0
    st[_M] = m
    w = 1.0 / (m + _DA_T0)
    st[_HBAR] = (1.0 - w) * st[_HBAR] + w * (target - accept_prob)
    log_eps = st[_MU] - math.sqrt(m) / _DA_GAMMA * st[_HBAR]
    # Keep exp(log ε) finite; a collapse below 1e-300 is reported by the caller.
    if log_eps > 700.0:
        log_eps = 700.0
    st[_LOG_EPS] = log_eps
    eta = m ** (-_DA_KAPPA)
    st[_LOG_EPS_BAR] = eta * log_eps + (1.0 - eta) * st[_LOG_EPS_BAR]


@njit
def _adapt_collapsed(st, accept_prob, target, counts):
    """:func:`_da_update`, then True (with status STEP_COLLAPSED) if ε fell below e^-690."""
    _da_update(st, accept_prob, target)
    if st[_LOG_EPS] < -690.0:
        counts[_C_STATUS] = STEP_COLLAPSED
        counts[_C_WHERE] = counts[_C_ITER]
        return True
    return False


# ------------------------------------------------------------------ random-walk Metropolis

@njit
def _mh_chain(x, lp, gen, n_iter, thin, rec_x, rec_lp, kind, params, lower, beta, kappa, radius,
              steps, adapt, target, counts, accept_sum):
    """``n_iter`` single-site Metropolis sweeps of one chain; records every ``thin``-th state.

    ``lp`` (1,) carries log P_s(x), updated by the exact O(n) difference of each
    accepted move; ``steps`` (n, 5) holds each site's dual-averaging state (its
    step is exp(steps[i, 0])); counts = [sweeps, accepted, -, status, where, -].
    Inputs are validated by the caller.
    """
    n = x.shape[0]
    r = 0
    for it in range(n_iter):
        for i in range(n):
            st = steps[i]
            y = x[i] + math.exp(st[_LOG_EPS]) * gen.standard_normal()
            lo = x[i - 1] if i > 0 else lower
            a = 0.0
            d = 0.0
            if y > lo and (i == n - 1 or y < x[i + 1]):
                d = beta * (_sum_log_ratio(y, x[i], x[:i]) + _sum_log_ratio(y, x[i], x[i + 1:])) \
                    - kappa[i] * (_V(y, i, kind, params) - _V(x[i], i, kind, params))
                if d >= 0.0:
                    a = 1.0
                elif d > -np.inf:  # NaN compares False: rejected
                    a = math.exp(d)
                if gen.random() < a:
                    x[i] = y
                    lp[0] += d
                    counts[_C_ACC] += 1
                    if not (abs(y) < radius) or not (abs(lp[0]) < np.inf):
                        counts[_C_STATUS] = DIVERGED
                        counts[_C_WHERE] = counts[_C_ITER]
                        return
            accept_sum[0] += a
            if adapt and _adapt_collapsed(st, a, target, counts):
                return
        counts[_C_ITER] += 1
        if (it + 1) % thin == 0:
            for i in range(n):
                rec_x[r, i] = x[i]
            rec_lp[r] = lp[0]
            r += 1


@njit(parallel=True)
def _mh_chains(X, LP, gens, n_iter, thin, REC_X, REC_LP, kind, params, lower, beta, kappa, radius,
               STEPS, adapt, target, COUNTS, ACC):
    """prange over chains of :func:`_mh_chain` (one stream per chain: thread-count independent)."""
    for c in prange(X.shape[0]):
        if COUNTS[c, _C_STATUS] != OK:
            continue
        _mh_chain(X[c], LP[c], gens[np.intp(c)], n_iter, thin, REC_X[c], REC_LP[c], kind, params, lower, beta,
                  kappa, radius, STEPS[c], adapt, target, COUNTS[c], ACC[c])


# ------------------------------------------------------------------ hybrid Monte Carlo

@njit
def _softplus(q):
    """log(1 + e^q) without overflow."""
    return max(q, 0.0) + math.log1p(math.exp(-abs(q)))


@njit
def _sigmoid(q):
    """1/(1 + e^{−q}) without overflow."""
    if q >= 0.0:
        return 1.0 / (1.0 + math.exp(-q))
    e = math.exp(q)
    return e / (1.0 + e)


@njit
def _gap(q, s, coords):
    """A gap from its coordinate: e^q (log gaps) or s·softplus(q) (soft gaps)."""
    if coords == COORD_GAPS:
        return math.exp(q)
    return s * _softplus(q)


@njit
def _to_x(q, lower, coords, scale, x):
    """x from the sampler's coordinates q (inputs validated by the caller).

    coords = x: x = q. Otherwise x_1 = q_1 (or lower + gap(q_1) with a wall)
    and x_k = x_{k−1} + gap(q_k): gap = e^q (log gaps) or s_k·log(1 + e^q)
    (soft gaps, s_k = ``scale[k]``).
    """
    n = q.shape[0]
    if coords == COORD_X:
        for i in range(n):
            x[i] = q[i]
        return
    x[0] = lower + _gap(q[0], scale[0], coords) if lower > -np.inf else q[0]
    for k in range(1, n):
        x[k] = x[k - 1] + _gap(q[k], scale[k], coords)


@njit
def _log_jacobian(q, lower, coords, scale):
    """log|det ∂x/∂q| = Σ_k log gap'(q_k) over the gap coordinates; 0 for coords = x.

    gap' = e^q (log gaps: the sum of the q_k) or s σ(q) (soft gaps: log s − softplus(−q)).
    """
    if coords == COORD_X:
        return 0.0
    s = 0.0
    start = 0 if lower > -np.inf else 1
    for k in range(start, q.shape[0]):
        if coords == COORD_GAPS:
            s += q[k]
        else:
            s += math.log(scale[k]) - _softplus(-q[k])
    return s


@njit
def _target(q, x, kind, params, lower, beta, kappa, radius, coords, scale, force_mode):
    """log density of q: log P_s(x(q)) + log|det ∂x/∂q| (fills x = x(q)); inputs validated by the caller."""
    _to_x(q, lower, coords, scale, x)
    return _log_density(x, kind, params, lower, beta, kappa, radius, force_mode) \
        + _log_jacobian(q, lower, coords, scale)


@njit
def _target_grad(q, x, kind, params, lower, beta, kappa, ones, coords, scale, force_mode, out):
    """∇_q of :func:`_target` at q, given x = x(q): the chain rule is a suffix sum, O(n).

    ∂x_i/∂q_k = gap'(q_k) for i ≥ k (k ≥ 2, or k ≥ 1 with a wall), so
    ∂_{q_k} = gap'(q_k) Σ_{i≥k} ∂_{x_i} log P_s + (log gap')'(q_k), with
    (log gap')' = 1 for log gaps and σ(−q) for soft gaps.
    """
    _grad_log_density(x, kind, params, beta, kappa, ones, force_mode, out)
    if coords == COORD_X:
        return
    acc = 0.0
    for k in range(q.shape[0] - 1, -1, -1):
        acc += out[k]
        if k == 0 and not (lower > -np.inf):
            out[0] = acc
        elif coords == COORD_GAPS:
            out[k] = acc * math.exp(q[k]) + 1.0
        else:
            out[k] = acc * scale[k] * _sigmoid(q[k]) + _sigmoid(-q[k])


@njit
def _metric_times(m, p, out):
    """out = M⁻¹ p: M⁻¹ diagonal (one row, m[0]) or dense (n, n)."""
    n = p.shape[0]
    if m.shape[0] == 1:
        for i in range(n):
            out[i] = m[0, i] * p[i]
        return
    for i in range(n):
        row = m[i]
        s = 0.0
        for j in range(n):
            s += row[j] * p[j]
        out[i] = s


@njit
def _draw_momentum(w, gen, z, out):
    """out = W z, z ~ N(0, 1): momentum ~ N(0, M) with W = L⁻ᵀ (M⁻¹ = L Lᵀ, upper triangular) or diag in w[0]."""
    n = out.shape[0]
    for i in range(n):
        z[i] = gen.standard_normal()
    if w.shape[0] == 1:
        for i in range(n):
            out[i] = w[0, i] * z[i]
        return
    for i in range(n):
        row = w[i]
        s = 0.0
        for j in range(i, n):
            s += row[j] * z[j]
        out[i] = s


@njit
def _hmc_chain(q, lp, grad, mom, gen, n_iter, thin, rec_x, rec_lp, kind, params, lower, beta, kappa, ones,
               radius, inv_metric, sd_mom, st, n_leap, persistence, adapt, target, counts, accept_sum,
               coords, scale, force_mode):
    """``n_iter`` HMC transitions of one chain (leapfrog + Metropolis); records every ``thin``-th state.

    State carried between calls: q (coordinates ``coords``), lp (1,) = log
    density of q, grad = its gradient, mom (momentum, kept when
    ``persistence`` > 0), st (dual averaging). Records x(q) and log P_s(x).
    counts = [iterations, accepted, divergent transitions, status, where,
    gradient evaluations]. Inputs are validated by the caller.
    """
    n = q.shape[0]
    q1 = np.empty(n)
    x1 = np.empty(n)
    p = np.empty(n)
    g1 = np.empty(n)
    v = np.empty(n)
    z = np.empty(n)
    lo_leap = max(1, n_leap - n_leap // 2)
    hi_leap = n_leap + n_leap // 2
    c_refresh = math.sqrt(max(0.0, 1.0 - persistence * persistence))
    r = 0
    for it in range(n_iter):
        eps = math.exp(st[_LOG_EPS])
        _draw_momentum(sd_mom, gen, z, v)
        for i in range(n):
            mom[i] = persistence * mom[i] + c_refresh * v[i] if persistence > 0.0 else v[i]
        _metric_times(inv_metric, mom, v)
        k0 = 0.0
        for i in range(n):
            q1[i] = q[i]
            p[i] = mom[i]
            g1[i] = grad[i]
            k0 += v[i] * p[i]
        n_steps = lo_leap + int(gen.random() * (hi_leap - lo_leap + 1))
        inside = True
        for _ in range(n_steps):
            for i in range(n):
                p[i] += 0.5 * eps * g1[i]
            _metric_times(inv_metric, p, v)
            for i in range(n):
                q1[i] += eps * v[i]
            _to_x(q1, lower, coords, scale, x1)
            if not _ordered(x1, lower, radius):
                inside = False
                break
            _target_grad(q1, x1, kind, params, lower, beta, kappa, ones, coords, scale, force_mode, g1)
            counts[_C_GRAD] += 1
            for i in range(n):
                p[i] += 0.5 * eps * g1[i]
        lp1 = -np.inf
        dh = np.inf
        if inside:
            lp1 = _target(q1, x1, kind, params, lower, beta, kappa, radius, coords, scale, force_mode)
            _metric_times(inv_metric, p, v)
            k1 = 0.0
            for i in range(n):
                k1 += v[i] * p[i]
            dh = (0.5 * k1 - lp1) - (0.5 * k0 - lp[0])  # H(new) − H(old)
            if math.isnan(dh):
                dh = np.inf
        elif not (_max_abs(x1) < radius):
            # Left the domain far out. With a log-density still rising there this is a runaway
            # (no confinement), not an integration error: the potential is at fault.
            if _log_density_unordered(x1, kind, params, beta, kappa) > lp[0] - _log_jacobian(q, lower, coords, scale):
                counts[_C_STATUS] = DIVERGED
                counts[_C_WHERE] = counts[_C_ITER]
                return
        a = 1.0 if dh <= 0.0 else math.exp(-dh)
        if dh > _DIVERGENT_ENERGY:
            counts[_C_DIVT] += 1
        if gen.random() < a:
            for i in range(n):
                q[i] = q1[i]
                grad[i] = g1[i]
                mom[i] = p[i]
            lp[0] = lp1
            counts[_C_ACC] += 1
            if not (abs(lp1) < np.inf):
                counts[_C_STATUS] = DIVERGED
                counts[_C_WHERE] = counts[_C_ITER]
                return
        elif persistence > 0.0:
            for i in range(n):
                mom[i] = -mom[i]
        accept_sum[0] += a
        if adapt and _adapt_collapsed(st, a, target, counts):
            return
        counts[_C_ITER] += 1
        if (it + 1) % thin == 0:
            _to_x(q, lower, coords, scale, x1)
            for i in range(n):
                rec_x[r, i] = x1[i]
            rec_lp[r] = lp[0] - _log_jacobian(q, lower, coords, scale)
            r += 1


@njit
def _max_abs(x):
    """max |x_i|, +inf if any entry is NaN."""
    m = 0.0
    for i in range(x.shape[0]):
        ax = abs(x[i])
        if ax != ax:
            return np.inf
        if ax > m:
            m = ax
    return m


@njit
def _log_density_unordered(x, kind, params, beta, kappa):
    """log P_s without the order check, NaN → −inf (used only to classify a runaway)."""
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s -= kappa[i] * _V(x[i], i, kind, params)
    for i in range(n - 1):
        s += beta * _sum_log_dist(x[i], x[i + 1:])
    if math.isnan(s):
        return -np.inf
    return s


@njit(parallel=True)
def _hmc_chains(X, LP, G, MOM, gens, n_iter, thin, REC_X, REC_LP, kind, params, lower, beta, kappa, ones,
                radius, inv_metric, sd_mom, STEPS, N_LEAP, persistence, adapt, target, COUNTS, ACC, coords, scale):
    """prange over chains of :func:`_hmc_chain` (serial forces inside each chain)."""
    for c in prange(X.shape[0]):
        if COUNTS[c, _C_STATUS] != OK:
            continue
        _hmc_chain(X[c], LP[c], G[c], MOM[c], gens[np.intp(c)], n_iter, thin, REC_X[c], REC_LP[c], kind, params,
                   lower, beta, kappa, ones, radius, inv_metric, sd_mom, STEPS[c], N_LEAP[c], persistence,
                   adapt, target, COUNTS[c], ACC[c], coords, scale, FORCE_SERIAL)


@njit
def _hmc_single(X, LP, G, MOM, gens, n_iter, thin, REC_X, REC_LP, kind, params, lower, beta, kappa, ones,
                radius, inv_metric, sd_mom, STEPS, N_LEAP, persistence, adapt, target, COUNTS, ACC, coords, scale):
    """One large chain: forces and pair energy parallel over particles."""
    if COUNTS[0, _C_STATUS] != OK:
        return
    _hmc_chain(X[0], LP[0], G[0], MOM[0], gens[0], n_iter, thin, REC_X[0], REC_LP[0], kind, params,
               lower, beta, kappa, ones, radius, inv_metric, sd_mom, STEPS[0], N_LEAP[0], persistence,
               adapt, target, COUNTS[0], ACC[0], coords, scale, FORCE_PARALLEL)


# A single chain with at least this many eigenvalues evaluates its gradient in parallel.
_PARALLEL_N = 256


class _Kernels:
    """The compiled kernels for one potential (cached ones for built-in kinds)."""

    def __init__(self, prepare, mh_chains, hmc_chains, hmc_single):
        self.prepare = prepare
        self.mh_chains = mh_chains
        self.hmc_chains = hmc_chains
        self.hmc_single = hmc_single


_BUILTIN = _Kernels(_prepare, _mh_chains, _hmc_chains, _hmc_single)
_CUSTOM_KERNELS: dict = {}


def _kernels_for(potential) -> _Kernels:
    """Kernels for a gas's potential; a Custom potential's are compiled once per process.

    Numba cannot cache code that calls a user's function, so the same kernel
    source is re-bound with ``_V``/``_dV`` pointing at the user's functions
    (the ``_rebind`` trick of :mod:`coulombgas.dynamics`).
    """
    if getattr(potential, "derivative_fn", None) is None:
        return _BUILTIN
    from ._jit import rebind as _rebind

    key = (id(potential.value_fn), id(potential.derivative_fn))
    if key not in _CUSTOM_KERNELS:
        user_v, user_dv = potential.value_fn, potential.derivative_fn

        @numba.njit
        def V(x, i, kind, params):
            return user_v(x, i)

        @numba.njit
        def dV(x, i, kind, params):
            return user_dv(x, i)

        # Serial pair sums only: nested parallel regions would double the per-process
        # compile time (~15 s), and custom potentials are a small-n escape hatch.
        logd = _rebind(_log_density, _V=V, _pair_log_parallel=_pair_log_serial)
        logd_u = _rebind(_log_density_unordered, _V=V)
        grad = _rebind(_grad_log_density, _dV=dV, _direct_force_parallel=_direct_force)
        target = _rebind(_target, _log_density=logd)
        target_grad = _rebind(_target_grad, _grad_log_density=grad)
        prepare = _rebind(_prepare, _target=target, _target_grad=target_grad)
        mh = _rebind(_mh_chain, _V=V)
        hmc = _rebind(_hmc_chain, _target=target, _target_grad=target_grad, _log_density_unordered=logd_u)
        kernels = _Kernels(prepare, _rebind(_mh_chains, _mh_chain=mh), _rebind(_hmc_chains, _hmc_chain=hmc),
                           _rebind(_hmc_single, _hmc_chain=hmc))
        # Keep the user functions alive so that their ids stay unique.
        _CUSTOM_KERNELS[key] = (potential.value_fn, potential.derivative_fn, kernels)
    return _CUSTOM_KERNELS[key][2]


# ------------------------------------------------------------------ estimators

class AutocorrError(RuntimeError):
    """The chain is too short for a reliable integrated autocorrelation time (emcee's ``AutocorrError``)."""


def _as_chains(x) -> np.ndarray:
    """(chains, draws, dims) view of x given as (draws,), (chains, draws) or (chains, draws, dims)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[None, :, None]
    if x.ndim == 2:
        return x[:, :, None]
    if x.ndim == 3:
        return x
    raise ValueError(f"`x` must have shape (draws,), (chains, draws) or (chains, draws, dims), got {x.shape}")


def autocorr_function(x) -> np.ndarray:
    """Normalised autocorrelation ρ(t) of each chain and dimension, averaged over chains.

    Parameters
    ----------
    x : array_like, shape (draws,), (chains, draws) or (chains, draws, dims)

    Returns
    -------
    ndarray, shape (draws,) or (draws, dims)
        ρ(0) = 1. Computed with an FFT, each chain normalised by its own
        variance, then averaged over chains (emcee's estimator). A constant
        chain contributes ρ(t) = 0 for t > 0.
    """
    arr = _as_chains(x)
    c, d, k = arr.shape
    z = arr - arr.mean(axis=1, keepdims=True)
    size = 1 << int(math.ceil(math.log2(2 * d)))
    f = np.fft.rfft(z, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :d, :]
    var = acov[:, :1, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(var > 0, acov / np.where(var > 0, var, 1.0), 0.0)
    rho[:, 0, :] = 1.0
    out = rho.mean(axis=0)
    return out[:, 0] if np.asarray(x).ndim < 3 else out


def integrated_time(x, *, c: float = 5.0, tol: float = 50.0, quiet: bool = True):
    r"""Integrated autocorrelation time τ with Sokal's automatic window (emcee's estimator).

    .. math:: \tau = 1 + 2 \sum_{t=1}^{M} \rho(t), \qquad
              M = \min\{M : M \ge c\, \tau(M)\},

    with ρ the chain-averaged autocorrelation (:func:`autocorr_function`). For
    an AR(1) process x_t = φ x_{t−1} + ε_t, τ = (1 + φ)/(1 − φ). The variance
    of the estimate is var(τ̂) ≈ 2(2M + 1) τ²/N for N draws in all (Sokal
    1997, eq. 3.19; Madras & Sokal 1988).

    Parameters
    ----------
    x : array_like, shape (draws,), (chains, draws) or (chains, draws, dims)
    c : float, > 0
        Window factor (5 as in emcee; Sokal recommends 4-10).
    tol : float, >= 0
        The chain (draws per chain) must be longer than ``tol`` · τ for the
        estimate to be trusted (50 as in emcee).
    quiet : bool
        If False, a chain shorter than ``tol`` · τ raises :class:`AutocorrError`;
        if True (default) a :class:`UserWarning` is issued instead.

    Returns
    -------
    float or ndarray, shape (dims,)
        τ in units of draws (scalar for 1-D or 2-D input).
    """
    if not c > 0:
        raise ValueError(f"`c` must be > 0, got {c}")
    arr = _as_chains(x)
    d = arr.shape[1]
    if d < 2:
        raise ValueError(f"`x` must hold at least 2 draws per chain, got {d}")
    rho = autocorr_function(arr)
    taus = 2.0 * np.cumsum(rho, axis=0) - 1.0
    m = np.arange(d)[:, None]
    ok = m >= c * taus
    window = np.where(ok.any(axis=0), np.argmax(ok, axis=0), d - 1)
    tau = np.maximum(taus[window, np.arange(taus.shape[1])], 1e-12)
    short = tol * tau > d
    if np.any(short):
        msg = (f"the chain is shorter than {tol:g} times the integrated autocorrelation time for "
               f"{int(short.sum())} parameter(s): {d} draws per chain, τ up to {float(tau.max()):.3g} draws; "
               f"the estimate is unreliable, run at least {int(math.ceil(tol * tau.max()))} draws per chain "
               "(or thin more)")
        if not quiet:
            raise AutocorrError(msg)
        warnings.warn(msg, UserWarning, stacklevel=2)
    return float(tau[0]) if np.asarray(x).ndim < 3 else tau


def effective_sample_size(x, *, c: float = 5.0):
    """Effective sample size chains · draws / τ (τ from :func:`integrated_time`, no length check)."""
    arr = _as_chains(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tau = integrated_time(arr, c=c, tol=0.0)
    ess = arr.shape[0] * arr.shape[1] / tau
    return float(ess[0]) if np.asarray(x).ndim < 3 else ess


def _rhat_plain(z):
    """Gelman-Rubin R̂ of z (chains, draws, dims) (BDA3 eq. 11.4)."""
    m, n = z.shape[:2]
    means = z.mean(axis=1)
    w = z.var(axis=1, ddof=1).mean(axis=0)
    b = n * means.var(axis=0, ddof=1)
    var_hat = (n - 1) / n * w + b / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(var_hat / w)


def _z_scale(z):
    """Rank-normalise z over all chains and draws (Vehtari et al. 2021, eq. 14)."""
    m, n, k = z.shape
    flat = z.reshape(m * n, k)
    ranks = scipy.stats.rankdata(flat, method="average", axis=0)
    return scipy.special.ndtri((ranks - 0.375) / (m * n + 0.25)).reshape(m, n, k)


def split_rhat(x, *, rank: bool = True):
    r"""Split R̂ across chains; by default Vehtari et al.'s rank-normalised, folded version.

    Each chain is split in halves (2·chains sequences); with ``rank`` the draws
    are rank-normalised (z = Φ⁻¹((r − 3/8)/(S + 1/4))) and R̂ is the larger of
    the bulk R̂ (of z) and the tail R̂ (of the rank-normalised |x − median|).
    R̂ → 1 for converged chains; R̂ > 1.01 signals trouble (Vehtari et al.
    2021), R̂ > 1.1 is the classic Gelman-Rubin alarm.

    Parameters
    ----------
    x : array_like, shape (chains, draws) or (chains, draws, dims), draws >= 4
    rank : bool
        False gives the plain split-R̂ of Gelman et al. (BDA3).

    Returns
    -------
    float or ndarray, shape (dims,)
        NaN where every sequence is constant.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"`x` must have shape (chains, draws) or (chains, draws, dims), got {arr.shape}")
    z = arr[:, :, None] if arr.ndim == 2 else arr
    if z.shape[1] < 4:
        raise ValueError(f"`x` must hold at least 4 draws per chain, got {z.shape[1]}")
    half = z.shape[1] // 2
    split = np.concatenate([z[:, :half], z[:, z.shape[1] - half:]], axis=0)
    if rank:
        bulk = _rhat_plain(_z_scale(split))
        folded = np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))
        tail = _rhat_plain(_z_scale(folded))
        out = np.fmax(bulk, tail)
    else:
        out = _rhat_plain(split)
    return float(out[0]) if arr.ndim == 2 else out


# ------------------------------------------------------------------ drivers

def _warmup_windows(warmup: int) -> list[tuple[int, bool]]:
    """Stan's windowed adaptation: [(iterations, update metric at the end?), ...].

    An initial fast buffer (step size only), slow windows of doubling length
    (metric updated after each), a terminal fast buffer. For short warm-ups
    the buffers are 15% and 10% and one slow window takes the rest.
    """
    if warmup < 20:
        return [(warmup, False)] if warmup > 0 else []
    init, term, base = 75, 50, 25
    if init + term + base > warmup:
        init = int(0.15 * warmup)
        term = int(0.1 * warmup)
        return [(init, False), (warmup - init - term, True), (term, False)]
    out = [(init, False)]
    left = warmup - init - term
    size = base
    while left > 0:
        # The last slow window absorbs what a doubled window would not fill.
        if left < 3 * size:
            size = left
        out.append((size, True))
        left -= size
        size *= 2
    out.append((term, False))
    return out


def _largest_eigenvalue(y, iters: int = 60) -> float:
    """Largest eigenvalue of the covariance of rows of y (power iteration, O(rows·n) per step)."""
    rows = y.shape[0]
    v = np.ones(y.shape[1]) / math.sqrt(y.shape[1])
    lam = 0.0
    for _ in range(iters):
        w = y.T @ (y @ v) / max(rows - 1, 1)
        lam_new = float(np.linalg.norm(w))
        if lam_new == 0.0:
            return 0.0
        v = w / lam_new
        if abs(lam_new - lam) <= 1e-6 * lam_new:
            lam = lam_new
            break
        lam = lam_new
    return lam


class _Runner:
    """Holds the chains' state between kernel calls; one call per chunk of iterations."""

    def __init__(self, gas, method, x0, gens, kernels, persistence, target, max_leapfrog, progress_total,
                 show_progress, coords=COORD_X, dense=False):
        kind, params, lower, a, c, w, s = gas.kernel_arrays()
        self.gas = gas
        self.method = method
        # A private writeable copy: per-mode potentials hand out read-only views, and a
        # read-only array is a different Numba type (one more compilation of every kernel).
        self.kind, self.params, self.lower = int(kind), np.array(params, dtype=np.float64), float(lower)
        self.beta = float(gas.beta)
        self.kappa = np.ascontiguousarray(a / gas.diffusion)
        self.ones = np.ones(gas.n)
        chains, n = x0.shape
        self.chains, self.n = chains, n
        self.coords = int(coords) if method == "hmc" else COORD_X
        self.dense = bool(dense)
        x0 = np.ascontiguousarray(x0, dtype=np.float64)
        # Soft gaps switch from logarithmic to linear at the starting configuration's gaps
        # (averaged over chains): the typical spacing at each place in the spectrum.
        edges = np.diff(x0, axis=-1)
        first = x0[:, :1] - self.lower if self.lower > -np.inf else np.ones((x0.shape[0], 1))
        self.scale = np.ascontiguousarray(np.mean(np.concatenate([first, edges], axis=1), axis=0))
        self.x = self.to_q(x0)  # the kernels' state: q = x, or (x_1, log gaps)
        scale = 1.0 + float(np.max(np.abs(x0))) + float(np.max(x0[:, -1] - x0[:, 0]))
        self.radius = 1e10 * scale
        self.gens = gens
        self.typed_gens = numba.typed.List(gens)
        self.k = kernels
        self.persistence = float(persistence)
        self.target = float(target)
        self.max_leapfrog = int(max_leapfrog)
        self.counts = np.zeros((chains, 6), dtype=np.int64)
        self.acc = np.zeros((chains, 1))
        self.lp = np.empty((chains, 1))
        self.grad = np.empty((chains, n))
        self.mom = np.zeros((chains, n))
        self.k.prepare(self.x, self.lp, self.grad, kind, params, self.lower, self.beta, self.kappa, self.ones,
                       self.radius, self.coords, self.scale)
        self.bar = None
        if show_progress:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=progress_total, unit="it", desc=f"sample ({method})", leave=False)
        gaps = np.diff(np.concatenate([np.full((chains, 1), self.lower if self.lower > -np.inf else -np.inf),
                                       x0], axis=1), axis=1)
        gaps[~np.isfinite(gaps)] = np.inf
        local = np.minimum(gaps[:, :], np.concatenate([gaps[:, 1:], np.full((chains, 1), np.inf)], axis=1))
        local = np.where(np.isfinite(local), local, np.min(gaps, axis=1, keepdims=True))
        if method == "mh":
            # Each site starts with half its smallest neighbouring gap.
            self.steps = np.zeros((chains, n, 5))
            self._restart_da(np.log(0.5 * local))
        else:
            # Leapfrog stability near the closest pair (x) or a modest log-gap step (gaps).
            eps0 = 0.2 * float(np.min(local)) if self.coords == COORD_X else 0.1 * min(1.0, float(np.min(local)))
            self.inv_metric = np.ones((1, n))  # one row: diagonal M⁻¹; (n, n): dense
            self.sd_mom = np.ones((1, n))
            self.steps = np.zeros((chains, 5))
            self._restart_da(np.full(chains, math.log(eps0)))
            self.n_leap = np.full(chains, 8, dtype=np.int64)
            self.traj_time = None
            if self.persistence > 0:
                for cc in range(chains):
                    self.mom[cc] = self._momentum(self.gens[cc])

    def to_q(self, x):
        """Sampler coordinates of configurations x (..., n)."""
        if self.coords == COORD_X:
            return np.ascontiguousarray(x, dtype=np.float64).copy()
        wall = self.lower > -np.inf
        # Gap coordinates: from x_1 − lower with a wall, from x_2 − x_1 without (q_1 = x_1 then).
        gaps = np.concatenate([x[..., :1] - self.lower, np.diff(x, axis=-1)], axis=-1)[..., (0 if wall else 1):]
        if self.coords == COORD_GAPS:
            g = np.log(gaps)
        else:  # inverse softplus: log(e^u − 1) = u + log(1 − e^{−u})
            u = gaps / self.scale[(0 if wall else 1):]
            g = u + np.log(-np.expm1(-u))
        q = np.concatenate([g if wall else np.concatenate([x[..., :1], g], axis=-1)], axis=-1)
        return np.ascontiguousarray(q)

    def _restart_da(self, log_eps):
        st = self.steps
        st[..., _LOG_EPS] = log_eps
        st[..., _M] = 0.0
        st[..., _HBAR] = 0.0
        st[..., _LOG_EPS_BAR] = log_eps
        st[..., _MU] = log_eps + math.log(10.0)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def _call(self, n_iter, thin, rec_x, rec_lp, adapt):
        g = self.gas
        if self.method == "mh":
            self.k.mh_chains(self.x, self.lp, self.typed_gens, n_iter, thin, rec_x, rec_lp, self.kind,
                             self.params, self.lower, self.beta, self.kappa, self.radius, self.steps, adapt,
                             self.target, self.counts, self.acc)
        else:
            fn = self.k.hmc_single if (self.chains == 1 and g.n >= _PARALLEL_N) else self.k.hmc_chains
            fn(self.x, self.lp, self.grad, self.mom, self.typed_gens, n_iter, thin, rec_x, rec_lp, self.kind,
               self.params, self.lower, self.beta, self.kappa, self.ones, self.radius, self.inv_metric,
               self.sd_mom, self.steps, self.n_leap, self.persistence, adapt, self.target, self.counts, self.acc,
               self.coords, self.scale)

    def run(self, n_iter, thin, adapt, record, phase, offset):
        """Run n_iter iterations (a multiple of thin) in chunks; returns (x, lp) records or None."""
        draws = n_iter // thin if record else 0
        rec_x = np.empty((self.chains, max(draws, 1) if record else 1, self.n))
        rec_lp = np.empty((self.chains, max(draws, 1) if record else 1))
        per_iter = self.chains * self.n * self.n * (1 if self.method == "mh" else int(self.n_leap.max()) + 1)
        chunk = max(thin, int(2e9 // max(per_iter, 1)) // thin * thin)
        done = 0
        while done < n_iter:
            todo = min(chunk, n_iter - done)
            if record:
                r0 = done // thin
                self._call(todo, thin, rec_x[:, r0:r0 + todo // thin], rec_lp[:, r0:r0 + todo // thin], adapt)
            else:
                self._call(todo, n_iter + 1, rec_x, rec_lp, adapt)
            self._check(phase, offset)
            done += todo
            if self.bar is not None:
                self.bar.update(todo)
        return (rec_x, rec_lp) if record else None

    def _check(self, phase, offset):
        bad = np.flatnonzero(self.counts[:, _C_STATUS] != OK)
        if bad.size == 0:
            return
        c = int(bad[0])
        status = int(self.counts[c, _C_STATUS])
        where = int(self.counts[c, _C_WHERE]) - offset
        unit = "sweep" if self.method == "mh" else "iteration"
        self.close()
        raise FloatingPointError(
            f"chain {c} diverged at {phase} {unit} {where} ({bad.size} chain(s) affected): "
            + _MESSAGES[status].format(radius=self.radius))

    def adapt_metric(self, rec_x):
        """Warm-up window → mass matrix and trajectory time.

        M⁻¹ is the within-chain covariance of the window's draws (in the
        sampler's coordinates): its diagonal, regularised as Stan does, or —
        with ``dense`` — the correlation matrix shrunk towards the identity by
        n/(n + N) for N pooled draws (a Ledoit–Wolf-type guard for N ~ n). The
        trajectory time is a quarter period of the slowest mode left after
        preconditioning, (π/2)√λ_max.
        """
        q = self.to_q(rec_x)
        chains, k, n = q.shape
        y = (q - q.mean(axis=1, keepdims=True)).reshape(-1, n)
        dof = max(y.shape[0] - chains, 1)
        var = np.einsum("ij,ij->j", y, y) / dof
        ref = float(np.median(var)) if np.median(var) > 0 else 1.0
        var = (k / (k + 5.0)) * var + 1e-3 * ref * (5.0 / (k + 5.0))
        sd = np.sqrt(var)
        if self.dense:
            ys = y / sd
            corr = ys.T @ ys / dof
            norm = np.sqrt(np.diag(corr))
            corr = corr / np.outer(norm, norm)
            alpha = n / (n + y.shape[0])
            corr = (1.0 - alpha) * corr + alpha * np.eye(n)
            cov = corr * np.outer(sd, sd)
            chol = np.linalg.cholesky(cov)
            w = np.linalg.inv(chol).T  # upper triangular: p = W z has covariance M = cov⁻¹
            self.inv_metric = np.ascontiguousarray(cov)
            self.sd_mom = np.ascontiguousarray(np.triu(w))
            white = y @ self.sd_mom  # rows: L⁻¹ y
        else:
            self.inv_metric = var[None, :].copy()
            self.sd_mom = (1.0 / sd)[None, :].copy()
            white = y / sd
        lam = _largest_eigenvalue(white)
        self.traj_time = 0.5 * math.pi * math.sqrt(max(lam, 1.0))
        # Gradients are unchanged; only the kinetic energy's metric moved. Restart step tuning.
        self._restart_da(self.steps[:, _LOG_EPS_BAR].copy())
        self._set_leapfrog(np.exp(self.steps[:, _LOG_EPS]))
        if self.persistence > 0:
            for cc in range(self.chains):
                self.mom[cc] = self._momentum(self.gens[cc])

    def _momentum(self, gen):
        z = gen.standard_normal(self.n)
        return self.sd_mom[0] * z if self.sd_mom.shape[0] == 1 else self.sd_mom @ z

    def _set_leapfrog(self, eps):
        if self.traj_time is None:
            return
        self.n_leap = np.clip(np.ceil(self.traj_time / eps), 1, self.max_leapfrog).astype(np.int64)

    def finish_warmup(self):
        """Freeze the tuned steps: exp of the dual-averaging iterate log ε̄."""
        self.steps[..., _LOG_EPS] = self.steps[..., _LOG_EPS_BAR]
        if self.method == "hmc":
            self._set_leapfrog(np.exp(self.steps[:, _LOG_EPS]))


def run_chains(gas, method: str, draws: int, *, chains: int, warmup: int, thin: int, gens, x0,
               persistence: float = 0.0, target_accept: float | None = None, max_leapfrog: int = 1024,
               coordinates: str = "softgaps", metric: str = "dense", progress: bool | None = None) -> dict:
    """Warm up and run ``chains`` Markov chains of ``method`` ("mh" or "hmc"); inputs validated by the caller.

    Returns a dict with ``x`` (chains, draws, n), ``log_density`` (chains, draws)
    and ``diagnostics`` (acceptance, step sizes, counters, timings). Raises
    :class:`FloatingPointError` naming the chain and draw if a chain diverges.
    """
    target = TARGET_ACCEPT[method] if target_accept is None else float(target_accept)
    kernels = _kernels_for(gas.potential)
    total = chains * (warmup + draws * thin)
    est = total * gas.n * gas.n * (1 if method == "mh" else 20)
    show = progress if progress is not None else est > 2e10
    coords = {"x": COORD_X, "gaps": COORD_GAPS, "softgaps": COORD_SOFT}[coordinates]
    runner = _Runner(gas, method, x0, gens, kernels, persistence, target, max_leapfrog, warmup + draws * thin,
                     bool(show), coords, metric == "dense")
    bad = np.flatnonzero(~np.isfinite(runner.lp[:, 0]))
    if bad.size:
        runner.close()
        raise ValueError(f"`x0` of chain {int(bad[0])} has log-density {runner.lp[bad[0], 0]} (must be finite): "
                         "start inside the potential's domain, strictly increasing")
    t0 = time.perf_counter()
    try:
        if method == "mh":
            if warmup:
                runner.run(warmup, 1, True, False, "warm-up", 0)
        else:
            for length, metric in _warmup_windows(warmup):
                out = runner.run(length, 1, True, metric, "warm-up", 0)
                if metric:
                    runner.adapt_metric(out[0])
        runner.finish_warmup()
        warm_counts = runner.counts.copy()
        warm_acc = runner.acc.copy()
        t1 = time.perf_counter()
        rec_x, rec_lp = runner.run(draws * thin, thin, False, True, "sampling", warmup)
        t2 = time.perf_counter()
    finally:
        runner.close()
    counts = runner.counts - warm_counts
    proposals = counts[:, _C_ITER] * (gas.n if method == "mh" else 1)
    diag = {
        "acceptance": (runner.acc[:, 0] - warm_acc[:, 0]) / np.maximum(proposals, 1),
        "accepted_fraction": counts[:, _C_ACC] / np.maximum(proposals, 1),
        "target_acceptance": target,
        "warmup": warmup,
        "draws_per_chain": draws,
        "thin": thin,
        "time_warmup_s": t1 - t0,
        "time_sampling_s": t2 - t1,
    }
    if method == "mh":
        diag["step_size"] = np.exp(runner.steps[:, :, _LOG_EPS])
        diag["proposal"] = "single-site Gaussian random walk, systematic scan"
    else:
        diag["step_size"] = np.exp(runner.steps[:, _LOG_EPS])
        diag["n_leapfrog"] = runner.n_leap.copy()
        diag["trajectory_time"] = runner.traj_time if runner.traj_time is not None else float("nan")
        diag["inverse_metric"] = runner.inv_metric[0].copy() if runner.inv_metric.shape[0] == 1 \
            else runner.inv_metric.copy()
        diag["metric"] = metric
        diag["persistence"] = runner.persistence
        diag["coordinates"] = coordinates
        diag["divergent_transitions"] = counts[:, _C_DIVT].copy()
        diag["gradient_evaluations"] = int(runner.counts[:, _C_GRAD].sum())
    return {"x": rec_x, "log_density": rec_lp, "diagnostics": diag}
