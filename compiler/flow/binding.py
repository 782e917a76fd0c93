"""Binding a ``.flow`` call's arguments to a node's fields, and checking literal types.

The binding rules (see :mod:`flowc.compiler.flow.lower`): a run-time result in first position is
``prepend`` (one id) or ``collect`` (a shape); anywhere else, and every literal after it, binds
by the parameter's name from the task's signature (``kwargs``/``kwarg_inputs``).
"""

from __future__ import annotations

import inspect
from typing import Any

from flowc.compiler.flow.scope import BIND, NO_ENTRIES, NO_ITEMS, Item
from flowc.compiler.flow.types import accepts_type_of, annotation_text, describe_value
from flowc.compiler.flow.values import has_name
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic


class ArgumentBinder:
    """Binds arguments for one lowerer; caches whether a call shape fits a signature.

    Reports into the lowerer's list of diagnostics, not through a method of the lowerer: that
    would be a reference cycle, and a cycle keeps the whole lowered IR alive until the garbage
    collector's next full pass (which then has to walk it).
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        self._plans: dict[tuple[str, int, frozenset[str]], _Plan | None] = {}

    def error(self, code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, hint))

    def bind(self, call: ast.Call, task: str, sig: inspect.Signature | None,
             items: list[Item], keywords: dict[str, Item]) -> dict[str, Any]:
        """The node's ``args``/``kwargs``/``prepend``/``collect``/``kwarg_inputs``."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        inputs: dict[str, str] = {}
        fields: dict[str, Any] = {}
        by_name = False
        for i, item in enumerate(items):
            if item.kind == "lit" and not by_name:
                args.append(item.value)
            elif item.kind == "node" and i == 0 and not (item.named and _by_name_ok(sig)):
                fields["prepend" if isinstance(item.value, str) else "collect"] = item.value
            else:
                by_name = True
                pname = self._param_name(call, task, sig, i, item)
                if pname is not None:
                    self._put(pname, item, kwargs, inputs)
        for name, item in keywords.items():
            if name in kwargs or name in inputs:
                span = item.expr.span if item.expr is not None else call.span
                self.error("F304", f"argument '{name}' of {task} is given twice", span,
                           "a result passed by position already fills it")
                continue
            self._put(name, item, kwargs, inputs)
        return {"args": args or NO_ITEMS, "kwargs": kwargs or NO_ENTRIES,
                "kwarg_inputs": inputs or NO_ENTRIES, **fields}

    def _put(self, name: str, item: Item, kwargs: dict[str, Any], inputs: dict[str, str]) -> None:
        if item.kind == "lit":
            kwargs[name] = item.value
        elif isinstance(item.value, str):
            inputs[name] = item.value
        else:
            span = item.expr.span if item.expr is not None else ast.NO_SPAN
            self.error(BIND, f"a list of results can only be passed as the first argument "
                       f"(here: '{name}')", span,
                       "move it first, or collect it in a step of its own: [a, b] -> step()")

    def _param_name(self, call: ast.Call, task: str, sig: inspect.Signature | None, i: int,
                    item: Item) -> str | None:
        """The parameter at position ``i``, for passing a result (or later literal) by name."""
        span = item.expr.span if item.expr is not None else call.span
        if sig is None:
            self.error(BIND, f"cannot tell which parameter of {task} argument {i + 1} is",
                       span, "pass results by keyword: step(name=result)")
            return None
        params = list(sig.parameters.values())
        if i >= len(params) or params[i].kind in (params[i].VAR_KEYWORD, params[i].KEYWORD_ONLY):
            self.error("F301", f"too many positional arguments for {task}{sig}", span)
            return None
        p = params[i]
        if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
            self.error(BIND, f"a result cannot bind to {task}'s parameter '{p.name}' by name",
                       span, "results bind by name; give the task a named parameter")
            return None
        return p.name

    def check_types(self, call: ast.Call, task: str, sig: inspect.Signature,
                    items: list[Item], keywords: dict[str, Item]) -> None:
        """Literal arguments (as written, no names) against simple annotations (F305)."""
        if not keywords:
            for item in items:
                if item.kind == "lit":
                    break
            else:
                return  # only results (a chain step): nothing to check, no plan to look up
        key = (task, len(items), frozenset(keywords))
        if key not in self._plans:
            self._plans[key] = _plan(sig, items, keywords)
        plan = self._plans[key]
        if plan is None:
            return  # the arity check reports it; types of misplaced arguments would only confuse
        positional, named = plan
        for p, item in zip(positional, items, strict=True):
            if p is not None:
                self._check_type(call, p, item)
        for name, item in keywords.items():
            p = named[name]
            if p is not None:
                self._check_type(call, p, item)

    def _check_type(self, call: ast.Call, p: inspect.Parameter, item: Item) -> None:
        if item.kind != "lit" or p.annotation is p.empty or not _pure_literal(item.expr):
            return
        if not accepts_type_of(p.annotation, item.value):
            assert item.expr is not None
            self.error("F305", f"{call.name}() parameter '{p.name}' expects "
                       f"{annotation_text(p.annotation)}, got {describe_value(item.value)}",
                       item.expr.span)


_Plan = tuple[tuple[inspect.Parameter | None, ...], dict[str, inspect.Parameter | None]]


def _plan(sig: inspect.Signature, items: list[Item], keywords: dict[str, Item]) -> _Plan | None:
    """The parameter each argument of a call of this shape fills, or None if it does not bind.

    One plan serves every call of a task with the same number of positional arguments and the
    same keyword names (cached by :class:`ArgumentBinder`).
    """
    try:
        sig.bind(*items, **keywords)
    except TypeError:
        return None
    params = list(sig.parameters.values())
    positional = tuple(
        p if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else None
        for p in params[:len(items)]
    ) + (None,) * max(0, len(items) - len(params))
    return positional, {name: sig.parameters.get(name) for name in keywords}


def _by_name_ok(sig: inspect.Signature | None) -> bool:
    """Whether the first parameter can take a named result by name."""
    if sig is None or not sig.parameters:
        return False
    first = next(iter(sig.parameters.values()))
    return first.kind == first.POSITIONAL_OR_KEYWORD


def _pure_literal(expr: ast.Node | None) -> bool:
    return expr is not None and not has_name(expr)
