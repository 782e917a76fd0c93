"""Pass: each call matches its task's Python signature, counting what parents supply.

``inspect.Signature.bind`` is tried with the node's own arguments plus placeholders for the
parent-supplied ones: one extra positional argument first when the node receives a value
(``prepend``/``collect``, or the element of a map), one keyword per ``kwarg_inputs`` entry.
Errbacks that are not immutable get Celery's ``(request, exc, traceback)`` or, failing that, the
failed task id prepended. Tasks whose signature the registry cannot give are skipped.
"""

from __future__ import annotations

import inspect
from typing import Any

from flowc.compiler.diagnostics import (
    DUPLICATE_ARGUMENT,
    MISSING_ARGUMENT,
    TOO_MANY_ARGUMENTS,
    UNKNOWN_KEYWORD,
    finding,
)
from flowc.compiler.dispatch import TaskRegistry
from flowc.compiler.ir import Errback, Node, Workflow
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint


class _Supplied:
    """Placeholder for an argument a parent supplies at run time."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return self.what


_NO_NAMES: frozenset[str] = frozenset()


def check_arguments(wf: Workflow, registry: TaskRegistry | None = None) -> list[Diagnostic]:
    if registry is None:
        return []
    problems: list[Diagnostic] = []
    ok: set[tuple[str, int, frozenset[str]]] = set()
    for n in wf.nodes:
        # Binding depends only on the task, the positional count and the keyword names.
        names = frozenset(n.kwargs) | frozenset(n.kwarg_inputs) \
            if n.kwargs or n.kwarg_inputs else _NO_NAMES
        receives = n.prepend is not None or n.collect is not None or n.kind == "map"
        key = (n.task, len(n.args) + receives, names)
        if key in ok:
            continue
        sig = registry.signature(n.task)
        if sig is not None:
            found = _check_node(n, sig)
            problems.extend(found)
            if not found:
                ok.add(key)
    for e in wf.errbacks:
        sig = registry.signature(e.task)
        if sig is not None:
            problems.extend(_check_errback(e, sig))
    return problems


def _receives_value(n: Node) -> bool:
    return n.prepend is not None or n.collect is not None or n.kind == "map"


def _try_bind(sig: inspect.Signature, args: list[Any], kwargs: dict[str, Any]) -> str | None:
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        return str(e)
    return None


def _check_node(n: Node, sig: inspect.Signature) -> list[Diagnostic]:
    kwargs: dict[str, Any] = dict(n.kwargs)
    for name, source in n.kwarg_inputs.items():
        kwargs[name] = _Supplied(f"<result of {source}>")
    incoming = _receives_value(n)
    what = "each element" if n.kind == "map" else "the previous result"
    args = [_Supplied(f"<{what}>"), *n.args] if incoming else list(n.args)
    error = _try_bind(sig, args, kwargs)
    if error is None:
        return []
    hint = _hint(sig, error)
    if hint is None and incoming and _try_bind(sig, list(n.args), kwargs) is None:
        hint = (
            f"{what} is passed as the first argument; make the step immutable "
            "(si() in Python, ! in .flow) if it should not receive it"
        )
    elif hint is None and incoming:
        hint = f"counting {what}, passed as the first argument"
    message = f"arguments do not match {n.task}{sig}: {error}"
    return [finding(_code(error), message, hint, node=n.id, span=n.span)]


def _check_errback(e: Errback, sig: inspect.Signature) -> list[Diagnostic]:
    if e.immutable:
        candidates = [list(e.args)]
    else:
        celery_style = [_Supplied("<request>"), _Supplied("<exc>"), _Supplied("<traceback>")]
        candidates = [[*celery_style, *e.args], [_Supplied("<task id>"), *e.args]]
    errors = [_try_bind(sig, args, dict(e.kwargs)) for args in candidates]
    if any(error is None for error in errors):
        return []
    message = f"errback arguments do not match {e.task}{sig}: {errors[0]}"
    hint = _hint(sig, str(errors[0])) or (
        "an errback receives (request, exc, traceback) or the failed task id first; "
        "make it immutable with si() to pass only its own arguments"
    )
    return [finding(_code(str(errors[0])), message, hint, node=e.id, span=e.span)]


def _code(error: str) -> str:
    """The diagnostic code for an ``inspect.Signature.bind`` error message."""
    if "missing a required" in error:
        return MISSING_ARGUMENT
    if "unexpected keyword argument" in error:
        return UNKNOWN_KEYWORD
    if "multiple values" in error:
        return DUPLICATE_ARGUMENT
    return TOO_MANY_ARGUMENTS


def _hint(sig: inspect.Signature, error: str) -> str | None:
    """A did-you-mean for an unexpected keyword argument."""
    marker = "unexpected keyword argument "
    if marker not in error:
        return None
    bad = error.split(marker, 1)[1].strip("'\"")
    names = [p.name for p in sig.parameters.values() if p.kind != p.VAR_POSITIONAL]
    return did_you_mean_hint(bad, names)
