"""Edge of a Wishart (Marchenko–Pastur) spectrum: Tracy–Widom scaling and outliers (BBP).

:func:`edge_scaling`, :func:`largest_eigenvalue_pvalue` and :func:`mp_outliers` are
re-exported by :mod:`coulombgas.spectra`.

Convention (the one of :func:`coulombgas.theory.marchenko_pastur`): W is M×N with
independent entries of mean 0 and E|W_ij|² = σ² (real β = 1, complex β = 2,
quaternion β = 4), X = (1/M) WᵀW is N×N, q = N/M. Its bulk fills
[σ²(1 − √q)², σ²(1 + √q)²].

References
----------
K. Johansson, Commun. Math. Phys. 209, 437 (2000), arXiv:math/9903134 (complex).
I. M. Johnstone, Ann. Statist. 29, 295 (2001) (real).
Z. Ma, Bernoulli 18, 322 (2012), arXiv:1005.0402 (the n − ½, p − ½ correction, real).
J. Baik, G. Ben Arous, S. Péché, Ann. Probab. 33, 1643 (2005), arXiv:math/0403022 (BBP).
J. Baik, J. W. Silverstein, J. Multivariate Anal. 97, 1382 (2006) (outlier locations).
S. Kritchman, B. Nadler, Chemometr. Intell. Lab. Syst. 94, 19 (2008) (sequential test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _validate
from ..theory import tracy_widom
from ._checks import finite_real

__all__ = ["edge_scaling", "largest_eigenvalue_pvalue", "mp_outliers", "Outliers", "EDGE_SHIFT"]

# Shift c_β of both dimensions in the centring and scaling: β = 1 is Ma's (2012)
# n − ½, p − ½ (second-order accurate), β = 2 Johansson's n, p; β = 4 uses n + ¼, p + ¼,
# which continues c_β = ½ − 1/β and was chosen by measurement (tests: KS against
# TW₄ for exact β-Laguerre samples, N×M = 50×100 … 200×200; the shifts 0 and ½ fail).
EDGE_SHIFT = {1: -0.5, 2: 0.0, 4: 0.25}


# Dimensions up to 1e12 and σ in [1e-30, 1e30] keep μ and s normal floats.
_DIM_MAX = 10**12
_SIGMA_MIN, _SIGMA_MAX = 1e-30, 1e30


def _dims(n, m):
    n = _validate.integer("n", n, minimum=1, maximum=_DIM_MAX)
    m = _validate.integer("m", m, minimum=1, maximum=_DIM_MAX)
    return n, m


def _sigma(sigma) -> float:
    sigma = _validate.positive("sigma", sigma)
    if not _SIGMA_MIN <= sigma <= _SIGMA_MAX:
        raise ValueError(f"`sigma` must be in [{_SIGMA_MIN:g}, {_SIGMA_MAX:g}], got {sigma:g}")
    return sigma


def edge_scaling(n, m, *, beta=1, sigma=1.0) -> tuple[float, float]:
    r"""Centre and scale of the largest eigenvalue of X = (1/M) WᵀW under the null (no signal).

    .. math::

        \frac{\lambda_{\max}(X) - \mu}{s} \;\to\; \mathrm{TW}_\beta,\qquad
        \mu = \frac{\sigma^2}{M}\left(\sqrt{M'} + \sqrt{N'}\right)^2,\quad
        s = \frac{\sigma^2}{M}\left(\sqrt{M'} + \sqrt{N'}\right)
            \left(\frac{1}{\sqrt{M'}} + \frac{1}{\sqrt{N'}}\right)^{1/3},

    with M' = M + c_β, N' = N + c_β: c₁ = −½ (Johnstone 2001 with Ma's 2012
    correction, real), c₂ = 0 (Johansson 2000, complex), c₄ = +¼ (quaternion, measured;
    see EDGE_SHIFT). TW_β is :func:`coulombgas.theory.tracy_widom` with ``scaling="beta"``
    (for β = 4, F₄(2^{1/6} s)). μ → σ²(1 + √q)², the Marchenko–Pastur edge, and s
    shrinks as M^{−2/3}. The formula is symmetric in (M, N) apart from the 1/M, so N > M
    (rank-deficient X) is covered.

    Parameters
    ----------
    n : int in [1, 1e12]
        N, the size of X (columns of W).
    m : int in [1, 1e12]
        M, the number of rows of W (samples).
    beta : {1, 2, 4}
        Real, complex or quaternion entries.
    sigma : float in [1e-30, 1e30]
        Standard deviation of the entries (E|W_ij|² = σ²).

    Returns
    -------
    (float, float)
        μ and s.

    Raises
    ------
    TypeError, ValueError
        If a parameter is not of its type or outside its range (named in the message).

    References
    ----------
    K. Johansson, Commun. Math. Phys. 209, 437 (2000); I. M. Johnstone, Ann. Statist. 29,
    295 (2001); Z. Ma, Bernoulli 18, 322 (2012).

    Examples
    --------
    >>> from coulombgas import spectra
    >>> mu, s = spectra.edge_scaling(100, 400, beta=2)
    >>> round(mu, 4), round(s, 5)
    (2.25, 0.03985)
    """
    n, m = _dims(n, m)
    beta = int(_validate.one_of("beta", _validate.real("beta", beta), (1, 2, 4)))
    sigma = _sigma(sigma)
    c = EDGE_SHIFT[beta]
    a, b = math.sqrt(m + c), math.sqrt(n + c)
    var = sigma * sigma / m
    return var * (a + b) ** 2, var * (a + b) * (1.0 / a + 1.0 / b) ** (1.0 / 3.0)


def largest_eigenvalue_pvalue(value, n, m, *, beta=1, sigma=1.0):
    """P(λ_max ≥ value) under the null for X = (1/M) WᵀW: TW_β survival at the scaled value.

    ``value`` may be an array (each entry tested on its own). See :func:`edge_scaling`
    for the convention; the p-value keeps its relative accuracy far in the tail (an
    outlier well above the edge gets e.g. 1e-40, not 0).

    Examples
    --------
    >>> from coulombgas import spectra
    >>> round(float(spectra.largest_eigenvalue_pvalue(2.25, 100, 400, beta=1)), 3)
    0.144
    """
    mu, s = edge_scaling(n, m, beta=beta, sigma=sigma)
    value = finite_real("value", value)
    return tracy_widom(int(beta), scaling="beta").sf((value - mu) / s)


@dataclass(frozen=True)
class Outliers:
    """Result of :func:`mp_outliers`.

    ``values`` (k,) the eigenvalues above the Marchenko–Pastur edge, descending;
    ``pvalues`` (k,) the sequential Tracy–Widom p-value of each; ``indices`` (k,) their
    positions in the input; ``flagged`` the number of leading entries that are
    significant outliers (p < alpha in sequence); ``edge`` σ²(1 + √q)²; ``centre``,
    ``scale`` the null TW centring of the largest eigenvalue; ``sigma``,
    ``sigma_estimated``; ``ratio`` q = N/M; ``beta``; ``alpha``; ``bbp_threshold``
    the population spike strength θ_c = σ²√q above which a spike separates (BBP).
    """

    values: np.ndarray
    pvalues: np.ndarray
    indices: np.ndarray
    flagged: int
    edge: float
    centre: float
    scale: float
    sigma: float
    sigma_estimated: bool
    ratio: float
    beta: int
    alpha: float
    bbp_threshold: float


def mp_outliers(eigenvalues, m, *, beta=1, sigma=None, alpha=0.01) -> Outliers:
    r"""Eigenvalues above the Marchenko–Pastur edge, each with a Tracy–Widom p-value (BBP picture).

    For a spiked covariance E[WᵀW]/M = σ²I + Σ_k θ_k v_k v_kᵀ (unit v_k), a spike
    θ > σ²√q pushes one eigenvalue out of the bulk, to σ²(1 + θ')(1 + q/θ') with θ' = θ/σ²
    (Baik–Ben Arous–Péché 2005; Baik–Silverstein 2006); a weaker one stays at the
    edge with Tracy–Widom fluctuations. The k-th largest eigenvalue ℓ_k is tested
    sequentially (Kritchman–Nadler 2008): with the k − 1 larger ones taken as signal,
    the noise has dimension N − k + 1 and

    .. math:: p_k = 1 - \mathrm{TW}_\beta\!\left(\frac{\ell_k - \mu_{N-k+1,M}}{s_{N-k+1,M}}\right),

    (μ, s from :func:`edge_scaling`); the leading run of p_k < alpha is flagged.

    σ, when not given, is estimated from the trace without the flagged eigenvalues,
    σ̂² = Σ_{unflagged} ℓ / (N − k), iterated until the flags stop changing (for the
    null, tr X / N → σ²); the slight bias this leaves (the removed spikes also took
    part of the bulk) is of order k/N.

    Parameters
    ----------
    eigenvalues : array_like, shape (N,)
        All N eigenvalues of X = (1/M) WᵀW (zeros included when N > M), any order.
    m : int >= 1
        M, the number of rows of W (samples).
    beta : {1, 2, 4}
        Real, complex or quaternion entries.
    sigma : float > 0, optional
        Entry standard deviation; estimated when omitted (see above).
    alpha : float in (0, 1)
        Significance of each step of the sequential test.

    Returns
    -------
    Outliers

    Raises
    ------
    TypeError, ValueError
        On non-finite or empty eigenvalues, or parameters outside their ranges.

    References
    ----------
    J. Baik, G. Ben Arous, S. Péché, Ann. Probab. 33, 1643 (2005).
    S. Kritchman, B. Nadler, Chemometr. Intell. Lab. Syst. 94, 19 (2008).

    Examples
    --------
    >>> import numpy as np
    >>> from coulombgas import spectra
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal((400, 100))
    >>> w[:, 0] *= 3.0                       # population spike θ = 8 ≫ √q = 0.5
    >>> out = spectra.mp_outliers(np.linalg.eigvalsh(w.T @ w / 400), 400)
    >>> out.flagged
    1
    """
    lam = finite_real("eigenvalues", eigenvalues, ndim=1, min_size=1)
    n = lam.size
    m = _validate.integer("m", m, minimum=1, maximum=_DIM_MAX)
    if n > _DIM_MAX:
        raise ValueError(f"`eigenvalues` must hold at most {_DIM_MAX:g} values, got {n}")
    beta = int(_validate.one_of("beta", _validate.real("beta", beta), (1, 2, 4)))
    alpha = _validate.real("alpha", alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"`alpha` must be in (0, 1), got {alpha:g}")
    order = np.argsort(lam)[::-1]
    desc = lam[order]
    q = n / m
    law = tracy_widom(beta, scaling="beta")
    estimated = sigma is None
    if not estimated:
        sigma = _sigma(sigma)
    flagged = 0
    for _ in range(50):
        if estimated:
            var = float(np.sum(desc[flagged:])) / (n - flagged) if flagged < n else float("nan")
            if not _SIGMA_MIN**2 <= var <= _SIGMA_MAX**2:
                raise ValueError("`eigenvalues` leave no bulk with σ² in [1e-60, 1e60] to estimate `sigma` "
                                 f"from (got σ² = {var:g}); pass `sigma`")
            sigma = math.sqrt(var)
        edge = sigma * sigma * (1.0 + math.sqrt(q)) ** 2
        above = int(np.sum(desc > edge))
        pvalues = np.empty(above)
        for k in range(above):
            mu, s = edge_scaling(n - k, m, beta=beta, sigma=sigma)
            pvalues[k] = law.sf((desc[k] - mu) / s)
        run = int(np.argmax(pvalues >= alpha)) if np.any(pvalues >= alpha) else above
        if run == flagged or not estimated:
            flagged = run
            break
        flagged = run
    centre, scale = edge_scaling(n, m, beta=beta, sigma=sigma)
    return Outliers(values=desc[:above].copy(), pvalues=pvalues, indices=order[:above].copy(), flagged=flagged,
                    edge=edge, centre=centre, scale=scale, sigma=float(sigma), sigma_estimated=estimated,
                    ratio=q, beta=beta, alpha=alpha, bbp_threshold=sigma * sigma * math.sqrt(q))
