"""flowc's tables in PostgreSQL, created on first use in the connection's current schema.

Pick the schema with libpq's ``options`` in the URL
(``postgresql://host/db?options=-csearch_path%3Dmyschema``); waiters' NOTIFY channel is named
after it, so two schemas of one database never wake each other's waiters.

- ``flowc_results``: one row per task: terminal ``record`` and in-flight ``state`` (opaque
  bytes), ``expires_at`` (NULL = never); expired rows read as absent and are deleted by
  ``delete_expired``.
- ``flowc_keys``: idempotency keys (``publish_once``) with their first task id and expiry.
- ``flowc_runs``: one row per workflow run, its ``meta`` (the Redis meta hash as a JSON object
  of strings); every join locks it (``FOR UPDATE``), so the joins of one run are serial.
- ``flowc_nodes``: a run's nodes: run record (JSON), state, parents still pending, result JSON.
- ``flowc_values``: a run's named values: map instance results ``<map>#<i>``, counters
  ``<map>#n`` and ``<map>#left``, errback records ``eb:<id>``, and ``<node>#by``: the parent
  whose completion made the node ready.
"""

from __future__ import annotations

import psycopg

DDL = """
CREATE TABLE IF NOT EXISTS flowc_results (
    task_id text PRIMARY KEY,
    record bytea,
    state bytea,
    expires_at timestamptz
);
CREATE INDEX IF NOT EXISTS flowc_results_expiry ON flowc_results (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS flowc_keys (
    key text PRIMARY KEY,
    task_id text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS flowc_runs (
    workflow_id text PRIMARY KEY,
    meta jsonb NOT NULL,
    expires_at timestamptz
);
CREATE TABLE IF NOT EXISTS flowc_nodes (
    workflow_id text NOT NULL REFERENCES flowc_runs ON DELETE CASCADE,
    node_id text NOT NULL,
    record text NOT NULL,
    state text NOT NULL,
    pending integer NOT NULL DEFAULT 0,
    result text,
    PRIMARY KEY (workflow_id, node_id)
);
CREATE TABLE IF NOT EXISTS flowc_values (
    workflow_id text NOT NULL REFERENCES flowc_runs ON DELETE CASCADE,
    name text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (workflow_id, name)
);
"""


def create(conn: psycopg.Connection) -> str:
    """Create the tables if missing (serialised by an advisory lock: concurrent ``CREATE ...
    IF NOT EXISTS`` can collide); returns the current schema's name."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('flowc-schema:' || current_schema()))")
        conn.execute(DDL)
        row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("no current schema: set search_path")
    return str(row[0])


def delete_expired(conn: psycopg.Connection) -> None:
    """Delete expired results, keys and runs (a run's nodes and values go with it)."""
    with conn.transaction():
        conn.execute("DELETE FROM flowc_results WHERE expires_at < now()")
        conn.execute("DELETE FROM flowc_keys WHERE expires_at < now()")
        conn.execute("DELETE FROM flowc_runs WHERE expires_at < now()")
