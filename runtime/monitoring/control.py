"""``app.control``: revoke tasks, and Celery's remote control from Python (``inspect()``,
``ping``, ``rate_limit``, ``shutdown``, ``pool_grow``/``pool_shrink``, ``broadcast``) over the
control channel (``control_channel``). Replies are keyed by node name (``name@host``), as
Celery's are; the processes of a prefork node are merged into one entry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.outcome import encode_record, now_iso
from flowc.runtime.worker.revocations import REVOKED_TTL_S

if TYPE_CHECKING:
    from flowc.runtime.app import App

_PROCESS_SUFFIX = re.compile(r"(\.\d+)?\.\d+\.[0-9a-f]{6}$")
"""``.<index>.<pid>.<token>`` (prefork) or ``.<pid>.<token>``: what a process adds to its node."""


def node_of(process: str) -> str:
    """The node name (``name@host``) of a worker process name."""
    return _PROCESS_SUFFIX.sub("", process)


def _destination(destination: str | Sequence[str] | None) -> list[str] | None:
    if destination is None:
        return None
    return [destination] if isinstance(destination, str) else list(destination)


class Inspect:
    """``app.control.inspect()``: ask workers what they run, hold and know (Celery's API).

    Each method returns ``{node: value}`` or None when no worker replied within ``timeout``.
    """

    def __init__(self, app: App, destination: str | Sequence[str] | None = None,
                 timeout: float = 1.0, limit: int | None = None) -> None:
        self.app = app
        self.destination = _destination(destination)
        self.timeout = timeout
        self.limit = limit

    def _ask(self, op: str) -> list[dict[str, Any]]:
        from flowc.runtime.monitoring.control_channel import ControlClient

        return ControlClient(self.app).broadcast(op, destination=self.destination,
                                                 timeout_s=self.timeout, limit=self.limit)

    def _merged(self, op: str) -> dict[str, Any] | None:
        """Lists from every process of a node joined (duplicates by id or value dropped)."""
        nodes: dict[str, list[Any]] = {}
        for reply in self._ask(op):
            items = nodes.setdefault(node_of(str(reply["worker"])), [])
            for item in reply.get("ok") or []:
                key = item.get("id") if isinstance(item, dict) else item
                if all((i.get("id") if isinstance(i, dict) else i) != key for i in items):
                    items.append(item)
        return nodes or None

    def active(self) -> dict[str, Any] | None:
        """Tasks running now, per node."""
        return self._merged("inspect_active")

    def reserved(self) -> dict[str, Any] | None:
        """Messages claimed and not started yet, per node."""
        return self._merged("inspect_reserved")

    def scheduled(self) -> dict[str, Any] | None:
        """Countdown/eta tasks of the queues each node consumes (they wait in Redis)."""
        return self._merged("inspect_scheduled")

    def registered(self) -> dict[str, Any] | None:
        """Task names each node knows."""
        return self._merged("inspect_registered")

    registered_tasks = registered

    def stats(self) -> dict[str, Any] | None:
        """Per node: pid, pool (implementation, max-concurrency), queues, total processed."""
        nodes: dict[str, Any] = {}
        for reply in self._ask("inspect_stats"):
            stats = reply.get("ok")
            if not isinstance(stats, dict):
                continue
            node = node_of(str(reply["worker"]))
            if node in nodes:  # prefork: the node's processes add up
                nodes[node]["total"] += stats.get("total", 0)
                nodes[node].setdefault("processes", []).append(stats["pid"])
            else:
                nodes[node] = {**stats, "processes": [stats["pid"]]}
        return nodes or None

    def ping(self) -> dict[str, Any] | None:
        """``{node: {'ok': 'pong'}}`` for every node that answered."""
        nodes = {node_of(str(r["worker"])): {"ok": r.get("ok")} for r in self._ask("ping")}
        return nodes or None


class _RemoteControl:
    """Celery's ``app.control`` broadcast commands (mixed into ``Control``)."""

    app: App

    def inspect(self, destination: str | Sequence[str] | None = None, timeout: float = 1.0,
                limit: int | None = None, **_: Any) -> Inspect:
        """An ``Inspect`` for all workers, or those named in ``destination``."""
        return Inspect(self.app, destination, timeout, limit)

    def broadcast(self, command: str, arguments: dict[str, Any] | None = None,
                  destination: str | Sequence[str] | None = None, reply: bool = False,
                  timeout: float = 1.0, limit: int | None = None,
                  **_: Any) -> list[dict[str, Any]] | None:
        """Send a control command; with ``reply`` return ``[{node: reply}, ...]``."""
        from flowc.runtime.monitoring.control_channel import ControlClient

        replies = ControlClient(self.app).broadcast(
            command, arguments, destination=_destination(destination),
            timeout_s=timeout if reply else 0.0, reply=reply, limit=limit)
        if not reply:
            return None
        return [{node_of(str(r["worker"])): {k: v for k, v in r.items() if k != "worker"}}
                for r in replies]

    def ping(self, destination: str | Sequence[str] | None = None, timeout: float = 1.0,
             **kwargs: Any) -> list[dict[str, Any]]:
        """``[{node: {'ok': 'pong'}}, ...]``, one entry per node that answered in time."""
        merged = Inspect(self.app, destination, timeout).ping() or {}
        return [{node: value} for node, value in merged.items()]

    def rate_limit(self, task_name: str, rate_limit: str | float | None,
                   destination: str | Sequence[str] | None = None, reply: bool = False,
                   timeout: float = 1.0, **kwargs: Any) -> list[dict[str, Any]] | None:
        """Change a task's rate limit on the workers (``'10/m'``; None or 0 removes it)."""
        from flowc.runtime.options import parse_rate_limit

        parse_rate_limit(rate_limit)  # a bad value fails here, not in each worker
        rate = None if rate_limit in (None, 0, "", "0") else str(rate_limit)
        return self.broadcast("rate_limit", {"task": task_name, "rate": rate}, destination,
                              reply, timeout)

    def shutdown(self, destination: str | Sequence[str] | None = None, reply: bool = False,
                 timeout: float = 1.0, **kwargs: Any) -> list[dict[str, Any]] | None:
        """Warm-shut down the workers."""
        return self.broadcast("shutdown", None, destination, reply, timeout)

    def pool_grow(self, n: int = 1, destination: str | Sequence[str] | None = None,
                  reply: bool = False, timeout: float = 1.0,
                  **kwargs: Any) -> list[dict[str, Any]] | None:
        """Add ``n`` pool processes/slots."""
        return self.broadcast("pool_grow", {"n": n}, destination, reply, timeout)

    def pool_shrink(self, n: int = 1, destination: str | Sequence[str] | None = None,
                    reply: bool = False, timeout: float = 1.0,
                    **kwargs: Any) -> list[dict[str, Any]] | None:
        """Remove ``n`` pool processes/slots."""
        return self.broadcast("pool_shrink", {"n": n}, destination, reply, timeout)


class Control(_RemoteControl):
    """Cluster-wide control through the coordination store (``app.control``)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def revoke(self, task_id: str | Iterable[str], terminate: bool = False,
               signal: str = "SIGTERM") -> None:
        """Mark tasks revoked: workers skip them and their result becomes REVOKED.

        ``terminate=True`` also kills the prefork pool process running one of them (it is then
        replaced). flowc always kills with SIGKILL: SIGTERM is a pool process's warm-shutdown
        signal, which would let the task finish; ``signal`` is accepted for compatibility.
        """
        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        now = self.app.broker.now()  # server time: workers compare it with theirs
        self.app.coordination.revoke(ids, now, REVOKED_TTL_S, terminate)
        backend = self.app.backend
        for tid in ids:
            record, _ = backend.get(tid)
            if record is None:
                exc = {"exc_type": "TaskRevokedError", "exc_module": "flowc.runtime.exceptions",
                       "exc_message": [f"task {tid} revoked"]}
                backend.store([(tid, encode_record(
                    {"status": states.REVOKED, "result": exc, "task_id": tid,
                     "date_done": now_iso(), "reason": "revoked"},
                    self.app.conf.result_serializer))], self.app.conf.result_ttl)
