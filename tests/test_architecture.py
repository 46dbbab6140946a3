"""The package's shape: exports, the scalar compiler's coverage, an acyclic import graph, typed calls."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ALL_SCHEDULES, IDS, STEPS

import lrsched as L
from lrsched._core.codegen import compile_scalar

ROOT = Path(__file__).resolve().parents[1]
# Module files of the installed package: lrsched/ (without the worktree's adapters link) and adapters/.
PACKAGE_DIRS = {"lrsched": ROOT / "lrsched", "lrsched.adapters": ROOT / "adapters"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            if rel.parts[0] == "adapters" and package == "lrsched":
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> set[str]:
    """Every lrsched module ``module`` imports, at any level (TYPE_CHECKING blocks and functions included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            # ``from pkg import sub`` imports the module pkg.sub; ``from pkg import name`` imports pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in MODULES and t != module)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _cycle(nodes: set[str]) -> list[str] | None:
    """One import circle among ``nodes`` (edges into packages' own ``__init__`` from their children ignored)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m] & nodes):
            if m.startswith(n + "."):  # a child importing its own package: Python loads the package first
                continue
            if state.get(n) == 1:
                return [*stack[stack.index(n) :], n]
            if n not in state and (found := visit(n)) is not None:
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(nodes):
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def _within(*prefixes: str) -> set[str]:
    return {m for m in MODULES if any(m == p or m.startswith(p + ".") for p in prefixes)}


def test_the_import_graph_sees_the_known_edges() -> None:
    # The scanner itself: a TYPE_CHECKING-free module-level import and a function-level import.
    assert "lrsched._core.backend" in GRAPH["lrsched._core.schedule"]
    assert "lrsched._core.schedule" in GRAPH["lrsched._core.markers"]
    assert _cycle({"lrsched._core.schedule", "lrsched._core.backend"}) is None


def test_core_and_schedules_have_no_import_circle() -> None:
    assert _cycle(_within("lrsched._core", "lrsched.schedules")) is None


def test_the_whole_package_has_no_import_circle() -> None:
    assert _cycle(set(MODULES)) is None


def _name_checks(path: Path) -> list[int]:
    """Lines comparing some ``.name`` with a backend's name (``xp.name == "jax"``)."""
    backends = {"python", "numpy", "jax", "torch", "keras"}
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr == "name":
            values = [c.value for c in node.comparators if isinstance(c, ast.Constant)]
            if backends & set(values):
                lines.append(node.lineno)
    return lines


def test_no_backend_name_checks_outside_the_backend_module() -> None:
    found = {m: _name_checks(path) for m, path in sorted(MODULES.items()) if m != "lrsched._core.backend"}
    assert {m: lines for m, lines in found.items() if lines} == {}


@pytest.mark.parametrize("sched", ALL_SCHEDULES, ids=IDS)
def test_every_catalogued_schedule_compiles_to_the_scalar_path(sched: L.Schedule) -> None:
    fast = compile_scalar(sched._eval)
    assert fast is not None, f"{sched.name}: the scalar compiler could not trace the formula"
    from lrsched._core.backend import PYTHON

    for x in STEPS:
        assert fast(float(x)) == float(sched._eval(float(x), PYTHON))


def test_every_registered_schedule_is_exported_by_lrsched() -> None:
    # Its class, and the factory of its registered name unless it is built by an operator (``sum``: ``a + b``);
    # a factory is the class or its flattening constructor (``minimum`` is ``Minimum.of``).
    operators = {"sum", "product"}
    for name, cls in L.registry().items():
        assert cls.__name__ in L.__all__ and getattr(L, cls.__name__) is cls, name
        if name not in operators:
            factory = getattr(L, name)
            assert name in L.__all__ and (factory is cls or getattr(factory, "__self__", None) is cls), name


def test_structural_fields_are_declared_at_registration() -> None:
    with pytest.raises(TypeError, match="unknown fields"):
        from lrsched._core.schedule import Schedule, register

        @register("_bad_structural", structural={"nope": bool})
        class Bad(Schedule):
            x: float


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_call_is_typed_per_step_type() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(ROOT / "tests" / "typing_check.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout[-3000:]


def test_every_package_is_installed_by_pyproject() -> None:
    """A wheel holds only the packages ``[tool.setuptools] packages`` names: each folder of lrsched/ must be there."""
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "lrsched" + "".join("." + part for part in init.parent.relative_to(root / "lrsched").parts)
        for init in (root / "lrsched").rglob("__init__.py")
        if "adapters" not in init.parent.relative_to(root / "lrsched").parts
    }
    found |= {
        "lrsched.adapters" + "".join("." + part for part in init.parent.relative_to(root / "adapters").parts)
        for init in (root / "adapters").rglob("__init__.py")
    }
    assert found == listed


# -- each shared rule of the controllers is written once (issue: one protocol) --------------------------------------
def _source(pattern: str) -> list[str]:
    import re

    regex = re.compile(pattern)
    return [
        f"{module}:{i}"
        for module, path in MODULES.items()
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if regex.search(line)
    ]


def test_adapters_read_declared_controller_members_instead_of_guessing() -> None:
    assert _source(r'getattr\([a-z_.]+, "(init_lr|groups)"') == []


def test_a_state_is_cast_in_one_place() -> None:
    assert [m.split(":")[0] for m in _source(r"def (_cast|cast_state)\b")] == ["lrsched.controllers.state"]


def test_the_unknown_key_message_is_worded_once() -> None:
    assert [m.split(":")[0] for m in _source(r"unknown key\(s\)")] == ["lrsched._core.config"]


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_no_private_name_is_imported_across_subpackages() -> None:
    """``from lrsched.x.y import _name`` only within the subpackage ``lrsched.x`` (the core's private helpers, the
    controllers' compiler...): another layer uses what the module makes public."""
    crossing = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lrsched"):
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
                if private and _subpackage(node.module) != _subpackage(module):
                    crossing.append(f"{module} imports {private} from {node.module}")
    assert crossing == []


def test_moved_modules_keep_their_import_paths() -> None:
    code = (
        "import lrsched.plotting, lrsched.range_test, lrsched.record, lrsched.search, sys\n"
        "from lrsched.range_test import lr_range_test\nfrom lrsched.record import Trace\n"
        "assert lrsched.record.Trace is Trace and lrsched.search is sys.modules['lrsched.tools.search']\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    code = "import sys, lrsched\nassert not {'matplotlib', 'jax', 'torch'} & set(sys.modules), sys.modules.keys()"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
