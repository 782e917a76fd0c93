"""``to_yaml(Module) -> str``: writes the YAML form, so .flow -> YAML -> .flow round-trips.

Choices mirror ``yaml_loader``: calls use the short form ``{task: [args]}`` or
``{task: {kwargs}}`` when they can, durations outside options carry ``!duration``, and strings
that the loader would read as something else (``$x``, ``30s`` in options) are escaped/quoted.
"""

from __future__ import annotations

from typing import Any

import yaml
from flowc.dsl import ast
from flowc.dsl.formatter import format_expr
from flowc.dsl.literals import format_duration
from flowc.dsl.yaml_values import _DURATION_LIKE, DURATION_TAG

_RESERVED = {"chain", "group", "chord", "for", "map", "call", "let", "with", "immutable"}


class _Tagged(str):
    """A duration written with the ``!duration`` tag."""


class _Quoted(str):
    """A string that must be quoted so the loader keeps it a string."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that knows the two marker string types."""


_Dumper.add_representer(
    _Tagged, lambda d, v: d.represent_scalar(DURATION_TAG, str(v))
)
_Dumper.add_representer(
    _Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style='"')
)


def to_yaml(module: ast.Module) -> str:
    """The YAML form of ``module`` (comments are not carried over)."""
    doc: dict[str, Any] = {}
    if module.uses:
        names = [u.module for u in module.uses]
        doc["use"] = names[0] if len(names) == 1 else names
    if module.defaults is not None:
        doc["defaults"] = _options(module.defaults.options)
    if module.flows:
        doc["flows"] = {f.name: _flow(f) for f in module.flows}
    if module.schedules:
        doc["schedules"] = {s.name: _schedule(s) for s in module.schedules}
    return yaml.dump(
        doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
        default_flow_style=None,
    )


def _flow(flow: ast.Flow) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if flow.params:
        out["params"] = {p.name: _param(p) for p in flow.params}
    out["do"] = [_statement(s) for s in flow.body]
    if flow.on_error is not None:
        out["on_error"] = _stage(flow.on_error)
    return out


def _param(p: ast.Param) -> Any:
    if p.default is None:
        return p.type
    out: dict[str, Any] = {}
    if p.type is not None:
        out["type"] = p.type
    out["default"] = _value(p.default)
    return out


def _schedule(s: ast.Schedule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(s.expr, ast.Duration):
        out["every"] = format_duration(s.expr.seconds)
    else:
        out["cron"] = s.expr
    if s.tz is not None:
        out["tz"] = s.tz
    out["run"] = _stage(s.target)
    return out


def _statement(stmt: ast.Statement) -> Any:
    if isinstance(stmt, ast.Assign):
        return {"let": stmt.name, "run": _stage(stmt.value)}
    return _stage(stmt)


def _stage(stage: ast.Stage) -> Any:
    if isinstance(stage, ast.Call):
        return _call(stage)
    if isinstance(stage, ast.Ref):
        return "$" + stage.name
    if isinstance(stage, ast.Chain):
        return {"chain": [_stage(s) for s in stage.steps]}
    if isinstance(stage, ast.Group):
        return {"group": [_stage(s) for s in stage.items]}
    if isinstance(stage, ast.Comprehension):
        return {"for": stage.var, "in": _iterable(stage.iterable), "do": _stage(stage.item)}
    out: dict[str, Any] = {"map": _call(stage.call)}
    if stage.max_width is not None:
        out["max"] = stage.max_width
    return out


def _call(call: ast.Call) -> Any:
    args = [_value(a) for a in call.args]
    kwargs = {k.name: _value(k.value) for k in call.kwargs}
    if call.name in _RESERVED or (args and kwargs):
        out: dict[str, Any] = {"call": call.name}
        if args:
            out["args"] = args
        if kwargs:
            out["kwargs"] = kwargs
    elif not args and not kwargs and not call.options and not call.immutable:
        return call.name
    else:
        out = {call.name: args if args else kwargs if kwargs else None}
    if call.options:
        out["with"] = _options(call.options)
    if call.immutable:
        out["immutable"] = True
    return out


def _iterable(it: ast.Expr | ast.Range) -> Any:
    if isinstance(it, ast.Range):
        if it.start == ast.Literal(0) and it.step == ast.Literal(1):
            return {"range": _value(it.stop)}
        return {"range": [_value(it.start), _value(it.stop), _value(it.step)]}
    return _value(it)


def _options(options: tuple[ast.Option, ...]) -> dict[str, Any]:
    return {o.key: _option_value(o.value) for o in options}


def _option_value(value: ast.Expr) -> Any:
    if isinstance(value, ast.Duration):
        return format_duration(value.seconds)
    if isinstance(value, ast.Func):
        return format_expr(value)
    if isinstance(value, ast.Literal) and isinstance(value.value, str):
        text = value.value
        if _DURATION_LIKE.fullmatch(text):
            return _Quoted(text)
    return _value(value)


def _value(value: ast.Expr) -> Any:
    if isinstance(value, ast.Literal):
        v = value.value
        return "$" + v if isinstance(v, str) and v.startswith("$") else v
    if isinstance(value, ast.Duration):
        return _Tagged(format_duration(value.seconds))
    if isinstance(value, ast.Ref):
        return "$" + value.name
    if isinstance(value, ast.Placeholder):
        return "$_"
    if isinstance(value, ast.ListExpr):
        return [_value(i) for i in value.items]
    if isinstance(value, ast.DictExpr):
        return {k: _value(v) for k, v in value.items}
    return format_expr(value)  # a Func outside options cannot come from the parser
