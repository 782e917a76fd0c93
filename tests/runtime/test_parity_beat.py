"""Celery's schedule objects and a custom Scheduler hook (issue 20)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.runtime.schedules import ScheduleError

from flowc import App
from flowc.schedules import crontab, schedule, solar
from tests.waiting import WorkerProcess, wait_until

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
NOW = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


def at_noon() -> datetime:
    return NOW


def test_schedule_is_due_run_every_after_the_last_run() -> None:
    every30 = schedule(run_every=30, nowfun=at_noon)
    assert every30.is_due(NOW - timedelta(seconds=31)) == (True, 30.0)
    assert every30.is_due(NOW - timedelta(seconds=10)) == (False, 20.0)
    assert every30.remaining_estimate(NOW) == timedelta(seconds=30)
    assert every30.seconds == 30.0 and every30.run_every == timedelta(seconds=30)


def test_crontab_is_due_and_remaining_estimate_like_celery() -> None:
    hourly = crontab(minute=0, nowfun=at_noon)
    assert hourly.is_due(datetime(2026, 1, 1, 11, 0, tzinfo=UTC)) == (True, 3570.0)
    assert hourly.is_due(datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) == (False, 3570.0)
    assert hourly.remaining_estimate(datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) == \
        timedelta(minutes=59, seconds=30)


def test_crontab_with_an_app_takes_its_timezone() -> None:
    app = App("tz")
    app.conf.timezone = "Europe/Berlin"
    daily = crontab(minute=0, hour=13, app=app, nowfun=at_noon)  # 13:00 Berlin = 12:00 UTC
    assert daily.remaining_estimate(datetime(2026, 1, 1, 11, 59, tzinfo=UTC)) == \
        timedelta(seconds=-30)


def test_solar_is_refused_with_what_to_use_instead() -> None:
    with pytest.raises(ScheduleError, match="(?s)not supported.*use a crontab"):
        solar("sunrise", 52.5, 13.4)


def test_celery_schedule_objects_drive_flowc_beat_entries() -> None:
    from flowc.runtime.beat.entries import entries_from_app

    app = App("b")
    app.conf.beat_schedule = {"often": {"task": "t.add", "schedule": schedule(run_every=10)},
                              "daily": {"task": "t.add", "schedule": crontab(minute=0, hour=3)}}
    entries = {e.name: e for e in entries_from_app(app)}
    assert entries["often"].schedule.next_after(NOW) == datetime(2026, 1, 1, 12, 0, 40,
                                                                 tzinfo=UTC)
    assert entries["daily"].schedule.next_after(NOW) == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def test_an_unloadable_scheduler_is_a_usage_error(redis_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "flowc", "beat", "-A", "parity_app", "-S", "nowhere:Nope"],
        cwd=str(APPS_DIR), env={**os.environ, "FLOWC_BROKER_URL": redis_url},
        capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "cannot load beat scheduler 'nowhere:Nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_custom_scheduler_publishes_its_entries(
        start_worker: Callable[..., WorkerProcess], redis_url: str, redis_client: redis.Redis,
        process_reaper: Any, tmp_path: Path) -> None:
    start_worker("-P", "solo", module="parity_app")
    log = tmp_path / "beat.log"
    with open(log, "wb") as out:
        beat = process_reaper.spawn(
            [sys.executable, "-m", "flowc", "beat", "-A", "parity_app",
             "-S", "parity_app:ListScheduler"],
            cwd=str(APPS_DIR), env={**os.environ, "FLOWC_BROKER_URL": redis_url},
            stdout=out, stderr=subprocess.STDOUT)
    def started() -> list[dict[str, Any]]:
        raw = redis_client.lrange("parity:events", 0, -1)
        return [e for e in map(json.loads, raw) if e["kind"] == "before_start"]

    runs = wait_until(lambda: r if len(r := started()) >= 3 else [], 20, "three scheduled runs",
                      log.read_text)
    beat.send_signal(signal.SIGTERM)
    assert beat.wait(10) == 0
    assert all(r["args"] == [40, 2] for r in runs)
    assert "parity_app.ListScheduler" in log.read_text()


@pytest.mark.unit
def test_on_after_configure_runs_each_receiver_once_at_the_next_conf_read() -> None:
    app = App("configured", set_as_current=False)
    app.conf.timezone = "UTC"  # read before the receiver connects: nothing to send yet
    calls: list[Any] = []

    @app.on_after_configure.connect
    def setup(sender: App, **kwargs: Any) -> None:
        calls.append((sender, kwargs["source"]))

    assert calls == []
    settings = app.conf
    assert calls == [(app, settings)]
    app.conf.enable_utc = True
    assert len(calls) == 1
