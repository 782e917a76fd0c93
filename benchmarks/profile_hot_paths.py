#!/usr/bin/env python
"""cProfile of flowc's two hot paths on a private redis-server, for the benchmark report.

    python benchmarks/profile_hot_paths.py [--tasks 20000] [--top 25]

1. Producer: ``noop.delay(i)`` one call at a time.
2. Consumer: the solo loop, ``Consumer(app, ["celery"], name).run_once()`` until the queue is
   empty (messages published beforehand through the batched path), in this process.
3. Round trip: ``delay(i).get()`` against a solo consumer running in a thread of this process
   (a GIL-sharing approximation; the benchmark's round trip uses a real worker subprocess).

Prints wall rates (unprofiled and profiled) and the top functions by own time and by
cumulative time; writes ``.pstats`` files to ``--out`` for snakeviz/pstats.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

import redis  # noqa: E402
from bench_common import RedisServer  # noqa: E402


def top(prof: cProfile.Profile, key: str, n: int) -> str:
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(n)
    return buf.getvalue()


def fresh_app(url: str):
    import flowc_app

    app = flowc_app.make_app(url)
    return app, app.tasks[flowc_app.TASK_NAME]


def profile_producer(url: str, n: int, out: Path, ntop: int) -> None:
    app, task = fresh_app(url)
    app.broker_client.flushdb()
    for i in range(100):
        task.delay(i)
    t0 = time.perf_counter()
    for i in range(n):
        task.delay(i)
    plain = n / (time.perf_counter() - t0)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for i in range(n):
        task.delay(i)
    prof.disable()
    profiled = n / (time.perf_counter() - t0)
    prof.dump_stats(out / "producer_delay.pstats")
    print(f"== producer delay(): {plain:,.0f}/s unprofiled, {profiled:,.0f}/s under cProfile")
    print(top(prof, "tottime", ntop))
    print(top(prof, "cumulative", ntop))
    app.close()


def publish_batch(app, task, n: int) -> None:
    for lo in range(0, n, 1000):
        app.publish([app.build_message(task.name, [i], {}, task, {})
                     for i in range(lo, min(n, lo + 1000))])


def drain(consumer, app) -> int:
    queue = app.conf.task_default_queue
    while app.broker.depth(queue)["ready"]:
        consumer.run_once()
    return consumer.processed


def profile_consumer(url: str, n: int, out: Path, ntop: int) -> None:
    from flowc.runtime.worker.consumer import Consumer

    results = {}
    for label in ("plain", "profiled"):
        app, task = fresh_app(url)
        app.broker_client.flushdb()
        app.broker.declare(["celery"])
        publish_batch(app, task, n)
        consumer = Consumer(app, ["celery"], f"prof-{label}")
        prof = cProfile.Profile() if label == "profiled" else None
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        done = drain(consumer, app)
        if prof:
            prof.disable()
        results[label] = done / (time.perf_counter() - t0)
        if prof:
            prof.dump_stats(out / "consumer_solo.pstats")
            print(f"== solo consumer run_once(): {results['plain']:,.0f}/s unprofiled, "
                  f"{results['profiled']:,.0f}/s under cProfile ({done} tasks, in-process, "
                  "includes the depth check per batch)")
            print(top(prof, "tottime", ntop))
            print(top(prof, "cumulative", ntop))
        app.close()


def profile_round_trip(url: str, n: int, out: Path, ntop: int) -> None:
    from flowc.runtime.worker.consumer import Consumer

    app, task = fresh_app(url)
    app.broker_client.flushdb()
    app.broker.declare(["celery"])
    wapp, _ = fresh_app(url)  # the worker side gets its own clients
    consumer = Consumer(wapp, ["celery"], "prof-rt")
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    for i in range(50):
        task.delay(i).get(timeout=10)
    prof = cProfile.Profile()
    samples = []
    prof.enable()
    for i in range(n):
        t0 = time.perf_counter()
        task.delay(i).get(timeout=10)
        samples.append(time.perf_counter() - t0)
    prof.disable()
    consumer.stop()
    thread.join(5)
    samples.sort()
    prof.dump_stats(out / "round_trip.pstats")
    print(f"== round trip in-process (consumer thread): p50 {samples[len(samples) // 2] * 1e3:.3f}"
          f" ms under cProfile (caller thread profiled only)")
    print(top(prof, "tottime", ntop))
    app.close()
    wapp.close()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", type=int, default=20_000)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path, default=Path("/tmp/flowc-profiles"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    server = RedisServer()
    server.start()
    try:
        url = server.url
        profile_producer(url, args.tasks, args.out, args.top)
        profile_consumer(url, args.tasks, args.out, args.top)
        profile_round_trip(url, 500, args.out, args.top)
        info = redis.Redis.from_url(url).info("commandstats")
        print("== redis commandstats (usec per call), whole session:")
        for name, st in sorted(info.items(), key=lambda kv: -kv[1]["usec"])[:12]:
            print(f"  {name:28} calls={st['calls']:>8} usec_per_call={st['usec_per_call']:.2f} "
                  f"total_ms={st['usec'] / 1000:.0f}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
