"""``flowc worker``: a banner, then the chosen pool consuming the chosen queues until stopped."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowc.runtime import signals
from flowc.runtime.worker.consumer import Consumer
from flowc.runtime.worker.heartbeat import Heartbeat
from flowc.runtime.worker.prefork import EXIT_RECYCLED
from flowc.runtime.worker.reaper import Reaper
from flowc.runtime.worker.timelimits import RunningSlots, TimeLimiter

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.beat.service import EmbeddedBeat
    from flowc.runtime.redis.embedded import SharedServerKeeper

logger = logging.getLogger("flowc.worker")

POOLS = ("prefork", "threads", "asyncio", "gevent", "solo")
GEVENT_CONCURRENCY = 100
"""Default greenlets of ``-P gevent`` without ``-c`` (I/O-bound work waits, not computes)."""


@dataclass
class WorkerOptions:
    """What ``flowc worker`` was asked for (Celery's flags)."""

    queues: list[str] = field(default_factory=list)
    concurrency: int | None = None
    pool: str = "prefork"
    hostname: str | None = None
    loglevel: str = "WARNING"
    beat: bool = False
    """``-B``: also run beat in this process (small deployments)."""
    autoscale: tuple[int, int] | None = None
    """``--autoscale=max,min`` (prefork): pool processes grow to max while messages wait and
    shrink back to min after ``AUTOSCALE_KEEPALIVE_S`` without a backlog."""
    max_tasks_per_child: int | None = None
    """Replace a pool process after it ran this many tasks (prefork)."""
    max_memory_per_child: int | None = None
    """Replace a pool process after a task leaves it above this resident size, KiB (prefork)."""


class Worker:
    """Consumes queues with one of the pools: prefork, threads, asyncio or solo."""

    def __init__(self, app: App, options: WorkerOptions) -> None:
        if options.pool not in POOLS:
            raise ValueError(f"unknown pool {options.pool!r}; use one of {', '.join(POOLS)}")
        self.app = app
        self.options = options
        self.queues = options.queues or [app.conf.task_default_queue]
        self.concurrency = options.concurrency or app.conf.worker_concurrency or \
            (GEVENT_CONCURRENCY if options.pool == "gevent" else os.cpu_count()) or 1
        if options.pool == "solo":
            self.concurrency = 1
        if options.autoscale is not None:
            self.concurrency = options.autoscale[0]  # slots for the most processes
        self.hostname = _expand_hostname(options.hostname or "flowc@%h")
        self.token = secrets.token_hex(3)
        """Per start, so a name is never reused even when a container restarts with one pid."""
        self.slots: RunningSlots | None = None

    def consumer_name(self, index: int | None = None, pid: int | None = None) -> str:
        """Unique per process and start, so no process inherits a dead one's messages."""
        pid = os.getpid() if pid is None else pid
        return f"{self.hostname}.{pid}.{self.token}" if index is None else \
            f"{self.hostname}.{index}.{pid}.{self.token}"

    def start(self) -> int:
        """Run until a shutdown signal; return the exit code."""
        self.app.set_current()
        self.app.import_modules()
        signals.worker_init.send(sender=self)
        self.app.broker.declare(self.queues)
        beats: list[EmbeddedBeat] = []

        def start_beat() -> None:
            if self.options.beat:
                beats.append(self._start_beat())

        def ready() -> None:
            start_beat()
            signals.worker_ready.send(sender=self)

        forks = self.options.pool == "prefork"
        if not forks:
            start_beat()
        keeping = threading.Event()
        if self.app.broker_is_embedded:  # a thread: the loops may block in Redis retries
            threading.Thread(target=_keep_embedded, args=(self._embedded_keeper(), keeping),
                             name="flowc-embedded-keeper", daemon=True).start()
        try:
            return self._run_pool(ready if forks else None)
        finally:
            keeping.set()
            for beat in beats:
                beat.stop()
            signals.worker_shutdown.send(sender=self)

    def _embedded_keeper(self) -> SharedServerKeeper:
        """What restarts the embedded server when the process that started it exits first (a
        producer run before this worker), so this worker is never left on a dead socket."""
        from flowc.runtime.redis.embedded import SharedServerKeeper

        return SharedServerKeeper(self.app.broker_url)

    def _start_beat(self) -> EmbeddedBeat:
        """``-B``: beat in a thread of this (main) process, with its own Redis connections."""
        from flowc.runtime.beat.entries import entries_from_app
        from flowc.runtime.beat.service import EmbeddedBeat

        return EmbeddedBeat(self.app, entries_from_app(self.app)).start()

    def _run_pool(self, after_start: Callable[[], None] | None = None) -> int:
        if self.options.pool == "prefork":  # -c 1 too: hard limits and terminate need a child
            # Imported before forking (children name themselves with it for the log lines):
            # its pages are then shared, where an import in each child copies them per child.
            import multiprocessing  # noqa: F401

            from flowc.runtime.worker.prefork import Supervisor
            from flowc.runtime.worker.watchdog import PoolWatchdog

            self.app.prepare_fork()
            self.slots = RunningSlots(self.concurrency)
            watchdog = PoolWatchdog(self.app, self.queues, self.slots, self.consumer_name)
            scaler = None
            if self.options.autoscale is not None:
                from flowc.runtime.worker.prefork import Autoscale

                high, low = self.options.autoscale
                scaler = Autoscale(high, low, self._backlog)
            return Supervisor(self.concurrency, self._child, watchdog, after_start,
                              autoscale=scaler).run()
        return self._consume(self.options.pool, None)

    def _backlog(self) -> int:
        """Messages ready in this worker's queues (the autoscaler's input)."""
        return sum(self.app.broker.depth(q)["ready"] for q in self.queues)

    def _child(self, index: int) -> int:
        self.app.after_fork()
        signals.worker_process_init.send(sender=None)
        return self._consume("solo", index)

    def _consume(self, pool: str, index: int | None) -> int:
        consumer = self.make_consumer(pool, self.consumer_name(index))
        consumer.hostname = self.hostname
        if index is not None:
            import multiprocessing

            multiprocessing.current_process().name = f"PoolWorker-{index + 1}"
        from flowc.runtime.monitoring.worker_side import attach as attach_monitoring

        attach_monitoring(consumer, self, index)
        if index is not None:
            consumer.max_tasks = self.options.max_tasks_per_child
            consumer.max_memory_kib = self.options.max_memory_per_child
        if pool == "solo":
            consumer.time_limiter = TimeLimiter(self.app.conf, self.slots, index)
        elif self.app.conf.task_time_limit or self.app.conf.task_soft_time_limit:
            logger.warning("the %s pool does not apply time limits%s (use prefork or solo)",
                           pool, " except hard ones of async def tasks" if pool == "asyncio"
                           else "")
        reaper = Reaper(self.app, consumer.name, consumer.held_ids)
        heartbeat = Heartbeat(self.app, consumer.name, lambda: consumer.queues, self.options.pool,
                              lambda: consumer.processed, reaper,
                              pulse=index is None)  # a pool process's pulse: its supervisor
        presses = {"count": 0}

        def on_signal(signum: int, frame: object) -> None:
            presses["count"] += 1
            if presses["count"] > 1:
                logger.warning("cold shutdown")
                os._exit(1)
            if index is None:
                logger.warning("warm shutdown: finishing running tasks "
                               "(signal again for a cold one)")
            consumer.stop()

        signal.signal(signal.SIGTERM, on_signal)
        # A pool process ignores Ctrl-C: the terminal sends SIGINT to the whole process group
        # and the supervisor forwards it as SIGTERM, so counting both would turn one Ctrl-C
        # into a cold shutdown.
        signal.signal(signal.SIGINT, on_signal if index is None else signal.SIG_IGN)
        heartbeat.start()
        if index is None:  # in prefork the supervisor reports ready once its children run
            signals.worker_ready.send(sender=self)
        try:
            consumer.run()
        finally:
            heartbeat.stop()
            self.app.broker.close()  # RabbitMQ: what a consumer prefetched goes back unflagged
        return EXIT_RECYCLED if consumer.recycled else 0

    def make_consumer(self, pool: str, name: str) -> Consumer:
        """The consume loop for ``pool``."""
        if pool == "threads":
            from flowc.runtime.worker.pools import ThreadConsumer

            return ThreadConsumer(self.app, self.queues, name, self.concurrency)
        if pool == "asyncio":
            from flowc.runtime.worker.pools import AsyncioConsumer

            return AsyncioConsumer(self.app, self.queues, name, self.concurrency)
        if pool == "gevent":
            from flowc.runtime.worker.pools import GeventConsumer

            return GeventConsumer(self.app, self.queues, name, self.concurrency)
        return Consumer(self.app, self.queues, name)

    def banner(self, broker_display: str) -> str:
        """Celery-style startup banner (the broker URL with its password masked)."""
        tasks = sorted(n for n in self.app.tasks)
        results = _mask(self.app.backend_url) if self.app.backend_url != self.app.broker_url \
            else "same as broker"
        lines = [
            f" -------------- {self.hostname} (flowc)",
            "--- ***** ----- [config]",
            f"- *** --- * --- .> app:         {self.app.main or '__main__'}",
            f"- ** ---------- .> transport:   {broker_display}",
            f"- ** ---------- .> results:     {results}",
            f"- *** --- * --- .> concurrency: {self.concurrency} ({self.options.pool})",
            f"-- ******* ---- .> queues:      {', '.join(self.queues)}",
            f"--- ***** ----- .> acks:        "
            f"{'late' if self.app.conf.task_acks_late else 'early'} (task_acks_late)",
            " -------------- [tasks]",
            *[f"  . {name}" for name in tasks],
        ]
        return "\n".join(lines)


def _mask(url: str) -> str:
    from flowc.runtime.redis.connection import mask_url

    return mask_url(url)


def _expand_hostname(name: str) -> str:
    host = socket.gethostname()
    return name.replace("%h", host).replace("%n", host.split(".")[0]).replace(
        "%d", host.partition(".")[2] or host)


LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"


def _keep_embedded(keeper: SharedServerKeeper, stop: threading.Event) -> None:
    """A thread of the worker's main process: tick ``keeper`` until ``stop`` is set."""
    while not stop.wait(keeper.every_s):
        try:
            keeper.tick()
        except Exception:
            logger.exception("cannot restart the embedded server; trying again")


def configure_logging(level: str) -> None:
    """One handler on the root logger with Celery's line format; a connected
    ``setup_logging`` receiver takes over instead (Celery's rule)."""
    if signals.setup_logging.receivers:
        signals.setup_logging.send(sender=None, loglevel=level.upper(), logfile=None,
                                   format=LOG_FORMAT, colorize=False)
        return
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)


def queues_from(value: str | Sequence[str] | None) -> list[str]:
    """Parse ``-Q a,b`` into a list."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [q.strip() for q in items if q.strip()]
