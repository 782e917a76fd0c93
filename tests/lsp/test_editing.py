"""Completion, rename, formatting and did-you-mean quick fixes over LSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowc.dsl.formatter import format_module
from flowc.dsl.parser import parse

from tests.lsp.client import LspClient, LspError, position_of

FLOW = '''use "examples.tasks"

flow helper {
    generate_summary(1)
}

flow main(path: str = "x.csv") {
    rows = extract_record(path)
    fast = analyze_chunk(rows, mode="fast")
    generate_summary([rows, fast])
    helper()
}
'''


def labels(result: dict[str, Any]) -> set[str]:
    return {item["label"] for item in result["items"]}


def apply(text: str, edits: list[dict[str, Any]]) -> str:
    """``text`` with LSP text edits applied (ASCII text: characters are code units)."""
    lines = text.split("\n")

    def offset(p: dict[str, int]) -> int:
        return sum(len(line) + 1 for line in lines[: p["line"]]) + p["character"]

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:start] + edit["newText"] + text[end:]
    return text


def test_completion_in_a_flow_body_offers_tasks_flows_names_and_keywords(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "complete_body.flow"
    server.open(path, FLOW)
    edited = FLOW.replace("    helper()\n", "    helper()\n    ge\n")
    server.change(path, 2, edited)
    line, character = position_of(edited, "    ge\n", 6)
    got = labels(server.at("textDocument/completion", path, line, character))
    assert {"generate_summary", "extract_record", "helper", "rows", "path", "map"} <= got
    assert "main" not in got  # a flow does not call itself


def test_completion_inside_a_call_offers_its_parameter_names(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "complete_args.flow"
    server.open(path, FLOW)
    text = FLOW.replace('mode="fast")', "mo")
    server.change(path, 2, text)
    line, character = position_of(text, "rows, mo", 8)
    got = labels(server.at("textDocument/completion", path, line, character))
    assert {"record=", "mode=", "chunk_id=", "rows", "path"} <= got


def test_completion_in_a_file_that_never_parsed_offers_the_used_modules_tasks(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "complete_unparsed.flow"
    text = 'use "examples.tasks"\nflow f {\n    ex\n'
    server.open(path, text)
    got = labels(server.at("textDocument/completion", path, 2, 6))
    assert {"extract_record", "analyze_chunk"} <= got


def test_completion_after_with_offers_option_names(server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "complete_options.flow"
    text = FLOW.replace("    helper()\n", "    helper() with re\n")
    server.open(path, text)
    line, character = position_of(text, "with re", 7)
    got = labels(server.at("textDocument/completion", path, line, character))
    assert {"retries", "queue", "backoff", "timeout", "on_error"} <= got
    assert "extract_record" not in got


def test_completion_after_an_option_offers_its_values(server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "complete_values.flow"
    text = FLOW.replace("    helper()\n", "    helper() with backoff = \n")
    server.open(path, text)
    line, character = position_of(text, "backoff = ", 10)
    got = labels(server.at("textDocument/completion", path, line, character))
    assert got == {"exponential(1s, max=60s)", "fixed(10s)"}


def test_completion_at_the_top_level_offers_top_level_keywords(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "complete_top.flow"
    text = FLOW + "\n"
    server.open(path, text)
    got = labels(server.at("textDocument/completion", path, text.count("\n"), 0))
    assert got == {"use", "defaults", "flow", "schedule"}


def test_rename_of_a_named_result_changes_its_assignment_and_every_use(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "rename_result.flow"
    server.open(path, FLOW)
    edit = server.at("textDocument/rename", path, *position_of(FLOW, "rows, mode"),
                     newName="record")
    renamed = apply(FLOW, edit["changes"][path.as_uri()])
    assert renamed == FLOW.replace("rows", "record")


def test_rename_of_a_flow_changes_its_definition_and_every_call(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "rename_flow.flow"
    server.open(path, FLOW)
    edit = server.at("textDocument/rename", path, *position_of(FLOW, "helper {"),
                     newName="summarise")
    assert apply(FLOW, edit["changes"][path.as_uri()]) == FLOW.replace("helper", "summarise")


def test_rename_from_a_sub_flow_call_renames_the_flow(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "rename_from_call.flow"
    server.open(path, FLOW)
    edit = server.at("textDocument/rename", path, *position_of(FLOW, "helper()"),
                     newName="summarise")
    assert apply(FLOW, edit["changes"][path.as_uri()]) == FLOW.replace("helper", "summarise")


def test_rename_of_a_result_leaves_a_loop_variable_of_the_same_name_alone(
        server: LspClient, tmp_path: Path) -> None:
    text = ('use "examples.tasks"\nflow f {\n    i = extract_record("x")\n'
            '    [analyze_chunk(i) for i in [1, 2]]\n    generate_summary(i)\n}\n')
    path = tmp_path / "rename_shadowed.flow"
    server.open(path, text)
    edit = server.at("textDocument/rename", path, *position_of(text, "i = "), newName="rec")
    assert apply(text, edit["changes"][path.as_uri()]) == text.replace(
        "    i = ", "    rec = ").replace("summary(i)", "summary(rec)")


def test_rename_to_a_name_already_in_use_is_refused_with_a_reason(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "rename_clash.flow"
    server.open(path, FLOW)
    with pytest.raises(LspError) as refused:
        server.at("textDocument/rename", path, *position_of(FLOW, "rows ="), newName="fast")
    assert refused.value.error["message"] == "'fast' is already a name in flow 'main'"


def test_prepare_rename_refuses_a_task_call(server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "prepare.flow"
    server.open(path, FLOW)
    assert server.at("textDocument/prepareRename", path,
                     *position_of(FLOW, "extract_record")) is None


def test_formatting_gives_the_same_text_as_flowc_fmt(server: LspClient, tmp_path: Path) -> None:
    messy = 'use "examples.tasks"\nflow  f(path:str="x") { extract_record(path) -> ' \
            'analyze_chunk(mode = "deep")   # keep me\n}\n'
    path = tmp_path / "messy.flow"
    server.open(path, messy)
    edits = server.request("textDocument/formatting", {
        "textDocument": {"uri": path.as_uri()}, "options": {"tabSize": 4, "insertSpaces": True}})
    assert apply(messy, edits) == format_module(parse(messy))


def test_code_action_replaces_a_misspelt_name_with_the_suggestion(
        server: LspClient, tmp_path: Path) -> None:
    text = FLOW.replace("extract_record", "extract_recrd")
    path = tmp_path / "fix_task.flow"
    [diagnostic] = server.open(path, text)
    actions = server.request("textDocument/codeAction", {
        "textDocument": {"uri": path.as_uri()}, "range": diagnostic["range"],
        "context": {"diagnostics": [diagnostic]}})
    assert [a["title"] for a in actions] == ["Replace 'extract_recrd' with 'extract_record'"]
    assert apply(text, actions[0]["edit"]["changes"][path.as_uri()]) == FLOW


def test_code_action_fixes_a_keyword_argument_reported_on_the_task(
        server: LspClient, tmp_path: Path) -> None:
    text = FLOW.replace('mode="fast"', 'modee="fast"')
    path = tmp_path / "fix_kwarg.flow"
    [diagnostic] = server.open(path, text)
    assert diagnostic["code"] == "F303"
    actions = server.request("textDocument/codeAction", {
        "textDocument": {"uri": path.as_uri()}, "range": diagnostic["range"],
        "context": {"diagnostics": [diagnostic]}})
    assert apply(text, actions[0]["edit"]["changes"][path.as_uri()]) == FLOW


MISSPELT = {  # diagnostic code: (file with one misspelling, the misspelt text, the fix)
    "F405": ('flow f { generate_summary(1) }\n'
             'schedule s = cron "1 2 * * *" tz "Europe/Berlinn" -> f()\n',
             "Europe/Berlinn", "Europe/Berlin"),
    "F401": ('flow f { generate_summary(1) with queu = "x" }\n', "queu", "queue"),
    "F202": ('flow f(path: str = "x") { generate_summary(pth) }\n', "pth", "path"),
    "F306": ('flow f(path: strr = "x") { generate_summary(path) }\n', "strr", "str"),
    "F408": ('flow f { generate_summary(1) with retries = 2, backoff = exponentail(1s) }\n',
             "exponentail", "exponential"),
    "F201": ('flow helper { generate_summary(1) }\nflow f { helpr() }\n', "helpr", "helper"),
    "F303": ('flow helper(n: int = 1) { generate_summary(n) }\nflow f { helper(nn=2) }\n',
             "nn", "n"),
}


@pytest.mark.parametrize("code", sorted(MISSPELT))
def test_every_kind_of_did_you_mean_hint_has_a_quick_fix(
        server: LspClient, tmp_path: Path, code: str) -> None:
    body, wrong, right = MISSPELT[code]
    text = 'use "examples.tasks"\n' + body
    path = tmp_path / f"misspelt_{code}.flow"
    [diagnostic] = server.open(path, text)
    assert diagnostic["code"] == code
    actions = server.request("textDocument/codeAction", {
        "textDocument": {"uri": path.as_uri()}, "range": diagnostic["range"],
        "context": {"diagnostics": [diagnostic]}})
    [action] = actions
    assert apply(text, action["edit"]["changes"][path.as_uri()]) == text.replace(wrong, right, 1)
