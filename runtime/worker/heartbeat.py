"""Worker presence in Redis: a hash per consumer process refreshed by a background thread.

A hash that expires means its process is gone (killed, frozen, partitioned): the signal the
redelivery of its unacknowledged messages and the status commands rely on. A thread, not the
consume loop, beats, so a task that legitimately runs for an hour still proves its worker alive.
"""

from __future__ import annotations

import logging
import os
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

    def __init__(self, app: App, name: str, queues: Sequence[str], pool: str,
                 processed: Callable[[], int], reaper: Reaper | None = None) -> None:
        self.app = app
        self.tasks = orjson.dumps(sorted(app.tasks))
        """The names this process can run, advertised so that a worker without a task leaves
        its messages to one that has it (``peers.Peers``) and ``flowc run`` can check."""
        self.name = name
        self.queues = ",".join(queues)
        self.pool = pool
        self.processed = processed
        self.reaper = reaper
        self.healthy_since: float | None = None
        """Monotonic time since which every beat reached Redis (None after a failure)."""
        self._last_ok: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="flowc-heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now (so the worker is visible at once), then in the background."""
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove this worker's presence."""
        self._stop.set()
        try:
            pipe = self.app.broker_client.pipeline(transaction=False)
            pipe.delete(self.app.keys.worker(self.name))
            pipe.zrem(self.app.keys.workers(), self.name)
            pipe.execute()
        except Exception:
            logger.warning("could not remove heartbeat of %s", self.name)

    def beat(self) -> None:
        """Write the presence hash with a TTL of ``flowc_worker_lost_after`` seconds."""
        conf = self.app.conf
        now = self.app.broker.now()  # server time: peers compare it across hosts
        key = self.app.keys.worker(self.name)
        pipe = self.app.broker_client.pipeline(transaction=False)
        pipe.hset(key, mapping={"hostname": socket.gethostname(), "pid": os.getpid(),
                                "queues": self.queues, "pool": self.pool, "ts": now,
                                "processed": self.processed(), "tasks": self.tasks})
        pipe.pexpire(key, max(1, int(conf.flowc_worker_lost_after * 1000)))
        pipe.zadd(self.app.keys.workers(), {self.name: now})
        pipe.execute()
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
