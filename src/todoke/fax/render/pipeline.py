"""Renderer stage, pipeline: one mail in, one multi-page TIFF-F out.

Owns the order of work: size limit, MIME split, which body to fax (/b /bn /bb), each part
through its format module in mail order, the 100-page limit, the header line, G4 encoding.
Every failure leaves as a RenderError naming the part and the reason (204000 / 204001).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .formats import detect
from .header import HeaderLine, local_now
from .mime import ParsedMail, Part, html_has_content, parse_mail
from .model import (
    MAX_BYTES,
    MAX_BYTES_SIGNED,
    MAX_PAGES,
    Geometry,
    RenderedDocument,
    RenderError,
    RenderOptions,
    cannot_convert,
    geometry_for,
    over_limit,
)
from .schedule import as_render_error as _as_render_error
from .schedule import draw_and_encode
from .source import Source
from .text import decode_text
from .tiff import write_tiff

# kind → module in this package exposing open_part(part, geometry, mail, max_pages) -> Source
_MODULES = {
    "pdf": "pdf",
    "tiff": "image",
    "image": "image",
    "text": "text_part",
    "html": "html",
    "office": "office",
}

Opener = Callable[[Part, Geometry, ParsedMail, int], Source]


def _opener(kind: str) -> Opener:
    module = importlib.import_module(f"{__package__}.{_MODULES[kind]}")
    fn: Opener = module.open_part
    return fn


def _body_part(mail: ParsedMail) -> Part | None:
    """The body to fax: HTML when it shows something, else plain text with non-blank text."""
    if mail.html is not None:
        markup = decode_text(mail.html.data, mail.html.charset, "body")
        if html_has_content(markup):
            return mail.html
    if mail.plain is not None:
        text = decode_text(mail.plain.data, mail.plain.charset, "body")
        if text.strip():
            return mail.plain
    return None


def _plan(mail: ParsedMail, options: RenderOptions) -> list[Part]:
    mode = options.body
    if mode not in ("auto", "include", "exclude", "only"):
        raise ValueError(f"unknown body mode {mode!r}")
    if mode == "exclude":
        if not mail.attachments:
            raise cannot_convert(
                "mail",
                "the body is excluded (/bn) and the mail has no attachment to fax",
                "本文を送信しない指定 (/bn) ですが、添付ファイルがありません",
            )
        return list(mail.attachments)
    body = _body_part(mail)
    if mode == "only" or not mail.attachments:
        if body is None:
            raise cannot_convert(
                "body", "the body is empty: there is nothing to fax",
                "本文が空のため、送信する内容がありません",
            )
        return [body]
    return ([body] if body is not None else []) + list(mail.attachments)


def _open_sources(mail: ParsedMail, options: RenderOptions, geometry: Geometry) -> list[Source]:
    sources: list[Source] = []
    total = 0
    try:
        for part in _plan(mail, options):
            kind = "text" if part is mail.plain else "html" if part is mail.html else None
            kind = kind or detect(part.content_type, part.filename, part.data)
            if kind is None:
                raise cannot_convert(
                    part.name,
                    f"the format {part.content_type} cannot be faxed",
                    f"{part.content_type} 形式は FAX に変換できません",
                )
            if not part.data:
                raise cannot_convert(part.name, "the part is empty", "添付ファイルが空です")
            try:
                source = _opener(kind)(part, geometry, mail, MAX_PAGES - total)
            except Exception as exc:
                raise _as_render_error(part.name, kind, exc) from exc
            sources.append(source)
            total += source.count
            if total > MAX_PAGES:
                raise over_limit(
                    part.name,
                    f"the fax would have more than {MAX_PAGES} pages",
                    f"FAX のページ数が上限 {MAX_PAGES} ページを超えます",
                )
    except BaseException:
        for source in sources:
            source.close()
        raise
    return sources


def render_mail(raw: bytes, options: RenderOptions) -> RenderedDocument:
    """Render a whole mail in this process; raises RenderError."""
    limit = MAX_BYTES_SIGNED if options.signed else MAX_BYTES
    if len(raw) > limit:
        mb = limit // (1024 * 1024)
        raise over_limit(
            "mail",
            f"the mail is {len(raw) / 1048576:.1f} MB, over the {mb} MB limit"
            + (" for signed mail" if options.signed else ""),
            f"メールのサイズ {len(raw) / 1048576:.1f} MB が上限 {mb} MB を超えています",
        )
    geometry = geometry_for(options)
    mail = parse_mail(raw)
    sources = _open_sources(mail, options, geometry)
    text = options.header_text if options.header_text is not None else options.sender
    total = sum(source.count for source in sources)
    try:
        header = (
            HeaderLine(geometry, text, total, local_now(options.timezone)) if options.header
            else None
        )
        encoded = draw_and_encode(sources, geometry, header)
    finally:
        for source in sources:
            source.close()
    return RenderedDocument(
        tiff=write_tiff(encoded, geometry.ydpi),
        pages=len(encoded),
        parts=[source.description for source in sources],
    )


def warm_up() -> None:
    """Import the format modules and load the fonts (the warm child calls this at start)."""
    from .fonts import cjk_font
    from .header import HEADER_FONT_PX
    from .text import FONT_PX

    for kind in ("pdf", "image", "text", "html"):
        try:
            _opener(kind)
        except ImportError:
            continue
    try:
        cjk_font(FONT_PX)
        cjk_font(HEADER_FONT_PX)
    except RenderError:
        pass
    try:  # WeasyPrint's import (Pango, fontconfig) is the slow part of a first HTML mail
        from .html import _weasyprint

        _weasyprint()
    except RenderError:
        pass
