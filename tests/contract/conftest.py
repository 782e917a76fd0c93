"""Adapters under contract: every Broker, ResultBackend and WorkflowJoin adapter runs the same
test classes (tests/contract/test_*.py). A new adapter adds a parameter here.

- ``redis``: Redis broker, backend and join.
- ``amqp``: RabbitMQ broker (a vhost per run) with a Redis backend and join.
- ``postgresql``: PostgreSQL backend and join (a schema per run) with a RabbitMQ broker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from flowc.runtime.app import App

from tests.transports import empty_schema, empty_vhost

ADAPTERS = ["redis", "amqp", "postgresql"]
"""Adapter names; each builds Apps whose ports are that adapter's."""

AppFactory = Callable[[], App]


@pytest.fixture(params=ADAPTERS)
def adapter_apps(request: pytest.FixtureRequest, redis_url: str,
                 redis_client: redis.Redis) -> Iterator[AppFactory]:
    """Builds Apps on the parameter's adapters, sharing one emptied storage (several Apps are
    several clients: one can be lost while another goes on)."""
    if request.param == "redis":
        settings: dict[str, str] = {"broker": redis_url}
    elif request.param == "amqp":
        amqp_url: str = request.getfixturevalue("amqp_url")
        empty_vhost(amqp_url, ["contract", "celery"])
        settings = {"broker": amqp_url, "backend": redis_url}
    elif request.param == "postgresql":
        amqp_url = request.getfixturevalue("amqp_url")
        pg_url: str = request.getfixturevalue("pg_url")
        empty_vhost(amqp_url, ["contract", "celery"])
        empty_schema(pg_url)
        settings = {"broker": amqp_url, "backend": pg_url}
    else:  # pragma: no cover - an adapter listed without a builder
        raise AssertionError(f"no builder for adapter {request.param}")
    made: list[App] = []

    def build() -> App:
        made.append(App("contract", **settings))
        return made[-1]

    yield build
    for app in made:
        app.close()


@pytest.fixture
def adapter_app(adapter_apps: AppFactory) -> App:
    """An App whose broker, backend and join are the parameter's adapter (emptied storage)."""
    return adapter_apps()
