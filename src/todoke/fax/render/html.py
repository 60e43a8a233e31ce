"""Renderer stage, HTML: an HTML body or attachment laid out by WeasyPrint, then faxed as PDF.

Owns HTML input. WeasyPrint (a maintained CSS layout engine on Pango) lays the page out with
its CSS on the fax's paper size; images the mail carries (``cid:`` in multipart/related) and
``data:`` URLs are loaded, nothing is fetched from the network or the file system. The PDF it
writes goes through ``pdf.py``. Without WeasyPrint or its system libraries (Pango) HTML is a
204000 that says so.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from .mime import ParsedMail, Part
from .model import Geometry, cannot_convert
from .pdf import open_pdf_source
from .source import Source
from .text import decode_text

PAGE_CSS = {"a4": "210mm 297mm", "letter": "8.5in 11in", "b4": "257mm 364mm"}
_USER_CSS = """
@page {{ size: {size}; margin: 12mm 12mm 12mm 12mm; }}
html {{ font-family: "Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", sans-serif;
        font-size: 11pt; color: black; }}
img, svg, table {{ max-width: 100%; }}
pre {{ white-space: pre-wrap; }}
"""

logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


def _weasyprint(part: str = "html") -> Any:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise cannot_convert(
            part,
            f"HTML cannot be rendered on this server: WeasyPrint or Pango is missing ({exc})",
            "このサーバーには HTML の変換機能 (WeasyPrint / Pango) がありません",
        ) from None
    return weasyprint


def _fetcher_class(weasyprint: Any, mail: ParsedMail) -> Any:
    base = weasyprint.urls.URLFetcher

    class MailOnlyFetcher(base):  # type: ignore[misc, valid-type]
        """Serves cid: parts of the mail and data: URLs; refuses everything else."""

        def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
            lower = url.lower()
            if lower.startswith("cid:"):
                from urllib.parse import unquote

                part = mail.related.get(unquote(url[4:]).strip("<>"))
                if part is None:
                    for candidate in mail.attachments:
                        if candidate.content_id == unquote(url[4:]).strip("<>"):
                            part = candidate
                if part is None:
                    raise ValueError(f"no part with Content-ID {url}")
                return weasyprint.urls.URLFetcherResponse(
                    url, body=part.data, headers={"Content-Type": part.content_type},
                )
            if lower.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(f"external resource not loaded: {url[:80]}")

    return MailOnlyFetcher


def html_to_pdf(data: bytes, charset: str | None, name: str, geometry_size: str,
                mail: ParsedMail) -> bytes:
    """A PDF of the HTML laid out on the fax's paper size."""
    weasyprint = _weasyprint(name)
    if charset:
        markup: str | None = decode_text(data, charset, name)
        file_obj = None
    else:
        markup, file_obj = None, io.BytesIO(data)  # WeasyPrint sniffs <meta charset>
    css = weasyprint.CSS(string=_USER_CSS.format(size=PAGE_CSS[geometry_size]))
    fetcher = _fetcher_class(weasyprint, mail)(timeout=5, allowed_protocols=("data", "cid"))
    try:
        document = weasyprint.HTML(
            string=markup, file_obj=file_obj, base_url="cid:/", url_fetcher=fetcher,
            media_type="print",
        )
        pdf: bytes = document.write_pdf(stylesheets=[css], presentational_hints=True)
    except RecursionError:
        raise cannot_convert(
            name, "the HTML is nested too deeply to lay out",
            "HTML の入れ子が深すぎて変換できません",
        ) from None
    return pdf


def open_part(part: Part, geometry: Geometry, mail: ParsedMail, max_pages: int) -> Source:
    """The pages of an HTML body or attachment."""
    size = _paper(geometry)
    pdf = html_to_pdf(part.data, part.charset, part.name, size, mail)
    desc = "body (text/html)" if part.name == "body" else None
    return open_pdf_source(pdf, part.name, geometry, max_pages, desc)


def _paper(geometry: Geometry) -> str:
    """The paper (a4 / letter / b4) the geometry was made for, from its page length."""
    inches = geometry.height / geometry.ydpi
    return min(PAGE_CSS, key=lambda k: abs({"a4": 11.69, "letter": 11.0, "b4": 14.33}[k] - inches))
