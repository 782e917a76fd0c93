"""Producer before worker, with no broker configured (issue 19, item 4).

A producer that finds no server starts the shared embedded one, says so at WARNING with what to
do, and what it queues outlives it: the server keeps its data (AOF) in the user's shared home,
so a ``flowc worker`` started later takes it over and runs the work. A worker that joined a
producer's server starts it again, on the same socket and data, when that producer exits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from flowc.runtime.redis.embedded import EMBEDDED_URL_ENV, EmbeddedServer, EmbeddedServerError
from flowc.runtime.redis.rendezvous import HOME_ENV
from flowc.runtime.redis.socket_ping import ping

from flowc import App
from tests.waiting import WorkerProcess, wait_until

TASKS = '''
from pathlib import Path
from flowc import App

app = App("later")


@app.task
def mark(path: str) -> str:
    Path(path).write_text("ran")
    return "ran"
'''

SEND_AND_EXIT = "import sys; from later_tasks import mark; print(mark.delay(sys.argv[1]).id)"

SEND_AND_STAY = textwrap.dedent("""
    import sys
    from later_tasks import mark
    print(mark.delay(sys.argv[1]).id, flush=True)
    sys.stdin.readline()  # stays, owning the server, until its stdin closes
""")


@pytest.fixture
def home() -> Iterator[Path]:
    """The user's shared home for this test: short, since the server's socket lives in it."""
    path = Path(tempfile.mkdtemp(prefix="flowc-h-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    """No broker configured anywhere; the task module ``later_tasks`` importable."""
    (tmp_path / "later_tasks.py").write_text(TASKS)
    env = {k: v for k, v in os.environ.items()
           if k not in (EMBEDDED_URL_ENV, "FLOWC_BROKER_URL", "FLOWC_RESULT_BACKEND")}
    env.update({HOME_ENV: str(home), "PYTHONPATH": str(tmp_path), "PYTHONUNBUFFERED": "1"})
    return env


def _server_pid(home: Path) -> int | None:
    """The pid of the server running on ``home``, if one does."""
    try:
        pid = int((home / "server.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) and ping(str(home / "redis.sock")) else None


def _start_worker(reaper: Any, env: dict[str, str], cwd: Path, *args: str) -> WorkerProcess:
    log_path = cwd / "worker.log"
    with open(log_path, "wb") as out:
        proc = reaper.spawn([sys.executable, "-m", "flowc", "worker", "-A", "later_tasks",
                             "-l", "INFO", *args],
                            cwd=str(cwd), env=env, stdout=out, stderr=subprocess.STDOUT)
    return WorkerProcess(proc, log_path)


def test_a_task_sent_before_any_worker_runs_on_the_worker_started_after_the_producer_exited(
    process_reaper: Any, env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    # Given a producer that sends a task with no broker configured and no server running
    marker = tmp_path / "ran"
    producer = subprocess.run([sys.executable, "-c", SEND_AND_EXIT, str(marker)], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert producer.returncode == 0, producer.stderr
    task_id = producer.stdout.strip()
    # Then it said, at WARNING, that it started a server of its own and what to do
    assert "no broker configured" in producer.stderr
    assert "flowc worker" in producer.stderr and "broker_url" in producer.stderr
    # and its server stopped with it
    assert _server_pid(home) is None
    # When a worker starts afterwards
    worker = _start_worker(process_reaper, env, tmp_path, "-P", "solo")
    wait_until(lambda: marker.exists() or not worker.alive, 30, "the queued task to run",
               lambda: worker.log)
    server_pid = _server_pid(home)
    assert server_pid is not None, worker.log
    process_reaper.track(server_pid)
    # Then it ran the task the producer queued, and its result is where the producer looks
    app = App("check", broker=f"unix://{home}/redis.sock")
    try:
        assert app.AsyncResult(task_id).get(timeout=10) == "ran"
    finally:
        app.close()
    assert "started an embedded server" not in worker.log  # a worker hosting it is no news
    assert worker.stop() == 0
    wait_until(lambda: not psutil.pid_exists(server_pid), 10, "the worker's server to stop")


def test_a_worker_that_joined_a_producers_server_starts_it_again_when_the_producer_exits(
    process_reaper: Any, env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    # Given a producer that started the server, and a worker that joined it and ran its task
    first, second = tmp_path / "first", tmp_path / "second"
    producer = process_reaper.spawn([sys.executable, "-c", SEND_AND_STAY, str(first)], env=env,
                                    cwd=tmp_path, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert producer.stdout.readline().strip()
    producers_server = _server_pid(home)
    assert producers_server is not None
    process_reaper.track(producers_server)
    worker = _start_worker(process_reaper, env, tmp_path, "-c", "1")  # prefork
    wait_until(lambda: first.exists() or not worker.alive, 30, "the first task to run",
               lambda: worker.log)
    # When the producer exits (its server stops with it)
    producer.stdin.close()
    assert producer.wait(timeout=30) == 0
    wait_until(lambda: not psutil.pid_exists(producers_server), 10, "the producer's server to stop")

    # Then the worker starts the server again, on the same socket, as its own
    def revived() -> int | None:
        pid = _server_pid(home)
        try:
            return pid if pid is not None and psutil.Process(pid).ppid() == worker.proc.pid \
                else None
        except psutil.NoSuchProcess:
            return None

    server_pid = wait_until(revived, 15, "the worker to start the server again",
                            lambda: worker.log)
    process_reaper.track(server_pid)
    assert "started it again" in worker.log
    # and goes on running what is sent there
    app = App("later-producer", broker=f"unix://{home}/redis.sock")
    try:
        assert app.send_task("later_tasks.mark", [str(second)]).get(timeout=20) == "ran"
    finally:
        app.close()
    assert worker.stop() == 0
    wait_until(lambda: not psutil.pid_exists(server_pid), 10, "the worker's server to stop")


def test_two_servers_never_share_one_data_directory(home: Path) -> None:
    first = EmbeddedServer(directory=home, appendonly=True).start()
    try:
        second = EmbeddedServer(directory=home, appendonly=True, start_timeout=0.5)
        with pytest.raises(EmbeddedServerError, match="still runs on"):
            second.start()
        assert first.running and ping(first.socket_path)  # untouched by the refused start
    finally:
        first.stop()
    second.start()  # once the first is gone, its directory (and data) is the second's
    second.stop()
