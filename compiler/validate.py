"""Validation entry points: ``validate`` (collect), ``check`` (raise), ``compile_canvas``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from flowc.compiler.canvas.lower import canvas_name, lower
from flowc.compiler.canvas.signature import Canvas
from flowc.compiler.checks.passes import PASSES, STRUCTURE
from flowc.compiler.diagnostics import CompileError
from flowc.compiler.dispatch import TaskRegistry, as_registry
from flowc.compiler.ir import Workflow
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.gc_pause import gc_paused

RegistryLike: TypeAlias = TaskRegistry | Mapping[str, Callable[..., Any]]


def validate(wf: Workflow, registry: RegistryLike | None = None) -> list[Diagnostic]:
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
        wf = lower(canvas, args, kwargs, options, on_error=on_error,
                   name=canvas_name(canvas))
        return check(wf, registry)
