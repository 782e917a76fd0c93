"""``/metrics`` for Prometheus: task counts and runtimes (from events), queues and workers (read
from Redis at scrape time).

* ``flowc_tasks_total{name, state}``: finished, failed, retried, revoked, rejected tasks seen
  in events since the dashboard started (a counter: use ``rate()``);
* ``flowc_task_runtime_seconds{name}``: a histogram of task runtimes;
* ``flowc_queue_messages{queue, kind}`` (kind: ready, delayed, in_flight),
  ``flowc_dead_letters``, ``flowc_workers{state}`` (alive, lost), ``flowc_worker_processed``,
  ``flowc_workflows_total``: gauges read from Redis at scrape time;
* ``flowc_events_total`` and ``flowc_indexed_tasks``: the dashboard's own feed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from flowc.runtime.dashboard.app import Dashboard

logger = logging.getLogger("flowc.dashboard")

RUNTIME_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0,
                   300.0, float("inf"))
COUNTED = {"task-succeeded": "SUCCESS", "task-failed": "FAILURE", "task-retried": "RETRY",
           "task-revoked": "REVOKED", "task-rejected": "REJECTED",
           "task-received": "RECEIVED"}


class ClusterCollector(Collector):
    """Gauges read from Redis when Prometheus scrapes."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash

    def collect(self) -> Iterator[Any]:
        """Yield the queue, dead-letter, worker and workflow gauges."""
        monitor = self.dash.monitor
        try:
            queues = monitor.queues()
            workers = monitor.workers()
            dead = monitor.dead_letter_count()
            workflows = monitor.workflow_count()
        except Exception:
            logger.exception("metrics: could not read Redis")
            return
        depth = GaugeMetricFamily("flowc_queue_messages", "Messages in a queue by kind",
                                  labels=["queue", "kind"])
        for q in queues:
            depth.add_metric([q.name, "ready"], q.ready)
            depth.add_metric([q.name, "delayed"], q.delayed)
            depth.add_metric([q.name, "in_flight"], q.in_flight)
        yield depth
        yield GaugeMetricFamily("flowc_dead_letters", "Messages in the dead-letter stream",
                                value=dead)
        alive = GaugeMetricFamily("flowc_workers", "Worker processes by state",
                                  labels=["state"])
        alive.add_metric(["alive"], sum(1 for w in workers if w.alive))
        alive.add_metric(["lost"], sum(1 for w in workers if not w.alive))
        yield alive
        processed = GaugeMetricFamily("flowc_worker_processed",
                                      "Tasks processed by a worker process since it started",
                                      labels=["worker"])
        for w in workers:
            if w.alive:
                processed.add_metric([w.name], w.processed)
        yield processed
        yield GaugeMetricFamily("flowc_workflows_total", "Workflow runs listed",
                                value=workflows)
        yield GaugeMetricFamily("flowc_indexed_tasks", "Tasks in the dashboard's index",
                                value=len(self.dash.index))


class Metrics:
    """The registry, fed by the event feed; ``endpoint`` serves it."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.registry = CollectorRegistry(auto_describe=True)
        self.tasks = Counter("flowc_tasks", "Task events by task name and resulting state",
                             ["name", "state"], registry=self.registry)
        self.runtime = Histogram("flowc_task_runtime_seconds", "Task runtimes", ["name"],
                                 buckets=RUNTIME_BUCKETS, registry=self.registry)
        self.events = Counter("flowc_events", "Events read from the stream",
                              registry=self.registry)
        self.registry.register(ClusterCollector(dash))
        self.names: dict[str, str] = {}

    def on_event(self, event: dict[str, Any]) -> None:
        """Count one event (called by the feed thread)."""
        self.events.inc()
        state = COUNTED.get(str(event.get("type")))
        if state is None:
            return
        task_id = event.get("uuid")
        rec = self.dash.index.get(task_id) if task_id else None
        name = (rec.name if rec is not None else None) or event.get("name") or "unknown"
        self.tasks.labels(str(name), state).inc()
        runtime = event.get("runtime")
        if runtime is not None:
            self.runtime.labels(str(name)).observe(float(runtime))

    async def endpoint(self, request: Request) -> Response:
        """The text exposition format."""
        body = await run_in_threadpool(generate_latest, self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
