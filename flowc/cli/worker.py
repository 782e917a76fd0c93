"""``flowc worker``: start consuming queues (Celery's ``celery -A proj worker`` flags)."""

from __future__ import annotations

import sys

import click

from flowc.cli.loading import load_app
from flowc.runtime.redis.connection import mask_url
from flowc.runtime.worker.main import POOLS, Worker, WorkerOptions, configure_logging, queues_from


@click.command()
@click.option("-A", "--app", "app_spec", required=True, help="module[:app] holding the App.")
@click.option("-Q", "--queues", default="", help="Comma-separated queues to consume.")
@click.option("-c", "--concurrency", type=int, default=None,
              help="Processes/threads/coroutines at once (default: CPU count).")
@click.option("-P", "--pool", type=click.Choice(POOLS), default="prefork", show_default=True)
@click.option("-l", "--loglevel", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                                case_sensitive=False))
@click.option("-n", "--hostname", default=None, help="Node name, e.g. name@%h.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the banner.")
@click.option("-B", "--beat", "run_beat", is_flag=True,
              help="Also run beat in this process (small deployments; see docs/beat.md).")
@click.option("-E", "--events", "send_events", is_flag=True,
              help="Send task events (monitoring, dashboard): worker_send_task_events.")
def worker(app_spec: str, queues: str, concurrency: int | None, pool: str, loglevel: str,
           hostname: str | None, quiet: bool, send_events: bool, run_beat: bool) -> None:
    """Consume tasks from queues until SIGTERM/Ctrl-C (warm shutdown; twice for cold)."""
    app = load_app(app_spec)  # first, so a setup_logging receiver it connects is honoured
    configure_logging(loglevel)
    if send_events:
        app.conf.worker_send_task_events = True
    if run_beat:
        from flowc.cli.beat import load_entries

        load_entries(app, ())  # a bad beat_schedule fails here, with the fix in the message
    w = Worker(app, WorkerOptions(queues=queues_from(queues), concurrency=concurrency,
                                  pool=pool, hostname=hostname, loglevel=loglevel,
                                  beat=run_beat))
    app.import_modules()  # before the banner, so it lists tasks from `include`/`imports`
    url = app.broker_url
    shown = mask_url(url)
    if app.broker_is_embedded:
        shown = f"embedded server at {url} (no broker configured)"
    if not quiet:
        click.echo(w.banner(shown), err=True)
    sys.exit(w.start())
