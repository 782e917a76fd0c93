"""``flowc status``: workers alive, queue depths, dead letters and task rates."""

from __future__ import annotations

import time
from typing import Any

import click

from flowc.cli.options import app_options, echo_json, json_option, open_app


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
@json_option()
def status(app_spec: str | None, broker_url: str | None, as_json: bool) -> None:
    """Show workers, queue depths, dead letters and task rates."""
    from flowc.runtime.monitoring.views import Monitor
    from flowc.runtime.redis.connection import mask_url

    app = open_app(app_spec, broker_url)
    try:
        report = Monitor(app).status()
    finally:
        app.close()  # its connections (a RabbitMQ broker's among them) end with the command
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
    if queues and any(q["consumers"] is not None for q in queues):  # RabbitMQ: its counts
        click.echo(table(["queue", "ready", "delayed", "workers", "consumers"], [
            [q["name"], q["ready"], q["delayed"], q["workers"], q["consumers"]]
            for q in queues]))
    elif queues:
        click.echo(table(["queue", "ready", "delayed", "in flight", "workers", "claimed by"], [
            [q["name"], q["ready"], q["delayed"], q["in_flight"], q["workers"], q["holders"]]
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
