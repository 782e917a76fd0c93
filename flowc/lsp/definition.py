"""Go to definition: a task to its Python function, a sub-flow call to its flow, a named
result or parameter to where it is introduced."""

from __future__ import annotations

from pathlib import Path

from flowc.dsl import ast
from flowc.lsp.analysis import Analysis
from flowc.lsp.locate import Target, assignment
from flowc.lsp.ranges import name_span
from flowc.lsp.tasks import task_info


def definition(analysis: Analysis, target: Target) -> tuple[Path, ast.Span] | None:
    """The file and span that define ``target``, or None when it is defined nowhere known."""
    module = analysis.module
    assert module is not None
    if target.kind == "call":
        sub = module.flow(target.name)
        if sub is not None:
            return analysis.path, sub.name_span
        info = task_info(analysis.loaded, target.name)
        if info is None or info.source is None:
            return None
        return info.source, ast.Span(info.line, 1, info.line, 1)
    if target.kind == "flow" and isinstance(target.node, ast.Flow):
        return analysis.path, target.node.name_span
    if target.flow is None:
        return None
    if target.kind == "result":
        stmt = assignment(target.flow, target.name)
        return (analysis.path, name_span(stmt.span, stmt.name)) if stmt is not None else None
    if target.kind == "param":
        param = next(p for p in target.flow.params if p.name == target.name)
        return analysis.path, name_span(param.span, param.name)
    return None
