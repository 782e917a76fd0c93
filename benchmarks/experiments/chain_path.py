#!/usr/bin/env python
"""Where the time between two chain steps goes in flowc.

    python benchmarks/experiments/chain_path.py [--chains 5] [--variants prefork,prefork-c1,solo]

A private redis-server; per variant a fresh database and a worker loading
``apps/flowc_canvas_traced.py`` (flowc_canvas_app plus timestamps written by the worker
processes, see that file). The client runs 100-step chains of ``stamp`` (each step appends its
start/end time, system-wide monotonic clock) and, separately, 100-step chains of ``inc`` timed
submit -> result. Redis' SLOWLOG with a 0 us threshold records how long Redis itself spends in
each command (EVALSHA of ``workflow.lua`` vs ``fetch.lua`` told apart by their SHA; the
``fetch.lua`` at the end of a flush pipeline is sent as ``EVAL`` with its text).

For each handoff (step k returns -> step k+1 starts) the worker traces give the segments:

  finish      step k returned -> its process starts the flush (settle bookkeeping)
  flush       the flush pipeline's round trip: result record + ``workflow.lua done``, which
              XADDs step k+1 and, with the claim folded in, also acks the batch and claims the
              worker's next messages (step k+1 itself when nothing more urgent is ready)
  to wake     flush start -> the process that runs k+1 has it: its own flush returned it
              (``folded``, or ``fetch`` when ``fetch.lua`` ended the pipeline), or it woke
              from its ``wake``-group wait (XREADGROUP BLOCK, NOACK), or a ``fetch.lua``
              claim returned it
  top-up      after a wake, that process' ``fetch.lua`` claim (the wake claims nothing)
  to handle   -> ``Consumer.handle`` entered
  to start    handle -> the task function starts (decode, vet, before_start)

Variants: ``prefork`` (the default: one pool process per CPU), ``prefork-c1`` (one pool
process), ``solo``. Since the chain handoff (f96835d, 026055b) the finishing worker claims the
next step inside ``workflow.lua done``, so every variant should show the successor in the same
process, found by its own flush, with no wake-up; the earlier what-if variants that replaced
the idle wait (``prefork-xreadgroup*``) no longer bear on the chain path and were removed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

import redis  # noqa: E402
from bench_common import RedisServer, WorkerProcess, worker_env  # noqa: E402

VARIANTS = {
    "prefork": ([], {}),
    "prefork-c1": (["-c", "1"], {}),
    "solo": (["-P", "solo"], {}),
}


def expected(variant: str) -> int:
    if variant == "solo" or variant == "prefork-c1":
        return 1
    return os.cpu_count() or 1


def read_traces(trace_dir: Path) -> list[tuple[int, str, int, str]]:
    """(t_ns, event, pid, detail) of every trace line, sorted by time."""
    out = []
    for path in trace_dir.glob("trace-*.log"):
        pid = int(path.stem.split("-")[1])
        for line in path.read_text().splitlines():
            parts = line.split(" ", 2)
            if len(parts) >= 2:
                out.append((int(parts[1]), parts[0], pid, parts[2] if len(parts) > 2 else ""))
    out.sort()
    return out


def _found_next(e: tuple[int, str, int, str]) -> bool:
    """Whether this trace event is a process getting a message: its own flush claimed some
    (folded into ``workflow.lua done``, or ``fetch.lua`` ending the pipeline), its wake-group
    read returned an entry, or a ``fetch.lua`` claim returned messages."""
    if e[1] == "flush1":
        return e[3].split(" ")[0] not in ("", "0")
    return (e[1] == "xrg1" and e[3] == "1") or (e[1] == "claim1" and e[3] not in ("", "0"))


def segments(marks: list[list[float]], events: list[tuple[int, str, int, str]]) -> list[dict]:
    """Per handoff: the named segments (seconds) and whether the same process ran both steps."""
    import bisect

    times = [e[0] for e in events]
    rows = []
    for k in range(len(marks) - 1):
        end_k = int(marks[k][1] * 1e9)
        start_n = int(marks[k + 1][0] * 1e9)
        lo = bisect.bisect_left(times, end_k)
        hi = bisect.bisect_right(times, start_n)
        window = events[lo:hi]
        flush0 = next((e for e in window if e[1] == "flush0" and e[3] != "0"), None)
        handle = [e for e in window if e[1] == "handle"]
        if flush0 is None or not handle:
            continue
        runner = handle[-1][2]

        wake = next((e for e in window if e[2] == runner and e[0] >= flush0[0]
                     and _found_next(e)), None)
        flush1 = next((e for e in window if e[1] == "flush1" and e[2] == flush0[2]
                       and e[0] >= flush0[0]), None)
        if wake is None or flush1 is None:
            continue
        topup_end = next((e for e in window if e[2] == runner and e[1] == "claim1"
                          and e[0] >= wake[0] and wake[1] == "xrg1"), None)
        t_ready = topup_end[0] if topup_end else wake[0]
        if wake[1] == "flush1":
            woke_by = "own flush (" + wake[3].split(" ")[1] + ")"
        else:
            woke_by = "wake-group read" if wake[1] == "xrg1" else "fetch.lua claim"
        rows.append({
            "same_process": runner == flush0[2],
            "woke_by": woke_by,
            "woken": sum(1 for e in window if e[1] == "xrg1" and e[3] == "1"),
            "empty_claims": sum(1 for e in window if e[1] == "claim1" and e[3] == "0"),
            "finish": (flush0[0] - end_k) / 1e9,
            "flush": (flush1[0] - flush0[0]) / 1e9,
            "to wake": (wake[0] - flush0[0]) / 1e9,
            "top-up": (t_ready - wake[0]) / 1e9,
            "to handle": (handle[-1][0] - t_ready) / 1e9,
            "to start": (start_n - handle[-1][0]) / 1e9,
            "handoff": (start_n - end_k) / 1e9,
        })
    return rows


def slowlog_summary(client: redis.Redis, shas: dict[str, str]) -> dict[str, dict[str, float]]:
    """Median / mean Redis-side microseconds per command kind (from SLOWLOG)."""
    by: dict[str, list[int]] = defaultdict(list)
    for entry in client.slowlog_get(1_000_000):
        cmd = entry["command"]
        cmd = cmd.decode(errors="replace") if isinstance(cmd, bytes) else str(cmd)
        parts = cmd.split()
        name = parts[0].upper() if parts else "?"
        if name in ("SLOWLOG", "CONFIG"):
            continue  # this script's own bookkeeping
        if name == "EVALSHA" and len(parts) > 1:
            name = f"EVALSHA {shas.get(parts[1], parts[1][:8])}"
            if shas.get(parts[1]) == "workflow.lua" and len(parts) > 9:
                name += f" {parts[9]}"  # the operation (done, submit, ...) after 6 keys
        elif name == "EVAL" and len(parts) > 2 and parts[1] == "--":
            name = f"EVAL {parts[2].rstrip(':')}"  # scripts sent as text: "-- fetch.lua: ..."
        by[name].append(int(entry["duration"]))
    return {k: {"n": len(v), "median_us": statistics.median(v), "mean_us": statistics.fmean(v)}
            for k, v in sorted(by.items(), key=lambda kv: -sum(kv[1]))}


def run_variant(name: str, server: RedisServer, args: argparse.Namespace) -> dict:
    import flowc_canvas_app

    from flowc import chain

    extra_args, extra_env = VARIANTS[name]
    url = server.next_url()
    client = redis.Redis.from_url(url)
    client.flushdb()
    app = flowc_canvas_app.make_app(url)
    stamp, inc = app.tasks["cb.stamp"], app.tasks["cb.inc"]
    trace_dir = Path(tempfile.mkdtemp(prefix="flowc-chain-trace-"))
    env = {"FLOWC_BROKER_URL": url, "FLOWC_RESULT_BACKEND": url, "BENCH_REDIS_URL": url,
           "BENCH_TRACE_DIR": str(trace_dir), **extra_env}
    cmd = [sys.executable, "-m", "flowc", "worker", "-A", "flowc_canvas_traced", "-l",
           "WARNING", *extra_args]
    worker = WorkerProcess(cmd, worker_env(env), Path(tempfile.gettempdir())
                           / f"flowc-chain-{name}.log")
    try:
        worker.start()
        deadline = time.monotonic() + 60
        while int(client.zcard(app.keys.workers())) < expected(name):
            if not worker.alive() or time.monotonic() > deadline:
                raise RuntimeError(worker.tail())
            time.sleep(0.02)

        def stamps() -> list[list[float]]:
            return chain(stamp.s([]), *[stamp.s() for _ in range(99)]).delay().get(timeout=60)

        for _ in range(3):
            stamps()
            chain(inc.s(0), *[inc.s() for _ in range(99)]).delay().get(timeout=60)
        for path in trace_dir.glob("trace-*.log"):
            path.write_text("")
        client.config_set("slowlog-log-slower-than", 0)
        client.config_set("slowlog-max-len", 1_000_000)
        client.slowlog_reset()
        all_marks = []
        for _ in range(args.chains):
            all_marks.append(stamps())
            time.sleep(0.05)
        slow = slowlog_summary(client, {app.workflow_join.script.sha: "workflow.lua",
                                        app.broker._fetch.sha: "fetch.lua"})
        client.config_set("slowlog-log-slower-than", 10_000)
        chain_s = []
        for _ in range(args.chains):
            t0 = time.perf_counter()
            assert chain(inc.s(0), *[inc.s() for _ in range(99)]).delay().get(timeout=60) == 100
            chain_s.append(time.perf_counter() - t0)
            time.sleep(0.05)
    finally:
        worker.stop()
        app.close()
    time.sleep(0.2)
    events = read_traces(trace_dir)
    rows = [r for marks in all_marks for r in segments(marks, events)]
    hand = [m[k + 1][0] - m[k][1] for m in all_marks for k in range(len(m) - 1)]
    for path in trace_dir.glob("*"):
        path.unlink()
    trace_dir.rmdir()
    client.flushdb()
    client.close()
    return {"rows": rows, "handoff": hand, "chain_s": chain_s, "slowlog": slow}


def report(name: str, res: dict) -> None:
    rows, hand = res["rows"], res["handoff"]
    med = statistics.median(res["chain_s"]) * 1e3
    print(f"\n## {name}: chain-100 (traced worker) median {med:.1f}"
          f" ms, min {min(res['chain_s']) * 1e3:.1f} ms; handoff median "
          f"{statistics.median(hand) * 1e3:.3f} ms over {len(hand)} handoffs "
          f"({len(rows)} fully traced)")
    if rows:
        same = sum(r["same_process"] for r in rows) / len(rows)
        woke = defaultdict(int)
        for r in rows:
            woke[r["woke_by"]] += 1
        print(f"   successor ran in the same process: {same:.0%}; found by: "
              + ", ".join(f"{k} {v}" for k, v in woke.items())
              + f"; processes woken per handoff (mean): "
              f"{statistics.fmean(r['woken'] for r in rows):.2f}; empty fetch.lua claims per "
              f"handoff (mean): {statistics.fmean(r['empty_claims'] for r in rows):.2f}")
        print("   segment medians (ms): " + ", ".join(
            f"{seg} {statistics.median(r[seg] for r in rows) * 1e3:.3f}"
            for seg in ("finish", "flush", "to wake", "top-up", "to handle", "to start",
                        "handoff")))
    print("   Redis-side time per command (SLOWLOG, us): " + "; ".join(
        f"{k} n={v['n']} median {v['median_us']:.0f} mean {v['mean_us']:.0f}"
        for k, v in list(res["slowlog"].items())[:8]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chains", type=int, default=5, help="traced 100-step chains per variant")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma list")
    args = p.parse_args()
    server = RedisServer()
    server.start()
    print(f"load average {os.getloadavg()}")
    try:
        for name in args.variants.split(","):
            report(name, run_variant(name, server, args))
    finally:
        server.stop()
    print(f"\nload average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
