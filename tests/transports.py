"""Fixtures for the other transports: a private RabbitMQ vhost and a private PostgreSQL schema
per test run (both deleted after it), a private memcached server per test run (stopped after
it), and helpers that empty them between tests.

RabbitMQ (127.0.0.1:5672, guest/guest) and PostgreSQL (127.0.0.1:5432, trust, database
``test``) run on every machine here; ``FLOWC_TEST_AMQP`` / ``FLOWC_TEST_POSTGRES`` point
elsewhere. The vhost is made with ``rabbitmqctl`` (the management plugin is not enabled).
Memcached is Debian's ``memcached`` binary (.ci/run installs it), started on a free loopback
port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pika
import psycopg
import pytest
from flowc.runtime.amqp.broker import DEAD_LETTER_QUEUE, DELAY_LEVELS, delay_queue
from pymemcache.client.base import Client as MemcacheClient

AMQP_HOST = os.environ.get("FLOWC_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
POSTGRES = os.environ.get("FLOWC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
FLOWC_TABLES = ("flowc_values", "flowc_nodes", "flowc_runs", "flowc_keys", "flowc_results",
                "flowc_workers", "flowc_roles", "flowc_queues", "flowc_revoked",
                "flowc_terminations", "flowc_rate", "flowc_events", "flowc_beat_lease",
                "flowc_beat_state")


REQUIRE = os.environ.get("FLOWC_TEST_REQUIRE_SERVICES") == "1"
"""Set by .ci/run: on CI a missing RabbitMQ or PostgreSQL fails the run. On a laptop without
them, their tests are skipped with a line saying what to start (the Redis tests always run:
flowc starts an embedded server)."""


def _unavailable(what: str) -> None:
    message = (f"{what}; RabbitMQ/PostgreSQL/Memcached tests need the servers (see "
               "docs/transports.md; "
               "CI sets FLOWC_TEST_REQUIRE_SERVICES=1 so they cannot be skipped there)")
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A broker URL on a vhost of its own, deleted with everything in it after the run."""
    vhost = f"flowc-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        _rabbitmqctl("add_vhost", vhost)
    except (OSError, subprocess.SubprocessError) as e:
        _unavailable(f"cannot create a RabbitMQ vhost with rabbitmqctl ({e}); is RabbitMQ "
                     "running on 127.0.0.1:5672?")
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{AMQP_HOST}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def empty_vhost(url: str, queues: list[str]) -> None:
    """Delete ``queues``, their delay levels and the dead-letter queue (a test's leftovers)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in queues:
            for name in [queue, *(delay_queue(queue, k) for k in range(DELAY_LEVELS))]:
                channel.queue_delete(name)
        channel.queue_delete(DEAD_LETTER_QUEUE)
    finally:
        connection.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A result-backend URL whose tables live in a schema of their own, dropped after the run."""
    schema = f"flowc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
    except psycopg.OperationalError as e:
        _unavailable(f"cannot reach PostgreSQL at {POSTGRES} ({e})")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')  # type: ignore[arg-type]


def empty_schema(url: str) -> None:
    """Delete every row flowc stored in the schema (the tables stay)."""
    with psycopg.connect(url, autocommit=True) as conn:
        present = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()}
        tables = [t for t in FLOWC_TABLES if t in present]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)}")  # type: ignore[arg-type]


MEMCACHED_START_S = 10.0
"""How long a fresh memcached may take to accept connections."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def memcached_server(port: int | None = None) -> Iterator[str]:
    """A memcached of its own (``port``, else a free loopback port; UDP off) as a
    ``result_backend`` URL, stopped by its pid on exit; skips (fails on CI) when it cannot
    start."""
    binary = shutil.which("memcached")
    if binary is None:
        _unavailable("memcached is not installed (apt-get install memcached)")
    port = port or _free_port()
    user = ["-u", "root"] if os.geteuid() == 0 else []  # memcached refuses root without -u
    proc = subprocess.Popen([str(binary), "-l", "127.0.0.1", "-p", str(port), "-U", "0", *user],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + MEMCACHED_START_S
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.poll() is not None \
                        and proc.stderr else ""
                    _unavailable(f"memcached did not start on port {port} ({err.strip()})")
                time.sleep(0.02)
        yield f"cache+memcached://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture(scope="session")
def memcached_url() -> Iterator[str]:
    """The run's memcached (``memcached_server``), shared by its tests (``empty_memcached``
    between them)."""
    with memcached_server() as url:
        yield url


def memcached_address(url: str) -> tuple[str, int]:
    """``(host, port)`` of a ``memcached_url``."""
    host, _, port = url.partition("://")[2].rstrip("/").rpartition(":")
    return host, int(port)


def empty_memcached(url: str) -> None:
    """Delete every item of the test run's memcached (``flush_all``)."""
    client = MemcacheClient(memcached_address(url), connect_timeout=5, timeout=5)
    try:
        client.flush_all(noreply=False)
    finally:
        client.close()
