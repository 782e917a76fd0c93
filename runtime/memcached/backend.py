"""Results in Memcached: one item per record, one per in-flight state, both with the result TTL.

Memcached has no blocking read and no pub/sub, so ``wait`` polls, with a backoff from
``POLL_FIRST_S`` doubling to ``POLL_MAX_S``: a result stored while a caller waits is seen at
most ``POLL_MAX_S`` late. It holds no durable state either (an item may be evicted before it
expires when the server runs out of memory), so workflow runs are refused (``join.py``).

Keys: ``<prefix>:result:<id>``, ``<prefix>:state:<id>`` and ``<prefix>:idem:<key>``, as on
Redis; an id that Memcached cannot take as a key (longer than 250 bytes, whitespace, control
or non-ASCII characters) is replaced by its SHA-1. Items are limited to the server's
``item_size_max`` (1 MB by default): a record over it is replaced by a FAILURE record whose
``ResultTooLarge`` says so, as ``get()`` would otherwise wait for a result never stored.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote

from flowc.runtime import states
from flowc.runtime.exceptions import (
    ImproperlyConfigured,
    ResultBackendUnavailable,
    ResultTooLarge,
)
from flowc.runtime.outcome import encode_record, exception_to_dict, now_iso
from pymemcache.client.base import Client, PooledClient
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheError, MemcacheUnexpectedCloseError

logger = logging.getLogger("flowc.backend")

DEFAULT_PORT = 11211
SCHEMES = ("memcached", "cache+memcached", "cache+pylibmc")
"""URL schemes of this backend: flowc's, Celery's, and Celery's other client's (same servers)."""
POLL_FIRST_S = 0.001
"""``wait``'s first pause between reads; it doubles after each miss..."""
POLL_MAX_S = 0.05
"""...up to this, so a result is seen at most this late once a wait is long."""
TIMEOUT_S = 5.0
"""Connect and read timeout of one request."""
DEFAULT_ITEM_SIZE_MAX = 1024 * 1024
"""Memcached's default ``-I``: used when ``stats settings`` cannot be read."""
ITEM_OVERHEAD = 64
"""Bytes of an item's header that count against ``item_size_max`` (measured: 59), with room."""
MAX_KEY_BYTES = 250
CLAIM_ATTEMPTS = 5
"""``claim_key`` tries this often to either add the key or read its holder."""
RELATIVE_EXPIRY_MAX_S = 30 * 24 * 3600
"""Memcached reads an expiry over 30 days as a unix time, not as seconds from now."""

T = TypeVar("T")


def servers(url: str) -> list[tuple[str, int]]:
    """The ``(host, port)`` list of a ``result_backend`` URL:
    ``cache+memcached://h1:11211;h2:11211/`` (Celery's form, ``;`` or ``,`` between servers)
    or ``memcached://h1:11211/``."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ImproperlyConfigured(f"result_backend {url!r} is not a Memcached URL",
                                   hint="use cache+memcached://127.0.0.1:11211/")
    found = []
    for part in rest.split("/", 1)[0].replace(",", ";").split(";"):
        host, _, port = unquote(part.strip()).rpartition(":")
        if not host:
            host, port = port, ""
        host = host.strip("[]") or "127.0.0.1"
        try:
            found.append((host, int(port) if port else DEFAULT_PORT))
        except ValueError:
            raise ImproperlyConfigured(f"result_backend {url!r}: bad port {port!r}",
                                       hint="use cache+memcached://host:11211/") from None
    return found


def expiry(ttl_s: float | None) -> int:
    """Memcached's ``exptime`` for a TTL: 0 keeps the item (no TTL), a fraction of a second
    is one second (0 would keep it for ever), and over 30 days is a unix time."""
    if not ttl_s:
        return 0
    seconds = max(1, math.ceil(ttl_s))
    return seconds if seconds <= RELATIVE_EXPIRY_MAX_S else int(time.time()) + seconds


class Memcached:
    """A process's client for the servers of one URL (re-created after a fork), the key
    names under ``prefix``, and the item size limit the server reports."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.servers = servers(url)
        self.prefix = prefix
        self._client: PooledClient | HashClient | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._item_size_max: int | None = None

    @property
    def client(self) -> PooledClient | HashClient:
        """This process's thread-safe client (a pool per server)."""
        if self._client is not None and self._pid == os.getpid():
            return self._client
        with self._lock:
            if self._pid != os.getpid():  # inherited: its sockets are the parent's, leave them
                self._client = None
            if self._client is None:
                options: dict[str, Any] = {"connect_timeout": TIMEOUT_S, "timeout": TIMEOUT_S}
                if len(self.servers) == 1:
                    self._client = PooledClient(self.servers[0], **options)
                else:  # each key lives on one server, chosen by its hash
                    self._client = HashClient(self.servers, use_pooling=True, **options)
                self._pid = os.getpid()
        return self._client

    def call(self, op: Callable[[PooledClient | HashClient], T]) -> T:
        """Run ``op`` on the client; after a lost connection (a restarted server: every pooled
        connection is dead) drop the pool and try once more on new connections, then raise
        ``ResultBackendUnavailable``. Server errors (``SERVER_ERROR ...``) pass through."""
        for attempt in (1, 2):
            client = self.client
            try:
                return op(client)
            except (OSError, MemcacheUnexpectedCloseError) as e:
                self._drop(client)
                if attempt == 2:
                    where = ", ".join(f"{h}:{p}" for h, p in self.servers)
                    raise ResultBackendUnavailable(
                        f"cannot reach Memcached at {where} ({type(e).__name__}: {e})",
                        hint="check result_backend and that memcached is running") from e
        raise AssertionError("unreachable")  # pragma: no cover

    def set_many(self, values: dict[str, bytes], exptime: int) -> None:
        """Set every item (one round trip per server); raise if any was not stored (a server
        of several that just failed: pymemcache's ``HashClient`` reports its keys as failed)."""
        failed = self.call(lambda c: c.set_many(values, expire=exptime, noreply=False))
        if failed:
            where = ", ".join(f"{h}:{p}" for h, p in self.servers)
            raise ResultBackendUnavailable(f"Memcached at {where} did not store {len(failed)} "
                                           f"of {len(values)} items",
                                           hint="check that every memcached server is running")

    def _drop(self, client: PooledClient | HashClient) -> None:
        """Forget ``client`` (if still this process's) so the next call connects anew."""
        with self._lock:
            if self._client is client:
                self._client = None
        client.close()

    def key(self, kind: str, name: str) -> str:
        """``<prefix>:<kind>:<name>``, with ``name`` hashed when Memcached cannot take it."""
        key = f"{self.prefix}:{kind}:{name}"
        if len(key.encode()) > MAX_KEY_BYTES or not key.isascii() \
                or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in key):
            key = f"{self.prefix}:{kind}:#{hashlib.sha1(name.encode()).hexdigest()}"
        return key

    @property
    def item_size_max(self) -> int:
        """The first server's ``item_size_max`` (``stats settings``), read once."""
        if self._item_size_max is None:
            host, port = self.servers[0]
            probe = Client((host, port), connect_timeout=TIMEOUT_S, timeout=TIMEOUT_S)
            try:
                value = probe.stats("settings").get(b"item_size_max")
                self._item_size_max = int(value) if value else DEFAULT_ITEM_SIZE_MAX
            except (OSError, MemcacheError, ValueError):
                return DEFAULT_ITEM_SIZE_MAX
            finally:
                probe.close()
        return self._item_size_max

    def fits(self, key: str, value: bytes) -> bool:
        """Whether the server can hold ``value`` under ``key``."""
        return len(key) + len(value) + ITEM_OVERHEAD <= self.item_size_max

    def close(self) -> None:
        """Close this process's connections (they reopen on next use)."""
        client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()


class MemcachedResultBackend:
    """``ResultBackend`` on Memcached >= 1.4 (Celery's ``cache+memcached://``)."""

    def __init__(self, mc: Memcached) -> None:
        self.mc = mc

    def close(self) -> None:
        """Close the connections (they reopen on next use)."""
        self.mc.close()

    def store(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None) -> None:
        """Set every record in one round trip per server; a record over the item limit is
        replaced by a FAILURE record carrying ``ResultTooLarge``."""
        if not items:
            return
        values = {}
        for task_id, record in items:
            key = self.mc.key("result", task_id)
            if not self.mc.fits(key, record):
                record = self._too_large(task_id, len(record))
            values[key] = record
        self.mc.set_many(values, expiry(ttl_s))

    def _too_large(self, task_id: str, size: int) -> bytes:
        exc = ResultTooLarge(
            f"the result of task {task_id} is {size} bytes encoded, over Memcached's item "
            f"limit of {self.mc.item_size_max} bytes",
            hint="return less (a reference to where the data is), raise memcached's -I, or "
            "use Redis or PostgreSQL as result_backend")
        logger.error("%s", exc)
        return encode_record({"status": states.FAILURE, "result": exception_to_dict(exc),
                              "traceback": None, "date_done": now_iso(), "task_id": task_id},
                             "json")

    def set_state(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None) -> None:
        """Set each in-flight state; a state over the item limit is dropped with a warning
        (the task's outcome is still stored)."""
        values = {}
        for task_id, record in items:
            key = self.mc.key("state", task_id)
            if self.mc.fits(key, record):
                values[key] = record
            else:
                logger.warning("state of task %s not stored: %d bytes, over Memcached's item "
                               "limit of %d", task_id, len(record), self.mc.item_size_max)
        if values:
            self.mc.set_many(values, expiry(ttl_s))

    def get(self, task_id: str) -> tuple[bytes | None, bytes | None]:
        """The record and the state, in one round trip (per server)."""
        record_key, state_key = self.mc.key("result", task_id), self.mc.key("state", task_id)
        got: dict[str, bytes] = self.mc.call(lambda c: c.get_many([record_key, state_key]))
        return got.get(record_key), got.get(state_key)

    def wait(self, task_id: str, timeout_s: float | None) -> bytes | None:
        """Poll for the record (Memcached cannot block or notify), pausing ``POLL_FIRST_S``
        doubling to ``POLL_MAX_S`` between reads, until it exists or ``timeout_s`` passes."""
        key = self.mc.key("result", task_id)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pause = POLL_FIRST_S
        while True:
            record: bytes | None = self.mc.call(lambda c: c.get(key))
            if record is not None:
                return record
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                pause = min(pause, left)
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX_S)

    def forget(self, task_id: str) -> None:
        """Delete the record and the state."""
        keys = [self.mc.key("result", task_id), self.mc.key("state", task_id)]
        self.mc.call(lambda c: c.delete_many(keys, noreply=False))

    def claim_key(self, key: str, task_id: str, ttl_s: float) -> str | None:
        """``add`` (atomic: only if absent) with the TTL; the holder's task id if taken."""
        name = self.mc.key("idem", key)
        value = task_id.encode()
        for _ in range(CLAIM_ATTEMPTS):  # again if the holder expired between add and get
            if self.mc.call(lambda c: c.add(name, value, expire=expiry(ttl_s), noreply=False)):
                return None
            held: bytes | None = self.mc.call(lambda c: c.get(name))
            if held is not None:
                return held.decode()
        raise ResultBackendUnavailable(f"Memcached neither took nor held idempotency key {key!r}",
                                       hint="check that every memcached server is running")
