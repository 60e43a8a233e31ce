"""Bench: fax rendering speed, todoke's renderer against Ghostscript, in one run.

Makes a 20-page text PDF (A4, 50 lines a page), then turns it into CCITT G4 fax pages at
204 × 196 dpi with
  * todoke ``render_mail``: the PDF as a mail attachment, the whole job path (MIME, PDFium
    drawing at fax geometry, header line, G4 encoding, TIFF-F file), pages split between
    the process and one forked helper;
  * todoke ``render_isolated``: the same in the warm render child, what the worker calls;
  * todoke core: PDF → G4 pages without mail parsing or header line, on both cores and on
    one (serial: what each core costs per page);
  * Ghostscript: ``gs -sDEVICE=tiffg4 -r204x196`` (one process per run, as a gateway would
    call it).
The runs are interleaved so that load from others on a shared machine hits every
contender alike. Prints pages per second (best and median) and the ratio to Ghostscript.

    .venv/bin/python bench/render.py [--runs 9] [--pages 20]
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from todoke.fax.render import RenderOptions, render_isolated, render_mail
from todoke.fax.render.model import geometry_for
from todoke.fax.render.pdf import open_pdf_source
from todoke.fax.render.schedule import draw_and_encode, finish_page
from todoke.fax.render.tiff import write_tiff

LOREM = (
    "The quick brown fox jumps over the lazy dog; invoice 2026-{p:02d}-{i:02d} "
    "total 12,345 JPY, due within thirty days."
)


def text_pdf(pages: int) -> bytes:
    """A text-only PDF with real text objects (Helvetica), 50 lines a page."""
    doc = pdfium.PdfDocument.new()
    font = pdfium_c.FPDFText_LoadStandardFont(doc, b"Helvetica")
    for p in range(pages):
        page = doc.new_page(595, 842)
        for i in range(50):
            obj = pdfium_c.FPDFPageObj_CreateTextObj(doc, font, 10.0)
            text = (LOREM.format(p=p + 1, i=i + 1) + "\0").encode("utf-16-le")
            buf = ctypes.create_string_buffer(text, len(text))
            pdfium_c.FPDFText_SetText(obj, ctypes.cast(buf, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
            pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 50, 800 - i * 15)
            pdfium_c.FPDFPage_InsertObject(page, obj)
        pdfium_c.FPDFPage_GenerateContent(page)
        page.close()
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


def race(contenders: list[tuple[str, Callable[[], int]]],
         runs: int) -> list[tuple[str, float, float, int]]:
    """(label, best s, median s, pages) of each contender; the runs are interleaved (one of
    each per round) so a neighbour's load on this shared machine hits all of them alike."""
    for _label, fn in contenders:
        fn()  # warm-up: imports, fonts, page cache
    times: dict[str, list[float]] = {label: [] for label, _ in contenders}
    pages: dict[str, int] = {}
    for _ in range(runs):
        for label, fn in contenders:
            t = time.perf_counter()
            pages[label] = fn()
            times[label].append(time.perf_counter() - t)
    return [(label, min(times[label]), statistics.median(times[label]), pages[label])
            for label, _ in contenders]


def tiff_pages(path: Path) -> int:
    out = subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.count("=== TIFF directory")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--pages", type=int, default=20)
    args = ap.parse_args()

    pdf = text_pdf(args.pages)
    mail = MIMEMultipart()
    mail["From"] = "bench@example.jp"
    att = MIMEApplication(pdf, "pdf")
    att.add_header("Content-Disposition", "attachment", filename="bench.pdf")
    mail.attach(att)
    raw = mail.as_bytes()
    options = RenderOptions(resolution="fine", body="exclude", sender="bench@example.jp")
    core_geometry = geometry_for(RenderOptions(resolution="fine", header=False))

    def ours_mail() -> int:
        return render_mail(raw, options).pages

    def ours_isolated() -> int:
        return render_isolated(raw, options).pages

    def ours_core() -> int:
        source = open_pdf_source(pdf, "bench.pdf", core_geometry, 100)
        try:
            encoded = draw_and_encode([source], core_geometry, None)
        finally:
            source.close()
        write_tiff(encoded, 196)
        return len(encoded)

    def ours_one_core() -> int:
        source = open_pdf_source(pdf, "bench.pdf", core_geometry, 100)
        try:
            encoded = [finish_page(page, None, core_geometry) for page in source.pages()]
        finally:
            source.close()
        write_tiff(encoded, 196)
        return len(encoded)

    gs = shutil.which("gs")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "bench.pdf"
        src.write_bytes(pdf)
        dst = Path(tmp) / "gs.tif"

        def ghostscript() -> int:
            subprocess.run(
                [gs or "gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffg4",
                 "-r204x196", f"-sOutputFile={dst}", str(src)],
                check=True, capture_output=True,
            )
            return tiff_pages(dst) if shutil.which("tiffinfo") else args.pages

        contenders: list[tuple[str, Callable[[], int]]] = [
            ("todoke render_mail (mail → TIFF-F, header)", ours_mail),
            ("todoke render_isolated (same, in the child)", ours_isolated),
            ("todoke core (PDF → G4, no header)", ours_core),
            ("todoke core on one core (no helper, no threads)", ours_one_core),
        ]
        if gs:
            contenders.append(("ghostscript gs -sDEVICE=tiffg4 -r204x196", ghostscript))
        rows = race(contenders, args.runs)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.pages}-page text PDF → CCITT G4 at 204x196, best / median of {args.runs} "
          f"interleaved runs; {os.cpu_count()} cores, load average {load:.2f}")
    for label, b, m, n in rows:
        print(f"  {label:48s} {n / b:7.1f} pages/s (median {n / m:6.1f})  [{n} pages]")
    if not gs:
        print("  ghostscript not installed: no comparison (apt-get install ghostscript)")
        return 0
    theirs = rows[-1][3] / rows[-1][1]
    ratios = ", ".join(
        f"{(n / b) / theirs:.2f}x {label.split(' (')[0].removeprefix('todoke ')}"
        for label, b, _m, n in rows[:-1]
    )
    print(f"ratio todoke/ghostscript (best runs): {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
