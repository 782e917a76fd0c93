"""``flowc inspect active|reserved|scheduled|registered``: ask every worker, gather replies."""

from __future__ import annotations

import click

from flowc.cli.options import app_options, echo_json, json_option, open_app
from flowc.cli.status import table

WHAT = ("active", "reserved", "scheduled", "registered", "active_queues", "stats")


@click.command()
@click.argument("what", type=click.Choice(WHAT))
@app_options
@click.option("-d", "--destination", multiple=True,
              help="Only these workers (name@host, or a process name); repeatable.")
@click.option("-t", "--timeout", "timeout_s", type=float, default=1.0, show_default=True,
              help="Seconds to wait for replies.")
@json_option()
def inspect(what: str, app_spec: str | None, broker_url: str | None,
            destination: tuple[str, ...], timeout_s: float, as_json: bool) -> None:
    """Ask workers what they run, hold, know and consume.

    active: running now; reserved: claimed, not started; registered: known tasks;
    active_queues: queues consumed now; stats: pool, concurrency, prefetch, rate limits.

    ``scheduled`` lists countdown/eta tasks: they wait in Redis, not in worker memory, so it
    is read from Redis and needs no worker.
    """
    from flowc.runtime.monitoring.control_channel import ControlClient
    from flowc.runtime.monitoring.views import Monitor

    app = open_app(app_spec, broker_url)
    if what == "scheduled":
        items = Monitor(app).scheduled()
        if as_json:
            echo_json(items)
        elif not items:
            click.echo("no scheduled (countdown/eta) tasks")
        else:
            click.echo(table(["eta", "queue", "task", "id", "args"], [
                [_when(i["eta"]), i["queue"], i.get("name"), i.get("id"), i.get("args")]
                for i in items]))
        return
    replies = ControlClient(app).broadcast(f"inspect_{what}", destination=destination or None,
                                           timeout_s=timeout_s)
    if as_json:
        echo_json(replies)
        return
    if not replies:
        raise click.ClickException(f"no worker replied within {timeout_s}s")
    for reply in replies:
        if "error" in reply:
            click.echo(f"-> {reply['worker']}: ERROR {reply['error']}")
            continue
        items = reply["ok"]
        if isinstance(items, dict):  # stats
            click.echo(f"-> {reply['worker']}: " + ", ".join(
                f"{k}={v}" for k, v in items.items()))
            continue
        click.echo(f"-> {reply['worker']}: {len(items)} {what.replace('_', ' ')}")
        for item in items:
            if isinstance(item, str):
                click.echo(f"   * {item}")
            else:
                click.echo(f"   * {item.get('name')}[{item.get('id')}]"
                           + (f" args={item['args']} kwargs={item['kwargs']}"
                              if "args" in item else ""))


def _when(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
