"""Results in PostgreSQL: a row per task, waiters woken by LISTEN/NOTIFY (no polling).

``store`` upserts the records and sends ``NOTIFY <channel>, '<task id>'`` in the same
transaction (delivered at commit); ``wait`` LISTENs first, then reads, then sleeps in
``notifies()`` until its task's id arrives or the timeout passes, so a record stored between
the read and the sleep is never missed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from flowc.runtime.exceptions import ImproperlyConfigured
from flowc.runtime.sql import schema
from psycopg import sql
from psycopg_pool import ConnectionPool

CLEANUP_EVERY_S = 60.0
"""How often one process deletes expired rows (on its next store)."""
POOL_MAX = 8
"""Connections per process (a waiter holds one while it waits)."""
_INHERITED: list[Any] = []
"""Pools a forked child inherited: kept referenced, never closed or collected, because freeing
a libpq connection sends the server a Terminate on the socket the parent still uses."""


def conninfo(url: str) -> str:
    """The libpq URL of a ``result_backend`` URL (Celery's ``db+postgresql://`` and SQLAlchemy's
    ``postgresql+psycopg://`` spellings accepted)."""
    if url.startswith("db+"):
        url = url[3:]
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ImproperlyConfigured(f"result_backend {url!r} is not a URL",
                                   hint="use postgresql://user@host:5432/dbname")
    return "postgresql://" + rest if scheme.split("+")[0] in ("postgresql", "postgres") \
        else url


class Database:
    """A process's connection pool and the schema it created (re-created after a fork)."""

    def __init__(self, url: str) -> None:
        self.conninfo = conninfo(url)
        self._pool: ConnectionPool[Any] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.schema_name = ""
        self._cleaned = 0.0

    @property
    def pool(self) -> ConnectionPool[Any]:
        """This process's pool (autocommit connections; opened, and the tables created, on
        first use)."""
        if self._pool is not None and self._pid == os.getpid():
            return self._pool
        with self._lock:
            if self._pool is not None and self._pid != os.getpid():
                _INHERITED.append(self._pool)
                self._pool = None
            if self._pool is None:
                try:
                    with psycopg.connect(self.conninfo, autocommit=True) as conn:
                        self.schema_name = schema.create(conn)
                except psycopg.OperationalError as e:
                    raise ImproperlyConfigured(
                        f"cannot connect to PostgreSQL ({str(e).strip().splitlines()[0]})",
                        hint="check result_backend and that PostgreSQL is running") from e
                self._pool = ConnectionPool(self.conninfo, min_size=1, max_size=POOL_MAX,
                                            kwargs={"autocommit": True}, open=True)
                self._pid = os.getpid()
        return self._pool

    @property
    def channel(self) -> str:
        """The NOTIFY channel of stored results (per schema)."""
        _ = self.pool
        return f"flowc_results_{self.schema_name}"[:63]

    def maybe_cleanup(self) -> None:
        """Delete expired rows at most every ``CLEANUP_EVERY_S`` in this process."""
        now = time.monotonic()
        if now - self._cleaned < CLEANUP_EVERY_S:
            return
        self._cleaned = now
        with self.pool.connection() as conn:
            schema.delete_expired(conn)

    def close(self) -> None:
        """Close this process's pool (it reopens on next use)."""
        pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()
        elif pool is not None:
            _INHERITED.append(pool)


def _expiry(ttl_s: float | None) -> Any:
    return None if not ttl_s else f"{float(ttl_s)} seconds"


class PgResultBackend:
    """``ResultBackend`` on PostgreSQL >= 12."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Close the pool (it reopens on next use)."""
        self.db.close()

    def store(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None) -> None:
        """Upsert the records and notify their waiters, in one transaction."""
        if not items:
            return
        self.db.maybe_cleanup()
        expiry = _expiry(ttl_s)
        with self.db.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO flowc_results (task_id, record, expires_at) "
                "VALUES (%s, %s, now() + %s::interval) ON CONFLICT (task_id) DO UPDATE "
                "SET record = excluded.record, expires_at = excluded.expires_at",
                [(tid, rec, expiry) for tid, rec in items])
            cur.executemany("SELECT pg_notify(%s, %s)",
                            [(self.db.channel, tid) for tid, _ in items])

    def set_state(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None) -> None:
        """Upsert each in-flight state."""
        if not items:
            return
        expiry = _expiry(ttl_s)
        with self.db.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO flowc_results (task_id, state, expires_at) "
                "VALUES (%s, %s, now() + %s::interval) ON CONFLICT (task_id) DO UPDATE "
                "SET state = excluded.state, expires_at = excluded.expires_at",
                [(tid, rec, expiry) for tid, rec in items])

    def get(self, task_id: str) -> tuple[bytes | None, bytes | None]:
        """The record and the state (None where absent or expired)."""
        with self.db.pool.connection() as conn:
            row = conn.execute(
                "SELECT record, state FROM flowc_results WHERE task_id = %s "
                "AND (expires_at IS NULL OR expires_at > now())", (task_id,)).fetchone()
        if row is None:
            return None, None
        return _bytes(row[0]), _bytes(row[1])

    def wait(self, task_id: str, timeout_s: float | None) -> bytes | None:
        """LISTEN, read, then sleep on notifications until this task's record is stored."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self.db.channel))
        with self.db.pool.connection() as conn:
            conn.execute(listen)
            try:
                while True:
                    record = self._record(conn, task_id)
                    if record is not None:
                        return record
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return None
                    for note in conn.notifies(timeout=left):
                        if note.payload == task_id:
                            break
            finally:
                conn.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(self.db.channel)))

    def _record(self, conn: psycopg.Connection[Any], task_id: str) -> bytes | None:
        row = conn.execute(
            "SELECT record FROM flowc_results WHERE task_id = %s AND record IS NOT NULL "
            "AND (expires_at IS NULL OR expires_at > now())", (task_id,)).fetchone()
        return None if row is None else _bytes(row[0])

    def forget(self, task_id: str) -> None:
        """Delete the task's row."""
        with self.db.pool.connection() as conn:
            conn.execute("DELETE FROM flowc_results WHERE task_id = %s", (task_id,))

    def claim_key(self, key: str, task_id: str, ttl_s: float) -> str | None:
        """Take an idempotency key for ``task_id`` unless a live holder has it; return that
        holder's task id, or None if the key is now this task's."""
        with self.db.pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO flowc_keys (key, task_id, expires_at) "
                "VALUES (%s, %s, now() + %s::interval) ON CONFLICT (key) DO UPDATE "
                "SET task_id = excluded.task_id, expires_at = excluded.expires_at "
                "WHERE flowc_keys.expires_at <= now() RETURNING task_id",
                (key, task_id, f"{float(ttl_s)} seconds")).fetchone()
            if row is not None:
                return None
            held = conn.execute("SELECT task_id FROM flowc_keys WHERE key = %s",
                                (key,)).fetchone()
        return None if held is None else str(held[0])


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)
