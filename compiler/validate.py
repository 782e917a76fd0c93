"""Validation entry points: ``validate`` (collect), ``check`` (raise), ``compile_canvas``."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

from flowc.compiler.diagnostics import CompileError, Problem
from flowc.compiler.dispatch import TaskRegistry, as_registry
from flowc.compiler.ir import Workflow
from flowc.compiler.lower_canvas import lower
from flowc.compiler.passes import PASSES, STRUCTURE
from flowc.compiler.signature import Canvas

RegistryLike: TypeAlias = TaskRegistry | Mapping[str, Callable[..., Any]]


def validate(wf: Workflow, registry: RegistryLike | None = None) -> list[Problem]:
    """Every problem of ``wf``, in pass order; without a registry, task checks are skipped."""
    reg = as_registry(registry) if registry is not None else None
    problems = STRUCTURE(wf, reg)
    if problems:
        return problems
    for run in PASSES:
        problems.extend(run(wf, reg))
    return problems


def check(wf: Workflow, registry: RegistryLike | None = None) -> Workflow:
    """Return ``wf`` if it is valid; raise ``CompileError`` listing every problem otherwise."""
    problems = validate(wf, registry)
    if problems:
        raise CompileError(problems)
    return wf


def compile_canvas(
    canvas: Canvas,
    registry: RegistryLike | None = None,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    on_error: Sequence[Canvas] = (),
) -> Workflow:
    """Lower a canvas (called with ``args``/``kwargs``/``options``) and check it."""
    with gc_paused():
        wf = lower(canvas, args, kwargs, options, on_error=on_error)
        return check(wf, registry)


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while a workflow is compiled and submitted.

    Lowering, checking and planning a 10,000-node workflow allocate a few hundred thousand
    small containers that form no reference cycles; each allocation burst triggers collections
    that walk every live object (the caller's canvas included), which cost a quarter of a large
    submit. Reference counting still frees everything as usual. Re-entrant and thread-safe: the
    collector is re-enabled when the last holder leaves, and only if it was enabled before.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()
