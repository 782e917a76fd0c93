"""Redis behind Sentinel: ``sentinel://host:26379;sentinel://host2:26379`` and a master name.

The client asks the sentinels for the current primary on every new connection (redis-py's
``SentinelConnectionPool``), so after a failover the reconnect policy of ``connect`` lands on
the promoted replica: producers, workers, beat and the dashboard follow it without a restart.
The master name comes from the URL (``?master_name=mymaster``) or, as in Celery, from
``broker_transport_options={"master_name": "mymaster"}``.

Replication is asynchronous: a write the primary acknowledged but had not yet sent to a replica
is lost in a failover. ``flowc_wait_replicas`` (see ``docs/deployment.md``) makes publishes
wait (Redis ``WAIT``) until that many replicas have them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from flowc.dsl.errors import FlowcError
from redis.sentinel import Sentinel, SentinelManagedConnection

SCHEME = "sentinel"


class SentinelURLError(FlowcError, ValueError):
    """A ``sentinel://`` URL flowc cannot use."""


@dataclass(frozen=True)
class SentinelSpec:
    """The sentinels to ask, the master's name, and how to log in to the master."""

    hosts: list[tuple[str, int]]
    master_name: str | None
    db: int = 0
    username: str | None = None
    password: str | None = None


def is_sentinel_url(url: str) -> bool:
    """True for ``sentinel://...`` (one or several, ``;``-separated)."""
    return url.lower().startswith(SCHEME + "://")


def parse(url: str) -> SentinelSpec:
    """Parse ``sentinel://[:password@]host:port[/db][;sentinel://host:port...][?master_name=]``."""
    hosts: list[tuple[str, int]] = []
    master = username = password = None
    db = 0
    for part in url.split(";"):
        part = part.strip()
        if not part:
            continue
        parts = urlsplit(part)
        if parts.scheme.lower() != SCHEME:
            raise SentinelURLError(f"every part of a Sentinel URL must be sentinel://host:port, "
                                   f"got {part.split('@')[-1]!r}")
        try:
            port = parts.port or 26379
        except ValueError as e:
            raise SentinelURLError(f"bad port in Sentinel URL part {parts.hostname!r}") from e
        hosts.append((parts.hostname or "localhost", port))
        if parts.password is not None:
            password = unquote(parts.password)
            username = unquote(parts.username) if parts.username else None
        if parts.path.strip("/"):
            try:
                db = int(parts.path.strip("/"))
            except ValueError as e:
                raise SentinelURLError(f"bad database number {parts.path!r}") from e
        query = parse_qs(parts.query)
        if "master_name" in query:
            master = query["master_name"][-1]
    if not hosts:
        raise SentinelURLError("a Sentinel URL needs at least one sentinel://host:port")
    return SentinelSpec(hosts, master, db, username, password)


class PrimaryConnection(SentinelManagedConnection):
    """A connection that asks the sentinels for the primary on every (re)connect.

    redis-py's ``SentinelManagedConnection`` resolves the primary in ``connect()``, but a
    command or pipeline whose connection dropped reconnects inside ``send_packed_command``
    through ``connect_check_health``, which dials the address the connection last used: after
    a failover that retried the dead primary for the whole retry budget (12 attempts, ~17 s)
    although the sentinels had named the new one within ~2 s (the failover chaos test took
    17-19 s to recover in about half of its runs)."""

    def connect_check_health(self, check_health: bool = True,
                             retry_socket_connect: bool = True) -> None:
        if self._sock:
            return
        if retry_socket_connect:  # a reconnect, not connect_to's own dial: resolve first
            self.connect()
            return
        super().connect_check_health(check_health=check_health, retry_socket_connect=False)


def connect_sentinel(url: str, options: dict[str, Any],
                     transport_options: dict[str, Any] | None = None) -> redis.Redis:
    """A client of the current primary behind the sentinels of ``url``; ``options`` are
    ``connect``'s redis-py options (retry policy, timeouts)."""
    spec = parse(url)
    transport = dict(transport_options or {})
    master = spec.master_name or transport.get("master_name")
    if not master:
        raise SentinelURLError(
            "a Sentinel broker needs the master's name: add ?master_name=<name> to the URL or "
            "set broker_transport_options={'master_name': '<name>'}")
    sentinel_kwargs = dict(transport.get("sentinel_kwargs") or {})
    sentinel_kwargs.setdefault("socket_connect_timeout", options.get("socket_connect_timeout"))
    sentinel = Sentinel(spec.hosts, sentinel_kwargs=sentinel_kwargs)
    kwargs = {k: v for k, v in options.items() if k != "driver_info"}
    if not kwargs.get("ssl"):
        kwargs["connection_class"] = PrimaryConnection
    if spec.password is not None:
        kwargs["password"] = spec.password
    if spec.username is not None:
        kwargs["username"] = spec.username
    client: redis.Redis = sentinel.master_for(master, redis_class=redis.Redis, db=spec.db,
                                              **kwargs)
    return client
