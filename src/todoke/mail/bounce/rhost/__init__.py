"""Bounce stage, remote-host rules: providers whose own reply texts decide the reason.

Each provider module registers itself with `@provider(domain suffixes...)`; `lookup(finding)`
picks the module by the host name of the remote MTA (or the recipient's domain) and lets it
map the reply text to a reason. A provider returns "" when it has nothing to say.
"""

from __future__ import annotations

from collections.abc import Callable

from ..record import Finding

Rule = Callable[[Finding, str], str]
_REGISTRY: list[tuple[tuple[str, ...], Rule]] = []


def provider(*suffixes: str) -> Callable[[Rule], Rule]:
    """Register a provider rule for host names ending in any of the suffixes."""

    def deco(fn: Rule) -> Rule:
        _REGISTRY.append((tuple(s.lower() for s in suffixes), fn))
        return fn

    return deco


def _host_matches(host: str, suffixes: tuple[str, ...]) -> bool:
    return any(host == s or host.endswith("." + s) or host.endswith(s) for s in suffixes)


def lookup(f: Finding, text: str) -> str:
    """Reason a provider's rules give for a finding, "" when no provider applies."""
    load_all()
    hosts = [h for h in (f.rhost.lower(), f.remote_mta.lower()) if h]
    domain = f.recipient.rpartition("@")[2].lower()
    for suffixes, fn in _REGISTRY:
        if any(_host_matches(h, suffixes) for h in hosts):
            r = fn(f, text)
            if r:
                return r
    for suffixes, fn in _REGISTRY:
        if domain and _host_matches(domain, suffixes):
            r = fn(f, text)
            if r:
                return r
    return ""


_loaded = False


def load_all() -> None:
    """Import every provider module (they register themselves)."""
    global _loaded
    if not _loaded:
        _loaded = True
        from . import providers  # noqa: F401
