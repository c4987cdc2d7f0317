"""Load doit's engine modules (control, dependency, runner, task) without its package ``__init__``.

``import doit.control`` first runs ``doit/__init__.py``, which imports doit's command-line layer
(``doit_cmd``, its plugin loader and ``importlib.metadata``): ~20 ms of every ``run``, ``status`` or
``why`` that orchastration never uses. ``install()`` registers the ``doit`` package with its
``__path__`` only, so its submodules import as usual; the first access to anything else on the
package (``doit.run``, ``doit.__version__``, ``from doit import get_var``) runs the real
``__init__`` then, so code that wants the whole package still gets it.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def install() -> None:
    """Register the light ``doit`` package unless doit is already imported (or not installed)."""
    if "doit" in sys.modules:
        return
    spec = importlib.util.find_spec("doit")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not installed as a regular package: let the normal import report it
    package = importlib.util.module_from_spec(spec)
    loading = False

    def complete(name: str) -> Any:
        nonlocal loading
        if loading:  # the real __init__ is running: its ``from doit import loader`` imports the submodule
            raise AttributeError(name)
        loading = True
        del package.__dict__["__getattr__"]
        assert spec.loader is not None
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules["doit"] = package
