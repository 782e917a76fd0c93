"""Adapters under contract: every Broker, ResultBackend and WorkflowJoin adapter runs the same
test classes (tests/contract/test_*.py). A new adapter adds a parameter here.

- ``redis``: Redis broker, backend and join.
- ``amqp``: RabbitMQ broker (a vhost per run) with a Redis backend and join.
- ``postgresql``: PostgreSQL backend and join (a schema per run) with a RabbitMQ broker.
- ``postgresql`` is also the no-Redis ``Coordination`` adapter (``coordination_app``).
- ``memcached``: Memcached backend (a server per run) with a Redis broker. It holds no
  workflow runs: the join contract runs on ``JOIN_ADAPTERS`` only, and proves instead that
  ``JOINLESS`` adapters refuse a run at submit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis
from flowc.runtime.app import App

from tests.transports import empty_memcached, empty_schema, empty_vhost

ADAPTERS = ["redis", "amqp", "postgresql", "memcached"]
"""Adapter names; each builds Apps whose ports are that adapter's."""
JOINLESS = ["memcached"]
"""Adapters whose result backend cannot hold workflow runs (their join refuses them)."""
JOIN_ADAPTERS = [name for name in ADAPTERS if name not in JOINLESS]

AppFactory = Callable[[], App]


def _settings(request: pytest.FixtureRequest, redis_url: str) -> dict[str, str]:
    """The App settings of the parameter's adapter, its storage emptied."""
    if request.param == "redis":
        return {"broker": redis_url}
    if request.param == "amqp":
        amqp_url: str = request.getfixturevalue("amqp_url")
        empty_vhost(amqp_url, ["contract", "celery"])
        return {"broker": amqp_url, "backend": redis_url}
    if request.param == "postgresql":
        amqp_url = request.getfixturevalue("amqp_url")
        pg_url: str = request.getfixturevalue("pg_url")
        empty_vhost(amqp_url, ["contract", "celery"])
        empty_schema(pg_url)
        return {"broker": amqp_url, "backend": pg_url}
    if request.param == "memcached":
        memcached_url: str = request.getfixturevalue("memcached_url")
        empty_memcached(memcached_url)
        return {"broker": redis_url, "backend": memcached_url}
    raise AssertionError(f"no builder for adapter {request.param}")  # pragma: no cover


@contextmanager
def _apps(settings: dict[str, str]) -> Iterator[AppFactory]:
    """A builder of Apps with ``settings``; every App it built is closed on exit."""
    made: list[App] = []

    def build() -> App:
        made.append(App("contract", **settings))
        return made[-1]

    try:
        yield build
    finally:
        for app in made:
            app.close()


@pytest.fixture(params=ADAPTERS)
def adapter_apps(request: pytest.FixtureRequest, redis_url: str,
                 redis_client: redis.Redis) -> Iterator[AppFactory]:
    """Builds Apps on the parameter's adapters, sharing one emptied storage (several Apps are
    several clients: one can be lost while another goes on)."""
    with _apps(_settings(request, redis_url)) as build:
        yield build


@pytest.fixture
def adapter_app(adapter_apps: AppFactory) -> App:
    """An App whose broker, backend and join are the parameter's adapter (emptied storage)."""
    return adapter_apps()


@pytest.fixture(params=JOIN_ADAPTERS)
def join_adapter_app(request: pytest.FixtureRequest, redis_url: str,
                     redis_client: redis.Redis) -> Iterator[App]:
    """An App on an adapter whose result backend holds workflow runs (emptied storage)."""
    with _apps(_settings(request, redis_url)) as build:
        yield build()


COORDINATION_ADAPTERS = {"redis": "redis", "postgresql": "postgresql"}
"""Coordination adapters and the transport settings that select them: the broker's Redis, and
the PostgreSQL backend's database (RabbitMQ broker, no Redis)."""


@pytest.fixture(params=list(COORDINATION_ADAPTERS))
def coordination_app(request: pytest.FixtureRequest, redis_url: str,
                     redis_client: redis.Redis) -> Iterator[App]:
    """An App whose ``coordination`` is the parameter's adapter (emptied storage)."""
    with _apps(_settings(request, redis_url)) as build:
        yield build()


@pytest.fixture(params=JOINLESS)
def joinless_app(request: pytest.FixtureRequest, redis_url: str,
                 redis_client: redis.Redis) -> Iterator[App]:
    """An App on an adapter whose result backend cannot hold workflow runs."""
    with _apps(_settings(request, redis_url)) as build:
        yield build()
