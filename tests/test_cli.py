"""The command line and the README: what a new user runs first."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from coulombgas.cli import main

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def test_readme_commands_use_the_real_entry_points():
    text = open(README).read()
    commands = re.findall(r"```bash\n(python3 -m venv .*?)\n```", text)
    assert len(commands) == 2
    assert commands[0].endswith("coulombgas compare teacher-student --out compare-out")
    assert commands[1].endswith('pip install -e ".[test]" && pytest')


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("theory", "simulate", "sample", "train", "compare", "bench"):
        assert name in out


def test_theory_command_writes_figure_and_summary(tmp_path):
    assert main(["theory", "--out", str(tmp_path)]) == 0
    assert os.path.getsize(tmp_path / "theory.png") > 10_000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["surmise_second_moment"]["1"] == pytest.approx(4 / 3.141592653589793, abs=1e-10)
    assert summary["exact_spacing_variance"]["2"] == pytest.approx(0.1799938777, abs=1e-9)


def test_simulate_command_two_modes(tmp_path):
    out = tmp_path / "run"
    code = main(["simulate", "--n", "2", "--width", "0.6,1.7", "--t-end", "12", "--dt", "2e-3",
                 "--replicas", "300", "--record-every", "500", "--seed", "3", "--out", str(out), "--quiet"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["density_check"]["law"].startswith("two-mode")
    # Records 1 time unit apart are nearly independent: the KS p-value is a fair check here.
    assert summary["density_check"]["ks_pvalue"] > 1e-3
    for name in summary["figures"] + [summary["trajectory"]]:
        assert os.path.getsize(out / name) > 0
    # Rerunning into the same directory refuses to overwrite the trajectory.
    assert main(["simulate", "--n", "2", "--t-end", "1", "--out", str(out), "--quiet"]) == 2


def test_sample_command_exact_and_hmc(tmp_path):
    out = tmp_path / "exact"
    assert main(["sample", "--n", "50", "--beta", "2", "--samples", "400", "--seed", "1", "--out", str(out),
                 "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "tridiagonal" and summary["samples"] == 400
    assert summary["density_check"]["law"].startswith("semicircle")
    for name in summary["figures"] + [summary["samples_file"]]:
        assert os.path.getsize(out / name) > 0
    out = tmp_path / "hmc"
    assert main(["sample", "--n", "3", "--potential", "quartic", "--samples", "400", "--warmup", "200",
                 "--seed", "1", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "hmc"
    assert summary["diagnostics"]["rhat"]["max"] < 1.1
    assert os.path.getsize(out / "trace.png") > 0


def test_train_command_writes_harvest_summary_figures_and_resumes(tmp_path):
    from coulombgas.training import Harvest

    out = tmp_path / "ts"
    argv = ["train", "teacher-student", "--models", "120", "--steps", "1500", "--record-every", "100",
            "--set", "eps=0.05", "--seed", "3", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["eps"] == 0.05 and summary["models_finite"] == 120
    assert summary["degenerate_pairs"] == [[0, 1]]
    assert summary["surmise_check"]["spacings"] == 120
    for name in summary["figures"]:
        assert os.path.getsize(out / name) > 0
    h = Harvest.load(out / "harvest.h5")
    assert h.eigenvalues.shape == (120, 16, 2)
    assert abs(summary["late_mean"][0] - h.late(0.5).mean(axis=(0, 1))[0]) < 1e-12
    assert main(argv) == 2  # the harvest exists: refuse to overwrite
    assert main(argv + ["--resume"]) == 0  # a finished run resumes to the same harvest
    np.testing.assert_array_equal(Harvest.load(out / "harvest.h5").eigenvalues, h.eigenvalues)


@pytest.mark.parametrize(
    "argv, word",
    [
        (["simulate", "--n", "1"], "n"),
        (["simulate", "--dt", "-1"], "dt"),
        (["simulate", "--beta", "0"], "beta"),
        (["simulate", "--width", "0,1", "--n", "2"], "width"),
        (["simulate", "--lr", "0.1"], "batch-size"),
        (["simulate", "--scheme", "rk4"], "scheme"),
        (["sample", "--samples", "0"], "--samples"),
        (["sample", "--potential", "quartic", "--method", "tridiagonal"], "tridiagonal"),
        (["train", "no-such-model"], "unknown model"),
        (["train", "teacher-student", "--lr", "-1"], "lr"),
        (["train", "teacher-student", "--batch-size", "0"], "--batch-size"),
        (["train", "teacher-student", "--set", "foo=1"], "foo"),
        (["train", "teacher-student", "--set", "eps"], "KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, word, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and word in err


def test_console_script_is_installed():
    # The installed `coulombgas` entry point, as a user would call it.
    exe = os.path.join(os.path.dirname(sys.executable), "coulombgas")
    res = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "coulombgas" in res.stdout


# ------------------------------------------------------------------ analyze and compare --run (recorded runs)

def _recorded_run(path, steps=30):
    torch = pytest.importorskip("torch")
    from coulombgas.training import TorchRecorder

    F = torch.nn.functional
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    rec = TorchRecorder(net, every=3, lr=0.05, batch_size=8, loss_fn=F.mse_loss, out=path)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(steps):
        x, y = torch.randn(8, 5), torch.randn(8, 3)
        rec.batch(x, y)
        loss = F.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.detach()
    return path


def test_analyze_command_prints_one_row_per_matrix(tmp_path, capsys):
    run = _recorded_run(tmp_path / "run.h5")
    out = tmp_path / "an"
    assert main(["analyze", str(run), "--out", str(out), "--no-gas", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "0.weight" in printed and "2.weight" in printed and "jitter" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert [r["matrix"] for r in summary["rows"]] == ["0.weight", "2.weight"]
    assert (out / "analysis.md").read_text().startswith("| matrix |")
    assert main(["analyze", str(run), "--matrix", "2.weight", "--out", str(tmp_path / "one"), "--no-gas",
                 "--quiet"]) == 0
    assert len(json.loads((tmp_path / "one" / "summary.json").read_text())["rows"]) == 1


def test_analyze_and_compare_run_refuse_bad_input(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "a")]) == 2
    assert "RUN" in capsys.readouterr().err and not (tmp_path / "a").exists()
    run = _recorded_run(tmp_path / "run.h5", steps=6)
    assert main(["analyze", str(run), "--matrix", "nope", "--out", str(tmp_path / "b")]) == 2
    assert "--matrix" in capsys.readouterr().err and not (tmp_path / "b").exists()
    assert main(["analyze", str(run), "--late", "0", "--out", str(tmp_path / "c")]) == 2
    assert main(["compare", "--out", str(tmp_path / "d")]) == 2
    assert "MODEL" in capsys.readouterr().err
    assert main(["compare", "teacher-student", "--run", str(run), "--out", str(tmp_path / "e")]) == 2
    assert "drop them" in capsys.readouterr().err
    assert main(["compare", "--run", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "f")]) == 2


def test_compare_run_writes_the_report_of_a_recording(tmp_path, capsys):
    run = _recorded_run(tmp_path / "run.h5")
    out = tmp_path / "rep"
    assert main(["compare", "--run", str(run), "--matrix", "2.weight", "--out", str(out), "--quiet"]) == 0
    assert "## 2.weight" in (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["matrices"]) == ["2.weight"]
    for name in summary["figures"]:
        assert os.path.getsize(out / name) > 0
