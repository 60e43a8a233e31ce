"""Renderer stage, shared model: options, result, error, page geometry and limits.

Owns the data every format module of ``todoke.fax.render`` speaks: what the caller asks for
(:class:`RenderOptions`), what comes back (:class:`RenderedDocument`), the one error the stage
raises (:class:`RenderError`, result codes 204000 / 204001) and the page geometry of a fax
(1728 dots wide; 204 × 196 dpi fine, 204 × 98 dpi standard; A4, Letter, B4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CANNOT_CONVERT = "204000"
OVER_LIMIT = "204001"

MAX_PAGES = 100
MAX_BYTES = 20 * 1024 * 1024
MAX_BYTES_SIGNED = 10 * 1024 * 1024

FAX_WIDTH = 1728  # dots on a scan line, ITU-T T.4 for A4 / Letter
XDPI = 204
FINE_DPI = 196
STANDARD_DPI = 98
HEADER_BAND_FINE = 48  # fine lines reserved at the top of each page for the header line

# Physical page length in inches; the width is always the fax scan line (8.47 in).
_PAGE_LENGTH_IN = {"a4": 297 / 25.4, "letter": 11.0, "b4": 364 / 25.4}


@dataclass(frozen=True)
class RenderOptions:
    """What a job asks of the renderer (subject modifiers /rs /rf /ps /b /bn /bb /h /hn)."""

    resolution: str = "fine"  # "standard" (204x98) | "fine" (204x196)
    page_size: str = "a4"  # "a4" | "letter" | "b4"
    body: str = "auto"  # "auto" | "include" (/b) | "exclude" (/bn) | "only" (/bb)
    header: bool = True  # False with /hn
    header_text: str | None = None  # /h text; else the sender
    sender: str = ""  # CSID / sender shown in the header line
    signed: bool = False  # S/MIME-signed mail: size limit 10 MB instead of 20 MB
    timezone: str = "Asia/Tokyo"


@dataclass(frozen=True)
class RenderedDocument:
    """The fax image of one mail: a multi-page TIFF-F (CCITT G4, 1 bpp, 1728 wide)."""

    tiff: bytes
    pages: int
    parts: list[str] = field(default_factory=list)


class RenderError(Exception):
    """The mail cannot be faxed: 204000 (cannot convert) or 204001 (over a limit)."""

    def __init__(self, code: str, part: str, reason: str, reason_ja: str) -> None:
        super().__init__(f"{code} {part}: {reason}")
        self.code = code
        self.part = part
        self.reason = reason
        self.reason_ja = reason_ja

    def __reduce__(self) -> tuple[type[RenderError], tuple[str, str, str, str]]:
        return (RenderError, (self.code, self.part, self.reason, self.reason_ja))


def cannot_convert(part: str, reason: str, reason_ja: str) -> RenderError:
    """A 204000 error: the part could not be turned into fax pages."""
    return RenderError(CANNOT_CONVERT, part, reason, reason_ja)


def over_limit(part: str, reason: str, reason_ja: str) -> RenderError:
    """A 204001 error: the part converted but the result breaks a limit."""
    return RenderError(OVER_LIMIT, part, reason, reason_ja)


@dataclass(frozen=True)
class Geometry:
    """Pixel geometry of one page at the target resolution, and of its content area."""

    width: int
    height: int  # lines of the whole page
    ydpi: int
    header_lines: int  # lines of the header band (0 without a header)

    @property
    def content_height(self) -> int:
        return self.height - self.header_lines

    @property
    def fine(self) -> bool:
        return self.ydpi == FINE_DPI

    def at_fine(self) -> Geometry:
        """The same page at fine resolution (stages that draw at fine then halve use it)."""
        if self.fine:
            return self
        return Geometry(self.width, self.height * 2, FINE_DPI, self.header_lines * 2)


def geometry_for(options: RenderOptions) -> Geometry:
    """Page geometry for the options; unknown values raise ValueError."""
    if options.resolution not in ("fine", "standard"):
        raise ValueError(f"unknown resolution {options.resolution!r}")
    if options.page_size not in _PAGE_LENGTH_IN:
        raise ValueError(f"unknown page size {options.page_size!r}")
    fine_lines = round(_PAGE_LENGTH_IN[options.page_size] * FINE_DPI)
    band = HEADER_BAND_FINE if options.header else 0
    if options.resolution == "fine":
        return Geometry(FAX_WIDTH, fine_lines, FINE_DPI, band)
    return Geometry(FAX_WIDTH, fine_lines // 2, STANDARD_DPI, band // 2)
