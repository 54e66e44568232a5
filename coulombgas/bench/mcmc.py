"""``coulombgas bench mcmc``: effective samples per second of the stationary samplers.

Rows (warm calls: every kernel is compiled and run once before timing):

* GOE-type gas, n = 100, β = 1 (``CoulombGas.gaussian``): HMC vs single-site
  Metropolis, each given the same wall-clock budget for its sampling phase
  (4 chains on the machine's cores). Reported: ESS of log P_s and the smallest
  ESS over the n ordered eigenvalues, per second of sampling and per second
  including warm-up. Target: HMC ≥ 10× MH. For context, an all-site Gaussian
  random-walk Metropolis (per-mode scales = marginal standard deviations,
  tuned to acceptance 0.234) is measured too: a benchmark-only kernel.
* The quartic gas at n = 1000 in DPPy's normalisation (density
  ∝ |Δ|^β exp(−β N/2 Σ V(x_i)), V = x⁴/4 + x²/2, β = 2, i.e. the Dyson form with
  ``Quartic(t=N/2, g=N/2)``): HMC's ESS/s against the Gibbs sampler on Jacobi
  matrices of Gautier, Bardenet & Valko (2020) in DPPy
  (``BetaEnsemblePolynomialPotential.sample_mcmc``), whose cost is ≈ 2.7 s per
  pass at this size (27 s per 10 passes). One Gibbs pass yields at most about
  one effective sample, so passes per second bound DPPy's ESS/s from above;
  the ratio reported is therefore a lower bound of the speed-up. Target ≥ 100×.
  If DPPy is importable (``pip install dppy``) and ``quick`` is False, its time
  per pass is measured here too.

ESS is chains·draws/τ with τ from :func:`coulombgas.diagnostics.integrated_time`.
"""

from __future__ import annotations

import math
import time
import warnings

import numba
import numpy as np
from numba import prange

from .. import _rng
from .. import potentials as pot
from .._jit import njit
from ..gas import CoulombGas
from ..diagnostics import chain_diagnostics
from ..samplers._density import FORCE_SERIAL, log_density
from ..samplers.warmup import DA_STATE, LOG_EPS, LOG_EPS_BAR, da_update, restart_dual_averaging
from ..stationary import sample

__all__ = ["bench_mcmc", "format_table", "DPPY_SECONDS_PER_PASS"]

#: DPPy's Gibbs sampler for the quartic β-ensemble at N = 1000: 27 s per 10 passes (the issue's figure).
DPPY_SECONDS_PER_PASS = 2.7


def _run(gas, method, draws_per_chain, chains, warmup, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return sample(gas, draws_per_chain * chains, method=method, chains=chains, warmup=warmup, seed=seed,
                      progress=False)


def _row(gas, method, chains, warmup, d, draws):
    ts, tw = d["time_sampling_s"], d["time_warmup_s"]
    row = {
        "n": gas.n, "beta": gas.beta, "method": method, "chains": chains, "warmup": warmup,
        "draws_per_chain": draws, "time_warmup_s": tw, "time_sampling_s": ts,
        "acceptance": float(np.mean(d["acceptance"])),
        "tau_log_density": d["autocorr_time_log_density"], "tau_max_mode": float(np.max(d["autocorr_time"])),
        "ess_log_density": d["ess_log_density"], "ess_min_mode": float(np.min(d["ess"])),
        "ess_log_density_per_s": d["ess_log_density"] / ts, "ess_min_mode_per_s": float(np.min(d["ess"])) / ts,
        "ess_min_per_s_with_warmup": min(d["ess_log_density"], float(np.min(d["ess"]))) / (ts + tw),
        "rhat_max": float(np.nanmax(np.append(d["rhat"], d["rhat_log_density"]))),
    }
    if method == "hmc":
        row["n_leapfrog"] = float(np.mean(d["n_leapfrog"]))
        row["step_size"] = float(np.mean(d["step_size"]))
        row["gradient_evaluations"] = d["gradient_evaluations"]
    return row


def _measure(gas, method, chains, warmup, seed, *, budget_s=None, pilot_draws=None, draws=None):
    """One timed run: ``draws`` per chain, or as many as fill ``budget_s`` after a (warm) pilot run."""
    if draws is None:
        pilot = _run(gas, method, pilot_draws, chains, warmup, seed)
        per_draw = pilot.diagnostics["time_sampling_s"] / pilot_draws
        draws = int(max(pilot_draws, budget_s / max(per_draw, 1e-9)))
    t0 = time.perf_counter()
    s = _run(gas, method, draws, chains, warmup, seed + 1)
    whole = time.perf_counter() - t0
    row = _row(gas, method, chains, warmup, s.diagnostics, draws)
    # The whole public call (validation, start, warm-up, sampling, τ/ESS/R̂) beside the kernel phases.
    row["whole_call_s"] = whole
    row["outside_kernels_s"] = whole - row["time_warmup_s"] - row["time_sampling_s"]
    return row


@njit(parallel=True)
def _rwm_all_site(X, LP, gens, n_iter, rec_x, rec_lp, kind, params, lower, beta, kappa, sd, steps, adapt, target,
                  acc):
    """All-site Gaussian random-walk Metropolis x' = x + h σ ξ (a reference for the benchmark only)."""
    n = X.shape[1]
    for c in prange(X.shape[0]):
        gen = gens[np.intp(c)]
        x = X[c]
        y = np.empty(n)
        st = steps[c]
        for it in range(n_iter):
            h = math.exp(st[LOG_EPS])
            for i in range(n):
                y[i] = x[i] + h * sd[i] * gen.standard_normal()
            lp1 = log_density(y, kind, params, lower, beta, kappa, 1e300, FORCE_SERIAL)
            d = lp1 - LP[c, 0]
            a = 1.0 if d >= 0.0 else (math.exp(d) if d > -np.inf else 0.0)
            if gen.random() < a:
                for i in range(n):
                    x[i] = y[i]
                LP[c, 0] = lp1
            acc[c] += a
            if adapt:
                da_update(st, a, target)
            elif rec_x.shape[1] > 1:
                for i in range(n):
                    rec_x[c, it, i] = x[i]
                rec_lp[c, it] = LP[c, 0]


def _measure_rwm(gas, chains, warmup, draws, seed, sd):
    """All-site random-walk Metropolis, per-mode scales ``sd`` (marginal std), tuned to acceptance 0.234."""
    kind, params, lower, a, c, w, s = gas.kernel_arrays()
    kappa = a / gas.diffusion
    gens = numba.typed.List(_rng.streams(seed, chains))
    x = np.broadcast_to(gas.ground_state(), (chains, gas.n)).copy()
    lp = gas.log_density(x)[:, None].copy()
    steps = np.zeros((chains, DA_STATE))
    restart_dual_averaging(steps, math.log(2.38 / math.sqrt(gas.n)))
    acc = np.zeros(chains)
    dummy_x, dummy_lp = np.empty((chains, 1, gas.n)), np.empty((chains, 1))
    args = (np.array(params), float(lower), float(gas.beta), kappa, sd)
    t0 = time.perf_counter()
    _rwm_all_site(x, lp, gens, warmup, dummy_x, dummy_lp, kind, *args, steps, True, 0.234, acc)
    tw = time.perf_counter() - t0
    steps[:, LOG_EPS] = steps[:, LOG_EPS_BAR]
    rec_x, rec_lp = np.empty((chains, draws, gas.n)), np.empty((chains, draws))
    acc[:] = 0.0
    t0 = time.perf_counter()
    _rwm_all_site(x, lp, gens, draws, rec_x, rec_lp, kind, *args, steps, False, 0.234, acc)
    ts = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        d = chain_diagnostics(rec_x, rec_lp, False)
    d.update(time_sampling_s=ts, time_warmup_s=tw, acceptance=acc / draws)
    return _row(gas, "rwm-all-site", chains, warmup, d, draws)


def _dppy_seconds_per_pass(n, passes=2):
    """Time DPPy's Gibbs sampler (β = 2, V = x⁴/4 + x²/2) if it is installed, else None."""
    try:
        from dppy.beta_ensemble_polynomial_potential import BetaEnsemblePolynomialPotential
    except ImportError:
        return None
    be = BetaEnsemblePolynomialPotential(beta=2, potential_V=np.poly1d([0.25, 0.0, 0.5, 0.0, 0.0]))
    t0 = time.perf_counter()
    be.sample_mcmc(N=n, nb_gibbs_passes=passes, random_state=0)
    return (time.perf_counter() - t0) / passes


def _worst(row) -> float:
    return min(row["ess_log_density_per_s"], row["ess_min_mode_per_s"])


def bench_mcmc(quick: bool = False) -> list[dict]:
    """Run the sampler benchmark; returns one dict per row (see the module docstring)."""
    budget = 2.0 if quick else 10.0
    rows = []
    goe = CoulombGas.gaussian(100, beta=1.0)
    per = {}
    for method in ("mh", "hmc"):
        row = _measure(goe, method, 4, 1000, 1, budget_s=budget, pilot_draws=100 if method == "hmc" else 1000)
        row["case"] = "GOE-type, n=100"
        per[method] = row
        rows.append(row)
    # All-site random walk with the best diagonal scales (marginal std), for context.
    ref = _run(goe, "hmc", 500, 4, 500, 7).x
    _measure_rwm(goe, 4, 50, 50, 1, ref.std(axis=0))  # compile
    rwm = _measure_rwm(goe, 4, 5000, 5000 if quick else 40000, 2, ref.std(axis=0))
    rwm["case"] = "GOE-type, n=100"
    rows.append(rwm)
    for other in ("mh", "rwm-all-site"):
        base = per["mh"] if other == "mh" else rwm
        rows.append({
            "case": "GOE-type, n=100", "method": f"hmc/{other}", "n": 100,
            "ratio_ess_log_density_per_s": per["hmc"]["ess_log_density_per_s"] / base["ess_log_density_per_s"],
            "ratio_ess_min_mode_per_s": per["hmc"]["ess_min_mode_per_s"] / base["ess_min_mode_per_s"],
            # Each sampler's worst monitored quantity (log P or the slowest mode), as Stan's min ESS.
            "ratio_ess_worst_per_s": _worst(per["hmc"]) / _worst(base),
            "target": ">= 10x",
        })

    n = 200 if quick else 1000
    quartic = CoulombGas.dyson(pot.Quartic(t=n / 2, g=n / 2), n, beta=2.0)
    row = _measure(quartic, "hmc", 4, 300 if quick else 1000, 3, draws=50 if quick else 250)
    row["case"] = f"quartic (DPPy normalisation), n={n}"
    rows.append(row)
    dppy_s = None if quick else _dppy_seconds_per_pass(n)
    basis = DPPY_SECONDS_PER_PASS if dppy_s is None else dppy_s
    ours = min(row["ess_log_density_per_s"], row["ess_min_mode_per_s"])
    rows.append({
        "case": f"quartic (DPPy normalisation), n={n}", "method": "hmc/dppy-gibbs", "n": n,
        "dppy_seconds_per_pass": basis, "dppy_measured_here": dppy_s is not None,
        "dppy_ess_per_s_upper_bound": 1.0 / basis,
        "ratio_ess_per_s_lower_bound": ours * basis,
        "target": ">= 100x" if n == 1000 else "(quick: n=200, not comparable)",
    })
    return rows


def format_table(rows) -> str:
    """Plain-text table of :func:`bench_mcmc` rows."""
    lines = [f"{'case':38s} {'method':14s} {'ESS(logP)/s':>12s} {'minESS/s':>10s} {'tau_lp':>7s} "
             f"{'tau_max':>7s} {'acc':>5s} {'L':>5s} {'whole call (outside kernels)':>30s}"]
    for r in rows:
        if "ess_log_density_per_s" in r:
            lines.append(
                f"{r['case']:38s} {r['method']:14s} {r['ess_log_density_per_s']:12.1f} "
                f"{r['ess_min_mode_per_s']:10.1f} {r['tau_log_density']:7.2f} {r['tau_max_mode']:7.2f} "
                f"{r['acceptance']:5.2f} {r.get('n_leapfrog', float('nan')):5.1f}"
                + (f" {r['whole_call_s']:12.3f} s ({r['outside_kernels_s']:.3f} s)" if "whole_call_s" in r else ""))
        elif "ratio_ess_min_mode_per_s" in r:
            lines.append(f"{r['case']:38s} {r['method']:14s} logP x{r['ratio_ess_log_density_per_s']:.2f}, "
                         f"min-mode x{r['ratio_ess_min_mode_per_s']:.1f} (target {r['target']})")
        else:
            lines.append(f"{r['case']:38s} {r['method']:14s} >= x{r['ratio_ess_per_s_lower_bound']:.0f} "
                         f"(DPPy {r['dppy_seconds_per_pass']:.2f} s/pass"
                         f"{', measured' if r['dppy_measured_here'] else ', quoted'}; target {r['target']})")
    return "\n".join(lines)
