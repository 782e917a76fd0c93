"""Faults a deployment meets, each run against real processes and a private Redis, counted.

Each test prints one row (lost / ran twice / recovery seconds; see ``conftest``) and asserts
what flowc promises: nothing is lost, and a task runs twice only in the ways
docs/reliability.md lists (a worker killed or frozen while running it).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import reliability_app as ra
from flowc.runtime.app import App

from tests.chaos.conftest import Cluster, Row
from tests.reliability.test_clock_skew import AHEAD, needs_faketime
from tests.reliability.test_redelivery import _kill_one
from tests.runtime.beat_support import sent
from tests.runtime.test_beat_processes import leader_pid, spawn_beat
from tests.waiting import WorkerProcess, wait_until

pytestmark = [pytest.mark.timeout(600)]


def _runs(cluster: Cluster) -> Counter[int]:
    """How many times each ``record(i)`` ran (from ``rel:execs``: one token per run)."""
    return Counter(int(v.split(b":")[0]) for v in cluster.redis.smembers("rel:execs"))


def _all_ran(cluster: Cluster, ids: range, timeout_s: float) -> float | None:
    """Wait until every id in ``ids`` ran once at least; when that happened, or None."""
    deadline = time.monotonic() + timeout_s
    want = set(ids)
    while time.monotonic() < deadline:
        if want <= set(_runs(cluster)):
            return time.monotonic()
        time.sleep(0.05)
    return None


def _recovered(cluster: Cluster) -> int:
    """Messages the workers recovered from claims whose reply was lost (their logs)."""
    text = "\n".join(w.log for w in cluster.workers)
    return sum(int(n) for n in re.findall(r"recovered (\d+) message", text))


def _twice(runs: Counter[int]) -> int:
    return sum(n - 1 for n in runs.values() if n > 1)


def _consumer_pids(cluster: Cluster, solos: list[WorkerProcess]) -> list[int]:
    """The pids of every consumer process: solo workers and prefork pool processes."""
    pids = [w.proc.pid for w in solos if w.alive]
    for w in cluster.workers:
        if w.alive and w not in solos:
            pids += [c.pid for c in w.children()]
    return pids


def _consumer_by_pid(cluster: Cluster, pid: int) -> str | None:
    for raw in cluster.redis.zrange("flowc:workers", 0, -1):
        if cluster.redis.hget(f"flowc:worker:{raw.decode()}", "pid") == str(pid).encode():
            return str(raw.decode())
    return None


def _consumer_of(cluster: Cluster, worker: WorkerProcess) -> str:
    """The consumer name of a solo worker (its heartbeat hash holds its pid)."""
    for raw in cluster.redis.zrange("flowc:workers", 0, -1):
        name = raw.decode()
        if cluster.redis.hget(f"flowc:worker:{name}", "pid") == str(worker.proc.pid).encode():
            return name
    raise AssertionError(f"no consumer for pid {worker.proc.pid}")


def _pending_of(cluster: Cluster, consumer: str) -> int:
    total = 0
    for p in range(10):
        rows: Any = cluster.redis.xpending_range(f"flowc:{{q:celery}}:p{p}", "workers", "-",
                                                 "+", 1000, consumer)
        total += len(rows)
    return total


def test_sigkill_storm(cluster: Cluster, rel_app: App, report: list[Row]) -> None:
    # Given three solo workers and a prefork worker with two pool processes (late acks)
    solos = [cluster.start("-P", "solo") for _ in range(3)]
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    rng = random.Random(14)
    n = 4000
    for i in range(n):
        ra.record.delay(i, rng.uniform(0.005, 0.015))
    # When 20 consumer processes are SIGKILLed at random moments (solos replaced)
    killed: dict[str, float] = {}
    back: dict[str, float] = {}
    watching = threading.Event()

    def watch() -> None:  # when each killed consumer's claims were all returned
        while not watching.is_set():
            for name, at in list(killed.items()):
                if name not in back and _pending_of(cluster, name) == 0:
                    back[name] = time.monotonic() - at
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(20):
            time.sleep(rng.uniform(0.1, 0.3))  # not a wait: the random kill schedule under test
            names = {_consumer_by_pid(cluster, p) for p in _consumer_pids(cluster, solos)}
            _kill_one(cluster, rng, solos)
            gone = names - {_consumer_by_pid(cluster, p)
                            for p in _consumer_pids(cluster, solos)}
            killed.update(dict.fromkeys((g for g in gone if g), time.monotonic()))
        done = _all_ran(cluster, range(n), 120)
        wait_until(lambda: len(back) == len(killed), 30, "every kill's claims returned")
    finally:
        watching.set()
        watcher.join()
    runs = _runs(cluster)
    lost = n - len(set(runs) & set(range(n)))
    report.append(Row("SIGKILL storm: 20 kills among 5 consumers, 4,000 late-acked tasks", n,
                      lost, _twice(runs), max(back.values()),
                      f"recovery: a kill to its claims back on the queue, longest of "
                      f"{len(back)} (median {sorted(back.values())[len(back) // 2]:.2f} s); "
                      f"a task killed while running runs again (at-least-once)"))
    assert done is not None and lost == 0, cluster.logs()
    assert _twice(runs) <= 20  # at most the task each killed process was running


def test_sigstop_freezes(cluster: Cluster, rel_app: App, report: list[Row]) -> None:
    # Given two solo workers with 8 messages prefetched each, 2,500 tasks of 20 ms
    env = {"REL_PREFETCH": "8"}
    workers = [cluster.start("-P", "solo", env=env) for _ in range(2)]
    names = [_consumer_of(cluster, w) for w in workers]
    n = 2500
    for i in range(n):
        ra.record.delay(i, 0.02)
    back = []
    # When each is frozen (SIGSTOP) for 6 s, twice over, while the other works
    for round_ in range(4):
        worker, name = workers[round_ % 2], names[round_ % 2]
        wait_until(lambda w=name: _pending_of(cluster, w) > 1, 20, "a prefetched batch")
        stopped = time.monotonic()
        worker.proc.send_signal(signal.SIGSTOP)
        try:
            # Then its claims are given back within lost_after (2 s) + the reap interval
            wait_until(lambda w=name: _pending_of(cluster, w) == 0, 15,
                       "the frozen worker's claims to be returned")
            back.append(time.monotonic() - stopped)
            time.sleep(max(0.0, 6.0 - (time.monotonic() - stopped)))  # the freeze itself
        finally:
            worker.proc.send_signal(signal.SIGCONT)
    done = _all_ran(cluster, range(n), 180)
    assert done is not None, cluster.logs()
    runs = _runs(cluster)
    dropped = sum(w.log.count("given to other workers meanwhile") for w in workers)
    report.append(Row("SIGSTOP: 4 freezes of 6 s, 2 workers prefetching 8, 2,500 tasks", n,
                      n - len(set(runs)), _twice(runs), max(back),
                      f"recovery: freeze to its claims returned (longest); resumed workers "
                      f"dropped given-away batches {dropped} times; a twice-run task is the "
                      f"one running when frozen"))
    assert _twice(runs) <= 4, cluster.logs()  # only the task each freeze interrupted


def test_redis_restart(cluster: Cluster, rel_app: App, report: list[Row]) -> None:
    # Given two workers draining 1,000 tasks
    cluster.start("-P", "solo")
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    n = 1000
    for i in range(n // 2):
        ra.record.delay(i, 0.005)
    wait_until(lambda: len(cluster.logged("runs")) >= 100, 30, "a hundred runs")
    # When the server restarts (AOF on) mid-run and 500 more tasks follow
    restarted = time.monotonic()
    cluster.server.restart()
    for i in range(n // 2, n):
        ra.record.delay(i, 0.005)
    done = _all_ran(cluster, range(n), 120)
    runs = _runs(cluster)
    report.append(Row("Redis restart (AOF) mid-run, 2 workers, 1,000 tasks", n,
                      n - len(set(runs)), _twice(runs),
                      None if done is None else done - restarted,
                      "recovery: restart to last task run"))
    assert done is not None, cluster.logs()


def test_client_kill(cluster: Cluster, rel_app: App, report: list[Row]) -> None:
    # Given two workers, and a producer publishing 3,000 tasks one delay() at a time
    cluster.start("-P", "solo")
    cluster.start("-P", "solo")
    n = 3000
    produced = threading.Event()

    def produce() -> None:
        for i in range(n):
            ra.record.delay(i)
        produced.set()

    producer = threading.Thread(target=produce)
    producer.start()
    # When every client connection is killed (CLIENT KILL TYPE normal) 15 times, 0.2 s apart
    for _ in range(15):
        time.sleep(0.2)  # not a wait: the kill schedule under test
        cluster.redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    last_kill = time.monotonic()
    producer.join(60)
    done = _all_ran(cluster, range(n), 60)
    runs = _runs(cluster)
    added = sum(int(cluster.redis.xinfo_stream(f"flowc:{{q:celery}}:p{p}")["entries-added"])
                for p in range(10))
    report.append(Row("CLIENT KILL of every connection x15 while producing and draining "
                      "3,000 tasks", n, n - len(set(runs)), _twice(runs),
                      None if done is None else done - last_kill,
                      f"stream entries added {added} for {n} tasks (a re-sent publish "
                      f"queued twice would show here); claims recovered after a lost reply: "
                      f"{_recovered(cluster)}; recovery: last kill to last run"))
    assert produced.is_set() and done is not None, cluster.logs()
    assert added == n
    assert _twice(runs) == 0


def test_poison_pills(cluster: Cluster, rel_app: App, report: list[Row]) -> None:
    # Given a prefork worker (its supervisor replaces a pool process that dies)
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    n = 300
    started = time.monotonic()
    # When 5 poison pills (each kills the process running it) arrive among 300 tasks
    for i in range(n):
        ra.record.delay(i, 0.002)
        if i % 60 == 30:
            ra.poison.delay()
    done = _all_ran(cluster, range(n), 120)

    def dead() -> int:
        return sum(b"poison pill" in f[b"reason"] for _, f in cluster.redis.xrange("flowc:dlq"))

    wait_until(lambda: dead() == 5, 60, "5 poison pills dead-lettered", cluster.logs)
    settled = time.monotonic()
    runs = _runs(cluster)
    report.append(Row("poison pills: 5 among 300 tasks, prefork -c 2", n, n - len(set(runs)),
                      _twice(runs), settled - started,
                      f"all 5 dead-lettered after {len(cluster.logged('poison'))} deliveries "
                      f"in all (max_deliveries 5); recovery: first send to all settled"))
    assert done is not None and _twice(runs) == 0, cluster.logs()


def test_malformed_messages(cluster: Cluster, rel_app: App, report: list[Row]) -> None:
    # Given a worker
    worker = cluster.start("-P", "solo")
    rng = random.Random(7)
    good = {"task": "reliability_app.record", "args": [0], "kwargs": {}, "id": "x"}
    bad: list[bytes] = [
        rng.randbytes(rng.randrange(1, 200)),
        b"{not json",
        orjson.dumps({**good, "expires": "tomorrow"}),
        orjson.dumps({**good, "workflow": "x"}),
        orjson.dumps({**good, "priority": 99}),
        orjson.dumps({**good, "args": "not a list"}),
        orjson.dumps({"task": 5}),
        orjson.dumps([1, 2, 3]),
    ]
    n_bad = 100
    started = time.monotonic()
    # When 100 malformed entries are added by hand among 200 good tasks
    for i in range(200):
        ra.record.delay(i)
        if i % 2 == 0:
            body = bad[(i // 2) % len(bad)]
            cluster.redis.xadd("flowc:{q:celery}:p0", {b"b": body, b"c": b"j"})
    done = _all_ran(cluster, range(200), 60)
    wait_until(lambda: cluster.redis.xlen("flowc:dlq") >= n_bad, 30,
               "every malformed message dead-lettered", cluster.logs)
    settled = time.monotonic()
    runs = _runs(cluster)
    report.append(Row("malformed messages: 100 bad entries among 200 tasks", 200 + n_bad,
                      200 - len(set(runs)), _twice(runs), settled - started,
                      f"{cluster.redis.xlen('flowc:dlq')} dead-lettered on first delivery, "
                      f"worker up: {worker.alive}; recovery: first send to all settled"))
    assert done is not None and worker.alive and _twice(runs) == 0


@needs_faketime
def test_clock_skew(cluster: Cluster, rel_app: App, report: list[Row]) -> None:
    # Given a worker 5 minutes ahead of the server's clock and one on time
    cluster.start("-P", "solo", env=AHEAD)
    cluster.start("-P", "solo")
    n = 200
    sent_at = time.monotonic()
    # When 100 tasks are sent with countdown=3 and 100 with expires=60
    for i in range(n // 2):
        ra.record.apply_async((i,), countdown=3)
    for i in range(n // 2, n):
        ra.record.apply_async((i,), expires=60)
    wait_until(lambda: set(range(n // 2, n)) <= set(_runs(cluster)), 30, "the expiring ones")
    early = len(set(_runs(cluster)) & set(range(n // 2)))
    if time.monotonic() - sent_at >= 2.9:
        early = 0  # too slow to tell (a loaded machine): the countdown had passed anyway
    done = _all_ran(cluster, range(n), 30)
    runs = _runs(cluster)
    late = None if done is None else done - sent_at - 3
    report.append(Row("clock skew: a worker 5 min ahead (faketime), 100 countdown=3, "
                      "100 expires=60", n, n - len(set(runs)), _twice(runs), late,
                      f"{early} countdown tasks ran early, "
                      f"{len(set(range(n // 2, n)) - set(runs))} wrongly expired; "
                      f"recovery: last countdown task run after its due time"))
    assert early == 0 and done is not None


def test_three_beats(embedded_server_factory: Any, process_reaper: Any, tmp_path: Path,
                     report: list[Row]) -> None:
    # Given three beat processes on a private server, two 1-second entries
    server = embedded_server_factory()
    from flowc.runtime.redis.connection import connect

    client = connect(server.url)
    procs = {}
    for i in range(3):
        proc = spawn_beat(process_reaper, server.url, tmp_path / f"beat{i}.log")
        procs[proc.pid] = proc
    wait_until(lambda: len(sent(client, "celery")) >= 3, 20, "three seconds published")
    takeovers = []
    # When the leader is SIGKILLed, then the next leader is frozen (SIGSTOP) for 8 s
    pid, fence = leader_pid(client)
    killed_ms = int(time.time() * 1000)
    os.kill(pid, signal.SIGKILL)
    procs.pop(pid).wait(5)
    wait_until(lambda: any(m.added_ms > killed_ms for m in sent(client, "celery")), 15,
               "a tick after the kill")
    takeovers.append(min(m.added_ms for m in sent(client, "celery")
                         if m.added_ms > killed_ms) / 1000 - killed_ms / 1000)
    wait_until(lambda: leader_pid(client)[1] > fence, 10, "a new leader")
    pid, fence = leader_pid(client)
    paused_ms = int(time.time() * 1000)
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: leader_pid(client)[1] > fence, 15, "a leader while one is frozen")
        time.sleep(max(0.0, 8.0 - (time.time() * 1000 - paused_ms) / 1000))  # the freeze
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed_ms = int(time.time() * 1000)
    wait_until(lambda: sum(m.added_ms > resumed_ms for m in sent(client, "celery")) >= 3, 15,
               "three ticks after the frozen one resumed")
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        proc.wait(10)
    messages = [m for m in sent(client, "celery") if m.entry == "every-second"]
    gap_s = max((b.added_ms - a.added_ms) / 1000
                for a, b in itertools.pairwise(messages) if b.added_ms > paused_ms)
    dues = [m.due for m in messages]
    twice = len(dues) - len(set(dues))
    ordered = sorted(set(dues))
    missing = sum(int((b - a).total_seconds()) - 1 for a, b in itertools.pairwise(ordered))
    report.append(Row("three beats: leader SIGKILLed, next leader SIGSTOPped 8 s", len(dues),
                      missing, twice, max(takeovers[0], gap_s),
                      f"ticks of a 1 s entry; recovery: first tick after the kill "
                      f"{takeovers[0]:.2f} s, longest gap between ticks after the freeze "
                      f"{gap_s:.2f} s"))
    client.close()
    assert twice == 0 and missing == 0
