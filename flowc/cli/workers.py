"""Worker subprocesses that ``flowc run`` starts for itself, and stops by pid when it is done."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable

from flowc.runtime.app import BROKER_URL_ENV, App

STOP_TIMEOUT_S = 10.0
DEFAULT_CONCURRENCY = 2


def app_module(app: App, modules: Iterable[str]) -> str:
    """The ``-A`` argument for workers: the ``use``\\ d module that holds ``app``."""
    for name in modules:
        module = sys.modules.get(name)
        if module is not None and any(v is app for v in vars(module).values()):
            return name
    raise LookupError("no 'use' module holds the App")


class WorkerProcesses:
    """``count`` ``flowc worker`` processes consuming ``queues`` on ``broker_url``."""

    def __init__(self, module: str, queues: list[str], broker_url: str, roots: list[str],
                 count: int = 1, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.argv = [sys.executable, "-m", "flowc", "worker", "-A", module, "-P", "prefork",
                     "-c", str(concurrency), "-Q", ",".join(queues), "--quiet"]
        self.env = dict(os.environ)
        self.env[BROKER_URL_ENV] = broker_url
        paths = [*roots, *filter(None, self.env.get("PYTHONPATH", "").split(os.pathsep))]
        self.env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        self.cwd = roots[-1] if roots else None
        self.count = count
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> WorkerProcesses:
        for _ in range(self.count):
            # A session of their own: Ctrl-C reaches flowc run, which decides what to stop.
            self.procs.append(subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        return self

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def failed_early(self) -> str | None:
        """The error output of a worker that has already exited, if any did."""
        for p in self.procs:
            if p.poll() is not None:
                err = p.stderr.read().decode(errors="replace") if p.stderr else ""
                return f"worker exited with status {p.returncode}: {err.strip()[-2000:]}"
        return None

    def stop(self) -> None:
        """SIGTERM (warm shutdown), then SIGKILL the worker's process group after a timeout."""
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
            if p.stderr is not None:
                p.stderr.close()
        self.procs = []
