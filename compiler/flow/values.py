"""Compile-time values of ``.flow`` expressions: literals, durations, parameters, loop variables.

``evaluate`` turns an expression into the JSON value that goes into the IR. Names of parameters
and loop variables are replaced by their values; a named result (known only at run time), the
placeholder ``_`` or a function-like value cannot be a compile-time value and raise
``NotAValue`` pointing at the offending node, so the caller can say why.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from flowc.dsl import ast


class NotAValue(Exception):
    """Raised when an expression is not a compile-time value; ``node`` is the culprit."""

    def __init__(self, node: ast.Node, why: str) -> None:
        super().__init__(why)
        self.node = node
        self.why = why


def seconds(d: ast.Duration) -> int | float:
    """A duration in seconds; whole numbers as ``int`` (``10s`` and ``10`` dump alike)."""
    s = d.seconds
    return int(s) if float(s).is_integer() else s


def evaluate(
    expr: ast.Expr | ast.Range, values: Mapping[str, Any], results: Container[str] = ()
) -> Any:
    """The value of ``expr``; raises ``NotAValue`` for results, ``_`` and functions."""
    if isinstance(expr, ast.Literal):
        return expr.value
    if isinstance(expr, ast.Duration):
        return seconds(expr)
    if isinstance(expr, ast.ListExpr):
        return [evaluate(item, values, results) for item in expr.items]
    if isinstance(expr, ast.DictExpr):
        return {k: evaluate(v, values, results) for k, v in expr.items}
    if isinstance(expr, ast.Ref):
        if expr.name in values:
            return values[expr.name]
        if expr.name in results:
            raise NotAValue(expr, f"the result {expr.name!r} is only known at run time")
        raise NotAValue(expr, f"unknown name {expr.name!r}")
    if isinstance(expr, ast.Placeholder):
        raise NotAValue(expr, "'_' (the previous result) is only known at run time")
    if isinstance(expr, ast.Range):
        return list(range(*_range_bounds(expr, values, results)))
    raise NotAValue(expr, f"{expr.name}(...) is only allowed as an option value")


def _range_bounds(r: ast.Range, values: Mapping[str, Any], results: Container[str]) -> list[int]:
    bounds = [evaluate(part, values, results) for part in (r.start, r.stop, r.step)]
    for part, value in zip((r.start, r.stop, r.step), bounds, strict=True):
        if isinstance(value, bool) or not isinstance(value, int):
            raise NotAValue(part, f"range() needs integers, got {value!r}")
    if bounds[2] == 0:
        raise NotAValue(r.step, "range() step must not be zero")
    return bounds


def is_result_ref(expr: ast.Expr, results: Container[str]) -> bool:
    return isinstance(expr, ast.Ref) and expr.name in results


def result_list(expr: ast.Expr, results: Container[str]) -> bool:
    """Whether ``expr`` is a (nested) list whose every leaf is a named result."""
    if not isinstance(expr, ast.ListExpr) or not expr.items:
        return False
    return all(
        is_result_ref(item, results) or result_list(item, results) for item in expr.items
    )


def child_nodes(node: ast.Node) -> tuple[ast.Node, ...]:
    """The direct children of an expression or stage (a fast, typed ``ast.children``)."""
    if isinstance(node, ast.Call):
        if not (node.args or node.kwargs or node.options):
            return ()  # most chain steps
        return (*node.args, *(k.value for k in node.kwargs), *(o.value for o in node.options))
    if isinstance(node, ast.Chain):
        return node.steps
    if isinstance(node, ast.Group):
        return node.items
    if isinstance(node, ast.Map):
        return (node.call,)
    if isinstance(node, ast.Comprehension):
        return (node.iterable, node.item)
    if isinstance(node, ast.Assign):
        return (node.value,)
    if isinstance(node, ast.ListExpr):
        return node.items
    if isinstance(node, ast.DictExpr):
        return tuple(v for _, v in node.items)
    if isinstance(node, ast.Func):
        return (*node.args, *(k.value for k in node.kwargs))
    if isinstance(node, ast.Range):
        return (node.start, node.stop, node.step)
    if isinstance(node, ast.Keyword | ast.Option):
        return (node.value,)
    return ()


def has_name(node: ast.Node) -> bool:
    """Whether ``node`` contains a name, ``_`` or a function value (is not a pure literal)."""
    if isinstance(node, ast.Ref | ast.Placeholder | ast.Func):
        return True
    if isinstance(node, ast.Literal | ast.Duration):
        return False
    return any(has_name(c) for c in child_nodes(node))


def uses_any(node: ast.Node, names: Container[str]) -> bool:
    """Whether ``node`` refers to one of ``names``."""
    if isinstance(node, ast.Ref):
        return node.name in names
    return any(uses_any(c, names) for c in child_nodes(node))
