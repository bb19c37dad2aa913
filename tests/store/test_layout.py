"""The store's layout: each backend stands alone, and no module of the store imports itself back."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import delivrd.store

STORE = Path(delivrd.store.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every delivrd module `path` imports, at module level or inside a function (`from a import b` counts as
    `a.b` when that is a module, else as `a`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"{path}: a relative import"
            found.update(f"{node.module}.{a.name}" if _is_module(f"{node.module}.{a.name}") else node.module
                         for a in node.names)  # fmt: skip
    return {name for name in found if name.startswith("delivrd.")}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def store_modules() -> dict[str, Path]:
    modules = {}
    for path in STORE.rglob("*.py"):
        parts = path.relative_to(STORE.parent.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def test_no_import_cycles_in_the_store():
    modules = store_modules()
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in imported_modules(path) if m in modules and m != name}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            pytest.fail("import cycle: " + " → ".join([*trail[trail.index(name):], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


@pytest.mark.parametrize(
    ("package", "other", "driver"),
    [("sqlite", "postgres", "asyncpg"), ("postgres", "sqlite", "apsw")],
)
def test_a_backend_imports_neither_the_other_nor_its_driver(package, other, driver):
    for name, path in store_modules().items():
        if name.startswith(f"delivrd.store.{package}"):
            assert not {m for m in imported_modules(path) if m.startswith(f"delivrd.store.{other}")}, name
    code = f"import sys, delivrd.store.{package}.store; print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"'{driver}'" not in loaded and f"'delivrd.store.{other}" not in loaded
