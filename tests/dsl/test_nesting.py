"""One nesting limit (``MAX_NESTING`` levels) for every construct, in .flow and in YAML alike.

Levels are brackets in .flow (``(`` ``[`` ``{``, the flow's own braces included) and mappings
and lists in YAML (block or flow style, the document's top mapping included). Up to the limit
a file checks clean; one level more is F120 at the bracket or node that goes too deep, with a
hint; far deeper (10,000 levels) is the same F120, never a RecursionError.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.parser import MAX_NESTING
from flowc.runtime.project import check, load

FAR_TOO_DEEP = 10_000
USE_FLOW = 'use "examples.tasks"\n'
USE_YAML = "use: examples.tasks\nflows:\n  f:\n    do:\n      - "


def flow_source(kind: str, depth: int) -> str:
    """A .flow file whose deepest bracket is ``depth`` levels in (the flow's braces: level 1)."""
    n = depth - 1  # the flow's braces
    if kind == "group":  # the innermost call's parentheses are the deepest level
        body = "[" * (n - 1) + "execute_db_maintenance()" + "]" * (n - 1)
    elif kind == "comprehension":
        body = "[" * (n - 1) + "execute_db_maintenance()" + " for i in range(1)]" * (n - 1)
    elif kind == "list":
        body = "generate_summary(" + "[" * (n - 1) + "1" + "]" * (n - 1) + ")"
    elif kind == "dict":
        body = "generate_summary(" + "{a: " * (n - 1) + "1" + "}" * (n - 1) + ")"
    else:  # a parameter's type: its parentheses are level 1, the flow's braces come after
        return (USE_FLOW + "flow f(x: " + "list[" * (depth - 1) + "int" + "]" * (depth - 1)
                + ") {\n    execute_db_maintenance()\n}\n")
    return USE_FLOW + f"flow f {{\n    {body}\n}}\n"


def yaml_source(kind: str, depth: int) -> str:
    """A YAML file whose deepest mapping or list is ``depth`` levels in (top mapping: 1).

    ``- `` under ``do:`` is level 4 (document, flows, f, do).
    """
    n = depth - 4
    if kind in ("group", "chain", "chord"):
        return USE_YAML + stage_levels(kind, n) + "\n"
    if kind == "list":
        return (USE_YAML + "{call: generate_summary, args: " + "[" * (n - 1) + "1"
                + "]" * (n - 1) + "}\n")
    if kind == "dict":
        return (USE_YAML + "{call: generate_summary, args: [" + "{a: " * (n - 2) + "1"
                + "}" * (n - 2) + "]}\n")
    # block style: a list of lists by indentation, under args:
    head = "use: examples.tasks\nflows:\n  f:\n    do:\n      - call: generate_summary\n" \
           "        args:\n"
    levels = depth - 5  # document, flows, f, do, the call's mapping
    lines = ["  " * (4 + i) + "-" for i in range(levels - 1)]
    return head + "\n".join(lines) + "\n" + "  " * (4 + levels - 1) + "- 1\n"


def stage_levels(kind: str, levels: int) -> str:
    """A YAML stage ``levels`` collections deep: ``kind`` inside ``kind`` (2 levels each: a
    group's mapping and list; a chord's mapping and the mapping of its header and body), the
    level left over made up by a call written as a mapping."""
    opens, closes = [], []
    while levels >= 2:
        if kind == "chord":
            opens.append("{chord: {header: ")
            closes.append(", body: generate_summary}}")
        else:
            opens.append(f"{{{kind}: [")
            closes.append("]}")
        levels -= 2
    inner = "{call: execute_db_maintenance}" if levels else "execute_db_maintenance"
    return "".join(opens) + inner + "".join(reversed(closes))


FLOW_KINDS = ["group", "comprehension", "list", "dict", "type"]
YAML_KINDS = ["group", "chain", "chord", "list", "dict", "block"]


def checked(tmp_path: Path, name: str, source: str) -> list[Diagnostic]:
    path = tmp_path / name
    path.write_text(source)
    return check(load(path))


def line_col(source: str, d: Diagnostic) -> str:
    """The text from the diagnostic's position to the end of its line."""
    return source.split("\n")[d.span.line - 1][d.span.col - 1:]


def depth_at(source: str, d: Diagnostic, openers: str) -> int:
    """How many brackets are open at the diagnostic's bracket, itself included (flow style)."""
    lines = source.split("\n")
    before = "\n".join([*lines[: d.span.line - 1], lines[d.span.line - 1][: d.span.col]])
    closers = {"(": ")", "[": "]", "{": "}"}
    return sum(before.count(o) - before.count(closers[o]) for o in openers)


def assert_too_deep(d: Diagnostic) -> None:
    assert (d.code, d.message) == ("F120", f"nested more than {MAX_NESTING} levels deep")
    assert d.hint is not None and f"{MAX_NESTING} levels" in d.hint


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_flow_constructs_nest_to_the_limit(tmp_path: Path, kind: str) -> None:
    assert checked(tmp_path, "f.flow", flow_source(kind, MAX_NESTING)) == []


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_flow_constructs_one_level_past_the_limit_are_f120_at_that_bracket(
    tmp_path: Path, kind: str,
) -> None:
    source = flow_source(kind, MAX_NESTING + 1)
    [d] = checked(tmp_path, "f.flow", source)
    assert_too_deep(d)
    assert line_col(source, d)[0] in "([{"
    assert depth_at(source, d, "([{") == MAX_NESTING + 1


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_flow_constructs_far_too_deep_are_one_f120(tmp_path: Path, kind: str) -> None:
    source = flow_source(kind, FAR_TOO_DEEP)
    [d] = checked(tmp_path, "f.flow", source)
    assert_too_deep(d)
    assert depth_at(source, d, "([{") == MAX_NESTING + 1


@pytest.mark.parametrize("kind", YAML_KINDS)
def test_yaml_constructs_nest_to_the_limit(tmp_path: Path, kind: str) -> None:
    assert checked(tmp_path, "f.flow.yaml", yaml_source(kind, MAX_NESTING)) == []


@pytest.mark.parametrize("kind", YAML_KINDS)
def test_yaml_constructs_one_level_past_the_limit_are_f120_at_that_node(
    tmp_path: Path, kind: str,
) -> None:
    source = yaml_source(kind, MAX_NESTING + 1)
    [d] = checked(tmp_path, "f.flow.yaml", source)
    assert_too_deep(d)
    if kind == "block":
        assert (d.span.line, d.span.col) == (source.count("\n"), 2 * (4 + MAX_NESTING - 5) + 1)
    else:
        assert line_col(source, d)[0] in "[{"
        assert depth_at(source, d, "[{") + 4 == MAX_NESTING + 1  # document, flows, f, do


@pytest.mark.parametrize("kind", YAML_KINDS)
def test_yaml_constructs_far_too_deep_are_one_f120(tmp_path: Path, kind: str) -> None:
    source = yaml_source(kind, FAR_TOO_DEEP)
    [d] = checked(tmp_path, "f.flow.yaml", source)
    assert_too_deep(d)
    assert d.span.line > 1


def test_yaml_aliases_count_the_levels_they_stand_for(tmp_path: Path) -> None:
    # Given a list 55 levels deep, anchored at level 7 (61 levels in all: fine), and used by
    # an alias 57 levels in (111 levels once the alias is followed)
    deep = "[" * 55 + "1" + "]" * 55
    source = (USE_YAML + f"{{call: generate_summary, args: [&deep {deep}]}}\n"
              f"      - {{call: generate_summary, args: [{'[' * 50}*deep{']' * 50}]}}\n")
    [d] = checked(tmp_path, "f.flow.yaml", source)
    assert_too_deep(d)
    # Then it is reported inside the anchored list, at the level past the limit
    assert d.span.line == 5
    assert line_col(source, d)[0] == "["
