"""The random-matrix columns of :func:`coulombgas.report.analysis.analyze`: bulk, outliers, β, Δ₃, SFF.

For a weight matrix W (m × k) the non-zero eigenvalues of WᵀW (or WWᵀ) are read as
those of the Wishart matrix X = WᵀW/M with M = max(m, k) rows and N = min(m, k)
columns, ratio q = N/M ≤ 1 — the convention of :func:`coulombgas.theory.marchenko_pastur`
and :func:`coulombgas.spectra.fit_marchenko_pastur` (for k > m the smaller Gram
matrix WWᵀ has the same non-zero eigenvalues). Per matrix (the first of a stack):

* ``outliers`` / ``outlier_tw_p`` — :func:`coulombgas.spectra.mp_outliers` at the last
  record (β = 1, σ² from the trace of the bulk, level 0.01): the number of leading
  eigenvalues significantly above the MP edge, and the Tracy–Widom p-values of the
  eigenvalues above the edge (null: pure noise; the BBP picture);
* ``mp_ratio_*``, ``mp_sigma_*``, ``mp_ks_*``, ``mp_p_*`` —
  :func:`coulombgas.spectra.fit_marchenko_pastur` at the first record and now (now
  with the flagged outliers left out): fitted q and σ, the KS distance D and its
  p-value (i.i.d. KS, conservative; with ``mp_bootstrap`` > 0 the parametric-bootstrap
  p-value calibrated on refitted null matrices instead);
* ``beta_fit`` / ``beta_err`` — :func:`coulombgas.spectra.fit_dyson_index` from the gap
  ratios of the last record's spectra (all stacked matrices), jackknife error; the large-n
  bulk law by default (``law="auto"``: unbiased on large spectra, where the 3×3 surmise
  reads β about 0.05 low);
* ``delta3`` / ``sff`` — where the matrix has at least ``min_modes_long`` non-zero
  eigenvalues: Δ₃(L = 10) of the unfolded last spectrum
  (:func:`coulombgas.spectra.spectral_rigidity`; GOE: ``theory.delta3(10, 1)`` = 0.2357,
  Poisson: L/15 ≈ 0.67) and the spectral form factor K(τ) averaged over τ ∈ [0.3, 0.7]
  (:func:`coulombgas.spectra.spectral_form_factor`; GOE: 2τ − τ log(1 + 2τ) averaged,
  0.643; Poisson: 1).

A column that cannot be computed for this matrix (too few eigenvalues, a law that
refuses the data) reads ``"not available"`` and the reason goes to the row's note.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bulk", "NOT_AVAILABLE", "wishart_view"]

NOT_AVAILABLE = "not available"

_BULK = ("mp_ratio_init", "mp_sigma_init", "mp_ks_init", "mp_p_init", "mp_ratio_now", "mp_sigma_now", "mp_ks_now",
         "mp_p_now", "outliers", "outlier_tw_p", "beta_fit", "beta_err", "delta3", "sff")

#: Window of Δ₃ and band of τ for the form factor (module docstring).
DELTA3_L = 10.0
SFF_TAU = np.linspace(0.3, 0.7, 9)


def wishart_view(ev, shape):
    """``(x, M)``: the non-zero eigenvalues divided by M = max(m, k), and M (module docstring)."""
    m, k = int(shape[0]), int(shape[1])
    big, small = max(m, k), min(m, k)
    x = np.asarray(ev, float)[..., -small:] / big
    return x, big


def bulk(first, last, shape, gram, *, min_modes_long: int = 50, mp_bootstrap: int = 0, seed=0) -> tuple:
    """The random-matrix columns, and notes on what could not be computed.

    ``first``/``last``: (models, modes) non-zero eigenvalues of X at the first and last
    record; ``shape`` (m, k) of W. Returns ``(columns, notes)``.
    """
    from .. import spectra

    cols = {key: NOT_AVAILABLE for key in _BULK}
    notes = []
    if shape is None:
        notes.append("random-matrix columns need the matrix's shape")
        return cols, notes
    x0, M = wishart_view(first[0], shape)
    x1, _ = wishart_view(last[0], shape)
    n = x1.size
    if n < 4:
        notes.append("random-matrix columns need at least 4 non-zero eigenvalues")
        return cols, notes
    flagged = 0
    try:
        out = spectra.mp_outliers(x1, M, beta=1)
        flagged = int(out.flagged)
        cols["outliers"] = flagged
        cols["outlier_tw_p"] = [float(p) for p in np.ravel(out.pvalues)[:5]]
    except (ValueError, FloatingPointError) as exc:
        notes.append(f"outliers: {exc}")
    for tag, x, exclude in (("init", x0, 0), ("now", x1, flagged)):
        try:
            fit = spectra.fit_marchenko_pastur(x, exclude=min(exclude, n - 4), bootstrap=mp_bootstrap, seed=seed)
            cols[f"mp_ratio_{tag}"], cols[f"mp_sigma_{tag}"] = float(fit.ratio), float(fit.sigma)
            cols[f"mp_ks_{tag}"] = float(fit.statistic)
            p = fit.null_pvalue if mp_bootstrap else fit.pvalue
            cols[f"mp_p_{tag}"] = None if p is None else float(p)
        except (ValueError, FloatingPointError) as exc:
            notes.append(f"MP fit ({tag}): {exc}")
    nz = np.asarray(last, float)[..., -min(int(shape[0]), int(shape[1])):]
    if nz.shape[-1] >= 3:
        try:
            dyson = spectra.fit_dyson_index(nz, statistic="ratio")
            cols["beta_fit"], cols["beta_err"] = float(dyson.beta), float(dyson.error)
        except (ValueError, FloatingPointError) as exc:
            notes.append(f"β fit: {exc}")
    if n >= min_modes_long:
        try:
            unfolded = spectra.unfold(nz[0])
            cols["delta3"] = float(np.ravel(spectra.spectral_rigidity(unfolded, DELTA3_L).delta3)[0])
            sff = spectra.spectral_form_factor(unfolded, SFF_TAU)
            cols["sff"] = float(np.mean(sff.K))
        except (ValueError, FloatingPointError) as exc:
            notes.append(f"Δ₃/SFF: {exc}")
    else:
        cols["delta3"] = cols["sff"] = f"needs >= {min_modes_long} eigenvalues"
    return cols, notes
