"""Old home of the exact β-Hermite / β-Laguerre samplers: a facade of :mod:`coulombgas.samplers.tridiagonal`.

Kept so that ``coulombgas.tridiagonal.sample_exact`` and friends keep working.
"""

from .samplers.tridiagonal import DRIVERS, exact_model, match_model, sample_exact

__all__ = ["exact_model", "sample_exact", "DRIVERS", "match_model"]
