"""Adapters under contract: every Broker, ResultBackend and WorkflowJoin adapter runs the same
test classes (tests/contract/test_*.py). A new adapter adds a parameter here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flowc.runtime.app import App

ADAPTERS = ["redis"]
"""Adapter names; each builds an App whose ports are that adapter's."""


@pytest.fixture(params=ADAPTERS)
def adapter_app(request: pytest.FixtureRequest, redis_url: str,
                redis_client: redis.Redis) -> Iterator[App]:
    """An App whose broker, backend and join are the parameter's adapter (flushed storage)."""
    if request.param == "redis":
        app = App("contract", broker=redis_url)
    else:  # pragma: no cover - an adapter listed without a builder
        raise AssertionError(f"no builder for adapter {request.param}")
    yield app
    app.close()
