"""``flowc schedule list``: each periodic entry and its next fire times, in its own zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from flowc.cli.beat import load_entries
from flowc.cli.loading import load_app
from flowc.cli.options import app_option, echo_json, json_option
from flowc.runtime.beat.entries import ScheduleEntry
from flowc.runtime.schedules import every

NEXT_COUNT = 5


@click.group()
def schedule() -> None:
    """Inspect periodic entries.

    From beat_schedule, add_periodic_task and .flow schedules.
    """


def _format(t: datetime, entry: ScheduleEntry) -> str:
    local = t.astimezone(entry.schedule.zone)
    with_seconds = isinstance(entry.schedule, every) and \
        entry.schedule.interval % timedelta(minutes=1) != timedelta(0)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if with_seconds else "%Y-%m-%d %H:%M %Z")


def entry_rows(entries: list[ScheduleEntry], now: datetime,
               count: int) -> list[tuple[str, str, str, str, str]]:
    """(entry, publishes, schedule, zone, next fire times) per entry, sorted by name."""
    rows = []
    for entry in sorted(entries, key=lambda e: e.name):
        times = entry.schedule.next_n(now, count)
        rows.append((entry.name, entry.target, entry.schedule.describe(),
                     str(entry.schedule.zone), "\n".join(_format(t, entry) for t in times)))
    return rows


@schedule.command("list")
@app_option(required=True)
@click.option("--schedule", "schedule_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A .flow or YAML file whose schedules to list too; repeatable.")
@click.option("-n", "--count", default=NEXT_COUNT, show_default=True, type=click.IntRange(1),
              help="How many next fire times to show per entry.")
@click.option("--now", "now_text", default=None,
              help="List fire times after this ISO instant, not now (2026-10-25T00:00Z).")
@json_option("Print the entries as JSON (next fire times in ISO 8601, in each entry's zone).")
def list_entries(app_spec: str, schedule_files: tuple[Path, ...], count: int,
                 now_text: str | None, as_json: bool) -> None:
    """List entries and their next fire times.

    Each entry with what it publishes, its schedule and zone.
    """
    app = load_app(app_spec)
    entries = load_entries(app, schedule_files)
    now = _parse_now(now_text) if now_text else datetime.now(UTC)
    if as_json:
        echo_json([{"entry": e.name, "publishes": e.target, "schedule": e.schedule.describe(),
                    "zone": str(e.schedule.zone),
                    "next": [t.astimezone(e.schedule.zone).isoformat()
                             for t in e.schedule.next_n(now, count)]}
                   for e in sorted(entries, key=lambda e: e.name)])
        return
    console = Console(width=160)
    if not entries:
        console.print("no periodic entries (set app.conf.beat_schedule or pass --schedule)")
        return
    table = Table(title=f"{len(entries)} periodic entr{'y' if len(entries) == 1 else 'ies'}",
                  show_lines=True)
    for column in ("entry", "publishes", "schedule", "zone", f"next {count}"):
        table.add_column(column, overflow="fold")
    for row in entry_rows(entries, now, count):
        table.add_row(*row)
    console.print(table)


def _parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO datetime: {text!r}", param_hint="--now") from None
    if value.tzinfo is None:
        raise click.BadParameter("give a zone, e.g. 2026-10-25T00:00+00:00", param_hint="--now")
    return value
