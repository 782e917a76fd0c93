#!/usr/bin/env python
"""flowc vs Celery 5 on RabbitMQ and PostgreSQL, side by side (issue 15, item 5).

    python benchmarks/transports.py            # 4 runs, ABAB (~25 min on 2 loaded cores)
    python benchmarks/transports.py --quick    # smoke: 2 runs, fewer tasks and repetitions

Two columns, the same servers for both systems:

- ``rabbitmq``: RabbitMQ broker (a private vhost per system, deleted at the end), results in a
  private ``redis-server`` (flowc's coordination Redis too: heartbeats have no AMQP port yet).
- ``postgresql``: RabbitMQ broker, results (and flowc's workflow join) in a private PostgreSQL
  database made for the run and dropped after it; Celery uses its SQLAlchemy database backend
  (``db+postgresql+psycopg://``), flowc its ``postgresql://`` backend.

Per column, system and run, with the systems' default workers (run.py's and canvas.py's apps and
worker commands): ``drain`` (N no-ops queued with no worker running, then the worker started;
rate from the workers' own ``date_done``, first to last, as in run.py), ``round trip``
(sequential ``noop.delay(i).get()`` with the worker idle), then, with canvas.py's app,
``chord-1000`` and ``chain-100`` (submit to final value in the client, median of the
repetitions). Runs alternate the system order (flowc first in odd runs, Celery first in even
ones) phase by phase, so both see the same machine load. Writes transports_results.md / .json
next to this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "apps"))

import orjson  # noqa: E402
import pika  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
from bench_common import (  # noqa: E402
    RedisServer,
    WorkerProcess,
    command_line,
    drain_summary,
    flowc_tree,
    fmt_load,
    latency_summary,
    loadavg,
    machine_info,
    worker_env,
)

AMQP = os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
"""The shared servers (the ones the tests use); the benchmark only makes and drops its own vhosts
and database on them."""
COLUMNS = ("rabbitmq", "postgresql")
SYSTEMS = ("flowc", "celery")
QUEUE = "celery"  # both systems' default queue
BOOT_TIMEOUT_S = 90.0
CANVAS = {"chord": (1000, sum(range(1000))), "chain": (100, 100)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%T')}] {msg}", file=sys.stderr, flush=True)


# --- the servers ------------------------------------------------------------------------------


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


class Servers:
    """A private redis-server, a RabbitMQ vhost per system and a PostgreSQL database, all
    removed by ``close()``."""

    def __init__(self, systems: list[str]) -> None:
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.redis = RedisServer()
        self.vhosts = {s: f"flowc-bench-{tag}-{s}" for s in systems}
        self.database = f"flowc_bench_{tag.replace('-', '_')}"
        self.made: list[str] = []

    def open(self) -> None:
        self.redis.start()
        for vhost in self.vhosts.values():
            rabbitmqctl("add_vhost", vhost)
            self.made.append(vhost)
            rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')  # type: ignore[arg-type]
        self.made.append(self.database)

    def close(self) -> None:
        for vhost in self.vhosts.values():
            if vhost in self.made:
                with contextlib.suppress(Exception):
                    rabbitmqctl("delete_vhost", vhost)
        if self.database in self.made:
            with contextlib.suppress(Exception), \
                    psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{self.database}" WITH (FORCE)')  # type: ignore[arg-type]
        self.redis.stop()

    def broker(self, system: str) -> str:
        return f"{AMQP}/{self.vhosts[system]}"

    def backend(self, system: str, column: str, redis_url: str) -> str:
        if column == "rabbitmq":
            return redis_url
        scheme = "postgresql" if system == "flowc" else "db+postgresql+psycopg"
        return f"{scheme}{POSTGRES[len('postgresql'):]}/{self.database}"

    def pg(self) -> str:
        return f"{POSTGRES}/{self.database}"

    def versions(self) -> dict[str, str]:
        out = {"redis_server": self.redis.version()}
        with contextlib.suppress(Exception), psycopg.connect(self.pg()) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            out["postgresql"] = str(row[0]) if row else "?"
        with contextlib.suppress(Exception):
            out["rabbitmq"] = subprocess.run(["rabbitmqctl", "-q", "version"], check=True,
                                             capture_output=True, text=True).stdout.strip()
        return out


class Stores:
    """The benchmark's own view of one phase's queue and result store (not the systems' APIs:
    polling must not slow the systems down more than it must)."""

    def __init__(self, servers: Servers, system: str, column: str, redis_url: str) -> None:
        self.system, self.column = system, column
        self.redis = redis.Redis.from_url(redis_url)
        self.redis.flushdb()
        self.amqp = pika.BlockingConnection(pika.URLParameters(servers.broker(system)))
        self.channel = self.amqp.channel()
        self.pg = psycopg.connect(servers.pg(), autocommit=True) if column == "postgresql" \
            else None
        self.reset()

    def reset(self) -> None:
        """Empty the queue and the result tables a previous phase may have left."""
        with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
            self.channel.queue_purge(QUEUE)
        if self.channel.is_closed:
            self.channel = self.amqp.channel()
        if self.pg is not None:
            present = {r[0] for r in self.pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
            tables = [t for t in ("flowc_values", "flowc_nodes", "flowc_runs", "flowc_keys",
                                  "flowc_results", "celery_taskmeta", "celery_tasksetmeta")
                      if t in present]
            if tables:
                self.pg.execute(f"TRUNCATE {', '.join(tables)}")  # type: ignore[arg-type]

    def queued(self) -> int:
        """Messages ready in the queue (prefetched, unacknowledged ones are not counted)."""
        try:
            return int(self.channel.queue_declare(QUEUE, passive=True).method.message_count)
        except pika.exceptions.ChannelClosedByBroker:  # not declared yet
            self.channel = self.amqp.channel()
            return 0

    def stored(self, side: Any, ids: list[str]) -> int:
        if self.pg is None:
            return int(self.redis.exists(*side.result_keys(ids)))
        table = "flowc_results" if self.system == "flowc" else "celery_taskmeta"
        col = "record" if self.system == "flowc" else "date_done"
        row = self.pg.execute(f"SELECT count(*) FROM {table} WHERE task_id = ANY(%s) "  # type: ignore[arg-type]
                              f"AND {col} IS NOT NULL", (ids,)).fetchone()
        return int(row[0]) if row else 0

    def done_times(self, side: Any, ids: list[str]) -> tuple[list[float], int]:
        if self.pg is None:
            return side.done_times(self.redis, ids)  # type: ignore[no-any-return]
        from bench_common import iso_to_epoch

        times: list[float] = []
        bad = 0
        if self.system == "flowc":
            for (raw,) in self.pg.execute("SELECT record FROM flowc_results WHERE task_id = "
                                          "ANY(%s) AND record IS NOT NULL", (ids,)):
                rec = orjson.loads(bytes(raw)[1:])  # a content-tag byte, then the JSON record
                bad += rec.get("status") != "SUCCESS"
                times.append(iso_to_epoch(rec["date_done"]))
        else:
            for status, done in self.pg.execute("SELECT status, date_done FROM celery_taskmeta "
                                                "WHERE task_id = ANY(%s)", (ids,)):
                bad += status != "SUCCESS"
                times.append((done if done.tzinfo else done.replace(tzinfo=UTC)).timestamp())
        return times, bad

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.amqp.close()
        if self.pg is not None:
            self.pg.close()
        self.redis.flushdb()
        self.redis.close()


# --- the phases -------------------------------------------------------------------------------


def make_side(kind: str, system: str, servers: Servers, column: str, redis_url: str) -> Any:
    broker, backend = servers.broker(system), servers.backend(system, column, redis_url)
    os.environ["FLOWC_COORDINATION_URL"] = redis_url  # the in-process flowc app's, too
    if kind == "basic":
        if system == "flowc":
            from bench_flowc import FlowcSide

            return FlowcSide(broker, backend, coordination=redis_url)
        from bench_celery import CelerySide

        side: Any = CelerySide(broker, backend, ready_url=redis_url)
    else:
        from canvas import CeleryCanvas, FlowcCanvas

        if system == "flowc":
            return FlowcCanvas(broker, backend, coordination=redis_url)
        side = CeleryCanvas(broker, backend, ready_url=redis_url)
    if column == "postgresql":  # create Celery's tables now, not in racing pool processes
        side.app.backend.ResultSession().close()
    return side


def close_side(side: Any) -> None:
    side.close()
    if side.name == "celery":
        # kombu keeps connection pools in process-wide registries keyed by URL; the next phase
        # on the same vhost would otherwise get the pool this one just closed
        import kombu.pools

        kombu.pools.reset()


def start_worker(side: Any, cmd: list[str], stores: Stores, log_path: Path,
                 ready: Any) -> tuple[WorkerProcess, float]:
    worker = WorkerProcess(cmd, worker_env(side.worker_env()), log_path)
    worker.start()
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while (t_ready := ready()) is None:
        if not worker.alive() or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"worker did not come up:\n{worker.tail()}")
        time.sleep(0.01)
    return worker, t_ready


def enqueue(side: Any, system: str, n: int) -> dict[str, Any]:
    """flowc: batches of 1,000 (``App.build_message`` + ``App.publish``: one AMQP transaction
    each, since a single ``delay()`` waits for its own confirm); Celery: one ``delay()`` at a
    time (its only path; a group publishes one message at a time too, without confirms)."""
    t0 = time.perf_counter()
    if system == "flowc":
        app, task = side.app, side.task
        ids = []
        for lo in range(0, n, 1000):
            msgs = [app.build_message(task.name, [i], {}, task, {})
                    for i in range(lo, min(n, lo + 1000))]
            app.publish(msgs)
            ids += [m.id for m in msgs]
        api = "App.build_message + App.publish, 1,000 per batch"
    else:
        ids, _ = side.enqueue(n, lambda k: None)
        api = "noop.delay(i), one at a time"
    secs = time.perf_counter() - t0
    return {"ids": ids, "per_s": n / secs, "seconds": secs, "api": api}


def run_basic(system: str, column: str, servers: Servers, args: argparse.Namespace,
              log_dir: Path) -> dict[str, Any]:
    """Enqueue N, start the default worker, drain; then sequential round trips."""
    redis_url = servers.redis.next_url()
    stores = Stores(servers, system, column, redis_url)
    side = make_side("basic", system, servers, column, redis_url)
    out: dict[str, Any] = {"loadavg_before": loadavg()}
    worker = None
    try:
        n = args.tasks
        enq = enqueue(side, system, n)
        ids = enq.pop("ids")
        out["enqueue"] = enq
        cmd = side.worker_cmd("default")
        out["worker_cmd"] = shlex.join(["python", *cmd[1:]])
        seen: dict[bytes, float] = {}
        worker, t_ready = start_worker(
            side, cmd, stores, log_dir / f"transports-{column}-{system}.log",
            lambda: side.ready_time(stores.redis, os.cpu_count() or 1, seen))
        deadline = time.monotonic() + max(180.0, n / 50)
        done = 0
        while done < n:
            time.sleep(args.poll)
            waiting = stores.queued()
            done = stores.stored(side, ids) if waiting == 0 else 0
            if not worker.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{system} {column} drain stalled at {done}/{n}:\n"
                                   + worker.tail())
        times, bad = stores.done_times(side, ids)
        drain = drain_summary(n, times, t_ready)
        drain["not_success"] = bad
        out["drain"] = drain
        log(f"{column:10} {system:6} enqueue {enq['per_s']:8,.0f}/s  drain "
            f"{drain.get('first_to_last_per_s', 0):8,.0f}/s first->last (middle 90%: "
            f"{drain.get('middle_90_per_s', 0):,.0f}/s)")
        count = args.latency if column == "rabbitmq" else args.latency_pg
        samples = side.round_trips(count, args.warmup)
        out["round_trip"] = latency_summary(samples)
        rt = out["round_trip"]
        log(f"{column:10} {system:6} round trip p50 {rt['p50_ms']:.3f} ms, p90 "
            f"{rt['p90_ms']:.3f} ms (n={rt['n']})")
    finally:
        if worker is not None:
            worker.stop()
        close_side(side)
        stores.close()
    out["loadavg_after"] = loadavg()
    return out


def run_canvas(system: str, column: str, servers: Servers, args: argparse.Namespace,
               log_dir: Path) -> dict[str, Any]:
    """canvas.py's default worker; warm-up, then ``--reps`` chord-1000 and chain-100."""
    from canvas import summary, timed

    redis_url = servers.redis.next_url()
    stores = Stores(servers, system, column, redis_url)
    side = make_side("canvas", system, servers, column, redis_url)
    out: dict[str, Any] = {"loadavg_before": loadavg()}
    worker = None
    try:
        cmd = side.worker_cmd()
        out["worker_cmd"] = shlex.join(["python", *cmd[1:]])
        worker, _ = start_worker(side, cmd, stores, log_dir / f"transports-canvas-{column}-"
                                 f"{system}.log",
                                 lambda: time.time() if side.ready(stores.redis) else None)
        assert side.ping(60) == 1
        for _ in range(args.canvas_warmup):  # untimed: a chain reaches every pool process
            assert timed(side, "chain", CANVAS["chain"][0], args.timeout)[2] == CANVAS["chain"][1]
        for kind, (n, want) in CANVAS.items():
            samples = []
            for _ in range(args.reps):
                _, secs, value = timed(side, kind, n, args.timeout)
                if value != want:
                    raise RuntimeError(f"{system} {column} {kind}: wrong result {value!r:.80}")
                samples.append(secs)
            out[kind] = summary(samples)
            log(f"{column:10} {system:6} {kind}-{n}: median "
                f"{statistics.median(samples) * 1e3:,.1f} ms (min {min(samples) * 1e3:,.1f})")
    finally:
        if worker is not None:
            worker.stop()
        close_side(side)
        stores.close()
    out["loadavg_after"] = loadavg()
    return out


def run_once(index: int, order: list[str], servers: Servers, args: argparse.Namespace,
             log_dir: Path) -> dict[str, Any]:
    run: dict[str, Any] = {"run": index, "order": order, "started": time.strftime("%F %T"),
                           "loadavg_start": loadavg()}
    for column in args.columns:
        col: dict[str, Any] = {s: {} for s in order}
        for phase, fn in (("basic", run_basic), ("canvas", run_canvas)):
            for system in order:  # A B here, B A in the next run
                col[system][phase] = fn(system, column, servers, args, log_dir)
        run[column] = col
    run["loadavg_end"] = loadavg()
    return run


# --- the report -------------------------------------------------------------------------------

METRICS = [
    # key, label, unit, extract, better ("hi": rate; "lo": time), target (ratio, text) per column
    ("drain", "Drain, default worker (tasks/s, first->last result)", "/s",
     lambda p: p["basic"]["drain"]["first_to_last_per_s"], "hi"),
    ("rt_p50", "Round trip `delay(x).get()` p50 (ms)", "ms",
     lambda p: p["basic"]["round_trip"]["p50_ms"], "lo"),
    ("rt_p90", "Round trip p90 (ms)", "ms", lambda p: p["basic"]["round_trip"]["p90_ms"], "lo"),
    ("chord", "chord-1000, submit -> sum in the client (ms, median)", "ms",
     lambda p: p["canvas"]["chord"]["median"] * 1e3, "lo"),
    ("chain", "chain-100, submit -> value in the client (ms, median)", "ms",
     lambda p: p["canvas"]["chain"]["median"] * 1e3, "lo"),
    ("drain_mid", "Drain, middle 90% of completions (tasks/s)", "/s",
     lambda p: p["basic"]["drain"].get("middle_90_per_s", float("nan")), "hi"),
    ("enqueue", "Enqueue for the drain (tasks/s; flowc batches of 1,000, Celery one "
     "`delay()` at a time: not comparable)", "/s", lambda p: p["basic"]["enqueue"]["per_s"], "-"),
]
TARGETS = {("rabbitmq", "drain"): (5.0, "flowc/Celery >= 5"),
           ("rabbitmq", "rt_p50"): (2.0, "Celery/flowc >= 2 (flowc <= 1/2)"),
           ("postgresql", "chord"): (5.0, "Celery/flowc >= 5")}


def advantage(key: str, better: str, f: float, c: float) -> float:
    """How many times better flowc is: flowc/Celery for rates, Celery/flowc for times."""
    if better == "hi":
        return f / c if c else float("nan")
    return c / f if f else float("nan")


def fmt(v: float, unit: str) -> str:
    if v != v:
        return "n/a"
    return f"{v:,.0f}" if unit == "/s" else (f"{v:,.1f}" if v >= 100 else f"{v:.2f}")


def table(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for column in data["config"]["columns"]:
        for key, label, unit, get, better in METRICS:
            f = [get(r[column]["flowc"]) for r in data["runs"]]
            c = [get(r[column]["celery"]) for r in data["runs"]]
            adv = [advantage(key, better, a, b) for a, b in zip(f, c, strict=True)]
            need, text = TARGETS.get((column, key), (None, "-"))
            med = statistics.median(adv) if better != "-" else float("nan")
            rows.append({"column": column, "key": key, "label": label, "unit": unit,
                         "flowc": f, "celery": c, "advantage": adv if better != "-" else [],
                         "median_advantage": med, "target": text,
                         "met": None if need is None else med >= need,
                         "met_runs": [] if need is None else [a >= need for a in adv]})
    return rows


def spread(values: list[float]) -> str:
    ok = [v for v in values if v == v and v > 0]
    return f"{max(ok) / min(ok) - 1:.0%}" if len(ok) > 1 else "-"


def write_report(data: dict[str, Any], out_dir: Path) -> None:
    rows = table(data)
    data["summary"] = rows
    runs = data["runs"]
    m, cfg = data["machine"], data["config"]
    pk = m.get("packages", {})
    loads = [r[col][s][ph]["loadavg_before"][0] for r in runs for col in cfg["columns"]
             for s in SYSTEMS for ph in ("basic", "canvas")]
    lines = [
        "# flowc vs Celery 5 on RabbitMQ and PostgreSQL (issue 15, item 5)",
        "",
        f"Command: `{data['command']}`: {len(runs)} runs, system order alternating phase by "
        f"phase (flowc first in runs 1, 3, ...; Celery first in runs 2, 4, ...); drain of "
        f"{cfg['tasks']:,} tasks; {cfg['latency']} round trips on the `rabbitmq` column, "
        f"{cfg['latency_pg']} on `postgresql` (Celery's database backend polls: a read, "
        "then one every 0.5 s); "
        f"{cfg['reps']} timed chord-1000 and chain-100 after {cfg['canvas_warmup']} untimed "
        "chain-100. Each cell lists the runs in order.",
        "",
        f"**Loaded machine.** {m['cpus']} CPUs shared with other engineers' test suites: the "
        f"1-minute load average at the phase starts was {min(loads):.2f}-{max(loads):.2f} "
        f"(median {statistics.median(loads):.2f}). Absolute figures are from a loaded machine "
        "and move from run to run (spread column); both systems ran each phase back to back, "
        "in alternating order, so the **ratios** are what to read.",
        "",
        f"Machine: {m.get('cpu_model', '?')}, {m['cpus']} CPUs, {m['memory_gb']} GB; Python "
        f"{m['python']}; RabbitMQ {data['servers'].get('rabbitmq', '?')} (shared server, a "
        f"private vhost per system), PostgreSQL {data['servers'].get('postgresql', '?')} "
        f"(shared server, a private database), redis-server {data['servers']['redis_server']}"
        f" (private); celery {pk.get('celery')}, kombu {pk.get('kombu')}, py-amqp "
        f"{pk.get('amqp')}, SQLAlchemy {pk.get('sqlalchemy')}; pika {pk.get('pika')}, psycopg "
        f"{pk.get('psycopg')}; flowc {data.get('flowc_tree', '?')}. Finished "
        f"{data.get('finished')}.",
        "",
        "Columns: **rabbitmq** = RabbitMQ broker + Redis results (both systems); "
        "**postgresql** = RabbitMQ broker + PostgreSQL results (flowc `postgresql://`, its "
        "join in PostgreSQL too; Celery `db+postgresql+psycopg://`, SQLAlchemy, chords joined "
        "by `chord_unlock`). \"x better\" is flowc/Celery for rates and Celery/flowc for "
        "times, per run, then the median over runs.",
        "",
        "| Column | Metric | flowc | Celery | x better (per run) | median | spread flowc / "
        "Celery | Target | Met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        u = r["unit"]
        adv = " / ".join(f"{a:.2f}" for a in r["advantage"]) or "-"
        med = f"**{r['median_advantage']:.2f}**" if r["advantage"] else "-"
        met = "-" if r["met"] is None else (
            ("yes" if r["met"] else "**no**") + " (runs: "
            + " ".join("y" if x else "n" for x in r["met_runs"]) + ")")
        lines.append(
            f"| {r['column']} | {r['label']} | {' / '.join(fmt(v, u) for v in r['flowc'])} | "
            f"{' / '.join(fmt(v, u) for v in r['celery'])} | {adv} | {med} | "
            f"{spread(r['flowc'])} / {spread(r['celery'])} | {r['target']} | {met} |")
    lines += ["", "1-minute load average at each phase start (`column/phase: system load`):", ""]
    for r in runs:
        parts = []
        for col in cfg["columns"]:
            for ph in ("basic", "canvas"):
                parts.append(f"{col}/{ph}: " + ", ".join(
                    f"{s} {r[col][s][ph]['loadavg_before'][0]:.2f}" for s in r["order"]))
        lines.append(f"- run {r['run']} ({r['started']}, {' then '.join(r['order'])}; "
                     f"load {fmt_load(r['loadavg_start'])} at start): " + "; ".join(parts))
    lines += ["", "Worker commands (from `benchmarks/apps`; URLs from the environment: "
              "`FLOWC_BROKER_URL`, `FLOWC_RESULT_BACKEND`, `FLOWC_COORDINATION_URL` / "
              "`BENCH_BROKER_URL`, `BENCH_BACKEND_URL`):", ""]
    first = runs[0][cfg["columns"][0]]
    for s in SYSTEMS:
        for ph in ("basic", "canvas"):
            lines.append(f"- {s} {ph}: `{first[s][ph]['worker_cmd']}`")
    lines += ["", "How it is measured: [README.md](README.md#rabbitmq-and-postgresql-transportspy)"
              ". Raw data: [transports_results.json](transports_results.json).", ""]
    (out_dir / "transports_results.md").write_text("\n".join(lines))
    (out_dir / "transports_results.json").write_text(json.dumps(data, indent=2, default=str)
                                                     + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke: 2 runs, 1,000 tasks, 1 rep")
    p.add_argument("--runs", type=int, help="runs, system order alternating (default 4)")
    p.add_argument("--tasks", type=int, help="drain size (default 3,000)")
    p.add_argument("--latency", type=int, default=300, help="round trips, rabbitmq column")
    p.add_argument("--latency-pg", type=int, default=40, help="round trips, postgresql column")
    p.add_argument("--warmup", type=int, default=10, help="untimed round trips first")
    p.add_argument("--reps", type=int, help="timed chord/chain repetitions (default 2)")
    p.add_argument("--canvas-warmup", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--poll", type=float, default=0.05, help="drain completion poll (s)")
    p.add_argument("--columns", default=",".join(COLUMNS))
    p.add_argument("--out", type=Path, default=HERE)
    p.add_argument("--report-only", type=Path, metavar="JSON")
    args = p.parse_args(argv)
    if args.report_only:
        write_report(json.loads(args.report_only.read_text()), args.out)
        return 0
    args.runs = args.runs or (2 if args.quick else 4)
    args.tasks = args.tasks or (1_000 if args.quick else 3_000)
    args.reps = args.reps or (1 if args.quick else 2)
    if args.quick:
        args.latency, args.latency_pg = min(args.latency, 50), min(args.latency_pg, 10)
    args.columns = [c for c in args.columns.split(",") if c]
    log_dir = args.out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    servers = Servers(list(SYSTEMS))
    data: dict[str, Any] = {"command": command_line("transports.py", argv), "runs": [],
                            "flowc_tree": flowc_tree(),
                            "config": {k: getattr(args, k) for k in (
                                "runs", "tasks", "latency", "latency_pg", "warmup", "reps",
                                "canvas_warmup", "poll", "columns")}}
    try:
        servers.open()
        data["servers"] = servers.versions()
        data["machine"] = machine_info(data["servers"]["redis_server"])
        from importlib.metadata import version

        for mod in ("amqp", "pika", "psycopg", "sqlalchemy"):
            with contextlib.suppress(Exception):
                data["machine"]["packages"][mod] = version(mod)
        for i in range(args.runs):
            order = list(SYSTEMS) if i % 2 == 0 else list(reversed(SYSTEMS))
            log(f"run {i + 1}/{args.runs}: {' then '.join(order)}, load {fmt_load(loadavg())}")
            data["runs"].append(run_once(i + 1, order, servers, args, log_dir))
    finally:
        servers.close()
    data["finished"] = time.strftime("%F %T %Z")
    write_report(data, args.out)
    log(f"wrote {args.out / 'transports_results.md'}")
    print((args.out / "transports_results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
