"""A connection per thread held for single-command hot paths (``delay()``, result waits).

redis-py's ``execute_command`` takes a pooled connection, polls it, runs retry and observability
hooks and returns it, on every call: about three times the loopback round trip. Holding one
connection per thread and sending a pre-packed command cuts ``delay()`` to little more than the
round trip. Dropped connections are re-opened with capped exponential backoff, like the client.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_pack_command: Callable[..., bytes] | None
try:
    from hiredis import pack_command as _pack_command
except ImportError:  # redis-py's own packing (slower: it encodes argument by argument)
    _pack_command = None

RETRY_ATTEMPTS = 12
RETRY_BASE_S = 0.05
RETRY_CAP_S = 2.0


class ProducerNumbers:
    """A token per thread of this process and an increasing number per publish (``publish.lua``
    stores the last number per token and queue, so a re-sent publish is recognised).

    One thread publishes one command at a time, so its numbers reach Redis in order; a forked
    child gets a new token (it would otherwise repeat its parent's numbers)."""

    def __init__(self) -> None:
        self.local = threading.local()

    def next(self) -> tuple[str, int]:
        """This thread's token and its next number."""
        local = self.local
        if getattr(local, "pid", None) != os.getpid():
            local.pid = os.getpid()
            local.token = uuid.uuid4().hex[:16]
            local.numbers = itertools.count(1)
        return local.token, next(local.numbers)


class HeldConnection:
    """Executes one command at a time on a per-thread connection made from ``client``'s pool."""

    def __init__(self, client: redis.Redis) -> None:
        self.pool = client.connection_pool
        self.local = threading.local()
        self.errors = getattr(self.pool.connection_kwargs.get("retry"), "errors", None)
        """The client's count of commands that met a dropped connection (``CountingRetry``):
        commands re-sent here count too, so a consumer learns a claim's reply may be lost."""

    def _dropped(self, conn: Any) -> None:
        """The link dropped under a command that may have run: disconnect, and count it."""
        conn.disconnect()
        if self.errors is not None:
            self.errors.n += 1

    def _connection(self) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None or self.local.pid != os.getpid():
            conn = self.pool.make_connection()  # not returned to the pool: this thread owns it
            self.local.conn, self.local.pid = conn, os.getpid()
        return conn

    def execute(self, *args: Any, timeout: float | None = None) -> Any:
        """Send one command and read its reply; reconnect with backoff when the link drops."""
        conn = self._connection()
        packed = pack(conn, [args])
        for attempt in range(RETRY_ATTEMPTS + 1):
            try:
                # connect() first (a no-op when connected): send_packed_command would connect
                # by itself, but past a subclass's connect (Sentinel's asks for the primary)
                conn.connect()
                conn.send_packed_command(packed, check_health=False)
                if timeout is None:
                    return conn.read_response()
                return conn.read_response(timeout=timeout)
            except (RedisConnectionError, RedisTimeoutError):
                self._dropped(conn)
                if attempt == RETRY_ATTEMPTS:
                    raise
                time.sleep(min(RETRY_CAP_S, RETRY_BASE_S * 2 ** attempt))
        raise AssertionError("unreachable")

    def transact(self, commands: list[tuple[Any, ...]], again: tuple[Any, ...]) -> Any:
        """Run ``commands`` in one MULTI/EXEC and return EXEC's reply; once the link drops,
        send ``again`` instead (and return its reply): the transaction may have run, so the
        re-send must be a command that can tell (``publish.lua`` for a publish). A command
        refused at queue time (OOM) raises its error, with every reply read."""
        conn = self._connection()
        packed: Any = conn.pack_commands([("MULTI",), *commands, ("EXEC",)])
        replies = len(commands) + 2
        for attempt in range(RETRY_ATTEMPTS + 1):
            try:
                conn.connect()
                conn.send_packed_command(packed, check_health=False)
                error: ResponseError | None = None
                reply = None
                for _ in range(replies):
                    try:
                        reply = conn.read_response()
                    except ResponseError as e:  # read the rest: the link stays usable
                        error = error or e
                if error is not None:
                    raise error
                return reply
            except (RedisConnectionError, RedisTimeoutError):
                self._dropped(conn)
                if attempt == RETRY_ATTEMPTS:
                    raise
                time.sleep(min(RETRY_CAP_S, RETRY_BASE_S * 2 ** attempt))
                packed, replies = conn.pack_command(*again), 1
        raise AssertionError("unreachable")

    def execute_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send ``commands`` in one write and read every reply: a pipeline without redis-py's
        per-command packing, callbacks and pool round trip (a worker's flush). An error reply
        takes its command's place as the exception, as ``execute(raise_on_error=False)``
        does; a dropped link is re-opened and the whole batch sent again, as redis-py's
        pipeline retries (so only idempotent commands, or ones the caller accounts for)."""
        conn = self._connection()
        packed = pack(conn, commands)
        for attempt in range(RETRY_ATTEMPTS + 1):
            try:
                conn.connect()
                conn.send_packed_command(packed, check_health=False)
                replies: list[Any] = []
                for _ in commands:
                    try:
                        replies.append(conn.read_response())
                    except ResponseError as e:
                        replies.append(e)
                return replies
            except (RedisConnectionError, RedisTimeoutError):
                self._dropped(conn)
                if attempt == RETRY_ATTEMPTS:
                    raise
                time.sleep(min(RETRY_CAP_S, RETRY_BASE_S * 2 ** attempt))
            except BaseException:
                conn.disconnect()  # replies may be left unread: never reuse the link
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Drop this thread's connection."""
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.disconnect()
            self.local.conn = None


def pack(conn: Any, commands: Sequence[Sequence[Any]]) -> Any:
    """The RESP bytes of ``commands`` for ``conn.send_packed_command``: hiredis packs each
    command in C; redis-py's packing (argument by argument in Python) is the fallback, and
    the judge of arguments hiredis refuses (it raises redis-py's error for them)."""
    if _pack_command is not None:
        try:
            return [b"".join([_pack_command(tuple(args)) for args in commands])]
        except TypeError:
            pass
    return conn.pack_commands(commands)


class ClientCommands:
    """``HeldConnection``'s interface on a client's own command path: for a Redis Cluster,
    whose commands go to the node owning their key (redis-py routes them and follows
    redirections; a held connection would be pinned to one node)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def execute(self, *args: Any, timeout: float | None = None) -> Any:
        """Run one command through the client."""
        return self.client.execute_command(*args)

    def transact(self, commands: list[tuple[Any, ...]], again: tuple[Any, ...]) -> Any:
        """Run ``again`` (the client re-sends it itself after a dropped connection, so it
        must be the command that can tell a repeat: ``HeldConnection.transact``)."""
        return self.client.execute_command(*again)

    def execute_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Run the commands on one of the client's pipelines (routed per key)."""
        pipe = self.client.pipeline(transaction=False)
        for args in commands:
            pipe.execute_command(*args)
        return list(pipe.execute(raise_on_error=False))

    def close(self) -> None:
        """Nothing is held."""


def held_for(client: Any) -> HeldConnection | ClientCommands:
    """A held connection for one server, or the cluster client's own routing."""
    from flowc.runtime.redis.connection import is_cluster

    return ClientCommands(client) if is_cluster(client) else HeldConnection(client)
