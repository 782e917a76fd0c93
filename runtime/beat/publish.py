"""Publishing one run of a beat entry, once per (entry, due time), on any broker.

A task entry becomes one message, built and encoded as ``apply_async`` builds it (the entry's
options, a task id derived from the entry and due time, headers naming both). On Redis it goes
out through ``BeatStore.publish_once`` (``beat_publish.lua``: the fired marker and the enqueue
in one step); on another broker through ``Broker.publish_once`` under the same marker, kept in
the backend. A workflow entry is submitted under the run id derived the same way; the join
stores a run id once, so submitting it again changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flowc.runtime.broker import Outgoing
from flowc.runtime.redis.beat_store import BeatStore, Published, to_us
from flowc.runtime.redis.broker import RedisBroker

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.beat.entries import ScheduleEntry
    from flowc.runtime.coordination import BeatState

FIRED_TTL = timedelta(hours=6)
"""How long a fired marker dedups its (entry, due time); at least twice the entry's grace."""


class EntryPublisher:
    """Publishes the run of an entry due at a time, unless it was published already."""

    def __init__(self, app: App, store: BeatState) -> None:
        self.app = app
        self.store = store

    def publish(self, entry: ScheduleEntry, due: datetime) -> Published:
        """Publish the run of ``entry`` due at ``due`` unless it was published already."""
        if entry.workflow is not None:
            return self._publish_workflow(entry, due)
        return self._publish_task(entry, due)

    def _publish_task(self, entry: ScheduleEntry, due: datetime) -> Published:
        app = self.app
        assert entry.task is not None
        run_id = self.store.run_id(entry.name, due)
        options = dict(entry.options)
        headers = {**(options.pop("headers", None) or {}), "beat_entry": entry.name,
                   "beat_due": due.isoformat()}
        message = app.build_message(entry.task, list(entry.args), dict(entry.kwargs),
                                    app.tasks.get(entry.task),
                                    {**options, "task_id": run_id, "headers": headers})
        body, tag = app.encode(message, options.get("serializer"))
        item = Outgoing(message.queue, message.priority, body, tag, message.eta)
        app.broker.declare([message.queue])
        ttl = max(FIRED_TTL, 2 * entry.grace)
        if not isinstance(app.broker, RedisBroker):  # e.g. RabbitMQ: the marker in the backend
            marker = app.keys.beat_fired(entry.name, to_us(due), message.queue)
            first_id = app.broker.publish_once(item, marker, run_id, ttl.total_seconds())
            return Published(entry.name, due, first_id or run_id, first_id is None)
        delayed = message.eta is not None and message.eta > app.broker.now()
        assert isinstance(self.store, BeatStore)  # a Redis broker coordinates on its Redis
        return self.store.publish_once(entry.name, due, item, run_id, ttl, delayed)

    def _publish_workflow(self, entry: ScheduleEntry, due: datetime) -> Published:
        run_id = self.store.run_id(entry.name, due)
        existed = bool(self.app.workflow_join.status(run_id))
        assert entry.workflow is not None  # the caller publishes workflow entries only here
        self.app.workflows.submit(entry.workflow, run_id)  # idempotent for one run id
        return Published(entry.name, due, run_id, not existed)
