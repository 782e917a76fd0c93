"""``flowc worker``: start consuming queues (Celery's ``celery -A proj worker`` flags)."""

from __future__ import annotations

import sys

import click

from flowc.cli.loading import load_app
from flowc.cli.options import app_option, broker_option, reach_broker, use_broker
from flowc.runtime.redis.connection import mask_url
from flowc.runtime.redis.embedded import host_quietly
from flowc.runtime.worker.main import POOLS, Worker, WorkerOptions, configure_logging, queues_from


@click.command()
@app_option(required=True)
@broker_option()
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
@click.option("--autoscale", default=None, metavar="MAX,MIN",
              help="prefork: grow to MAX processes while messages wait, back to MIN when idle.")
@click.option("--max-tasks-per-child", type=click.IntRange(min=1), default=None,
              help="prefork: replace a pool process after it ran this many tasks.")
@click.option("--max-memory-per-child", type=click.IntRange(min=1), default=None,
              metavar="KIB", help="prefork: replace a pool process whose resident memory "
              "exceeds this many KiB after a task.")
def worker(app_spec: str, broker_url: str | None, queues: str, concurrency: int | None,
           pool: str, loglevel: str, hostname: str | None, quiet: bool, send_events: bool,
           run_beat: bool, autoscale: str | None, max_tasks_per_child: int | None,
           max_memory_per_child: int | None) -> None:
    """Consume tasks from queues.

    Runs until SIGTERM/Ctrl-C (warm shutdown; a second one is cold).
    """
    scale = _autoscale(autoscale) if autoscale else None
    if pool != "prefork" and (scale or max_tasks_per_child or max_memory_per_child):
        raise click.UsageError("--autoscale, --max-tasks-per-child and --max-memory-per-child "
                               "apply to pool processes: use them with -P prefork")
    use_broker(broker_url)  # over the App's own broker_url, here and in child processes
    host_quietly()  # with no broker configured, hosting the embedded server is its job
    app = load_app(app_spec)  # first, so a setup_logging receiver it connects is honoured
    configure_logging(loglevel)
    reach_broker(app, forever=True)  # like Celery's worker: wait for the server, saying so
    max_tasks_per_child = max_tasks_per_child or app.conf.worker_max_tasks_per_child
    max_memory_per_child = max_memory_per_child or app.conf.worker_max_memory_per_child
    if send_events:
        app.conf.worker_send_task_events = True
    if run_beat:
        from flowc.cli.beat import load_entries

        load_entries(app, ())  # a bad beat_schedule fails here, with the fix in the message
    w = Worker(app, WorkerOptions(queues=queues_from(queues), concurrency=concurrency,
                                  pool=pool, hostname=hostname, loglevel=loglevel,
                                  beat=run_beat, autoscale=scale,
                                  max_tasks_per_child=max_tasks_per_child,
                                  max_memory_per_child=max_memory_per_child))
    app.import_modules()  # before the banner, so it lists tasks from `include`/`imports`
    url = app.broker_url
    shown = mask_url(url)
    if app.broker_is_embedded:
        shown = f"embedded server at {url} (no broker configured)"
    if not quiet:
        click.echo(w.banner(shown), err=True)
    sys.exit(w.start())


def _autoscale(value: str) -> tuple[int, int]:
    """Parse ``--autoscale=max,min`` (or ``max``: min 0 as in Celery, here at least 1)."""
    parts = [p.strip() for p in value.split(",")]
    try:
        high = int(parts[0])
        low = int(parts[1]) if len(parts) > 1 else 1
    except (ValueError, IndexError):
        raise click.BadParameter("write MAX,MIN, e.g. --autoscale=10,3",
                                 param_hint="--autoscale") from None
    if len(parts) > 2 or high < 1 or not 1 <= low <= high:
        raise click.BadParameter("write MAX,MIN with 1 <= MIN <= MAX, e.g. --autoscale=10,3",
                                 param_hint="--autoscale")
    return high, low
