"""flowc side of the canvas benchmark (benchmarks/canvas.py): no-op, increment, sum, stamp.

``flowc worker -A flowc_canvas_app`` loads ``app``; canvas.py points it at its private Redis with
``$FLOWC_BROKER_URL`` / ``$FLOWC_RESULT_BACKEND`` (and ``$BENCH_REDIS_URL`` for in-process use).
Everything else is flowc's default (prefork, CPU-count processes, acks early, json).
"""

import os
import time

from flowc import App

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def make_app(url: str, backend: str | None = None) -> App:
    app = App("canvasbench", broker=url, backend=backend or url)

    @app.task(name="cb.noop")
    def noop(x=None):
        return x

    @app.task(name="cb.inc")
    def inc(x):
        return x + 1

    @app.task(name="cb.tsum")
    def tsum(xs):
        return sum(xs)

    @app.task(name="cb.stamp")
    def stamp(marks):
        """Append (start, end) of this step, on the system-wide monotonic clock, to ``marks``."""
        t0 = time.perf_counter()
        marks.append([t0, time.perf_counter()])
        return marks

    return app


app = make_app(URL)
