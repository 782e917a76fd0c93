"""The architecture holds: layers point one way, only the Redis adapter imports redis, no import
cycles, and the bottom layer stays light (docs/contributing.md, docs/architecture.md).

The import graph is read with grimp (import-linter's engine) from ``typings/``, where
``typings/flowc`` lays the package out whole (the sources sit in top-level folders that the
editable install maps onto ``flowc.*``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TYPINGS = ROOT / "typings"

CYCLES_SCRIPT = """
import json, grimp, networkx as nx
graph = grimp.build_graph("flowc", cache_dir=None, exclude_type_checking_imports=True)
edges = nx.DiGraph()
for importer in graph.modules:
    for imported in graph.find_modules_directly_imported_by(importer):
        if imported.startswith("flowc") and not importer.startswith(imported + "."):
            edges.add_edge(importer, imported)
cycles = [sorted(c) for c in nx.strongly_connected_components(edges) if len(c) > 1]
print(json.dumps(sorted(cycles)))
"""


def in_typings(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``flowc`` resolved to the whole-package tree in ``typings/``."""
    env = {**os.environ, "PYTHONPATH": str(TYPINGS)}
    return subprocess.run(argv, cwd=TYPINGS, env=env, capture_output=True, text=True, timeout=60)


def modules_loaded_by(statement: str) -> set[str]:
    """The modules a fresh interpreter loads to run ``statement`` (not those of its start-up)."""
    code = (f"import sys, json\nbefore = set(sys.modules)\n{statement}\n"
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60)
    return set(json.loads(out.stdout))


def third_party(modules: set[str]) -> set[str]:
    return {m for m in modules
            if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "flowc"}


def test_the_import_contracts_in_pyproject_hold() -> None:
    pytest.importorskip("importlinter", reason="import-linter is in the dev extra")
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).with_name(
        "lint-imports"))
    result = in_typings([lint_imports, "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_imports_itself_through_a_cycle() -> None:
    # A lower module that needs something of a higher one receives it (an argument, or a hook
    # the higher module installs when it loads: runtime.current's default-app factory,
    # canvas.signature's | rules and rebuilders); a function-level import does not count as
    # a way out, grimp sees those too.
    pytest.importorskip("grimp", reason="grimp comes with import-linter, in the dev extra")
    result = in_typings([sys.executable, "-c", CYCLES_SCRIPT])
    assert result.returncode == 0, result.stderr
    cycles = json.loads(result.stdout)
    assert cycles == [], f"import cycles: {cycles}"


def test_the_base_layer_modules_import_only_the_standard_library() -> None:
    loaded = modules_loaded_by("import flowc.dsl.errors, flowc.dsl.gc_pause, flowc.dsl.cron, "
                               "flowc.dsl.diagnostics")
    assert third_party(loaded) == set()
    assert {m for m in loaded if m.startswith("flowc.")} <= {
        "flowc._pools",  # the facade's first import: -P gevent's patching, stdlib unless gevent
        "flowc.dsl", "flowc.dsl.errors", "flowc.dsl.gc_pause", "flowc.dsl.cron",
        "flowc.dsl.diagnostics", "flowc.dsl.ast"}


def test_importing_a_lower_layer_does_not_load_the_facade() -> None:
    loaded = modules_loaded_by("import flowc.runtime.states")
    assert "flowc.runtime.app" not in loaded
    assert "pydantic" not in loaded
    assert third_party(loaded) == set()


def test_the_facade_still_offers_every_public_name() -> None:
    loaded = modules_loaded_by(
        "import flowc\nassert all(getattr(flowc, n) is not None for n in flowc.__all__)\n"
        "assert flowc.Celery is flowc.App and flowc.subtask is flowc.signature")
    assert "flowc.runtime.app" in loaded
