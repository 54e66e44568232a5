"""The models by name, and the one check of a model's parameters.

:data:`MODELS` maps a command-line name to its training function and module;
:func:`get_model` and :func:`module_of` look them up; :func:`degenerate_pairs`
asks the model which modes share a fixed point. :func:`check_params` answers
"can ``model`` train with ``params``?" before any work, for every caller that takes
parameters as data (the command line, :func:`coulombgas.sweep`,
:func:`coulombgas.compare`):

1. ``model`` is a name in :data:`MODELS`;
2. every key of ``params`` is a parameter of the model's training function, and none
   is one the caller sets itself (:data:`RESERVED`; ``seed`` is taken out of
   ``params`` and returned apart, so it can come from a grid, ``fixed`` or a flag
   without being passed twice);
3. the values: the model module's own ``validated`` (the function its CPU and GPU
   trainers call) when it has one, and the checks every model shares
   (:func:`coulombgas.training._loop.check_common`), on the defaults merged with ``params``;
4. memory: a *lower bound* of what the run allocates (one random stream per model and
   the smallest possible records: :func:`~coulombgas.training._loop.check_footprint`
   with a 1 x 1 weight and no data set), so ``models=10**12`` is refused at once
   instead of hanging; the model's exact estimate runs when it trains.

Nothing here trains or compiles: the checks cost microseconds. This module sits above
the model modules (it imports them; none of them imports it).
"""

from __future__ import annotations

import inspect

from .. import _validate as v
from . import hidden_layer, phase_network, rbm, teacher_student
from ._loop import check_common, check_footprint

__all__ = ["MODELS", "RESERVED", "get_model", "module_of", "cli_name", "degenerate_pairs", "check_seed",
           "check_params"]

#: Command-line names of the models: (training function, module holding it and its per_sample_gradients).
MODELS = {
    "teacher-student": ("teacher_student", "teacher_student"),
    "hidden-layer": ("hidden_layer_teacher_student", "hidden_layer"),
    "rbm": ("gaussian_rbm", "rbm"),
    "phase-network": ("phase_network", "phase_network"),
}

#: The modules named in :data:`MODELS` (imported above, so the import graph shows them).
_MODULES = {module.__name__.rsplit(".", 1)[-1]: module
            for module in (teacher_student, hidden_layer, rbm, phase_network)}

#: Parameters of a training function that the caller sets, never ``params``.
RESERVED = ("out", "resume", "progress")


def get_model(name: str):
    """The training function of a model given by its command-line name (see :data:`MODELS`)."""
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"unknown model {name!r}: `model` must be one of {', '.join(MODELS)}")
    function_name, module_name = MODELS[name]
    return getattr(_MODULES[module_name], function_name)


def module_of(model: str):
    """The module of a model, from its command-line name or the ``Harvest.model`` it writes; None if unknown."""
    for cli, (_, module_name) in MODELS.items():
        module = _MODULES[module_name]
        if model in (cli, getattr(module, "NAME", None)):
            return module
    return None


def cli_name(model: str) -> str:
    """The command-line name of a model given by either of its names (``Harvest.model`` as it is when unknown)."""
    module = module_of(model)
    for name, (_, module_name) in MODELS.items():
        if module is _MODULES[module_name]:
            return name
    return model


def degenerate_pairs(harvest) -> list[tuple[int, int]]:
    """Pairs of modes that share a fixed point: from the model when it knows its teacher, else measured.

    A model module may define ``degenerate_groups(harvest)``; groups of two are the
    pairs (the Wigner surmise's domain). Otherwise :meth:`Harvest.degenerate_pairs`.
    """
    module = module_of(harvest.model)
    if module is not None and hasattr(module, "degenerate_groups"):
        return [tuple(int(i) for i in g) for g in module.degenerate_groups(harvest) if len(g) == 2]
    return harvest.degenerate_pairs()


def check_seed(seed, name: str = "seed"):
    """A seed given as data (a flag, a grid value): ``None`` or an int >= 0."""
    if seed is None:
        return None
    return v.integer(name, seed, minimum=0)


def check_params(model, params: dict, *, defaults: dict | None = None, min_models: int = 1):
    """Check ``params`` for ``model`` (module docstring); return ``(func, module, kwargs, seed)``.

    Parameters
    ----------
    model : str
        A name in :data:`MODELS` (``"teacher-student"``, ...).
    params : dict
        Keyword arguments of the training function, optionally with ``seed``.
    defaults : dict, optional
        Values used where ``params`` has none (e.g. ``MODEL_DEFAULTS[model]`` of
        :func:`coulombgas.compare`); they are included in the returned ``kwargs``.
    min_models : int
        Smallest allowed ``models`` (a comparison needs more than one).

    Returns
    -------
    func, module, kwargs, seed
        The training function, its module, the keyword arguments to pass it (without
        ``seed``) and the seed (``None`` when not given).

    Raises
    ------
    ValueError, TypeError
        Naming the parameter in backticks, before any work.

    Examples
    --------
    >>> check_params("teacher-student", {"models": 10**12})  # doctest: +SKIP
    ValueError: ... `models` ...
    """
    if not isinstance(params, dict):
        raise TypeError(f"`params` must be a dict, got {type(params).__name__}")
    func = get_model(model)  # ValueError naming the models for an unknown name
    module = module_of(model)
    params = dict(params)
    seed = check_seed(params.pop("seed", None))
    signature = inspect.signature(func).parameters
    allowed = [k for k in signature if k not in RESERVED and k != "seed"]
    for key in params:
        if key not in allowed:
            raise ValueError(f"`{key}` is not a parameter of model {model!r}; choose from {', '.join(allowed)}")
    kwargs = {**(defaults or {}), **params}
    args = {k: p.default for k, p in signature.items() if p.default is not inspect.Parameter.empty}
    args.update(kwargs)
    check = getattr(module, "validated", None)
    if check is not None and all(k in args for k in inspect.signature(check).parameters):
        check(**{k: args[k] for k in inspect.signature(check).parameters})
    _, _, models, steps, record_every = check_common(args.get("lr"), args.get("batch_size"), args.get("models"),
                                                     args.get("steps"), args.get("record_every"))
    if models < min_models:
        raise ValueError(f"`models` must be >= {min_models} here (its statistics use one record per model), "
                         f"got {models}")
    check_footprint(models=models, steps=steps, record_every=record_every, weight_shape=(1, 1), gram="WtW",
                    data_bytes=0.0, block_models=1, record_weights=False)
    for key in ("record_weights", "fallback"):
        if key in args:
            v.flag(key, args[key])
    return func, module, kwargs, seed
