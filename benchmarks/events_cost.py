"""What task events cost: drain 20,000 no-op tasks with one solo consume loop, events off and on.

    python benchmarks/events_cost.py [--tasks 20000] [--rounds 3] [--url redis://HOST:PORT/DB]

Each round publishes the tasks (pipelined), then times one in-process solo ``Consumer`` draining
them: without monitoring attached (``bare``), attached with events off (``off``: the control
listener and running-task bookkeeping only), and with events on (``on``: received, started and
succeeded per task, one compact record per task in one stream entry per settled batch). Rounds
alternate the modes; the median of each is reported with the ratio, and the median CPU time of
the draining process alongside (steadier than wall time on a shared machine). The issue's bar:
``on`` within 15% of ``off`` (wall time).
Without ``--url`` a private ``redis-server`` (bench_common's ``RedisServer``) is started on a free
port and stopped at the end; a database given by ``--url`` is flushed. Writes events_cost.md and
events_cost.json next to this file (or ``--out``), with the load average at each round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_common import (  # noqa: E402
    RedisServer,
    command_line,
    flowc_tree,
    fmt_load,
    loadavg,
    machine_info,
)
from flowc.runtime.app import App  # noqa: E402
from flowc.runtime.monitoring.worker_side import attach  # noqa: E402
from flowc.runtime.worker.consumer import Consumer  # noqa: E402

MODES = ("bare", "off", "on")


def make_app(url: str, events: bool) -> App:
    app = App("bench", broker=url, worker_send_task_events=events, task_ignore_result=False)

    @app.task(name="bench.noop")
    def noop() -> None:
        return None

    return app


def publish(app: App, n: int) -> None:
    task = app.tasks["bench.noop"]
    chunk = 1000
    for start in range(0, n, chunk):
        messages = [app.build_message(task.name, [], {}, task, {})
                    for _ in range(min(chunk, n - start))]
        app.publish(messages)


def drain(app: App, n: int, mode: str) -> tuple[float, float]:
    """Seconds of wall time and of this process's CPU time (all its threads) to drain ``n``."""
    consumer = Consumer(app, ["celery"], f"bench-{mode}@host.1.x")
    app.broker.declare(consumer.queues)
    monitor = attach(consumer) if mode != "bare" else None
    started, cpu = time.perf_counter(), time.process_time()
    while consumer.processed < n:
        consumer.run_once()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if monitor is not None:
        monitor.stop()
    return elapsed, cpu


BAR = 0.15
"""The issue's bar: the drain with events on within 15% of events off."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="use this Redis database (flushed) instead of a private "
                        "redis-server")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE, help="where events_cost.md/json go")
    args = parser.parse_args(argv)
    server = None
    if args.url is None:
        server = RedisServer()
        server.start()
        args.url = server.url
    data: dict[str, Any] = {
        "command": command_line("events_cost.py", argv),
        "started": time.strftime("%F %T %Z"),
        "machine": machine_info(server.version() if server else "external"),
        "flowc_tree": flowc_tree(),
        "config": {"tasks": args.tasks, "rounds": args.rounds,
                   "redis": "private redis-server" if server else args.url},
        "loadavg_before": loadavg(),
        "rounds": [],
    }
    times: dict[str, list[float]] = {m: [] for m in MODES}
    cpu: dict[str, list[float]] = {m: [] for m in MODES}
    events_written = 0
    try:
        for index in range(args.rounds):
            round_: dict[str, Any] = {"round": index + 1, "loadavg_before": loadavg()}
            for mode in MODES:
                app = make_app(args.url, events=mode == "on")
                app.broker_client.flushdb()
                publish(app, args.tasks)
                elapsed, cpu_s = drain(app, args.tasks, mode)
                times[mode].append(elapsed)
                cpu[mode].append(cpu_s)
                round_[mode] = {"seconds": elapsed, "per_s": args.tasks / elapsed,
                                "cpu_seconds": cpu_s}
                if mode == "on":
                    events_written = int(app.broker_client.xlen(app.keys.events()))
                app.close()
            data["rounds"].append(round_)
    finally:
        if server is not None:
            server.stop()
    data["loadavg_after"] = loadavg()
    data["finished"] = time.strftime("%F %T %Z")
    med = {m: statistics.median(v) for m, v in times.items()}
    ratio = med["on"] / med["off"]
    data["median_s"] = med
    data["median_per_s"] = {m: args.tasks / med[m] for m in MODES}
    data["on_over_off"] = ratio
    cpu_med = {m: statistics.median(v) for m, v in cpu.items()}
    data["median_cpu_us_per_task"] = {m: cpu_med[m] / args.tasks * 1e6 for m in MODES}
    data["cpu_on_over_off"] = cpu_med["on"] / cpu_med["off"]
    data["met"] = ratio <= 1 + BAR
    data["stream_entries"] = events_written
    print(f"drain of {args.tasks} no-op tasks, solo consume loop, median of {args.rounds}:")
    for mode in MODES:
        rate = args.tasks / med[mode]
        print(f"  {mode:>4}: {med[mode]:.3f} s  ({rate:,.0f} tasks/s, "
              f"{data['median_cpu_us_per_task'][mode]:.2f} us CPU/task)  rounds: "
              + ", ".join(f"{t:.3f}" for t in times[mode]))
    print(f"  events on / off: {ratio:.3f}x ({(ratio - 1) * 100:+.1f}%); CPU on / off: "
          f"{data['cpu_on_over_off']:.3f}x; stream entries written: {events_written} for "
          f"{3 * args.tasks} events")
    write_report(data, args.out)
    print(f"wrote {args.out / 'events_cost.md'} and events_cost.json")


def write_report(data: dict[str, Any], out_dir: Path) -> None:
    tasks, rounds = data["config"]["tasks"], data["config"]["rounds"]
    lines = [
        "# What task events cost (issue 8)",
        "",
        f"Command: `{data['command']}` ({tasks:,} no-op tasks per drain, {rounds} rounds, "
        "modes alternating within a round; one in-process solo `Consumer`, tasks published "
        f"pipelined beforehand). {data['machine'].get('cpu_model', '?')}, "
        f"{data['machine']['cpus']} CPUs; {data['flowc_tree']}; {data['finished']}.",
        "",
        "| Mode | Median drain (s) | Tasks/s | CPU per task (µs) | Rounds (s) |",
        "|---|---|---|---|---|",
    ]
    for mode, what in (("bare", "no monitoring attached"), ("off", "monitoring, events off"),
                       ("on", "events on")):
        per_round = ", ".join(f"{r[mode]['seconds']:.3f}" for r in data["rounds"])
        lines.append(f"| `{mode}` ({what}) | {data['median_s'][mode]:.3f} | "
                     f"{data['median_per_s'][mode]:,.0f} | "
                     f"{data['median_cpu_us_per_task'][mode]:.2f} | {per_round} |")
    ratio = data["on_over_off"]
    lines += [
        "",
        f"**Events on / off: {ratio:.3f}x ({(ratio - 1) * 100:+.1f}%)**; target: on within "
        f"{BAR:.0%} of off: **{'met' if data['met'] else 'not met'}**. Stream entries written "
        f"by one `on` drain: {data['stream_entries']:,} for {3 * tasks:,} events.",
        "",
        f"CPU time of the draining process (median, all its threads; less sensitive than wall "
        f"time to other work on the machine): events on / off **{data['cpu_on_over_off']:.3f}x**"
        ". The rest of the wall time is waiting for Redis.",
        "",
        "1-minute / 5-minute / 15-minute load average: before "
        f"{fmt_load(data['loadavg_before'])}; at each round start "
        + "; ".join(f"round {r['round']} {fmt_load(r['loadavg_before'])}"
                    for r in data["rounds"])
        + f"; after {fmt_load(data['loadavg_after'])}.",
        "",
        "Raw data: [events_cost.json](events_cost.json). What is measured: "
        "[README.md](README.md#all-benchmarks).",
        "",
    ]
    (out_dir / "events_cost.md").write_text("\n".join(lines))
    (out_dir / "events_cost.json").write_text(json.dumps(data, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
