"""The consume loop of one worker process: claim a batch, run each task, settle in batches.

Shared by every pool: the solo loop runs tasks inline here; the thread and asyncio pools
(``pools``) reuse ``prepare`` and ``finish`` around their executors. Monitoring observes the
loop through ``hooks`` (``runtime.hooks``), called where each event happens.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flowc.runtime import signals, states
from flowc.runtime.broker import Delivery, Outgoing
from flowc.runtime.exceptions import NotRegistered, TaskRevokedError, WorkerLostError
from flowc.runtime.execute import Outcome, invoke, make_request
from flowc.runtime.message import Message
from flowc.runtime.outcome import encode_record, exception_to_dict, now_iso
from flowc.runtime.wire import Rejected
from flowc.runtime.worker.hooks import NO_HOOKS, ConsumerHooks
from flowc.runtime.worker.peers import Peers
from flowc.runtime.worker.ratelimit import RateLimiter
from flowc.runtime.worker.revocations import RevokedCache
from flowc.runtime.worker.settle import Settler
from flowc.runtime.workflows import steps as workflow_steps

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.task import Task
    from flowc.runtime.worker.timelimits import TimeLimiter

logger = logging.getLogger("flowc.worker")

MAX_BATCH = 256
"""Largest claim per round trip, reached only while every task in a batch is fast."""
FAST_TASK_S = 0.001
"""Tasks averaging under this runtime have their results flushed per batch, not per task."""
MAX_UNFLUSHED_AGE_S = 0.010
BLOCK_S = 1.0
"""Longest blocking wait for messages (also bounds how late a warm shutdown is noticed)."""
PROMOTE_EVERY_S = 0.25
"""How often delayed messages are checked for being due while the worker is busy."""
DEFERRED_HEADER = "flowc-deferred"
"""How many times workers without its task handed a message back (see ``Consumer._defer``)."""
DEFER_FIRST_S = 0.25
DEFER_MAX_S = 5.0
PRECISE_WAIT_S = 0.12
"""A delayed message due sooner than this is waited for with a local sleep, not a Redis block
(whose timeout fires on the server's 10 Hz tick), so it starts within a millisecond or two."""


class Consumer:
    """Consumes ``queues`` as ``consumer`` (``name@host`` or ``name@host-<i>`` in prefork)."""

    def __init__(self, app: App, queues: Sequence[str], consumer: str) -> None:
        self.app = app
        self.queues = list(queues)
        self.name = consumer
        self.hostname = consumer
        """The worker's node name (``-n``), what ``self.request.hostname`` and STARTED show."""
        self.accept = app.conf.accepted()
        self.settler = Settler(app.settlement)
        self.ack_alone_now = bool(getattr(app.broker, "ACKS_WITHOUT_ROUND_TRIP", False))
        """Early-ack a lone delivery before its task runs (AMQP: an ack is one frame, no reply)."""
        self.revoked = RevokedCache(app)
        self.peers = Peers(app, consumer)
        self.stopping = False
        self.runtime_ewma: dict[str, float] = {}
        self.prefetch = max(1, app.conf.worker_prefetch_multiplier)
        self.batch_size = self.prefetch
        self.next_promote = 0.0
        self.next_due: float | None = None
        self.processed = 0
        self.pending: list[Delivery] = []
        """Claimed messages not yet started (returned to their queue on warm shutdown)."""
        self.idle_ids: list[bytes] | None = None
        """Last stream ids seen by a piggybacked claim that found nothing (skip re-claiming)."""
        self.running: set[bytes] = set()
        """Entry ids of messages started and not yet settled (read by the orphan check)."""
        conf = app.conf
        self.stall_s = max(0.5, conf.flowc_worker_lost_after - conf.flowc_heartbeat_interval)
        """A gap in the loop this long may have let the reaper give the prefetched batch away
        (the heartbeat lapses ``lost_after`` after the last pulse, at most one interval ago)."""
        self.awake_at = time.monotonic()
        """When the loop last showed it was running (before a fetch, before each task)."""
        self.errors_seen: int | None = app.broker.connection_errors()
        """The broker's count of commands that met a dropped connection, as last checked
        (None after a failed iteration): when it moves, claims may have been lost."""
        self.time_limiter: TimeLimiter | None = None
        """Set by the worker where tasks run on the main thread (solo, prefork)."""
        self._rate_limiter: RateLimiter | None = None
        self.max_deliveries = app.conf.flowc_max_deliveries
        self.hooks: ConsumerHooks = NO_HOOKS
        """Told of each task's lifecycle (``monitor_worker.attach`` installs a monitor)."""
        self.max_tasks: int | None = None
        """``--max-tasks-per-child``: stop (to be replaced) after this many tasks."""
        self.max_memory_kib: int | None = None
        """``--max-memory-per-child``: stop (to be replaced) once a task leaves RSS above it."""
        self.recycled = False
        """Set when the loop stopped because of one of the two limits above."""

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until ``stop()``; then finish the running task and return prefetched ones."""
        self.app.broker.declare(self.queues)
        while not self.stopping:
            try:
                self.run_once()
            except Exception:
                logger.exception("consumer iteration failed; retrying in 1 s")
                self.errors_seen = None  # a claim in the failed round trip may be lost: look
                time.sleep(1.0)
        self.shutdown()

    def run_once(self) -> None:
        """Promote due delayed messages, claim one batch, run it, flush."""
        block = self._promote_and_block_time(may_sleep=not self.pending)
        if not self.pending:  # else: claimed with the last flush, or a batch left by a failure
            idle, self.idle_ids = self.idle_ids, None
            self.awake_at = time.monotonic()
            self.pending = self.app.broker.fetch(self.name, self.queues, self.batch_size, block,
                                                 idle_ids=idle)
        self.pending += self.recover_lost_claims()
        all_fast = bool(self.pending)
        while self.pending and not self.stopping:
            if time.monotonic() - self.awake_at > self.stall_s:
                self._drop_given_away()
                if not self.pending:
                    break
            self.awake_at = time.monotonic()
            delivery = self.pending.pop(0)
            if delivery.redelivered and self.pending:
                self._run_alone()
            ran = self.handle(delivery)
            if ran is not None and self.runtime_ewma.get(ran, 1.0) >= FAST_TASK_S:
                all_fast = False
        self.batch_size = min(MAX_BATCH, self.batch_size * 2) if all_fast else self.prefetch
        claim = None if self.stopping or self.pending else (self.name, self.queues,
                                                             self.batch_size)
        claimed = self.settler.flush(self.name, claim=claim)
        if claimed is not None:
            self.pending, idle = claimed
            self.idle_ids = idle or None

    def _run_alone(self) -> None:
        """Before a redelivered message runs, give back the rest of its batch: if it is a poison
        pill that kills this process, no innocent message is counted as lost with it."""
        for other in self.pending:
            self.settler.requeue(other)
        self.pending = []
        self.settler.flush(self.name)

    def _drop_given_away(self) -> None:
        """After a stall (SIGSTOP, a paused VM, a long task), keep only the prefetched messages
        still claimed by this process: a reaper that saw its heartbeat lapse gave the others
        to live workers, which run them; running them here too would run each twice."""
        stalled_s = time.monotonic() - self.awake_at
        kept = self.app.broker.still_claimed(self.name, self.pending)
        if len(kept) < len(self.pending):
            logger.warning("this process stalled for %.1f s and %d of its %d prefetched "
                           "message(s) were given to other workers meanwhile; not running them",
                           stalled_s, len(self.pending) - len(kept), len(self.pending))
        self.pending = kept

    def recover_lost_claims(self) -> list[Delivery]:
        """After a command met a dropped connection, the messages claimed under this name that
        this process does not hold (a claim whose reply was lost, re-sent by the client), to
        run now rather than after the orphan check's 30 s."""
        errors = self.app.broker.connection_errors()
        if errors == self.errors_seen:
            return []
        found = self.app.broker.recover_claims(self.name, self.queues, self.held_ids())
        self.errors_seen = errors  # only once the check succeeded
        if found:
            logger.warning("recovered %d message(s) claimed by this process whose claim's reply "
                           "was lost with the connection", len(found))
        return found

    def held_ids(self) -> set[bytes]:
        """Entry ids this process holds (claimed, not settled: prefetched, running, or waiting
        in the settler to be acked, dead-lettered or requeued); read by the orphan check."""
        settler = self.settler
        queued = [*settler.acks, *settler.requeues, *(d for d, _ in settler.dead)]
        return {d.entry_id for d in [*self.pending, *queued]} | set(self.running)

    @property
    def rate_limiter(self) -> RateLimiter:
        """The cluster-wide rate limiter (created on first use)."""
        if self._rate_limiter is None:
            self._rate_limiter = RateLimiter(self.app)
        return self._rate_limiter

    def stop(self) -> None:
        """Ask the loop to stop after the running task (warm shutdown)."""
        self.stopping = True

    def shutdown(self) -> None:
        """Flush settled work and return claimed-but-unstarted messages to their queues."""
        try:
            for delivery in self.pending:
                self.settler.requeue(delivery)
            if self.pending:
                logger.info("returning %d prefetched message(s) to their queues",
                            len(self.pending))
            self.pending = []
            self.settler.flush(self.name)
        finally:
            self.hooks.stopped()

    def _promote_and_block_time(self, may_sleep: bool = True) -> float:
        now = time.time()
        if may_sleep and self.next_due is not None and 0 < self.next_due - now <= PRECISE_WAIT_S:
            # Redis times out blocking reads on its own ~100 ms tick: wait here instead
            time.sleep(self.next_due - now)
            now = time.time()
        if now >= self.next_promote or (self.next_due is not None and now >= self.next_due):
            self.next_due = self.app.broker.promote_due(self.queues)
            self.next_promote = now + PROMOTE_EVERY_S
            self.revoked.refresh()
        block = BLOCK_S
        if self.next_due is not None:  # wake early enough to sleep the rest precisely
            block = min(block, max(0.001, self.next_due - now - PRECISE_WAIT_S))
        return min(block, max(0.001, self.next_promote - now + PROMOTE_EVERY_S))

    # --- one message --------------------------------------------------------------------------

    def handle(self, delivery: Delivery) -> str | None:
        """Run one claimed message inline; return the task name when it ran."""
        prepared = self.prepare(delivery)
        if prepared is None:
            return None
        task, message = prepared
        self.before_start(delivery, task, message)
        limiter = self.time_limiter
        if limiter is None or not limiter.start(delivery, task, message):
            outcome = invoke(task, message, self.hostname)
        else:
            try:
                outcome = invoke(task, message, self.hostname)
            finally:
                limiter.finish()
        self.finish(delivery, task, message, outcome)
        if self.max_tasks is not None or self.max_memory_kib is not None:
            self._check_recycle()
        return task.name

    def _check_recycle(self) -> None:
        """Stop after this task when a per-child limit is reached (the pool replaces us)."""
        why = None
        if self.max_tasks is not None and self.processed >= self.max_tasks:
            why = f"ran {self.processed} tasks (--max-tasks-per-child={self.max_tasks})"
        elif self.max_memory_kib is not None:
            rss = resident_kib()
            if rss > self.max_memory_kib:
                why = f"resident memory {rss} KiB > --max-memory-per-child={self.max_memory_kib}"
        if why is not None:
            logger.info("pool process %d %s; it will be replaced", os.getpid(), why)
            self.recycled = True
            self.stop()

    def prepare(self, delivery: Delivery) -> tuple[Task, Message] | None:
        """Decode and vet a message; malformed, unknown, expired and revoked ones end here."""
        try:
            message = Message.from_envelope(self.app.wire.open(delivery.body, delivery.tag))
        except Exception as e:
            reason = str(e) if isinstance(e, Rejected) else f"malformed message: {e}"
            logger.error("dead-lettered message %s: %s", delivery.entry_id.decode(), reason)
            self.settler.dead_letter(delivery, reason)
            return None
        task = self.app.tasks.get(message.task)
        if task is None:
            peer = self.peers.who_can_run(message.task, message.queue)
            if peer is not None:
                self._defer(delivery, message, peer)
                return None
            reason = (f"unknown task {message.task!r} on worker {self.name} (no live worker "
                      f"on queue {message.queue!r} registers it)")
            if signals.task_unknown.receivers:
                signals.task_unknown.send(sender=self, name=message.task, id=message.id,
                                          message=message, exc=NotRegistered(reason))
            self._give_up(delivery, message, NotRegistered(reason))
            return None
        limit = task.options.get("max_deliveries") or self.max_deliveries
        if delivery.deliveries > limit:
            reason = (f"delivered {delivery.deliveries - 1} times and its worker was lost each "
                      f"time (max_deliveries={limit}): a poison pill?")
            self._give_up(delivery, message, WorkerLostError(reason))
            return None
        if message.expires is not None and self.app.broker.now() > message.expires:
            self._revoked(delivery, message, "expired")
            return None
        if self.revoked.contains(message.id):
            self._revoked(delivery, message, "revoked")
            return None
        if message.workflow and message.workflow.get("expand"):
            join = workflow_steps.expansion(message)
            if join.op == "fail":
                self._record(message, {"status": states.FAILURE, "result": join.exc})
            self.settler.join(join)
            self.settler.ack(delivery)
            return None
        if message.headers and "errback" in message.headers:
            workflow_steps.bind_errback(task, message)
        if self._parked_for_rate_limit(delivery, task, message):
            return None
        self.hooks.received(message)
        if signals.task_received.receivers:
            signals.task_received.send(sender=self,
                                       request=make_request(task, message, self.hostname, False))
        return task, message

    def _give_up(self, delivery: Delivery, message: Message, exc: Exception) -> None:
        """Dead-letter a message that will never run here, and say so where people look: its
        result is a failure with the reason, and a workflow step fails its run."""
        reason = str(exc)
        logger.error("dead-lettered task %s[%s]: %s", message.task, message.id, reason)
        self.settler.dead_letter(delivery, reason)
        self._record(message, {"status": states.FAILURE, "result": exception_to_dict(exc),
                               "traceback": f"dead-lettered: {reason}"})
        join = workflow_steps.fail_op(message, exc, None)
        if join is not None:
            self.settler.join(join)

    def _defer(self, delivery: Delivery, message: Message, peer: str) -> None:
        """Hand a message for a task this process lacks back to its queue, a little later, for
        a live worker that has it (``peer``); each deferral waits longer, up to DEFER_MAX_S."""
        headers = dict(message.headers or {})
        count = int(headers.get(DEFERRED_HEADER, 0))
        headers[DEFERRED_HEADER] = count + 1
        message.headers = headers
        eta = self.app.broker.now() + min(DEFER_MAX_S, DEFER_FIRST_S * 2 ** count)
        body, tag = self.app.encode(message)
        self.settler.publish(Outgoing(message.queue, message.priority, body, tag, eta))
        self.settler.ack(delivery)
        if count == 0:
            logger.warning("task %s[%s] is not registered here; left for %s, which has it",
                           message.task, message.id, peer)

    def _parked_for_rate_limit(self, delivery: Delivery, task: Task, message: Message) -> bool:
        """Reserve a start slot; a later slot parks the message in the delayed set until then."""
        decision = self.rate_limiter.acquire(task, message)
        if decision is None or decision.wait_s <= 0:
            return False
        self.rate_limiter.mark(message, decision)
        body, tag = self.app.encode(message)
        due = self.rate_limiter.promote_at(decision)
        self.settler.publish(Outgoing(message.queue, message.priority, body, tag, due))
        self.settler.ack(delivery)
        if self.next_due is None or due < self.next_due:
            self.next_due = due
        logger.info("Task %s[%s] rate-limited; starts in %.3fs", task.name, message.id,
                    decision.wait_s)
        return True

    def _revoked(self, delivery: Delivery, message: Message, why: str) -> None:
        self.hooks.revoked(message, why)
        if signals.task_revoked.receivers:
            task = self.app.tasks.get(message.task)
            signals.task_revoked.send(
                sender=task, request=make_request(task, message, self.hostname, False)
                if task is not None else None, terminated=why == "terminated",
                signum=9 if why == "terminated" else None, expired=why == "expired")
        logger.info("task %s[%s] %s; not run", message.task, message.id, why)
        exc = {"exc_type": "TaskRevokedError", "exc_module": "flowc.runtime.exceptions",
               "exc_message": [f"task {message.id} {why}"]}
        self._record(message, {"status": states.REVOKED, "result": exc, "reason": why})
        join = workflow_steps.fail_op(message, TaskRevokedError(f"task {message.id} {why}"), None)
        if join is not None:
            self.settler.join(join)
        self.settler.ack(delivery)

    def acks_late(self, task: Task, message: Message) -> bool:
        """Whether this message is acknowledged after the task runs (per call, task, config)."""
        if message.acks_late is not None:
            return message.acks_late
        value = task.options.get("acks_late")
        return self.app.conf.task_acks_late if value is None else bool(value)

    def before_start(self, delivery: Delivery, task: Task, message: Message) -> None:
        """Early ack, STARTED state, and the flush that keeps slow tasks from holding results."""
        self.hooks.started(task, message)
        self.running.add(delivery.entry_id)
        if not self.acks_late(task, message):
            if self.ack_alone_now and not self.pending:
                # RabbitMQ confirms a message to its publisher once a consumer has acked it
                # (or once it is on disk): acked now, a waiting delay() returns while the task
                # runs instead of after its result is stored. A batch's acks still go together.
                self.app.broker.ack([delivery])
            else:
                self.settler.ack(delivery)
        if self.app.conf.task_track_started or task.options.get("track_started"):
            self.settler.state(message.id, encode_record(
                {"status": states.STARTED, "worker": self.name, "task_id": message.id,
                 "result": {"pid": os.getpid(), "hostname": self.hostname}},
                self.app.conf.result_serializer))
        if len(self.settler) and (self.runtime_ewma.get(task.name, 1.0) >= FAST_TASK_S
                                  or self.settler.age_s() > MAX_UNFLUSHED_AGE_S
                                  or len(self.settler) >= 4 * MAX_BATCH):
            self.flush_before_start()

    def flush_before_start(self) -> None:
        """Flush before a task starts; if that fails the task still runs: its early ack may
        already be written (the pipeline's acks pass where a result hits a full Redis), and
        a message acknowledged and not run would be lost. What failed stays queued and is
        written with the next flush."""
        try:
            self.settler.flush(self.name)
        except Exception:
            logger.exception("flush before a task started failed; the task runs and the "
                             "writes are retried with the next flush")

    def finish(self, delivery: Delivery, task: Task, message: Message, outcome: Outcome) -> None:
        """Queue the writes that settle a finished task."""
        self.hooks.finished(message, outcome)
        self.running.discard(delivery.entry_id)
        prev = self.runtime_ewma.get(task.name)
        self.runtime_ewma[task.name] = outcome.runtime_s if prev is None \
            else 0.8 * prev + 0.2 * outcome.runtime_s
        self.processed += 1
        late = self.acks_late(task, message)
        status = outcome.status
        if message.workflow:
            join = workflow_steps.join_for_outcome(message, outcome)
            if join is not None:
                self.settler.join(join)
        if status == states.SUCCESS:
            if logger.isEnabledFor(logging.INFO):
                logger.info("Task %s[%s] succeeded in %.6fs: %r", task.name, message.id,
                            outcome.runtime_s, outcome.value)
            if not self._ignore_result(task, message):
                self._record(message, {"status": states.SUCCESS, "result": outcome.value})
        elif status == states.FAILURE:
            logger.error("Task %s[%s] raised %s", task.name, message.id,
                         outcome.traceback.rstrip() if outcome.traceback else outcome.exc)
            if not self._ignore_result(task, message) or \
                    task.options.get("store_errors_even_if_ignored"):
                self._failure_record(message, outcome)
        elif status == states.RETRY and outcome.retry is not None:
            logger.info("Task %s[%s] retry in %.1fs: %s", task.name, message.id,
                        max(0.0, (outcome.retry.eta or time.time()) - time.time()), outcome.exc)
            body, tag = self.app.encode(outcome.retry)
            self.settler.publish(Outgoing(outcome.retry.queue, outcome.retry.priority, body, tag,
                                          outcome.retry.eta))
            exc = getattr(outcome.exc, "exc", None) or outcome.exc
            self.settler.state(message.id, encode_record(
                {"status": states.RETRY, "result": exception_to_dict(exc) if exc else None,
                 "traceback": outcome.traceback, "retries": message.retries + 1,
                 "task_id": message.id}, self.app.conf.result_serializer))
        elif status == states.REJECTED:
            reason = str(getattr(outcome.exc, "reason", "") or "rejected")
            if outcome.requeue:
                logger.info("Task %s[%s] rejected, requeued: %s", task.name, message.id, reason)
                if late:
                    self.settler.requeue(delivery)
                else:  # acknowledged early: its entry is gone, publish the body again
                    self.settler.publish(Outgoing(message.queue, message.priority,
                                                  delivery.body, delivery.tag))
                return
            logger.warning("Task %s[%s] rejected: %s", task.name, message.id, reason)
            if not self._ignore_result(task, message) or \
                    task.options.get("store_errors_even_if_ignored"):
                self._failure_record(message, outcome)  # FAILURE, as Celery 5 records it
            self.settler.dead_letter(delivery, f"rejected by task: {reason}")
            return
        if late:
            if status == states.FAILURE and not self.app.conf.task_acks_on_failure_or_timeout:
                # Celery rejects it without requeue; flowc keeps it where it can be replayed
                self.settler.dead_letter(delivery, f"task failed: {outcome.exc!r} "
                                         "(task_acks_on_failure_or_timeout is off)")
            else:
                self.settler.ack(delivery)

    def _ignore_result(self, task: Task, message: Message) -> bool:
        if message.ignore_result is not None:
            return message.ignore_result
        value = task.options.get("ignore_result")
        return self.app.conf.task_ignore_result if value is None else bool(value)

    def _failure_record(self, message: Message, outcome: Outcome) -> None:
        assert outcome.exc is not None
        self._record(message, {"status": states.FAILURE, "result": exception_to_dict(outcome.exc),
                               "traceback": outcome.traceback})

    def _record(self, message: Message, record: dict[str, Any]) -> None:
        record["task_id"] = message.id
        record["date_done"] = now_iso()
        serializer = self.app.conf.result_serializer
        try:
            data = encode_record(record, serializer)
        except Exception as e:
            data = encode_record({
                "status": states.FAILURE, "task_id": message.id, "date_done": record["date_done"],
                "result": exception_to_dict(e),
                "traceback": f"the task's return value could not be stored: {e}"}, serializer)
        self.settler.record(message.id, data)


def resident_kib() -> int:
    """This process's resident set size in KiB (``/proc``; peak RSS where it is missing)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
