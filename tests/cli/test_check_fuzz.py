"""Fuzzing ``flowc check``: random and mutated files only ever produce diagnostics.

Mutations of the examples reach the compiler (they mostly still parse), so this covers the
lowering and checks as well as the parser; an internal error would show up as code F000.
"""

from __future__ import annotations

from flowc.runtime.project import INTERNAL, Loaded, check, import_tasks, parse_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import EXAMPLES

TEXTS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.flow"))]
PIECES = st.sampled_from([
    *"abc_(){}[],:=->!#\"' \n0123456789.smhd", "flow ", "map ", " max ", " with ", "->", "_",
    " for i in range(3)", "x = ", "on error -> ", "queue = ", "priority = 12", "30s", "none",
    "extract_record(", "generate_summary()", "etl()", "metrics()", "!",
])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(TEXTS))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 30)))
    insert = "".join(draw(st.lists(PIECES, max_size=6)))
    return text[:start] + insert + text[end:]


def _check(text: str) -> None:
    module, diags = parse_text(text, "fuzz.flow", yaml=False)
    loaded = Loaded(EXAMPLES / "fuzz.flow", "fuzz.flow", text, module, diags)
    if module is not None:
        import_tasks(loaded)
    found = check(loaded)
    assert not [d for d in found if d.code == INTERNAL], found


@FUZZ
@given(mutated())
def test_mutated_examples_give_diagnostics_never_an_internal_error(text: str) -> None:
    _check(text)


@FUZZ
@given(st.lists(PIECES, max_size=30).map("".join))
def test_random_pieces_give_diagnostics_never_an_internal_error(text: str) -> None:
    _check('use "examples.tasks"\n' + text)


def test_the_fuzz_corpus_is_the_examples() -> None:
    assert len(TEXTS) >= 7
