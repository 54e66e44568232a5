"""The ``coulombgas`` command: a thin argparse layer over the Python API.

Every computing subcommand takes ``--out DIR`` and writes its figures and a small,
machine-readable ``summary.json`` there (arrays of more than 64 numbers go to
``arrays.npz`` beside it: see :func:`write_summary`). Randomised subcommands take
``--seed``.

The command speaks flags:

* bad input prints one line on stderr that names the *flag* (``--width``, ``--force``),
  never the Python argument behind it, and exits with status 2;
* every check runs before the output folder is made, and a refused run removes a
  folder it created: a refused run leaves nothing on disk;
* ``--out`` must be new or empty, unless ``--force`` (replace it) or ``--resume``
  (continue the run stored there; only ``simulate``, ``train`` and ``sweep`` have
  a run to continue, the others refuse ``--resume``), on every subcommand that writes;
* a run that fails numerically, or a sweep with failed points, exits with status 1.

Start-up imports nothing heavy (no NumPy, Numba, SciPy, matplotlib): each
subcommand imports what it needs when it runs, so ``coulombgas --help`` is quick.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time

from . import __version__

__all__ = ["main", "write_summary", "MODEL_NAMES"]

#: The models' command-line names, as in :data:`coulombgas.training.MODELS` (a test keeps them equal);
#: written out here so that ``--help`` need not import the training code.
MODEL_NAMES = ("teacher-student", "hidden-layer", "rbm", "phase-network")

#: Arrays with more numbers than this leave ``summary.json`` for ``arrays.npz``.
JSON_ARRAY_LIMIT = 64


class _UsageError(Exception):
    """Raised for bad command-line values; reported as one line, exit 2."""


# ------------------------------------------------------------------ flags in messages

#: Python names that are not the dest of a flag, per subcommand (or "*": all).
_ALIASES = {
    "*": {"out": "--out", "force": "--force", "resume": "--resume", "progress": "--quiet", "seed": "--seed"},
    "simulate": {"coeffs": "--width", "g": "--noise-g", "noise": "--noise-g", "x0": "--n"},
    "sample": {"coeffs": "--width", "g": "--noise-g", "noise": "--noise-g", "n_samples": "--samples"},
}


def _flag_map(parser, command) -> dict:
    """Python name -> flag of a subcommand: every option's dest, plus :data:`_ALIASES`."""
    flags = {}
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs and action.dest not in ("help",):
            flags[action.dest] = longs[0]
    flags.update(_ALIASES["*"])
    flags.update(_ALIASES.get(command, {}))
    if command in ("train", "compare"):
        flags["model"] = "MODEL"
    if command == "sweep":  # a sweep's parameters are the names the user typed in --grid/--set
        flags = {k: f for k, f in flags.items() if k in ("workers", "threads", "scheduler", "out", "force",
                                                          "resume", "progress")}
    return flags


def speak_flags(message: str, flags: dict, model_params=()) -> str:
    """``message`` with the Python names it quotes replaced by the flags that set them.

    "`dt` must be > 0" -> "`--dt` must be > 0"; "pass force" -> "pass --force";
    "resume=True" -> "--resume"; a model parameter set through ``--set`` reads "`--set eps`".
    """
    def name(word):
        if word in flags:
            return flags[word]
        if word in model_params:
            return f"--set {word}"
        return None

    def backticked(m):
        flag = name(m.group(1))
        return f"`{flag}`" if flag else m.group(0)

    def assigned(m):
        flag = name(m.group(1))
        if not flag:
            return m.group(0)
        return flag if m.group(2) == "True" else f"no {flag}"

    message = re.sub(r"`?\b(force|resume|progress)\b`?\s*=\s*(True|False)\b", assigned, message)
    def quoted(m):  # method='hmc' -> --method hmc
        flag = name(m.group(1))
        return f"{flag} {m.group(2)}" if flag and flag.startswith("--") and " " not in flag else m.group(0)

    message = re.sub(r"`?\b([a-z_]+)`?='([^']*)'", quoted, message)
    message = re.sub(r"`([A-Za-z_]\w*)`", backticked, message)
    message = re.sub(r"\b(pass|without|with|needs) (force|resume|out)\b",
                     lambda m: f"{m.group(1)} {flags.get(m.group(2), m.group(2))}", message)
    return " ".join(message.split())  # one line


# ------------------------------------------------------------------ the output folder

def _check_out(args, *, resumable: str | None = None) -> str:
    """Check ``--out``, ``--force`` and ``--resume`` before anything is written; returns the folder.

    ``resumable`` names the file of a run that ``--resume`` continues (None: nothing to
    continue, so ``--resume`` is refused). Nothing is created here.
    """
    out = os.fspath(args.out)
    force, resume = getattr(args, "force", False), getattr(args, "resume", False)
    if force and resume:
        raise _UsageError("--force and --resume exclude each other: --force starts over, --resume continues")
    if resume and resumable is None:
        raise _UsageError(f"--resume: `{args.command}` has no interrupted run to continue; "
                          f"use --force to replace {out}, or choose another --out")
    if os.path.exists(out) and not os.path.isdir(out):
        raise _UsageError(f"--out {out} exists and is not a directory")
    busy = os.path.isdir(out) and bool(os.listdir(out))
    if resume and not os.path.exists(os.path.join(out, resumable)):
        raise _UsageError(f"--resume: {os.path.join(out, resumable)} does not exist, so there is no run to "
                          f"continue; run without --resume")
    if busy and not (force or resume):
        hint = "--resume to continue the run there, " if resumable else ""
        raise _UsageError(f"--out {out} exists and is not empty: pass {hint}--force to replace it, or choose "
                          f"another --out")
    if force and busy:
        here, target = os.path.realpath(os.getcwd()), os.path.realpath(out)
        if here == target or here.startswith(target + os.sep) or target in ("/", os.path.expanduser("~")):
            raise _UsageError(f"--force would delete {out}, which holds the working directory or is a home or "
                              f"root folder; choose another --out")
    return out


def _make_out(args, out: str) -> str:
    """Create ``out`` once every check has passed (``--force``: emptied first); remembered for clean-up."""
    if getattr(args, "force", False) and os.path.isdir(out):
        shutil.rmtree(out)
    if not os.path.isdir(out):
        os.makedirs(out)
        args._created = out
    return out


def _stream_path(out, name):
    """Where a long run streams to (None without h5py: it is saved whole at the end)."""
    import importlib.util

    if importlib.util.find_spec("h5py") is None:
        return None
    return os.path.join(out, name)


def _has_h5py() -> bool:
    import importlib.util

    return importlib.util.find_spec("h5py") is not None


def _split_arrays(value, path, large):
    """``value`` with every array of more than :data:`JSON_ARRAY_LIMIT` numbers replaced by a reference."""
    import numpy as np

    if isinstance(value, dict):
        return {k: _split_arrays(x, f"{path}.{k}" if path else str(k), large) for k, x in value.items()}
    if isinstance(value, (list, tuple)) and value and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                          for x in value):
        value = np.asarray(value)
    if isinstance(value, (list, tuple)):
        return [_split_arrays(x, f"{path}.{k}", large) for k, x in enumerate(value)]
    if isinstance(value, np.ndarray) and value.size > JSON_ARRAY_LIMIT:
        large[path] = value
        return {"npz": "arrays.npz", "key": path, "shape": list(value.shape)}
    return value


def write_summary(out: str, summary: dict) -> str:
    """Write ``out/summary.json``: small enough to read, arrays of more than 64 numbers in ``out/arrays.npz``.

    The rule: any array (or list of numbers) with more than :data:`JSON_ARRAY_LIMIT`
    entries, at any depth, is saved in ``arrays.npz`` under its dotted path in the
    summary (``"diagnostics.inverse_metric"``) and replaced in the JSON by
    ``{"npz": "arrays.npz", "key": <path>, "shape": [...]}``; smaller arrays stay
    lists. Scalars are numbers (``null`` when not finite). The same rule is used by
    :func:`coulombgas.compare` (``_JSON_ARRAY_LIMIT``).
    """
    import numpy as np

    from .io import write_json

    large = {}
    small = _split_arrays(summary, "", large)
    if large:
        np.savez(os.path.join(out, "arrays.npz"), **large)
    path = os.path.join(out, "summary.json")
    write_json(path, small)
    return path


# ------------------------------------------------------------------ theory

def _cmd_theory(args) -> int:
    out = _check_out(args)
    import numpy as np

    from . import plots, theory

    _make_out(args, out)
    fig = plots.theory_figure(os.path.join(out, "theory.png"))
    s = np.linspace(0.0, 5.0, 2001)
    summary = {
        "figure": os.path.basename(fig),
        "surmise_second_moment": {str(b): float(theory.wigner_surmise(b).moment(2)) for b in (1, 2, 4)},
        "exact_spacing_variance": {str(b): float(theory.spacing(b).var()) for b in (1, 2)},
        "max_abs_exact_minus_surmise": {
            str(b): float(np.max(np.abs(theory.spacing(b).pdf(s) - theory.wigner_surmise(b).pdf(s))))
            for b in (1, 2)
        },
        "gap_ratio_mean": {str(b): float(theory.gap_ratio(b).mean()) for b in (1, 2, 4, "poisson")},
    }
    print(f"wrote {fig} and {write_summary(out, summary)}")
    return 0


# ------------------------------------------------------------------ simulate

def _floats(name, text):
    import numpy as np

    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise _UsageError(f"--{name} must be a number or comma-separated numbers, got {text!r}") from None
    return values[0] if len(values) == 1 else np.array(values)


#: Flags of each potential, with their defaults (None in the parser, so that a flag given for
#: another potential -- which would do nothing -- is refused).
_POTENTIAL_FLAGS = {"quadratic": {"center": 0.0, "width": "1.0"}, "quartic": {"t": 1.0, "g_quartic": 1.0},
                    "laguerre": {"laguerre_a": 1.0, "laguerre_scale": 1.0}}


def _gas_from_args(args):
    import importlib

    gas_from_params = importlib.import_module("coulombgas.sweep").gas_from_params
    if (args.lr is None) != (args.batch_size is None):
        raise _UsageError("--lr and --batch-size go together (SGD form)")
    values = {}
    for potential, flags in _POTENTIAL_FLAGS.items():
        for name, default in flags.items():
            given = getattr(args, name)
            if given is not None and potential != args.potential:
                raise _UsageError(f"--{name.replace('_', '-')} is a parameter of --potential {potential}; this run "
                                  f"uses --potential {args.potential}, where it would do nothing")
            values[name] = default if given is None else given
    if args.noise_g is not None and args.lr is None:
        raise _UsageError("--noise-g is a parameter of the SGD form (with --lr and --batch-size); without them "
                          "it would do nothing")
    return gas_from_params(n=args.n, beta=args.beta, potential=args.potential, center=values["center"],
                           width=_floats("width", values["width"]), t=values["t"], g_quartic=values["g_quartic"],
                           laguerre_a=values["laguerre_a"], laguerre_scale=values["laguerre_scale"], lr=args.lr,
                           batch_size=args.batch_size, noise_g=_floats("noise-g", args.noise_g or "1.0"))


def matching_law(gas):
    """(law, shift, label) of a closed-form one-point density for this gas, or None.

    * n = 2, β = 1, quadratic V_i with a common centre: the exact two-mode
      density with σ_i² = D_i/(2 a k_i) (SCIENCE.md §4);
    * a common quadratic potential: the large-n semicircle of radius √(n D β/(a k)).
    """
    import math

    import numpy as np

    from . import potentials, theory

    if not isinstance(gas.potential, potentials.Polynomial) or gas.potential.coeffs.shape[-1] != 3:
        return None
    _, params, _ = gas.potential.kernel_data(gas.n)
    k = params[:, 2]
    centers = -params[:, 1] / (2 * k)
    if not np.allclose(centers, centers[0]):
        return None
    c = float(centers[0])
    if gas.n == 2 and gas.beta == 1.0:
        sig = np.sqrt(gas.diffusion / (2 * gas.drift_scale * k))
        return theory.two_mode_density(float(sig[0]), float(sig[1])), c, "two-mode density (exact, n=2)"
    if np.allclose(k, k[0]) and np.allclose(gas.diffusion, gas.diffusion[0]):
        radius = math.sqrt(gas.n * gas.diffusion[0] * gas.beta / (gas.drift_scale * k[0]))
        return theory.semicircle(radius), c, f"semicircle R={radius:.3g} (large n)"
    return None


def _cmd_simulate(args) -> int:
    import numpy as np

    from . import _validate as v
    from .dynamics import SCHEMES, simulate

    gas = _gas_from_args(args)
    v.nonnegative("t_end", args.t_end)
    v.positive("dt", args.dt)
    v.integer("replicas", args.replicas, minimum=1)
    v.integer("record_every", args.record_every, minimum=1)
    v.one_of("scheme", args.scheme, tuple(SCHEMES))
    out = _check_out(args, resumable="trajectory.h5" if _has_h5py() else None)
    from . import plots

    _make_out(args, out)
    traj_path = _stream_path(out, "trajectory.h5")
    start = time.perf_counter()
    traj = simulate(gas, args.t_end, args.dt, replicas=args.replicas, record_every=args.record_every,
                    scheme=args.scheme, seed=args.seed, out=traj_path, resume=args.resume,
                    progress=not args.quiet)
    elapsed = time.perf_counter() - start
    if traj_path is None:
        traj_path = os.path.join(out, "trajectory.npz")
        traj.save(traj_path)
    figures = [plots.paths_figure(os.path.join(out, "paths.png"), traj.t, traj.x)]
    burn = traj.x.shape[1] // 2
    late = traj.x[:, burn:, :]
    matched = matching_law(gas)
    summary = {"gas": gas.to_dict(), "t_end": args.t_end, "dt": traj.dt, "replicas": args.replicas,
               "scheme": traj.scheme, "seed": args.seed, "diagnostics": traj.diagnostics,
               "trajectory": os.path.basename(traj_path), "seconds": elapsed,
               "late_time_mean": float(late.mean()), "late_time_std": float(late.std())}
    if matched is not None:
        from . import spectra

        law, shift, label = matched
        centred = late - shift
        if gas.n == 2:
            # Non-crossing dynamics samples one ordering of the two modes; the
            # two-mode density averages both, which are mirror images.
            sign = np.random.default_rng(args.seed).choice([-1.0, 1.0], size=centred.shape[:-1] + (1,))
            centred = sign * centred
        fit = spectra.goodness_of_fit(centred.ravel()[:: max(1, centred.size // 20000)], law, "ks")
        summary["density_check"] = {"law": label, "ks_statistic": fit.statistic, "ks_pvalue": fit.pvalue,
                                    "note": "records are correlated in time: treat the p-value as indicative"}
        figures.append(plots.density_figure(os.path.join(out, "density.png"), centred, law, label=label,
                                            title="late-time density (x − centre)"))
    else:
        figures.append(plots.density_figure(os.path.join(out, "density.png"), late, None,
                                            title="late-time density"))
    summary["figures"] = [os.path.basename(f) for f in figures]
    write_summary(out, summary)
    print(f"simulated {args.replicas} replica(s) of n={gas.n} to t={args.t_end:g} in {elapsed:.2f} s; "
          f"wrote {out}/summary.json")
    return 0


# ------------------------------------------------------------------ sample

def _cmd_sample(args) -> int:
    import numpy as np

    from . import _validate as v
    from .stationary import sample

    from .stationary import _resolve_method

    gas = _gas_from_args(args)
    v.integer("n_samples", args.samples, minimum=1)
    method, _ = _resolve_method(gas, args.method)  # "auto" -> the method that will run
    if method not in ("mh", "hmc") and (args.chains is not None or args.warmup is not None):
        raise _UsageError(f"--chains and --warmup are for the Markov-chain samplers (--method mh or hmc); this "
                          f"run uses the exact {method} sampler (independent draws), where they would do nothing")
    if args.chains is not None:
        v.integer("chains", args.chains, minimum=1)
    if args.warmup is not None:
        v.integer("warmup", args.warmup, minimum=0)
    out = _check_out(args)
    from . import plots

    _make_out(args, out)
    start = time.perf_counter()
    samples = sample(gas, args.samples, method=args.method, chains=args.chains or 4, warmup=args.warmup,
                     seed=args.seed, progress=not args.quiet)
    elapsed = time.perf_counter() - start
    samples.save(os.path.join(out, "samples.npz"))
    figures = []
    matched = matching_law(gas)
    # Samples.summary keeps every array diagnostic (the n x n HMC metric) in samples.npz.
    summary = {"gas": gas.to_dict(), "method": samples.method, "samples": samples.n_samples,
               "seed": args.seed, "seconds": elapsed, "diagnostics": samples.summary("samples.npz")["diagnostics"],
               "samples_file": "samples.npz"}
    if matched is not None:
        from . import spectra

        law, shift, label = matched
        centred = samples.independent() - shift if samples.chains > 1 or samples.method != "tridiagonal" \
            else samples.x - shift
        if gas.n == 2:
            sign = np.random.default_rng(args.seed).choice([-1.0, 1.0], size=centred.shape[:-1] + (1,))
            centred = sign * centred
        fit = spectra.goodness_of_fit(centred.ravel(), law, "ks")
        summary["density_check"] = {"law": label, "ks_statistic": fit.statistic, "ks_pvalue": fit.pvalue,
                                    "note": "eigenvalues of one sample are correlated: treat the p-value "
                                            "as indicative"}
        figures.append(plots.density_figure(os.path.join(out, "density.png"), centred, law, label=label,
                                            title=f"{samples.method}: one-point density (x − centre)"))
    else:
        figures.append(plots.density_figure(os.path.join(out, "density.png"), samples.x, None,
                                            title=f"{samples.method}: one-point density"))
    figures.append(plots.trace_figure(os.path.join(out, "trace.png"), samples.log_density,
                                      title=f"{samples.method}: log P_s per chain"))
    summary["figures"] = [os.path.basename(f) for f in figures]
    write_summary(out, summary)
    print(f"drew {samples.n_samples} samples of n={gas.n} with {samples.method} in {elapsed:.2f} s; "
          f"wrote {out}/summary.json")
    return 0


# ------------------------------------------------------------------ train

def _literal(text):
    """A Python literal (3, 0.5, 'random', [1, 2]) when ``text`` is one, else the text itself."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_set(items) -> dict:
    """``--set KEY=VALUE`` pairs; VALUE is read as a Python literal when it is one (3, 0.5, [1, 2])."""
    out = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise _UsageError(f"--set takes KEY=VALUE, got {item!r}")
        out[key.strip()] = _literal(text)
    return out


def _model_kwargs(args, *, for_compare: bool = False) -> dict:
    """The model's keyword arguments from its flags and ``--set``, checked by the shared check
    (:func:`coulombgas._params.model_params`: names, values, a memory lower bound) before any work."""
    from ._params import model_params

    if args.model not in MODEL_NAMES:
        raise _UsageError(f"unknown model {args.model!r}; choose one of {', '.join(MODEL_NAMES)}")
    kwargs = {k: getattr(args, k) for k in ("lr", "batch_size", "models", "steps", "record_every")
              if getattr(args, k) is not None}
    extra = _parse_set(args.set)
    for key in extra:
        if key in kwargs or key in ("seed", "out", "resume", "progress"):
            flag = "--" + key.replace("_", "-") if key != "progress" else "--quiet"
            raise _UsageError(f"--set {key}: use the flag {flag} instead")
    args._model_params = tuple(extra)
    import inspect

    from .training import get_model

    allowed = [k for k in inspect.signature(get_model(args.model)).parameters
               if k not in ("seed", "out", "resume", "progress")]
    for key in extra:
        if key not in allowed:
            raise _UsageError(f"--set {key}: not a parameter of {args.model}; choose from {', '.join(allowed)}")
    kwargs.update(extra)
    defaults, min_models = None, 1
    if for_compare:
        import importlib

        compare = importlib.import_module("coulombgas.compare")  # the module, not the function
        defaults = compare.MODEL_DEFAULTS.get(args.model, {})
        min_models = getattr(compare, "_MIN_MODELS", 1)
    model_params(args.model, kwargs, defaults=defaults, min_models=min_models)
    return kwargs


def train_report(harvest, out: str, *, seconds: float | None = None) -> dict:
    """Figures and summary numbers of a harvest, written into ``out`` (shared with ``compare``)."""
    import numpy as np

    from . import plots, spectra, theory
    from .training import degenerate_pairs

    summary = {"model": harvest.model, "params": harvest.params, "seed": harvest.seed,
               "models_finite": harvest.models, "models_diverged": int(len(harvest.diverged_ids)),
               "diverged_ids": harvest.diverged_ids, "records": harvest.records, "n": harvest.n,
               "gram": harvest.gram, "seconds": seconds}
    figures = []
    if harvest.models == 0:
        summary["note"] = "every model diverged (batch loss above the divergence threshold)"
    else:
        late = harvest.late(0.5)
        summary["late_mean"] = late.mean(axis=(0, 1))
        summary["late_std"] = late.std(axis=(0, 1))
        summary["final_loss_median"] = float(np.median(harvest.loss[:, -1]))
        figures.append(plots.ensemble_paths_figure(os.path.join(out, "paths.png"), harvest.steps,
                                                   harvest.eigenvalues, title=f"{harvest.model}: eigenvalues of X"))
        figures.append(plots.loss_figure(os.path.join(out, "loss.png"), harvest.steps, harvest.loss,
                                         title=f"{harvest.model}: loss"))
        pairs = degenerate_pairs(harvest)
        summary["degenerate_pairs"] = pairs
        if pairs and harvest.models >= 2:
            final = harvest.final()
            s = spectra.normalized_spacings(final, groups=[list(p) for p in pairs], separate=True)
            s = np.concatenate([np.ravel(v) for v in s]) if isinstance(s, (list, tuple)) else np.ravel(s)
            fit = spectra.goodness_of_fit(s, theory.wigner_surmise(1), "ks")
            summary["surmise_check"] = {"spacings": int(s.size), "ks_statistic": fit.statistic,
                                        "ks_pvalue": fit.pvalue,
                                        "note": "final spacing within each degenerate pair over models, "
                                                "normalised by the pair's mean"}
            figures.append(plots.spacing_figure(os.path.join(out, "spacings.png"), s,
                                                title=f"{harvest.model}: final spacings in degenerate pairs"))
        figures.append(plots.density_figure(os.path.join(out, "spectrum.png"), harvest.final(), None,
                                            title=f"{harvest.model}: final eigenvalues of X (all models)"))
    summary["figures"] = [os.path.basename(f) for f in figures]
    write_summary(out, summary)
    return summary


def _cmd_train(args) -> int:
    kwargs = _model_kwargs(args)
    out = _check_out(args, resumable="harvest.h5" if _has_h5py() else None)
    from .training import get_model

    func = get_model(args.model)
    _make_out(args, out)
    path = _stream_path(out, "harvest.h5")
    start = time.perf_counter()
    harvest = func(seed=args.seed, out=path, resume=args.resume, progress=not args.quiet, **kwargs)
    elapsed = time.perf_counter() - start
    if path is None:
        harvest.save(os.path.join(out, "harvest.npz"))
    summary = train_report(harvest, out, seconds=elapsed)
    print(f"trained {harvest.models + len(harvest.diverged_ids)} {args.model} model(s) "
          f"({len(harvest.diverged_ids)} diverged) in {elapsed:.2f} s; wrote {out}/summary.json"
          + (f"; surmise KS p = {summary['surmise_check']['ks_pvalue']:.3g}" if "surmise_check" in summary else ""))
    return 0


# ------------------------------------------------------------------ compare

def _cmd_compare(args) -> int:
    kwargs = _model_kwargs(args, for_compare=True)  # every check before training starts
    _check_out(args)
    from .compare import compare

    start = time.perf_counter()
    report = compare(args.model, out=args.out, seed=args.seed, force=args.force, progress=not args.quiet,
                     scan=not args.no_scan, **kwargs)
    elapsed = time.perf_counter() - start
    from collections import Counter

    verdicts = Counter(c["verdict"] for c in report.checks)
    print(report.to_markdown().split("\n\nVerdict")[0])
    print(f"\nverdicts: {', '.join(f'{k} ×{n}' for k, n in verdicts.items())}; {elapsed:.1f} s; wrote "
          f"{args.out}/report.md, summary.json and {len(report.figures)} figures")
    return 0


# ------------------------------------------------------------------ sweep

def _parse_grid(items) -> dict:
    """``--grid KEY=V1,V2,…`` (repeatable): each value read as a Python literal when it is one."""
    grid = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text:
            raise _UsageError(f"--grid takes KEY=V1,V2,..., got {item!r}")
        grid[key.strip()] = [_literal(part) for part in text.split(",")]
    if not grid:
        raise _UsageError("--grid is required, e.g. --grid seed=1,2,3")
    return grid


def _cmd_sweep(args) -> int:
    import importlib
    import warnings

    # The module, not the function that `coulombgas.sweep` also names.
    sweep_module = importlib.import_module("coulombgas.sweep")

    grid, fixed = _parse_grid(args.grid), _parse_set(args.set)
    for key in grid:
        if key in fixed:
            raise _UsageError(f"{key} is in both --grid and --set; give it once")
    if args.seed is not None:
        if "seed" in grid or "seed" in fixed:
            raise _UsageError("--seed and a seed in --grid/--set both give the seed; give it once")
        fixed["seed"] = args.seed
    elif "seed" not in grid:
        fixed.setdefault("seed", 0)
    task = sweep_module.v.one_of("task", args.task, sweep_module.TASKS)
    sweep_module.v.integer("workers", args.workers, minimum=1)
    sweep_module.v.integer("threads", args.threads, minimum=1)
    for k, point in enumerate(sweep_module._points(grid, fixed)):  # every point checked before any output
        try:
            sweep_module.validate_point(task, point)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"grid point {k}: {exc}") from None
    out = _check_out(args, resumable="table.json")
    _make_out(args, out)
    with warnings.catch_warnings():  # the failures are reported below, one line each
        warnings.simplefilter("ignore", sweep_module.SweepWarning)
        table = sweep_module.sweep(task, grid, fixed=fixed, scheduler=args.scheduler, out=out,
                                   workers=args.workers, threads=args.threads, progress=not args.quiet)
    failed = [row for row in table if row.get("status") != "ok"]
    print(f"{len(table)} point(s), {len(failed)} failed; wrote {out}/table.csv and table.json")
    for row in failed:
        print(f"  point {row['point']}: {row.get('error')}", file=sys.stderr)
    if failed:
        print(f"coulombgas sweep: {len(failed)} of {len(table)} point(s) failed", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------ bench

def _cmd_bench(args) -> int:
    out = _check_out(args)
    from .bench import run_bench

    _make_out(args, out)
    return run_bench(args.what, out=out, quick=args.quick)


# ------------------------------------------------------------------ parser

def _add_gas_arguments(p):
    """Flags that describe a CoulombGas (shared by simulate and sample)."""
    p.add_argument("--n", type=int, default=10, help="number of eigenvalues (>= 2, default 10)")
    p.add_argument("--beta", type=float, default=1.0, help="Dyson index β > 0 (default 1)")
    p.add_argument("--potential", choices=("quadratic", "quartic", "laguerre"), default="quadratic",
                   help="confining potential (default quadratic)")
    p.add_argument("--center", type=float, default=None, help="quadratic: centre (default 0)")
    p.add_argument("--width", default=None, help="quadratic: width > 0, or comma-separated per mode (default 1)")
    p.add_argument("--t", type=float, default=None, help="quartic: V = t x²/2 + g x⁴/4, t (default 1)")
    p.add_argument("--g-quartic", type=float, default=None, help="quartic: g > 0 (default 1)")
    p.add_argument("--laguerre-a", type=float, default=None, help="Laguerre: V = x/scale − a log x, a > 0")
    p.add_argument("--laguerre-scale", type=float, default=None, help="Laguerre: scale > 0")
    p.add_argument("--lr", type=float, default=None, help="SGD form: learning rate α > 0")
    p.add_argument("--batch-size", type=float, default=None, help="SGD form: batch size |B| > 0")
    p.add_argument("--noise-g", default=None, help="SGD form: noise g_i > 0, or comma-separated per mode (default 1)")


def _add_model_arguments(p, models_help):
    """Flags that describe a training run (shared by train and compare)."""
    p.add_argument("model", help="model name: " + ", ".join(MODEL_NAMES))
    p.add_argument("--lr", type=float, default=None, help="learning rate α > 0 (default: the paper's)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size |B| >= 1 (default: the paper's)")
    p.add_argument("--models", type=int, default=None, help=models_help)
    p.add_argument("--steps", type=int, default=None, help="SGD updates per model >= 1")
    p.add_argument("--record-every", type=int, default=None, help="updates between recorded spectra")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any other parameter of the model, e.g. --set eps=0.05 (repeatable)")


def _add_out_arguments(p, out, resume=None):
    """--out, --force and --resume: the same on every subcommand that writes (see the module docstring)."""
    p.add_argument("--out", default=out, help=f"output directory, new or empty (default: {out})")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out")
    p.add_argument("--resume", action="store_true",
                   help=resume or "refused: this subcommand has no interrupted run to continue (kept for uniformity)")


def _add_run_arguments(p, out, resume=None):
    """--seed, --out, --force, --resume and --quiet, shared by every randomised subcommand."""
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _add_out_arguments(p, out, resume)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="coulombgas",
        description="Eigenvalues of weight matrices during SGD as a Coulomb gas: closed-form theory, "
                    "Dyson Brownian motion, stationary samplers, real SGD training, theory-vs-training "
                    "reports, Dask sweeps, benchmarks.",
    )
    p.add_argument("--version", action="version", version=f"coulombgas {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("theory", help="draw the closed-form laws (surmises, exact spacings, gap ratios, "
                                      "two-mode densities) into one figure")
    _add_out_arguments(t, "theory-out")  # no --seed: nothing here is random
    t.set_defaults(func=_cmd_theory)

    s = sub.add_parser("simulate", help="integrate the eigenvalue SDE (Dyson Brownian motion)",
                       description="Integrate dx_i = [a K_i + c Σ w_j/(x_i − x_j)] dt + s_i dW_i for "
                                   "independent replicas; writes the trajectory, summary.json and figures.")
    _add_gas_arguments(s)
    s.add_argument("--t-end", type=float, default=10.0, help="final time >= 0 (default 10)")
    s.add_argument("--dt", type=float, default=1e-3, help="largest time step > 0 (default 1e-3)")
    s.add_argument("--replicas", type=int, default=100, help="independent runs >= 1 (default 100)")
    s.add_argument("--record-every", type=int, default=10, help="record every k steps (default 10)")
    s.add_argument("--scheme", default="auto", help="auto | adaptive-heun | adaptive-euler | euler-maruyama")
    _add_run_arguments(s, "simulate-out", "continue the run stored in OUT/trajectory.h5")
    s.set_defaults(func=_cmd_simulate)

    m = sub.add_parser("sample", help="sample the stationary Coulomb gas (exact tridiagonal, MH or HMC)",
                       description="Draw from P_s ∝ Π|x_i − x_j|^β exp(−Σ a V_i/D_i); writes samples.npz, "
                                   "summary.json (acceptance, autocorrelation, ESS, R-hat) and figures.")
    _add_gas_arguments(m)
    m.add_argument("--samples", type=int, default=4000, help="number of samples >= 1 (default 4000)")
    m.add_argument("--method", default="auto", help="auto | tridiagonal | mh | hmc (default auto)")
    m.add_argument("--chains", type=int, default=None, help="mh/hmc: Markov chains in parallel (default 4)")
    m.add_argument("--warmup", type=int, default=None, help="mh/hmc: warm-up iterations per chain (default 1000)")
    _add_run_arguments(m, "sample-out")
    m.set_defaults(func=_cmd_sample)

    t = sub.add_parser("train", help="train one of the papers' models with real SGD and harvest spectra",
                       description="Train an ensemble of independent models (teacher-student, ...) with "
                                   "mini-batch SGD; writes harvest.h5 (streamed: an interrupted run keeps its "
                                   "records and --resume continues it exactly), summary.json and figures.")
    _add_model_arguments(t, "independent models >= 1 (default: the paper's)")
    _add_run_arguments(t, "train-out", "continue the interrupted run in OUT/harvest.h5 (bit for bit)")
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser("compare", help="train a model, build its Coulomb gas, simulate, sample and compare",
                       description="The main job: train an ensemble, harvest spectra, measure drift and noise, "
                                   "integrate the eigenvalue SDE from the same initial spectra, sample the "
                                   "stationary gas, and write report.md (one row per check), summary.json and "
                                   "figures into --out.")
    _add_model_arguments(c, "independent models (default: a size that runs in about a minute)")
    c.add_argument("--no-scan", action="store_true", help="skip the linear-scaling scan")
    _add_run_arguments(c, "compare-out")
    c.set_defaults(func=_cmd_compare)

    w = sub.add_parser("sweep", help="a grid of train/simulate/sample/compare runs on Dask (local or a cluster)",
                       description="Run TASK at every point of the grid (Cartesian product of the --grid "
                                   "entries, plus --set values shared by all) as Dask tasks; writes one folder "
                                   "per point and table.csv/table.json; a rerun skips finished points.")
    w.add_argument("task", help="train | simulate | sample | compare")
    w.add_argument("--grid", action="append", metavar="KEY=V1,V2,...", help="a swept parameter (repeatable)")
    w.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a parameter shared by every point, e.g. --set model=teacher-student (repeatable)")
    w.add_argument("--scheduler", default=None, help="tcp://HOST:PORT of a Dask scheduler (default: a local "
                                                     "cluster)")
    w.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster (default 2)")
    w.add_argument("--threads", type=int, default=1, help="Numba threads per task (default 1)")
    w.add_argument("--seed", type=int, default=None, help="seed of every point (default 0); sweep seeds with "
                                                          "--grid seed=1,2,... instead")
    _add_out_arguments(w, "sweep-out", "rerun into OUT: finished points are kept, the others run")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=_cmd_sweep)

    b = sub.add_parser("bench", help="benchmarks side by side with plain NumPy (prints a table, writes JSON)")
    from .bench import BENCHES  # a table of names (bench/__init__.py imports nothing heavy)

    b.add_argument("what", choices=tuple(BENCHES),
                   help="; ".join(f"{name}: {entry[3]}" for name, entry in BENCHES.items()))
    _add_out_arguments(b, "bench-out")
    b.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    b.set_defaults(func=_cmd_bench)
    for name, subparser in sub.choices.items():
        subparser.set_defaults(flags=_flag_map(subparser, name))
    return p


def main(argv=None) -> int:
    """Entry point of the ``coulombgas`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    args._created = None
    try:
        return int(args.func(args) or 0)
    except (_UsageError, ValueError, TypeError) as exc:
        _remove_created(args)
        message = speak_flags(str(exc), args.flags, getattr(args, "_model_params", ()))
        print(f"coulombgas {args.command}: error: {message}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:
        print(f"coulombgas {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"coulombgas {args.command}: interrupted; files written so far are kept", file=sys.stderr)
        return 130


def _remove_created(args):
    """A refused run leaves nothing: remove the output folder this run created (never one that existed)."""
    created = getattr(args, "_created", None)
    if created and os.path.isdir(created):
        shutil.rmtree(created, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
