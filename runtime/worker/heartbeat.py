"""Worker presence (``Coordination.beat``): a record per consumer process, kept alive by a
pulse process.

A hash that expires means its process is gone (killed, frozen, partitioned): the signal the
redelivery of its unacknowledged messages and the status commands rely on. Two things refresh
it. A thread writes the whole hash (queues, tasks, processed count) and runs the reaper; but a
thread needs the GIL, which a task in C code (``sum(range(10**10))``, a regex, a numpy call)
can hold for as long as it runs. So the TTL itself is refreshed by a *pulse*: another process,
with its own interpreter and GIL, that renews the hash's TTL every ``flowc_heartbeat_interval``
while the consumer runs, and stops when the consumer is stopped (SIGSTOP, a paused VM: state
``T`` in ``/proc``) or dies. A busy live worker is never declared lost; a frozen or dead one is,
after ``flowc_worker_lost_after``. A prefork pool process's pulse is its supervisor
(``watchdog.PoolWatchdog``), which already watches it; any other consumer forks one
(``start_pulse``, dying with its parent by ``PR_SET_PDEATHSIG``): a forked process keeps every
page its parent later writes (~6 MB private each in a prefork pool: the default worker's
tree was 13 MB smaller without them), which a pool process need not pay.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.worker.reaper import Reaper

logger = logging.getLogger("flowc.worker")


class Heartbeat:
    """Beats every ``flowc_heartbeat_interval`` seconds until ``stop()``; between beats, gives
    the ``reaper`` (if any) its chance to return lost workers' messages."""

    def __init__(self, app: App, name: str, queues: Sequence[str] | Callable[[], Sequence[str]],
                 pool: str, processed: Callable[[], int], reaper: Reaper | None = None,
                 pulse: bool = True) -> None:
        self.app = app
        self.pulse = pulse
        """Fork a pulse process (False: another process renews the TTL, a prefork
        supervisor)."""
        self.tasks = orjson.dumps(sorted(app.tasks))
        """The names this process can run, advertised so that a worker without a task leaves
        its messages to one that has it (``peers.Peers``) and ``flowc run`` can check."""
        self.name = name
        self.queues_of = queues if callable(queues) else (lambda fixed=list(queues): fixed)
        """The queues consumed now (``add_consumer``/``cancel_consumer`` change them)."""
        self.pool = pool
        self.processed = processed
        self.reaper = reaper
        self.healthy_since: float | None = None
        """Monotonic time since which every beat reached Redis (None after a failure)."""
        self._last_ok: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="flowc-heartbeat", daemon=True)
        self.pulse_pid: int | None = None

    def start(self) -> None:
        """Beat once now (so the worker is visible at once), then in the background."""
        self.beat()
        if self.pulse:
            self.pulse_pid = start_pulse(self.app, self.name)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove this worker's presence."""
        self._stop.set()
        stop_pulse(self.pulse_pid)
        self.pulse_pid = None
        try:
            self.app.coordination.leave(self.name)
        except Exception:
            logger.warning("could not remove heartbeat of %s", self.name)

    def beat(self) -> None:
        """Write the presence hash with a TTL of ``flowc_worker_lost_after`` seconds."""
        conf = self.app.conf
        now = self.app.broker.now()  # server time: peers compare it across hosts
        self.app.coordination.beat(
            self.name, {"hostname": socket.gethostname(), "pid": os.getpid(),
                        "queues": ",".join(self.queues_of()), "pool": self.pool, "ts": now,
                        "processed": self.processed(), "tasks": self.tasks},
            conf.flowc_worker_lost_after, now)
        done = time.monotonic()
        if self.healthy_since is None or self._last_ok is None or \
                done - self._last_ok > 2 * conf.flowc_heartbeat_interval + 1.0:
            self.healthy_since = done  # (re)connected, or a beat stalled: restart the clock
        self._last_ok = done

    def _loop(self) -> None:
        interval = self.app.conf.flowc_heartbeat_interval
        tick = interval if self.reaper is None else min(interval, self.reaper.interval_s)
        next_beat = time.monotonic() + interval
        while not self._stop.wait(max(0.01, min(tick, next_beat - time.monotonic()))):
            try:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + interval
                    self.beat()
            except Exception:
                self.healthy_since = None
                logger.exception("heartbeat failed; retrying")
                continue
            if self.reaper is None or self.healthy_since is None:
                continue
            try:
                self.reaper.tick(time.monotonic() - self.healthy_since)
            except Exception:
                logger.exception("redelivery scan failed; retrying")


def start_pulse(app: App, name: str) -> int | None:
    """Fork the process that renews ``name``'s heartbeat TTL (see the module docstring);
    returns its pid, or None where ``fork`` is unavailable (the thread alone then beats)."""
    if not hasattr(os, "fork"):
        return None
    parent = os.getpid()
    prctl = _prctl()
    pid = os.fork()
    if pid != 0:
        return pid
    try:  # the pulse: never returns into the worker's code
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _pulse(app, name, parent)
    finally:
        os._exit(0)


def stop_pulse(pid: int | None) -> None:
    """End a pulse by its pid and reap it."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _pulse(app: App, name: str, parent: int) -> None:
    """Renew the TTL of ``name``'s hash while ``parent`` runs; return once it is gone."""
    interval = app.conf.flowc_heartbeat_interval
    while os.getppid() == parent:
        if not _stopped(parent):
            with contextlib.suppress(Exception):  # Redis away: the thread logs it
                renew(app, [name])
        time.sleep(interval)


def renew(app: App, names: Sequence[str]) -> None:
    """Renew the heartbeat TTL (and ``workers`` score) of the consumers ``names``; a record that
    is gone stays gone (its process cleared it, or was declared lost)."""
    coordination = app.coordination  # a forked pulse's pool opens new connections
    ttl_s = app.conf.flowc_worker_lost_after
    now = coordination.now()
    for name in names:
        coordination.pulse(name, ttl_s, now)


def stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP, a debugger): then it must look lost, not alive."""
    return _stopped(pid)


def _stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP, a debugger): then it must look lost, not alive."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"T", b"t")


_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux), so a pulse dies with its worker even by SIGKILL."""
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl
