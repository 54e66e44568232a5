"""Statistical assertions whose tolerances are computed from the sample size.

Every helper fails with a fixed, stated false-alarm rate when the hypothesis is
true, so a stochastic test with a fixed seed is a real test, not an eyeball
bound. Each returns the statistic it checked, so tests can report it.

    from stats import assert_mean_z, assert_ks
"""

from __future__ import annotations

import numpy as np
import scipy.stats

__all__ = ["assert_z", "assert_mean_z", "assert_ks", "assert_two_sample"]


def assert_z(value, expected, error, z: float = 4.0) -> float:
    """|value - expected| <= z * error, for an estimate with a known standard error.

    For a Gaussian estimate the false-alarm rate is 2*(1 - Phi(z)): 6.3e-5 at
    z = 4 (two-sided). Works elementwise on arrays (all must pass); returns the
    largest |z-score|.
    """
    value, expected, error = (np.asarray(a, dtype=np.float64) for a in (value, expected, error))
    if np.any(error <= 0) or not np.all(np.isfinite(error)):
        raise ValueError(f"`error` must be finite and > 0, got {error}")
    score = np.abs(value - expected) / error
    worst = float(np.max(score))
    assert np.all(score <= z), (
        f"z-score {worst:.2f} > {z}: value {value} vs expected {expected} +- {error}"
    )
    return worst


def assert_mean_z(samples, expected_mean, expected_std=None, z: float = 4.0) -> float:
    """The sample mean agrees with ``expected_mean`` within z standard errors.

    Standard error sigma/sqrt(n), with sigma = ``expected_std`` when known, else
    the sample standard deviation (ddof=1). Samples must be independent. By the
    central limit theorem the false-alarm rate is ~6.3e-5 at z = 4 (two-sided;
    with an estimated sigma and n >= 100 the t-correction is negligible).
    Returns the z-score.
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError(f"need at least 2 samples, got {x.size}")
    sigma = np.std(x, ddof=1) if expected_std is None else float(expected_std)
    return assert_z(x.mean(), expected_mean, sigma / np.sqrt(x.size), z)


def assert_ks(data, cdf, alpha: float = 1e-3) -> float:
    """One-sample Kolmogorov-Smirnov: fail if the p-value is below ``alpha``.

    ``cdf`` is a callable, a frozen scipy.stats law (its ``.cdf`` is used) or a
    scipy distribution name. Under the null hypothesis (independent draws from
    exactly that law) the p-value is uniform, so the false-alarm rate is
    ``alpha`` (1 in 1000 by default). Returns the p-value.
    """
    cdf = getattr(cdf, "cdf", cdf)
    res = scipy.stats.kstest(np.asarray(data, dtype=np.float64).ravel(), cdf)
    assert res.pvalue >= alpha, f"KS rejects the law: D = {res.statistic:.4g}, p = {res.pvalue:.3g} < {alpha}"
    return float(res.pvalue)


def assert_two_sample(a, b, alpha: float = 1e-3) -> float:
    """Two-sample Kolmogorov-Smirnov (scipy ks_2samp): fail if p < ``alpha``.

    Both samples must be independent draws; the false-alarm rate when they come
    from one law is ``alpha``. Returns the p-value.
    """
    res = scipy.stats.ks_2samp(np.ravel(a), np.ravel(b))
    assert res.pvalue >= alpha, (
        f"samples differ: D = {res.statistic:.4g}, p = {res.pvalue:.3g} < {alpha}"
    )
    return float(res.pvalue)
