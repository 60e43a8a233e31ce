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
_BY_SUFFIX: dict[str, list[Rule]] = {}


def provider(*suffixes: str) -> Callable[[Rule], Rule]:
    """Register a provider rule for host names ending in any of the suffixes."""

    def deco(fn: Rule) -> Rule:
        _REGISTRY.append((tuple(s.lower() for s in suffixes), fn))
        for suffix in suffixes:
            _BY_SUFFIX.setdefault(suffix.lower(), []).append(fn)
        return fn

    return deco


def _candidates(host: str) -> list[str]:
    """A host name and its parent domains: a.b.example.org -> [..., example.org, org]."""
    host = host.strip(".[]() ").split()[0] if host.strip() else ""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def lookup(f: Finding, text: str) -> str:
    """Reason a provider's rules give for a finding, "" when no provider applies."""
    load_all()
    for h in (f.rhost.lower(), f.remote_mta.lower(), f.recipient.rpartition("@")[2].lower()):
        if not h:
            continue
        for cand in _candidates(h):
            fns = _BY_SUFFIX.get(cand)
            if fns:
                for fn in fns:
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
