"""Ingest: S/MIME check of fax mail, with real keys, real signatures and real openssl."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from todoke.ingest import smime
from todoke.ingest.smime import SmimeCheck, check_smime, inner_content, is_smime_signed

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

NOW = datetime.now(UTC)
SUBJECT = "Fax Sender"
OUTER = (
    b"From: Sender <sender@example.org>\r\n"
    b"To: 0344772288@fax.example.net\r\n"
    b"Subject: signed fax\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0900\r\n"
    b"Message-ID: <smime-test@example.org>\r\n"
)
ENTITY = (
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hello fax,\r\n"
    b"please send this page.\r\n"
    b"\r\n"
    b"-- \r\n"
    b"Sender\r\n"
)

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def make_cert(
    key: Key | None = None,
    subject: str = SUBJECT,
    serial: int | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[Key, x509.Certificate]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "sender@example.org"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=1))
        .not_valid_after(not_after or NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def builder(key: Key, cert: x509.Certificate, content: bytes) -> pkcs7.PKCS7SignatureBuilder:
    return pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, hashes.SHA256())


def detached_mail(
    key: Key, cert: x509.Certificate, content: bytes = ENTITY, *options: pkcs7.PKCS7Options
) -> bytes:
    signed = builder(key, cert, content).sign(
        serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature, *options]
    )
    assert signed.startswith(b"MIME-Version: 1.0\r\nContent-Type: multipart/signed;")
    return OUTER + signed


def opaque_from_der(der: bytes, smime_type: str | None = "signed-data") -> bytes:
    param = f"; smime-type={smime_type}" if smime_type else ""
    b64 = base64.encodebytes(der).replace(b"\n", b"\r\n")
    return (
        OUTER
        + b"MIME-Version: 1.0\r\n"
        + f'Content-Type: application/pkcs7-mime{param}; name="smime.p7m"\r\n'.encode()
        + b"Content-Transfer-Encoding: base64\r\n"
        + b'Content-Disposition: attachment; filename="smime.p7m"\r\n'
        + b"\r\n"
        + b64
    )


def opaque_der(key: Key, cert: x509.Certificate, content: bytes = ENTITY) -> bytes:
    return builder(key, cert, content).sign(serialization.Encoding.DER, [])


def openssl(tmp: Path, *args: str, stdin: bytes = b"") -> bytes:
    done = subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, check=True, cwd=tmp, timeout=30
    )
    return done.stdout


def write_signer(tmp: Path, key: Key, cert: x509.Certificate) -> tuple[str, str]:
    (tmp / "cert.pem").write_bytes(pem(cert))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(tmp / "cert.pem"), str(tmp / "key.pem")


def replace_signature_part(mail: bytes, new_body: bytes) -> bytes:
    head, sep, rest = mail.partition(b'filename="smime.p7s"\r\n\r\n')
    assert sep
    tail_at = rest.index(b"\r\n--")
    return head + sep + new_body + rest[tail_at:]


@pytest.fixture(scope="module")
def signer() -> tuple[Key, x509.Certificate]:
    return make_cert()


# --- valid ----------------------------------------------------------------------------------


def test_valid_detached(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = detached_mail(key, cert)
    assert is_smime_signed(mail)
    result = check_smime(mail, [pem(cert)])
    assert result == SmimeCheck(True, True, "", cert.subject.rfc4514_string())
    assert "CN=Fax Sender" in result.signer_subject
    assert inner_content(mail) == mail  # multipart/signed: raw unchanged


def test_valid_opaque(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = opaque_from_der(opaque_der(key, cert))
    assert is_smime_signed(mail)
    result = check_smime(mail, [pem(cert)])
    assert result.signed and result.valid, result
    assert result.reason == ""
    assert inner_content(mail) == ENTITY


def test_valid_opaque_without_smime_type_parameter(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = opaque_from_der(opaque_der(key, cert), smime_type=None)
    assert b"smime-type" not in mail
    assert is_smime_signed(mail)
    assert check_smime(mail, [pem(cert)]).valid
    assert inner_content(mail) == ENTITY


def test_valid_openssl_signed_detached_rsa(tmp_path: Path) -> None:
    key, cert = make_cert(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    cert_file, key_file = write_signer(tmp_path, key, cert)
    (tmp_path / "entity").write_bytes(ENTITY)
    signed = openssl(
        tmp_path, "cms", "-sign", "-in", "entity", "-signer", cert_file, "-inkey", key_file
    )
    assert b"application/pkcs7-signature" in signed  # openssl writes the non-x type
    mail = OUTER.replace(b"\r\n", b"\n") + signed
    result = check_smime(mail, [pem(cert)])
    assert result.valid, result


def test_valid_opaque_streamed_ber_from_openssl(tmp_path: Path) -> None:
    key, cert = make_cert()
    cert_file, key_file = write_signer(tmp_path, key, cert)
    big = ENTITY + b"line of text for the fax page\r\n" * 400  # several BER chunks
    (tmp_path / "entity").write_bytes(big)
    der = openssl(
        tmp_path, "cms", "-sign", "-nodetach", "-stream", "-binary", "-outform", "DER",
        "-in", "entity", "-signer", cert_file, "-inkey", key_file,
    )  # fmt: skip
    assert der[:2] == b"\x30\x80"  # indefinite length: the BER path is exercised
    mail = opaque_from_der(der)
    assert check_smime(mail, [pem(cert)]).valid
    assert inner_content(mail) == big


def test_one_of_several_registered_certificates(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    _, other1 = make_cert(subject="Other One")
    _, other2 = make_cert(subject="Other Two")
    mail = detached_mail(key, cert)
    assert check_smime(mail, [pem(other1), pem(cert), pem(other2)]).valid
    assert check_smime(mail, [pem(other1) + pem(cert)]).valid  # a PEM bundle in one item
    assert check_smime(mail, [cert.public_bytes(serialization.Encoding.DER)]).valid


def test_signature_without_embedded_certificate_uses_registered(
    signer: tuple[Key, x509.Certificate],
) -> None:
    key, cert = signer
    mail = detached_mail(key, cert, ENTITY, pkcs7.PKCS7Options.NoCerts)
    assert check_smime(mail, [pem(cert)]).valid
    _, other = make_cert(subject="Other")
    result = check_smime(mail, [pem(other)])
    assert (result.signed, result.valid) == (True, False)
    assert result.reason == "signer is not a registered certificate"


# --- not signed -----------------------------------------------------------------------------


def test_plain_mail_is_not_signed(signer: tuple[Key, x509.Certificate]) -> None:
    _, cert = signer
    mail = OUTER + b"MIME-Version: 1.0\r\n" + ENTITY
    assert not is_smime_signed(mail)
    assert check_smime(mail, [pem(cert)]) == SmimeCheck(False, False, "no signature")
    assert inner_content(mail) == mail


def test_pgp_signed_mail_is_not_smime(signer: tuple[Key, x509.Certificate]) -> None:
    _, cert = signer
    mail = OUTER + (
        b'Content-Type: multipart/signed; protocol="application/pgp-signature";'
        b' micalg=pgp-sha256; boundary="b1"\r\n\r\n'
        b"--b1\r\n" + ENTITY + b"\r\n--b1\r\n"
        b"Content-Type: application/pgp-signature\r\n\r\n"
        b"-----BEGIN PGP SIGNATURE-----\r\n-----END PGP SIGNATURE-----\r\n--b1--\r\n"
    )
    assert not is_smime_signed(mail)
    assert check_smime(mail, [pem(cert)]).reason == "no signature"


def test_enveloped_data_is_not_signed(signer: tuple[Key, x509.Certificate]) -> None:
    _, cert = signer
    mail = opaque_from_der(b"\x30\x03\x02\x01\x00", smime_type="enveloped-data")
    assert not is_smime_signed(mail)
    assert not check_smime(mail, [pem(cert)]).signed


# --- not valid ------------------------------------------------------------------------------


def test_forged_other_key_same_subject(signer: tuple[Key, x509.Certificate]) -> None:
    _, cert = signer
    forger_key, forged = make_cert(subject=SUBJECT)
    assert forged.subject == cert.subject
    result = check_smime(detached_mail(forger_key, forged), [pem(cert)])
    assert (result.signed, result.valid) == (True, False)
    assert result.reason == "signer is not a registered certificate"
    assert result.signer_subject == cert.subject.rfc4514_string()
    result = check_smime(opaque_from_der(opaque_der(forger_key, forged)), [pem(cert)])
    assert (result.signed, result.valid) == (True, False)


def test_forged_other_key_same_subject_and_serial(signer: tuple[Key, x509.Certificate]) -> None:
    _, cert = signer
    forger_key, forged = make_cert(subject=SUBJECT, serial=cert.serial_number)
    assert (forged.issuer, forged.serial_number) == (cert.issuer, cert.serial_number)
    for mail in (
        detached_mail(forger_key, forged),
        opaque_from_der(opaque_der(forger_key, forged)),
    ):
        result = check_smime(mail, [pem(cert)])
        assert (result.signed, result.valid) == (True, False), result
        assert result.reason in {
            "signature does not verify",
            "signer is not a registered certificate",
        }


def test_tampered_body_detached(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = detached_mail(key, cert)
    assert check_smime(mail, [pem(cert)]).valid
    tampered = mail.replace(b"please send this page.", b"please send these pages")
    assert tampered != mail
    result = check_smime(tampered, [pem(cert)])
    assert result == SmimeCheck(True, False, "signature does not verify")


def test_tampered_header_inside_signed_part(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = detached_mail(key, cert)
    tampered = mail.replace(b"charset=utf-8", b"charset=latin1", 1)
    assert tampered != mail
    assert not check_smime(tampered, [pem(cert)]).valid
    # the outer headers are not signed (RFC 8551 3.1): changing them keeps the signature
    assert check_smime(mail.replace(b"signed fax", b"other subject"), [pem(cert)]).valid


def test_tampered_body_opaque(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    der = opaque_der(key, cert)
    assert der.count(b"please send") == 1
    mail = opaque_from_der(der.replace(b"please send", b"please burn"))
    result = check_smime(mail, [pem(cert)])
    assert result == SmimeCheck(True, False, "signature does not verify")


def test_expired_certificate() -> None:
    key, cert = make_cert(
        not_before=datetime(2024, 1, 1, tzinfo=UTC), not_after=datetime(2025, 1, 1, tzinfo=UTC)
    )
    for mail in (detached_mail(key, cert), opaque_from_der(opaque_der(key, cert))):
        result = check_smime(mail, [pem(cert)])
        assert (result.signed, result.valid) == (True, False)
        assert result.reason == "certificate expired 2025-01-01"
        assert "CN=Fax Sender" in result.signer_subject
    # the same mail was fine while the certificate was valid
    assert check_smime(detached_mail(key, cert), [pem(cert)], datetime(2024, 6, 1)).valid


def test_not_yet_valid_certificate() -> None:
    start = NOW + timedelta(days=30)
    key, cert = make_cert(not_before=start, not_after=NOW + timedelta(days=400))
    result = check_smime(detached_mail(key, cert), [pem(cert)])
    assert (result.signed, result.valid) == (True, False)
    assert result.reason.startswith("certificate not yet valid")
    assert f"{start:%Y-%m-%d}" in result.reason
    later = check_smime(detached_mail(key, cert), [pem(cert)], now=NOW + timedelta(days=31))
    assert later.valid, later


def test_expiry_is_judged_at_now(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = detached_mail(key, cert)
    late = NOW + timedelta(days=366)
    result = check_smime(mail, [pem(cert)], now=late)
    assert not result.valid
    assert result.reason == f"certificate expired {cert.not_valid_after_utc:%Y-%m-%d}"


def test_unregistered_signer(signer: tuple[Key, x509.Certificate]) -> None:
    _, registered = signer
    key, stranger = make_cert(subject="Somebody Else")
    for mail in (detached_mail(key, stranger), opaque_from_der(opaque_der(key, stranger))):
        result = check_smime(mail, [pem(registered)])
        assert result == SmimeCheck(
            True, False, "signer is not a registered certificate", stranger.subject.rfc4514_string()
        )


def test_no_registered_certificate(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = detached_mail(key, cert)
    assert check_smime(mail, []) == SmimeCheck(True, False, "no registered certificate")
    assert check_smime(mail, [b"not a certificate"]).reason == "no registered certificate"


# --- malformed ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"this is not a signature at all\r\n",
        base64.encodebytes(os.urandom(300)).replace(b"\n", b"\r\n"),
        # a ContentInfo that claims signedData but holds nothing sensible
        base64.encodebytes(bytes.fromhex("300f06092a864886f70d010702a0023000")),
        base64.encodebytes(bytes.fromhex("3080")),
        b"",
    ],
    ids=["text", "random", "empty-signed-data", "truncated-ber", "empty"],
)
def test_garbage_signature_part(signer: tuple[Key, x509.Certificate], garbage: bytes) -> None:
    key, cert = signer
    mail = replace_signature_part(detached_mail(key, cert), garbage)
    assert is_smime_signed(mail)
    result = check_smime(mail, [pem(cert)])
    assert result == SmimeCheck(True, False, "malformed signature")
    assert inner_content(mail) == mail


def test_truncated_real_signature(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = detached_mail(key, cert)
    der = opaque_der(key, cert)
    cut = replace_signature_part(mail, base64.encodebytes(der[: len(der) // 2]))
    assert check_smime(cut, [pem(cert)]) == SmimeCheck(True, False, "malformed signature")
    opaque = opaque_from_der(der[: len(der) // 2])
    assert check_smime(opaque, [pem(cert)]) == SmimeCheck(True, False, "malformed signature")
    assert inner_content(opaque) == opaque


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 50,
        b"Content-Type: multipart/signed; protocol=application/pkcs7-signature\r\n\r\nx",
        b"Content-Type: multipart/signed; protocol=application/pkcs7-signature;"
        b" boundary=b\r\n\r\n--b\r\nonly one part\r\n--b--\r\n",
        b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\n!!!",
        b"Content-Type: application/pkcs7-mime\r\n\r\n" + base64.encodebytes(b"\x30\x80" * 200),
        b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n\r\n--b\r\n--b--",
    ],
)
def test_bad_input_never_raises(signer: tuple[Key, x509.Certificate], raw: bytes) -> None:
    _, cert = signer
    result = check_smime(raw, [pem(cert)])
    assert not result.valid
    assert result.reason
    assert isinstance(is_smime_signed(raw), bool)
    assert inner_content(raw) == raw


# --- line endings ---------------------------------------------------------------------------


def test_bare_lf_mail_signed_over_crlf(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mail = detached_mail(key, cert)
    lf_mail = mail.replace(b"\r\n", b"\n")
    assert b"\r" not in lf_mail
    result = check_smime(lf_mail, [pem(cert)])
    assert result.valid, result
    tampered = lf_mail.replace(b"this page", b"that page")
    assert check_smime(tampered, [pem(cert)]).reason == "signature does not verify"
    opaque_lf = opaque_from_der(opaque_der(key, cert)).replace(b"\r\n", b"\n")
    assert check_smime(opaque_lf, [pem(cert)]).valid
    assert inner_content(opaque_lf) == ENTITY


def test_lf_content_signed_as_binary(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    lf_entity = ENTITY.replace(b"\r\n", b"\n")
    signed = builder(key, cert, lf_entity).sign(
        serialization.Encoding.SMIME,
        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
    )
    mail = (OUTER + signed).replace(b"\r\n", b"\n")
    assert b"\r" not in mail
    assert check_smime(mail, [pem(cert)]).valid


# --- operation ------------------------------------------------------------------------------


def test_openssl_missing_or_hanging(
    signer: tuple[Key, x509.Certificate], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, cert = signer
    mail = detached_mail(key, cert)
    monkeypatch.setattr(smime, "OPENSSL", str(tmp_path / "no-such-openssl"))
    assert check_smime(mail, [pem(cert)]) == SmimeCheck(True, False, "openssl not available")
    slow = tmp_path / "slow-openssl"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setattr(smime, "OPENSSL", str(slow))
    monkeypatch.setattr(smime, "TIMEOUT_SECONDS", 0.3)
    started = time.monotonic()
    result = check_smime(mail, [pem(cert)])
    assert time.monotonic() - started < 10
    assert (result.valid, result.reason) == (False, "signature check timed out after 0.3 s")


def test_twenty_verifications_are_quick(signer: tuple[Key, x509.Certificate]) -> None:
    key, cert = signer
    mails = [detached_mail(key, cert), opaque_from_der(opaque_der(key, cert))] * 10
    started = time.perf_counter()
    results = [check_smime(mail, [pem(cert)]) for mail in mails]
    elapsed = time.perf_counter() - started
    print(f"20 S/MIME verifications: {elapsed:.3f} s ({elapsed / 20 * 1000:.1f} ms each)")
    assert all(r.valid for r in results)
