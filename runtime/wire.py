"""What crosses the broker: envelopes serialized, size-checked and signed on the way out; on
the way in size-checked and verified before anything decodes them (``runtime/signing.py``).

Every producer path (``delay``, ``apply_async``, retries, beat, the dashboard, workflow
submit) encodes through ``Wire.seal``; every worker decodes through ``Wire.open``, whose
``Rejected`` carries the one-line reason a message is dead-lettered with.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from flowc.runtime.broker import Outgoing
from flowc.runtime.config import Settings
from flowc.runtime.exceptions import ImproperlyConfigured, MessageTooLarge
from flowc.runtime.serialization import decode, get_serializer, tag_of
from flowc.runtime.signing import SIGNED_TAG, BadSignature, HmacSigner, Signer, unwrap

MIB = 1024 * 1024


class Rejected(Exception):
    """Raised by ``Wire.open`` for a message that must be dead-lettered; str() is the reason."""


class Wire:
    """Encoding and decoding of message bodies under one app's settings."""

    def __init__(self, conf: Settings) -> None:
        self.max_bytes = conf.flowc_max_message_bytes
        self.serializer = conf.task_serializer
        self.accept = conf.accepted()
        self.signer = signer_from(conf)

    def seal(self, envelope: dict[str, Any], serializer: str | None = None) -> tuple[bytes, bytes]:
        """Serialize and sign ``envelope``; returns (body, content tag). Raises
        MessageTooLarge."""
        name = serializer or self.serializer
        body, tag = get_serializer(name).dumps(envelope), tag_of(name)
        if self.signer is not None:
            body, tag = self.signer.wrap(tag, body), SIGNED_TAG
        if len(body) > self.max_bytes:
            raise MessageTooLarge(
                f"message for {envelope.get('task')!r} is {_size(len(body))}, over "
                f"flowc_max_message_bytes ({_size(self.max_bytes)})",
                hint="pass large data by reference (a key, a path, a URL) or raise the setting")
        return body, tag

    def sign(self, items: list[Outgoing]) -> list[Outgoing]:
        """Sign bodies built elsewhere (the ready messages a workflow join assembled)."""
        if self.signer is None:
            return items
        return [item if item.tag == SIGNED_TAG else
                Outgoing(item.queue, item.priority, self.signer.wrap(item.tag, item.body),
                         SIGNED_TAG, item.eta) for item in items]

    def resign(self, body: bytes, tag: bytes, force: bool = False) -> tuple[bytes, bytes]:
        """A body whose signature verifies (under any accepted key), signed again with the
        current key; raises Rejected when it does not verify, unless ``force`` (``flowc dlq
        requeue --resign``: the operator vouches for the content)."""
        if self.signer is None:
            return body, tag
        if force:
            tag, payload = unwrap(body, None) if tag == SIGNED_TAG else (tag, body)
        else:
            tag, payload = self.verified(body, tag)
        return self.signer.wrap(tag, payload), SIGNED_TAG

    def verified(self, body: bytes, tag: bytes) -> tuple[bytes, bytes]:
        """(content tag, payload) of a body that passes the size and signature checks."""
        if len(body) > self.max_bytes:
            raise Rejected(f"message of {_size(len(body))} is over flowc_max_message_bytes "
                           f"({_size(self.max_bytes)})")
        if tag == SIGNED_TAG:
            try:
                return unwrap(body, self.signer)
            except BadSignature as e:
                raise Rejected(str(e)) from None
        if self.signer is not None:
            raise Rejected("bad signature: the message is not signed")
        return tag, body

    def open(self, body: bytes, tag: bytes) -> Any:
        """The decoded envelope of a fetched message; raises Rejected with the reason.

        The signature is checked before anything is decoded: a forged pickle never loads.
        (``verified`` inlined for the signed case: this runs once per message a worker runs.)"""
        if tag == SIGNED_TAG and self.signer is not None and len(body) <= self.max_bytes:
            try:
                tag, payload = self.signer.unwrap(body)
            except BadSignature as e:
                raise Rejected(str(e)) from None
        else:
            tag, payload = self.verified(body, tag)
        try:
            return decode(tag, payload, self.accept)
        except Exception as e:
            raise Rejected(f"malformed message: {e}") from e

    def peek(self, body: bytes, tag: bytes, accept: frozenset[str] | None = None) -> Any:
        """Decode a body for display (dashboard, DLQ listing), signature unchecked."""
        if tag == SIGNED_TAG:
            tag, body = unwrap(body, None)
        return decode(tag, body, self.accept if accept is None else accept)


def _size(n: int) -> str:
    """Bytes for people: '2134 bytes', '16 MiB', '50.2 MiB'."""
    if n < MIB:
        return f"{n} bytes"
    return f"{n / MIB:g} MiB" if n % MIB == 0 else f"{n / MIB:.1f} MiB"


def signer_from(conf: Any) -> Signer | None:
    """The signer the settings configure, or None when messages are not signed (certificate
    mode loads ``cryptography`` only when configured; it lives here, not in ``signing``,
    because ``certificates`` builds on ``signing``)."""
    secrets = conf.flowc_signing_key
    cert_mode = conf.security_key or conf.security_certificate or conf.security_cert_store
    if secrets and cert_mode:
        raise ImproperlyConfigured("flowc_signing_key and security_key/security_certificate "
                                   "are both set", hint="choose one signing mode")
    if secrets:
        keys = [secrets] if isinstance(secrets, str) else list(secrets)
        keys += [k for k in conf.flowc_signing_keys_accepted if k not in keys]
        return HmacSigner(keys)
    if cert_mode:
        from flowc.runtime.certificates import CertificateSigner, _load_cert, _load_key

        return CertificateSigner(
            _load_key(conf.security_key, conf.security_key_password) if conf.security_key
            else None,
            _load_cert(conf.security_certificate) if conf.security_certificate else None,
            [_load_cert(p) for p in sorted(glob.glob(conf.security_cert_store or ""))
             if Path(p).is_file()],
            conf.security_digest)
    return None
