"""Benchmark of the GPU kernels (:mod:`coulombgas.gpu`) side by side with the CPU path, plus full-size estimates.

Rows (rates are medians of warm repeats; the GPU times are the kernel alone,
launch to synchronise, with the data already on the device):

* phase network (paper 4, W 16×32, |B| = 4): SGD updates per second;
* Dyson Brownian motion replica ensemble, N = 10 (Gaussian β = 2): particle-steps
  per second (replicas × N × steps / time), Euler–Maruyama and adaptive Heun;
* direct Coulomb force, N = 4·10⁵, fp64: ordered pair evaluations per second,
  N(N − 1) / time (the CPU kernel visits each unordered pair once, one division
  serving both points; its rate is quoted in the same N(N − 1) units);
* teacher–student (paper 1, 2×2, |B| = 16): SGD updates per second;
* Gaussian RBM (paper 1, 10×10, |B| = 16, 3 Gibbs sweeps): model updates per second.

Each row holds the CPU rate measured in the same call (Numba kernels over all
cores, at a size that fits this machine) and, when a CUDA device is present,
the GPU rate and the issue-7 target (H100). Without a device the GPU columns
say so, and nothing is estimated for them beyond the target itself.

Full-size estimates: paper 1's RBM setting (7,500 models × 10⁵ updates) and paper
4's phase-diagram grid (144 points × 100 networks × 10⁸ updates = 1.44·10¹² updates),
from the rates measured here (CPU: the whole RBM call; GPU: the kernels).
"""

from __future__ import annotations

import importlib
import math
import time

import numpy as np

from .. import _prng, _rng, gpu
from ..cuda import device as cuda_device
from ..cuda import forces as cuda_forces
from ..cuda import sde as cuda_sde
from ..cuda import training as cuda_training
from . import format_rows, median_time

__all__ = ["bench_gpu", "format_table", "TARGETS"]

#: Issue 7's targets on one H100 (units as in the rows).
TARGETS = {
    "phase network": 1e9,         # SGD updates / s
    "DBM ensemble N=10": 3e10,    # particle-steps / s
    "direct force N=4e5": 7e11,   # pair evaluations / s
}
PAPER1_RBM_UPDATES = 7_500 * 100_000
PAPER4_GRID_UPDATES = 144 * 100 * 100_000_000
#: Problem sizes of the GPU rows: (quick, full).
SIZES = {
    "phase": ((1024, 200), (8192, 5000)),               # models, updates per launch
    "dbm": ((1 << 16, 100), (1 << 20, 1000)),           # replicas, steps per launch
    "force": (100_000, 400_000),                        # points
    "teacher": ((1 << 14, 200), (1 << 16, 1000)),       # models, updates per launch
    "rbm": ((1024, 20), (7500, 200)),                   # models, updates per launch
}


def _on_gpu() -> bool:
    return gpu.available() and not gpu.simulator()


def _sync_time(fn, repeats):
    """Median seconds of ``fn()`` followed by a device synchronise."""
    cuda = cuda_device.load()

    def run():
        fn()
        cuda.synchronize()

    return median_time(run, repeats, warm=True)


# ------------------------------------------------------------------ CPU rates (measured here)

def _cpu_phase(quick):
    pn = importlib.import_module("coulombgas.training.phase_network")
    models, steps = (16, 50) if quick else (64, 400)
    params = {"n_in": 3, "n_mid": 32, "n_hidden": 16, "batch_size": 4, "epoch_batches": 1000, "sigma_w": 1.0,
              "lr": 2.0**-3, "divergence_loss": 100.0}
    data, state = pn.init(params, _rng.streams(1, models))
    state["step"] = np.zeros(models, dtype=np.int64)
    state["diverged"] = np.zeros(models, dtype=np.int64)
    t = median_time(lambda: pn.advance(data, state, None, steps, params), 3, warm=True)
    return models * steps / t


def _cpu_dbm(quick, scheme):
    import coulombgas as cg

    replicas, steps, dt = (64, 100, 1e-4) if quick else (512, 500, 1e-4)
    gas = cg.CoulombGas.gaussian(10, beta=2.0)
    t = median_time(lambda: cg.simulate(gas, steps * dt, dt, replicas=replicas, record_every=steps, scheme=scheme,
                                        seed=1), 3, warm=True)
    return replicas * 10 * steps / t


def _cpu_force(quick):
    from ..forces import coulomb_force

    n = 5_000 if quick else 20_000
    x = np.sort(np.random.default_rng(0).standard_normal(n)) * math.sqrt(n)
    t = median_time(lambda: coulomb_force(x, method="direct"), 3, warm=True)
    return n * (n - 1) / t


def _cpu_teacher(quick):
    ts = importlib.import_module("coulombgas.training.teacher_student")
    models, steps = (300, 200) if quick else (3000, 1000)
    params = {"batch_size": 16, "epoch_batches": 500, "eps": 0.1, "init_std": 0.1, "lr": 0.1, "teacher": 2.0,
              "divergence_loss": 100.0}
    data, state = ts.init(params, _rng.streams(1, models))
    state["step"] = np.zeros(models, dtype=np.int64)
    state["diverged"] = np.zeros(models, dtype=np.int64)
    t = median_time(lambda: ts.advance(data, state, None, steps, params), 3, warm=True)
    return models * steps / t


def _cpu_rbm(quick):
    """Whole gaussian_rbm call (paper 1's protocol) at a small size: updates per second."""
    rbm = importlib.import_module("coulombgas.training.rbm")
    models, steps = (8, 100) if quick else (64, 1000)
    kw = dict(models=models, steps=steps, record_every=steps, progress=False, record_weights=False)
    t = median_time(lambda: rbm.gaussian_rbm(seed=1, **kw), 2, warm=True)
    return models * steps / t


# ------------------------------------------------------------------ GPU rates (measured when a device exists)

def _tiled_init(init, params, models, base=1024):
    """``init`` of ``base`` models repeated up to ``models``: each model's data is ~1 MB and
    drawing it on the host would take minutes at the GPU sizes; the rate does not depend on it."""
    data, state = init(params, _rng.streams(1, min(models, base)))
    reps = -(-models // base)

    def tile(a):
        return np.ascontiguousarray(np.concatenate([a] * reps)[:models]) if reps > 1 else a

    return ({k: tile(a) for k, a in data.items()},
            {k: tile(a) for k, a in state.items() if isinstance(a, np.ndarray)})


def _gpu_phase(quick):
    pn = importlib.import_module("coulombgas.training.phase_network")
    cuda = cuda_device.load()
    models, steps = SIZES["phase"][0 if quick else 1]
    params = {"n_in": 3, "n_mid": 32, "n_hidden": 16, "batch_size": 4, "epoch_batches": 1000, "sigma_w": 1.0,
              "lr": 2.0**-3, "divergence_loss": 100.0}
    data, state = _tiled_init(pn.init, params, models)
    team, rows = cuda_training.team_shape(16)
    tpb = max(team, cuda_device.threads(128))
    kernel = cuda_training.phase_kernel(32, 16, 4, team, rows, tpb)
    d = [cuda.to_device(np.ascontiguousarray(a)) for a in (data["H"], data["y"], data["Z"], state["W"])]
    step = cuda.to_device(np.zeros(models, dtype=np.int64))
    div = cuda.to_device(np.zeros(models, dtype=np.int64))
    loss = cuda.to_device(np.zeros(models))  # the running loss sum the kernel continues
    lr = cuda.to_device(np.full(models, params["lr"]))
    blocks = (models + tpb // team - 1) // (tpb // team)
    t = _sync_time(lambda: kernel[blocks, tpb](*d, step, div, loss, steps, lr, 100.0), 3)
    return models * steps / t


def _gpu_dbm(quick, scheme):
    import coulombgas as cg
    from ..dynamics import SCHEMES

    cuda = cuda_device.load()
    (replicas, steps), dt = SIZES["dbm"][0 if quick else 1], 1e-4
    gas = cg.CoulombGas.gaussian(10, beta=2.0)
    kind, params, lower, a, c, w, s = gas.kernel_arrays()
    kernel = cuda_sde.sde_kernel(10, params.shape[1], int(kind), SCHEMES[scheme].code, 30)
    x0 = np.broadcast_to(cg.dynamics.default_x0(gas), (replicas, 10))
    x = cuda.to_device(np.ascontiguousarray(x0.T))
    states = cuda.to_device(cuda_sde.device_states(np.random.SeedSequence(1), replicas))
    counts = cuda.to_device(np.zeros((5, replicas), dtype=np.int64))
    rest = [cuda.to_device(np.zeros(replicas)), cuda.to_device(np.zeros(replicas, dtype=np.int64))]
    rec = cuda.device_array((1, 10, replicas))
    gaps = cuda.to_device(np.full(replicas, np.inf))
    pd, wd, sd = (cuda.to_device(np.ascontiguousarray(arr, dtype=np.float64)) for arr in (params, w, s))
    tpb = cuda_device.threads(64)
    t = _sync_time(lambda: kernel[(replicas + tpb - 1) // tpb, tpb](
        x, states, rest[0], rest[1], rec, steps, dt, steps, pd, float(lower), float(a), float(c), wd, sd, 2.0, counts,
        gaps, 0.0), 3)
    stopped = int(np.count_nonzero(counts.copy_to_host()[2]))
    return replicas * 10 * steps / t, stopped


def _gpu_force(quick):
    cuda = cuda_device.load()
    n = SIZES["force"][0 if quick else 1]
    x = np.sort(np.random.default_rng(0).standard_normal(n)) * math.sqrt(n)
    tpb = cuda_device.threads(cuda_forces.TPB)
    kernel = cuda_forces.force_kernel(tpb, cuda_forces.GROUP)
    xd, wd, out = cuda.to_device(x), cuda.to_device(np.ones(n)), cuda.device_array(n)
    t = _sync_time(lambda: kernel[(n + 2 * tpb - 1) // (2 * tpb), tpb](xd, wd, out, n), 3)
    from ..forces import coulomb_force

    m = min(n, 20_000)  # accuracy check on a slice against the CPU direct sum of the same points
    err = float(np.max(np.abs(out.copy_to_host()[:m] - coulomb_force(x, method="direct")[:m])))
    return n * (n - 1) / t, err


def _gpu_teacher(quick):
    ts = importlib.import_module("coulombgas.training.teacher_student")
    cuda = cuda_device.load()
    models, steps = SIZES["teacher"][0 if quick else 1]
    params = {"batch_size": 16, "epoch_batches": 500, "eps": 0.1, "init_std": 0.1, "lr": 0.1, "teacher": 2.0,
              "divergence_loss": 100.0}
    data, state = _tiled_init(ts.init, params, models)
    xd = cuda.to_device(np.ascontiguousarray(data["x"].transpose(1, 2, 0)))
    ad = cuda.to_device(np.ascontiguousarray(data["a"].transpose(1, 2, 0)))
    Wd = cuda.to_device(np.ascontiguousarray(state["W"].reshape(models, 4).T))
    step = cuda.to_device(np.zeros(models, dtype=np.int64))
    div = cuda.to_device(np.zeros(models, dtype=np.int64))
    loss = cuda.to_device(np.zeros(models))  # the running loss sum the kernel continues
    # The default protocol (in order, noise per sample): the kernel's stream arrays are empty stand-ins.
    rng = cuda.to_device(np.zeros((4, models), dtype=np.uint64))
    order = cuda.to_device(np.zeros((0, models), dtype=np.int64))
    order_at = cuda.to_device(np.zeros(models, dtype=np.int64))
    zig = [cuda.to_device(t) for t in (_prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F)]
    kernel = cuda_training.teacher_student_kernel(ts.update_model)
    tpb = cuda_device.threads(128)
    t = _sync_time(lambda: kernel[(models + tpb - 1) // tpb, tpb](
        xd, ad, Wd, step, div, loss, steps, 0.1, 16, 2.0, 100.0, 0, False, math.sqrt(2.0) * 0.1, 0.1, rng, order,
        order_at, *zig, float(_prng.ZIG_R)), 3)
    return models * steps / t


def _gpu_rbm(quick):
    rbm = importlib.import_module("coulombgas.training.rbm")
    cuda = cuda_device.load()
    models, steps = SIZES["rbm"][0 if quick else 1]
    params, _, _, _ = rbm.validated(10, 10, 9.0, 1.0, 4.0, 0.1, 16, 3, models, 1, 1, 0.1, 100.0)
    data, state = rbm.init(params, _rng.streams(1, models))
    kinv, logdet_k = data["kinv"], data["logdet_k"]
    tpb = cuda_device.threads(64, 8)
    kernel = cuda_training.rbm_kernel(rbm.update_model, 10, 10, 16, tpb)
    d = [cuda.to_device(np.ascontiguousarray(a)) for a in (state["W"], state["phi"], state["rng"])]
    step = cuda.to_device(np.zeros(models, dtype=np.int64))
    div = cuda.to_device(np.zeros(models, dtype=np.int64))
    loss = cuda.device_array(models)
    tables = [cuda.to_device(a) for a in (kinv, _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F)]
    t = _sync_time(lambda: kernel[(models + tpb - 1) // tpb, tpb](
        *d, step, div, loss, steps, 0.1, 9.0, 1.0, 3, tables[0], logdet_k, 100.0, *tables[1:], _prng.ZIG_R), 3)
    return models * steps / t


# ------------------------------------------------------------------ the table

def bench_gpu(quick: bool = False) -> list[dict]:
    """GPU vs CPU rows and full-size estimates (module docstring). Measures the GPU only when one is present."""
    on_gpu = _on_gpu()
    device = "none: no CUDA device (GPU columns not measured)"
    if on_gpu:
        dev = cuda_device.load().get_current_device()
        device = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    cpu = {"phase network": _cpu_phase(quick), "DBM ensemble N=10, euler-maruyama": _cpu_dbm(quick, "euler-maruyama"),
           "DBM ensemble N=10, adaptive-heun": _cpu_dbm(quick, "adaptive-heun"),
           "direct force N=4e5": _cpu_force(quick), "teacher-student": _cpu_teacher(quick),
           "Gaussian RBM 10x10": _cpu_rbm(quick)}
    units = {"phase network": "SGD updates/s", "direct force N=4e5": "pair evaluations/s",
             "teacher-student": "SGD updates/s", "Gaussian RBM 10x10": "model updates/s"}
    gpu_rates, notes = {}, {}
    if on_gpu:
        gpu_rates["phase network"] = _gpu_phase(quick)
        for scheme in ("euler-maruyama", "adaptive-heun"):
            rate, stopped = _gpu_dbm(quick, scheme)
            gpu_rates[f"DBM ensemble N=10, {scheme}"] = rate
            notes[f"DBM ensemble N=10, {scheme}"] = f"{stopped} replicas stopped early (status != 0)"
        rate, err = _gpu_force(quick)
        gpu_rates["direct force N=4e5"] = rate
        notes["direct force N=4e5"] = f"max |F_gpu - F_cpu| on 20,000 points: {err:.2e}"
        gpu_rates["teacher-student"] = _gpu_teacher(quick)
        gpu_rates["Gaussian RBM 10x10"] = _gpu_rbm(quick)
        notes["Gaussian RBM 10x10"] = "CPU: whole gaussian_rbm call; GPU: the update kernel"
    rows = []
    for case, cpu_rate in cpu.items():
        key = "DBM ensemble N=10" if case.startswith("DBM") else case
        target = TARGETS.get(key)
        g = gpu_rates.get(case)
        rows.append({
            "case": case + (" (quick size)" if quick else ""),
            "unit": units.get(case, "particle-steps/s"),
            "cpu_rate": cpu_rate,
            "gpu_rate": g if g is not None else "not measured (no CUDA device)",
            "gpu_over_cpu": g / cpu_rate if g is not None else None,
            "target_h100": target,
            "meets_target": (g >= target) if (g is not None and target is not None) else None,
            "device": device,
            "note": notes.get(case, "") + ("" if g is not None else
                                           "; CPU measured at a smaller size (see the module docstring)"),
        })
    rbm_rate = cpu["Gaussian RBM 10x10"]
    rbm_gpu = gpu_rates.get("Gaussian RBM 10x10")
    pn_gpu = gpu_rates.get("phase network")
    rows.append({
        "case": "estimate: paper-1 RBM setting, 7,500 models x 1e5 updates",
        "cpu_hours": PAPER1_RBM_UPDATES / rbm_rate / 3600,
        "cpu_rate": rbm_rate,
        "gpu_hours": PAPER1_RBM_UPDATES / rbm_gpu / 3600 if rbm_gpu else "not measured",
        "note": "CPU rate of the whole gaussian_rbm call (init, training, records) at a small size, this machine; "
                "GPU: the update kernel at 7,500 models",
    })
    rows.append({
        "case": "estimate: paper-4 grid, 144 x 100 networks x 1e8 updates",
        "cpu_hours": PAPER4_GRID_UPDATES / cpu["phase network"] / 3600,
        "cpu_rate": cpu["phase network"],
        "gpu_hours": PAPER4_GRID_UPDATES / pn_gpu / 3600 if pn_gpu else "not measured",
        "gpu_hours_at_target": PAPER4_GRID_UPDATES / TARGETS["phase network"] / 3600,
        "note": "training kernels only (spectra recording excluded); CPU: this machine, all cores",
    })
    return rows


def format_table(rows) -> str:
    return format_rows("GPU kernels vs the CPU path (one process; medians; GPU: kernel time, data resident)",
                       rows, digits=3)


if __name__ == "__main__":  # pragma: no cover
    t0 = time.perf_counter()
    print(format_table(bench_gpu(quick=True)))
    print(f"({time.perf_counter() - t0:.1f} s)")
