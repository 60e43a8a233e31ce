"""Renderer stage, PDF: rasterises PDF pages (pypdfium2) straight to fax geometry.

Owns PDF input, and the last step of HTML and Office input (both become PDF first). Each
page is drawn by PDFium directly into an 8-bit grey bitmap of the fax content area at
204 dpi across and 196 or 98 dpi down (PDFium scales x and y apart, so no resampling),
landscape pages turned to portrait, pages larger than the fax page shrunk to fit and
smaller ones kept at their real size. Pages with images are dithered, the rest thresholded.
Encrypted (password-protected) and corrupt PDFs are 204000.
"""

from __future__ import annotations

import contextlib

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from .mime import ParsedMail, Part
from .model import MAX_PAGES, XDPI, Geometry, cannot_convert, over_limit
from .source import Source
from .tiff import binarize, dither

# Text and line art drawn without anti-aliasing, as a fax prints it: crisp edges need no
# threshold search and the raster is cut at mid-grey in C. Images keep their smoothing.
_RENDER_FLAGS = (
    pdfium_c.FPDF_ANNOT
    | pdfium_c.FPDF_PRINTING
    | pdfium_c.FPDF_RENDER_NO_SMOOTHTEXT
    | pdfium_c.FPDF_RENDER_NO_SMOOTHPATH
)


def open_pdf(data: bytes, name: str) -> pdfium.PdfDocument:
    """The PDF document; 204000 when it is encrypted with a password or does not parse."""
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise cannot_convert(
                name,
                "the PDF is encrypted with a password; send it without a password",
                "PDF がパスワードで保護されています。パスワードなしの PDF を送ってください",
            ) from None
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_SECURITY:
            raise cannot_convert(
                name, "the PDF uses an unsupported encryption",
                "PDF の暗号化方式に対応していません",
            ) from None
        raise cannot_convert(
            name, f"the PDF is damaged and cannot be read ({exc})",
            "PDF が破損しているため読み取れません",
        ) from None
    with contextlib.suppress(pdfium.PdfiumError):
        doc.init_forms()  # filled-in form fields are drawn too (FPDF_FFLDraw below)
    return doc


def _has_images(page: pdfium.PdfPage) -> bool:
    try:
        for _obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
            return True
    except pdfium.PdfiumError:
        return False
    return False


def render_page(page: pdfium.PdfPage, geometry: Geometry) -> Image.Image:
    """One PDF page as a bilevel whole-sheet image (the header band's lines white)."""
    width_pt, height_pt = page.get_size()
    if width_pt <= 0 or height_pt <= 0:
        raise ValueError("page has no size")
    rotate = 0
    if width_pt > height_pt * 1.05:  # landscape: turn it to use the portrait fax page
        width_pt, height_pt = height_pt, width_pt
        rotate = 1  # 90° clockwise
    box_w_in = geometry.width / XDPI
    box_h_in = geometry.content_height / geometry.ydpi
    scale = min(box_w_in / (width_pt / 72), box_h_in / (height_pt / 72), 1.0)
    px_w = max(1, min(geometry.width, round(width_pt / 72 * scale * XDPI)))
    px_h = max(1, min(geometry.content_height, round(height_pt / 72 * scale * geometry.ydpi)))
    # Drawn on the whole sheet below the header band, so no copy is needed to add it.
    bitmap = pdfium.PdfBitmap.new_native(geometry.width, geometry.height,
                                         pdfium_c.FPDFBitmap_Gray)
    pdfium_c.FPDFBitmap_FillRect(bitmap, 0, 0, geometry.width, geometry.height, 0xFFFFFFFF)
    left = (geometry.width - px_w) // 2
    pdfium_c.FPDF_RenderPageBitmap(bitmap, page, left, geometry.header_lines, px_w, px_h,
                                   rotate, _RENDER_FLAGS)
    if page.formenv:
        pdfium_c.FPDF_FFLDraw(page.formenv, bitmap, page, left, geometry.header_lines, px_w,
                              px_h, rotate, _RENDER_FLAGS)
    grey = bitmap.to_pil()
    out = dither(grey) if _has_images(page) else binarize(grey)
    del grey
    bitmap.close()
    return out


class PdfSource(Source):
    """The pages of an opened PDF, drawn one at a time."""

    def __init__(self, doc: pdfium.PdfDocument, name: str, geometry: Geometry,
                 description: str | None = None) -> None:
        super().__init__(name, len(doc), description)
        self.doc = doc
        self.geometry = geometry

    def page(self, index: int) -> Image.Image:
        page = self.doc[index]
        try:
            return render_page(page, self.geometry)
        except pdfium.PdfiumError as exc:
            raise cannot_convert(
                self.name, f"page {index + 1} of the PDF cannot be drawn ({exc})",
                f"PDF の {index + 1} ページ目を描画できません",
            ) from None
        finally:
            page.close()

    def close(self) -> None:
        self.doc.close()


def open_pdf_source(data: bytes, name: str, geometry: Geometry, max_pages: int,
                    description: str | None = None) -> PdfSource:
    """An opened, counted PDF; 204000 if unreadable, 204001 if over the page limit."""
    doc = open_pdf(data, name)
    count = len(doc)
    if count == 0:
        doc.close()
        raise cannot_convert(name, "the PDF has no pages", "PDF にページがありません")
    if count > max_pages:
        doc.close()
        raise over_limit(
            name,
            f"the document has {count} pages; the fax would have more than {MAX_PAGES} pages",
            f"文書が {count} ページあり、FAX の上限 {MAX_PAGES} ページを超えます",
        )
    return PdfSource(doc, name, geometry, description)


def render_pdf(data: bytes, name: str, geometry: Geometry, max_pages: int) -> list[Image.Image]:
    """All pages of a PDF as bilevel content-area images, in order."""
    source = open_pdf_source(data, name, geometry, max_pages)
    try:
        return list(source.pages())
    finally:
        source.close()


def open_part(part: Part, geometry: Geometry, mail: ParsedMail, max_pages: int) -> Source:
    """The pages of a PDF attachment."""
    return open_pdf_source(part.data, part.name, geometry, max_pages)
