"""CLI conventions: -A/--app, --broker and --json sit on the command that uses them (groups take
them before the subcommand too), help lines are whole sentences, ``status`` counts right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner
from flowc.runtime.app import App

from flowc.cli import main

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
HELP_WIDTH = 80


def _groups() -> list[list[str]]:
    ctx = click.Context(main)
    return [[]] + [[name] for name in main.list_commands(ctx)
                   if isinstance(main.get_command(ctx, name), click.Group)]


@pytest.mark.unit
@pytest.mark.parametrize("group", _groups(), ids=lambda g: " ".join(["flowc", *g]))
def test_no_command_summary_is_cut_in_an_80_column_help(group: list[str]) -> None:
    result = CliRunner().invoke(main, [*group, "--help"], terminal_width=HELP_WIDTH)
    assert result.exit_code == 0, result.output
    listing = result.output.split("Commands:", 1)[1]
    cut = [line for line in listing.splitlines() if line.rstrip().endswith("...")]
    assert not cut, cut


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.mark.redis
@pytest.mark.parametrize("args", [
    ["dlq", "list", "--broker", "{url}"], ["dlq", "--broker", "{url}", "list"],
    ["dlq", "list", "--json", "--broker", "{url}"],
    ["control", "ping", "-t", "0.1", "--broker", "{url}"],
    ["control", "--broker", "{url}", "ping", "-t", "0.1"],
    ["status", "--json", "--broker", "{url}"], ["inspect", "active", "--json", "--broker", "{url}",
                                               "-t", "0.1"],
], ids=" ".join)
def test_broker_and_json_are_accepted_after_the_subcommand_and_before_it(
        args: list[str], redis_url: str, redis_client: Any) -> None:
    result = _invoke(*[a.format(url=redis_url) for a in args])
    assert "No such option" not in result.output, result.output
    assert result.exit_code in (0, 1), result.output  # 1: no worker replied (none runs)
    if "--json" in args:
        json.loads(result.output)


@pytest.mark.redis
def test_dlq_list_json_reports_the_total(redis_url: str, redis_client: Any) -> None:
    result = _invoke("dlq", "list", "--json", "--broker", redis_url)
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output) == {"total": 0, "letters": []}


@pytest.mark.unit
def test_check_json_is_the_same_as_format_json() -> None:
    by_format = _invoke("check", "examples/etl.flow", "--format", "json")
    by_flag = _invoke("check", "examples/etl.flow", "--json")
    assert by_format.exit_code == by_flag.exit_code == 0
    assert json.loads(by_flag.output) == json.loads(by_format.output)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOWC_") or k == "FLOWC_EMBEDDED_HOME"}  # the session's own
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{APPS}"
    env.update(extra)
    return env


@pytest.mark.process
@pytest.mark.parametrize("command", ["worker", "beat"])
def test_worker_and_beat_take_broker(command: str, process_reaper: Any) -> None:
    url = "redis://127.0.0.1:1/7"
    proc = process_reaper.spawn([sys.executable, "-m", "flowc", command, "-A", "sample_app",
                                 "--broker", url], cwd=APPS, env=_env(),
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    line = proc.stderr.readline()
    assert f"cannot reach the broker at {url}" in line, line


@pytest.mark.process
def test_status_counts_live_workers_per_queue_and_names_claim_holders(
        redis_url: str, redis_client: Any, process_reaper: Any) -> None:
    # Given two live worker processes on the default queue
    for _ in range(2):
        process_reaper.spawn([sys.executable, "-m", "flowc", "worker", "-A", "sample_app",
                              "-P", "solo", "--quiet"], cwd=APPS,
                             env=_env(FLOWC_BROKER_URL=redis_url),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = App("probe", broker=redis_url)
    try:
        app.send_task("sample_app.add", [1, 2]).get(timeout=30)  # the queue exists, is served
        deadline = time.monotonic() + 30
        while True:
            report = orjson.loads(_invoke("status", "--json", "--broker", redis_url).output)
            alive = [w for w in report["workers"] if w["alive"]]
            if len(alive) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        app.close()
    # Then the queue counts both, and the table says what the number means
    celery = next(q for q in report["queues"] if q["name"] == "celery")
    assert (celery["workers"], celery["holders"]) == (2, 0), celery
    text = _invoke("status", "--broker", redis_url).output
    assert "workers  claimed by" in text and "consumers" not in text
