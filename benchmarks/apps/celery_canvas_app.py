"""Celery side of the canvas benchmark (benchmarks/canvas.py): no-op, increment, sum, stamp.

Redis broker and Redis result backend, json spelled out, everything else Celery 5's default
(prefork with CPU-count processes, prefetch multiplier 4, acks early; the Redis backend joins
chords natively with a counter, no ``chord_unlock`` polling task). A ``worker_ready`` hook stores
the boot-finished time so canvas.py knows when the worker is up.
"""

import os
import time

from celery import Celery
from celery.signals import worker_ready

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
READY_KEY = "bench:celery:ready"


def make_app(url: str, backend: str | None = None) -> Celery:
    app = Celery("canvasbench", broker=url, backend=backend or url)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                    broker_connection_retry_on_startup=True)

    @app.task(name="cb.noop", shared=False)
    def noop(x=None):
        return x

    @app.task(name="cb.inc", shared=False)
    def inc(x):
        return x + 1

    @app.task(name="cb.tsum", shared=False)
    def tsum(xs):
        return sum(xs)

    @app.task(name="cb.stamp", shared=False)
    def stamp(marks):
        t0 = time.perf_counter()
        marks.append([t0, time.perf_counter()])
        return marks

    return app


# benchmarks/transports.py: a RabbitMQ broker and a Redis or database result backend; the ready
# mark still goes to the Redis of $BENCH_REDIS_URL
app = make_app(os.environ.get("BENCH_BROKER_URL", URL), os.environ.get("BENCH_BACKEND_URL"))


@worker_ready.connect
def _mark_ready(sender=None, **_):
    import redis

    redis.Redis.from_url(URL).set(READY_KEY, repr(time.time()))
