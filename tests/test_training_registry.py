"""The model registry and its one parameter check (coulombgas.training.registry)."""

import ast
import importlib
import pathlib

import pytest

import coulombgas as cg
from coulombgas.training import registry

# The modules themselves: the package attributes of these names are the model functions.
teacher_student, hidden_layer, rbm, phase_network = (
    importlib.import_module(f"coulombgas.training.{m}") for m in ("teacher_student", "hidden_layer", "rbm",
                                                                  "phase_network"))

PACKAGE = pathlib.Path(cg.__file__).resolve().parent


def test_names_resolve_to_the_model_functions_and_modules():
    expected = {"teacher-student": (teacher_student, teacher_student.teacher_student),
                "hidden-layer": (hidden_layer, hidden_layer.hidden_layer_teacher_student),
                "rbm": (rbm, rbm.gaussian_rbm), "phase-network": (phase_network, phase_network.phase_network)}
    assert tuple(registry.MODELS) == tuple(expected)
    for name, (module, func) in expected.items():
        assert registry.get_model(name) is func
        assert registry.module_of(name) is module
        assert registry.cli_name(name) == name
        # the name a Harvest carries (the module's NAME) maps back to the command-line name
        assert registry.cli_name(getattr(module, "NAME", name)) == name
    assert registry.module_of("no-such-model") is None and registry.cli_name("mine") == "mine"
    # the package re-exports the registry's objects, not copies
    assert cg.training.MODELS is registry.MODELS and cg.training.check_params is registry.check_params


@pytest.mark.parametrize("name", ["nope", 3, ["rbm"], None])
def test_unknown_model_names_model(name):
    with pytest.raises(ValueError, match="`model` must be one of teacher-student"):
        registry.get_model(name)
    with pytest.raises(ValueError, match="`model`"):
        registry.check_params(name, {})


def test_check_params_returns_kwargs_without_seed_and_merges_defaults():
    func, module, kwargs, seed = registry.check_params("teacher-student", {"seed": 7, "lr": 0.05},
                                                       defaults={"models": 30, "lr": 0.2})
    assert func is teacher_student.teacher_student and module is teacher_student
    assert kwargs == {"models": 30, "lr": 0.05} and seed == 7  # params win over defaults; seed apart
    assert registry.check_params("rbm", {})[3] is None


@pytest.mark.parametrize("params, word, error", [
    ({"nonsense": 1}, "`nonsense` is not a parameter of model", ValueError),
    ({"out": "x"}, "`out` is not a parameter", ValueError),          # RESERVED: the caller sets it
    ({"progress": False}, "`progress` is not a parameter", ValueError),
    ({"seed": -1}, "`seed`", ValueError),
    ({"seed": 1.5}, "`seed`", TypeError),
    ({"models": 10**12}, "models", ValueError),                      # memory lower bound, before any work
    ({"steps": 0}, "`steps`", ValueError),
    ({"lr": -1.0}, "`lr`", ValueError),
    ({"eps": -1.0}, "`eps`", ValueError),                            # the model's own `validated`
])
def test_check_params_refuses_naming_the_parameter(params, word, error):
    with pytest.raises(error, match=word):
        registry.check_params("teacher-student", params)


def test_min_models_and_params_type():
    with pytest.raises(ValueError, match="`models` must be >= 20"):
        registry.check_params("teacher-student", {"models": 19}, min_models=20)
    assert registry.check_params("teacher-student", {"models": 20}, min_models=20)[2] == {"models": 20}
    with pytest.raises(TypeError, match="`params` must be a dict"):
        registry.check_params("teacher-student", [("models", 3)])


def test_no_model_module_imports_the_registry_or_the_package():
    """The registry sits above the models: a model importing it (or the package) would close a cycle."""
    for module in (teacher_student, hidden_layer, rbm, phase_network):
        tree = ast.parse(pathlib.Path(module.__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert node.module not in (None, "registry", "drift_noise"), (module.__name__, node.module)
    drift = ast.parse((PACKAGE / "training" / "drift_noise.py").read_text())
    froms = {(n.level, n.module) for n in ast.walk(drift) if isinstance(n, ast.ImportFrom)}
    assert (1, "registry") in froms and (1, None) not in froms  # the registry, never the package __init__


def test_protocol_options_are_parameters_checked_before_any_work():
    _, _, kwargs, _ = registry.check_params("teacher-student", {"data_seed": 3, "batch_order": "reshuffle",
                                                                "noise_draw": "per-step"})
    assert kwargs == {"data_seed": 3, "batch_order": "reshuffle", "noise_draw": "per-step"}
    for bad, name in (({"batch_order": "random"}, "batch_order"), ({"noise_draw": "x"}, "noise_draw"),
                      ({"data_seed": -2}, "data_seed")):
        with pytest.raises(ValueError, match=name):
            registry.check_params("teacher-student", bad)
