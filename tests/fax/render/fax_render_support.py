"""Helpers for the fax renderer tests: real mails in, real TIFF-F out, checked with tiffinfo."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from PIL import Image


@dataclass
class TiffDir:
    width: int
    length: int
    xres: float
    yres: float
    compression: str
    photometric: str
    bits: int


def tiffinfo(data: bytes) -> list[TiffDir]:
    """Every directory of a TIFF file as libtiff's tiffinfo reports it."""
    assert shutil.which("tiffinfo"), "libtiff-tools (tiffinfo) must be installed"
    with tempfile.NamedTemporaryFile(suffix=".tif") as f:
        f.write(data)
        f.flush()
        run = subprocess.run(["tiffinfo", f.name], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "error" not in run.stderr.lower(), run.stderr
    dirs = []
    for block in run.stdout.split("=== TIFF directory")[1:]:
        size = re.search(r"Image Width: (\d+) Image Length: (\d+)", block)
        res = re.search(r"Resolution: ([\d.]+), ([\d.]+) pixels/inch", block)
        comp = re.search(r"Compression Scheme: (.+)", block)
        photo = re.search(r"Photometric Interpretation: (.+)", block)
        bits = re.search(r"Bits/Sample: (\d+)", block)
        assert size and res and comp and photo and bits, block
        dirs.append(TiffDir(int(size[1]), int(size[2]), float(res[1]), float(res[2]),
                            comp[1].strip(), photo[1].strip(), int(bits[1])))
    return dirs


def pages_of(data: bytes) -> list[Image.Image]:
    """The pages of a TIFF decoded by Pillow, as "L" images (0 = black ink)."""
    out = []
    with Image.open(io.BytesIO(data)) as tif:
        for i in range(tif.n_frames):
            tif.seek(i)
            out.append(tif.convert("L"))
    return out


def ink(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> float:
    """Share of black pixels in ``box`` (the whole page without one)."""
    region = image.crop(box) if box else image
    hist = region.convert("L").histogram()
    return sum(hist[:128]) / max(1, region.width * region.height)


def check_fax(data: bytes, pages: int, ydpi: int, length: int) -> list[Image.Image]:
    """Assert every page is a TIFF-F page of the expected geometry; return the pages."""
    dirs = tiffinfo(data)
    assert len(dirs) == pages
    for d in dirs:
        assert d.width == 1728
        assert d.length == length
        assert (d.xres, d.yres) == (204.0, float(ydpi))
        assert d.compression == "CCITT Group 4"
        assert d.photometric == "min-is-white"
        assert d.bits == 1
    _libtiff_decodes(data)
    decoded = pages_of(data)
    assert [p.size for p in decoded] == [(1728, length)] * pages
    return decoded


def _libtiff_decodes(data: bytes) -> None:
    """libtiff itself decodes every G4 page (tiffcp to uncompressed) without a complaint."""
    assert shutil.which("tiffcp"), "libtiff-tools (tiffcp) must be installed"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = f"{tmp}/in.tif", f"{tmp}/out.tif"
        with open(src, "wb") as f:
            f.write(data)
        run = subprocess.run(["tiffcp", "-c", "none", src, dst], capture_output=True,
                             text=True, check=False)
        assert run.returncode == 0 and not run.stderr.strip(), run.stderr


def text_mail(body: str, charset: str = "utf-8", subtype: str = "plain") -> bytes:
    msg = MIMEText(body, subtype, charset)
    msg["From"] = "sender@example.jp"
    msg["To"] = "0344772288@fax.example.jp"
    msg["Subject"] = "test"
    return msg.as_bytes()


def raw_text_mail(payload: bytes, charset: str | None) -> bytes:
    """A single-part text mail whose body bytes are exactly ``payload`` (8bit)."""
    ctype = "text/plain" + (f"; charset={charset}" if charset else "")
    head = (
        "From: sender@example.jp\r\nTo: 0344772288@fax.example.jp\r\nSubject: t\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode("ascii") + payload


def multipart_mail(body: str | None, attachments: list[tuple[str, str, bytes]],
                   html: str | None = None) -> bytes:
    """A multipart/mixed mail: optional text (and HTML) body, then the attachments."""
    msg = MIMEMultipart("mixed")
    msg["From"] = "sender@example.jp"
    msg["To"] = "0344772288@fax.example.jp"
    msg["Subject"] = "test"
    if body is not None and html is not None:
        alt = MIMEMultipart("alternative")
        alt.attach(MIMEText(body, "plain", "utf-8"))
        alt.attach(MIMEText(html, "html", "utf-8"))
        msg.attach(alt)
    elif body is not None:
        msg.attach(MIMEText(body, "plain", "utf-8"))
    elif html is not None:
        msg.attach(MIMEText(html, "html", "utf-8"))
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        part: MIMEBase = MIMEApplication(data, subtype) if maintype == "application" else \
            MIMEBase(maintype, subtype)
        if maintype != "application":
            part.set_payload(data)
            from email import encoders

            encoders.encode_base64(part)
        part.add_header("Content-Disposition", "attachment", filename=filename)
        msg.attach(part)
    return msg.as_bytes()


def text_pdf(pages: int, lines: int = 40, size: tuple[float, float] = (595, 842),
             text: str = "Page {p} line {i}: quick brown fox 0123456789") -> bytes:
    """A PDF with real text objects (Helvetica), ``lines`` lines from the top-left margin."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    doc = pdfium.PdfDocument.new()
    font = pdfium_c.FPDFText_LoadStandardFont(doc, b"Helvetica")
    for p in range(pages):
        page = doc.new_page(*size)
        for i in range(lines):
            obj = pdfium_c.FPDFPageObj_CreateTextObj(doc, font, 12.0)
            data = (text.format(p=p + 1, i=i + 1) + "\0").encode("utf-16-le")
            buf = ctypes.create_string_buffer(data, len(data))
            pdfium_c.FPDFText_SetText(obj, ctypes.cast(buf, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
            pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 72, size[1] - 72 - i * 16)
            pdfium_c.FPDFPage_InsertObject(page, obj)
        pdfium_c.FPDFPage_GenerateContent(page)
        page.close()
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


def encrypt_pdf(data: bytes, user_password: str = "secret") -> bytes:
    """The PDF encrypted with AES-256 and a user password (qpdf)."""
    assert shutil.which("qpdf"), "qpdf must be installed (scripts/system-deps)"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = f"{tmp}/in.pdf", f"{tmp}/out.pdf"
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run(["qpdf", "--encrypt", user_password, "owner-pw", "256", "--", src, dst],
                       check=True, capture_output=True)
        with open(dst, "rb") as f:
            return f.read()


def image_bytes(image: object, fmt: str, **params: object) -> bytes:
    """A Pillow image saved in ``fmt``."""
    out = io.BytesIO()
    image.save(out, fmt, **params)  # type: ignore[attr-defined]
    return out.getvalue()


def minimal_docx(text: str) -> bytes:
    """A real, minimal Word document (Office Open XML) with one paragraph."""
    import zipfile

    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f'<w:body><w:p><w:r><w:rPr><w:sz w:val="48"/></w:rPr><w:t>{text}</w:t></w:r></w:p>'
            "</w:body></w:document>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return out.getvalue()


def form_pdf(value: str) -> bytes:
    """A one-page PDF whose only content is a filled-in AcroForm text field (no appearance
    stream: a viewer must draw the value itself)."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /NeedAppearances true "
        "/DA (/Helv 24 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] "
        "/Resources << >> >>",
        f"<< /Type /Annot /Subtype /Widget /FT /Tx /T (name) /V ({value}) /Rect [72 700 500 760]"
        " /DA (/Helv 24 Tf 0 g) /F 4 /P 3 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)
