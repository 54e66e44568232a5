r"""Warm-up of the Markov-chain samplers: step sizes by dual averaging, the HMC metric, the schedule.

* **Dual averaging** (Nesterov 2009, as adapted by Hoffman & Gelman 2014,
  §3.2.1): with acceptance probability α_m at iteration m and target δ,

  .. math::

      \bar H_m = (1 - \tfrac{1}{m + t_0}) \bar H_{m-1} + \tfrac{1}{m + t_0} (\delta - \alpha_m),
      \qquad \log\varepsilon_m = \mu - \frac{\sqrt m}{\gamma} \bar H_m,

      \log\bar\varepsilon_m = m^{-\kappa} \log\varepsilon_m + (1 - m^{-\kappa}) \log\bar\varepsilon_{m-1},

  μ = log(10 ε_0), γ = 0.05, t_0 = 10, κ = 0.75 (Stan's defaults). After warm-up
  the sampler runs with ε̄. The state of one tuned step is a row
  [log ε, m, H̄, log ε̄, μ] (``LOG_EPS``, ``DA_COUNT``, ``HBAR``, ``LOG_EPS_BAR``, ``MU``).
  Targets (:data:`TARGET_ACCEPT`): 0.44 for single-site random-walk Metropolis,
  the optimum of one-dimensional random-walk updates (Gelman, Roberts & Gilks
  1996; Roberts & Rosenthal 2001), 0.65 for HMC (Stan).
* **Metric adaptation** (:func:`adapt_metric`): M⁻¹ from the within-chain
  covariance of a warm-up window's draws, diagonal (regularised as Stan does) or
  dense (correlations shrunk towards the identity), and the trajectory time
  (π/2)√λ_max, a quarter period of the slowest mode left after preconditioning.
* **Schedule** (:func:`warmup_windows`): Stan's windowed adaptation, a fast
  buffer, slow windows of doubling length, a fast buffer.

References
----------
M. D. Hoffman, A. Gelman, "The No-U-Turn sampler", JMLR 15, 1593 (2014), §3.2.
Y. Nesterov, "Primal-dual subgradient methods for convex problems", Math. Program. 120, 221 (2009).
A. Gelman, G. O. Roberts, W. R. Gilks, Bayesian Statistics 5, 599 (1996);
G. O. Roberts, J. S. Rosenthal, Statist. Sci. 16, 351 (2001) (optimal scaling).
Stan Reference Manual, "HMC algorithm parameters" (windowed adaptation).
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit
from .._status import STEP_COLLAPSED
from ._density import C_ITER, C_STATUS, C_WHERE

__all__ = ["TARGET_ACCEPT", "da_update", "adapt_collapsed", "restart_dual_averaging", "warmup_windows",
           "adapt_metric", "largest_eigenvalue"]

#: Default target acceptance of the warm-up's dual averaging, per sampler.
TARGET_ACCEPT = {"mh": 0.44, "hmc": 0.65}

# Dual averaging constants (Hoffman & Gelman 2014, §3.2.1; Stan's defaults).
_DA_GAMMA, _DA_T0, _DA_KAPPA = 0.05, 10.0, 0.75
#: Layout of a dual-averaging state row: [log ε, m, H̄, log ε̄, μ].
LOG_EPS, DA_COUNT, HBAR, LOG_EPS_BAR, MU = 0, 1, 2, 3, 4
#: Length of a dual-averaging state row.
DA_STATE = 5


# ------------------------------------------------------------------ dual averaging

@njit
def da_update(st, accept_prob, target):
    """One dual-averaging step on log ε towards mean acceptance ``target`` (Hoffman & Gelman 2014, eq. 6)."""
    m = st[DA_COUNT] + 1.0
    st[DA_COUNT] = m
    w = 1.0 / (m + _DA_T0)
    st[HBAR] = (1.0 - w) * st[HBAR] + w * (target - accept_prob)
    log_eps = st[MU] - math.sqrt(m) / _DA_GAMMA * st[HBAR]
    # Keep exp(log ε) finite; a collapse below 1e-300 is reported by the caller.
    if log_eps > 700.0:
        log_eps = 700.0
    st[LOG_EPS] = log_eps
    eta = m ** (-_DA_KAPPA)
    st[LOG_EPS_BAR] = eta * log_eps + (1.0 - eta) * st[LOG_EPS_BAR]


@njit
def adapt_collapsed(st, accept_prob, target, counts):
    """:func:`da_update`, then True (with status STEP_COLLAPSED) if ε fell below e^-690."""
    da_update(st, accept_prob, target)
    if st[LOG_EPS] < -690.0:
        counts[C_STATUS] = STEP_COLLAPSED
        counts[C_WHERE] = counts[C_ITER]
        return True
    return False

def restart_dual_averaging(steps, log_eps) -> None:
    """(Re)start every dual-averaging row of ``steps`` (..., 5) at log ε = ``log_eps`` (μ = log 10ε)."""
    steps[..., LOG_EPS] = log_eps
    steps[..., DA_COUNT] = 0.0
    steps[..., HBAR] = 0.0
    steps[..., LOG_EPS_BAR] = log_eps
    steps[..., MU] = log_eps + math.log(10.0)


# ------------------------------------------------------------------ schedule and metric

def warmup_windows(warmup: int) -> list[tuple[int, bool]]:
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


def largest_eigenvalue(y, iters: int = 60) -> float:
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


def adapt_metric(q, dense: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Mass matrix and trajectory time from a warm-up window's draws q (chains, draws, n).

    M⁻¹ is the within-chain covariance of the draws (in the sampler's
    coordinates): its diagonal, regularised as Stan does,
    var ← k/(k + 5) var + 10⁻³ median(var) · 5/(k + 5) for k draws per chain,
    or — with ``dense`` — the correlation matrix shrunk towards the identity by
    n/(n + N) for N pooled draws (a Ledoit–Wolf-type guard for N ~ n). The
    trajectory time is a quarter period of the slowest mode left after
    preconditioning, (π/2)√λ_max, λ_max the largest eigenvalue of the whitened
    covariance (at least 1).

    Returns
    -------
    inv_metric : ndarray, shape (1, n) (diagonal) or (n, n) (dense)
        M⁻¹.
    sd_mom : ndarray, same shape
        W with W z ~ N(0, M) for z ~ N(0, 1): 1/sd (diagonal) or the upper
        triangular L⁻ᵀ, M⁻¹ = L Lᵀ (dense).
    traj_time : float
    """
    chains, k, n = q.shape
    y = (q - q.mean(axis=1, keepdims=True)).reshape(-1, n)
    dof = max(y.shape[0] - chains, 1)
    var = np.einsum("ij,ij->j", y, y) / dof
    ref = float(np.median(var)) if np.median(var) > 0 else 1.0
    var = (k / (k + 5.0)) * var + 1e-3 * ref * (5.0 / (k + 5.0))
    sd = np.sqrt(var)
    if dense:
        ys = y / sd
        corr = ys.T @ ys / dof
        norm = np.sqrt(np.diag(corr))
        corr = corr / np.outer(norm, norm)
        alpha = n / (n + y.shape[0])
        corr = (1.0 - alpha) * corr + alpha * np.eye(n)
        cov = corr * np.outer(sd, sd)
        chol = np.linalg.cholesky(cov)
        w = np.linalg.inv(chol).T  # upper triangular: p = W z has covariance M = cov⁻¹
        inv_metric = np.ascontiguousarray(cov)
        sd_mom = np.ascontiguousarray(np.triu(w))
        white = y @ sd_mom  # rows: L⁻¹ y
    else:
        inv_metric = var[None, :].copy()
        sd_mom = (1.0 / sd)[None, :].copy()
        white = y / sd
    lam = largest_eigenvalue(white)
    return inv_metric, sd_mom, 0.5 * math.pi * math.sqrt(max(lam, 1.0))
