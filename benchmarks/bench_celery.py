"""The Celery side: enqueue, worker command, readiness, completion times, latency, group()."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import redis

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent / "apps"))
import celery_app
from bench_common import DelaySide

NAME = "celery"
BATCHED_CAP = 5_000
"""Celery's group path is measured on at most this many tasks (a rate; keeps the run short)."""


class CelerySide(DelaySide):
    """One fresh Celery app on ``url`` (new connections) per benchmark phase."""

    name = NAME

    def __init__(self, url: str, backend: str | None = None, ready_url: str | None = None) -> None:
        self.url = url
        self.backend = backend
        self.ready_url = ready_url or url  # transports.py: a Redis beside a RabbitMQ broker
        self.app = celery_app.make_app(url, backend)
        self.task = self.app.tasks[celery_app.TASK_NAME]

    # --- producing -----------------------------------------------------------------------------

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
        return DelaySide.pool_cmd(
            [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-l", "WARNING"], pool)
    def worker_env(self) -> dict[str, str]:
        env = {"BENCH_REDIS_URL": self.ready_url}
        if self.ready_url != self.url or self.backend:
            env["BENCH_BROKER_URL"] = self.url
            env["BENCH_BACKEND_URL"] = self.backend or self.url
        return env

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

    def close(self) -> None:
        self.app.close()
        self.app.pool.force_close_all()
