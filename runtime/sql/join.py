"""The workflow join in PostgreSQL: one transaction per operation, the run's row locked.

The same semantics as ``runtime/redis/lua/workflow.lua`` (read its header): submit, done,
dones, fail, expand and resume, each idempotent. Every operation first locks the run's row
(``SELECT ... FOR UPDATE``), so the joins of one run are applied one at a time (as a Lua script
is on Redis) while runs proceed in parallel; successor counts are decremented with
``UPDATE ... RETURNING``. The join cannot enqueue on the broker, so it always returns what
became ready (``by_worker``); a duplicate completion changes nothing and offers the still-QUEUED
successors it made ready (fired errbacks, map instances) again, for a worker that died before
publishing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from flowc.runtime.backend import JoinReply, run_summary
from flowc.runtime.broker import Outgoing
from flowc.runtime.sql.backend import Database

if TYPE_CHECKING:
    from flowc.compiler.ir import Workflow
    from flowc.runtime.workflows.join import JoinOp
    from flowc.runtime.workflows.plan import RunPlan

TERMINAL = frozenset({"SUCCESS", "FAILURE", "SKIPPED"})


class _Run:
    """One locked run inside one transaction: cached reads, and the messages made ready."""

    def __init__(self, cur: psycopg.Cursor[Any], workflow_id: str, meta: dict[str, str]) -> None:
        self.cur = cur
        self.wid = workflow_id
        self.meta = meta
        self.ready: list[Outgoing] = []
        self._records: dict[str, dict[str, Any]] = {}

    # --- reads --------------------------------------------------------------------------------

    def record(self, node_id: str) -> dict[str, Any]:
        rec = self._records.get(node_id)
        if rec is None:
            row = self.cur.execute("SELECT record FROM flowc_nodes WHERE workflow_id = %s "
                                   "AND node_id = %s", (self.wid, node_id)).fetchone()
            assert row is not None, f"workflow {self.wid} has no node {node_id}"
            rec = self._records[node_id] = orjson.loads(row[0])
        return rec

    def state(self, node_id: str) -> str | None:
        row = self.cur.execute("SELECT state FROM flowc_nodes WHERE workflow_id = %s "
                               "AND node_id = %s", (self.wid, node_id)).fetchone()
        return None if row is None else str(row[0])

    def terminal(self, node_id: str) -> bool:
        return self.state(node_id) in TERMINAL

    def result(self, node_id: str) -> str:
        row = self.cur.execute("SELECT result FROM flowc_nodes WHERE workflow_id = %s "
                               "AND node_id = %s", (self.wid, node_id)).fetchone()
        return "null" if row is None or row[0] is None else str(row[0])

    def value(self, name: str) -> str | None:
        row = self.cur.execute("SELECT value FROM flowc_values WHERE workflow_id = %s "
                               "AND name = %s", (self.wid, name)).fetchone()
        return None if row is None else str(row[0])

    # --- writes -------------------------------------------------------------------------------

    def set_state(self, node_ids: Sequence[str], state: str) -> None:
        if node_ids:
            self.cur.execute("UPDATE flowc_nodes SET state = %s WHERE workflow_id = %s "
                             "AND node_id = ANY(%s)", (state, self.wid, list(node_ids)))

    def add_value(self, name: str, value: str) -> bool:
        """Insert a value unless it exists; True if inserted (HSETNX)."""
        row = self.cur.execute("INSERT INTO flowc_values VALUES (%s, %s, %s) "
                               "ON CONFLICT DO NOTHING RETURNING 1",
                               (self.wid, name, value)).fetchone()
        return row is not None

    def save_meta(self) -> None:
        self.cur.execute("UPDATE flowc_runs SET meta = %s, expires_at = %s WHERE workflow_id = %s",
                         (orjson.dumps(self.meta).decode(), self._expires_at(), self.wid))

    def _expires_at(self) -> Any:
        ttl = float(self.meta.get("ttl") or 0)
        finished = self.meta.get("finished")
        if not ttl or not finished:
            return None
        from datetime import UTC, datetime

        return datetime.fromtimestamp(float(finished) + ttl, UTC)

    # --- the join (workflow.lua, function by function) ----------------------------------------

    def incoming(self, rec: dict[str, Any]) -> str | None:
        how = rec.get("in")
        if how == "prepend":
            return self.result(rec["pp"])
        if how == "collect":
            return "".join(self.result(t[1:]) if t.startswith("@") else t for t in rec["co"])
        if how == "items":
            return str(rec["it"])
        return None

    def envelope(self, rec: dict[str, Any], extra: str = "") -> bytes:
        kw = rec["kw"]
        for name, source in rec["ki"]:
            item = orjson.dumps(name).decode() + ":" + self.result(source)
            kw = item if kw == "" else item + "," + kw
        args = rec["ra"]
        inc = self.incoming(rec)
        if inc is not None:
            args = inc if args == "" else inc + "," + args
        return (rec["h"] + extra + ',"kwargs":{' + kw + '},"args":[' + args + "]}").encode()

    def enqueue(self, rec: dict[str, Any], body: bytes) -> None:
        now = time.time()
        due = 0.0
        if rec.get("eta") and rec["eta"] > 0:
            due = float(rec["eta"])
        if rec.get("cd") and rec["cd"] > 0:
            due = now + float(rec["cd"])
        self.ready.append(Outgoing(rec["q"], int(rec["p"]), body, b"j",
                                   due if due > now else None))

    def finish_if_done(self, left: int) -> bool:
        self.meta["left"] = str(left)
        if left > 0:
            return False
        if self.meta.get("status") == "RUNNING":
            self.meta["status"] = "SUCCESS"
        self.meta["finished"] = repr(time.time())
        return True

    def complete(self, node_id: str, result: str) -> bool:
        self.cur.execute("UPDATE flowc_nodes SET result = %s, state = 'SUCCESS' "
                         "WHERE workflow_id = %s AND node_id = %s", (result, self.wid, node_id))
        # a failed run goes on where the failure does not reach (workflow.lua's complete)
        running = self.meta.get("status") != "REVOKED"
        made_ready = []
        for times, succs in _by_multiplicity(self.record(node_id)["succ"]).items():
            rows = self.cur.execute(
                "UPDATE flowc_nodes SET pending = pending - %s WHERE workflow_id = %s "
                "AND node_id = ANY(%s) RETURNING node_id, pending",
                (times, self.wid, succs)).fetchall()
            made_ready += [str(nid) for nid, pending in rows if pending == 0]
        if running:
            for succ in made_ready:
                srec = self.record(succ)
                self.enqueue(srec, self.envelope(srec))
            self.set_state(made_ready, "QUEUED")
            if made_ready:  # who made each ready: only its duplicates offer it again
                self.cur.executemany("INSERT INTO flowc_values VALUES (%s, %s, %s) "
                                     "ON CONFLICT DO NOTHING",
                                     [(self.wid, succ + "#by", node_id) for succ in made_ready])
        return self.finish_if_done(int(self.meta["left"]) - 1)

    def reoffer_successors(self, node_id: str) -> None:
        """A duplicate completion offers again the successors still QUEUED that this node made
        ready (their publish may have died with its worker); a chord's other members published
        nothing, so their duplicates offer nothing (as workflow.lua's ``<node>#by``)."""
        if self.state(node_id) != "SUCCESS":
            return
        for succ in self.record(node_id)["succ"]:
            if self.state(succ) == "QUEUED" and self.value(succ + "#by") in (None, node_id):
                srec = self.record(succ)
                self.enqueue(srec, self.envelope(srec))

    def errback_body(self, erec: dict[str, Any], extra: str) -> bytes:
        """An immutable errback (``si``) gets its own arguments only, as in Celery."""
        return self.envelope(erec) if erec.get("imm") else self.envelope(erec, extra)

    def handlers_of(self, rec: dict[str, Any]) -> list[str]:
        return [*rec["le"], *orjson.loads(self.meta.get("on_error") or "[]")]

    def errback(self, eb_id: str) -> dict[str, Any]:
        value = self.value("eb:" + eb_id)
        assert value is not None, f"workflow {self.wid} has no errback {eb_id}"
        loaded: dict[str, Any] = orjson.loads(value)
        return loaded


def _by_multiplicity(items: Sequence[str]) -> dict[int, list[str]]:
    """Successors grouped by how many times they are listed (each listing is one parent)."""
    out: dict[int, list[str]] = {}
    for item, times in Counter(items).items():
        out.setdefault(times, []).append(item)
    return out


def _errback_header(failed_task: str, exc_json: str, tb_json: str) -> str:
    return (',"headers":{"errback":{"task_id":' + orjson.dumps(failed_task).decode()
            + ',"exc":' + exc_json + ',"traceback":' + tb_json + "}}")


def _reply(run: _Run | None, applied: int = 0, finished: bool = False,
           map_task_id: str | None = None, map_result: str | None = None,
           skipped: list[str] | None = None) -> JoinReply:
    return JoinReply(applied, finished, map_task_id,
                     None if map_result is None else map_result.encode(), None,
                     skipped or [], [] if run is None else run.ready)


class PgWorkflowJoin:
    """``WorkflowJoin`` on PostgreSQL; always returns ready messages for the worker to publish."""

    by_worker = True

    def __init__(self, db: Database, result_expires: float | None) -> None:
        self.db = db
        self.ttl = int(result_expires or 0)

    def _locked(self, cur: psycopg.Cursor[Any], workflow_id: str) -> _Run | None:
        row = cur.execute("SELECT meta FROM flowc_runs WHERE workflow_id = %s "
                          "AND (expires_at IS NULL OR expires_at > now()) FOR UPDATE",
                          (workflow_id,)).fetchone()
        return None if row is None else _Run(cur, workflow_id, dict(row[0]))

    # --- the port -----------------------------------------------------------------------------

    def submit(self, wf: Workflow, run: RunPlan) -> JoinReply:
        """Store the run, its nodes and errbacks; return its roots' messages."""
        meta: dict[str, str] = {
            "status": "RUNNING", "left": str(len(run.records)), "ttl": str(self.ttl),
            "on_error": orjson.dumps(run.on_error).decode(), "created": repr(time.time()),
            "publish": "worker", "task_ids": orjson.dumps(run.task_ids).decode(),
            "result_ids": orjson.dumps(_result_ids(wf, run)).decode()}
        if wf.name:
            meta["name"] = wf.name
        with self.db.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            row = cur.execute("INSERT INTO flowc_runs (workflow_id, meta) VALUES (%s, %s) "
                              "ON CONFLICT DO NOTHING RETURNING 1",
                              (run.workflow_id, orjson.dumps(meta).decode())).fetchone()
            if row is None:
                return JoinReply()
            cur.executemany(
                "INSERT INTO flowc_nodes (workflow_id, node_id, record, state, pending) "
                "VALUES (%s, %s, %s, 'PENDING', %s)",
                [(run.workflow_id, nid, rec.decode(), run.pending.get(nid, 0))
                 for nid, rec in run.records.items()])
            if run.errbacks:
                cur.executemany("INSERT INTO flowc_values VALUES (%s, %s, %s)",
                                [(run.workflow_id, "eb:" + eb, rec.decode())
                                 for eb, rec in run.errbacks.items()])
            state = _Run(cur, run.workflow_id, meta)
            for root in run.roots:
                rec = state.record(root)
                known = run.ready.get(root)
                state.enqueue(rec, known[1] if known else state.envelope(rec))
            state.set_state(run.roots, "QUEUED")
            if not run.records:
                state.finish_if_done(0)
            state.save_meta()
            return _reply(state, 1)

    def join(self, ops: Sequence[JoinOp]) -> list[JoinReply]:
        """Each operation in its own transaction, in order."""
        return [self._one(op) for op in ops]

    def _one(self, op: JoinOp) -> JoinReply:
        with self.db.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            run = self._locked(cur, op.workflow_id)
            if run is None:  # gone: its TTL passed after it finished; a late duplicate
                return JoinReply()
            if op.op == "done":
                reply = self._done(run, op)
            elif op.op == "fail":
                reply = self._fail(run, op)
            else:
                reply = self._expand(run, op)
            run.save_meta()
            return reply

    def _done(self, run: _Run, op: JoinOp) -> JoinReply:
        if op.more:
            applied, finished = 0, False
            for node_id, result_json in [(op.node_id, op.result_json), *op.more]:
                if run.terminal(node_id):
                    run.reoffer_successors(node_id)
                else:
                    applied = 1
                    finished = run.complete(node_id, result_json.decode()) or finished
            return _reply(run, applied, finished)
        node_id = op.node_id
        if run.terminal(node_id):
            run.reoffer_successors(node_id)
            return _reply(run)
        if op.index is None:
            return _reply(run, 1, run.complete(node_id, op.result_json.decode()))
        if not run.add_value(f"{node_id}#{op.index}", op.result_json.decode()):
            return _reply(run)
        row = run.cur.execute(
            "UPDATE flowc_values SET value = (value::int - 1)::text WHERE workflow_id = %s "
            "AND name = %s RETURNING value", (run.wid, node_id + "#left")).fetchone()
        if row is not None and int(row[0]) > 0:
            return _reply(run, 1)
        count = int(run.value(node_id + "#n") or 0)
        names = [f"{node_id}#{j}" for j in range(count)]
        rows = dict(run.cur.execute("SELECT name, value FROM flowc_values WHERE workflow_id = %s "
                                    "AND name = ANY(%s)", (run.wid, names)).fetchall())
        result = "[" + ",".join(rows[n] for n in names) + "]"
        return _reply(run, 1, run.complete(node_id, result), run.record(node_id)["t"], result)

    def _expand(self, run: _Run, op: JoinOp) -> JoinReply:
        node_id = op.node_id
        if run.terminal(node_id):
            run.reoffer_successors(node_id)
            return _reply(run)
        rec = run.record(node_id)
        count = len(op.bodies)
        if not run.add_value(node_id + "#n", str(count)):
            for body in op.bodies:  # the first expand's publish may have died with its worker
                run.enqueue(rec, body)
            return _reply(run)
        run.add_value(node_id + "#left", str(count))
        if count == 0:
            return _reply(run, 1, run.complete(node_id, "[]"), rec["t"], "[]")
        for body in op.bodies:
            run.enqueue(rec, body)
        run.set_state([node_id], "RUNNING")
        return _reply(run, 1)

    def _fail(self, run: _Run, op: JoinOp) -> JoinReply:
        node_id, meta = op.node_id, run.meta
        if run.terminal(node_id):
            if meta.get("failed_node") == node_id:  # offer the errbacks it fired again
                extra = _errback_header(meta.get("failed_task", ""), meta.get("exc", "{}"),
                                        meta.get("tb") or '""')
                for eb in run.handlers_of(run.record(node_id)):
                    if meta.get("fired:" + eb):
                        erec = run.errback(eb)
                        run.enqueue(erec, run.errback_body(erec, extra))
                self._reoffer_body_errbacks(run, op, node_id)
            return _reply(run)
        exc_json = orjson.dumps(op.exc or {}).decode()
        tb_json = orjson.dumps(op.traceback or "").decode()
        run.set_state([node_id], "FAILURE")
        if meta.get("status") == "RUNNING":
            meta.update(status="FAILURE", failed_node=node_id, failed_task=op.task_id,
                        exc=exc_json, tb=tb_json)
        left = int(meta["left"]) - 1
        rec = run.record(node_id)
        skipped = [rec["t"]] if op.index is not None else []
        queue = list(rec["succ"])
        to_skip: list[str] = []
        bodies: list[dict[str, Any]] = []  # skipped chord bodies: their errbacks fire as theirs
        seen: set[str] = set()
        head = 0
        while head < len(queue):
            succ = queue[head]
            head += 1
            if succ in seen or run.terminal(succ):
                continue
            seen.add(succ)
            to_skip.append(succ)
            left -= 1
            srec = run.record(succ)
            # a skipped chord body (it collects its parents' results) is reported as
            # "chord:<task id>" (its result: ChordError), as workflow.lua does
            body = srec.get("in") == "collect" or bool(srec.get("cb"))
            skipped.append(("chord:" if body else "") + srec["t"])
            if body:
                bodies.append(srec)
            queue += srec["succ"]
        run.set_state(to_skip, "SKIPPED")
        extra = _errback_header(op.task_id, exc_json, tb_json)
        for eb in run.handlers_of(rec):
            if not meta.get("fired:" + eb):
                meta["fired:" + eb] = "1"
                erec = run.errback(eb)
                run.enqueue(erec, run.errback_body(erec, extra))
        # Celery's chord_error_from_stack: the body's errbacks get its id and the ChordError
        chord_json = orjson.dumps(op.chord_error()).decode()
        for body in bodies:
            body_extra = _errback_header(body["t"], chord_json, tb_json)
            for eb in body["le"]:
                if not meta.get("fired:" + eb):
                    meta["fired:" + eb] = "1"
                    erec = run.errback(eb)
                    run.enqueue(erec, run.errback_body(erec, body_extra))
        return _reply(run, 1, run.finish_if_done(left), skipped=skipped)

    @staticmethod
    def _reoffer_body_errbacks(run: _Run, op: JoinOp, node_id: str) -> None:
        """A duplicate of the first failure: offer again the errbacks that the chord bodies it
        skipped fired (workflow.lua's fail does the same)."""
        chord_json = orjson.dumps(op.chord_error()).decode()
        tb_json = run.meta.get("tb") or '""'
        queue, seen = list(run.record(node_id)["succ"]), set()
        while queue:
            succ = queue.pop(0)
            if succ in seen or run.state(succ) != "SKIPPED":
                continue
            seen.add(succ)
            srec = run.record(succ)
            if srec.get("in") == "collect" or srec.get("cb"):
                body_extra = _errback_header(srec["t"], chord_json, tb_json)
                for eb in srec["le"]:
                    if run.meta.get("fired:" + eb):
                        erec = run.errback(eb)
                        run.enqueue(erec, run.errback_body(erec, body_extra))
            queue += srec["succ"]

    def resume(self, workflow_id: str, reset: dict[str, int], ready: Sequence[str]) -> JoinReply:
        """Reset failed/skipped nodes and return the ready ones' messages."""
        with self.db.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            row = cur.execute("SELECT meta FROM flowc_runs WHERE workflow_id = %s FOR UPDATE",
                              (workflow_id,)).fetchone()
            if row is None:
                return JoinReply()
            run = _Run(cur, workflow_id, dict(row[0]))
            for node_id, left in reset.items():
                cur.execute("DELETE FROM flowc_values WHERE workflow_id = %s "
                            "AND left(name, %s) = %s",
                            (workflow_id, len(node_id) + 1, node_id + "#"))
                cur.execute("UPDATE flowc_nodes SET result = NULL, state = 'PENDING', "
                            "pending = %s WHERE workflow_id = %s AND node_id = %s",
                            (max(left, 0), workflow_id, node_id))
            meta = run.meta
            meta["left"] = str(int(meta["left"]) + len(reset))
            meta["status"] = "RUNNING"
            for name in ("failed_node", "failed_task", "exc", "tb", "finished"):
                meta.pop(name, None)
            for node_id in ready:
                rec = run.record(node_id)
                run.enqueue(rec, run.envelope(rec))
            run.set_state(list(ready), "QUEUED")
            run.save_meta()
            return _reply(run, len(reset))

    def mark_revoked(self, workflow_id: str) -> None:
        """RUNNING, or FAILURE while branches the failure did not reach still run -> REVOKED
        (joins then make nothing new ready)."""
        with self.db.pool.connection() as conn:
            conn.execute("UPDATE flowc_runs SET meta = jsonb_set(meta, '{status}', '\"REVOKED\"') "
                         "WHERE workflow_id = %s AND (meta->>'status' = 'RUNNING' OR "
                         "(meta->>'status' = 'FAILURE' AND NOT meta ? 'finished'))",
                         (workflow_id,))

    def status(self, workflow_id: str) -> dict[str, str]:
        """The run's meta ({} if unknown or expired)."""
        with self.db.pool.connection() as conn:
            row = conn.execute("SELECT meta FROM flowc_runs WHERE workflow_id = %s AND "
                               "(expires_at IS NULL OR expires_at > now())",
                               (workflow_id,)).fetchone()
        return {} if row is None else {str(k): str(v) for k, v in row[0].items()}

    def node_states(self, workflow_id: str) -> dict[str, str]:
        """State of every node."""
        with self.db.pool.connection() as conn:
            rows = conn.execute("SELECT node_id, state FROM flowc_nodes WHERE workflow_id = %s",
                                (workflow_id,)).fetchall()
        return {str(n): str(s) for n, s in rows}

    def records(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Every node's run record, decoded."""
        with self.db.pool.connection() as conn:
            rows = conn.execute("SELECT node_id, record FROM flowc_nodes WHERE workflow_id = %s",
                                (workflow_id,)).fetchall()
        return {str(n): orjson.loads(r) for n, r in rows}

    def map_progress(self, workflow_id: str) -> dict[str, tuple[int, int]]:
        """Map node id -> (items done, items in all), from the ``<map>#n`` / ``#left`` values."""
        with self.db.pool.connection() as conn:
            rows = conn.execute("SELECT name, value FROM flowc_values WHERE workflow_id = %s "
                                "AND (name LIKE '%%#n' OR name LIKE '%%#left')",
                                (workflow_id,)).fetchall()
        values = {str(n): int(v) for n, v in rows}
        out: dict[str, tuple[int, int]] = {}
        for name, total in values.items():
            node_id, _, part = name.rpartition("#")
            if part == "n":
                out[node_id] = (total - values.get(node_id + "#left", total), total)
        return out

    def errbacks(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Every error handler's run record (the ``eb:<id>`` values), decoded."""
        with self.db.pool.connection() as conn:
            rows = conn.execute("SELECT name, value FROM flowc_values WHERE workflow_id = %s "
                                "AND name LIKE 'eb:%%'", (workflow_id,)).fetchall()
        return {str(n)[3:]: orjson.loads(v) for n, v in rows}

    def run_ids(self, count: int, offset: int = 0) -> list[tuple[str, float]]:
        """Runs not expired, newest first (by their ``created`` meta field)."""
        with self.db.pool.connection() as conn:
            rows = conn.execute(
                "SELECT workflow_id, (meta->>'created')::float8 AS created FROM flowc_runs "
                "WHERE expires_at IS NULL OR expires_at > now() "
                "ORDER BY created DESC NULLS LAST OFFSET %s LIMIT %s",
                (offset, count)).fetchall()
        return [(str(w), float(c or 0.0)) for w, c in rows]

    def run_count(self) -> int:
        """Runs not expired."""
        with self.db.pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM flowc_runs WHERE expires_at IS NULL "
                               "OR expires_at > now()").fetchone()
        return int(row[0]) if row else 0

    def summaries(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Status, name and node counts of several runs in one query."""
        with self.db.pool.connection() as conn:
            rows = conn.execute(
                "SELECT r.workflow_id, r.meta, (SELECT count(*) FROM flowc_nodes n "
                "WHERE n.workflow_id = r.workflow_id) FROM flowc_runs r "
                "WHERE r.workflow_id = ANY(%s) AND (r.expires_at IS NULL "
                "OR r.expires_at > now())", (list(ids),)).fetchall()
        found = {str(w): (meta, int(n)) for w, meta, n in rows}
        out = []
        for wid in ids:
            meta, nodes = found.get(wid, ({}, 0))
            out.append(run_summary(wid, meta.get("status"), meta.get("name"), meta.get("left"),
                                   nodes, meta.get("failed_node"), meta.get("params"),
                                   meta.get("created"), meta.get("finished")))
        return out


def _result_ids(wf: Workflow, run: RunPlan) -> Any:
    def fill(shape: Any) -> Any:
        return run.task_ids[shape] if isinstance(shape, str) else [fill(s) for s in shape]

    return None if wf.result is None else fill(wf.result)
