"""``flowc purge``: delete every waiting message (ready and delayed) of some queues."""

from __future__ import annotations

import click

from flowc.cli.options import app_options, open_app


@click.command()
@app_options
@click.option("-Q", "--queues", default="", help="Comma-separated queues (default: all).")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
def purge(app_spec: str | None, broker_url: str | None, queues: str, force: bool) -> None:
    """Delete waiting messages.

    Tasks already claimed by a worker are not touched.
    """
    from flowc.runtime.monitoring.views import Monitor
    from flowc.runtime.worker.main import queues_from

    app = open_app(app_spec, broker_url)
    monitor = Monitor(app)
    names = queues_from(queues) or monitor.queue_names()
    if not names:
        click.echo("no queues")
        return
    waiting = sum(q.ready + q.delayed for q in monitor.queues(names))
    if not waiting:
        click.echo(f"nothing to purge in {', '.join(names)}")
        return
    if not force:
        click.confirm(f"delete {waiting} waiting message(s) from {', '.join(names)}?",
                      abort=True)
    removed = monitor.purge(names)
    click.echo(f"purged {removed} message(s) from {len(names)} queue(s)")
