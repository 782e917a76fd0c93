"""``flowc call`` and ``flowc result``: Celery's ``celery call`` / ``celery result``."""

from __future__ import annotations

import json
from typing import Any

import click

from flowc.cli.status import app_options, echo_json, open_app


def _json_arg(value: str | None, what: str, kind: type) -> Any:
    if value is None:
        return kind()
    try:
        parsed = json.loads(value)
    except ValueError as e:
        example = "'[2, 3]'" if kind is list else """'{"x": 1}'"""
        raise click.BadParameter(f"not JSON ({e}); e.g. {example}", param_hint=what) from None
    if not isinstance(parsed, kind):
        raise click.BadParameter(f"must be a JSON {'array' if kind is list else 'object'}",
                                 param_hint=what)
    return parsed


@click.command()
@click.argument("name")
@app_options
@click.option("-a", "--args", "args_json", default=None, help='Positional arguments, JSON: [2, 3]')
@click.option("-k", "--kwargs", "kwargs_json", default=None,
              help='Keyword arguments, JSON: {"x": 1}')
@click.option("--eta", default=None, help="ISO 8601 time to run at (naive = UTC).")
@click.option("--countdown", type=float, default=None, help="Seconds to wait before running.")
@click.option("--expires", default=None,
              help="Seconds from now, or an ISO 8601 time, after which it is not run.")
@click.option("--serializer", type=click.Choice(["json", "pickle"]), default=None)
@click.option("-Q", "--queue", default=None, help="Queue to send to.")
@click.option("--priority", type=int, default=None, help="0..9 (see docs: priorities).")
def call(name: str, app_spec: str | None, broker_url: str | None, args_json: str | None,
         kwargs_json: str | None, eta: str | None, countdown: float | None,
         expires: str | None, serializer: str | None, queue: str | None,
         priority: int | None) -> None:
    """Send task NAME and print its id.

    The task need not be importable here.
    """
    from flowc.runtime.exceptions import FlowcRuntimeError

    app = open_app(app_spec, broker_url)
    options: dict[str, Any] = {k: v for k, v in (
        ("eta", eta), ("countdown", countdown), ("serializer", serializer), ("queue", queue),
        ("priority", priority)) if v is not None}
    if expires is not None:
        try:
            options["expires"] = float(expires)
        except ValueError:
            options["expires"] = expires
    try:
        result = app.send_task(name, _json_arg(args_json, "--args", list),
                               _json_arg(kwargs_json, "--kwargs", dict), **options)
    except (FlowcRuntimeError, TypeError) as e:
        raise click.UsageError(str(e)) from None
    click.echo(result.id)


@click.command()
@click.argument("task_id")
@app_options
@click.option("-t", "--task", "task_name", default=None, help="The task's name (informational).")
@click.option("--traceback", "show_traceback", is_flag=True,
              help="Print the failed task's traceback instead of its result.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait (default: forever).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def result(task_id: str, app_spec: str | None, broker_url: str | None, task_name: str | None,
           show_traceback: bool, timeout: float | None, as_json: bool) -> None:
    """Wait for a task's result and print it.

    A failure prints the exception and exits 1.
    """
    from flowc.runtime.exceptions import TimeoutError as ResultTimeout

    app = open_app(app_spec, broker_url)
    handle = app.AsyncResult(task_id, task_name)
    try:
        value = handle.get(timeout=timeout, propagate=False)
    except ResultTimeout as e:
        raise click.ClickException(str(e)) from None
    if show_traceback:
        click.echo(handle.traceback or "")
        return
    if isinstance(value, BaseException):
        click.echo(f"{type(value).__name__}: {value}", err=True)
        raise SystemExit(1)
    if as_json:
        echo_json(value)
    else:
        click.echo(repr(value))
