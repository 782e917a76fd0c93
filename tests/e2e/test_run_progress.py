"""``flowc run`` progress a person can see: map and run counts with an ETA, a line every few
seconds without a terminal, and RETRY (with when) for a step waiting to retry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
RUN_TIMEOUT_S = 90

pytestmark = pytest.mark.process


def _run(flow: Path, broker: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOWC_") or k == "FLOWC_EMBEDDED_HOME"}  # the session's own
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{APPS}"
    return subprocess.run(
        [sys.executable, "-m", "flowc", "run", str(flow), "--broker", broker, "--workers", "1",
         "--progress-every", "0.5", *args],
        cwd=APPS, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def test_without_a_terminal_a_map_run_prints_counts_and_an_eta_every_few_seconds(
        redis_url: str, redis_client: Any, tmp_path: Path) -> None:
    flow = tmp_path / "squares.flow"
    flow.write_text('use "progress_app"\n'
                    "flow squares(n: int = 24) {\n"
                    "    items(n) -> map square(seconds=0.15) -> total()\n"
                    "}\n")
    done = _run(flow, redis_url, "--json")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("squares: RUNNING")]
    assert len(lines) >= 2, done.stderr  # one every 0.5 s of a run of about 2 s
    assert any(re.search(r" · square \d+/24 · ", line) for line in lines), lines
    assert all(re.search(r"· \d/3 steps", line) and "ETA " in line for line in lines), lines
    assert any(re.search(r"ETA ~\d+s", line) for line in lines), lines
    doc = json.loads(done.stdout)
    assert doc["result"] == sum(i * i for i in range(24))
    assert doc["nodes"]["n1"]["items"] == {"done": 24, "total": 24}


def test_a_step_waiting_to_retry_shows_retry_and_when_it_runs_next(
        redis_url: str, redis_client: Any, tmp_path: Path) -> None:
    flow = tmp_path / "flaky.flow"
    marker = tmp_path / "failed-once"
    flow.write_text('use "progress_app"\n'
                    f'flow flaky(marker: str = "{marker}") {{\n'
                    "    fail_once(marker) with retries = 1, backoff = exponential(3s, max=3s),"
                    " jitter = false\n"
                    "}\n")
    done = _run(flow, redis_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "ok"
    assert re.search(r"flaky: RUNNING · 0/1 steps · n0 RETRY in [123]s", done.stderr), \
        done.stderr
    assert " QUEUED" not in done.stderr
