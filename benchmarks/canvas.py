#!/usr/bin/env python
"""Canvas benchmark: flowc vs Celery 5 vs Huey 3 on one throwaway Redis (issue 5, item 8).

    python benchmarks/canvas.py            # 2 runs x 7 repetitions of each workload (~4 min)
    python benchmarks/canvas.py --quick    # smoke: 1 run x 2 repetitions

Per system (run 2 reverses the order), on a fresh Redis database: start the system's default
worker as a subprocess, wait until it is up, warm up (every workload, untimed), then time from
the client's submit call to the final result in the client:

- chord-1000: a chord of 1,000 no-op tasks (``noop(i)``) with a summing body;
- chain-100: a chain of 100 increments starting at 0;
- group-1000: a group of 1,000 no-ops, waiting for every (ordered) result;
- handoff: a chain of 100 ``stamp`` steps, each appending its start and end time (system-wide
  monotonic clock) to the list it passes on: successor start - predecessor end, per step.

and, for flowc alone with no worker running, the submit of a 10,000-node workflow
(``chord([noop.s(i) for i in range(10_000)], tsum.s()).delay()``, call to return). Writes
canvas_results.md / canvas_results.json next to this file (or ``--out``). See README.md.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(HERE / "apps"))

import redis  # noqa: E402
from bench_common import (  # noqa: E402
    RedisServer,
    WorkerProcess,
    flowc_tree,
    machine_info,
    percentile,
    worker_env,
)

SYSTEMS = ("flowc", "celery", "huey")
WORKLOADS = ("chord", "chain", "group")
SIZES = {"chord": 1000, "chain": 100, "group": 1000}
SIZES["chord_join"] = 1000
EXPECT = {"chord": sum(range(1000)), "chain": 100, "group": list(range(1000)),
          "chord_join": sum(range(1000))}
LABEL = {"chord": "chord-1000 (s)", "chain": "chain-100 (s)", "group": "group-1000 (s)"}
BOOT_TIMEOUT_S = 90.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%T')}] {msg}", file=sys.stderr, flush=True)


# --- the three systems, same methods ------------------------------------------------------------


class FlowcCanvas:
    name = "flowc"
    extra_workloads: tuple[str, ...] = ()

    def __init__(self, url: str, backend: str | None = None,
                 coordination: str | None = None) -> None:
        import flowc_canvas_app

        from flowc import chain, chord, group

        self.url = url
        self.backend = backend or url
        self.coordination = coordination  # transports.py: the Redis of heartbeats on RabbitMQ
        self.app = flowc_canvas_app.make_app(url, backend)
        t = self.app.tasks
        self.noop, self.inc, self.tsum, self.stamp = (t["cb.noop"], t["cb.inc"], t["cb.tsum"],
                                                      t["cb.stamp"])
        self._chain, self._chord, self._group = chain, chord, group

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "flowc", "worker", "-A", "flowc_canvas_app", "-l",
                "WARNING"]

    def worker_env(self) -> dict[str, str]:
        env = {"FLOWC_BROKER_URL": self.url, "FLOWC_RESULT_BACKEND": self.backend,
               "BENCH_REDIS_URL": self.url}
        if self.coordination:
            env["FLOWC_COORDINATION_URL"] = self.coordination
        return env

    def ready(self, client: redis.Redis) -> bool:
        """Every prefork child has written its first heartbeat."""
        return int(client.zcard(self.app.keys.workers())) >= (os.cpu_count() or 1)

    def build(self, kind: str, n: int) -> Any:
        if kind == "chord":
            return self._chord([self.noop.s(i) for i in range(n)], self.tsum.s())
        if kind == "chain":
            return self._chain(self.inc.s(0), *[self.inc.s() for _ in range(n - 1)])
        if kind == "group":
            return self._group(self.noop.s(i) for i in range(n))
        if kind == "stamp":
            return self._chain(self.stamp.s([]), *[self.stamp.s() for _ in range(n - 1)])
        raise ValueError(kind)

    def run(self, kind: str, canvas: Any, timeout: float) -> Any:
        return canvas.delay().get(timeout=timeout)

    def ping(self, timeout: float) -> Any:
        return self.noop.delay(1).get(timeout=timeout)

    def close(self) -> None:
        self.app.close()


class CeleryCanvas:
    name = "celery"
    extra_workloads: tuple[str, ...] = ()

    def __init__(self, url: str, backend: str | None = None, ready_url: str | None = None) -> None:
        import celery_canvas_app
        from celery import chain, chord, group

        self.url = url
        self.backend = backend
        self.ready_url = ready_url or url  # transports.py: a Redis beside a RabbitMQ broker
        self.mod = celery_canvas_app
        self.app = celery_canvas_app.make_app(url, backend)
        t = self.app.tasks
        self.noop, self.inc, self.tsum, self.stamp = (t["cb.noop"], t["cb.inc"], t["cb.tsum"],
                                                      t["cb.stamp"])
        self._chain, self._chord, self._group = chain, chord, group

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "celery_canvas_app", "worker", "-l",
                "WARNING"]

    def worker_env(self) -> dict[str, str]:
        env = {"BENCH_REDIS_URL": self.ready_url}
        if self.ready_url != self.url or self.backend:
            env["BENCH_BROKER_URL"] = self.url
            env["BENCH_BACKEND_URL"] = self.backend or self.url
        return env

    def ready(self, client: redis.Redis) -> bool:
        return bool(client.get(self.mod.READY_KEY))

    build = FlowcCanvas.build
    run = FlowcCanvas.run
    ping = FlowcCanvas.ping

    def close(self) -> None:
        self.app.close()
        self.app.pool.force_close_all()


class HueyCanvas:
    """Huey 3: ``pipeline`` (``.then``) for chains, its native ``group(...).then(body)`` chord
    (members report to a counter; the last one collects the results and enqueues the body),
    ``group`` -> ``ResultGroup``. Waits are ``get(blocking=True)`` with ``notify_result`` on."""

    name = "huey"
    extra_workloads = ("chord_join",)
    """Huey's chord again, emulated: the group, its results joined in the client, then the body
    enqueued with them (in case that beats the native chord's per-member bookkeeping)."""

    def __init__(self, url: str) -> None:
        import huey_canvas_app
        from huey import chord, group

        self.url = url
        self.huey, t = huey_canvas_app.make_huey(url)
        self.noop, self.inc, self.tsum, self.stamp = t["noop"], t["inc"], t["tsum"], t["stamp"]
        self._chord, self._group = chord, group

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "huey.bin.huey_consumer", "huey_canvas_app.huey", "-w",
                "2", "-k", "process", "-q"]

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_REDIS_URL": self.url}

    def ready(self, client: redis.Redis) -> bool:
        try:
            return self.ping(1.0) == 1
        except Exception:
            return False

    def build(self, kind: str, n: int) -> Any:
        if kind == "chord":
            return self._group([self.noop.s(i) for i in range(n)]).then(self.tsum)
        if kind in ("group", "chord_join"):
            return self._group([self.noop.s(i) for i in range(n)])
        step, first = (self.inc, 0) if kind == "chain" else (self.stamp, [])
        head = step.s(first)
        tail = head
        for _ in range(n - 1):  # Task.then appends at the tail by recursion; link directly
            tail.then(step)
            tail = tail.on_complete
        return head

    def run(self, kind: str, canvas: Any, timeout: float) -> Any:
        res = self.huey.enqueue(canvas)
        if kind == "chord_join":
            values = res.get(blocking=True, timeout=timeout)
            return self.tsum(values).get(blocking=True, timeout=timeout)
        if kind in ("chain", "stamp"):
            return list(res)[-1].get(blocking=True, timeout=timeout)  # the pipeline's last step
        return res.get(blocking=True, timeout=timeout)  # ChordResult: body; ResultGroup: all

    def ping(self, timeout: float) -> Any:
        return self.noop(1).get(blocking=True, timeout=timeout)

    def close(self) -> None:
        self.huey.storage.pool.disconnect()


def make_side(system: str, url: str) -> Any:
    return {"flowc": FlowcCanvas, "celery": CeleryCanvas, "huey": HueyCanvas}[system](url)


# --- measuring ----------------------------------------------------------------------------------


def summary(samples: list[float]) -> dict[str, Any]:
    s = sorted(samples)
    return {"n": len(s), "min": s[0], "median": statistics.median(s), "max": s[-1],
            "mean": statistics.fmean(s), "samples": samples}


def timed(side: Any, kind: str, n: int, timeout: float) -> tuple[float, float, Any]:
    """(build seconds, submit -> final result seconds, value)."""
    t0 = time.perf_counter()
    canvas = side.build(kind, n)
    t1 = time.perf_counter()
    value = side.run(kind, canvas, timeout)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, value


def handoffs(marks: list[list[float]]) -> list[float]:
    """Successor start - predecessor end, per step of a stamp chain (seconds)."""
    return [marks[k + 1][0] - marks[k][1] for k in range(len(marks) - 1)]


def run_system(system: str, server: RedisServer, args: argparse.Namespace,
               log_dir: Path) -> dict[str, Any]:
    url = server.next_url()
    client = redis.Redis.from_url(url)
    client.flushdb()
    side = make_side(system, url)
    out: dict[str, Any] = {"url": url, "loadavg_before": os.getloadavg()}
    worker = WorkerProcess(side.worker_cmd(), worker_env(side.worker_env()),
                           log_dir / f"canvas-{system}.log")
    out["worker_cmd"] = shlex.join(["python", *side.worker_cmd()[1:]])
    try:
        t_start = time.monotonic()
        worker.start()
        while not side.ready(client):
            if not worker.alive() or time.monotonic() - t_start > BOOT_TIMEOUT_S:
                raise RuntimeError(f"{system} worker did not come up:\n{worker.tail()}")
            time.sleep(0.02)
        assert side.ping(30) == 1
        out["boot_s"] = time.monotonic() - t_start
        for _ in range(args.warmup):
            for kind in WORKLOADS + side.extra_workloads:
                _, _, value = timed(side, kind, SIZES[kind], args.timeout)
                assert value == EXPECT[kind], (system, kind, value)
            timed(side, "stamp", 20, args.timeout)
        for kind in WORKLOADS + side.extra_workloads:
            total, build = [], []
            for _ in range(args.reps):
                b, t, value = timed(side, kind, SIZES[kind], args.timeout)
                if value != EXPECT[kind]:
                    raise RuntimeError(f"{system} {kind}: wrong result {str(value)[:80]}")
                total.append(t)
                build.append(b)
                time.sleep(args.pause)
            out[kind] = summary(total)
            out[kind]["build"] = summary(build)
            log(f"{system:6} {kind:5} min {min(total) * 1e3:8.1f} ms  median "
                f"{statistics.median(total) * 1e3:8.1f} ms  (build median "
                f"{statistics.median(build) * 1e3:.1f} ms)")
        hand: list[float] = []
        for _ in range(args.stamp_reps):
            _, _, marks = timed(side, "stamp", 100, args.timeout)
            assert len(marks) == 100
            hand += handoffs(marks)
            time.sleep(args.pause)
        hs = sorted(hand)
        out["handoff"] = {"n": len(hs), "median": statistics.median(hs),
                          "p10": percentile(hs, 10), "p90": percentile(hs, 90),
                          "mean": statistics.fmean(hs), "max": hs[-1]}
        log(f"{system:6} handoff median {out['handoff']['median'] * 1e3:.3f} ms, p90 "
            f"{out['handoff']['p90'] * 1e3:.3f} ms (successor start - predecessor end)")
    finally:
        worker.stop()
        side.close()
        out["loadavg_after"] = os.getloadavg()
        client.flushdb()
        client.close()
    return out


def submit_10k(server: RedisServer, args: argparse.Namespace) -> dict[str, Any]:
    """flowc only, no worker: ``chord([noop.s(i) for i in range(10_000)], tsum.s()).delay()``."""
    url = server.next_url()
    client = redis.Redis.from_url(url)
    client.flushdb()
    side = FlowcCanvas(url)
    build, submit = [], []
    try:
        for rep in range(args.submit_reps + 1):  # the first one is a warm-up
            t0 = time.perf_counter()
            canvas = side.build("chord", 10_000)
            t1 = time.perf_counter()
            canvas.delay()
            t2 = time.perf_counter()
            queued = side.app.broker.depth(side.app.conf.task_default_queue)["ready"]
            assert queued == 10_000, queued
            client.flushdb()
            if rep:
                build.append(t1 - t0)
                submit.append(t2 - t1)
    finally:
        side.close()
        client.flushdb()
        client.close()
    out = {"submit": summary(submit), "build": summary(build)}
    log(f"flowc  submit 10,000-node chord: min {min(submit) * 1e3:.1f} ms, median "
        f"{statistics.median(submit) * 1e3:.1f} ms (building the signatures: median "
        f"{statistics.median(build) * 1e3:.1f} ms)")
    return out


def run_once(index: int, order: list[str], server: RedisServer, args: argparse.Namespace,
             log_dir: Path) -> dict[str, Any]:
    run: dict[str, Any] = {"run": index, "order": order, "started": time.strftime("%F %T"),
                           "loadavg_start": os.getloadavg()}
    for system in order:
        run[system] = run_system(system, server, args, log_dir)
    if "flowc" in order:
        run["submit_10k"] = submit_10k(server, args)
    run["loadavg_end"] = os.getloadavg()
    return run


# --- the report ---------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1e3:,.1f}" if x >= 0.01 else f"{x * 1e3:.2f}"


def best(side: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    """A system's numbers for ``kind``; for a chord, its fastest variant by median (Huey: the
    native chord or the client-joined emulation, whichever was faster in that run)."""
    if side is None:
        return None
    if kind == "chord" and "chord_join" in side:
        return min(side["chord"], side["chord_join"], key=lambda x: x["median"])
    return side[kind]


def targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, judged on medians (min-based ratios shown alongside)."""
    f, c, h = run.get("flowc"), run.get("celery"), run.get("huey")
    rows: list[dict[str, Any]] = []

    def ratio(other: dict[str, Any] | None, kind: str, stat: str) -> float:
        peer = best(other, kind)
        return peer[stat] / f[kind][stat] if peer and f else float("nan")

    for kind, peer, side, need, strict in (("chord", "Celery", c, 10.0, False),
                                           ("chord", "Huey", h, 3.0, False),
                                           ("chain", "Celery", c, 5.0, False),
                                           ("chain", "Huey", h, 1.0, True)):
        med, mn = ratio(side, kind, "median"), ratio(side, kind, "min")
        want = f"> {need:g}x (faster)" if strict else f">= {need:g}x"
        met = (med > need) if strict else (med >= need)
        rows.append({"target": f"{SIZES[kind]:,}-task {kind}: {peer} / flowc {want}",
                     "median": med, "min": mn, "met": met if med == med else None})
    if f:
        step = f["chain"]["median"] / SIZES["chain"]
        rows.append({"target": "chain-100 per step (median / 100) <= ~0.3 ms",
                     "value_ms": step * 1e3,
                     "met": step <= 0.0003})
        rows.append({"target": "successor starts within ~0.3 ms (median stamp handoff)",
                     "value_ms": f["handoff"]["median"] * 1e3,
                     "met": f["handoff"]["median"] <= 0.0003})
    if run.get("submit_10k"):
        sub = run["submit_10k"]["submit"]["median"]
        rows.append({"target": "10,000-node workflow submit well under 1 s: <= 0.5 s (median)",
                     "value_ms": sub * 1e3, "met": sub <= 0.5})
    return rows


def write_report(data: dict[str, Any], out_dir: Path) -> None:
    runs = data["runs"]
    m = data["machine"]
    pk = m.get("packages", {})
    lines = [
        "# Canvas benchmark: flowc vs Celery 5 vs Huey 3 (issue 5, item 8)",
        "",
        f"Command: `{data['command']}`; {data['config']['reps']} timed repetitions of each "
        f"workload per system per run after {data['config']['warmup']} untimed warm-up "
        f"round(s) of every workload, {len(runs)} run(s) (run 2 in reverse system order).",
        "",
        f"Machine: {m.get('cpu_model', '?')}, {m['cpus']} CPUs, {m['memory_gb']} GB; Python "
        f"{m['python']}; redis-server {m['redis_server']} (private, loopback TCP, no "
        f"persistence); flowc {pk.get('flowc')} ({data.get('flowc_tree', '?')}), celery "
        f"{pk.get('celery')}, kombu {pk.get('kombu')}, huey {pk.get('huey')}, redis-py "
        f"{pk.get('redis')}, hiredis {pk.get('hiredis')}. Finished {data.get('finished')}.",
        "",
        f"Noise: Redis, the client and the worker under test share {m['cpus']} CPUs; the "
        "1-minute load averages below include the benchmark's own workers (it lags, so a "
        "phase inherits some of the previous system's load) and anything else running; above "
        f"{m['cpus']} means every process here waited for a CPU. Compare ratios within one "
        "run, not absolute times across runs or machines.",
        "",
        "Times are from the client's submit call (`.delay()` / `huey.enqueue()`) to the final "
        "result in the client, in ms; \"x\" columns are the peer's time divided by flowc's "
        "(how many times faster flowc is), on medians, min-based in brackets.",
        "",
    ]
    for r in runs:
        f = r.get("flowc")
        lines += [f"## Run {r['run']} ({r['started']}, order: {' then '.join(r['order'])}; "
                  f"1-min load average {r['loadavg_start'][0]:.2f} at start, "
                  f"{r['loadavg_end'][0]:.2f} at end)", "",
                  "| Workload | flowc min / median | Celery min / median | Huey min / median "
                  "| Celery ÷ flowc | Huey ÷ flowc |", "|---|---|---|---|---|---|"]
        for kind in WORKLOADS:
            cells = []
            for s in SYSTEMS:
                cells.append(f"{ms(r[s][kind]['min'])} / {ms(r[s][kind]['median'])}"
                             if s in r else "n/a")
            ratios = []
            for s in ("celery", "huey"):
                peer = best(r.get(s), kind)
                if peer and f:
                    ratios.append(f"{peer['median'] / f[kind]['median']:.1f}x "
                                  f"({peer['min'] / f[kind]['min']:.1f}x)")
                else:
                    ratios.append("n/a")
            lines.append(f"| {LABEL[kind].replace(' (s)', '')} | {' | '.join(cells)} | "
                         f"{' | '.join(ratios)} |")
            if kind == "chord" and "huey" in r and "chord_join" in r["huey"]:
                hj = r["huey"]["chord_join"]
                lines.append(f"| chord-1000, Huey emulated: group, results joined in the "
                             f"client, body enqueued with them | | | {ms(hj['min'])} / "
                             f"{ms(hj['median'])} | | (Huey ÷ flowc uses its faster chord) |")
        cells = [f"{ms(r[s]['chain']['min'] / 100)} / {ms(r[s]['chain']['median'] / 100)}"
                 if s in r else "n/a" for s in SYSTEMS]
        lines.append(f"| chain-100 per step (÷ 100) | {' | '.join(cells)} | | |")
        cells = [f"{ms(r[s]['handoff']['median'])} (p90 {ms(r[s]['handoff']['p90'])})"
                 if s in r else "n/a" for s in SYSTEMS]
        lines.append(f"| handoff: successor start - predecessor end, median | "
                     f"{' | '.join(cells)} | | |")
        if r.get("submit_10k"):
            sub = r["submit_10k"]
            lines.append(f"| submit of a 10,000-node chord, no worker (`.delay()` call to "
                         f"return) | {ms(sub['submit']['min'])} / {ms(sub['submit']['median'])}"
                         f" | | | | |")
        loads = ", ".join(f"{s} {r[s]['loadavg_before'][0]:.2f}" for s in r["order"])
        lines += ["", f"1-min load average when each system's phase started: {loads}.", ""]
        lines += ["| Target (issue 5) | median | min-based | met (on median) |",
                  "|---|---|---|---|"]
        for t in targets(r):
            met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
            if "value_ms" in t:
                lines.append(f"| {t['target']} | {t['value_ms']:.3f} ms | | {met} |")
            else:
                lines.append(f"| {t['target']} | {t['median']:.1f}x | {t['min']:.1f}x | {met} |")
        lines.append("")
    lines += ["Building the canvas objects is excluded from the times above (recorded as "
              "`build` in the JSON; flowc's 10,000-signature chord takes "
              + " / ".join(f"{ms(r['submit_10k']['build']['median'])}" for r in runs
                           if r.get("submit_10k"))
              + " ms to build, per run).", "",
              "Worker commands (run from `benchmarks/apps`, Redis URL from the environment):", ""]
    for s in SYSTEMS:
        if s in runs[0]:
            lines.append(f"- {s}: `{runs[0][s]['worker_cmd']}`")
    lines += ["", "What each system does and the caveats: [README.md](README.md#canvas-benchmark"
              "-flowc-vs-celery-5-vs-huey-3). Raw data: "
              "[canvas_results.json](canvas_results.json).", ""]
    (out_dir / "canvas_results.md").write_text("\n".join(lines))
    (out_dir / "canvas_results.json").write_text(json.dumps(data, indent=2, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 run, 2 repetitions")
    p.add_argument("--runs", type=int, help="full runs, alternating the order (default 2)")
    p.add_argument("--reps", type=int, help="timed repetitions per workload (default 7)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds of every workload")
    p.add_argument("--stamp-reps", type=int, default=3, help="100-step stamp chains (handoff)")
    p.add_argument("--submit-reps", type=int, default=5, help="10,000-node submits (flowc)")
    p.add_argument("--pause", type=float, default=0.1, help="seconds between repetitions")
    p.add_argument("--timeout", type=float, default=120.0, help="per-result timeout (s)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma list")
    p.add_argument("--out", type=Path, default=HERE, help="where canvas_results.md/json go")
    p.add_argument("--report-only", type=Path, metavar="JSON",
                   help="re-render canvas_results.md from a canvas_results.json and exit")
    args = p.parse_args(argv)
    if args.report_only:
        write_report(json.loads(args.report_only.read_text()), args.out)
        return 0
    args.runs = args.runs or (1 if args.quick else 2)
    args.reps = args.reps or (2 if args.quick else 7)
    if args.quick:
        args.warmup, args.stamp_reps, args.submit_reps = 1, 1, 2
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    log_dir = args.out / "logs"
    log_dir.mkdir(exist_ok=True)
    command = "python benchmarks/canvas.py" + "".join(
        f" {shlex.quote(a)}" for a in (argv if argv is not None else sys.argv[1:]))
    server = RedisServer()
    server.start()
    log(f"redis-server {server.version()} on {server.url} (pid {server.proc.pid})")
    data: dict[str, Any] = {
        "command": command, "machine": machine_info(server.version()),
        "flowc_tree": flowc_tree(),
        "config": {k: getattr(args, k) for k in ("runs", "reps", "warmup", "stamp_reps",
                                                  "submit_reps", "pause", "timeout")},
        "sizes": SIZES, "runs": []}
    try:
        for i in range(args.runs):
            order = systems if i % 2 == 0 else list(reversed(systems))
            log(f"run {i + 1}/{args.runs}: {' then '.join(order)} (load {os.getloadavg()[0]:.2f})")
            data["runs"].append(run_once(i + 1, order, server, args, log_dir))
    finally:
        server.stop()
    data["finished"] = time.strftime("%F %T")
    if set(SYSTEMS) <= set(systems):
        write_report(data, args.out)
        log(f"wrote {args.out / 'canvas_results.md'} and canvas_results.json")
    else:
        print(json.dumps(data, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
