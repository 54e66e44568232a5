"""Fit of the Dyson index β from gap ratios or spacings.

:func:`fit_dyson_index` is re-exported by :mod:`coulombgas.spectra`. Two laws for the
gap ratio: the general-β Atas surmise of :mod:`coulombgas.theory` (exact for 3×3
Gaussian β-ensembles, fitted by maximum likelihood) and the large-n bulk law tabulated
in :mod:`._dyson_table` (fitted by matching the mean of the surmise's sufficient
statistic, the default for spectra of more than 3 levels). The spacing fit uses the
general-β Wigner surmise (exact for 2×2). See the Notes of :func:`fit_dyson_index`
for the measured bias of each law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from .. import _validate
from ._checks import real_spectrum
from ..theory._general_beta import (
    BETA_MAX, BETA_MIN, ratio_statistic, ratio_statistic_mean, ratio_statistic_moments, surmise_constants,
)
from . import _dyson_table as _table

__all__ = ["fit_dyson_index", "DysonFit"]

_STATISTICS = ("ratio", "spacing")
_ERRORS = ("jackknife", "fisher")
_LAWS = ("auto", "large-n", "surmise")
# Blocks for the jackknife: whole spectra when there are many (up to 64 groups of
# consecutive spectra), else 32 contiguous stretches of the pooled sequence, long
# against the correlation length of ratios/spacings within a spectrum (a few levels).
_MAX_BLOCKS, _CHUNKS = 64, 32


@dataclass(frozen=True)
class DysonFit:
    """Result of :func:`fit_dyson_index`.

    ``beta`` the estimate, ``error`` its standard error by ``method``
    (``"jackknife"`` over blocks, or ``"fisher"``), ``error_fisher`` the error from the
    Fisher information of independent samples (always given), ``statistic``
    (``"ratio"``/``"spacing"``), ``samples`` (ratios or spacings used), ``blocks``
    (jackknife blocks), ``mean_ratio`` ⟨r̃⟩ of the data (ratio fits; None otherwise),
    ``at_bound`` (True when β̂ sits at an end of the law's range: 1e-3 or 100 for the
    surmise, 0 (Poisson) or the table's largest β for ``"large-n"``: the data lie at or
    outside the family's edge), ``law`` (``"surmise"`` or ``"large-n"``, the law used),
    ``error_law`` (the part of ``error`` and ``error_fisher`` due to the large-n table's
    own statistical error, added in quadrature; 0 for the exact surmises).
    """

    beta: float
    error: float
    error_fisher: float
    method: str
    statistic: str
    samples: int
    blocks: int
    mean_ratio: float | None
    at_bound: bool
    law: str = "surmise"
    error_law: float = 0.0


def _block_labels(n_spectra: int, per: int) -> np.ndarray:
    """Block index of every pooled sample (spectrum-major order)."""
    total = n_spectra * per
    if n_spectra >= 2 * _CHUNKS:
        spectrum_block = np.arange(n_spectra) * min(_MAX_BLOCKS, n_spectra) // n_spectra
        return np.repeat(spectrum_block, per)
    return np.arange(total) * min(_CHUNKS, total) // total


def _jackknife_means(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Leave-one-block-out means of each column of ``values`` (samples, k)."""
    blocks = labels.max() + 1
    sums = np.stack([np.bincount(labels, weights=v, minlength=blocks) for v in values.T], axis=1)
    counts = np.bincount(labels, minlength=blocks)[:, None]
    return (sums.sum(axis=0) - sums) / (len(labels) - counts)


def _jackknife_se(replicates: np.ndarray) -> float:
    m = len(replicates)
    return float(math.sqrt((m - 1) / m * np.sum((replicates - replicates.mean()) ** 2)))


def _level_spacings(x, min_size: int, sort: bool) -> np.ndarray:
    """Spacings of each spectrum (last axis), checked as spectra.spacings does."""
    x = real_spectrum("x", x, min_size=min_size, sort=sort, require_sorted=not sort)
    with np.errstate(over="ignore"):
        gaps = np.diff(x, axis=-1)
    if not np.all(np.isfinite(gaps)):
        raise ValueError("`x` spans more than the largest float (~1.8e308): its spacings overflow; "
                         "rescale the eigenvalues")
    if not np.any(gaps > 0):
        raise ValueError("`x` has all levels coinciding: no spacing to fit")
    return gaps


# ------------------------------------------------------------------ ratio likelihood

def _solve_ratio(mean_t: float) -> tuple[float, bool]:
    """β with E_β[T] = mean_t (E increasing in β); clipped to the allowed range."""
    lo, hi = ratio_statistic_mean(BETA_MIN), ratio_statistic_mean(BETA_MAX)
    if mean_t <= lo:
        return BETA_MIN, True
    if mean_t >= hi:
        return BETA_MAX, True
    # Solve in log β: E[T] is smooth and monotone there over five decades.
    f = lambda u: ratio_statistic_mean(math.exp(u)) - mean_t      # noqa: E731
    u = optimize.brentq(f, math.log(BETA_MIN), math.log(BETA_MAX), xtol=1e-12, rtol=1e-12)
    return min(max(math.exp(u), BETA_MIN), BETA_MAX), False


def _solve_large_n(mean_t: float) -> tuple[float, bool]:
    """β in [0, table max] with E_∞,β[T] = mean_t (increasing in β); clipped to that range."""
    top = _table.LARGE_N_BETA_MAX
    if mean_t <= _table.large_n_mean(0.0):
        return 0.0, True
    if mean_t >= _table.large_n_mean(top):
        return top, True
    f = lambda b: _table.large_n_mean(b) - mean_t      # noqa: E731
    return optimize.brentq(f, 0.0, top, xtol=1e-12, rtol=1e-12), False


# ------------------------------------------------------------------ spacing likelihood

def _spacing_score(beta, mean_log, mean_sq):
    """d/dβ of the mean log-likelihood log a_β + β⟨log s⟩ − b_β⟨s²⟩."""
    k, b, _ = surmise_constants(beta)
    dlogb = special.digamma(k + 0.5) - special.digamma(k)
    dloga = 0.5 * np.log(b) + k * dlogb - 0.5 * special.digamma(k)
    return dloga + mean_log - b * dlogb * mean_sq


def _solve_spacing(mean_log: float, mean_sq: float) -> tuple[float, bool]:
    # The mean log-likelihood is concave in β (an exponential family in (log s, s²)
    # restricted to a curve); its score decreases through zero at the maximum.
    f = lambda u: _spacing_score(math.exp(u), mean_log, mean_sq)          # noqa: E731
    a, b = math.log(BETA_MIN), math.log(BETA_MAX)
    if f(a) <= 0:
        return BETA_MIN, True
    if f(b) >= 0:
        return BETA_MAX, True
    return min(max(math.exp(optimize.brentq(f, a, b, xtol=1e-12, rtol=1e-12)), BETA_MIN), BETA_MAX), False


def _spacing_information(beta: float) -> float:
    """Fisher information per spacing, −E[∂²_β log p], by a central difference of the score.

    E_β[log s] and E_β[s²] follow from b s² ~ Gamma(k): E[s²] = k/b,
    E[log s] = (ψ(k) − log b)/2, and the expected score vanishes at the true β.
    """
    def expected_score(b_true, b_model):
        k, b, _ = surmise_constants(b_true)
        return _spacing_score(b_model, 0.5 * (special.digamma(k) - np.log(b)), k / b)
    h = 1e-4 * beta
    return float(-(expected_score(beta, beta + h) - expected_score(beta, beta - h)) / (2.0 * h))


def fit_dyson_index(x, *, statistic: str = "ratio", error: str = "jackknife", sort: bool = True,
                    law: str = "auto") -> DysonFit:
    r"""Dyson index β̂ of level sequences, from gap ratios (default) or spacings.

    ``statistic="ratio"`` (default, no unfolding needed): the pooled gap ratios
    r̃ = min(s_k, s_{k+1})/max(s_k, s_{k+1}) of every spectrum, through
    T(r̃) = log(r̃ + r̃²) − (3/2) log(1 + r̃ + r̃²), β̂ solving

    .. math:: E_{\hat\beta}[T] = \frac1N \sum_k T(\tilde r_k)

    (a unique root, E_β[T] increasing in β) under one of two laws:

    * ``law="surmise"``: the general-β Atas surmise
      (:func:`coulombgas.theory.general_gap_ratio`), an exponential family in β with
      sufficient statistic T, so this is its maximum likelihood; Fisher information
      per ratio Var_β̂[T]; β̂ in [1e-3, 100]. Exact for 3×3 Gaussian β-ensembles.
    * ``law="large-n"``: the bulk ratio law of large Gaussian β-ensembles, E_∞,β[T]
      tabulated for β in [0, 8] (β = 0: Poisson levels, exact) from tridiagonal
      β-Hermite matrices (``tools/dyson_large_n_table.py``); moment matching on T,
      nearly efficient because the law is close to the surmise family. The table's
      own error (≤ 0.003 in β) is added to the error in quadrature (``error_law``).
    * ``law="auto"`` (default): ``"surmise"`` when every spectrum has exactly 3 levels
      (one ratio each: the surmise is exact), else ``"large-n"``; from 4 levels on the
      ratios of whole GβE spectra are closer to the large-n law than to the surmise
      (Notes). For ``statistic="spacing"`` auto means ``"surmise"`` (the only law).

    ``statistic="spacing"``: the spacings, normalised to unit mean over all spectra
    (unfold first when the density varies), fitted with the general-β Wigner surmise
    p_β(s) = a_β s^β e^{−b_β s²} (:func:`coulombgas.theory.general_wigner_surmise`);
    the likelihood depends on the data through ⟨log s⟩ and ⟨s²⟩.

    Errors: ``"jackknife"`` (default) deletes one block at a time (groups of whole
    spectra when there are ≥ 64 spectra, else 32 contiguous stretches of the pooled
    sequence), so the correlation of neighbouring ratios within a spectrum is
    accounted for; for ratios the delta method carries the jackknife error of ⟨T⟩
    to β̂ (divide by dE_β[T]/dβ at β̂, = Var_β̂ T for the surmise). ``"fisher"``:
    √(Var_β̂ T / N) / (dE_β[T]/dβ) (= 1/√(N I(β̂)) for the surmises), valid for
    independent samples only (neighbouring ratios of one spectrum are correlated).

    Parameters
    ----------
    x : array_like, shape (..., n), finite
        Eigenvalues along the last axis; leading axes index independent spectra.
        n >= 3 for ratios, n >= 2 for spacings.
    statistic : {"ratio", "spacing"}
    error : {"jackknife", "fisher"}
    sort : bool, default True
        Sort each spectrum first; with ``False`` it must be ascending (checked).
    law : {"auto", "large-n", "surmise"}
        Law of the ratios (above). ``"large-n"`` needs ``statistic="ratio"``.

    Returns
    -------
    DysonFit

    Raises
    ------
    TypeError, ValueError
        On bad input (non-finite eigenvalues, too few levels, unknown option),
        naming the parameter.

    Notes
    -----
    Both surmises are exact for the 3×3 (ratio), resp. 2×2 (spacing) Gaussian
    β-ensemble at every β > 0; the tests recover β = 0.5, 1.5, 3 from such samples
    within the error. In the bulk of large matrices the ratio law differs slightly
    and the surmise biases β̂ low by 0.04–0.09 (by β: −0.060 at 0.1, −0.048 at 0.5,
    −0.044 at 1, −0.046 at 2, −0.057 at 4, −0.080 at 8; the table's own error is
    ±0.001–0.006). ``law="large-n"`` removes that bias. Measured on spectra the table
    was not made from (``tools/dyson_bias_check.py``, fixed seeds; tridiagonal GβE
    n = 200, 2000 matrices; Gaussian Wishart WᵀW/M, 500 matrices, whole spectra):

    ============================  ===  ==============  ==============
    spectra                        β    surmise          large-n
    ============================  ===  ==============  ==============
    GβE bulk (levels 50–149)       0.5  0.456 ± 0.004   0.506 ± 0.005
    GβE whole                      0.5  0.453 ± 0.003   0.503 ± 0.004
    GβE bulk                       1    0.961 ± 0.006   1.007 ± 0.006
    GβE whole                      1    0.957 ± 0.004   1.003 ± 0.005
    GβE bulk                       1.5  1.461 ± 0.009   1.500 ± 0.009
    GβE bulk                       2    1.958 ± 0.009   2.004 ± 0.010
    GβE bulk                       3    2.958 ± 0.015   3.011 ± 0.016
    GβE whole                      3    2.944 ± 0.011   2.997 ± 0.011
    GβE bulk                       4    3.938 ± 0.021   3.996 ± 0.021
    real Wishart 400×200, whole    1    0.960 ± 0.010   1.006 ± 0.010
    complex Wishart 400×200        2    1.949 ± 0.014   1.995 ± 0.015
    real Wishart 200×200, whole    1    0.929 ± 0.009   0.975 ± 0.009
    complex Wishart 200×200        2    1.929 ± 0.014   1.975 ± 0.014
    ============================  ===  ==============  ==============

    Errors are calibrated: 60 independent fits of 20 whole n = 100 GβE spectra each
    scatter by 0.043, 0.084, 0.148 at β = 0.5, 1.5, 3 against a mean jackknife error of
    0.046, 0.086, 0.148 (``"fisher"``, which ignores the correlation of neighbouring
    ratios: 0.036, 0.067, 0.115), and their mean is β within its error. A single spectrum
    of 400 levels adds the small-sample bias of a nonlinear estimator, +0.00 to +0.05
    (≈ 0.2 of its error).

    Square W (q = 1) has a hard edge at 0, where the density ∝ 1/√λ varies over many
    levels: β̂ is low by 0.02–0.035 at 200×200 (dropping the 40 smallest levels: 0.983
    ± 0.011), 0.018 ± 0.013 at 500×500 (shrinking like 1/n).

    Whole spectra (edges included, as ``cg.analyze`` passes them) differ from the
    bulk by less than the errors above from n ≈ 100 on. The ``"auto"`` rule: mean T
    of whole GβE spectra of n levels (β = 1; surmise −1.2616, large-n −1.2700):
    n = 3: −1.2612 ± 0.0016 (surmise exact); n = 4: −1.2700; 5: −1.2723; 10: −1.2747;
    50: −1.2713 (± 0.0015), i.e. from 4 levels on closer to the large-n law (same at
    β = 0.5 and 3). For 4–30 levels neither law is exact (edge levels weigh in): the
    large-n law's bias there is up to −0.03 at β ≤ 1 and −0.09 at β = 3 (surmise:
    −0.07, −0.14); from 50 levels on it is within ±0.02 (the errors of that check).

    References
    ----------
    Y. Y. Atas, E. Bogomolny, O. Giraud, G. Roux, Phys. Rev. Lett. 110, 084101 (2013).
    I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002) (the tridiagonal model of the table).
    B. Efron, R. Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 11 (jackknife).

    Examples
    --------
    >>> import numpy as np
    >>> from coulombgas import spectra
    >>> x = np.cumsum(np.random.default_rng(0).exponential(size=(200, 50)), axis=-1)
    >>> fit = spectra.fit_dyson_index(x)          # Poisson levels: β̂ near 0
    >>> fit.beta < 0.1
    True
    """
    statistic = _validate.one_of("statistic", statistic, _STATISTICS)
    error = _validate.one_of("error", error, _ERRORS)
    sort = _validate.flag("sort", sort)
    law = _validate.one_of("law", law, _LAWS)
    if statistic == "spacing" and law == "large-n":
        raise ValueError("`law`='large-n' is tabulated for `statistic`='ratio' only; "
                         "use law='surmise' or 'auto' with statistic='spacing'")
    gaps = _level_spacings(x, 3 if statistic == "ratio" else 2, sort)
    if statistic == "ratio":
        lo = np.minimum(gaps[..., :-1], gaps[..., 1:])
        hi = np.maximum(gaps[..., :-1], gaps[..., 1:])
        if np.any(hi == 0):
            raise ValueError("`x` has three coinciding consecutive levels: gap ratio 0/0 is undefined")
        r = lo / hi
        shape = r.shape
        r = r.reshape(-1)
        if r.size < 2:
            raise ValueError(f"`x` must give at least 2 gap ratios to fit (and to estimate an error), got {r.size}")
        t = ratio_statistic(r)
        if not np.all(np.isfinite(t)):
            raise ValueError("`x` has coinciding consecutive levels (a gap ratio of 0): "
                             "the ratio likelihood is −∞ there")
        if law == "auto":
            law = "surmise" if shape[-1] == 1 else "large-n"
        n_spectra = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        labels = _block_labels(n_spectra, shape[-1])
        se_mean = _jackknife_se(_jackknife_means(t[:, None], labels)[:, 0])
        if law == "surmise":
            beta, at_bound = _solve_ratio(float(t.mean()))
            slope = var_t = ratio_statistic_moments(beta)[1]
            error_law = 0.0
        else:
            beta, at_bound = _solve_large_n(float(t.mean()))
            slope, var_t = _table.large_n_slope(beta), _table.large_n_variance(beta)
            error_law = _table.large_n_mean_error(beta) / slope
        fisher = math.hypot(math.sqrt(var_t / len(t)) / slope, error_law)
        se = math.hypot(se_mean / slope, error_law)
        mean_ratio = float(r.mean())
    else:
        shape = gaps.shape
        if gaps.size < 2:
            raise ValueError(f"`x` must give at least 2 spacings to fit (and to estimate an error), got {gaps.size}")
        # Unit mean over all spectra, computed in units of the largest spacing (no overflow).
        s = gaps.reshape(-1) / gaps.max()
        s = s / s.mean()
        if np.any(s <= 0):
            raise ValueError("`x` has coinciding levels (a spacing of 0): the spacing likelihood is −∞ there")
        feats = np.stack([np.log(s), s * s], axis=1)
        beta, at_bound = _solve_spacing(*feats.mean(axis=0))
        fisher = 1.0 / math.sqrt(len(s) * _spacing_information(beta))
        n_spectra = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        labels = _block_labels(n_spectra, shape[-1])
        reps = np.array([_solve_spacing(*m)[0] for m in _jackknife_means(feats, labels)])
        se = _jackknife_se(reps)
        mean_ratio = None
        law, error_law = "surmise", 0.0
    return DysonFit(beta=beta, error=se if error == "jackknife" else fisher, error_fisher=fisher,
                    method=error, statistic=statistic, samples=int(np.prod(shape)),
                    blocks=int(labels.max() + 1), mean_ratio=mean_ratio, at_bound=at_bound,
                    law=law, error_law=error_law)
