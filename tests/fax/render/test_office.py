"""Office attachments: converted by LibreOffice when installed, else a clear 204000."""

from __future__ import annotations

import pytest
from fax_render_support import check_fax, ink, minimal_docx, multipart_mail

from todoke.fax.render import RenderError, RenderOptions, render_mail
from todoke.fax.render.office import soffice

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_docx_is_converted_by_libreoffice() -> None:
    raw = multipart_mail(None, [("letter.docx", DOCX, minimal_docx("FAX TEST 請求書"))])
    doc = render_mail(raw, RenderOptions(header=False))
    assert doc.parts == ["letter.docx (1 page)"]
    page = check_fax(doc.tiff, 1, 196, 2292)[0]
    assert ink(page, (0, 0, 1728, 500)) > 0.005


@pytest.mark.skipif(soffice() is not None, reason="LibreOffice is installed")
def test_docx_without_libreoffice_is_a_clear_204000() -> None:
    raw = multipart_mail(None, [("letter.docx", DOCX, minimal_docx("x"))])
    with pytest.raises(RenderError) as err:
        render_mail(raw, RenderOptions())
    assert (err.value.code, err.value.part) == ("204000", "letter.docx")
    assert "LibreOffice is not installed" in err.value.reason
    assert "LibreOffice" in err.value.reason_ja
