"""The worker compiles its workflow modules' bytecode once, so the sandbox, which
imports a workflow's module for every workflow it runs, does not compile the source
each time (`runtime.worker.cache_workflow_bytecode`)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from runtime.worker import WORKFLOW_MODULES, bytecode_is_fresh, cache_workflow_bytecode


def cached(source: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(source)))


def test_missing_or_stale_bytecode_is_compiled_and_fresh_bytecode_left(tmp_path: Path) -> None:
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text("VALUE = 1\n")
    second.write_text("VALUE = 2\n")
    assert not bytecode_is_fresh(first, cached(first))
    assert cache_workflow_bytecode(tmp_path) == 2
    assert bytecode_is_fresh(first, cached(first)) and bytecode_is_fresh(second, cached(second))
    assert cache_workflow_bytecode(tmp_path) == 0  # nothing stale

    first.write_text("VALUE = 3\n")
    later = first.stat().st_mtime + 5
    os.utime(first, (later, later))
    assert not bytecode_is_fresh(first, cached(first))
    assert cache_workflow_bytecode(tmp_path) == 1
    assert bytecode_is_fresh(first, cached(first)) and bytecode_is_fresh(second, cached(second))
    # What the importer itself makes of it: the new source's value, from the cache.
    spec = importlib.util.spec_from_file_location("first", first)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.VALUE == 3


def test_the_workers_own_workflow_modules_are_covered() -> None:
    cache_workflow_bytecode()
    modules = sorted(WORKFLOW_MODULES.glob("*.py"))
    assert any(path.name == "complaint.py" for path in modules)
    assert all(bytecode_is_fresh(path, cached(path)) for path in modules)
