"""Tasks for the reliability tests: ``flowc worker -A reliability_app`` (cwd tests/apps).

The broker comes from ``$FLOWC_BROKER_URL``. Every task writes what happened to Redis keys
under ``rel:`` so the test process can count runs, starts and their order exactly. Timing
settings come from ``$REL_*`` variables so tests can shrink the redelivery window.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from typing import Any

from flowc import App
from flowc.exceptions import Reject, SoftTimeLimitExceeded

app = App("reliability_app")
app.conf.update(
    task_acks_late=True,
    flowc_worker_lost_after=float(os.environ.get("REL_LOST_AFTER", "2.0")),
    flowc_heartbeat_interval=float(os.environ.get("REL_HEARTBEAT", "0.4")),
    flowc_reap_interval=float(os.environ.get("REL_REAP", "0.5")),
    worker_prefetch_multiplier=int(os.environ.get("REL_PREFETCH", "4")),
)
if os.environ.get("REL_MAX_MESSAGE_BYTES"):
    app.conf.flowc_max_message_bytes = int(os.environ["REL_MAX_MESSAGE_BYTES"])
for _name in ("flowc_signing_key", "security_key", "security_certificate", "security_cert_store"):
    if os.environ.get(f"REL_{_name.upper()}"):  # e.g. REL_FLOWC_SIGNING_KEY
        app.conf[_name] = os.environ[f"REL_{_name.upper()}"]
if os.environ.get("REL_FLOWC_SIGNING_KEYS_ACCEPTED"):
    app.conf.flowc_signing_keys_accepted = os.environ["REL_FLOWC_SIGNING_KEYS_ACCEPTED"].split(",")

RATE = os.environ.get("REL_RATE", "20/2s")


def _log(key: str, *values: Any) -> None:
    app.broker_client.rpush(f"rel:{key}", *[str(v) for v in values])


@app.task
def record(i: int, sleep_s: float = 0.0) -> int:
    """Counts its runs in ``rel:runs`` (a task may run twice after a kill, never zero times),
    and adds ``<i>:<a token per run>`` to the set ``rel:execs``: exact even when a dropped
    connection makes the client send the ``RPUSH`` twice (the chaos suite kills connections)."""
    if sleep_s:
        time.sleep(sleep_s)
    _log("runs", i)
    app.broker_client.sadd("rel:execs", f"{i}:{uuid.uuid4().hex}")
    return i


@app.task
def echo(*args: Any, **kwargs: Any) -> list[Any]:
    """Takes any arguments and returns at once (the target of fuzzed messages)."""
    return [list(args), kwargs]


@app.task
def gil_hog(seconds: float) -> int:
    """Holds the GIL for about ``seconds`` in one C call (``sum`` over a range never lets
    another thread run): the heartbeat thread of its process cannot run meanwhile."""
    _log("gil", os.getpid())
    started = time.perf_counter()
    sum(range(2_000_000))
    per_item = (time.perf_counter() - started) / 2_000_000
    return sum(range(int(seconds / per_item))) and 1


@app.task
def poison() -> None:
    """Kills the process running it, every time (a poison pill)."""
    _log("poison", os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


@app.task(rate_limit=RATE)
def limited(i: int) -> int:
    """Records its start time (this host's clock) in ``rel:starts``."""
    _log("starts", repr(time.time()))
    return i


@app.task(rate_limit="2/s", rate_limit_key="store_id")
def per_store(store_id: str, i: int) -> str:
    """Limited per ``store_id``: records ``store_id time`` in ``rel:store``."""
    _log("store", f"{store_id} {time.time()!r}")
    return store_id


@app.task
def ordered(i: int) -> int:
    """Records the order tasks ran in (``rel:order``)."""
    _log("order", i)
    return i


@app.task
def when(i: int) -> float:
    """Records when it ran (``rel:when``)."""
    now = time.time()
    _log("when", f"{i} {now!r}")
    return now


@app.task
def sleeper(seconds: float) -> str:
    """Sleeps; used with time limits and terminate."""
    _log("sleeper", os.getpid())
    time.sleep(seconds)
    return "woke"


@app.task(soft_time_limit=0.5)
def cleans_up(seconds: float) -> str:
    """Catches its soft time limit and returns normally."""
    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        return "cleaned up"
    return "finished"


@app.task(time_limit=1.0)
def runaway() -> None:
    """Never ends on its own; its hard time limit must stop it."""
    while True:
        time.sleep(0.05)


@app.task
def rejects(requeue: bool) -> None:
    """Rejects its message the first time; succeeds on a requeued run."""
    if requeue and app.broker_client.incr("rel:rejects") > 1:
        return
    raise Reject("bad payload", requeue=requeue)


@app.task(autoretry_for=(ConnectionError,), retry_backoff=0.1, retry_backoff_max=0.4,
          retry_jitter=False, max_retries=3)
def flaky(fail_times: int) -> int:
    """Raises ConnectionError ``fail_times`` times (autoretry with backoff), then succeeds."""
    attempt = int(app.broker_client.incr(f"rel:flaky:{flaky.request.id}"))
    _log("flaky", repr(time.time()))
    if attempt <= fail_times:
        raise ConnectionError(f"attempt {attempt}")
    return attempt


@app.task(bind=True, default_retry_delay=1.0, max_retries=1)
def gives_up(self: Any) -> None:
    """Retries once after a second with its exception, then fails with it."""
    raise self.retry(exc=KeyError("still broken"))


@app.task(bind=True, max_retries=1)
def retries_without_exc(self: Any) -> None:
    """Retries once, then raises MaxRetriesExceededError (no exc given)."""
    raise self.retry(countdown=0.1)


@app.task(time_limit=0.5)
async def async_runaway() -> None:
    """An ``async def`` task that would sleep for 30 s; its hard limit cancels it."""
    await asyncio.sleep(30)


@app.task
def step(total: int, add: int, sleep_s: float = 0.0) -> int:
    """A workflow step: logs its start, sleeps, returns ``total + add``."""
    _log("steps", f"{add}:{os.getpid()}")
    if sleep_s:
        time.sleep(sleep_s)
    return total + add


@app.task
def total(values: list[int]) -> int:
    """A chord body: the sum of its header's results."""
    return sum(values)
