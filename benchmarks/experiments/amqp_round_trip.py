#!/usr/bin/env python
"""Where a round trip on RabbitMQ goes: publisher confirms on and off, flowc and Celery.

    python benchmarks/experiments/amqp_round_trip.py [--n 300] [--rounds 3]

transports.py compares flowc as shipped (every ``delay()`` waits for RabbitMQ's publisher
confirm) with Celery as shipped (no confirms). This starts one idle default worker of each
(RabbitMQ broker, a private vhost each; results in a private redis-server) and times sequential
``noop.delay(i).get()`` with four clients, interleaved round by round in alternating order:
flowc confirmed (default), flowc ``confirm_publish: False``, Celery default (unconfirmed) and
Celery ``confirm_publish: True``; for flowc it splits ``delay()`` (publish, confirm) from
``get()``. Prints medians per round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

from bench_celery import CelerySide  # noqa: E402
from bench_common import RedisServer, WorkerProcess, loadavg, worker_env  # noqa: E402
from bench_flowc import FlowcSide  # noqa: E402

AMQP = os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def timed(side: Any, n: int, split: bool) -> dict[str, float]:
    delay = side.task.delay
    for i in range(20):
        delay(i).get(timeout=30)
    total, pub = [], []
    for i in range(n):
        t0 = time.perf_counter()
        res = delay(i)
        t1 = time.perf_counter()
        assert res.get(timeout=30) == i
        t2 = time.perf_counter()
        total.append(t2 - t0)
        pub.append(t1 - t0)
    out = {"p50_ms": statistics.median(total) * 1e3}
    if split:
        out["delay_p50_ms"] = statistics.median(pub) * 1e3
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    tag = uuid.uuid4().hex[:6]
    vhosts = {s: f"flowc-bench-rt-{tag}-{s}" for s in ("flowc", "celery")}
    server = RedisServer()
    server.start()
    made: list[str] = []
    workers: list[WorkerProcess] = []
    sides: list[Any] = []
    try:
        for v in vhosts.values():
            rabbitmqctl("add_vhost", v)
            made.append(v)
            rabbitmqctl("set_permissions", "-p", v, "guest", ".*", ".*", ".*")
        url = server.next_url()
        os.environ["FLOWC_COORDINATION_URL"] = url
        broker = {s: f"{AMQP}/{v}" for s, v in vhosts.items()}
        flowc = FlowcSide(broker["flowc"], url, coordination=url)
        flowc_nc = FlowcSide(broker["flowc"], url, coordination=url)
        flowc_nc.app.conf.broker_transport_options = {"confirm_publish": False}
        celery = CelerySide(broker["celery"], url, ready_url=url)
        celery_c = CelerySide(broker["celery"], url, ready_url=url)
        celery_c.app.conf.broker_transport_options = {"confirm_publish": True}
        sides = [flowc, flowc_nc, celery, celery_c]
        import redis

        client = redis.Redis.from_url(url)
        for side in (flowc, celery):
            w = WorkerProcess(side.worker_cmd("default"), worker_env(side.worker_env()),
                              Path("/tmp") / f"amqp-rt-{side.name}-{tag}.log")
            w.start()
            workers.append(w)
            seen: dict[bytes, float] = {}
            deadline = time.monotonic() + 90
            while side.ready_time(client, os.cpu_count() or 1, seen) is None:
                if not w.alive() or time.monotonic() > deadline:
                    raise RuntimeError(w.tail())
                time.sleep(0.05)
        variants = [("flowc, confirms (default)", flowc, True),
                    ("flowc, confirm_publish False", flowc_nc, True),
                    ("Celery, no confirms (default)", celery, False),
                    ("Celery, confirm_publish True", celery_c, False)]
        results: dict[str, list[dict[str, float]]] = {v[0]: [] for v in variants}
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else list(reversed(variants))
            print(f"round {r + 1}, load {loadavg()}", flush=True)
            for name, side, split in order:
                res = timed(side, args.n, split)
                results[name].append(res)
                print(f"  {name:30} p50 {res['p50_ms']:6.2f} ms"
                      + (f" (delay() alone {res['delay_p50_ms']:.2f} ms)" if split else ""),
                      flush=True)
        print("medians over rounds of the per-round p50:")
        for name, rows in results.items():
            print(f"  {name:30} {statistics.median(r['p50_ms'] for r in rows):6.2f} ms")
        fc = statistics.median(r["p50_ms"] for r in results["flowc, confirms (default)"])
        fn = statistics.median(r["p50_ms"] for r in results["flowc, confirm_publish False"])
        cc = statistics.median(r["p50_ms"] for r in results["Celery, confirm_publish True"])
        cn = statistics.median(r["p50_ms"] for r in results["Celery, no confirms (default)"])
        print(f"Celery/flowc: both confirmed {cc / fc:.2f}; both unconfirmed {cn / fn:.2f}; "
              f"as shipped {cn / fc:.2f}")
    finally:
        for w in workers:
            w.stop()
        for side in sides:
            side.close()
        for v in made:
            rabbitmqctl("delete_vhost", v)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
