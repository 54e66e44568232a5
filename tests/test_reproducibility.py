"""The same seed gives the same bytes: cold or warm Numba cache, 1 or 2 threads, separate processes.

Each check runs the same seeded calls in fresh Python processes, each with its own
new ``NUMBA_CACHE_DIR``: process A compiles everything (cold cache) with 2 threads,
process B compiles with 1 thread (A and B at the same time), then both run again
loading from their caches (warm). The SHA-256 of every result's bytes must agree across all four.

Why it can fail: a compiled callee exists in several copies (its own library and
one linked into every caller) and which copy runs depends on what a process
loaded first; with value-changing fast-math flags the copies computed different
bits (``coulombgas/_jit.py``). Before the flags were pinned, the fast multipole
force differed by 2e-11 and ``simulate`` by 4e-16 between a cold and a warm
process, and a Markov chain turned such differences into a different run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

# Tiny sizes: compile time dominates, the work itself takes milliseconds.
_SCRIPT = textwrap.dedent(r'''
    import hashlib, json, sys
    import numpy as np
    import coulombgas as cg
    from coulombgas import potentials
    from coulombgas.forces import coulomb_force

    which = sys.argv[1].split(",")
    out = {}

    def put(name, a):
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        out[name] = hashlib.sha256(a.tobytes()).hexdigest()

    rng = np.random.default_rng(5)
    if "forces" in which:
        put("force_direct_serial", coulomb_force(np.sort(rng.normal(size=40)), method="direct"))
        put("force_direct_parallel", coulomb_force(np.sort(rng.normal(size=300)), method="direct"))
        put("force_fast", coulomb_force(np.sort(rng.normal(size=3000)), method="fast"))
    if "training" in which:
        h = cg.training.teacher_student(models=20, steps=300, record_every=50, seed=0, progress=False)
        put("teacher_student", h.eigenvalues)
        # The protocols whose kernels draw from the in-kernel stream (batch order, noise per step).
        h = cg.training.teacher_student(models=5, steps=60, record_every=30, seed=1, batch_size=3, epoch_batches=5,
                                        batch_order="reshuffle", noise_draw="per-step", data_seed=2, progress=False)
        put("teacher_student_reshuffle_per_step", h.weights)
        h = cg.training.teacher_student(models=5, steps=60, record_every=30, seed=1, batch_size=3, epoch_batches=5,
                                        batch_order="with-replacement", progress=False)
        put("teacher_student_with_replacement", h.weights)
    gas = cg.CoulombGas.from_sgd(potentials.Quadratic(center=[3.9, 4.0], width=[3.0, 5.0]), g=[0.5, 0.6],
                                 n=2, lr=0.1, batch_size=16)
    if "simulate" in which:
        put("simulate_gaussian", cg.simulate(cg.CoulombGas.gaussian(6), t_end=0.5, dt=1e-2, replicas=4,
                                             seed=0, progress=False).x)
        put("simulate_sgd", cg.simulate(gas, t_end=200.0, dt=1.0, replicas=8, seed=0, progress=False).x)
    if "sample" in which:
        put("sample_hmc", cg.sample(gas, 2000, method="hmc", seed=0).x)
        put("sample_mh", cg.sample(cg.CoulombGas.dyson(potentials.Quartic(t=5, g=5), 4, beta=2), 2000,
                                   method="mh", seed=0).x)
    if "compare" in which:
        report = cg.compare("teacher-student", models=60, steps=1000, record_every=25, seed=3, progress=False)
        numbers = [np.ravel(np.asarray(c[k], dtype=float)) for c in report.checks
                   for k in ("measured", "error", "predicted", "statistic")
                   if c.get(k) is not None and not isinstance(c.get(k), str)]
        put("compare_numbers", np.concatenate(numbers))
    print(json.dumps(out))
''')


def _start(which: str, cache_dir, threads: int) -> subprocess.Popen:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "NUMBA_NUM_THREADS": str(threads)}
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.Popen([sys.executable, "-c", _SCRIPT, which], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    try:
        out, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _check(which: str, tmp_path):
    """A cold (2 threads), B cold (1 thread), B warm (1 thread), A warm (2 threads): same bytes.

    A and B have caches of their own, so the two cold processes run at the same time, and then
    the two warm ones (compiling is single-threaded: this halves the wall time, and the bytes
    cannot depend on it). The package's source must not change while this runs (Numba
    recompiles an edited module).
    """
    cold = {"A cold, 2 threads": _start(which, tmp_path / "cache_a", 2),
            "B cold, 1 thread": _start(which, tmp_path / "cache_b", 1)}
    runs = {label: _result(proc) for label, proc in cold.items()}
    warm = {"B warm, 1 thread": _start(which, tmp_path / "cache_b", 1),
            "A warm, 2 threads": _start(which, tmp_path / "cache_a", 2)}
    runs.update({label: _result(proc) for label, proc in warm.items()})
    reference = runs["A cold, 2 threads"]
    assert reference and all(len(digests) == len(reference) for digests in runs.values())
    for label, digests in runs.items():
        differ = sorted(k for k in reference if digests.get(k) != reference[k])
        assert not differ, f"{label} differs from A cold in {differ}"


def test_forces_and_training_bit_identical_cold_warm_and_any_threads(tmp_path):
    _check("forces,training", tmp_path)


@pytest.mark.slow
def test_simulate_and_sample_bit_identical_cold_warm_and_any_threads(tmp_path):
    _check("simulate,sample", tmp_path)


@pytest.mark.slow
def test_compare_numbers_bit_identical_cold_warm_and_any_threads(tmp_path):
    _check("compare", tmp_path)
