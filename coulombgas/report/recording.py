"""`compare` on any recording: the theory-against-training report for the user's own matrices.

:func:`compare_recording` is what ``cg.compare(recording)`` and
``coulombgas compare --run RUN`` do with a :class:`~coulombgas.training.TorchRecorder`,
what it returned or a saved file (:func:`coulombgas.report.analysis.harvests_of`):
for every matrix (or the ones named) it builds the Coulomb gas from the drift and
noise measured at the late records (:meth:`RecordedHarvest.drift_noise`,
:func:`~coulombgas.training.drift_noise.gas_from_harvest`), samples its stationary
law, integrates its eigenvalue SDE from the recorded initial spectrum, and writes the
same ``report.md`` (one table of checks per matrix, each row measured ± error,
predicted, statistic, verdict, as :class:`~coulombgas.report.comparison.Report`),
``summary.json`` and figures as ``coulombgas compare`` does for the papers' models.

Samples behind a check (SCIENCE.md §7): with stacked matrices (independent runs, the
models axis) the last record across runs; with one matrix, its late records, counted
by their effective sample size (records of one run are correlated in time).
The exact zeros of X for a rectangular W are left out. Verdicts as in
:mod:`coulombgas.report.comparison`: *agrees* when p ≥ ``level`` or |z| ≤ 3.

:func:`linear_scaling` is the check across several recordings of one network at
different (α, |B|): each mode's stationary spread is ∝ √(α/|B|) (SCIENCE.md §1).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import tempfile
import warnings

import numpy as np

from .. import _validate as v
from .. import spectra, theory
from ..store import write_json
from .analysis import analyze_harvest, harvests_of, jsonable, mode_spread, slice_modes, structural_zeros
from .comparison import Report
from .runs import publish

__all__ = ["compare", "compare_recording", "RecordingReport", "linear_scaling", "ScalingCheck", "is_recording"]

#: Fewest stacked runs for the checks that need independent samples (as :data:`comparison.MIN_MODELS`).
MIN_RUNS = 20


def is_recording(source) -> bool:
    """True for what :func:`compare_recording` takes: a recorder, a harvest (or dict/list of them), a path."""
    from ..training.harvest import Harvest
    from ..training.torch_hook import TorchRecorder

    if isinstance(source, (TorchRecorder, Harvest, os.PathLike)):
        return True
    if isinstance(source, dict):
        return bool(source) and all(isinstance(h, Harvest) for h in source.values())
    if isinstance(source, (list, tuple)):
        return bool(source) and all(isinstance(h, Harvest) for h in source)
    return False


@dataclasses.dataclass(eq=False)
class RecordingReport:
    """What :func:`compare_recording` found: one :class:`Report` per matrix, the summary, figure paths."""

    reports: dict
    summary: dict
    figures: list

    @property
    def checks(self) -> list:
        """Every check of every matrix, each with its ``matrix``."""
        return [dict(c, matrix=name) for name, r in self.reports.items() for c in r.checks]

    def to_markdown(self) -> str:
        parts = ["# coulombgas compare: recorded run", "",
                 f"{len(self.reports)} matrices: {', '.join(self.reports)}.", ""]
        for name, r in self.reports.items():
            body = r.to_markdown().split("\n", 1)[1]
            parts += [f"## {name}", body]
        return "\n".join(parts)


def _z(a, ea, b, eb):
    d = math.hypot(ea, eb)
    return float((a - b) / d) if d > 0 else float("inf") if a != b else 0.0


def _verdict_z(z):
    return "agrees" if abs(z) <= 3.0 else "differs"


def _samples(h, z, late):
    """(values (count, n), count per mode): independent runs' last record, or one run's late records."""
    sd, err, count, late_x = mode_spread(h, z, late)
    if h.models >= 2:
        return h.eigenvalues[:, -1, z:], np.full(h.n - z, float(h.models))
    return late_x[0], count


def _check_moments(values, count, other, other_count, name):
    rows = []
    m_h, m_o = values.mean(axis=0), other.mean(axis=0)
    sd_h, sd_o = values.std(axis=0, ddof=1), other.std(axis=0, ddof=1)
    e_h, e_o = sd_h / np.sqrt(count), sd_o / np.sqrt(other_count)
    with np.errstate(divide="ignore", invalid="ignore"):
        zm = (m_h - m_o) / np.hypot(e_h, e_o)
        zs = (sd_h - sd_o) / np.hypot(sd_h / np.sqrt(2 * np.maximum(count - 1, 1)),
                                      sd_o / np.sqrt(2 * np.maximum(other_count - 1, 1)))
    for label, zz, meas, pred, note in (
            ("mode means", zm, m_h, m_o, "late-time mean of every mode"),
            ("mode spreads", zs, sd_h, sd_o, "std of every mode (its jitter)")):
        finite = np.isfinite(zz)
        if not finite.any():
            continue
        worst = int(np.nanargmax(np.abs(np.where(finite, zz, np.nan))))
        rows.append({"check": f"{label}: recording vs {name}", "measured": meas, "error": None, "predicted": pred,
                     "statistic_name": "max |z|", "statistic": float(np.nanmax(np.abs(zz))),
                     "verdict": _verdict_z(zz[worst]), "note": f"{note}; largest deviation in mode {worst}"})
    return rows


def _simulate(gas, h, z, est, seed, replicas=200):
    """The gas's SDE from the recorded initial spectra, to the last recorded update."""
    from ..dynamics import simulate
    from ..training.drift_noise import quadratic_fit

    x0 = h.eigenvalues[:, 0, z:]
    ok = np.all(np.diff(x0, axis=-1) > 0, axis=-1)
    if not ok.any():
        raise ValueError("the initial spectra have coincident eigenvalues")
    x0 = x0[ok] if h.models >= 2 else np.repeat(x0[:1], replicas, axis=0)
    rate = float(est.lr * np.max(np.abs(quadratic_fit(est).slope)))
    spacing = float(np.gcd.reduce(np.diff(h.steps))) if h.records > 1 else 1.0
    sub = max(1, int(math.ceil(spacing * rate / 0.05)))
    traj = simulate(gas, float(h.steps[-1]), spacing / sub, x0=x0, replicas=len(x0), record_every=sub, seed=seed,
                    progress=False)
    idx = np.clip(np.searchsorted(traj.t, h.steps.astype(float) - 1e-9), 0, len(traj.t) - 1)
    return traj.x[:, idx]


def _check_pairs(final, pairs, stationary, ess, level):
    rows = []
    S = np.stack([final[:, j] - final[:, i] for i, j in pairs], axis=-1)
    s = (S / S.mean(axis=0)).ravel()
    gof = spectra.goodness_of_fit(s, theory.wigner_surmise(1), "ks")
    rows.append({"check": "Wigner surmise (β = 1) within degenerate pairs", "measured": float(np.mean(s**2)),
                 "error": float(np.std(s**2, ddof=1) / math.sqrt(s.size)), "predicted": 4 / math.pi,
                 "statistic_name": "KS p", "statistic": gof.pvalue,
                 "verdict": "agrees" if gof.pvalue >= level else "differs",
                 "note": f"{s.size} normalised spacings s = S/⟨S⟩; measured column is ⟨s²⟩ (surmise: 4/π)"})
    for k, (i, j) in enumerate(pairs):
        mean_S, err_S = float(S[:, k].mean()), float(S[:, k].std(ddof=1) / math.sqrt(len(S)))
        if stationary is not None:
            Sg = stationary[:, j] - stationary[:, i]
            zz = _z(mean_S, err_S, Sg.mean(), Sg.std(ddof=1) / math.sqrt(max(ess, 2)))
            rows.append({"check": f"⟨S⟩ of pair ({i},{j}): recording vs gas from drift/noise", "measured": mean_S,
                         "error": err_S, "predicted": float(Sg.mean()), "statistic_name": "z", "statistic": zz,
                         "verdict": _verdict_z(zz),
                         "note": "the gas's width comes from the measured drift slope and gradient noise alone"})
        pair = final[:, [i, j]]
        centre = float(pair.mean())
        flip = np.random.default_rng(0).choice([-1.0, 1.0], size=(len(pair), 1))  # the two mirror images
        runs = flip * (pair - centre)
        sd = float(runs.std())
        one = spectra.fit_density(runs, lambda x, a: theory.two_mode_density(a, a).pdf(x), [sd],
                                  bounds=[(1e-9 * sd, None)], blocks=min(20, len(runs)))
        pred, perr = math.sqrt(math.pi) * float(one.params[0]), math.sqrt(math.pi) * float(one.errors[0])
        zz = _z(mean_S, err_S, pred, perr)
        rows.append({"check": f"⟨S⟩ = √π σ for pair ({i},{j})", "measured": mean_S, "error": err_S,
                     "predicted": pred, "statistic_name": "z", "statistic": zz, "verdict": _verdict_z(zz),
                     "note": "σ of the equal-σ two-mode density fitted to the pair (ML, jackknife error)"})
    return rows


def _one_matrix(name, h, *, seed, level, late, workdir, prefix):
    from .. import plots
    from ..stationary import sample
    from ..training.drift_noise import gas_from_harvest
    from ..training.recording import RecordedHarvest

    z = structural_zeros(h)
    sub = dataclasses.replace(h, eigenvalues=h.eigenvalues[..., z:], singular_values=h.singular_values[..., z:])
    if isinstance(sub, RecordedHarvest):
        sub.stats = None
    checks, extra, figures = [], {"zeros": z}, []
    row, details = analyze_harvest(h, late=late, seed=seed, gas=False)
    extra["analysis"] = {k: val for k, val in row.items() if k != "matrix"}
    gas = est = stationary = sim = None
    ess = 0.0
    try:
        if not isinstance(h, RecordedHarvest):
            raise ValueError("a harvest without gradient statistics (record with TorchRecorder(loss_fn=...))")
        est = slice_modes(h.drift_noise(fraction=late), z)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gas = gas_from_harvest(sub, est)
    except ValueError as exc:
        checks.append({"check": "Coulomb gas from drift and noise", "measured": None, "predicted": None,
                       "statistic_name": "", "statistic": None, "verdict": "not built",
                       "note": f"no gas matches this recording: {exc}"})
    values, count = _samples(h, z, late)
    if gas is not None:
        draws = sample(gas, 4000, seed=seed + 2, progress=False)
        stationary = draws.x
        ess_modes = np.minimum(np.asarray(draws.diagnostics.get("ess", len(stationary)), dtype=float),
                               len(stationary))
        ess = float(np.min(ess_modes))
        extra.update(stationary_method=draws.method, stationary_ess_min=ess, gas=gas.to_dict(),
                     g=np.sqrt(est.g2.mean(axis=(0, 1))), goe_ratio=float(np.nanmean(est.goe_ratio)))
        checks += _check_moments(values, count, stationary, ess_modes, "stationary gas")
        try:
            sim = _simulate(gas, h, z, est, seed + 1)
            final_sim = sim[:, -1]
            checks += _check_moments(values, count, final_sim, np.full(final_sim.shape[1], float(len(final_sim))),
                                     "simulated SDE")
        except (ValueError, FloatingPointError, RuntimeError) as exc:
            checks.append({"check": "simulated SDE from the initial spectra", "measured": None, "predicted": None,
                           "statistic_name": "", "statistic": None, "verdict": "not run", "note": str(exc)})
    pairs = sub.degenerate_pairs(late) if h.models >= MIN_RUNS else []
    extra["degenerate_pairs"] = pairs
    if pairs:
        checks += _check_pairs(sub.final(), pairs, stationary, ess, level)
    elif h.models < MIN_RUNS:
        extra["pairs_note"] = (f"spacing checks need at least {MIN_RUNS} independent runs of the matrix (stack them "
                               f"with TorchRecorder.harvest([names])); this recording has {h.models}")
    steps = h.steps
    tag = prefix
    if sim is not None and h.models >= 2:
        figures.append(plots.trajectories_figure(os.path.join(workdir, f"{tag}trajectories.png"), steps,
                                                 sub.eigenvalues, sim))
    else:
        figures.append(plots.ensemble_paths_figure(os.path.join(workdir, f"{tag}trajectories.png"), steps,
                                                   sub.eigenvalues if h.models >= 2 else
                                                   np.concatenate([sub.eigenvalues, sub.eigenvalues]),
                                                   title=f"{name}: eigenvalues of X"))
    if stationary is not None:
        late_x = values[None] if h.models < 2 else sub.late(0.25)
        figures.append(plots.stationary_figure(os.path.join(workdir, f"{tag}stationary.png"), late_x, stationary))
    if pairs:
        S = np.stack([sub.final()[:, j] - sub.final()[:, i] for i, j in pairs], axis=-1)
        figures.append(plots.spacing_figure(os.path.join(workdir, f"{tag}spacings.png"), (S / S.mean(axis=0)).ravel(),
                                            title=f"{name}: normalised spacings in degenerate pairs"))
    summary = {"model": name, "seed": seed, "models": h.models, "diverged": 0, "lr": h.lr,
               "batch_size": h.batch_size, "steps": int(steps[-1]), "params": h.params, "checks": checks, **extra,
               "figures": [os.path.basename(f) for f in figures], "level": level}
    return Report(model=name, checks=checks, summary=summary, figures=figures, harvest=h, gas=gas)


def compare(model="teacher-student", *, out=None, seed=0, force: bool = False, progress: bool = True, scan: bool = True,
            level: float = 0.01, names=None, **params):
    """``cg.compare``: a model name trains and compares (:func:`coulombgas.report.comparison.compare`);
    a recording (a :class:`~coulombgas.training.TorchRecorder`, a harvest, a dict or list of them, or a
    path) is compared as recorded (:func:`compare_recording`, ``names`` picks matrices).

    Raises
    ------
    ValueError
        Training parameters (``**params``) or ``scan=False`` given with a recording, or
        ``names`` with a model name.
    """
    from .comparison import compare as compare_model

    if isinstance(model, (str, bytes)) and not os.path.exists(model):
        if names is not None:
            raise ValueError("`names` picks matrices of a recording; a model name trains its own")
        return compare_model(model, out=out, seed=seed, force=force, progress=progress, scan=scan, level=level,
                             **params)
    if not is_recording(model) and not isinstance(model, str):
        return compare_model(model, out=out, seed=seed, force=force, progress=progress, scan=scan, level=level,
                             **params)  # its own message for what is neither
    if params:
        raise ValueError(f"`{next(iter(params))}` is a training parameter; a recording is compared as it was "
                         "recorded")
    return compare_recording(model, names=names, out=out, seed=seed, force=force, level=level, progress=progress)


def compare_recording(source, *, names=None, out=None, seed=0, force: bool = False, level: float = 0.01,
                      late: float = 0.5, progress: bool = False) -> RecordingReport:
    """The comparison report of a recorded run, one section per matrix (module docstring).

    Parameters
    ----------
    source : TorchRecorder, Harvest, dict or list of Harvest, or path
        As :func:`coulombgas.analyze`.
    names : str or list of str, optional
        The matrices to compare (default: all).
    out : path, optional
        Folder for ``report.md``, ``summary.json`` and the figures (``<matrix>_*.png``);
        new or empty unless ``force``. Written whole at the end.
    seed : int
        Seeds the gas's sampler and SDE.
    level : float in (0, 1)
        p-value below which a check *differs*.
    late : float in (0, 1]
        Fraction of the run whose records count as late.

    Returns
    -------
    RecordingReport
    """
    seed = v.integer("seed", seed, minimum=0)
    force = v.flag("force", force)
    level = v.real("level", level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"`level` must be in (0, 1), got {level}")
    late = v.real("late", late)
    if not 0.0 < late <= 1.0:
        raise ValueError(f"`late` must be in (0, 1], got {late}")
    v.flag("progress", progress)
    if out is not None:
        out = os.fspath(out)
        if os.path.exists(out) and (not os.path.isdir(out) or (os.listdir(out) and not force)):
            raise ValueError(f"`out` {out!r} exists with other content; choose a new directory or pass force")
    found = harvests_of(source, names)
    workdir = tempfile.mkdtemp(prefix=".compare-", dir=os.path.dirname(os.path.abspath(out)) if out else None)
    try:
        reports, figures = {}, []
        for k, (name, h) in enumerate(found.items()):
            prefix = f"{k}_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] + "_"
            report = _one_matrix(name, h, seed=seed, level=level, late=late, workdir=workdir, prefix=prefix)
            reports[name] = report
            figures += report.figures
        summary = {"source": "recording", "matrices": {n: r.summary for n, r in reports.items()}, "seed": seed,
                   "level": level, "figures": [os.path.basename(f) for f in figures]}
        result = RecordingReport(reports=reports, summary=summary, figures=figures)
        write_json(os.path.join(workdir, "summary.json"), jsonable(summary))
        if out is None:
            with open(os.path.join(workdir, "report.md"), "w") as fh:
                fh.write(result.to_markdown())
            return result
        result.figures = publish(workdir, out, result.to_markdown(), figures)
        for r in reports.values():
            r.figures = [os.path.join(out, os.path.basename(f)) for f in r.figures]
        return result
    finally:
        if os.path.isdir(workdir):
            shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------ linear scaling across runs

@dataclasses.dataclass(frozen=True)
class ScalingCheck:
    """Jitter against α/|B| over several recordings (:func:`linear_scaling`).

    ``exponent`` γ ± ``exponent_err`` of jitter ∝ (α/|B|)^γ (linear scaling: γ = 1/2),
    ``z`` = (γ − 1/2)/error, ``rows`` one per run (median jitter over modes, and the
    line (α/|B|)^{1/2} through the geometric mean, ``fit``).
    """

    rows: list
    exponent: float
    exponent_err: float
    z: float
    modes: int

    @property
    def verdict(self) -> str:
        return "agrees" if abs(self.z) <= 3.0 else "differs"


def linear_scaling(sources, name=None, *, late: float = 0.5) -> ScalingCheck:
    """Linear-scaling check: each mode's jitter ∝ √(α/|B|) across recordings of one network.

    ``sources``: recordings (anything :func:`coulombgas.analyze` takes) of the same
    network at different (lr, batch_size), at least two values of α/|B|; ``name``: the
    matrix (default: the first recorded). Each mode i of run r has its jitter J_ri
    (:func:`~coulombgas.report.analysis.mode_spread`); with per-mode intercepts removed,
    log J_ri = a_i + γ log(α_r/|B_r|), γ is the least-squares slope over all (r, i), and
    its error the larger of the delete-one-mode jackknife and the residual scatter (modes
    of one matrix differ in scale, so only ratios between runs carry the law). Linear scaling (SCIENCE.md §1: Var ∝ α/|B|)
    predicts γ = 1/2.
    """
    if not isinstance(sources, (list, tuple)) or len(sources) < 2:
        raise ValueError("`sources` must list at least 2 recordings at different lr/batch_size")
    rows, logs = [], []
    for src in sources:
        found = harvests_of(src, None if name is None else [name])
        key = next(iter(found)) if name is None else name
        h = found[key]
        if h.lr is None or h.batch_size is None:
            raise ValueError(f"`sources`: recording of {key!r} has no lr/batch_size (give them to the recorder)")
        sd, err, _, _ = mode_spread(h, structural_zeros(h), late)
        rows.append({"matrix": key, "lr": h.lr, "batch_size": h.batch_size, "T": h.lr / h.batch_size,
                     "jitter": float(np.nanmedian(sd)) if np.any(np.isfinite(sd)) else float("nan")})
        logs.append(np.log(np.where(sd > 0, sd, np.nan)))
    sizes = {len(x) for x in logs}
    if len(sizes) != 1:
        raise ValueError("`sources` must be recordings of the same matrix (their mode counts differ)")
    Y = np.array(logs)  # (runs, modes)
    keep = np.all(np.isfinite(Y), axis=0)
    if keep.sum() < 2:
        raise ValueError("`sources` have fewer than 2 modes with a jitter in every run (too few late records)")
    Y = Y[:, keep]
    t = np.log([r["T"] for r in rows])
    if np.ptp(t) == 0:
        raise ValueError("`sources` must span at least 2 values of lr/batch_size")
    tc = t - t.mean()
    Yc = Y - Y.mean(axis=0)

    def slope(cols):
        return float((tc[:, None] * Yc[:, cols]).sum() / (len(cols) * (tc**2).sum()))

    modes = Y.shape[1]
    gamma = slope(np.arange(modes))
    loo = np.array([slope(np.delete(np.arange(modes), i)) for i in range(modes)])
    jack = float(math.sqrt((modes - 1) / modes * ((loo - loo.mean()) ** 2).sum()))
    # The residual scatter about the fit (runs × modes values, modes + 1 parameters): the jackknife
    # over a handful of modes can come out small by chance, so the larger of the two is quoted.
    resid = Yc - gamma * tc[:, None]
    dof = max(Y.size - modes - 1, 1)
    err = max(jack, float(math.sqrt((resid**2).sum() / dof / (modes * (tc**2).sum()))))
    base = float(np.exp(np.mean(np.log([r["jitter"] for r in rows])) - 0.5 * t.mean()))
    for r in rows:
        r["fit"] = base * math.sqrt(r["T"])
    return ScalingCheck(rows=rows, exponent=gamma, exponent_err=err, z=(gamma - 0.5) / err if err > 0 else
                        float("inf"), modes=int(modes))
