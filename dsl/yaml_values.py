"""Values in the YAML form: scalars, ``$name`` references, durations and option functions.

Rules: ``$name`` is a Ref, ``$_`` the Placeholder, ``$$x`` the string ``$x``; ``!duration 30s``
is a Duration anywhere; in option values (``with:``, ``defaults:``) an unquoted ``30s`` is a
Duration (quote it to keep a string) and ``exponential(1s, max=60s)``, quoted or not, is parsed
as a .flow option function.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

import yaml
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.literals import DURATION_HINT, parse_duration
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

DURATION_TAG = "!duration"
_FUNC_RE = re.compile(r"[A-Za-z_]\w*\(.*", re.DOTALL)
_DURATION_LIKE = re.compile(r"-?[0-9][0-9.]*[A-Za-z_][\w.]*")
_OPTION_PREFIX = "defaults { x = "
_SCALAR_TAGS = {"str", "int", "float", "bool", "null"}
N = TypeVar("N", bound=ast.Node)
MAX_VALUES = 100_000


class ValueBudgetExceeded(Exception):
    """Internal: the document expands (through aliases) to more than MAX_VALUES values."""


def span_of(node: Node) -> ast.Span:
    """The 1-based Span of a composed YAML node."""
    start, end = node.start_mark, node.end_mark
    return ast.Span(start.line + 1, start.column + 1, end.line + 1, end.column + 1)


def shift_spans(node: N, line: int, col: int) -> N:
    """A copy of ``node`` whose spans (parsed from a one-line snippet) start at line:col."""

    def move(span: ast.Span) -> ast.Span:
        if not span.known:
            return span
        return ast.Span(line, col + span.col - 1, line, col + span.end_col - 1)

    def walk(value: Any) -> Any:
        if isinstance(value, ast.Node):
            return shift_spans(value, line, col)
        if isinstance(value, tuple):
            return tuple(walk(v) for v in value)
        return value

    changes = {
        f.name: walk(getattr(node, f.name))
        for f in dataclasses.fields(node)
        if f.init and f.name != "span"
    }
    return dataclasses.replace(node, **changes, span=move(node.span))


class ValueReader:
    """Reads YAML value nodes into AST expressions; collects diagnostics in ``diagnostics``."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._constructor = yaml.SafeLoader("")
        self._budget = MAX_VALUES

    def error(self, code: str, message: str, node: Node, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span_of(node), hint))

    def key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            self.error("F118", "mapping keys must be plain strings", node)
            return ""
        return str(node.value)

    def string(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag.endswith((":null", ":bool")):
            self.error("F118", f"{what} must be a string", node)
            return ""
        return str(node.value)

    def value(self, node: Node) -> ast.Expr:
        """An argument, default or list item."""
        self._budget -= 1
        if self._budget < 0:
            raise ValueBudgetExceeded
        span = span_of(node)
        if isinstance(node, SequenceNode):
            return ast.ListExpr(tuple(self.value(v) for v in node.value), span=span)
        if isinstance(node, MappingNode):
            items = tuple((self.key(k), self.value(v)) for k, v in node.value)
            return ast.DictExpr(items, span=span)
        if not isinstance(node, ScalarNode):
            self.error("F118", "unsupported YAML value (aliases are not allowed)", node)
            return ast.Literal(None, span=span)
        if node.tag == DURATION_TAG:
            return self.duration_value(node)
        return self.plain_scalar(node)

    def option_value(self, node: Node) -> ast.Expr:
        """An option value: like ``value`` plus bare durations and option functions."""
        if isinstance(node, ScalarNode) and node.tag.endswith(":str"):
            text = str(node.value)
            if node.style is None and _DURATION_LIKE.fullmatch(text):
                return self.duration_value(node)
            if _FUNC_RE.fullmatch(text):
                return self.func_value(node)
        return self.value(node)

    def duration_value(self, node: ScalarNode) -> ast.Duration:
        seconds = parse_duration(str(node.value))
        if seconds is None:
            self.error("F105", f"invalid duration '{node.value}'", node, DURATION_HINT)
            seconds = 0.0
        return ast.Duration(seconds, str(node.value), span=span_of(node))

    def func_value(self, node: ScalarNode) -> ast.Expr:
        from flowc.dsl.parser import parse_with_diagnostics

        text = str(node.value)
        module, diags = parse_with_diagnostics(f"{_OPTION_PREFIX}{text} }}")
        if module is None or diags or module.defaults is None:
            self.error("F118", f"invalid option function '{text}'", node,
                       "write it as in .flow, e.g. exponential(1s, max=60s)")
            return ast.Literal(text, span=span_of(node))
        value = module.defaults.options[0].value
        mark = node.start_mark
        quote = 0 if node.style is None else 1
        return shift_spans(value, mark.line + 1, mark.column + 1 + quote - len(_OPTION_PREFIX))

    def plain_scalar(self, node: ScalarNode) -> ast.Expr:
        span = span_of(node)
        kind = node.tag.rsplit(":", 1)[-1]
        if kind not in _SCALAR_TAGS:
            if node.tag.startswith("!"):
                self.error("F118", f"unknown YAML tag '{node.tag}'", node,
                           f"the only flowc tag is {DURATION_TAG}")
            return ast.Literal(str(node.value), span=span)
        try:
            value = self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError):
            value = str(node.value)
        if isinstance(value, str) and value.startswith("$"):
            return self.reference(value, node)
        return ast.Literal(value, span=span)

    def reference(self, text: str, node: ScalarNode) -> ast.Expr:
        span = span_of(node)
        if text.startswith("$$"):
            return ast.Literal(text[1:], span=span)
        if text == "$_":
            return ast.Placeholder(span=span)
        if not re.fullmatch(r"[A-Za-z_]\w*", text[1:]):
            self.error("F118", f"'{text}' is not a valid reference", node,
                       "write $name for a parameter or result, or $$ for a literal '$'")
        return ast.Ref(text[1:], span=span)
