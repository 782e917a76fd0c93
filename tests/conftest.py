"""Shared fixtures: a real Redis for every test (never a fake) and reaping of test processes.

Markers are applied here, by fixture, module and folder, and any given by hand count (see
docs/contributing.md), so ``python -m pytest -m unit`` runs the fast, server-free tests.

``redis_url`` is the real Redis at 127.0.0.1:6379 when it answers PING, on a dedicated database
(9-15, claimed with a file lock so concurrent pytest runs on one machine never flush each other's
data), else a session-scoped embedded server. ``FLOWC_TEST_REDIS_URL`` overrides both.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from flowc.runtime.redis import embedded
from flowc.runtime.redis.connection import connect
from flowc.runtime.redis.embedded import EmbeddedServer
from flowc.runtime.redis.rendezvous import HOME_ENV

from tests.transports import (  # noqa: F401  (session fixtures, shared)
    amqp_url,
    memcached_url,
    pg_url,
)

LOCAL_REDIS = "redis://127.0.0.1:6379"
TEST_DBS = range(9, 16)
TESTS = Path(__file__).resolve().parent

REDIS_FIXTURES = {"redis_url", "redis_client", "embedded_server_factory"}
"""A test using any of these talks to a real Redis server: marker ``redis``."""
SERVICE_FIXTURES = {"amqp_url": "amqp", "pg_url": "postgresql", "memcached_url": "memcached"}
"""A test using one of these talks to that server (RabbitMQ, PostgreSQL, memcached): its
marker, and never ``unit``."""
PROCESS_FIXTURES = {"process_reaper", "start_worker", "start_monitored_worker",
                    "embedded_server_factory"}
"""A test using any of these starts processes (workers, beat, servers): marker ``process``."""
FOLDER_MARKERS = {
    "reliability": ("process",),  # kills workers and Redis mid-task (chaos: marked by hand)
    "chaos": ("chaos", "process", "redis"),  # minutes of faults: -m chaos tests/chaos
    "e2e": ("process",),  # runs `flowc` as a subprocess
    "compat": ("compat", "process", "redis"),  # the same cases on Celery and flowc workers
    "lsp": ("process",),  # talks to a `flowc lsp` subprocess
    "topology": ("process", "redis"),  # starts Redis primaries, replicas and sentinels
    "frameworks": ("process", "redis"),  # Django and FastAPI recipes against real workers
}
BROWSER_MODULES = {"test_dashboard_browser.py"}
SUBPROCESS_MODULES = {"test_embedded.py", "test_embedded_producer_first.py",
                      "test_worker_process.py", "test_beat_processes.py",
                      "test_events_watchdog.py", "test_same_as_worker.py"}
"""Modules that start processes without the fixtures above (servers, `python -c` children)."""


@functools.cache
def _uses_celery(path: Path) -> bool:
    """Whether a test module compares with Celery itself (marker ``compat``)."""
    text = path.read_text(encoding="utf-8")
    return "import celery" in text or "from celery" in text or 'importorskip("celery' in text


_PROCESS_ENV = ("FLOWC_BROKER_URL", "FLOWC_RESULT_BACKEND", "FLOWC_EMBEDDED_URL")
"""Variables the code under test may set in this process (``flowc worker --broker`` run through
CliRunner sets FLOWC_BROKER_URL for its child processes, as it should in a real command)."""


@pytest.fixture(autouse=True)
def _restore_process_env() -> Iterator[None]:
    """Each test leaves the broker variables as it found them, so one test's --broker (say an
    unreachable one) never becomes the next test's default broker."""
    saved = {name: os.environ.get(name) for name in _PROCESS_ENV}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def _private_embedded_home() -> Iterator[str]:
    """The session's own home for the shared embedded server (rendezvous, socket, data), so a
    test run neither joins the user's server nor another run's, nor leaves queued data behind.
    Its children inherit it through the environment."""
    home = tempfile.mkdtemp(prefix="flowc-test-home-", dir="/tmp")  # short: a socket lives in it
    saved = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = home
    try:
        yield home
    finally:
        embedded.stop_shared()  # one this very process started, before its home goes
        if saved is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = saved
        shutil.rmtree(home, ignore_errors=True)


KINDS = {"unit", "redis", "process", "browser", "chaos", *SERVICE_FIXTURES.values()}
"""The markers that say what a test needs; one given by hand (``pytestmark``, a decorator)
counts, and a hand-given ``unit`` overrides what the module's or folder's name implies."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test ``redis``/``amqp``/``postgresql``/``memcached``/``process``/``browser``/
    ``chaos``/``compat``, else ``unit``."""
    for item in items:
        path = Path(str(item.path))
        fixtures = set(getattr(item, "fixturenames", ()))
        declared = {mark.name for mark in item.iter_markers()} & KINDS
        marks: set[str] = set(declared)
        if fixtures & REDIS_FIXTURES:
            marks.add("redis")
        marks.update(SERVICE_FIXTURES[name] for name in fixtures & SERVICE_FIXTURES.keys())
        if fixtures & PROCESS_FIXTURES:
            marks.add("process")
        if "unit" not in declared:
            if path.name in SUBPROCESS_MODULES:
                marks.add("process")
            if path.name in BROWSER_MODULES:
                marks |= {"browser", "process"}
            folder = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
            marks.update(FOLDER_MARKERS.get(folder, ()))
        if _uses_celery(path):
            marks.add("compat")
        if not marks & KINDS - {"unit"}:
            marks.add("unit")
        for name in sorted(marks):
            item.add_marker(name)


def _claim_local_db(stack: contextlib.ExitStack, dbs: Sequence[int] = TEST_DBS) -> str | None:
    """URL of a free database (of ``dbs``) on the local Redis, held for the session; None if
    unusable."""
    for db in dbs:
        url = f"{LOCAL_REDIS}/{db}"
        try:
            with redis.Redis.from_url(url, socket_connect_timeout=0.3, socket_timeout=1) as probe:
                probe.ping()
        except (redis.RedisError, OSError):
            if db == dbs[0]:
                return None  # No local Redis at all.
            continue  # This database number does not exist there.
        lock_path = os.path.join(tempfile.gettempdir(), f"flowc-test-redis-db{db}.lock")
        fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # Another pytest run on this machine is using it.
        stack.callback(os.close, fd)  # Closing releases the lock (so does dying).
        return url
    return None


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the session's real Redis database (local Redis or an embedded server)."""
    override = os.environ.get("FLOWC_TEST_REDIS_URL")
    if override:
        yield override
        return
    with contextlib.ExitStack() as stack:
        url = _claim_local_db(stack)
        if url is None:
            server = stack.enter_context(EmbeddedServer())
            url = f"{server.url}?db=9"
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client (bytes replies) on the session database, flushed before the test."""
    client = connect(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def embedded_server_factory() -> Iterator[Callable[..., EmbeddedServer]]:
    """Start private servers, ``factory(**EmbeddedServer_kwargs)``, for tests that kill Redis."""
    servers: list[EmbeddedServer] = []

    def factory(**kwargs: Any) -> EmbeddedServer:
        server = EmbeddedServer(**kwargs)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        pid = server.pid
        process = psutil.Process(pid) if pid is not None else None
        try:
            server.stop()
        finally:
            if process is not None and process.is_running():  # is_running() spots pid reuse
                process.kill()


class ProcessReaper:
    """Starts test subprocesses and SIGKILLs, at teardown, any still alive (and their children)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []
        self.tracked: list[psutil.Process] = []

    def spawn(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """``subprocess.Popen(argv, **popen_kwargs)``, reaped at teardown."""
        proc: subprocess.Popen[Any] = subprocess.Popen(list(argv), **popen_kwargs)
        self.procs.append(proc)
        return proc

    def track(self, pid: int) -> None:
        """Also kill ``pid`` at teardown (a process started indirectly, e.g. a grandchild)."""
        with contextlib.suppress(psutil.NoSuchProcess):
            self.tracked.append(psutil.Process(pid))  # Remembers its start time: no pid reuse.

    def reap(self) -> None:
        """SIGKILL every tracked process still alive, descendants first seen included."""
        roots = self.tracked[:]
        for proc in self.procs:
            if proc.poll() is None:  # Not reaped yet, so its pid cannot have been reused.
                with contextlib.suppress(psutil.NoSuchProcess):
                    roots.append(psutil.Process(proc.pid))
        victims: list[psutil.Process] = []
        for root in roots:
            with contextlib.suppress(psutil.Error):
                victims += [root, *root.children(recursive=True)]
        for victim in victims:
            with contextlib.suppress(psutil.Error):
                victim.kill()
        _wait_dead(victims, timeout=5)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def _wait_dead(processes: list[psutil.Process], timeout: float) -> None:
    """Wait until each process is gone or a zombie (orphans are reaped late by pid 1)."""
    deadline = time.monotonic() + timeout
    for process in processes:
        while time.monotonic() < deadline:
            try:
                if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.01)


@pytest.fixture
def process_reaper() -> Iterator[ProcessReaper]:
    """A ``ProcessReaper``: ``process_reaper.spawn(argv, **popen_kwargs) -> Popen``."""
    reaper = ProcessReaper()
    yield reaper
    reaper.reap()
