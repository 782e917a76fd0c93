"""The Celery side: enqueue, worker command, readiness, completion times, latency, group()."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import redis

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent / "apps"))
import celery_app  # noqa: E402

NAME = "celery"
BATCHED_CAP = 5_000
"""Celery's group path is measured on at most this many tasks (a rate; keeps the run short)."""


class CelerySide:
    """One fresh Celery app on ``url`` (new connections) per benchmark phase."""

    name = NAME

    def __init__(self, url: str) -> None:
        self.url = url
        self.app = celery_app.make_app(url)
        self.task = self.app.tasks[celery_app.TASK_NAME]

    # --- producing -----------------------------------------------------------------------------

    def enqueue(self, n: int, tick: Callable[[int], None]) -> tuple[list[str], float]:
        """``n`` calls of ``noop.delay(i)``, one at a time; returns (ids, seconds)."""
        delay = self.task.delay
        ids: list[str] = []
        append = ids.append
        started = time.perf_counter()
        for i in range(n):
            append(delay(i).id)
            if i % 1000 == 999:
                tick(1000)
        elapsed = time.perf_counter() - started
        tick(n % 1000)
        return ids, elapsed

    def batched(self, n: int, chunk: int, tick: Callable[[int], None]) -> dict[str, Any]:
        """Celery's closest API: ``group(noop.s(i) for i in ...).apply_async()``, ``chunk`` per
        group (Celery publishes a group's tasks one message at a time on one connection)."""
        from celery import group

        n = min(n, BATCHED_CAP)
        sig = self.task.s
        started = time.perf_counter()
        for lo in range(0, n, chunk):
            group(sig(i) for i in range(lo, min(n, lo + chunk))).apply_async()
            tick(min(chunk, n - lo))
        total = time.perf_counter() - started
        queued = redis.Redis.from_url(self.url).llen("celery")
        return {"n": n, "chunk": chunk, "per_s": n / total, "seconds": total, "queued": queued,
                "api": "celery.group(...).apply_async()"}

    # --- worker --------------------------------------------------------------------------------

    @staticmethod
    def worker_cmd(pool: str) -> list[str]:
        cmd = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-l", "WARNING"]
        if pool == "solo":
            cmd += ["-P", "solo"]
        return cmd  # default: prefork, concurrency = CPU count

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_REDIS_URL": self.url}

    def ready_time(self, client: redis.Redis, expected_processes: int,
                   seen: dict[bytes, float]) -> float | None:
        """The time the worker's ``worker_ready`` signal fired (boot done), once it has."""
        value = client.get(celery_app.READY_KEY)
        return float(value) if value else None

    # --- results -------------------------------------------------------------------------------

    def queued(self, client: redis.Redis) -> int:
        """Messages still in the queue list (prefetched-unacked ones are not counted)."""
        return int(client.llen("celery"))

    def result_keys(self, ids: list[str]) -> list[bytes]:
        key = self.app.backend.get_key_for_task
        return [key(i) for i in ids]

    def done_times(self, client: redis.Redis, ids: list[str]) -> tuple[list[float], int]:
        """``date_done`` of every stored result, and how many were not SUCCESS."""
        from bench_common import iso_to_epoch

        times: list[float] = []
        bad = 0
        for lo in range(0, len(ids), 2000):
            for raw in client.mget(self.result_keys(ids[lo:lo + 2000])):
                if raw is None:
                    continue
                rec = json.loads(raw)
                if rec.get("status") != "SUCCESS":
                    bad += 1
                times.append(iso_to_epoch(rec["date_done"]))
        return times, bad

    def round_trips(self, n: int, warmup: int) -> list[float]:
        """``n`` sequential ``noop.delay(i).get()``; seconds each (after ``warmup`` untimed)."""
        delay = self.task.delay
        for i in range(warmup):
            assert delay(i).get(timeout=30) == i
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            value = delay(i).get(timeout=30)
            out.append(time.perf_counter() - t0)
            assert value == i
        return out

    def close(self) -> None:
        self.app.close()
        self.app.pool.force_close_all()
