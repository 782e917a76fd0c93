#!/usr/bin/env python
"""Signing cost of two flowc trees side by side: worker CPU per no-op task, interleaved, and
(``--icount``) callgrind instruction counts of sealing and opening one message.

    python benchmarks/experiments/signing_ab.py \\
        --tree before=/venvs/main/bin/python --tree after=/venvs/branch/bin/python \\
        --rounds 10 --tasks 10000 --icount --worker-icount 2000

Each ``--tree`` is a Python whose ``flowc`` is the tree to measure (a venv with it installed
editable). Worker CPU is ``signing_cost.py``'s measure (the solo pool's consume loop run
in-process over queued no-ops, CPU time of that process), one subprocess per measurement,
the four (tree, mode) cells in a rotated order each round so load drifts hit them alike;
printed as min, median and the median of each round's hmac/unsigned ratio. Instruction
counts need valgrind: each operation is run N times under callgrind, minus the same script
running nothing N times (deterministic, so a loaded machine does not blur it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
MODES = ("unsigned", "hmac")
OPS = ("seal0", "seal1", "open0", "open1")


def child_cpu(url: str, mode: str, n: int) -> None:
    sys.path[:0] = [str(BENCH), str(BENCH / "apps")]
    import signing_cost

    print(signing_cost.consumer_cpu_us_per_task(url, mode, n))


def child_ops(op: str, n: int) -> None:
    sys.path[:0] = [str(BENCH)]
    from flowc.runtime.config import Settings
    from flowc.runtime.message import Message
    from flowc.runtime.wire import Wire
    from signing_cost import KEY

    envelope = Message("6f1c2a8e-1111-4222-8333-444455556666", "bench.noop", [1], {},
                       "celery", 0).to_envelope()
    plain, signed = Wire(Settings()), Wire(Settings(flowc_signing_key=KEY))
    b0, t0 = plain.seal(envelope)
    b1, t1 = signed.seal(envelope)
    ops = {"seal0": lambda: plain.seal(envelope), "seal1": lambda: signed.seal(envelope),
           "open0": lambda: Message.from_envelope(plain.open(b0, t0)),
           "open1": lambda: Message.from_envelope(signed.open(b1, t1)), "none": lambda: None}
    fn = ops[op]
    for _ in range(n):
        fn()


def child_loop(url: str, mode: str, n: int, consume: bool) -> None:
    """Queue ``n`` no-ops, then (``consume``) drain them with the solo pool's loop in-process:
    under callgrind, the difference of the two is the worker's instructions per task."""
    sys.path[:0] = [str(BENCH), str(BENCH / "apps")]
    import flowc_app
    from flowc.runtime.worker import consumer as consumer_module
    from flowc.runtime.worker.consumer import Consumer
    from signing_cost import KEY

    consumer_module.PROMOTE_EVERY_S = 3600.0  # (instructions.py) no wall-clock-driven work
    if mode == "hmac":
        os.environ["BENCH_SIGNING_KEY"] = KEY
    app = flowc_app.make_app(url)
    app.broker_client.flushdb()
    task = app.tasks[flowc_app.TASK_NAME]
    for i in range(n):
        task.delay(i)
    consumer = Consumer(app, ["celery"], f"signing-ab-{mode}@bench")
    app.broker.declare(["celery"])
    while consume and consumer.processed < n:
        consumer.run_once()
    app.close()


def instructions(python: str, *child: str) -> int:
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          python, __file__, *child],
                         capture_output=True, text=True, check=True).stderr
    return int(out.split("Collected : ")[1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="label=python")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--icount", action="store_true")
    parser.add_argument("--icount-n", type=int, default=2000)
    parser.add_argument("--worker-icount", type=int, default=0, metavar="N",
                        help="callgrind instructions per task of the consume loop over N no-ops")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child-cpu", nargs=3, metavar=("URL", "MODE", "N"))
    parser.add_argument("--child-ops", nargs=2, metavar=("OP", "N"))
    parser.add_argument("--child-loop", nargs=4, metavar=("URL", "MODE", "N", "CONSUME"))
    args = parser.parse_args()
    if args.child_cpu:
        return child_cpu(args.child_cpu[0], args.child_cpu[1], int(args.child_cpu[2]))
    if args.child_ops:
        return child_ops(args.child_ops[0], int(args.child_ops[1]))
    if args.child_loop:
        url, mode, n, consume = args.child_loop
        return child_loop(url, mode, int(n), consume == "1")
    sys.path.insert(0, str(BENCH))
    from bench_common import RedisServer

    trees = dict(t.split("=", 1) for t in args.tree)
    data: dict[str, object] = {"trees": trees}
    if args.icount:
        counts: dict[str, dict[str, float]] = {}
        for label, python in trees.items():
            base = instructions(python, "--child-ops", "none", str(args.icount_n))
            counts[label] = {op: (instructions(python, "--child-ops", op, str(args.icount_n))
                                  - base) / args.icount_n for op in OPS}
            print(label, {op: round(v) for op, v in counts[label].items()}, flush=True)
        data["instructions_per_op"] = counts
    cells = [(t, m) for t in trees for m in MODES]
    samples: dict[str, list[float]] = {f"{t}/{m}": [] for t, m in cells}
    server = RedisServer()
    server.start()
    try:
        if args.worker_icount:
            loop: dict[str, float] = {}
            for label, mode in cells:
                queued, drained = (instructions(trees[label], "--child-loop", server.next_url(),
                                                mode, str(args.worker_icount), c)
                                   for c in ("0", "1"))
                loop[f"{label}/{mode}"] = (drained - queued) / args.worker_icount
                print(label, mode, f"{loop[f'{label}/{mode}']:,.0f} instructions per task",
                      flush=True)
            data["worker_instructions_per_task"] = loop
        for r in range(args.rounds):
            order = cells[r % len(cells):] + cells[:r % len(cells)]
            for label, mode in order[::-1] if r % 2 else order:
                out = subprocess.run([trees[label], __file__, "--child-cpu", server.next_url(),
                                      mode, str(args.tasks)],
                                     capture_output=True, text=True, check=True).stdout
                samples[f"{label}/{mode}"].append(float(out.split()[-1]))
                print(r + 1, label, mode, f"{samples[f'{label}/{mode}'][-1]:.1f} us", flush=True)
    finally:
        server.stop()
    summary = {}
    for label in trees if args.rounds else ():
        u, h = samples[f"{label}/unsigned"], samples[f"{label}/hmac"]
        summary[label] = {"unsigned_min": min(u), "hmac_min": min(h),
                          "unsigned_median": statistics.median(u),
                          "hmac_median": statistics.median(h),
                          "paired_ratio_median": statistics.median(
                              a / b for a, b in zip(h, u, strict=True))}
        s = summary[label]
        print(f"{label}: min {s['unsigned_min']:.1f} / {s['hmac_min']:.1f} us, median "
              f"{s['unsigned_median']:.1f} / {s['hmac_median']:.1f} us, hmac/unsigned per "
              f"round (median) x{s['paired_ratio_median']:.3f}")
    data.update(worker_cpu_us_per_task=samples, summary=summary)
    if args.out:
        args.out.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
