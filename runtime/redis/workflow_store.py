"""Workflow runs in Redis: ``workflow.lua`` stores a run and joins its nodes atomically.

One script call per operation (submit, done/dones, fail, expand, resume) on the run's six keys
(one hash slot, ``{wf:<id>}``); its replies are decoded once, into ``JoinReply``. By default
the script also enqueues what became ready, in the same atomic step; with
``flowc_workflow_publish = "worker"`` it returns those messages instead and the worker
publishes them (the path of a backend whose join cannot enqueue).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
import redis
from flowc.runtime.backend import JoinReply, run_summary
from flowc.runtime.broker import Outgoing
from flowc.runtime.redis import scripts
from flowc.runtime.redis.connection import check_wait_replicas
from flowc.runtime.redis.keys import Keys
from flowc.runtime.redis.replies import bytes_hash

if TYPE_CHECKING:
    from flowc.compiler.ir import Workflow
    from flowc.runtime.workflows.join import JoinOp
    from flowc.runtime.workflows.plan import RunPlan


class RedisWorkflowJoin:
    """The Redis ``WorkflowJoin``: run state in hashes, the join in ``workflow.lua``."""

    def __init__(self, client: redis.Redis, keys: Keys, result_expires: float | None,
                 by_worker: bool = False, wait_replicas: int = 0,
                 wait_timeout_ms: int = 1000) -> None:
        check_wait_replicas(client, wait_replicas)
        self.wait = (wait_replicas, wait_timeout_ms)
        """``WAIT`` after a submit (``flowc_wait_replicas``): its roots are on the replicas."""
        self.client = client
        self.prefix = keys
        self.ttl = int(result_expires or 0)
        self.by_worker = by_worker
        self.script = scripts.load(client, "workflow")

    def keys(self, workflow_id: str) -> list[str]:
        """The run's six keys, in workflow.lua's KEYS order."""
        return self.prefix.workflow(workflow_id)

    # --- the port -----------------------------------------------------------------------------

    def submit(self, wf: Workflow, run: RunPlan) -> JoinReply:
        """The ``workflow.lua submit`` call for a computed plan, and the run index entry."""
        extra = {"result_ids": orjson.dumps(_result_ids(wf, run)),
                 "task_ids": orjson.dumps(run.task_ids)}
        if wf.name:
            extra["name"] = wf.name.encode()
        if wf.params:
            extra["params"] = orjson.dumps(wf.params, default=str,
                                           option=orjson.OPT_SORT_KEYS)
        if self.by_worker:
            extra["publish"] = b"worker"
        args: list[Any] = ["submit", self.ttl, orjson.dumps(run.on_error), len(extra)]
        for name, value in extra.items():
            args += [name, value]
        args.append(len(run.records))
        for node_id, rec in run.records.items():
            args += [node_id, rec]
        args.append(len(run.pending))
        for node_id, count in run.pending.items():
            args += [node_id, count]
        args.append(len(run.roots))
        ready = run.ready
        for root in run.roots:
            stream, body = ready.get(root, ("", b""))
            args += [root, stream, body]
        args.append(len(run.errbacks))
        for eb_id, rec in run.errbacks.items():
            args += [eb_id, rec]
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(self.script.sha, len(self.keys(run.workflow_id)),
                     *self.keys(run.workflow_id), *args)
        pipe.zadd(self.prefix.workflows(), {run.workflow_id: _now()})
        if self.wait[0]:
            pipe.execute_command("WAIT", *self.wait)
        try:
            reply = pipe.execute()[0]
        except redis.exceptions.NoScriptError:
            reply = self.script(keys=self.keys(run.workflow_id), args=args)
            self.client.zadd(self.prefix.workflows(), {run.workflow_id: _now()})
        return parse_reply(reply)

    def join(self, ops: Sequence[JoinOp]) -> list[JoinReply]:
        """One pipeline for every operation; replies in order (reloads the script if needed)."""
        if not ops:
            return []
        pipe = self.client.pipeline(transaction=False)
        for op in ops:
            self.queue(pipe, op)
        replies = pipe.execute(raise_on_error=False)
        if any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
            scripts.ensure_loaded(self.client, self.script)
            pipe = self.client.pipeline(transaction=False)
            for op in ops:
                self.queue(pipe, op)
            replies = pipe.execute(raise_on_error=False)
        for r in replies:
            if isinstance(r, Exception):
                raise r
        return [parse_reply(r) for r in replies]

    def resume(self, workflow_id: str, reset: dict[str, int], ready: Sequence[str]) -> JoinReply:
        """``workflow.lua resume``: reset nodes and enqueue (or return) the ready ones."""
        args: list[Any] = ["resume", len(reset)]
        for node_id, left in reset.items():
            args += [node_id, left]
        args += [len(ready), *ready]
        return parse_reply(self.script(keys=self.keys(workflow_id), args=args))

    def mark_revoked(self, workflow_id: str) -> None:
        """RUNNING, or FAILURE while branches the failure did not reach still run -> REVOKED
        (joins then enqueue nothing new)."""
        meta_key = self.keys(workflow_id)[4]
        status, finished = self.client.hmget(meta_key, "status", "finished")
        if status == b"RUNNING" or (status == b"FAILURE" and finished is None):
            self.client.hset(meta_key, "status", "REVOKED")

    def status(self, workflow_id: str) -> dict[str, str]:
        """The run's meta hash (status, left, failed_node, ...), decoded."""
        meta = bytes_hash(self.client.hgetall(self.keys(workflow_id)[4]))
        return {k.decode(): v.decode() for k, v in meta.items()}

    def node_states(self, workflow_id: str) -> dict[str, str]:
        """State of every node: PENDING, QUEUED, RUNNING, SUCCESS, FAILURE or SKIPPED."""
        raw = bytes_hash(self.client.hgetall(self.keys(workflow_id)[3]))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def records(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Every node's run record, decoded."""
        raw = bytes_hash(self.client.hgetall(self.keys(workflow_id)[0]))
        return {k.decode(): orjson.loads(v) for k, v in raw.items()}

    def map_progress(self, workflow_id: str) -> dict[str, tuple[int, int]]:
        """Map counts from the pending hash's ``<map>#n`` / ``<map>#left`` fields."""
        raw = bytes_hash(self.client.hgetall(self.keys(workflow_id)[1]))
        fields = {k.decode(): v for k, v in raw.items()}
        out: dict[str, tuple[int, int]] = {}
        for key, value in fields.items():
            node_id, sep, part = key.rpartition("#")
            if sep and part == "n":
                total = int(value)
                left = int(fields.get(f"{node_id}#left", total))
                out[node_id] = (total - left, total)
        return out

    # --- the Redis fast path (runtime/redis/settle.py) ----------------------------------------

    def errbacks(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Every error handler's run record (the ``errbacks`` hash), decoded."""
        raw = bytes_hash(self.client.hgetall(self.keys(workflow_id)[5]))
        return {k.decode(): orjson.loads(v) for k, v in raw.items()}

    def run_ids(self, count: int, offset: int = 0) -> list[tuple[str, float]]:
        """The run index (``Keys.workflows``), newest first."""
        rows: Any = self.client.zrevrange(self.prefix.workflows(), offset, offset + count - 1,
                                          withscores=True)
        return [(_s(wid), float(score)) for wid, score in rows]

    def run_count(self) -> int:
        """Runs in the index (the reaper prunes expired ones: ``workflow_index.py``)."""
        return int(self.client.zcard(self.prefix.workflows()))

    def summaries(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Status, name and node counts of several runs in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for wid in ids:
            keys = self.keys(wid)
            pipe.hmget(keys[4], "status", "name", "left", "failed_node", "params", "created",
                       "finished")
            pipe.hlen(keys[0])
        replies = pipe.execute()
        out = []
        for i, wid in enumerate(ids):
            status, name, left, failed, params, created, finished = replies[2 * i]
            out.append(run_summary(wid, _s(status) if status else None, _s(name) if name else None,
                               left, int(replies[2 * i + 1]), _s(failed) if failed else None,
                               params, created, finished))
        return out

    def queue(self, pipe: redis.client.Pipeline, op: JoinOp) -> None:
        """Add one operation's EVALSHA to a pipeline (the settle pipeline of a worker)."""
        keys = self.keys(op.workflow_id)
        index: Any = "" if op.index is None else op.index
        if op.op == "done" and op.more:
            args: list[Any] = ["dones", 1 + len(op.more), op.node_id, op.result_json]
            for node_id, result_json in op.more:
                args += [node_id, result_json]
        elif op.op == "done":
            args = ["done", op.node_id, index, op.result_json]
        elif op.op == "fail":
            args = ["fail", op.node_id, index, orjson.dumps(op.exc or {}),
                    orjson.dumps(op.traceback or ""), op.task_id, orjson.dumps(op.chord_error())]
        else:
            args = ["expand", op.node_id, len(op.bodies), *op.bodies]
        if op.claim is not None:
            args += op.claim
        scripts.queue_call(pipe, self.script, keys, args)


def parse_reply(reply: Any) -> JoinReply:
    """workflow.lua's seven-item reply (see its header), by name."""
    applied, finished, map_task, map_result, claimed, skipped, ready = reply
    out = JoinReply(int(applied), int(finished) == 1)
    if map_task:
        out.map_task_id = _s(map_task)
        out.map_result = bytes(map_result)
    out.claimed = claimed
    out.skipped = [_s(t) for t in skipped]
    for i in range(0, len(ready), 4):
        due = float(ready[i + 2])
        out.ready.append(Outgoing(_s(ready[i]), int(ready[i + 1]), bytes(ready[i + 3]), b"j",
                                  due if due > 0 else None))
    return out


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _now() -> float:
    import time

    return time.time()


def _result_ids(wf: Workflow, run: RunPlan) -> Any:
    def fill(shape: Any) -> Any:
        return run.task_ids[shape] if isinstance(shape, str) else [fill(s) for s in shape]

    return None if wf.result is None else fill(wf.result)
