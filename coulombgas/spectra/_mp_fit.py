"""Marchenko–Pastur fit of one spectrum (ratio q and σ) with a goodness of fit.

:func:`fit_marchenko_pastur` is re-exported by :mod:`coulombgas.spectra`. The
convention is that of :func:`coulombgas.theory.marchenko_pastur`: X = (1/M) WᵀW,
W is M×N with entries of variance σ², q = N/M <= 1 (for N > M pass the eigenvalues
of the smaller Gram matrix (1/N) W Wᵀ, an MP spectrum of ratio M/N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.stats

from .. import _rng, _validate
from ..theory import marchenko_pastur
from ._checks import finite_real

__all__ = ["fit_marchenko_pastur", "MarchenkoPasturFit", "RATIO_MIN"]

#: Smallest ratio fitted: below it the MP bulk is narrower than 2e-3 of its centre.
RATIO_MIN = 1e-6


@dataclass(frozen=True)
class MarchenkoPasturFit:
    """Result of :func:`fit_marchenko_pastur`.

    ``ratio`` q̂ and ``sigma`` σ̂ (``ratio_fixed``/``sigma_fixed`` when given, not
    fitted); ``edges`` (σ̂²(1 − √q̂)², σ̂²(1 + √q̂)²); ``statistic`` the Kolmogorov–Smirnov
    distance D = sup|F_N − F_MP| of the fitted law; ``pvalue`` its KS p-value for N
    independent draws (see the caveats in :func:`fit_marchenko_pastur`); ``n``
    eigenvalues used; ``excluded`` the largest eigenvalues left out; ``law`` the
    fitted frozen law.
    """

    ratio: float
    sigma: float
    ratio_fixed: bool
    sigma_fixed: bool
    edges: tuple
    statistic: float
    pvalue: float
    n: int
    excluded: int
    law: object
    null_pvalue: float | None = None
    null_statistics: np.ndarray | None = None


def _cvm_distance(x_sorted: np.ndarray, ratio: float, sigma: float) -> float:
    """Cramér–von Mises distance Σ (F(x_(i)) − (i − ½)/N)² / N, continuous in the parameters."""
    n = x_sorted.size
    f = marchenko_pastur(ratio, sigma).cdf(x_sorted)
    return float(np.mean((f - (np.arange(n) + 0.5) / n) ** 2))


def fit_marchenko_pastur(eigenvalues, *, ratio=None, sigma=None, exclude: int = 0, bootstrap: int = 0,
                         seed=None) -> MarchenkoPasturFit:
    r"""Fit the Marchenko–Pastur law to the eigenvalues of one (or several pooled) X = (1/M) WᵀW.

    .. math::

        \rho(x) = \frac{\sqrt{(b - x)(x - a)}}{2\pi\sigma^2 q x},\qquad
        a, b = \sigma^2(1 \mp \sqrt q)^2,

    (:func:`coulombgas.theory.marchenko_pastur`). The free parameters (q, σ, or
    one of them when the other is given) minimise the Cramér–von Mises distance
    between the empirical cdf and the MP cdf (a minimum-distance estimate, started
    from the moments σ² = ⟨x⟩, q = Var x/⟨x⟩²); unlike the moments it is hardly moved
    by a few outliers (each shifts the empirical cdf by 1/N only). ``exclude`` drops
    the largest eigenvalues first (e.g. the outliers flagged by :func:`mp_outliers`).

    Goodness of fit: the Kolmogorov–Smirnov distance D of the fitted law and its
    p-value for N *independent* draws. Eigenvalues of one matrix are not independent:
    they are rigid (D for an MP matrix is O(log N / N), not O(N^{−1/2})), and the
    parameters were fitted to them; both make the p-value too large, so for a genuine
    MP spectrum it is close to 1 and only gross departures are rejected (Student-t
    entries with 2.5 degrees of freedom, N = 200, M = 800, the test's seed: D = 0.040, p = 0.90).
    ``bootstrap=B`` calibrates D instead: B real Gaussian matrices of the fitted shape
    (N, M = N/q̂) and σ̂ are drawn and refitted, and ``null_pvalue`` =
    (1 + #{D* >= D})/(1 + B) (same example, B = 19: D* = 0.012 on average, at most
    0.014, so null_pvalue = 1/20, the smallest possible).
    Cost: B fits and B eigenvalue problems of size N (~0.3 s each at N = 200 here).

    Parameters
    ----------
    eigenvalues : array_like, at least 4 entries (pooled over all axes)
        Eigenvalues of X (q <= 1: no structural zeros).
    ratio : float in [1e-6, 1], optional
        q = N/M when known (e.g. from the matrix shape); fitted when omitted.
    sigma : float > 0, optional
        Entry standard deviation when known; fitted when omitted.
    exclude : int >= 0
        Number of largest eigenvalues left out of the fit.
    bootstrap : int >= 0
        Number of simulated null matrices for ``null_pvalue`` (0: not computed).
    seed : None, int or numpy.random.Generator
        Randomness of the bootstrap.

    Returns
    -------
    MarchenkoPasturFit

    Raises
    ------
    TypeError, ValueError
        On non-finite or too few eigenvalues, negative eigenvalues, parameters out of range.
    RuntimeError
        If the minimisation does not converge.

    References
    ----------
    V. A. Marchenko, L. A. Pastur, Math. USSR-Sbornik 1, 457 (1967).
    J. Wolfowitz, Ann. Math. Statist. 28, 75 (1957) (minimum-distance estimation).

    Examples
    --------
    >>> import numpy as np
    >>> from coulombgas import spectra
    >>> w = np.random.default_rng(0).standard_normal((800, 200))
    >>> fit = spectra.fit_marchenko_pastur(np.linalg.eigvalsh(w.T @ w / 800))
    >>> round(fit.ratio, 2), round(fit.sigma, 2), fit.pvalue > 0.5
    (0.25, 1.0, True)
    """
    x = np.sort(finite_real("eigenvalues", eigenvalues).ravel())
    exclude = _validate.integer("exclude", exclude, minimum=0)
    if x.size - exclude < 4:
        raise ValueError(f"`eigenvalues` must hold at least 4 values after `exclude`={exclude}, got {x.size}")
    # eigvalsh of a Gram matrix can return −1e-16·λ_max for a true 0; more is not a Gram matrix.
    if x[0] < -1e-10 * max(abs(x[-1]), 1e-300):
        raise ValueError(f"`eigenvalues` must be >= 0 (a Gram matrix), got {x[0]:g}")
    x = np.maximum(x[:x.size - exclude], 0.0)
    if ratio is not None:
        ratio = _validate.real("ratio", ratio)
        if not RATIO_MIN <= ratio <= 1.0:
            raise ValueError(f"`ratio` must be in [{RATIO_MIN:g}, 1] (pass the smaller Gram matrix), got {ratio:g}")
    if sigma is not None:
        sigma = _validate.positive("sigma", sigma)
    top = float(x[-1])
    if not top > 0:
        raise ValueError("`eigenvalues` are all 0: no Marchenko–Pastur bulk to fit")
    bootstrap = _validate.integer("bootstrap", bootstrap, minimum=0, maximum=10**6)
    # Fit in units of the largest eigenvalue (σ² → σ²/top): no x² overflows or underflows.
    q, s = _minimum_distance(x / top, ratio, None if sigma is None else sigma / math.sqrt(top))
    s *= math.sqrt(top)
    law = marchenko_pastur(q, s)
    ks = scipy.stats.kstest(x / top, marchenko_pastur(q, s / math.sqrt(top)).cdf)
    null_p, null = None, None
    if bootstrap:
        # Parametric bootstrap: real Gaussian W of the fitted shape (N, M = N/q̂) and σ̂,
        # each refitted the same way; p = (1 + #{D* >= D}) / (1 + B).
        rng = _rng.generator(seed)
        n_all = x.size + exclude
        m = max(int(round(n_all / q)), n_all)
        null = []
        for _ in range(bootstrap):
            w = rng.standard_normal((m, n_all))
            xb = np.sort(np.linalg.eigvalsh(w.T @ w / m) * s * s)[:x.size]
            qb, sb = _minimum_distance(xb / top, ratio, None if sigma is None else sigma / math.sqrt(top),
                                       start=(q, s / math.sqrt(top)))
            null.append(scipy.stats.kstest(xb / top, marchenko_pastur(qb, sb).cdf).statistic)
        null_p = (1.0 + np.sum(np.asarray(null) >= ks.statistic)) / (1.0 + bootstrap)
    a, b = s * s * (1.0 - math.sqrt(q)) ** 2, s * s * (1.0 + math.sqrt(q)) ** 2
    return MarchenkoPasturFit(ratio=q, sigma=s, ratio_fixed=ratio is not None, sigma_fixed=sigma is not None,
                              edges=(a, b), statistic=float(ks.statistic), pvalue=float(ks.pvalue),
                              n=int(x.size), excluded=exclude, law=law,
                              null_pvalue=None if null_p is None else float(null_p),
                              null_statistics=None if null is None else np.asarray(null, dtype=float))


def _minimum_distance(x, ratio, sigma, start=None):
    """(q, σ) minimising the Cramér–von Mises distance; given parameters stay fixed."""
    mean = float(x.mean())
    if start is None:
        q0 = ratio if ratio is not None else min(max(float(x.var()) / mean**2, 1e-3), 0.999)
        s0 = sigma if sigma is not None else math.sqrt(mean)
    else:
        q0, s0 = start

    def unpack(p):
        k = 0
        q, s = ratio, sigma
        if ratio is None:
            q = min(max(math.exp(p[k]), RATIO_MIN), 1.0)
            k += 1
        if sigma is None:
            s = math.exp(p[k])
        return q, s

    p0 = ([math.log(q0)] if ratio is None else []) + ([math.log(s0)] if sigma is None else [])
    if not p0:
        return ratio, sigma
    res = scipy.optimize.minimize(lambda p: _cvm_distance(x, *unpack(p)), np.array(p0), method="Nelder-Mead",
                                  options={"xatol": 1e-9, "fatol": 1e-14, "maxiter": 4000})
    if not res.success:
        raise RuntimeError(f"Marchenko–Pastur fit did not converge ({res.message})")
    return unpack(res.x)
