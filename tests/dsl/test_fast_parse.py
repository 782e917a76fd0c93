"""The fast parse loop builds exactly what lark builds, or gives up and leaves it to lark.

Every comparison includes spans (``dataclasses.astuple`` keeps the fields ``==`` ignores), the
diagnostics ``ToAst`` reports, the comments and the nesting depth.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from flowc.dsl import parser
from flowc.dsl.fast_parse import FastTables, fast_parse, fast_tables
from flowc.dsl.transform_base import collecting
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark.exceptions import UnexpectedInput

from .helpers import BAD, FIXTURES

ROOT = Path(__file__).resolve().parents[2]
VALID = sorted([*FIXTURES.glob("*.flow"), *(ROOT / "examples").rglob("*.flow")])
TEXTS = [p.read_text(encoding="utf-8") for p in [*VALID, *sorted(BAD.glob("*.flow"))]]
KEYWORDS = ["use", "defaults", "flow", "schedule", "on", "error", "with", "for", "in", "range",
            "map", "max", "cron", "tz", "every", "true", "false", "none"]
PIECES = st.sampled_from([
    *"abc_(){}[],:=->!#\"'\\ \n\t0123456789.-smhdeE",
    *KEYWORDS, *(f" {k} " for k in KEYWORDS), "->", "1.5e3", "10s", "-2", "_", "\u00e9",
])


def _tables() -> FastTables:
    tables = fast_tables(parser.flow_parser())
    assert tables is not None, "fast_tables no longer understands this lark version"
    return tables


def _fast(text: str, start: str = "module") -> tuple[Any, ...] | None:
    with collecting() as found:
        done = fast_parse(_tables(), text, start, max_depth=10**6)
    if done is None:
        return None
    comments = [(c.type, str(c), c.line, c.column, c.end_line, c.end_column)
                for c in done.comments]
    return dataclasses.astuple(done.value), found, comments, done.max_depth


def _lark(text: str, start: str = "module") -> tuple[Any, ...] | None:
    state = parser._LexState()
    token = parser._LEX_STATE.set(state)
    try:
        with collecting() as found:
            value = parser.flow_parser().parse(text, start=start)
    except UnexpectedInput:
        return None
    finally:
        parser._LEX_STATE.reset(token)
    comments = [(c.type, str(c), c.line, c.column, c.end_line, c.end_column)
                for c in state.comments]
    return dataclasses.astuple(value), found, comments, state.max_depth


def _same_or_gave_up(text: str, start: str = "module") -> None:
    fast = _fast(text, start)
    if fast is not None:
        assert fast == _lark(text, start)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_files_take_the_fast_path_and_build_what_lark_builds(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast = _fast(text)
    assert fast is not None
    assert fast == _lark(text)


@pytest.mark.parametrize("path", sorted(BAD.glob("*.flow")), ids=lambda p: p.name)
def test_broken_files_build_what_lark_builds_or_give_up(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    _same_or_gave_up(text)
    if _lark(text) is None:  # a syntax error: lark must report it
        assert _fast(text) is None


def test_keywords_used_as_names_lex_as_lark_lexes_them() -> None:
    text = ('use "m"\nflow f(max: int = 1, range: int = 2) {\n'
            "    error = a(max, in_=range, map=[max]) with queue = \"q\"\n"
            "    map b() max 3\n    on error -> h()\n}\n")
    assert _fast(text) is not None
    _same_or_gave_up(text)


def test_values_parse_alike_from_the_value_start_symbol() -> None:
    for text in ['[1, -2, 3.5, 1e3, 10s, "x", true, none, {a: 1, "b": [_]}]', "max", "-1m"]:
        assert _fast(text, "value") == _lark(text, "value")


def test_deep_nesting_is_left_to_lark() -> None:
    text = "flow f() { a(" + "[" * 30 + "]" * 30 + ") }\n"
    with collecting():
        assert fast_parse(_tables(), text, "module", max_depth=10) is None
        assert fast_parse(_tables(), text, "module", max_depth=40) is not None


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(TEXTS))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 30)))
    insert = "".join(draw(st.lists(PIECES, max_size=6)))
    return text[:start] + insert + text[end:]


@FUZZ
@given(_mutated())
def test_mutated_sources_build_what_lark_builds_or_give_up(text: str) -> None:
    _same_or_gave_up(text)


@FUZZ
@given(st.lists(PIECES, max_size=30).map("".join))
def test_random_values_build_what_lark_builds_or_give_up(text: str) -> None:
    _same_or_gave_up(text, "value")


def test_the_parser_loaded_from_the_grammar_cache_parses_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a parser built from flow.lark without a cache, and one built then loaded from it
    monkeypatch.setenv("FLOWC_CACHE_DIR", "")
    built = parser._build(parser.ToAst())
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path))
    parser._build(parser.ToAst())
    assert list(tmp_path.iterdir()), "the first build writes the cache"
    loaded = parser._build(parser.ToAst())
    # Then both give the fast loop its tables, and both parse every valid file alike
    built_tables, loaded_tables = fast_tables(built), fast_tables(loaded)
    assert built_tables is not None and loaded_tables is not None
    for path in VALID:
        text = path.read_text(encoding="utf-8")
        with collecting():
            a = fast_parse(built_tables, text, "module", max_depth=100)
            b = fast_parse(loaded_tables, text, "module", max_depth=100)
            assert a is not None and b is not None
            assert dataclasses.astuple(a.value) == dataclasses.astuple(b.value)
            assert dataclasses.astuple(loaded.parse(text, start="module")) == dataclasses.astuple(
                a.value)
