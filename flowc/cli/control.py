"""``flowc control revoke|rate_limit|shutdown|pool_grow|pool_shrink|add_consumer|
cancel_consumer|ping``: commands to workers."""

from __future__ import annotations

from typing import Any

import click

from flowc.cli.options import app_options, echo_json, group_app_options, json_option, open_app


@click.group()
@group_app_options
def control(app_spec: str | None, broker_url: str | None) -> None:
    """Send a command to running workers.

    Each worker's reply is printed.

    -A/--broker go after the command (flowc control ping -A proj); before it works too.
    """


def _common(fn: Any) -> Any:
    fn = json_option()(fn)
    fn = click.option("-t", "--timeout", "timeout_s", type=float, default=1.0,
                      show_default=True, help="Seconds to wait for replies.")(fn)
    fn = click.option("-d", "--destination", multiple=True,
                      help="Only these workers (name@host, or a process name); repeatable.")(fn)
    return app_options(fn)


def _send(app_spec: str | None, broker_url: str | None, op: str, args: dict[str, Any],
          destination: tuple[str, ...], timeout_s: float, as_json: bool,
          quiet_if_none: bool = False) -> None:
    from flowc.runtime.monitoring.control_channel import ControlClient

    app = open_app(app_spec, broker_url)
    replies = ControlClient(app).broadcast(op, args, destination=destination or None,
                                           timeout_s=timeout_s)
    if as_json:
        echo_json(replies)
        return
    if not replies:
        if quiet_if_none:
            click.echo("no worker replied (the command is stored in Redis and still applies)")
            return
        raise click.ClickException(f"no worker replied within {timeout_s}s")
    failed = False
    for reply in replies:
        if "error" in reply:
            failed = True
            click.echo(f"-> {reply['worker']}: ERROR {reply['error']}")
        else:
            click.echo(f"-> {reply['worker']}: {reply['ok']}")
    if failed:
        raise SystemExit(1)


@control.command()
@click.argument("task_ids", nargs=-1, required=True)
@click.option("--terminate", is_flag=True,
              help="Also kill the pool process running it (prefork pool).")
@_common
def revoke(task_ids: tuple[str, ...], terminate: bool, app_spec: str | None,
           broker_url: str | None, destination: tuple[str, ...], timeout_s: float,
           as_json: bool) -> None:
    """Revoke tasks so they never run.

    With --terminate, also kill them if running.
    """
    app = open_app(app_spec, broker_url)
    app.control.revoke(list(task_ids), terminate=terminate)
    if not as_json:
        click.echo(f"revoked {len(task_ids)} task(s)" + (" (terminate)" if terminate else ""))
    _send(app_spec, broker_url, "revoke", {"ids": list(task_ids), "terminate": terminate},
          destination, timeout_s, as_json, quiet_if_none=True)


@control.command("rate_limit")
@click.argument("task")
@click.argument("rate")
@_common
def rate_limit(task: str, rate: str, app_spec: str | None, broker_url: str | None,
               destination: tuple[str, ...], timeout_s: float, as_json: bool) -> None:
    """Set TASK's rate limit in running workers.

    RATE is like 10/m, 5/s or 100/h; 0 or none removes the limit.
    """
    value = None if rate.lower() in ("0", "none", "") else rate
    _send(app_spec, broker_url, "rate_limit", {"task": task, "rate": value}, destination,
          timeout_s, as_json)


@control.command()
@_common
def shutdown(app_spec: str | None, broker_url: str | None, destination: tuple[str, ...],
             timeout_s: float, as_json: bool) -> None:
    """Stop workers (warm shutdown).

    Workers finish running tasks, return prefetched ones, and exit.
    """
    _send(app_spec, broker_url, "shutdown", {}, destination, timeout_s, as_json)


@control.command("pool_grow")
@click.argument("n", type=int, default=1)
@_common
def pool_grow(n: int, app_spec: str | None, broker_url: str | None,
              destination: tuple[str, ...], timeout_s: float, as_json: bool) -> None:
    """Run N more tasks at once.

    For threads and asyncio pools.
    """
    _send(app_spec, broker_url, "pool_grow", {"n": n}, destination, timeout_s, as_json)


@control.command("pool_shrink")
@click.argument("n", type=int, default=1)
@_common
def pool_shrink(n: int, app_spec: str | None, broker_url: str | None,
                destination: tuple[str, ...], timeout_s: float, as_json: bool) -> None:
    """Run N fewer tasks at once.

    For threads and asyncio pools.
    """
    _send(app_spec, broker_url, "pool_shrink", {"n": n}, destination, timeout_s, as_json)


@control.command("add_consumer")
@click.argument("queue")
@_common
def add_consumer(queue: str, app_spec: str | None, broker_url: str | None,
                 destination: tuple[str, ...], timeout_s: float, as_json: bool) -> None:
    """Make workers consume QUEUE too.

    Until they restart: the queues given at start come back then."""
    _send(app_spec, broker_url, "add_consumer", {"queue": queue}, destination, timeout_s,
          as_json)


@control.command("cancel_consumer")
@click.argument("queue")
@_common
def cancel_consumer(queue: str, app_spec: str | None, broker_url: str | None,
                    destination: tuple[str, ...], timeout_s: float, as_json: bool) -> None:
    """Make workers stop consuming QUEUE.

    A worker keeps at least one queue: cancelling its last one is refused."""
    _send(app_spec, broker_url, "cancel_consumer", {"queue": queue}, destination, timeout_s,
          as_json)


@control.command()
@_common
def ping(app_spec: str | None, broker_url: str | None, destination: tuple[str, ...],
         timeout_s: float, as_json: bool) -> None:
    """Ask every worker process to answer."""
    _send(app_spec, broker_url, "ping", {}, destination, timeout_s, as_json)
