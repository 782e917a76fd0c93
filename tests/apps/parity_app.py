"""A task module written the way Celery's docs write one (issue 20): base classes with hooks,
class-attribute options, ``shared_task``, signals, custom states, Celery's import paths.

Whatever the worker observes (hooks, signals) is appended as JSON to the Redis list
``parity:events`` so the test process can read it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from flowc import App, shared_task
from flowc.app.task import Task
from flowc.beat import Scheduler
from flowc.exceptions import MaxRetriesExceededError, Reject
from flowc.schedules import schedule
from flowc.signals import (
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    task_revoked,
    task_success,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from flowc.utils.log import get_task_logger

app = App("parity_app")
if os.environ.get("PARITY_MAX_TASKS"):  # set by a test to check the setting form
    app.conf.worker_max_tasks_per_child = int(os.environ["PARITY_MAX_TASKS"])
logger = get_task_logger(__name__)
EVENTS = "parity:events"


def record(kind: str, **data: Any) -> None:
    """Append an observation for the test to read."""
    app.broker_client.rpush(EVENTS, json.dumps({"kind": kind, **data}, default=repr))


class Recording(app.Task):
    """Records every hook call, with the arguments Celery passes."""

    def before_start(self, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        record("before_start", id=task_id, args=list(args), kwargs=kwargs)

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        record("on_success", id=task_id, retval=retval, args=list(args))

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                   einfo: Any) -> None:
        record("on_failure", id=task_id, exc=type(exc).__name__,
               einfo_type=einfo.type.__name__, in_traceback="boom" in einfo.traceback)

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                 einfo: Any) -> None:
        record("on_retry", id=task_id, exc=type(exc).__name__, retries=self.request.retries)

    def after_return(self, status: str, retval: Any, task_id: str, args: Any,
                     kwargs: dict[str, Any], einfo: Any) -> None:
        record("after_return", id=task_id, status=status, einfo=einfo)


class Flaky(Recording):
    """Options as class attributes, as Celery users set them."""

    autoretry_for = (ConnectionError,)
    max_retries = 1
    default_retry_delay = 0.05


@app.task(base=Recording)
def hooked_add(x: int, y: int) -> int:
    return x + y


@app.task(base=Recording)
def hooked_fail() -> None:
    raise ValueError("boom")


@app.task(base=Flaky, bind=True)
def flaky(self: Task) -> int:
    if self.request.retries < 1:
        raise ConnectionError("first attempt fails")
    return int(self.request.retries)


@app.task(base=Flaky)
def always_down() -> None:
    raise ConnectionError("never works")


class Squarer(app.Task):
    """A class-based task (``run`` on the class), registered with ``register_task``."""

    name = "parity_app.square"

    def run(self, x: int) -> int:
        return x * x


square = app.register_task(Squarer())


@shared_task
def shared_mul(x: int, y: int) -> int:
    return x * y


@app.task(bind=True)
def request_fields(self: Task) -> dict[str, Any]:
    req = self.request
    return {"id": req.id, "args": req.args, "kwargs": req.kwargs, "hostname": req.hostname,
            "delivery_info": req.delivery_info, "reply_to": req.reply_to,
            "retries": req.retries, "called_directly": req.called_directly,
            "is_eager": req.is_eager, "headers": req.headers}


@app.task(bind=True)
def progress(self: Task, steps: int) -> str:
    for i in range(steps):
        self.update_state(state="PROGRESS", meta={"done": i + 1, "of": steps})
        app.broker_client.blpop([f"parity:go:{self.request.id}"], timeout=20)
    return "finished"


@app.task(bind=True, track_started=True)
def hold(self: Task) -> int:
    app.broker_client.blpop([f"parity:go:{self.request.id}"], timeout=20)
    return os.getpid()


@app.task
def rejects() -> None:
    raise Reject("no thanks", requeue=False)


@app.task(bind=True, max_retries=1, default_retry_delay=0.05)
def gives_up(self: Task, a: int, b: str = "x") -> None:
    try:
        self.retry()
    except MaxRetriesExceededError as e:
        record("gave_up", task_args=e.task_args, task_kwargs=e.task_kwargs)
        raise


@task_prerun.connect(sender=hooked_add)
def _prerun(sender: Any = None, task_id: str | None = None, task: Any = None,
            args: Any = None, kwargs: Any = None, **_: Any) -> None:
    record("task_prerun", sender=sender.name, id=task_id, task=task.name, args=list(args))


@task_postrun.connect(sender=hooked_add)
def _postrun(sender: Any = None, task_id: str | None = None, retval: Any = None,
             state: str | None = None, **_: Any) -> None:
    record("task_postrun", id=task_id, retval=retval, state=state)


@task_success.connect(sender=hooked_add)
def _success(sender: Any = None, result: Any = None, **_: Any) -> None:
    record("task_success", sender=sender.name, result=result)


@task_failure.connect
def _failure(sender: Any = None, task_id: str | None = None, exception: Any = None,
             **_: Any) -> None:
    if getattr(sender, "app", None) is not app:  # another app's task in this process
        return
    record("task_failure", sender=sender.name, id=task_id, exception=type(exception).__name__)


@task_retry.connect
def _retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    if getattr(sender, "app", None) is not app:  # another app's task in this process
        return
    record("task_retry", sender=sender.name, id=request.id, reason=type(reason).__name__)


@task_revoked.connect
def _revoked(sender: Any = None, request: Any = None, expired: bool = False,
             terminated: bool = False, **_: Any) -> None:
    if getattr(sender, "app", None) is not app:  # another app's task in this process
        return
    record("task_revoked", sender=sender.name, id=request.id, expired=expired,
           terminated=terminated)


_in_worker = {"yes": False}
"""Set by worker_init when this app's worker starts (prefork children inherit it), so a test
process that imports this module and runs some other worker records nothing."""


@worker_init.connect
def _init(sender: Any = None, **_: Any) -> None:
    _in_worker["yes"] = getattr(sender, "app", None) is app


@worker_ready.connect
def _ready(sender: Any = None, **_: Any) -> None:
    if _in_worker["yes"]:
        record("worker_ready", pid=os.getpid())


@worker_process_init.connect
def _process_init(**_: Any) -> None:
    if _in_worker["yes"]:
        record("worker_process_init", pid=os.getpid())


@worker_shutdown.connect
def _shutdown(sender: Any = None, **_: Any) -> None:
    if _in_worker["yes"]:
        record("worker_shutdown", pid=os.getpid())


class ListScheduler(Scheduler):
    """A custom scheduler (``flowc beat -S parity_app:ListScheduler``): entries from code."""

    def setup_schedule(self) -> None:
        self.merge_inplace({"add-often": {"task": "parity_app.hooked_add",
                                          "schedule": schedule(run_every=0.2),
                                          "args": (40, 2)}})


@app.task
def pid() -> int:
    return os.getpid()


@app.task
def io_wait(seconds: float) -> float:
    time.sleep(seconds)  # monkey-patched under -P gevent: yields to the other greenlets
    return seconds
