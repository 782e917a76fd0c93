"""``flowc events``: print task, worker and workflow events as they arrive (``tail -f``)."""

from __future__ import annotations

import time

import click
import orjson

from flowc.cli.options import app_options, open_app
from flowc.runtime.monitoring.events import format_event


@click.command()
@app_options
@click.option("--since", default=None,
              help="Also print past events: 5m, 1h, 30s, or 'all' (default: new ones only).")
@click.option("--type", "types", multiple=True, help="Only these event types (repeatable; "
              "a prefix like 'task-' or 'worker-' works).")
@click.option("-n", "--count", type=int, default=None, help="Stop after N events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--traceback", "show_tb", is_flag=True, help="Print failure tracebacks.")
def events(app_spec: str | None, broker_url: str | None, since: str | None,
           types: tuple[str, ...], count: int | None, as_json: bool, show_tb: bool) -> None:
    """Print events as they arrive.

    Workers send events when started with -E.
    """
    app = open_app(app_spec, broker_url)
    coordination = app.coordination
    last_id = _start_id(since)
    shown = 0
    if not app.conf.worker_send_task_events and last_id == "$" and not as_json:
        click.echo("waiting for events (workers send them when started with -E)", err=True)
    try:
        while count is None or shown < count:
            last_id, batch = coordination.read_events(last_id, block_ms=1000)
            for event in batch:
                if types and not any(str(event.get("type", "")).startswith(t) for t in types):
                    continue
                click.echo(orjson.dumps(event, default=str).decode() if as_json
                           else format_event(event))
                if show_tb and event.get("traceback") and not as_json:
                    click.echo("    " + str(event["traceback"]).rstrip().replace("\n", "\n    "))
                shown += 1
                if count is not None and shown >= count:
                    return
    except KeyboardInterrupt:
        return


def _start_id(since: str | None) -> str:
    if since is None:
        return "$"
    if since == "all":
        return "0-0"
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(since[:-1]) * units[since[-1]] if since[-1] in units else float(since)
    except (ValueError, KeyError, IndexError):
        raise click.BadParameter(f"{since!r}: use e.g. 30s, 5m, 1h or all",
                                 param_hint="--since") from None
    return f"{int((time.time() - seconds) * 1000)}-0"
