"""`analyze`: one row per weight matrix of a recorded training run — its spectrum and its dynamics.

``cg.analyze(source)`` takes a :class:`~coulombgas.training.TorchRecorder`, what it
returns (a :class:`~coulombgas.training.recording.RecordedHarvest`, a dict of them,
a list), any :class:`~coulombgas.training.Harvest`, or a saved file (a recorder's
``.h5``, a harvest's ``.npz``/``.h5``), and answers a table (a pandas DataFrame when
pandas is installed, else :class:`Table`) with one row per matrix:

* **bulk** — Marchenko–Pastur fit (ratio, σ) and its goodness of fit (KS D and p) at
  the first and the last record; **outliers** above the MP edge with Tracy–Widom
  p-values; the fitted Dyson index β with its error (:mod:`coulombgas.report.rmt_columns`
  says how each is computed); a column that cannot be computed for a matrix reads
  ``"not available"`` and the row's note says why.
* **level statistics** — ⟨r⟩ of the adjacent-gap ratios r = min(s_k, s_{k+1})/max(·)
  of the last record's non-zero eigenvalues (pooled over the stacked matrices), with
  its standard error (Atas et al., PRL 110, 084101 (2013): 0.5307 GOE, 0.3863 Poisson).
* **dynamics** (SCIENCE.md §1–3) — each mode's *jitter* (std over the late records,
  the last ``late`` fraction, about their linear trend; median over modes in the table);
  with gradient statistics (the recorder's ``loss_fn``)
  also each mode's drift slope b_i (the per-mode quadratic fit of the measured drift,
  :func:`~coulombgas.training.drift_noise.quadratic_fit`) and noise g_i², the
  effective temperature they imply, T_eff,i = Var x_i · |b_i| / g_i² (for the SDE
  dx = αb(x − c) dt + (α/√|B|)√2 g dW the stationary variance is T g²/|b| with
  T = α/|B|), given as the median over confined modes against lr/batch_size
  (``T_eff/T``: 1 when the linear-scaling picture holds, up to the finite-α factor
  1/(1 − α|b|/2) and repulsion: in a degenerate pair each ordered mode has variance
  (1/2 + (4 − π)/4) σ² ≈ 0.715 σ², so T_eff/T ≈ 0.72 there); the drift/noise balance Δ/Γ of
  :func:`~coulombgas.training.drift_noise.phase_criterion` (late records as the
  ensemble); and the stationary Coulomb gas built from the measured drift and noise
  (:func:`~coulombgas.training.drift_noise.gas_from_harvest`), sampled, against the
  recorded spread of every mode (max |z|, verdict *agrees* when ≤ 3).
  Modes whose drift does not confine them (b_i ≥ 0) are counted and named
  (``unconfined``), not treated as a failure; the gas is then not built.
* Δ₃(L = 10) and the spectral form factor (mean over τ ∈ [0.3, 0.7]) of the unfolded
  last spectrum where the matrix has at least 50 non-zero eigenvalues.

Modes: the eigenvalues of X = WᵀW (or WWᵀ); the |m − k| exact zeros of a
rectangular W are left out of every statistic. Spreads: with one matrix per row the
late records of that run, correlated in time, so errors use their effective sample
size (:func:`coulombgas.diagnostics.effective_sample_size`); with stacked matrices
(independent runs) the last record across them.

Nothing here raises on a run that is merely unusual: a row says what is missing
(``note``). Bad arguments raise ValueError/TypeError naming them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import numpy as np

from .. import _validate as v
from . import rmt_columns

__all__ = ["analyze", "analyze_harvest", "harvests_of", "Table", "NOT_AVAILABLE", "COLUMNS", "slice_modes", "mode_spread",
           "structural_zeros", "make_table", "text_table", "format_cell", "jsonable"]

NOT_AVAILABLE = "not available"

#: Columns of the table, in order (per-mode arrays are in ``details``).
COLUMNS = ("matrix", "shape", "models", "records", "step", "lr", "batch_size", "modes",
           "mp_ratio_init", "mp_sigma_init", "mp_ks_init", "mp_p_init", "mp_ratio_now", "mp_sigma_now", "mp_ks_now",
           "mp_p_now",
           "outliers", "outlier_tw_p", "r_mean", "r_err", "beta_fit", "beta_err",
           "jitter", "T", "T_eff", "T_eff_err", "T_eff/T", "drift_noise_ratio", "drift_noise_err",
           "confined", "unconfined", "gas_spread_z", "gas_verdict", "delta3", "sff", "note")


class Table:
    """A plain table (no pandas): ``rows`` (list of dicts over :data:`COLUMNS`) and per-row ``details``.

    ``str(table)`` is an aligned text table; :meth:`to_markdown`, :meth:`to_dict`;
    ``table["column"]`` is the list of a column's values; ``len(table)`` rows.
    """

    def __init__(self, rows, details):
        self.rows, self.details = list(rows), dict(details)
        self.columns = list(COLUMNS)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, column):
        if column not in self.columns:
            raise KeyError(column)
        return [r.get(column) for r in self.rows]

    def to_dict(self, orient: str = "records"):
        return [dict(r) for r in self.rows]

    def to_markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        lines = [head, "|" + "---|" * len(self.columns)]
        for r in self.rows:
            lines.append("| " + " | ".join(format_cell(r.get(c)).replace("|", "\\|") for c in self.columns) + " |")
        return "\n".join(lines)

    def __str__(self):
        return text_table(self.rows, self.columns)

    __repr__ = __str__


def format_cell(x) -> str:
    """One cell as text: numbers to 4 significant digits, None empty."""
    if x is None:
        return ""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return "nan" if math.isnan(x) else f"{float(x):.4g}"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(format_cell(y) for y in x) + "]"
    return str(x)


def jsonable(obj):
    """``obj`` with arrays as lists and every non-finite float as None (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(val) for k, val in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(val) for val in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def text_table(rows, columns) -> str:
    """An aligned text table of the given columns (a column of only empty cells is left out)."""
    cells = [[format_cell(r.get(c)) for c in columns] for r in rows]
    keep = [j for j in range(len(columns)) if any(row[j] for row in cells)]
    widths = [max([len(columns[j])] + [len(row[j]) for row in cells]) for j in keep]
    lines = ["  ".join(columns[j].ljust(w) for j, w in zip(keep, widths))]
    lines += ["  ".join(row[j].ljust(w) for j, w in zip(keep, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


# ------------------------------------------------------------------ inputs

def harvests_of(source, names=None) -> dict:
    """``{matrix name: Harvest}`` from a recorder, a harvest, a dict/list of them, or a saved file."""
    from ..training.harvest import Harvest
    from ..training.recording import RecordedHarvest
    from ..training.torch_hook import TorchRecorder

    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            found = [os.path.join(path, f) for f in ("spectra.h5", "recording.h5", "harvest.h5", "harvest.npz")
                     if os.path.exists(os.path.join(path, f))]
            if not found:
                raise ValueError(f"`source` {path!r} is a folder without spectra.h5, recording.h5, harvest.h5 or "
                                 "harvest.npz")
            path = found[0]
        if not os.path.exists(path):
            raise ValueError(f"`source` {path!r} does not exist")
        try:
            found = TorchRecorder.load(path)
        except (ValueError, OSError, ImportError):
            try:
                found = RecordedHarvest.load(path)
            except (ValueError, OSError, KeyError) as exc:
                raise ValueError(f"`source` {path!r} is neither a TorchRecorder file nor a saved harvest "
                                 f"({exc})") from None
    elif isinstance(source, TorchRecorder):
        found = source.harvest()
    elif isinstance(source, Harvest):
        found = {str(source.model): source}
    elif isinstance(source, dict):
        found = dict(source)
    elif isinstance(source, (list, tuple)):
        found = {str(h.model) if isinstance(h, Harvest) else str(i): h for i, h in enumerate(source)}
    else:
        raise TypeError(f"`source` must be a TorchRecorder, a Harvest, a dict or list of them, or a path; "
                        f"got {type(source).__name__}")
    if isinstance(found, Harvest):
        found = {str(found.model): found}
    for key, h in found.items():
        if not isinstance(h, Harvest):
            raise TypeError(f"`source`[{key!r}] must be a Harvest, got {type(h).__name__}")
    if not found:
        raise ValueError("`source` holds no matrices")
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        for n in names:
            if n not in found:
                raise ValueError(f"`names`: {n!r} is not a recorded matrix; recorded: {', '.join(found)}")
        found = {n: found[n] for n in names}
    return found


# ------------------------------------------------------------------ one matrix

def structural_zeros(h) -> int:
    """Structural zero modes of X for a rectangular W (its shape in params), else 0."""
    shape = h.params.get("shape")
    if shape is None and h.weights is not None:
        shape = h.weights.shape[-2:]
    if shape is None:
        return 0
    return max(0, h.n - min(int(shape[0]), int(shape[1])))


def slice_modes(est, z):
    """A DriftNoise restricted to modes z: (drops the structural zeros)."""
    fields = {}
    for f in dataclasses.fields(est):
        value = getattr(est, f.name)
        if f.name in ("variance", "mean_change"):
            value = value[..., z:, z:]
        elif f.name in ("drift", "drift_err", "g2", "g2_err", "gbar2", "ito", "eigenvalues"):
            value = value[..., z:]
        fields[f.name] = value
    return type(est)(**fields)


def _per_mode_slopes(est):
    """Per-mode quadratic fits: slope b_i (NaN where the mode has no spread) and the unconfined modes."""
    from ..training.drift_noise import quadratic_fit

    slopes, errs, centres = np.full(est.n, np.nan), np.full(est.n, np.nan), np.full(est.n, np.nan)
    for i in range(est.n):
        one = _keep_mode(slice_modes(est, i))
        try:
            fit = quadratic_fit(one)
        except ValueError:  # no spread, or unconfined: read the slope's sign below
            slopes[i], errs[i] = _raw_slope(one)
            continue
        slopes[i], errs[i], centres[i] = fit.slope[0], fit.slope_err[0], fit.center[0]
    unconfined = [int(i) for i in np.flatnonzero(~(slopes < 0)) if np.isfinite(slopes[i])]
    return slopes, errs, centres, unconfined


def _keep_mode(est):
    """The first mode of ``est`` alone (n = 1)."""
    fields = {}
    for f in dataclasses.fields(est):
        value = getattr(est, f.name)
        if f.name in ("variance", "mean_change"):
            value = value[..., :1, :1]
        elif f.name in ("drift", "drift_err", "g2", "g2_err", "gbar2", "ito", "eigenvalues"):
            value = value[..., :1]
        fields[f.name] = value
    return type(est)(**fields)


def _raw_slope(one) -> tuple[float, float]:
    """Slope and error of a mode quadratic_fit refused (dK/dx >= 0): its fit with the sign of K flipped."""
    from ..training.drift_noise import quadratic_fit

    flipped = dataclasses.replace(one, drift=-one.drift)
    try:
        fit = quadratic_fit(flipped)
        return -float(fit.slope[0]), float(fit.slope_err[0])
    except ValueError:
        return float("nan"), float("nan")  # no spread of x, or exactly zero slope: no sign to report


def mode_spread(h, z, late):
    """Per-mode recorded spread (jitter), its standard error, and the samples behind it.

    Stacked runs: std over runs of the last record. One run: std of the late records about
    their least-squares line in time (ddof 2), with the effective sample size of the series.
    """
    from ..diagnostics import effective_sample_size
    from ..training.recording import late_records

    recs = late_records(h.records, late)
    x = h.eigenvalues[:, recs, z:]
    if h.models >= 2:
        final = h.eigenvalues[:, -1, z:]
        sd = final.std(axis=0, ddof=1)
        count = np.full(sd.shape, float(h.models))
    else:
        series = x[0]
        if len(recs) > 2:
            # About a straight line through the late records: a network still learning moves its
            # modes slowly, and that trend is not the fluctuation the gas describes.
            t = np.asarray(h.steps[recs], float)
            t = (t - t.mean()) / max(np.ptp(t), 1.0)
            coef = np.polyfit(t, series, 1)
            series = series - np.outer(t, coef[0])
            sd = series.std(axis=0, ddof=2)
        else:
            sd = np.full(series.shape[-1], np.nan)
        count = np.full(sd.shape, np.nan)
        if len(recs) >= 4:
            for i in range(series.shape[-1]):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        count[i] = min(float(effective_sample_size(series[:, i])), len(recs))
                    except (ValueError, FloatingPointError, ZeroDivisionError):
                        count[i] = np.nan
    err = sd / np.sqrt(2.0 * np.maximum(count - 1.0, 1.0))
    return sd, err, count, x


def analyze_harvest(h, *, late: float = 0.5, seed=0, gas: bool = True, gas_max_modes: int = 64,
                    gas_samples: int = 2000, min_modes_long: int = 50, mp_bootstrap: int = 0) -> tuple[dict, dict]:
    """One row of :func:`analyze` and its per-mode details, for one (possibly stacked) harvest."""
    from ..training.recording import RecordedHarvest

    notes = []
    shape = h.params.get("shape") or (list(h.weights.shape[-2:]) if h.weights is not None else None)
    z = structural_zeros(h)
    modes = h.n - z
    lr, bs = h.lr, h.batch_size
    row = {c: None for c in COLUMNS}
    row.update(matrix=str(h.model), shape="x".join(str(s) for s in shape) if shape else "", models=h.models,
               records=h.records, step=int(h.steps[-1]) if h.records else 0, lr=lr, batch_size=bs, modes=modes,
               T=(lr / bs) if lr and bs else None)
    details = {"steps": np.asarray(h.steps), "zeros": z}
    if h.params.get("diverged_step") is not None:
        notes.append(f"diverged at step {h.params['diverged_step']}: records up to it are analysed")
    if modes < 1 or h.records < 1:
        row["note"] = "no non-zero eigenvalues recorded"
        return row, details
    first, last = h.eigenvalues[:, 0, z:], h.eigenvalues[:, -1, z:]
    # -- bulk, outliers, β, Δ₃, SFF: the random-matrix laws (rmt_columns says "not available" without them)
    cols, rnotes = rmt_columns.bulk(first, last, shape, h.gram, min_modes_long=min_modes_long,
                                    mp_bootstrap=mp_bootstrap, seed=seed)
    row.update(cols)
    notes += rnotes
    # -- ⟨r⟩
    if modes >= 3:
        from .. import spectra

        r = spectra.gap_ratios(last).ravel()
        r = r[np.isfinite(r)]
        if r.size >= 2:
            row["r_mean"], row["r_err"] = float(r.mean()), float(r.std(ddof=1) / math.sqrt(r.size))
    else:
        notes.append("⟨r⟩ needs at least 3 non-zero eigenvalues")
    # -- dynamics
    sd, sd_err, count, late_x = mode_spread(h, z, late)
    details.update(jitter=sd, jitter_err=sd_err, jitter_samples=count)
    row["jitter"] = float(np.nanmedian(sd)) if np.any(np.isfinite(sd)) else None
    if h.records < 4:
        notes.append(f"only {h.records} records: dynamics need at least 4 (record more often)")
    est = None
    if isinstance(h, RecordedHarvest) and h.stats:
        try:
            est = slice_modes(h.drift_noise(fraction=late), z)
        except ValueError as exc:
            notes.append(str(exc))
    else:
        notes.append("no gradient statistics (TorchRecorder without loss_fn): drift, noise, T_eff and the gas "
                     "are not measured")
    if est is not None:
        _dynamics(row, details, notes, h, est, sd, sd_err, count, z, late, seed, gas, gas_max_modes, gas_samples)
    row["note"] = "; ".join(notes)
    return row, details


def _dynamics(row, details, notes, h, est, sd, sd_err, count, z, late, seed, gas, gas_max_modes, gas_samples):
    from ..training.drift_noise import phase_criterion

    slopes, slope_err, centres, unconfined = _per_mode_slopes(est)
    g2 = est.g2.mean(axis=(0, 1))
    confined = np.flatnonzero(slopes < 0)
    row["confined"], row["unconfined"] = int(confined.size), unconfined
    details.update(slope=slopes, slope_err=slope_err, centre=centres, g2=g2, drift=est.drift.mean(axis=(0, 1)))
    if unconfined:
        firm = [i for i in unconfined if slopes[i] > 2 * slope_err[i]]
        notes.append(f"the drift does not confine modes {unconfined} (dK/dx >= 0): no stationary well for them"
                     + (f"; more than 2 errors above 0: {firm}" if firm else "; none more than 2 errors above 0"))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_eff = sd**2 * np.abs(slopes) / g2
    details["T_eff"] = t_eff
    good = confined[np.isfinite(t_eff[confined]) & (g2[confined] > 0)]
    if good.size:
        vals = t_eff[good]
        row["T_eff"] = float(np.median(vals))
        # Error of the median from the modes' scatter (1.253 σ/√n for a normal sample).
        row["T_eff_err"] = float(1.253 * vals.std(ddof=1) / math.sqrt(vals.size)) if vals.size > 1 else None
        if row["T"]:
            row["T_eff/T"] = row["T_eff"] / row["T"]
    # Drift/noise balance: late records as the ensemble (phase_criterion needs >= 2 "models").
    try:
        pseudo = _records_as_models(est)
        if pseudo.degenerate.any():
            raise ValueError("degenerate eigenvalues")
        pc = phase_criterion(pseudo)
        row["drift_noise_ratio"], row["drift_noise_err"] = float(pc.ratio[0]), float(pc.ratio_err[0])
    except ValueError as exc:
        notes.append(f"drift/noise balance not measured: {exc}")
    if not gas:
        return
    if unconfined:
        row["gas_verdict"] = "not built"
        return
    if est.n > gas_max_modes:
        row["gas_verdict"] = f"not built (more than {gas_max_modes} modes)"
        return
    if est.n < 2:
        row["gas_verdict"] = "not built (one mode)"
        return
    _gas_check(row, details, notes, h, est, sd, sd_err, count, z, seed, gas_samples)


def _records_as_models(est):
    """The estimate with its records moved onto the models axis (one record each)."""
    fields = {}
    for f in dataclasses.fields(est):
        value = getattr(est, f.name)
        if f.name in ("drift", "drift_err", "g2", "g2_err", "gbar2", "ito", "eigenvalues", "variance",
                      "mean_change"):
            value = value.reshape((-1, 1) + value.shape[2:])
        fields[f.name] = value
    fields["records"], fields["steps"] = est.records[-1:], est.steps[-1:]
    fields["model_ids"] = np.arange(fields["drift"].shape[0], dtype=np.int64)
    return type(est)(**fields)


def _gas_check(row, details, notes, h, est, sd, sd_err, count, z, seed, gas_samples):
    from ..stationary import sample
    from ..training.drift_noise import gas_from_harvest

    sub = dataclasses.replace(h, eigenvalues=h.eigenvalues[..., z:], singular_values=h.singular_values[..., z:],
                              stats=None) if hasattr(h, "stats") else h
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gas_obj = gas_from_harvest(sub, est)
            draws = sample(gas_obj, gas_samples, seed=seed, progress=False)
    except (ValueError, FloatingPointError, RuntimeError) as exc:
        row["gas_verdict"] = "not built"
        notes.append(f"Coulomb gas not built: {exc}")
        return
    x = draws.x
    ess = np.asarray(draws.diagnostics.get("ess", len(x)), dtype=float)
    ess = np.minimum(np.broadcast_to(ess, (x.shape[1],)) if ess.ndim else np.full(x.shape[1], float(ess)), len(x))
    sd_gas = x.std(axis=0, ddof=1)
    err_gas = sd_gas / np.sqrt(2.0 * np.maximum(ess - 1.0, 1.0))
    zs = (sd - sd_gas) / np.hypot(sd_err, err_gas)
    details.update(gas_spread=sd_gas, gas_spread_err=err_gas, gas_mean=x.mean(axis=0), gas_z=zs)
    if not np.any(np.isfinite(zs)):
        row["gas_verdict"] = "no spread to compare"
        return
    worst = float(np.nanmax(np.abs(zs)))
    row["gas_spread_z"] = worst
    row["gas_verdict"] = "agrees" if worst <= 3.0 else "differs"
    details["gas"] = gas_obj.to_dict()


# ------------------------------------------------------------------ entry point

def analyze(source, *, names=None, late: float = 0.5, seed=0, gas: bool = True, gas_max_modes: int = 64,
            gas_samples: int = 2000, mp_bootstrap: int = 0, table: str = "auto"):
    """One row per weight matrix: bulk, outliers, level statistics and dynamics (module docstring).

    Parameters
    ----------
    source : TorchRecorder, Harvest, dict or list of Harvest, or path
        A recorder, what it returned, or a saved file (``TorchRecorder`` ``.h5``, a
        harvest's ``.npz``/``.h5``, or a folder holding one of ``spectra.h5``,
        ``recording.h5``, ``harvest.h5``, ``harvest.npz``).
    names : str or list of str, optional
        Matrices to analyse (default: all).
    late : float in (0, 1]
        Fraction of the run counted as "late" for jitter and statistics.
    seed : int
        Seeds the stationary gas's sampler.
    gas : bool
        Build and sample the stationary Coulomb gas from the measured drift and noise.
    gas_max_modes : int >= 2
        Largest number of non-zero modes for which the gas is sampled.
    gas_samples : int >= 100
        Draws from the stationary gas.
    mp_bootstrap : int >= 0
        Null matrices refitted for a calibrated Marchenko–Pastur p-value (0: the i.i.d.
        KS p-value, conservative; 19–49 for a usable test, ~0.4 s each at n = 200).
    table : {"auto", "pandas", "plain"}
        ``"auto"``: a pandas DataFrame when pandas is installed, else :class:`Table`.

    Returns
    -------
    pandas.DataFrame or Table
        Columns :data:`COLUMNS`; per-mode arrays (jitter, slopes, g², T_eff, the
        gas's spreads, z) in ``.attrs["details"]`` (DataFrame) or ``.details`` (Table),
        keyed by matrix name.

    Raises
    ------
    ValueError, TypeError
        Naming the argument: an unknown source or matrix name, ``late`` outside (0, 1].
    """
    late = v.real("late", late)
    if not 0.0 < late <= 1.0:
        raise ValueError(f"`late` must be in (0, 1], got {late}")
    seed = v.integer("seed", seed, minimum=0)
    gas = v.flag("gas", gas)
    gas_max_modes = v.integer("gas_max_modes", gas_max_modes, minimum=2)
    gas_samples = v.integer("gas_samples", gas_samples, minimum=100)
    mp_bootstrap = v.integer("mp_bootstrap", mp_bootstrap, minimum=0)
    v.one_of("table", table, ("auto", "pandas", "plain"))
    found = harvests_of(source, names)
    rows, details = [], {}
    for name, h in found.items():
        row, det = analyze_harvest(h, late=late, seed=seed, gas=gas, gas_max_modes=gas_max_modes,
                                   gas_samples=gas_samples, mp_bootstrap=mp_bootstrap)
        row["matrix"] = name
        rows.append(row)
        details[name] = det
    return make_table(rows, details, table)


def make_table(rows, details, table: str = "auto"):
    """A pandas DataFrame (``attrs["details"]``) or a :class:`Table` of ``rows``."""
    if table != "plain":
        try:
            import pandas as pd
        except ImportError:
            if table == "pandas":
                raise ImportError("`table='pandas'` needs pandas: pip install pandas") from None
        else:
            df = pd.DataFrame(rows, columns=list(COLUMNS))
            df.attrs["details"] = details
            return df
    return Table(rows, details)
