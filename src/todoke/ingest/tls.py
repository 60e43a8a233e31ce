"""Ingest: the TLS certificate SMTP offers with STARTTLS.

TODOKE_TLS_CERT and TODOKE_TLS_KEY (PEM files) when set; otherwise a self-signed certificate
for TODOKE_HOSTNAME is made once into ``<data dir>/tls/`` (key readable by the owner only),
so STARTTLS works from the first start. Mail servers accept self-signed certificates for
opportunistic TLS (RFC 7435); use a real certificate where clients verify.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from todoke.config import Settings


def self_signed(directory: Path, hostname: str) -> tuple[Path, Path]:
    """The certificate and key in ``directory``, made now if they are not there."""
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(hostname), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    # written aside and renamed, key first: a reader never sees half a pair
    tmp_key, tmp_cert = key_path.with_suffix(".tmp"), cert_path.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)
    return cert_path, key_path


def server_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context for STARTTLS."""
    cert, key = settings.tls_cert, settings.tls_key
    if not (cert and key):
        cert_path, key_path = self_signed(settings.data_dir / "tls", settings.hostname)
        cert, key = str(cert_path), str(key_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
