"""Decoding of literal text shared by the .flow parser and the YAML loader: strings, durations.

Each decoder returns the value or an error message (no exceptions), so callers can turn the
message into a Diagnostic at the right span.
"""

from __future__ import annotations

import re

UNIT_SECONDS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
DURATION_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+")
DURATION_HINT = "durations are a number and a unit: ms, s, m, h or d (e.g. 250ms, 30s, 1h30m)"

_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def parse_duration(text: str) -> float | None:
    """Seconds for a duration like ``30s``, ``1h30m`` or ``-5s``; None if it is not one."""
    if not DURATION_RE.fullmatch(text):
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    total = sum(float(n) * UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return sign * total


def format_duration(seconds: float) -> str:
    """The canonical spelling of a duration: largest units first, e.g. ``1h30m``, ``250ms``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)


def decode_string(token: str) -> tuple[str, tuple[int, str] | None]:
    """Decode a quoted string token; returns (value, None) or (partial, (offset, error))."""
    body = token[1:-1]
    if "\\" not in body:  # no escapes: the common case, without the loop
        return body, None
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _SIMPLE_ESCAPES and nxt:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            return "".join(out), (i + 1, f"invalid escape sequence '\\{nxt}' in string")
    return "".join(out), None


def quote_string(value: str) -> str:
    """A double-quoted .flow string literal for ``value`` that ``decode_string`` reverses."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 32 or ord(ch) == 127 or ch in "\x85\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
