r"""Hybrid (Hamiltonian) Monte Carlo: the ``"hmc"`` sampler's compiled kernels.

Potential energy U(q) = −log P_s(x(q)) − log|det ∂x/∂q| (:func:`._density.log_target`),
kinetic energy ½ pᵀ M⁻¹ p. One transition: draw p ~ N(0, M) (or refresh it
partially), L leapfrog steps of size ε (Neal 2011, §5.2.3),

.. math::

    p \leftarrow p + \tfrac{\varepsilon}{2} \nabla_q \log\pi(q), \quad
    q \leftarrow q + \varepsilon M^{-1} p, \quad
    p \leftarrow p + \tfrac{\varepsilon}{2} \nabla_q \log\pi(q),

then a Metropolis test on the energy error ΔH, accepted with probability
min(1, e^{−ΔH}) (Chafaï & Ferré 2018). The coordinates q (x, log gaps or
soft gaps) are those of :mod:`._density`; a trajectory that leaves the
ordered domain has infinite energy and is rejected. L is drawn uniformly in
[L/2, 3L/2] around the tuned number to avoid periodicities. Optional partial
momentum refresh p ← η p + √(1 − η²) ξ (Horowitz 1991; Chafaï & Ferré's
Metropolis-adjusted kinetic Langevin, η = e^{−γ δt}), with a momentum flip on
rejection. ε, M and L are set in warm-up (:mod:`.warmup`).

Measured gradient evaluations per effective sample of log P_s (n = 100 GOE,
dense metric): ≈ 20 (soft gaps), 38 (log gaps), 175 (x, where near-collisions
force ε ≈ 0.002 with a diagonal metric).

A chain *diverges* when an accepted state (or a proposal whose log-density is
higher than the current one) lies beyond ``radius`` or has a non-finite
log-density — the signature of a potential that does not confine; the kernel
then stops with :data:`coulombgas._status.DIVERGED`. An energy error above
1000 is counted as a "divergent transition" (Stan's threshold), a counter only.

References
----------
D. Chafaï, G. Ferré, "Simulating Coulomb and log-gases with hybrid Monte Carlo
algorithms", J. Stat. Phys. 174, 692 (2019), arXiv:1806.05985.
R. M. Neal, "MCMC using Hamiltonian dynamics", Handbook of MCMC (2011), arXiv:1206.1901.
A. M. Horowitz, "A generalized guided Monte Carlo algorithm", Phys. Lett. B 268, 247 (1991).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .._jit import njit
from .._status import DIVERGED, OK
from ._density import (C_ACC, C_DIVT, C_GRAD, C_ITER, C_STATUS, C_WHERE, FORCE_PARALLEL, FORCE_SERIAL,
                       log_density_unordered, log_jacobian, log_target, log_target_grad, max_abs, ordered, to_x)
from .warmup import LOG_EPS, adapt_collapsed

__all__ = ["hmc_chain", "hmc_chains", "hmc_single", "PARALLEL_N"]

# An energy error above this marks a "divergent transition" (Stan's threshold), a counter only.
_DIVERGENT_ENERGY = 1000.0
#: A single chain with at least this many eigenvalues evaluates its gradient in parallel.
PARALLEL_N = 256


@njit
def _apply(m, p, out, upper):
    """out = A p, A diagonal (one row, m[0]) or (n, n); with ``upper`` only the entries j ≥ i of A are read."""
    n = p.shape[0]
    if m.shape[0] == 1:
        for i in range(n):
            out[i] = m[0, i] * p[i]
        return
    for i in range(n):
        row = m[i]
        s = 0.0
        for j in range(i if upper else 0, n):
            s += row[j] * p[j]
        out[i] = s


@njit
def _metric_times(m, p, out):
    """out = M⁻¹ p: M⁻¹ diagonal (one row, m[0]) or dense (n, n)."""
    _apply(m, p, out, False)


@njit
def _draw_momentum(w, gen, z, out):
    """out = W z, z ~ N(0, 1): momentum ~ N(0, M) with W = L⁻ᵀ (M⁻¹ = L Lᵀ, upper triangular) or diag in w[0]."""
    for i in range(out.shape[0]):
        z[i] = gen.standard_normal()
    _apply(w, z, out, True)


@njit
def hmc_chain(q, lp, grad, mom, gen, n_iter, thin, rec_x, rec_lp, kind, params, lower, beta, kappa, ones,
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
    # Scratch rows: proposal q1 and x(q1), momentum p, gradient g1, M⁻¹p (or a fresh momentum) v, normals z.
    work = np.empty((6, n))
    q1, x1, p, g1, v, z = work[0], work[1], work[2], work[3], work[4], work[5]
    lo_leap = max(1, n_leap - n_leap // 2)
    hi_leap = n_leap + n_leap // 2
    c_refresh = math.sqrt(max(0.0, 1.0 - persistence * persistence))
    r = 0
    for it in range(n_iter):
        eps = math.exp(st[LOG_EPS])
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
            to_x(q1, lower, coords, scale, x1)
            if not ordered(x1, lower, radius):
                inside = False
                break
            log_target_grad(q1, x1, kind, params, lower, beta, kappa, ones, coords, scale, force_mode, g1)
            counts[C_GRAD] += 1
            for i in range(n):
                p[i] += 0.5 * eps * g1[i]
        lp1 = -np.inf
        dh = np.inf
        if inside:
            lp1 = log_target(q1, x1, kind, params, lower, beta, kappa, radius, coords, scale, force_mode)
            _metric_times(inv_metric, p, v)
            k1 = 0.0
            for i in range(n):
                k1 += v[i] * p[i]
            dh = (0.5 * k1 - lp1) - (0.5 * k0 - lp[0])  # H(new) − H(old)
            if math.isnan(dh):
                dh = np.inf
        elif not (max_abs(x1) < radius):
            # Left the domain far out. With a log-density still rising there this is a runaway
            # (no confinement), not an integration error: the potential is at fault.
            if log_density_unordered(x1, kind, params, beta, kappa) > lp[0] - log_jacobian(q, lower, coords, scale):
                counts[C_STATUS] = DIVERGED
                counts[C_WHERE] = counts[C_ITER]
                return
        a = 1.0 if dh <= 0.0 else math.exp(-dh)
        if dh > _DIVERGENT_ENERGY:
            counts[C_DIVT] += 1
        if gen.random() < a:
            for i in range(n):
                q[i] = q1[i]
                grad[i] = g1[i]
                mom[i] = p[i]
            lp[0] = lp1
            counts[C_ACC] += 1
            if not (abs(lp1) < np.inf):
                counts[C_STATUS] = DIVERGED
                counts[C_WHERE] = counts[C_ITER]
                return
        elif persistence > 0.0:
            for i in range(n):
                mom[i] = -mom[i]
        accept_sum[0] += a
        if adapt and adapt_collapsed(st, a, target, counts):
            return
        counts[C_ITER] += 1
        if (it + 1) % thin == 0:
            to_x(q, lower, coords, scale, x1)
            for i in range(n):
                rec_x[r, i] = x1[i]
            rec_lp[r] = lp[0] - log_jacobian(q, lower, coords, scale)
            r += 1


@njit(parallel=True)
def hmc_chains(X, LP, G, MOM, gens, n_iter, thin, REC_X, REC_LP, kind, params, lower, beta, kappa, ones,
               radius, inv_metric, sd_mom, STEPS, N_LEAP, persistence, adapt, target, COUNTS, ACC, coords, scale):
    """prange over chains of :func:`hmc_chain` (serial forces inside each chain)."""
    for c in prange(X.shape[0]):
        if COUNTS[c, C_STATUS] != OK:
            continue
        hmc_chain(X[c], LP[c], G[c], MOM[c], gens[np.intp(c)], n_iter, thin, REC_X[c], REC_LP[c], kind, params,
                  lower, beta, kappa, ones, radius, inv_metric, sd_mom, STEPS[c], N_LEAP[c], persistence,
                  adapt, target, COUNTS[c], ACC[c], coords, scale, FORCE_SERIAL)


@njit
def hmc_single(X, LP, G, MOM, gens, n_iter, thin, REC_X, REC_LP, kind, params, lower, beta, kappa, ones,
               radius, inv_metric, sd_mom, STEPS, N_LEAP, persistence, adapt, target, COUNTS, ACC, coords, scale):
    """One large chain: forces and pair energy parallel over particles."""
    if COUNTS[0, C_STATUS] != OK:
        return
    hmc_chain(X[0], LP[0], G[0], MOM[0], gens[0], n_iter, thin, REC_X[0], REC_LP[0], kind, params,
              lower, beta, kappa, ones, radius, inv_metric, sd_mom, STEPS[0], N_LEAP[0], persistence,
              adapt, target, COUNTS[0], ACC[0], coords, scale, FORCE_PARALLEL)
