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

Each subcommand parses, checks, calls the library and prints: the figures, the tests
against closed-form laws and the summaries are :mod:`coulombgas.report`'s, the check
of a model's parameters is :func:`coulombgas.training.registry.check_params`. The
subcommands and their options are data (:func:`_commands`).

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
    if command in ("analyze", "compare"):
        flags.update(names="--matrix", source="RUN" if command == "analyze" else "--run")
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
    # A `*.part` file is a run stopped before its first commit: nothing in it counts, a new run replaces it.
    busy = os.path.isdir(out) and any(not name.endswith(".part") for name in os.listdir(out))
    if resume and not os.path.exists(os.path.join(out, resumable)):
        never = " (it was stopped before its first record)" if os.path.exists(os.path.join(out, resumable)
                                                                                 + ".part") else ""
        raise _UsageError(f"--resume: {os.path.join(out, resumable)} does not exist, so there is no run to "
                          f"continue{never}; run without --resume")
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
    return os.path.join(out, name) if _has_h5py() else None


def _has_h5py() -> bool:
    import importlib.util

    return importlib.util.find_spec("h5py") is not None


def write_summary(out: str, summary: dict) -> str:
    """Write ``out/summary.json`` (arrays of more than 64 numbers in ``out/arrays.npz``): see
    :func:`coulombgas.report.write_summary`, imported when called so that start-up stays light."""
    from .report import write_summary as write

    return write(out, summary)


# ------------------------------------------------------------------ theory

def _cmd_theory(args) -> int:
    out = _check_out(args)
    from .report import theory_report

    _make_out(args, out)
    summary = theory_report(out)
    print(f"wrote {os.path.join(out, summary['figure'])} and {os.path.join(out, 'summary.json')}")
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
    from .gas import CoulombGas

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
    return CoulombGas.from_params(n=args.n, beta=args.beta, potential=args.potential, center=values["center"],
                                  width=_floats("width", values["width"]), t=values["t"],
                                  g_quartic=values["g_quartic"], laguerre_a=values["laguerre_a"],
                                  laguerre_scale=values["laguerre_scale"], lr=args.lr, batch_size=args.batch_size,
                                  noise_g=_floats("noise-g", args.noise_g or "1.0"))


def _cmd_simulate(args) -> int:
    from . import _validate as v
    from .dynamics import SCHEMES, simulate
    from .report import simulate_report

    gas = _gas_from_args(args)
    v.nonnegative("t_end", args.t_end)
    v.positive("dt", args.dt)
    v.integer("replicas", args.replicas, minimum=1)
    v.integer("record_every", args.record_every, minimum=1)
    v.one_of("scheme", args.scheme, tuple(SCHEMES))
    out = _check_out(args, resumable="trajectory.h5" if _has_h5py() else None)
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
    simulate_report(traj, gas, out, t_end=args.t_end, seed=args.seed, seconds=elapsed,
                    trajectory=os.path.basename(traj_path))
    print(f"simulated {args.replicas} replica(s) of n={gas.n} to t={args.t_end:g} in {elapsed:.2f} s; "
          f"wrote {out}/summary.json")
    return 0


# ------------------------------------------------------------------ sample

def _cmd_sample(args) -> int:
    from . import _validate as v
    from .report import sample_report
    from .stationary import resolve_method, sample

    gas = _gas_from_args(args)
    v.integer("n_samples", args.samples, minimum=1)
    method = resolve_method(gas, args.method)  # "auto" -> the method that will run
    if method not in ("mh", "hmc") and (args.chains is not None or args.warmup is not None):
        raise _UsageError(f"--chains and --warmup are for the Markov-chain samplers (--method mh or hmc); this "
                          f"run uses the exact {method} sampler (independent draws), where they would do nothing")
    if args.chains is not None:
        v.integer("chains", args.chains, minimum=1)
    if args.warmup is not None:
        v.integer("warmup", args.warmup, minimum=0)
    out = _check_out(args)
    _make_out(args, out)
    start = time.perf_counter()
    samples = sample(gas, args.samples, method=args.method, chains=args.chains or 4, warmup=args.warmup,
                     seed=args.seed, progress=not args.quiet)
    elapsed = time.perf_counter() - start
    samples.save(os.path.join(out, "samples.npz"))
    sample_report(samples, gas, out, seed=args.seed, seconds=elapsed, samples_file="samples.npz")
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
    """The model's keyword arguments from its flags and ``--set``, checked before any work by the one
    check of the registry (:func:`coulombgas.training.registry.check_params`: names, values, a memory
    lower bound; with compare's defaults and smallest ensemble for ``compare``)."""
    kwargs = {k: getattr(args, k) for k in ("lr", "batch_size", "models", "steps", "record_every")
              if getattr(args, k) is not None}
    extra = _parse_set(args.set)
    for key in extra:  # a parameter that has its own flag is given by the flag
        if key in kwargs or key in ("seed", "out", "resume", "progress"):
            flag = "--" + key.replace("_", "-") if key != "progress" else "--quiet"
            raise _UsageError(f"--set {key}: use the flag {flag} instead")
    args._model_params = tuple(extra)  # messages name them `--set KEY`
    kwargs.update(extra)
    if for_compare:
        from .report import check_compare_params

        check_compare_params(args.model, kwargs)
    else:
        from .training.registry import check_params

        check_params(args.model, kwargs)
    return kwargs


def _cmd_train(args) -> int:
    kwargs = _model_kwargs(args)
    out = _check_out(args, resumable="harvest.h5" if _has_h5py() else None)
    from .report import train_report
    from .training.registry import get_model

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
    if args.run is not None:
        return _compare_run(args)
    if args.model is None:
        raise _UsageError("give MODEL (one of " + ", ".join(MODEL_NAMES) + ") or --run RUN (a recorded run)")
    if args.matrix:
        raise _UsageError("--matrix names matrices of a recorded run: use it with --run")
    kwargs = _model_kwargs(args, for_compare=True)  # every check before training starts
    _check_out(args)
    from .report import compare

    start = time.perf_counter()
    report = compare(args.model, out=args.out, seed=args.seed, force=args.force, progress=not args.quiet,
                     scan=not args.no_scan, datasets=args.datasets, corrections=args.corrections.split(","),
                     **kwargs)
    elapsed = time.perf_counter() - start
    from collections import Counter

    verdicts = Counter(c["verdict"] for c in report.checks)
    print(report.to_markdown().split("\n\nVerdict")[0])
    print(f"\nverdicts: {', '.join(f'{k} ×{n}' for k, n in verdicts.items())}; {elapsed:.1f} s; wrote "
          f"{args.out}/report.md, summary.json and {len(report.figures)} figures")
    return 0


def _compare_run(args) -> int:
    """``compare --run RUN``: the report of a recorded run (TorchRecorder file or saved harvest)."""
    given = [flag for flag, value in (("MODEL", args.model), ("--lr", args.lr), ("--batch-size", args.batch_size),
                                      ("--models", args.models), ("--steps", args.steps),
                                      ("--record-every", args.record_every), ("--set", args.set)) if value]
    if given:
        raise _UsageError(f"--run compares a recorded run: {', '.join(given)} would train a model; drop them")
    _check_run_path(args.run, "--run")
    out = _check_out(args)
    from .report.recording import compare_recording

    start = time.perf_counter()
    report = compare_recording(args.run, names=args.matrix or None, out=out, seed=args.seed, force=args.force,
                               progress=not args.quiet)
    elapsed = time.perf_counter() - start
    from collections import Counter

    verdicts = Counter(c["verdict"] for c in report.checks)
    print(report.to_markdown())
    print(f"\nverdicts: {', '.join(f'{k} ×{n}' for k, n in verdicts.items())}; {elapsed:.1f} s; wrote "
          f"{out}/report.md, summary.json and {len(report.figures)} figures")
    return 0


def _check_run_path(path, flag):
    if not os.path.exists(path):
        raise _UsageError(f"{flag} {path} does not exist: give a TorchRecorder file (.h5), a saved harvest "
                          f"(.npz/.h5) or a folder holding one")


# ------------------------------------------------------------------ analyze

def _cmd_analyze(args) -> int:
    _check_run_path(args.run, "RUN")
    if not 0.0 < args.late <= 1.0:
        raise _UsageError(f"--late must be in (0, 1], got {args.late}")
    out = _check_out(args)
    from .report.analysis import analyze, jsonable, text_table
    from .store import write_json

    table = analyze(args.run, names=args.matrix or None, late=args.late, seed=args.seed, gas=not args.no_gas,
                    table="plain")
    _make_out(args, out)
    write_json(os.path.join(out, "summary.json"), jsonable({"run": os.path.abspath(args.run), "rows": table.rows,
                                                            "details": table.details, "late": args.late}))
    with open(os.path.join(out, "analysis.md"), "w") as fh:
        fh.write(table.to_markdown() + "\n")
    print(text_table(table.rows, table.columns))
    print(f"\n{len(table)} matri{'x' if len(table) == 1 else 'ces'}; wrote {out}/summary.json and analysis.md")
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
    import warnings

    from .sweeps import SweepWarning, check_sweep, sweep

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
    task, _ = check_sweep(args.task, grid, fixed, workers=args.workers, threads=args.threads)  # before any output
    out = _check_out(args, resumable="table.json")
    _make_out(args, out)
    with warnings.catch_warnings():  # the failures are reported below, one line each
        warnings.simplefilter("ignore", SweepWarning)
        table = sweep(task, grid, fixed=fixed, scheduler=args.scheduler, out=out, workers=args.workers,
                      threads=args.threads, progress=not args.quiet)
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

def _opt(*names, **kwargs):
    """One argparse argument as data: ``(names, add_argument keywords)``."""
    return names, kwargs


#: Flags that describe a CoulombGas (simulate and sample); None defaults let a flag given for
#: another potential be refused (:data:`_POTENTIAL_FLAGS`).
_GAS = (
    _opt("--n", type=int, default=10, help="number of eigenvalues (>= 2, default 10)"),
    _opt("--beta", type=float, default=1.0, help="Dyson index β > 0 (default 1)"),
    _opt("--potential", choices=("quadratic", "quartic", "laguerre"), default="quadratic",
         help="confining potential (default quadratic)"),
    _opt("--center", type=float, default=None, help="quadratic: centre (default 0)"),
    _opt("--width", default=None, help="quadratic: width > 0, or comma-separated per mode (default 1)"),
    _opt("--t", type=float, default=None, help="quartic: V = t x²/2 + g x⁴/4, t (default 1)"),
    _opt("--g-quartic", type=float, default=None, help="quartic: g > 0 (default 1)"),
    _opt("--laguerre-a", type=float, default=None, help="Laguerre: V = x/scale − a log x, a > 0"),
    _opt("--laguerre-scale", type=float, default=None, help="Laguerre: scale > 0"),
    _opt("--lr", type=float, default=None, help="SGD form: learning rate α > 0"),
    _opt("--batch-size", type=float, default=None, help="SGD form: batch size |B| > 0"),
    _opt("--noise-g", default=None, help="SGD form: noise g_i > 0, or comma-separated per mode (default 1)"),
)

#: Flags that describe a training run (train and compare); ``--models``' help differs.
_MODEL = (
    _opt("model", help="model name: " + ", ".join(MODEL_NAMES)),
    _opt("--lr", type=float, default=None, help="learning rate α > 0 (default: the paper's)"),
    _opt("--batch-size", type=int, default=None, help="batch size |B| >= 1 (default: the paper's)"),
)
_MODEL_RUN = (
    _opt("--steps", type=int, default=None, help="SGD updates per model >= 1"),
    _opt("--record-every", type=int, default=None, help="updates between recorded spectra"),
    _opt("--set", action="append", metavar="KEY=VALUE",
         help="any other parameter of the model, e.g. --set eps=0.05 (repeatable)"),
)

_SEED = (_opt("--seed", type=int, default=0, help="random seed (default 0)"),)
_QUIET = (_opt("--quiet", action="store_true", help="no progress bar"),)


def _out(out, resume=None):
    """--out, --force and --resume: the same on every subcommand that writes (see the module docstring)."""
    return (_opt("--out", default=out, help=f"output directory, new or empty (default: {out})"),
            _opt("--force", action="store_true", help="replace a non-empty --out"),
            _opt("--resume", action="store_true", help=resume or "refused: this subcommand has no interrupted "
                                                                 "run to continue (kept for uniformity)"))


def _run(out, resume=None):
    """--seed, --out, --force, --resume and --quiet: every randomised subcommand."""
    return _SEED + _out(out, resume) + _QUIET


def _commands():
    """The subcommands as data: name -> (function, help, description, arguments)."""
    from .bench import BENCHES  # a table of names (bench/__init__.py imports nothing heavy)

    return {
        "theory": (_cmd_theory, "draw the closed-form laws (surmises, exact spacings, gap ratios, two-mode "
                                "densities) into one figure", None,
                   _out("theory-out")),  # no --seed: nothing here is random
        "simulate": (
            _cmd_simulate, "integrate the eigenvalue SDE (Dyson Brownian motion)",
            "Integrate dx_i = [a K_i + c Σ w_j/(x_i − x_j)] dt + s_i dW_i for independent replicas; writes the "
            "trajectory, summary.json and figures.",
            _GAS + (_opt("--t-end", type=float, default=10.0, help="final time >= 0 (default 10)"),
                    _opt("--dt", type=float, default=1e-3, help="largest time step > 0 (default 1e-3)"),
                    _opt("--replicas", type=int, default=100, help="independent runs >= 1 (default 100)"),
                    _opt("--record-every", type=int, default=10, help="record every k steps (default 10)"),
                    _opt("--scheme", default="auto", help="auto | adaptive-heun | adaptive-euler | euler-maruyama"))
            + _run("simulate-out", "continue the run stored in OUT/trajectory.h5")),
        "sample": (
            _cmd_sample, "sample the stationary Coulomb gas (exact tridiagonal, MH or HMC)",
            "Draw from P_s ∝ Π|x_i − x_j|^β exp(−Σ a V_i/D_i); writes samples.npz, summary.json (acceptance, "
            "autocorrelation, ESS, R-hat) and figures.",
            _GAS + (_opt("--samples", type=int, default=4000, help="number of samples >= 1 (default 4000)"),
                    _opt("--method", default="auto", help="auto | tridiagonal | mh | hmc (default auto)"),
                    _opt("--chains", type=int, default=None, help="mh/hmc: Markov chains in parallel (default 4)"),
                    _opt("--warmup", type=int, default=None,
                         help="mh/hmc: warm-up iterations per chain (default 1000)"))
            + _run("sample-out")),
        "train": (
            _cmd_train, "train one of the papers' models with real SGD and harvest spectra",
            "Train an ensemble of independent models (teacher-student, ...) with mini-batch SGD; writes harvest.h5 "
            "(streamed: an interrupted run keeps its records and --resume continues it exactly), summary.json and "
            "figures.",
            _MODEL + (_opt("--models", type=int, default=None, help="independent models >= 1 (default: the "
                                                                     "paper's)"),) + _MODEL_RUN
            + _run("train-out", "continue the interrupted run in OUT/harvest.h5 (bit for bit)")),
        "compare": (
            _cmd_compare, "train a model, build its Coulomb gas, simulate, sample and compare",
            "The main job: train an ensemble, harvest spectra, measure drift and noise, integrate the eigenvalue "
            "SDE from the same initial spectra, sample the stationary gas, and write report.md (one row per "
            "check), summary.json and figures into --out. With --run RUN instead of MODEL: the same report for "
            "every matrix of a recorded run (a TorchRecorder file or a saved harvest).",
            (_opt("model", nargs="?", default=None, help="model name: " + ", ".join(MODEL_NAMES)
                  + " (or --run RUN)"),) + _MODEL[1:]
            + (_opt("--models", type=int, default=None,
                    help="independent models (default: a size that runs in about a minute)"),) + _MODEL_RUN
            + (_opt("--no-scan", action="store_true", help="skip the linear-scaling scan"),
               _opt("--datasets", type=int, default=0, metavar="K",
                    help="with shared data (--set data_seed=S): also train K other datasets and measure the "
                         "spread of <S> over datasets (default 0: the exact law's predicted spread only)"),
               _opt("--corrections", default="step", metavar="NAMES",
                    help="finite-lr corrections of the gas: step (default), pairs, wishart, drift2, all, or "
                         "continuum (the papers' lr -> 0 SDE); several joined by commas"),
               _opt("--run", default=None, metavar="RUN",
                    help="compare a recorded run instead of training: a TorchRecorder .h5, a saved harvest "
                         "(.npz/.h5) or a folder holding one"),
               _opt("--matrix", action="append", metavar="NAME",
                    help="with --run: a matrix to compare (repeatable; default: all)"))
            + _run("compare-out")),
        "analyze": (
            _cmd_analyze, "one row per weight matrix of a recorded run: spectrum, level statistics, dynamics",
            "Analyse a recorded run (a TorchRecorder .h5, a saved harvest, or a folder holding one): per matrix "
            "the Marchenko-Pastur bulk and outliers, <r> and beta, each mode's jitter, the effective temperature "
            "against lr/batch size, the drift/noise balance and the stationary Coulomb gas's spread; prints the "
            "table and writes summary.json and analysis.md into --out.",
            (_opt("run", metavar="RUN", help="recorded run: TorchRecorder .h5, harvest .npz/.h5, or a folder"),
             _opt("--matrix", action="append", metavar="NAME", help="a matrix to analyse (repeatable; default: all)"),
             _opt("--late", type=float, default=0.5, help="fraction of the run counted as late (default 0.5)"),
             _opt("--no-gas", action="store_true", help="do not sample the stationary Coulomb gas"))
            + _run("analyze-out")),
        "sweep": (
            _cmd_sweep, "a grid of train/simulate/sample/compare runs on Dask (local or a cluster)",
            "Run TASK at every point of the grid (Cartesian product of the --grid entries, plus --set values "
            "shared by all) as Dask tasks; writes one folder per point and table.csv/table.json; a rerun skips "
            "finished points.",
            (_opt("task", help="train | simulate | sample | compare"),
             _opt("--grid", action="append", metavar="KEY=V1,V2,...", help="a swept parameter (repeatable)"),
             _opt("--set", action="append", metavar="KEY=VALUE",
                  help="a parameter shared by every point, e.g. --set model=teacher-student (repeatable)"),
             _opt("--scheduler", default=None, help="tcp://HOST:PORT of a Dask scheduler (default: a local "
                                                    "cluster)"),
             _opt("--workers", type=int, default=2, help="worker processes of the local cluster (default 2)"),
             _opt("--threads", type=int, default=1, help="Numba threads per task (default 1)"),
             _opt("--seed", type=int, default=None, help="seed of every point (default 0); sweep seeds with "
                                                         "--grid seed=1,2,... instead"))
            + _out("sweep-out", "rerun into OUT: finished points are kept, the others run") + _QUIET),
        "bench": (
            _cmd_bench, "benchmarks side by side with plain NumPy (prints a table, writes JSON)", None,
            (_opt("what", choices=tuple(BENCHES),
                  help="; ".join(f"{name}: {entry[3]}" for name, entry in BENCHES.items())),)
            + _out("bench-out") + (_opt("--quick", action="store_true", help="small sizes only (a smoke run)"),)),
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="coulombgas",
        description="Eigenvalues of weight matrices during SGD as a Coulomb gas: closed-form theory, "
                    "Dyson Brownian motion, stationary samplers, real SGD training, theory-vs-training "
                    "reports, Dask sweeps, benchmarks.",
    )
    p.add_argument("--version", action="version", version=f"coulombgas {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (func, text, description, arguments) in _commands().items():
        command = sub.add_parser(name, help=text, description=description)
        for names, kwargs in arguments:
            command.add_argument(*names, **kwargs)
        command.set_defaults(func=func)
        command.set_defaults(flags=_flag_map(command, name))
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
    except KeyboardInterrupt as exc:
        # A streamed run answers Ctrl-C after committing its chunk (coulombgas.store.RunInterrupted).
        kept = (f"{exc.records} {exc.what} kept in {exc.path}; run the same command with --resume to continue"
                if hasattr(exc, "records") else "files written so far are kept")
        print(f"coulombgas {args.command}: interrupted: {kept}", file=sys.stderr)
        return 130


def _remove_created(args):
    """A refused run leaves nothing: remove the output folder this run created (never one that existed)."""
    created = getattr(args, "_created", None)
    if created and os.path.isdir(created):
        shutil.rmtree(created, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
