"""The flowc side: enqueue, worker command, readiness, completion times, latency, batched path."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent / "apps"))
import flowc_app
from bench_common import DelaySide

NAME = "flowc"


class FlowcSide(DelaySide):
    """One fresh flowc App on ``url`` (new connections) per benchmark phase."""

    name = NAME

    def __init__(self, url: str, backend: str | None = None,
                 coordination: str | None = None) -> None:
        self.url = url
        self.backend = backend or url
        self.coordination = coordination  # transports.py: the Redis of heartbeats on RabbitMQ
        self.app = flowc_app.make_app(url, backend)
        self.task = self.app.tasks[flowc_app.TASK_NAME]

    # --- producing -----------------------------------------------------------------------------

    def batched(self, n: int, chunk: int, tick: Callable[[int], None]) -> dict[str, Any]:
        """``n`` messages built with ``App.build_message`` and sent by ``App.publish`` in
        pipelines of ``chunk`` (the path a group's or a list's tasks take)."""
        app, task = self.app, self.task
        build = app.build_message
        started = time.perf_counter()
        for lo in range(0, n, chunk):
            msgs = [build(task.name, [i], {}, task, {}) for i in range(lo, min(n, lo + chunk))]
            app.publish(msgs)
            tick(len(msgs))
        total = time.perf_counter() - started
        depth = app.broker.depth(app.conf.task_default_queue)
        # the same, with the messages built beforehand: the cost of encode + send alone
        app.broker_client.flushdb()
        prebuilt = [[build(task.name, [i], {}, task, {}) for i in range(lo, min(n, lo + chunk))]
                    for lo in range(0, n, chunk)]
        started = time.perf_counter()
        for msgs in prebuilt:
            app.publish(msgs)
        send_only = time.perf_counter() - started
        return {"n": n, "chunk": chunk, "per_s": n / total, "seconds": total,
                "send_only_per_s": n / send_only, "queued": depth["ready"],
                "api": "App.build_message + App.publish (one pipeline per chunk)"}

    # --- worker --------------------------------------------------------------------------------

    @staticmethod
    def worker_cmd(pool: str) -> list[str]:
        return DelaySide.pool_cmd(
            [sys.executable, "-m", "flowc", "worker", "-A", "flowc_app", "-l", "WARNING"], pool)
    def worker_env(self) -> dict[str, str]:
        env = {"FLOWC_BROKER_URL": self.url, "FLOWC_RESULT_BACKEND": self.backend,
               "BENCH_REDIS_URL": self.url}
        if self.coordination:
            env["FLOWC_COORDINATION_URL"] = self.coordination
        return env

    def ready_time(self, client: redis.Redis, expected_processes: int,
                   seen: dict[bytes, float]) -> float | None:
        """Once every consumer process has registered its heartbeat, the latest first beat."""
        for member, score in client.zrange(self.app.keys.workers(), 0, -1, withscores=True):
            seen.setdefault(member, score)
        if len(seen) >= expected_processes:
            return max(seen.values())
        return None

    # --- results -------------------------------------------------------------------------------

    def queued(self, client: redis.Redis) -> int:
        """Messages still in the queue's streams (claimed-unacked included)."""
        return int(self.app.broker.depth(self.app.conf.task_default_queue)["ready"])

    def result_keys(self, ids: list[str]) -> list[str]:
        return [self.app.keys.result(i) for i in ids]

    def done_times(self, client: redis.Redis, ids: list[str]) -> tuple[list[float], int]:
        """``date_done`` of every stored result, and how many were not SUCCESS."""
        from bench_common import iso_to_epoch

        times: list[float] = []
        bad = 0
        for lo in range(0, len(ids), 2000):
            pipe = client.pipeline(transaction=False)
            for key in self.result_keys(ids[lo:lo + 2000]):
                pipe.lindex(key, 0)
            for raw in pipe.execute():
                if raw is None:
                    continue
                rec = orjson.loads(raw[1:])  # one content-tag byte, then the JSON record
                if rec.get("status") != "SUCCESS":
                    bad += 1
                times.append(iso_to_epoch(rec["date_done"]))
        return times, bad

    def close(self) -> None:
        self.app.close()
