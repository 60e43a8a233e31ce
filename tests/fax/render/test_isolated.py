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
