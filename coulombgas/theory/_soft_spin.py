"""The soft-spin law of paper 4 (Fig. 1): φ = tanh(z) for a Gaussian pre-activation z.

Park, Lucini, Aarts, arXiv:2509.01349. With z ~ N(0, σ_z²) the feature φ = tanh z ∈ (−1, 1)
has, by the change of variables z = artanh φ, dz/dφ = 1/(1 − φ²),

    p(φ) = exp[−artanh²φ / (2σ_z²)] / [(1 − φ²) √(2π σ_z²)],

cdf F(φ) = Φ(artanh φ / σ_z) and quantile F⁻¹(u) = tanh(σ_z Φ⁻¹(u)). The density is unimodal
at φ = 0 for σ_z² < ½ and bimodal (two peaks near ±1, a jammed, spin-glass-like saturation)
for σ_z² > ½: its curvature at 0 is ∝ (2 − 1/σ_z²)·p(0), so σ_c² = ½ separates the two (the
paper's σ_c² = 0.5, the boundary at 1/σ_W = √2).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from ._law import Law, checked_scale

__all__ = ["soft_spin", "SOFT_SPIN_CRITICAL_VARIANCE"]

#: σ_z² at which p(φ) turns from one peak (at 0) to two (near ±1).
SOFT_SPIN_CRITICAL_VARIANCE = 0.5


class _SoftSpinGen(stats.rv_continuous):
    """p(φ) = exp(−artanh²φ/(2σ²)) / ((1 − φ²)√(2πσ²)) on (−1, 1), shape σ = ``sigma_z``."""

    def _argcheck(self, sigma_z):
        return np.asarray(sigma_z) > 0

    def _pdf(self, x, sigma_z):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = np.arctanh(x) / sigma_z
            out = np.exp(-0.5 * z * z) / ((1.0 - x * x) * np.sqrt(2.0 * np.pi) * sigma_z)
        return np.where(np.abs(x) < 1.0, np.nan_to_num(out, nan=0.0, posinf=0.0), 0.0)

    def _cdf(self, x, sigma_z):
        with np.errstate(divide="ignore"):
            return special.ndtr(np.arctanh(x) / sigma_z)

    def _ppf(self, q, sigma_z):
        return np.tanh(sigma_z * special.ndtri(q))

    def _rvs(self, sigma_z, size=None, random_state=None):
        return np.tanh(sigma_z * random_state.standard_normal(size))


_soft_spin = _SoftSpinGen(a=-1.0, b=1.0, name="soft_spin")


def soft_spin(sigma_z):
    r"""Law of φ = tanh z with z ~ N(0, σ_z²): paper 4's soft spin (its Fig. 1).

    .. math:: p(\phi) = \frac{\exp[-\operatorname{artanh}^2\phi/(2\sigma_z^2)]}{(1-\phi^2)\sqrt{2\pi\sigma_z^2}},
              \qquad -1 < \phi < 1.

    Parameters
    ----------
    sigma_z : float in [1e-150, 1e150]
        Standard deviation of the pre-activation z (not its variance).

    Returns
    -------
    scipy.stats frozen distribution
        ``pdf``, ``cdf`` (Φ(artanh φ/σ_z)), ``ppf``, ``rvs`` (tanh of Gaussian draws).

    References
    ----------
    C. Park, B. Lucini, G. Aarts, arXiv:2509.01349, Fig. 1.

    Examples
    --------
    >>> from coulombgas import theory
    >>> round(float(theory.soft_spin(0.5 ** 0.5).cdf(0.0)), 12)
    0.5
    """
    sigma_z = checked_scale("sigma_z", sigma_z)
    return Law(_soft_spin, sigma_z, label=f"soft_spin(sigma_z={sigma_z:g})")
