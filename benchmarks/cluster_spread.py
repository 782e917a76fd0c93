"""One Redis node against a three-primary Redis Cluster, side by side in one run.

For each topology: start it (private ports), start ``flowc worker -Q q0,q1,q2`` (prefork, 2
processes), then time a drain of N no-op tasks spread over the three queues and a chord of
1,000, several runs each, alternating topologies; count every shard's commands (``INFO
commandstats`` after ``CONFIG RESETSTAT``). Writes benchmarks/cluster_spread.md/json.

    python benchmarks/cluster_spread.py [--tasks 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import redis  # noqa: E402
from flowc.runtime.monitoring.views import Monitor  # noqa: E402

from flowc import App, chord  # noqa: E402
from tests.conftest import ProcessReaper  # noqa: E402
from tests.topology.servers import ClusterSet, free_port, wait_until  # noqa: E402

QUEUES = ["emails", "alpha", "beta"]
"""Three queues whose hash tags land on three different primaries of a fresh 3-primary cluster
(slots 5004, 5871, 13895; a queue's slot comes from its name, see docs/deployment.md)."""


def single_node(reaper: ProcessReaper, directory: Path) -> tuple[str, list[int]]:
    port = free_port()
    reaper.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", str(directory)],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: redis.Redis(port=port).ping(), 10, "redis-server")
    return f"redis://127.0.0.1:{port}/0", [port]


def commands(ports: list[int]) -> list[int]:
    out = []
    for port in ports:
        stats = redis.Redis(port=port).info("commandstats")
        out.append(sum(int(v["calls"]) for v in stats.values()))
    return out


def reset(ports: list[int]) -> None:
    for port in ports:
        redis.Redis(port=port).config_resetstat()


def measure(url: str, ports: list[int], tasks: int, reaper: ProcessReaper,
            log: Path) -> dict[str, Any]:
    env = {**os.environ, "FLOWC_BROKER_URL": url}
    with open(log, "ab") as out:
        worker = reaper.spawn([sys.executable, "-m", "flowc", "worker", "-A", "spread_app",
                               "-c", "2", "-Q", ",".join(QUEUES), "-l", "WARNING"],
                              cwd=str(HERE / "apps"), env=env, stdout=out,
                              stderr=subprocess.STDOUT)
    sys.path.insert(0, str(HERE / "apps"))
    import spread_app

    app = App("spread_app", broker=url)
    for name, task in spread_app.app.tasks.items():
        app.task(name=name)(task.run)
    monitor = Monitor(app)
    wait_until(lambda: len(monitor.workers(include_lost=False)) >= 2, 60, "the worker")
    noop, total = app.tasks["spread.noop"], app.tasks["spread.total"]
    noop.apply_async((0,), queue=QUEUES[0]).get(timeout=30)  # warm
    # drain: publish in pipelines of 1,000 (far faster than the workers drain) while the
    # worker runs, and time until every queue is empty and nothing is in flight
    reset(ports)
    started = time.perf_counter()
    for first in range(0, tasks, 1000):
        app.publish([app.build_message("spread.noop", [i], {}, noop,
                                       {"queue": QUEUES[i % 3], "ignore_result": True})
                     for i in range(first, min(tasks, first + 1000))])
    def empty() -> bool:
        return all(q.ready == 0 and q.in_flight == 0 for q in monitor.queues(QUEUES))

    wait_until(empty, 300, "the drain")
    drain_s = time.perf_counter() - started
    per_shard = commands(ports)
    chords = []
    for _ in range(3):
        t0 = time.perf_counter()
        chord([noop.s(i).set(queue=QUEUES[i % 3]) for i in range(1000)],
              total.s().set(queue=QUEUES[0])).delay().get(timeout=120)
        chords.append(time.perf_counter() - t0)
    app.close()
    worker.terminate()
    worker.wait(30)
    return {"drain_s": drain_s, "rate": tasks / drain_s, "chord_1000_s": min(chords),
            "commands_per_shard": per_shard}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=50000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    reaper = ProcessReaper()
    results: dict[str, list[dict[str, Any]]] = {"one node": [], "cluster": []}
    try:
        base = Path(tempfile.mkdtemp())
        node_url, node_ports = single_node(reaper, base)
        cluster = ClusterSet(base, reaper).start()
        for run in range(args.runs):
            order = ["one node", "cluster"] if run % 2 == 0 else ["cluster", "one node"]
            for name in order:
                url, ports = (node_url, node_ports) if name == "one node" else \
                    (cluster.url, cluster.ports)
                for port in ports:
                    redis.Redis(port=port).flushall()
                r = measure(url, ports, args.tasks, reaper, base / "worker.log")
                results[name].append(r)
                print(f"run {run + 1} {name}: drain {r['rate']:,.0f}/s, chord-1000 "
                      f"{r['chord_1000_s'] * 1000:.0f} ms, commands per shard "
                      f"{r['commands_per_shard']}", flush=True)
    finally:
        reaper.reap()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    med = {k: {"rate": statistics.median(r["rate"] for r in v),
               "chord": statistics.median(r["chord_1000_s"] for r in v)}
           for k, v in results.items()}
    shares = []
    for r in results["cluster"]:
        total_calls = sum(r["commands_per_shard"])
        shares.append(max(r["commands_per_shard"]) / total_calls)
    lines = [
        "# One node against a three-primary Redis Cluster",
        "",
        f"`python benchmarks/cluster_spread.py --tasks {args.tasks} --runs {args.runs}` at "
        f"{commit}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end; "
        f"every server on this one machine (loopback); worker `-c 2 -Q {','.join(QUEUES)}`.",
        "",
        "| topology | drain (tasks/s, median) | chord-1000 (ms, best of 3, median) | runs |",
        "|---|---|---|---|",
    ]
    for k, v in results.items():
        lines.append(f"| {k} | {med[k]['rate']:,.0f} | {med[k]['chord'] * 1000:.0f} | "
                     + "; ".join(f"{r['rate']:,.0f}/s {r['chord_1000_s'] * 1000:.0f} ms"
                                 for r in v) + " |")
    lines += [
        "",
        f"Cluster ÷ one node: drain {med['cluster']['rate'] / med['one node']['rate']:.2f}x, "
        f"chord-1000 time {med['cluster']['chord'] / med['one node']['chord']:.2f}x "
        "(target: drain >= 0.8x).",
        "",
        "Busiest shard's share of all commands during the drain (target <= 40%): "
        + ", ".join(f"{s:.0%}" for s in shares) + " (per run: "
        + "; ".join(str(r["commands_per_shard"]) for r in results["cluster"]) + ").",
        "",
    ]
    (HERE / "cluster_spread.md").write_text("\n".join(lines))
    (HERE / "cluster_spread.json").write_text(json.dumps(
        {"commit": commit, "args": vars(args), "results": results}, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
