"""``Message.from_envelope`` refuses every malformed field with a reason naming it, and
``flowc_max_message_bytes`` refuses an oversized message when it is sent."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.message import Message
from flowc.runtime.redis.keys import DEFAULT_PRIORITY

from flowc.exceptions import MessageTooLarge

VALID = {"v": 1, "id": "t-1", "task": "app.add", "args": [1], "kwargs": {}, "queue": "celery",
         "priority": 0}

BAD_FIELDS: list[tuple[str, Any]] = [
    ("expires", "tomorrow"), ("expires", float("nan")), ("eta", True), ("eta", -5),
    ("workflow", "x"), ("workflow", {"id": "w"}), ("workflow", {"id": "w", "node": "n", "i": -1}),
    ("workflow", {"id": "w", "node": "n", "expand": "yes"}), ("priority", 99), ("priority", 1.5),
    ("priority", True), ("retries", -1), ("retries", "2"), ("acks_late", "yes"),
    ("ignore_result", 1), ("time_limit", 0), ("soft_time_limit", "5"), ("link", {"task": "x"}),
    ("link_error", ["x"]), ("headers", []), ("headers", {"options": {"max_retries": "3"}}),
    ("headers", {"options": {"rate_limit": "fast"}}), ("headers", {"errback": "x"}),
    ("headers", {"flowc-rate-slot": "now"}), ("root_id", 5), ("args", {"a": 1}),
    ("kwargs", [1]), ("id", ""), ("task", None), ("queue", 3),
]


@pytest.mark.unit
@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=lambda v: repr(v)[:30])
def test_a_bad_field_is_refused_with_a_reason_naming_it(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"envelope field '{field}'"):
        Message.from_envelope({**VALID, field: value})


@pytest.mark.unit
def test_a_full_valid_envelope_round_trips() -> None:
    message = Message("t-2", "app.add", [1, 2], {"x": 3}, "q", 9, eta=10.5, expires=20,
                      retries=2, root_id="r", parent_id="p", group_id="g", acks_late=False,
                      ignore_result=True, time_limit=3, soft_time_limit=2.5,
                      link=[{"task": "a"}], link_error=[{"task": "b"}],
                      workflow={"id": "w", "node": "n", "i": 0, "expand": True, "max": 4},
                      headers={"options": {"max_retries": 3, "retry_backoff": 0.5,
                                           "rate_limit": "10/s"}, "custom": [1]})
    assert Message.from_envelope(message.to_envelope()) == message


@pytest.mark.unit
def test_unknown_fields_and_versions_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown envelope fields \['colour'\]"):
        Message.from_envelope({**VALID, "colour": "red"})
    with pytest.raises(ValueError, match="envelope version 2 is not 1"):
        Message.from_envelope({**VALID, "v": 2})


@pytest.mark.redis
def test_a_message_over_the_size_limit_is_refused_when_sent(redis_client: redis.Redis,
                                                            redis_url: str) -> None:
    # Given an app whose messages may be at most 1 KiB
    app = App("sizes", broker=redis_url)
    app.conf.flowc_max_message_bytes = 1024

    @app.task
    def store(blob: str) -> None:
        """Takes a large argument."""

    # Then a 2 KiB argument fails at the call with the size and the setting, on one line
    with pytest.raises(MessageTooLarge) as info:
        store.delay("x" * 2048)
    text = str(info.value)
    assert "\n" not in text
    assert re.search(r"is 2\d\d\d bytes, over flowc_max_message_bytes \(1024 bytes\)", text)
    assert "pass large data by reference" in text
    assert redis_client.xlen(app.keys.stream("celery", DEFAULT_PRIORITY)) == 0
    app.close()
