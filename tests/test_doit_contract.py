"""The doit adapter's contract: every private doit name it uses exists in the installed doit."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchastration.engine import doit_adapter


def test_every_private_doit_name_we_use_is_there() -> None:
    import doit

    missing = doit_adapter.missing_private_names()
    assert missing == [], f"doit {doit.__version__} moved names engine/doit_adapter.py uses: {', '.join(missing)}"


@pytest.mark.parametrize(("owner", "name"), [(o, n) for o, n in doit_adapter.PRIVATE_NAMES])
def test_a_moved_name_is_named(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> None:
    # What a doit release that renames one of them looks like: the contract names exactly that one.
    if name in vars(owner):
        monkeypatch.delattr(owner, name)
    else:  # an instance attribute, set in __init__: rename it there
        init = owner.__init__

        def renamed(self: object, *args: object, **kw: object) -> None:
            init(self, *args, **kw)
            object.__delattr__(self, name)

        monkeypatch.setattr(owner, "__init__", renamed)
    assert doit_adapter.missing_private_names() == [f"{owner.__module__}.{owner.__name__}.{name}"]


def test_doit_is_imported_only_by_the_adapter() -> None:
    import ast
    from pathlib import Path

    package = Path(doit_adapter.__file__).parents[2]
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "doit" or n.startswith("doit.") for n in names):
                importers.add(path.relative_to(package).as_posix())
    assert importers and all(p.startswith("engine/doit_adapter/") for p in importers), importers


LIGHT_RUNNER = """
import sys
from orchastration.engine.doit_adapter import for_units
import doit.runner
loaded = [m for m in ("multiprocessing", "cloudpickle", "pdb") if m in sys.modules]
import multiprocessing, pdb, doit.action
try:
    doit.action.pdb.Pdb()
    said = "started"
except RuntimeError as exc:
    said = "debugger" in str(exc)
print(loaded, doit.runner.MThreadRunner.Child is not doit.runner.Process, multiprocessing.cpu_count() > 0,
      callable(pdb.post_mortem), said)
"""


def test_doit_runner_loads_without_the_process_runner_modules() -> None:
    """``multiprocessing`` and ``cloudpickle`` (~9 ms) serve only doit's process runner and ``pdb``
    (~6 ms) only its ``--pdb``: they are not loaded by the adapter, a later import of ``multiprocessing``
    or ``pdb`` gets the real module, and doit's debugger, if it were ever asked for, says why it cannot."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", LIGHT_RUNNER], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True", "True", "True", "True"], done.stdout


@pytest.mark.parametrize("with_states", [True, False])
def test_a_unit_saved_without_a_doit_task_is_saved_as_with_one(tmp_path: Path, with_states: bool) -> None:
    # UnitGraph.save stands in for doit's Task (for_units._Done) until doit's tasks are made: doit's
    # Dependency.save_success must store exactly what it stores from the Task itself.
    from orchastration.engine.doit_adapter import FILE_STATES_KEY, UnitGraph, UnitTask
    from orchastration.engine.uptodate import HashCache, checker_class

    inputs = []
    for i in range(3):
        (tmp_path / f"in{i}").write_text(f"{i}\n")
        inputs.append(str(tmp_path / f"in{i}"))
    cache = HashCache("sha256")
    states = {p: cache.state(p) for p in inputs}
    values = {"run": "20261208T000000.000000Z", "sig": {"a": 1}, "outputs": {}, "deps": {}}
    if with_states:
        values[FILE_STATES_KEY] = dict(states)

    def saved(made_first: bool) -> dict[str, object]:
        spec = UnitTask("u", lambda: None, inputs, [str(tmp_path / "out")], [], lambda v: True)
        graph = UnitGraph([spec], tmp_path / f"db-{made_first}.sqlite3", checker_class(cache), lambda *a: [])
        if made_first:
            assert "u" in graph.tasks  # doit's Task made before the save
        graph.save("u", dict(values))
        got = dict(graph.dep.backend._cache["u"])
        graph.dep.close()
        return got

    assert saved(False) == saved(True)
