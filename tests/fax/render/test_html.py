"""HTML bodies and attachments: real layout (WeasyPrint), cid: images, HTML over plain."""

from __future__ import annotations

from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from fax_render_support import check_fax, image_bytes, ink, multipart_mail, text_mail
from PIL import Image

from todoke.fax.render import RenderOptions, render_mail

FINE_A4 = 2292

HTML = """<!doctype html><html><head><style>
  .bar { background: black; width: 8cm; height: 2cm; margin-left: 4cm; }
  h1 { font-size: 28pt; margin: 0 0 1cm 0; }
</style></head><body>
<h1>請求書</h1>
<div class="bar"></div>
<table border="1" style="border-collapse: collapse; width: 100%; margin-top: 1cm">
  <tr><th>品目</th><th>金額</th></tr><tr><td>FAX送信</td><td>¥1,200</td></tr>
</table></body></html>"""


def longest_black_run(page: Image.Image, y0: int, y1: int) -> int:
    """Longest horizontal run of black pixels on any line between y0 and y1."""
    best = 0
    for y in range(y0, y1):
        row = page.crop((0, y, page.width, y + 1)).tobytes()
        run = 0
        for value in row:
            run = run + 1 if value < 128 else 0
            best = max(best, run)
    return best


def test_html_body_is_laid_out_not_stripped() -> None:
    doc = render_mail(text_mail(HTML, "utf-8", "html"), RenderOptions(header=False))
    assert doc.parts == ["body (text/html)"]
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    # the CSS box: 8 cm × 2 cm of solid black, 4 cm + 12 mm margin from the left
    # (≈ 2.0 in → 415 dots at 204 dpi; 8 cm ≈ 640 dots wide)
    bars = [y for y in range(0, 1200, 4) if ink(page, (450, y, 1000, y + 4)) > 0.99]
    assert bars, "the black CSS box is missing"
    height = (bars[-1] - bars[0]) + 4
    assert 130 < height < 170  # 2 cm at 196 dpi ≈ 154 lines
    assert ink(page, (0, bars[0], 380, bars[-1])) < 0.01  # left of the box: margin
    # table borders: lines across almost the whole text width
    assert longest_black_run(page, bars[-1] + 10, bars[-1] + 400) > 1200
    # heading glyphs above the box
    assert ink(page, (80, 60, 600, bars[0] - 40)) > 0.05


def test_html_preferred_over_plain_alternative() -> None:
    raw = multipart_mail("plain version", [], html=HTML)
    doc = render_mail(raw, RenderOptions())
    assert doc.parts == ["body (text/html)"]
    # an empty HTML part falls back to the plain text
    raw = multipart_mail("plain version", [], html="<html><body> </body></html>")
    doc = render_mail(raw, RenderOptions())
    assert doc.parts == ["body (text/plain)"]


def test_cid_image_from_multipart_related() -> None:
    related = MIMEMultipart("related")
    related.attach(MIMEText('<p>logo:</p><img src="cid:logo@x" width="300" height="300">',
                            "html", "utf-8"))
    img = MIMEImage(image_bytes(Image.new("L", (50, 50), 0), "PNG"), "png")
    img.add_header("Content-ID", "<logo@x>")
    related.attach(img)
    related["From"] = "s@example.jp"
    doc = render_mail(related.as_bytes(), RenderOptions(header=False))
    assert doc.parts == ["body (text/html)"]  # the related image is not a separate page
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    # 300 CSS px = 3.125 in → ≈ 640 dots of solid black
    assert longest_black_run(page, 100, 900) > 550


def test_html_attachment_in_shift_jis_with_meta_charset() -> None:
    html = '<meta charset="shift_jis"><h1>見積書</h1><p>よろしくお願いします。</p>'
    raw = multipart_mail(None, [("quote.html", "text/html", html.encode("shift_jis"))])
    doc = render_mail(raw, RenderOptions(header=False))
    assert doc.parts == ["quote.html (1 page)"]
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    assert ink(page, (80, 60, 900, 300)) > 0.03
