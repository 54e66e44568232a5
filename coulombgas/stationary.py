r"""`sample`: draw from the stationary Coulomb gas P_s of a :class:`~coulombgas.gas.CoulombGas`.

The target is the law of the ordered eigenvalues x_1 < … < x_n,

.. math::

    P_s(x) \propto \prod_{i<j} |x_i - x_j|^{\beta}
            \exp\Big(-\sum_i \frac{a\, V_i(x_i)}{D_i}\Big),
    \qquad D_i = s_i^2/2,

(:meth:`CoulombGas.log_density`, SCIENCE.md §3). In the Dyson form
(a = 1, D = 1/β) this is Π|x_i − x_j|^β e^{−β Σ V(x_i)}; in the SGD form it
is Π|x_i − x_j|^β e^{−Σ V_i/(T g_i²)}, T = α/|B|. It is the exact stationary
law of the eigenvalue SDE when ``gas.stationary_is_exact`` (equal g), and the
papers' Coulomb-gas approximation otherwise.

Methods (``method=``, see :data:`METHODS`):

``"tridiagonal"``
    Exact, independent draws from the Dumitriu–Edelman tridiagonal β-Hermite
    / β-Laguerre models (:mod:`coulombgas.samplers.tridiagonal`), available when
    ``tridiagonal.exact_model(gas)`` recognises the gas.
``"mh"``
    Single-site random-walk Metropolis (:mod:`coulombgas.samplers.metropolis`).
``"hmc"``
    Hybrid Monte Carlo (Chafaï & Ferré 2018, :mod:`coulombgas.samplers.hmc`) with Stan-style
    warm-up (:mod:`coulombgas.samplers.warmup`).
``"auto"``
    ``"tridiagonal"`` where exact, else ``"hmc"``.

Markov-chain results carry the integrated autocorrelation time τ, the
effective sample size and the rank-normalised split R̂ of every mode and of
log P_s; a chain shorter than 50 τ gives a loud :class:`UserWarning` (or
:class:`~coulombgas.diagnostics.AutocorrError` with ``strict=True``), as emcee does.

References
----------
I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002).
D. Chafaï, G. Ferré, J. Stat. Phys. 174, 692 (2019), arXiv:1806.05985.
R. M. Neal, "MCMC using Hamiltonian dynamics" (2011), arXiv:1206.1901.
M. D. Hoffman, A. Gelman, JMLR 15, 1593 (2014).
A. Vehtari et al., Bayesian Analysis 16, 667 (2021), arXiv:1903.08008.
A. D. Sokal, Cargèse lectures (1997); D. Foreman-Mackey et al., PASP 125, 306 (2013).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import numpy as np

from . import _rng
from . import _validate as v
from .diagnostics import (MIN_TAU_MULTIPLE, AutocorrError, chain_diagnostics, effective_sample_size,
                          integrated_time, split_rhat)
from .gas import CoulombGas
from .samplers import tridiagonal
from .samplers.chains import run_chains
from .samplers.warmup import TARGET_ACCEPT, warmup_windows

__all__ = ["sample", "Samples", "METHODS", "Method", "resolve_method", "AutocorrError", "integrated_time",
           "effective_sample_size", "split_rhat", "MIN_TAU_MULTIPLE"]


@dataclasses.dataclass(frozen=True)
class Method:
    """A named sampler: exact or Markov chain, its default target acceptance, its reference."""

    name: str
    exact: bool
    target_acceptance: float | None
    reference: str


METHODS = {
    "tridiagonal": Method("tridiagonal", True, None,
                          "Dumitriu & Edelman, J. Math. Phys. 43, 5830 (2002)"),
    "mh": Method("mh", False, TARGET_ACCEPT["mh"],
                 "Metropolis et al. (1953); Gelman, Roberts & Gilks (1996) for the 0.44 target"),
    "hmc": Method("hmc", False, TARGET_ACCEPT["hmc"],
                  "Chafaï & Ferré, J. Stat. Phys. 174, 692 (2019); Neal (2011); Hoffman & Gelman (2014)"),
}
_ALIASES = {"metropolis": "mh", "auto": "auto"}


# ------------------------------------------------------------------ results

class _LazyLogDensity:
    """The ``Samples.log_density`` field: given, or computed on first access from ``gas`` and ``x_chains``.

    Exact samplers do not need log P_s, and it costs O(n²) per sample (more
    than the sample itself for n ≳ 1e4), so it is evaluated only when read
    (:meth:`CoulombGas.log_density`: compiled pair loop, O(n) memory) and kept.
    """

    def __set_name__(self, owner, name):
        self._slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return None  # the dataclass default
        value = obj.__dict__.get(self._slot)
        if value is None:
            value = obj.gas.log_density(obj.x_chains)
            obj.__dict__[self._slot] = value
        return value

    def __set__(self, obj, value):
        # ``value`` is this descriptor itself when the field is left at its default.
        lazy = value is None or isinstance(value, _LazyLogDensity)
        obj.__dict__[self._slot] = None if lazy else np.asarray(value, dtype=np.float64)


@dataclasses.dataclass(frozen=True, eq=False)
class Samples:
    """Draws from the stationary law of ``gas``.

    Attributes
    ----------
    x : ndarray, shape (n_samples, n)
        Samples, each row ascending. For Markov chains: the chains' draws
        concatenated chain after chain (first ``n_samples`` of
        ``x_chains.reshape(-1, n)``).
    method : str
        ``"tridiagonal"``, ``"mh"`` or ``"hmc"`` (the method actually run).
    gas : CoulombGas
        The system sampled.
    seed : dict
        Entropy and spawn key of the seed sequence (:func:`coulombgas._rng.seed_record`).
    diagnostics : dict
        For Markov chains (units: draws after thinning unless stated):

        ``acceptance`` (chains,)
            mean Metropolis acceptance probability per chain (per single-site
            proposal for ``"mh"``); ``accepted_fraction`` the realised fraction.
        ``step_size``
            (chains,) leapfrog ε for ``"hmc"``; (chains, n) per-site proposal
            widths for ``"mh"``. HMC also reports ``n_leapfrog`` (chains,),
            ``trajectory_time``, ``inverse_metric`` (n,), ``divergent_transitions``,
            ``gradient_evaluations``.
        ``autocorr_time`` (n,), ``autocorr_time_log_density``
            integrated autocorrelation time τ of each ordered eigenvalue and of
            log P_s (:func:`integrated_time`, c = 5).
        ``ess`` (n,), ``ess_log_density``
            effective sample size chains·draws/τ.
        ``rhat`` (n,), ``rhat_log_density``
            rank-normalised split R̂ (Vehtari et al. 2021); NaN for one chain of < 4 draws.
        ``warmup``, ``draws_per_chain``, ``thin``, ``chains``
            iteration counts (HMC transitions or MH sweeps).
        ``time_warmup_s``, ``time_sampling_s``
            wall-clock seconds (the only fields that differ between identical runs).
    x_chains : ndarray, shape (chains, draws, n)
        Draws per chain (``chains`` = 1 for exact samplers).
    log_density : ndarray, shape (chains, draws)
        Unnormalised log P_s at every draw. Markov chains record it as they
        run; for exact samplers it is computed on first access (O(n²) time per
        sample, O(n) memory) and then kept, so ``sample`` costs what the draw
        costs when nobody reads it.
    """

    x: np.ndarray
    method: str
    gas: CoulombGas
    seed: dict
    diagnostics: dict
    x_chains: np.ndarray
    log_density: np.ndarray = dataclasses.field(default=_LazyLogDensity(), repr=False)

    @property
    def n_samples(self) -> int:
        return self.x.shape[0]

    @property
    def chains(self) -> int:
        return self.x_chains.shape[0]

    @property
    def acceptance(self):
        """Per-chain mean acceptance probability (1 for exact samplers)."""
        return self.diagnostics["acceptance"]

    @property
    def autocorr_time(self):
        """τ per mode, shape (n,), in draws (1 for exact samplers)."""
        return self.diagnostics["autocorr_time"]

    def independent(self, factor: float = 1.0) -> np.ndarray:
        """Draws thinned by ⌈factor · max τ⌉ within each chain, pooled: shape (m, n).

        With factor ≥ 1 successive kept draws are about independent (the
        residual lag correlation is ≈ e^{-2 factor} for an exponential
        autocorrelation), which is what goodness-of-fit tests assume.
        """
        factor = v.positive("factor", factor)
        taus = [np.max(self.diagnostics["autocorr_time"]), self.diagnostics["autocorr_time_log_density"]]
        step = max(1, int(math.ceil(factor * float(np.max(taus)))))
        return self.x_chains[:, ::step, :].reshape(-1, self.x.shape[1])

    def summary(self, arrays_file: str = "samples.npz") -> dict:
        """A small JSON-ready summary; every array stays in the ``.npz`` that :meth:`save` writes.

        One schema per field, whatever the method or size:

        * ``method``, ``n``, ``n_samples``, ``chains``: str / int;
        * ``seed``: as in :attr:`seed`; ``gas``: :meth:`CoulombGas.summary` (O(1) in n);
        * ``diagnostics``: each scalar diagnostic as a number (``null`` when
          not finite, e.g. R̂ of a short chain) or a string; each array
          diagnostic (``inverse_metric``, ``step_size``, ``autocorr_time``, …)
          as ``{"file", "key", "shape", "min", "median", "max"}``, where
          ``key`` is its name in ``arrays_file`` (``diag__<name>``).

        Use: ``s.save(out / "samples.npz"); json.dump(s.summary("samples.npz"), fh)``.
        The summary is O(number of diagnostics) in size, not O(n²) (a dense HMC
        metric is n × n numbers: 1.25 MB of JSON at n = 250).
        """
        diag = {}
        for key, value in self.diagnostics.items():
            if isinstance(value, np.ndarray):
                finite = value[np.isfinite(value)] if value.dtype.kind in "fiu" else np.empty(0)
                stat = (lambda f: float(f(finite)) if finite.size else None)
                diag[key] = {"file": str(arrays_file), "key": f"diag__{key}", "shape": list(value.shape),
                             "min": stat(np.min), "median": stat(np.median), "max": stat(np.max)}
            elif isinstance(value, (bool, np.bool_, str)) or value is None:
                diag[key] = value.item() if isinstance(value, np.generic) else value
            elif isinstance(value, (numbers.Integral,)):
                diag[key] = int(value)
            elif isinstance(value, numbers.Real):
                diag[key] = float(value) if math.isfinite(float(value)) else None
            else:  # e.g. the exact model's dict: already small and JSON-ready
                diag[key] = json.loads(json.dumps(value, default=_jsonable))
        return {"method": self.method, "n": int(self.gas.n), "n_samples": int(self.n_samples),
                "chains": int(self.chains), "seed": self.seed, "gas": self.gas.summary(), "diagnostics": diag}

    def save(self, path) -> None:
        """Write to a ``.npz`` file (arrays) with JSON metadata; :meth:`load` round-trips it exactly."""
        arrays = {"x": self.x, "x_chains": self.x_chains, "log_density": self.log_density}
        scalars = {}
        for key, value in self.diagnostics.items():
            if isinstance(value, np.ndarray):
                arrays[f"diag__{key}"] = value
            elif isinstance(value, float) and not math.isfinite(value):
                arrays[f"diag__{key}"] = np.asarray(value)  # JSON cannot hold NaN/inf
                scalars.setdefault("__scalar_arrays__", []).append(key)
            else:
                scalars[key] = value.item() if isinstance(value, np.generic) else value
        meta = {"gas": self.gas.to_dict(), "method": self.method, "seed": self.seed, "diagnostics": scalars}
        with open(path, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta, allow_nan=False)), **arrays)

    @classmethod
    def load(cls, path) -> "Samples":
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            diag = dict(meta["diagnostics"])
            as_scalar = set(diag.pop("__scalar_arrays__", []))
            for name in f.files:
                if name.startswith("diag__"):
                    key = name[len("diag__"):]
                    diag[key] = float(f[name]) if key in as_scalar else f[name]
            return cls(x=f["x"], method=meta["method"], gas=CoulombGas.from_dict(meta["gas"]), seed=meta["seed"],
                       diagnostics=diag, x_chains=f["x_chains"], log_density=f["log_density"])


# ------------------------------------------------------------------ dispatch

def resolve_method(gas, method: str) -> str:
    """The sampler ``sample(gas, n, method=method)`` runs: ``"tridiagonal"``, ``"mh"`` or ``"hmc"``.

    Resolves ``"auto"`` (``"tridiagonal"`` where :func:`coulombgas.samplers.tridiagonal.exact_model`
    recognises the gas, else ``"hmc"``) and the alias ``"metropolis"``. Raises
    :class:`ValueError` for an unknown name, or ``"tridiagonal"`` for a gas
    without an exact matrix model (saying why not), :class:`TypeError` for a
    non-string.
    """
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string, got {type(method).__name__}")
    name = _ALIASES.get(method, method)
    v.one_of("method", name, ("auto", *METHODS))
    if name not in ("auto", "tridiagonal"):
        return name
    if tridiagonal.exact_model(gas) is not None:
        return "tridiagonal"
    if name == "auto":
        return "hmc"
    raise ValueError(
        "`method`='tridiagonal' needs a gas with an exact tridiagonal model (one quadratic or Laguerre "
        "potential common to all modes, equal weights and noise: β-Hermite / β-Laguerre); "
        f"this gas has {tridiagonal.match_model(gas)[1]}; use method='hmc' or 'mh'")


# ------------------------------------------------------------------ public API

def sample(gas: CoulombGas, n_samples: int, *, method: str = "auto", chains: int = 4, warmup: int | None = None,
           thin: int = 1, seed=None, progress: bool | None = None, x0=None, target_accept: float | None = None,
           persistence: float = 0.0, max_leapfrog: int = 1024, coordinates: str = "softgaps", metric: str = "auto",
           strict: bool = False) -> Samples:
    r"""Draw ``n_samples`` configurations from the stationary Coulomb gas of ``gas``.

    P_s(x) ∝ Π_{i<j}|x_i − x_j|^β exp(−Σ_i a V_i(x_i)/D_i) on x_1 < … < x_n
    (see the module docstring for the conventions).

    Parameters
    ----------
    gas : CoulombGas
        The system. Its stationary law is exact for equal g (``gas.stationary_is_exact``).
    n_samples : int, >= 1
        Samples returned (for Markov chains: ⌈n_samples/chains⌉ draws per chain,
        at least 2, and warm-up + draws·thin at most 1e9 iterations per chain).
        Requests over the machine's memory are refused before any work, with
        the memory they would need.
    method : {"auto", "tridiagonal", "mh", "hmc"}
        See :data:`METHODS`. ``"auto"`` = ``"tridiagonal"`` when it is exact for
        ``gas``, else ``"hmc"``. ``"metropolis"`` is an alias of ``"mh"``.
    chains : int, >= 1
        Independent Markov chains, run in parallel (ignored by exact methods, but
        a value whose chain states would not fit in memory is refused by all).
    warmup : int, >= 0, optional
        Tuning iterations per chain, discarded (HMC transitions or MH sweeps).
        Default 1000.
    thin : int, >= 1
        Keep every ``thin``-th iteration.
    seed : None, int, SeedSequence or Generator
        Randomness; one stream per chain, so the same seed gives bit-identical
        samples for any number of threads.
    progress : bool, optional
        tqdm progress bar (default: for long runs).
    x0 : array_like, shape (n,) or (chains, n), optional
        Starting configurations, strictly increasing. Default: the harmonic
        T = 0 equilibrium (:meth:`CoulombGas.ground_state`), jittered
        per chain by up to 0.4 of the smallest gap.
    target_accept : float in (0, 1), optional
        Warm-up's target mean acceptance (default 0.44 for ``"mh"``, 0.65 for ``"hmc"``).
        The dual-averaging iterate ε̄ kept after warm-up sits below the last
        iterates, so the realised HMC acceptance is higher (≈ 0.9 at 0.65).
    persistence : float in [0, 1)
        HMC partial momentum refresh p ← η p + √(1−η²) ξ (0: full refresh).
    max_leapfrog : int, >= 1
        Cap on the mean number of leapfrog steps per HMC trajectory.
    coordinates : {"softgaps", "gaps", "x"}
        HMC coordinates. ``"gaps"``: q = (x_1, log(x_2 − x_1), …, log(x_n − x_{n−1}))
        (x_1 → log(x_1 − lower) with a hard wall), where the order is automatic and
        a near-collision is no longer a singularity. ``"softgaps"`` (default):
        gap_k = s_k log(1 + e^{q_k}), logarithmic for small gaps and linear for
        large ones (s_k: the starting configuration's gaps), which removes the
        stiffness that log gaps have for large gaps. ``"x"``: the eigenvalues
        themselves, as Chafaï & Ferré do, rejecting trajectories that break the
        order (their energy is infinite). See Notes.
    metric : {"auto", "dense", "diag"}
        HMC mass matrix from the warm-up covariance: dense (with shrinkage) or
        diagonal; ``"auto"`` is dense up to n = 1000, diagonal above.
    strict : bool
        Raise :class:`~coulombgas.diagnostics.AutocorrError` instead of warning when a
        chain is shorter than 50 autocorrelation times.

    Returns
    -------
    Samples
        ``x`` (n_samples, n) and per-chain draws ``x_chains`` (chains, draws, n),
        with diagnostics (acceptance, step size, τ, ESS, R̂).

    Raises
    ------
    ValueError, TypeError
        Bad arguments, or a method that cannot sample this gas (the message says why).
    FloatingPointError
        A chain diverged (non-confining potential, non-finite log-density): names the chain and draw.
    AutocorrError
        With ``strict=True``, chains shorter than 50 τ.

    Warns
    -----
    UserWarning
        Chains shorter than 50 τ (τ and ESS unreliable: run longer or thin more).

    Notes
    -----
    Why gap coordinates: in x the pair term β log|x_i − x_j| is singular at
    collisions. A leapfrog trajectory that brings two eigenvalues to a gap g
    needs a step ≪ g to follow the bounce, and for β = 1 small gaps are common
    (density ∝ g^β), so the tuned step collapses: at n = 100 (GOE, diagonal
    mass matrix) the x-coordinate sampler needed ε ≈ 0.002 and 1024 leapfrog
    steps per transition, and still had 5% of transitions with energy errors
    > 1000. With log gaps the nearest-neighbour terms become linear, (β + 1) q_k
    with the Jacobian, and the target is smooth for small gaps; soft gaps keep
    that and are also mild for large gaps. Measured gradient evaluations per
    effective sample of log P_s (n = 100 GOE, dense metric, target 0.65):
    ≈ 20 (soft gaps), 38 (log gaps), 175 (x). All are exact
    (Metropolis-adjusted); the density of q includes the Jacobian log|∂x/∂q|.

    τ, ESS and R̂ are computed for every ordered eigenvalue and for log P_s;
    the slowest mode of a log-gas is usually collective (the centre of mass or
    the breathing of the whole spectrum), which log P_s tracks. Samples are
    correlated within a chain: use :meth:`Samples.independent` for tests that
    assume independent draws.

    Examples
    --------
    >>> import coulombgas as cg
    >>> from coulombgas.stationary import sample
    >>> gas = cg.CoulombGas.dyson(cg.potentials.Quartic(t=1.0, g=1.0), 8, beta=2.0)
    >>> s = sample(gas, 2000, method="hmc", seed=1)   # doctest: +SKIP
    >>> s.x.shape                                      # doctest: +SKIP
    (2000, 8)
    """
    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a CoulombGas, got {type(gas).__name__}")
    n_samples = v.integer("n_samples", n_samples, minimum=1)
    chains = v.integer("chains", chains, minimum=1)
    thin = v.integer("thin", thin, minimum=1)
    warmup = 1000 if warmup is None else v.integer("warmup", warmup, minimum=0)
    max_leapfrog = v.integer("max_leapfrog", max_leapfrog, minimum=1)
    persistence = v.real("persistence", persistence)
    if not 0.0 <= persistence < 1.0:
        raise ValueError(f"`persistence` must be in [0, 1), got {persistence:g}")
    if target_accept is not None:
        target_accept = v.real("target_accept", target_accept)
        if not 0.0 < target_accept < 1.0:
            raise ValueError(f"`target_accept` must be in (0, 1), got {target_accept:g}")
    strict = v.flag("strict", strict)
    if progress is not None:
        progress = v.flag("progress", progress)
    v.one_of("coordinates", coordinates, ("gaps", "softgaps", "x"))
    v.one_of("metric", metric, ("auto", "dense", "diag"))
    if metric == "auto":
        metric = "dense" if gas.n <= 1000 else "diag"
    name = resolve_method(gas, method)
    _check_size(gas.n, n_samples, chains, warmup, thin, name, metric)

    ss = _rng.seed_sequence(seed)
    seed_info = _rng.seed_record(ss)
    if name == "tridiagonal":
        x = np.asarray(tridiagonal.sample_exact(gas, n_samples, seed=ss), dtype=np.float64)
        if np.any(x[:, 1:] < x[:, :-1]):  # the LAPACK drivers return ascending order; keep the promise
            x = np.sort(x, axis=-1)
        diag = {"acceptance": np.ones(1), "autocorr_time": np.ones(gas.n), "autocorr_time_log_density": 1.0,
                "ess": np.full(gas.n, float(n_samples)), "ess_log_density": float(n_samples),
                "chains": 1, "draws_per_chain": n_samples, "warmup": 0, "thin": 1,
                "exact_model": json.loads(json.dumps(tridiagonal.exact_model(gas), default=_jsonable))}
        return Samples(x=x, method=name, gas=gas, seed=seed_info, diagnostics=diag, x_chains=x[None])

    draws = -(-n_samples // chains)
    start = gas.initial_states(x0, chains)
    gens = _rng.streams(ss, chains)
    if x0 is None:
        start = _jitter(start, gens, gas)
    out = run_chains(gas, name, draws, chains=chains, warmup=warmup, thin=thin, gens=gens, x0=start,
                          persistence=persistence, target_accept=target_accept, max_leapfrog=max_leapfrog,
                          coordinates=coordinates, metric=metric, progress=progress)
    xc, lp = out["x"], out["log_density"]
    _check_finite(xc, lp, warmup)
    diag = dict(out["diagnostics"])
    diag["chains"] = chains
    diag.update(chain_diagnostics(xc, lp, strict))
    x = np.ascontiguousarray(xc.reshape(-1, gas.n)[:n_samples])
    return Samples(x=x, method=name, gas=gas, seed=seed_info, diagnostics=diag, x_chains=xc, log_density=lp)


#: Most iterations (warm-up + draws·thin) one Markov chain may be asked for: beyond it a run
#: takes days even at n = 2, so a typo such as ``warmup=10**12`` is refused instead of hanging.
MAX_ITERATIONS_PER_CHAIN = 10**9

#: Fewest draws per chain: τ (and R̂, from 4 draws) are undefined for a single draw.
MIN_DRAWS_PER_CHAIN = 2


def _check_size(n, n_samples, chains, warmup, thin, name, metric):
    """Refuse requests that cannot finish or cannot fit, before any work (sizes already validated)."""
    # Each chain's state (start, coordinates, gradient, momentum, step sizes): refused even where
    # an exact method would ignore `chains`, so chains=10**12 is never quietly accepted.
    v.fits_in_memory(f"`chains` × `n` = {chains} × {n}", 8.0 * 8.0 * chains * n)
    if name == "tridiagonal":
        # Draws (diagonal, off-diagonal), the eigenvalues and the sorted copy: ~5 arrays of n_samples × n.
        v.fits_in_memory(f"`n_samples` × `n` = {n_samples} × {n}", 5.0 * 8.0 * n_samples * n)
        return
    draws = -(-n_samples // chains)
    if draws < MIN_DRAWS_PER_CHAIN:
        raise ValueError(
            f"`n_samples` must give at least {MIN_DRAWS_PER_CHAIN} draws per chain for the Markov-chain "
            f"diagnostics (autocorrelation time, ESS): n_samples >= {MIN_DRAWS_PER_CHAIN * chains} with "
            f"chains = {chains}, got n_samples = {n_samples} (or lower `chains`)")
    per_chain = warmup + draws * thin
    if per_chain > MAX_ITERATIONS_PER_CHAIN:
        raise ValueError(
            f"`warmup` + `n_samples`/`chains`·`thin` = {per_chain:.3g} iterations per chain is beyond the "
            f"limit of {MAX_ITERATIONS_PER_CHAIN:.0e} (it would not finish); lower `warmup`, `n_samples` or `thin`")
    # Records (x and log P_s), the diagnostics' copies and FFTs (~6 of them), the largest HMC
    # warm-up window's draws, the dense metric's n × n factors.
    window = max((length for length, _ in warmup_windows(warmup)), default=0) if name == "hmc" else 0
    nbytes = 8.0 * chains * (6.0 * draws + window) * (n + 1)
    if name == "hmc" and metric == "dense":
        nbytes += 8.0 * 5 * n * n
    v.fits_in_memory(f"`chains` × `n_samples` × `warmup` × `n` = {chains} × {n_samples} × {warmup} × {n}",
                     nbytes)


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def _jitter(x, gens, gas):
    """Shift each chain's start by up to 0.4 of the smallest gap (keeps the order): distinct starts for R̂."""
    lower = gas.potential.kernel_data(gas.n)[2]
    edges = np.diff(x, axis=-1)
    gap = float(np.min(edges))
    if lower > -math.inf:
        gap = min(gap, float(np.min(x[:, 0] - lower)))
    out = x.copy()
    for c, g in enumerate(gens):
        out[c] += 0.4 * gap * g.uniform(-1.0, 1.0, size=gas.n)
    return out


def _check_finite(xc, lp, warmup):
    bad = ~(np.all(np.isfinite(xc), axis=-1) & np.isfinite(lp))
    if np.any(bad):
        c, d = np.argwhere(bad)[0]
        raise FloatingPointError(f"chain {int(c)} diverged at draw {int(d)} (after {warmup} warm-up iterations): "
                                 "non-finite eigenvalues or log-density (a potential that does not confine?)")
