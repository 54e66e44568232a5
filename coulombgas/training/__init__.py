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
* :func:`phase_network` — paper 4's y = Z tanh(W tanh(M x)) with only W trained, and
  :func:`classify_regime` (ordered / high-temperature / jammed);

:func:`estimate_drift_noise` measures each mode's drift and noise from per-sample
gradients and :func:`gas_from_harvest` builds the matching Coulomb gas;
:class:`TorchRecorder` records the spectra of any ``torch.nn.Module``'s weights
during the user's own training loop into the same :class:`Harvest`.

Reference: G. Aarts, B. Lucini, C. Park, arXiv:2407.16427; SCIENCE.md §6.
"""

import importlib

from .drift_noise import DriftNoise, estimate_drift_noise, gas_from_harvest, phase_criterion
from .harvest import Harvest, spectra_of
from .hidden_layer import hidden_layer_teacher_student
from .phase_network import classify_regime, phase_network
from .rbm import gaussian_rbm
from .teacher_student import teacher_student
from .torch_hook import TorchRecorder
from ..gas import register_harvest_converter

register_harvest_converter(gas_from_harvest)  # CoulombGas.from_harvest, without gas importing us

#: Command-line names of the models: (training function, module holding its per_sample_gradients).
MODELS = {
    "teacher-student": ("teacher_student", "teacher_student"),
    "hidden-layer": ("hidden_layer_teacher_student", "hidden_layer"),
    "rbm": ("gaussian_rbm", "rbm"),
    "phase-network": ("phase_network", "phase_network"),
}


def get_model(name: str):
    """The training function of a model given by its command-line name (see ``MODELS``)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: `model` must be one of {', '.join(MODELS)}")
    return getattr(importlib.import_module(__name__), MODELS[name][0])


def module_of(model: str):
    """The module of a model, from its command-line name or the ``Harvest.model`` it writes; None if unknown."""
    for cli_name, (_, module_name) in MODELS.items():
        module = importlib.import_module(f"{__name__}.{module_name}")
        if model in (cli_name, getattr(module, "NAME", None)):
            return module
    return None


def degenerate_pairs(harvest) -> list[tuple[int, int]]:
    """Pairs of modes that share a fixed point: from the model when it knows its teacher, else measured.

    A model module may define ``degenerate_groups(harvest)``; groups of two are the
    pairs (the Wigner surmise's domain). Otherwise :meth:`Harvest.degenerate_pairs`.
    """
    module = module_of(harvest.model)
    if module is not None and hasattr(module, "degenerate_groups"):
        return [tuple(int(i) for i in g) for g in module.degenerate_groups(harvest) if len(g) == 2]
    return harvest.degenerate_pairs()


__all__ = ["Harvest", "spectra_of", "teacher_student", "hidden_layer_teacher_student", "gaussian_rbm",
           "phase_network",
           "classify_regime", "TorchRecorder", "MODELS", "get_model", "module_of", "degenerate_pairs",
           "DriftNoise", "estimate_drift_noise", "gas_from_harvest", "phase_criterion"]
