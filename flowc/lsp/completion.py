"""Completion: what may be written at the cursor, from the text before it and the last
analysis that parsed (a document being typed rarely parses).

Contexts, innermost first: an option value (``with queue = |``), an option name (after
``with`` or in ``defaults { }``), a call's arguments (parameter names as ``name=`` and the
names in scope), the top level (``use``, ``flow``...), a flow body (tasks, flows, names,
keywords).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from flowc.dsl import ast
from flowc.lsp.analysis import Analysis
from flowc.lsp.tasks import parameter_names, task_info
from flowc.lsp.vocabulary import (
    OPTION_DOCS,
    OPTION_VALUES,
    TOP_LEVEL_KEYWORDS,
    keywords,
    option_names,
)

ItemKind = Literal["task", "flow", "keyword", "option", "value", "argument", "name"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_OPTION_VALUE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*=\s*$")
_WITH = re.compile(r"\bwith\b[^()]*$")
_FLOW_KEYWORD = re.compile(r"(?:^|\s)flow$")
_OPENERS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Item:
    """One completion: the text to insert, what it is, and a short description."""

    label: str
    kind: ItemKind
    detail: str = ""


@dataclass(frozen=True)
class _Open:
    """An unclosed bracket before the cursor and the word written just before it."""

    bracket: str
    word: str
    after_flow_keyword: bool


def complete(text: str, line: int, col: int, known: Analysis | None) -> list[Item]:
    """Completions at 1-based ``(line, col)`` of ``text``; ``known`` supplies tasks and names."""
    lines = text.split("\n")
    if line > len(lines):
        return []
    before = "\n".join([*lines[: line - 1], lines[line - 1][: col - 1]])
    stack = _open_brackets(before)
    if stack is None:  # inside a string or a comment
        return []
    head = before[: len(before) - len(_partial_word(before))]
    current_line = head.rsplit("\n", 1)[-1]
    inner = stack[-1] if stack else None
    if inner is not None and inner.bracket == "(":
        return _arguments(inner, known, line)
    in_defaults = inner is not None and inner.bracket == "{" and inner.word == "defaults"
    if in_defaults or _WITH.search(current_line):
        value_of = _OPTION_VALUE.search(current_line)
        if value_of:
            return _option_values(value_of.group(1), known)
        return [Item(name, "option", OPTION_DOCS.get(name, "")) for name in option_names()]
    if inner is None:
        return _top_level(current_line, known)
    return _statement(known, line)


def _partial_word(before: str) -> str:
    m = _WORD.search(before)
    return m.group(0) if m else ""


def _open_brackets(before: str) -> list[_Open] | None:
    """The brackets still open at the end of ``before`` (None: it ends in a string/comment)."""
    stack: list[_Open] = []
    i, n = 0, len(before)
    while i < n:
        ch = before[i]
        if ch == "#":
            end = before.find("\n", i)
            if end < 0:
                return None
            i = end
        elif ch in "\"'":
            end = _string_end(before, i)
            if end < 0:
                return None
            i = end
        elif ch in _OPENERS:
            word = _partial_word(before[:i].rstrip())
            prefix = before[: i].rstrip()[: -len(word) or None].rstrip() if word else ""
            stack.append(_Open(ch, word, _FLOW_KEYWORD.search(prefix) is not None))
        elif ch in ")]}" and stack:
            stack.pop()
        i += 1
    return stack


def _string_end(text: str, start: int) -> int:
    """The index of the closing quote of the string opened at ``start``, or -1."""
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        if text[i] == "\n":
            return i  # strings are one line: an unclosed one ends there
        i += 1
    return -1


def _arguments(inner: _Open, known: Analysis | None, line: int) -> list[Item]:
    if inner.after_flow_keyword or known is None or known.module is None:
        return []
    module = known.module
    sub = module.flow(inner.word)
    if sub is not None:
        names = [p.name for p in sub.params]
    else:
        names = parameter_names(known.loaded, inner.word)
    items = [Item(f"{name}=", "argument", f"parameter of {inner.word}") for name in names]
    return items + _names_in_scope(module, line)


def _option_values(key: str, known: Analysis | None) -> list[Item]:
    if key == "on_error":
        return _tasks(known)
    values = list(OPTION_VALUES.get(key, ()))
    if key == "queue" and known is not None and known.module is not None:
        values += sorted({f'"{v}"' for v in _queues(known.module)} - set(values))
    return [Item(v, "value", key) for v in values]


def _queues(module: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Option) and node.key == "queue" and isinstance(
                node.value, ast.Literal) and isinstance(node.value.value, str):
            found.add(node.value.value)
    return found


def _top_level(current_line: str, known: Analysis | None) -> list[Item]:
    stripped = current_line.strip()
    if not stripped:
        return [Item(k, "keyword") for k in TOP_LEVEL_KEYWORDS]
    if stripped.startswith("schedule"):
        if "->" in stripped:
            return _tasks(known) + _flows(known, None)
        if re.search(r'\bcron\s+"[^"]*"\s*$', stripped):
            return [Item("tz", "keyword")]
        if stripped.endswith("="):
            return [Item("cron", "keyword"), Item("every", "keyword")]
    return []


def _statement(known: Analysis | None, line: int) -> list[Item]:
    items = _tasks(known)
    if known is not None and known.module is not None:
        here = _flow_at(known.module, line)
        items += _flows(known, here)
        items += _names_in_scope(known.module, line)
    body_keywords = [k for k in keywords() if k not in TOP_LEVEL_KEYWORDS]
    return items + [Item(k, "keyword") for k in body_keywords]


def _tasks(known: Analysis | None) -> list[Item]:
    if known is None:
        return []
    catalog = known.loaded.catalog
    out = []
    for name in catalog.short_names():
        info = task_info(known.loaded, name)
        out.append(Item(name, "task", info.signature if info else ""))
    return out


def _flows(known: Analysis | None, here: ast.Flow | None) -> list[Item]:
    if known is None or known.module is None:
        return []
    return [Item(f.name, "flow", "flow") for f in known.module.flows if f is not here]


def _flow_at(module: ast.Module, line: int) -> ast.Flow | None:
    return next((f for f in module.flows if f.span.line <= line <= f.span.end_line), None)


def _names_in_scope(module: ast.Module, line: int) -> list[Item]:
    flow = _flow_at(module, line)
    if flow is None:
        return []
    items = [Item(p.name, "name", "parameter") for p in flow.params]
    items += [Item(s.name, "name", "named result") for s in flow.body
              if isinstance(s, ast.Assign) and s.span.line < line]
    return items
