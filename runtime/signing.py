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
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import struct
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from flowc.runtime.exceptions import ImproperlyConfigured

SIGNED_TAG = b"s"
"""The content tag of a signed body (its own tag follows the scheme byte inside)."""
HMAC_SCHEME = b"h"
CERT_SCHEME = b"x"
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


class CertificateSigner:
    """A private key signs; certificates in the store verify (Celery's ``auth`` serializer)."""

    scheme = CERT_SCHEME

    def __init__(self, key: Any | None, certificate: x509.Certificate | None,
                 store: list[x509.Certificate], digest: str) -> None:
        self.key = key
        self.digest = _digest(digest)
        self.fingerprint = certificate.fingerprint(hashes.SHA256()) if certificate else b""
        self.store = {c.fingerprint(hashes.SHA256()): c.public_key() for c in store}
        if certificate is not None:
            self.store.setdefault(self.fingerprint, certificate.public_key())

    def sign(self, data: bytes) -> bytes:
        """The signer's certificate fingerprint + its signature of ``data``."""
        if self.key is None:
            raise ImproperlyConfigured("cannot sign messages without a private key",
                                       hint="set security_key and security_certificate")
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.fingerprint + self.key.sign(data, _pss(self.digest), self.digest)
        return self.fingerprint + self.key.sign(data, ec.ECDSA(self.digest))

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Verify with the certificate named by the fingerprint, if the store holds it."""
        public = self.store.get(signature[:32])
        if public is None:
            return False
        try:
            if isinstance(public, rsa.RSAPublicKey):
                public.verify(signature[32:], data, _pss(self.digest), self.digest)
            elif isinstance(public, ec.EllipticCurvePublicKey):
                public.verify(signature[32:], data, ec.ECDSA(self.digest))
            else:
                return False
        except InvalidSignature:
            return False
        return True


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


def _digest(name: str) -> hashes.HashAlgorithm:
    algorithms: dict[str, type[hashes.HashAlgorithm]] = {
        "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
    algorithm = algorithms.get(name.lower().replace("-", ""))
    if algorithm is None:
        raise ImproperlyConfigured(f"unknown security_digest {name!r}",
                                   hint="use 'sha256', 'sha384' or 'sha512'")
    return algorithm()


def _pss(digest: hashes.HashAlgorithm) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(digest), salt_length=padding.PSS.MAX_LENGTH)


def _load_key(path: str, password: str | bytes | None) -> Any:
    secret = password.encode() if isinstance(password, str) else password
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), secret)
    except (OSError, ValueError, TypeError) as e:
        raise ImproperlyConfigured(f"cannot load security_key {path!r}: {e}",
                                   hint="give the path of a PEM private key (RSA or EC) and "
                                   "security_key_password if it is encrypted") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured(f"security_key {path!r} is neither RSA nor EC")
    return key


def _load_cert(path: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise ImproperlyConfigured(f"cannot load certificate {path!r}: {e}",
                                   hint="give the path of a PEM X.509 certificate") from None
