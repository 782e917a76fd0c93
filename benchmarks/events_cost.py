"""What task events cost: drain 20,000 no-op tasks with one solo consume loop, events off and on.

    python benchmarks/events_cost.py [--url redis://127.0.0.1:6379/6] [--tasks 20000] [--rounds 3]

Each round publishes the tasks (pipelined), then times one in-process solo ``Consumer`` draining
them: without monitoring attached (``bare``), attached with events off (``off``: the control
listener and running-task bookkeeping only), and with events on (``on``: received, started and
succeeded per task, one stream entry per settled batch). Rounds alternate the modes; the
median of each is reported with the ratio. The issue's bar: ``on`` within 15% of ``off``.
The database given by ``--url`` is flushed.
"""

from __future__ import annotations

import argparse
import statistics
import time

from flowc.runtime.app import App
from flowc.runtime.consumer import Consumer
from flowc.runtime.monitor_worker import attach

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


def drain(app: App, n: int, mode: str) -> float:
    consumer = Consumer(app, ["celery"], f"bench-{mode}@host.1.x")
    app.broker.declare(consumer.queues)
    monitor = attach(consumer) if mode != "bare" else None
    started = time.perf_counter()
    while consumer.processed < n:
        consumer.run_once()
    elapsed = time.perf_counter() - started
    if monitor is not None:
        monitor.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {m: [] for m in MODES}
    events_written = 0
    for _ in range(args.rounds):
        for mode in MODES:
            app = make_app(args.url, events=mode == "on")
            app.broker_client.flushdb()
            publish(app, args.tasks)
            times[mode].append(drain(app, args.tasks, mode))
            if mode == "on":
                events_written = int(app.broker_client.xlen(app.keys.events()))
            app.close()
    med = {m: statistics.median(v) for m, v in times.items()}
    print(f"drain of {args.tasks} no-op tasks, solo consume loop, median of {args.rounds}:")
    for mode in MODES:
        rate = args.tasks / med[mode]
        print(f"  {mode:>4}: {med[mode]:.3f} s  ({rate:,.0f} tasks/s)  rounds: "
              + ", ".join(f"{t:.3f}" for t in times[mode]))
    print(f"  events on / off: {med['on'] / med['off']:.3f}x "
          f"({(med['on'] / med['off'] - 1) * 100:+.1f}%); stream entries written: "
          f"{events_written} for {3 * args.tasks} events")


if __name__ == "__main__":
    main()
