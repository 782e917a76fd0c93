"""The Celery side of the benchmark: one no-op task with Celery's defaults on a Redis broker and
a Redis result backend.

Only the transport and the serializers are set (json is already Celery 5's default; spelled out
so the comparison is explicit). Everything else is Celery's default: prefetch multiplier 4, acks
early (``task_acks_late=False``), the prefork pool with CPU-count processes, gossip, mingle and
event heartbeats on. ``celery -A celery_app worker`` loads ``app``; in-process code calls
``make_app(url)`` to get a fresh app per benchmark phase. A ``worker_ready`` hook stores the time
the worker finished booting, so the benchmark can exclude boot from the drain measurement.
"""

import os
import time

from celery import Celery
from celery.signals import worker_ready

TASK_NAME = "bench.noop"
READY_KEY = "bench:celery:ready"
URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def make_app(url: str, backend: str | None = None) -> Celery:
    """A Celery app on ``url`` (broker and result backend) with the no-op task registered."""
    app = Celery("bench", broker=url, backend=backend or url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,  # the default behaviour, minus its warning
    )

    @app.task(name=TASK_NAME, shared=False)
    def noop(x=None):
        return x

    return app


# benchmarks/transports.py: a RabbitMQ broker and a Redis or database result backend; the ready
# mark still goes to the Redis of $BENCH_REDIS_URL
app = make_app(os.environ.get("BENCH_BROKER_URL", URL), os.environ.get("BENCH_BACKEND_URL"))


@worker_ready.connect
def _mark_ready(sender=None, **_):  # once, in the worker's main process, after boot
    import redis

    redis.Redis.from_url(URL).set(READY_KEY, repr(time.time()))
