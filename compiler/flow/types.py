"""Types in ``.flow`` files: parameter types as written, values, and simple Python annotations.

A parameter type is ``str int float bool duration dict any none`` or ``list``, optionally with
arguments: ``list[int]``, ``dict[str, int]``. A ``duration`` is a number of seconds (so ``30s``
and ``30`` both fit). The compiler checks literal values against them (F305) and, where the
task's annotation is simple (``int``, ``str``, ``list[str]``, ``X | None``...), literal task
arguments against the annotation; anything it cannot judge passes.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

BASES = ("str", "int", "float", "bool", "duration", "list", "dict", "any", "none")
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|\[|\]|,|\|)\s*")


@dataclass(frozen=True, slots=True)
class FlowType:
    """A parsed type: ``base`` and its arguments (``list[int]`` is ``("list", (int,))``)."""

    base: str
    args: tuple[FlowType, ...] = ()

    def __str__(self) -> str:
        inner = f"[{', '.join(map(str, self.args))}]" if self.args else ""
        return self.base + inner


def parse_type(text: str) -> FlowType | None:
    """The type written as ``text``; ``None`` when a name in it is unknown (F306)."""
    tokens = [m.group(1) for m in _TOKEN.finditer(text)]
    if "".join(tokens) != re.sub(r"\s+", "", text):
        return None
    result, rest = _parse(tokens)
    return result if not rest else None


def _parse(tokens: list[str]) -> tuple[FlowType | None, list[str]]:
    if not tokens or tokens[0] not in BASES:
        return None, tokens
    base, rest = tokens[0], tokens[1:]
    args: list[FlowType] = []
    if rest and rest[0] == "[":
        rest = rest[1:]
        while True:
            arg, rest = _parse(rest)
            if arg is None or not rest:
                return None, rest
            args.append(arg)
            if rest[0] == ",":
                rest = rest[1:]
                continue
            if rest[0] == "]":
                rest = rest[1:]
                break
            return None, rest
    return FlowType(base, tuple(args)), rest


def matches(value: Any, t: FlowType) -> bool:
    """Whether a compile-time ``value`` fits type ``t``."""
    base = t.base
    if base == "any":
        return True
    if base == "none":
        return value is None
    if base == "bool":
        return isinstance(value, bool)
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base in ("float", "duration"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if base == "str":
        return isinstance(value, str)
    if base == "list":
        return isinstance(value, list) and all(matches(v, t.args[0]) for v in value) \
            if t.args else isinstance(value, list)
    if base == "dict":
        if not isinstance(value, dict):
            return False
        return len(t.args) != 2 or all(matches(v, t.args[1]) for v in value.values())
    return True


def sample(t: FlowType | None) -> Any:
    """A value of type ``t`` to check a flow whose parameter has no default (lists: one item)."""
    if t is None:
        return None
    samples: dict[str, Any] = {"str": "", "int": 0, "float": 0.0, "bool": False,
                               "duration": 1, "dict": {}}
    if t.base == "list":
        return [sample(t.args[0]) if t.args else None]
    return samples.get(t.base)


def describe_value(value: Any) -> str:
    """The ``.flow`` type name of a value, for messages."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    for kind in (int, float, str, list, dict):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


# ---- Python annotations ----------------------------------------------------------------------

_SIMPLE: dict[str, type | tuple[type, ...]] = {
    "int": int, "str": str, "float": (int, float), "bool": bool, "list": list, "dict": dict,
    "tuple": (list, tuple), "bytes": bytes,
}


_ACCEPTS: dict[tuple[Any, type], bool] = {}


def accepts_type_of(annotation: Any, value: Any) -> bool:
    """``annotation_accepts``, cached: it only looks at ``type(value)``, never inside it."""
    try:
        key = (annotation, type(value))
        found = _ACCEPTS.get(key)
    except TypeError:  # an unhashable annotation
        return annotation_accepts(annotation, value)
    if found is None:
        found = _ACCEPTS[key] = annotation_accepts(annotation, value)
    return found


def annotation_accepts(annotation: Any, value: Any) -> bool:
    """Whether ``value`` can be passed to a parameter annotated ``annotation``.

    Only simple annotations are judged (builtins, ``list[...]``, ``X | None``, ``Optional``),
    written as objects or as strings (``from __future__ import annotations``); anything else
    accepts every value.
    """
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    if isinstance(annotation, str):
        return _text_accepts(annotation.strip(), value)
    if annotation is None or annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(annotation_accepts(a, value) for a in typing.get_args(annotation))
    if origin is not None:
        annotation = origin
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (str, bool, list, dict, bytes):
        return isinstance(value, annotation)
    if annotation is tuple:
        return isinstance(value, list | tuple)
    return True


def _text_accepts(text: str, value: Any) -> bool:
    parts = _split_union(text)
    if len(parts) > 1:
        return any(_text_accepts(p, value) for p in parts)
    if text.startswith("Optional[") and text.endswith("]"):
        return value is None or _text_accepts(text[len("Optional["):-1], value)
    if text == "None":
        return value is None
    base = text.split("[", 1)[0].strip()
    base = {"List": "list", "Dict": "dict", "Tuple": "tuple"}.get(base, base)
    kinds = _SIMPLE.get(base)
    if kinds is None:
        return True
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kinds)


def _split_union(text: str) -> list[str]:
    """Top-level ``|`` parts of an annotation string."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def annotation_text(annotation: Any) -> str:
    """An annotation as users wrote it, for messages."""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
