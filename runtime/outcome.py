"""Encoding of task outcomes: the result record a worker stores and ``AsyncResult`` reads.

A record is a dict ``{status, result, traceback, date_done, task_id, ...}``; exceptions are
stored as ``{exc_type, exc_module, exc_message}`` and rebuilt as their own type when importable.
"""

from __future__ import annotations

import importlib
import traceback as tb_module
from datetime import UTC, datetime
from typing import Any

from flowc.runtime.exceptions import TaskError
from flowc.runtime.serialization import decode, get_serializer, tag_of


def encode_record(record: dict[str, Any], serializer: str) -> bytes:
    """Serialize a record with its one-byte content tag in front."""
    return tag_of(serializer) + get_serializer(serializer).dumps(record)


def decode_record(data: bytes, accept: frozenset[str]) -> dict[str, Any]:
    """Inverse of ``encode_record``; refuses content types not in ``accept``."""
    record = decode(data[:1], data[1:], accept)
    if not isinstance(record, dict):
        raise TypeError("corrupt result record")
    return record


def now_iso() -> str:
    """UTC timestamp in ISO 8601, as stored in ``date_done``."""
    return datetime.now(UTC).isoformat()


def exception_to_dict(exc: BaseException) -> dict[str, Any]:
    """A serializable description of an exception (type, module, args)."""
    args: list[Any] = []
    for arg in exc.args:
        args.append(arg if isinstance(arg, str | int | float | bool | type(None)) else repr(arg))
    return {"exc_type": type(exc).__qualname__, "exc_module": type(exc).__module__,
            "exc_message": args}


def format_traceback(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` as text."""
    return "".join(tb_module.format_exception(type(exc), exc, exc.__traceback__))


def exception_from_dict(info: Any, remote_tb: str | None = None) -> BaseException:
    """Rebuild a task's exception: its own type when importable, else ``TaskError``."""
    if not isinstance(info, dict) or "exc_type" not in info:
        return TaskError("Exception", repr(info))
    name, module = str(info["exc_type"]), str(info.get("exc_module") or "builtins")
    args = info.get("exc_message") or []
    if not isinstance(args, list):
        args = [args]
    exc: BaseException
    cls = _import_exception(module, name)
    try:
        exc = cls(*args) if cls is not None else TaskError(f"{module}.{name}", _msg(args))
    except Exception:
        exc = TaskError(f"{module}.{name}", _msg(args))
    if remote_tb:
        exc.add_note("Remote traceback (from the worker):\n" + remote_tb.rstrip())
    return exc


def _msg(args: list[Any]) -> str:
    return ", ".join(str(a) for a in args)


def _import_exception(module: str, qualname: str) -> type[BaseException] | None:
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return obj
    return None
