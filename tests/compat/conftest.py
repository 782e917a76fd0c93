"""Runs every compat case against real Celery and real flowc workers on a private Redis database.

Each implementation gets one worker subprocess for the session (``-P threads``), started from the
same ``compat_tasks.py`` with ``COMPAT_IMPL`` naming the package it imports. In this process both
copies of the module are loaded; before each case ``sys.modules['compat_tasks']`` points at the one
under test, so exceptions and task names resolve as they would in a real client. The known flowc
parity gaps and Celery bugs are in ``gaps.py`` and become ``xfail(strict=True)`` marks here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import redis

from tests.compat.gaps import CELERY_BUGS, FLOWC_GAPS
from tests.conftest import ProcessReaper, _claim_local_db

HERE = Path(__file__).resolve().parent
IMPLS = ("celery", "flowc")
COMPAT_DBS = (8, 7, 6, 5)
"""Databases the compat suite claims first (same lock files as tests/conftest.py's 9-15, which
the other tests use): several pytest runs at once on this machine must not leave it none."""
WORKER_START_S = 40.0
WAIT_S = 5.0
"""How long a case waits for a result; cases expected to fail (xfail) wait ``XFAIL_WAIT_S``."""
XFAIL_WAIT_S = 0.5


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every case that takes ``ctx`` runs once per implementation."""
    if "impl" in metafunc.fixturenames:
        metafunc.parametrize("impl", IMPLS, indirect=True, scope="session")


def _gap_for(item: pytest.Item, table: dict[str, str]) -> str | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    name = getattr(item, "originalname", item.name)
    if case is not None and f"{name}[{case}]" in table:
        return table[f"{name}[{case}]"]
    return table.get(name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the flowc run of each known gap, and the Celery run of each Celery bug, strict xfail."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "impl" not in callspec.params:
            continue
        impl = callspec.params["impl"]
        if impl == "flowc" and (reason := _gap_for(item, FLOWC_GAPS)):
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"flowc parity gap: {reason}"))
        if impl == "celery" and (reason := _gap_for(item, CELERY_BUGS)):
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"celery bug: {reason}"))


@pytest.fixture(scope="session")
def compat_redis_url() -> Iterator[str]:
    """A database of the local Redis held (file lock) for the compat suite alone, flushed."""
    with contextlib.ExitStack() as stack:
        url = _claim_local_db(stack, COMPAT_DBS) or _claim_local_db(stack)
        if url is None:
            pytest.skip("the compat suite needs a Redis at 127.0.0.1:6379 with a free db 5-15")
        client = redis.Redis.from_url(url)
        client.flushdb()
        yield url
        client.flushdb()
        client.close()


def load_task_module(name: str, url: str) -> ModuleType:
    """Import ``compat_tasks.py`` as ``compat_tasks`` with ``COMPAT_IMPL=name``."""
    os.environ["COMPAT_IMPL"] = name
    os.environ["COMPAT_REDIS_URL"] = url
    spec = importlib.util.spec_from_file_location("compat_tasks", HERE / "compat_tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compat_tasks"] = module
    spec.loader.exec_module(module)
    return module


def worker_argv(name: str, queue: str | None = None, solo: bool = False) -> list[str]:
    """The command line starting a worker of implementation ``name`` on ``compat_tasks``."""
    pool = ["-P", "solo"] if solo else ["-P", "threads", "-c", "8"]
    queues = ["-Q", queue] if queue else []
    if name == "celery":
        extra = ["--prefetch-multiplier", "1"] if solo else []
        return [sys.executable, "-m", "celery", "-A", "compat_tasks", "worker", *pool, *queues,
                *extra, "-l", "WARNING", "-n", f"compat-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip", "--without-mingle"]
    return [sys.executable, "-m", "flowc", "worker", "-A", "compat_tasks", *pool, *queues,
            "-l", "warning", "-n", f"compat-{uuid.uuid4().hex[:6]}@%h", "-q"]


@dataclass
class Worker:
    """A worker subprocess, stopped by pid."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    reaper: ProcessReaper

    @property
    def log(self) -> str:
        """What the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM (warm shutdown), then SIGKILL whatever is left of it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        self.reaper.reap()


def start_worker(name: str, url: str, log_dir: Path, queue: str | None = None,
                 solo: bool = False) -> Worker:
    """Start a worker of ``name`` (not yet known to be consuming)."""
    env = {**os.environ, "COMPAT_IMPL": name, "COMPAT_REDIS_URL": url, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    for var in ("FLOWC_BROKER_URL", "FLOWC_RESULT_BACKEND", "CELERY_BROKER_URL",
                "CELERY_RESULT_BACKEND"):
        env.pop(var, None)
    log_path = log_dir / f"{name}-worker-{time.monotonic_ns()}.log"
    reaper = ProcessReaper()
    with open(log_path, "wb") as out:
        proc = reaper.spawn(worker_argv(name, queue, solo), cwd=str(HERE), env=env,
                            stdout=out, stderr=subprocess.STDOUT)
    return Worker(proc, log_path, reaper)


@dataclass
class Impl:
    """One implementation under test: its task module, its worker and the Redis to look in."""

    name: str
    tasks: ModuleType
    worker: Worker
    url: str
    redis: redis.Redis
    log_dir: Path
    wait: float = WAIT_S

    def key(self, label: str) -> str:
        """A fresh Redis key for one case's side effects."""
        return f"{self.tasks.PREFIX}{label}:{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def impl(request: pytest.FixtureRequest, compat_redis_url: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Impl]:
    """The implementation of this parametrisation, with its worker running and answering."""
    name: str = request.param
    saved = {var: os.environ.pop(var, None) for var in ("FLOWC_BROKER_URL",
                                                        "FLOWC_RESULT_BACKEND")}
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    tasks = load_task_module(name, compat_redis_url)
    log_dir = tmp_path_factory.mktemp(f"compat-{name}")
    worker = start_worker(name, compat_redis_url, log_dir)
    client = redis.Redis.from_url(compat_redis_url, decode_responses=True)
    try:
        _wait_until_answering(tasks, worker)
        yield Impl(name, tasks, worker, compat_redis_url, client, log_dir)
    finally:
        if name == "celery":
            _forget_celery_subscriptions(tasks)
        worker.stop()
        client.close()
        for var, value in saved.items():
            if value is not None:
                os.environ[var] = value


def _forget_celery_subscriptions(tasks: ModuleType) -> None:
    """Drop Celery's result subscriptions: results still alive at exit (kept by xfail tracebacks)
    otherwise unsubscribe from Redis in ``AsyncResult.__del__`` while Python shuts down."""
    consumer = getattr(tasks.app.backend, "result_consumer", None)
    subscribed = getattr(consumer, "subscribed_to", None)
    if isinstance(subscribed, set):
        subscribed.clear()


def _wait_until_answering(tasks: ModuleType, worker: Worker) -> None:
    """Round-trip a task until the worker answers (its start-up time is not the cases')."""
    deadline = time.monotonic() + WORKER_START_S
    while True:
        if worker.proc.poll() is not None:
            raise AssertionError(f"compat worker exited at start:\n{worker.log}")
        with contextlib.suppress(Exception):
            if tasks.add.delay(1, 1).get(timeout=1) == 2:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"compat worker did not answer:\n{worker.log}")


@pytest.fixture
def ctx(impl: Impl, request: pytest.FixtureRequest) -> Iterator[Impl]:
    """The implementation for one case: its module is *the* ``compat_tasks`` while it runs."""
    sys.modules["compat_tasks"] = impl.tasks
    set_current = getattr(impl.tasks.app, "set_current", None)
    if callable(set_current):
        set_current()
    impl.wait = XFAIL_WAIT_S if request.node.get_closest_marker("xfail") else WAIT_S
    yield impl
