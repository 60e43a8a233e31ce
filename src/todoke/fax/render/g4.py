"""Renderer stage, G4 coding: CCITT T.6 encoding of one bilevel page through libtiff.

Owns the fast path of the output stage. libtiff is called through ctypes (the copy bundled
with Pillow's wheel, else the system's libtiff.so.6), which releases the GIL for the whole
page, so pages are encoded on both cores while the next one is drawn. libtiff writes a
one-page file into a temporary directory (RAM-backed /dev/shm when there is one) and the
strip is taken out of it. When no libtiff can be loaded, ``encode_strip`` returns None and
the caller falls back to Pillow's encoder.
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
_tmpdir: str | None = None
_counter = 0


def _candidates() -> list[str]:
    libs = Path(PIL.__file__).resolve().parent.parent / "pillow.libs"
    found = sorted(glob.glob(str(libs / "libtiff-*.so*")))
    system = ctypes.util.find_library("tiff")
    return [*found, *([system] if system else []), "libtiff.so.6"]


def _load() -> ctypes.CDLL | None:
    global _lib, _loaded, _tmpdir
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
        if _lib is not None:
            base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
            _tmpdir = tempfile.mkdtemp(prefix="todoke-g4-", dir=base)
        return _lib


def available() -> bool:
    """Whether libtiff could be loaded for the fast path."""
    return _load() is not None


def encode_strip(packed: bytes, width: int, height: int) -> bytes | None:
    """G4 data of a page given as packed rows (1 = black, MSB first); None without libtiff."""
    lib = _load()
    if lib is None or _tmpdir is None:
        return None
    global _counter
    with _lock:
        _counter += 1
        path = os.path.join(_tmpdir, f"{os.getpid()}-{_counter}.tif")
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
    try:
        data = Path(path).read_bytes() if ok else b""
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    if not ok:
        return None
    return _strip_of(data)


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
