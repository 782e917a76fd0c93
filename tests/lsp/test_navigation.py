"""Hover, go to definition and document symbols over LSP."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from examples import tasks
from tests.lsp.client import ROOT, LspClient, position_of

FLOWS = '''use "examples.tasks"

defaults {
    queue = "default"
    retries = 3
}

flow sub(n: int = 1) {
    generate_summary(n)
}

flow main(path: str = "x.csv") {
    rows = extract_record(path)
    analyze_chunk(rows, mode="deep") with priority = 7
    sub(2)
}

schedule nightly = cron "30 2 * * *" tz "UTC" -> main()
'''


def test_hover_on_a_task_shows_its_signature_docstring_and_options_in_force(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "hover.flow"
    server.open(path, FLOWS)
    hover = server.at("textDocument/hover", path, *position_of(FLOWS, "analyze_chunk", 2))
    text = hover["contents"]["value"]
    assert "examples.tasks.analyze_chunk(record: Any = None, mode: str = 'fast'" in text
    assert "Analyse a record (in a chain) or one numbered chunk" in text
    assert '`queue = "default"` (defaults)' in text
    assert "`retries = 3` (defaults)" in text
    assert "`priority = 7` (this step)" in text


def test_hover_shows_the_task_decorators_options_in_the_files_words(
        server: LspClient, tmp_path: Path) -> None:
    text = 'use "examples.tasks"\nflow f {\n    call_external_rate_limited_api({})\n}\n'
    path = tmp_path / "decorated.flow"
    server.open(path, text)
    hover = server.at("textDocument/hover", path, *position_of(text, "call_external"))
    assert '`rate_limit = "10/m"` (task decorator)' in hover["contents"]["value"]


def test_definition_of_a_task_is_its_python_function(server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "def_task.flow"
    server.open(path, FLOWS)
    location = server.at("textDocument/definition", path, *position_of(FLOWS, "extract_record"))
    _, line = inspect.getsourcelines(tasks.extract_record.run)
    assert location["uri"] == Path(inspect.getsourcefile(tasks.extract_record.run) or "").as_uri()
    assert location["range"]["start"]["line"] == line - 1


def test_definition_of_a_sub_flow_call_is_the_flows_name(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "def_flow.flow"
    server.open(path, FLOWS)
    location = server.at("textDocument/definition", path, *position_of(FLOWS, "sub(2)"))
    line, character = position_of(FLOWS, "sub(n")
    assert location["uri"] == path.as_uri()
    assert location["range"] == {"start": {"line": line, "character": character},
                                 "end": {"line": line, "character": character + 3}}


def test_definition_of_a_named_result_is_its_assignment(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "def_result.flow"
    server.open(path, FLOWS)
    location = server.at("textDocument/definition", path, *position_of(FLOWS, "rows, mode"))
    line, character = position_of(FLOWS, "rows = ")
    assert location["range"]["start"] == {"line": line, "character": character}


def test_document_symbols_list_flows_and_schedules_in_order(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "symbols.flow"
    server.open(path, FLOWS)
    symbols = server.request("textDocument/documentSymbol",
                             {"textDocument": {"uri": path.as_uri()}})
    assert [(s["name"], s["kind"]) for s in symbols] == [("sub", 12), ("main", 12),
                                                         ("nightly", 24)]
    assert symbols[2]["detail"] == 'cron "30 2 * * *" tz "UTC"'
    assert [c["name"] for c in symbols[1]["children"]] == ["path", "rows"]


def test_every_symbols_name_lies_inside_its_range_in_flow_and_yaml_examples(
        server: LspClient) -> None:
    def key(p: dict[str, int]) -> tuple[int, int]:
        return p["line"], p["character"]

    def inside(symbol: dict[str, Any]) -> bool:
        outer, name = symbol["range"], symbol["selectionRange"]
        return key(outer["start"]) <= key(name["start"]) <= key(name["end"]) <= key(
            outer["end"]) and all(inside(c) for c in symbol.get("children") or [])

    paths = sorted([*(ROOT / "examples").glob("*.flow"), *(ROOT / "examples").glob("*.yaml")])
    for path in paths:
        server.open(path, path.read_text(encoding="utf-8"))
        symbols = server.request("textDocument/documentSymbol",
                                 {"textDocument": {"uri": path.as_uri()}})
        assert symbols and all(inside(s) for s in symbols), path.name
