"""A connection per thread held for single-command hot paths (``delay()``, result waits).

redis-py's ``execute_command`` takes a pooled connection, polls it, runs retry and observability
hooks and returns it, on every call: about three times the loopback round trip. Holding one
connection per thread and sending a pre-packed command cuts ``delay()`` to little more than the
round trip. Dropped connections are re-opened with capped exponential backoff, like the client.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
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
    """Executes commands on connections made from ``client``'s pool and kept by this object:
    one taken from its free list for each call and put back after it, so a single-threaded
    worker reuses one connection with no pool checkout, and a pool of many threads or
    greenlets (``-P gevent -c 300``) opens only as many as run commands at once."""

    def __init__(self, client: redis.Redis) -> None:
        self.pool = client.connection_pool
        self.free: list[Any] = []
        self.pid = os.getpid()
        self.errors = getattr(self.pool.connection_kwargs.get("retry"), "errors", None)
        """The client's count of commands that met a dropped connection (``CountingRetry``):
        commands re-sent here count too, so a consumer learns a claim's reply may be lost."""

    def _dropped(self, conn: Any) -> None:
        """The link dropped under a command that may have run: disconnect, and count it."""
        conn.disconnect()
        if self.errors is not None:
            self.errors.n += 1

    def _acquire(self) -> Any:
        if self.pid != os.getpid():  # a forked child: the parent's sockets are not its own
            self.free, self.pid = [], os.getpid()
        try:
            return self.free.pop()
        except IndexError:
            return self.pool.make_connection()  # not returned to the pool: kept here

    @contextlib.contextmanager
    def _held(self) -> Iterator[Any]:
        """A connection for one call; one left with unread replies (an exception raised
        while reading, other than an error reply) is disconnected before it is reused."""
        conn = self._acquire()
        try:
            yield conn
        except ResponseError:
            raise
        except BaseException:
            conn.disconnect()
            raise
        finally:
            if self.pid == os.getpid():
                self.free.append(conn)

    def execute(self, *args: Any, timeout: float | None = None) -> Any:
        """Send one command and read its reply; reconnect with backoff when the link drops."""
        with self._held() as conn:
            return self._execute(conn, args, timeout)

    def _execute(self, conn: Any, args: tuple[Any, ...], timeout: float | None) -> Any:
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
        with self._held() as conn:
            return self._transact(conn, commands, again)

    def _transact(self, conn: Any, commands: list[tuple[Any, ...]],
                  again: tuple[Any, ...]) -> Any:
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
        with self._held() as conn:
            return self._execute_many(conn, commands)

    def _execute_many(self, conn: Any, commands: Sequence[Sequence[Any]]) -> list[Any]:
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
        """Disconnect the connections not in use (a call in flight keeps its own)."""
        free, self.free = self.free, []
        for conn in free:
            conn.disconnect()


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
