"""The flowc side of the benchmark: one no-op task with flowc's defaults (acks early, json).

``flowc worker -A flowc_app`` loads ``app``; run.py points it at the benchmark's Redis through
``$FLOWC_BROKER_URL`` / ``$FLOWC_RESULT_BACKEND``. ``$BENCH_SIGNING_KEY`` turns on HMAC signing
(producer and workers). In-process code calls ``make_app(url)`` to get a
fresh app (fresh connections) per benchmark phase.
"""

import os

from flowc import App

TASK_NAME = "bench.noop"


def make_app(url: str, backend: str | None = None) -> App:
    """An App on ``url`` (broker, and result backend unless ``backend`` is given) with the no-op
    task registered."""
    app = App("bench", broker=url, backend=backend or url)
    if os.environ.get("BENCH_SIGNING_KEY"):  # the cost of signing (docs/reliability.md)
        app.conf.flowc_signing_key = os.environ["BENCH_SIGNING_KEY"]

    @app.task(name=TASK_NAME)
    def noop(x=None):
        return x

    return app


app = make_app(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
