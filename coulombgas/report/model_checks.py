"""Checks of :func:`coulombgas.report.compare` that belong to one model.

* :func:`linear_checks` — the linear models (teacher–student, hidden layer): ⟨S⟩ against the
  exact finite-α law of :mod:`coulombgas.training.exact` and against the continuum, and the
  spread of ⟨S⟩ over datasets when the data are shared;
* :func:`phase_checks` — paper 4's phase by its own order parameters and its authors' criterion;
* :func:`rbm_checks` — the Gaussian RBM's levels against the fixed point shifted to O(T).

:data:`EXTRA_CHECKS` maps a model's name to its checks (called as ``f(harvest, extra)``).
"""

from __future__ import annotations

import math

import numpy as np

from ._verdicts import progress_bar, sem, verdict_z, zscore

__all__ = ["linear_checks", "phase_checks", "rbm_checks", "EXTRA_CHECKS", "LINEAR_MODELS", "SPREAD_DATASETS"]


def phase_checks(harvest, extra):
    """Paper 4: the phase by the paper's own order parameters and the authors' criterion, and the regime labels.

    The paper's order parameters (test MSE on 128 held-out inputs, overlap q, alignment hs,
    spacing exponent λ; :mod:`coulombgas.training.phase_observables`) need generate.py's
    snapshots (:func:`coulombgas.training.phase_paper.paper_snapshots`: a run of whole epochs
    recorded at every saved epoch, with weights); a run that does not have them gets a row
    saying why, and the eigenvalue-dynamics labels of ``classify_regime`` as before.
    """
    from ..training import classify_regime
    from ..training import phase_boundary as pb
    from ..training import phase_observables as po
    from ..training import phase_paper as pp

    rows = []
    try:
        run = pp.paper_snapshots(harvest)
    except ValueError as exc:
        rows.append({"check": "phase-network phase (paper's order parameters)", "measured": None, "predicted": None,
                     "statistic_name": None, "statistic": None, "verdict": "not measured",
                     "note": f"needs generate.py's snapshots: {exc}"})
    else:
        op = po.order_parameters(run)
        extra["order_parameters"] = op.as_dict()
        rows.append({"check": "phase-network phase (paper's order parameters)",
                     "measured": f"test MSE {op.test_mse:.3g}, q {op.q:.3g}, hs {op.hs:.3g}, "
                                 f"λ {op.lyapunov:.3g}/epoch",
                     "predicted": None, "statistic_name": "phase", "statistic": op.phase, "verdict": op.phase,
                     "note": f"q ≥ {po.PHASE_THRESHOLDS['q_jammed']}: jammed; else test MSE ≤ "
                             f"{po.PHASE_THRESHOLDS['test_mse_ordered']:g}: ordered; else high-temperature "
                             "(arXiv:2509.01349; coulombgas.training.phase_observables)"})
        terms = {form: pb.criterion_terms(run, form=form) for form in pb.FORMS}
        frac = terms["notebook"].fraction
        extra["criterion_fraction"] = {form: t.fraction for form, t in terms.items()}
        verdict = "drift-dominated" if frac >= pb.LEVELS[0] else "noise-dominated"
        rows.append({"check": "phase-network criterion (authors' drift vs noise)",
                     "measured": f"{frac:.3g} of {run.models} networks drift-dominated "
                                 f"(corrected form: {terms['corrected'].fraction:.3g})",
                     "predicted": f">= {pb.LEVELS[0]} in the ordered phase", "statistic_name": "fraction",
                     "statistic": frac, "verdict": verdict,
                     "note": "K_t/(√r (K−1)) ≥ (ε/|B|) V_t/(4σ_W²) on 128 held-out inputs at the final snapshot "
                             "(coulombgas.training.phase_boundary)"})
    regimes = classify_regime(harvest)
    counts = regimes.counts()
    extra["regimes"] = counts
    major = max(counts, key=counts.get)
    rows.append({"check": "phase-network regime (eigenvalue dynamics)", "measured": f"{counts}", "predicted": None,
                 "statistic_name": "majority", "statistic": major, "verdict": major,
                 "note": "labels from classify_regime: growth exponent and size of the eigenvalues of WWᵀ, loss "
                         "ratio, movement of the spectrum (see coulombgas.training.phase_network)"})
    return rows


def rbm_checks(harvest, extra):
    """Papers 1–3: the eigenvalues of X settle at the fixed point (μ² − κ_k)/σ_h², each level shifted by O(T).

    The prediction is x_k* + Δ_k with Δ_k from :func:`coulombgas.theory.rbm_levels.rbm_level_shifts`
    (small-noise expansion of the stationary law of X' = PXP: second-order drift, the Itô term,
    repulsion from non-degenerate neighbours, the persistent chains' correlation); the plain fixed
    point's z is reported beside it.
    """
    from ..theory.rbm_levels import rbm_level_shifts
    from ..training.rbm import fixed_point
    from ..training.registry import degenerate_pairs

    p = harvest.params
    x_star, _ = fixed_point(p["n"], p["mu2"], p["m2"], p["sigma_h"], n_hidden=p["n_hidden"])
    shift, why = np.zeros_like(x_star), ""
    if p["n_hidden"] >= p["n"]:
        try:
            shift = rbm_level_shifts(p["n"], p["mu2"], p["m2"], p["sigma_h"], lr=p["lr"], batch_size=p["batch_size"],
                                     gibbs_steps=p["gibbs_steps"]).shift
        except ValueError as exc:  # α beyond the linearised map's stable range
            why = f"; no O(T) shift predicted: {exc}"
    else:
        why = "; no O(T) shift predicted for n_hidden < n (rank-deficient fixed point)"
    final = harvest.final()
    mean = final.mean(axis=0)
    # Level repulsion splits a pair's two modes symmetrically by O(√T): compare pair centres.
    pairs = degenerate_pairs(harvest)
    paired = {i for pair in pairs for i in pair}
    groups = [(i,) for i in range(len(x_star)) if i not in paired] + [tuple(pair) for pair in pairs]
    z_shifted, z_plain = [], []
    for g in groups:
        c = final[:, list(g)].mean(axis=1)
        e = c.std(ddof=1) / math.sqrt(len(c))
        z_shifted.append((c.mean() - x_star[g[0]] - shift[g[0]]) / e)
        z_plain.append((c.mean() - x_star[g[0]]) / e)
    worst, worst_plain = float(np.max(np.abs(z_shifted))), float(np.max(np.abs(z_plain)))
    T = p["lr"] / p["batch_size"]
    extra["fixed_point"] = x_star
    extra["level_shift_predicted"] = shift
    coeffs = ", ".join(f"{d / T:+.1f}" for d in shift[[g[0] for g in sorted(groups)]]) if not why else ""
    rows = [{"check": "levels: fixed points μ² − κ_k plus predicted O(T) shifts (singles, pair centres)",
             "measured": mean, "error": None, "predicted": x_star + shift, "statistic_name": "max |z|",
             "statistic": worst, "verdict": verdict_z(worst),
             "note": "final record over models; a pair's two modes are split by their repulsion, so the pair's "
                     "centre is compared. Each level moves by O(T), T = α/|B|, with its own sign (shift/T per "
                     f"group, ascending: {coeffs}): the Itô term of X = WᵀW, the drift's second order and "
                     "the repulsion from non-degenerate neighbours (theory.rbm_levels); Jensen's inequality "
                     "accounts only for the mean over all levels. Without the shifts (bare fixed point): "
                     f"max |z| = {worst_plain:.3g}{why}"}]
    return rows


#: Models whose SGD map is affine in W: compared with their exact finite-α law (:mod:`coulombgas.training.exact`).
LINEAR_MODELS = ("teacher-student", "hidden-layer")
#: Datasets over which the exact law's dataset spread is predicted (shared data).
SPREAD_DATASETS = 32


def linear_checks(harvest, extra, func, kwargs, datasets, seed, progress=False):
    """⟨S⟩ of the singular values against the exact finite-α law and the continuum one, with disorder.

    The exact law (:func:`coulombgas.training.exact.predict`) is that of the harvest's own
    protocol: with shared data, of its one dataset, so the dataset-to-dataset spread
    (quenched disorder) does not enter its z; the continuum √(π α ε²/|B|) does not know the
    dataset, so with shared data its z uses √(se² + spread²), the spread predicted by the
    exact law over :data:`SPREAD_DATASETS` datasets (and, with ``datasets`` > 0, measured
    by training that many other datasets).
    """
    from ..training import exact

    p = harvest.params
    pairs = exact.predict(harvest, samples=1000).pairs
    if not pairs:
        return []
    law = exact.predict(harvest, datasets=64, orders=16, samples=200_000, seed=seed)
    sv = harvest.final("singular_values")
    S = np.stack([sv[:, j] - sv[:, i] for i, j in pairs], -1)
    shared = p.get("data_seed") is not None
    spread = None
    if shared:
        free = {k: val for k, val in p.items() if k != "data_seed"}
        per = exact.predict(free, steps=int(harvest.steps[-1]), datasets=SPREAD_DATASETS, orders=4,
                            samples=20_000 * SPREAD_DATASETS, seed=seed + 7).dataset_mean_spacing()
        spread = per.std(axis=0, ddof=1)
    m_e, e_e = law.mean_spacing()
    rows, info = [], {"pairs": pairs, "exact_mean_S": m_e, "exact_mean_S_err": e_e, "exact_radius": law.radius,
                      "dataset_spread_predicted": spread}
    for k, (i, j) in enumerate(pairs):
        m, se = float(S[:, k].mean()), sem(S[:, k])
        z = zscore(m, se, float(m_e[k]), float(e_e[k]))
        rows.append({"check": f"⟨S⟩ of pair ({i},{j}) (singular values): exact finite-α law",
                     "measured": m, "error": se, "predicted": float(m_e[k]), "statistic_name": "z", "statistic": z,
                     "verdict": verdict_z(z),
                     "note": f"deviation {100 * (m / m_e[k] - 1):+.2f} %; the Gaussian law of W across seeds for this "
                             f"run's protocol ({_protocol_text(p)}) after {law.steps} updates (training.exact; "
                             f"Monte Carlo error {e_e[k]:.2g}, one-epoch spectral radius {law.radius:.4g})"
                             + ("; with shared data it is this dataset's law, so disorder does not enter z"
                                if shared else "")})
        if "eps" in p and "Z" not in p:
            c = exact.continuum_mean_spacing(p["lr"], p["batch_size"], p["eps"])
            sd = float(spread[k]) if spread is not None else 0.0
            z = float((m - c) / math.hypot(se, sd))
            rows.append({"check": f"⟨S⟩ of pair ({i},{j}) (singular values): continuum √(π α ε²/|B|)",
                         "measured": m, "error": se, "predicted": c, "statistic_name": "z", "statistic": z,
                         "verdict": verdict_z(z),
                         "note": f"deviation {100 * (m / c - 1):+.2f} %; the α → 0 law (paper 1)"
                                 + (f"; z includes the spread over datasets {sd:.2g} (shared data: quenched disorder)"
                                    if shared else "")})
    if shared:
        info["dataset_spread_predicted"] = spread
        measured = None
        if datasets:
            measured = _dataset_sweep(func, kwargs, harvest, pairs, datasets, seed, progress)
            info["dataset_sweep"] = measured
        for k, (i, j) in enumerate(pairs):
            row = {"check": f"spread of ⟨S⟩ of pair ({i},{j}) over datasets (shared data)", "measured": None,
                   "error": None, "predicted": float(spread[k]), "statistic_name": "", "statistic": None,
                   "verdict": "predicted only",
                   "note": f"sd over {SPREAD_DATASETS} datasets of the exact law's ⟨S⟩ (quenched disorder of the "
                           f"ensemble mean: {100 * spread[k] / m_e[k]:.2g} % of ⟨S⟩)"}
            if measured is not None:
                means = np.array([r["mean_S"][k] for r in measured])
                errs = np.array([r["mean_S_err"][k] for r in measured])
                # The spread of the measured means holds the seeds' standard errors too: subtract them.
                var = max(float(np.var(means, ddof=1) - np.mean(errs**2)), 0.0)
                n = len(means)
                # Standard error of a standard deviation from n values: sd/√(2(n−1)).
                sd_m = math.sqrt(var)
                err = math.sqrt(np.var(means, ddof=1)) / math.sqrt(2 * (n - 1))
                z = (sd_m - float(spread[k])) / err
                row.update(measured=sd_m, error=err, statistic_name="z", statistic=float(z), verdict=verdict_z(z),
                           note=row["note"] + f"; measured over {n} datasets ({measured[0]['models']} models each, "
                                              "the seeds' standard errors subtracted in quadrature)")
            rows.append(row)
    extra["exact"] = info
    return rows


def _protocol_text(p):
    data = "shared data" if p.get("data_seed") is not None else "a dataset per model"
    return f"{data}, {p.get('batch_order', 'in-order')}, noise {p.get('noise_draw', 'per-sample')}"


def _dataset_sweep(func, kwargs, harvest, pairs, datasets, seed, progress=False):
    """⟨S⟩ per dataset for ``datasets`` other shared datasets (data_seed + 1, …), at most 400 models each."""
    p = harvest.params
    base = p["data_seed"] if isinstance(p["data_seed"], int) else 0
    small = {**kwargs, "models": min(400, kwargs.get("models", 400)), "record_weights": False}
    small["record_every"] = small.get("steps", int(harvest.steps[-1]))
    rows = []
    bar = progress_bar(progress, datasets, "compare: datasets")
    for d in range(datasets):
        bar.update(1)
        h = func(seed=seed + 1000 + d, progress=False, **{**small, "data_seed": base + 1 + d})
        sv = h.final("singular_values")
        S = np.stack([sv[:, j] - sv[:, i] for i, j in pairs], -1)
        rows.append({"data_seed": base + 1 + d, "models": h.models, "mean_S": S.mean(axis=0).tolist(),
                     "mean_S_err": (S.std(axis=0, ddof=1) / math.sqrt(len(S))).tolist()})
    bar.close()
    return rows


#: Model-specific checks, ``(harvest, extra) -> rows``.
EXTRA_CHECKS = {"phase-network": phase_checks, "rbm": rbm_checks}
