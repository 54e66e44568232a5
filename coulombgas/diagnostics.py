r"""Chain diagnostics: autocorrelation, integrated autocorrelation time τ, effective sample size, split R̂.

The estimators every Markov-chain result of the package reports
(:func:`coulombgas.sample`, :mod:`coulombgas.report`). Inputs are arrays of
draws shaped (draws,), (chains, draws) or (chains, draws, dims); nothing here
knows about Coulomb gases.

* :func:`autocorr_function`: ρ(t) by FFT, each chain normalised by its own
  variance, averaged over chains;
* :func:`integrated_time`: τ = 1 + 2 Σ_{t=1}^{M} ρ(t) with Sokal's automatic
  window M = min{M : M ≥ c τ(M)}; a chain shorter than ``tol``·τ raises
  :class:`AutocorrError` (or warns), as emcee's ``autocorr.integrated_time`` does;
* :func:`effective_sample_size`: chains · draws / τ;
* :func:`split_rhat`: rank-normalised, folded split R̂ (Vehtari et al. 2021);
* :func:`chain_diagnostics`: all of them for every coordinate and log P_s of a
  sampler's output, with the 50 τ length check.

References
----------
A. D. Sokal, "Monte Carlo methods in statistical mechanics: foundations and new
algorithms", Cargèse lectures (1997); N. Madras, A. D. Sokal, J. Stat. Phys. 50, 109 (1988).
D. Foreman-Mackey, D. W. Hogg, D. Lang, J. Goodman, "emcee: the MCMC hammer",
PASP 125, 306 (2013) (the estimator and its API shape).
A. Gelman et al., Bayesian Data Analysis, 3rd ed. (2013), §11.4 (split R̂).
A. Vehtari, A. Gelman, D. Simpson, B. Carpenter, P.-C. Bürkner, "Rank-normalization,
folding, and localization: an improved R̂", Bayesian Analysis 16, 667 (2021), arXiv:1903.08008.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.special
import scipy.stats

__all__ = ["AutocorrError", "autocorr_function", "integrated_time", "effective_sample_size", "split_rhat",
           "chain_diagnostics", "MIN_TAU_MULTIPLE"]

#: Markov chains shorter than this many autocorrelation times give a warning (emcee's ``tol``).
MIN_TAU_MULTIPLE = 50.0


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


def chain_diagnostics(xc, lp, strict: bool = False, *, min_tau_multiple: float = MIN_TAU_MULTIPLE) -> dict:
    """τ, ESS and split R̂ of every coordinate and of log P_s of a sampler's output.

    Parameters
    ----------
    xc : ndarray, shape (chains, draws, n)
        Draws (ordered eigenvalues).
    lp : ndarray, shape (chains, draws)
        log P_s at every draw.
    strict : bool
        Raise :class:`AutocorrError` instead of warning when the chains are
        shorter than ``min_tau_multiple`` times the largest τ.
    min_tau_multiple : float
        The length check's factor (50, emcee's ``tol``).

    Returns
    -------
    dict
        ``autocorr_time`` (n,), ``autocorr_time_log_density``, ``ess`` (n,),
        ``ess_log_density`` (chains·draws/τ), ``rhat`` (n,), ``rhat_log_density``
        (NaN for fewer than 4 draws per chain).
    """
    chains, draws, n = xc.shape
    both = np.concatenate([xc, lp[:, :, None]], axis=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tau = integrated_time(both, tol=0.0) if draws >= 2 else np.full(n + 1, np.nan)
    ess = chains * draws / tau
    if draws >= 4:
        rhat = split_rhat(both)
    else:
        rhat = np.full(n + 1, np.nan)
    finite = np.isfinite(tau)
    worst = float(np.max(tau[finite])) if np.any(finite) else float("nan")
    if not draws >= min_tau_multiple * worst:
        where = int(np.argmax(np.where(finite, tau, -np.inf))) if np.any(finite) else n
        which = "log-density" if where == n else f"eigenvalue {where}"
        need = int(math.ceil(min_tau_multiple * worst)) if math.isfinite(worst) else "?"
        msg = (f"chains are shorter than {min_tau_multiple:g} integrated autocorrelation times: {draws} draws "
               f"per chain, τ = {worst:.3g} draws ({which}); τ, ESS and R̂ are unreliable and the samples may not "
               f"represent P_s. Run at least {need} draws per chain (raise n_samples, thin, or warmup)")
        if strict:
            raise AutocorrError(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)
    return {"autocorr_time": tau[:n], "autocorr_time_log_density": float(tau[n]), "ess": ess[:n],
            "ess_log_density": float(ess[n]), "rhat": rhat[:n], "rhat_log_density": float(rhat[n])}
