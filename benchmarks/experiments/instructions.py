#!/usr/bin/env python
"""Instructions per chain step and per round trip, counted by callgrind (load-insensitive).

    python benchmarks/experiments/instructions.py                       # this checkout
    python benchmarks/experiments/instructions.py --python /path/to/other/venv/bin/python

One private ``redis-server`` (outside valgrind); then, under ``valgrind --tool=callgrind``, one
Python process that is both client and worker (an in-process ``Consumer``): 20-step chains of
``inc`` submitted and run to completion, and ``noop.delay(i)`` + ``run_once()`` + ``get()``
round trips. Each is run twice with a different count and the difference is divided by the
extra steps, so start-up and imports cancel out. Redis's own instructions are not counted, nor
the consumer's periodic promote/revocation tick (every 0.25 s of wall time, which valgrind's
slowdown would multiply per step: it is set to an hour here).
Issue 18 used it to compare the parent commit 0e51743 with the branch (``--python`` of a venv
with the other checkout installed); ~10 min per interpreter on 2 CPUs.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_common import RedisServer  # noqa: E402

WORK = r"""
import sys
sys.path.insert(0, APPS)
url, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
import flowc_canvas_app
from flowc import chain
from flowc.runtime.worker import consumer as consumer_module
from flowc.runtime.worker.consumer import Consumer
consumer_module.PROMOTE_EVERY_S = 3600.0  # no wall-clock-driven work: valgrind is ~50x slower
app = flowc_canvas_app.make_app(url); wapp = flowc_canvas_app.make_app(url)
cons = Consumer(wapp, ["celery"], "w@h"); wapp.broker.declare(cons.queues)
inc, noop = app.tasks["cb.inc"], app.tasks["cb.noop"]
def chain20():
    r = chain(inc.s(0), *[inc.s() for _ in range(19)]).delay()
    key = app.keys.result(r.id)
    while True:
        cons.run_once()
        if not cons.pending and app.broker_client.exists(key):
            return
def rt(i):
    r = noop.delay(i)
    cons.run_once()
    assert r.get(timeout=5) == i
for i in range(3 + n):  # 3 warm-ups: imports, scripts, first connections
    chain20() if mode == "chain" else rt(i)
"""
RUNS = {"chain": (2, 7, 20), "round trip": (20, 120, 1)}
"""mode: (fewer, more, steps per unit)."""


def instructions(python: str, url: str, mode: str, n: int) -> int:
    code = WORK.replace("APPS", repr(str(HERE.parent / "apps")))
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          python, "-c", code, url, mode.split()[0], str(n)],
                         capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(out.stderr[-2000:])
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", default=sys.executable)
    args = p.parse_args(argv)
    server = RedisServer()
    server.start()
    try:
        for mode, (fewer, more, per) in RUNS.items():
            low = instructions(args.python, server.url, mode, fewer)
            high = instructions(args.python, server.url, mode, more)
            unit = "chain step" if mode == "chain" else "round trip"
            print(f"{(high - low) // ((more - fewer) * per):,} instructions per {unit} "
                  "(client and worker in one process)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
