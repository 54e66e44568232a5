"""Samplers of the stationary Coulomb gas, one concept a module (layer 3 of the package).

* :mod:`.tridiagonal`: exact, independent draws from the Dumitriu–Edelman
  β-Hermite / β-Laguerre matrix models (:func:`exact_model`, :func:`sample_exact`).
* :mod:`.metropolis`: single-site random-walk Metropolis kernels (``"mh"``).
* :mod:`.hmc`: hybrid Monte Carlo kernels (``"hmc"``).
* :mod:`.warmup`: dual averaging of step sizes, metric adaptation, Stan's schedule.
* :mod:`.chains`: :func:`run_chains`, the driver that warms up and runs the chains.
* :mod:`._density`: the shared compiled log-density, gradient and coordinate kernels.

The public entry point is :func:`coulombgas.sample` (:mod:`coulombgas.stationary`),
which validates its arguments once and picks a sampler by name. A new sampler
goes here as its own module, with its entry in ``stationary.METHODS``.
"""

from .chains import run_chains
from .tridiagonal import exact_model, sample_exact
from .warmup import TARGET_ACCEPT

__all__ = ["run_chains", "exact_model", "sample_exact", "TARGET_ACCEPT"]
