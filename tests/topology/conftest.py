"""Fixtures for the Sentinel (and later Cluster) topologies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ProcessReaper
from tests.dashboard.conftest import serve_dashboard  # noqa: F401  (a fixture used here too)
from tests.topology.servers import SentinelSet


def _start(directory: Path, replicas: int = 1) -> Iterator[SentinelSet]:
    reaper = ProcessReaper()
    try:
        yield SentinelSet(directory, reaper).start(replicas)
    finally:
        reaper.reap()


@pytest.fixture(scope="module")
def sentinel_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """A primary, a replica and three sentinels on private ports, shared by a module's tests
    that leave it as they found it; stopped by pid after them."""
    yield from _start(tmp_path_factory.mktemp("sentinel"))


@pytest.fixture
def fresh_sentinel_set(tmp_path: Path) -> Iterator[SentinelSet]:
    """A set of its own, for a test that kills its primary."""
    yield from _start(tmp_path)


@pytest.fixture
def two_replica_set(tmp_path: Path) -> Iterator[SentinelSet]:
    """A primary with two replicas: one is still a replica after the other is promoted (so a
    publish waiting for one replica can still be acknowledged after a failover)."""
    yield from _start(tmp_path, replicas=2)
