"""``flowc status``: workers alive, queue depths (ready, delayed, in flight), dead letters, rates.

Also home of the ``-A``/``--broker`` options the monitoring commands share.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
import orjson

from flowc.runtime.app import App

AnyCallable = Callable[..., Any]


def app_options(fn: AnyCallable) -> AnyCallable:
    """``-A module[:app]`` and ``--broker URL`` (one of them is needed)."""
    fn = click.option("--broker", "broker_url", default=None, envvar="FLOWC_BROKER_URL",
                      help="Broker URL when no -A app is given (or $FLOWC_BROKER_URL).")(fn)
    return click.option("-A", "--app", "app_spec", default=None,
                        help="module[:app] holding the App.")(fn)


def open_app(app_spec: str | None, broker_url: str | None) -> App:
    """The user's App, or a bare App on ``broker_url``; refuses to start an embedded server."""
    if app_spec:
        from flowc.cli.loading import load_app

        return load_app(app_spec)
    if not broker_url:
        raise click.UsageError("pass -A module[:app] or --broker redis://host:port/db "
                               "(or set FLOWC_BROKER_URL)")
    return App(broker=broker_url)


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    click.echo(orjson.dumps(value, option=options, default=str).decode())


def ago(ts: float) -> str:
    """``3s ago`` style age of a unix time."""
    seconds = max(0.0, time.time() - ts)
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.command()
@app_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(app_spec: str | None, broker_url: str | None, as_json: bool) -> None:
    """Show workers, queue depths, dead letters and task rates."""
    from flowc.runtime.monitoring.views import Monitor
    from flowc.runtime.redis.connection import mask_url

    app = open_app(app_spec, broker_url)
    report = Monitor(app).status()
    if as_json:
        echo_json({"broker": mask_url(app.broker_url), **report})
        return
    click.echo(f"broker: {mask_url(app.broker_url)}")
    workers = report["workers"]
    alive = [w for w in workers if w["alive"]]
    click.echo(f"\nworkers: {len(alive)} alive" +
               (f", {len(workers) - len(alive)} lost" if len(workers) > len(alive) else ""))
    if workers:
        click.echo(table(["worker", "state", "pool", "queues", "processed", "last beat"], [
            [w["name"], "alive" if w["alive"] else "LOST", w["pool"], ",".join(w["queues"]),
             w["processed"], ago(w["last_seen"])] for w in workers]))
    queues = report["queues"]
    click.echo(f"\nqueues: {len(queues)}")
    if queues:
        click.echo(table(["queue", "ready", "delayed", "in flight", "consumers"], [
            [q["name"], q["ready"], q["delayed"], q["in_flight"], q["consumers"]]
            for q in queues]))
    click.echo(f"\ndead letters: {report['dead_letters']}")
    rates = report["rates"]
    if rates["events"]:
        click.echo(f"rate (last {rates['window_s']:.0f}s): "
                   f"{rates['finished_per_min']:.0f} tasks/min finished "
                   f"({rates['succeeded_per_min']:.0f} ok, {rates['failed_per_min']:.0f} failed, "
                   f"{rates['retried_per_min']:.0f} retried)")
    else:
        click.echo("rate: no events in the last minute (start workers with -E to see rates)")
