"""Message signing: a shared-secret HMAC-SHA256 mode and Celery's certificate mode.

A signed body is ``scheme (1 byte) + inner content tag (1) + signature length (2, big-endian)
+ signature + payload``, stored with the content tag ``SIGNED_TAG``. The signature covers the
scheme, the inner tag and the payload (the serialized envelope), so neither the arguments nor
how they decode can be changed without the key.

- ``h`` (``flowc_signing_key``): the signature is a 4-byte key id and the HMAC-SHA256 of the
  data. The first key signs; it and every key in ``flowc_signing_keys_accepted`` verify, so a
  key is rotated by accepting the new one everywhere, then signing with it, then retiring the old.
  A worker verifies with the key the message names (no trial of every key). The HMAC is RFC
  2104's, computed from SHA-256 states keyed once per key and content tag (what the standard
  library's pure-Python ``hmac`` does), since OpenSSL 3's one-shot ``hmac.digest`` spends about
  1 µs per call setting up the MAC, more than hashing a message takes.
- ``x`` (``security_key``, ``security_certificate``, ``security_cert_store``): the signature is
  the SHA-256 fingerprint of the signer's certificate and its signature of the data (RSA-PSS or
  ECDSA, ``security_digest``); a worker verifies with that certificate if it is in its store.
  That mode lives in ``runtime/certificates.py``, imported only when configured: the
  ``cryptography`` package it needs is ~14 MB of resident memory in every worker process.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Any, Protocol

from flowc.runtime.serialization import CONTENT_TYPES

SIGNED_TAG = b"s"
"""The content tag of a signed body (its own tag follows the scheme byte inside)."""
HMAC_SCHEME = b"h"
KEY_ID_BYTES = 4
MIN_SECRET_CHARS = 16
_LENGTH = struct.Struct(">H")
_MAC_BYTES = 32
_HMAC_LENGTH = _LENGTH.pack(KEY_ID_BYTES + _MAC_BYTES)
_HMAC_HEAD = 4 + KEY_ID_BYTES
"""Scheme, tag, signature length and key id: the bytes that pick a prepared HMAC state."""
_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
TAGS = tuple(CONTENT_TYPES.values())
"""Content tags whose HMAC states are prepared up front."""


class BadSignature(Exception):
    """Raised by ``unwrap`` when a body's signature does not verify; str() says why."""


class Signer(Protocol):
    """Signs data with one key and verifies with every accepted one."""

    scheme: bytes

    def sign(self, data: bytes) -> bytes:
        """The signature block of ``data``."""
        ...

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid block for ``data`` under an accepted key."""
        ...

    def wrap(self, tag: bytes, payload: bytes) -> bytes:
        """The signed body of ``payload`` (content tag ``tag``), as ``wrap`` makes it."""
        ...

    def unwrap(self, body: bytes) -> tuple[bytes, bytes]:
        """(inner tag, payload) of a signed body that verifies; raises BadSignature."""
        ...


class HmacSigner:
    """HMAC-SHA256 with a shared secret; rotation through a list of accepted secrets.

    ``wrap`` and ``unwrap`` are the hot paths (every message a producer sends and a worker
    runs): a signed body's first 8 bytes (scheme, tag, signature length, key id) name one
    prepared inner state, already fed the scheme and tag, so a message costs two state copies,
    one pass over its payload and a constant-time compare. Anything else (an unknown key id,
    another scheme, a content tag without a prepared state) takes the general path.
    """

    scheme = HMAC_SCHEME

    def __init__(self, secrets: list[str]) -> None:
        self.keys = {_key_id(s): _Pads(s.encode()) for s in reversed(secrets)}
        self.signing_id = _key_id(secrets[0])
        self.signing_key = secrets[0].encode()
        self._signing = self.keys[self.signing_id]
        self._heads: dict[bytes, tuple[bytes, Any, Any]] = {}
        """By content tag: (the signed body's first 8 bytes, inner state fed scheme + tag,
        outer state) for the signing key."""
        self._states: dict[bytes, tuple[Any, Any]] = {}
        """By a signed body's first 8 bytes: (inner state fed scheme + tag, outer state)."""
        for tag in TAGS:
            self._prepare(tag)

    def _prepare(self, tag: bytes) -> tuple[bytes, Any, Any]:
        """Prepare states for content tag ``tag`` under every accepted key."""
        head = self.scheme + tag
        for key_id, pads in self.keys.items():
            inner = pads.inner.copy()
            inner.update(head)
            self._states[head + _HMAC_LENGTH + key_id] = (inner, pads.outer)
        first = head + _HMAC_LENGTH + self.signing_id
        self._heads[tag] = (first, *self._states[first])
        return self._heads[tag]

    def sign(self, data: bytes) -> bytes:
        """Key id + HMAC-SHA256(data)."""
        return self.signing_id + self._signing.mac(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Look the key up by its id, compare in constant time."""
        pads = self.keys.get(signature[:KEY_ID_BYTES])
        return pads is not None and hmac.compare_digest(pads.mac(data),
                                                        signature[KEY_ID_BYTES:])

    def wrap(self, tag: bytes, payload: bytes) -> bytes:
        """The signed body of ``payload`` (the layout ``wrap`` writes)."""
        prepared = self._heads.get(tag)
        if prepared is None:
            if len(tag) != 1:
                return wrap_with(self, tag, payload)
            prepared = self._prepare(tag)
        head, inner, outer = prepared
        inner = inner.copy()
        inner.update(payload)
        outer = outer.copy()
        outer.update(inner.digest())
        return head + outer.digest() + payload

    def unwrap(self, body: bytes) -> tuple[bytes, bytes]:
        """(inner tag, payload) of a body that verifies; the bytes returned as the payload
        are the bytes the MAC was computed over."""
        prepared = self._states.get(body[:_HMAC_HEAD])
        if prepared is None:
            return unwrap_with(self, body)
        inner, outer = prepared
        payload = body[_HMAC_HEAD + _MAC_BYTES:]
        inner = inner.copy()
        inner.update(payload)
        outer = outer.copy()
        outer.update(inner.digest())
        if not hmac.compare_digest(outer.digest(), body[_HMAC_HEAD:_HMAC_HEAD + _MAC_BYTES]):
            raise BadSignature("bad signature")
        return body[1:2], payload


class _Pads:
    """One HMAC-SHA256 key as the SHA-256 states after its inner and outer padded blocks
    (RFC 2104; the standard library's ``hmac`` fallback does the same)."""

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self.inner = hashlib.sha256(key.translate(_IPAD))
        self.outer = hashlib.sha256(key.translate(_OPAD))

    def mac(self, data: bytes) -> bytes:
        """HMAC-SHA256(key, data)."""
        inner = self.inner.copy()
        inner.update(data)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def wrap(signer: Signer, tag: bytes, payload: bytes) -> bytes:
    """The signed body of ``payload`` (content tag ``tag``); store it with ``SIGNED_TAG``."""
    return signer.wrap(tag, payload)


def wrap_with(signer: Signer, tag: bytes, payload: bytes) -> bytes:
    """``wrap`` through the signer's ``sign`` (any scheme)."""
    head = signer.scheme + tag
    signature = signer.sign(head + payload)
    return head + _LENGTH.pack(len(signature)) + signature + payload


def unwrap(body: bytes, signer: Signer | None) -> tuple[bytes, bytes]:
    """(inner tag, payload) of a signed body, verified when ``signer`` is given."""
    if signer is not None:
        return signer.unwrap(body)
    if len(body) < 4:
        raise BadSignature("bad signature: truncated signed body")
    (length,) = _LENGTH.unpack_from(body, 2)
    return body[1:2], body[4 + length:]


def unwrap_with(signer: Signer, body: bytes) -> tuple[bytes, bytes]:
    """``unwrap`` through the signer's ``verify`` (any scheme)."""
    if len(body) < 4:
        raise BadSignature("bad signature: truncated signed body")
    (length,) = _LENGTH.unpack_from(body, 2)
    signature, payload = body[4:4 + length], body[4 + length:]
    if body[:1] != signer.scheme:
        raise BadSignature(f"bad signature: signed with scheme {body[:1]!r}, this worker "
                           f"verifies {signer.scheme!r}")
    if len(signature) != length or not signer.verify(body[:2] + payload, signature):
        raise BadSignature("bad signature")
    return body[1:2], payload


def check_secret(value: str) -> str:
    """A shared secret long enough to be one (settings validation)."""
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(f"a signing key needs at least {MIN_SECRET_CHARS} characters; make "
                         "one with: python -c 'import secrets; print(secrets.token_hex(32))'")
    return value


def _key_id(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()[:KEY_ID_BYTES]
