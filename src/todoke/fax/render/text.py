"""Renderer stage, plain text: wraps and paginates text into fax pages.

Owns text layout: decoding by the declared charset (ISO-2022-JP, Shift_JIS, EUC-JP, UTF-8 …,
strict: bytes that do not decode are a 204000), line wrapping by measured glyph widths with
Japanese line-breaking rules (no closing punctuation at a line start), tab expansion, and
drawing with the CJK font at fine resolution, halved for standard.
"""

from __future__ import annotations

import codecs
import unicodedata

from PIL import Image, ImageDraw

from .fonts import cjk_font
from .model import Geometry, cannot_convert
from .source import Source
from .tiff import halve_lines, threshold

FONT_PX = 30  # ≈ 10.5 pt at 204 dpi
LINE_PX = 44
MARGIN_X = 96  # ≈ 12 mm
MARGIN_TOP = 64
MARGIN_BOTTOM = 64
TAB = 4

# Characters that must not start a line (JIS X 4051 gyoto kinsoku, the common subset).
_NO_LINE_START = set(
    "、。，．,.)]}）」』】〕〉》〙〗・：；:;!?！？ー…‥"
    "ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々"
)

# Charset names as mail software writes them → the codec that actually decodes that mail.
# Japanese mail in "Shift_JIS" is in practice Windows-31J (NEC / IBM extensions), and
# "ISO-2022-JP" often carries half-width katakana or JIS X 0212.
_CHARSET_CODECS: dict[str, tuple[str, ...]] = {
    "shift_jis": ("cp932", "shift_jis_2004"),
    "shift-jis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932",),
    "x-sjis": ("cp932",),
    "windows-31j": ("cp932",),
    "cp932": ("cp932",),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_2004"),
    "euc-jp": ("euc_jp", "euc_jis_2004"),
    "x-euc-jp": ("euc_jp", "euc_jis_2004"),
    "us-ascii": ("ascii", "utf-8"),  # undeclared 8-bit text is usually UTF-8
}


def decode_text(data: bytes, charset: str | None, part: str) -> str:
    """Text of a body or attachment in its declared charset; 204000 if it does not decode."""
    name = (charset or "us-ascii").strip().strip('"').lower()
    candidates = _CHARSET_CODECS.get(name, (name,))
    for codec in candidates:
        try:
            codecs.lookup(codec)
        except LookupError:
            continue
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    try:
        codecs.lookup(name)
    except LookupError:
        raise cannot_convert(
            part,
            f"the text declares the unknown charset {charset!r}",
            f"本文の文字コード {charset!r} は不明です",
        ) from None
    raise cannot_convert(
        part,
        f"the text does not decode in its declared charset {charset or 'us-ascii'!r}",
        f"本文を宣言された文字コード {charset or 'us-ascii'!r} で読み取れません",
    )


def _expand_tabs(line: str) -> str:
    if "\t" not in line:
        return line
    out: list[str] = []
    col = 0
    for ch in line:
        if ch == "\t":
            pad = TAB - col % TAB
            out.append(" " * pad)
            col += pad
        else:
            out.append(ch)
            col += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return "".join(out)


class _Measure:
    """Glyph advance widths of one font, cached per character."""

    def __init__(self, size: int) -> None:
        self.font = cjk_font(size)
        self.cache: dict[str, float] = {}

    def width(self, ch: str) -> float:
        w = self.cache.get(ch)
        if w is None:
            w = self.font.getlength(ch)
            self.cache[ch] = w
        return w


def wrap(text: str, max_width: float, measure: _Measure) -> list[str]:
    """Lines of ``text`` no wider than ``max_width`` pixels (closing punctuation may hang)."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _expand_tabs(raw.rstrip())
        line = "".join(ch for ch in line if ch == " " or unicodedata.category(ch)[0] != "C")
        if not line:
            lines.append("")
            continue
        start = 0
        width = 0.0
        last_space = -1
        i = 0
        while i < len(line):
            ch = line[i]
            w = measure.width(ch)
            if width + w > max_width and i > start:
                if ch in _NO_LINE_START:  # let it hang in the margin
                    i += 1
                    cut = i
                elif ch == " ":
                    cut = i
                elif last_space > start and _is_latin(ch):
                    cut = last_space + 1
                else:
                    cut = i
                lines.append(line[start:cut].rstrip())
                while cut < len(line) and line[cut] == " ":
                    cut += 1
                start = cut
                i = cut
                width = 0.0
                last_space = -1
                continue
            if ch == " ":
                last_space = i
            width += w
            i += 1
        if start < len(line):
            lines.append(line[start:])
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _is_latin(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) not in "WF"


class TextSource(Source):
    """Pages of laid-out text, drawn one at a time."""

    def __init__(self, name: str, text: str, geometry: Geometry,
                 description: str | None = None) -> None:
        self.geometry = geometry
        self.fine = geometry.at_fine()
        self.measure = _Measure(FONT_PX)
        self.lines = wrap(text, self.fine.width - 2 * MARGIN_X, self.measure) or [""]
        self.per_page = max(
            1, (self.fine.content_height - MARGIN_TOP - MARGIN_BOTTOM) // LINE_PX
        )
        count = (len(self.lines) + self.per_page - 1) // self.per_page
        super().__init__(name, count, description)

    def page(self, index: int) -> Image.Image:
        first = index * self.per_page
        return self._draw(self.lines[first : first + self.per_page])

    def _draw(self, lines: list[str]) -> Image.Image:
        canvas = Image.new("L", (self.fine.width, self.fine.content_height), 255)
        draw = ImageDraw.Draw(canvas)
        y = MARGIN_TOP
        for line in lines:
            if line.strip():
                draw.text((MARGIN_X, y), line, font=self.measure.font, fill=0)
            y += LINE_PX
        if not self.geometry.fine:
            canvas = halve_lines(canvas)
        return threshold(canvas)


def render_text(text: str, geometry: Geometry) -> list[Image.Image]:
    """Bilevel content pages (content area of ``geometry``) showing ``text``."""
    return list(TextSource("text", text, geometry).pages())
