"""``flowc beat``: publish the app's periodic entries (and ``.flow`` schedules) on time.

Run as many as you like against one Redis: one leads (a lease with a fencing token), the
others wait to take over; every due time is published exactly once (docs/beat.md).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowc.cli.loading import load_app
from flowc.cli.options import app_option, broker_option, reach_broker, use_broker
from flowc.runtime import signals
from flowc.runtime.app import App
from flowc.runtime.beat.entries import (
    ScheduleEntry,
    app_zone,
    entries_from_app,
    entries_from_compiled,
)
from flowc.runtime.beat.scheduler import Scheduler, load_scheduler, run_scheduler
from flowc.runtime.beat.service import Beat
from flowc.runtime.exceptions import ImproperlyConfigured
from flowc.runtime.redis.connection import mask_url
from flowc.runtime.worker.main import configure_logging

if TYPE_CHECKING:
    from flowc.compiler.flow.compile import ScheduleEntry as CompiledSchedule

FLOW_SUFFIXES = (".flow", ".yaml", ".yml")
LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                          case_sensitive=False)


def flow_entries(app: App, path: Path) -> list[ScheduleEntry]:
    """The ``schedule`` items of a ``.flow``/YAML file as beat entries (exit 1 on errors)."""
    from flowc.compiler.flow.compile import compile_schedules  # here: most beats have no file
    from flowc.dsl.diagnostics import render_all
    from flowc.runtime.project import load

    loaded = load(path)
    diags = list(loaded.diagnostics)
    compiled: list[CompiledSchedule] = []
    if loaded.module is not None and not any(d.severity == "error" for d in diags):
        compiled, more = compile_schedules(loaded.module, loaded.catalog, loaded.name)
        diags += more
    errors = [d for d in diags if d.severity == "error"]
    if errors or loaded.module is None:
        click.echo(render_all(diags, loaded.text, loaded.name, limit=len(diags)), err=True)
        click.echo(f"{len(errors)} error{'s' if len(errors) != 1 else ''} in {loaded.name}; "
                   "beat not started", err=True)
        sys.exit(1)
    if not compiled:
        raise click.UsageError(f"{loaded.name} declares no schedule")
    return entries_from_compiled(compiled, app_zone(app), loaded.name)


def load_entries(app: App, schedule_files: tuple[Path, ...]) -> list[ScheduleEntry]:
    """Entries from ``beat_schedule``/``add_periodic_task`` and every ``--schedule`` file,
    once the app's task modules are imported (autodiscovered ones may add entries), as
    Celery's beat imports them."""
    app.import_modules()
    try:
        entries = entries_from_app(app)
    except ImproperlyConfigured as e:
        raise click.UsageError(str(e)) from None
    for path in schedule_files:
        if path.suffix.lower() not in FLOW_SUFFIXES:
            raise click.BadParameter(
                f"{path} is not a .flow or YAML file; beat keeps its state in Redis, so "
                "Celery's schedule state file is not used (drop the option)",
                param_hint="--schedule")
        entries += flow_entries(app, path)
    return entries


@click.command()
@app_option(required=True)
@broker_option()
@click.option("--schedule", "schedule_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A .flow or YAML file whose schedules to run too; repeatable.")
@click.option("--dry-run", is_flag=True,
              help="Log what would be published; take no lock, write nothing.")
@click.option("--max-interval", type=float, default=None,
              help="Longest sleep between ticks in seconds (beat_max_loop_interval).")
@click.option("-l", "--loglevel", default="INFO", show_default=True, type=LOG_LEVELS)
@click.option("-S", "--scheduler", "scheduler_path", default=None,
              help="module:Class of a custom flowc.beat.Scheduler (beat_scheduler).")
def beat(app_spec: str, broker_url: str | None, schedule_files: tuple[Path, ...],
         dry_run: bool, max_interval: float | None, loglevel: str,
         scheduler_path: str | None) -> None:
    """Publish periodic tasks on time.

    Runs until SIGTERM/Ctrl-C, then hands the lease over at once.
    """
    use_broker(broker_url)  # over the App's own broker_url, here and in child processes
    app = load_app(app_spec)  # first, so a setup_logging receiver it connects is honoured
    configure_logging(loglevel)
    if max_interval is not None:
        app.conf.beat_max_loop_interval = max_interval
    scheduler_path = scheduler_path or app.conf.beat_scheduler
    if scheduler_path:
        try:
            custom = load_scheduler(scheduler_path)
        except ImproperlyConfigured as e:
            raise click.UsageError(str(e)) from None
        if custom is not None:
            app.import_modules()
            reach_broker(app, forever=True)
            _run_custom(app, custom)
            return
    entries = load_entries(app, schedule_files)  # a bad schedule fails now, broker or not
    reach_broker(app, forever=True)
    try:
        runner = Beat(app, entries, dry_run=dry_run)
    except ImproperlyConfigured as e:
        raise click.UsageError(str(e)) from None
    url = app.broker_url
    click.echo(f"flowc beat: app {app.main or '__main__'}, broker {mask_url(url)}, "
               f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, lock TTL "
               f"{runner.lock.ttl_s:g}s{' (dry run)' if dry_run else ''}", err=True)
    for entry in entries:
        click.echo(f"  . {entry.name}: {entry.schedule.describe()} -> {entry.target}", err=True)

    def on_signal(signum: int, frame: object) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signals.beat_init.send(sender=runner)
    runner.loop()


def _run_custom(app: App, cls: type[Scheduler]) -> None:
    """Run a custom scheduler (``-S``/``beat_scheduler``) until SIGTERM/Ctrl-C."""
    import threading

    stopping = threading.Event()
    scheduler = cls(app)
    click.echo(f"flowc beat: app {app.main or '__main__'}, scheduler "
               f"{cls.__module__}.{cls.__qualname__}, {len(scheduler.schedule)} entries", err=True)

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signals.beat_init.send(sender=scheduler)
    run_scheduler(scheduler, stopping)
