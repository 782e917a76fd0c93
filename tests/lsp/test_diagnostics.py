"""Diagnostics over LSP are ``flowc check``'s: same codes, messages and spans, as LSP ranges."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.support import flowc
from tests.lsp.client import ROOT, LspClient, position_of

BROKEN = '''use "examples.tasks"

flow etl(path: str = "file.csv") {
    rows = extract_recrd(path)
    analyze_chunk(rows, modee="deep") with queu = "x"
    generate_summary(roes)
}
'''


def test_diagnostics_on_open_match_flowc_check_codes_messages_and_spans(
        server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "broken.flow"
    path.write_text(BROKEN, encoding="utf-8")
    published = server.open(path, BROKEN)
    checked = json.loads(flowc("check", "--format", "json", str(path)).output)
    expected = [(d["code"], d["message"], d["line"] - 1, d["col"] - 1, d["end_line"] - 1,
                 d["end_col"] - 1) for d in checked["files"][0]["diagnostics"]]
    got = [(d["code"], d["message"].split("\nhint: ")[0], d["range"]["start"]["line"],
            d["range"]["start"]["character"], d["range"]["end"]["line"],
            d["range"]["end"]["character"]) for d in published]
    assert got == expected
    assert len(got) == 4


def test_diagnostic_carries_the_hint_on_its_second_line(server: LspClient, tmp_path: Path) -> None:
    published = server.open(tmp_path / "hint.flow", BROKEN)
    unknown_task = next(d for d in published if "extract_recrd" in d["message"])
    assert unknown_task["message"] == (
        "unknown task 'extract_recrd'\nhint: did you mean 'extract_record'?")
    assert unknown_task["severity"] == 1 and unknown_task["source"] == "flowc"


def test_diagnostics_follow_changes_to_the_document(server: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "edited.flow"
    assert server.open(path, BROKEN)
    fixed = BROKEN.replace("recrd", "record").replace("modee", "mode").replace(
        "queu ", "queue ").replace("roes", "rows")
    assert server.change(path, 2, fixed) == []


def test_warnings_are_published_with_warning_severity(server: LspClient, tmp_path: Path) -> None:
    text = ('use "examples.tasks"\nflow f {\n    unused = extract_record("x")\n'
            '    generate_summary(1)\n}\n')
    published = server.open(tmp_path / "warn.flow", text)
    assert [(d["code"], d["severity"]) for d in published] == [("F208", 2)]


def test_syntax_error_range_points_at_the_unexpected_token(
        server: LspClient, tmp_path: Path) -> None:
    text = 'use "examples.tasks"\nflow f {\n    extract_record("x") with queue "q"\n}\n'
    published = server.open(tmp_path / "syntax.flow", text)
    assert [d["code"] for d in published] == ["F101"]
    line, character = position_of(text, '"q"')
    assert published[0]["range"]["start"] == {"line": line, "character": character}


def test_columns_count_utf16_code_units_after_astral_characters(
        server: LspClient, tmp_path: Path) -> None:
    # "😀" is one code point but two UTF-16 code units: the range after it moves by two.
    text = 'use "examples.tasks"\nflow f {\n    extract_record("😀") -> analyze_chunkk()\n}\n'
    published = server.open(tmp_path / "emoji.flow", text)
    line, character = position_of(text, "analyze_chunkk")
    assert character == len('    extract_record("😀") -> '.encode("utf-16-le")) // 2
    assert published[0]["range"]["start"] == {"line": line, "character": character}
    assert published[0]["range"]["end"] == {"line": line, "character": character + 14}


def test_examples_have_no_diagnostics(server: LspClient) -> None:
    for path in sorted((ROOT / "examples").glob("*.flow")):
        assert server.open(path, path.read_text(encoding="utf-8")) == [], path.name


def test_a_task_module_printing_on_import_does_not_corrupt_the_protocol(
        server: LspClient, tmp_path: Path) -> None:
    (tmp_path / "noisy_tasks.py").write_text(
        "from flowc import App\napp = App('noisy')\nprint('importing noisy_tasks')\n\n"
        "@app.task\ndef shout(text: str) -> str:\n    return text.upper()\n", encoding="utf-8")
    text = 'use "noisy_tasks"\nflow f {\n    shout("hi")\n}\n'
    assert server.open(tmp_path / "noisy.flow", text) == []
    assert server.garbage == []
