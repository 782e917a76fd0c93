#!/usr/bin/env python
"""Where the submit of a 10,000-node flowc workflow goes (no worker running).

    python benchmarks/experiments/submit_profile.py [--n 10000]

Times ``chord([noop.s(i) for i in range(n)], tsum.s()).delay()`` split into its stages, the
same calls ``apply_canvas`` makes: ``lower`` (canvas -> IR), ``check`` (validation passes),
``plan`` (run records), the ``workflow.lua submit`` call (client + Redis) and the result handles,
then prints a cProfile of one whole ``.delay()`` (top functions by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

import redis  # noqa: E402
from bench_common import RedisServer  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10_000)
    args = p.parse_args()
    server = RedisServer()
    server.start()
    try:
        import flowc_canvas_app
        from flowc.compiler.validate import check, lower
        from flowc.runtime.workflows import canvas_app
        from flowc.runtime.workflows.plan import plan

        from flowc import chord

        url = server.next_url()
        client = redis.Redis.from_url(url)
        app = flowc_canvas_app.make_app(url)
        noop, tsum = app.tasks["cb.noop"], app.tasks["cb.tsum"]

        def build():
            return chord([noop.s(i) for i in range(args.n)], tsum.s())

        build().delay()  # warm-up (imports, script load, declare)
        client.flushdb()
        for _ in range(3):
            c = build()
            t0 = time.perf_counter()
            wf = lower(c, (), {}, {})
            t1 = time.perf_counter()
            wf = check(wf, app.tasks)
            t2 = time.perf_counter()
            run = plan(app, wf)
            t3 = time.perf_counter()
            client.flushdb()
            t4 = time.perf_counter()
            canvas_app.submit_workflow(app, wf)  # plans again, then the Lua submit + handles
            t5 = time.perf_counter()
            client.flushdb()
            c = build()
            t6 = time.perf_counter()
            c.delay()
            t7 = time.perf_counter()
            client.flushdb()
            print(f"lower {1e3 * (t1 - t0):.0f} ms, check {1e3 * (t2 - t1):.0f} ms, plan "
                  f"{1e3 * (t3 - t2):.0f} ms, submit_workflow (plan + Lua + handles) "
                  f"{1e3 * (t5 - t4):.0f} ms; whole .delay() {1e3 * (t7 - t6):.0f} ms "
                  f"({len(run.records)} records)")
        c = build()
        prof = cProfile.Profile()
        prof.enable()
        c.delay()
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(22)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
        app.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
