"""Fuzzing: random text and mutated fixtures only ever produce diagnostics, never crashes."""

from __future__ import annotations

from flowc.dsl.parser import ParseError, parse_with_diagnostics
from flowc.dsl.yaml_loader import load_yaml_with_diagnostics
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import FIXTURES

FLOW_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.flow"))]
YAML_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.yaml"))]
ALPHABET = st.sampled_from([
    *"abc_(){}[],:=->!#\"'\\ \n\t0123456789.smhd$",
    "flow ", "use ", "map ", " max ", " with ", "schedule ", "every ", "cron ", "->", "for ",
    " in ", "range", "on error", "true", "none", "\u00e9", "\u2028",
])
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn, texts: list[str]) -> str:
    """A fixture with a random slice deleted, duplicated or replaced by random text."""
    text = draw(st.sampled_from(texts))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 40)))
    insert = "".join(draw(st.lists(ALPHABET, max_size=8)))
    how = draw(st.sampled_from(["delete", "replace", "duplicate"]))
    if how == "delete":
        return text[:start] + text[end:]
    if how == "duplicate":
        return text[:end] + text[start:end] + text[end:]
    return text[:start] + insert + text[end:]


def _parse_only_reports_diagnostics(text: str) -> None:
    try:
        parse_with_diagnostics(text)
    except ParseError:  # pragma: no cover - parse_with_diagnostics should not raise at all
        raise AssertionError("parse_with_diagnostics raised") from None


@FUZZ
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_random_text_gives_diagnostics_not_exceptions(text: str) -> None:
    _parse_only_reports_diagnostics(text)


@FUZZ
@given(mutated(FLOW_TEXTS))
def test_mutated_flow_files_give_diagnostics_not_exceptions(text: str) -> None:
    module, diagnostics = parse_with_diagnostics(text)
    assert module is not None or diagnostics


@FUZZ
@given(st.one_of(mutated(YAML_TEXTS), st.text(max_size=60)))
def test_mutated_yaml_files_give_diagnostics_not_exceptions(text: str) -> None:
    load_yaml_with_diagnostics(text)
