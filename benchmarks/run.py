#!/usr/bin/env python
"""flowc vs Celery 5, side by side on one throwaway Redis (issue 3, item 9).

    python benchmarks/run.py            # full: 20,000 tasks per phase, two runs
    python benchmarks/run.py --quick    # smoke: 2,000 tasks, one run

For each system and each worker kind (solo: one process; default: prefork, CPU-count processes):
enqueue N no-op tasks one ``delay()`` at a time (enqueue rate), then start the worker and wait
for all N results (drain rate from the workers' own ``date_done`` stamps, first to last, so boot
is excluded), sampling the worker tree's RSS/PSS. With the default worker still up: 500
sequential ``delay(x).get()`` round trips. Then the batched path. Writes results.md/results.json
next to this file (or ``--out``). See README.md for what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import redis  # noqa: E402
from bench_common import (  # noqa: E402
    MemorySampler,
    RedisServer,
    WorkerProcess,
    drain_summary,
    flowc_tree,
    latency_summary,
    machine_info,
    worker_env,
)
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

console = Console(stderr=True)
POOLS = ("solo", "default")
BOOT_TIMEOUT_S = 90.0


def make_side(system: str, url: str) -> Any:
    if system == "flowc":
        from bench_flowc import FlowcSide

        return FlowcSide(url)
    from bench_celery import CelerySide

    return CelerySide(url)


def expected_processes(pool: str) -> int:
    return 1 if pool == "solo" else (os.cpu_count() or 1)


def run_pool(system: str, pool: str, server: RedisServer, args: argparse.Namespace,
             progress: Progress, log_dir: Path) -> dict[str, Any]:
    """Enqueue N, start a worker, drain, (default worker) round trips; always stop the worker."""
    url = server.next_url()
    client = redis.Redis.from_url(url)
    client.flushall()
    out: dict[str, Any] = {"pool": pool, "loadavg_before": os.getloadavg(), "url": url}
    side = make_side(system, url)
    worker: WorkerProcess | None = None
    try:
        bar = progress.add_task(f"{system} {pool}: enqueue", total=args.tasks)
        ids, secs = side.enqueue(args.tasks, lambda k: progress.advance(bar, k))
        progress.remove_task(bar)
        out["enqueue"] = {"n": args.tasks, "seconds": secs, "per_s": args.tasks / secs}
        console.log(f"{system:6} {pool:7} enqueue  {args.tasks / secs:>10,.0f} tasks/s "
                    "(one delay() at a time)")

        cmd = side.worker_cmd(pool)
        out["worker_cmd"] = shlex.join(["python", *cmd[1:]])
        worker = WorkerProcess(cmd, worker_env(side.worker_env()),
                               log_dir / f"{system}-{pool}.log")
        keys = side.result_keys(ids)
        worker.start()
        with MemorySampler(worker.pid, args.mem_interval) as mem:
            seen: dict[bytes, float] = {}
            t_ready = None
            deadline = time.monotonic() + BOOT_TIMEOUT_S
            while t_ready is None:
                t_ready = side.ready_time(client, expected_processes(pool), seen)
                if t_ready is None:
                    if not worker.alive() or time.monotonic() > deadline:
                        raise RuntimeError(f"{system} {pool} worker did not come up:\n"
                                           + worker.tail())
                    time.sleep(0.005)
            bar = progress.add_task(f"{system} {pool}: drain", total=args.tasks)
            deadline = time.monotonic() + max(120.0, args.tasks / 100)
            done = 0
            while done < args.tasks:
                time.sleep(args.poll)
                # cheap O(1) queue depth first; the 20k-key EXISTS only once the queue is empty
                waiting = side.queued(client)
                done = int(client.exists(*keys)) if waiting == 0 else args.tasks - waiting
                progress.update(bar, completed=done)
                if not worker.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{system} {pool} worker stalled at {done}/{args.tasks}:"
                                       f"\n{worker.tail()}")
            progress.remove_task(bar)
        times, failed = side.done_times(client, ids)
        drain = drain_summary(args.tasks, times, t_ready)
        drain["not_success"] = failed
        out["drain"] = drain
        out["memory_peak"] = {"rss_mb": mem.peak.rss / 2**20, "pss_mb": mem.peak.pss / 2**20,
                              "processes": mem.peak.processes, "samples": mem.peak.samples}
        console.log(f"{system:6} {pool:7} drain    {drain.get('first_to_last_per_s', 0):>10,.0f}"
                    f" tasks/s first->last (middle 90%: {drain.get('middle_90_per_s', 0):,.0f}; "
                    f"from ready: {drain.get('ready_to_last_per_s', 0):,.0f}); peak PSS "
                    f"{mem.peak.pss / 2**20:.1f} MB, RSS {mem.peak.rss / 2**20:.1f} MB over "
                    f"{mem.peak.processes} processes")

        if pool == "default":
            bar = progress.add_task(f"{system} {pool}: round trips", total=None)
            samples = side.round_trips(args.latency, args.warmup)
            progress.remove_task(bar)
            out["round_trip"] = latency_summary(samples)
            rt = out["round_trip"]
            console.log(f"{system:6} {pool:7} round trip p50 {rt['p50_ms']:.3f} ms, "
                        f"p99 {rt['p99_ms']:.3f} ms (n={rt['n']})")
            rss, pss, n = MemorySampler(worker.pid).sample()
            out["memory_after"] = {"rss_mb": rss / 2**20, "pss_mb": pss / 2**20,
                                   "processes": n}
    finally:
        if worker is not None:
            worker.stop()
        side.close()
        client.close()
    out["loadavg_after"] = os.getloadavg()
    return out


def run_batched(system: str, server: RedisServer, args: argparse.Namespace,
                progress: Progress) -> dict[str, Any]:
    url = server.next_url()
    client = redis.Redis.from_url(url)
    client.flushall()
    side = make_side(system, url)
    try:
        bar = progress.add_task(f"{system}: batched enqueue", total=args.tasks)
        res = side.batched(args.tasks, args.chunk, lambda k: progress.advance(bar, k))
        progress.remove_task(bar)
    finally:
        side.close()
        client.flushall()
        client.close()
    extra = f" (encode+send only: {res['send_only_per_s']:,.0f})" if "send_only_per_s" in res \
        else ""
    console.log(f"{system:6} batched  {res['per_s']:>10,.0f} tasks/s via {res['api']}{extra}")
    return res


def run_once(index: int, order: list[str], server: RedisServer, args: argparse.Namespace,
             log_dir: Path) -> dict[str, Any]:
    run: dict[str, Any] = {"run": index, "order": order, "started": time.strftime("%F %T")}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        for system in order:
            res: dict[str, Any] = {}
            for pool in POOLS:
                res[pool] = run_pool(system, pool, server, args, progress, log_dir)
            res["batched"] = run_batched(system, server, args, progress)
            run[system] = res
    return run


# --- the report ------------------------------------------------------------------------------


def metrics(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The comparison rows of one run."""
    f, c = run["flowc"], run["celery"]

    def enq(side: dict[str, Any]) -> float:
        return sum(side[p]["enqueue"]["per_s"] for p in POOLS) / len(POOLS)

    rows = [
        dict(key="enqueue", metric="Enqueue, one `delay()` at a time (tasks/s)",
             flowc=enq(f), celery=enq(c), unit="/s", target="flowc >= 10,000/s",
             met=enq(f) >= 10_000),
        dict(key="batched", metric="Batched enqueue (tasks/s): flowc pipelines of "
             f"{f['batched']['chunk']:,}; Celery `group().apply_async()`",
             flowc=f["batched"]["per_s"], celery=c["batched"]["per_s"], unit="/s",
             target="flowc >= 50,000/s", met=f["batched"]["per_s"] >= 50_000),
        dict(key="drain_solo", metric="Drain, solo worker: 1 process (tasks/s, first->last result)",
             flowc=f["solo"]["drain"]["first_to_last_per_s"],
             celery=c["solo"]["drain"]["first_to_last_per_s"], unit="/s",
             target="flowc >= 20,000/s",
             met=f["solo"]["drain"]["first_to_last_per_s"] >= 20_000),
        dict(key="drain_default", metric=f"Drain, default worker: prefork x{os.cpu_count()} "
             "(tasks/s, first->last result)",
             flowc=f["default"]["drain"]["first_to_last_per_s"],
             celery=c["default"]["drain"]["first_to_last_per_s"], unit="/s",
             target="ratio >= 5 (and > Huey's 7,100/s)",
             met=f["default"]["drain"]["first_to_last_per_s"]
             >= 5 * c["default"]["drain"]["first_to_last_per_s"]),
        dict(key="rt_p50", metric="Round trip `delay(x).get()` p50 (ms)",
             flowc=f["default"]["round_trip"]["p50_ms"],
             celery=c["default"]["round_trip"]["p50_ms"], unit="ms", target="ratio <= 0.25",
             met=f["default"]["round_trip"]["p50_ms"]
             <= 0.25 * c["default"]["round_trip"]["p50_ms"]),
        dict(key="rt_p99", metric="Round trip `delay(x).get()` p99 (ms)",
             flowc=f["default"]["round_trip"]["p99_ms"],
             celery=c["default"]["round_trip"]["p99_ms"], unit="ms", target="flowc <= 1 ms",
             met=f["default"]["round_trip"]["p99_ms"] <= 1.0),
        dict(key="pss", metric="Default worker peak PSS during drain (MB, process tree)",
             flowc=f["default"]["memory_peak"]["pss_mb"],
             celery=c["default"]["memory_peak"]["pss_mb"], unit="MB", target="ratio <= 0.5",
             met=f["default"]["memory_peak"]["pss_mb"]
             <= 0.5 * c["default"]["memory_peak"]["pss_mb"]),
        dict(key="rss", metric="Default worker peak RSS during drain (MB, summed over tree)",
             flowc=f["default"]["memory_peak"]["rss_mb"],
             celery=c["default"]["memory_peak"]["rss_mb"], unit="MB", target="-", met=None),
        # context rows (no target)
        dict(key="drain_solo_mid", metric="Drain, solo, middle 90% of completions (tasks/s)",
             flowc=f["solo"]["drain"].get("middle_90_per_s", float("nan")),
             celery=c["solo"]["drain"].get("middle_90_per_s", float("nan")), unit="/s",
             target="-", met=None),
        dict(key="drain_default_mid", metric="Drain, default, middle 90% of completions "
             "(tasks/s)", flowc=f["default"]["drain"].get("middle_90_per_s", float("nan")),
             celery=c["default"]["drain"].get("middle_90_per_s", float("nan")), unit="/s",
             target="-", met=None),
        dict(key="drain_default_ready", metric="Drain, default, worker-ready -> last result "
             "(tasks/s, includes ramp-up)",
             flowc=f["default"]["drain"].get("ready_to_last_per_s", float("nan")),
             celery=c["default"]["drain"].get("ready_to_last_per_s", float("nan")), unit="/s",
             target="-", met=None),
        dict(key="rt_mean", metric="Round trip mean (ms)",
             flowc=f["default"]["round_trip"]["mean_ms"],
             celery=c["default"]["round_trip"]["mean_ms"], unit="ms", target="-", met=None),
        dict(key="pss_solo", metric="Solo worker peak PSS (MB)",
             flowc=f["solo"]["memory_peak"]["pss_mb"], celery=c["solo"]["memory_peak"]["pss_mb"],
             unit="MB", target="-", met=None),
    ]
    for r in rows:
        r["ratio"] = r["flowc"] / r["celery"] if r["celery"] else float("nan")
    return rows


def fmt(value: float, unit: str) -> str:
    if value != value:  # nan
        return "n/a"
    if unit == "/s":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.3f}"
    return f"{value:.1f}"


def span(tables: list[list[dict[str, Any]]], key: str, side: str, unit: str) -> str:
    """The range over the runs of one number of the report, e.g. "425-457"."""
    values = [row[side] for table in tables for row in table if row["key"] == key]
    low, high = fmt(min(values), unit), fmt(max(values), unit)
    return low if low == high else f"{low}-{high}"


def write_report(data: dict[str, Any], out_dir: Path) -> None:
    runs = data["runs"]
    tables = [metrics(r) for r in runs]
    t = tables
    n = len(runs)
    lines = [
        "# flowc vs Celery 5: side-by-side benchmark",
        "",
        f"Command: `{data['command']}` ({data['config']['tasks']:,} tasks per phase, "
        f"{data['config']['latency']} round trips, {n} run(s); each cell is "
        + ("run 1 / run 2 / ..." if n > 1 else "the run") + ").",
        "",
        f"Machine: {data['machine'].get('cpu_model', '?')}, {data['machine']['cpus']} CPUs, "
        f"{data['machine']['memory_gb']} GB; Python {data['machine']['python']}; "
        f"redis-server {data['machine']['redis_server']} (private, loopback TCP, no "
        f"persistence); celery {data['machine']['packages'].get('celery')}, kombu "
        f"{data['machine']['packages'].get('kombu')}, redis-py "
        f"{data['machine']['packages'].get('redis')}, hiredis "
        f"{data['machine']['packages'].get('hiredis')}; flowc "
        f"{data.get('flowc_tree', '?')}. Date: {data['finished']}.",
        "",
        "| Metric | flowc | Celery | flowc/Celery | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for i, row in enumerate(tables[0]):
        cells = [t[i] for t in tables]
        met = "-" if row["met"] is None else " / ".join("yes" if c["met"] else "**no**"
                                                       for c in cells)
        lines.append(
            f"| {row['metric']} | {' / '.join(fmt(c['flowc'], c['unit']) for c in cells)} | "
            f"{' / '.join(fmt(c['celery'], c['unit']) for c in cells)} | "
            f"{' / '.join(format(c['ratio'], '.2f') for c in cells)} | {row['target']} | {met} |")
    lines += ["", "Per-run conditions (1-minute load average at each phase start; the 5- and "
              "15-minute values are in results.json):", ""]
    for r in runs:
        loads = []
        for system in r["order"]:
            for pool in POOLS:
                loads.append(f"{system}/{pool} {r[system][pool]['loadavg_before'][0]:.2f}")
        lines.append(f"- run {r['run']} ({r['started']}, order {' then '.join(r['order'])}): "
                     f"1-min load average at each phase start: {', '.join(loads)}")
    if n > 1:
        lines += ["", "Run-to-run spread (max/min - 1) of the headline numbers:", ""]
        for i, row in enumerate(tables[0]):
            if row["met"] is None and row["key"] not in ("rss",):
                continue
            for side in ("flowc", "celery"):
                vals = [t[i][side] for t in tables]
                if min(vals) > 0:
                    lines.append(f"- {row['key']} {side}: {max(vals) / min(vals) - 1:.0%}")
    lines += [
        "",
        "flowc batched, encode + send only (messages built beforehand): "
        + " / ".join(f"{r['flowc']['batched']['send_only_per_s']:,.0f}" for r in runs)
        + " tasks/s.",
        "",
        "Worker commands (run from `benchmarks/apps`, Redis URL from the environment):",
        "",
    ]
    for system in ("flowc", "celery"):
        for pool in POOLS:
            lines.append(f"- {system} {pool}: `{runs[0][system][pool]['worker_cmd']}`")
    lines += [
        "",
        f"Noise: the machine has {data['machine']['cpus']} CPUs shared by Redis, the benchmark "
        "process and the worker (anything else running shows in the load averages above), so "
        "the worker competes with Redis for them. Compare the run-to-run spread above before "
        "quoting a difference between runs; the flowc/Celery ratios are far outside it. "
        "Celery on this machine is well below the figures quoted in issue 3 (drain 1,650/s "
        "default, 1,380/s solo, enqueue 2,850/s, p50 1.0-1.5 ms; measured here: "
        + span(t, "drain_default", "celery", "/s") + "/s default, "
        + span(t, "drain_solo", "celery", "/s") + "/s solo, "
        + span(t, "enqueue", "celery", "/s") + "/s enqueue, p50 "
        + span(t, "rt_p50", "celery", "ms") + " ms), so compare ratios within one run rather "
        "than absolute numbers across machines.",
        "",
        "Reference numbers from issue 3 (not measured in this run): Huey drains 7,100/s with 2 "
        "processes and answers a round trip in 0.38 ms p50; a bare redis-py loop batching 100 "
        "tasks reaches 76,000 tasks/s.",
        "",
        "How each number is measured and its caveats: [README.md](README.md). Raw data: "
        "[results.json](results.json).",
        "",
    ]
    lines += reliability_section(out_dir / "reliability_cost.json")
    (out_dir / "results.md").write_text("\n".join(lines))
    (out_dir / "results.json").write_text(json.dumps(data, indent=2, default=str) + "\n")


def reliability_section(path: Path) -> list[str]:
    """results.md's "Reliability cost" section (issue 4), from reliability_cost.py's json."""
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    if isinstance(data, list):  # the first version of the file: the rows only
        data = {"results": data}
    results = data["results"]
    samples: dict[tuple[str, str, str], list[float]] = {}
    for r in results:
        samples.setdefault((r["system"], r["pool"], r["acks"]), []).append(r["drain_per_s"])
    rate = {k: statistics.median(v) for k, v in samples.items()}
    pools = list(dict.fromkeys(r["pool"] for r in results))
    tasks = data.get("config", {}).get("tasks")
    rounds = data.get("config", {}).get("rounds", 1)
    lines = [
        "## Reliability cost: drain with `task_acks_late` off vs on (issue 4)",
        "",
        f"A separate run: `{data.get('command', 'python benchmarks/reliability_cost.py')}`"
        + (f" ({tasks:,} no-op tasks per drain" if tasks else " (")
        + (f", {rounds} drains per cell with the early/late order alternating, median shown"
           if rounds > 1 else ", one drain per cell")
        + (f", {data['finished']}" if data.get("finished") else "")
        + (f", {data['flowc_tree']}" if data.get("flowc_tree") else "")
        + "). The same drain as the table above (enqueue, start the worker, first -> last "
        "`date_done`); the acks-late workers load the same app with `task_acks_late = True`, "
        "nothing else differs. Regenerate with that command (it rewrites "
        "[reliability_cost.json](reliability_cost.json) and re-renders this file from "
        "results.json); `python benchmarks/run.py --report-only benchmarks/results.json` keeps "
        "the section.",
        "",
        "| Worker | flowc acks early (tasks/s) | flowc acks late | flowc late/early | "
        "Celery acks early | Celery acks late | Celery late/early | flowc/Celery, acks late |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(system: str, pool: str, acks: str) -> str:
        value = rate.get((system, pool, acks))
        return f"{value:,.0f}" if value else "n/a"

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}" if a and b else "n/a"

    for pool in pools:
        name = "solo (1 process)" if pool == "solo" else f"{pool} (prefork x{os.cpu_count()})"
        lines.append(
            f"| {name} | {cell('flowc', pool, 'early')} | {cell('flowc', pool, 'late')} | "
            f"{ratio(rate.get(('flowc', pool, 'late')), rate.get(('flowc', pool, 'early')))} | "
            f"{cell('celery', pool, 'early')} | {cell('celery', pool, 'late')} | "
            f"{ratio(rate.get(('celery', pool, 'late')), rate.get(('celery', pool, 'early')))} "
            f"| {ratio(rate.get(('flowc', pool, 'late')), rate.get(('celery', pool, 'late')))} |")
    if rounds > 1:
        lines += ["", "Each drain (tasks/s), in round order:", ""]
        for (system, pool, acks), values in samples.items():
            lines.append(f"- {system} {pool} acks {acks}: "
                         + ", ".join(f"{v:,.0f}" for v in values))
    loads = [r["loadavg_before"][0] for r in results if r.get("loadavg_before")]
    if loads:
        lines += ["", f"1-minute load average at the drains' starts: {min(loads):.2f}-"
                  f"{max(loads):.2f} (each one in reliability_cost.json)."]
    lines += ["", "No target in issue 4 beyond reporting the cost next to Celery's.", ""]
    return lines


def show(data: dict[str, Any]) -> None:
    for run in data["runs"]:
        table = Table(title=f"run {run['run']}")
        for col in ("metric", "flowc", "Celery", "flowc/Celery", "target", "met"):
            table.add_column(col)
        for row in metrics(run):
            table.add_row(row["metric"], fmt(row["flowc"], row["unit"]),
                          fmt(row["celery"], row["unit"]), f"{row['ratio']:.2f}", row["target"],
                          "-" if row["met"] is None else ("yes" if row["met"] else "NO"))
        Console().print(table)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 2,000 tasks, one run")
    p.add_argument("--tasks", type=int, help="tasks per phase (default 20,000; 2,000 quick)")
    p.add_argument("--runs", type=int, help="full repetitions (default 2; 1 with --quick)")
    p.add_argument("--latency", type=int, default=500, help="timed round trips (default 500)")
    p.add_argument("--warmup", type=int, default=20, help="untimed round trips first")
    p.add_argument("--chunk", type=int, default=1000, help="batched path: messages per pipeline")
    p.add_argument("--poll", type=float, default=0.05, help="drain completion poll interval (s)")
    p.add_argument("--mem-interval", type=float, default=0.1, help="memory sample interval (s)")
    p.add_argument("--systems", default="flowc,celery", help="comma list (both needed for the "
                   "report)")
    p.add_argument("--out", type=Path, default=HERE, help="where results.md/json go")
    p.add_argument("--report-only", type=Path, metavar="RESULTS_JSON",
                   help="re-render results.md from an existing results.json and exit")
    args = p.parse_args(argv)
    if args.report_only:
        data = json.loads(args.report_only.read_text())
        write_report(data, args.out)
        show(data)
        return 0
    args.tasks = args.tasks or (2_000 if args.quick else 20_000)
    args.runs = args.runs or (1 if args.quick else 2)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    log_dir = args.out / "logs"
    log_dir.mkdir(exist_ok=True)

    command = "python benchmarks/run.py" + ("".join(f" {shlex.quote(a)}" for a in
                                                    (argv if argv is not None else sys.argv[1:])))
    server = RedisServer()
    server.start()
    console.log(f"redis-server {server.version()} on {server.url} (pid {server.proc.pid})")
    data: dict[str, Any] = {
        "command": command,
        "machine": machine_info(server.version()),
        "flowc_tree": flowc_tree(),
        "config": {"tasks": args.tasks, "latency": args.latency, "warmup": args.warmup,
                   "chunk": args.chunk, "runs": args.runs, "poll_s": args.poll,
                   "mem_interval_s": args.mem_interval},
        "runs": [],
    }
    try:
        for i in range(args.runs):
            order = systems if i % 2 == 0 else list(reversed(systems))
            console.rule(f"run {i + 1}/{args.runs}: {' then '.join(order)}")
            data["runs"].append(run_once(i + 1, order, server, args, log_dir))
    finally:
        with contextlib.suppress(Exception):
            server.stop()
    data["finished"] = time.strftime("%F %T %Z")
    if set(systems) == {"flowc", "celery"}:
        write_report(data, args.out)
        show(data)
        console.log(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    else:
        (args.out / "results-partial.json").write_text(json.dumps(data, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
