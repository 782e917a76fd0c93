"""The formatter: canonical, idempotent, faithful to the AST, and keeps comments."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowc.dsl.formatter import format_module
from flowc.dsl.parser import parse

from .helpers import FIXTURES

SOURCES = sorted(FIXTURES.glob("*.flow"))


def fmt(text: str) -> str:
    return format_module(parse(text))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_formatting_is_idempotent(path: Path) -> None:
    once = fmt(path.read_text(encoding="utf-8"))
    assert fmt(once) == once


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_formatting_preserves_the_ast(path: Path) -> None:
    module = parse(path.read_text(encoding="utf-8"))
    assert parse(format_module(module)) == module


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_formatting_keeps_every_comment(path: Path) -> None:
    module = parse(path.read_text(encoding="utf-8"))
    again = parse(format_module(module))
    assert [c.text for c in again.comments] == [c.text for c in module.comments]


def test_chains_put_each_later_stage_on_its_own_line() -> None:
    assert fmt("flow f{a()->b( 1 )->c(x = 2)}") == (
        "flow f {\n    a()\n        -> b(1)\n        -> c(x=2)\n}\n"
    )


def test_trailing_and_standalone_comments_stay_beside_their_code() -> None:
    text = "# about f\nflow f {\n    # first\n    a()  # one\n}\n"
    assert fmt(text) == text


def test_durations_are_written_in_canonical_units() -> None:
    assert "countdown = 1m30s" in fmt("flow f { a() with countdown = 90s }")


def test_long_option_lists_move_to_their_own_line() -> None:
    options = ", ".join(f"option_{i} = {i}" for i in range(12))
    out = fmt(f"flow f {{ a() with {options} }}")
    assert out.splitlines()[2].strip().startswith("with option_0 = 0")
    assert fmt(out) == out


def test_grouped_steps_with_options_get_parentheses() -> None:
    assert '[(a() with queue = "q"), b()]' in fmt('flow f { [(a() with queue="q"), b()] }')


def test_strings_are_escaped_so_they_read_back_the_same() -> None:
    module = parse('flow f { a("tab\\there \\"q\\" \\\\ \\u00e9") }')
    assert parse(format_module(module)) == module


def test_an_inline_comment_stays_on_the_stage_it_follows() -> None:
    src = ('flow f {\n    a() -> b(mode="deep")  # deep analysis\n'
           "        -> c()   # summary\n}\n")
    assert fmt(src) == ('flow f {\n    a()\n        -> b(mode="deep")  # deep analysis\n'
                        "        -> c()  # summary\n}\n")
