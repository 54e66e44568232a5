"""Real SGD training of the papers' models, and the spectra it leaves behind.

Every model function trains an ensemble of independent models (one random
stream each, Numba ``prange`` over models) and returns a
:class:`~coulombgas.training.harvest.Harvest` of the spectra of its weight
matrix, recorded every ``record_every`` updates:

* :func:`teacher_student` — paper 1's 2×2 teacher–student with injected noise;
* :func:`hidden_layer_teacher_student` — the poster's teacher–student with a fixed hidden
  layer Z (n ≥ 2, injected or label noise);
* :func:`gaussian_rbm` — papers 1–3's Gaussian RBM learning a free lattice field (exact data
  term, persistent Gibbs chains);
* :func:`phase_network` — paper 4's y = Z tanh(W tanh(M x)) with only W trained, as the
  authors ran it; :func:`paper_run`/:func:`paper_snapshots` their 21 snapshots,
  :func:`order_parameters`/:func:`classify_phase` their order parameters, and
  :mod:`~coulombgas.training.phase_boundary` their drift-versus-noise criterion;

:func:`estimate_drift_noise` measures each mode's drift and noise from per-sample
gradients and :func:`gas_from_harvest` builds the matching Coulomb gas;
:class:`TorchRecorder` records the spectra of any ``torch.nn.Module``'s weights
during the user's own training loop into the same :class:`Harvest` (a :class:`RecordedHarvest`,
with per-mode gradient statistics when asked). The models by
command-line name (:data:`MODELS`, :func:`get_model`) and the one check of their
parameters (:func:`check_params`) live in :mod:`coulombgas.training.registry`.

Reference: G. Aarts, B. Lucini, C. Park, arXiv:2407.16427; SCIENCE.md §6.
"""

from . import exact  # noqa: F401  (cg.training.exact: the exact finite-α law of the linear models)
from .drift_noise import DriftNoise, estimate_drift_noise, gas_from_harvest, phase_criterion
from .harvest import Harvest, spectra_of
from .hidden_layer import hidden_layer_teacher_student
from .phase_network import classify_regime, phase_network
from .phase_observables import classify_phase, order_parameters
from .phase_paper import PhaseRun, paper_run, paper_snapshots
from .rbm import gaussian_rbm
from .recording import RecordedHarvest, gas_from_recording
from .registry import MODELS, check_params, degenerate_pairs, get_model, module_of
from .teacher_student import teacher_student
from .torch_hook import TorchRecorder
from ..gas import register_harvest_converter

# CoulombGas.from_harvest, without gas importing us: a recording's measured statistics first, else
# per-sample gradients of the papers' models.
register_harvest_converter(gas_from_recording)

__all__ = ["Harvest", "spectra_of", "teacher_student", "hidden_layer_teacher_student", "gaussian_rbm",
           "phase_network",
           "classify_regime", "TorchRecorder", "MODELS", "get_model", "module_of", "degenerate_pairs", "check_params",
           "DriftNoise", "estimate_drift_noise", "gas_from_harvest", "phase_criterion", "RecordedHarvest",
           "classify_phase", "order_parameters", "PhaseRun", "paper_run", "paper_snapshots"]
