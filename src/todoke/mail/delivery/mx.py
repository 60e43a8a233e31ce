"""Mail delivery, destinations: the hosts a recipient domain's mail goes to.

MX records by preference; no MX but an A/AAAA record → the domain itself (RFC 5321 5.1);
a Null MX (``MX 0 .``, RFC 7505) or a domain that does not exist is final at once, and a
DNS failure (timeout, no name servers) is temporary. TODOKE_RELAY, when set, replaces all of
this (see worker.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver

SMTP_PORT = 25


@dataclass
class DestinationError(Exception):
    """The domain cannot take mail now (final=False) or ever (final=True)."""

    final: bool
    reason: str
    status: str
    error_status: int
    text: str


def _nxdomain(domain: str) -> DestinationError:
    return DestinationError(True, "hostunknown", "5.1.2", 1,
                            f"Host or domain name not found: {domain} (NXDOMAIN)")


def _temporary(domain: str, exc: Exception) -> DestinationError:
    return DestinationError(False, "networkerror", "4.4.3", 3,
                            f"DNS lookup for {domain} failed: {exc.__class__.__name__}")


async def _has_address(domain: str) -> bool:
    for rdtype in ("A", "AAAA"):
        try:
            await dns.asyncresolver.resolve(domain, rdtype)
            return True
        except dns.resolver.NoAnswer:
            continue
    return False


async def mail_exchangers(domain: str) -> list[tuple[str, int]]:
    """Hosts to try for ``domain``, best first; raises DestinationError."""
    try:
        answer = await dns.asyncresolver.resolve(domain, "MX")
    except dns.resolver.NXDOMAIN as exc:
        raise _nxdomain(domain) from exc
    except dns.resolver.NoAnswer:
        try:
            if await _has_address(domain):
                return [(domain, SMTP_PORT)]
        except dns.resolver.NXDOMAIN as exc:
            raise _nxdomain(domain) from exc
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise _temporary(domain, exc) from exc
        raise DestinationError(True, "hostunknown", "5.1.2", 1,
                               f"Domain {domain} has no MX, A or AAAA record") from None
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise _temporary(domain, exc) from exc
    records = sorted(answer, key=lambda r: r.preference)  # type: ignore[attr-defined]
    hosts = [str(r.exchange).rstrip(".") for r in records]  # type: ignore[attr-defined]
    if not any(hosts):  # RFC 7505: a single MX with the root as exchange
        raise DestinationError(True, "notaccept", "5.1.10", 7,
                               f"Domain {domain} accepts no mail (Null MX, RFC 7505)")
    return [(host, SMTP_PORT) for host in hosts if host]
