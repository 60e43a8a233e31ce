"""Both ways of scheduling pages (forked helper, threads) give the same file, in order."""

from __future__ import annotations

from fax_render_support import text_pdf

from todoke.fax.render.header import HeaderLine, local_now
from todoke.fax.render.model import RenderOptions, geometry_for
from todoke.fax.render.pdf import open_pdf_source
from todoke.fax.render.schedule import _forked, _plan, _threaded
from todoke.fax.render.text import TextSource
from todoke.fax.render.tiff import write_tiff


def test_forked_and_threaded_give_identical_pages() -> None:
    geometry = geometry_for(RenderOptions())
    pdf = open_pdf_source(text_pdf(5, lines=4), "a.pdf", geometry, 100)
    text = TextSource("body", "\n".join(f"行 {i}" for i in range(120)), geometry)
    header = HeaderLine(geometry, "sender@example.jp", pdf.count + text.count,
                        local_now("Asia/Tokyo"))
    plan = _plan([text, pdf])
    try:
        forked = _forked(plan, geometry, header)
        threaded = _threaded(plan, geometry, header)
    finally:
        pdf.close()
    assert len(forked) == len(threaded) == 8
    assert [p.strip for p in forked] == [p.strip for p in threaded]
    assert len({p.strip for p in forked}) == 8  # every page differs (page number, text)
    assert write_tiff(forked, 196) == write_tiff(threaded, 196)
