"""Real SGD training of the papers' models, and the spectra it leaves behind.

Every model function trains an ensemble of independent models (one random
stream each, Numba ``prange`` over models) and returns a
:class:`~coulombgas.training.harvest.Harvest` of the spectra of its weight
matrix, recorded every ``record_every`` updates:

* :func:`teacher_student` — paper 1's 2×2 teacher–student with injected noise;
* :func:`hidden_layer_teacher_student` — the poster's teacher–student with a fixed hidden
  layer Z (n ≥ 2, injected or label noise);
* :func:`phase_network` — paper 4's y = Z tanh(W tanh(M x)) with only W trained, and
  :func:`classify_regime` (ordered / high-temperature / jammed);

and :class:`TorchRecorder` records the spectra of any ``torch.nn.Module``'s weights
during the user's own training loop into the same :class:`Harvest`.

Reference: G. Aarts, B. Lucini, C. Park, arXiv:2407.16427; SCIENCE.md §6.
"""

import importlib

from .harvest import Harvest, spectra_of
from .hidden_layer import hidden_layer_teacher_student
from .phase_network import classify_regime, phase_network
from .teacher_student import teacher_student
from .torch_hook import TorchRecorder

#: Command-line names of the models: (training function, module holding its per_sample_gradients).
MODELS = {
    "teacher-student": ("teacher_student", "teacher_student"),
    "hidden-layer": ("hidden_layer_teacher_student", "hidden_layer"),
    "phase-network": ("phase_network", "phase_network"),
}


def get_model(name: str):
    """The training function of a model given by its command-line name (see ``MODELS``)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return getattr(importlib.import_module(__name__), MODELS[name][0])


__all__ = ["Harvest", "spectra_of", "teacher_student", "hidden_layer_teacher_student", "phase_network",
           "classify_regime", "TorchRecorder", "MODELS", "get_model"]
