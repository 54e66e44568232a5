"""Reports of single runs: the figures and ``summary.json`` of ``theory``, ``simulate``, ``sample``, ``train``.

The command line parses its flags, runs the computation and hands the result to one
of these (:func:`theory_report`, :func:`simulate_report`, :func:`sample_report`,
:func:`train_report`), which draw the figures, test the result against the closed-form
law where one applies (:func:`matching_law`, :func:`density_check`) and write a small
``summary.json`` (:func:`write_summary`: arrays of more than 64 numbers go to ``arrays.npz``).
"""

from __future__ import annotations

import math
import os
import shutil

import numpy as np

from .. import spectra, theory
from ..store import write_json

__all__ = ["write_summary", "publish", "JSON_ARRAY_LIMIT", "matching_law", "density_check", "theory_report",
           "simulate_report", "sample_report", "train_report"]

#: Arrays with more numbers than this leave ``summary.json`` for ``arrays.npz``.
JSON_ARRAY_LIMIT = 64


def _split_arrays(value, path, large):
    """``value`` with every array of more than :data:`JSON_ARRAY_LIMIT` numbers replaced by a reference."""
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
    lists. Scalars are numbers (``null`` when not finite). :func:`compare` follows the
    same rule for its top-level arrays.
    """
    large = {}
    small = _split_arrays(summary, "", large)
    if large:
        np.savez(os.path.join(out, "arrays.npz"), **large)
    path = os.path.join(out, "summary.json")
    write_json(path, small)
    return path


def publish(workdir: str, out: str, markdown: str, figures) -> list[str]:
    """Write ``report.md`` into ``workdir`` and move the whole folder to ``out`` (replaced):
    a report appears whole or not at all. Returns the figures' paths in ``out``."""
    with open(os.path.join(workdir, "report.md"), "w") as fh:
        fh.write(markdown)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.replace(workdir, out)
    return [os.path.join(out, os.path.basename(f)) for f in figures]


def matching_law(gas):
    """(law, shift, label) of a closed-form one-point density for this gas, or None.

    * n = 2, β = 1, quadratic V_i with a common centre: the exact two-mode
      density with σ_i² = D_i/(2 a k_i) (SCIENCE.md §4);
    * a common quadratic potential: the large-n semicircle of radius √(n D β/(a k)).
    """
    from .. import potentials

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


def theory_report(out: str) -> dict:
    """The closed-form laws in one figure (``theory.png``) and a few of their numbers (``coulombgas theory``).

    Numbers: ⟨s²⟩ of the Wigner surmise (4/π for β = 1), the variance of the exact
    large-N spacing law, max |exact − surmise| of their densities on s ∈ [0, 5], and
    the mean gap ratio ⟨r⟩ (Atas et al. 2013, arXiv:1212.5611). Returns the summary.
    """
    from .. import plots

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
    write_summary(out, summary)
    return summary


def density_check(x, gas, *, seed=0, max_points=None):
    """The one-point density of ``x`` (..., n) against the gas's closed-form law (:func:`matching_law`).

    ``x`` is shifted by the law's centre; for n = 2 each row is mirrored, x → −x, with
    probability 1/2 (the ordered pair samples one of the two mirror images that the
    two-mode density averages). The KS test uses every ⌊size/max_points⌋-th value (all
    of them when ``max_points`` is None or larger than the size).

    Returns
    -------
    centred, law, label, check
        ``check`` = ``{"law", "ks_statistic", "ks_pvalue"}``; without a closed-form law,
        ``(x, None, None, None)``.
    """
    matched = matching_law(gas)
    if matched is None:
        return x, None, None, None
    law, shift, label = matched
    centred = x - shift
    if gas.n == 2:
        sign = np.random.default_rng(seed).choice([-1.0, 1.0], size=centred.shape[:-1] + (1,))
        centred = sign * centred
    flat = centred.ravel()
    if max_points is not None:
        flat = flat[:: max(1, flat.size // max_points)]
    fit = spectra.goodness_of_fit(flat, law, "ks")
    return centred, law, label, {"law": label, "ks_statistic": fit.statistic, "ks_pvalue": fit.pvalue}


def simulate_report(traj, gas, out: str, *, t_end, seed, seconds, trajectory: str) -> dict:
    """Figures and summary numbers of a simulated trajectory, written into ``out`` (``coulombgas simulate``).

    The late half of the records (all replicas) against the gas's closed-form density
    (:func:`density_check`; records are correlated in time, so the p-value is indicative);
    ``paths.png``, ``density.png`` and ``summary.json``. Returns the summary.
    """
    from .. import plots

    late = traj.x[:, traj.x.shape[1] // 2:, :]
    summary = {"gas": gas.to_dict(), "t_end": t_end, "dt": traj.dt, "replicas": int(traj.x.shape[0]),
               "scheme": traj.scheme, "seed": seed, "diagnostics": traj.diagnostics, "trajectory": trajectory,
               "seconds": seconds, "late_time_mean": float(late.mean()), "late_time_std": float(late.std())}
    figures = [plots.paths_figure(os.path.join(out, "paths.png"), traj.t, traj.x)]
    centred, law, label, check = density_check(late, gas, seed=seed, max_points=20000)
    if check is not None:
        summary["density_check"] = {**check, "note": "records are correlated in time: treat the p-value as "
                                                     "indicative"}
    title = "late-time density (x − centre)" if law is not None else "late-time density"
    figures.append(plots.density_figure(os.path.join(out, "density.png"), centred, law, label=label, title=title))
    summary["figures"] = [os.path.basename(f) for f in figures]
    write_summary(out, summary)
    return summary


def sample_report(samples, gas, out: str, *, seed, seconds, samples_file: str) -> dict:
    """Figures and summary numbers of stationary samples, written into ``out`` (``coulombgas sample``).

    The independent draws (Markov chains thinned by their autocorrelation time) against the
    gas's closed-form density (:func:`density_check`), ``density.png``, ``trace.png`` and
    ``summary.json`` (:meth:`Samples.summary` keeps array diagnostics in ``samples_file``).
    """
    from .. import plots

    summary = {"gas": gas.to_dict(), "method": samples.method, "samples": samples.n_samples, "seed": seed,
               "seconds": seconds, "diagnostics": samples.summary(samples_file)["diagnostics"],
               "samples_file": samples_file}
    x = samples.independent() if samples.chains > 1 or samples.method != "tridiagonal" else samples.x
    centred, law, label, check = density_check(x, gas, seed=seed)
    if check is not None:
        summary["density_check"] = {**check, "note": "eigenvalues of one sample are correlated: treat the "
                                                     "p-value as indicative"}
        title = f"{samples.method}: one-point density (x − centre)"
    else:
        centred, title = samples.x, f"{samples.method}: one-point density"
    figures = [plots.density_figure(os.path.join(out, "density.png"), centred, law, label=label, title=title),
               plots.trace_figure(os.path.join(out, "trace.png"), samples.log_density,
                                  title=f"{samples.method}: log P_s per chain")]
    summary["figures"] = [os.path.basename(f) for f in figures]
    write_summary(out, summary)
    return summary


def train_report(harvest, out: str, *, seconds: float | None = None) -> dict:
    """Figures and summary numbers of a harvest, written into ``out`` (``coulombgas train``).

    Writes ``paths.png``, ``loss.png``, ``spectrum.png`` and, when the model has degenerate
    pairs and at least two finite models, ``spacings.png`` with a KS test of the final
    normalised spacings s = S/⟨S⟩ within each pair against the β = 1 Wigner surmise
    P(s) = (π s/2) exp(−π s²/4); then ``summary.json`` (:func:`write_summary`). Returns the summary.
    """
    from .. import plots
    from ..training.registry import degenerate_pairs

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
