"""``Coordination`` in PostgreSQL: a RabbitMQ + PostgreSQL deployment with no Redis at all.

Tables live beside the result backend's, in the same schema (``COORDINATION_DDL``):

- ``flowc_workers``: one row per worker process (its heartbeat fields as JSON, ``last_seen``
  on the server's clock, ``expires_at``); alive while ``expires_at > now()``.
- ``flowc_roles``: short elections (the reaper's), ``INSERT ... ON CONFLICT ... WHERE expired``.
- ``flowc_queues``: the queue registry ``flowc status`` lists.
- ``flowc_revoked``: task id -> revoke time; ``flowc_terminations``: terminate commands for
  prefork supervisors, read by sequence number.
- ``flowc_rate``: one row per rate-limit key holding the next free slot (ms, GCRA), taken by
  one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on the server's clock.
- ``flowc_events``: the events feed (one row per flushed batch, capped to
  ``flowc_events_maxlen`` rows), each insert NOTIFYing readers, who LISTEN instead of polling.
- ``flowc_beat_lease`` (one row: token ``<fence>:<candidate>``, fence, ``expires_at``) and
  ``flowc_beat_state`` (last and pending fire time per entry): beat's lease and its fenced
  claim/record, each one transaction holding the lease row.

Remote control is NOTIFY: a command on the schema's control channel, each reply on the
request's own channel, which the caller LISTENs to before sending. Every time is the
server's (``now()``), so hosts' clocks never have to agree.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from flowc.runtime.beat.lease import Lease, LeaseState
from flowc.runtime.coordination import WorkerRecord
from flowc.runtime.monitoring.events_read import decode_entry
from flowc.runtime.redis.beat_store import (
    ALREADY_HANDLED,
    CLAIMED,
    RUN_ID_NAMESPACE,
    EntryState,
    LeaseLost,
    from_us,
    to_us,
)
from flowc.runtime.sql.backend import Database

logger = logging.getLogger("flowc.coordination")

COORDINATION_DDL = """
CREATE TABLE IF NOT EXISTS flowc_workers (
    name text PRIMARY KEY,
    fields jsonb NOT NULL,
    last_seen double precision NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS flowc_roles (
    role text PRIMARY KEY,
    holder text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS flowc_queues (name text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS flowc_revoked (
    task_id text PRIMARY KEY,
    revoked_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS flowc_revoked_at ON flowc_revoked (revoked_at);
CREATE TABLE IF NOT EXISTS flowc_terminations (
    seq bigserial PRIMARY KEY,
    task_id text NOT NULL
);
CREATE TABLE IF NOT EXISTS flowc_rate (
    key text PRIMARY KEY,
    next_ms double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS flowc_events (
    id bigserial PRIMARY KEY,
    ts_ms bigint NOT NULL,
    host bytea NOT NULL,
    payload bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS flowc_beat_lease (
    name text PRIMARY KEY,
    token text NOT NULL,
    fence bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS flowc_beat_state (
    entry text PRIMARY KEY,
    last_us bigint,
    pending_us bigint
);
"""

NOW_S = "extract(epoch from clock_timestamp())::double precision"
"""The server's clock in unix seconds (``clock_timestamp``: the moment, not the transaction's
start)."""
NOW_STATEMENT_MS = "(extract(epoch from now())::double precision * 1000)"
"""The server's clock in unix ms, one value for the whole statement (autocommit: ``now()``
is the statement's start)."""
RESYNC_S = 30.0
"""How long a measured clock offset is trusted (as ``redis/clock.py``)."""
TERMINATIONS_KEPT = 1000
"""Terminate commands kept (supervisors read them within a fraction of a second)."""
EVENTS_TRIM_EVERY = 50
"""Inserts between two trims of the events table (per process)."""
CONTROL_PAYLOAD_MAX = 7900
"""NOTIFY payloads are limited to 8000 bytes; a longer reply is cut to an error."""


def _interval(seconds: float) -> str:
    return f"{max(0.001, float(seconds))} seconds"


class PgSubscription:
    """A connection LISTENing to the control channel."""

    def __init__(self, conninfo: str, channel: str) -> None:
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.conn.execute(f'LISTEN "{channel}"')

    def get(self, timeout_s: float) -> bytes | None:
        for notify in self.conn.notifies(timeout=timeout_s, stop_after=1):
            return notify.payload.encode()
        return None

    def close(self) -> None:
        self.conn.close()


class PgCoordination:
    """``Coordination`` in the PostgreSQL result backend's database."""

    def __init__(self, db: Database, prefix: str = "flowc") -> None:
        self.db = db
        self.prefix = prefix
        self._ready_pid = 0
        self._lock = threading.Lock()
        self._offset_s = 0.0
        self._synced_at = -RESYNC_S
        self._events_inserted = 0
        self._local = threading.local()
        self._listeners: list[tuple[int, Any]] = []

    # --- plumbing ------------------------------------------------------------------------------

    def _pool(self) -> Any:
        pool = self.db.pool

        if self._ready_pid != os.getpid():
            with self._lock, pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('flowc-coordination:' "
                             "|| current_schema()))")
                conn.execute(COORDINATION_DDL)
            self._ready_pid = os.getpid()
        return pool

    @contextmanager
    def _volatile(self) -> Iterator[Any]:
        """A transaction whose commit does not wait for the disk (``synchronous_commit off``):
        for heartbeats, rate slots and events, rewritten every second or worthless after a
        crash of the server (revocations and beat's state stay durable). A commit costs a
        round trip instead of a WAL flush (~10 ms on this machine under load)."""
        with self._pool().connection() as conn, conn.transaction():
            conn.execute("SET LOCAL synchronous_commit TO off")
            yield conn

    def _channel(self, kind: str) -> str:
        _ = self._pool()
        return f"flowc_{kind}_{self.db.schema_name}"[:63]

    def close(self) -> None:
        """The database is the backend's: it closes it. Drops this thread's listener."""

        listeners, self._listeners = self._listeners, []
        for pid, conn in listeners:
            if pid == os.getpid():
                conn.close()
            else:  # a forked child's copy: closing it would end the parent's session
                self._listeners.append((pid, conn))
        self._local = threading.local()

    def now(self) -> float:
        if time.monotonic() - self._synced_at >= RESYNC_S:
            pool = self._pool()  # opened (and the tables made) outside the measured trip
            before = time.time()
            with pool.connection() as conn:
                row = conn.execute(f"SELECT {NOW_S}").fetchone()
            after = time.time()
            assert row is not None
            self._offset_s = float(row[0]) - (before + after) / 2
            self._synced_at = time.monotonic()
        return time.time() + self._offset_s

    # --- liveness ------------------------------------------------------------------------------

    def beat(self, name: str, fields: Mapping[str, Any], ttl_s: float, now: float) -> None:
        data = orjson.dumps({k: v if isinstance(v, str) else
                             (v.decode() if isinstance(v, bytes) else str(v))
                             for k, v in fields.items()}).decode()
        with self._volatile() as conn:
            conn.execute(
                "INSERT INTO flowc_workers (name, fields, last_seen, expires_at) "
                "VALUES (%s, %s::jsonb, %s, now() + %s::interval) ON CONFLICT (name) DO UPDATE "
                "SET fields = excluded.fields, last_seen = excluded.last_seen, "
                "expires_at = excluded.expires_at", (name, data, now, _interval(ttl_s)))

    def pulse(self, name: str, ttl_s: float, now: float) -> None:
        with self._volatile() as conn:
            conn.execute("UPDATE flowc_workers SET last_seen = %s, "
                         "expires_at = now() + %s::interval WHERE name = %s",
                         (now, _interval(ttl_s), name))

    def leave(self, name: str) -> None:
        with self._pool().connection() as conn:
            conn.execute("DELETE FROM flowc_workers WHERE name = %s", (name,))

    def workers(self, lost_shown_s: float) -> list[WorkerRecord]:
        with self._pool().connection() as conn:
            conn.execute(f"DELETE FROM flowc_workers WHERE last_seen < {NOW_S} - %s",
                         (lost_shown_s,))
            rows = conn.execute("SELECT name, fields, last_seen, expires_at > now() "
                                "FROM flowc_workers ORDER BY name").fetchall()
        return [WorkerRecord(name, bool(up), float(seen), dict(fields) if up else {})
                for name, fields, seen, up in rows]

    def peers(self, horizon: float) -> list[tuple[str, set[str], set[str]]]:
        with self._pool().connection() as conn:
            rows = conn.execute("SELECT name, fields FROM flowc_workers WHERE last_seen >= %s "
                                "AND expires_at > now()", (horizon,)).fetchall()
        out = []
        for name, fields in rows:
            if "queues" in fields and "tasks" in fields:
                out.append((name, set(str(fields["queues"]).split(",")),
                            set(orjson.loads(fields["tasks"]))))
        return out

    def alive(self, names: Sequence[str]) -> list[bool]:
        with self._pool().connection() as conn:
            rows = conn.execute("SELECT name FROM flowc_workers WHERE name = ANY(%s) "
                                "AND expires_at > now()", (list(names),)).fetchall()
        up = {r[0] for r in rows}
        return [n in up for n in names]

    def elect(self, role: str, holder: str, ttl_s: float) -> bool:
        with self._pool().connection() as conn:
            row = conn.execute(
                "INSERT INTO flowc_roles AS r (role, holder, expires_at) "
                "VALUES (%s, %s, now() + %s::interval) ON CONFLICT (role) DO UPDATE "
                "SET holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE r.expires_at <= now() RETURNING holder",
                (role, holder, _interval(ttl_s))).fetchone()
        return row is not None

    def worker_queues(self, name: str) -> list[str] | None:
        with self._pool().connection() as conn:
            row = conn.execute("SELECT fields->>'queues' FROM flowc_workers WHERE name = %s",
                               (name,)).fetchone()
        if row is None or not row[0]:
            return None
        return [q for q in str(row[0]).split(",") if q]

    def register_queues(self, queues: Sequence[str]) -> None:
        if queues:
            with self._pool().connection() as conn:
                conn.execute("INSERT INTO flowc_queues (name) SELECT unnest(%s::text[]) "
                             "ON CONFLICT DO NOTHING", (list(queues),))

    def queue_names(self) -> set[str]:
        with self._pool().connection() as conn:
            return {r[0] for r in conn.execute("SELECT name FROM flowc_queues").fetchall()}

    # --- revocations ---------------------------------------------------------------------------

    def revoke(self, ids: Sequence[str], now: float, keep_s: float, terminate: bool) -> None:
        with self._pool().connection() as conn, conn.transaction():
            conn.execute("INSERT INTO flowc_revoked (task_id, revoked_at) "
                         "SELECT unnest(%s::text[]), %s ON CONFLICT (task_id) DO UPDATE "
                         "SET revoked_at = excluded.revoked_at", (list(ids), now))
            conn.execute("DELETE FROM flowc_revoked WHERE revoked_at < %s", (now - keep_s,))
            if terminate:
                conn.execute("INSERT INTO flowc_terminations (task_id) "
                             "SELECT unnest(%s::text[])", (list(ids),))
                conn.execute("DELETE FROM flowc_terminations WHERE seq < "
                             "(SELECT max(seq) FROM flowc_terminations) - %s",
                             (TERMINATIONS_KEPT,))

    def revoked_since(self, since: float) -> list[str]:
        with self._pool().connection() as conn:
            rows = conn.execute("SELECT task_id FROM flowc_revoked WHERE revoked_at >= %s",
                                (since,)).fetchall()
        return [r[0] for r in rows]

    def terminations(self, cursor: str | None) -> tuple[str, list[str]]:
        with self._pool().connection() as conn:
            if cursor is None:
                row = conn.execute("SELECT coalesce(max(seq), 0) FROM flowc_terminations"
                                   ).fetchone()
                return str(row[0] if row else 0), []
            rows = conn.execute("SELECT seq, task_id FROM flowc_terminations WHERE seq > %s "
                                "ORDER BY seq LIMIT 100", (int(cursor),)).fetchall()
        if not rows:
            return cursor, []
        return str(rows[-1][0]), [r[1] for r in rows]

    # --- rate limits ---------------------------------------------------------------------------

    def rate_slot(self, key: str, interval_ms: float) -> float:
        """GCRA in one statement: the slot is max(now, the row's next free slot); the row moves
        on by ``interval_ms``; the reply is how far the slot is from now (server clock)."""
        with self._volatile() as conn:
            row = conn.execute(
                f"INSERT INTO flowc_rate AS r (key, next_ms) "
                f"VALUES (%(key)s, {NOW_STATEMENT_MS} + %(iv)s) ON CONFLICT (key) DO UPDATE "
                f"SET next_ms = greatest(r.next_ms, {NOW_STATEMENT_MS}) + %(iv)s "
                f"RETURNING r.next_ms - %(iv)s - {NOW_STATEMENT_MS}",
                {"key": key, "iv": float(interval_ms)}).fetchone()
        assert row is not None
        return max(0.0, float(row[0]))

    # --- events --------------------------------------------------------------------------------

    def add_events(self, payload: bytes, host: bytes, maxlen: int, pipe: Any = None) -> None:
        channel = self._channel("events")
        with self._volatile() as conn:
            conn.execute(f"INSERT INTO flowc_events (ts_ms, host, payload) "
                         f"VALUES (({NOW_S} * 1000)::bigint, %s, %s)", (host, payload))
            conn.execute("SELECT pg_notify(%s, '')", (channel,))
            self._events_inserted += 1
            if self._events_inserted % EVENTS_TRIM_EVERY == 1:
                conn.execute("DELETE FROM flowc_events WHERE id <= "
                             "(SELECT max(id) FROM flowc_events) - %s", (maxlen,))

    def _start_after(self, conn: Any, last_id: str) -> int:
        """An events id after which to read: ``$`` the newest, ``0-0`` none, ``<ms>-<n>`` the
        last entry stored by then (the Redis stream ids the CLI and dashboard speak)."""
        if last_id == "$":
            row = conn.execute("SELECT coalesce(max(id), 0) FROM flowc_events").fetchone()
            return int(row[0])
        if "-" in last_id:
            ms = int(last_id.split("-", 1)[0])
            if ms == 0:
                return 0
            row = conn.execute("SELECT coalesce(max(id), 0) FROM flowc_events "
                               "WHERE ts_ms <= %s", (ms,)).fetchone()
            return int(row[0])
        return int(last_id)

    def _listener(self) -> Any:
        """This thread's connection LISTENing to the events channel (kept open)."""
        conn = getattr(self._local, "events", None)
        if conn is None or conn.closed:

            conn = psycopg.connect(self.db.conninfo, autocommit=True)
            conn.execute(f'LISTEN "{self._channel("events")}"')
            self._local.events = conn
            with self._lock:  # kept here too: closed by close(), not by a dying thread
                self._listeners.append((os.getpid(), conn))
        return conn

    def read_events(self, last_id: str, block_ms: int | None = None,
                    count: int = 500) -> tuple[str, list[dict[str, Any]]]:
        conn = self._listener()
        after = self._start_after(conn, last_id)
        deadline = time.monotonic() + (block_ms or 0) / 1000.0
        while True:
            rows = conn.execute("SELECT id, host, payload FROM flowc_events WHERE id > %s "
                                "ORDER BY id LIMIT %s", (after, count)).fetchall()
            if rows or not block_ms:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for _ in conn.notifies(timeout=left, stop_after=1):
                pass
        events: list[dict[str, Any]] = []
        for entry_id, host, payload in rows:
            after = int(entry_id)
            events.extend(decode_entry({b"e": bytes(payload), b"h": bytes(host)}))
        return str(after), events

    def event_entries(self, start_ms: int | None = None, newest_first: bool = False,
                      count: int | None = None) -> Iterator[tuple[str, Any]]:
        order = "DESC" if newest_first else "ASC"
        with self._pool().connection() as conn:
            rows = conn.execute(
                f"SELECT id, host, payload FROM flowc_events WHERE ts_ms >= %s "
                f"ORDER BY id {order} LIMIT %s",
                (start_ms or 0, count if count is not None else 2 ** 62)).fetchall()
        for entry_id, host, payload in rows:
            yield str(entry_id), {b"e": bytes(payload), b"h": bytes(host)}

    # --- remote control ------------------------------------------------------------------------

    def subscribe_control(self) -> PgSubscription:
        return PgSubscription(self.db.conninfo, self._channel("ctl"))

    def reply_box(self, request_id: str) -> str:
        return f"flowc_reply_{request_id}"[:63]

    def broadcast(self, command: bytes, reply_to: str | None,
                  timeout_s: float) -> Iterator[bytes]:
        """NOTIFY the command; the live workers are the processes that should answer (NOTIFY
        does not say how many listened), so gathering stops once each one replied."""
        channel = self._channel("ctl")
        conn = psycopg.connect(self.db.conninfo, autocommit=True)
        try:
            if reply_to is not None:
                conn.execute(f'LISTEN "{reply_to}"')
            conn.execute("SELECT pg_notify(%s, %s)", (channel, command.decode()))
            row = conn.execute("SELECT count(*) FROM flowc_workers WHERE expires_at > now()"
                               ).fetchone()
            heard = int(row[0]) if row else 0
        except BaseException:
            conn.close()
            raise
        return self._replies(conn, reply_to, heard, timeout_s)

    def _replies(self, conn: Any, reply_to: str | None, heard: int,
                 timeout_s: float) -> Iterator[bytes]:
        try:
            if reply_to is None or heard == 0:
                return
            deadline = time.monotonic() + timeout_s
            got = 0
            while got < heard:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                for notify in conn.notifies(timeout=left, stop_after=heard - got):
                    got += 1
                    yield notify.payload.encode()
        finally:
            conn.close()

    def reply_control(self, reply_to: str, reply: bytes) -> None:
        text = reply.decode()
        if len(reply) > CONTROL_PAYLOAD_MAX:
            worker = orjson.loads(reply).get("worker")
            text = orjson.dumps({"worker": worker, "error": "reply too large for NOTIFY "
                                 f"({len(reply)} bytes)"}).decode()
        with self._pool().connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (reply_to, text))

    # --- beat ----------------------------------------------------------------------------------

    def beat_lock(self, ttl_s: float) -> PgLeaderLock:
        return PgLeaderLock(self, ttl_s)

    def beat_state(self) -> PgBeatState:
        return PgBeatState(self)


class PgLeaderLock(LeaseState):
    """Beat's lease as one row: acquired (fence + 1) when expired, extended while ours; the
    fence survives release and takeover, so it only grows."""

    def __init__(self, coordination: PgCoordination, ttl_s: float,
                 candidate: str | None = None) -> None:
        super().__init__(ttl_s, candidate)
        self.coordination = coordination

    def refresh(self) -> Lease | None:
        started = time.monotonic()
        mine = self.mine()
        ttl = _interval(self.ttl_s)
        with self.coordination._pool().connection() as conn, conn.transaction():
            conn.execute("INSERT INTO flowc_beat_lease (name, token, fence, expires_at) "
                         "VALUES ('beat', '', 0, now() - interval '1 second') "
                         "ON CONFLICT DO NOTHING")
            row = conn.execute("SELECT token, fence, expires_at > now() FROM flowc_beat_lease "
                               "WHERE name = 'beat' FOR UPDATE").fetchone()
            assert row is not None
            token, fence, live = str(row[0]), int(row[1]), bool(row[2])
            if live and token == mine and mine:
                conn.execute("UPDATE flowc_beat_lease SET expires_at = now() + %s::interval "
                             "WHERE name = 'beat'", (ttl,))
                leading = True
            elif live:
                leading = False
            else:
                token = f"{fence + 1}:{self.candidate}"
                conn.execute("UPDATE flowc_beat_lease SET token = %s, fence = %s, "
                             "expires_at = now() + %s::interval WHERE name = 'beat'",
                             (token, fence + 1, ttl))
                leading = True
        return self.settle(leading, token, started)

    def release(self) -> None:
        if self.lease is None:
            return
        try:
            with self.coordination._pool().connection() as conn:
                conn.execute("UPDATE flowc_beat_lease SET expires_at = now() - "
                             "interval '1 second' WHERE name = 'beat' AND token = %s",
                             (self.lease.token,))
        except psycopg.Error:
            logger.warning("beat: could not release the lease; it expires in %.1fs", self.ttl_s)
        finally:
            self.lease = None


class PgBeatState:
    """Beat's entry state, each write one transaction that first checks (and locks) the lease
    row: a deposed leader's claim or record fails with ``LeaseLost``."""

    def __init__(self, coordination: PgCoordination) -> None:
        self.coordination = coordination

    def read(self, names: list[str]) -> dict[str, EntryState]:
        if not names:
            return {}
        with self.coordination._pool().connection() as conn:
            rows = conn.execute("SELECT entry, last_us, pending_us FROM flowc_beat_state "
                                "WHERE entry = ANY(%s)", (names,)).fetchall()
        found = {r[0]: r for r in rows}
        out = {}
        for name in names:
            row = found.get(name)
            last = None if row is None or row[1] is None else from_us(int(row[1]))
            pending = None if row is None or row[2] is None else from_us(int(row[2]))
            out[name] = EntryState(last, pending)
        return out

    def _fenced(self, conn: Any, lease: Any, entry: str) -> None:
        row = conn.execute("SELECT 1 FROM flowc_beat_lease WHERE name = 'beat' AND token = %s "
                           "AND fence = %s AND expires_at > now() FOR SHARE",
                           (lease.token, lease.fence)).fetchone()
        if row is None:
            raise LeaseLost(entry)

    def claim(self, lease: Any, entry: str, due: datetime) -> int:
        due_us = to_us(due)
        with self.coordination._pool().connection() as conn, conn.transaction():
            self._fenced(conn, lease, entry)
            conn.execute("INSERT INTO flowc_beat_state (entry) VALUES (%s) "
                         "ON CONFLICT DO NOTHING", (entry,))
            row = conn.execute("SELECT last_us FROM flowc_beat_state WHERE entry = %s "
                               "FOR UPDATE", (entry,)).fetchone()
            if row is not None and row[0] is not None and int(row[0]) >= due_us:
                return ALREADY_HANDLED
            conn.execute("UPDATE flowc_beat_state SET pending_us = %s WHERE entry = %s",
                         (due_us, entry))
        return CLAIMED

    def record(self, lease: Any, entry: str, instant: datetime, mode: str = "advance") -> None:
        at = to_us(instant)
        with self.coordination._pool().connection() as conn, conn.transaction():
            self._fenced(conn, lease, entry)
            if mode == "init":
                conn.execute("INSERT INTO flowc_beat_state (entry, last_us) VALUES (%s, %s) "
                             "ON CONFLICT (entry) DO UPDATE SET last_us = "
                             "coalesce(flowc_beat_state.last_us, excluded.last_us)", (entry, at))
                return
            conn.execute(
                "INSERT INTO flowc_beat_state (entry, last_us) VALUES (%s, %s) "
                "ON CONFLICT (entry) DO UPDATE SET "
                "last_us = greatest(flowc_beat_state.last_us, excluded.last_us), "
                "pending_us = CASE WHEN flowc_beat_state.pending_us <= excluded.last_us "
                "THEN NULL ELSE flowc_beat_state.pending_us END", (entry, at))

    def run_id(self, entry: str, due: datetime) -> str:
        return str(uuid.uuid5(RUN_ID_NAMESPACE,
                              f"{self.coordination.prefix}\0{entry}\0{to_us(due)}"))
