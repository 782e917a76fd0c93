"""Remote control of workers: broadcast a command, gather each worker's reply.

A command is broadcast through the coordination store (``Coordination.broadcast``: Redis
pub/sub on ``Keys.control_channel``, or PostgreSQL NOTIFY) as JSON ``{id, op, args,
destination, reply_to}``. Every worker process runs a ``ControlListener`` thread subscribed to
it; a process the command is meant for runs the handler and answers ``{worker, ok | error}``
to the reply box ``reply_to`` (a Redis list that expires, or a NOTIFY channel). The caller
(``ControlClient.broadcast``) knows how many processes heard the command (PUBLISH's reply; on
PostgreSQL the live workers), so it stops waiting as soon as all of them answered, or at the
timeout.

Pub/sub is fire-and-forget: a worker that is disconnected at that moment misses the command
(Celery's broadcast has the same property). State that must survive that, such as revocations,
lives in the store (``app.control.revoke`` writes the revoked set first).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from flowc.runtime.app import App

logger = logging.getLogger("flowc.control")

POLL_S = 0.5
"""How long the listener waits for a command before doing its periodic work."""
OPS = ("ping", "inspect_active", "inspect_reserved", "inspect_scheduled", "inspect_registered",
       "inspect_stats", "inspect_active_queues", "rate_limit", "shutdown", "pool_grow",
       "pool_shrink", "add_consumer", "cancel_consumer", "revoke")


class ControlTarget(Protocol):
    """What a worker process exposes to control commands (``monitor_worker.WorkerMonitor``)."""

    app: App
    name: str
    queues: list[str]

    def active(self) -> list[dict[str, Any]]:
        """Tasks running now: id, name, args, kwargs, started."""
        ...

    def reserved(self) -> list[dict[str, Any]]:
        """Messages claimed by this process and not started yet."""
        ...

    def set_rate_limit(self, task: str, rate: str | None) -> str:
        """Change a task's rate limit in this process; return a description."""
        ...

    def shutdown(self) -> str:
        """Begin a warm shutdown of this worker."""
        ...

    def pool_resize(self, delta: int) -> int:
        """Grow (delta > 0) or shrink the pool; return the new concurrency."""
        ...

    def revoke(self, ids: Sequence[str], terminate: bool) -> list[str]:
        """Forget revoked ids in this process at once; return the ids it was running."""
        ...

    def add_consumer(self, queue: str) -> str:
        """Start consuming from ``queue`` too (Celery's ``add_consumer``)."""
        ...

    def cancel_consumer(self, queue: str) -> str:
        """Stop consuming from ``queue`` (Celery's ``cancel_consumer``)."""
        ...

    def stats(self) -> dict[str, Any]:
        """This process's pid, pool, queues and tasks run so far (``inspect().stats()``)."""
        ...


class UnknownCommand(Exception):
    """Raised when a control command names an operation this worker does not know."""


def handle(target: ControlTarget, op: str, args: dict[str, Any]) -> Any:
    """Run one command against ``target`` and return its reply value."""
    if op == "ping":
        return "pong"
    if op == "inspect_active":
        return target.active()
    if op == "inspect_reserved":
        return target.reserved()
    if op == "inspect_scheduled":
        from flowc.runtime.monitoring.views import Monitor

        return Monitor(target.app).scheduled(target.queues)
    if op == "inspect_registered":
        return sorted(target.app.tasks)
    if op == "inspect_stats":
        return target.stats()
    if op == "rate_limit":
        return target.set_rate_limit(str(args["task"]), args.get("rate"))
    if op == "shutdown":
        return target.shutdown()
    if op in ("pool_grow", "pool_shrink"):
        n = int(args.get("n", 1))
        return target.pool_resize(n if op == "pool_grow" else -n)
    if op == "revoke":
        return target.revoke([str(i) for i in args.get("ids", [])],
                             bool(args.get("terminate")))
    if op == "inspect_active_queues":
        return list(target.queues)
    if op in ("add_consumer", "cancel_consumer"):
        queue = str(args.get("queue") or "").strip()
        if not queue:
            raise ValueError(f"{op} needs a queue name: {{\"queue\": \"name\"}}")
        return target.add_consumer(queue) if op == "add_consumer" else \
            target.cancel_consumer(queue)
    raise UnknownCommand(f"unknown control command {op!r}; known: {', '.join(OPS)}")


def _matches(name: str, destination: Sequence[str] | None) -> bool:
    """A destination names a process (``name@host.pid.token``) or a node (``name@host``)."""
    if not destination:
        return True
    return any(name == d or name.startswith(d + ".") for d in destination)


class ControlListener:
    """A daemon thread that answers control commands for one worker process.

    ``tick`` (if given) is called about every ``POLL_S`` seconds from the same thread (the
    worker uses it for heartbeat events); a failing iteration is logged and backed off.
    """

    def __init__(self, target: ControlTarget, tick: Callable[[], None] | None = None) -> None:
        self.target = target
        self.tick = tick
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self.loop, name="flowc-control", daemon=True)

    def start(self, wait_s: float = 5.0) -> None:
        """Start the thread and wait (up to ``wait_s``) until it is subscribed."""
        self._thread.start()
        self._ready.wait(wait_s)

    def stop(self, wait_s: float = 2 * POLL_S) -> None:
        """Stop listening and wait (up to ``wait_s``) until the subscription is closed, so a
        broadcast sent after this returns never counts this process among its listeners (it
        would then wait its whole timeout for a reply that never comes)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait_s)

    def loop(self) -> None:
        """Subscribe, answer commands, reconnect with backoff after failures."""
        backoff = 0.5
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self.target.app.coordination.subscribe_control()
                self._ready.set()
                backoff = 0.5
                while not self._stop.is_set():
                    data = pubsub.get(POLL_S)
                    if data is not None:
                        self.answer(data)
                    if self.tick is not None:
                        self.tick()
            except Exception:
                if self._stop.is_set():
                    break
                logger.exception("control listener failed; reconnecting in %.1fs", backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        logger.debug("closing the control subscription failed", exc_info=True)

    def answer(self, data: bytes) -> None:
        """Decode one command, run it if it is for us, and reply."""
        try:
            command = orjson.loads(data)
            op = str(command["op"])
            reply_to = command.get("reply_to")
        except Exception:
            logger.warning("ignored a malformed control command: %r", data[:200])
            return
        reply: dict[str, Any] = {"worker": self.target.name}
        if not _matches(self.target.name, command.get("destination")):
            reply["skip"] = True  # so the caller need not wait for us to time out
        else:
            try:
                reply["ok"] = handle(self.target, op, dict(command.get("args") or {}))
            except Exception as e:
                logger.warning("control command %s failed: %s", op, e)
                reply["error"] = f"{type(e).__name__}: {e}"
        if reply_to:
            self.target.app.coordination.reply_control(reply_to, orjson.dumps(reply, default=str))


class ControlClient:
    """Sends commands to workers and gathers their replies (the CLI's and dashboard's side)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def broadcast(self, op: str, args: dict[str, Any] | None = None,
                  destination: Sequence[str] | None = None, timeout_s: float = 1.0,
                  reply: bool = True, limit: int | None = None) -> list[dict[str, Any]]:
        """Publish ``op`` and return the replies received within ``timeout_s``.

        Stops early once every subscribed process (or ``limit`` of them) answered.
        """
        if op not in OPS:
            raise UnknownCommand(f"unknown control command {op!r}; known: {', '.join(OPS)}")
        coordination = self.app.coordination
        request_id = uuid.uuid4().hex
        reply_to = coordination.reply_box(request_id) if reply else None
        command = {"id": request_id, "op": op, "args": args or {},
                   "destination": list(destination) if destination else None,
                   "reply_to": reply_to}
        replies: list[dict[str, Any]] = []
        gathered = coordination.broadcast(orjson.dumps(command), reply_to, timeout_s)
        try:
            for found in gathered:
                item = orjson.loads(found)
                if not item.get("skip"):
                    replies.append(item)
                if limit is not None and len(replies) >= limit:
                    break
        finally:
            close = getattr(gathered, "close", None)
            if close is not None:
                close()  # a generator's finally: deletes the reply box
        return sorted(replies, key=lambda r: str(r.get("worker")))
