"""The JSON serializer keeps Celery's (kombu's) extra types: datetime, date, time, Decimal,
UUID and bytes travel as ``{"__type__": ..., "__value__": ...}`` and come back as themselves."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from flowc.runtime.serialization import JsonSerializer
from kombu.utils import json as kombu_json

pytestmark = pytest.mark.unit

VALUES: dict[str, Any] = {
    "datetime": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    "date": date(2026, 1, 2),
    "time": time(3, 4, 5),
    "decimal": Decimal("1.10"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "bytes": b"caf\xc3\xa9",
    "base64": b"\xff\x00",
}


@pytest.mark.parametrize("kind", VALUES)
def test_a_value_round_trips_as_its_own_type(kind: str) -> None:
    json = JsonSerializer()
    value = {"args": [VALUES[kind]], "kwargs": {"nested": [VALUES[kind]]}}
    assert json.loads(json.dumps(value)) == value


@pytest.mark.parametrize("kind", VALUES)
def test_the_wire_form_is_kombus(kind: str) -> None:
    json = JsonSerializer()
    value = [VALUES[kind]]
    assert kombu_json.loads(json.dumps(value)) == value
    assert json.loads(kombu_json.dumps(value).encode()) == value


def test_a_uuid_beside_a_message_id_string_is_still_tagged() -> None:
    json = JsonSerializer()
    task_id = str(uuid.uuid4())
    envelope = {"id": task_id, "args": [uuid.UUID(task_id)], "kwargs": {}}
    assert json.loads(json.dumps(envelope)) == envelope


def test_uuid_strings_stay_strings() -> None:
    json = JsonSerializer()
    value = {"id": str(uuid.uuid4()), "args": [str(uuid.uuid4())]}
    assert json.loads(json.dumps(value)) == value


def test_plain_json_is_unchanged() -> None:
    json = JsonSerializer()
    value = {"a": [1, 2.5, None, True, "x"], "b": {"c": "d"}}
    assert json.dumps(value) == b'{"a":[1,2.5,null,true,"x"],"b":{"c":"d"}}'
