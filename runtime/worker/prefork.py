"""The prefork pool: a supervisor process and N forked children, each a solo consumer.

Each child claims its own messages from Redis, so there is no IPC hop between a parent and its
children and a child's death cannot take another's messages with it. The supervisor restarts
children that die, and turns SIGTERM into a warm shutdown of every child.

With a ``Watchdog`` the supervisor also enforces hard time limits and ``revoke(terminate=True)``
(it kills the child running the task, settles the task, and starts a replacement), and clears a
dead child's heartbeat at once so its unacknowledged messages are redelivered within a second
instead of after ``flowc_worker_lost_after``.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger("flowc.worker")

RESTART_BACKOFF_S = 1.0
"""Pause before replacing a child that died on its own, so a crash loop does not spin."""
TICK_S = 0.05
"""How often the supervisor checks for dead children, deadlines and control commands."""
EXIT_RECYCLED = 64
"""Exit code of a child that left after ``--max-tasks-per-child``/``--max-memory-per-child``:
it is replaced at once, without the crash backoff or an error."""
AUTOSCALE_KEEPALIVE_S = 30.0
"""Seconds without waiting messages before ``--autoscale`` retires a process (Celery's)."""
AUTOSCALE_EVERY_S = 1.0
"""How often ``--autoscale`` reads the backlog."""
_PR_SET_PDEATHSIG = 1
_SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


class Watchdog(Protocol):
    """What the supervisor asks of the runtime (``worker.PoolWatchdog``)."""

    def check(self, children: dict[int, int]) -> dict[int, str]:
        """Look at deadlines and commands; return ``{pid: reason}`` of children to kill."""
        ...

    def child_exited(self, index: int, pid: int, killed_for: str | None) -> None:
        """Settle what a dead child was running and clear its presence."""
        ...


class Autoscale:
    """``--autoscale=high,low``: how many processes to add (> 0) or retire (< 0) now."""

    def __init__(self, high: int, low: int, backlog: Callable[[], int],
                 keepalive_s: float = AUTOSCALE_KEEPALIVE_S) -> None:
        self.high, self.low = high, low
        self.backlog = backlog
        self.keepalive_s = keepalive_s
        self.next_check = 0.0
        self.idle_since: float | None = None

    def decide(self, running: int, now: float) -> int:
        """Grow by the backlog up to ``high``; after ``keepalive_s`` of no backlog, retire one
        process (down to ``low``)."""
        if now < self.next_check:
            return 0
        self.next_check = now + AUTOSCALE_EVERY_S
        try:
            waiting = self.backlog()
        except Exception:
            logger.warning("autoscale: could not read the backlog", exc_info=True)
            return 0
        if waiting > 0:
            self.idle_since = None
            return max(0, min(self.high - running, waiting))
        if self.idle_since is None:
            self.idle_since = now
        elif now - self.idle_since >= self.keepalive_s and running > self.low:
            self.idle_since = now
            return -1
        return 0


class Supervisor:
    """Forks ``concurrency`` children running ``child_main(index)`` and keeps them alive."""

    def __init__(self, concurrency: int, child_main: Callable[[int], int],
                 watchdog: Watchdog | None = None,
                 after_start: Callable[[], None] | None = None,
                 autoscale: Autoscale | None = None) -> None:
        self.concurrency = concurrency
        self.autoscale = autoscale
        self.retiring: set[int] = set()
        """pids asked to leave by the autoscaler (not replaced)."""
        self.child_main = child_main
        self.watchdog = watchdog
        self.after_start = after_start
        """Run once the first children are forked (threads started before a fork can leave
        the child holding a lock some thread had at that instant: ``worker -B``'s beat)."""
        self.children: dict[int, int] = {}
        """pid -> child index."""
        self.killed: dict[int, str] = {}
        """pid -> why the supervisor killed it (time limit, terminate)."""
        self.respawn_at: dict[int, float] = {}
        """index -> when to replace a child that died on its own (after a short backoff)."""
        self.warned: dict[int, object] = {}
        """pid -> marker, for children sent the warm-shutdown SIGTERM (a second is a cold one)."""
        self.stopping = False
        self.cold = False
        self._prctl = _load_prctl()

    def run(self) -> int:
        """Start the children and supervise until a shutdown signal; return an exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGQUIT, self._on_cold)
        for index in range(self.autoscale.low if self.autoscale else self.concurrency):
            self._spawn(index)
        if self.after_start is not None:
            self.after_start()
        while self.children or (self.respawn_at and not self.stopping):
            exited = self._reap()
            for pid, index, status in exited:
                self._on_exit(pid, index, status)
            now = time.monotonic()
            for index, when in list(self.respawn_at.items()):
                if now >= when and not self.stopping:
                    del self.respawn_at[index]
                    self._spawn(index)
            if self.autoscale is not None and not self.stopping:
                self._scale(now)
            if self.watchdog is not None and not self.cold:
                try:
                    for pid, reason in self.watchdog.check(dict(self.children)).items():
                        self._kill(pid, reason)
                except Exception:
                    logger.exception("supervisor check failed; retrying")
            if not exited:
                time.sleep(TICK_S)
        return 0

    def _scale(self, now: float) -> None:
        """Apply the autoscaler's decision: fork into free indices, or retire the newest."""
        assert self.autoscale is not None
        live = len(self.children) + len(self.respawn_at) - len(self.retiring)
        delta = self.autoscale.decide(live, now)
        used = set(self.children.values()) | set(self.respawn_at)
        for index in [i for i in range(self.concurrency) if i not in used][:max(delta, 0)]:
            logger.info("autoscale: adding pool process %d", index)
            self._spawn(index)
        if delta < 0:
            candidates = [(i, p) for p, i in self.children.items() if p not in self.retiring]
            if candidates:
                index, pid = max(candidates)
                logger.info("autoscale: retiring pool process %d (index %d)", pid, index)
                self.retiring.add(pid)
                self._signal(pid, signal.SIGTERM)

    def _reap(self) -> list[tuple[int, int, int]]:
        out = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                break
            except InterruptedError:
                continue
            if pid == 0:
                break
            if pid in self.children:
                self.warned.pop(pid, None)
                out.append((pid, self.children.pop(pid), status))
        return out

    def _on_exit(self, pid: int, index: int, status: int) -> None:
        reason = self.killed.pop(pid, None)
        if self.watchdog is not None:
            try:
                self.watchdog.child_exited(index, pid, reason)
            except Exception:
                logger.exception("could not settle the task of pool process %d", pid)
        if self.stopping:
            return
        if pid in self.retiring:
            self.retiring.discard(pid)
            return
        if reason is None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_RECYCLED:
            self._spawn(index)
            return
        if reason is None:
            logger.error("pool process %d (index %d) exited with %s; replacing it", pid,
                         index, _describe(status))
            self.respawn_at[index] = time.monotonic() + RESTART_BACKOFF_S
            return
        self._spawn(index)

    def _kill(self, pid: int, reason: str) -> None:
        if pid in self.children and pid not in self.killed:
            logger.warning("killing pool process %d: %s", pid, reason)
            self.killed[pid] = reason
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _spawn(self, index: int) -> None:
        parent = os.getpid()
        # Shutdown signals are held while forking: one that arrives meanwhile is handled once
        # the child is registered (so it is signalled too), and the child, which starts with
        # the signals blocked, never runs the supervisor's handler in its place.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _SHUTDOWN_SIGNALS)
        try:
            # Everything allocated so far moves to the collector's permanent generation, so
            # no collection (in a child or here) walks the inherited objects and copies
            # their pages: the pool processes keep sharing them with this one. Before a
            # replacement, collect first (only what is younger than the last freeze: cheap)
            # so garbage cycles, such as the settling of a killed child's task leaves, are
            # freed rather than frozen for good.
            if gc.get_freeze_count():
                gc.collect()
            gc.freeze()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    for signum in _SHUTDOWN_SIGNALS:
                        signal.signal(signum, signal.SIG_DFL)
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
                    _die_with_parent(parent, self._prctl)
                    code = self.child_main(index)
                except BaseException:
                    logger.exception("pool process %d crashed", index)
                finally:
                    os._exit(code)
            self.children[pid] = index
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        if self.stopping:  # a handler ran anyway (a signal taken by another thread, -B's beat)
            self._signal(pid, signal.SIGKILL if self.cold else signal.SIGTERM)

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
            self._signal(pid, signum)

    def _signal(self, pid: int, signum: int) -> None:
        """Send ``signum`` to child ``pid``; SIGTERM at most once (a second would make the
        child's warm shutdown a cold one). The check and the mark are one ``setdefault``, so a
        signal handler that interrupts ``_spawn`` between two bytecodes cannot double it."""
        if signum == signal.SIGTERM:
            marker = object()
            if self.warned.setdefault(pid, marker) is not marker:
                return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, resolved in the supervisor (before forking) so a new child only makes
    the one foreign call instead of loading ctypes' library wrapper (and copying its pages)."""
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def _die_with_parent(parent: int, prctl: Callable[..., int] | None) -> None:
    """Linux: the child gets SIGKILL if the supervisor dies (even by SIGKILL), so no orphan
    keeps consuming; its claimed messages are then redelivered like any lost worker's."""
    if prctl is None:
        return
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(1)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
