"""Thread, gevent and asyncio pools: one process claims messages and runs up to N tasks at once.

The solo loop lives in ``consumer``; prefork (processes running solo loops) in ``prefork``.
Here each finished task is settled at once by its own thread, so results never wait for a batch.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from flowc.runtime.execute import Outcome, ainvoke, invoke
from flowc.runtime.worker.consumer import Consumer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flowc.runtime.app import App
    from flowc.runtime.broker import Delivery
    from flowc.runtime.message import Message
    from flowc.runtime.task import Task


class PoolConsumer(Consumer):
    """Base for concurrent consumers: at most ``concurrency`` tasks in flight."""

    def __init__(self, app: App, queues: Sequence[str], consumer: str, concurrency: int) -> None:
        super().__init__(app, queues, consumer)
        self.concurrency = concurrency
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.in_flight = 0

    def run_once(self) -> None:
        """Wait for a free slot, claim up to the free slots, start each task."""
        with self.idle:
            while self.in_flight >= self.concurrency and not self.stopping:
                self.idle.wait(0.5)
            free = self.concurrency - self.in_flight
        if self.stopping:
            return
        with self.lock:  # no task settles meanwhile: what this process holds is known
            found = self.recover_lost_claims()
            for extra in found[free:]:  # more than the free slots: back to the queue
                self.settler.requeue(extra)
            if found[free:]:
                self.settler.flush(self.name)
        block = self._promote_and_block_time()
        for delivery in found[:free] or self.app.broker.fetch(self.name, self.queues, free,
                                                              block):
            with self.lock:
                prepared = self.prepare(delivery)
                if prepared is None:
                    self.settler.flush(self.name)
                    continue
                task, message = prepared
                self.before_start(delivery, task, message)
                self.flush_before_start()
                self.in_flight += 1
            self.start(delivery, task, message)

    def start(self, delivery: Delivery, task: Task, message: Message) -> None:
        """Run the task concurrently; call ``done`` when it ends."""
        raise NotImplementedError

    def done(self, delivery: Delivery, task: Task, message: Message, outcome: Outcome) -> None:
        """Settle a finished task right away and free its slot."""
        with self.idle:
            try:
                self.finish(delivery, task, message, outcome)
                self.settler.flush(self.name)
            finally:
                self.in_flight -= 1
                self.idle.notify_all()

    def shutdown(self) -> None:
        """Warm shutdown: wait for running tasks, then settle."""
        with self.idle:
            while self.in_flight:
                self.idle.wait(0.5)
        super().shutdown()


class ThreadConsumer(PoolConsumer):
    """Runs tasks on a pool of threads (I/O-bound work; the GIL limits CPU-bound work)."""

    def __init__(self, app: App, queues: Sequence[str], consumer: str, concurrency: int) -> None:
        super().__init__(app, queues, consumer, concurrency)
        self.executor = ThreadPoolExecutor(concurrency, thread_name_prefix="flowc-task")

    def start(self, delivery: Delivery, task: Task, message: Message) -> None:
        """Submit to the thread pool."""
        self.executor.submit(self._run, delivery, task, message)

    def _run(self, delivery: Delivery, task: Task, message: Message) -> None:
        self.done(delivery, task, message, invoke(task, message, self.hostname))

    def shutdown(self) -> None:
        """Wait for running tasks, then stop the threads."""
        super().shutdown()
        self.executor.shutdown(wait=True)


class AsyncioConsumer(PoolConsumer):
    """Runs ``async def`` tasks concurrently on one event loop; plain functions on threads."""

    def __init__(self, app: App, queues: Sequence[str], consumer: str, concurrency: int) -> None:
        super().__init__(app, queues, consumer, concurrency)
        self.loop = asyncio.new_event_loop()
        self.loop_thread = threading.Thread(target=self.loop.run_forever, name="flowc-loop",
                                            daemon=True)
        self.loop_thread.start()
        self.settle_pool = ThreadPoolExecutor(1, thread_name_prefix="flowc-settle")
        self.sync_pool = ThreadPoolExecutor(concurrency, thread_name_prefix="flowc-task")

    def start(self, delivery: Delivery, task: Task, message: Message) -> None:
        """Schedule coroutines on the loop; settle off the loop so it never blocks on Redis."""
        if not task.is_async:
            self.sync_pool.submit(
                lambda: self.done(delivery, task, message, invoke(task, message, self.hostname)))
            return
        future = asyncio.run_coroutine_threadsafe(ainvoke(task, message, self.hostname), self.loop)

        def settle(f: Future[Any]) -> None:
            self.settle_pool.submit(self.done, delivery, task, message, f.result())

        future.add_done_callback(settle)

    def shutdown(self) -> None:
        """Wait for running tasks, then stop the loop and threads."""
        super().shutdown()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.loop_thread.join(timeout=5)
        self.sync_pool.shutdown(wait=True)
        self.settle_pool.shutdown(wait=True)


class GeventConsumer(PoolConsumer):
    """Runs tasks as greenlets (``-P gevent``): the process is monkey-patched before anything
    else is imported (``flowc.cli.main``), so blocking I/O in tasks (sockets, Redis, HTTP,
    ``time.sleep``) yields to the other greenlets and hundreds of I/O-bound tasks wait at once."""

    def __init__(self, app: App, queues: Sequence[str], consumer: str, concurrency: int) -> None:
        from gevent import monkey

        if not monkey.is_module_patched("socket"):
            raise RuntimeError("-P gevent needs the process monkey-patched before other "
                               "imports: start it with `flowc worker -P gevent`")
        super().__init__(app, queues, consumer, concurrency)
        import gevent.pool

        self.pool = gevent.pool.Pool(concurrency)

    def start(self, delivery: Delivery, task: Task, message: Message) -> None:
        """Spawn a greenlet for the task."""
        self.pool.spawn(self._run, delivery, task, message)

    def _run(self, delivery: Delivery, task: Task, message: Message) -> None:
        self.done(delivery, task, message, invoke(task, message, self.hostname))

    def shutdown(self) -> None:
        """Wait for running greenlets, then settle."""
        super().shutdown()
        self.pool.join(timeout=30)
