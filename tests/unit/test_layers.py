"""The directions imports take: the domain imports no adapter, nothing imports the
worker's entry point, and the adapters do not reach back into what puts them together.
Only imports that run count; those under `if TYPE_CHECKING:` are for type hints."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["application", "activities", "cli", "domain", "privacy", "projections"]
PACKAGES += ["runtime", "store", "web", "workflows"]

# What each package may not import when it runs.
FORBIDDEN = {
    "domain": [
        "application",
        "privacy",
        "web",
        "cli",
        "workflows",
        "activities",
        "projections",
        "runtime",
        "store",
        "worker",
        "eventsourcing.postgres",
        "eventsourcing.sqlite",
        "psycopg",
        "sqlite3",
        "temporalio",
        "fastapi",
        "httpx",
    ],
    "privacy": ["application", "web", "cli", "workflows", "activities", "projections", "worker"],
    "application": ["web", "cli", "workflows", "activities", "projections", "worker"],
    "store": ["domain", "application", "privacy", "web", "cli", "workflows", "worker"],
}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_that_run(tree: ast.AST) -> Iterator[str]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        else:
            yield from imports_that_run(node)


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(package: str) -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules_of(package)
        for name in imports_that_run(ast.parse(path.read_text(encoding="utf-8")))
        if any(under(name, prefix) for prefix in FORBIDDEN[package])
    ]
    assert found == []


def test_nothing_imports_the_workers_entry_point() -> None:
    found = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in modules_of(package)
        for name in imports_that_run(ast.parse(path.read_text(encoding="utf-8")))
        if name == "worker"
    ]
    assert found == []


def test_the_check_sees_an_import_that_runs_and_passes_over_a_type_hint() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import privacy.keys\n"
        "if TYPE_CHECKING:\n    from application.service import Complaints\n"
        "def f():\n    from web.app import create_app\n"
    )
    assert list(imports_that_run(tree)) == ["typing", "privacy.keys", "web.app"]
