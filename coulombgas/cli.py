"""The ``coulombgas`` command: a thin argparse layer over the Python API.

Every computing subcommand takes ``--seed`` and ``--out DIR`` and writes its
figures and a machine-readable ``summary.json`` there. Bad input prints one
line on stderr and exits with status 2; a run that fails numerically exits 1.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

from . import __version__

__all__ = ["main"]


class _UsageError(Exception):
    """Raised for bad command-line values; reported as one line, exit 2."""


def _out_dir(path) -> str:
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise _UsageError(f"--out {path} exists and is not a directory")
    os.makedirs(path, exist_ok=True)
    return path


def _stream_path(out, name, resume):
    """Where a long run streams to (None without h5py: it is saved whole at the end)."""
    import importlib.util

    if importlib.util.find_spec("h5py") is None:
        return None
    path = os.path.join(out, name)
    if os.path.exists(path) and not resume:
        raise _UsageError(f"{path} exists: pass --resume to continue that run, or choose another --out")
    return path


# ------------------------------------------------------------------ theory

def _cmd_theory(args) -> int:
    from . import plots, theory
    from .io import write_json

    out = _out_dir(args.out)
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
    write_json(os.path.join(out, "summary.json"), summary)
    print(f"wrote {fig} and {os.path.join(out, 'summary.json')}")
    return 0


# ------------------------------------------------------------------ simulate

def _floats(name, text):
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise _UsageError(f"--{name} must be a number or comma-separated numbers, got {text!r}") from None
    return values[0] if len(values) == 1 else np.array(values)


def _gas_from_args(args):
    from .sweep import gas_from_params

    if (args.lr is None) != (args.batch_size is None):
        raise _UsageError("--lr and --batch-size go together (SGD form)")
    return gas_from_params(n=args.n, beta=args.beta, potential=args.potential, center=args.center,
                           width=_floats("width", args.width), t=args.t, g_quartic=args.g_quartic,
                           laguerre_a=args.laguerre_a, laguerre_scale=args.laguerre_scale, lr=args.lr,
                           batch_size=args.batch_size, noise_g=_floats("noise-g", args.noise_g))


def matching_law(gas):
    """(law, shift, label) of a closed-form one-point density for this gas, or None.

    * n = 2, β = 1, quadratic V_i with a common centre: the exact two-mode
      density with σ_i² = D_i/(2 a k_i) (SCIENCE.md §4);
    * a common quadratic potential: the large-n semicircle of radius √(n D β/(a k)).
    """
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
    from . import plots
    from .dynamics import simulate
    from .io import write_json

    gas = _gas_from_args(args)
    out = _out_dir(args.out)
    traj_path = _stream_path(out, "trajectory.h5", args.resume)
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
    write_json(os.path.join(out, "summary.json"), summary)
    print(f"simulated {args.replicas} replica(s) of n={gas.n} to t={args.t_end:g} in {elapsed:.2f} s; "
          f"wrote {out}/summary.json")
    return 0


# ------------------------------------------------------------------ sample

def _cmd_sample(args) -> int:
    from . import plots
    from .io import write_json
    from .stationary import sample

    gas = _gas_from_args(args)
    out = _out_dir(args.out)
    start = time.perf_counter()
    samples = sample(gas, args.samples, method=args.method, chains=args.chains, warmup=args.warmup,
                     seed=args.seed, progress=not args.quiet)
    elapsed = time.perf_counter() - start
    samples.save(os.path.join(out, "samples.npz"))
    figures = []
    matched = matching_law(gas)
    summary = {"gas": gas.to_dict(), "method": samples.method, "samples": samples.n_samples,
               "seed": args.seed, "seconds": elapsed, "diagnostics": samples.diagnostics,
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
    write_json(os.path.join(out, "summary.json"), summary)
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


def _model_kwargs(func, args) -> dict:
    import inspect

    allowed = inspect.signature(func).parameters
    kwargs = {k: getattr(args, k) for k in ("lr", "batch_size", "models", "steps", "record_every")
              if getattr(args, k) is not None}
    extra = _parse_set(args.set)
    for key in extra:
        if key not in allowed or key in ("out", "resume", "progress", "seed"):
            options = sorted(k for k in allowed if k not in ("out", "resume", "progress", "seed"))
            raise _UsageError(f"--set {key}: not a parameter of this model; choose from {', '.join(options)}")
    kwargs.update(extra)
    return kwargs


def train_report(harvest, out: str, *, seconds: float | None = None) -> dict:
    """Figures and summary numbers of a harvest, written into ``out`` (shared with ``compare``)."""
    from . import plots, spectra, theory
    from .io import write_json
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
    write_json(os.path.join(out, "summary.json"), summary)
    return summary


def _cmd_train(args) -> int:
    from .training import get_model

    func = get_model(args.model)
    kwargs = _model_kwargs(func, args)
    out = _out_dir(args.out)
    path = _stream_path(out, "harvest.h5", args.resume)
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
    from .compare import compare
    from .training import get_model

    kwargs = _model_kwargs(get_model(args.model), args)
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
    from .sweep import sweep

    grid, fixed = _parse_grid(args.grid), _parse_set(args.set)
    if "seed" not in grid:
        fixed.setdefault("seed", args.seed)
    table = sweep(args.task, grid, fixed=fixed, scheduler=args.scheduler,
                  out=args.out, workers=args.workers, threads=args.threads, progress=not args.quiet)
    failed = [row for row in table if row.get("status") != "ok"]
    print(f"{len(table)} point(s), {len(failed)} failed; wrote {args.out}/table.csv and table.json")
    for row in failed:
        print(f"  point {row['point']}: {row.get('error')}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ bench

def _cmd_bench(args) -> int:
    from .bench import run_bench

    return run_bench(args.what, out=args.out, quick=args.quick)


# ------------------------------------------------------------------ parser

def _add_gas_arguments(p):
    """Flags that describe a CoulombGas (shared by simulate and sample)."""
    p.add_argument("--n", type=int, default=10, help="number of eigenvalues (>= 2, default 10)")
    p.add_argument("--beta", type=float, default=1.0, help="Dyson index β > 0 (default 1)")
    p.add_argument("--potential", choices=("quadratic", "quartic", "laguerre"), default="quadratic",
                   help="confining potential (default quadratic)")
    p.add_argument("--center", type=float, default=0.0, help="quadratic: centre (default 0)")
    p.add_argument("--width", default="1.0", help="quadratic: width > 0, or comma-separated per mode")
    p.add_argument("--t", type=float, default=1.0, help="quartic: V = t x²/2 + g x⁴/4, t (default 1)")
    p.add_argument("--g-quartic", type=float, default=1.0, help="quartic: g > 0 (default 1)")
    p.add_argument("--laguerre-a", type=float, default=1.0, help="Laguerre: V = x/scale − a log x, a > 0")
    p.add_argument("--laguerre-scale", type=float, default=1.0, help="Laguerre: scale > 0")
    p.add_argument("--lr", type=float, default=None, help="SGD form: learning rate α > 0")
    p.add_argument("--batch-size", type=float, default=None, help="SGD form: batch size |B| > 0")
    p.add_argument("--noise-g", default="1.0", help="SGD form: noise g_i > 0, or comma-separated per mode")


def _add_model_arguments(p, models_help):
    """Flags that describe a training run (shared by train and compare)."""
    p.add_argument("model", help="model name: " + ", ".join(_model_names()))
    p.add_argument("--lr", type=float, default=None, help="learning rate α > 0 (default: the paper's)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size |B| >= 1 (default: the paper's)")
    p.add_argument("--models", type=int, default=None, help=models_help)
    p.add_argument("--steps", type=int, default=None, help="SGD updates per model >= 1")
    p.add_argument("--record-every", type=int, default=None, help="updates between recorded spectra")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any other parameter of the model, e.g. --set eps=0.05 (repeatable)")


def _add_run_arguments(p, out):
    """--seed, --out and --quiet, shared by every computing subcommand."""
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=out, help=f"output directory (default: {out})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _model_names():
    from .training import MODELS

    return list(MODELS)


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
    t.add_argument("--out", default="theory-out", help="output directory (default: theory-out)")
    t.add_argument("--seed", type=int, default=0, help="unused (no randomness); accepted for uniformity")
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
    _add_run_arguments(s, "simulate-out")
    s.add_argument("--resume", action="store_true", help="continue the run stored in OUT/trajectory.h5")
    s.set_defaults(func=_cmd_simulate)

    m = sub.add_parser("sample", help="sample the stationary Coulomb gas (exact tridiagonal, MH or HMC)",
                       description="Draw from P_s ∝ Π|x_i − x_j|^β exp(−Σ a V_i/D_i); writes samples.npz, "
                                   "summary.json (acceptance, autocorrelation, ESS, R-hat) and figures.")
    _add_gas_arguments(m)
    m.add_argument("--samples", type=int, default=4000, help="number of samples >= 1 (default 4000)")
    m.add_argument("--method", default="auto", help="auto | tridiagonal | mh | hmc (default auto)")
    m.add_argument("--chains", type=int, default=4, help="Markov chains in parallel (default 4)")
    m.add_argument("--warmup", type=int, default=None, help="warm-up iterations per chain (default 1000)")
    _add_run_arguments(m, "sample-out")
    m.set_defaults(func=_cmd_sample)

    t = sub.add_parser("train", help="train one of the papers' models with real SGD and harvest spectra",
                       description="Train an ensemble of independent models (teacher-student, ...) with "
                                   "mini-batch SGD; writes harvest.h5 (streamed: an interrupted run keeps its "
                                   "records and --resume continues it exactly), summary.json and figures.")
    _add_model_arguments(t, "independent models >= 1 (default: the paper's)")
    _add_run_arguments(t, "train-out")
    t.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser("compare", help="train a model, build its Coulomb gas, simulate, sample and compare",
                       description="The main job: train an ensemble, harvest spectra, measure drift and noise, "
                                   "integrate the eigenvalue SDE from the same initial spectra, sample the "
                                   "stationary gas, and write report.md (one row per check), summary.json and "
                                   "figures into --out.")
    _add_model_arguments(c, "independent models (default: a size that runs in about a minute)")
    c.add_argument("--no-scan", action="store_true", help="skip the linear-scaling scan")
    _add_run_arguments(c, "compare-out")
    c.add_argument("--force", action="store_true", help="replace an existing, non-empty --out")
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
    w.add_argument("--seed", type=int, default=0, help="seed of every point (default 0); sweep seeds with "
                                                       "--grid seed=1,2,... instead")
    w.add_argument("--out", default="sweep-out", help="output directory (default: sweep-out)")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=_cmd_sweep)

    b = sub.add_parser("bench", help="benchmarks side by side with plain NumPy (prints a table, writes JSON)")
    b.add_argument("what", choices=("dynamics", "stationary", "training", "sweep", "gpu"),
                   help="dynamics: forces, SDE steps, ensembles; stationary: exact and Monte Carlo samplers; "
                        "training: the papers' models vs NumPy loops; sweep: Dask speed-up, 2 workers vs 1; "
                        "gpu: CUDA kernels vs CPU and full-size estimates")
    b.add_argument("--out", default="bench-out", help="output directory for bench.json (default: bench-out)")
    b.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    b.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv=None) -> int:
    """Entry point of the ``coulombgas`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (_UsageError, ValueError, TypeError) as exc:
        print(f"coulombgas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:
        print(f"coulombgas {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"coulombgas {args.command}: interrupted; files written so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
