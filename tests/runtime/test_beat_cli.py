"""``flowc schedule list``, ``flowc beat --dry-run``, config errors, and a ``.flow`` schedule run
end to end (compiled by the compiler, published by beat, run by a real worker)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from click.testing import CliRunner
from flowc.runtime.app import App
from flowc.runtime.beat.service import Beat

from flowc.cli import main
from flowc.cli.beat import flow_entries
from tests.runtime.beat_support import dues
from tests.waiting import wait_until

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
FLOW_FILE = APPS_DIR / "beat_schedules.flow"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def in_apps_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(APPS_DIR)
    monkeypatch.syspath_prepend(str(APPS_DIR))


def test_schedule_list_shows_next_fire_times_in_each_entry_zone_across_dst(
        in_apps_dir: None) -> None:
    result = CliRunner().invoke(main, ["schedule", "list", "-A", "beat_app", "--schedule",
                                       str(FLOW_FILE), "--now", "2026-10-24T12:00Z", "-n", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("4 periodic entries", "every-second", "every-second-too", "nightly", "pulse",
                 "beat_app.tick('schedule')", "flow nightly (2 steps)",
                 "cron '30 2 * * *' (every day at 02:30, Europe/Berlin)", "every 1s",
                 # the night clocks fall back: 02:30 CEST once, then 02:30 CET
                 "2026-10-25 02:30 CEST", "2026-10-26 02:30 CET", "2026-10-27 02:30 CET",
                 "2026-10-24 12:00:01 UTC"):
        assert text in out, out


def test_schedule_list_json_gives_each_entrys_next_fire_times_in_its_zone(
        in_apps_dir: None) -> None:
    result = CliRunner().invoke(main, ["schedule", "list", "-A", "beat_app", "--schedule",
                                       str(FLOW_FILE), "--now", "2026-10-24T12:00Z", "-n", "2",
                                       "--json"])
    assert result.exit_code == 0, result.output
    entries = {e["entry"]: e for e in json.loads(result.output)}
    assert entries["nightly"]["next"] == ["2026-10-25T02:30:00+02:00",
                                          "2026-10-26T02:30:00+01:00"]
    assert entries["nightly"]["zone"] == "Europe/Berlin"


def test_a_bad_beat_schedule_stops_beat_with_the_fix_in_the_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad_beat_app.py").write_text(
        "from flowc import App\n"
        "app = App('bad')\n"
        "app.conf.beat_schedule = {\n"
        "    'a': {'task': 't.a', 'schedule': '61 2 * * *'},\n"
        "    'b': {'task': 't.b', 'schedule': 5, 'kwarg': {}},\n"
        "    'c': {'task': 't.c', 'schedule': 5, 'catchup': 'onse'},\n"
        "}\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["beat", "-A", "bad_beat_app"])
    assert result.exit_code == 2
    for text in ("invalid beat_schedule (3 bad entries)",
                 "beat entry 'a': invalid cron expression '61 2 * * *': invalid crontab "
                 "(1 problem): minute 61 is out of range 0-59; minute takes 0-59",
                 "unknown key 'kwarg'; did you mean 'kwargs'?",
                 "unknown catchup policy 'onse'; did you mean 'once'?"):
        assert text in result.output, result.output


def test_schedule_list_includes_entries_an_autodiscovered_tasks_module_adds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an app whose periodic task is added in a tasks module it autodiscovers (lazily)
    (tmp_path / "discovered_beat_pkg").mkdir()
    (tmp_path / "discovered_beat_pkg" / "__init__.py").write_text("")
    (tmp_path / "discovered_beat_pkg" / "tasks.py").write_text(
        "from discovered_beat_app import app\n\n"
        "@app.task\ndef ping():\n    return 'pong'\n\n"
        "app.add_periodic_task(60.0, ping.s(), name='ping every minute')\n")
    (tmp_path / "discovered_beat_app.py").write_text(
        "from flowc import App\napp = App('discovered')\n"
        "app.autodiscover_tasks(['discovered_beat_pkg'])\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # When beat's entries are listed, Then the tasks module was imported first (as Celery's beat)
    result = CliRunner().invoke(main, ["schedule", "list", "-A", "discovered_beat_app"])
    assert result.exit_code == 0, result.output
    assert "ping every minute" in result.output


def test_a_celery_schedule_state_file_is_refused_with_the_reason(
        tmp_path: Path, in_apps_dir: None) -> None:
    state_file = tmp_path / "celerybeat-schedule"
    state_file.write_bytes(b"")
    result = CliRunner().invoke(main, ["beat", "-A", "beat_app", "--schedule", str(state_file)])
    assert result.exit_code == 2
    assert "beat keeps its state in Redis" in result.output


def test_beat_dry_run_logs_what_it_would_publish_and_writes_nothing(
        redis_url: str, redis_client: redis.Redis, process_reaper: Any, tmp_path: Path) -> None:
    log = tmp_path / "dry.log"
    env = {**os.environ, "FLOWC_BROKER_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        proc = process_reaper.spawn(
            [sys.executable, "-m", "flowc", "beat", "-A", "beat_app", "--schedule", str(FLOW_FILE),
             "--dry-run"], cwd=str(APPS_DIR), env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: "would publish pulse" in log.read_text(), 20, "a dry-run publish",
               log.read_text)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    text = log.read_text()
    assert "4 entries, lock TTL 2s (dry run)" in text
    assert "would publish every-second due" in text and "would publish pulse due" in text
    assert redis_client.keys("*") == []


def test_a_flow_schedule_runs_its_chain_on_a_real_worker(
        app: App, in_apps_dir: None, redis_client: redis.Redis, start_worker: Any) -> None:
    entries = flow_entries(app, FLOW_FILE)
    assert [(e.name, e.source) for e in entries] == [
        ("nightly", f"{FLOW_FILE}:4"), ("pulse", f"{FLOW_FILE}:5")]
    worker = start_worker("-P", "solo", "-Q", "celery,beat_other", module="beat_app")
    beat = Beat(app, entries)
    try:
        # Given beat runs from 02:29:59 Berlin time; when its clock reaches 02:30
        beat.tick(datetime(2026, 7, 1, 2, 29, 59, tzinfo=BERLIN))
        report = beat.tick(datetime(2026, 7, 1, 2, 30, 0, 100_000, tzinfo=BERLIN))
        # Then the nightly chain is submitted as one workflow run and the worker runs it
        [nightly] = [p for p in report.published if p.entry == "nightly"]
        assert nightly.due == datetime(2026, 7, 1, 2, 30, tzinfo=BERLIN)
        assert app.workflow(nightly.run_id).get(timeout=20) == "nightly", worker.log
        # And the interval schedule publishes its task with the file's options
        pulse = [p for p in report.published if p.entry == "pulse"]
        assert len(pulse) == 1
        assert app.workflow(pulse[0].run_id).get(timeout=20) == "pulse", worker.log
        assert dues(redis_client, "pulse", "beat_other") == []  # consumed by the worker
    finally:
        beat.lock.release()
        worker.stop()
