"""Time limits: ``soft_time_limit`` raises inside the task; ``time_limit`` ends it for good.

Soft limits (and hard ones in the solo pool) use ``SIGALRM``, so they work where the task runs
on the process's main thread: the solo pool and each prefork pool process. In prefork the hard
limit is enforced from outside: each pool process publishes what it is running in a slot of
shared memory (``RunningSlots``), and the supervisor kills a process whose task passed its
deadline, replaces it, and records ``TimeLimitExceeded`` (see ``prefork``). The same slots tell
the supervisor which process to kill for ``revoke(..., terminate=True)``.

The thread and asyncio pools cannot interrupt a running task; there limits are not applied
(as with Celery's thread pools) and the worker says so once in its log.
"""

from __future__ import annotations

import logging
import mmap
import signal
import struct
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowc.runtime.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

if TYPE_CHECKING:
    from flowc.runtime.broker import Delivery
    from flowc.runtime.config import Settings
    from flowc.runtime.message import Message
    from flowc.runtime.task import Task

logger = logging.getLogger("flowc.worker")

SLOT_SIZE = 64 * 1024
LONGEST_LIMIT_S = 100 * 365 * 24 * 3600.0
"""A time limit longer than this (100 years) is cut to it: it means no limit all the same,
while ``setitimer`` raises OverflowError near 2**63 s (a message with ``soft_time_limit=1e300``
failed the consume loop and stayed claimed, never run nor dead-lettered)."""
"""Bytes of shared memory per pool process: a header plus the running message's body."""
_HEAD = struct.Struct("<QdII")
"""seq (odd while being written), hard deadline (monotonic s, 0 = none), meta len, body len."""


def limits_for(conf: Settings, task: Task,
               message: Message) -> tuple[float | None, float | None]:
    """``(soft, hard)`` seconds for this call: the call's options, the task's, then settings."""
    soft = message.soft_time_limit or task.options.get("soft_time_limit") \
        or conf.task_soft_time_limit
    hard = message.time_limit or task.options.get("time_limit") or conf.task_time_limit
    return ((min(float(soft), LONGEST_LIMIT_S) if soft else None),
            (min(float(hard), LONGEST_LIMIT_S) if hard else None))


@dataclass(slots=True)
class Running:
    """What a pool process is running, as the supervisor reads it from the slot."""

    task_id: str
    task: str
    source: bytes
    entry_id: bytes
    tag: bytes
    body: bytes
    deadline: float
    """Monotonic time after which the task is killed; 0 when it has no hard limit."""

    def delivery(self) -> Delivery:
        """The delivery this process claimed (for settling it from the supervisor)."""
        from flowc.runtime.broker import Delivery

        return Delivery(self.source, self.entry_id, self.body, self.tag)


class RunningSlots:
    """One shared-memory slot per pool process, created before the supervisor forks.

    Writers use a sequence counter (odd while writing) so a reader never acts on a torn record.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.mem = mmap.mmap(-1, SLOT_SIZE * count)

    def write(self, index: int, running: Running) -> None:
        """Publish what process ``index`` runs now (called in that process)."""
        base = index * SLOT_SIZE
        seq = _HEAD.unpack_from(self.mem, base)[0]
        meta = b"\0".join((running.task_id.encode(), running.task.encode(), running.source,
                            running.entry_id, running.tag))
        body = running.body if _HEAD.size + len(meta) + len(running.body) <= SLOT_SIZE else b""
        _HEAD.pack_into(self.mem, base, seq + 1, 0.0, 0, 0)
        start = base + _HEAD.size
        self.mem[start:start + len(meta)] = meta
        self.mem[start + len(meta):start + len(meta) + len(body)] = body
        _HEAD.pack_into(self.mem, base, seq + 2, running.deadline, len(meta), len(body))

    def clear(self, index: int) -> None:
        """Process ``index`` runs nothing now."""
        base = index * SLOT_SIZE
        seq = _HEAD.unpack_from(self.mem, base)[0]
        _HEAD.pack_into(self.mem, base, seq + 2, 0.0, 0, 0)

    def read(self, index: int) -> Running | None:
        """What process ``index`` runs, or None (also while a write is in progress)."""
        base = index * SLOT_SIZE
        seq, deadline, meta_len, body_len = _HEAD.unpack_from(self.mem, base)
        if seq % 2 or not meta_len:
            return None
        start = base + _HEAD.size
        meta_raw = bytes(self.mem[start:start + meta_len])
        body = bytes(self.mem[start + meta_len:start + meta_len + body_len])
        if _HEAD.unpack_from(self.mem, base)[0] != seq:
            return None
        task_id, task, source, entry_id, tag = meta_raw.split(b"\0", 4)
        return Running(task_id.decode(), task.decode(), source, entry_id, tag, body, deadline)

    def reset(self, index: int) -> None:
        """Forget a dead process's slot before its replacement starts."""
        self.clear(index)


class TimeLimiter:
    """Arms the limits around one task run in the process's main thread."""

    def __init__(self, conf: Settings, slots: RunningSlots | None = None,
                 index: int | None = None) -> None:
        self.conf = conf
        self.slots = slots
        self.index = index
        self.can_signal = threading.current_thread() is threading.main_thread()
        self._phase: str | None = None
        self._hard_after_soft: float | None = None
        if self.can_signal:
            signal.signal(signal.SIGALRM, self._on_alarm)

    def start(self, delivery: Delivery, task: Task, message: Message) -> bool:
        """Arm ``task``'s limits and, in prefork, publish the run in the slot; True if
        ``finish`` has anything to undo."""
        soft, hard = limits_for(self.conf, task, message)
        supervised = self.slots is not None and self.index is not None
        if supervised:
            assert self.slots is not None and self.index is not None
            deadline = time.monotonic() + hard if hard else 0.0
            self.slots.write(self.index, Running(message.id, task.name, delivery.source,
                                                 delivery.entry_id, delivery.tag, delivery.body,
                                                 deadline))
        armed = self._arm(soft, None if supervised else hard)
        return armed or supervised

    def finish(self) -> None:
        """Disarm the alarm and clear the slot."""
        if self._phase is not None:
            self._disarm()
        if self.slots is not None and self.index is not None:
            self.slots.clear(self.index)

    def _arm(self, soft: float | None, hard: float | None) -> bool:
        if not self.can_signal or (soft is None and hard is None):
            return False
        if soft is not None and (hard is None or soft < hard):
            self._phase = "soft"
            self._hard_after_soft = hard - soft if hard is not None else None
            signal.setitimer(signal.ITIMER_REAL, soft)
        else:
            assert hard is not None
            self._phase = "hard"
            self._hard_after_soft = None
            signal.setitimer(signal.ITIMER_REAL, hard)
        return True

    def _disarm(self) -> None:
        self._phase = None
        signal.setitimer(signal.ITIMER_REAL, 0)

    def _on_alarm(self, signum: int, frame: Any) -> None:
        phase, self._phase = self._phase, None
        if phase == "soft":
            if self._hard_after_soft is not None:
                self._phase = "hard"
                signal.setitimer(signal.ITIMER_REAL, max(0.001, self._hard_after_soft))
            raise SoftTimeLimitExceeded("soft time limit exceeded")
        if phase == "hard":
            raise TimeLimitExceeded("time limit exceeded")
