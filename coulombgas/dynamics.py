"""`simulate`: integrate the eigenvalue Langevin equation (Dyson Brownian motion).

The SDE is the canonical form of :class:`~coulombgas.gas.CoulombGas`,

    dx_i = [ a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j) ] dt + s_i dW_i,

integrated for many independent replicas at once (one Numba ``prange``
iteration and one random stream per replica, so results are bit-identical
whatever the number of threads).

Schemes (``scheme=``):

``"imex-euler"`` (default, ``"auto"``)
    Implicit–explicit Euler. The nearest-neighbour repulsion (and the log wall
    of a Laguerre potential) is drift-implicit, everything else — far-field
    Coulomb, confinement, the part of an unequal-weight pair force that moves
    the pair rigidly — is explicit:

        z = x + h E(x) + s ΔW,   y = argmin_y |y − z|²/(2h) − Σ_k θ_k σ_k log(y_{k+1} − y_k),

    σ_k = c (w_k + w_{k+1})/2 (see :mod:`coulombgas._implicit`). The objective
    is strictly convex on the ordered chamber and +∞ outside, so y is unique
    and ordered for every h and every z: **no crossing and no rejected step,
    by construction**, and the cost per step is one force evaluation (direct,
    parallel or fast multipole, as for Euler–Maruyama) plus a few O(n)
    tridiagonal Newton iterations — not a function of the smallest gap.
    Pairs the step resolves (gap² ≥ 4hσ_k at x) take the trapezoidal rule
    (θ_k = ½, the other half explicit at x); closer pairs keep backward Euler
    (θ_k = 1), which is L-stable and positivity-preserving (the drift-implicit
    scheme for Bessel-type processes of Alfonsi, Stat. Probab. Lett. 83, 602
    (2013)). The explicit far field needs h·2(π²/6 − 1)c w/d² ≲ 1.5 (d the
    smallest local mean spacing over 8 gaps); a nominal step beyond that is
    split into equal sub-steps whose Brownian increments are bridged from the
    nominal one. Measured weak order 1. Close pairs: the implicit step alone
    does not resolve pairs closer than ~√(2hσ) (it moved gap-law mass from
    s ≲ 2√(hσ)/d to just above). So an isolated pair with gap² < 16 h σ_r²
    (σ_r² = s_k² + s_{k+1}², equal s and w; its neighbouring gaps not that close)
    takes the **exact** transition of its Bessel part instead: the gap's
    singular part is a Bessel process of dimension δ = 1 + 2c(w_k + w_{k+1})/σ_r²
    (1 + β for the GβE), r²/σ_r² a squared Bessel process with the noncentral
    χ² transition, drawn as r'² = (r + hμ + σ_r ΔB)² + 2hσ_r² Gamma((δ−1)/2)
    (Lie splitting with the smooth relative drift μ; ΔB the pair's own noise;
    one gamma variate per close pair is the only extra cost); the pair's centre
    of mass comes from the implicit step, and the pair is kept strictly inside
    its neighbours (Revuz & Yor ch. XI; Göing-Jaeschke & Yor, Bernoulli 9, 313
    (2003)). Measured at n = 2,000, dt = 1e-6, 1,000 records (1e6 bulk gaps):
    gaps below s = 0.003 / 0.01 / 0.03 / 0.1: 9 / 77 / 699 / 7668 against
    ≈ 7 / 82 / 740 / 8216 for the exact GOE small-s law (π²/12)s² (the implicit
    step alone: 0 / 52 / 903 / 8195; adaptive-heun 9 / 105 / 705 / 7965); at
    n = 200, dt = 1e-5 (same dt/d²), 7.9e6 gaps: 63 / 660 / 5868 against
    58.6 / 651.4 / 5862.5 (implicit alone 0 / 407 / 8063). Triples of mutually
    close particles and pairs with unequal s or w keep the implicit step.
    ``"imex-heun"`` does not use the exact pair step.
``"imex-heun"``
    The same with a Heun (trapezoidal) corrector for the explicit part; two
    force evaluations per step. Weak order 1 at β = 1 (higher at β = 2).
``"adaptive-heun"`` (the previous default)
    Stochastic Heun (trapezoidal drift, the same ΔW in predictor and
    corrector). The noise is additive, for which Heun is a weak order-2 scheme
    for smooth drifts (Kloeden & Platen 1992, §15.1); with the singular Coulomb
    drift and path-dependent step control the measured weak order is 1, with an
    error constant several times smaller than Euler's. Step control: a trial step is accepted only if every
    gap x_{k+1} − x_k (and the distance to a hard wall such as x = 0 for a
    Laguerre potential) changes by at most a factor ``max_gap_factor`` (2 by
    default). A rejected step is halved and its Brownian increment split by a
    Brownian bridge drawn from the same stream — the rejected path is refined,
    never redrawn, so the step control does not bias the noise (Gaines & Lyons,
    SIAM J. Appl. Math. 57, 1455 (1997); the idea behind diffrax's
    ``VirtualBrownianTree``). Because every accepted step keeps all gaps
    positive, eigenvalues never cross, for any dt. The control is global: one
    close pair sets the step of all n particles, and with n gaps some gap is
    always close (issue 18: 284 s for 10 steps at n = 10,000). It resolves the
    path of every close pair, so its ``smallest_gap`` is the *path minimum*,
    which for a Bessel process of dimension 2 (β = 1: neighbourhood-recurrent)
    is logarithmically small — the 1e-8 of issue 13 is that path minimum, not a
    violation of the fixed-time gap law, which it reproduces
    (tests/test_dynamics_step_control.py).
``"adaptive-euler"``
    Euler–Maruyama drift with the same step control (weak order 1).
``"euler-maruyama"``
    Plain fixed-step Euler–Maruyama (weak order 1). Kept for comparison; a
    step that reorders the eigenvalues stops the run with an error.

References
----------
F. J. Dyson, J. Math. Phys. 3, 1191 (1962).
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (the SGD form).
P. E. Kloeden, E. Platen, *Numerical Solution of Stochastic Differential Equations*, Springer (1992).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time

import numba
import numpy as np

from . import _rng
from . import _validate as v
from ._sde import FAST_ORDER, IMEX_EULER, IMEX_HEUN, N_COUNTS, kernels_for
from ._status import OK, SIMULATE_MESSAGES
from .cuda import device as cuda_device
from .cuda import sde as cuda_sde
from .forces import FAST_CROSSOVER
from .gas import CoulombGas
from .potentials import CUSTOM, LAGUERRE
from ._durable import Interrupts, Pacer, RunInterrupted
from .trajectory import Trajectory

__all__ = ["simulate", "Trajectory", "SCHEMES", "Scheme", "default_x0"]


@dataclasses.dataclass(frozen=True)
class Scheme:
    """A named integrator: its kernel code, weak order, and whether it keeps the ordering."""

    name: str
    code: int
    weak_order: float
    keeps_order: bool
    adaptive: bool
    reference: str


SCHEMES = {
    # Weak orders are the measured ones (tests/test_dynamics.py::test_weak_order): Heun is
    # order 2 for smooth drifts with additive noise, but the singular Coulomb drift and the
    # path-dependent step control bring both adaptive schemes to order 1; Heun's error
    # constant is 4-9x smaller than Euler's at the same dt.
    "adaptive-heun": Scheme("adaptive-heun", 0, 1.0, True, True,
                            "Kloeden & Platen (1992) §15.1; Gaines & Lyons (1997)"),
    "adaptive-euler": Scheme("adaptive-euler", 1, 1.0, True, True,
                             "Kloeden & Platen (1992) §14.1; Gaines & Lyons (1997)"),
    "euler-maruyama": Scheme("euler-maruyama", 2, 1.0, False, False, "Kloeden & Platen (1992) §14.1"),
    # IMEX: nearest-neighbour repulsion implicit (a proximal step, coulombgas._implicit; trapezoidal
    # for pairs the step resolves, backward Euler for closer ones), the rest explicit; never
    # rejects, never crosses. Measured weak order (test_weak_order, E Σλ² of the n = 3 GβE):
    # imex-euler biases +0.049, +0.028, +0.016 at dt = 2^-4, 2^-5, 2^-6 (β = 2); imex-heun
    # −0.072, −0.038, −0.019 at dt = 2^-5, 2^-6, 2^-7 (β = 1), approaching order 1.5-2 at β = 2.
    "imex-euler": Scheme("imex-euler", 3, 1.0, True, False,
                         "Alfonsi, Stat. Probab. Lett. 83, 602 (2013); coulombgas._implicit; exact close-pair "
                         "BESQ transition: Revuz & Yor, ch. XI"),
    "imex-heun": Scheme("imex-heun", 4, 1.0, True, False,
                        "Alfonsi (2013); Kloeden & Platen (1992) §15.1 for the explicit part"),
}
SCHEMES["auto"] = SCHEMES["imex-euler"]


# ------------------------------------------------------------------ public API

def default_x0(gas: CoulombGas) -> np.ndarray:
    """A sensible ordered start: the gas's T = 0 equilibrium, :meth:`CoulombGas.ground_state`.

    Exact (zeros of H_n or L_n^{(α)}, Stieltjes 1885) for a common quadratic or
    Laguerre potential, the harmonic approximation around the mean minimum
    otherwise; O(n) memory (O(n) time for the Hermite zeros).
    """
    return gas.ground_state()


def simulate(gas: CoulombGas, t_end: float, dt: float, *, x0=None, replicas: int = 1,
             record_every: int = 1, scheme: str = "auto", seed=None, max_gap_factor: float = 2.0,
             max_refinements: int = 30, out=None, resume: bool = False, chunk_records: int | None = None,
             progress: bool | None = None, device: str = "cpu", fallback: bool = False) -> Trajectory:
    """Integrate the eigenvalue SDE of ``gas`` from t = 0 to ``t_end``.

    dx_i = [a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j)] dt + s_i dW_i (see :class:`CoulombGas`).

    Parameters
    ----------
    gas : CoulombGas
        The system.
    t_end : float, >= 0
        Final time (in the gas's time unit: SGD steps for the SGD form).
    dt : float, > 0
        Largest step. The run takes ``ceil(t_end/dt)`` equal nominal steps (at most
        2**53); adaptive schemes subdivide a step where a gap would change too fast,
        the IMEX schemes one whose explicit far field would be unstable.
    x0 : array_like, shape (n,) or (replicas, n), optional
        Initial eigenvalues, strictly increasing (and inside the potential's
        domain). Default: :func:`default_x0`.
    replicas : int, >= 1
        Independent runs, each with its own random stream.
    record_every : int, >= 1
        Record every this many nominal steps (record 0 is the initial state). The
        last record is always at ``t_end``: when ``record_every`` does not divide
        the number of steps (or exceeds it) the last interval is shorter.
    scheme : str
        ``"auto"`` (= ``"imex-euler"``; ``"adaptive-heun"`` for a Custom potential
        with a finite ``lower`` edge), ``"imex-heun"``, ``"adaptive-heun"``,
        ``"adaptive-euler"`` or ``"euler-maruyama"`` (module docstring).
    seed : None, int, SeedSequence or Generator
        Randomness; the same seed gives bit-identical output for any thread count.
    max_gap_factor : float, > 1
        Adaptive schemes accept a step only if every gap changes by at most this factor.
    max_refinements : int, 1..60
        How many times one step may be halved; at that depth a collapsing pair
        takes a drift-implicit step (always ordered) instead of being halved again.
    out : path, optional
        Stream records to this HDF5 file (needs ``h5py``: ``pip install coulombgas[hdf5]``)
        in chunks, with each replica's random-stream state, so an interrupted run
        keeps what it wrote and ``resume=True`` continues it bit for bit.
    resume : bool
        Continue the run stored in ``out`` (same gas, dt, scheme and seed required).
    chunk_records : int, optional
        Records per chunk (progress and streaming granularity). Default: sized
        by wall time, ~0.2 s of work per kernel call (splitting a record's steps
        when one record takes longer), so Ctrl-C is answered within a second; the
        results do not depend on the chunking.
    progress : bool, optional
        Show a tqdm progress bar (default: for runs with more than 1e7 particle-steps).
        ``progress``, ``resume`` and ``fallback`` must be real booleans.
    device : {"cpu", "cuda"}
        ``"cuda"`` runs the replicas on an NVIDIA GPU (:func:`coulombgas.cuda.sde.integrate`,
        extra ``gpu``): the same SDE and the adaptive schemes' step control (``"auto"`` is
        ``"adaptive-heun"`` there: the IMEX schemes have no CUDA kernel), its own random
        streams (same law, not the same paths), n ≤ 64, built-in potentials, no
        ``out``/``resume``; every argument is checked before the back end is chosen. Without
        a GPU: ValueError, unless ``fallback=True`` (warn and run on the CPU).

    Returns
    -------
    Trajectory
        ``t`` (records,), ``x`` (replicas, records, n), diagnostics.

    Raises
    ------
    ValueError, TypeError
        Bad arguments (named in the message), before any work: a ``dt`` so small
        that the steps overflow, records that would not fit in memory, noise
        that overflows, an ``out`` in a missing folder, ``resume`` without ``out``.
    FloatingPointError
        The run diverged or could not keep the eigenvalues apart (names t and replica).

    Examples
    --------
    >>> import coulombgas as cg
    >>> traj = cg.simulate(cg.CoulombGas.gaussian(5, beta=2.0), t_end=1.0, dt=1e-2, replicas=4, seed=1)
    >>> traj.x.shape
    (4, 101, 5)
    """
    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a CoulombGas, got {type(gas).__name__}")
    fallback = v.flag("fallback", fallback)
    resume = v.flag("resume", resume)
    if progress is not None:
        progress = v.flag("progress", progress)
    # Every check first, for either back end (the device's limits included); then the back end.
    device = v.one_of("device", device, cuda_device.DEVICES)
    if device == "cuda":
        if out is not None:
            raise ValueError("`out` (HDF5 streaming) is not available with device='cuda'; use device='cpu'")
        if scheme in _CPU_ONLY:
            raise ValueError(f"`scheme` {scheme!r} has no CUDA kernel (the IMEX schemes run on the CPU only); "
                             "use one of 'auto' (= 'adaptive-heun' here), 'adaptive-heun', 'adaptive-euler', "
                             "'euler-maruyama', or device='cpu'")
    t_end = v.nonnegative("t_end", t_end)
    dt = v.positive("dt", dt)
    replicas = v.integer("replicas", replicas, minimum=1)
    record_every = v.integer("record_every", record_every, minimum=1)
    chosen = SCHEMES[v.one_of("scheme", scheme, tuple(SCHEMES))]
    max_gap_factor = v.real("max_gap_factor", max_gap_factor)
    if max_gap_factor <= 1.0:
        raise ValueError(f"`max_gap_factor` must be > 1, got {max_gap_factor:g}")
    max_refinements = v.integer("max_refinements", max_refinements, minimum=1, maximum=60)
    n_steps, dt_eff = _step_count(t_end, dt)
    n = gas.n
    # The records dominate the footprint: refuse before drawing the start or any stream.
    n_records = n_steps // record_every + 1 + (n_steps % record_every > 0)
    v.fits_in_memory("`replicas` x records x `n` (records = steps / `record_every` + 1)",
                     8.0 * replicas * n * (n_records + 12))
    t = _record_times(n_steps, record_every, dt_eff, t_end)
    kind, params, lower, a, c, w, s = gas.kernel_arrays()
    if device == "cuda" and n > cuda_sde.MAX_N:
        raise ValueError(f"`gas.n` must be <= {cuda_sde.MAX_N} on device='cuda' (one thread holds a replica), "
                         f"got {n}; use device='cpu' (fast multipole forces) for large n")
    if device == "cuda" and kind == CUSTOM:
        raise ValueError("`gas.potential` must be a built-in potential on device='cuda' (a Custom potential's "
                         "Numba function cannot run in a CUDA kernel); use device='cpu'")
    if scheme == "auto" and kind == CUSTOM and lower > -math.inf:
        # The IMEX step has no wall for a user potential's edge; the adaptive step keeps x > lower.
        chosen = SCHEMES["adaptive-heun"]
    if not math.isfinite(float(np.max(s)) * math.sqrt(dt_eff) * 40.0):
        raise ValueError(f"the noise amplitude s·√dt overflows (largest s = {float(np.max(s)):g}): "
                         "`beta` or the gas's noise is out of range, or `dt` is too large")
    if out is not None:
        folder = os.path.dirname(os.path.abspath(os.fspath(out)))
        if not os.path.isdir(folder):
            raise ValueError(f"`out`: the folder {folder} does not exist; create it first")
    elif resume:
        raise ValueError("`resume` needs `out`, the file of the run to continue (got resume=True without out)")
    if chunk_records is not None:
        chunk_records = v.integer("chunk_records", chunk_records, minimum=1)
    x = gas.initial_states(x0, replicas)
    if device == "cuda" and cuda_device.require("cuda", fallback=fallback):
        if scheme == "auto":  # no IMEX kernel on the device: its default is adaptive Heun
            chosen = SCHEMES["adaptive-heun"]
        return _simulate_cuda(gas, (kind, params, lower, a, c, w, s), x, t, chosen, dt_eff, n_steps, record_every,
                              max_gap_factor, max_refinements, seed, chunk_records)

    ss = _rng.seed_sequence(seed)
    seed_info = _rng.seed_record(ss)
    gens = _rng.streams(ss, replicas)
    counts = np.zeros((replicas, N_COUNTS), dtype=np.int64)
    # Strength of the log wall at `lower` (Laguerre: V = p1 x − a log x), for implicit steps.
    wall = float(params[0, 2]) if kind == LAGUERRE else 0.0  # only the lowest mode meets the wall
    gaps = np.full((replicas, 1), np.inf)
    gaps[:, 0] = _smallest_gaps(x, lower)

    store = None
    start_record = 0
    if out is not None:
        from .store import TrajectoryStore
        store = TrajectoryStore(out, gas=gas, scheme=chosen.name, dt=dt_eff, n_records=n_records,
                                replicas=replicas, record_every=record_every, seed=seed_info,
                                resume=resume, x0=x, t_end=t_end, t=t)
        if resume and store.records_done > 0:
            start_record = store.records_done
            x, states, stored_counts, gaps = store.state()
            x, gaps = np.array(x), np.array(gaps)
            counts[:, : stored_counts.shape[1]] = stored_counts
            for gen, st in zip(gens, states):
                gen.bit_generator.state = st

    records = np.empty((replicas, n_records, n))
    records[:, 0, :] = x
    run_replicas, run_single = kernels_for(gas.potential)
    typed_gens = numba.typed.List(gens)
    single = replicas == 1 and n >= _PARALLEL_FORCE_N
    # None or a value: the kernels compile only the integrator and force kernel chosen here.
    imex = (chosen.code == IMEX_HEUN) if chosen.code >= IMEX_EULER else None
    adapt = True if imex is None else None
    fmm = FAST_ORDER if n >= FAST_CROSSOVER else None
    par = True if fmm is None else None

    def advance(steps, every, into):  # x, gens, counts, gaps in place; a record every `every` steps
        if single:
            run_single(x[0], gens[0], steps, dt_eff, every, into[0], kind, params, lower, a, c, w, s,
                       chosen.code, imex, adapt, max_gap_factor, max_refinements, counts[0], gaps[0], wall, par, fmm)
        else:
            run_replicas(x, typed_gens, steps, dt_eff, every, into, kind, params, lower, a, c, w, s,
                         chosen.code, imex, adapt, max_gap_factor, max_refinements, counts, gaps, wall)

    show = progress if progress is not None else replicas * n * n_steps > 1e7
    bar = None
    # Records 1 .. full are record_every steps apart; a last, shorter interval (the
    # remainder of the steps) ends exactly at t_end.
    full = n_steps // record_every
    # Kernel calls of ~0.2 s of wall time (Pacer), so Ctrl-C is answered within a second at any
    # size; a call may stop between records (`part` steps into the next one): the kernels carry
    # nothing from step to step outside x, the streams, counts and gaps, so the split changes no bit.
    pace = Pacer(start=1 if chunk_records is None else chunk_records * record_every, fixed=chunk_records is not None)
    stop = Interrupts(active=store is not None)
    try:
        stop.__enter__()
        # Until the first chunk there is nothing to commit: Ctrl-C stops at once (compiling included).
        stop.now = lambda: RunInterrupted(store.path, start_record + 1)
        if store is not None and start_record > 0:
            records[:, : start_record + 1, :] = store.read_x()
        if n_records > 1:
            advance(0, 1, np.empty((replicas, 0, n)))  # compiles (or loads) the kernels; changes nothing
        stop.now = None
        bar = _progress_bar(show, n_records - 1, start_record)
        done, part = start_record, 0
        while done < n_records - 1:
            per = record_every if done < full else n_steps - full * record_every
            steps_before = min(done, full) * record_every + part
            began = time.perf_counter()
            if part == 0 and pace.size >= per:
                todo = min(pace.size // per, full - done) if done < full else 1
                chunk = np.empty((replicas, todo, n))
                advance(todo * per, per, chunk)
                pace.took(todo * per, time.perf_counter() - began)
            else:  # less than a record per call
                todo, taken = 1, min(pace.size, per - part)
                chunk = np.empty((replicas, 1, n))
                advance(taken, taken, chunk)
                pace.took(taken, time.perf_counter() - began)
                part += taken
                _raise_on_status(counts, steps_before, dt_eff, store)
                if part < per:
                    if stop.pending:  # the record under way is dropped: its state was never committed
                        raise RunInterrupted(store.path, done + 1)
                    continue
                part = 0
            _raise_on_status(counts, steps_before, dt_eff, store)
            records[:, done + 1: done + 1 + todo, :] = chunk
            done += todo
            if store is not None:
                store.append(chunk, x, [g.bit_generator.state for g in gens], counts, gaps)
                if stop.pending:
                    raise RunInterrupted(store.path, done + 1)
            if bar is not None:
                bar.update(todo)
    finally:
        stop.__exit__()
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
    diagnostics = {
        "steps": n_steps, "accepted": int(counts[:, 0].sum()), "rejected": int(counts[:, 1].sum()),
        "implicit_pair_steps": int(counts[:, 4].sum()) if chosen.adaptive else 0,
        "implicit_steps": int(counts[:, 4].sum()) if not chosen.adaptive else 0,
        "newton_iterations": int(counts[:, 5].sum()),
        "smallest_gap": float(gaps.min()),
        "smallest_recorded_gap": _smallest_recorded_gap(records, lower),
        "max_gap_factor": max_gap_factor, "max_refinements": max_refinements,
    }
    return Trajectory(t=t, x=records, gas=gas, scheme=chosen.name, dt=dt_eff, seed=seed_info,
                      diagnostics=diagnostics)


# Schemes the GPU kernel does not have.
_CPU_ONLY = ("imex-euler", "imex-heun")
def _simulate_cuda(gas, arrays, x, t, chosen, dt, n_steps, record_every, max_gap_factor, max_refinements, seed,
                   chunk_records):
    """The validated run on the GPU (:func:`coulombgas.cuda.sde.integrate`), as a Trajectory.

    ``arrays`` is the gas in kernel form, ``gas.kernel_arrays()``, as simulate computed it.
    """
    kind, params, lower, a, c, w, s = arrays
    ss = _rng.seed_sequence(seed)
    records, _, counts, gaps = cuda_sde.integrate(x, kind, params, lower, a, c, w, s, chosen.name, dt, n_steps,
                                                  record_every, max_gap_factor, max_refinements, ss, chunk_records)
    _raise_on_status(counts, 0, dt, None)  # the device counts the failing step from the start
    diagnostics = {"steps": n_steps, "accepted": int(counts[:, 0].sum()), "rejected": int(counts[:, 1].sum()),
                   "implicit_pair_steps": int(counts[:, 4].sum()), "smallest_gap": float(gaps.min()),
                   "smallest_recorded_gap": _smallest_recorded_gap(records, lower),
                   "max_gap_factor": max_gap_factor, "max_refinements": max_refinements,
                   "device": "cuda-simulator" if cuda_device.simulator() else "cuda", "rng": cuda_sde.RNG}
    return Trajectory(t=t, x=records, gas=gas, scheme=chosen.name, dt=dt, seed=_rng.seed_record(ss),
                      diagnostics=diagnostics)


# Most nominal steps one call may take (a loop counter far below int64 overflow).
_MAX_STEPS = 2**53


# Smallest step a run may take: far above the subnormal range, so 1/h and h·drift stay finite.
_MIN_STEP = 1e-280


def _step_count(t_end, dt):
    """(nominal steps, equal step t_end/steps); refuses a dt so small that the count overflows."""
    if t_end == 0:
        return 0, dt
    ratio = t_end / dt
    if not ratio < _MAX_STEPS:
        raise ValueError(f"`dt` must be >= t_end / 2**53 = {t_end / _MAX_STEPS:.3g} (at most 2**53 steps), "
                         f"got {dt:g}")
    n_steps = max(1, int(math.ceil(ratio - 1e-12)))
    h = t_end / n_steps
    if h < _MIN_STEP:  # subnormal steps: 1/h overflows in the implicit solve
        raise ValueError(f"`t_end` and `dt` must give a step >= {_MIN_STEP:g} (got t_end = {t_end:g}, "
                         f"dt = {dt:g}); use t_end = 0 for no step")
    return n_steps, h


def _record_times(n_steps, record_every, dt, t_end):
    """Record 0 at t = 0, then every record_every steps, and always a last record at t_end."""
    full = n_steps // record_every
    t = np.arange(full + 1) * (record_every * dt)
    if n_steps > full * record_every:
        t = np.append(t, t_end)
    elif n_steps > 0:
        t[-1] = t_end  # the same time up to roundoff: make it exact
    return t


def _smallest_recorded_gap(records, lower):
    """Smallest gap (or distance to the domain's edge) in any record (a fixed-time snapshot)."""
    if records.shape[-1] < 2:
        return math.inf
    smallest = math.inf
    for r in range(records.shape[0]):  # one replica at a time: no (replicas, records, n) temporary
        smallest = min(smallest, float(np.min(np.diff(records[r], axis=-1))))
        if lower > -math.inf:
            smallest = min(smallest, float(np.min(records[r, :, 0] - lower)))
    return smallest


# A single replica with at least this many eigenvalues evaluates forces in
# parallel over particles instead of in one thread.
_PARALLEL_FORCE_N = 256


def _smallest_gaps(x, lower):
    gaps = np.min(np.diff(x, axis=-1), axis=-1)
    if lower > -math.inf:
        gaps = np.minimum(gaps, x[:, 0] - lower)
    return gaps


def _raise_on_status(counts, steps_before, dt, store):
    bad = np.flatnonzero(counts[:, 2] != OK)
    if bad.size == 0:
        return
    r = int(bad[0])
    status = int(counts[r, 2])
    t_fail = (steps_before + int(counts[r, 3])) * dt
    kept = f"; records up to the last full chunk are in {store.path}" if store is not None else ""
    raise FloatingPointError(f"simulation stopped at t ≈ {t_fail:.6g} in replica {r} "
                             f"({bad.size} replica(s) affected): {SIMULATE_MESSAGES[status]}{kept}")


def _progress_bar(show, total, initial):
    if not show:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit="record", desc="simulate", leave=False)
