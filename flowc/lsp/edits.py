"""Edits of a document: rename a named result or a flow, and format the file as ``flowc fmt``."""

from __future__ import annotations

import re

from flowc.dsl import ast
from flowc.dsl.formatter import format_module
from flowc.lsp.analysis import Analysis
from flowc.lsp.locate import Target, calls_of, references

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RENAMEABLE = ("result", "flow")


class RenameRefused(ValueError):
    """Raised when a rename cannot be done; the message says why, for the editor to show."""


def renameable(target: Target | None, module: ast.Module) -> bool:
    """Whether ``target`` is a named result or a flow, by its name or a call of it."""
    if target is None:
        return False
    return target.kind in RENAMEABLE or (target.kind == "call" and module.flow(target.name)
                                         is not None)


def rename_spans(analysis: Analysis, target: Target, new_name: str) -> list[ast.Span]:
    """Every span to replace by ``new_name`` to rename ``target`` consistently."""
    module = analysis.module
    assert module is not None
    if not NAME.fullmatch(new_name):
        raise RenameRefused(f"'{new_name}' is not a name: use letters, digits and '_'")
    if target.kind == "flow" or (target.kind == "call" and module.flow(target.name)):
        if module.flow(new_name) is not None:
            raise RenameRefused(f"a flow named '{new_name}' already exists")
        flow = module.flow(target.name)
        assert flow is not None
        return [flow.name_span, *calls_of(module, target.name)]
    if target.kind == "result" and target.flow is not None:
        if new_name in {p.name for p in target.flow.params} or any(
                isinstance(s, ast.Assign) and s.name == new_name for s in target.flow.body):
            raise RenameRefused(f"'{new_name}' is already a name in flow '{target.flow.name}'")
        return list(references(target.flow, target.name))
    raise RenameRefused("only a named result or a flow can be renamed")


def formatted(analysis: Analysis) -> str | None:
    """The document in ``flowc fmt``'s layout; None when it has syntax errors or is YAML."""
    if analysis.has_syntax_errors or analysis.path.suffix.lower() != ".flow":
        return None
    assert analysis.module is not None
    return format_module(analysis.module)
