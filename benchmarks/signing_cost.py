#!/usr/bin/env python
"""The cost of message signing: flowc's drain rate unsigned and with HMAC-SHA256, alternating.

    python benchmarks/signing_cost.py                  # 20,000 no-op tasks, 5 rounds, solo
    python benchmarks/signing_cost.py --pools solo,default --rounds 3

Reuses run.py's drain measurement (enqueue N with ``delay()``, start the worker, time first to
last ``date_done``) on one throwaway Redis; the signed runs set ``$BENCH_SIGNING_KEY``, which
``apps/flowc_app.py`` turns into ``flowc_signing_key`` for the producer and the worker. The
order alternates by round and the median is reported, since a shared machine's drain rate
varies by tens of percent from run to run. Two measures that load distorts far less: the CPU
time per task of the solo pool's consume loop run in-process over a drain of 10,000 queued
no-ops (``--cpu-rounds``, alternating, best of), and the in-process cost of sealing and
opening one message (``Wire.seal``, ``Wire.open`` + ``Message.from_envelope``), best of 7
in CPU time.
Writes ``signing_cost.json`` next to this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

import run  # noqa: E402
from bench_common import RedisServer, command_line, flowc_tree, machine_info  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402

KEY = "benchmark-signing-key-0123456789abcdef"
MODES = ("unsigned", "hmac")


def per_message_us() -> dict[str, dict[str, float]]:
    """CPU microseconds to seal and to open+validate one no-op message, per mode (best of 7)."""
    from flowc.runtime.config import Settings
    from flowc.runtime.message import Message
    from flowc.runtime.wire import Wire

    envelope = Message("6f1c2a8e-1111-4222-8333-444455556666", "bench.noop", [1], {},
                       "celery", 0).to_envelope()
    out = {}
    for mode, conf in (("unsigned", Settings()), ("hmac", Settings(flowc_signing_key=KEY))):
        wire = Wire(conf)
        body, tag = wire.seal(envelope)
        n = 20_000

        def best(fn: Any, n: int = n) -> float:
            return min(timeit.repeat(fn, number=n, repeat=7, timer=time.process_time)) / n * 1e6

        out[mode] = {"seal_us": best(lambda w=wire: w.seal(envelope)),
                     "open_us": best(lambda w=wire, b=body, t=tag:
                                     Message.from_envelope(w.open(b, t))),
                     "body_bytes": len(body)}
    return out


def consumer_cpu_us_per_task(url: str, mode: str, n: int) -> float:
    """CPU time of this process per task while a ``Consumer`` (the solo pool's loop, run
    in-process) drains ``n`` no-op tasks queued beforehand: the worker's whole per-task cost,
    Redis client included, without a subprocess's start-up in the figure."""
    import flowc_app
    from flowc.runtime.worker.consumer import Consumer

    if mode == "hmac":
        os.environ["BENCH_SIGNING_KEY"] = KEY
    else:
        os.environ.pop("BENCH_SIGNING_KEY", None)
    try:
        app = flowc_app.make_app(url)
    finally:
        os.environ.pop("BENCH_SIGNING_KEY", None)
    app.broker_client.flushdb()
    task = app.tasks[flowc_app.TASK_NAME]
    for i in range(n):
        task.delay(i)
    consumer = Consumer(app, ["celery"], f"signing-cost-{mode}@bench")
    app.broker.declare(["celery"])
    started = time.process_time()
    while consumer.processed < n:
        consumer.run_once()
    used = time.process_time() - started
    app.close()
    return used / n * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--pools", default="solo")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu-rounds", type=int, default=6)
    parser.add_argument("--out", type=Path, default=HERE / "signing_cost.json")
    args = parser.parse_args(argv)
    ns = argparse.Namespace(tasks=args.tasks, mem_interval=0.2, poll=0.02, latency=50, warmup=10)
    console = Console(stderr=True)
    results: list[dict[str, Any]] = []
    server = RedisServer()
    server.start()
    data: dict[str, Any] = {"command": command_line("signing_cost.py", argv),
                            "started": time.strftime("%F %T %Z"),
                            "machine": machine_info(server.version()), "flowc_tree": flowc_tree(),
                            "per_message_us": per_message_us(), "results": results}
    cpu: dict[str, list[float]] = {m: [] for m in MODES}
    data["worker_cpu_us_per_task"] = cpu
    try:
        for index in range(args.cpu_rounds):
            for mode in MODES if index % 2 == 0 else MODES[::-1]:
                cpu[mode].append(consumer_cpu_us_per_task(server.next_url(), mode,
                                                          min(args.tasks, 10_000)))
                console.log(f"worker CPU per task, {mode}: {cpu[mode][-1]:.1f} us")
        with Progress(console=console) as progress:
            for index in range(args.rounds):
                for pool in args.pools.split(","):
                    for mode in MODES if index % 2 == 0 else MODES[::-1]:
                        if mode == "hmac":
                            os.environ["BENCH_SIGNING_KEY"] = KEY
                        else:
                            os.environ.pop("BENCH_SIGNING_KEY", None)
                        log_dir = HERE / "logs"
                        log_dir.mkdir(exist_ok=True)
                        out = run.run_pool("flowc", pool, server, ns, progress, log_dir)
                        results.append({"round": index + 1, "pool": pool, "mode": mode,
                                        "drain_per_s": out["drain"].get("first_to_last_per_s"),
                                        "not_success": out["drain"].get("not_success"),
                                        "loadavg_before": list(out["loadavg_before"])})
    finally:
        os.environ.pop("BENCH_SIGNING_KEY", None)
        server.stop()
    medians = []
    for pool in args.pools.split(",") if results else []:
        samples = {m: [r["drain_per_s"] for r in results if r["pool"] == pool
                       and r["mode"] == m] for m in MODES}
        med = {m: statistics.median(v) for m, v in samples.items()}
        medians.append({"pool": pool, **{f"{m}_per_s": med[m] for m in MODES},
                        "hmac_over_unsigned": med["hmac"] / med["unsigned"],
                        "samples": samples})
        console.print(f"{pool}: unsigned {med['unsigned']:,.0f}/s, hmac {med['hmac']:,.0f}/s "
                      f"(x{med['hmac'] / med['unsigned']:.2f}); each round: {samples}")
    best = {m: min(v) for m, v in cpu.items() if v}
    if len(best) == len(MODES):
        middle = {m: statistics.median(v) for m, v in cpu.items()}
        data["worker_cpu_best_us"] = best
        data["worker_cpu_median_us"] = middle
        console.print(f"worker CPU per task (best of {args.cpu_rounds}): unsigned "
                      f"{best['unsigned']:.1f} us, hmac {best['hmac']:.1f} us "
                      f"(x{best['hmac'] / best['unsigned']:.3f}); median: unsigned "
                      f"{middle['unsigned']:.1f} us, hmac {middle['hmac']:.1f} us "
                      f"(x{middle['hmac'] / middle['unsigned']:.3f}); each: {cpu}")
    for mode, cost in data["per_message_us"].items():
        console.print(f"{mode}: seal {cost['seal_us']:.2f} us, open+validate "
                      f"{cost['open_us']:.2f} us, {cost['body_bytes']} bytes")
    data["medians"] = medians
    data["finished"] = time.strftime("%F %T %Z")
    args.out.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
