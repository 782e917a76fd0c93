"""Message signing: a shared-secret HMAC-SHA256 mode and Celery's certificate mode.

A signed body is ``scheme (1 byte) + inner content tag (1) + signature length (2, big-endian)
+ signature + payload``, stored with the content tag ``SIGNED_TAG``. The signature covers the
scheme, the inner tag and the payload (the serialized envelope), so neither the arguments nor
how they decode can be changed without the key.

- ``h`` (``flowc_signing_key``): the signature is a 4-byte key id and the HMAC-SHA256 of the
  data. The first key signs; it and every key in ``flowc_signing_keys_accepted`` verify, so a
  key is rotated by accepting the new one everywhere, then signing with it, then retiring the old.
- ``x`` (``security_key``, ``security_certificate``, ``security_cert_store``): the signature is
  the SHA-256 fingerprint of the signer's certificate and its signature of the data (RSA-PSS or
  ECDSA, ``security_digest``); a worker verifies with that certificate if it is in its store.
  That mode lives in ``runtime/certificates.py``, imported only when configured: the
  ``cryptography`` package it needs is ~14 MB of resident memory in every worker process.
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import struct
from pathlib import Path
from typing import Any, Protocol

from flowc.runtime.exceptions import ImproperlyConfigured

SIGNED_TAG = b"s"
"""The content tag of a signed body (its own tag follows the scheme byte inside)."""
HMAC_SCHEME = b"h"
KEY_ID_BYTES = 4
MIN_SECRET_CHARS = 16
_LENGTH = struct.Struct(">H")


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


class HmacSigner:
    """HMAC-SHA256 with a shared secret; rotation through a list of accepted secrets."""

    scheme = HMAC_SCHEME

    def __init__(self, secrets: list[str]) -> None:
        self.keys = {_key_id(s): s.encode() for s in reversed(secrets)}
        self.signing_id = _key_id(secrets[0])
        self.signing_key = secrets[0].encode()

    def sign(self, data: bytes) -> bytes:
        """Key id + HMAC-SHA256(data)."""
        return self.signing_id + hmac.digest(self.signing_key, data, "sha256")

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Look the key up by its id, compare in constant time."""
        key = self.keys.get(signature[:KEY_ID_BYTES])
        return key is not None and hmac.compare_digest(
            hmac.digest(key, data, "sha256"), signature[KEY_ID_BYTES:])


def wrap(signer: Signer, tag: bytes, payload: bytes) -> bytes:
    """The signed body of ``payload`` (content tag ``tag``); store it with ``SIGNED_TAG``."""
    head = signer.scheme + tag
    signature = signer.sign(head + payload)
    return head + _LENGTH.pack(len(signature)) + signature + payload


def unwrap(body: bytes, signer: Signer | None) -> tuple[bytes, bytes]:
    """(inner tag, payload) of a signed body, verified when ``signer`` is given."""
    if len(body) < 4:
        raise BadSignature("bad signature: truncated signed body")
    (length,) = _LENGTH.unpack_from(body, 2)
    signature, payload = body[4:4 + length], body[4 + length:]
    if signer is not None:
        if body[:1] != signer.scheme:
            raise BadSignature(f"bad signature: signed with scheme {body[:1]!r}, this worker "
                               f"verifies {signer.scheme!r}")
        if len(signature) != length or not signer.verify(body[:2] + payload, signature):
            raise BadSignature("bad signature")
    return body[1:2], payload


def signer_from(conf: Any) -> Signer | None:
    """The signer the settings configure, or None when messages are not signed."""
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


def check_secret(value: str) -> str:
    """A shared secret long enough to be one (settings validation)."""
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(f"a signing key needs at least {MIN_SECRET_CHARS} characters; make "
                         "one with: python -c 'import secrets; print(secrets.token_hex(32))'")
    return value


def _key_id(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()[:KEY_ID_BYTES]
