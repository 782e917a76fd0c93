"""Serializers for message bodies and results: JSON (orjson) by default, pickle on request."""

from __future__ import annotations

import pickle
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


class JsonSerializer:
    """orjson: fast, safe, and what every non-Python consumer can read."""

    name = JSON

    def dumps(self, value: Any) -> bytes:
        """Encode with orjson; tuples become lists, datetimes ISO strings."""
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as e:
            raise SerializationError(
                f"cannot serialize to JSON: {e}",
                hint="pass plain data (ids, strings, numbers, lists, dicts) or opt in to "
                "pickle with task_serializer='pickle' and accept_content=['json', 'pickle']",
            ) from e

    def loads(self, data: bytes) -> Any:
        """Decode JSON bytes."""
        return orjson.loads(data)


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
