"""Renderer stage, Office documents: docx, xlsx, pptx, odt (and kin) through LibreOffice.

Owns Office input. LibreOffice, when installed (``soffice``), converts the document to PDF
headless, in a private profile directory, with no network; the PDF goes through ``pdf.py``.
Without LibreOffice the part is a 204000 that says the server cannot convert Office files.
A conversion that fails or runs past its time is a 204000 too.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from .mime import ParsedMail, Part
from .model import Geometry, cannot_convert
from .pdf import open_pdf_source
from .source import Source

CONVERT_TIMEOUT = 120.0
_EXTENSIONS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-powerpoint": "ppt",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
}


def soffice() -> str | None:
    """Path of LibreOffice's ``soffice``, or None when it is not installed."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for path in ("/usr/lib/libreoffice/program/soffice", "/opt/libreoffice/program/soffice"):
        if os.access(path, os.X_OK):
            return path
    return None


def _lift_memory_limit() -> None:
    # The renderer child limits its own address space; LibreOffice maps far more than it
    # uses, so its soft limit goes back up to the hard one (the timeout still bounds it).
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def office_to_pdf(data: bytes, name: str, extension: str) -> bytes:
    """A PDF of the Office document made by LibreOffice headless."""
    binary = soffice()
    if binary is None:
        raise cannot_convert(
            name,
            "Office documents cannot be converted on this server: LibreOffice is not installed",
            "このサーバーには Office 文書の変換機能 (LibreOffice) がありません",
        )
    with tempfile.TemporaryDirectory(prefix="todoke-office-") as tmp:
        src = Path(tmp) / f"document.{extension}"
        src.write_bytes(data)
        profile = Path(tmp) / "profile"
        env = {**os.environ, "HOME": tmp, "SAL_USE_VCLPLUGIN": "svp"}
        preexec: Callable[[], None] | None = (
            _lift_memory_limit if threading.active_count() == 1 else None
        )
        try:
            run = subprocess.run(
                [binary, "--headless", "--norestore", "--nolockcheck", "--nodefault",
                 "--nologo", f"-env:UserInstallation={profile.as_uri()}",
                 "--convert-to", "pdf", "--outdir", tmp, str(src)],
                capture_output=True, timeout=CONVERT_TIMEOUT, env=env, cwd=tmp,
                preexec_fn=preexec, check=False,
            )
        except subprocess.TimeoutExpired:
            raise cannot_convert(
                name, f"LibreOffice did not finish converting in {CONVERT_TIMEOUT:g} s",
                "LibreOffice による変換が制限時間内に終わりませんでした",
            ) from None
        out = Path(tmp) / "document.pdf"
        if run.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            why = (run.stderr or run.stdout).decode("utf-8", "replace").strip()[-200:]
            raise cannot_convert(
                name,
                "LibreOffice could not convert the document; it may be damaged or protected"
                + (f" ({why})" if why else ""),
                "LibreOffice で文書を変換できませんでした（破損またはパスワード保護の可能性）",
            )
        return out.read_bytes()


def open_part(part: Part, geometry: Geometry, mail: ParsedMail, max_pages: int) -> Source:
    """The pages of an Office attachment."""
    ext = os.path.splitext(part.filename or "")[1].lower().lstrip(".")
    if not ext:
        ext = _EXTENSIONS.get(part.content_type, "docx")
    pdf = office_to_pdf(part.data, part.name, ext)
    return open_pdf_source(pdf, part.name, geometry, max_pages)
