"""Flow parameters: binding a sub-flow call's arguments, ``--param`` values, and check samples.

Parameters are compile-time values. A top-level flow gets them from the command line
(``--param k=v``: a ``.flow`` literal when the text is one, else the raw text; a ``str``
parameter always takes the raw text), a sub-flow from its call's arguments. Each is checked
against its declared type (F305); a missing required one is F302, an unknown one F303.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flowc.compiler.flow.types import FlowType, describe_value, matches, parse_type, sample
from flowc.compiler.flow.values import NotAValue, evaluate
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint
from flowc.dsl.parser import ParseError, parse_value


def declared_type(p: ast.Param) -> FlowType | None:
    return parse_type(p.type) if p.type else None


def default_value(p: ast.Param) -> tuple[bool, Any]:
    """``(True, value)`` when ``p`` has a usable default."""
    if p.default is None:
        return False, None
    try:
        return True, evaluate(p.default, {})
    except NotAValue:
        return False, None


def _type_error(p: ast.Param, value: Any, span: ast.Span, where: str) -> Diagnostic | None:
    t = declared_type(p)
    if t is None or matches(value, t):
        return None
    return Diagnostic("F305", f"{where} '{p.name}' expects {t}, got {describe_value(value)} "
                      f"{_short(value)}", span)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def bind_call(
    flow: ast.Flow, call: ast.Call, value_of: Callable[[ast.Expr], Any]
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The parameter values of ``flow`` called as ``call`` (values computed by ``value_of``)."""
    diags: list[Diagnostic] = []
    params = list(flow.params)
    values: dict[str, Any] = {}
    spans: dict[str, ast.Span] = {}
    for i, a in enumerate(call.args):
        if i >= len(params):
            diags.append(Diagnostic("F301", f"too many arguments for flow '{flow.name}': it "
                                    f"takes {len(params)}", a.span))
            break
        values[params[i].name], spans[params[i].name] = value_of(a), a.span
    names = [p.name for p in params]
    for kw in call.kwargs:
        if kw.name not in names:
            hint = did_you_mean_hint(kw.name, names)
            diags.append(Diagnostic("F303", f"flow '{flow.name}' has no parameter '{kw.name}'",
                                    kw.span, hint))
        elif kw.name in values:
            diags.append(Diagnostic("F304", f"parameter '{kw.name}' of flow '{flow.name}' is "
                                    "given twice", kw.span))
        else:
            values[kw.name], spans[kw.name] = value_of(kw.value), kw.value.span
    for p in params:
        if p.name in values:
            error = _type_error(p, values[p.name], spans[p.name], f"flow '{flow.name}' parameter")
            diags += [error] if error else []
            continue
        ok, value = default_value(p)
        if ok:
            values[p.name] = value
        else:
            diags.append(Diagnostic("F302", f"flow '{flow.name}' needs parameter '{p.name}'",
                                    call.name_span, f"call it as {flow.name}({p.name}=...)"))
            values[p.name] = sample(declared_type(p))
    return values, diags


def parse_param(text: str, t: FlowType | None) -> Any:
    """A ``--param`` value: raw text for ``str``, else a ``.flow`` literal if it is one."""
    if t is not None and t.base == "str":
        return text
    try:
        expr = parse_value(text)
    except ParseError:
        return text
    try:
        return evaluate(expr, {})
    except NotAValue:
        return text


def resolve_params(
    flow: ast.Flow, given: Mapping[str, Any], *, from_text: bool = True
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Values for a top-level flow's parameters from ``given`` (text when ``from_text``)."""
    diags: list[Diagnostic] = []
    names = [p.name for p in flow.params]
    for name in given:
        if name not in names:
            hint = did_you_mean_hint(name, names) or (
                f"flow '{flow.name}' takes: {', '.join(names) or 'no parameters'}")
            diags.append(Diagnostic("F303", f"flow '{flow.name}' has no parameter '{name}'",
                                    ast.NO_SPAN, hint))
    values: dict[str, Any] = {}
    for p in flow.params:
        if p.name in given:
            raw = given[p.name]
            value = parse_param(raw, declared_type(p)) if from_text and isinstance(raw, str) \
                else raw
            error = _type_error(p, value, ast.NO_SPAN, "parameter")
            diags += [error] if error else []
            values[p.name] = value
            continue
        ok, value = default_value(p)
        if not ok:
            diags.append(Diagnostic("F302", f"flow '{flow.name}' needs parameter '{p.name}'",
                                    ast.NO_SPAN, f"pass --param {p.name}=..."))
        values[p.name] = value
    return values, diags


def sample_params(flow: ast.Flow) -> dict[str, Any]:
    """Defaults, or a sample of the declared type, for checking a flow without running it."""
    values: dict[str, Any] = {}
    for p in flow.params:
        ok, value = default_value(p)
        values[p.name] = value if ok else sample(declared_type(p))
    return values
