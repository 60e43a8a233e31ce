"""Image attachments: photo dithering, line art, transparency, multi-page TIFF, errors."""

from __future__ import annotations

import pytest
from fax_render_support import check_fax, image_bytes, ink, multipart_mail, text_pdf
from PIL import Image, ImageDraw

from todoke.fax.render import RenderError, RenderOptions, render_mail

FINE_A4 = 2292
HEADER = 48


def photo(width: int = 1600, height: int = 1200) -> Image.Image:
    """A synthetic photo: smooth grey gradient with a dark disc and a light box."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((100, 100, 500, 500), fill=(40, 40, 40))
    draw.rectangle((900, 700, 1400, 1100), fill=(215, 215, 215))
    return image


def test_photo_is_dithered_with_its_tones() -> None:
    jpg = image_bytes(photo(1200, 1600), "JPEG", quality=90)
    doc = render_mail(multipart_mail(None, [("photo.jpg", "image/jpeg", jpg)]),
                      RenderOptions(header=False))
    assert doc.parts == ["photo.jpg (1 page)"]
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    # portrait 1200x1600 fills the page width (×1.44); the gradient runs from black at the
    # top to white at the bottom: dithering keeps the grey levels as dot density.
    top = ink(page, (700, 40, 1000, 120))
    middle = ink(page, (700, 1100, 1000, 1180))
    bottom = ink(page, (700, 2000, 1000, 2080))
    assert top > 0.8
    assert 0.25 < middle < 0.75
    assert bottom < 0.2
    # the light box (source 900-1200 × 700-1100) is lighter than the gradient beside it
    assert ink(page, (1400, 1100, 1700, 1400)) < ink(page, (700, 1100, 1000, 1400)) - 0.2
    assert ink(page, (0, 2230, 1728, FINE_A4)) == 0.0  # below the photo stays white


def test_landscape_photo_turns_and_dark_disc_stays_dark() -> None:
    png = image_bytes(photo(), "PNG")
    doc = render_mail(multipart_mail(None, [("scan.png", "image/png", png)]),
                      RenderOptions(header=False, resolution="standard"))
    page = check_fax(doc.tiff, 1, 98, 1146)[0]
    assert 0.05 < ink(page) < 0.95


def test_line_art_png_with_transparency_is_thresholded() -> None:
    art = Image.new("RGBA", (800, 1000), (0, 0, 0, 0))  # transparent: must become white
    draw = ImageDraw.Draw(art)
    draw.rectangle((100, 100, 700, 160), fill=(0, 0, 0, 255))
    png = image_bytes(art, "PNG")
    doc = render_mail(multipart_mail(None, [("logo.png", "image/png", png)]),
                      RenderOptions(header=False))
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    assert ink(page, (400, 220, 1300, 320)) > 0.95  # the bar, scaled ×2.16 → solid black
    assert ink(page, (400, 600, 1300, 2000)) == 0.0  # the transparent area is white


@pytest.mark.parametrize(("fmt", "ctype", "name"), [
    ("GIF", "image/gif", "a.gif"), ("BMP", "image/bmp", "a.bmp"), ("JPEG", "image/jpeg", "a.jpg"),
])
def test_other_image_formats(fmt: str, ctype: str, name: str) -> None:
    img = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(img).rectangle((50, 50, 550, 150), fill="black")
    doc = render_mail(multipart_mail(None, [(name, ctype, image_bytes(img, fmt))]),
                      RenderOptions(header=False))
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    assert ink(page, (300, 200, 1400, 300)) > 0.9


def test_multi_page_fax_tiff_keeps_pages_and_shape() -> None:
    frames = []
    for n in range(3):
        frame = Image.new("1", (1728, 1146), 1)  # a standard-resolution fax page
        draw = ImageDraw.Draw(frame)
        draw.rectangle((100, 1000, 100 + 200 * (n + 1), 1100), fill=0)  # near the bottom
        frames.append(frame)
    tif = image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:],
                      compression="group4", dpi=(204, 98))
    doc = render_mail(multipart_mail(None, [("fax.tif", "image/tiff", tif)]),
                      RenderOptions(header=False))
    assert doc.parts == ["fax.tif (3 pages)"]
    pages = check_fax(doc.tiff, 3, 196, FINE_A4)
    for n, page in enumerate(pages):
        # 98 dpi lines doubled: the bar at source lines 1000-1100 lands near 2000-2200
        assert ink(page, (120, 2020, 80 + 200 * (n + 1), 2180)) > 0.9
        assert ink(page, (120 + 200 * (n + 1) + 20, 2020, 1728, 2180)) == 0.0


def test_undecodable_image_is_204000() -> None:
    jpg = image_bytes(photo(), "JPEG")
    for data in (jpg[:200], b"\x89PNG\r\n\x1a\n" + b"\0" * 64):
        with pytest.raises(RenderError) as err:
            render_mail(multipart_mail(None, [("broken.jpg", "image/jpeg", data)]),
                        RenderOptions())
        assert (err.value.code, err.value.part) == ("204000", "broken.jpg")
        assert "cannot be decoded" in err.value.reason


def test_parts_in_mail_order() -> None:
    png = image_bytes(Image.new("L", (400, 300), 0), "PNG")
    raw = multipart_mail("本文です", [("b.png", "image/png", png),
                                   ("a.pdf", "application/pdf", text_pdf(2)),
                                   ("c.txt", "text/plain", "テキスト添付".encode())])
    doc = render_mail(raw, RenderOptions())
    assert doc.parts == ["body (text/plain)", "b.png (1 page)", "a.pdf (2 pages)",
                         "c.txt (1 page)"]
    pages = check_fax(doc.tiff, 5, 196, FINE_A4)
    # the black 400x300 PNG: turned to portrait, grown 4× at most, centred
    assert ink(pages[1], (300, 600, 1400, 1200)) > 0.95
    assert ink(pages[1], (0, 600, 200, 1200)) == 0.0
