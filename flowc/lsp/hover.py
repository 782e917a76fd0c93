"""Hover text (Markdown): a task's signature, first docstring paragraph and the options in
force at that step; a sub-flow's parameters; a named result's statement; an option's meaning."""

from __future__ import annotations

from typing import Any

from flowc.compiler.flow.options import FLOW_NAMES
from flowc.dsl import ast
from flowc.dsl.formatter import format_expr, format_stage
from flowc.dsl.literals import quote_string
from flowc.lsp.analysis import Analysis
from flowc.lsp.locate import Target, assignment
from flowc.lsp.tasks import task_info
from flowc.lsp.vocabulary import OPTION_DOCS

_FLOW_NAME_OF = {ir: flow for flow, ir in FLOW_NAMES.items()}
"""Celery's option names (as in a task decorator) -> the ``.flow`` names the file uses."""


def hover_text(analysis: Analysis, target: Target) -> str | None:
    """Markdown for ``target``, or None when there is nothing to say."""
    module = analysis.module
    assert module is not None
    if target.kind == "call":
        sub = module.flow(target.name)
        if sub is not None:
            return f"```flow\nflow {target.name}{_params(sub)}\n```\nsub-flow of this file"
        return _task_hover(analysis, target)
    if target.kind == "flow" and isinstance(target.node, ast.Flow):
        return f"```flow\nflow {target.name}{_params(target.node)}\n```"
    if target.kind == "result" and target.flow is not None:
        stmt = assignment(target.flow, target.name)
        if stmt is not None:
            return f"```flow\n{target.name} = {format_stage(stmt.value)}\n```\nnamed result"
    if target.kind == "param" and target.flow is not None:
        param = next(p for p in target.flow.params if p.name == target.name)
        return f"```flow\n{_param(param)}\n```\nparameter of flow `{target.flow.name}`"
    if target.kind == "option" and target.name in OPTION_DOCS:
        return f"`{target.name}`: {OPTION_DOCS[target.name]}"
    return None


def _task_hover(analysis: Analysis, target: Target) -> str | None:
    info = task_info(analysis.loaded, target.name)
    if info is None:
        return None
    parts = [f"```python\n{info.signature}\n```"]
    if info.doc:
        parts.append(info.doc)
    in_force = options_in_force(analysis, info.options, target.node)
    if in_force:
        parts.append("**Options in force**\n\n" + "\n".join(
            f"- `{key} = {value}` ({origin})" for key, (value, origin) in in_force.items()))
    return "\n\n".join(parts)


def options_in_force(
    analysis: Analysis, decorator: dict[str, Any], node: ast.Node
) -> dict[str, tuple[str, str]]:
    """``{option: (value as written, where it comes from)}``: the task decorator, then the
    file's ``defaults``, then the step's own ``with`` (each overriding the one before)."""
    out: dict[str, tuple[str, str]] = {}
    for key, value in decorator.items():
        out[_FLOW_NAME_OF.get(key, key)] = (_python_value(value), "task decorator")
    module = analysis.module
    if module is not None and module.defaults is not None:
        for opt in module.defaults.options:
            out[opt.key] = (format_expr(opt.value), "defaults")
    if isinstance(node, ast.Call):
        for opt in node.options:
            out[opt.key] = (format_expr(opt.value), "this step")
    return out


def _python_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, type):  # autoretry_for=(ValueError,) and the like
        return value.__name__
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_python_value(v) for v in value) + "]"
    return repr(value)


def _params(flow: ast.Flow) -> str:
    return "(" + ", ".join(_param(p) for p in flow.params) + ")"


def _param(p: ast.Param) -> str:
    text = p.name + (f": {p.type}" if p.type else "")
    return text + (f" = {format_expr(p.default)}" if p.default is not None else "")
