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

if TYPE_CHECKING:
    from flowc.runtime.app import App

logger = logging.getLogger("flowc.worker")


class Heartbeat:
    """Beats every ``flowc_heartbeat_interval`` seconds until ``stop()``."""

    def __init__(self, app: App, name: str, queues: Sequence[str], pool: str,
                 processed: Callable[[], int]) -> None:
        self.app = app
        self.name = name
        self.queues = ",".join(queues)
        self.pool = pool
        self.processed = processed
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
        now = time.time()
        key = self.app.keys.worker(self.name)
        pipe = self.app.broker_client.pipeline(transaction=False)
        pipe.hset(key, mapping={"hostname": socket.gethostname(), "pid": os.getpid(),
                                "queues": self.queues, "pool": self.pool, "ts": now,
                                "processed": self.processed()})
        pipe.expire(key, max(1, int(conf.flowc_worker_lost_after)))
        pipe.zadd(self.app.keys.workers(), {self.name: now})
        pipe.execute()

    def _loop(self) -> None:
        interval = self.app.conf.flowc_heartbeat_interval
        while not self._stop.wait(interval):
            try:
                self.beat()
            except Exception:
                logger.exception("heartbeat failed; retrying")
