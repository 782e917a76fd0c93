"""Cluster-wide rate limits: ``rate_limit='10/m'`` holds across every worker and process.

Before a rate-limited task starts, its worker asks the coordination store for a start slot
(``Coordination.rate_slot``: ``ratelimit.lua`` on Redis, one UPDATE on PostgreSQL; GCRA).
Slots are evenly spaced, one per ``period / count``. A slot that is due now runs now; a later
one is reserved for this message, which goes back to the queue's delayed set until then (the
worker goes on with other tasks) and runs when promoted without asking again. Celery's limit
is a token bucket per worker process, so N workers start up to N times the rate; here the
limit is one key (or row) for the whole cluster.

``rate_limit_key='store_id'`` keeps one limit per value of that argument (per-tenant APIs).
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowc.runtime.message import RATE_SLOT_HEADER
from flowc.runtime.options import RateLimit, parse_rate_limit

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.message import Message
    from flowc.runtime.task import Task

SLOT_HEADER = RATE_SLOT_HEADER
"""Message header carrying a reserved start slot (server ms); such a message runs as is."""
RUN_NOW_S = 0.005
"""A slot this close counts as now (not worth a trip through the delayed set)."""
GUARD_FRACTION = 0.05
GUARD_MAX_S = 0.25
"""Slots are spread over the period plus this share of it (at most ``GUARD_MAX_S``), so a task
that starts a little after its slot cannot push a window over the limit. A task that would
start later than ``LATE_SHARE`` of that guard (a busy or paused worker) asks for a new slot
instead: the limit holds for actual starts, not only for the slots."""
LATE_SHARE = 0.5
EARLY_S = 0.1
"""A parked message is promoted this long before its slot and waits for the slot in the worker:
the trip from the delayed set to the start (promotion, fetch, decoding) then costs none of the
guard. Promoted exactly at its slot, a message on a loaded machine came that trip late by more
than the allowed share of the guard (24 ms for 5/s then) every time, asked for a new slot at
the back of the line each time, and rate-limited tasks stopped starting at all."""
PAD_SHARE = 0.25
"""A message that waited for its slot starts this share of the guard after it: the wait reads
this process's estimate of the server's clock, and a start before the slot (an estimate a
little ahead) would take from the guard that a late start elsewhere may need."""


@dataclass(frozen=True, slots=True)
class Decision:
    """``wait_s`` 0 means start now; otherwise wait until ``eta`` (local unix time)."""

    wait_s: float
    eta: float


class RateLimiter:
    """Asks the coordination store for start slots; one per worker process."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._limits: dict[str, RateLimit | None] = {}
        self._step_limits: dict[Any, RateLimit | None] = {}

    def limit_of(self, task: Task) -> RateLimit | None:
        """The task's parsed ``rate_limit`` (or ``task_default_rate_limit``), cached."""
        if task.name not in self._limits:
            value = task.options.get("rate_limit", self.app.conf.task_default_rate_limit)
            self._limits[task.name] = parse_rate_limit(value)
        return self._limits[task.name]

    def step_limit(self, message: Message) -> RateLimit | None:
        """A workflow step's own ``rate_limit`` (envelope ``headers.options``), if it set one."""
        options = (message.headers or {}).get("options") or {}
        value = options.get("rate_limit")
        if value is None:
            return None
        if value not in self._step_limits:
            self._step_limits[value] = parse_rate_limit(value)
        return self._step_limits[value]

    def acquire(self, task: Task, message: Message) -> Decision | None:
        """None if ``task`` is unlimited or the message already holds a slot; else a slot.

        A workflow step's own limit wins over the task's; both count against one key per task
        (and per ``rate_limit_key`` value), so the limit holds across the whole cluster.
        """
        limit = (self.step_limit(message) if message.headers else None) or self.limit_of(task)
        if limit is None:
            return None
        if message.headers and SLOT_HEADER in message.headers:
            slot = float(message.headers.pop(SLOT_HEADER))  # a retry of this run asks again
            late_s = self.app.broker.now() - slot
            if late_s < 0:  # promoted EARLY_S ahead: start on the slot itself
                time.sleep(min(-late_s, EARLY_S) + PAD_SHARE * guard_s(limit))
                return None
            if late_s <= LATE_SHARE * guard_s(limit):
                return None
        key = self.app.keys.rate(task.name, limit_key_value(task, message))
        wait_s = self.app.coordination.rate_slot(key, interval_ms(limit)) / 1000.0
        if wait_s <= RUN_NOW_S:
            return Decision(0.0, self.app.broker.now())
        return Decision(wait_s, self.app.broker.now() + wait_s)

    def mark(self, message: Message, decision: Decision) -> None:
        """Record the reserved slot on the message before it is parked."""
        message.headers = {**(message.headers or {}), SLOT_HEADER: decision.eta}

    @staticmethod
    def promote_at(decision: Decision) -> float:
        """When a message parked for ``decision`` is promoted: ``EARLY_S`` before its slot."""
        return max(decision.eta - EARLY_S, decision.eta - decision.wait_s)


def guard_s(limit: RateLimit) -> float:
    """The slack added to the period (see ``GUARD_FRACTION``)."""
    return min(GUARD_MAX_S, limit.period_s * GUARD_FRACTION)


def interval_ms(limit: RateLimit) -> float:
    """Milliseconds between granted slots: the period, plus its guard, over the count."""
    return (limit.period_s + guard_s(limit)) * 1000.0 / limit.count


def limit_key_value(task: Task, message: Message) -> str | None:
    """The value of the task's ``rate_limit_key`` argument in this call, as text."""
    name = task.options.get("rate_limit_key")
    if not name:
        return None
    if name in message.kwargs:
        return _text(message.kwargs[name])
    sig = task.call_signature
    if sig is None:
        return None
    args = (None, *message.args) if task.bind else tuple(message.args)
    try:
        bound = sig.bind_partial(*args, **message.kwargs)
    except TypeError:
        return None
    if name in bound.arguments:
        return _text(bound.arguments[name])
    param = sig.parameters.get(name)
    if param is not None and param.default is not inspect.Parameter.empty:
        return _text(param.default)
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
