"""``flowc beat``: publish periodic entries; safe to run on several machines at once.

``Beat.tick(now)`` is one pass with an injectable clock (tests drive it with any instant):

1. refresh the leader lease (``beat_lock``); a follower does nothing else;
2. read every entry's state from Redis (``last`` fire time, a ``pending`` half-done due time);
3. per entry: finish a pending due time, then ``plan_due(schedule, last, now, catchup, grace)``
   and publish each due time: claim it (``BeatStore``), publish it once (``EntryPublisher``),
   record it;
4. return how long to sleep: until the next fire time of any entry, capped by
   ``beat_max_loop_interval`` and by the next lease refresh.

``Beat.loop()`` repeats ticks until ``stop()``; a failing tick is logged and backed off, never
fatal. ``EmbeddedBeat`` runs the loop in a thread (``flowc worker -B``). docs/beat.md has the
guarantees.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flowc.runtime.beat.entries import ScheduleEntry
from flowc.runtime.beat.lease import Lease
from flowc.runtime.beat.publish import EntryPublisher
from flowc.runtime.exceptions import ImproperlyConfigured
from flowc.runtime.redis.beat_store import (
    ALREADY_HANDLED,
    EntryState,
    LeaseLost,
    Published,
)
from flowc.runtime.schedules import plan_due

if TYPE_CHECKING:
    from flowc.runtime.app import App

logger = logging.getLogger("flowc.beat")

MAX_BACKOFF_S = 30.0
"""The longest wait after failing ticks (Redis down): doubles from 0.5 s up to this."""
MIN_SLEEP_S = 0.001


def utcnow() -> datetime:
    """The real clock (aware, UTC)."""
    return datetime.now(UTC)


@dataclass
class TickReport:
    """What one tick did: whether this process leads, what it published, how long to sleep."""

    leader: bool
    published: list[Published] = field(default_factory=list)
    sleep_s: float = 0.0


class Beat:
    """Publishes due entries while it holds the leader lease; one ``loop()``."""

    def __init__(self, app: App, entries: Sequence[ScheduleEntry], *, dry_run: bool = False,
                 clock: Callable[[], datetime] = utcnow, lock_ttl_s: float | None = None) -> None:
        names = [e.name for e in entries]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ImproperlyConfigured(f"duplicate beat entry names: {', '.join(duplicates)}",
                                       hint="rename one (a .flow schedule may clash with "
                                       "a beat_schedule entry)")
        self.app = app
        self.entries = list(entries)
        self.dry_run = dry_run
        self.clock = clock
        self.max_loop_interval_s = float(app.conf.beat_max_loop_interval)
        ttl = lock_ttl_s if lock_ttl_s is not None else app.conf.flowc_beat_lock_ttl
        self.lock = app.coordination.beat_lock(ttl)
        self.store = app.coordination.beat_state()
        self.publisher = EntryPublisher(app, self.store)
        self._stopping = threading.Event()
        self._next_refresh = 0.0
        self._dry_last: dict[str, datetime] = {}

    # --- one pass -----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Refresh the lease, publish what is due at ``now``, say how long to sleep."""
        now = self.clock() if now is None else now
        if self.dry_run:
            return self._dry_tick(now)
        lease = self._lease()
        if lease is None:
            return TickReport(False, [], self._follower_sleep())
        report = TickReport(True)
        states = self.store.read([e.name for e in self.entries])
        try:
            for entry in self.entries:
                report.published += self._tick_entry(entry, lease, now, states[entry.name])
        except LeaseLost:
            logger.warning("beat: lost the lease during a tick; another process leads now")
            self.lock.lease = None
            self._next_refresh = 0.0
            report.leader = False
        report.sleep_s = self._leader_sleep(now) if report.leader else self._follower_sleep()
        return report

    def _tick_entry(self, entry: ScheduleEntry, lease: Lease, now: datetime,
                    state: EntryState) -> list[Published]:
        out: list[Published] = []
        last = state.last
        if state.pending is not None and (last is None or state.pending > last):
            logger.info("beat: finishing %s due %s (interrupted publish)", entry.name,
                        state.pending.isoformat())
            out += self._fire(entry, lease, state.pending)
            last = state.pending
        plan = plan_due(entry.schedule, last, now, entry.catchup, entry.grace)
        publish = plan.publish if last is not None else plan.publish[-1:]
        if plan.missed:
            logger.warning("beat: %s missed runs while beat was down (catchup=%s: %s)",
                           entry.name, entry.catchup,
                           f"publishing {len(publish)}" if publish else "skipping them")
        for due in publish:
            out += self._fire(entry, lease, due)
        if last is None and not publish:
            self.store.record(lease, entry.name, now, "init")
        elif plan.latest_due is not None and (not publish or plan.latest_due > publish[-1]):
            self.store.record(lease, entry.name, plan.latest_due)
        return out

    def _fire(self, entry: ScheduleEntry, lease: Lease, due: datetime) -> list[Published]:
        if self.store.claim(lease, entry.name, due) == ALREADY_HANDLED:
            return []
        published = self.publisher.publish(entry, due)
        self.store.record(lease, entry.name, due)
        if published.new:
            logger.info("beat: published %s due %s: %s [%s]", entry.name, due.isoformat(),
                        entry.target, published.run_id)
        else:
            logger.info("beat: %s due %s was already published [%s]", entry.name,
                        due.isoformat(), published.run_id)
        return [published]

    def _dry_tick(self, now: datetime) -> TickReport:
        """Log what would be published; read state from Redis once, write nothing."""
        if not self._dry_last and self.entries:
            states = self.store.read([e.name for e in self.entries])
            for entry in self.entries:
                self._dry_last[entry.name] = states[entry.name].last or now
        report = TickReport(False)
        for entry in self.entries:
            last = self._dry_last[entry.name]
            plan = plan_due(entry.schedule, last, now, entry.catchup, entry.grace)
            for due in plan.publish:
                logger.warning("beat (dry run): would publish %s due %s: %s", entry.name,
                               due.isoformat(), entry.target)
                report.published.append(Published(entry.name, due,
                                                   self.store.run_id(entry.name, due), True))
            if plan.latest_due is not None:
                self._dry_last[entry.name] = plan.latest_due
        report.sleep_s = self._until_next_fire(now)
        return report

    # --- lease and timing ---------------------------------------------------------------------

    def _lease(self) -> Lease | None:
        if time.monotonic() >= self._next_refresh:
            self.lock.refresh()
            self._next_refresh = time.monotonic() + self.lock.renew_interval_s
        return self.lock.held()

    def _until_next_fire(self, now: datetime) -> float:
        wait = self.max_loop_interval_s
        for entry in self.entries:
            wait = min(wait, (entry.schedule.next_after(now) - now).total_seconds())
        return max(MIN_SLEEP_S, wait)

    def _leader_sleep(self, now: datetime) -> float:
        until_refresh = self._next_refresh - time.monotonic()
        return max(MIN_SLEEP_S, min(self._until_next_fire(now), until_refresh))

    def _follower_sleep(self) -> float:
        return max(MIN_SLEEP_S, min(self.max_loop_interval_s, self._next_refresh -
                                    time.monotonic()))

    # --- the loop -----------------------------------------------------------------------------

    def loop(self) -> None:
        """Tick until ``stop()``; failures are logged and backed off. Releases the lease."""
        backoff = 0.0
        logger.info("beat: %d entr%s, lock TTL %.1fs, max loop interval %.1fs%s",
                    len(self.entries), "y" if len(self.entries) == 1 else "ies",
                    self.lock.ttl_s, self.max_loop_interval_s,
                    " (dry run)" if self.dry_run else "")
        try:
            while not self._stopping.is_set():
                try:
                    delay = self.tick().sleep_s
                    backoff = 0.0
                except Exception:
                    backoff = min(MAX_BACKOFF_S, max(0.5, backoff * 2))
                    logger.exception("beat: tick failed; retrying in %.1fs", backoff)
                    self._next_refresh = 0.0
                    delay = backoff
                self._stopping.wait(delay)
        finally:
            if not self.dry_run:
                self.lock.release()

    def stop(self) -> None:
        """Ask ``loop()`` to return after the current tick (thread- and signal-safe)."""
        self._stopping.set()


def private_app(app: App) -> App:
    """A copy of ``app`` with its own Redis connections (for a beat thread beside a worker).

    Shares the configuration and the task registry; the worker may close, fork or reopen its
    own connections without touching beat's.
    """
    clone = copy.copy(app)
    for name in ("broker_client", "backend_client", "broker", "backend", "coordination",
                 "workflows", "control"):
        clone.__dict__.pop(name, None)
    return clone


class EmbeddedBeat:
    """Beat in a daemon thread of another process (``flowc worker -B``)."""

    def __init__(self, app: App, entries: Sequence[ScheduleEntry]) -> None:
        self.app = private_app(app)
        self.beat = Beat(self.app, entries)
        self.thread = threading.Thread(target=self.beat.loop, name="flowc-beat", daemon=True)

    def start(self) -> EmbeddedBeat:
        """Start the thread; returns self."""
        self.thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the loop, release the lease, close beat's connections."""
        self.beat.stop()
        self.thread.join(timeout_s)
        self.app.close()
