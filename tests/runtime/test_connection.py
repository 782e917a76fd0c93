"""Redis URL parsing and masking, broker URL precedence, and clients that survive restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis
from flowc.dsl.errors import FlowcError
from flowc.runtime.redis import embedded
from flowc.runtime.redis.connection import (
    BROKER_URL_ENV,
    BrokerURLError,
    RedisSettings,
    connect,
    mask_url,
    resolve_broker_url,
)
from flowc.runtime.redis.embedded import EMBEDDED_URL_ENV, EmbeddedServer
from redis.backoff import NoBackoff
from redis.retry import Retry


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:s3cret@host:6379/0", "redis://:****@host:6379/0"),
        ("redis://user:p%40ss@host/1", "redis://user:****@host/1"),
        (
            "rediss://:pw@host:6380/2?ssl_cert_reqs=none",
            "rediss://:****@host:6380/2?ssl_cert_reqs=none",
        ),
        ("unix://:pw@/run/redis.sock?db=3", "unix://:****@/run/redis.sock?db=3"),
        ("redis://host:6379/0?password=pw", "redis://host:6379/0?password=****"),
        ("redis://lonetoken@host", "redis://****@host"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://:pw@[::1", "redis://:****@[::1"),  # Unparseable: still masked.
    ],
)
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", RedisSettings("redis", "localhost", 6379, None, 0)),
        (
            "redis://user:p%40ss@h:6380/5",
            RedisSettings("redis", "h", 6380, None, 5, "user", "p@ss"),
        ),
        ("rediss://:pw@h/1", RedisSettings("rediss", "h", 6379, None, 1, None, "pw")),
        ("unix:///tmp/r.sock?db=2", RedisSettings("unix", None, None, "/tmp/r.sock", 2)),
        ("unix://:pw@/tmp/r.sock", RedisSettings("unix", None, None, "/tmp/r.sock", 0, None, "pw")),
        ("redis://h?db=4&password=x", RedisSettings("redis", "h", 6379, None, 4, None, "x")),
    ],
)
def test_settings_from_url(url: str, expected: RedisSettings) -> None:
    assert RedisSettings.from_url(url) == expected
    assert expected.ssl == (expected.scheme == "rediss")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("amqp://:pw@host//", "scheme must be one of"),
        ("redis://host/notanumber", "bad database number"),
        ("redis://host:99999", "bad port"),
        ("unix://", "no socket path"),
        ("redis://:pw@[::1", "malformed"),
    ],
)
def test_bad_urls_fail_clearly_without_leaking_the_password(url: str, message: str) -> None:
    with pytest.raises(BrokerURLError, match=message) as info:
        RedisSettings.from_url(url)
    assert isinstance(info.value, FlowcError) and "pw" not in str(info.value)


def test_broker_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BROKER_URL_ENV, "redis://from-env:6379/0")
    assert resolve_broker_url("redis://explicit/1") == ("redis://explicit/1", False)
    assert resolve_broker_url(None) == ("redis://from-env:6379/0", False)
    monkeypatch.delenv(BROKER_URL_ENV)
    # No broker anywhere: the embedded server, here one a "parent" already started.
    monkeypatch.setattr(embedded, "_shared", None)
    monkeypatch.setenv(EMBEDDED_URL_ENV, "unix:///tmp/parent/redis.sock")
    assert resolve_broker_url("") == ("unix:///tmp/parent/redis.sock", True)


def test_connect_applies_task_queue_defaults(redis_url: str) -> None:
    client = connect(redis_url, decode_responses=True)
    try:
        client.set("flowc:test:connect", "x")
        assert client.get("flowc:test:connect") == "x"
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["health_check_interval"] > 0
        assert kwargs["socket_timeout"] is None
        assert kwargs["retry"].get_retries() > 0
        assert kwargs.get("socket_keepalive", True) is not False
        client.delete("flowc:test:connect")
    finally:
        client.close()


def test_client_reconnects_with_backoff_while_redis_restarts(
    embedded_server_factory: Callable[..., EmbeddedServer],
) -> None:
    server = embedded_server_factory()
    client = connect(server.url)
    try:
        client.set("before", 1)
        server.kill()
        no_retry = Retry(NoBackoff(), 0)
        with connect(server.url, retry=no_retry) as probe, pytest.raises(redis.ConnectionError):
            probe.ping()  # Really down, so the ping below must wait for the restart.
        restarter = threading.Timer(0.3, server.start)
        restarter.start()
        started = time.monotonic()
        assert client.ping()  # Retries with backoff until the server is back.
        assert time.monotonic() - started >= 0.2
        restarter.join()
        client.set("after", 2)
        assert client.get("after") == b"2"
    finally:
        client.close()


def test_mask_url_keeps_a_unix_socket_url_intact_while_masking_its_password() -> None:
    from flowc.runtime.redis.connection import mask_url

    assert mask_url("unix:///tmp/x/redis.sock?db=9&password=hunter2") == \
        "unix:///tmp/x/redis.sock?db=9&password=****"
