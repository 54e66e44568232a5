"""Bad-input harness (issue 18 §2): the issue's cases, each in a fresh process.

Run ``python tests/bad_input_harness.py [--jobs 2] [--timeout 20] [--only SUBSTR]``.
Every case runs in its own Python process with a wall-clock limit and an
address-space cap (``RLIMIT_AS``), and ``COULOMBGAS_MAX_MEMORY`` set below that
cap, so an oversized request must be *refused* by the package's own estimate.
An outcome is one of:

* ``clean``   — ValueError/TypeError whose message names a parameter in backticks;
* ``valid``   — a finite result, where one was allowed (and its check holds);
* ``hang``    — no answer within the time limit;
* ``memory``  — MemoryError, or the process killed at the memory cap;
* ``silent``  — a result where an error was required, or a result that fails its check;
* ``nan``     — a result holding NaN or inf;
* ``unclear`` — any other exception, or an error that names no parameter.

Each case has an owner (the helper whose files answer it) and an expectation:
``E`` a clean error, ``V`` a finite result, ``*`` either (with an optional check
on the result ``r``). The closing lines print the counts and the failing cases
by owner. Exit status 0 when every case is clean or valid.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

G4 = "cg.CoulombGas.gaussian(4)"
Q = "cg.potentials.Quadratic()"
OUTLIER = "np.r_[np.random.default_rng(0).standard_normal(999), 1e9]"
TS = "tr.teacher_student"
HL = "tr.hidden_layer_teacher_student"
RBM = "tr.gaussian_rbm"
PN = "tr.phase_network"
SMALL = "models=2, steps=4, record_every=2"

# (owner, expectation, code, check on r or None). Owners: H1 simulate/io, H2 gas/sample/
# fokker_planck/potentials, H3 sweep/cli, H4 compare, H5 theory/spectra/training.
CASES: list[tuple[str, str, str, str | None]] = [
    # ---------------------------------------------------------------- simulate (H1)
    ("H1", "E", f"cg.simulate({G4}, 1.0, 5e-324, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, -0.1, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, float('nan'), 0.1, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, replicas=10**12, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, replicas=0, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1e12, 1e-12, seed=0)", None),
    ("H1", "*", f"cg.simulate({G4}, 1.0, 0.1, record_every=3, seed=0)", "abs(r.t[-1] - 1.0) < 1e-9"),
    ("H1", "*", f"cg.simulate({G4}, 0.1, 0.01, record_every=20, seed=0)", "abs(r.t[-1] - 0.1) < 1e-9"),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, progress='no', seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, resume=True, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, out='/nonexistent-dir/x.h5', seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, x0=[1.0, 2.0, 3.0], seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, x0=[0.0, 1.0, float('nan'), 3.0], seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, scheme='nope', seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, seed=-1)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, seed='abc')", None),
    ("H1", "E", "cg.simulate('gas', 1.0, 0.1, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, True, 0.1, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, chunk_records=0, seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, device='tpu', seed=0)", None),
    ("H1", "E", f"cg.simulate({G4}, 1.0, 0.1, max_gap_factor=-1.0, seed=0)", None),
    ("H1", "V", "cg.simulate(cg.CoulombGas.gaussian(10**6), 1e-6, 1e-6, seed=0)", "r.x.shape == (1, 2, 10**6)"),
    ("H1", "V", f"cg.simulate({G4}, 1.0, 0.1, seed=0)", "abs(r.t[-1] - 1.0) < 1e-9"),
    ("H1", "V", f"cg.simulate({G4}, 1.0, 0.1, replicas=3, record_every=5, seed=1)", None),
    # ---------------------------------------------------------------- gas, sample, fokker_planck (H2)
    ("H2", "E", "cg.CoulombGas.gaussian(10**9)", None),
    ("H2", "E", "cg.CoulombGas.gaussian(0)", None),
    ("H2", "E", "cg.CoulombGas.gaussian(2.5)", None),
    ("H2", "E", "cg.CoulombGas.gaussian(True)", None),
    ("H2", "E", "cg.CoulombGas.gaussian('3')", None),
    ("H2", "E", "cg.CoulombGas.gaussian(4, beta=0.0)", None),
    ("H2", "E", "cg.CoulombGas.gaussian(4, beta=float('nan'))", None),
    ("H2", "E", "cg.CoulombGas.gaussian(4, beta=1e-320)", None),
    ("H2", "*", "cg.CoulombGas.gaussian(4, beta=1e300)", None),
    ("H2", "V", f"cg.CoulombGas.dyson({Q}, 4, beta=2.0)", None),
    ("H2", "E", "cg.CoulombGas.dyson('x', 4)", None),
    ("H2", "E", "cg.CoulombGas.dyson(cg.potentials.Quadratic(width=-1.0), 4)", None),
    ("H2", "E", f"cg.CoulombGas.from_sgd({Q}, [1.0, 1.0], lr=1e200, batch_size=16)", None),
    ("H2", "E", f"cg.CoulombGas.from_sgd({Q}, [1.0, 1.0], lr=-1.0, batch_size=16)", None),
    ("H2", "E", f"cg.CoulombGas.from_sgd({Q}, [1.0, 1.0], lr=0.1, batch_size=0)", None),
    ("H2", "E", f"cg.CoulombGas.from_sgd({Q}, [float('nan'), 1.0], lr=0.1, batch_size=16)", None),
    ("H2", "E", f"cg.CoulombGas.from_sgd({Q}, [], lr=0.1, batch_size=16)", None),
    ("H2", "V", f"cg.CoulombGas.from_sgd({Q}, [1.0, 2.0], lr=0.1, batch_size=16)", None),
    ("H2", "E", "cg.potentials.Laguerre(a=-5.0)", None),
    ("H2", "E", f"cg.sample({G4}, 10**12, seed=0)", None),
    ("H2", "E", f"cg.sample({G4}, 10, chains=10**12, seed=0)", None),
    ("H2", "E", f"cg.sample({G4}, 10, method='hmc', warmup=10**12, seed=0)", None),
    ("H2", "*", f"cg.sample({G4}, 1, method='hmc', seed=0)", None),
    ("H2", "E", f"cg.sample({G4}, 0, seed=0)", None),
    ("H2", "E", f"cg.sample({G4}, 10, method='nope', seed=0)", None),
    ("H2", "E", f"cg.sample({G4}, 10, progress='no', seed=0)", None),
    ("H2", "E", f"cg.sample({G4}, 10, strict='yes', seed=0)", None),
    ("H2", "E", f"cg.sample({G4}, 10, thin=0, seed=0)", None),
    ("H2", "V", f"cg.sample({G4}, 200, seed=0)", None),
    ("H2", "E", f"cg.fokker_planck.stationary_two_mode({G4})", None),
    ("H2", "E", "cg.fokker_planck.stationary_two_mode(cg.CoulombGas.gaussian(2), grid=10**7)", None),
    # ---------------------------------------------------------------- sweep (H3)
    ("H3", "E", "cg.sweep('nope', {'seed': [1]})", None),
    ("H3", "E", "cg.sweep('simulate', 'grid')", None),
    ("H3", "E", "cg.sweep('simulate', {'seed': [1]}, fixed={'n': 4, 't_end': 1.0, 'dt': 0.1}, workers=0)", None),
    ("H3", "E", "cg.sweep('simulate', {'seed': [1]}, fixed={'n': 4, 't_end': 1.0, 'dt': 0.1}, progress='no')",
     None),
    ("H3", "E", "cg.sweep('train', {'models': [10**12]}, fixed={'model': 'teacher-student', 'steps': 4, "
                "'record_every': 2})", None),
    ("H3", "E", "cg.sweep('simulate', {'dt': [-1.0]}, fixed={'n': 4, 't_end': 1.0})", None),
    # ---------------------------------------------------------------- compare (H4)
    ("H4", "E", "cg.compare('nope')", None),
    ("H4", "E", "cg.compare(progress='no')", None),
    ("H4", "E", "cg.compare(force='yes')", None),
    ("H4", "E", "cg.compare(level=2.0)", None),
    ("H4", "E", "cg.compare(models=10**12)", None),
    ("H4", "E", "cg.compare(scan='no')", None),
    # ---------------------------------------------------------------- theory (H5)
    ("H5", "E", "th.semicircle(1e-320)", None),
    ("H5", "E", "th.semicircle(1e300)", None),
    ("H5", "E", "th.semicircle(-1.0)", None),
    ("H5", "E", "th.semicircle(True)", None),
    ("H5", "V", "th.semicircle(2.0)", None),
    ("H5", "E", "th.two_mode_spacing(1e-320, 1e-320)", None),
    ("H5", "V", "th.two_mode_spacing(0.6, 0.8)", None),
    ("H5", "E", "th.two_mode_density(1e-170, 1.0)", None),
    ("H5", "E", "th.two_mode_density(1e200, 1.0)", None),
    ("H5", "V", "th.two_mode_density(1e-150, 1e150)", None),
    ("H5", "V", "th.two_mode_density(1.0, 1.0).pdf([50.0, -50.0])", None),
    ("H5", "V", "th.two_mode_density(1.0, 1.0).logpdf([50.0, -50.0])", None),
    ("H5", "E", "th.marchenko_pastur(ratio=1e300)", None),
    ("H5", "E", "th.marchenko_pastur(0.5, sigma=1e200)", None),
    ("H5", "E", "th.marchenko_pastur(0.0)", None),
    ("H5", "V", "th.marchenko_pastur(4.0, sigma=2.0)", None),
    ("H5", "E", "th.wigner_surmise(3)", None),
    ("H5", "E", "th.spacing('x')", None),
    ("H5", "E", "th.gap_ratio(True)", None),
    ("H5", "E", "th.semicircle(1.0).rvs(size=-1)", None),
    ("H5", "E", "th.semicircle(1.0).rvs(size=10**12)", None),
    ("H5", "E", "th.wigner_surmise(1).rvs(size=2.5)", None),
    ("H5", "E", "th.two_mode_density(1.0, 2.0).rvs(size=(10**7, 10**7))", None),
    ("H5", "V", "th.two_mode_density(1.0, 2.0).rvs(size=5, random_state=1)", None),
    # ---------------------------------------------------------------- spectra (H5)
    ("H5", "E", "sp.spacings(np.array([True, False, True]))", None),
    ("H5", "E", "sp.spacings([0.0, 1.0, 2.0], sort='no')", None),
    ("H5", "E", "sp.normalized_spacings([[0.0, 1.0], [0.0, 2.0]], separate='yes')", None),
    ("H5", "E", "sp.gap_ratios([0.0, 1.0, 3.0], sort=0)", None),
    ("H5", "E", "sp.normalized_spacings([-1.7e308, 1.7e308])", None),
    ("H5", "E", "sp.spacings([])", None),
    ("H5", "E", "sp.spacings([[0.0, 1.0], [2.0]])", None),
    ("H5", "E", "sp.number_variance(np.arange(100.0), [1.0], bulk=(200.0, 300.0))", None),
    ("H5", "E", "sp.number_variance(np.arange(100.0), [1.0], windows=10**12)", None),
    ("H5", "V", "sp.number_variance(np.arange(100.0), [1.0, 2.0])", None),
    ("H5", "E", "sp.unfold(np.arange(10.0), bandwidth=1e300 * 10)", None),
    ("H5", "*", "sp.unfold(np.arange(10.0), bandwidth=1e300)", None),
    ("H5", "E", "sp.unfold(np.arange(10.0), bandwidth=1e-300)", None),
    ("H5", "E", f"sp.histogram({OUTLIER})", None),
    ("H5", "E", "sp.histogram(np.arange(10.0), bins=10**12)", None),
    ("H5", "V", f"sp.histogram({OUTLIER}, bins=50)", None),
    ("H5", "*", "sp.fit_through_origin([1.0, 2.0], [2.0, 4.0], 1e-200)", "abs(r.slope - 2.0) < 1e-12"),
    ("H5", "E", "sp.fit_through_origin([1.0, 2.0], [2.0, 4.0], [True, True])", None),
    ("H5", "E", "sp.fit_through_origin([0.0, 0.0], [2.0, 4.0], 1.0)", None),
    ("H5", "E", "sp.goodness_of_fit([0.1, 0.2, 0.3], 'law')", None),
    ("H5", "E", "sp.jackknife(np.mean, np.ones((3, 2), dtype=bool))", None),
    ("H5", "E", "sp.fit_density(np.ones((3, 4)), lambda x, a: np.ones_like(x), [1.0], error='bootstrap', "
                "n_resamples=10**12)", None),
    # ---------------------------------------------------------------- training (H5)
    *[("H5", "E", f"{f}(models=10**12, steps=4, record_every=2)", None) for f in (TS, HL, RBM, PN)],
    *[("H5", "E", f"{f}(models=2, batch_size=10**9, steps=4, record_every=2)", None) for f in (TS, HL, RBM, PN)],
    *[("H5", "E", f"{f}(models=2, steps=10**13)", None) for f in (TS, HL, RBM, PN)],
    *[("H5", "E", f"{f}({SMALL}, resume=True)", None) for f in (TS, HL, RBM, PN)],
    *[("H5", "E", f"{f}({SMALL}, progress='no')", None) for f in (TS, HL, RBM, PN)],
    *[("H5", "E", f"{f}({SMALL}, record_weights='yes')", None) for f in (TS, HL, RBM, PN)],
    ("H5", "E", f"{TS}(models=2, steps=10**9, record_every=1)", None),
    ("H5", "E", f"{HL}(n=10**6, {SMALL})", None),
    ("H5", "E", f"{RBM}(n=10**9, {SMALL})", None),
    ("H5", "E", f"{PN}(n_mid=10**9, {SMALL})", None),
    ("H5", "E", f"{TS}(lr=float('inf'), {SMALL})", None),
    ("H5", "E", f"{TS}(batch_size=True, {SMALL})", None),
    ("H5", "V", f"{TS}({SMALL})", None),
    ("H5", "V", f"{RBM}({SMALL}, progress=False)", None),
]

PRELUDE = """
import math, numpy as np, coulombgas as cg
from coulombgas import theory as th, spectra as sp, training as tr
"""

def finite(v, depth: int = 0) -> bool:
    """Whether a result is finite and valid: arrays and numbers finite; a frozen law with finite
    moments, quantiles, pdf and cdf and a variance > 0; dataclasses and dicts field by field."""
    import dataclasses
    import numbers

    import numpy as np

    if depth > 4 or v is None or isinstance(v, (str, bytes, bool)):
        return True
    if hasattr(v, "dist") and hasattr(v, "ppf"):  # a frozen law: its moments and quantiles
        m, var = v.stats("mv")
        q = v.ppf([0.1, 0.5, 0.9])
        vals = np.r_[m, var, q, v.pdf(q), v.cdf(q)]
        return bool(np.all(np.isfinite(vals)) and var > 0 and q[0] < q[2])
    if isinstance(v, np.ndarray):
        return v.dtype.kind not in "fc" or bool(np.all(np.isfinite(v)))
    if isinstance(v, numbers.Integral):
        return True
    if isinstance(v, numbers.Number):
        return bool(np.isfinite(v))
    if isinstance(v, dict):
        return all(finite(x, depth + 1) for k, x in v.items() if k != "diagnostics")
    if isinstance(v, (list, tuple)):
        return all(finite(x, depth + 1) for x in v[:50])
    if dataclasses.is_dataclass(v):
        # Training records hold NaN for a diverged model by design (documented); diagnostics
        # may hold inf for "no gap seen".
        skip = ("eigenvalues", "singular_values", "loss", "weights", "diagnostics")
        return all(finite(getattr(v, f.name), depth + 1) for f in dataclasses.fields(v) if f.name not in skip)
    return True


def evaluate(code: str, check: str | None) -> dict:
    """Run one case here, in this process: the outcome as a dict (see :func:`classify`)."""
    import re
    import warnings

    namespace: dict = {}
    exec(PRELUDE, namespace)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = eval(code, namespace)
            out = {"kind": "returned", "finite": finite(r)}
            if out["finite"] and check is not None:
                namespace["r"] = r
                out["check"] = bool(eval(check, namespace))
    except MemoryError as e:
        out = {"kind": "MemoryError", "msg": str(e)[:300]}
    except (ValueError, TypeError) as e:
        msg = str(e)
        out = {"kind": type(e).__name__, "msg": msg[:300], "named": bool(re.search(r"`[^`]+`", msg))}
    except Exception as e:  # noqa: BLE001 - every other exception is an unclear answer
        out = {"kind": type(e).__name__, "msg": str(e)[:300]}
    return out


def classify(expect: str, check: str | None, out: dict) -> tuple[str, str]:
    """(outcome, message) for a case's expectation and its evaluated ``out``."""
    kind = out["kind"]
    if kind == "returned":
        if not out["finite"]:
            return "nan", "result holds NaN/inf (or a degenerate law)"
        if expect == "E":
            return "silent", "returned a result where an error was required"
        if out.get("check") is False:
            return "silent", f"result fails the check {check}"
        return "valid", ""
    if kind == "MemoryError":
        return "memory", out["msg"]
    if kind in ("ValueError", "TypeError"):
        if not out["named"]:
            return "unclear", f"{kind}: {out['msg']}"
        if expect == "V":
            return "refused", f"{kind}: {out['msg']}"
        return "clean", f"{kind}: {out['msg'][:120]}"
    return "unclear", f"{kind}: {out['msg']}"


# The child: cap its memory, run one case, print one JSON line with its outcome.
CHILD = r"""
import json, resource, sys
cap = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
sys.path.insert(0, sys.argv[4])
from bad_input_harness import evaluate
check = None if sys.argv[2] == "None" else sys.argv[2]
print("@@RESULT@@" + json.dumps(evaluate(sys.argv[1], check)), flush=True)
"""


def run_case(case, timeout: float, cap: int, budget: int, python: str, env_path: str | None):
    owner, expect, code, check = case
    env = dict(os.environ, COULOMBGAS_MAX_MEMORY=str(budget), NUMBA_NUM_THREADS="1",
               OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    if env_path:
        env["PYTHONPATH"] = env_path
    start = time.perf_counter()
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        proc = subprocess.run([python, "-c", CHILD, code, str(check), str(cap), here], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=here)
    except subprocess.TimeoutExpired:
        return case, "hang", f"no answer in {timeout:g} s", time.perf_counter() - start
    wall = time.perf_counter() - start
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    if not line:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        killed = proc.returncode < 0 or "MemoryError" in proc.stderr or "std::bad_alloc" in proc.stderr
        return case, "memory" if killed else "unclear", tail[0][:200], wall
    outcome, message = classify(expect, check, json.loads(line[0][len("@@RESULT@@"):]))
    return case, outcome, message, wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2, help="processes at a time (at most 2)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    ap.add_argument("--cap-gib", type=float, default=4.0, help="RLIMIT_AS of each case, GiB")
    ap.add_argument("--budget-gib", type=float, default=2.0, help="COULOMBGAS_MAX_MEMORY, GiB")
    ap.add_argument("--only", default=None, help="run the cases whose owner or code contains this")
    ap.add_argument("--path", default=None, help="PYTHONPATH for the cases (e.g. an older checkout)")
    ap.add_argument("--json", default=None, help="write every outcome to this file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    cases = [c for c in CASES if args.only is None or args.only in c[0] or args.only in c[2]]
    jobs = max(1, min(2, args.jobs))
    cap, budget = int(args.cap_gib * 2**30), int(args.budget_gib * 2**30)
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda c: run_case(c, args.timeout, cap, budget, sys.executable, args.path),
                                cases))
    counts = Counter(outcome for _, outcome, _, _ in results)
    failing = [(c, o, m) for c, o, m, _ in results if o not in ("clean", "valid")]
    if args.verbose:
        for c, o, m, w in results:
            print(f"{o:8s} {c[0]} {w:5.1f}s {c[2]}  {m[:100]}")
    order = ("clean", "valid", "hang", "memory", "silent", "nan", "unclear", "refused")
    print(f"cases: {len(results)}")
    print("  ".join(f"{k}: {counts.get(k, 0)}" for k in order))
    by_owner: dict[str, list] = {}
    for c, o, m in failing:
        by_owner.setdefault(c[0], []).append((o, c[2], m))
    for owner in sorted(by_owner):
        print(f"{owner}: {len(by_owner[owner])} failing")
        for o, code, m in by_owner[owner]:
            print(f"  [{o}] {code}\n      {m[:160]}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([{"owner": c[0], "expect": c[1], "code": c[2], "outcome": o, "message": m, "wall": w}
                       for c, o, m, w in results], fh, indent=1)
    return 0 if not failing else 1


if __name__ == "__main__":
    sys.exit(main())
