"""docs/testing-flows.md's examples pass, and the pytest plugin stays cheap to load."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from flowc.testing import FlowHarness, plugin
from tests.testing.conftest import ROOT

DOC = (ROOT / "docs" / "testing-flows.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)
RUNNABLE = [b for b in BLOCKS
            if all((ROOT / f).exists() for f in re.findall(r'"([\w/]+\.flow)"', b))]


def test_every_example_of_the_page_that_names_a_repository_file_is_run() -> None:
    assert len(RUNNABLE) >= 2 and len(BLOCKS) - len(RUNNABLE) <= 1


def test_the_examples_on_the_page_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {}
    for block in RUNNABLE:  # in order: later blocks use the first one's imports
        exec(compile(block, "docs/testing-flows.md", "exec"), namespace)
    tests = {name: f for name, f in namespace.items() if name.startswith("test_")}
    assert len(tests) >= 4
    for test in tests.values():
        wanted = inspect.signature(test).parameters
        test(**({"flow_harness": FlowHarness()} if "flow_harness" in wanted else {}))


def test_the_plugin_imports_only_pytest_and_typing_when_pytest_loads_it() -> None:
    tree = ast.parse(Path(plugin.__file__).read_text(encoding="utf-8"))
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    modules = {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name
               for n in top_level}
    assert modules <= {"__future__", "typing", "pytest"}
