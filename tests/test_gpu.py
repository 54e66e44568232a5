"""Tests of coulombgas.gpu: the CUDA kernels against the CPU path, run in Numba's CUDA simulator.

The simulator must be switched on before ``numba.cuda`` is first imported, so
every kernel check runs in ONE subprocess with ``NUMBA_ENABLE_CUDASIM=1``
(module fixture ``sim``; the script below returns its numbers as JSON) and the
assertions are made here. Sizes are tiny: the simulator runs each GPU thread
as a Python thread, ~10⁴× slower than a GPU. Input checks and the no-GPU
behaviour run in this process (no kernel is launched there). On a machine with
an NVIDIA GPU, ``COULOMBGAS_GPU_TESTS=device`` runs the same kernel checks on
the device instead of the simulator.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from stats import assert_ks, assert_z

import coulombgas as cg
from coulombgas import gpu
from coulombgas.potentials import Custom

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SCRIPT = r'''
import json, math, traceback, warnings
import numpy as np
warnings.filterwarnings("ignore")
import coulombgas as cg
from coulombgas import gpu
from coulombgas.cuda import sde as cuda_sde
from coulombgas.forces import coulomb_force
from coulombgas.potentials import Quartic, Laguerre
from coulombgas.training import teacher_student, phase_network, gaussian_rbm

out = {}

def check(fn):
    try:
        out[fn.__name__] = fn()
    except Exception:
        out[fn.__name__] = {"error": traceback.format_exc()}
    return fn

def bound(x, w):
    """Σ_j |w_j/(x_i − x_j)|: the scale of each point's rounding error."""
    d = x[:, None] - x[None, :]
    np.fill_diagonal(d, np.inf)
    return np.sum(np.abs(w[None, :] / d), axis=1)

@check
def force():
    rng = np.random.default_rng(5)
    res = {}
    cases = {
        "random_weights_n64": (rng.standard_normal(64), rng.uniform(0.5, 2.0, 64)),
        "unit_weights_n70": (rng.uniform(-3, 3, 70), None),  # partial last tile
        "n2": (np.array([0.3, -1.2]), None),
        # a point at exactly 0 meets the padding (x = 0, w = 0) of the last tile: Q = 0, pair-by-pair path
        "zero_point_padding": (np.concatenate([[0.0], rng.uniform(-3, 3, 40)]), rng.uniform(0.5, 2.0, 41)),
        # spread 1e36: groups of 8 pairs overflow |Q| > 1e280 and take the pair-by-pair path
        "extreme_spread": (np.concatenate([rng.standard_normal(20), 1e36 * (1.0 + np.arange(12))]), None),
    }
    for name, (x, w) in cases.items():
        f = gpu.direct_force_cuda(x, w)
        ref = coulomb_force(x, w, method="direct")
        ww = np.ones(len(x)) if w is None else w
        res[name] = {"max_rel": float(np.max(np.abs(f - ref)) / np.max(np.abs(ref))),
                     "per_point": float(np.max(np.abs(f - ref) / bound(x, ww)))}
    try:
        gpu.direct_force_cuda([0.0, 1.0, 1.0, 2.0])
        res["coincident"] = "no error"
    except ValueError as e:
        res["coincident"] = str(e)
    return res

def frozen(gas):
    """The same gas with zero noise (not a valid CoulombGas: only for the deterministic comparison)."""
    object.__setattr__(gas, "noise", np.zeros(gas.n))
    return gas

@check
def deterministic():
    res = []
    cases = [
        ("gaussian", frozen(cg.CoulombGas.gaussian(5, beta=2.0)), [-3.0, -0.1, -0.09, 0.2, 4.0], 0.05, 30),
        ("quartic", frozen(cg.CoulombGas.dyson(Quartic(), 4, beta=1.0)), [-2.0, 0.0, 0.001, 3.0], 0.05, 30),
        ("laguerre", frozen(cg.CoulombGas.dyson(Laguerre(a=1.5, scale=1.0), 4, beta=1.0)),
         [0.01, 0.5, 0.51, 3.0], 0.05, 30),
        ("implicit", frozen(cg.CoulombGas.gaussian(4, beta=1.0)), [-1.0, 0.0, 1e-3, 1.0], 0.01, 2),
        ("sgd_unequal_g", frozen(cg.CoulombGas.from_sgd(cg.potentials.Quadratic(1.0, 1.0), [0.5, 1.0, 1.5],
                                                        lr=0.1, batch_size=4)), [0.2, 0.9, 1.7], 0.05, 30),
    ]
    for name, gas, x0, dt, mr in cases:
        for scheme in ("adaptive-euler", "adaptive-heun"):
            kw = dict(x0=x0, replicas=2, record_every=2, scheme=scheme, seed=1, max_refinements=mr)
            tg = gpu.simulate_cuda(gas, 1.0, dt, **kw)
            tc = cg.simulate(gas, 1.0, dt, **kw)
            res.append({"case": name, "scheme": scheme, "max_abs": float(np.max(np.abs(tg.x - tc.x))),
                        "scale": float(np.max(np.abs(tc.x))), "t_equal": bool(np.array_equal(tg.t, tc.t)),
                        "gpu": {k: tg.diagnostics[k] for k in ("accepted", "rejected", "implicit_pair_steps")},
                        "cpu": {k: tc.diagnostics[k] for k in ("accepted", "rejected", "implicit_pair_steps")},
                        "moved": float(np.max(np.abs(tc.x[:, -1] - tc.x[:, 0])))})
    gas = frozen(cg.CoulombGas.gaussian(4, beta=1.0))
    kw = dict(x0=[-3.0, -1.0, 0.5, 2.5], replicas=2, scheme="euler-maruyama", seed=1)
    tg, tc = gpu.simulate_cuda(gas, 0.5, 0.01, **kw), cg.simulate(gas, 0.5, 0.01, **kw)
    res.append({"case": "em", "scheme": "euler-maruyama", "max_abs": float(np.max(np.abs(tg.x - tc.x))),
                "scale": float(np.max(np.abs(tc.x))), "t_equal": bool(np.array_equal(tg.t, tc.t)),
                "gpu": {"accepted": tg.diagnostics["accepted"]}, "cpu": {"accepted": tc.diagnostics["accepted"]},
                "moved": float(np.max(np.abs(tc.x[:, -1] - tc.x[:, 0])))})
    # record_every = 3 does not divide the 20 steps: records at 0, 3, ..., 18 and a last one at t_end.
    gas = frozen(cg.CoulombGas.gaussian(5, beta=2.0))
    kw = dict(x0=[-3.0, -0.1, -0.09, 0.2, 4.0], replicas=2, record_every=3, scheme="adaptive-heun", seed=1)
    tg, tc = gpu.simulate_cuda(gas, 1.0, 0.05, **kw), cg.simulate(gas, 1.0, 0.05, **kw)
    res.append({"case": "remainder", "scheme": "adaptive-heun", "max_abs": float(np.max(np.abs(tg.x - tc.x))),
                "scale": float(np.max(np.abs(tc.x))), "t_equal": bool(np.array_equal(tg.t, tc.t)),
                "t": tg.t.tolist(), "shape": list(tg.x.shape),
                "gpu": {k: tg.diagnostics[k] for k in ("accepted", "rejected", "implicit_pair_steps")},
                "cpu": {k: tc.diagnostics[k] for k in ("accepted", "rejected", "implicit_pair_steps")},
                "moved": float(np.max(np.abs(tc.x[:, -1] - tc.x[:, 0])))})
    return res

@check
def crossing():
    gas = frozen(cg.CoulombGas.gaussian(5, beta=2.0))
    msgs = []
    for fn in (gpu.simulate_cuda, cg.simulate):
        try:
            fn(gas, 1.0, 0.05, x0=[-3.0, -0.1, -0.09, 0.2, 4.0], replicas=2, scheme="euler-maruyama", seed=1)
            msgs.append("no error")
        except FloatingPointError as e:
            msgs.append(str(e))
    return msgs

@check
def integrate():
    # cuda.sde.integrate on plain arrays: the CPU's counts layout, and the failing step counted
    # from the start of the run even when it happens in a later launch (one record per launch).
    from coulombgas._status import CROSSED
    gas = frozen(cg.CoulombGas.gaussian(5, beta=2.0))
    kind, params, lower, a, c, w, s = gas.kernel_arrays()
    # Replica 0's top eigenvalue falls from 30 in steps of dt = 0.5 and jumps past its neighbour at step 10.
    x0 = np.array([[-3.0, -1.0, 0.0, 1.0, 30.0], [-3.0, -1.0, 0.0, 1.0, 3.0]])
    rec, x, counts, gaps = cuda_sde.integrate(x0, kind, params, lower, a, c, w, s, "euler-maruyama", 0.5, 20, 2,
                                              2.0, 30, np.random.SeedSequence(1), chunk_records=1)
    try:
        cg.simulate(gas, 10.0, 0.5, x0=x0[0], replicas=1, scheme="euler-maruyama", seed=1, record_every=2)
        cpu = "no error"
    except FloatingPointError as e:
        cpu = str(e)
    return {"shape": [list(rec.shape), list(x.shape), list(counts.shape), list(gaps.shape)],
            "status": counts[:, 2].tolist(), "crossed": CROSSED, "failed_step": int(counts[0, 3]),
            "failed_t": float(counts[0, 3] * 0.5), "cpu": cpu,
            "first_records": bool(np.array_equal(rec[:, 0], x0))}

@check
def stationary():
    n, beta, R = 3, 2.0, 96
    gas = cg.CoulombGas.gaussian(n, beta=beta)
    tr = gpu.simulate_cuda(gas, 3.0, 0.01, replicas=R, record_every=100, seed=11)
    again = gpu.simulate_cuda(gas, 3.0, 0.01, replicas=R, record_every=100, seed=11, chunk_records=1)
    other = gpu.simulate_cuda(gas, 3.0, 0.01, replicas=R, record_every=100, seed=12)
    # Euler-Maruyama has its own fixed-step path; at β = 8 no replica comes near a crossing.
    em = gpu.simulate_cuda(cg.CoulombGas.gaussian(n, beta=8.0), 2.0, 0.01, replicas=4 * R, record_every=200,
                           seed=13, scheme="euler-maruyama")
    fin = tr.final()
    return {"n": n, "beta": beta, "R": R, "sum_sq": (fin**2).sum(axis=1).tolist(), "sum": fin.sum(axis=1).tolist(),
            "em_sum": em.final().sum(axis=1).tolist(), "em_start": float(em.x[0, 0].sum()),
            "min_gap_all_records": float(np.min(np.diff(tr.x, axis=-1))),
            "rejected": tr.diagnostics["rejected"], "accepted": tr.diagnostics["accepted"],
            "steps": tr.diagnostics["steps"], "smallest_gap": tr.diagnostics["smallest_gap"],
            "reproducible": bool(np.array_equal(tr.x, again.x)), "seed_matters": not np.array_equal(tr.x, other.x)}

@check
def rng():
    global cuda  # the simulator swaps in its fake module through the kernel's globals
    from numba import cuda
    from numba.cuda.random import init_xoroshiro128p_states_cpu, xoroshiro128p_dtype, xoroshiro128p_next
    ss = np.random.SeedSequence(7)
    ours = cuda_sde.device_states(ss, 4)
    ref = np.empty(4, dtype=xoroshiro128p_dtype)
    init_xoroshiro128p_states_cpu(ref, np.uint64(ss.generate_state(1, np.uint64)[0]), 0)
    next_u64, normal_pair = cuda_sde.rng_functions()

    @cuda.jit
    def draws(states, ref_states, mine, theirs, z):
        i = cuda.grid(1)
        if i >= states.shape[0]:
            return
        s0 = states[i]["s0"]
        s1 = states[i]["s1"]
        for k in range(mine.shape[1]):
            r, s0, s1 = next_u64(s0, s1)
            mine[i, k] = r
            theirs[i, k] = xoroshiro128p_next(ref_states, i)
        for k in range(z.shape[1] // 2):
            a, b, s0, s1 = normal_pair(s0, s1)
            z[i, 2 * k] = a
            z[i, 2 * k + 1] = b

    mine = np.zeros((4, 16), dtype=np.uint64)
    theirs = np.zeros((4, 16), dtype=np.uint64)
    z = np.zeros((4, 512))
    draws[1, 4](ours.copy(), ref.copy(), mine, theirs, z)
    return {"states_equal": bool(np.array_equal(ours, ref)), "stream_equal": bool(np.array_equal(mine, theirs)),
            "distinct_streams": int(len(np.unique(mine))), "z_even": z[:, 0::2].ravel().tolist(),
            "z_odd": z[:, 1::2].ravel().tolist()}

def mx(a):
    return float(np.nanmax(np.abs(a))) if np.size(a) else 0.0

def compare(hg, hc):
    return {"weights": mx(hg.weights - hc.weights), "loss": mx(hg.loss - hc.loss),
            "eigenvalues": mx(hg.eigenvalues - hc.eigenvalues),
            "moved": mx(hc.weights[:, -1] - hc.weights[:, 0]),
            "params": hg.params == hc.params, "steps": bool(np.array_equal(hg.steps, hc.steps)),
            "model_ids": hg.model_ids.tolist(), "cpu_model_ids": hc.model_ids.tolist(),
            "diverged": [hg.diverged_ids.tolist(), hg.diverged_step.tolist()],
            "cpu_diverged": [hc.diverged_ids.tolist(), hc.diverged_step.tolist()],
            "seed": hg.seed == hc.seed, "model": [hg.model, hc.model], "gram": [hg.gram, hc.gram]}

@check
def teacher():
    res = {}
    for name, kw in {"plain": dict(models=5, steps=20, record_every=5, batch_size=4, epoch_batches=6, seed=3),
                     "diverging": dict(models=6, steps=20, record_every=5, batch_size=4, epoch_batches=6, seed=3,
                                       lr=1.6),  # models 1, 3, 4 diverge (at updates 13, 4, 18)
                     "blocks": dict(models=5, steps=12, record_every=4, batch_size=3, epoch_batches=5, seed=4,
                                    eps=0.3)}.items():
        extra = {"block_models": 2} if name == "blocks" else {}
        res[name] = compare(gpu.teacher_student_cuda(**kw, **extra), teacher_student(**kw))
    # Protocols (issue 15): the in-kernel xoshiro stream draws the same orders and noise on both devices.
    for name, kw in {"shared_reshuffle_per_step": dict(models=4, steps=12, record_every=4, batch_size=3,
                                                       epoch_batches=4, seed=5, data_seed=2, batch_order="reshuffle",
                                                       noise_draw="per-step"),
                     "with_replacement": dict(models=3, steps=10, record_every=5, batch_size=3, epoch_batches=4,
                                              seed=6, batch_order="with-replacement", eps=0.3)}.items():
        res[name] = compare(teacher_student(device="cuda", **kw), teacher_student(**kw))
    return res

@check
def phase():
    res = {}
    for name, kw in {
        "paper_widths": dict(models=2, steps=4, record_every=2, batch_size=4, epoch_batches=3, seed=3),
        "padded_rows": dict(models=3, steps=6, record_every=3, batch_size=3, epoch_batches=3, seed=5, n_mid=7,
                            n_hidden=5),
        "two_groups": dict(models=2, steps=3, record_every=1, batch_size=10, epoch_batches=2, seed=6, n_mid=6,
                           n_hidden=4, lr=0.5),
        "diverging": dict(models=4, steps=6, record_every=2, batch_size=2, epoch_batches=3, seed=7, n_mid=6,
                          n_hidden=4, divergence_loss=0.1),  # models 0, 1, 3 stop (at updates 3, 1, 1)
    }.items():
        res[name] = compare(gpu.phase_network_cuda(**kw), phase_network(**kw))
    return res

@check
def rbm():
    res = {}
    tiny = dict(n=4, n_hidden=3, batch_size=3, gibbs_steps=2, models=3, steps=6, record_every=3, seed=2)
    for name, kw in {
        "tiny": tiny,
        "paper_widths": dict(models=1, steps=2, record_every=1, seed=4),  # n = n_h = 10, |B| = 16, 3 sweeps
        "blocks": dict(tiny, models=5, seed=8),
        "diverging": dict(n=4, n_hidden=4, batch_size=2, gibbs_steps=1, models=4, steps=4, record_every=2, seed=3,
                          mu2=8.5, lr=1.0, init_std=1.0),  # models 1, 3 stop (at updates 2, 4)
    }.items():
        extra = {"block_models": 2} if name == "blocks" else {}
        res[name] = compare(gpu.gaussian_rbm_cuda(**kw, **extra, progress=False), gaussian_rbm(**kw, progress=False))
    return res

@check
def bench():
    # The benchmark's GPU rows, at toy sizes: they must run as they will on a device.
    from coulombgas.bench import gpu as bg
    bg.SIZES.update(phase=((2, 3), None), dbm=((4, 5), None), force=(70, None), teacher=((3, 4), None),
                    rbm=((2, 2), None))
    rate_force, err = bg._gpu_force(True)
    rates = {"force": rate_force, "dbm": bg._gpu_dbm(True, "adaptive-heun")[0], "phase": bg._gpu_phase(True),
             "teacher": bg._gpu_teacher(True), "rbm": bg._gpu_rbm(True)}
    return {"rates": rates, "force_err": err}

print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def sim():
    """Run every kernel check once in the CUDA simulator; returns {check: result}.

    With ``COULOMBGAS_GPU_TESTS=device`` the same checks run on the real GPU instead
    (same script, same assertions), to validate the kernels on hardware.
    """
    on_device = os.environ.get("COULOMBGAS_GPU_TESTS") == "device"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    if on_device:
        env.pop("NUMBA_ENABLE_CUDASIM", None)
    else:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _result(sim, name):
    res = sim[name]
    assert not (isinstance(res, dict) and "error" in res), res.get("error")
    return res


# ------------------------------------------------------------------ kernels (simulator)

def test_force_matches_cpu_direct_sum(sim):
    res = _result(sim, "force")
    for name in ("random_weights_n64", "unit_weights_n70", "n2", "zero_point_padding", "extreme_spread"):
        # Rounding only: relative to the largest force and to each point's Σ|w/(x_i − x_j)|.
        assert res[name]["max_rel"] < 1e-12, (name, res[name])
        assert res[name]["per_point"] < 1e-13, (name, res[name])
    assert "coincident" in res["coincident"] and "`x`" in res["coincident"]


def test_sde_zero_noise_matches_cpu_integrator(sim):
    rows = _result(sim, "deterministic")
    assert {r["case"] for r in rows} == {"gaussian", "quartic", "laguerre", "implicit", "sgd_unequal_g", "em",
                                         "remainder"}
    for r in rows:
        assert r["t_equal"]
        assert r["moved"] > 1e-2, r  # the comparison is not of a fixed point
        assert r["max_abs"] <= 1e-10 * max(1.0, r["scale"]), r
        assert r["gpu"] == r["cpu"], r  # same accepted/rejected/implicit step counts
    assert any(r["cpu"].get("rejected", 0) > 0 for r in rows)  # step control exercised
    assert any(r["cpu"].get("implicit_pair_steps", 0) > 0 for r in rows)  # and the implicit pair step
    # A record_every that does not divide the steps: the GPU run goes on to t_end like the CPU's.
    rem = next(r for r in rows if r["case"] == "remainder")
    np.testing.assert_allclose(rem["t"], [0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0], rtol=1e-12)
    assert rem["t"][-1] == 1.0 and rem["shape"] == [2, 8, 5]


def test_euler_maruyama_crossing_is_reported(sim):
    gpu_msg, cpu_msg = _result(sim, "crossing")
    assert "crossed" in gpu_msg and "crossed" in cpu_msg


def test_integrate_returns_plain_arrays_in_the_cpu_layout(sim):
    r = _result(sim, "integrate")
    assert r["shape"] == [[2, 11, 5], [2, 5], [2, 6], [2]] and r["first_records"]
    # Replica 0 crosses (as on the CPU, at the same step: zero noise), replica 1 keeps going.
    assert r["status"][0] == r["crossed"] and r["status"][1] == 0
    assert r["failed_step"] == 10  # in the sixth launch of two steps: counted from the start of the run
    assert f"t ≈ {r['failed_t']:.6g} " in r["cpu"], r


def test_sde_stationary_moments_and_ordering(sim):
    res = _result(sim, "stationary")
    n, beta, R = res["n"], res["beta"], res["R"]
    # Itô at stationarity for the Gaussian β-ensemble (V = x²/2, s² = 2/β):
    # 0 = d⟨Σx²⟩/dt = −2⟨Σx²⟩ + n(n−1) + 2n/β, so ⟨Σx²⟩ = n(n−1)/2 + n/β; Σx is an OU
    # process (the Coulomb terms cancel) with mean 0 and variance n/β. At t = 3 the
    # start's memory is e^{−6} ≈ 2.5e-3 of O(1) for ⟨Σx²⟩ (rate 2) and e^{−3} for Σx.
    sum_sq = np.asarray(res["sum_sq"])
    mean_sq = n * (n - 1) / 2 + n / beta
    assert_z(sum_sq.mean(), mean_sq, sum_sq.std(ddof=1) / math.sqrt(R))
    total = np.asarray(res["sum"])
    assert_z(total.mean(), 0.0, math.sqrt(n / beta / R))
    assert_ks(total / math.sqrt(n / beta), "norm")
    # Euler-Maruyama at β' = 8: Σx is the AR(1) chain S' = (1 − dt) S + √(2 dt/β') Σ_i z_i (the
    # Coulomb terms cancel), so after k = 200 steps of dt = 0.01 from S₀ it is normal with mean
    # (1 − dt)^k S₀ and variance (n/β')(1 − (1 − dt)^{2k})/(1 − dt/2), exactly.
    dt, k, beta_em = 0.01, 200, 8.0
    mean = (1 - dt) ** k * res["em_start"]
    var = (n / beta_em) * (1 - (1 - dt) ** (2 * k)) / (1 - dt / 2)
    total = np.asarray(res["em_sum"])  # 4R replicas
    assert_z(total.mean(), mean, math.sqrt(var / total.size))
    assert_z(np.var(total, ddof=1), var, var * math.sqrt(2 / (total.size - 1)))
    assert_ks((total - mean) / math.sqrt(var), "norm")
    assert res["min_gap_all_records"] > 0.0
    assert res["smallest_gap"] > 0.0
    assert res["accepted"] >= R * res["steps"]  # every nominal step done, sub-steps counted
    assert res["reproducible"] and res["seed_matters"]


def test_rng_is_numbas_xoroshiro_with_exact_normals(sim):
    res = _result(sim, "rng")
    assert res["states_equal"] and res["stream_equal"]
    assert res["distinct_streams"] == 64
    even, odd = np.asarray(res["z_even"]), np.asarray(res["z_odd"])
    assert_ks(even, "norm")
    assert_ks(odd, "norm")
    # Both Box–Muller outputs are used: they must be uncorrelated (z-score of r·√m).
    assert_z(np.corrcoef(even, odd)[0, 1], 0.0, 1.0 / math.sqrt(len(even)))


@pytest.mark.parametrize("name", ["plain", "diverging", "blocks", "shared_reshuffle_per_step", "with_replacement"])
def test_teacher_student_matches_cpu(sim, name):
    r = _result(sim, "teacher")[name]
    _same_harvest(r)
    if name == "diverging":
        assert r["diverged"][0] and r["model_ids"], r  # both paths ran: stopped and kept models


@pytest.mark.parametrize("name", ["paper_widths", "padded_rows", "two_groups", "diverging"])
def test_phase_network_matches_cpu(sim, name):
    r = _result(sim, "phase")[name]
    _same_harvest(r)
    if name == "diverging":
        assert r["diverged"][0] and r["model_ids"], r


@pytest.mark.parametrize("name", ["tiny", "paper_widths", "blocks", "diverging"])
def test_gaussian_rbm_matches_cpu(sim, name):
    # The device draws each model's Gibbs noise from the same xoshiro256++ stream with the
    # same ziggurat: any slip in the order of draws would move the weights by O(1), not 1e-10.
    r = _result(sim, "rbm")[name]
    _same_harvest(r)
    if name == "diverging":
        assert r["diverged"] == [[1, 3], [2, 4]] and r["model_ids"] == [0, 2], r


def test_benchmark_gpu_rows_run(sim):
    r = _result(sim, "bench")
    assert all(math.isfinite(rate) and rate > 0 for rate in r["rates"].values()), r
    assert r["force_err"] < 1e-9, r


def _same_harvest(r):
    assert r["params"] and r["steps"] and r["seed"]
    assert r["model"][0] == r["model"][1] and r["gram"][0] == r["gram"][1]
    assert r["model_ids"] == r["cpu_model_ids"]
    assert r["diverged"] == r["cpu_diverged"]
    if r["model_ids"]:
        assert r["moved"] > 1e-3, r  # training changed the weights
        assert r["weights"] <= 1e-10 and r["loss"] <= 1e-10 and r["eigenvalues"] <= 1e-10, r


# ------------------------------------------------------------------ device selection, bad input (no kernel)

def test_import_does_not_need_cuda():
    code = "import sys, coulombgas.gpu; print('numba.cuda' in sys.modules)"
    env = {k: val for k, val in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(gpu, "available", lambda: False)


@pytest.fixture
def fake_gpu(monkeypatch):
    """Pretend a device exists: argument checks must fire before any CUDA call."""
    monkeypatch.setattr(gpu, "available", lambda: True)


def test_adaptive_alias_is_deprecated(no_gpu):
    gas = cg.CoulombGas.gaussian(3)
    with pytest.warns(DeprecationWarning, match="adaptive-heun"), pytest.warns(RuntimeWarning, match="device"):
        tr = gpu.simulate_cuda(gas, 0.1, 0.01, scheme="adaptive", seed=2, fallback=True)
    assert tr.scheme == "adaptive-heun"
    np.testing.assert_array_equal(tr.x, cg.simulate(gas, 0.1, 0.01, scheme="adaptive-heun", seed=2).x)


def test_require(no_gpu):
    assert gpu.require("cpu") is False
    with pytest.raises(ValueError, match="`device`.*no CUDA device was found"):
        gpu.require("cuda")
    with pytest.warns(RuntimeWarning, match="running on the CPU"):
        assert gpu.require("cuda", fallback=True) is False
    with pytest.raises(ValueError, match="`device` must be one of"):
        gpu.require("tpu")
    with pytest.raises(TypeError, match="`fallback`"):
        gpu.require("cuda", fallback="yes")


def test_no_gpu_raises_everywhere(no_gpu):
    gas = cg.CoulombGas.gaussian(3)
    calls = [lambda: gpu.direct_force_cuda([0.0, 1.0]), lambda: gpu.simulate_cuda(gas, 0.1, 0.01),
             lambda: gpu.teacher_student_cuda(models=2, steps=2, record_every=1),
             lambda: gpu.phase_network_cuda(models=2, steps=2, record_every=1),
             lambda: gpu.gaussian_rbm_cuda(models=2, steps=2, record_every=1)]
    for call in calls:
        with pytest.raises(ValueError, match="no CUDA device"):
            call()


def test_fallback_runs_the_cpu_path(no_gpu):
    from coulombgas.forces import coulomb_force
    from coulombgas.training import gaussian_rbm, phase_network, teacher_student

    x = np.array([0.3, -1.0, 2.0, 0.9])
    with pytest.warns(RuntimeWarning):
        np.testing.assert_array_equal(gpu.direct_force_cuda(x, fallback=True), coulomb_force(x, method="direct"))
    gas = cg.CoulombGas.gaussian(3)
    with pytest.warns(RuntimeWarning):
        tr = gpu.simulate_cuda(gas, 0.1, 0.01, replicas=2, seed=4, fallback=True)
    np.testing.assert_array_equal(tr.x, cg.simulate(gas, 0.1, 0.01, replicas=2, seed=4).x)
    kw = dict(models=2, steps=4, record_every=2, batch_size=2, epoch_batches=3, seed=1)
    with pytest.warns(RuntimeWarning):
        h = gpu.teacher_student_cuda(**kw, fallback=True)
    np.testing.assert_array_equal(h.eigenvalues, teacher_student(**kw).eigenvalues)
    with pytest.warns(RuntimeWarning):
        h = gpu.phase_network_cuda(**kw, fallback=True)
    np.testing.assert_array_equal(h.eigenvalues, phase_network(**kw).eigenvalues)
    kw = dict(models=2, steps=4, record_every=2, batch_size=2, seed=1, progress=False)
    with pytest.warns(RuntimeWarning):
        h = gpu.gaussian_rbm_cuda(**kw, fallback=True)
    np.testing.assert_array_equal(h.eigenvalues, gaussian_rbm(**kw).eigenvalues)


def test_bad_input(fake_gpu):
    gas = cg.CoulombGas.gaussian(3)
    with pytest.raises(ValueError, match="`x` must be 1-dimensional"):
        gpu.direct_force_cuda(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="`x` must have at least 2"):
        gpu.direct_force_cuda([1.0])
    with pytest.raises(ValueError, match="`weights`"):
        gpu.direct_force_cuda([0.0, 1.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="`x` must contain only finite"):
        gpu.direct_force_cuda([0.0, np.nan])
    with pytest.raises(ValueError, match="`dt` must be > 0"):
        gpu.simulate_cuda(gas, 1.0, 0.0)
    with pytest.raises(ValueError, match="`scheme`"):
        gpu.simulate_cuda(gas, 1.0, 0.1, scheme="rk4")
    for name in ("imex-euler", "imex-heun"):  # no CUDA kernel: refused clearly, not run as something else
        with pytest.raises(ValueError, match="`scheme` '" + name + "' has no CUDA kernel"):
            gpu.simulate_cuda(gas, 1.0, 0.1, scheme=name)
    with pytest.raises(ValueError, match="`x0` must have shape"):
        gpu.simulate_cuda(gas, 1.0, 0.1, x0=[0.0, 1.0])
    with pytest.raises(ValueError, match="`x0` must be strictly increasing"):
        gpu.simulate_cuda(gas, 1.0, 0.1, x0=[0.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="`replicas`"):
        gpu.simulate_cuda(gas, 1.0, 0.1, replicas=0)
    with pytest.raises(ValueError, match="`max_gap_factor`"):
        gpu.simulate_cuda(gas, 1.0, 0.1, max_gap_factor=1.0)
    with pytest.raises(ValueError, match="`gas.n` must be <= 64"):
        gpu.simulate_cuda(cg.CoulombGas.gaussian(65), 1.0, 0.1)
    with pytest.raises(TypeError, match="`gas`"):
        gpu.simulate_cuda("gas", 1.0, 0.1)
    import numba

    custom = Custom(numba.njit(lambda x, i: 0.5 * x * x), numba.njit(lambda x, i: x))
    with pytest.raises(ValueError, match="`gas.potential` must be a built-in"):
        gpu.simulate_cuda(cg.CoulombGas.dyson(custom, 3), 1.0, 0.1)
    with pytest.raises(ValueError, match="`lr` must be > 0"):
        gpu.teacher_student_cuda(lr=-1.0)
    with pytest.raises(ValueError, match="`record_every`"):
        gpu.teacher_student_cuda(steps=5, record_every=6)
    with pytest.raises(ValueError, match="`n_mid` must be >= 1"):
        gpu.phase_network_cuda(n_mid=0)
    with pytest.raises(ValueError, match="`block_models`"):
        gpu.phase_network_cuda(models=2, steps=2, record_every=1, block_models=0)
    with pytest.raises(ValueError, match="`mu2` must be >"):
        gpu.gaussian_rbm_cuda(mu2=1.0)
    with pytest.raises(ValueError, match="`n`, `n_hidden` and `batch_size` must keep"):
        gpu.gaussian_rbm_cuda(n=64, batch_size=64, mu2=20.0)


@pytest.mark.skipif(gpu.available(), reason="checks the behaviour without a GPU")
def test_public_functions_dispatch_on_device_without_gpu():
    import coulombgas as cg

    gas = cg.CoulombGas.gaussian(3)
    for call in (lambda **k: cg.simulate(gas, 0.01, 1e-3, seed=1, **k),
                 lambda **k: cg.training.teacher_student(models=3, steps=20, record_every=10, progress=False, **k),
                 lambda **k: cg.training.phase_network(models=2, steps=20, record_every=10, progress=False, **k),
                 lambda **k: cg.training.gaussian_rbm(models=2, steps=20, record_every=10, progress=False, **k)):
        with pytest.raises(ValueError, match="device"):
            call(device="cuda")
        with pytest.warns(RuntimeWarning, match="device"):
            fallen = call(device="cuda", fallback=True)
        plain = call()
        np.testing.assert_array_equal(fallen.x if hasattr(fallen, "x") else fallen.eigenvalues,
                                      plain.x if hasattr(plain, "x") else plain.eigenvalues)
    with pytest.raises(ValueError, match="device"):
        cg.simulate(gas, 0.01, 1e-3, device="tpu")
