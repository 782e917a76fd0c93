#!/usr/bin/env python
"""The cost of reliability: drain rate with ``task_acks_late`` off and on, flowc next to Celery.

    python benchmarks/reliability_cost.py            # 10,000 no-op tasks per run
    python benchmarks/reliability_cost.py --tasks 2000 --pools solo

Reuses run.py's drain measurement (enqueue N, start the worker, time first to last
``date_done``) on one throwaway Redis. The "late" runs load the benchmark apps through
two-line wrapper modules that set ``task_acks_late = True``; nothing else differs. Prints a
table and writes ``reliability_cost.json`` next to this file (or ``--out``), with the load
average at each drain; then, if ``results.json`` is in the same directory, re-renders
``results.md`` (run.py's report), whose "Reliability cost" section is drawn from
``reliability_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402
from bench_common import (  # noqa: E402
    RedisServer,
    command_line,
    flowc_tree,
    loadavg,
    machine_info,
)
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

WRAPPERS = {
    "flowc_late": "from flowc_app import app\n\napp.conf.task_acks_late = True\n",
    "celery_late": "from celery_app import app\n\napp.conf.task_acks_late = True\n",
}


MAKE_SIDE = run.make_side


def late_side(system: str, url: str, wrappers: Path) -> Any:
    """run.py's side for ``system`` whose worker loads the acks-late wrapper module."""
    side = MAKE_SIDE(system, url)
    base_cmd, base_env = side.worker_cmd, side.worker_env
    original, wrapped = f"{system}_app", f"{system}_late"

    def worker_cmd(pool: str) -> list[str]:
        return [wrapped if part == original else part for part in base_cmd(pool)]

    def worker_env() -> dict[str, str]:
        return {**base_env(), "PYTHONPATH": f"{wrappers}:{run.HERE / 'apps'}"}

    side.worker_cmd, side.worker_env = worker_cmd, worker_env
    return side


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--pools", default="solo,default")
    parser.add_argument("--systems", default="flowc,celery")
    parser.add_argument("--rounds", type=int, default=3,
                        help="drains per configuration; the order of early/late alternates "
                        "by round; the median is reported (default 3)")
    parser.add_argument("--out", type=Path, default=HERE / "reliability_cost.json")
    args = parser.parse_args(argv)
    ns = argparse.Namespace(tasks=args.tasks, mem_interval=0.2, poll=0.02, latency=50,
                            warmup=10)
    console = Console(stderr=True)
    results: list[dict[str, Any]] = []
    server = RedisServer()
    server.start()
    data: dict[str, Any] = {
        "command": command_line("reliability_cost.py", argv),
        "started": time.strftime("%F %T %Z"),
        "machine": machine_info(server.version()),
        "flowc_tree": flowc_tree(),
        "config": {"tasks": args.tasks, "pools": args.pools, "systems": args.systems,
                   "rounds": args.rounds},
        "results": results,
    }
    original_make_side = MAKE_SIDE
    try:
        with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
            wrappers = Path(tmp)
            for name, text in WRAPPERS.items():
                (wrappers / f"{name}.py").write_text(text)
            for index, system, pool, acks in (
                    (i, system, pool, acks) for i in range(args.rounds)
                    for system in args.systems.split(",") for pool in args.pools.split(",")
                    for acks in (("early", "late") if i % 2 == 0 else ("late", "early"))):
                def make(s: str, url: str, acks: str = acks) -> Any:
                    if acks == "late":
                        return late_side(s, url, wrappers)
                    return original_make_side(s, url)

                run.make_side = make
                log_dir = HERE / "logs"
                log_dir.mkdir(exist_ok=True)
                out = run.run_pool(system, pool, server, ns, progress, log_dir)
                rate = out["drain"].get("first_to_last_per_s", 0.0)
                results.append({"round": index + 1, "system": system,
                                "pool": pool, "acks": acks, "drain_per_s": rate,
                                "middle_90_per_s": out["drain"].get("middle_90_per_s"),
                                "not_success": out["drain"].get("not_success"),
                                "worker_cmd": out.get("worker_cmd"),
                                "loadavg_before": [round(x, 2) for x in
                                                   out["loadavg_before"]],
                                "loadavg_after": [round(x, 2) for x in
                                                  out["loadavg_after"]]})
    finally:
        run.make_side = original_make_side
        server.stop()
    table = Table(title=f"drain rate, {args.tasks:,} no-op tasks (tasks/s, first to last)")
    for column in ("system", "pool", "acks early (median)", "acks late (median)",
                   "late / early", "early, each round", "late, each round"):
        table.add_column(column, justify="right")
    medians: list[dict[str, Any]] = []
    for system in args.systems.split(","):
        for pool in args.pools.split(","):
            samples = {acks: [r["drain_per_s"] for r in results if r["system"] == system
                              and r["pool"] == pool and r["acks"] == acks]
                       for acks in ("early", "late")}
            med = {acks: statistics.median(v) for acks, v in samples.items()}
            ratio = med["late"] / med["early"] if med["early"] else 0.0
            medians.append({"system": system, "pool": pool, "early_per_s": med["early"],
                            "late_per_s": med["late"], "late_over_early": ratio,
                            "early_samples": samples["early"], "late_samples": samples["late"]})
            table.add_row(system, pool, f"{med['early']:,.0f}", f"{med['late']:,.0f}",
                          f"{ratio:.2f}", ", ".join(f"{v:,.0f}" for v in samples["early"]),
                          ", ".join(f"{v:,.0f}" for v in samples["late"]))
    data["medians"] = medians
    Console().print(table)
    data["finished"] = time.strftime("%F %T %Z")
    data["loadavg_after"] = loadavg()
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    results_json = args.out.parent / "results.json"
    if results_json.exists():
        run.write_report(json.loads(results_json.read_text()), args.out.parent)
        console.log(f"wrote {args.out} and re-rendered {args.out.parent / 'results.md'}")
    else:
        console.log(f"wrote {args.out} (no results.json next to it: results.md not rendered)")


if __name__ == "__main__":
    main()
