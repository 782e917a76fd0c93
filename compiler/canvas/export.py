"""Exporting a Python canvas to ``.flow``: ``export_flow(canvas, name) -> ast.Module``.

The result compiles back to the same IR as :func:`flowc.compiler.canvas.lower.lower` gives for
the canvas (tests check this): signatures become calls by short task name (``use`` lists the
modules of the task names), ``si`` becomes ``!``, chains ``->``, groups ``[...]``, chords a group
followed by the body, ``fanout`` a ``map ... max N``. Options set on a composite are pushed down
to every task inside it that does not set them itself (what lowering does anyway); Celery's
option names become the language's (``max_retries`` -> ``retries``...). A ``link_error`` on one
signature becomes its ``on_error`` option.

Some canvases have no ``.flow`` spelling: ``link`` callbacks, an errback on a composite, a
fanout over fixed items, values that are not JSON literals, tasks from two modules with the same
short name. ``export_flow`` raises ``ExportError`` saying which.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowc.compiler.canvas.primitives import chain, chord, fanout, group
from flowc.compiler.canvas.signature import LINK, LINK_ERROR, Canvas, Signature
from flowc.dsl import ast
from flowc.dsl.errors import FlowcError

FLOW_NAME_OF = {
    "max_retries": "retries",
    "time_limit": "timeout",
    "soft_time_limit": "soft_timeout",
    "retry_jitter": "jitter",
    "default_retry_delay": "retry_delay",
}
DURATION_OPTIONS = ("countdown", "expires", "time_limit", "soft_time_limit",
                    "default_retry_delay", "retry_backoff_max")


class ExportError(FlowcError):
    """Raised when a canvas uses something the ``.flow`` language cannot express."""


def export_flow(canvas: Canvas, name: str = "main") -> ast.Module:
    """A module with one flow ``name`` meaning ``canvas``; format it with ``format_module``."""
    exporter = _Exporter()
    stage = exporter.stage(canvas, {})
    uses = tuple(ast.Use(m) for m in sorted(exporter.modules))
    return ast.Module(uses=uses, flows=(ast.Flow(name, body=(stage,)),))


class _Exporter:
    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.short: dict[str, str] = {}

    def stage(self, c: Canvas, inherited: dict[str, Any]) -> ast.Stage:
        if c.options.get(LINK):
            raise ExportError(f"link callbacks have no .flow form: {c!r}")
        opts = {**inherited, **{k: v for k, v in c.options.items() if k not in (LINK, LINK_ERROR)}}
        if isinstance(c, Signature):
            return self.call(c, opts)
        if c.options.get(LINK_ERROR):
            raise ExportError("an errback on a chain or group has no .flow form; put "
                              "'on error -> handler()' in the flow, or on_error on each step")
        if c.immutable:
            raise ExportError(f"an immutable composite has no .flow form: {c!r}")
        if isinstance(c, chain):
            if not c.tasks:
                raise ExportError("an empty chain has nothing to run")
            steps = [self.stage(t, opts) for t in c.tasks]
            return steps[0] if len(steps) == 1 else ast.Chain(tuple(_flatten(steps)))
        if isinstance(c, group):
            return ast.Group(tuple(self.stage(t, opts) for t in c.tasks))
        if isinstance(c, chord):
            header = ast.Group(tuple(self.stage(t, opts) for t in c.header.tasks))
            if c.body is None:
                return header
            return ast.Chain(tuple(_flatten([header, self.stage(c.body, opts)])))
        if isinstance(c, fanout):
            if c.static_items is not None:
                raise ExportError("a fanout over fixed items has no .flow form; pass the list "
                                  "from a flow parameter: items -> map step()")
            call = self.call(c.sig, opts)
            return ast.Map(call, c.max_width)
        raise ExportError(f"cannot export {type(c).__name__}")

    def call(self, sig: Signature, opts: dict[str, Any]) -> ast.Call:
        module, _, short = sig.task.rpartition(".")
        if self.short.setdefault(short, sig.task) != sig.task:
            raise ExportError(f"two tasks are both called {short!r}: {self.short[short]} and "
                              f"{sig.task}")
        if module:
            self.modules.add(module)
        options = _options({**opts, **{k: v for k, v in sig.options.items()
                                       if k not in (LINK, LINK_ERROR)}})
        errbacks = sig.options.get(LINK_ERROR) or []
        if len(errbacks) > 1:
            raise ExportError(f"{sig.task} has {len(errbacks)} errbacks; .flow allows one")
        if errbacks:
            options += (ast.Option("on_error", self.handler(errbacks[0])),)
        return ast.Call(
            short, tuple(_expr(a) for a in sig.args),
            tuple(ast.Keyword(k, _expr(v)) for k, v in sig.kwargs.items()),
            options, sig.immutable,
        )

    def handler(self, eb: Canvas) -> ast.Func:
        if not isinstance(eb, Signature) or eb.immutable or eb.options:
            raise ExportError(f"errback {eb!r}: only a plain task call exports to on_error")
        call = self.call(eb, {})
        return ast.Func(call.name, call.args, call.kwargs)


def _flatten(steps: list[ast.Stage]) -> list[ast.Stage]:
    out: list[ast.Stage] = []
    for s in steps:
        out.extend(s.steps if isinstance(s, ast.Chain) else [s])
    return out


def _options(opts: dict[str, Any]) -> tuple[ast.Option, ...]:
    out = []
    backoff, cap = opts.get("retry_backoff"), opts.get("retry_backoff_max")
    if backoff is not None and not isinstance(backoff, bool):
        args: tuple[ast.Expr, ...] = (_duration(backoff),)
        kwargs = (ast.Keyword("max", _duration(cap)),) if cap is not None else ()
        out.append(ast.Option("backoff", ast.Func("exponential", args, kwargs)))
        opts = {k: v for k, v in opts.items() if k not in ("retry_backoff", "retry_backoff_max")}
    for key, value in opts.items():
        expr = _duration(value) if key in DURATION_OPTIONS and _number(value) else _expr(value)
        out.append(ast.Option(FLOW_NAME_OF.get(key, key), expr))
    return tuple(out)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _duration(v: Any) -> ast.Expr:
    if not _number(v) or v <= 0:
        return _expr(v)
    return ast.Duration(float(v))


def _expr(v: Any) -> ast.Expr:
    if v is None or isinstance(v, bool | int | float | str):
        return ast.Literal(v)
    if isinstance(v, dt.datetime | dt.date):
        return ast.Literal(v.isoformat())
    if isinstance(v, list | tuple):
        return ast.ListExpr(tuple(_expr(x) for x in v))
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return ast.DictExpr(tuple((k, _expr(x)) for k, x in v.items()))
    raise ExportError(f"{v!r} is not a literal a .flow file can hold")
