"""Ingest: S/MIME check of fax mail (is it signed, and by a certificate the account registered).

SUMMARY   ``check_smime`` tells whether a raw mail carries an S/MIME signature and whether that
          signature verifies, over the exact signed content, by one of the account's registered
          certificates that is valid at ``now``. ``inner_content`` gives the signed MIME entity of
          an opaque (``application/pkcs7-mime``) mail so the renderer can fax it.
OWNS      signature detection, the call to ``openssl cms -verify`` (the ``cryptography`` package
          can sign CMS but not verify it), signer-to-registered-certificate matching (DER bytes)
          and the validity-period check. Nothing here raises for bad input: every failure is a
          ``SmimeCheck`` with ``valid=False`` and an English reason.
HOW       multipart/signed: the first body part is cut out of the raw bytes (never re-serialised
          by the ``email`` package), bare LF is turned into CRLF (the canonical form that was
          signed), and ``openssl cms -verify -binary -content`` checks it against the detached
          signature. Opaque signed-data: the DER is handed to openssl as it is. ``-noverify``
          skips chain building (the registered certificates may be self-signed; trust is "exactly
          these certificates"), ``-certfile`` offers the registered certificates for signatures
          that carry none, ``-signer`` writes out the certificate that verified, and that
          certificate must be byte-for-byte one of the registered ones, so a different key with
          the same subject (or even the same issuer and serial) never passes.
STANDARDS RFC 8551 (S/MIME 4.0), RFC 5652 (CMS), RFC 1847 (multipart/signed), RFC 2046 (MIME
          boundaries).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

OPENSSL = "openssl"  # looked up on PATH at call time; tests may point it elsewhere
TIMEOUT_SECONDS = 10.0

_SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
_MIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_OID_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
_MAX_DEPTH = 64

REASON_NO_SIGNATURE = "no signature"
REASON_NO_REGISTERED = "no registered certificate"
REASON_BAD_SIGNATURE = "signature does not verify"
REASON_NOT_REGISTERED = "signer is not a registered certificate"
REASON_MALFORMED = "malformed signature"
REASON_NOT_YET_VALID = "certificate not yet valid"


@dataclass(frozen=True)
class SmimeCheck:
    signed: bool  # the mail carries an S/MIME signature at all
    valid: bool  # verifies over the signed content, by a registered certificate valid at `now`
    reason: str  # "" when valid; else an English reason
    signer_subject: str = ""  # RFC 4514 subject of the signer when openssl could name one


# --- detection ---------------------------------------------------------------------------------


def _headers(raw: bytes) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(raw)


def _param(msg: Message, name: str) -> str:
    value = msg.get_param(name)
    if value is None or value is True:
        return ""
    return str(collapse_rfc2231_value(value)).strip().lower()


def _kind(raw: bytes) -> str:
    """``"detached"``, ``"opaque"`` or ``""`` (not an S/MIME signed mail)."""
    msg = _headers(raw)
    ctype = msg.get_content_type()
    if ctype == "multipart/signed":
        protocol = _param(msg, "protocol")
        if protocol in _SIGNATURE_TYPES:
            return "detached"
        if not protocol:  # RFC 1847 requires it; accept a mail that only labels the part
            parts = _split_signed(_crlf(raw), msg)
            if parts is not None and _part_type(parts[1]) in _SIGNATURE_TYPES:
                return "detached"
        return ""
    if ctype in _MIME_TYPES:
        smime_type = _param(msg, "smime-type")
        if smime_type == "signed-data":
            return "opaque"
        if not smime_type:  # optional parameter: look at the CMS content type itself
            der = _decoded_body(raw)
            if der is not None and _content_info_type(der) == _OID_SIGNED_DATA:
                return "opaque"
    return ""


def is_smime_signed(raw: bytes) -> bool:
    """True if the mail is multipart/signed with a PKCS #7 signature or opaque signed-data."""
    try:
        return bool(_kind(raw))
    except Exception:
        return False


# --- MIME cutting (on raw bytes) ---------------------------------------------------------------


def _crlf(raw: bytes) -> bytes:
    """Canonical line endings: every bare LF becomes CRLF (existing CRLF is left alone)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _split_signed(data: bytes, msg: Message) -> tuple[bytes, bytes] | None:
    """The first two body parts of a multipart (CRLF data), exactly as they stand in ``data``.

    RFC 2046: a delimiter is CRLF "--" boundary, then optional white space, then CRLF; the CRLF
    before "--" belongs to the delimiter, not to the part before it.
    """
    boundary = msg.get_boundary()
    if not boundary:
        return None
    delim = b"\r\n--" + boundary.encode("ascii", "surrogateescape")
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    body_at = head_end + 2  # keep the CRLF so a delimiter on the first body line matches
    starts: list[int] = []  # where each part's content begins
    ends: list[int] = []  # where each delimiter begins (so where the previous part ends)
    pos = body_at
    while len(starts) < 3:
        hit = data.find(delim, pos)
        if hit < 0:
            break
        after = hit + len(delim)
        line_end = data.find(b"\r\n", after)
        tail = data[after : line_end if line_end >= 0 else len(data)]
        closing = tail.startswith(b"--")
        if (tail.rstrip(b" \t") if not closing else b"") != b"":
            pos = after  # "--boundaryX": not this boundary, keep looking
            continue
        ends.append(hit)
        if closing or line_end < 0:
            break
        starts.append(line_end + 2)
        pos = line_end  # next delimiter may start with this very CRLF only for an empty part
    if len(starts) < 2 or len(ends) < 3:
        return None
    first = data[starts[0] : ends[1]]
    second = data[starts[1] : ends[2]]
    return first, second


def _part_type(part: bytes) -> str:
    return _headers(part).get_content_type()


def _decoded_body(raw: bytes) -> bytes | None:
    msg = BytesParser(policy=compat32).parsebytes(raw)
    if msg.is_multipart():
        return None
    payload = msg.get_payload(decode=True)
    return payload if isinstance(payload, bytes) and payload else None


# --- minimal BER reader (only to find the encapsulated content of SignedData) -----------------


def _tlv(buf: bytes, pos: int, limit: int, depth: int = 0) -> tuple[int, int, int, int]:
    """(first tag byte, content start, content end, next position) of the element at ``pos``.

    Nothing at or beyond ``limit`` (the end of the enclosing element) is read.
    """
    if depth > _MAX_DEPTH or pos + 2 > limit:
        raise ValueError("truncated")
    tag = buf[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number: skip its continuation bytes
        while True:
            if pos >= limit:
                raise ValueError("truncated tag")
            more = buf[pos] & 0x80
            pos += 1
            if not more:
                break
    if pos >= limit:
        raise ValueError("truncated length")
    first = buf[pos]
    pos += 1
    if first == 0x80:  # indefinite length (BER): children up to end-of-contents 00 00
        if not tag & 0x20:
            raise ValueError("indefinite primitive")
        start = pos
        while pos + 2 > limit or buf[pos : pos + 2] != b"\x00\x00":
            if pos >= limit:
                raise ValueError("no end-of-contents")
            pos = _tlv(buf, pos, limit, depth + 1)[3]
        return tag, start, pos, pos + 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > limit:
            raise ValueError("bad length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    else:
        length = first
    end = pos + length
    if end > limit:
        raise ValueError("truncated content")
    return tag, pos, end, end


def _children(buf: bytes, start: int, end: int, depth: int = 0) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    pos = start
    while pos < end:
        tag, cstart, cend, pos = _tlv(buf, pos, end, depth)
        out.append((tag, cstart, cend))
    return out


def _content_info_type(der: bytes) -> bytes | None:
    try:
        tag, start, end, _ = _tlv(der, 0, len(der))
        if tag != 0x30:
            return None
        kids = _children(der, start, end)
        if not kids or kids[0][0] != 0x06:
            return None
        return der[kids[0][1] : kids[0][2]]
    except (ValueError, IndexError):
        return None


def _octets(der: bytes, tag: int, start: int, end: int, depth: int = 0) -> bytes:
    if tag == 0x04:
        return der[start:end]
    if tag == 0x24 and depth < _MAX_DEPTH:  # constructed OCTET STRING: concatenate its pieces
        pieces = _children(der, start, end, depth + 1)
        return b"".join(_octets(der, t, s, e, depth + 1) for t, s, e in pieces)
    raise ValueError("not an OCTET STRING")


def _encapsulated_content(der: bytes) -> bytes | None:
    """eContent of a CMS SignedData (RFC 5652 5.1/5.2), or None if there is none."""
    tag, start, end, _ = _tlv(der, 0, len(der))
    kids = _children(der, start, end) if tag == 0x30 else []
    if len(kids) < 2 or der[kids[0][1] : kids[0][2]] != _OID_SIGNED_DATA or kids[1][0] != 0xA0:
        return None
    explicit = _children(der, kids[1][1], kids[1][2])
    if not explicit or explicit[0][0] != 0x30:
        return None
    signed_data = _children(der, explicit[0][1], explicit[0][2])
    if len(signed_data) < 3 or signed_data[2][0] != 0x30:  # version, digestAlgorithms, encap
        return None
    encap = _children(der, signed_data[2][1], signed_data[2][2])
    if len(encap) < 2 or encap[1][0] != 0xA0:
        return None
    inner = _children(der, encap[1][1], encap[1][2])
    if not inner:
        return None
    return _octets(der, *inner[0])


def inner_content(raw: bytes) -> bytes:
    """For opaque signed-data, the signed MIME entity; anything else comes back unchanged.

    The entity is what the signer signed (its own MIME headers and body, CRLF line endings);
    the outer RFC 5322 headers (From, To, Subject) are not part of it. This does not verify the
    signature; call ``check_smime`` for that.
    """
    try:
        if _kind(raw) != "opaque":
            return raw
        der = _decoded_body(raw)
        content = _encapsulated_content(der) if der else None
        return content if content else raw
    except Exception:
        return raw


# --- certificates ------------------------------------------------------------------------------


def _load_certs(blob: bytes) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in blob:
            return list(x509.load_pem_x509_certificates(blob))
        return [x509.load_der_x509_certificate(blob)]
    except Exception:
        return []


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except Exception:
        return ""


def _validity_problem(cert: x509.Certificate, now: datetime) -> str:
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    if now < not_before:
        return f"{REASON_NOT_YET_VALID} (valid from {not_before:%Y-%m-%d})"
    if now > not_after:
        return f"certificate expired {not_after:%Y-%m-%d}"
    return ""


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    reason: str = ""
    signers: tuple[x509.Certificate, ...] = ()


def _run_openssl(args: list[str]) -> tuple[int, str] | str:
    """(return code, stderr) or a reason string when openssl could not be run at all."""
    exe = shutil.which(OPENSSL)
    if exe is None:
        return "openssl not available"
    try:
        done = subprocess.run(
            [exe, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"signature check timed out after {TIMEOUT_SECONDS:g} s"
    except OSError as exc:
        return f"openssl could not run: {exc.strerror or exc}"
    return done.returncode, done.stderr.decode("utf-8", "replace")


def _verify(der: bytes, content: bytes | None, registered: list[x509.Certificate]) -> _Outcome:
    with tempfile.TemporaryDirectory(prefix="todoke-smime-") as tmp:
        folder = Path(tmp)
        sig_file = folder / "sig.der"
        sig_file.write_bytes(der)
        certs_file = folder / "registered.pem"
        certs_file.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in registered))
        signer_file = folder / "signer.pem"
        args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig_file)]
        if content is not None:
            content_file = folder / "content"
            content_file.write_bytes(content)
            args += ["-content", str(content_file)]
        args += ["-noverify", "-certfile", str(certs_file), "-signer", str(signer_file)]
        args += ["-out", os.devnull]
        result = _run_openssl(args)
        if isinstance(result, str):
            return _Outcome(False, result)
        code, stderr = result
        if code != 0:
            return _Outcome(False, _failure_reason(code, stderr))
        signers = _load_certs(signer_file.read_bytes()) if signer_file.exists() else []
        if not signers:
            return _Outcome(False, REASON_MALFORMED)
        return _Outcome(True, "", tuple(signers))


def _failure_reason(code: int, stderr: str) -> str:
    text = stderr.lower()
    if "signer certificate not found" in text:
        return REASON_NOT_REGISTERED
    if code == 4 and ("verification failure" in text or "content verify error" in text):
        return REASON_BAD_SIGNATURE
    if code in (2, 3) or "asn1" in text or "error reading" in text or "decod" in text:
        return REASON_MALFORMED
    if code == 4:
        return REASON_BAD_SIGNATURE
    return f"openssl failed (exit {code})"


def check_smime(
    raw: bytes, registered_pems: list[bytes], now: datetime | None = None
) -> SmimeCheck:
    """Check the S/MIME signature of a raw mail against the account's registered certificates.

    ``registered_pems`` holds PEM certificates (one or several per item; DER is accepted too).
    ``now`` defaults to the current time; a naive datetime is taken as UTC.
    """
    try:
        kind = _kind(raw)
    except Exception:
        kind = ""
    if not kind:
        return SmimeCheck(signed=False, valid=False, reason=REASON_NO_SIGNATURE)
    try:
        return _check(raw, kind, registered_pems, now)
    except Exception:  # never raise for bad input
        return SmimeCheck(signed=True, valid=False, reason=REASON_MALFORMED)


def _check(raw: bytes, kind: str, registered_pems: list[bytes], now: datetime | None) -> SmimeCheck:
    when = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    registered = [cert for blob in registered_pems for cert in _load_certs(blob)]
    if not registered:
        return SmimeCheck(signed=True, valid=False, reason=REASON_NO_REGISTERED)

    if kind == "detached":
        data = _crlf(raw)
        parts = _split_signed(data, _headers(raw))
        if parts is None:
            return SmimeCheck(signed=True, valid=False, reason=REASON_MALFORMED)
        content, signature_part = parts
        der = _decoded_body(signature_part)
        if not der or _content_info_type(der) != _OID_SIGNED_DATA:
            return SmimeCheck(signed=True, valid=False, reason=REASON_MALFORMED)
        outcome = _verify(der, content, registered)
        if not outcome.ok and outcome.reason == REASON_BAD_SIGNATURE and b"\r\n" not in raw:
            # A signer that signed LF text as binary (not canonical, but it happens on Unix):
            # the exact bytes as received are the other candidate.
            retry = _verify(der, content.replace(b"\r\n", b"\n"), registered)
            outcome = retry if retry.ok else outcome
    else:
        der = _decoded_body(raw)
        if not der or _content_info_type(der) != _OID_SIGNED_DATA:
            return SmimeCheck(signed=True, valid=False, reason=REASON_MALFORMED)
        outcome = _verify(der, None, registered)

    if not outcome.ok:
        return SmimeCheck(signed=True, valid=False, reason=outcome.reason)

    known = {cert.public_bytes(Encoding.DER) for cert in registered}
    matching = [c for c in outcome.signers if c.public_bytes(Encoding.DER) in known]
    if not matching:
        subject = _subject(outcome.signers[0])
        return SmimeCheck(True, False, REASON_NOT_REGISTERED, subject)
    problems = [(_validity_problem(c, when), c) for c in matching]
    for problem, cert in problems:
        if not problem:
            return SmimeCheck(True, True, "", _subject(cert))
    problem, cert = problems[0]
    return SmimeCheck(True, False, problem, _subject(cert))
