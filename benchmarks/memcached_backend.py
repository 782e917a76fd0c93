"""Results in Memcached vs in Redis, on one Redis broker: ``delay().get()`` round trip and
results drained per second.

A private redis-server and a private memcached (free loopback ports) are started and stopped
here; a ``flowc worker -A flowc_app`` runs the no-op task with results in one or the other.
Memcached cannot block a waiter, so ``get()`` polls (1 ms doubling to 50 ms): the round trip
shows what that costs.

    python benchmarks/memcached_backend.py [--n 300] [--drain 5000] [--pool prefork]
        [--concurrency 2]

Writes ``memcached_backend.json`` beside this file and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

from bench_common import RedisServer, WorkerProcess, free_port, stop_process, worker_env  # noqa: E402

from flowc import App  # noqa: E402

TASK = "bench.noop"


def start_memcached() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("memcached")
    if binary is None:
        raise SystemExit("memcached is not on PATH (apt-get install memcached)")
    port = free_port()
    user = ["-u", "root"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", *user],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc, f"cache+memcached://127.0.0.1:{port}/"


def measure(broker: str, backend: str, n: int, drain: int, pool: list[str]) -> dict[str, Any]:
    env = worker_env({"FLOWC_BROKER_URL": broker, "FLOWC_RESULT_BACKEND": backend,
                      "BENCH_REDIS_URL": broker})
    log = HERE / f".memcached_backend-{os.getpid()}.log"
    worker = WorkerProcess([sys.executable, "-m", "flowc", "worker", "-A", "flowc_app", *pool],
                           env, log)
    worker.start()
    app = App("bench", broker=broker, backend=backend)

    @app.task(name=TASK)
    def noop(x: Any = None) -> Any:
        return x

    try:
        noop.delay(0).get(timeout=60)  # the worker is up
        rtts = []
        for i in range(n):
            started = time.perf_counter()
            noop.delay(i).get(timeout=30)
            rtts.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        results = [noop.delay(i) for i in range(drain)]
        for r in results:
            r.get(timeout=120)
        drained = drain / (time.perf_counter() - started)
    finally:
        app.close()
        worker.stop()
        log.unlink(missing_ok=True)
    q = statistics.quantiles(rtts, n=10)
    return {"backend": backend.split("://")[0], "rtt_ms_p50": round(statistics.median(rtts), 2),
            "rtt_ms_p90": round(q[8], 2), "delay_get_per_s": round(drained)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="sequential delay().get() calls")
    parser.add_argument("--drain", type=int, default=5000,
                        help="tasks sent, then every result read")
    parser.add_argument("--pool", default="prefork", help="the worker's -P")
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's -c")
    args = parser.parse_args()
    args.pool = ["-P", args.pool, "-c", str(args.concurrency)]
    redis_server = RedisServer()
    redis_server.start()
    mc, mc_url = start_memcached()
    try:
        on_redis = redis_server.next_url()
        rows = [measure(on_redis, on_redis, args.n, args.drain, args.pool),
                measure(redis_server.next_url(), mc_url, args.n, args.drain, args.pool)]
    finally:
        stop_process(mc)
        redis_server.stop()
    load = os.getloadavg()[0]
    out = {"pool": " ".join(args.pool), "n": args.n, "drain": args.drain,
           "load_average": round(load, 1), "rows": rows}
    (HERE / "memcached_backend.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"pool {out['pool']}, load average {load:.1f}")
    print("| backend | delay().get() p50 | p90 | send all, then get each |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['rtt_ms_p50']} ms | {r['rtt_ms_p90']} ms | "
              f"{r['delay_get_per_s']}/s |")


if __name__ == "__main__":
    main()
