"""Renderer stage, G4 coding: CCITT T.6 encoding of one bilevel page through libtiff.

Owns the fast path of the output stage, and the anonymous scratch files the stage uses.
libtiff is called through ctypes (the copy bundled with Pillow's wheel, else the system's
libtiff.so.6), which releases the GIL for the whole page. libtiff writes a one-page file into
an anonymous in-memory file (memfd) and the strip is taken out of it. When no libtiff can be
loaded, ``encode_strip`` returns None and the caller falls back to Pillow's encoder.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import os
import struct
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import PIL

_TIFFTAG_IMAGEWIDTH = 256
_TIFFTAG_IMAGELENGTH = 257
_TIFFTAG_BITSPERSAMPLE = 258
_TIFFTAG_COMPRESSION = 259
_TIFFTAG_PHOTOMETRIC = 262
_TIFFTAG_FILLORDER = 266
_TIFFTAG_SAMPLESPERPIXEL = 277
_TIFFTAG_ROWSPERSTRIP = 278
_TIFFTAG_PLANARCONFIG = 284
_COMPRESSION_CCITTFAX4 = 4
_PHOTOMETRIC_MINISWHITE = 0

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_loaded = False


def _candidates() -> list[str]:
    libs = Path(PIL.__file__).resolve().parent.parent / "pillow.libs"
    found = sorted(glob.glob(str(libs / "libtiff-*.so*")))
    system = ctypes.util.find_library("tiff")
    return [*found, *([system] if system else []), "libtiff.so.6"]


def _load() -> ctypes.CDLL | None:
    global _lib, _loaded
    with _lock:
        if _loaded:
            return _lib
        _loaded = True
        for name in _candidates():
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                continue
            lib.TIFFOpen.restype = ctypes.c_void_p
            lib.TIFFOpen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
            lib.TIFFWriteEncodedStrip.restype = ctypes.c_ssize_t
            lib.TIFFWriteEncodedStrip.argtypes = [
                ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_ssize_t,
            ]
            lib.TIFFClose.restype = None
            lib.TIFFClose.argtypes = [ctypes.c_void_p]
            lib.TIFFSetField.restype = ctypes.c_int
            lib.TIFFSetErrorHandler.restype = ctypes.c_void_p
            lib.TIFFSetErrorHandler.argtypes = [ctypes.c_void_p]
            lib.TIFFSetWarningHandler.restype = ctypes.c_void_p
            lib.TIFFSetWarningHandler.argtypes = [ctypes.c_void_p]
            _lib = lib
            break
        return _lib


def available() -> bool:
    """Whether libtiff could be loaded for the fast path."""
    return _load() is not None


def encode_strip(packed: bytes, width: int, height: int) -> bytes | None:
    """G4 data of a page given as packed rows (1 = black, MSB first); None without libtiff."""
    lib = _load()
    if lib is None:
        return None
    with scratch_file() as (fd, path):
        return _encode(lib, fd, path, packed, width, height)


@contextlib.contextmanager
def scratch_file() -> Iterator[tuple[int, str]]:
    """(descriptor, path) of an anonymous in-memory file (memfd; a temporary file where
    there is none), gone when closed, even if the process is killed."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("todoke-fax", os.MFD_CLOEXEC)
        try:
            yield fd, f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    fd, path = tempfile.mkstemp(prefix="todoke-fax-", dir=base)
    try:
        yield fd, path
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)


def read_all(fd: int) -> bytes:
    """The whole content of a scratch file."""
    size = os.fstat(fd).st_size
    chunks: list[bytes] = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _encode(lib: ctypes.CDLL, fd: int, path: str, packed: bytes, width: int,
            height: int) -> bytes | None:
    tif = lib.TIFFOpen(path.encode(), b"w")
    if not tif:
        return None
    ok = False
    try:
        u = ctypes.c_uint32
        for tag, value in (
            (_TIFFTAG_IMAGEWIDTH, width),
            (_TIFFTAG_IMAGELENGTH, height),
            (_TIFFTAG_BITSPERSAMPLE, 1),
            (_TIFFTAG_SAMPLESPERPIXEL, 1),
            (_TIFFTAG_COMPRESSION, _COMPRESSION_CCITTFAX4),
            (_TIFFTAG_PHOTOMETRIC, _PHOTOMETRIC_MINISWHITE),
            (_TIFFTAG_FILLORDER, 1),
            (_TIFFTAG_PLANARCONFIG, 1),
            (_TIFFTAG_ROWSPERSTRIP, height),
        ):
            lib.TIFFSetField(ctypes.c_void_p(tif), u(tag), ctypes.c_int(value))
        written = lib.TIFFWriteEncodedStrip(tif, 0, packed, len(packed))
        ok = written >= 0
    finally:
        lib.TIFFClose(tif)
    if not ok:
        return None
    return _strip_of(read_all(fd))


def _strip_of(data: bytes) -> bytes:
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (n,) = struct.unpack_from(order + "H", data, ifd)
    found: dict[int, int] = {}
    for i in range(n):
        tag, typ, count, raw = struct.unpack_from(order + "HHI4s", data, ifd + 2 + 12 * i)
        if tag in (273, 279):
            if count != 1:
                raise RuntimeError("libtiff wrote more than one strip")
            fmt = "H" if typ == 3 else "I"
            found[tag] = struct.unpack_from(order + fmt, raw)[0]
    offset, length = found[273], found[279]
    return data[offset : offset + length]
