"""Huey 3 side of the canvas benchmark (benchmarks/canvas.py): no-op, increment, sum, stamp.

``RedisHuey`` on the benchmark's Redis, pickle serializer and blocking dequeue (BRPOP), the
defaults, with one option: ``notify_result=True``, Huey's documented low-latency result wait
(the waiter BLPOPs a per-result notification list instead of polling the result hash with a
50 ms+ backoff). Without it a client-side ``get(blocking=True)`` cannot see a result sooner
than its next poll, which would measure Huey's poll interval rather than its canvas.
Consumer: ``huey_consumer huey_canvas_app.huey -w 2 -k process``.
"""

import os
import time

from huey import RedisHuey

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def make_huey(url: str) -> tuple[RedisHuey, dict[str, object]]:
    """A RedisHuey on ``url`` and its four tasks (registered under the same names as the
    worker's module-level ones: Huey keys its registry by module and function name)."""
    notify = os.environ.get("BENCH_HUEY_NOTIFY_RESULT", "1") == "1"
    huey = RedisHuey("canvasbench", url=url, notify_result=notify)

    @huey.task()
    def noop(x=None):
        return x

    @huey.task()
    def inc(x):
        return x + 1

    @huey.task()
    def tsum(xs):
        return sum(xs)

    @huey.task()
    def stamp(marks):
        """Append (start, end) of this step, on the system-wide monotonic clock, to ``marks``."""
        t0 = time.perf_counter()
        marks.append([t0, time.perf_counter()])
        return marks

    return huey, {"noop": noop, "inc": inc, "tsum": tsum, "stamp": stamp}


huey, TASKS = make_huey(URL)
