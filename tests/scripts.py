"""Load a repository script (``examples/*.py``, ``tools/*.py``) as a module, for tests that call its ``main``."""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_script(relative: str):
    """The module of the script at ``ROOT/relative`` (e.g. ``"examples/paper1_rbm.py"``), executed once."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
