"""Every shell line and Python block of README.md runs, at a tiny size; its report table is real.

The README's ```bash blocks are split into commands (lines, and the parts of a line joined by
``&&``). Creating or activating a virtual environment, ``pip install`` and ``pytest`` are the
environment's business and are skipped with that reason (``.ci/run`` runs them). Every other
command runs in a temporary directory exactly as documented, with the tiny-size arguments of
:data:`TINY` appended (argparse keeps the last value of a repeated option, so an appended
``--models 40`` replaces the documented ``--models 3000``). A command that :data:`TINY` does not
know fails the test: a new README line needs its tiny size here. The ```python block runs with
the textual substitutions of :data:`PYTHON_TINY`, each of which must match.

The slow test runs ``coulombgas compare teacher-student`` at its full default size, as a new
user does, and requires the README's table to be its output row for row. To print the table to
paste into the README::

    python tests/test_readme.py --print-table
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: Documented command (without its tiny-size arguments) -> arguments appended to run it tiny.
TINY = {
    "coulombgas compare teacher-student --out compare-out":
        "--models 40 --steps 500 --record-every 25 --quiet",
    "coulombgas simulate --n 2 --width 0.6,1.7 --t-end 20 --dt 2e-3 --replicas 500 --out two-mode":
        "--t-end 0.2 --replicas 20 --quiet",
    "coulombgas sample --n 200 --beta 2 --potential quartic --samples 2000 --out quartic":
        "--n 8 --samples 400 --quiet",
    "coulombgas train teacher-student --models 3000 --steps 5000 --set eps=0.1 --out ts":
        "--models 50 --steps 200 --quiet",
    "coulombgas compare hidden-layer --set Z=\"'random'\" --out hidden":
        "--models 40 --steps 500 --no-scan --quiet",
    "coulombgas sweep train --grid lr=0.05,0.1,0.2 --set model=teacher-student --out scan":
        "--set models=20 --set steps=100 --quiet",
    "coulombgas bench dynamics --out bench": "--quick",
    "coulombgas --help": "",
}

#: (documented text, tiny text) replacements in the README's Python block; each must occur.
PYTHON_TINY = [
    ("models=3000, steps=5000", "models=300, steps=500"),
    ("replicas=500, record_every=50", "replicas=50, record_every=50"),
    ("range(1000)", "range(100)"),
    ("dict(PAPER1, models=3000)", "dict(PAPER1, models=300, steps=500)"),
]

#: Commands that set up the environment rather than use coulombgas: skipped, with the reason.
_ENVIRONMENT = (
    (re.compile(r"^python3? -m venv\b"), "creates a virtual environment (.ci/run does)"),
    (re.compile(r"^\. \S+/activate$|^source \S+/activate$"), "activates a virtual environment"),
    (re.compile(r"^pip install\b"), "installs the package (.ci/run does, as the README says)"),
    (re.compile(r"^pytest\b"), "the test suite itself (.ci/run runs it)"),
)


def _blocks(language: str) -> list[str]:
    text = README.read_text()
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def readme_commands() -> list[str]:
    """Every command of the README's bash blocks, in order (``&&`` chains split)."""
    commands = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()  # trailing comments
            if line:
                commands += [part.strip() for part in line.split("&&")]
    return commands


def _skip_reason(command: str):
    for pattern, reason in _ENVIRONMENT:
        if pattern.search(command):
            return reason
    return None


def _env():
    env = dict(os.environ)
    bindir = os.path.dirname(sys.executable)  # the `coulombgas` script of this environment
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


def _run(command: str, cwd, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(command, tmp_path):
    reason = _skip_reason(command)
    if reason:
        pytest.skip(reason)
    assert command in TINY, f"README command {command!r} has no tiny size in tests/test_readme.py TINY"
    done = _run(f"{command} {TINY[command]}".strip(), tmp_path)
    assert done.returncode == 0, f"{command!r} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def test_every_tiny_size_is_a_readme_command():
    """TINY has no stale entries: each key is still a line of the README."""
    assert set(TINY) <= set(readme_commands())


def test_readme_python_block_runs(tmp_path):
    blocks = _blocks("python")
    assert blocks, "the README has no Python block"
    for block in blocks:
        code = block
        for documented, tiny in PYTHON_TINY:
            if documented in code:
                code = code.replace(documented, tiny)
        script = tmp_path / "readme_block.py"
        script.write_text(code)
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    used = [documented for documented, _ in PYTHON_TINY if any(documented in b for b in blocks)]
    assert used == [documented for documented, _ in PYTHON_TINY], "a PYTHON_TINY entry matches no README text"


# ------------------------------------------------------------------ the report table

_COMPARE = "coulombgas compare teacher-student --out compare-out"


def readme_table() -> list[str]:
    """The rows of the README's report table (from its `| check |` header to the first blank line)."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| check |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def run_table(directory) -> list[str]:
    """The table that the README's compare command prints at its full default size (seed 0)."""
    command = _COMPARE.replace("--out compare-out", f"--out {shlex.quote(str(directory))}")
    done = _run(command, ROOT, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{done.stderr[-3000:]}")
    return [line for line in done.stdout.splitlines() if line.startswith("|")]


@pytest.mark.slow
def test_readme_table_is_what_the_command_prints(tmp_path):
    assert _COMPARE in readme_commands()
    printed = run_table(tmp_path / "compare-out")
    assert printed == readme_table(), "\n".join(["README:"] + readme_table() + ["printed:"] + printed)


if __name__ == "__main__":
    if sys.argv[1:] != ["--print-table"]:
        sys.exit(textwrap.dedent("usage: python tests/test_readme.py --print-table"))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(run_table(Path(tmp) / "compare-out")))
