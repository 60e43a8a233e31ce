"""Renderer stage, fonts: finds the CJK font (Debian ``fonts-noto-cjk``) text is drawn with.

Owns font lookup and caching. Japanese text needs a CJK font; without one the stage refuses
to draw (204000 with a clear reason) rather than print empty boxes.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from PIL import ImageFont

from .model import cannot_convert

_KNOWN = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 0),
)


@functools.cache
def cjk_font_path() -> tuple[str, int] | None:
    """(path, face index) of a Japanese CJK font, or None when none is installed."""
    for path, index in _KNOWN:
        if os.path.exists(path):
            return path, index
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(
                ["fc-match", "-f", "%{file}:%{index}", "Noto Sans CJK JP:lang=ja"],
                capture_output=True, text=True, timeout=10, check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        path, _, index = out.rpartition(":")
        if path and "CJK" in path and os.path.exists(path):
            return path, int(index or 0)
    return None


@functools.cache
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """The CJK font at ``size`` pixels; raises a 204000 RenderError when none is installed."""
    found = cjk_font_path()
    if found is None:
        raise cannot_convert(
            "body",
            "no CJK font is installed on the server (Debian package fonts-noto-cjk)",
            "サーバーに日本語フォント (fonts-noto-cjk) がインストールされていません",
        )
    path, index = found
    return ImageFont.truetype(path, size, index=index)
