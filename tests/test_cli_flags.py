"""The command speaks flags: messages name flags, refused runs leave nothing, --force/--resume are uniform,
start-up imports nothing heavy, summaries are small, and `coulombgas.compare`/`sweep` stay callable."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from coulombgas.cli import MODEL_NAMES, main, speak_flags, write_summary

HEAVY = ("numba", "scipy", "matplotlib", "torch", "dask", "h5py")


def _loaded_after(code):
    """Names of the heavy modules loaded by ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:")
    return [m for m in last[len("loaded:"):].split(",") if m]


def test_start_up_imports_nothing_heavy():
    assert _loaded_after("import coulombgas.cli") == []
    assert _loaded_after("import coulombgas") == []
    help_code = ("from coulombgas.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
                 "for c in ('theory', 'simulate', 'sample', 'train', 'compare', 'sweep', 'bench'):\n"
                 "    try:\n        main([c, '--help'])\n    except SystemExit:\n        pass")
    assert _loaded_after(help_code) == []
    # The installed console script, as a user runs it.
    exe = os.path.join(os.path.dirname(sys.executable), "coulombgas")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "sweep" in done.stdout


def test_model_names_match_the_training_table():
    from coulombgas.training import MODELS

    assert tuple(MODELS) == MODEL_NAMES


def test_public_names_stay_after_lazy_import():
    code = ("import coulombgas as cg\nimport coulombgas.report\nimport coulombgas.sweeps\n"
            "from coulombgas import theory, spectra, training\n"
            "assert callable(cg.compare) and callable(cg.sweep)\n"
            "assert cg.compare.__name__ in ('compare', 'coulombgas.compare')\n"
            "assert hasattr(cg.theory, 'wigner_surmise') and hasattr(cg.spectra, 'normalized_spacings')\n"
            "assert cg.training is training and cg.CoulombGas.gaussian(3).n == 3\n"
            "assert callable(cg.simulate) and callable(cg.sample) and isinstance(cg.__version__, str)\n"
            "from coulombgas import compare, sweep\nassert callable(compare) and callable(sweep)\n"
            "try:\n    cg.compare('no-such-model')\nexcept ValueError as e:\n    assert 'no-such-model' in str(e)\n"
            "else:\n    raise AssertionError('cg.compare did not run')\nprint('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_compare_and_sweep_are_plain_functions_whatever_was_imported():
    # The modules that hold them have other names, so importing a submodule cannot rebind them.
    code = ("import types\nimport coulombgas.report, coulombgas.sweeps\nimport coulombgas as cg\n"
            "assert isinstance(cg.compare, types.FunctionType) and cg.compare is coulombgas.report.compare\n"
            "assert isinstance(cg.sweep, types.FunctionType) and cg.sweep is coulombgas.sweeps.sweep\n"
            "import importlib.util\nassert importlib.util.find_spec('coulombgas.compare') is None\n"
            "assert importlib.util.find_spec('coulombgas._callable_module') is None\nprint('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_importing_plots_leaves_the_backend_alone():
    code = ("import matplotlib\nmatplotlib.use('svg')\nimport coulombgas.plots, sys\n"
            "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "False"]


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["simulate", "--width", "1,2,3", "--n", "2"], "`--width`"),
        (["simulate", "--record-every", "0"], "`--record-every`"),
        (["simulate", "--t-end", "-1"], "`--t-end`"),
        (["simulate", "--force", "--resume"], "--force"),
        (["sample", "--samples", "0"], "`--samples`"),
        (["sample", "--method", "hmc", "--chains", "0"], "`--chains`"),
        (["sample", "--resume"], "--resume"),
        (["sample", "--potential", "quartic", "--method", "tridiagonal"], "--method"),
        (["train", "teacher-student", "--steps", "0"], "`--steps`"),
        (["train", "teacher-student", "--set", "eps=-1"], "`--set eps`"),
        (["train", "teacher-student", "--set", "seed=3"], "--seed"),
        (["train", "teacher-student", "--models", str(10**12)], "`--models`"),
        (["train", "teacher-student", "--resume"], "--resume"),
        (["compare", "teacher-student", "--models", "5"], "`--models`"),
        (["compare", "teacher-student", "--resume"], "--resume"),
        (["theory", "--resume"], "--resume"),
        (["sweep", "simulate", "--grid", "dt=-1"], "dt"),
        (["sweep", "train", "--grid", "lr=0.1", "--set", "model=teacher-student", "--set", f"models={10**12}"],
         "models"),
        (["sweep", "train", "--grid", "seed=1,2", "--seed", "3", "--set", "model=teacher-student"], "--seed"),
        (["sweep", "simulate", "--grid", "n=3", "--workers", "0"], "`--workers`"),
        (["bench", "sweep", "--resume"], "--resume"),
    ],
)
def test_refused_runs_name_the_flag_and_leave_nothing(argv, flag, tmp_path, capsys):
    out = tmp_path / "never"
    assert main(argv + ["--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err, err
    # No Python spellings of the flags (a sweep's parameters are the names typed in --grid/--set).
    python_names = ("pass force", "resume=", "force=") + (() if argv[0] == "sweep" else
                                                          ("`n_samples`", "`record_every`", "`t_end`"))
    for python_name in python_names:
        assert python_name not in err
    assert not out.exists()


@pytest.mark.parametrize("argv", [["theory", "--seed", "1"], ["bench", "sweep", "--seed", "1"]])
def test_options_that_would_do_nothing_are_refused(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--out", str(tmp_path / "x")])
    assert exc.value.code == 2 and "--seed" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv, flag", [
    (["simulate", "--g-quartic", "2"], "--g-quartic"),          # quadratic is the default potential
    (["simulate", "--potential", "quartic", "--width", "2"], "--width"),
    (["sample", "--potential", "laguerre", "--center", "1"], "--center"),
    (["simulate", "--noise-g", "2"], "--noise-g"),              # only the SGD form has noise g_i
    (["sample", "--chains", "3"], "--chains"),                   # the exact sampler has no chains
    (["sample", "--method", "tridiagonal", "--warmup", "10"], "--warmup"),
])
def test_flags_that_would_be_ignored_are_refused(argv, flag, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err and "nothing" in err, err
    assert not (tmp_path / "x").exists()


def test_speak_flags_translates_python_names():
    flags = {"force": "--force", "resume": "--resume", "n_samples": "--samples", "method": "--method"}
    assert speak_flags("`out` exists; pass force", flags) == "`out` exists; pass --force"
    assert speak_flags("`resume`=True needs a file", flags) == "--resume needs a file"
    assert speak_flags("got resume=False", flags) == "got no --resume"
    assert speak_flags("`n_samples` must be >= 1", flags) == "`--samples` must be >= 1"
    assert speak_flags("use method='hmc'", flags) == "use --method hmc"
    assert speak_flags("`eps` must be >= 0", flags, ("eps",)) == "`--set eps` must be >= 0"
    assert speak_flags("`other` stays\nand one line", flags) == "`other` stays and one line"


def test_force_and_resume_are_the_same_everywhere(tmp_path, capsys):
    out = tmp_path / "theory"
    assert main(["theory", "--out", str(out)]) == 0
    first = (out / "summary.json").read_text()
    (out / "stale.txt").write_text("old")
    assert main(["theory", "--out", str(out)]) == 2  # not empty: refused, nothing touched
    assert "--force" in capsys.readouterr().err and (out / "stale.txt").exists()
    assert main(["theory", "--out", str(out), "--force"]) == 0  # replaced whole
    assert not (out / "stale.txt").exists() and (out / "summary.json").read_text() == first
    # simulate: refused, then resumed (the finished run resumes to the same trajectory), then replaced.
    sim = tmp_path / "sim"
    argv = ["simulate", "--n", "3", "--t-end", "0.05", "--dt", "1e-3", "--replicas", "2", "--seed", "4",
            "--out", str(sim), "--quiet"]
    assert main(argv) == 0
    import h5py

    with h5py.File(sim / "trajectory.h5") as fh:
        x = fh["x"][...]
    assert main(argv) == 2
    assert main(argv + ["--resume"]) == 0
    with h5py.File(sim / "trajectory.h5") as fh:
        np.testing.assert_array_equal(fh["x"][...], x)
    (sim / "stale.txt").write_text("old")
    assert main(argv + ["--force"]) == 0  # started over: same seed, same bits, old files gone
    assert not (sim / "stale.txt").exists()
    with h5py.File(sim / "trajectory.h5") as fh:
        np.testing.assert_array_equal(fh["x"][...], x)
    # --force never deletes the working directory.
    cwd = os.getcwd()
    try:
        os.chdir(out)
        assert main(["theory", "--out", ".", "--force"]) == 2
    finally:
        os.chdir(cwd)
    assert (out / "summary.json").exists()


def test_sample_summary_is_small_with_one_schema(tmp_path):
    out = tmp_path / "hmc"
    assert main(["sample", "--n", "80", "--potential", "quartic", "--samples", "40", "--warmup", "60", "--chains",
                 "2", "--method", "hmc", "--seed", "1", "--out", str(out), "--quiet"]) == 0
    size = os.path.getsize(out / "summary.json")
    assert size < 20_000, size  # the 80 x 80 metric is not in it
    summary = json.loads((out / "summary.json").read_text())
    for key, value in summary["diagnostics"].items():
        assert not (isinstance(value, list) and len(value) > 64), key
    metric = summary["diagnostics"]["inverse_metric"]  # the n x n HMC metric: a reference, not 6,400 numbers
    assert metric["shape"] == [80, 80]
    with np.load(out / metric["file"]) as arrays:
        assert arrays[metric["key"]].shape == (80, 80)


def test_write_summary_moves_large_arrays(tmp_path):
    big = np.arange(65.0)
    path = write_summary(str(tmp_path), {"a": np.arange(64.0), "nested": {"b": big}, "ids": list(range(100)),
                                         "x": 1.5, "name": "s"})
    summary = json.loads(open(path).read())
    assert summary["a"] == list(np.arange(64.0)) and summary["x"] == 1.5 and summary["name"] == "s"
    assert summary["nested"]["b"] == {"npz": "arrays.npz", "key": "nested.b", "shape": [65]}
    with np.load(tmp_path / "arrays.npz") as arrays:
        np.testing.assert_array_equal(arrays["nested.b"], big)
        np.testing.assert_array_equal(arrays["ids"], np.arange(100))
