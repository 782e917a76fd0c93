#!/usr/bin/env python
"""Round trip and chain-100 measured the way issue 18's independent run measured them.

    python benchmarks/independent.py                  # solo and default worker, 3 rounds
    python benchmarks/independent.py --rounds 1 --calls 200   # smoke

Per round and worker kind (``-P solo``, then the default prefork worker), on one private
``redis-server``: start the worker, wait until it is up, then in **a fresh App** (new
connections): 6 warm-up ``noop.delay(i).get(timeout=300)`` calls, 1 s idle, then ``--calls``
sequential ``noop.delay(i).get(timeout=300)``, each timed (p50/p99/mean, and the first call
after the idle second on its own); then, still in that App, 1 s idle and ``--chains``
sequential ``chain(inc.s(0), *[inc.s()] * 99).delay().get()`` (the first one is the first
workflow this process submits). The same process also counts, for one round trip after the
measured ones, the Redis commands it caused (``INFO commandstats``: the client's and the
worker's) and the client's own round trips (pipelines and commands written to its sockets).
Writes ``independent.md`` / ``independent.json`` next to this file (or in ``--out``).

Differences from ``run.py``'s round trip: a fresh App (run.py reuses the one that enqueued and
drained), only 6 warm-ups, and an idle second before the timed calls, so the first calls after
idle and the client's first-use costs are inside the measurement.
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
    percentile,
    worker_env,
)

WARMUPS = 6
IDLE_S = 1.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%T')}] {msg}", file=sys.stderr, flush=True)


def commandstats(client: Any) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): int(v["calls"])
            for k, v in client.info("commandstats").items()}


class ClientRoundTrips:
    """Counts what this process writes to Redis: one write of packed commands is one round
    trip (a pipeline or a single command; redis-py and flowc's held connection both write
    through ``Connection.send_packed_command``)."""

    def __init__(self) -> None:
        from redis.connection import AbstractConnection

        self.cls = AbstractConnection
        self.original = AbstractConnection.send_packed_command
        self.count = 0

    def __enter__(self) -> ClientRoundTrips:
        original = self.original

        def counted(conn: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            original(conn, command, check_health)

        self.cls.send_packed_command = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.cls.send_packed_command = self.original  # type: ignore[method-assign]


def stats_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(samples), "p50_ms": percentile(ordered, 50) * 1000,
            "p99_ms": percentile(ordered, 99) * 1000,
            "mean_ms": statistics.fmean(samples) * 1000, "min_ms": ordered[0] * 1000,
            "max_ms": ordered[-1] * 1000}


def one_worker(server: RedisServer, pool: str, args: argparse.Namespace,
               logs: Path, rnd: int) -> dict[str, Any]:
    import redis
    from flowc_canvas_app import make_app

    from flowc import chain

    url = server.next_url()
    probe = redis.Redis.from_url(url)
    probe.flushdb()
    cmd = [sys.executable, "-m", "flowc", "worker", "-A", "flowc_canvas_app", "-l", "WARNING"]
    if pool == "solo":
        cmd += ["-P", "solo"]
    worker = WorkerProcess(cmd, worker_env({"FLOWC_BROKER_URL": url, "FLOWC_RESULT_BACKEND": url,
                                            "BENCH_REDIS_URL": url}),
                           logs / f"independent-{pool}-{rnd}.log")
    expected = 1 if pool == "solo" else (os.cpu_count() or 1)
    worker.start()
    out: dict[str, Any] = {"pool": pool, "round": rnd, "load_at_start": loadavg()}
    try:
        deadline = time.monotonic() + 60
        while int(probe.zcard("flowc:workers")) < expected:
            if not worker.alive() or time.monotonic() > deadline:
                raise SystemExit(f"worker did not come up:\n{worker.tail()}")
            time.sleep(0.05)
        app = make_app(url)  # the fresh App of the independent run
        noop, inc = app.tasks["cb.noop"], app.tasks["cb.inc"]
        for i in range(WARMUPS):
            assert noop.delay(i).get(timeout=300) == i
        time.sleep(IDLE_S)
        samples = []
        for i in range(args.calls):
            t0 = time.perf_counter()
            value = noop.delay(i).get(timeout=300)
            samples.append(time.perf_counter() - t0)
            assert value == i
        out["round_trip"] = stats_ms(samples)
        out["round_trip"]["first_after_idle_ms"] = samples[0] * 1000
        # what one more round trip costs in Redis commands and client round trips
        before = commandstats(probe)
        with ClientRoundTrips() as trips:
            assert noop.delay(1).get(timeout=300) == 1
        after = commandstats(probe)
        out["one_round_trip"] = {
            "client_round_trips": trips.count,
            "redis_commands": {k: after[k] - before.get(k, 0) for k in after
                               if after[k] - before.get(k, 0) and k != "info"}}
        time.sleep(IDLE_S)
        chains = []
        for _ in range(args.chains):
            canvas = chain(inc.s(0), *[inc.s() for _ in range(99)])
            t0 = time.perf_counter()
            assert canvas.delay().get(timeout=300) == 100
            chains.append(time.perf_counter() - t0)
        out["chain100"] = stats_ms(chains)
        out["chain100"]["first_ms"] = chains[0] * 1000
        out["chain100"]["median_after_first_ms"] = statistics.median(chains[1:]) * 1000 \
            if len(chains) > 1 else None
        app.close()
    finally:
        worker.stop()
        probe.close()
    out["load_at_end"] = loadavg()
    return out


def report(data: dict[str, Any]) -> str:
    lines = ["# Round trip and chain-100, the independent run's way (`independent.py`)", "",
             f"Command: `{data['command']}`. {data['tree']}; {data['date']}. Machine: "
             f"{data['machine'].get('cpu_model', '?')}, {data['machine']['cpus']} CPUs; "
             f"redis-server {data['machine']['redis_server']}.", "",
             "| round | worker | round trip p50 / p99 / mean (ms) | first call after 1 s idle "
             "(ms) | chain-100 first / median of the rest (ms) | 1-min load start / end |",
             "|---|---|---|---|---|---|"]
    for r in data["runs"]:
        rt, ch = r["round_trip"], r["chain100"]
        rest = ch["median_after_first_ms"]
        lines.append(f"| {r['round']} | {r['pool']} | {rt['p50_ms']:.3f} / {rt['p99_ms']:.3f} / "
                     f"{rt['mean_ms']:.3f} | {rt['first_after_idle_ms']:.3f} | "
                     f"{ch['first_ms']:.1f} / {rest:.1f} | "
                     f"{r['load_at_start'][0]:.2f} / {r['load_at_end'][0]:.2f} |"
                     if rest is not None else
                     f"| {r['round']} | {r['pool']} | {rt['p50_ms']:.3f} / {rt['p99_ms']:.3f} / "
                     f"{rt['mean_ms']:.3f} | {rt['first_after_idle_ms']:.3f} | "
                     f"{ch['first_ms']:.1f} / - | "
                     f"{r['load_at_start'][0]:.2f} / {r['load_at_end'][0]:.2f} |")
    lines += ["", "Redis commands caused by one `noop.delay(i).get()` (client and worker), and "
              "the client's own round trips:", ""]
    for r in data["runs"]:
        one = r["one_round_trip"]
        cmds = ", ".join(f"{k} {v}" for k, v in sorted(one["redis_commands"].items()))
        lines.append(f"- round {r['round']}, {r['pool']}: client round trips "
                     f"{one['client_round_trips']}; commands: {cmds}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--chains", type=int, default=7)
    p.add_argument("--pools", nargs="+", default=["solo", "default"],
                   choices=["solo", "default"])
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
                log(f"round {rnd}: {pool}")
                run = one_worker(server, pool, args, logs, rnd)
                log(f"  round trip p50 {run['round_trip']['p50_ms']:.3f} ms, chain-100 first "
                    f"{run['chain100']['first_ms']:.1f} ms, then "
                    f"{run['chain100']['median_after_first_ms'] or 0:.1f} ms")
                runs.append(run)
        data = {"command": command_line("independent.py", argv), "tree": flowc_tree(),
                "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "machine": machine_info(server.version()), "runs": runs}
    finally:
        server.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "independent.json").write_text(json.dumps(data, indent=1) + "\n")
    (args.out / "independent.md").write_text(report(data))
    print(report(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
