"""Bounce stage, remote-host rules: the list of provider modules to load (data)."""

from __future__ import annotations

import importlib

MODULES: tuple[str, ...] = (
    "cox", "franceptt", "godaddy", "kddi", "microsoft", "mimecast", "nttdocomo", "tencent",
)

for _m in MODULES:
    importlib.import_module(f"{__package__}.{_m}")
