r"""Run Markov chains of the stationary Coulomb gas: warm-up, then sampling, in memory-bounded chunks.

:func:`run_chains` is the driver behind :func:`coulombgas.sample` for the
Markov-chain methods ``"mh"`` (:mod:`.metropolis`) and ``"hmc"`` (:mod:`.hmc`).
It holds the chains' state between kernel calls (``_Runner``), picks the
compiled kernels for the gas's potential (:func:`kernels_for`: cached ones for
built-in potentials, re-bound per process for a Custom one), runs the warm-up
schedule of :mod:`.warmup` (dual averaging of the step sizes; for HMC also the
windowed metric adaptation), then records the draws, and turns a kernel's
status code (:mod:`coulombgas._status`) into an error that names the chain and
draw. ``chains`` chains run in one Numba ``prange``, one random stream per
chain, so the output is bit-identical for any number of threads.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np

from .._jit import rebind
from .._pairs import direct_force
from .._status import OK, SAMPLE_MESSAGES
from ._density import (C_ACC, C_DIVT, C_GRAD, C_ITER, C_STATUS, C_WHERE, COORD_GAPS, COORD_SOFT, COORD_X,
                       grad_log_density, log_density, log_density_unordered, log_target, log_target_grad,
                       pair_log_serial, prepare)
from .hmc import PARALLEL_N, hmc_chain, hmc_chains, hmc_single
from .metropolis import mh_chain, mh_chains
from .warmup import (DA_STATE, LOG_EPS, LOG_EPS_BAR, TARGET_ACCEPT, adapt_metric, restart_dual_averaging,
                     warmup_windows)

__all__ = ["run_chains", "kernels_for", "TARGET_ACCEPT"]


class _Kernels:
    """The compiled kernels for one potential (cached ones for built-in kinds)."""

    def __init__(self, prepare, mh_chains, hmc_chains, hmc_single):
        self.prepare = prepare
        self.mh_chains = mh_chains
        self.hmc_chains = hmc_chains
        self.hmc_single = hmc_single


_BUILTIN = _Kernels(prepare, mh_chains, hmc_chains, hmc_single)
_CUSTOM_KERNELS: dict = {}


def kernels_for(potential) -> _Kernels:
    """Kernels for a gas's potential; a Custom potential's are compiled once per process.

    Numba cannot cache code that calls a user's function, so the same kernel
    source is re-bound with ``V_kernel``/``dV_kernel`` pointing at the user's
    functions (:func:`coulombgas._jit.rebind`).
    """
    if getattr(potential, "derivative_fn", None) is None:
        return _BUILTIN

    key = (id(potential.value_fn), id(potential.derivative_fn))
    if key not in _CUSTOM_KERNELS:
        user_v, user_dv = potential.value_fn, potential.derivative_fn

        @numba.njit
        def V(x, i, kind, params):
            return user_v(x, i)

        @numba.njit
        def dV(x, i, kind, params):
            return user_dv(x, i)

        # Serial pair sums only: nested parallel regions would double the per-process
        # compile time (~15 s), and custom potentials are a small-n escape hatch.
        logd = rebind(log_density, V_kernel=V, pair_log_parallel=pair_log_serial)
        logd_u = rebind(log_density_unordered, V_kernel=V)
        grad = rebind(grad_log_density, dV_kernel=dV, direct_force_parallel=direct_force)
        target = rebind(log_target, log_density=logd)
        target_grad = rebind(log_target_grad, grad_log_density=grad)
        prep = rebind(prepare, log_target=target, log_target_grad=target_grad)
        mh = rebind(mh_chain, V_kernel=V)
        hmc = rebind(hmc_chain, log_target=target, log_target_grad=target_grad, log_density_unordered=logd_u)
        kernels = _Kernels(prep, rebind(mh_chains, mh_chain=mh), rebind(hmc_chains, hmc_chain=hmc),
                           rebind(hmc_single, hmc_chain=hmc))
        # Keep the user functions alive so that their ids stay unique.
        _CUSTOM_KERNELS[key] = (potential.value_fn, potential.derivative_fn, kernels)
    return _CUSTOM_KERNELS[key][2]


class _Runner:
    """Holds the chains' state between kernel calls; one call per chunk of iterations."""

    def __init__(self, gas, method, x0, gens, kernels, persistence, target, max_leapfrog, progress_total,
                 show_progress, coords=COORD_X, dense=False):
        kind, params, lower, a, c, w, s = gas.kernel_arrays()
        self.gas = gas
        self.method = method
        # A private writeable copy: per-mode potentials hand out read-only views, and a
        # read-only array is a different Numba type (one more compilation of every kernel).
        self.kind, self.params, self.lower = int(kind), np.array(params, dtype=np.float64), float(lower)
        self.beta = float(gas.beta)
        self.kappa = np.ascontiguousarray(a / gas.diffusion)
        self.ones = np.ones(gas.n)
        chains, n = x0.shape
        self.chains, self.n = chains, n
        self.coords = int(coords) if method == "hmc" else COORD_X
        self.dense = bool(dense)
        x0 = np.ascontiguousarray(x0, dtype=np.float64)
        # Soft gaps switch from logarithmic to linear at the starting configuration's gaps
        # (averaged over chains): the typical spacing at each place in the spectrum.
        edges = np.diff(x0, axis=-1)
        first = x0[:, :1] - self.lower if self.lower > -np.inf else np.ones((x0.shape[0], 1))
        self.scale = np.ascontiguousarray(np.mean(np.concatenate([first, edges], axis=1), axis=0))
        self.x = self.to_q(x0)  # the kernels' state: q = x, or (x_1, log gaps)
        scale = 1.0 + float(np.max(np.abs(x0))) + float(np.max(x0[:, -1] - x0[:, 0]))
        self.radius = 1e10 * scale
        self.gens = gens
        self.typed_gens = numba.typed.List(gens)
        self.k = kernels
        self.persistence = float(persistence)
        self.target = float(target)
        self.max_leapfrog = int(max_leapfrog)
        self.counts = np.zeros((chains, 6), dtype=np.int64)
        self.acc = np.zeros((chains, 1))
        self.lp = np.empty((chains, 1))
        self.grad = np.empty((chains, n))
        self.mom = np.zeros((chains, n))
        self.k.prepare(self.x, self.lp, self.grad, kind, params, self.lower, self.beta, self.kappa, self.ones,
                       self.radius, self.coords, self.scale)
        self.bar = None
        if show_progress:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=progress_total, unit="it", desc=f"sample ({method})", leave=False)
        gaps = np.diff(np.concatenate([np.full((chains, 1), self.lower if self.lower > -np.inf else -np.inf),
                                       x0], axis=1), axis=1)
        gaps[~np.isfinite(gaps)] = np.inf
        local = np.minimum(gaps[:, :], np.concatenate([gaps[:, 1:], np.full((chains, 1), np.inf)], axis=1))
        local = np.where(np.isfinite(local), local, np.min(gaps, axis=1, keepdims=True))
        if method == "mh":
            # Each site starts with half its smallest neighbouring gap.
            self.steps = np.zeros((chains, n, DA_STATE))
            self._restart_da(np.log(0.5 * local))
        else:
            # Leapfrog stability near the closest pair (x) or a modest log-gap step (gaps).
            eps0 = 0.2 * float(np.min(local)) if self.coords == COORD_X else 0.1 * min(1.0, float(np.min(local)))
            self.inv_metric = np.ones((1, n))  # one row: diagonal M⁻¹; (n, n): dense
            self.sd_mom = np.ones((1, n))
            self.steps = np.zeros((chains, DA_STATE))
            self._restart_da(np.full(chains, math.log(eps0)))
            self.n_leap = np.full(chains, 8, dtype=np.int64)
            self.traj_time = None
            if self.persistence > 0:
                for cc in range(chains):
                    self.mom[cc] = self._momentum(self.gens[cc])

    def to_q(self, x):
        """Sampler coordinates of configurations x (..., n)."""
        if self.coords == COORD_X:
            return np.ascontiguousarray(x, dtype=np.float64).copy()
        wall = self.lower > -np.inf
        # Gap coordinates: from x_1 − lower with a wall, from x_2 − x_1 without (q_1 = x_1 then).
        gaps = np.concatenate([x[..., :1] - self.lower, np.diff(x, axis=-1)], axis=-1)[..., (0 if wall else 1):]
        if self.coords == COORD_GAPS:
            g = np.log(gaps)
        else:  # inverse softplus: log(e^u − 1) = u + log(1 − e^{−u})
            u = gaps / self.scale[(0 if wall else 1):]
            g = u + np.log(-np.expm1(-u))
        q = np.concatenate([g if wall else np.concatenate([x[..., :1], g], axis=-1)], axis=-1)
        return np.ascontiguousarray(q)

    def _restart_da(self, log_eps):
        restart_dual_averaging(self.steps, log_eps)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def _call(self, n_iter, thin, rec_x, rec_lp, adapt):
        g = self.gas
        if self.method == "mh":
            self.k.mh_chains(self.x, self.lp, self.typed_gens, n_iter, thin, rec_x, rec_lp, self.kind,
                             self.params, self.lower, self.beta, self.kappa, self.radius, self.steps, adapt,
                             self.target, self.counts, self.acc)
        else:
            fn = self.k.hmc_single if (self.chains == 1 and g.n >= PARALLEL_N) else self.k.hmc_chains
            fn(self.x, self.lp, self.grad, self.mom, self.typed_gens, n_iter, thin, rec_x, rec_lp, self.kind,
               self.params, self.lower, self.beta, self.kappa, self.ones, self.radius, self.inv_metric,
               self.sd_mom, self.steps, self.n_leap, self.persistence, adapt, self.target, self.counts, self.acc,
               self.coords, self.scale)

    def run(self, n_iter, thin, adapt, record, phase, offset):
        """Run n_iter iterations (a multiple of thin) in chunks; returns (x, lp) records or None."""
        draws = n_iter // thin if record else 0
        rec_x = np.empty((self.chains, max(draws, 1) if record else 1, self.n))
        rec_lp = np.empty((self.chains, max(draws, 1) if record else 1))
        per_iter = self.chains * self.n * self.n * (1 if self.method == "mh" else int(self.n_leap.max()) + 1)
        chunk = max(thin, int(2e9 // max(per_iter, 1)) // thin * thin)
        done = 0
        while done < n_iter:
            todo = min(chunk, n_iter - done)
            if record:
                r0 = done // thin
                self._call(todo, thin, rec_x[:, r0:r0 + todo // thin], rec_lp[:, r0:r0 + todo // thin], adapt)
            else:
                self._call(todo, n_iter + 1, rec_x, rec_lp, adapt)
            self._check(phase, offset)
            done += todo
            if self.bar is not None:
                self.bar.update(todo)
        return (rec_x, rec_lp) if record else None

    def _check(self, phase, offset):
        bad = np.flatnonzero(self.counts[:, C_STATUS] != OK)
        if bad.size == 0:
            return
        c = int(bad[0])
        status = int(self.counts[c, C_STATUS])
        where = int(self.counts[c, C_WHERE]) - offset
        unit = "sweep" if self.method == "mh" else "iteration"
        self.close()
        raise FloatingPointError(
            f"chain {c} diverged at {phase} {unit} {where} ({bad.size} chain(s) affected): "
            + SAMPLE_MESSAGES[status].format(radius=self.radius))

    def adapt_metric(self, rec_x):
        """Warm-up window's draws → mass matrix and trajectory time (:func:`.warmup.adapt_metric`)."""
        self.inv_metric, self.sd_mom, self.traj_time = adapt_metric(self.to_q(rec_x), self.dense)
        # Gradients are unchanged; only the kinetic energy's metric moved. Restart step tuning.
        self._restart_da(self.steps[:, LOG_EPS_BAR].copy())
        self._set_leapfrog(np.exp(self.steps[:, LOG_EPS]))
        if self.persistence > 0:
            for cc in range(self.chains):
                self.mom[cc] = self._momentum(self.gens[cc])

    def _momentum(self, gen):
        z = gen.standard_normal(self.n)
        return self.sd_mom[0] * z if self.sd_mom.shape[0] == 1 else self.sd_mom @ z

    def _set_leapfrog(self, eps):
        if self.traj_time is None:
            return
        self.n_leap = np.clip(np.ceil(self.traj_time / eps), 1, self.max_leapfrog).astype(np.int64)

    def finish_warmup(self):
        """Freeze the tuned steps: exp of the dual-averaging iterate log ε̄."""
        self.steps[..., LOG_EPS] = self.steps[..., LOG_EPS_BAR]
        if self.method == "hmc":
            self._set_leapfrog(np.exp(self.steps[:, LOG_EPS]))


def run_chains(gas, method: str, draws: int, *, chains: int, warmup: int, thin: int, gens, x0,
               persistence: float = 0.0, target_accept: float | None = None, max_leapfrog: int = 1024,
               coordinates: str = "softgaps", metric: str = "dense", progress: bool | None = None) -> dict:
    """Warm up and run ``chains`` Markov chains of ``method`` ("mh" or "hmc"); inputs validated by the caller.

    Returns a dict with ``x`` (chains, draws, n), ``log_density`` (chains, draws)
    and ``diagnostics`` (acceptance, step sizes, counters, timings). Raises
    :class:`FloatingPointError` naming the chain and draw if a chain diverges.
    """
    target = TARGET_ACCEPT[method] if target_accept is None else float(target_accept)
    kernels = kernels_for(gas.potential)
    total = chains * (warmup + draws * thin)
    est = total * gas.n * gas.n * (1 if method == "mh" else 20)
    show = progress if progress is not None else est > 2e10
    coords = {"x": COORD_X, "gaps": COORD_GAPS, "softgaps": COORD_SOFT}[coordinates]
    runner = _Runner(gas, method, x0, gens, kernels, persistence, target, max_leapfrog, warmup + draws * thin,
                     bool(show), coords, metric == "dense")
    bad = np.flatnonzero(~np.isfinite(runner.lp[:, 0]))
    if bad.size:
        runner.close()
        raise ValueError(f"`x0` of chain {int(bad[0])} has log-density {runner.lp[bad[0], 0]} (must be finite): "
                         "start inside the potential's domain, strictly increasing")
    t0 = time.perf_counter()
    try:
        if method == "mh":
            if warmup:
                runner.run(warmup, 1, True, False, "warm-up", 0)
        else:
            for length, metric in warmup_windows(warmup):
                out = runner.run(length, 1, True, metric, "warm-up", 0)
                if metric:
                    runner.adapt_metric(out[0])
        runner.finish_warmup()
        warm_counts = runner.counts.copy()
        warm_acc = runner.acc.copy()
        t1 = time.perf_counter()
        rec_x, rec_lp = runner.run(draws * thin, thin, False, True, "sampling", warmup)
        t2 = time.perf_counter()
    finally:
        runner.close()
    counts = runner.counts - warm_counts
    proposals = counts[:, C_ITER] * (gas.n if method == "mh" else 1)
    diag = {
        "acceptance": (runner.acc[:, 0] - warm_acc[:, 0]) / np.maximum(proposals, 1),
        "accepted_fraction": counts[:, C_ACC] / np.maximum(proposals, 1),
        "target_acceptance": target,
        "warmup": warmup,
        "draws_per_chain": draws,
        "thin": thin,
        "time_warmup_s": t1 - t0,
        "time_sampling_s": t2 - t1,
    }
    if method == "mh":
        diag["step_size"] = np.exp(runner.steps[:, :, LOG_EPS])
        diag["proposal"] = "single-site Gaussian random walk, systematic scan"
    else:
        diag["step_size"] = np.exp(runner.steps[:, LOG_EPS])
        diag["n_leapfrog"] = runner.n_leap.copy()
        diag["trajectory_time"] = runner.traj_time if runner.traj_time is not None else float("nan")
        diag["inverse_metric"] = runner.inv_metric[0].copy() if runner.inv_metric.shape[0] == 1 \
            else runner.inv_metric.copy()
        diag["metric"] = metric
        diag["persistence"] = runner.persistence
        diag["coordinates"] = coordinates
        diag["divergent_transitions"] = counts[:, C_DIVT].copy()
        diag["gradient_evaluations"] = int(runner.counts[:, C_GRAD].sum())
    return {"x": rec_x, "log_density": rec_lp, "diagnostics": diag}
