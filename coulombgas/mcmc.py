"""Old home of the Markov-chain samplers and chain diagnostics: a facade of their new modules.

* estimators τ, ESS, split R̂, :class:`AutocorrError`: :mod:`coulombgas.diagnostics`;
* kernels: :mod:`coulombgas.samplers.metropolis`, :mod:`coulombgas.samplers.hmc`,
  shared pieces in :mod:`coulombgas.samplers._density`;
* warm-up: :mod:`coulombgas.samplers.warmup`; driver :func:`run_chains`:
  :mod:`coulombgas.samplers.chains`;
* kernel status codes: :mod:`coulombgas._status` (one table for the whole package).

Kept so that ``coulombgas.mcmc.integrated_time`` and the other old public names keep working.
"""

from ._status import DIVERGED, OK, STEP_COLLAPSED  # noqa: F401  (old names; one table now)
from .diagnostics import AutocorrError, autocorr_function, effective_sample_size, integrated_time, split_rhat
from .samplers._density import COORD_GAPS, COORD_SOFT, COORD_X, FORCE_PARALLEL, FORCE_SERIAL  # noqa: F401
from .samplers.chains import run_chains
from .samplers.warmup import TARGET_ACCEPT

__all__ = [
    "integrated_time", "autocorr_function", "effective_sample_size", "split_rhat",
    "AutocorrError", "run_chains", "TARGET_ACCEPT",
]
