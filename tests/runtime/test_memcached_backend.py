"""What the Memcached result backend does beyond the ResultBackend contract: its URLs, its
expiry arithmetic, keys Memcached cannot take, the item size limit, an unreachable server, and
the refusal of workflow runs."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from flowc.compiler.canvas.primitives import group
from flowc.runtime.app import App, transport
from flowc.runtime.exceptions import (
    ImproperlyConfigured,
    ResultBackendUnavailable,
    ResultTooLarge,
    WorkflowsUnsupported,
)
from flowc.runtime.group_result import GroupResult
from flowc.runtime.memcached.backend import (
    RELATIVE_EXPIRY_MAX_S,
    MemcachedResultBackend,
    expiry,
    servers,
)
from flowc.runtime.memcached.join import REFUSAL, RefusingWorkflowJoin
from flowc.runtime.outcome import encode_record
from flowc.runtime.result import AsyncResult
from pymemcache.client.base import Client as MemcacheClient

from tests.transports import empty_memcached, memcached_address, memcached_server


@pytest.fixture
def mapp(memcached_url: str, redis_url: str) -> Iterator[App]:
    """An App with a Redis broker and the run's memcached (emptied) as result backend."""
    empty_memcached(memcached_url)
    app = App("mc", broker=redis_url, backend=memcached_url)
    yield app
    app.close()


def record(value: object) -> bytes:
    return encode_record({"status": "SUCCESS", "result": value, "traceback": None}, "json")


class TestUrls:
    def test_celerys_cache_url_and_the_plain_scheme_both_select_memcached(self) -> None:
        assert transport("cache+memcached://127.0.0.1:11211/") == "memcached"
        assert transport("memcached://127.0.0.1:11211/") == "memcached"

    def test_a_url_names_one_server_or_several(self) -> None:
        assert servers("cache+memcached://10.0.0.1:11311/") == [("10.0.0.1", 11311)]
        assert servers("cache+memcached://a:1;b:2/") == [("a", 1), ("b", 2)]
        assert servers("memcached://a,b:2") == [("a", 11211), ("b", 2)]

    def test_a_server_without_a_port_gets_memcacheds_default(self) -> None:
        assert servers("memcached://cache.local/") == [("cache.local", 11211)]

    def test_a_bad_port_is_a_configuration_error_with_the_fix(self) -> None:
        with pytest.raises(ImproperlyConfigured, match="bad port 'x'.*host:11211"):
            servers("memcached://a:x/")

    def test_celerys_other_cache_backends_are_refused_with_the_fix(self) -> None:
        app = App("t", broker="redis://127.0.0.1:6379/15", backend="cache+memory://")
        with pytest.raises(ImproperlyConfigured, match=r"'cache\+memory://' is not supported.*"
                           r"cache\+memcached://host:11211/"):
            app.backend.get("t1")

    def test_the_app_picks_the_memcached_backend_and_a_join_that_refuses_runs(self) -> None:
        app = App("t", broker="redis://127.0.0.1:6379/15",
                  backend="cache+memcached://127.0.0.1:11211/")
        assert isinstance(app.backend, MemcachedResultBackend)
        assert isinstance(app.workflow_join, RefusingWorkflowJoin)


class TestExpiry:
    def test_no_ttl_keeps_the_item(self) -> None:
        assert expiry(None) == 0 and expiry(0) == 0

    def test_a_fraction_of_a_second_is_one_second_not_for_ever(self) -> None:
        assert expiry(0.2) == 1

    def test_a_ttl_over_thirty_days_is_sent_as_a_unix_time(self) -> None:
        ttl = RELATIVE_EXPIRY_MAX_S + 10
        assert abs(expiry(ttl) - (time.time() + ttl)) < 5
        assert expiry(RELATIVE_EXPIRY_MAX_S) == RELATIVE_EXPIRY_MAX_S


class TestStorage:
    @pytest.mark.parametrize("task_id", ["has space", "x" * 300, "naïve", "tab\tbed"])
    def test_ids_memcached_cannot_take_as_keys_still_round_trip(self, mapp: App,
                                                                task_id: str) -> None:
        mapp.backend.store([(task_id, b"done")], 60)
        mapp.backend.set_state([(task_id, b"STARTED")], 60)
        assert mapp.backend.get(task_id) == (b"done", b"STARTED")
        mapp.backend.forget(task_id)
        assert mapp.backend.get(task_id) == (None, None)

    def test_a_result_over_the_item_limit_becomes_an_error_that_says_so(self,
                                                                       mapp: App) -> None:
        mapp.backend.store([("big", record("x" * (2 << 20))), ("small", record(1))], 60)
        with pytest.raises(ResultTooLarge, match=r"over Memcached's item limit of 1048576"):
            AsyncResult("big", mapp).get(timeout=5)
        assert AsyncResult("small", mapp).get(timeout=5) == 1

    def test_a_state_over_the_item_limit_is_dropped_and_the_rest_kept(self,
                                                                      mapp: App) -> None:
        mapp.backend.set_state([("big", b"x" * (2 << 20)), ("small", b"STARTED")], 60)
        assert mapp.backend.get("big") == (None, None)
        assert mapp.backend.get("small") == (None, b"STARTED")

    def test_a_saved_group_is_restored_by_its_id(self, mapp: App) -> None:
        saved = GroupResult("g1", [AsyncResult("a", mapp), AsyncResult("b", mapp)], mapp).save()
        restored = GroupResult.restore("g1", app=mapp)
        assert restored is not None and [r.id for r in restored.results] == ["a", "b"]
        assert saved.id == "g1"

    def test_results_spread_over_several_servers_are_each_read_back(
            self, memcached_url: str, redis_url: str) -> None:
        with memcached_server() as second:
            (h1, p1), (h2, p2) = memcached_address(memcached_url), memcached_address(second)
            app = App("two", broker=redis_url, backend=f"cache+memcached://{h1}:{p1};{h2}:{p2}/")
            try:
                ids = [f"t{i}" for i in range(40)]
                app.backend.store([(tid, tid.encode()) for tid in ids], 60)
                assert [app.backend.get(tid)[0] for tid in ids] == [t.encode() for t in ids]
                assert app.backend.wait("t7", 1) == b"t7"
                app.backend.forget("t7")
                assert app.backend.get("t7") == (None, None)
                assert app.backend.claim_key("k", "first", 60) is None
                assert app.backend.claim_key("k", "second", 60) == "first"
                probe = MemcacheClient(memcached_address(second))
                try:  # the keys were spread, not all on one server
                    assert 0 < probe.stats()[b"curr_items"] < len(ids)
                finally:
                    probe.close()
            finally:
                app.close()

    def test_a_server_restarted_between_two_calls_is_reconnected_to(self,
                                                                  redis_url: str) -> None:
        with memcached_server() as url:
            app = App("restart", broker=redis_url, backend=url)
            app.backend.store([("t1", b"before")], 60)
            assert app.backend.get("t1")[0] == b"before"
        try:  # the pooled connection is dead now: the next call finds out and connects anew
            with memcached_server(memcached_address(url)[1]):
                app.backend.store([("t2", b"after")], 60)
                assert app.backend.get("t2")[0] == b"after"
                assert app.backend.get("t1") == (None, None)  # items live in memory only
        finally:
            app.close()

    def test_an_unreachable_server_is_one_error_naming_it(self, redis_url: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        app = App("down", broker=redis_url, backend=f"memcached://127.0.0.1:{port}/")
        try:
            with pytest.raises(ResultBackendUnavailable,
                               match=rf"cannot reach Memcached at 127.0.0.1:{port}"):
                app.backend.get("t1")
        finally:
            app.close()


class TestWorkflowsAreRefused:
    def test_a_group_is_refused_at_submit_with_one_line(self, mapp: App) -> None:
        @mapp.task(name="inc")
        def inc(x: int) -> int:
            return x + 1

        with pytest.raises(WorkflowsUnsupported) as refused:
            group(inc.s(1), inc.s(2)).apply_async()
        assert str(refused.value) == REFUSAL
        assert "\n" not in REFUSAL

    def test_reading_a_run_that_cannot_exist_finds_nothing(self, mapp: App) -> None:
        assert mapp.workflow_join.status("w1") == {}
        assert mapp.workflow_join.node_states("w1") == {}
