"""A task module for tests that run real workers: ``flowc worker -A sample_app`` (cwd tests/apps).

The broker comes from ``$FLOWC_BROKER_URL``, set by the test fixtures.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from flowc import App

app = App("sample_app")
app.conf.update(task_acks_late=os.environ.get("SAMPLE_ACKS_LATE") == "1",
                flowc_wait_replicas=int(os.environ.get("SAMPLE_WAIT_REPLICAS", "0")),
                flowc_wait_timeout_ms=2000)
if os.environ.get("SAMPLE_RESULT_EXPIRES"):  # seconds, for tests of result expiry
    app.conf.result_expires = float(os.environ["SAMPLE_RESULT_EXPIRES"])


class CustomError(Exception):
    """An exception type importable by the test process."""


@app.task
def add(x: int, y: int) -> int:
    """Adds."""
    return x + y


@app.task
def sleep_then(seconds: float, value: object = None) -> object:
    """Sleeps, then returns ``value``."""
    time.sleep(seconds)
    return value


@app.task(track_started=True)
def sleep_started(seconds: float, value: object = None) -> object:
    """``sleep_then`` that stores STARTED when it begins, so a test can wait until it runs."""
    time.sleep(seconds)
    return value


@app.task
def sized(n: int) -> str:
    """Returns a string of ``n`` characters (a result over a backend's item limit)."""
    return "x" * n


@app.task
def fail_custom(message: str) -> None:
    """Raises an exception type the caller can import."""
    raise CustomError(message)


@app.task
async def async_add(x: int, y: int) -> int:
    """An ``async def`` task."""
    await asyncio.sleep(0.01)
    return x + y


@app.task
async def async_sleep(seconds: float) -> float:
    """Sleeps on the event loop (concurrency shows in total time)."""
    await asyncio.sleep(seconds)
    return seconds


@app.task(rate_limit="5/s")
def limited(i: int) -> float:
    """Rate-limited to 5 starts a second across every worker; returns when it started."""
    return time.time()


@app.task(bind=True)
def retries_once(self: Any) -> int:
    """Asks for one retry (0.1 s later), then returns how many retries it took."""
    if self.request.retries < 1:
        raise self.retry(countdown=0.1)
    return int(self.request.retries)


@app.task
def whoami() -> int:
    """The pid of the process that ran the task."""
    return os.getpid()


@app.task
def span(previous: object, seconds: float) -> list[float]:
    """Sleeps ``seconds``; returns when it started and ended (wall clock), for overlap tests."""
    started = time.time()
    time.sleep(seconds)
    return [started, time.time()]


@app.task
def identity(value: object) -> object:
    """Returns its argument (a chord body that hands back its header's results)."""
    return value


_recorder = None


def _recorder_client() -> Any:
    """A client on ``$RECORD_URL``, made once per process."""
    global _recorder
    if _recorder is None:
        import redis

        _recorder = redis.Redis.from_url(os.environ["RECORD_URL"])
    return _recorder


@app.task
def record(i: int) -> int:
    """Counts its runs in the Redis named by ``$RECORD_URL`` (kept apart from the broker, so
    failover tests count across a broker's failover): ``rec:runs`` and the set ``rec:ids``."""
    pipe = _recorder_client().pipeline(transaction=False)
    pipe.incr("rec:runs")
    pipe.sadd("rec:ids", i)
    pipe.execute()
    return i


@app.task
def record_results(results: list[int]) -> int:
    """A chord body that counts its runs in ``$RECORD_URL`` (``rec:callbacks``) and keeps the
    results each run received (the list ``rec:callback_results``, JSON); returns their count."""
    import json

    pipe = _recorder_client().pipeline(transaction=False)
    pipe.incr("rec:callbacks")
    pipe.rpush("rec:callback_results", json.dumps(results))
    pipe.execute()
    return len(results)
