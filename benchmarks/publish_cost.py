#!/usr/bin/env python
"""The cost of idempotent publishes against the bare ``XADD`` they replaced.

    python benchmarks/publish_cost.py                 # 20,000 no-op tasks, 5 rounds, solo
    python benchmarks/publish_cost.py --rounds 3 --tasks 10000

A ready message used to be one ``XADD``; a client that lost the reply re-sent it and the task
was queued twice. Now ``delay()`` sends ``MULTI, SET <producer key> <number> PX, XADD, EXEC``
on its held connection, and a re-send after a dropped connection is ``publish.lua``, which
skips the XADD when the stored number shows the first copy ran (batches in one pipeline use
``publish.lua`` throughout). Three measures, alternating the two modes and reporting medians
and bests, since a shared machine's rates vary by tens of percent run to run:

- run.py's enqueue (one ``delay()`` at a time, N tasks) and drain (a solo worker, first to
  last ``date_done``) on one throwaway Redis; the bare mode patches this process's broker
  back to the old ``XADD`` (the worker publishes nothing for a no-op task);
- ``delay()`` in-process, microseconds per call, best of 7 rounds of 5,000;
- the server's CPU per publish (``INFO commandstats``: the usec of ``xadd``, or of ``multi``
  and ``exec``, which includes the commands it runs, over the publishes made).

Writes ``publish_cost.json`` next to this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

import run  # noqa: E402
from bench_common import RedisServer, command_line, flowc_tree, machine_info  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402

MODES = ("xadd", "script")


@contextmanager
def publishing(mode: str) -> Iterator[None]:
    """In ``xadd`` mode, a single ready message is a bare XADD on the held connection again
    (what ``RedisBroker`` did before ``publish.lua``); ``script`` leaves the broker as it is."""
    from flowc.runtime.broker import Outgoing
    from flowc.runtime.redis.broker import RedisBroker

    original = RedisBroker._publish

    def bare(self: RedisBroker, items: Sequence[Outgoing]) -> None:
        if len(items) == 1 and items[0].eta is None:
            item = items[0]
            self.held.execute("XADD", self.keys.stream(item.queue, item.priority), "*",
                              "b", item.body, "c", item.tag)
        else:
            original(self, items)

    if mode == "xadd":
        RedisBroker._publish = bare  # type: ignore[method-assign]
    try:
        yield
    finally:
        RedisBroker._publish = original  # type: ignore[method-assign]


def delay_us(url: str, mode: str, n: int = 5000) -> tuple[float, float]:
    """Microseconds per ``delay()`` in this process, and the server's usec per publish call."""
    import flowc_app

    app = flowc_app.make_app(url)
    app.broker_client.flushdb()
    app.broker_client.config_resetstat()
    task = app.tasks[flowc_app.TASK_NAME]
    with publishing(mode):
        task.delay(0)  # connect, load the script
        started = time.perf_counter()
        for i in range(n):
            task.delay(i)
        per_call = (time.perf_counter() - started) / n * 1e6
    stats: Any = app.broker_client.info("commandstats")
    commands = ("cmdstat_xadd",) if mode == "xadd" else ("cmdstat_multi", "cmdstat_exec")
    server = sum(float(stats.get(c, {}).get("usec", 0.0)) for c in commands) / (n + 1)
    app.broker_client.flushdb()
    app.close()
    return per_call, server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay-rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "publish_cost.json")
    args = parser.parse_args(argv)
    ns = argparse.Namespace(tasks=args.tasks, mem_interval=0.2, poll=0.02, latency=50, warmup=10)
    console = Console(stderr=True)
    server = RedisServer()
    server.start()
    results: list[dict[str, Any]] = []
    per_call: dict[str, list[float]] = {m: [] for m in MODES}
    server_us: dict[str, list[float]] = {m: [] for m in MODES}
    data: dict[str, Any] = {"command": command_line("publish_cost.py", argv),
                            "started": time.strftime("%F %T %Z"),
                            "machine": machine_info(server.version()), "flowc_tree": flowc_tree(),
                            "results": results, "delay_us": per_call,
                            "server_usec_per_call": server_us}
    try:
        for index in range(args.delay_rounds):
            for mode in MODES if index % 2 == 0 else MODES[::-1]:
                us, srv = delay_us(server.next_url(), mode)
                per_call[mode].append(us)
                server_us[mode].append(srv)
                console.log(f"delay() {mode}: {us:.1f} us per call, server {srv:.2f} us")
        log_dir = HERE / "logs"
        log_dir.mkdir(exist_ok=True)
        with Progress(console=console) as progress:
            for index in range(args.rounds):
                for mode in MODES if index % 2 == 0 else MODES[::-1]:
                    with publishing(mode):
                        out = run.run_pool("flowc", "solo", server, ns, progress, log_dir)
                    results.append({"round": index + 1, "mode": mode,
                                    "enqueue_per_s": out["enqueue"]["per_s"],
                                    "drain_per_s": out["drain"].get("first_to_last_per_s"),
                                    "not_success": out["drain"].get("not_success"),
                                    "loadavg_before": list(out["loadavg_before"])})
    finally:
        server.stop()
    summary: dict[str, Any] = {}
    for mode in MODES:
        rows = [r for r in results if r["mode"] == mode]
        summary[mode] = {
            "enqueue_median_per_s": statistics.median(r["enqueue_per_s"] for r in rows)
            if rows else None,
            "drain_median_per_s": statistics.median(r["drain_per_s"] for r in rows)
            if rows else None,
            "delay_best_us": min(per_call[mode]),
            "server_best_usec_per_call": min(server_us[mode])}
        console.print(f"{mode}: {summary[mode]}")
    data["summary"] = summary
    data["finished"] = time.strftime("%F %T %Z")
    args.out.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
