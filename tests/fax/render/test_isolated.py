"""render_isolated: the same result as in-process, errors carried across, time limits."""

from __future__ import annotations

import pytest
from fax_render_support import check_fax, ink, raw_text_mail, text_mail

from todoke.fax.render import RenderError, RenderOptions, render_isolated


def test_isolated_renders_a_text_mail() -> None:
    doc = render_isolated(text_mail("請求書を送ります。" * 3), RenderOptions(resolution="standard"))
    assert doc.pages == 1
    assert doc.parts == ["body (text/plain)"]
    page = check_fax(doc.tiff, 1, 98, 1146)[0]
    assert ink(page, (0, 0, 1728, 120)) > 0.01


def test_isolated_carries_render_errors() -> None:
    with pytest.raises(RenderError) as err:
        render_isolated(raw_text_mail(b"\xff\xfe\xfd", "utf-8"), RenderOptions())
    assert (err.value.code, err.value.part) == ("204000", "body")
    assert err.value.reason_ja


def test_isolated_timeout_is_204000() -> None:
    lines = "\n".join("長い行のテスト " * 20 for _ in range(3000))
    with pytest.raises(RenderError) as err:
        render_isolated(text_mail(lines), RenderOptions(), timeout=0.05)
    assert err.value.code == "204000"
    assert "longer than" in err.value.reason
    # the killed child is not reused: the next job renders normally
    doc = render_isolated(text_mail("次のジョブ"), RenderOptions())
    assert doc.pages == 1


def test_isolated_memory_limit_is_204000() -> None:
    from fax_render_support import image_bytes, multipart_mail
    from PIL import Image

    big = image_bytes(Image.new("RGB", (8000, 8000), "white"), "PNG")  # small file, 192 MB
    raw = multipart_mail(None, [("huge.png", "image/png", big)])
    with pytest.raises(RenderError) as err:
        render_isolated(raw, RenderOptions(), memory_mb=150)
    assert err.value.code == "204000"
    assert "memory" in err.value.reason or "MB" in err.value.reason
    # the same mail renders with room to spare
    doc = render_isolated(raw, RenderOptions(), memory_mb=1024)
    assert doc.pages == 1


def test_isolated_pdf_uses_helper_and_keeps_order() -> None:
    from fax_render_support import multipart_mail, text_pdf

    raw = multipart_mail(None, [("doc.pdf", "application/pdf", text_pdf(9, lines=3))])
    a = render_isolated(raw, RenderOptions(header=False))
    b = render_isolated(raw, RenderOptions(header=False, resolution="standard"))
    assert (a.pages, b.pages) == (9, 9)
    check_fax(b.tiff, 9, 98, 1146)
    from fax_render_support import pages_of

    pages = pages_of(a.tiff)
    # page n carries "Page n": all nine rasters differ, in the PDF's order
    assert len({p.tobytes() for p in pages}) == 9
    from todoke.fax.render import render_mail

    assert render_mail(raw, RenderOptions(header=False)).tiff == a.tiff
