"""Celery's certificate signing mode (``security_key``, ``security_certificate``,
``security_cert_store``): the ``x`` scheme of ``runtime/signing.py``, which imports this module
only when those settings are set (``cryptography`` costs every process ~14 MB resident).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from flowc.runtime.exceptions import ImproperlyConfigured
from flowc.runtime.signing import unwrap_with, wrap_with

CERT_SCHEME = b"x"
"""The scheme byte of a certificate-signed body (``runtime/signing.py`` has the layout)."""


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

    def wrap(self, tag: bytes, payload: bytes) -> bytes:
        """The signed body of ``payload``."""
        return wrap_with(self, tag, payload)

    def unwrap(self, body: bytes) -> tuple[bytes, bytes]:
        """(inner tag, payload) of a body that verifies; raises BadSignature."""
        return unwrap_with(self, body)


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
