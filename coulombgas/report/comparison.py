"""The main job: train a model, build its Coulomb gas, and say where theory and training agree.

This module holds :func:`compare` (``cg.compare``, ``coulombgas compare``) and its
:class:`Report`; :mod:`coulombgas.report.runs` holds the reports of single runs.

Pipeline of :func:`compare` (SCIENCE.md §7):

1. train an ensemble of independent models with real SGD and harvest the
   eigenvalues of X = WᵀW (:mod:`coulombgas.training`);
2. measure drift K_i and noise g_i per mode from per-sample gradients in the
   eigenbasis of X and build the matching :class:`~coulombgas.CoulombGas`
   (:func:`coulombgas.training.drift_noise.gas_from_harvest`);
3. integrate that gas's eigenvalue SDE from the harvest's initial spectra
   (:func:`coulombgas.simulate`) and sample its stationary law
   (:func:`coulombgas.sample`);
4. compare, each check a row of measured ± error, predicted, statistic and
   verdict: Wigner surmise within degenerate pairs, the two-mode density
   (σ₁ ≠ σ₂ against σ₁ = σ₂), ⟨S⟩ = √π σ, the gas's stationary ⟨S⟩ and
   widths against the late harvest, the simulated against the harvested
   late-time mean and spread, and the linear scaling rule over a small scan
   of (α, |B|) (and ε where the model injects noise).

Verdicts: a check *agrees* when its p-value is at least ``level`` (0.01) or its
|z| is at most 3; otherwise it *differs*. Records within one model are
correlated in time, so statistics use one record per model (the last)
unless stated.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import tempfile
from typing import Any

import numpy as np
import scipy.stats

from .. import _validate as v
from .. import spectra, theory
from ..store import write_json
from ._verdicts import fmt, pm, progress_bar, verdict_p, verdict_z, zscore
from .model_checks import EXTRA_CHECKS, LINEAR_MODELS, linear_checks
from .runs import JSON_ARRAY_LIMIT, publish

__all__ = ["compare", "Report", "MODEL_DEFAULTS", "MIN_MODELS", "check_compare_params", "harvest_model_cli"]

#: Per-model defaults of ``compare`` that finish in about a minute on two cores.
MODEL_DEFAULTS = {
    "teacher-student": {"models": 1000, "steps": 5000, "record_every": 25},
    "hidden-layer": {"models": 1000, "steps": 5000, "record_every": 25},
    "rbm": {"models": 200, "steps": 40000, "record_every": 400},
    "phase-network": {"models": 20, "steps": 20000, "record_every": 200},
}

#: Settings of the linear-scaling scan: factors applied to (lr, batch_size) and, for models
#: that inject noise, to eps.
_SCAN = ((1.0, 1.0, 1.0), (2.0, 1.0, 1.0), (3.0, 1.0, 1.0), (1.0, 0.25, 1.0), (1.0, 0.5, 1.0), (1.0, 2.0, 1.0),
         (1.0, 4.0, 1.0), (1.0, 1.0, 0.5), (1.0, 1.0, 0.75))


#: Models whose noise must stay small for the pairs not to overlap scan only towards less noise
#: (larger |B|); their relaxation also slows with α, so α is kept.
_MODEL_SCANS = {"rbm": ((1.0, 1.0, 1.0), (1.0, 2.0, 1.0), (1.0, 4.0, 1.0))}

#: Fewest models a comparison accepts: its statistics use one record per model.
MIN_MODELS = 20


@dataclasses.dataclass(eq=False)
class Report:
    """What :func:`compare` found: ``checks`` (one dict per row), ``summary`` and figure paths."""

    model: str
    checks: list[dict]
    summary: dict
    figures: list[str]
    harvest: Any = None
    gas: Any = None

    def to_markdown(self) -> str:
        """The report as Markdown: a table with one row per check, then the parameters."""
        lines = [f"# coulombgas compare: {self.model}", "",
                 f"{self.summary['models']} models trained ({self.summary['diverged']} diverged), "
                 f"α = {self.summary['lr']:g}, |B| = {self.summary['batch_size']}, "
                 f"{self.summary['steps']} updates, seed {self.summary['seed']}.", "",
                 "| check | measured | predicted | statistic | verdict |", "| --- | --- | --- | --- | --- |"]
        for c in self.checks:
            cells = [c["check"], pm(c.get("measured"), c.get("error")), fmt(c.get("predicted")),
                     f"{c.get('statistic_name', '')} {fmt(c.get('statistic'))}", f"**{c['verdict']}**"]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines += ["", "Verdict: *agrees* when p ≥ 0.01 or |z| ≤ 3; statistics use one record per model "
                      "(the last) unless the check says otherwise.", ""]
        for c in self.checks:
            if c.get("note"):
                lines.append(f"- **{c['check']}**: {c['note']}")
        lines += ["", "Figures: " + ", ".join(f"`{os.path.basename(f)}`" for f in self.figures), ""]
        return "\n".join(lines)


def check_compare_params(model, params: dict):
    """The one parameter check (:func:`coulombgas.training.registry.check_params`) with the defaults
    and the smallest ensemble of a comparison; returns ``(func, module, kwargs, seed)``."""
    from ..training.registry import check_params

    defaults = MODEL_DEFAULTS.get(model, {}) if isinstance(model, str) else {}
    return check_params(model, params, defaults=defaults, min_models=MIN_MODELS)


def compare(model: str = "teacher-student", *, out=None, seed=0, force: bool = False, progress: bool = True,
            scan: bool = True, level: float = 0.01, datasets: int = 0, corrections="step", **params) -> Report:
    """Train ``model``, build its Coulomb gas, simulate and sample it, and compare (module docstring).

    Parameters
    ----------
    model : str
        A name in :data:`coulombgas.training.MODELS` (``"teacher-student"``, …).
    out : path, optional
        Report directory: ``report.md``, ``summary.json``, figures and ``harvest.npz``.
        It must not exist or be empty, unless ``force``; it is written whole at the end
        (built in a temporary directory beside it), so a failed run leaves nothing half-written.
    seed : int
        Seeds training, simulation, sampling and the scan.
    scan : bool
        Run the small linear-scaling scan (several (α, |B|) settings at reduced size).
    level : float in (0, 1)
        p-value below which a check *differs*.
    datasets : int >= 0
        Linear models with shared data (``data_seed``): also train this many other datasets
        (``data_seed`` + 1, …; at most 400 models each) and measure the spread of ⟨S⟩ over
        datasets, beside the spread the exact law predicts (0: the prediction only).
    corrections : str or sequence of str
        Finite-α corrections of the gas built from the harvest
        (:func:`coulombgas.training.drift_noise.gas_from_harvest`): ``"step"`` (default: each
        mode's stationary variance × 1/(1 − α|K′_i|/2), the exact AR(1) factor), ``"pairs"``,
        ``"wishart"``, ``"drift2"``, a list of them, ``"all"``, or ``"continuum"`` (the α → 0 SDE
        of the papers).
    **params
        Parameters of the model's training function (``lr``, ``batch_size``, ``models``,
        ``steps``, ``record_every`` and the model's own); defaults from :data:`MODEL_DEFAULTS`.

    Returns
    -------
    Report
    """
    from ..stationary import sample
    from ..training.registry import degenerate_pairs

    func, module, kwargs, _ = check_compare_params(model, params)  # names, values, memory: before any work
    seed = v.integer("seed", seed, minimum=0)
    force = v.flag("force", force)
    level = v.real("level", level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"`level` must be in (0, 1), got {level}")
    if out is not None:
        out = os.fspath(out)
        if os.path.exists(out) and (not os.path.isdir(out) or (os.listdir(out) and not force)):
            raise ValueError(f"`out` {out!r} exists with other content; choose a new directory or pass force")
    progress = v.flag("progress", progress)
    scan = v.flag("scan", scan)
    datasets = v.integer("datasets", datasets, minimum=0)
    from ..training.finite_lr import parse_corrections
    parse_corrections(corrections)  # a bad name fails before training

    _stage(progress, f"training {kwargs.get('models')} {model} models")
    harvest = func(seed=seed, progress=progress, **kwargs)
    if harvest.models < MIN_MODELS:
        raise ValueError(f"only {harvest.models} models stayed finite ({len(harvest.diverged_ids)} diverged); "
                         f"a comparison needs at least {MIN_MODELS}: lower lr or raise models")
    workdir = tempfile.mkdtemp(prefix=".compare-", dir=os.path.dirname(os.path.abspath(out)) if out else None)
    try:
        checks, figures, extra = [], [], {}
        pairs = degenerate_pairs(harvest)

        extra["seed"] = seed
        gas, sim, stationary = None, None, None
        try:
            _stage(progress, "drift and noise from per-sample gradients")
            gas = _matching_gas(harvest, module, extra, corrections)
        except ValueError as exc:  # e.g. no gradient noise left at a noiseless teacher's solution
            checks.append({"check": "Coulomb gas from drift and noise", "measured": None, "predicted": None,
                           "statistic_name": "", "statistic": None, "verdict": "not built",
                           "note": f"no gas matches this run: {exc}"})
        if gas is not None:
            _stage(progress, "integrating the matching gas's eigenvalue SDE from the initial spectra")
            sim = _simulate_from_harvest(gas, harvest, seed + 1, progress)
            _stage(progress, "sampling the stationary gas")
            draws = sample(gas, 4000, seed=seed + 2, progress=progress)
            stationary = draws.x
            ess = np.asarray(draws.diagnostics.get("ess", len(stationary)), dtype=float)
            extra["stationary_method"] = draws.method
            extra["stationary_ess_min"] = float(min(np.min(ess), len(stationary)))
            checks += _check_means(harvest, sim, stationary, np.minimum(ess, len(stationary)))
        if pairs:
            _stage(progress, "spacing and two-mode density checks")
            checks += _check_pairs(harvest, pairs, sim, stationary, gas, level, extra)
        checks += EXTRA_CHECKS.get(model, lambda h, e: [])(harvest, extra)
        if model in LINEAR_MODELS and harvest.weights is not None:
            _stage(progress, "exact finite-α law of the linear model")
            checks += linear_checks(harvest, extra, func, kwargs, datasets, seed, progress)
        scan_rows = []
        if scan and pairs:
            scan_rows = _scaling_scan(func, kwargs, harvest, pairs, seed, progress)
            checks += _check_scaling(scan_rows, level)
        extra["scan"] = scan_rows

        _stage(progress, "figures and report")
        figures += _figures(workdir, harvest, sim, stationary, pairs, extra, scan_rows)
        summary = {
            "model": model, "seed": seed, "models": harvest.models + len(harvest.diverged_ids),
            "diverged": int(len(harvest.diverged_ids)), "lr": harvest.lr, "batch_size": harvest.batch_size,
            "steps": int(harvest.steps[-1]), "params": harvest.params, "degenerate_pairs": pairs,
            "checks": checks, **extra, "figures": [os.path.basename(f) for f in figures],
            "harvest": "harvest.npz", "level": level,
        }
        summary["gas"] = gas.to_dict() if gas is not None else None
        report = Report(model=model, checks=checks, summary=summary, figures=figures, harvest=harvest, gas=gas)
        harvest.save(os.path.join(workdir, "harvest.npz"))
        write_json(os.path.join(workdir, "summary.json"), _summary_for_json(summary, workdir))
        if out is None:
            with open(os.path.join(workdir, "report.md"), "w") as fh:
                fh.write(report.to_markdown())
            return report
        report.figures = publish(workdir, out, report.to_markdown(), figures)
        return report
    finally:
        if os.path.isdir(workdir):
            shutil.rmtree(workdir, ignore_errors=True)


def _stage(progress, message):
    """One line on stderr as a stage starts (the stages between the progress bars)."""
    if progress:
        print(f"compare: {message} ...", file=sys.stderr, flush=True)


#: Fields of a check in ``summary.json``: each has one type, whatever the check.
#: ``measured``/``error``/``predicted``: lists of numbers (empty when the check has none);
#: ``statistic``: a number or null; ``*_text``: the cell as the report prints it.
_NUMERIC_FIELDS = ("measured", "error", "predicted")


def _json_check(c):
    """A check with one schema per field (see ``_NUMERIC_FIELDS``)."""
    out = {"check": c["check"]}
    for key in _NUMERIC_FIELDS:
        value = c.get(key)
        numeric = value is not None and not isinstance(value, str)
        out[key] = [float(y) for y in np.ravel(value)] if numeric else []
    out["measured_text"] = pm(c.get("measured"), c.get("error"))
    out["predicted_text"] = fmt(c.get("predicted"))
    stat = c.get("statistic")
    out["statistic_name"] = c.get("statistic_name", "")
    out["statistic"] = float(stat) if stat is not None and not isinstance(stat, str) else None
    out["statistic_text"] = fmt(stat)
    out["verdict"] = c["verdict"]
    out["note"] = c.get("note", "")
    return out


def _summary_for_json(summary, workdir):
    """``summary`` with one schema per check field and its large arrays moved to ``arrays.npz``."""
    out = dict(summary)
    out["checks"] = [_json_check(c) for c in summary["checks"]]
    large = {}
    for key, value in summary.items():
        if key != "checks" and isinstance(value, np.ndarray) and value.size > JSON_ARRAY_LIMIT:
            large[key] = value
            out[key] = {"npz": "arrays.npz", "key": key, "shape": list(value.shape)}
    if large:
        np.savez(os.path.join(workdir, "arrays.npz"), **large)
    return out


def _matching_gas(harvest, module, extra, corrections="step"):
    """(b) Drift and noise from per-sample gradients (a subset of models, consecutive late
    records: with a fixed dataset swept in order a converged model repeats itself every
    epoch, so records an epoch apart carry no new information), then the matching gas."""
    from functools import partial

    from ..training.drift_noise import estimate_drift_noise, gas_from_harvest

    weights = harvest.weights
    size = int(np.prod(weights.shape[2:])) if weights is not None else 1
    models = min(harvest.models, 200 if size <= 16 else 16)
    sub = harvest.select(np.arange(models))
    recs = np.arange(max(harvest.records // 2, harvest.records - 6), harvest.records)
    # Per-sample gradients take models × samples × m × k floats: cap them near 1e8 bytes.
    samples = max(64, int(1.2e7 // (models * size)))
    dataset = harvest.params.get("batch_size", 1) * harvest.params.get("epoch_batches", 0)
    samples = min(samples, dataset) if dataset else samples
    est = estimate_drift_noise(sub, partial(module.per_sample_gradients, samples=samples), records=recs)
    extra["drift_noise_models"] = models
    extra["drift_noise_samples"] = int(est.samples)
    extra["goe_ratio"] = float(np.nanmean(est.goe_ratio))
    extra["g"] = np.sqrt(est.g2.mean(axis=(0, 1)))
    extra["gas_corrections"] = corrections
    return gas_from_harvest(sub, est, corrections=corrections)


def _simulate_from_harvest(gas, harvest, seed, progress=False):
    """(c) The SDE from the harvest's initial spectra, recorded at the harvest's updates."""
    from ..dynamics import simulate

    x0 = harvest.eigenvalues[:, 0]
    ok = np.all(np.diff(x0, axis=-1) > 0, axis=-1)
    spacing = float(np.gcd.reduce(np.diff(harvest.steps))) if harvest.records > 1 else 1.0
    # Resolve the fastest relaxation: dt ≤ 0.05/rate, rate = max_i |∂(drift_i)/∂x_i| at the late mean.
    rate = _stiffness(gas, harvest.late(0.5).mean(axis=(0, 1)))
    sub_steps = max(1, int(math.ceil(spacing * rate / 0.05)))
    traj = simulate(gas, float(harvest.steps[-1]), spacing / sub_steps, x0=x0[ok], replicas=int(ok.sum()),
                    record_every=sub_steps, seed=seed, progress=progress)
    idx = np.clip(np.searchsorted(traj.t, harvest.steps.astype(float) - 1e-9), 0, len(traj.t) - 1)
    return traj.x[:, idx]


def _stiffness(gas, x):
    """Largest |∂ drift_i/∂ x_i| of the gas at the spectrum x (central differences)."""
    h = 1e-6 * max(1.0, float(np.abs(x).max()))
    rates = []
    for i in range(len(x)):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        rates.append(abs(gas.drift(up)[i] - gas.drift(down)[i]) / (2 * h))
    return max(rates)


def _check_means(harvest, sim, stationary, stationary_ess):
    """Late-time mean of every mode: harvest vs simulated SDE vs stationary gas.

    Errors: independent models and replicas; Markov-chain draws count by their effective
    sample size per mode (``stationary_ess``; the draws themselves for exact samples).
    """
    rows = []
    h = harvest.final()
    s = sim[:, -1]
    for name, other, count, label in (("simulated SDE", s, len(s), "final record"),
                                      ("stationary gas", stationary, stationary_ess, "samples")):
        m_h, e_h = h.mean(axis=0), h.std(axis=0, ddof=1) / math.sqrt(len(h))
        m_o, e_o = other.mean(axis=0), other.std(axis=0, ddof=1) / np.sqrt(count)
        z = (m_h - m_o) / np.hypot(e_h, e_o)
        worst = int(np.argmax(np.abs(z)))
        rows.append({"check": f"mode means: harvest vs {name}", "measured": m_h, "error": None,
                     "predicted": m_o, "statistic_name": "max |z|", "statistic": float(np.abs(z).max()),
                     "verdict": verdict_z(z[worst]),
                     "note": f"largest deviation in mode {worst}; {label}; z uses the standard errors of both"})
        sd_h, sd_o = h.std(axis=0, ddof=1), other.std(axis=0, ddof=1)
        # Standard error of a standard deviation (normal approximation): sd/√(2(N−1)).
        z = (sd_h - sd_o) / np.hypot(sd_h / math.sqrt(2 * (len(h) - 1)), sd_o / np.sqrt(2 * (count - 1)))
        worst = int(np.argmax(np.abs(z)))
        rows.append({"check": f"mode spreads: harvest vs {name}", "measured": sd_h, "error": None,
                     "predicted": sd_o, "statistic_name": "max |z|", "statistic": float(np.abs(z).max()),
                     "verdict": verdict_z(z[worst]), "note": f"std over models; largest deviation in mode {worst}"})
    return rows


def _pair_spacings(x, pairs):
    return np.stack([x[..., j] - x[..., i] for i, j in pairs], axis=-1)


def _check_pairs(harvest, pairs, sim, stationary, gas, level, extra):
    rows = []
    final = harvest.final()
    S = _pair_spacings(final, pairs)  # (models, pairs)
    s = (S / S.mean(axis=0)).ravel()
    gof = spectra.goodness_of_fit(s, theory.wigner_surmise(1), "ks")
    rows.append({"check": "Wigner surmise (β = 1) within degenerate pairs", "measured": float(np.mean(s**2)),
                 "error": float(np.std(s**2, ddof=1) / math.sqrt(s.size)), "predicted": 4 / math.pi,
                 "statistic_name": "KS p", "statistic": gof.pvalue, "verdict": verdict_p(gof.pvalue, level),
                 "note": f"{s.size} normalised spacings s = S/⟨S⟩; measured column is ⟨s²⟩ (surmise: 4/π)"})
    # ⟨S⟩ of the harvest against the stationary gas built from drift and noise.
    Sg = _pair_spacings(stationary, pairs) if stationary is not None else None
    for k, (i, j) in enumerate(pairs if Sg is not None else []):
        z = zscore(S[:, k].mean(), S[:, k].std(ddof=1) / math.sqrt(len(S)), Sg[:, k].mean(),
                    Sg[:, k].std(ddof=1) / math.sqrt(extra.get("stationary_ess_min", len(Sg))))
        rows.append({"check": f"⟨S⟩ of pair ({i},{j}): harvest vs gas from drift/noise", "measured": S[:, k].mean(),
                     "error": S[:, k].std(ddof=1) / math.sqrt(len(S)), "predicted": float(Sg[:, k].mean()),
                     "statistic_name": "z", "statistic": z, "verdict": verdict_z(z),
                     "note": "the gas's width comes from the measured drift slope and gradient noise alone"})
    # Two-mode density: σ₁ ≠ σ₂ against σ₁ = σ₂, per pair, on the last record (independent models).
    # The papers' ρ(x) averages the two mirror images of the ordered pair (SCIENCE.md §4); a
    # random mirror per model (x₁, x₂) → (−x₂, −x₁) does that without counting any model twice.
    flip = np.random.default_rng(extra.get("seed", 0)).choice([-1.0, 1.0], size=(len(final), 1))
    fits = []
    for k, (i, j) in enumerate(pairs):
        pair = final[:, [i, j]]
        centre = float(pair.mean())
        runs = flip * (pair - centre)
        blocks = min(20, len(runs))
        sd = float(runs.std())
        two = spectra.fit_density(runs, lambda x, a, b: theory.two_mode_density(a, b).pdf(x), [0.8 * sd, 1.2 * sd],
                                  bounds=[(1e-9 * sd, None), (1e-9 * sd, None)], blocks=blocks)
        one = spectra.fit_density(runs, lambda x, a: theory.two_mode_density(a, a).pdf(x), [sd],
                                  bounds=[(1e-9 * sd, None)], blocks=blocks)
        # Likelihood ratio (nll is per sample); χ²₁ under σ₁ = σ₂ (the two modes of a model are
        # correlated by their repulsion, so treat the threshold as approximate).
        lr_stat = 2.0 * (one.nll - two.nll) * two.samples
        # The equal-σ model is nested in the two-component one, so 2Δlog L >= 0; when the fits
        # coincide, what is left is the optimisers' rounding (measured ±2e-12, which changed
        # from run to run with the memory alignment of BLAS's inputs): below 1e-6 it is 0.
        lr_stat = 0.0 if lr_stat < 1e-6 else lr_stat
        better = "two-component" if lr_stat > scipy.stats.chi2.isf(level, 1) else "equal-σ suffices"
        sig = np.sort(two.params)
        fits.append({"pair": (i, j), "sigma": sig, "sigma_err": two.errors, "sigma_equal": float(one.params[0]),
                     "sigma_equal_err": float(one.errors[0]), "centre": float(centre), "lr_stat": float(lr_stat)})
        rows.append({"check": f"two-mode density of pair ({i},{j}): σ₁, σ₂", "measured": sig, "error": None,
                     "predicted": f"σ₁ = σ₂ = {one.params[0]:.4g}", "statistic_name": "2Δ log L",
                     "statistic": float(lr_stat), "verdict": better,
                     "note": f"ML fits to the mirrored final eigenvalues of the pair (jackknife errors "
                             f"{fmt(two.errors)}); 2Δlog L is large when the two-component form fits better"})
        mean_S = float(S[:, k].mean())
        z = zscore(mean_S, S[:, k].std(ddof=1) / math.sqrt(len(S)), math.sqrt(math.pi) * one.params[0],
                    math.sqrt(math.pi) * one.errors[0])
        rows.append({"check": f"⟨S⟩ = √π σ for pair ({i},{j})", "measured": mean_S,
                     "error": float(S[:, k].std(ddof=1) / math.sqrt(len(S))),
                     "predicted": math.sqrt(math.pi) * float(one.params[0]), "statistic_name": "z", "statistic": z,
                     "verdict": verdict_z(z), "note": "σ of the equal-σ density fitted above"})
    extra["pair_fits"] = fits
    return rows


def _scaling_scan(func, kwargs, harvest, pairs, seed, progress=False):
    """⟨S⟩ and √π σ over a small scan of (α, |B|[, ε]) at reduced size.

    Each row also carries ``step_factor`` = (1 − α|K′|/2)^(-1/2), the finite-α factor of ⟨S⟩
    (:mod:`coulombgas.training.finite_lr`), with K′ the mean drift slope of the paired modes
    measured once on the main harvest (:func:`_pair_drift_slope`; None where it cannot be).
    """
    base_lr, base_bs = harvest.lr, harvest.batch_size
    eps = harvest.params.get("eps")
    rows = []
    small = {**kwargs, "models": min(400, kwargs.get("models", 400)), "record_every": None}
    settings = _MODEL_SCANS.get(harvest_model_cli(harvest), _SCAN)
    slope = _pair_drift_slope(harvest, pairs)
    bar = progress_bar(progress, len(settings), "compare: linear-scaling scan")
    for k, (f_lr, f_bs, f_eps) in enumerate(settings):
        bar.update(1)
        if eps is None and f_eps != 1.0:
            continue
        bs = max(1, int(round(base_bs * f_bs)))
        if f_bs != 1.0 and bs == base_bs:
            continue
        setting = {**small, "lr": base_lr * f_lr, "batch_size": bs}
        setting["record_every"] = setting.get("steps", harvest.steps[-1])
        if eps is not None:
            setting["eps"] = eps * f_eps
        h = func(seed=seed + 100 + k, progress=False, **setting)
        if h.models < 20:
            continue
        S = _pair_spacings(h.final(), pairs).ravel()
        c = setting["lr"] / setting["batch_size"] * (setting["eps"] ** 2 if eps is not None else 1.0)
        r = setting["lr"] * abs(slope) if slope is not None else None
        factor = (1.0 - 0.5 * r) ** -0.5 if r is not None and r < 2.0 else None
        rows.append({"lr": setting["lr"], "batch_size": setting["batch_size"], "eps": setting.get("eps"),
                     "c": c, "mean_S": float(S.mean()), "mean_S_err": float(S.std(ddof=1) / math.sqrt(S.size)),
                     "drift_slope": slope, "step_factor": factor})
    bar.close()
    return rows


def _pair_drift_slope(harvest, pairs, models: int = 32):
    """Mean drift slope K′ = dK/dx (per unit lr) of the paired modes, from per-sample gradients
    of a few models at the harvest's late records (None when the model has no gradients, no
    weights were recorded, or the drift does not confine)."""
    import warnings
    from functools import partial

    from ..training.drift_noise import estimate_drift_noise, quadratic_fit
    from ..training.registry import module_of

    module = module_of(str(harvest.model))
    if harvest.weights is None or harvest.records < 2 or module is None \
            or not hasattr(module, "per_sample_gradients"):
        return None
    sub = harvest.select(np.arange(min(models, harvest.models)))
    size = int(np.prod(harvest.weights.shape[2:]))
    samples = max(64, int(4e6 // (sub.models * size)))
    dataset = harvest.params.get("batch_size", 1) * harvest.params.get("epoch_batches", 0)
    samples = min(samples, dataset) if dataset else samples
    recs = np.arange(max(harvest.records // 2, harvest.records - 6), harvest.records)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            est = estimate_drift_noise(sub, partial(module.per_sample_gradients, samples=samples), records=recs)
            slope = quadratic_fit(est).slope
    except ValueError:
        return None
    modes = sorted({i for pair in pairs for i in pair})
    return float(np.mean(slope[modes]))


def harvest_model_cli(harvest) -> str:
    """The command-line name of the model that made ``harvest``."""
    from ..training.registry import cli_name

    return cli_name(harvest.model)


def _check_scaling(rows, level):
    """Linear scaling of ⟨S⟩ in √(α c/|B|): the finite-α law (fitted, the verdict) and the continuum one beside it.

    Finite α: ⟨S⟩ = a √(α c/|B|) / √(1 − α|K′|/2) (the AR(1) step factor of each row,
    ``step_factor``); continuum (α → 0, the papers' SDE): ⟨S⟩ = a √(α c/|B|). Both are
    one-parameter fits through the origin with χ²/dof p-values.
    """
    if len(rows) < 3:
        return []
    x = np.sqrt([r["c"] for r in rows])
    y = np.array([r["mean_S"] for r in rows])
    e = np.array([r["mean_S_err"] for r in rows])
    cont = spectra.fit_through_origin(x, y, e)
    factors = [r.get("step_factor") for r in rows]
    corrected = all(f is not None for f in factors)
    fit = spectra.fit_through_origin(x * np.array(factors, dtype=float), y, e) if corrected else cont
    for r, f in zip(rows, factors):
        r["fit"] = fit.slope * math.sqrt(r["c"]) * (f if corrected else 1.0)
        r["fit_continuum"] = cont.slope * math.sqrt(r["c"])
    law = ("finite-α law ⟨S⟩ = a√(αc/|B|)/√(1 − α|K′|/2), K′ = "
           f"{rows[0]['drift_slope']:.3g} measured from per-sample gradients" if corrected else
           "continuum law only (no drift slope could be measured for the step factor)")
    note = (f"{len(rows)} settings (c = ε² where the model injects noise, else 1), fit through the origin, "
            f"χ²/dof = {fit.reduced_chi2:.3g}; {law}")
    out = [{"check": "linear scaling: ⟨S⟩ ∝ √(α c/|B|) with one slope", "measured": fit.slope, "error": fit.error,
            "predicted": "one common slope", "statistic_name": "χ²/dof p", "statistic": fit.pvalue,
            "verdict": verdict_p(fit.pvalue, level), "note": note}]
    if corrected:
        out.append({"check": "linear scaling, continuum law (α → 0): ⟨S⟩ = a√(α c/|B|)", "measured": cont.slope,
                    "error": cont.error, "predicted": "one common slope", "statistic_name": "χ²/dof p",
                    "statistic": cont.pvalue, "verdict": verdict_p(cont.pvalue, level),
                    "note": f"the papers' SDE without the step factor, beside the finite-α fit above; "
                            f"χ²/dof = {cont.reduced_chi2:.3g}"})
    return out


def _figures(workdir, harvest, sim, stationary, pairs, extra, scan_rows):
    from .. import plots

    figs = []
    if pairs:
        S = _pair_spacings(harvest.final(), pairs)
        first = extra["pair_fits"][0]
        figs.append(plots.spacing_figure(os.path.join(workdir, "spacings.png"), (S / S.mean(axis=0)).ravel(),
                                         title="normalised spacings in degenerate pairs (final record)",
                                         raw=S[:, 0], sigmas=first["sigma"]))
        figs.append(plots.pair_density_figure(os.path.join(workdir, "density.png"), harvest, extra["pair_fits"]))
    if scan_rows:
        figs.append(plots.scaling_figure(os.path.join(workdir, "scaling.png"), scan_rows))
    if sim is not None:
        figs.append(plots.trajectories_figure(os.path.join(workdir, "trajectories.png"), harvest.steps,
                                              harvest.eigenvalues, sim))
        figs.append(plots.stationary_figure(os.path.join(workdir, "stationary.png"), harvest.late(0.25),
                                            stationary))
    else:
        figs.append(plots.ensemble_paths_figure(os.path.join(workdir, "trajectories.png"), harvest.steps,
                                                harvest.eigenvalues, title=f"{harvest.model}: eigenvalues of X"))
    return figs
