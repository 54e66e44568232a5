"""Fits with error bars and goodness of fit: the statistics half of :mod:`coulombgas.spectra`.

Every name here is re-exported by :mod:`coulombgas.spectra` (``spectra.goodness_of_fit``,
``spectra.jackknife``, ``spectra.fit_density``, ``spectra.fit_through_origin``).
Error bars are computed over independent *runs* (seeds, models), resampled whole.

References
----------
.. [1] G. Marsaglia, J. Marsaglia, "Evaluating the Anderson-Darling
   distribution", J. Stat. Softw. 9(2) (2004).
.. [2] B. Efron, R. Tibshirani, *An Introduction to the Bootstrap*, Chapman &
   Hall (1993), ch. 11 (jackknife).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.optimize
import scipy.stats

from .. import _rng
from .. import _validate
from ._checks import (
    checked_law, finite_real, independent_runs, merged_blocks, pooled_runs, pooled_samples, refuse_non_real,
)

__all__ = ["goodness_of_fit", "jackknife", "fit_density", "fit_through_origin",
           "GoodnessOfFit", "Jackknife", "DensityFit", "LineFit"]


@dataclass(frozen=True)
class GoodnessOfFit:
    """Result of :func:`goodness_of_fit`: ``statistic``, ``pvalue``, ``method``, ``n``."""

    statistic: float
    pvalue: float
    method: str
    n: int


def _ad_log_log(z: float) -> float:
    """Exponent of ADinf's upper piece, ADinf(z) = exp(-exp(g(z))) for z >= 2."""
    return 1.0776 - (2.30695 - (0.43424 - (0.082433 - (0.008056 - 0.0003146 * z) * z) * z) * z) * z


def _ad_inf(z: float) -> float:
    """Asymptotic P(A^2 < z): the two-piece fit ADinf of Marsaglia & Marsaglia (2004)."""
    if z < 2.0:
        poly = 2.00012 + (0.247105 - (0.0649821 - (0.0347962 - (0.011672 - 0.00168691 * z) * z) * z) * z) * z
        return np.exp(-1.2337141 / z) / np.sqrt(z) * poly
    return np.exp(-np.exp(_ad_log_log(z)))


def _ad_inf_sf(z: float) -> float:
    """Asymptotic P(A^2 >= z), without the cancellation of 1 - ADinf in the tail."""
    return 1.0 - _ad_inf(z) if z < 2.0 else -np.expm1(-np.exp(_ad_log_log(z)))


def _ad_errfix(n: int, x: float) -> float:
    """Marsaglia's finite-n correction: P(A_n^2 < z) ~ x + errfix(n, x), x = ADinf(z)."""
    if x > 0.8:
        return (-130.2137 + (745.2337 - (1705.091 - (1950.646 - (1116.360 - 255.7844 * x) * x) * x) * x) * x) / n
    c = 0.01265 + 0.1757 / n
    if x < c:
        t = x / c
        return np.sqrt(t) * (1 - t) * (49 * t - 102) * (0.0037 / n**2 + 0.00078 / n + 0.00006) / n
    t = (x - c) / (0.8 - c)
    t = -0.00022633 + (6.54034 - (14.6538 - (14.458 - (8.259 - 1.91864 * t) * t) * t) * t) * t
    return t * (0.04213 + 0.01365 / n) / n


_AD_TAIL = 1e-3  # asymptotic p-value below which the finite-n correction is held relative


def _ad_pvalue(n: int, z: float) -> float:
    """P(A_n^2 >= z) for n i.i.d. samples of a fully specified law (checked by simulation, n >= 2).

    The published correction does not vanish at x = 1 (its rounded coefficients leave
    6e-4/n there), which would put a floor under tiny p-values; below an asymptotic
    p-value of 1e-3 it is therefore continued as a constant relative correction, which
    also matches simulated tails better (n = 4, 8).
    """
    if z <= 0:
        return 1.0
    sf = _ad_inf_sf(z)
    if sf >= _AD_TAIL:
        return float(np.clip(sf - _ad_errfix(n, 1.0 - sf), 0.0, 1.0))
    return float(sf * (1.0 - _ad_errfix(n, 1.0 - _AD_TAIL) / _AD_TAIL))


def _anderson_darling(data: np.ndarray, law) -> tuple[float, float]:
    """A^2 against a fully specified law, and its p-value."""
    x = np.sort(data)
    n = x.size
    # logcdf/logsf keep precision in the tails, where 1 - F rounds to 0.
    log_f = np.asarray(law.logcdf(x), dtype=np.float64) if hasattr(law, "logcdf") else np.log(law.cdf(x))
    log_s = np.asarray(law.logsf(x), dtype=np.float64) if hasattr(law, "logsf") else np.log1p(-law.cdf(x))
    if np.any(np.isnan(log_f)) or np.any(np.isnan(log_s)):
        raise ValueError("`law`.cdf returned NaN on `data`")
    k = np.arange(1, n + 1)
    a2 = -n - np.sum((2 * k - 1) * (log_f + log_s[::-1])) / n
    if not np.isfinite(a2):  # a sample where the law has no mass
        return np.inf, 0.0
    return float(a2), _ad_pvalue(n, a2)


def goodness_of_fit(data, law, method: str = "ks") -> GoodnessOfFit:
    r"""Test that ``data`` are i.i.d. draws from the fully specified ``law``.

    - ``"ks"``: Kolmogorov-Smirnov, :math:`D = \sup|F_n - F|` (scipy.stats.kstest);
    - ``"cvm"``: Cramér-von Mises, :math:`\omega^2 = n\int (F_n - F)^2 dF`
      (scipy.stats.cramervonmises);
    - ``"ad"``: Anderson-Darling, :math:`A^2 = -n - \frac1n\sum_{k=1}^n (2k-1)
      [\ln F(x_{(k)}) + \ln(1 - F(x_{(n+1-k)}))]`, more sensitive in the tails;
      p-value from the asymptotic law (Marsaglia & Marsaglia's ADinf, within
      ~2e-5 of the exact limit) with their finite-n correction [1]_.

    The law must not have been fitted to the same data (then the p-values are
    too large); samples must be independent (pool runs, not correlated records).

    Parameters
    ----------
    data : array_like, finite, at least 2 entries
        Samples; all axes are pooled.
    law : frozen scipy.stats distribution
        Needs ``.cdf`` (``.logcdf``/``.logsf`` are used by "ad" when present).
    method : {"ks", "cvm", "ad"}, default "ks"

    Returns
    -------
    GoodnessOfFit
        ``statistic``, ``pvalue`` in [0, 1], ``method``, ``n`` (samples). For
        ``"ad"``, a sample where the law's cdf is exactly 0 or 1 (no mass there in
        floating point) gives ``statistic = inf`` and ``pvalue = 0``: a certain rejection.

    Raises
    ------
    ValueError
        Bad ``data`` or ``method``; a cdf returning NaN.
    TypeError
        If ``law`` has no ``.cdf``.

    References
    ----------
    .. [1] Marsaglia & Marsaglia, J. Stat. Softw. 9(2) (2004).

    Examples
    --------
    >>> import scipy.stats
    >>> r = goodness_of_fit([0.1, 0.4, 0.5, 0.9], scipy.stats.uniform(), method="ad")
    >>> r.method, r.n, bool(r.pvalue > 0.5)
    ('ad', 4, True)
    """
    data = pooled_samples("data", data)
    checked_law(law, "cdf")
    method = _validate.one_of("method", method, ("ks", "cvm", "ad"))
    if method == "ad":
        stat, p = _anderson_darling(data, law)
    else:
        test = scipy.stats.kstest if method == "ks" else scipy.stats.cramervonmises
        res = test(data, law.cdf)
        stat, p = float(res.statistic), float(res.pvalue)
        if np.isnan(stat) or np.isnan(p):
            raise ValueError("`law`.cdf returned NaN on `data`")
    return GoodnessOfFit(statistic=stat, pvalue=min(max(p, 0.0), 1.0), method=method, n=data.size)


# --------------------------------------------------------------------------- errors over runs

@dataclass(frozen=True)
class Jackknife:
    """Result of :func:`jackknife`.

    ``estimate`` (the statistic of all runs), ``error``, ``bias_corrected``,
    ``covariance`` (p, p) for a vector statistic with p entries (() for a
    scalar), ``replicates`` (runs, ...) the leave-one-out values.
    """

    estimate: np.ndarray
    error: np.ndarray
    bias_corrected: np.ndarray
    covariance: np.ndarray
    replicates: np.ndarray


def _jackknife_from(estimate: np.ndarray, replicates: np.ndarray) -> Jackknife:
    m = replicates.shape[0]
    dev = (replicates - replicates.mean(axis=0)).reshape(m, -1)
    # Products in units of the largest deviation (squares of 1e155 overflow); a covariance
    # that is itself beyond the float range is refused.
    scale = float(np.abs(dev).max()) or 1.0
    with np.errstate(over="ignore"):
        cov = (m - 1) / m * ((dev / scale).T @ (dev / scale)) * scale * scale
    if not np.all(np.isfinite(cov)):
        raise ValueError("`statistic`'s values spread over more than ~1e154 between runs: their variance "
                         "overflows a float; rescale the data")
    shape = estimate.shape
    return Jackknife(
        estimate=estimate,
        error=np.sqrt(np.diag(cov)).reshape(shape),
        bias_corrected=m * estimate - (m - 1) * replicates.mean(axis=0),
        covariance=cov if shape else cov.reshape(()),
        replicates=replicates,
    )


def jackknife(statistic: Callable, runs, *, blocks: int | None = None) -> Jackknife:
    r"""Delete-one jackknife over independent runs.

    With :math:`\hat\theta` the statistic of all m runs and :math:`\theta_{(k)}`
    that without run k, :math:`\bar\theta = \frac1m\sum_k\theta_{(k)}`:

    .. math::
        \sigma^2 = \frac{m-1}{m}\sum_k (\theta_{(k)} - \bar\theta)^2, \qquad
        \theta_{\rm bc} = m\hat\theta - (m-1)\bar\theta

    (covariance likewise for a vector statistic). For the mean of m runs of one
    sample each, :math:`\sigma` is exactly the standard error s/√m.

    Parameters
    ----------
    statistic : callable
        ``statistic(pooled) -> float or 1-D array``, where ``pooled`` is the
        kept runs concatenated along axis 0.
    runs : array_like, shape (runs, ...), or sequence of arrays
        Independent runs (>= 2); runs may differ in length along axis 0 only.
    blocks : int, optional, 2 <= blocks <= runs
        Merge consecutive runs into this many blocks first (cheaper with
        thousands of runs; the same estimator on the blocks).

    Returns
    -------
    Jackknife
        ``estimate``, ``error``, ``bias_corrected``, ``covariance``, ``replicates``.

    Raises
    ------
    ValueError
        Bad ``runs`` or ``blocks``; a statistic that returns non-finite values.
    TypeError
        If ``statistic`` is not callable.

    References
    ----------
    .. [1] Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 11.

    Examples
    --------
    >>> jk = jackknife(np.mean, [[1.0], [2.0], [4.0]])
    >>> float(jk.estimate), round(float(jk.error), 6)
    (2.3333333333333335, 0.881917)
    """
    if not callable(statistic):
        raise TypeError(f"`statistic` must be callable, got {type(statistic).__name__}")
    runs = merged_blocks(independent_runs(runs), blocks)
    m = len(runs)

    def evaluate(keep):
        value = np.asarray(statistic(pooled_runs(runs, keep)), dtype=np.float64)
        if value.ndim > 1 or not np.all(np.isfinite(value)):
            raise ValueError("`statistic` must return a finite scalar or 1-D array")
        return value

    estimate = evaluate(np.arange(m))
    replicates = np.stack([evaluate(np.delete(np.arange(m), k)) for k in range(m)])
    return _jackknife_from(estimate, replicates)


@dataclass(frozen=True)
class DensityFit:
    """Result of :func:`fit_density`.

    ``params``, ``errors`` (p,); ``covariance`` (p, p); ``method`` of the
    errors; ``replicates`` (resamples, p) the refitted parameters; ``nll`` the
    mean negative log-likelihood per sample at ``params``; ``runs``, ``samples``.
    """

    params: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    method: str
    replicates: np.ndarray
    nll: float
    runs: int
    samples: int


def _maximum_likelihood(samples: np.ndarray, pdf: Callable, p0: np.ndarray, bounds):
    """Minimise the mean negative log-likelihood with Nelder-Mead.

    Nelder-Mead because densities vanish outside their support (log-likelihood
    -inf), which breaks finite-difference gradients. Parameters are scaled by
    |p0| so that one relative tolerance suits every parameter.
    """
    scale = np.where(p0 != 0, np.abs(p0), 1.0)

    def nll(q):
        with np.errstate(all="ignore"):
            f = np.asarray(pdf(samples, *(q * scale)), dtype=np.float64)
            if f.shape != samples.shape or not np.all(f > 0) or not np.all(np.isfinite(f)):
                return np.inf
            return -np.mean(np.log(f))

    q0 = p0 / scale
    scaled = None if bounds is None else [(lo / s, hi / s) for (lo, hi), s in zip(bounds, scale)]
    res = scipy.optimize.minimize(nll, q0, method="Nelder-Mead", bounds=scaled,
                                  options={"xatol": 1e-10, "fatol": 1e-14,
                                           "maxiter": 4000 * p0.size, "maxfev": 8000 * p0.size})
    if not res.success:
        raise RuntimeError(f"maximum-likelihood fit did not converge ({res.message}); "
                           "try a better `p0` or `bounds`")
    return res.x * scale, float(res.fun)


def fit_density(runs, pdf: Callable, p0, *, bounds=None, error: str = "jackknife",
                n_resamples: int = 200, blocks: int | None = None, seed=None) -> DensityFit:
    r"""Maximum-likelihood fit of a density, with errors over independent runs.

    .. math:: \hat\theta = \arg\min_\theta\; -\frac1N\sum_{i=1}^N \ln p(x_i; \theta)

    over the N samples of all runs pooled. Errors: delete-one jackknife over
    runs (:func:`jackknife`), or bootstrap over runs (runs drawn with
    replacement, ``n_resamples`` refits, sample covariance). Resampling whole
    runs keeps the errors honest when samples within a run are correlated.

    Parameters
    ----------
    runs : array_like, shape (runs, ...), or sequence of arrays
        Samples of >= 2 independent runs; each run is flattened.
    pdf : callable or scipy.stats distribution
        ``pdf(x, *params) -> array`` like ``x``, normalised in x for every
        params; for an (unfrozen) scipy.stats distribution its ``.pdf`` is
        used, params being its shapes, loc, scale.
    p0 : array_like, shape (p,)
        Starting parameters; the pdf must be positive at every sample there.
    bounds : sequence of (lo, hi), length p, optional
        Bounds for the parameters (``None`` entries for no bound on a side).
    error : {"jackknife", "bootstrap"}, default "jackknife"
    n_resamples : int in [2, 10**6], default 200
        Bootstrap resamples (``error="bootstrap"`` only).
    blocks : int, optional
        Merge runs into this many blocks first (see :func:`jackknife`).
    seed : None, int, SeedSequence or Generator
        Randomness of the bootstrap.

    Returns
    -------
    DensityFit
        ``params``, ``errors``, ``covariance``, ``method``, ``replicates``,
        ``nll``, ``runs``, ``samples``.

    Raises
    ------
    ValueError
        Bad ``runs``, ``p0``, ``bounds``, ``error`` or ``n_resamples``.
    TypeError
        If ``pdf`` is not callable or does not return an array like ``x``.
    RuntimeError
        If the optimiser does not converge.

    References
    ----------
    .. [1] Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 6, 11.

    Examples
    --------
    >>> import scipy.stats
    >>> rng = np.random.default_rng(0)
    >>> fit = fit_density(rng.normal(1.0, 2.0, (20, 100)), scipy.stats.norm.pdf, [0.0, 1.0])
    >>> bool(np.all(np.abs(fit.params - [1.0, 2.0]) < 4 * fit.errors))
    True
    """
    pdf = getattr(pdf, "pdf", pdf)  # a scipy.stats distribution: fit its shapes, loc, scale
    if not callable(pdf):
        raise TypeError(f"`pdf` must be callable as pdf(x, *params), got {type(pdf).__name__}")
    runs = [r.ravel() for r in merged_blocks(independent_runs(runs), blocks)]
    p0 = finite_real("p0", p0, min_size=1)
    if p0.ndim > 1:
        raise ValueError(f"`p0` must be 1-D, got shape {p0.shape}")
    p0 = np.atleast_1d(p0)
    if bounds is not None:
        bounds = [tuple(b) for b in bounds]
        if len(bounds) != p0.size or any(len(b) != 2 for b in bounds):
            raise ValueError(f"`bounds` must be {p0.size} pairs (lo, hi), got {bounds!r}")
        try:
            bounds = [(-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))
                      for lo, hi in bounds]
        except (TypeError, ValueError):
            raise TypeError(f"`bounds` must be pairs (lo, hi) of real numbers or None, got {bounds!r}") from None
        if any(np.isnan(b).any() or b[0] > b[1] for b in np.asarray(bounds)):
            raise ValueError(f"`bounds` must be pairs (lo, hi) with lo <= hi and no NaN, got {bounds!r}")
        if any(not lo <= p <= hi for (lo, hi), p in zip(bounds, p0)):
            raise ValueError(f"`p0` must lie within `bounds`, got p0={p0.tolist()}")
    error = _validate.one_of("error", error, ("jackknife", "bootstrap"))
    if error == "bootstrap":  # checked before the fit, not after it
        n_resamples = _validate.integer("n_resamples", n_resamples, minimum=2, maximum=10**6)
    m = len(runs)
    pooled = np.concatenate(runs)
    try:
        f0 = np.asarray(pdf(pooled, *p0), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`pdf` must be callable as pdf(x, *params) with {p0.size} params and "
                        f"return densities ({exc})") from exc
    if f0.shape != pooled.shape:
        raise TypeError(f"`pdf` must return one density per sample, got shape {f0.shape}")
    if not np.all(np.isfinite(f0) & (f0 > 0)):
        raise ValueError("`p0` must give a positive, finite `pdf` at every sample")

    params, nll = _maximum_likelihood(pooled, pdf, p0, bounds)

    def refit(keep):  # start from the full estimate: replicates are close to it
        return _maximum_likelihood(pooled_runs(runs, keep), pdf, params, bounds)[0]

    if error == "jackknife":
        replicates = np.stack([refit(np.delete(np.arange(m), k)) for k in range(m)])
        cov = _jackknife_from(params, replicates).covariance
    else:
        rng = _rng.generator(seed)
        # Resample whole runs: numpy draws the indices, the refit is ours (scipy.stats.bootstrap
        # resamples observations for confidence intervals, not clusters for a covariance).
        replicates = np.stack([refit(rng.integers(m, size=m)) for _ in range(n_resamples)])
        cov = np.atleast_2d(np.cov(replicates, rowvar=False, ddof=1))
    return DensityFit(params=params, errors=np.sqrt(np.diag(cov)), covariance=cov, method=error,
                      replicates=replicates, nll=nll, runs=m,
                      samples=sum(r.size for r in runs))


# --------------------------------------------------------------------------- straight lines

@dataclass(frozen=True)
class LineFit:
    """Result of :func:`fit_through_origin`: ``slope``, ``error``, ``chi2``, ``dof``,
    ``reduced_chi2`` (chi2/dof) and ``pvalue`` (chi-square survival at chi2)."""

    slope: float
    error: float
    chi2: float
    dof: int
    reduced_chi2: float
    pvalue: float


def fit_through_origin(x, y, yerr) -> LineFit:
    r"""Weighted least-squares fit of the line y = a x through the origin.

    .. math::
        a = \frac{\sum x y/\sigma^2}{\sum x^2/\sigma^2}, \qquad
        \sigma_a = \Big(\sum x^2/\sigma^2\Big)^{-1/2}, \qquad
        \chi^2 = \sum \frac{(y - a x)^2}{\sigma^2}

    with dof = points - 1. The form the papers test: ⟨S⟩ and σ linear in
    √(α/|B|) (SCIENCE.md section 6).

    Parameters
    ----------
    x, y : array_like, shape (k,), finite, k >= 2
        Abscissae (not all zero) and measurements.
    yerr : float or array_like, shape (k,), > 0
        Standard errors of ``y``.

    Returns
    -------
    LineFit
        ``slope``, ``error``, ``chi2``, ``dof``, ``reduced_chi2``, ``pvalue``.

    Raises
    ------
    ValueError
        Mismatched shapes, fewer than 2 points, all ``x`` zero, ``yerr`` <= 0.

    References
    ----------
    .. [1] P. R. Bevington, D. K. Robinson, *Data Reduction and Error Analysis for the
       Physical Sciences*, 3rd ed. (2003), ch. 6.

    Examples
    --------
    >>> fit = fit_through_origin([1.0, 2.0], [2.0, 4.0], [0.1, 0.1])
    >>> fit.slope, fit.chi2, fit.dof
    (2.0, 0.0, 1)
    """
    x = finite_real("x", x, ndim=1, min_size=2)
    y = finite_real("y", y, ndim=1)
    if y.shape != x.shape:
        raise ValueError(f"`y` must have the shape of `x` {x.shape}, got {y.shape}")
    refuse_non_real("yerr", yerr)
    yerr = _validate.positive_array("yerr", yerr, shape=x.shape)
    if not np.any(x != 0):
        raise ValueError("`x` must not be all zero")
    # In units of the largest |x|, |y| and the smallest error, so 1/σ² (1e400 for σ = 1e-200)
    # and x·y never overflow: a = (Y/X)·Σŵx̂ŷ/Σŵx̂², σ_a = (e/X)/√Σŵx̂², with ŵ = (e/σ)² <= 1.
    X, Y, e = np.abs(x).max(), np.abs(y).max() or 1.0, yerr.min()
    xs, ys, ws = x / X, y / Y, (e / yerr) ** 2
    sxx = np.sum(ws * xs * xs)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        slope = float(np.sum(ws * xs * ys) / sxx * (Y / X))
        error = float(e / X / np.sqrt(sxx))
        chi2 = float(np.sum(((y - slope * x) / yerr) ** 2))
    if not (np.isfinite(slope) and np.isfinite(error) and error > 0 and np.isfinite(chi2)):
        raise ValueError("`x`, `y` and `yerr` span too many orders of magnitude: the slope, its error "
                         f"or chi² = Σ((y − a·x)/yerr)² is not a finite float (slope {slope:g}, chi² "
                         f"{chi2:g}, smallest `yerr` {e:g})")
    dof = x.size - 1
    return LineFit(slope=slope, error=error, chi2=chi2, dof=dof,
                   reduced_chi2=chi2 / dof, pvalue=float(scipy.stats.chi2.sf(chi2, dof)))
