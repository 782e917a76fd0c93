"""Run a workflow in this process, following the join's rules (``workflow.lua``'s header).

A node is enqueued when its last parent succeeds; a countdown counts from then, an eta is
absolute, ``expires`` from submission. A failed node fails the run at once, skips its
dependents and fires each of its errbacks once; branches the failure does not reach go on to
their end, as Celery's independent tasks do. A map expands into one invocation per element. Every
delivery is an event on an :class:`Agenda`, a timeline run in due order.

Two users share this engine:

- ``task_always_eager`` and ``canvas.apply()`` (:func:`run_eagerly`): delays are not waited
  for, results stay Python objects, a failure is raised when ``task_eager_propagates``, and the
  results come back shaped like the Redis-backed run's, as ``EagerResult``\\ s.
- ``flowc.testing``'s harness (``timed`` and ``wire``): countdowns, etas and retries are due on
  the agenda's virtual clock, arguments and results go through JSON as on the wire, and every
  attempt of every step is recorded (:class:`Step`, :class:`Attempt`).
"""

from __future__ import annotations

import dataclasses
import heapq
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowc.compiler.ir import Node, Workflow, bind
from flowc.runtime import states
from flowc.runtime.current import SendHook, send_hook
from flowc.runtime.eager import eager_result
from flowc.runtime.exceptions import ChordError, TaskRevokedError
from flowc.runtime.execute import Outcome, invoke
from flowc.runtime.group_result import GroupResult, ResultLike
from flowc.runtime.message import RATE_SLOT_HEADER, Message
from flowc.runtime.outcome import exception_from_dict, exception_to_dict, now_iso
from flowc.runtime.result import EagerResult
from flowc.runtime.retry import STEP_OPTIONS, eager_clock
from flowc.runtime.serialization import get_serializer
from flowc.runtime.workflows.plan import is_chord_body
from flowc.runtime.workflows.steps import (
    bind_errback,
    join_for_outcome,
    map_refusal,
    source_location,
)

if TYPE_CHECKING:
    from flowc.runtime.app import App

PENDING, QUEUED, RUNNING, SKIPPED = "PENDING", "QUEUED", "RUNNING", "SKIPPED"
"""Node states besides SUCCESS and FAILURE, as ``WorkflowJoin.node_states`` reports them."""
TERMINAL = frozenset({states.SUCCESS, states.FAILURE, SKIPPED})
MAX_REQUEUES = 100
"""A step that keeps rejecting itself with ``requeue=True`` fails after this many deliveries
(a worker would dead-letter it after ``max_deliveries`` redeliveries)."""


class Agenda:
    """A timeline of events: each runs at its due time, ties in ``rank`` then arrival order.

    ``now`` only moves forward, to each event's due time as it runs (an overdue event runs at
    the current time), so code run by an event reads the time it was due.
    """

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now
        self._events: list[tuple[float, int, int, Callable[[], None]]] = []
        self._seq = 0

    def at(self, due: float, rank: int, action: Callable[[], None]) -> None:
        """Run ``action`` at ``due`` (unix seconds; now if in the past)."""
        self._seq += 1
        heapq.heappush(self._events, (max(due, self.now), rank, self._seq, action))

    def next_due(self) -> float | None:
        return self._events[0][0] if self._events else None

    def __len__(self) -> int:
        return len(self._events)

    def run_next(self) -> None:
        due, _, _, action = heapq.heappop(self._events)
        self.now = max(self.now, due)
        action()

    def run(self, until: float | None = None) -> int:
        """Run every event due at or before ``until`` (None: until none is left, events added
        on the way included); return how many ran. ``now`` ends at ``until`` when given."""
        ran = 0
        while self._events and (until is None or self._events[0][0] <= until):
            self.run_next()
            ran += 1
        if until is not None:
            self.now = max(self.now, until)
        return ran


class RateSlots:
    """Start slots of rate-limited tasks on an agenda's clock: ``ratelimit.lua``'s GCRA (one
    key per task and ``rate_limit_key`` value, slots one interval apart), shared by every run
    on the agenda as the Redis key is by every worker."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, str | None], float] = {}
        self._interval_s: dict[tuple[str, Any], float | None] = {}

    def reserve(self, task: Any, message: Message, now: float) -> float | None:
        """When ``message`` may start: None for now, else the unix time of its slot."""
        from flowc.runtime.worker.ratelimit import RUN_NOW_S, limit_key_value

        own = ((message.headers or {}).get("options") or {}).get("rate_limit")
        interval = self._interval(task, own)
        if interval is None:
            return None
        key = (task.name, limit_key_value(task, message))
        slot = max(now, self._next.get(key, 0.0))
        self._next[key] = slot + interval
        return slot if slot - now > RUN_NOW_S else None

    def _interval(self, task: Any, own: Any) -> float | None:
        """Seconds between slots: the step's own limit, else the task's (None: unlimited)."""
        cache_key = (task.name, own)
        if cache_key not in self._interval_s:
            from flowc.runtime.options import parse_rate_limit
            from flowc.runtime.worker.ratelimit import interval_ms

            limit = parse_rate_limit(own) or parse_rate_limit(
                task.options.get("rate_limit", task.app.conf.task_default_rate_limit))
            self._interval_s[cache_key] = None if limit is None else interval_ms(limit) / 1000
        return self._interval_s[cache_key]


@dataclass
class Attempt:
    """One delivery of a step, a map element or an error handler, and how it ended."""

    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]
    at: float
    """When it ran (the agenda's time)."""
    retries: int
    """Retries before this attempt (``self.request.retries``)."""
    status: str
    """SUCCESS, FAILURE, RETRY, REJECTED, IGNORED or REVOKED (expired before it ran)."""
    index: int | None = None
    """A map element's index."""
    value: Any = None
    exc: BaseException | None = None
    traceback: str | None = None
    next_at: float | None = None
    """RETRY: when the next attempt is due."""


@dataclass
class Step:
    """What happened to one node of a run (state as ``WorkflowJoin.node_states`` names it)."""

    node: Node
    task_id: str
    state: str = PENDING
    ready_at: float | None = None
    """When its last parent finished (a root: when the run started)."""
    due_at: float | None = None
    """When it was first due to run (``ready_at`` plus a countdown, or its eta)."""
    finished_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    value: Any = None
    exc: BaseException | None = None
    handle: EagerResult | None = None
    items: list[Any] | None = None
    """A map's elements, once it expanded."""


@dataclass
class HandlerCall:
    """An error handler (``on error`` / ``link_error``) fired by a failed step."""

    errback_id: str
    task: str
    failed_node: str
    failed_task_id: str
    attempts: list[Attempt] = field(default_factory=list)
    handle: EagerResult | None = None


class EagerRun:
    """One workflow run on an agenda. ``start()`` enqueues its roots; the agenda does the rest.

    ``timed``: countdowns, etas, expiry and retry delays are due on the agenda's clock (else
    everything is due at once, as eager mode runs it). ``wire``: arguments and results go
    through JSON as messages and the join carry them, and a failure is never raised (else
    values stay Python objects and ``task_eager_propagates`` raises a step's exception).
    ``send``: where what a step sends (``delay``, ``apply_async``, a canvas) goes while it
    runs (``send_hook``); None: where it would go anyway. ``rate_slots``: rate limits hold,
    a step waits for its start slot (None: they are ignored, as in eager mode).
    """

    def __init__(self, app: App, wf: Workflow, agenda: Agenda, *,
                 workflow_id: str | None = None, timed: bool = False,
                 wire: bool = False, send: SendHook | None = None,
                 rate_slots: RateSlots | None = None) -> None:
        self.app = app
        self.wf = wf
        self.agenda = agenda
        self.id = workflow_id or wf.id or str(uuid.uuid4())
        self.timed = timed
        self.wire = wire
        self.send = send
        self.rate_slots = rate_slots
        self.status = "RUNNING"
        self.failed_node: str | None = None
        self.created = agenda.now
        self.finished: float | None = None
        order = wf.topological_order()
        self.rank = {nid: i for i, nid in enumerate(order)}
        self.steps: dict[str, Step] = {}
        for node in wf.nodes:
            task_id = str(node.options.get("task_id") or uuid.uuid4())
            self.steps[node.id] = Step(node, task_id)
        self.first_id = self.steps[wf.nodes[0].id].task_id if wf.nodes else None
        parents = self.parents = wf.parents_map()
        self.pending = {nid: len(p) for nid, p in parents.items()}
        self.successors: dict[str, list[str]] = {nid: [] for nid in parents}
        for nid, ps in parents.items():
            for p in ps:
                self.successors[p].append(nid)
        self.values: dict[str, Any] = {}
        self.left = len(wf.nodes)
        self.handlers: list[HandlerCall] = []
        self._map_values: dict[str, dict[int, Any]] = {}
        self._routes: dict[tuple[str, str | None, int | None], tuple[str, int]] = {}

    # --- the run's life ---------------------------------------------------------------------

    def start(self) -> None:
        for node in self.wf.nodes:
            if self.pending[node.id] == 0:
                self._enqueue(node.id)
        if not self.wf.nodes:
            self._finish_if_done()

    def _enqueue(self, nid: str) -> None:
        step = self.steps[nid]
        node = step.node
        now = self.agenda.now
        step.state, step.ready_at = QUEUED, now
        args, kwargs = bind(node, self.values)
        if self.wire:
            args, kwargs = _through_json(args), _through_json(kwargs)
        options = node.options
        marker: dict[str, Any] = {"id": self.id, "node": nid}
        if node.kind == "map":
            marker.update(expand=True, max=node.max_width)
            at = source_location(node.span)
            if at:
                marker["at"] = at
        steps = {k: options[k] for k in (*STEP_OPTIONS, "rate_limit")
                 if options.get(k) is not None}
        queue, priority = self.app.conf.task_default_queue, 0
        if self.wire:  # where a worker would get it (shown by the harness; eager mode: moot)
            queue, priority = self._route(node.task, options.get("queue"),
                                          options.get("priority"))
        parents = self.parents[nid]
        message = Message(
            step.task_id, node.task, args, kwargs, queue, priority,
            expires=self._expires(options), time_limit=options.get("time_limit"),
            soft_time_limit=options.get("soft_time_limit"),
            ignore_result=options.get("ignore_result"), root_id=self.first_id,
            parent_id=self.steps[parents[0]].task_id if parents else None,
            group_id=str(options["group_id"]) if options.get("group_id") else None,
            workflow=marker, headers={"options": steps} if steps else None)
        due = now
        if self.timed:
            from flowc.runtime.workflows.plan import step_delays

            countdown, eta = step_delays(options, now)
            due = now + countdown if countdown else (eta or now)
        step.due_at = due
        self.agenda.at(due, self.rank[nid], lambda: self._deliver(message, step))

    def _route(self, task: str, queue: str | None, priority: int | None) -> tuple[str, int]:
        """Queue and priority as ``plan`` routes a step (cached per task and options)."""
        key = (task, queue, priority)
        found = self._routes.get(key)
        if found is None:
            options = {k: v for k, v in (("queue", queue), ("priority", priority))
                       if v is not None}
            message = self.app.build_message(task, [], {}, self.app.tasks.get(task), options)
            found = self._routes[key] = (message.queue, message.priority)
        return found

    def _expires(self, options: dict[str, Any]) -> float | None:
        if not self.timed or options.get("expires") is None:
            return None
        from flowc.runtime.options import resolve_expires

        return resolve_expires(options["expires"], self.created)

    def _deliver(self, message: Message, step: Step) -> None:
        """A worker fetched ``message``: expire it, expand a map, or run the task."""
        index = (message.workflow or {}).get("i")
        if message.expires is not None and self.agenda.now > message.expires:
            exc = TaskRevokedError(f"task {message.id} expired")
            step.attempts.append(Attempt(message.id, message.args, message.kwargs,
                                         self.agenda.now, message.retries, states.REVOKED,
                                         index, exc=exc))
            self._fail(step, exc, None, message.id, index)
            return
        if (message.workflow or {}).get("expand"):
            self._expand(message, step)
            return
        task = self.app.tasks[message.task]
        if self._parked(task, message, lambda m: self._deliver(m, step),
                        self.rank[step.node.id]):
            return
        outcome = self._invoke(task, message)
        step.attempts.append(_attempt(message, outcome, self.agenda.now, index))
        if self._again(message, outcome, step.attempts, lambda m: self._deliver(m, step),
                       self.rank[step.node.id]):
            return
        handle = None
        if not self.wire:  # eager mode: raises the step's exception if task_eager_propagates
            handle = eager_result(task, message, outcome, {
                "group_id": step.node.options.get("group_id")})
        if outcome.status == states.SUCCESS and not self.wire:
            value = outcome.value
        else:
            op = join_for_outcome(message, outcome)
            if op is None:  # only a retry, a requeue or a Replaced has no join; not here
                raise AssertionError(f"no join for a {outcome.status} outcome")
            if op.op == "fail":
                own = outcome.exc if outcome.status in (states.FAILURE, states.REJECTED) \
                    else None  # else the join's reason (Ignore, an unserialisable result)
                self._fail(step, own or exception_from_dict(op.exc), op.traceback,
                           message.id, index, handle)
                return
            value = _json.loads(op.result_json)
        if index is None:
            step.handle = handle
            self._done(step, value)
        else:
            self._instance_done(step, index, value)

    def _parked(self, task: Any, message: Message, deliver: Callable[[Message], None],
                rank: int) -> bool:
        """A rate-limited message whose start slot is later waits for it (a worker parks it in
        the delayed set with the slot in a header, and runs it then without asking again)."""
        if self.rate_slots is None:
            return False
        headers = dict(message.headers or {})
        if headers.pop(RATE_SLOT_HEADER, None) is not None:
            message.headers = headers or None  # a retry of this run asks again
            return False
        slot = self.rate_slots.reserve(task, message, self.agenda.now)
        if slot is None:
            return False
        parked = dataclasses.replace(message, headers={**headers, RATE_SLOT_HEADER: slot})
        self.agenda.at(slot, rank, lambda: deliver(parked))
        return True

    def _invoke(self, task: Any, message: Message) -> Outcome:
        token = eager_clock.set(lambda: self.agenda.now)
        sending = send_hook.set(self.send) if self.send is not None else None
        try:
            return invoke(task, message, eager=True)
        finally:
            if sending is not None:
                send_hook.reset(sending)
            eager_clock.reset(token)

    def _again(self, message: Message, outcome: Outcome, attempts: list[Attempt],
               deliver: Callable[[Message], None], rank: int) -> bool:
        """Schedule the next delivery of a retried or requeued message; whether there is one."""
        attempt = attempts[-1]
        if outcome.status == states.RETRY and outcome.retry is not None:
            nxt = outcome.retry
            due = float(nxt.eta) if self.timed and nxt.eta is not None else self.agenda.now
            attempt.next_at = due
            self.agenda.at(due, rank, lambda: deliver(nxt))
            return True
        if outcome.status == states.REJECTED and outcome.requeue:
            requeued = sum(a.task_id == message.id and a.status == states.REJECTED
                           for a in attempts)
            if requeued < MAX_REQUEUES:
                attempt.next_at = self.agenda.now
                self.agenda.at(self.agenda.now, rank, lambda: deliver(message))
                return True
            outcome.requeue = False
        return False

    def _expand(self, message: Message, step: Step) -> None:
        items = message.args[0] if message.args else None
        refused = map_refusal(message, items)
        if refused is not None:
            self._fail(step, refused, None, message.id, None)
            return
        assert isinstance(items, list)
        step.items = items
        if not items:
            self._done(step, [])
            return
        step.state = RUNNING
        self._map_values[step.node.id] = {}
        namespace = message.id_namespace()
        marker = message.workflow or {}
        for i, item in enumerate(items):
            instance = Message(
                str(uuid.uuid5(namespace, str(i))), message.task, [item, *message.args[1:]],
                message.kwargs, message.queue, message.priority,
                ignore_result=message.ignore_result, time_limit=message.time_limit,
                soft_time_limit=message.soft_time_limit, headers=message.headers,
                root_id=message.root_id, parent_id=message.parent_id,
                workflow={"id": marker["id"], "node": marker["node"], "i": i})
            self.agenda.at(self.agenda.now, self.rank[step.node.id],
                           lambda m=instance: self._deliver(m, step))  # type: ignore[misc]

    def _instance_done(self, step: Step, index: int, value: Any) -> None:
        if step.state in TERMINAL:
            return  # the map failed already; a late element changes nothing
        got = self._map_values[step.node.id]
        got[index] = value
        if len(got) == len(step.items or ()):
            values = [got[i] for i in range(len(got))]
            if not self.wire:
                record = {"status": states.SUCCESS, "result": values, "date_done": now_iso()}
                step.handle = EagerResult(step.task_id, self.app, step.node.task, record)
            self._done(step, values)

    def _done(self, step: Step, value: Any) -> None:
        if step.state in TERMINAL:
            return
        nid = step.node.id
        step.state, step.value, step.finished_at = states.SUCCESS, value, self.agenda.now
        self.values[nid] = value
        if step.handle is None:
            step.handle = EagerResult(step.task_id, self.app, step.node.task, {
                "status": states.SUCCESS, "result": value, "date_done": now_iso(),
                "task_id": step.task_id})
        for succ in self.successors[nid]:
            self.pending[succ] -= 1
            if self.pending[succ] == 0 and self.status != states.REVOKED:
                self._enqueue(succ)
        self.left -= 1
        self._finish_if_done()

    def _fail(self, step: Step, exc: BaseException, traceback: str | None, failed_task: str,
              index: int | None, handle: EagerResult | None = None) -> None:
        """``workflow.lua fail``: the run fails, dependents are skipped, errbacks fire once."""
        if step.state in TERMINAL:
            return
        nid = step.node.id
        step.state, step.exc, step.finished_at = states.FAILURE, exc, self.agenda.now
        step.handle = handle if handle is not None and index is None else EagerResult(
            failed_task, self.app, step.node.task, {
                "status": states.FAILURE, "result": exception_to_dict(exc),
                "traceback": traceback, "date_done": now_iso(), "task_id": failed_task}, exc)
        if self.status == "RUNNING":
            self.status, self.failed_node = states.FAILURE, nid
        self.left -= 1
        queue = list(self.successors[nid])
        bodies: list[Step] = []  # skipped chord bodies: their own errbacks fire as theirs
        while queue:
            succ = self.steps[queue.pop(0)]
            if succ.state not in TERMINAL:
                succ.state, succ.finished_at = SKIPPED, self.agenda.now
                succ.handle = _skipped(self.app, succ, step)
                if is_chord_body(succ.node):
                    bodies.append(succ)
                self.left -= 1
                queue.extend(self.successors[succ.node.id])
        fired = {call.errback_id for call in self.handlers}
        for eb_id in [*step.node.link_error, *self.wf.on_error]:
            if eb_id not in fired:
                fired.add(eb_id)
                self._fire(eb_id, nid, failed_task, exc, traceback)
        for body in bodies:  # Celery's chord_error_from_stack: the body's id, a ChordError
            for eb_id in body.node.link_error:
                if eb_id not in fired:
                    fired.add(eb_id)
                    self._fire(eb_id, body.node.id, body.task_id,
                               _chord_error(failed_task, exc), traceback)
        self._finish_if_done()

    def _finish_if_done(self) -> None:
        if self.left > 0:
            return
        if self.status == "RUNNING":
            self.status = states.SUCCESS
        self.finished = self.agenda.now

    def _fire(self, eb_id: str, failed_node: str, failed_task: str, exc: BaseException,
              traceback: str | None) -> None:
        eb = self.wf.errback(eb_id)
        call = HandlerCall(eb_id, eb.task, failed_node, failed_task)
        self.handlers.append(call)
        args, kwargs = list(eb.args), dict(eb.kwargs)
        if self.wire:
            args, kwargs = _through_json(args), _through_json(kwargs)
        message = Message(str(uuid.uuid4()), eb.task, args, kwargs, headers={"errback": {
            "task_id": failed_task, "exc": exception_to_dict(exc),
            "traceback": traceback or ""}})
        task = self.app.tasks[eb.task]
        if not eb.immutable:
            bind_errback(task, message)
        message.headers = None
        self.agenda.at(self.agenda.now, len(self.rank),
                       lambda: self._handle(call, task, message))

    def _handle(self, call: HandlerCall, task: Any, message: Message) -> None:
        if self._parked(task, message, lambda m: self._handle(call, task, m), len(self.rank)):
            return
        outcome = self._invoke(task, message)
        call.attempts.append(_attempt(message, outcome, self.agenda.now, None))
        if self._again(message, outcome, call.attempts,
                       lambda m: self._handle(call, task, m), len(self.rank)):
            return
        call.handle = eager_result(task, message, outcome, {"throw": False} if self.wire else {},
                                   store=not self.wire)

    # --- results ----------------------------------------------------------------------------

    def results(self) -> ResultLike:
        """``EagerResult``\\ s shaped like the workflow's result (``wf.result``)."""
        shape = self.wf.result if self.wf.result is not None else (
            self.wf.nodes[-1].id if self.wf.nodes else [])

        def build(s: Any) -> ResultLike:
            if isinstance(s, str):
                handle = self.steps[s].handle
                assert handle is not None, f"step {s} has not finished"
                return handle
            return GroupResult(None, [build(x) for x in s], self.app)

        return build(shape)


def run_eagerly(app: App, wf: Workflow) -> ResultLike:
    """Execute every node now; return EagerResults shaped like ``wf.result``."""
    run = EagerRun(app, wf, Agenda())
    run.start()
    run.agenda.run()
    return run.results()


def _attempt(message: Message, outcome: Outcome, at: float, index: int | None) -> Attempt:
    """An attempt's record; a retry's exception is its reason (``Retry.exc``), as the worker's
    RETRY state record has it."""
    exc = outcome.exc
    if outcome.status == states.RETRY:
        exc = getattr(exc, "exc", None) or exc
    return Attempt(message.id, message.args, message.kwargs, at, message.retries,
                   outcome.status, index, outcome.value, exc, outcome.traceback)


_json = get_serializer("json")


def _through_json(value: Any) -> Any:
    """``value`` as a worker receives it: encoded and decoded (tuples become lists)."""
    return _json.loads(_json.dumps(value))


def _skipped(app: App, step: Step, blocker: Step) -> EagerResult:
    """A node not run because ``blocker`` failed: ``get()`` raises the blocker's exception, as
    an eager Celery chain or chord does; a chord body's stored result is a ``ChordError``."""
    exc = blocker.exc
    result = exception_to_dict(exc) if exc is not None else None
    if is_chord_body(step.node):
        result = exception_to_dict(_chord_error(blocker.task_id, exc))
    record = {"status": states.FAILURE, "date_done": now_iso(), "skipped": True,
              "result": result}
    return EagerResult(step.task_id, app, step.node.task, record, exc)


def _chord_error(failed_task: str, exc: BaseException | None) -> ChordError:
    """What a chord body skipped because ``failed_task`` raised ``exc`` fails with (Celery's
    message)."""
    return ChordError(f"Dependency {failed_task} raised {exc!r}")
