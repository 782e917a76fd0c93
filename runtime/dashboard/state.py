"""The dashboard's memory: a task index built from events, rate and depth series, log lines.

``Feed`` is a thread that replays the events stream at start (up to ``max_tasks`` tasks) and
then follows it, applying each event to the ``TaskIndex`` and the counters; every
``SAMPLE_EVERY_S`` it also samples queue depths for the charts. Pages read this memory, so a
page never scans Redis for tasks: filtering 100,000 records is a pass over a dict.

Like Flower, the index lives in the dashboard process: restart it and it rebuilds from the
stream (as far back as ``flowc_events_maxlen`` keeps). Task results and tracebacks not in the
index are read from the result backend on the task page.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowc.runtime.monitoring.events import format_event
from flowc.runtime.monitoring.events_read import decode_entry

if TYPE_CHECKING:
    from flowc.runtime.app import App

logger = logging.getLogger("flowc.dashboard")

SERIES_S = 600
"""Seconds of per-second task counts and depth samples kept for the charts."""
SAMPLE_EVERY_S = 2.0
LOG_LINES = 2000
TIMELINE_MAX = 50
COUNT_CAP = 10_000
"""Matches counted past the page before a filtered query stops scanning."""

STATE_OF = {"task-sent": "PENDING", "task-received": "RECEIVED", "task-started": "STARTED",
            "task-succeeded": "SUCCESS", "task-failed": "FAILURE", "task-retried": "RETRY",
            "task-revoked": "REVOKED", "task-rejected": "REJECTED"}
TERMINAL = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
STATES = ("PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED")
_COPIED = ("name", "args", "kwargs", "queue", "priority", "eta", "expires", "root_id",
           "parent_id", "workflow_id", "node", "result", "exception", "traceback", "runtime",
           "reason")


@dataclass
class TaskRecord:
    """What the events told about one task id."""

    uuid: str
    state: str = "PENDING"
    name: str | None = None
    worker: str | None = None
    args: str | None = None
    kwargs: str | None = None
    result: str | None = None
    exception: str | None = None
    traceback: str | None = None
    runtime: float | None = None
    queue: str | None = None
    priority: int | None = None
    eta: float | None = None
    expires: float | None = None
    root_id: str | None = None
    parent_id: str | None = None
    workflow_id: str | None = None
    node: str | None = None
    reason: str | None = None
    retries: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    started: float | None = None
    timeline: list[tuple[float, str, str]] = field(default_factory=list)
    search: str = ""
    """Lower-cased id, name and argument text, for search."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: v for k, v in self.__dict__.items() if k != "search"}


class TaskIndex:
    """Tasks by id, most recently changed last, capped at ``max_tasks`` (least recently changed
    go first), with ordered secondary indexes by state, name and worker so a filtered page
    reads only the records that can match."""

    def __init__(self, max_tasks: int = 100_000) -> None:
        self.max_tasks = max_tasks
        self.tasks: OrderedDict[str, TaskRecord] = OrderedDict()
        self.by_state: dict[str, OrderedDict[str, None]] = {}
        self.by_name: dict[str, OrderedDict[str, None]] = {}
        self.by_worker: dict[str, OrderedDict[str, None]] = {}
        self.search: dict[str, str] = {}
        """Task id -> lower-cased id, name and argument text."""
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.tasks)

    def get(self, task_id: str) -> TaskRecord | None:
        """The record of ``task_id``, if indexed."""
        return self.tasks.get(task_id)

    @staticmethod
    def _touch(groups: dict[str, OrderedDict[str, None]], old: str | None, new: str | None,
               task_id: str) -> None:
        if old is not None and old != new:
            group = groups.get(old)
            if group is not None:
                group.pop(task_id, None)
                if not group:
                    del groups[old]
        if new is not None:
            group = groups.setdefault(new, OrderedDict())
            group[task_id] = None
            group.move_to_end(task_id)

    def _forget(self, rec: TaskRecord) -> None:
        for groups, value in ((self.by_state, rec.state), (self.by_name, rec.name),
                              (self.by_worker, rec.worker)):
            self._touch(groups, value, None, rec.uuid)

    def apply(self, event: dict[str, Any]) -> TaskRecord | None:
        """Fold one task event into its record; returns it (None for non-task events)."""
        state = STATE_OF.get(str(event.get("type")))
        task_id = event.get("uuid")
        if state is None or not task_id:
            return None
        ts = float(event.get("ts") or 0.0)
        with self.lock:
            rec = self.tasks.get(task_id)
            if rec is None:
                rec = self.tasks[task_id] = TaskRecord(uuid=task_id, first_ts=ts)
                if len(self.tasks) > self.max_tasks:
                    _, oldest = self.tasks.popitem(last=False)
                    self._forget(oldest)
                    self.search.pop(oldest.uuid, None)
            else:
                self.tasks.move_to_end(task_id)
            before = (rec.state if task_id in self.by_state.get(rec.state, ()) else None,
                      rec.name, rec.worker)
            if state == "SUCCESS":  # a retried task that then succeeded has no error now
                rec.exception = rec.traceback = None
            for name in _COPIED:
                value = event.get(name)
                if value is not None:
                    setattr(rec, name, value)
            if state == "RETRY":
                rec.retries = int(event.get("retries") or rec.retries + 1)
            elif event.get("retries") is not None:
                rec.retries = int(event["retries"])
            hostname = event.get("hostname")
            if state != "PENDING" and hostname:
                rec.worker = str(hostname)
            if state == "STARTED":
                rec.started = ts
            if not (rec.state in TERMINAL and ts < rec.last_ts):
                rec.state = state
            rec.last_ts = max(ts, rec.last_ts)
            if len(rec.timeline) < TIMELINE_MAX:
                rec.timeline.append((ts, state, str(hostname or "")))
            if state in ("PENDING", "RECEIVED") or not rec.search:
                rec.search = f"{task_id} {rec.name or ''} {rec.args or ''} {rec.kwargs or ''}" \
                    .lower()
                self.search[task_id] = rec.search
            self._touch(self.by_state, before[0], rec.state, task_id)
            self._touch(self.by_name, before[1], rec.name, task_id)
            self._touch(self.by_worker, before[2], rec.worker, task_id)
            return rec

    def query(self, name: str = "", state: str = "", worker: str = "", text: str = "",
              since: float | None = None, until: float | None = None, limit: int = 100,
              offset: int = 0) -> tuple[int, list[TaskRecord]]:
        """Most recently changed first: ``(matches, page)``. ``text`` matches the id or the
        argument text. Counting stops ``COUNT_CAP`` matches past the page (then the count is
        a lower bound, shown as "N+")."""
        name, worker, text = name.strip(), worker.strip(), text.strip().lower()
        if text and text in self.tasks:
            return 1, [self.tasks[text]]
        with self.lock:
            candidates, exact = self._candidates(name, state, worker)
            ids = list(candidates)  # a snapshot, so the feed can go on meanwhile
        page: list[TaskRecord] = []
        if exact and not text and since is None and until is None:
            end = max(0, len(ids) - offset)
            window = ids[max(0, end - limit):end]
            page = [self.tasks[i] for i in reversed(window) if i in self.tasks]
            return len(ids), page
        tasks = self.tasks
        order: Iterable[str] = reversed(ids)
        if text:  # the most selective filter, done first in one comprehension over strings
            search = self.search
            order = [i for i in order if text in search.get(i, "")]
        found: Iterator[TaskRecord] = (r for r in map(tasks.get, order) if r is not None)
        if since is not None:  # newest first: stop at the first record changed before ``since``
            cutoff = since
            found = itertools.takewhile(lambda r: r.last_ts >= cutoff, found)
        if name:
            found = (r for r in found if r.name == name or name in (r.name or ""))
        if state:
            found = (r for r in found if r.state == state)
        if worker:
            found = (r for r in found if (r.worker or "").startswith(worker))
        if until is not None:
            found = (r for r in found if r.first_ts <= until)
        skipped = sum(1 for _ in itertools.islice(found, offset))
        page = list(itertools.islice(found, limit))
        if len(page) < limit:
            return skipped + len(page), page
        return skipped + limit + sum(1 for _ in itertools.islice(found, COUNT_CAP)), page

    def _candidates(self, name: str, state: str, worker: str) -> tuple[Any, bool]:
        """The smallest ordered id set that holds every match, and whether it is exact."""
        options: list[tuple[Any, bool]] = []
        if state:
            options.append((self.by_state.get(state, OrderedDict()),
                            not name and not worker))
        if name and name in self.by_name:
            options.append((self.by_name[name], not state and not worker))
        workers = [w for w in self.by_worker if w.startswith(worker)] if worker else []
        if len(workers) == 1:
            options.append((self.by_worker[workers[0]], not state and not name))
        if not options:
            return self.tasks, not (name or state or worker)
        return min(options, key=lambda o: len(o[0]))

    def running_by_worker(self) -> dict[str, int]:
        """How many tasks each worker is running (state STARTED)."""
        out: dict[str, int] = {}
        with self.lock:
            for task_id in self.by_state.get("STARTED", ()):
                rec = self.tasks.get(task_id)
                if rec is not None and rec.worker:
                    out[rec.worker] = out.get(rec.worker, 0) + 1
        return out

    def names(self) -> list[str]:
        """Task names seen."""
        with self.lock:
            return sorted(self.by_name)

    def counts(self) -> dict[str, int]:
        """How many indexed tasks are in each state."""
        out: dict[str, int] = dict.fromkeys(STATES, 0)
        with self.lock:
            for state, ids in self.by_state.items():
                out[state] = len(ids)
        return out


RUNTIME_SAMPLES = 10_000
"""Runtimes kept per task name for the percentiles (the newest)."""
RECENT_RUNS = 5_000
"""Completed runs kept, across task names, for the runtime chart."""
NAMES_MAX = 200_000
"""Unfinished task ids whose name the statistics remember."""


@dataclass
class TaskTypeStats:
    """Counts and recent runtimes of one task name since the dashboard started (plus what it
    replayed from the events stream)."""

    name: str
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    revoked: int = 0
    runtimes: deque[float] = field(default_factory=lambda: deque(maxlen=RUNTIME_SAMPLES))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts and runtime percentiles in seconds (None without samples)."""
        ordered = sorted(self.runtimes)
        runtime: dict[str, Any] = {"samples": len(ordered)}
        for label, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
            runtime[label] = percentile(ordered, q)
        runtime["mean"] = sum(ordered) / len(ordered) if ordered else None
        runtime["max"] = ordered[-1] if ordered else None
        finished = self.succeeded + self.failed
        return {"name": self.name, "count": max(self.received, finished),
                "received": self.received, "succeeded": self.succeeded, "failed": self.failed,
                "retried": self.retried, "revoked": self.revoked,
                "failure_rate": self.failed / finished if finished else None,
                "runtime": runtime}


def percentile(ordered: list[float], q: float) -> float | None:
    """The ``q`` quantile of sorted values, by linear interpolation (numpy's default)."""
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class TaskStats:
    """Per-task-name statistics folded from task events (Flower's task-type view)."""

    def __init__(self) -> None:
        self.by_name: dict[str, TaskTypeStats] = {}
        self.names: dict[str, str] = {}
        """Task id -> name: later events of a task carry only its id."""
        self.recent: deque[tuple[float, str, float]] = deque(maxlen=RECENT_RUNS)
        """``(ts, name, runtime)`` of the newest completed runs, for the runtime chart."""
        self.lock = threading.Lock()

    def apply(self, event: dict[str, Any]) -> None:
        """Count one task event."""
        kind = event.get("type")
        task_id = event.get("uuid")
        if not task_id or kind not in STATE_OF:
            return
        with self.lock:
            name = event.get("name") or self.names.get(task_id)
            if not name:
                return
            if len(self.names) > NAMES_MAX:
                self.names.clear()  # bounded memory; a forgotten id only loses its later events
            self.names[task_id] = str(name)
            stats = self.by_name.get(name)
            if stats is None:
                stats = self.by_name[name] = TaskTypeStats(str(name))
            if kind == "task-received":
                stats.received += 1
            elif kind == "task-succeeded":
                stats.succeeded += 1
            elif kind == "task-failed":
                stats.failed += 1
            elif kind == "task-retried":
                stats.retried += 1
            elif kind == "task-revoked":
                stats.revoked += 1
            runtime = event.get("runtime")
            if kind in ("task-succeeded", "task-failed") and runtime is not None:
                value = float(runtime)
                stats.runtimes.append(value)
                self.recent.append((float(event.get("ts") or time.time()), str(name), value))
            if kind in ("task-succeeded", "task-failed", "task-revoked"):
                self.names.pop(task_id, None)

    def table(self) -> list[dict[str, Any]]:
        """Every task name's statistics, busiest first."""
        with self.lock:
            rows = [s.to_dict() for s in self.by_name.values()]
        return sorted(rows, key=lambda r: (-r["count"], r["name"]))

    def runtime_points(self, seconds: int = 300) -> dict[str, list[tuple[float, float]]]:
        """``{name: [(seconds before now, runtime)]}`` of runs completed in the window."""
        now = time.time()
        out: dict[str, list[tuple[float, float]]] = {}
        with self.lock:
            for ts, name, runtime in self.recent:
                if ts >= now - seconds:
                    out.setdefault(name, []).append((round(ts - now, 2), runtime))
        return out


class Series:
    """Per-second counts over the last ``SERIES_S`` seconds."""

    def __init__(self) -> None:
        self.buckets: deque[tuple[int, dict[str, int]]] = deque(maxlen=SERIES_S)

    def add(self, ts: float, key: str, n: int = 1) -> None:
        """Count ``n`` of ``key`` in the second of ``ts``."""
        second = int(ts)
        if self.buckets and self.buckets[-1][0] == second:
            bucket = self.buckets[-1][1]
        elif self.buckets and second < self.buckets[-1][0]:
            for s, b in reversed(self.buckets):
                if s == second:
                    b[key] = b.get(key, 0) + n
                    return
            return  # older than what is kept
        else:
            bucket = {}
            self.buckets.append((second, bucket))
        bucket[key] = bucket.get(key, 0) + n

    def points(self, key: str, seconds: int = 300) -> list[tuple[int, int]]:
        """``(second, count)`` for every second of the window, zeros included."""
        now = int(time.time())
        have = {s: b.get(key, 0) for s, b in list(self.buckets) if s > now - seconds}
        return [(s, have.get(s, 0)) for s in range(now - seconds + 1, now + 1)]


class Feed:
    """Follows the events stream into a ``TaskIndex``, series, logs and listeners."""

    def __init__(self, app: App, index: TaskIndex,
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.app = app
        self.index = index
        self.on_event = on_event
        self.series = Series()
        self.stats = TaskStats()
        self.depths: deque[tuple[float, dict[str, int]]] = deque(
            maxlen=int(SERIES_S / SAMPLE_EVERY_S))
        self.logs: deque[tuple[int, dict[str, Any]]] = deque(maxlen=LOG_LINES)
        self.log_seq = 0
        self.events_seen = 0
        self.last_id = "0-0"
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.loop, name="flowc-dashboard-feed",
                                        daemon=True)
        self._next_sample = 0.0

    def start(self) -> None:
        """Replay the stream and start following it."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following (within a second)."""
        self._stop.set()

    def loop(self) -> None:
        """Read events; sample depths; back off on errors."""
        self._replay()
        self.ready.set()
        while not self._stop.is_set():
            try:
                self.last_id, batch = self.app.coordination.read_events(
                    self.last_id, block_ms=500, count=1000)
                for event in batch:
                    self.apply(event)
                if time.monotonic() >= self._next_sample:
                    self._next_sample = time.monotonic() + SAMPLE_EVERY_S
                    self.sample()
            except Exception:
                logger.exception("dashboard event feed failed; retrying in 1 s")
                self._stop.wait(1.0)

    def _replay(self) -> None:
        """Rebuild from the newest part of the stream: enough entries for ``max_tasks``."""
        try:
            for entry_id, fields in self.app.coordination.event_entries():
                for event in decode_entry(fields):
                    self.apply(event)
                self.last_id = entry_id
        except Exception:
            logger.exception("could not replay the events stream")

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the index, the counters, the log and the listeners."""
        self.events_seen += 1
        self.index.apply(event)
        self.stats.apply(event)
        kind = str(event.get("type", ""))
        if kind in ("task-succeeded", "task-failed", "task-retried", "task-received"):
            self.series.add(float(event.get("ts") or time.time()), kind)
        self.log_seq += 1
        self.logs.append((self.log_seq, event))
        if self.on_event is not None:
            self.on_event(event)

    def sample(self) -> None:
        """Record every queue's depth (ready + delayed) for the chart."""
        from flowc.runtime.monitoring.views import Monitor

        depths = {q.name: q.ready + q.delayed for q in Monitor(self.app).queues()}
        self.depths.append((time.time(), depths))

    def log_since(self, seq: int, match: Callable[[dict[str, Any]], bool] | None = None
                  ) -> Iterator[tuple[int, str]]:
        """Formatted log lines after sequence number ``seq``."""
        for n, event in list(self.logs):
            if n > seq and (match is None or match(event)):
                yield n, format_event(event)
