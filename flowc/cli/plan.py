"""``flowc plan FILE [FLOW] --param k=v``: the resolved DAG, without running anything.

One row per node: its task and arguments, what it waits for (and how each parent's result
binds), the queue and priority it will be sent with (the app's routes and task options
applied, as the runtime does), delays, expiry, retry policy and time limits; then the error
handlers. ``--json`` prints the IR itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flowc.cli.compiling import PARAM_HELP, compile_or_exit, params_from
from flowc.compiler.ir import Node, Workflow
from flowc.compiler.render import call_text
from flowc.runtime.app import App

RETRY_OPTIONS = ("max_retries", "retry_backoff", "retry_backoff_max", "retry_jitter",
                 "default_retry_delay")


def inputs_text(n: Node) -> str:
    parts = []
    if n.prepend is not None:
        parts.append(f"{n.prepend} → 1st arg")
    if n.collect is not None:
        parts.append(f"[{_shape(n.collect)}] → 1st arg")
    if n.kind == "map" and n.items is not None:
        parts.append(f"{len(n.items)} items")
    parts += [f"{src} → {name}" for name, src in sorted(n.kwarg_inputs.items())]
    parts += [f"after {src}" for src in n.after]
    return "\n".join(parts) or "—"


def _shape(shape: Any) -> str:
    if isinstance(shape, str):
        return shape
    return ", ".join(_shape(s) if isinstance(s, str) else f"[{_shape(s)}]" for s in shape)


def route(app: App | None, n: Node) -> tuple[str, str]:
    """Queue and priority the runtime will use (explicit, routes, task option, default)."""
    if app is None:
        return str(n.options.get("queue", "default")), str(n.options.get("priority", "—"))
    opts = {k: v for k, v in n.options.items() if k in ("queue", "priority")}
    try:
        message = app.build_message(n.task, [], {}, app.tasks.get(n.task), opts)
    except Exception:  # a bad option was reported by check; show what was written
        return str(n.options.get("queue", "?")), str(n.options.get("priority", "?"))
    return message.queue, str(message.priority)


def _seconds(v: Any) -> str:
    return f"{v}s" if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


RETRY_DELAYS_SHOWN = 3
CELERY_RETRY_DELAY_S = 180.0
"""Celery's ``default_retry_delay``: what a step with ``retries`` but no ``backoff`` waits."""


def retry_text(app: App | None, n: Node) -> str:
    """``3x after 1s, 2s, 4s``: how often the step retries and how long each retry waits.

    The task's retry settings with the step's overrides, as the worker applies them
    (``runtime/retry.py``); ``≤`` marks delays that jitter draws at random up to that value.
    """
    from flowc.runtime.retry import RetryPolicy, backoff_delay

    task = app.tasks.get(n.task) if app is not None else None
    step = {k: v for k, v in n.options.items() if k in RETRY_OPTIONS}
    configured = dict(step)
    if task is not None:
        configured.update({k: v for k, v in task.options.items() if k in RETRY_OPTIONS})
        configured.update({k: v for k, v in task.retry_kwargs.items() if k in RETRY_OPTIONS})
    if not configured and (task is None or not task.autoretry_for):
        return "—"
    default_delay = app.conf.task_default_retry_delay if app is not None \
        else CELERY_RETRY_DELAY_S
    policy = RetryPolicy(
        max_retries=step.get("max_retries", task.retry_kwargs.get("max_retries", task.max_retries)
                             if task is not None else None),
        default_retry_delay=float(step.get("default_retry_delay", task.default_retry_delay
                                           if task is not None else default_delay)),
        retry_backoff=step.get("retry_backoff", task.retry_backoff if task else False),
        retry_backoff_max=float(step.get("retry_backoff_max", task.retry_backoff_max
                                         if task is not None else 600.0)),
        retry_jitter=bool(step.get("retry_jitter", task.retry_jitter if task else False)),
        countdown=task.retry_kwargs.get("countdown") if task is not None else None,
        autoretry_for=())
    count = policy.max_retries
    shown = RETRY_DELAYS_SHOWN if count is None else min(count, RETRY_DELAYS_SHOWN)
    delays = []
    for attempt in range(shown):
        if policy.retry_backoff:  # the cap before jitter draws below it
            delay = backoff_delay(replace(policy, retry_jitter=False), attempt)
            jittered = policy.retry_jitter
        else:
            delay = float(policy.countdown) if policy.countdown is not None \
                else policy.default_retry_delay
            jittered = False
        delays.append(("≤" if jittered else "") + f"{delay:g}s")
    more = count is None or count > shown
    times = "∞" if count is None else f"{count}x"
    if not delays:
        return f"{times} (no retry)"
    return f"{times} after {', '.join(delays)}" + (", …" if more else "")


def delay_text(n: Node) -> str:
    o = n.options
    parts = []
    if "countdown" in o:
        parts.append(f"in {_seconds(o['countdown'])}")
    if "eta" in o:
        parts.append(f"at {o['eta']}")
    if "expires" in o:
        parts.append(f"expires {_seconds(o['expires'])}")
    if "rate_limit" in o:
        parts.append(f"rate {o['rate_limit']}")
    return "\n".join(parts) or "—"


def limits_text(n: Node) -> str:
    o = n.options
    parts = [f"{name} {_seconds(o[key])}" for key, name in
             (("time_limit", "hard"), ("soft_time_limit", "soft")) if key in o]
    return " ".join(parts) or "—"


def plan_table(wf: Workflow, app: App | None) -> Table:
    table = Table(title=f"flow {wf.name}: {len(wf.nodes)} nodes, result {wf.result}",
                  title_justify="left", show_lines=False)
    for column in ("node", "call", "inputs", "queue", "prio", "delays", "retries", "limits",
                   "on error"):
        table.add_column(column, overflow="fold")
    for n in wf.nodes:
        first = {"map": "item"}.get(n.kind) or ("↑" if n.prepend or n.collect else None)
        call = call_text(n.task.rsplit(".", 1)[-1], n.args, n.kwargs, first)
        if n.kind == "map":
            call = f"map ≤{n.max_width} {call}"
        queue, prio = route(app, n)
        cells = (n.id, call, inputs_text(n), queue, prio, delay_text(n), retry_text(app, n),
                 limits_text(n), ", ".join(n.link_error) or "—")
        table.add_row(*(escape(c) for c in cells))
    return table


def errbacks_table(wf: Workflow) -> Table:
    table = Table(title="error handlers", title_justify="left")
    for column in ("id", "call", "runs when"):
        table.add_column(column)
    for e in wf.errbacks:
        first = None if e.immutable else "failed task id"
        users = [n.id for n in wf.nodes if e.id in n.link_error]
        when = ("any node fails" if e.id in wf.on_error else "") or (
            f"{', '.join(users)} fails" if users else "—")
        table.add_row(e.id, escape(call_text(e.task.rsplit(".", 1)[-1], e.args, e.kwargs, first)),
                      when)
    return table


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("flow", required=False)
@click.option("-p", "--param", "params", multiple=True, help=PARAM_HELP)
@click.option("--params-json", default=None, help="All parameters as one JSON object.")
@click.option("--json", "as_json", is_flag=True, help="Print the compiled IR as JSON.")
def plan(file: Path, flow: str | None, params: tuple[str, ...], params_json: str | None,
         as_json: bool) -> None:
    """Show how each step of FLOW would run.

    Queue, priority, delays, retries (with their delay) and parents of every node.
    """
    loaded, wf = compile_or_exit(file, flow, params_from(params, params_json))
    if as_json:
        click.echo(wf.to_json())
        return
    console = Console(width=max(Console().width, 140), soft_wrap=False)
    console.print(plan_table(wf, loaded.app))
    if wf.errbacks:
        console.print(errbacks_table(wf))
