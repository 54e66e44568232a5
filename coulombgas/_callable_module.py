"""Let a module be called as its main function (``cg.compare(...)``, ``cg.sweep(...)``).

``coulombgas.compare`` names both a submodule and the function users call. Once the
submodule is imported, Python binds the package attribute to the *module*, so
``cg.compare`` would stop being the function. Giving the module a class with
``__call__`` makes both spellings work whatever was imported first.
"""

from __future__ import annotations

import sys
import types


def make_callable(module_name: str, function_name: str) -> None:
    """Make ``sys.modules[module_name](...)`` call its ``function_name``."""
    module = sys.modules[module_name]

    class _CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(self, function_name)(*args, **kwargs)

    module.__class__ = _CallableModule
