"""Renderer stage, pipeline: one mail in, one multi-page TIFF-F out.

Owns the order of work: size limit, MIME split, which body to fax (/b /bn /bb), each part
through its format module in mail order, the 100-page limit, the header line, G4 encoding.
Every failure leaves as a RenderError naming the part and the reason (204000 / 204001).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from PIL import Image

from .formats import detect
from .header import header_band, local_now
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
from .text import decode_text
from .tiff import encode_g4_tiff

# kind → module in this package exposing render(part, geometry, context, max_pages)
_MODULES = {
    "pdf": "pdf",
    "tiff": "image",
    "image": "image",
    "text": "text_part",
    "html": "html",
    "office": "office",
}

Renderer = Callable[[Part, Geometry, ParsedMail, int], list[Image.Image]]


def _renderer(kind: str) -> Renderer:
    module = importlib.import_module(f"{__package__}.{_MODULES[kind]}")
    fn: Renderer = module.render
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


def _describe(part: Part, kind: str, pages: int) -> str:
    if part.name == "body":
        return f"body ({part.content_type})"
    return f"{part.name} ({pages} page{'s' if pages != 1 else ''})"


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
    pages: list[Image.Image] = []
    described: list[str] = []
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
        room = MAX_PAGES - len(pages)
        try:
            produced = _renderer(kind)(part, geometry, mail, room)
        except RenderError:
            raise
        except MemoryError:
            raise cannot_convert(
                part.name, "the document needs more memory than a fax page may use",
                "文書の変換に必要なメモリが上限を超えました",
            ) from None
        except Exception as exc:  # a format library failing on hostile input
            raise cannot_convert(
                part.name, f"the {kind} could not be converted ({type(exc).__name__}: {exc})",
                f"{kind} の変換に失敗しました ({type(exc).__name__})",
            ) from exc
        if len(produced) > room:
            raise over_limit(
                part.name,
                f"the fax would have more than {MAX_PAGES} pages",
                f"FAX のページ数が上限 {MAX_PAGES} ページを超えます",
            )
        pages.extend(produced)
        described.append(_describe(part, kind, len(produced)))
    return RenderedDocument(tiff=_assemble(pages, geometry, options), pages=len(pages),
                            parts=described)


def _assemble(content: list[Image.Image], geometry: Geometry, options: RenderOptions) -> bytes:
    if not options.header:
        return encode_g4_tiff(content, geometry.ydpi)
    text = options.header_text if options.header_text is not None else options.sender
    now = local_now(options.timezone)
    total = len(content)
    full: list[Image.Image] = []
    for number, page in enumerate(content, start=1):
        sheet = Image.new("1", (geometry.width, geometry.height), 1)
        sheet.paste(header_band(geometry, text, number, total, now), (0, 0))
        sheet.paste(page, (0, geometry.header_lines))
        full.append(sheet)
    return encode_g4_tiff(full, geometry.ydpi)


def warm_up() -> None:
    """Import the format modules and load the fonts (the warm child calls this at start)."""
    from .fonts import cjk_font
    from .header import HEADER_FONT_PX
    from .text import FONT_PX

    for kind in ("pdf", "image", "text"):
        try:
            _renderer(kind)
        except ImportError:
            continue
    try:
        cjk_font(FONT_PX)
        cjk_font(HEADER_FONT_PX)
    except RenderError:
        pass
