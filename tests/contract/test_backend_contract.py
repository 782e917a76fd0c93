"""The ResultBackend port's contract (runtime/backend.py), run against every backend adapter."""

from __future__ import annotations

import threading

import pytest
from flowc.runtime.app import App

from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.amqp, pytest.mark.postgresql,
              pytest.mark.memcached]


class TestResultBackendContract:
    def test_an_unknown_task_has_no_record_and_no_state(self, adapter_app: App) -> None:
        assert adapter_app.backend.get("nobody") == (None, None)

    def test_a_stored_record_is_read_back(self, adapter_app: App) -> None:
        adapter_app.backend.store([("t1", b"rec-1"), ("t2", b"rec-2")], 60)
        assert adapter_app.backend.get("t1")[0] == b"rec-1"
        assert adapter_app.backend.get("t2")[0] == b"rec-2"

    def test_storing_again_replaces_the_record(self, adapter_app: App) -> None:
        adapter_app.backend.store([("t1", b"old")], 60)
        adapter_app.backend.store([("t1", b"new")], 60)
        assert adapter_app.backend.get("t1")[0] == b"new"

    def test_a_state_is_kept_beside_the_record(self, adapter_app: App) -> None:
        adapter_app.backend.set_state([("t1", b"STARTED")], 60)
        assert adapter_app.backend.get("t1") == (None, b"STARTED")

    def test_wait_returns_a_record_stored_while_it_waits(self, adapter_app: App) -> None:
        got: list[bytes | None] = []
        waiter = threading.Thread(target=lambda: got.append(
            adapter_app.backend.wait("t1", 10)))
        waiter.start()
        adapter_app.backend.store([("t1", b"done")], 60)
        waiter.join(10)
        assert got == [b"done"]

    def test_wait_on_an_existing_record_returns_it_at_once(self, adapter_app: App) -> None:
        adapter_app.backend.store([("t1", b"done")], 60)
        assert adapter_app.backend.wait("t1", 0.1) == b"done"

    def test_wait_gives_up_after_its_timeout(self, adapter_app: App) -> None:
        assert adapter_app.backend.wait("never", 0.2) is None

    def test_forget_deletes_record_and_state(self, adapter_app: App) -> None:
        adapter_app.backend.store([("t1", b"done")], 60)
        adapter_app.backend.set_state([("t1", b"STARTED")], 60)
        adapter_app.backend.forget("t1")
        assert adapter_app.backend.get("t1") == (None, None)

    def test_a_record_and_a_state_are_gone_after_their_ttl(self, adapter_app: App) -> None:
        adapter_app.backend.store([("t1", b"done")], 1)
        adapter_app.backend.set_state([("t2", b"STARTED")], 1)
        assert adapter_app.backend.get("t1")[0] == b"done"
        wait_until(lambda: adapter_app.backend.get("t1") == (None, None)
                   and adapter_app.backend.get("t2") == (None, None), 10, "expiry")

    def test_a_record_without_ttl_is_kept(self, adapter_app: App) -> None:
        adapter_app.backend.store([("t1", b"done")], None)
        assert adapter_app.backend.get("t1")[0] == b"done"

    def test_an_idempotency_key_belongs_to_its_first_claimer(self, adapter_app: App) -> None:
        assert adapter_app.backend.claim_key("k1", "first", 60) is None
        assert adapter_app.backend.claim_key("k1", "second", 60) == "first"
        assert adapter_app.backend.claim_key("k2", "second", 60) is None
