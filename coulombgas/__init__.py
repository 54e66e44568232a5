"""coulombgas: eigenvalues of weight matrices during SGD as a Coulomb gas.

Mini-batch SGD makes the eigenvalues of X = WᵀW perform a Dyson Brownian
motion whose stationary state is a Coulomb gas (Aarts, Lucini, Park,
arXiv:2407.16427). This package integrates that eigenvalue Langevin equation,
samples its stationary law, and compares both with real training.

Public names are flat (``cg.CoulombGas``, ``cg.simulate``); submodules are
namespaces (``cg.theory``, ``cg.spectra``). Submodules load on first use (PEP 562
``__getattr__``), so ``import coulombgas`` imports neither NumPy nor Numba and compiles
nothing, and the ``coulombgas`` command starts quickly. ``cg.compare`` and ``cg.sweep``
are plain functions; they live in modules of other names (:mod:`coulombgas.report`,
:mod:`coulombgas.sweeps`), so no submodule import can rebind them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# In data-flow order (README, "The house"); mcmc, tridiagonal, io and gpu are facades of older names.
_SUBMODULES = ("store", "potentials", "forces", "theory", "spectra", "gas", "diagnostics", "samplers", "trajectory",
               "dynamics", "stationary", "fokker_planck", "training", "report", "sweeps", "plots",
               "mcmc", "tridiagonal", "io", "gpu")
_NAMES = {
    "CoulombGas": "gas",
    "simulate": "dynamics",
    "Trajectory": "trajectory",
    "sample": "stationary",
    "Samples": "stationary",
    "compare": "report",
    "analyze": "report.analysis",
    "sweep": "sweeps",
    "SweepWarning": "sweeps",
}

__all__ = ["__version__", *_SUBMODULES, *_NAMES]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'coulombgas' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
