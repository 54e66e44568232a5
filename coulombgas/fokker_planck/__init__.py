"""Fokker–Planck solvers: the two-eigenvalue gas on a grid, and the large-n mean-field density.

Two regimes of the eigenvalue SDE of :class:`~coulombgas.gas.CoulombGas`,

    dx_i = [ a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j) ] dt + s_i dW_i,   K_i = −V_i',  D_i = s_i²/2.

=====================  ===================================================================
:mod:`.two_mode`       n = 2 exactly on a grid: :func:`stationary_two_mode`,
                       :func:`evolve_two_mode`, :func:`l1_distance_to_coulomb_gas`
                       (finite volumes in the gap/centre coordinates, exponential fitting)
:mod:`.mean_field`     large n at leading order: :func:`equilibrium_density` (the
                       equilibrium measure as a scipy law), :func:`mean_field_evolution`
                       (free Fokker–Planck equation)
=====================  ===================================================================

Every name is re-exported here, so ``coulombgas.fokker_planck.stationary_two_mode``
and friends work as before.
"""

from __future__ import annotations

from .mean_field import (
    MEAN_FIELD_METHODS, EquilibriumLaw, MeanFieldEvolution, equilibrium_density, mean_field_evolution,
)
from .two_mode import (
    FLUXES, MAX_STEPS, TIME_METHODS, TwoModeEvolution, TwoModeGrid, TwoModeStationary, evolve_two_mode,
    l1_distance_to_coulomb_gas, stationary_two_mode,
)

__all__ = [
    "FLUXES", "TIME_METHODS", "MAX_STEPS", "TwoModeGrid", "TwoModeStationary", "TwoModeEvolution",
    "stationary_two_mode", "evolve_two_mode", "l1_distance_to_coulomb_gas",
    "EquilibriumLaw", "equilibrium_density", "MEAN_FIELD_METHODS", "MeanFieldEvolution", "mean_field_evolution",
]
