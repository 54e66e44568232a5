r"""Random-walk Metropolis with a single-site systematic scan: the ``"mh"`` sampler's compiled kernels.

One *draw* is one sweep i = 1…n: x_i' = x_i + h_i ξ, ξ ~ N(0, 1), accepted
with probability min(1, P_s(x')/P_s(x)) (Metropolis et al. 1953). A proposal
that leaves (x_{i−1}, x_{i+1}) — the ordered domain — has P_s = 0 and is
rejected. The change of log P_s,

.. math::

    \Delta = \beta \sum_{j \ne i} \log\frac{x_i' - x_j}{x_i - x_j} - \kappa_i [V_i(x_i') - V_i(x_i)],

costs O(n), a sweep O(n²): the same as one evaluation of log P_s, which an
all-site proposal would need for a move whose per-coordinate size must shrink
like n^{-1/2} (Roberts, Gelman & Gilks 1997) and stay below the smallest gap
to keep the order. Single-site updates move every eigenvalue by about its
local gap per sweep instead, so they are chosen here. The per-site step h_i
is tuned in warm-up by dual averaging (:mod:`.warmup`) to acceptance 0.44,
the optimum for one-dimensional random-walk updates (Gelman, Roberts & Gilks
1996; Roberts & Rosenthal 2001); 0.234 is the optimum of *all-site*
proposals in high dimension, not of single-site ones.

``chains`` chains run in one Numba ``prange``, one random stream per chain,
so the output is bit-identical for any number of threads. Kernels never
raise: they leave a :mod:`coulombgas._status` code in the chain's counters.

References
----------
N. Metropolis, A. W. Rosenbluth, M. N. Rosenbluth, A. H. Teller, E. Teller,
J. Chem. Phys. 21, 1087 (1953).
G. O. Roberts, A. Gelman, W. R. Gilks, Ann. Appl. Probab. 7, 110 (1997).
A. Gelman, G. O. Roberts, W. R. Gilks, Bayesian Statistics 5, 599 (1996);
G. O. Roberts, J. S. Rosenthal, Statist. Sci. 16, 351 (2001).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .._jit import njit
from .._status import DIVERGED, OK
from ..potentials import V_kernel
from ._density import C_ACC, C_ITER, C_STATUS, C_WHERE, sum_log_ratio
from .warmup import LOG_EPS, adapt_collapsed

__all__ = ["mh_chain", "mh_chains"]


@njit
def mh_chain(x, lp, gen, n_iter, thin, rec_x, rec_lp, kind, params, lower, beta, kappa, radius,
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
            y = x[i] + math.exp(st[LOG_EPS]) * gen.standard_normal()
            lo = x[i - 1] if i > 0 else lower
            a = 0.0
            d = 0.0
            if y > lo and (i == n - 1 or y < x[i + 1]):
                d = beta * (sum_log_ratio(y, x[i], x[:i]) + sum_log_ratio(y, x[i], x[i + 1:])) \
                    - kappa[i] * (V_kernel(y, i, kind, params) - V_kernel(x[i], i, kind, params))
                if d >= 0.0:
                    a = 1.0
                elif d > -np.inf:  # NaN compares False: rejected
                    a = math.exp(d)
                if gen.random() < a:
                    x[i] = y
                    lp[0] += d
                    counts[C_ACC] += 1
                    if not (abs(y) < radius) or not (abs(lp[0]) < np.inf):
                        counts[C_STATUS] = DIVERGED
                        counts[C_WHERE] = counts[C_ITER]
                        return
            accept_sum[0] += a
            if adapt and adapt_collapsed(st, a, target, counts):
                return
        counts[C_ITER] += 1
        if (it + 1) % thin == 0:
            for i in range(n):
                rec_x[r, i] = x[i]
            rec_lp[r] = lp[0]
            r += 1


@njit(parallel=True)
def mh_chains(X, LP, gens, n_iter, thin, REC_X, REC_LP, kind, params, lower, beta, kappa, radius,
              STEPS, adapt, target, COUNTS, ACC):
    """prange over chains of :func:`mh_chain` (one stream per chain: thread-count independent)."""
    for c in prange(X.shape[0]):
        if COUNTS[c, C_STATUS] != OK:
            continue
        mh_chain(X[c], LP[c], gens[np.intp(c)], n_iter, thin, REC_X[c], REC_LP[c], kind, params, lower, beta,
                 kappa, radius, STEPS[c], adapt, target, COUNTS[c], ACC[c])
