"""Parameter sweeps on a real local Dask cluster (two workers on loopback)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

import coulombgas as cg  # noqa: E402
from coulombgas.cli import main  # noqa: E402
from coulombgas.dynamics import Trajectory  # noqa: E402
from coulombgas.training import Harvest  # noqa: E402


def test_simulate_sweep_matches_direct_runs_and_reruns_skip(tmp_path):
    out = tmp_path / "sim"
    fixed = {"n": 6, "t_end": 0.5, "dt": 1e-3, "replicas": 8}
    table = cg.sweep("simulate", grid={"seed": [1, 2], "beta": [1.0, 2.0]}, fixed=fixed, out=out, progress=False)
    assert [row["status"] for row in table] == ["ok"] * 4
    assert [(row["seed"], row["beta"]) for row in table] == [(1, 1.0), (1, 2.0), (2, 1.0), (2, 2.0)]
    # Each point is the same computation as a direct call (same seed, bit for bit).
    traj = Trajectory.load(out / "point-0003" / "trajectory.npz")
    direct = cg.simulate(cg.CoulombGas.dyson(cg.potentials.Quadratic(0.0, 1.0), 6, beta=2.0), 0.5, 1e-3,
                         replicas=8, seed=2)
    np.testing.assert_array_equal(traj.x, direct.x)
    late = direct.x[:, direct.x.shape[1] // 2:]
    assert table[3]["late_mean"] == pytest.approx(float(late.mean()), rel=1e-12)
    assert os.path.getsize(out / "table.csv") > 0
    assert json.loads((out / "table.json").read_text()) == json.loads(json.dumps(table))
    # A rerun finds every point finished: no cluster is started, the table is the same.
    start = time.perf_counter()
    again = cg.sweep("simulate", grid={"seed": [1, 2], "beta": [1.0, 2.0]}, fixed=fixed, out=out, progress=False)
    assert time.perf_counter() - start < 5.0 and again == table


def test_train_sweep_records_a_failed_point_and_goes_on(tmp_path):
    out = tmp_path / "train"
    table = cg.sweep("train", grid={"lr": [0.1, 0.2]},
                     fixed={"model": "teacher-student", "models": 30, "steps": 200, "record_every": 50},
                     out=out, progress=False)
    assert [row["status"] for row in table] == ["ok", "ok"]
    h = Harvest.load(out / "point-0001" / "harvest.npz")
    assert h.lr == 0.2 and h.models == 30
    assert table[0]["models_finite"] == 30 and "mean_S" in table[0]
    # A point that fails only while running (no exact sampler for a quartic potential) is
    # recorded with its error, and the other points go on.
    table = cg.sweep("sample", grid={"potential": ["quartic", "quadratic"]},
                     fixed={"method": "tridiagonal", "n": 5, "n_samples": 100}, out=tmp_path / "fail",
                     progress=False)
    assert table[0]["status"] == "failed" and "tridiagonal" in table[0]["error"]
    assert table[1]["status"] == "ok"


def test_bad_grid_is_rejected_before_any_task(tmp_path):
    out = tmp_path / "bad"
    with pytest.raises(ValueError, match="dt"):
        cg.sweep("simulate", grid={"dt": [1e-3, -1.0]}, fixed={"n": 4}, out=out, progress=False)
    with pytest.raises(ValueError, match="lr"):
        cg.sweep("train", grid={"lr": [0.1, 0.0]}, fixed={"model": "teacher-student"}, out=out, progress=False)
    with pytest.raises(ValueError, match="eps"):
        cg.sweep("train", grid={"eps": [-1.0]}, fixed={"model": "teacher-student"}, out=out, progress=False)
    with pytest.raises(ValueError, match="bogus"):
        cg.sweep("simulate", grid={"bogus": [1]}, out=out, progress=False)
    with pytest.raises(ValueError, match="task"):
        cg.sweep("nope", grid={"seed": [1]}, out=out, progress=False)
    with pytest.raises(TypeError, match="grid"):
        cg.sweep("simulate", grid={"seed": 3}, out=out, progress=False)
    assert not out.exists()


def test_unreachable_scheduler_fails_fast(tmp_path):
    start = time.perf_counter()
    with pytest.raises(ValueError, match="scheduler"):
        cg.sweep("simulate", grid={"seed": [1]}, fixed={"n": 4, "t_end": 0.1}, scheduler="tcp://127.0.0.1:9",
                 out=tmp_path / "x", timeout=2.0, progress=False)
    assert time.perf_counter() - start < 15.0


def test_script_without_main_guard_gets_a_clear_error(tmp_path):
    # Spawned workers import the calling script; unguarded, each would start a cluster of its own.
    script = tmp_path / "unguarded.py"
    script.write_text("import coulombgas as cg\n"
                      "cg.sweep('simulate', grid={'seed': [1]}, fixed={'n': 4, 't_end': 0.01}, "
                      f"out={str(tmp_path / 'out')!r}, progress=False)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr.strip().splitlines()[-1]


def test_sweep_command(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["sweep", "sample", "--grid", "n=3,5", "--set", "n_samples=200", "--out", str(out),
                 "--quiet"]) == 0
    table = json.loads((out / "table.json").read_text())
    assert [row["n"] for row in table] == [3, 5] and all(row["status"] == "ok" for row in table)
    assert all(row["method"] == "tridiagonal" for row in table)
    assert main(["sweep", "simulate", "--grid", "dt=-1", "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dt" in err[0]


# ------------------------------------------------------------------ seeds, failures, sizes (issues 13 and 18)

_TINY = {"models": 4, "steps": 20, "record_every": 10}


def _direct_harvest(seed, lr=None):
    from coulombgas.training import teacher_student

    return teacher_student(seed=seed, progress=False, **_TINY, **({} if lr is None else {"lr": lr}))


def test_train_sweep_takes_its_seed_from_grid_or_fixed(tmp_path):
    # The seed used to be passed twice ("got multiple values for keyword argument 'seed'").
    table = cg.sweep("train", grid={"seed": [1, 2]}, fixed={"model": "teacher-student", **_TINY},
                     out=tmp_path / "grid", progress=False)
    assert [row["status"] for row in table] == ["ok", "ok"] and [row["seed"] for row in table] == [1, 2]
    h = Harvest.load(tmp_path / "grid" / "point-0001" / "harvest.npz")
    np.testing.assert_array_equal(h.eigenvalues, _direct_harvest(2).eigenvalues)
    table = cg.sweep("train", grid={"lr": [0.1]}, fixed={"model": "teacher-student", "seed": 2, **_TINY},
                     out=tmp_path / "fixed", progress=False)
    assert table[0]["status"] == "ok"
    h = Harvest.load(tmp_path / "fixed" / "point-0000" / "harvest.npz")
    np.testing.assert_array_equal(h.eigenvalues, _direct_harvest(2, lr=0.1).eigenvalues)


def test_readme_sweep_line_runs(tmp_path, capsys):
    import re
    import shlex

    readme = open(os.path.join(os.path.dirname(__file__), os.pardir, "README.md")).read()
    line = re.search(r"^coulombgas sweep train .*$", readme, re.M).group(0)
    assert line == "coulombgas sweep train --grid lr=0.05,0.1,0.2 --set model=teacher-student --out scan"
    argv = shlex.split(line)[1:]
    out = tmp_path / "scan"
    argv[argv.index("--out") + 1] = str(out)
    # The README's line at a tiny size, seeded from --seed: a real run of every point.
    tiny = [f"--set={k}={val}" for k, val in _TINY.items()]
    assert main(argv + tiny + ["--seed", "2", "--quiet"]) == 0
    table = json.loads((out / "table.json").read_text())
    assert [row["lr"] for row in table] == [0.05, 0.1, 0.2] and all(row["status"] == "ok" for row in table)
    assert all(row["seed"] == 2 for row in table)
    h = Harvest.load(out / "point-0001" / "harvest.npz")
    np.testing.assert_array_equal(h.eigenvalues, _direct_harvest(2, lr=0.1).eigenvalues)
    # A rerun into the same folder needs --resume (finished points are kept) or --force.
    assert main(argv + tiny + ["--seed", "2", "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(argv + tiny + ["--seed", "2", "--quiet", "--resume"]) == 0
    assert json.loads((out / "table.json").read_text()) == table


def test_failed_points_are_counted_warned_and_exit_1(tmp_path, capsys):
    # No exact sampler for a quartic potential: the point passes the checks and fails while running.
    bad = {"method": "tridiagonal", "n": 4, "n_samples": 10}
    with pytest.warns(cg.SweepWarning, match=r"1 of 1 sweep point\(s\) failed \(every point\)"):
        table = cg.sweep("sample", grid={"potential": ["quartic"]}, fixed=bad, out=tmp_path / "py", progress=False)
    assert table[0]["status"] == "failed"
    argv = ["sweep", "sample", "--grid", "potential=quartic,quadratic", "--out", str(tmp_path / "cli"), "--quiet"]
    argv += [f"--set={k}={val}" for k, val in bad.items()]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "1 of 2 point(s) failed" in err and "tridiagonal" in err


def test_absurd_sizes_are_refused_before_any_task(tmp_path):
    out = tmp_path / "huge"
    start = time.perf_counter()
    with pytest.raises(ValueError, match="models"):
        cg.sweep("train", grid={"models": [10, 10**12]}, fixed={"model": "teacher-student"}, out=out,
                 progress=False)
    with pytest.raises(ValueError, match="seed"):
        cg.sweep("train", grid={"seed": [1, -1]}, fixed={"model": "teacher-student"}, out=out, progress=False)
    with pytest.raises(TypeError, match="record_weights"):
        cg.sweep("train", grid={"record_weights": ["no"]}, fixed={"model": "teacher-student"}, out=out,
                 progress=False)
    with pytest.raises(TypeError, match="progress"):
        cg.sweep("simulate", grid={"seed": [1]}, out=out, progress="no")
    assert not out.exists()
    assert time.perf_counter() - start < 60.0  # a refusal, not an attempt (generous: a shared machine)
