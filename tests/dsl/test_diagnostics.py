"""Rendering of diagnostics, did-you-mean, and the code registry."""

from __future__ import annotations

from flowc.dsl.ast import NO_SPAN, Span
from flowc.dsl.codes import CODES, describe
from flowc.dsl.diagnostics import Diagnostic, did_you_mean, render, render_all

SOURCE = 'flow etl {\n    extract_record("a")\n    -> analyze_chunkk(mode="deep")\n}\n'


def test_render_shows_location_source_line_carets_and_hint() -> None:
    diag = Diagnostic(
        "F201", "unknown task 'analyze_chunkk'", Span(3, 8, 3, 22),
        "did you mean 'analyze_chunk'?",
    )
    assert render(diag, SOURCE, "etl.flow") == (
        "etl.flow:3:8: error F201: unknown task 'analyze_chunkk'\n"
        "  |\n"
        '3 |     -> analyze_chunkk(mode="deep")\n'
        "  |        ^^^^^^^^^^^^^^\n"
        "  = hint: did you mean 'analyze_chunk'?"
    )


def test_render_widens_the_gutter_for_long_line_numbers() -> None:
    source = "\n" * 11 + "x()\n"
    text = render(Diagnostic("F101", "bad", Span(12, 1, 12, 2)), source, "f.flow")
    assert text.splitlines()[1:] == ["   |", "12 | x()", "   | ^"]


def test_render_without_a_span_prints_only_the_header() -> None:
    text = render(Diagnostic("F207", "cannot import", NO_SPAN, severity="warning"), "", "f")
    assert text == "f: warning F207: cannot import"


def test_render_all_caps_the_list_with_a_count_of_the_rest() -> None:
    diags = [Diagnostic("F101", f"e{i}", Span(1, 1, 1, 2)) for i in range(5)]
    text = render_all(diags, "x\n", "f.flow", limit=2)
    assert text.endswith("… and 3 more")
    assert text.count("error F101") == 2


def test_did_you_mean_finds_the_closest_name_or_nothing() -> None:
    assert did_you_mean("analyze_chunkk", ["analyze_chunk", "extract_record"]) == "analyze_chunk"
    assert did_you_mean("zzz", ["analyze_chunk"]) is None


def test_every_code_is_registered_with_a_description_by_family() -> None:
    assert describe("F105").startswith("invalid duration")
    assert all(code[:2] in {"F1", "F2", "F3", "F4"} for code in CODES)


def test_the_language_reference_lists_every_code() -> None:
    from pathlib import Path

    reference = Path(__file__).parents[2] / "docs" / "language.md"
    text = reference.read_text(encoding="utf-8")
    assert all(f"| `{code}` | {info.summary} |" in text for code, info in CODES.items())
