#!/usr/bin/env python
"""The cost of reliability: drain rate with ``task_acks_late`` off and on, flowc next to Celery.

    python benchmarks/reliability_cost.py            # 10,000 no-op tasks per run
    python benchmarks/reliability_cost.py --tasks 2000 --pools solo

Reuses run.py's drain measurement (enqueue N, start the worker, time first to last
``date_done``) on one throwaway Redis. The "late" runs load the benchmark apps through
two-line wrapper modules that set ``task_acks_late = True``; nothing else differs. Prints a
table and writes ``reliability_cost.json`` next to this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402
from bench_common import RedisServer  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--pools", default="solo,default")
    parser.add_argument("--systems", default="flowc,celery")
    parser.add_argument("--out", type=Path, default=HERE / "reliability_cost.json")
    args = parser.parse_args()
    ns = argparse.Namespace(tasks=args.tasks, mem_interval=0.2, poll=0.02, latency=50,
                            warmup=10)
    console = Console(stderr=True)
    results: list[dict[str, Any]] = []
    server = RedisServer()
    server.start()
    original_make_side = MAKE_SIDE
    try:
        with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
            wrappers = Path(tmp)
            for name, text in WRAPPERS.items():
                (wrappers / f"{name}.py").write_text(text)
            for system in args.systems.split(","):
                for pool in args.pools.split(","):
                    for acks in ("early", "late"):
                        def make(s: str, url: str, acks: str = acks) -> Any:
                            if acks == "late":
                                return late_side(s, url, wrappers)
                            return original_make_side(s, url)

                        run.make_side = make
                        out = run.run_pool(system, pool, server, ns, progress, wrappers)
                        rate = out["drain"].get("first_to_last_per_s", 0.0)
                        results.append({"system": system, "pool": pool, "acks": acks,
                                        "drain_per_s": rate,
                                        "not_success": out["drain"].get("not_success")})
    finally:
        run.make_side = original_make_side
        server.stop()
    table = Table(title=f"drain rate, {args.tasks:,} no-op tasks (tasks/s, first to last)")
    for column in ("system", "pool", "acks early", "acks late", "late / early"):
        table.add_column(column, justify="right")
    for system in args.systems.split(","):
        for pool in args.pools.split(","):
            rates = {r["acks"]: r["drain_per_s"] for r in results
                     if r["system"] == system and r["pool"] == pool}
            ratio = rates["late"] / rates["early"] if rates.get("early") else 0.0
            table.add_row(system, pool, f"{rates['early']:,.0f}", f"{rates['late']:,.0f}",
                          f"{ratio:.2f}")
    Console().print(table)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
