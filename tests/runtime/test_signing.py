"""Signed bodies: HMAC-SHA256 with rotation and Celery's certificates; any change to the
payload, the content tag or the signature fails verification."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import struct
from pathlib import Path

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from flowc.runtime.config import Settings
from flowc.runtime.exceptions import ImproperlyConfigured
from flowc.runtime.signing import SIGNED_TAG
from flowc.runtime.wire import Rejected, Wire

pytestmark = pytest.mark.unit

SECRET = "0123456789abcdef-old"
NEW_SECRET = "fedcba9876543210-new"
ENVELOPE = {"v": 1, "id": "t-1", "task": "app.add", "args": [1], "kwargs": {}, "queue": "celery",
            "priority": 0}


def wire(**settings: object) -> Wire:
    return Wire(Settings(**settings))


def tampered(body: bytes) -> bytes:
    assert b'"args":[1]' in body
    return body.replace(b'"args":[1]', b'"args":[6]')


def test_a_signed_message_opens_and_a_changed_argument_does_not() -> None:
    w = wire(flowc_signing_key=SECRET)
    body, tag = w.seal(ENVELOPE)
    assert tag == SIGNED_TAG
    assert w.open(body, tag) == ENVELOPE
    with pytest.raises(Rejected, match="^bad signature$"):
        w.open(tampered(body), tag)


def test_an_unsigned_message_is_refused_where_signing_is_on() -> None:
    body, tag = wire().seal(ENVELOPE)
    with pytest.raises(Rejected, match="bad signature: the message is not signed"):
        wire(flowc_signing_key=SECRET).open(body, tag)


def test_a_swapped_content_tag_breaks_the_signature() -> None:
    w = wire(flowc_signing_key=SECRET)
    body, tag = w.seal(ENVELOPE)
    forged = body[:1] + b"p" + body[2:]  # claim the payload is a pickle
    with pytest.raises(Rejected, match="^bad signature$"):
        w.open(forged, tag)


def test_keys_rotate_through_the_accepted_list() -> None:
    # Given producers already signing with the new key
    body, tag = wire(flowc_signing_key=[NEW_SECRET, SECRET]).seal(ENVELOPE)
    # Then a worker that accepts it verifies, and one that knows only the old key refuses
    assert wire(flowc_signing_key=SECRET,
                flowc_signing_keys_accepted=[NEW_SECRET]).open(body, tag) == ENVELOPE
    with pytest.raises(Rejected, match="bad signature"):
        wire(flowc_signing_key=SECRET).open(body, tag)


def test_resign_moves_a_verified_message_to_the_current_key_and_keeps_a_forged_one() -> None:
    old_body, tag = wire(flowc_signing_key=SECRET).seal(ENVELOPE)
    rotated = wire(flowc_signing_key=NEW_SECRET, flowc_signing_keys_accepted=[SECRET])
    body, tag = rotated.resign(old_body, tag)
    assert wire(flowc_signing_key=NEW_SECRET).open(body, tag) == ENVELOPE
    with pytest.raises(Rejected, match="bad signature"):
        rotated.resign(tampered(old_body), SIGNED_TAG)
    forced, tag = rotated.resign(tampered(old_body), SIGNED_TAG, force=True)
    assert rotated.open(forced, tag)["args"] == [6]


@pytest.mark.parametrize("secret", [SECRET, "k" * 64, "a-secret-longer-than-one-block-" * 4])
def test_the_signature_is_hmac_sha256_of_scheme_tag_and_payload(secret: str) -> None:
    # The prepared-state fast path writes exactly the documented layout: scheme, tag,
    # signature length, key id, HMAC-SHA256(key, scheme + tag + payload), payload
    body, tag = wire(flowc_signing_key=secret).seal(ENVELOPE)
    assert tag == SIGNED_TAG
    key_id = hashlib.sha256(secret.encode()).digest()[:4]
    payload = orjson.dumps(ENVELOPE)
    mac = hmac.digest(secret.encode(), b"hj" + payload, "sha256")
    assert body == b"hj" + struct.pack(">H", 36) + key_id + mac + payload


def test_a_changed_header_byte_is_refused() -> None:
    w = wire(flowc_signing_key=SECRET)
    body, tag = w.seal(ENVELOPE)
    for index, forged in ((2, b"\x01"), (3, b"\x25"), (4, b"X"), (7, b"X")):
        # the signature length and the key id select the key and the bytes compared
        with pytest.raises(Rejected, match="^bad signature"):
            w.open(body[:index] + forged + body[index + 1:], tag)
    with pytest.raises(Rejected, match="^bad signature$"):
        w.open(body[:40], tag)  # the payload cut off
    with pytest.raises(Rejected, match="^bad signature$"):
        w.open(body[:39] + bytes([body[39] ^ 1]) + body[40:], tag)  # the MAC's last byte


def test_a_message_signed_with_an_old_accepted_key_verifies_under_that_key() -> None:
    # A worker tries the key the message names, not each accepted key in turn
    body, tag = wire(flowc_signing_key=SECRET).seal(ENVELOPE)
    rotated = wire(flowc_signing_key=NEW_SECRET, flowc_signing_keys_accepted=[SECRET])
    assert rotated.open(body, tag) == ENVELOPE
    with pytest.raises(Rejected, match="^bad signature$"):
        rotated.open(tampered(body), tag)


def test_a_short_shared_secret_is_refused_with_how_to_make_one() -> None:
    with pytest.raises(ImproperlyConfigured, match="at least 16 characters.*token_hex"):
        Settings().flowc_signing_key = "short"


def _certificate(tmp_path: Path, name: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                 ) -> tuple[str, str]:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    key_path, cert_path = tmp_path / f"{name}.key", tmp_path / "store" / f"{name}.pem"
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(key_path), str(cert_path)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_certificates_sign_and_the_store_verifies(tmp_path: Path, kind: str) -> None:
    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" \
        else ec.generate_private_key(ec.SECP256R1())
    key_path, cert_path = _certificate(tmp_path, "producer", key)
    producer = wire(security_key=key_path, security_certificate=cert_path)
    worker = wire(security_cert_store=str(tmp_path / "store" / "*.pem"))
    body, tag = producer.seal(ENVELOPE)
    assert worker.open(body, tag) == ENVELOPE
    with pytest.raises(Rejected, match="^bad signature$"):
        worker.open(tampered(body), tag)
    # A certificate outside the store is not trusted
    stranger = rsa.generate_private_key(65537, 2048)
    other_key, other_cert = _certificate(tmp_path / "other", "stranger", stranger)
    body, tag = wire(security_key=other_key, security_certificate=other_cert).seal(ENVELOPE)
    with pytest.raises(Rejected, match="^bad signature$"):
        worker.open(body, tag)


def test_a_worker_without_signing_still_reads_signed_messages() -> None:
    # Producers may start signing before workers start verifying (a rolling upgrade)
    body, tag = wire(flowc_signing_key=SECRET).seal(ENVELOPE)
    assert orjson.loads(orjson.dumps(wire().open(body, tag))) == ENVELOPE
