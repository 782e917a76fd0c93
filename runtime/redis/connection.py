"""Redis connection settings, URL masking, broker URL resolution and a resilient client factory.

Every Redis client flowc creates goes through ``connect`` so producers and workers share one
policy: hiredis parsing, health checks, keepalive, and reconnect-with-backoff on Redis restarts.
"""

from __future__ import annotations

import copy
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import redis
from flowc.dsl.errors import FlowcError
from flowc.runtime.exceptions import BrokerUnavailable
from flowc.runtime.redis.embedded import ensure_embedded_url
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

RedisClient = redis.Redis
"""The client type flowc's Redis code uses (modules outside ``runtime/redis`` name it through
this alias instead of importing redis)."""

try:
    from redis.driver_info import DriverInfo as _DriverInfo
except ImportError:  # redis-py before 7: it then takes lib_name/lib_version, left at defaults
    _DriverInfo = None  # type: ignore[assignment,misc]

__all__ = [
    "BROKER_URL_ENV",
    "CONNECTION_ERRORS",
    "BrokerURLError",
    "CountingRetry",
    "RedisSettings",
    "connect",
    "connection_errors",
    "mask_url",
    "resolve_broker_url",
    "unreachable",
    "wait_for_broker",
]

#: Environment variable naming the broker when neither code nor CLI gives one (as in Celery).
BROKER_URL_ENV = "FLOWC_BROKER_URL"

_SCHEMES = ("redis", "rediss", "unix")
_MASK = "****"

#: Reconnect policy: 0.1, 0.2, 0.4 ... capped at 2 s, 12 retries (about 16 s) covers a restart.
RETRY_BACKOFF_BASE = 0.05
RETRY_BACKOFF_CAP = 2.0
RETRY_ATTEMPTS = 12
HEALTH_CHECK_INTERVAL = 30

#: redis-py's errors for "the server is not there" (refused, reset, timed out, auth failed).
CONNECTION_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
PROBE_TIMEOUT_S = 2.0
PROBE_INTERVALS_S = (0.5, 1.0, 2.0)
"""Pauses between pings while waiting for a broker; the last one repeats."""


class ErrorCount:
    """How many commands of one client met a dropped connection (shared by its connections)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class CountingRetry(Retry):
    """redis-py's ``Retry`` that also counts the connection errors it sees.

    redis-py re-sends a command (or a whole pipeline) that hit a dropped connection: its
    first copy may have run and only the reply was lost. A worker's claim is such a command
    (``fetch.lua`` moved entries into its name, then the reply vanished), so the consumer
    compares this count before and after and, when it moved, recovers what it holds
    (``RedisBroker.recover_claims``). Each connection deep-copies its retry; the copies
    share one ``ErrorCount``.
    """

    def __init__(self, backoff: Any, retries: int, errors: ErrorCount | None = None,
                 **kwargs: Any) -> None:
        super().__init__(backoff, retries, **kwargs)
        self.errors = ErrorCount() if errors is None else errors

    def __deepcopy__(self, memo: dict[int, Any]) -> CountingRetry:
        clone = copy.copy(self)
        clone._backoff = copy.deepcopy(self._backoff, memo)
        return clone

    def call_with_retry(self, do: Callable[[], Any], fail: Callable[..., Any],
                        *args: Any, **kwargs: Any) -> Any:
        """``Retry.call_with_retry``, counting each failure before its handler runs."""
        def counted(error: Exception, *rest: Any) -> Any:
            self.errors.n += 1
            return fail(error, *rest)

        return super().call_with_retry(do, counted, *args, **kwargs)


def connection_errors(client: Any) -> int:
    """How many commands of ``client`` met a dropped connection so far (0 if not counted:
    a Cluster or Sentinel client, or one made with its own ``retry``)."""
    try:
        retry = client.connection_pool.connection_kwargs.get("retry")
    except AttributeError:
        return 0
    return retry.errors.n if isinstance(retry, CountingRetry) else 0


class BrokerURLError(FlowcError, ValueError):
    """A broker or result-backend URL that flowc cannot use."""


@dataclass(frozen=True)
class RedisSettings:
    """The parts of a Redis URL (``redis://``, ``rediss://`` or ``unix://``), typed."""

    scheme: str = "redis"
    host: str | None = "localhost"
    port: int | None = 6379
    path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None

    @property
    def ssl(self) -> bool:
        """True for ``rediss://`` (TLS)."""
        return self.scheme == "rediss"

    @property
    def is_unix(self) -> bool:
        """True for a unix-socket URL."""
        return self.scheme == "unix"

    @classmethod
    def from_url(cls, url: str) -> RedisSettings:
        """Parse ``url``; raise ``BrokerURLError`` naming the problem (password masked)."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise BrokerURLError(f"malformed Redis URL {mask_url(url)!r}: {exc}") from exc
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise BrokerURLError(
                f"unsupported Redis URL {mask_url(url)!r}: the scheme must be one of "
                f"{', '.join(s + '://' for s in _SCHEMES)}"
            )
        query = parse_qs(parts.query)
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if "password" in query:
            password = query["password"][-1]
        db_text = query.get("db", [""])[-1]
        try:
            port = parts.port
        except ValueError as exc:
            raise BrokerURLError(f"bad port in Redis URL {mask_url(url)!r}") from exc
        if scheme == "unix":
            if not parts.path:
                raise BrokerURLError(f"unix URL {mask_url(url)!r} has no socket path")
            host, port, path = None, None, unquote(parts.path)
        else:
            host, port, path = parts.hostname or "localhost", port or 6379, None
            db_text = parts.path.lstrip("/") or db_text
        try:
            db = int(db_text or 0)
        except ValueError as exc:
            raise BrokerURLError(
                f"bad database number {db_text!r} in Redis URL {mask_url(url)!r}"
            ) from exc
        return cls(scheme, host, port, path, db, username, password)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``****`` (``redis://:****@host:6379/0``).

    Never raises: strings that do not parse are masked textually, so a secret cannot leak
    into a banner or a log line through a typo. ``;``-separated URLs (Sentinel) are masked
    part by part.
    """
    if ";" in url:
        return ";".join(mask_url(part) for part in url.split(";"))
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, hostinfo = netloc.rsplit("@", 1)
            user, sep, _ = userinfo.partition(":")
            netloc = f"{user}:{_MASK}@{hostinfo}" if sep else f"{_MASK}@{hostinfo}"
        query = parts.query
        if query:
            pairs = [
                (key, _MASK if key.lower() == "password" else value)
                for key, value in _parse_pairs(query)
            ]
            query = urlencode(pairs, safe="*/")
        masked = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
        if not netloc and url.startswith(f"{parts.scheme}://"):  # urlunsplit drops the //
            masked = f"{parts.scheme}://" + masked[len(parts.scheme) + 1:]
        return masked
    except ValueError:
        return re.sub(r"(//[^/@]*?)(:[^@/]*)?@", rf"\1:{_MASK}@", url)


def _parse_pairs(query: str) -> list[tuple[str, str]]:
    """Query pairs in order, keeping blank values (so masking never drops a parameter)."""
    pairs = []
    for item in query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def connect(url: str, *, decode_responses: bool = False, **overrides: Any) -> redis.Redis:
    """A ``redis.Redis`` for ``url`` with flowc's task-queue defaults.

    hiredis parses replies when installed (redis-py picks it automatically); idle connections are
    health-checked; TCP keepalive is on; commands that hit a dropped connection reconnect with
    capped exponential backoff, so clients ride out a Redis restart. ``socket_timeout`` is None
    because brokers block on reads (redis-py's own default of 5 s would cut long blocking calls).
    ``overrides`` go straight to redis-py.
    """
    from flowc.runtime.redis import sentinel

    transport_options = overrides.pop("transport_options", None)
    sentinel_url = sentinel.is_sentinel_url(url)
    settings = RedisSettings() if sentinel_url or is_cluster_url(url) else \
        RedisSettings.from_url(url)
    options: dict[str, Any] = {
        "decode_responses": decode_responses,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "socket_timeout": None,
        "socket_connect_timeout": 5.0,
        "retry": CountingRetry(
            ExponentialBackoff(cap=RETRY_BACKOFF_CAP, base=RETRY_BACKOFF_BASE), RETRY_ATTEMPTS
        ),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }
    if not settings.is_unix:
        options["socket_keepalive"] = True  # unix-socket connections reject this option
    if _DriverInfo is not None:
        # redis-py otherwise reads its own version from the package metadata (importlib.
        # metadata + the email parser) on every new connection: half of a connect's ~1 ms,
        # and ~1 MB written in each prefork pool process.
        options["driver_info"] = _DriverInfo(lib_version=redis.__version__)
    options.update(overrides)
    if sentinel_url:
        return sentinel.connect_sentinel(url, options, transport_options)
    if is_cluster_url(url):
        return connect_cluster(url, options)
    return redis.Redis.from_url(url, **options)


CLUSTER_SCHEME = "redis+cluster"


def is_cluster_url(url: str) -> bool:
    """True for ``redis+cluster://host:port[,host:port...]``."""
    return url.lower().startswith(CLUSTER_SCHEME + "://")


def is_cluster(client: Any) -> bool:
    """True when ``client`` talks to a Redis Cluster (keys of one command, pipeline script or
    transaction must then share a hash slot)."""
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def check_wait_replicas(client: Any, wait_replicas: int) -> None:
    """Refuse ``flowc_wait_replicas`` on a Redis Cluster: WAIT answers for the writes of the
    one node it reaches, while a publish, a submit or a settle pipeline writes to several
    shards, so it would promise an acknowledgement it does not check."""
    if wait_replicas and is_cluster(client):
        from flowc.runtime.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"flowc_wait_replicas={wait_replicas} is not supported on a Redis Cluster (WAIT "
            "would acknowledge one shard's writes only); set flowc_wait_replicas=0 there, or "
            "use Sentinel for acknowledged publishes (docs/deployment.md)")


def connect_cluster(url: str, options: dict[str, Any]) -> Any:
    """A ``RedisCluster`` for ``redis+cluster://h:p,h2:p2[/0]``: the nodes are where discovery
    starts; redis-py follows MOVED/ASK redirections and slot migrations from there."""
    from redis.cluster import ClusterNode, RedisCluster

    parts = urlsplit(url)
    nodes = []
    for item in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = item.strip().partition(":")
        try:
            nodes.append(ClusterNode(host or "localhost", int(port or 6379)))
        except ValueError as exc:
            raise BrokerURLError(f"bad node {item!r} in cluster URL {mask_url(url)!r}") from exc
    if parts.path.strip("/") not in ("", "0"):
        raise BrokerURLError(f"a Redis Cluster has only database 0, not {parts.path!r}")
    kwargs = {k: v for k, v in options.items()
              if k not in ("driver_info", "retry_on_error", "health_check_interval")}
    if parts.password is not None:
        kwargs["password"] = unquote(parts.password)
    return RedisCluster(startup_nodes=nodes, **kwargs)


def resolve_broker_url(explicit: str | None) -> tuple[str, bool]:
    """The broker URL to use and whether it is the embedded server.

    Precedence: ``explicit`` (code or CLI), then ``$FLOWC_BROKER_URL``, then the process tree's
    embedded server (started on demand).
    """
    if explicit:
        return explicit, False
    from_env = os.environ.get(BROKER_URL_ENV)
    if from_env:
        return from_env, False
    return ensure_embedded_url(), True


def unreachable(url: str, error: BaseException | str) -> BrokerUnavailable:
    """The one-line error for a broker that does not answer: the URL tried, why, the fix."""
    reason = str(error).strip().rstrip(".") or type(error).__name__
    return BrokerUnavailable(
        f"cannot reach the broker at {mask_url(url)} ({reason})",
        hint="start the server there, or point --broker / $FLOWC_BROKER_URL / the App's "
             "broker_url at one that runs")


def probe(url: str) -> str | None:
    """PING ``url`` once without the client's reconnect retries: None if it answers, else why."""
    client = connect(url, retry=Retry(NoBackoff(), 0), retry_on_error=[],
                     socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S)
    try:
        client.ping()
        return None
    except (RedisConnectionError, RedisTimeoutError, OSError) as e:
        return str(e).strip().rstrip(".") or type(e).__name__
    finally:
        client.close()


def wait_for_broker(url: str, *, timeout_s: float | None,
                    on_retry: Callable[[str, int, float], None] | None = None) -> None:
    """Ping ``url`` until it answers; ``BrokerUnavailable`` once ``timeout_s`` has passed.

    ``timeout_s=None`` waits for ever (a worker started before its Redis). ``on_retry(reason,
    attempt, delay_s)`` is told before each pause, so the wait is visible. Cluster and
    Sentinel URLs are not probed: their clients find their nodes themselves.
    """
    from flowc.runtime.redis import sentinel

    if is_cluster_url(url) or sentinel.is_sentinel_url(url):
        return  # their clients discover nodes themselves (and a probe would leave sockets open)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    attempt = 0
    while True:
        reason = probe(url)
        if reason is None:
            return
        attempt += 1
        delay_s = PROBE_INTERVALS_S[min(attempt, len(PROBE_INTERVALS_S)) - 1]
        if deadline is not None:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                raise unreachable(url, reason)
            delay_s = min(delay_s, left_s)
        if on_retry is not None:
            on_retry(reason, attempt, delay_s)
        time.sleep(delay_s)
