"""The prefork pool: a supervisor process and N forked children, each a solo consumer.

Each child claims its own messages from Redis, so there is no IPC hop between a parent and its
children and a child's death cannot take another's messages with it. The supervisor restarts
children that die, and turns SIGTERM into a warm shutdown of every child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

logger = logging.getLogger("flowc.worker")

RESTART_BACKOFF_S = 1.0
"""Pause before replacing a child that died, so a crash loop does not spin."""


class Supervisor:
    """Forks ``concurrency`` children running ``child_main(index)`` and keeps them alive."""

    def __init__(self, concurrency: int, child_main: Callable[[int], int]) -> None:
        self.concurrency = concurrency
        self.child_main = child_main
        self.children: dict[int, int] = {}
        """pid -> child index."""
        self.stopping = False
        self.cold = False

    def run(self) -> int:
        """Start the children and supervise until a shutdown signal; return an exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGQUIT, self._on_cold)
        for index in range(self.concurrency):
            self._spawn(index)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid not in self.children:
                continue
            index = self.children.pop(pid)
            if not self.stopping:
                logger.error("pool process %d (index %d) exited with %s; replacing it", pid,
                             index, _describe(status))
                time.sleep(RESTART_BACKOFF_S)
                if not self.stopping:
                    self._spawn(index)
        return 0

    def _spawn(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGQUIT, signal.SIG_DFL)
                code = self.child_main(index)
            except BaseException:
                logger.exception("pool process %d crashed", index)
            finally:
                os._exit(code)
        self.children[pid] = index

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.stopping:
            self._on_cold(signum, frame)
            return
        logger.warning("warm shutdown: finishing running tasks (signal again for a cold one)")
        self.stopping = True
        self._signal_children(signal.SIGTERM)

    def _on_cold(self, signum: int, frame: object) -> None:
        logger.warning("cold shutdown: stopping pool processes now")
        self.stopping = self.cold = True
        self._signal_children(signal.SIGKILL)

    def _signal_children(self, signum: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
