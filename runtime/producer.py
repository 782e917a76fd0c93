"""Turning a call into a message: routing, priorities, delays, argument checks, the hot path."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowc.runtime.broker import Outgoing
from flowc.runtime.config import route_for
from flowc.runtime.message import Message
from flowc.runtime.options import (
    check_priority,
    check_queue,
    internal_priority,
    resolve_eta,
    resolve_expires,
)

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.task import Task


def send_plain(app: App, task: Task, args: list[Any], kwargs: dict[str, Any]) -> str:
    """The hot path of ``delay()``: no options, routing cached per task, one publish.

    Returns the new task id. The cache is dropped whenever the settings' version changes.
    """
    routes = app._plain_routes
    if routes.get("") != app.conf.version:  # settings changed: routing may have too
        routes.clear()
        routes[""] = app.conf.version
    route = routes.get(task.name)
    if route is None:
        m = app.build_message(task.name, [], {}, task, {})
        route = routes[task.name] = (m.queue, m.priority)
        app.broker.declare([m.queue])
    queue, priority = route
    task_id = str(uuid.uuid4())
    body, tag = app.encode(Message(task_id, task.name, args, kwargs, queue, priority))
    app.broker.publish([Outgoing(queue, priority, body, tag)])
    return task_id


def build_message(app: App, name: str, args: list[Any], kwargs: dict[str, Any],
                  task: Task | None, options: Mapping[str, Any]) -> Message:
    """Resolve routing, priority and delays for one call into a Message."""
    topts = task.options if task is not None else {}
    route = route_for(app.conf.task_routes, name, args, kwargs) if app.conf.task_routes \
        else None
    queue = check_queue(options.get("queue")) or (route or {}).get("queue") \
        or topts.get("queue") or app.conf.task_default_queue
    priority = check_priority(options.get("priority"))
    if priority is None:
        for source in ((route or {}).get("priority"), topts.get("priority"),
                       app.conf.task_default_priority):
            if source is not None:
                priority = check_priority(source)
                break
    priority = internal_priority(priority, app)
    expires = options.get("expires", topts.get("expires"))
    timed = expires is not None or options.get("countdown") is not None \
        or options.get("eta") is not None
    now = app.broker.now() if timed else 0.0  # due times and expiry are server time
    return Message(
        id=options.get("task_id") or str(uuid.uuid4()), task=name, args=args, kwargs=kwargs,
        queue=queue, priority=priority,
        eta=resolve_eta(options.get("countdown"), options.get("eta"), now),
        expires=resolve_expires(expires, now), retries=int(options.get("retries", 0)),
        root_id=options.get("root_id"), parent_id=options.get("parent_id"),
        group_id=options.get("group_id"),
        acks_late=options.get("acks_late"), ignore_result=options.get("ignore_result"),
        time_limit=options.get("time_limit"), soft_time_limit=options.get("soft_time_limit"),
        link=sig_list(options.get("link")), link_error=sig_list(options.get("link_error")),
        headers=options.get("headers"),
    )


def sig_list(value: Any) -> list[dict[str, Any]] | None:
    """Callback signatures (one or many) as plain dicts for the envelope."""
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else [value]
    return [dict(v) for v in items]


def check_arguments(task: Task, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Celery's ``typing``: a call whose arguments cannot bind fails now, not in the worker."""
    sig = task.call_signature
    if sig is None:
        return
    shape = (len(args), *kwargs) if kwargs else len(args)
    if shape in task.bindable_shapes:  # binding depends only on the count and the names
        return
    try:
        if task.bind:
            sig.bind(None, *args, **kwargs)
        else:
            sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{task.name}() {e}") from None
    task.bindable_shapes.add(shape)
