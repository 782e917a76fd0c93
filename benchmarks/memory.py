#!/usr/bin/env python
"""Worker memory per process during a drain (issue 18, item 3).

    python benchmarks/memory.py                 # 20,000 tasks, default worker, 3 rounds
    python benchmarks/memory.py --pools default solo --rounds 1 --tasks 2000   # smoke

Per round: a fresh database on one private ``redis-server``; ``--tasks`` no-op messages
enqueued (pipelined) with no worker running; then the worker of ``run.py``
(``python -m flowc worker -A flowc_app -l WARNING``, prefork with CPU-count children, or
``-P solo``) is started, and while it drains, every process of its tree is sampled every
``--interval`` seconds from ``/proc/<pid>/smaps_rollup`` (Pss, Rss, Private_*). Each process is
named by its place in the tree: ``supervisor`` (prefork parent) or ``consumer`` (solo),
``child-N`` (a prefork pool process), ``pulse`` (a consumer's heartbeat pulse, forked from it).
Reported: the peak of the tree's summed PSS (the figure of ``run.py`` and issue 18), and per
process its PSS and RSS at that peak and its own peak PSS, with the load average. Writes
``memory.md`` / ``memory.json`` next to this file (or in ``--out``).

PSS divides each shared page among the processes mapping it, so the per-process PSS adds up
to what the tree costs; RSS counts a shared page in every process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

from bench_common import (  # noqa: E402
    RedisServer,
    WorkerProcess,
    command_line,
    flowc_tree,
    loadavg,
    machine_info,
    worker_env,
)

FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty")


def log(msg: str) -> None:
    print(f"[{time.strftime('%T')}] {msg}", file=sys.stderr, flush=True)


def rollup(pid: int) -> dict[str, int] | None:
    """``/proc/<pid>/smaps_rollup`` in KiB (None when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            out[name] = int(rest.split()[0])
    return out


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
            out.extend(int(c) for c in text.split())
    except OSError:
        pass
    return out


def tree(root: int, pool: str) -> dict[int, str]:
    """pid -> role for the worker's process tree."""
    roles = {root: "supervisor" if pool == "default" else "consumer"}
    consumers = [root] if pool == "solo" else []
    if pool == "default":
        for i, pid in enumerate(sorted(children(root)), 1):
            roles[pid] = f"child-{i}"
            consumers.append(pid)
    for c in consumers:
        for pid in children(c):
            roles[pid] = f"pulse of {roles[c]}"
    return roles


def drain(server: RedisServer, pool: str, n: int, interval_s: float, rnd: int,
          logs: Path) -> dict[str, Any]:
    import flowc_app
    import redis

    url = server.next_url()
    app = flowc_app.make_app(url)
    task = app.tasks[flowc_app.TASK_NAME]
    client = redis.Redis.from_url(url)
    client.flushdb()
    for lo in range(0, n, 1000):
        app.publish([app.build_message(task.name, [i], {}, task, {})
                     for i in range(lo, min(n, lo + 1000))])
    queue = app.conf.task_default_queue
    cmd = [sys.executable, "-m", "flowc", "worker", "-A", "flowc_app", "-l", "WARNING"]
    if pool == "solo":
        cmd += ["-P", "solo"]
    expected = 1 if pool == "solo" else (os.cpu_count() or 1)
    load = loadavg()
    worker = WorkerProcess(cmd, worker_env({"FLOWC_BROKER_URL": url,
                                            "FLOWC_RESULT_BACKEND": url,
                                            "BENCH_REDIS_URL": url}),
                           logs / f"memory-{pool}-{rnd}.log")
    worker.start()
    peak_total = 0
    at_peak: dict[str, dict[str, int]] = {}
    own_peak: dict[str, int] = {}
    samples = 0
    try:
        deadline = time.monotonic() + 120
        drained_at: float | None = None
        while True:
            if not worker.alive():
                raise SystemExit(f"worker exited:\n{worker.tail()}")
            roles = tree(worker.pid, pool)
            snap = {role: r for pid, role in roles.items() if (r := rollup(pid)) is not None}
            total = sum(r.get("Pss", 0) for r in snap.values())
            ready = int(client.zcard(app.keys.workers())) >= expected
            if ready:
                samples += 1
                if total > peak_total:
                    peak_total, at_peak = total, snap
                for role, r in snap.items():
                    own_peak[role] = max(own_peak.get(role, 0), r.get("Pss", 0))
                if drained_at is None and int(app.broker.depth(queue)["ready"]) == 0:
                    drained_at = time.monotonic()
                if drained_at is not None and time.monotonic() - drained_at > 0.5:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the drain did not finish in 120 s")
            time.sleep(interval_s)
        results = int(client.eval(  # every result key written (a cheap count, no values)
            "return #redis.call('KEYS', ARGV[1])", 0, app.keys.result("*")))
    finally:
        worker.stop()
        app.close()
        client.close()
    return {"pool": pool, "round": rnd, "tasks": n, "results": results, "samples": samples,
            "load_at_start": load, "load_at_end": loadavg(), "peak_pss_kib": peak_total,
            "at_peak": at_peak, "own_peak_pss_kib": own_peak}


def mb(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def report(data: dict[str, Any]) -> str:
    lines = ["# Worker memory per process during a drain (`memory.py`, issue 18)", "",
             f"Command: `{data['command']}`. {data['tree']}; {data['date']}.", "",
             f"Machine: {data['machine'].get('cpu_model', '?')}, {data['machine']['cpus']} "
             f"CPUs; Python {data['machine']['python']}; redis-server "
             f"{data['machine']['redis_server']}.", ""]
    for pool in data["pools"]:
        runs = [r for r in data["runs"] if r["pool"] == pool]
        peaks = [r["peak_pss_kib"] for r in runs]
        lines += [f"## {pool} worker", "",
                  f"Peak PSS of the whole tree (sum over its processes, MB): "
                  f"**{mb(statistics.median(peaks))}** median of {len(peaks)} "
                  f"({', '.join(mb(p) for p in peaks)}).", "",
                  "| round | process | PSS at tree peak (MB) | RSS at tree peak | private "
                  "(clean+dirty) | own peak PSS | 1-min load at start / end |",
                  "|---|---|---|---|---|---|---|"]
        for r in runs:
            for role in sorted(r["at_peak"]):
                s = r["at_peak"][role]
                lines.append(
                    f"| {r['round']} | {role} | {mb(s.get('Pss', 0))} | {mb(s.get('Rss', 0))} "
                    f"| {mb(s.get('Private_Clean', 0) + s.get('Private_Dirty', 0))} "
                    f"| {mb(r['own_peak_pss_kib'].get(role, 0))} "
                    f"| {r['load_at_start'][0]:.2f} / {r['load_at_end'][0]:.2f} |")
            lines.append(f"| {r['round']} | **tree** | **{mb(r['peak_pss_kib'])}** | | | | "
                         f"{r['samples']} samples, {r['results']}/{r['tasks']} results |")
        lines.append("")
    lines += ["Every process of the worker's tree is read from `/proc/<pid>/smaps_rollup` every "
              f"{data['interval_s']} s from the moment every consumer has registered its "
              "heartbeat until 0.5 s after the queue is empty. See benchmarks/README.md."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pools", nargs="+", default=["default"], choices=["default", "solo"])
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--out", type=Path, default=HERE)
    args = p.parse_args(argv)
    logs = HERE / "logs"
    logs.mkdir(exist_ok=True)
    server = RedisServer()
    server.start()
    try:
        runs = []
        for rnd in range(1, args.rounds + 1):
            for pool in args.pools:
                log(f"round {rnd}: {pool} worker, {args.tasks} tasks")
                run = drain(server, pool, args.tasks, args.interval, rnd, logs)
                log(f"  tree peak PSS {mb(run['peak_pss_kib'])} MB: " + ", ".join(
                    f"{k} {mb(v.get('Pss', 0))}" for k, v in sorted(run["at_peak"].items())))
                runs.append(run)
        data = {"command": command_line("memory.py", argv), "tree": flowc_tree(),
                "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "machine": machine_info(server.version()), "pools": args.pools,
                "interval_s": args.interval, "runs": runs}
    finally:
        server.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "memory.json").write_text(json.dumps(data, indent=1) + "\n")
    (args.out / "memory.md").write_text(report(data))
    print(report(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
