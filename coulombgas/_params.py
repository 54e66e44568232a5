"""One check of a training model's parameters, shared by the CLI and :func:`coulombgas.sweep`.

:func:`model_params` answers "can ``model`` train with ``params``?" before any work:

1. ``model`` is a name in :data:`coulombgas.training.MODELS`;
2. every key of ``params`` is a parameter of the model's training function, and none
   is one the caller sets itself (``out``, ``resume``, ``progress``; ``seed`` is taken
   out of ``params`` and returned apart, so it can come from a grid, ``fixed`` or a flag
   without being passed twice);
3. the values: the model module's own ``validated`` (the function its CPU and GPU
   trainers call) when it has one, else the checks every model shares
   (``training._loop.check_common``), on the defaults merged with ``params``;
4. memory: a *lower bound* of what the run allocates (one random stream per model and
   the smallest possible records, ``training._loop.check_footprint`` with a 1 x 1 weight
   and no data set) refused through ``_validate.fits_in_memory`` -- so ``models=10**12``
   is refused at once instead of hanging; the model's exact estimate runs when it trains.

Nothing here trains or compiles: the checks cost microseconds.
"""

from __future__ import annotations

import importlib
import inspect

from . import _validate as v

__all__ = ["model_params", "check_seed", "RESERVED"]

#: Parameters of a training function that the caller sets, never ``params``.
RESERVED = ("out", "resume", "progress")


def check_seed(seed, name: str = "seed"):
    """A seed given as data (a flag, a grid value): ``None`` or an int >= 0."""
    if seed is None:
        return None
    return v.integer(name, seed, minimum=0)


def model_params(model, params: dict, *, defaults: dict | None = None, min_models: int = 1):
    """Check ``params`` for ``model``; return ``(func, module, kwargs, seed)``.

    Parameters
    ----------
    model : str
        A name in :data:`coulombgas.training.MODELS` (``"teacher-student"``, ...).
    params : dict
        Keyword arguments of the training function, optionally with ``seed``.
    defaults : dict, optional
        Values used where ``params`` has none (e.g. ``compare.MODEL_DEFAULTS[model]``);
        they are included in the returned ``kwargs``.
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
    """
    from .training import MODELS, get_model

    if not isinstance(params, dict):
        raise TypeError(f"`params` must be a dict, got {type(params).__name__}")
    func = get_model(model)  # ValueError naming the models for an unknown name
    module = importlib.import_module(f"coulombgas.training.{MODELS[model][1]}")
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
    from .training._loop import check_common, check_footprint

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
