"""PDF attachments: pages, geometry, ink where the text is, broken and encrypted PDFs."""

from __future__ import annotations

import pytest
from fax_render_support import check_fax, encrypt_pdf, ink, multipart_mail, text_pdf

from todoke.fax.render import RenderError, RenderOptions, render_mail

FINE_A4 = 2292
HEADER = 48


def pdf_mail(data: bytes, name: str = "invoice.pdf", body: str | None = None) -> bytes:
    return multipart_mail(body, [(name, "application/pdf", data)])


def test_multi_page_pdf_fine() -> None:
    doc = render_mail(pdf_mail(text_pdf(3, lines=10)), RenderOptions(sender="s@example.jp"))
    assert doc.pages == 3
    assert doc.parts == ["invoice.pdf (3 pages)"]
    pages = check_fax(doc.tiff, 3, 196, FINE_A4)
    for page in pages:
        # A4 text starts 1 inch from the top-left: ink there, none in the lower half
        assert ink(page, (150, HEADER + 150, 1000, HEADER + 400)) > 0.02
        assert ink(page, (0, 1400, 1728, FINE_A4)) == 0.0
        assert ink(page, (0, 0, 1728, HEADER)) > 0.003  # header line
    # pages differ (page numbers in the text)
    assert pages[0].tobytes() != pages[1].tobytes()


def test_pdf_standard_resolution_letter() -> None:
    doc = render_mail(pdf_mail(text_pdf(2, size=(612, 792))),
                      RenderOptions(resolution="standard", page_size="letter", header=False))
    pages = check_fax(doc.tiff, 2, 98, 1078)
    assert ink(pages[0], (150, 75, 1000, 200)) > 0.02


def test_body_and_pdf_in_mail_order_with_b() -> None:
    raw = pdf_mail(text_pdf(2), body="添付の請求書をお送りします。")
    doc = render_mail(raw, RenderOptions(body="include"))
    assert doc.parts == ["body (text/plain)", "invoice.pdf (2 pages)"]
    assert doc.pages == 3
    doc = render_mail(raw, RenderOptions(body="exclude"))
    assert doc.parts == ["invoice.pdf (2 pages)"]
    doc = render_mail(raw, RenderOptions(body="only"))
    assert doc.parts == ["body (text/plain)"]
    doc = render_mail(pdf_mail(text_pdf(1), body="  \n"), RenderOptions())
    assert doc.parts == ["invoice.pdf (1 page)"]


def test_landscape_page_is_turned_to_portrait() -> None:
    doc = render_mail(pdf_mail(text_pdf(1, lines=5, size=(842, 595))),
                      RenderOptions(header=False))
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    # turned 90° clockwise: the text lines now run down the right-hand side
    assert ink(page, (1728 - 500, 100, 1728, 1200)) > 0.02
    assert ink(page, (0, 0, 800, FINE_A4)) == 0.0


def test_broken_pdf_is_204000() -> None:
    good = text_pdf(2)
    for broken in (good[: len(good) // 3], b"%PDF-1.7\n1 0 obj garbage\n%%EOF\n"):
        with pytest.raises(RenderError) as err:
            render_mail(pdf_mail(broken, "broken.pdf"), RenderOptions())
        assert (err.value.code, err.value.part) == ("204000", "broken.pdf")
        assert "damaged" in err.value.reason
        assert "破損" in err.value.reason_ja


def test_encrypted_pdf_is_204000() -> None:
    with pytest.raises(RenderError) as err:
        render_mail(pdf_mail(encrypt_pdf(text_pdf(1)), "secret.pdf"), RenderOptions())
    assert (err.value.code, err.value.part) == ("204000", "secret.pdf")
    assert "password" in err.value.reason
    assert "パスワード" in err.value.reason_ja


def test_pdf_over_100_pages_is_204001() -> None:
    with pytest.raises(RenderError) as err:
        render_mail(pdf_mail(text_pdf(101, lines=1), "big.pdf"), RenderOptions())
    assert (err.value.code, err.value.part) == ("204001", "big.pdf")
    assert "101 pages" in err.value.reason
    # body + 99 pages = 100 is fine, body + 100 is not
    doc = render_mail(pdf_mail(text_pdf(99, lines=1), body="本文"), RenderOptions())
    assert doc.pages == 100
    with pytest.raises(RenderError) as err:
        render_mail(pdf_mail(text_pdf(100, lines=1), body="本文"), RenderOptions())
    assert err.value.code == "204001"


def test_size_limits_20_and_10_mb() -> None:
    filler = b"\0" * (11 * 1024 * 1024)
    raw = multipart_mail("本文だけ", [("data.pdf", "application/pdf", filler)])
    # /bb: only the body is faxed, so an unsigned 15 MB mail passes
    doc = render_mail(raw, RenderOptions(body="only"))
    assert doc.pages == 1
    with pytest.raises(RenderError) as err:
        render_mail(raw, RenderOptions(body="only", signed=True))
    assert (err.value.code, err.value.part) == ("204001", "mail")
    assert "10 MB" in err.value.reason
    big = multipart_mail("x", [("data.pdf", "application/pdf", filler * 2)])
    with pytest.raises(RenderError) as err:
        render_mail(big, RenderOptions(body="only"))
    assert (err.value.code, err.value.part) == ("204001", "mail")
    assert "20 MB" in err.value.reason


def test_filled_form_fields_are_drawn() -> None:
    from fax_render_support import form_pdf

    doc = render_mail(pdf_mail(form_pdf("YAMADA TARO 0344772288"), "form.pdf"),
                      RenderOptions(header=False))
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    # the field's rectangle: 72-500 pt across, 82-142 pt from the top
    assert ink(page, (200, 220, 1400, 400)) > 0.02
    assert ink(page, (0, 600, 1728, FINE_A4)) == 0.0
