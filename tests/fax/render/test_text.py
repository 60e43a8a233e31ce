"""Plain-text bodies: charsets, wrapping, pagination, header line, resolutions, errors."""

from __future__ import annotations

import pytest
from fax_render_support import check_fax, ink, raw_text_mail, text_mail

from todoke.fax.render import RenderError, RenderOptions, render_mail
from todoke.fax.render.text import LINE_PX, MARGIN_BOTTOM, MARGIN_TOP, MARGIN_X

JA = "東京都千代田区の山田様、いつもお世話になっております。請求書を送ります。"
FINE_A4 = 2292
HEADER = 48


def first_line_box(header: bool = True) -> tuple[int, int, int, int]:
    top = (HEADER if header else 0) + MARGIN_TOP
    return (MARGIN_X - 4, top, 1728 - MARGIN_X, top + LINE_PX)


@pytest.mark.parametrize("charset", ["utf-8", "iso-2022-jp", "shift_jis", "euc-jp"])
def test_japanese_body_in_each_charset_is_drawn(charset: str) -> None:
    raw = raw_text_mail(JA.encode(charset.replace("-jp", "_jp")), charset)
    doc = render_mail(raw, RenderOptions(sender="sender@example.jp"))
    assert doc.pages == 1
    assert doc.parts == ["body (text/plain)"]
    (page,) = check_fax(doc.tiff, 1, 196, FINE_A4)
    assert ink(page, first_line_box()) > 0.03  # glyphs on the first text line
    assert ink(page, (0, 600, 1728, FINE_A4)) == 0.0  # nothing below it
    assert ink(page, (0, 0, 1728, HEADER)) > 0.005  # header line


def test_same_text_in_all_charsets_gives_the_same_page() -> None:
    rasters = []
    for charset in ("utf-8", "iso-2022-jp", "shift_jis", "euc-jp"):
        raw = raw_text_mail(JA.encode(charset), charset)
        doc = render_mail(raw, RenderOptions(header=False))
        rasters.append(check_fax(doc.tiff, 1, 196, FINE_A4)[0].tobytes())
    assert len(set(rasters)) == 1


def test_glyphs_are_real_not_boxes() -> None:
    # With a font lacking the glyphs, both strings would print as identical rows of boxes.
    a = render_mail(text_mail("日本語本日"), RenderOptions(header=False))
    b = render_mail(text_mail("語本日日本"), RenderOptions(header=False))
    pa = check_fax(a.tiff, 1, 196, FINE_A4)[0]
    pb = check_fax(b.tiff, 1, 196, FINE_A4)[0]
    box = first_line_box(header=False)
    assert ink(pa, (MARGIN_X, box[1], MARGIN_X + 150, box[3])) > 0.1
    assert pa.crop(box).tobytes() != pb.crop(box).tobytes()


def test_iso_2022_jp_as_python_email_writes_it() -> None:
    doc = render_mail(text_mail(JA, "iso-2022-jp"), RenderOptions())
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    assert ink(page, first_line_box()) > 0.03


def test_long_lines_wrap_and_many_lines_paginate() -> None:
    long_line = "あ" * 200  # ≈ 4 lines of full-width characters
    doc = render_mail(text_mail(long_line), RenderOptions(header=False))
    page = check_fax(doc.tiff, 1, 196, FINE_A4)[0]
    for n in range(4):
        top = MARGIN_TOP + n * LINE_PX
        assert ink(page, (MARGIN_X, top, 1728 - MARGIN_X, top + LINE_PX)) > 0.02, n
    # the right margin stays white: the text really wraps
    assert ink(page, (1728 - MARGIN_X + 40, 0, 1728, FINE_A4)) == 0.0

    lines = "\n".join(f"line {i}" for i in range(120))
    doc = render_mail(text_mail(lines), RenderOptions())
    assert doc.pages == 3
    pages = check_fax(doc.tiff, 3, 196, FINE_A4)
    assert ink(pages[2], first_line_box()) > 0.005


def test_standard_resolution_and_page_sizes() -> None:
    doc = render_mail(text_mail(JA), RenderOptions(resolution="standard"))
    page = check_fax(doc.tiff, 1, 98, 1146)[0]
    assert ink(page, (MARGIN_X, HEADER // 2 + MARGIN_TOP // 2, 1600, 120)) > 0.03
    doc = render_mail(text_mail(JA), RenderOptions(page_size="letter"))
    check_fax(doc.tiff, 1, 196, 2156)
    doc = render_mail(text_mail(JA), RenderOptions(page_size="b4", resolution="standard"))
    check_fax(doc.tiff, 1, 98, 1404)


def test_header_line_on_and_off() -> None:
    on = render_mail(text_mail("x"), RenderOptions(header_text="山田商事 03-1234-5678"))
    off = render_mail(text_mail("x"), RenderOptions(header=False))
    p_on = check_fax(on.tiff, 1, 196, FINE_A4)[0]
    p_off = check_fax(off.tiff, 1, 196, FINE_A4)[0]
    assert ink(p_on, (0, 0, 1728, HEADER)) > 0.01
    assert ink(p_off, (0, 0, 1728, HEADER)) == 0.0
    # page number on the right end of the header
    assert ink(p_on, (1500, 0, 1728, HEADER)) > 0.01


def test_undecodable_body_is_204000() -> None:
    raw = raw_text_mail("請求書".encode("shift_jis") + b"\xff\xfe", "utf-8")
    with pytest.raises(RenderError) as err:
        render_mail(raw, RenderOptions())
    assert (err.value.code, err.value.part) == ("204000", "body")
    assert "utf-8" in err.value.reason
    assert err.value.reason_ja


def test_unknown_charset_is_204000() -> None:
    with pytest.raises(RenderError) as err:
        render_mail(raw_text_mail(b"hello", "x-no-such-charset"), RenderOptions())
    assert (err.value.code, err.value.part) == ("204000", "body")
    assert "x-no-such-charset" in err.value.reason


def test_more_than_100_pages_is_204001() -> None:
    per_page = (FINE_A4 - HEADER - MARGIN_TOP - MARGIN_BOTTOM) // LINE_PX
    lines = "\n".join(f"line {i}" for i in range(per_page * 100 + 1))
    with pytest.raises(RenderError) as err:
        render_mail(text_mail(lines), RenderOptions())
    assert (err.value.code, err.value.part) == ("204001", "body")
    assert "100 pages" in err.value.reason
    doc = render_mail(text_mail("\n".join(f"l{i}" for i in range(per_page * 100))), RenderOptions())
    assert doc.pages == 100


def test_empty_body_without_attachment_is_204000() -> None:
    with pytest.raises(RenderError) as err:
        render_mail(text_mail("  \n\n "), RenderOptions())
    assert err.value.code == "204000"


def test_bn_without_attachment_is_204000() -> None:
    with pytest.raises(RenderError) as err:
        render_mail(text_mail("本文"), RenderOptions(body="exclude"))
    assert (err.value.code, err.value.part) == ("204000", "mail")
    assert "/bn" in err.value.reason
