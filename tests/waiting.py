"""Waiting in tests: on state or events, never for a fixed time (docs/contributing.md).

``wait_until`` polls a predicate until it holds (or fails naming what did not happen);
``spawn_worker`` starts a real ``flowc worker`` subprocess and returns once it is ready. Every
test folder uses these two rather than its own loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")

POLL_S = 0.02
"""How often ``wait_until`` asks again: short, since every check is a cheap read."""


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "the condition",
               logs: Callable[[], str] | None = None) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that value.

    Fails with ``timed out after Ns waiting for <what>`` (plus ``logs()``, e.g. a worker's
    output) when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}"
                                 + (f"\n{logs()}" if logs else ""))
        time.sleep(POLL_S)


class WorkerProcess:
    """A real ``flowc worker`` subprocess; ``stop()`` sends SIGTERM and waits."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @property
    def log(self) -> str:
        """Everything the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def children(self) -> list[psutil.Process]:
        """Its pool processes (prefork)."""
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the worker and wait for it to exit; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def spawn_worker(
    reaper: Any,
    module: str,
    args: Sequence[str],
    *,
    broker_url: str,
    cwd: Path,
    log_dir: Path,
    ready: Callable[[], object],
    timeout: float = 20.0,
    env: Mapping[str, str] | None = None,
    popen: Mapping[str, Any] | None = None,
) -> WorkerProcess:
    """Start ``flowc worker -A module ARGS`` (reaped at teardown) and wait until ``ready()``.

    ``ready`` reads the state that proves the worker is up (its heartbeat, its control
    subscription...); a worker that exits first fails the wait with its output.
    """
    log_path = log_dir / f"worker-{time.monotonic_ns()}.log"
    full_env = {**os.environ, "FLOWC_BROKER_URL": broker_url, "PYTHONUNBUFFERED": "1",
                **(env or {})}
    full_env.pop("FLOWC_RESULT_BACKEND", None)
    with open(log_path, "wb") as out:
        proc = reaper.spawn([sys.executable, "-m", "flowc", "worker", "-A", module, *args],
                            cwd=str(cwd), env=full_env, stdout=out, stderr=subprocess.STDOUT,
                            **(popen or {}))
    worker = WorkerProcess(proc, log_path)
    wait_until(lambda: not worker.alive or ready(), timeout, "the worker to start",
               lambda: worker.log)
    if not worker.alive:
        raise AssertionError(f"worker exited with {proc.returncode} while starting:\n{worker.log}")
    return worker
