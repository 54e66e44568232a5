"""The house rules, checked by reading the package's source (nothing is imported).

Every import points down the data flow (imports inside functions and
``importlib.import_module("...")`` strings included): no cycles, no module
importing a module of a higher layer, no import of another module's underscore
name except from the private helper modules made for sharing, no module over
~800 lines. ``python tests/test_architecture.py`` prints every violation.
"""
from __future__ import annotations

import ast
import fnmatch
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "coulombgas"

#: Layers, lowest first. A module may import modules of its own or a lower layer only
#: (and, within a layer, never in a circle). A name matches its module or package prefix.
LAYERS = (
    # shared private helpers: presets, checks, seeds, status codes, kernels, storage
    ("_jit", "_validate", "_rng", "_status", "_prng", "_zeros", "_implicit", "_pairs", "_fmm", "_durable", "_h5layout", "store"),
    ("potentials", "forces", "theory", "spectra"),
    ("gas",),
    ("diagnostics", "samplers", "cuda", "_sde"),
    ("trajectory", "dynamics", "stationary", "fokker_planck"),
    ("training",),
    ("report", "sweeps", "plots"),
    # facades of old module names, the command line, benchmarks, the package itself
    ("io", "gpu", "mcmc", "tridiagonal", "cli", "bench", "__init__", "__main__"),
)
#: Longest module, in lines (docstrings included).
MAX_LINES = 800


def _modules():
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


def _layer(name: str) -> int:
    parts = name.split(".")[1:]  # drop "coulombgas"
    if not parts:
        return len(LAYERS) - 1
    head = parts[0]
    for i, layer in enumerate(LAYERS):
        if head in layer:
            return i
    return None


def _resolve(current: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imports(mods=None):
    """(importer, imported module, name or None, line) for every import of a package module."""
    mods = mods or _modules()
    found = []
    for name, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in mods:
                        found.append((name, a.name, None, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, is_package, node.module, node.level)
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    if sub in mods:  # `from . import spectra`: the submodule, not the package
                        found.append((name, sub, None, node.lineno))
                    elif target in mods:
                        found.append((name, target, a.name, node.lineno))
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
                  == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
                  and isinstance(node.args[0].value, str)):
                text = node.args[0].value
                level = len(text) - len(text.lstrip("."))
                target = _resolve(name, is_package, text.lstrip("."), level) if level else text
                if target in mods:
                    found.append((name, target, None, node.lineno))
    return found


def _cycles(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def _is_private_helper(module: str) -> bool:
    return module.split(".")[-1].startswith("_") and not module.endswith("__init__")


def violations():
    mods = _modules()
    found = imports(mods)
    edges = {}
    problems = []
    for importer, target, name, line in found:
        if importer == target:
            continue
        edges.setdefault(importer, set()).add(target)
        if None not in (_layer(target), _layer(importer)) and _layer(target) > _layer(importer):
            problems.append(f"upward import: {importer} (line {line}) imports {target}")
        private_name = name is not None and name.startswith("_") and not name.startswith("__")
        if private_name and not _is_private_helper(target):
            problems.append(f"private name: {importer} (line {line}) imports {target}.{name}")
    for comp in _cycles(edges):
        problems.append("import cycle: " + " -> ".join(comp))
    for name, path in mods.items():
        if _layer(name) is None:
            problems.append(f"no layer: {name} (add it to LAYERS in tests/test_architecture.py)")
        lines = path.read_text().count("\n")
        if lines > MAX_LINES:
            problems.append(f"too long: {name} has {lines} lines (> {MAX_LINES})")
    return problems


#: Modules whose tests live in a file named after another module (kernels tested through their caller).
COVERED_BY = {
    "_fmm": "test_forces.py", "_pairs": "test_forces.py", "_implicit": "test_dynamics_step_control.py",
    "_sde": "test_dynamics_step_control.py", "_zeros": "test_gas.py", "_rng": "test_reproducibility.py",
    "_validate": "test_bad_input.py", "cuda*": "test_gpu.py", "samplers*": "test_mcmc.py",
    "training": "test_training_registry.py",
    "training._loop": "test_training_teacher_student.py", "training._kernels": "test_training_teacher_student.py",
    "training.harvest": "test_training_torch_hook.py", "_h5layout": "test_kill.py",
}
#: Facades of older names, the package files and the benchmarks: no tests of their own.
NOT_MIRRORED = ("io", "gpu", "mcmc", "tridiagonal", "bench", "__main__")


def mirror_gaps(tests=None):
    """Modules with no test file: tests/test_<module path with _>.py, of its package, or COVERED_BY."""
    tests = pathlib.Path(__file__).resolve().parent if tests is None else tests
    have = {p.name for p in tests.glob("test_*.py")}
    gaps = []
    for name in _modules():
        parts = name.split(".")[1:]
        if not parts or parts[0] in NOT_MIRRORED:
            continue
        dotted = ".".join(parts)
        names = {"test_" + "_".join(p.lstrip("_") for p in parts) + ".py", "test_" + parts[0].lstrip("_") + ".py"}
        if parts[-1].startswith("_"):  # a private helper inside a package: its package's tests
            names.add("test_" + "_".join(p.lstrip("_") for p in parts[:-1]) + ".py")
        covered = {f for pattern, f in COVERED_BY.items() if fnmatch.fnmatchcase(dotted, pattern)}
        if not (names & have) and not (covered & have):
            gaps.append(dotted)
    return gaps


def test_tests_mirror_the_package():
    assert not mirror_gaps(), f"modules without a tests/test_<module>.py: {mirror_gaps()}"


def test_imports_point_down_without_cycles_or_private_names():
    problems = violations()
    assert not problems, "\n".join(problems)


def test_the_checker_sees_function_level_and_import_module_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "coulombgas"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "gas.py").write_text("def f():\n    from .dynamics import simulate\n")
    (pkg / "dynamics.py").write_text("import importlib\nfrom . import gas\n"
                                     "importlib.import_module('coulombgas.gas')\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    problems = violations()
    assert any(p.startswith("upward import: coulombgas.gas") for p in problems)
    assert any(p.startswith("import cycle") for p in problems)


if __name__ == "__main__":
    for p in violations():
        print(p)
    for m in mirror_gaps():
        print(f"no tests: coulombgas.{m}")
