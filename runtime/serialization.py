"""Serializers for message bodies and results: JSON (orjson) by default, pickle on request."""

from __future__ import annotations

import base64
import pickle
import re
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

import orjson
from flowc.runtime.exceptions import ContentDisallowed, SerializationError

JSON = "json"
PICKLE = "pickle"
CONTENT_TYPES = {JSON: b"j", PICKLE: b"p"}
"""One-byte tags stored beside each body so a worker knows how to decode it before trusting it."""
_TAG_TO_NAME = {v: k for k, v in CONTENT_TYPES.items()}


class Serializer(Protocol):
    """Turns a Python value into bytes and back."""

    name: str

    def dumps(self, value: Any) -> bytes:
        """Encode ``value``; raise SerializationError with the offending type when impossible."""
        ...

    def loads(self, data: bytes) -> Any:
        """Decode bytes produced by ``dumps``."""
        ...


TYPE_KEY = "__type__"
VALUE_KEY = "__value__"
_MARKER = b'"__type__"'
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
_PLAIN = frozenset({str, int, float, bool, type(None)})
_UUID_TEXT = re.compile(rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')
_UUID_STR = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""How orjson writes a UUID (and a string holding one): a hit the top-level strings do not
explain is the only case where the value is walked for UUIDs."""


def _tagged(kind: str, value: Any) -> dict[str, Any]:
    return {TYPE_KEY: kind, VALUE_KEY: value}


def _default(value: Any) -> Any:
    """kombu's JSON encoding (Celery 5.3+) of the types JSON lacks: a ``__type__`` marker."""
    if isinstance(value, datetime):
        return _tagged("datetime", value.isoformat())
    if isinstance(value, date):
        return _tagged("date", value.isoformat())
    if isinstance(value, time):
        return _tagged("time", value.isoformat())
    if isinstance(value, Decimal):
        return _tagged("decimal", str(value))
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return _tagged("bytes", raw.decode("utf-8"))
        except UnicodeDecodeError:
            return _tagged("base64", base64.b64encode(raw).decode("ascii"))
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _uuids_tagged(value: Any) -> Any:
    """``value`` with each UUID as kombu's marker (orjson writes UUIDs as plain strings, so
    they are swapped before encoding); the same object when it holds none."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        out = None
        for key, item in value.items():
            if type(item) in _PLAIN:
                continue
            new = _uuids_tagged(item)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if kind is list or kind is tuple:
        items = None
        for i, item in enumerate(value):
            if type(item) in _PLAIN:
                continue
            new = _uuids_tagged(item)
            if new is not item:
                if items is None:
                    items = list(value)
                items[i] = new
        return value if items is None else items
    if isinstance(value, uuid.UUID):
        return _tagged("uuid", {"hex": value.hex})
    return value


def _holds_uuid(value: Any, data: bytes) -> bool:
    """Whether ``value`` may hold a UUID object: ``data`` (orjson's output) has more
    UUID-shaped strings than the top-level string values (a message's ids) account for."""
    hits = len(_UUID_TEXT.findall(data))
    if not hits or type(value) is not dict:
        return hits > 0
    for item in value.values():
        if type(item) is str and len(item) == 36 and _UUID_STR.fullmatch(item):
            hits -= 1
    return hits > 0


_DECODERS = {
    "datetime": datetime.fromisoformat,
    "date": lambda v: datetime.fromisoformat(v).date(),
    "time": time.fromisoformat,
    "decimal": Decimal,
    "uuid": lambda v: uuid.UUID(**v),
    "bytes": lambda v: v.encode("utf-8"),
    "base64": lambda v: base64.b64decode(v.encode("ascii")),
}


def _untagged(value: Any) -> Any:
    """Decoded JSON with kombu's ``__type__`` markers turned back into their types."""
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and TYPE_KEY in value and VALUE_KEY in value:
            decoder = _DECODERS.get(value[TYPE_KEY])
            if decoder is not None:
                return decoder(value[VALUE_KEY])
        return {k: _untagged(v) for k, v in value.items()}
    if kind is list:
        return [_untagged(v) for v in value]
    return value


def json_dumps(value: Any) -> bytes:
    """orjson with kombu's markers for the types JSON lacks (what ``JsonSerializer`` writes);
    raises TypeError for a value it cannot encode."""
    data = orjson.dumps(value, default=_default, option=_JSON_OPTIONS)
    if _holds_uuid(value, data):
        data = orjson.dumps(_uuids_tagged(value), default=_default, option=_JSON_OPTIONS)
    return data


class JsonSerializer:
    """orjson: fast, safe, and what every non-Python consumer can read.

    datetime, date, time, Decimal, UUID and bytes travel as Celery's (kombu's) JSON writes
    them, ``{"__type__": "datetime", "__value__": "2026-..."}``, and come back as those types,
    so either implementation reads the other's messages; plain JSON costs one scan more.
    """

    name = JSON

    def dumps(self, value: Any) -> bytes:
        """Encode with orjson; tuples become lists, the types above kombu's markers."""
        try:
            return json_dumps(value)
        except TypeError as e:
            raise SerializationError(
                f"cannot serialize to JSON: {e}",
                hint="pass plain data (ids, strings, numbers, lists, dicts) or opt in to "
                "pickle with task_serializer='pickle' and accept_content=['json', 'pickle']",
            ) from e

    def loads(self, data: bytes) -> Any:
        """Decode JSON bytes (and kombu's type markers, when there are any)."""
        value = orjson.loads(data)
        if _MARKER in data:
            return _untagged(value)
        return value


class PickleSerializer:
    """pickle: only when the user opts in, since unpickling untrusted bytes runs code."""

    name = PICKLE

    def dumps(self, value: Any) -> bytes:
        """Encode with the highest pickle protocol."""
        try:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            raise SerializationError(f"cannot pickle value: {e}") from e

    def loads(self, data: bytes) -> Any:
        """Decode pickle bytes (callers check accept_content first)."""
        return pickle.loads(data)


_SERIALIZERS: dict[str, Serializer] = {JSON: JsonSerializer(), PICKLE: PickleSerializer()}


def get_serializer(name: str) -> Serializer:
    """Look a serializer up by its Celery name ('json' or 'pickle')."""
    try:
        return _SERIALIZERS[name]
    except KeyError:
        raise SerializationError(
            f"unknown serializer {name!r}", hint=f"use one of {sorted(_SERIALIZERS)}"
        ) from None


def tag_of(name: str) -> bytes:
    """The one-byte content tag stored with a body encoded by serializer ``name``."""
    return CONTENT_TYPES[name]


def decode(tag: bytes, data: bytes, accept: frozenset[str]) -> Any:
    """Decode ``data`` tagged ``tag``, refusing content types not in ``accept``."""
    name = _TAG_TO_NAME.get(tag)
    if name is None:
        raise ContentDisallowed(f"unknown content type tag {tag!r}")
    if name not in accept:
        raise ContentDisallowed(
            f"refusing to decode {name!r} content", hint=f"accept_content is {sorted(accept)}"
        )
    return _SERIALIZERS[name].loads(data)
