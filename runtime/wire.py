"""What crosses the broker: envelopes serialized and size-checked on the way out, and on the
way in size-checked and decoded before anything else looks at them.

Every producer path (``delay``, ``apply_async``, retries, beat, the dashboard, workflow
submit) encodes through ``Wire.seal``; every worker decodes through ``Wire.open``, whose
``Rejected`` carries the one-line reason a message is dead-lettered with.
"""

from __future__ import annotations

from typing import Any

from flowc.runtime.config import Settings
from flowc.runtime.exceptions import MessageTooLarge
from flowc.runtime.serialization import decode, get_serializer, tag_of

MIB = 1024 * 1024


class Rejected(Exception):
    """Raised by ``Wire.open`` for a message that must be dead-lettered; str() is the reason."""


class Wire:
    """Encoding and decoding of message bodies under one app's settings."""

    def __init__(self, conf: Settings) -> None:
        self.max_bytes = conf.flowc_max_message_bytes
        self.serializer = conf.task_serializer
        self.accept = conf.accepted()

    def seal(self, envelope: dict[str, Any], serializer: str | None = None) -> tuple[bytes, bytes]:
        """Serialize ``envelope``; returns (body, content tag). Raises MessageTooLarge."""
        name = serializer or self.serializer
        body = get_serializer(name).dumps(envelope)
        if len(body) > self.max_bytes:
            raise MessageTooLarge(
                f"message for {envelope.get('task')!r} is {_size(len(body))}, over "
                f"flowc_max_message_bytes ({_size(self.max_bytes)})",
                hint="pass large data by reference (a key, a path, a URL) or raise the setting")
        return body, tag_of(name)

    def open(self, body: bytes, tag: bytes) -> Any:
        """The decoded envelope of a fetched message; raises Rejected with the reason."""
        if len(body) > self.max_bytes:
            raise Rejected(f"message of {_size(len(body))} is over flowc_max_message_bytes "
                           f"({_size(self.max_bytes)})")
        try:
            return decode(tag, body, self.accept)
        except Exception as e:
            raise Rejected(f"malformed message: {e}") from e


def _size(n: int) -> str:
    """Bytes for people: '2134 bytes', '16 MiB', '50.2 MiB'."""
    if n < MIB:
        return f"{n} bytes"
    return f"{n / MIB:g} MiB" if n % MIB == 0 else f"{n / MIB:.1f} MiB"
