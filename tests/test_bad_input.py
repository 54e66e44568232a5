"""Bad input over the public API (issue 18 §2): a clean error or a finite, valid result.

Three parts:

* the issue's cases in the areas answered by theory/spectra/training, each run
  here in-process (they are all refused before any work, so none can hang);
* property tests (hypothesis, derandomized): every public entry point is called
  with drawn bad and edge inputs — huge/tiny/negative/NaN/inf/subnormal floats,
  huge ints, bools, strings, wrong shapes, boolean and empty arrays — and must
  raise a ``ValueError``/``TypeError`` whose message names a parameter in
  backticks, or return a finite, valid result. Flags must refuse every
  non-boolean. ``COULOMBGAS_MAX_MEMORY`` is 2 GiB here, so oversized requests are
  refused quickly and deterministically;
* (slow) the harness's cases of the other modules, each in a fresh process with a
  time limit and a memory cap (tests/bad_input_harness.py).

``cg.compare`` and ``cg.sweep`` are checked for argument validation only: the
training loop and the Dask client are replaced by a sentinel, so an accepted
call stops at the first piece of work.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import re
import sys

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import coulombgas as cg
from coulombgas import spectra as sp
from coulombgas import theory as th
from coulombgas import training as tr

sys.path.insert(0, os.path.dirname(__file__))
import bad_input_harness as harness  # noqa: E402

BUDGET = str(2 * 2**30)
NAMED = re.compile(r"`[^`]+`")

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def _budget(monkeypatch):
    monkeypatch.setenv("COULOMBGAS_MAX_MEMORY", BUDGET)


class _Reached(Exception):
    """Raised where a call that passed validation would start its work."""


def clean_or_valid(call, *, refuse: bool = False):
    """Run ``call()``: a ValueError/TypeError naming a parameter in backticks, or a finite result.

    With ``refuse`` the call must raise (e.g. a flag given a string). Returns the
    result (None when refused).
    """
    try:
        with np.errstate(all="ignore"):
            result = call()
    except (ValueError, TypeError) as exc:
        assert NAMED.search(str(exc)), f"error names no parameter: {type(exc).__name__}: {exc}"
        return None
    except _Reached:
        assert not refuse, "a bad argument was accepted (the call reached its work)"
        return None
    assert not refuse, f"a bad argument was accepted, returning {type(result).__name__}"
    if isinstance(result, sp.GoodnessOfFit) and result.statistic == np.inf:
        assert result.method == "ad" and result.pvalue == 0.0  # documented: a sample with no mass
        return result
    assert harness.finite(result), f"result is not finite/valid: {result!r}"[:300]
    return result


# ----------------------------------------------------------------------------- value strategies

BAD_FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 5e-324, 1e-320, 1e-300, 1e-170, 1e200,
              1e300, 1.7e308, -1e300, True, False, "1", None, [1.0], np.float64(np.nan), 10**400]
floats_bad = st.one_of(st.sampled_from(BAD_FLOATS), st.floats(allow_nan=True, allow_infinity=True))
BAD_INTS = [0, -1, -10**12, 10**9, 10**12, 10**13, 10**30, 2.5, math.nan, True, "3", None, np.int64(-5),
            [2]]
ints_bad = st.sampled_from(BAD_INTS)
flags_bad = st.sampled_from(["no", "yes", "", "False", 0, 1, 1.0, [True], np.array([True]), None])
sizes = st.sampled_from([None, 0, 3, (2, 2), [3], -1, (2, -1), 10**12, (10**7, 10**7), 2.5, True, "3",
                         np.int64(4)])

SPECIAL_ARRAYS = [
    [], [1.0], [[0.0, 1.0], [2.0]], np.array([True, False, True]), [True, False, True],
    [math.nan, 1.0, 2.0], [math.inf, 1.0, 2.0], [1e308, -1e308, 0.0], [-1.7e308, 1.7e308, 1.7e308],
    [5e-324, 1e-320, 0.0, 1e-310], "abc", None, 3.0, np.zeros((2, 0)), np.ones((2, 3), complex),
    [[0.0, 1.0], [0.0, 1.0]], [0.0, 0.0, 0.0], np.arange(6.0).reshape(2, 3), [0.0, 1.0, 1e9],
    np.array(["1", "2"]), [1, 2, 3],
]
arrays = st.one_of(
    st.sampled_from(SPECIAL_ARRAYS),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=6),
               elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=8),
               elements=st.floats(-1e3, 1e3), unique=True),
)


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


# ----------------------------------------------------------------------------- the issue's cases here

H5_CASES = [c for c in harness.CASES if c[0] == "H5"]


@pytest.mark.parametrize("case", H5_CASES, ids=[c[2][:70] for c in H5_CASES])
def test_issue_case(case):
    """Each of the issue's calls in theory/spectra/training answered as expected, in-process."""
    _, expect, code, check = case
    outcome, message = harness.classify(expect, check, harness.evaluate(code, check))
    assert outcome in ("clean", "valid"), f"{outcome}: {message}"


# ----------------------------------------------------------------------------- theory

LAWS = {
    "semicircle": (th.semicircle, {"radius": 2.0}),
    "two_mode_spacing": (th.two_mode_spacing, {"sigma1": 0.6, "sigma2": 0.8}),
    "two_mode_density": (th.two_mode_density, {"sigma1": 0.7, "sigma2": 1.9, "loc": 0.0}),
    "marchenko_pastur": (th.marchenko_pastur, {"ratio": 0.5, "sigma": 1.0}),
    "wigner_surmise": (th.wigner_surmise, {"beta": 1}),
    "spacing": (th.spacing, {"beta": 2}),
    "gap_ratio": (th.gap_ratio, {"beta": 4}),
}
LAW_PARAMS = [(name, p) for name, (_, kw) in LAWS.items() for p in kw]


@pytest.mark.parametrize("law,param", LAW_PARAMS)
@SETTINGS
@given(value=floats_bad)
def test_theory_law_parameter(law, param, value):
    func, kwargs = LAWS[law]
    clean_or_valid(lambda: func(**{**kwargs, param: value}))


@pytest.mark.parametrize("law", ["semicircle", "two_mode_density", "marchenko_pastur", "wigner_surmise"])
@SETTINGS
@given(size=sizes, state=st.sampled_from([None, 0, 1, -1, 2**40, "x", 1.5, True, np.random.default_rng(0)]))
def test_theory_rvs(law, size, state):
    func, kwargs = LAWS[law]
    dist = func(**kwargs)
    out = clean_or_valid(lambda: dist.rvs(size=size, random_state=state))
    if out is not None and isinstance(size, (int, np.integer)) and not _is_bool(size):
        assert np.shape(out) == (int(size),)


@SETTINGS
@given(s1=st.floats(1e-150, 1e150), s2=st.floats(1e-150, 1e150),
       u=st.sampled_from([0.0, 0.5, 1.0, 5.0, 50.0, 1e3, 1e200]))
def test_two_mode_density_finite_in_its_range(s1, s2, u):
    """Anywhere in the documented range, pdf/logpdf/cdf are finite and the variance is normal."""
    law = th.two_mode_density(s1, s2)
    x = np.array([-u, u]) * max(s1, s2)
    assert np.all(np.isfinite(law.logpdf(x[np.isfinite(x)]))) or u == 1e200
    assert np.all(np.isfinite(law.pdf(x))) and np.all(law.pdf(x) >= 0)
    assert np.all((law.cdf(x) >= 0) & (law.cdf(x) <= 1))
    assert 0 < law.var() < np.inf


# ----------------------------------------------------------------------------- spectra

NORMAL = scipy.stats.norm()


def _density(x, mu, s):
    return scipy.stats.norm.pdf(x, mu, abs(s) + 1e-3)


SPECTRA_CALLS = {
    "spacings": lambda a, f: sp.spacings(a),
    "spacings-groups": lambda a, f: sp.spacings(a, groups=[(0, 1)]),
    "normalized_spacings": lambda a, f: sp.normalized_spacings(a),
    "normalized_spacings-separate": lambda a, f: sp.normalized_spacings(a, separate=True),
    "gap_ratios": lambda a, f: sp.gap_ratios(a),
    "unfold": lambda a, f: sp.unfold(a),
    "unfold-bandwidth": lambda a, f: sp.unfold([0.0, 1.0, 2.5, 3.0], bandwidth=f),
    "unfold-law": lambda a, f: sp.unfold(a, NORMAL),
    "number_variance": lambda a, f: sp.number_variance(a, [0.5]),
    "number_variance-L": lambda a, f: sp.number_variance(np.arange(50.0), a),
    "number_variance-bulk": lambda a, f: sp.number_variance(np.arange(50.0), [1.0], bulk=f),
    "number_variance-bulk-pair": lambda a, f: sp.number_variance(np.arange(50.0), [1.0], bulk=a),
    "histogram": lambda a, f: sp.histogram(a),
    "histogram-bins": lambda a, f: sp.histogram([0.0, 0.5, 1.0, 3.0], bins=a),
    "histogram-range": lambda a, f: sp.histogram([0.0, 0.5, 1.0, 3.0], bins=4, range=a),
    "histogram-weights": lambda a, f: sp.histogram([0.0, 0.5, 1.0, 3.0], bins=2, weights=a),
    "goodness_of_fit": lambda a, f: sp.goodness_of_fit(a, NORMAL),
    "goodness_of_fit-ad": lambda a, f: sp.goodness_of_fit(a, NORMAL, method="ad"),
    "jackknife": lambda a, f: sp.jackknife(np.mean, a),
    "fit_density": lambda a, f: sp.fit_density(a, _density, [0.0, 1.0]),
    "fit_density-p0": lambda a, f: sp.fit_density(np.arange(12.0).reshape(3, 4), _density, a),
    "fit_through_origin": lambda a, f: sp.fit_through_origin(a, a, 1.0),
    "fit_through_origin-yerr": lambda a, f: sp.fit_through_origin([1.0, 2.0, 3.0], [2.0, 4.1, 5.9], f),
    "fit_through_origin-yerr-array": lambda a, f: sp.fit_through_origin([1.0, 2.0], [2.0, 4.1], a),
}


@pytest.mark.parametrize("name", sorted(SPECTRA_CALLS))
@SETTINGS
@given(a=arrays, f=floats_bad)
def test_spectra(name, a, f):
    clean_or_valid(lambda: SPECTRA_CALLS[name](a, f))


@pytest.mark.parametrize("func,param", [(sp.spacings, "sort"), (sp.normalized_spacings, "sort"),
                                        (sp.normalized_spacings, "separate"), (sp.gap_ratios, "sort")])
@SETTINGS
@given(value=flags_bad)
def test_spectra_flags(func, param, value):
    clean_or_valid(lambda: func([0.0, 1.0, 3.0], **{param: value}), refuse=True)


@SETTINGS
@given(bins=st.sampled_from(["fd", "auto", "scott", "sturges", "nope", 10**12, 0, -3, 2.5, True, [1.0],
                             [2.0, 1.0], [0.0, math.nan], None]),
       outlier=st.sampled_from([1e3, 1e9, 1e15, 1e300]))
def test_histogram_bins_with_outlier(bins, outlier):
    data = np.r_[np.random.default_rng(0).standard_normal(200), outlier]
    clean_or_valid(lambda: sp.histogram(data, bins=bins))


# ----------------------------------------------------------------------------- training

SMALL = {"models": 2, "steps": 4, "record_every": 2}
MODELS = {
    "teacher_student": (tr.teacher_student, ["lr", "eps", "teacher", "init_std", "divergence_loss"],
                        ["batch_size", "models", "steps", "record_every", "epoch_batches"]),
    "hidden_layer_teacher_student": (tr.hidden_layer_teacher_student, ["lr", "init_std", "divergence_loss"],
                                     ["n", "batch_size", "models", "steps", "record_every", "epoch_batches",
                                      "z_seed"]),
    "gaussian_rbm": (tr.gaussian_rbm, ["lr", "mu2", "sigma_h", "m2", "init_std", "divergence_loss"],
                     ["n", "n_hidden", "batch_size", "models", "steps", "record_every"]),
    "phase_network": (tr.phase_network, ["lr", "sigma_w", "divergence_loss"],
                      ["batch_size", "models", "steps", "record_every", "n_in", "n_mid", "n_hidden",
                       "epoch_batches"]),
}
TRAIN_FLOAT = [(m, p) for m, (_, fl, _) in MODELS.items() for p in fl]
TRAIN_INT = [(m, p) for m, (_, _, it) in MODELS.items() for p in it]


def _train_tiny_with(model, param, value):
    """Train ``model`` at the tiny size with one parameter replaced: clean error or valid run."""
    func = MODELS[model][0]
    kwargs = dict(SMALL)
    if model != "gaussian_rbm":
        kwargs["epoch_batches"] = 4
    kwargs[param] = value
    clean_or_valid(lambda: func(**kwargs))


@pytest.mark.parametrize("model,param", TRAIN_FLOAT)
@settings(SETTINGS, max_examples=12)
@given(value=st.sampled_from(BAD_FLOATS))
def test_training_float_parameter(model, param, value):
    _train_tiny_with(model, param, value)


@pytest.mark.parametrize("model,param", TRAIN_INT)
@settings(SETTINGS, max_examples=12)
@given(value=ints_bad)
def test_training_int_parameter(model, param, value):
    _train_tiny_with(model, param, value)


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("param", ["progress", "resume", "record_weights"])
@settings(SETTINGS, max_examples=10)
@given(value=flags_bad)
def test_training_flags(model, param, value):
    if param == "progress" and value is None:
        return  # None is progress's documented default (a bar for long runs)
    func = MODELS[model][0]
    clean_or_valid(lambda: func(**SMALL, **{param: value}), refuse=True)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_training_resume_needs_out(model):
    with pytest.raises(ValueError, match="`resume`"):
        MODELS[model][0](**SMALL, resume=True)


# ----------------------------------------------------------------------------- gas, simulate, sample

G4 = cg.CoulombGas.gaussian(4)
Q = cg.potentials.Quadratic()


@pytest.mark.parametrize("ctor", ["gaussian-n", "gaussian-beta", "dyson-n", "dyson-beta", "from_sgd-lr",
                                  "from_sgd-batch_size", "from_sgd-g", "from_sgd-beta"])
@settings(SETTINGS, max_examples=15)
@given(f=st.sampled_from(BAD_FLOATS), i=ints_bad, a=arrays)
def test_coulomb_gas_constructors(ctor, f, i, a):
    calls = {
        "gaussian-n": lambda: cg.CoulombGas.gaussian(i),
        "gaussian-beta": lambda: cg.CoulombGas.gaussian(4, beta=f),
        "dyson-n": lambda: cg.CoulombGas.dyson(Q, i),
        "dyson-beta": lambda: cg.CoulombGas.dyson(Q, 4, beta=f),
        "from_sgd-lr": lambda: cg.CoulombGas.from_sgd(Q, [1.0, 2.0], lr=f, batch_size=16),
        "from_sgd-batch_size": lambda: cg.CoulombGas.from_sgd(Q, [1.0, 2.0], lr=0.1, batch_size=f),
        "from_sgd-g": lambda: cg.CoulombGas.from_sgd(Q, a, lr=0.1, batch_size=16),
        "from_sgd-beta": lambda: cg.CoulombGas.from_sgd(Q, [1.0, 2.0], lr=0.1, batch_size=16, beta=f),
    }
    clean_or_valid(calls[ctor])


SIM_FLOATS = [math.nan, math.inf, -1.0, 0.0, 5e-324, 1e-300, 1e300, True, "1", None]


@pytest.mark.parametrize("param", ["t_end", "dt", "replicas", "record_every", "x0", "scheme", "seed",
                                   "max_gap_factor", "max_refinements", "chunk_records"])
@settings(SETTINGS, max_examples=12)
@given(f=st.sampled_from(SIM_FLOATS), i=ints_bad, a=arrays)
def test_simulate(param, f, i, a):
    kwargs = {"t_end": 0.5, "dt": 0.1, "seed": 0}
    kwargs[param] = {"t_end": f, "dt": f, "max_gap_factor": f, "x0": a, "scheme": f}.get(param, i)
    result = clean_or_valid(lambda: cg.simulate(G4, **kwargs))
    if result is not None:  # a run always reaches t_end
        assert abs(result.t[-1] - kwargs["t_end"]) <= 1e-9 * max(1.0, kwargs["t_end"])


@pytest.mark.parametrize("param", ["progress", "resume", "fallback"])
@settings(SETTINGS, max_examples=10)
@given(value=flags_bad)
def test_simulate_flags(param, value):
    if param == "progress" and value is None:
        return
    clean_or_valid(lambda: cg.simulate(G4, 0.5, 0.1, seed=0, **{param: value}), refuse=True)


@pytest.mark.parametrize("param", ["n_samples", "chains", "warmup", "thin", "max_leapfrog", "method",
                                   "target_accept", "persistence", "x0"])
@settings(SETTINGS, max_examples=12)
@given(f=st.sampled_from(BAD_FLOATS), i=ints_bad, a=arrays)
def test_sample(param, f, i, a):
    kwargs = {"seed": 0, "method": "hmc"}
    n_samples = 20
    if param == "n_samples":
        n_samples = i
    elif param in ("target_accept", "persistence", "method"):
        kwargs[param] = f
    elif param == "x0":
        kwargs[param] = a
    else:
        kwargs[param] = i
    clean_or_valid(lambda: cg.sample(G4, n_samples, **kwargs))


@pytest.mark.parametrize("param", ["progress", "strict"])
@settings(SETTINGS, max_examples=10)
@given(value=flags_bad)
def test_sample_flags(param, value):
    if param == "progress" and value is None:
        return
    clean_or_valid(lambda: cg.sample(G4, 20, seed=0, **{param: value}), refuse=True)


# ----------------------------------------------------------------------------- compare, sweep (validation)

@pytest.fixture
def no_work(monkeypatch):
    """Replace the training loops and the Dask client by a sentinel: validation only."""
    def reached(*args, **kwargs):
        raise _Reached

    for mod in ("teacher_student", "hidden_layer", "rbm", "phase_network"):
        # the package attribute of that name is the model function: patch the module itself
        module = importlib.import_module(f"coulombgas.training.{mod}")
        monkeypatch.setattr(module, "run_ensemble", reached)
    monkeypatch.setattr(importlib.import_module("coulombgas.sweeps"), "_client", reached)
    yield


COMPARE_BAD = [("model", "nope"), ("model", 3), ("progress", "no"), ("force", "yes"), ("scan", "no"),
               ("level", 2.0), ("level", math.nan), ("seed", -1), ("seed", "x"), ("models", 10**12),
               ("models", 5), ("models", -1), ("lr", -1.0), ("batch_size", 0), ("steps", 10**13),
               ("nonsense", 1)]


@pytest.mark.parametrize("param,value", COMPARE_BAD, ids=[f"{p}={v!r}" for p, v in COMPARE_BAD])
def test_compare_refuses(no_work, param, value):
    clean_or_valid(lambda: cg.compare(**{param: value}), refuse=True)


SWEEP_BAD = [
    ("task", ("nope", {"seed": [1]}, {})),
    ("grid", ("simulate", "grid", {})),
    ("grid-empty", ("simulate", {"seed": []}, {"n": 4, "t_end": 1.0, "dt": 0.1})),
    ("workers", ("simulate", {"seed": [1]}, {"n": 4, "t_end": 1.0, "dt": 0.1}, {"workers": 0})),
    ("threads", ("simulate", {"seed": [1]}, {"n": 4, "t_end": 1.0, "dt": 0.1}, {"threads": -1})),
    ("progress", ("simulate", {"seed": [1]}, {"n": 4, "t_end": 1.0, "dt": 0.1}, {"progress": "no"})),
    ("dt", ("simulate", {"dt": [-1.0]}, {"n": 4, "t_end": 1.0})),
    ("models", ("train", {"models": [10**12]}, {"model": "teacher-student", "steps": 4, "record_every": 2})),
    ("unknown", ("simulate", {"nonsense": [1]}, {"n": 4, "t_end": 1.0, "dt": 0.1})),
]


@pytest.mark.parametrize("name,args", SWEEP_BAD, ids=[n for n, _ in SWEEP_BAD])
def test_sweep_refuses(no_work, name, args, tmp_path):
    task, grid, fixed, *extra = args
    kwargs = extra[0] if extra else {}
    clean_or_valid(lambda: cg.sweep(task, grid, fixed=fixed, out=tmp_path / "s", **kwargs), refuse=True)


# ----------------------------------------------------------------------------- other modules, in processes

OTHER_CASES = [c for c in harness.CASES if c[0] != "H5"]

# Runs every case that may return a result, one after the other in one process with the cases' memory
# cap and budget but no time limit, so that their kernels are compiled (or loaded) before any 20 s limit
# starts: a case's limit is for the case, not for compiling. With a cold Numba cache the n = 10**6
# simulate case compiles for ~25 s and was reported as a hang; warm it answers in ~3 s.
_WARM = r"""
import json, resource, sys
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
sys.path.insert(0, sys.argv[2])
from bad_input_harness import evaluate
for code, check in json.loads(sys.stdin.read()):
    evaluate(code, check)
"""


@pytest.fixture(scope="module")
def in_process_outcomes():
    """(outcome, message) of every case of OTHER_CASES, each in a fresh process (20 s, 4 GiB cap).

    Two processes at a time (the harness's own default, ``--jobs 2``) after one warm-up process.
    """
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    cap, budget = 4 * 2**30, 2 * 2**30
    here = os.path.dirname(os.path.abspath(__file__))
    warm = [(code, check) for _, expect, code, check in OTHER_CASES if expect in ("V", "*")]
    env = dict(os.environ, COULOMBGAS_MAX_MEMORY=str(budget), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONWARNINGS="ignore")
    try:
        subprocess.run([sys.executable, "-c", _WARM, str(cap), here], input=json.dumps(warm), text=True,
                       capture_output=True, timeout=900, env=env, cwd=here)
    except subprocess.TimeoutExpired:
        pass  # a case that hangs is reported as a hang by its own test below
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: harness.run_case(c, 20.0, cap, budget, sys.executable, None),
                                OTHER_CASES))
    return {tuple(c): (outcome, message) for c, outcome, message, _ in results}


@pytest.mark.slow
@pytest.mark.parametrize("case", OTHER_CASES, ids=[f"{c[0]}:{c[2][:60]}" for c in OTHER_CASES])
def test_issue_case_in_process(case, in_process_outcomes):
    """The harness's cases of the other modules, each in a fresh process (20 s, 4 GiB cap)."""
    outcome, message = in_process_outcomes[tuple(case)]
    assert outcome in ("clean", "valid"), f"{outcome}: {message}"


def test_harness_lists_the_issue_cases():
    """The harness covers every area with at least 80 cases."""
    owners = {c[0] for c in harness.CASES}
    assert len(harness.CASES) >= 80 and owners == {"H1", "H2", "H3", "H4", "H5"}
    assert functools.reduce(lambda a, c: a and c[1] in ("E", "V", "*"), harness.CASES, True)
