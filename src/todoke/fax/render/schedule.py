"""Renderer stage, scheduling: draws, stamps and G4-encodes the pages on both cores.

Owns how the pages of the opened sources are turned into encoded pages. In a process with a
single thread (the isolated child, a bench) the page numbers are split between this process
and one forked helper, each drawing and encoding its share from the same opened documents;
elsewhere (an application with threads, where fork is unsafe) one thread draws while two
encode (PDFium and libtiff both run without the GIL). Either way the result is in page order.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from PIL import Image

from .g4 import read_all, scratch_file
from .header import HeaderLine
from .model import Geometry, RenderError, cannot_convert
from .source import Source
from .tiff import EncodedPage, encode_page

_DONE = object()
FORK_MIN_PAGES = 4


def as_render_error(part: str, kind: str, exc: BaseException) -> RenderError:
    """Any failure while converting ``part`` as the RenderError the job ends with."""
    if isinstance(exc, RenderError):
        return exc
    if isinstance(exc, MemoryError):
        return cannot_convert(
            part, "the document needs more memory than the renderer may use",
            "文書の変換に必要なメモリが上限を超えました",
        )
    return cannot_convert(
        part, f"the {kind} could not be converted ({type(exc).__name__}: {exc})",
        f"{kind} の変換に失敗しました ({type(exc).__name__})",
    )


def finish_page(content: Image.Image, band: Image.Image | None,
                geometry: Geometry) -> EncodedPage:
    """The page with its header band, G4-encoded."""
    if content.height == geometry.height:  # drawn on the whole sheet, band left white
        if band is not None:
            content.paste(band, (0, 0))
    elif band is not None or content.height != geometry.height:
        sheet = Image.new("1", (geometry.width, geometry.height), 1)
        if band is not None:
            sheet.paste(band, (0, 0))
        sheet.paste(content, (0, geometry.header_lines))
        content = sheet
    return encode_page(content)


def _plan(sources: list[Source]) -> list[tuple[Source, int]]:
    return [(source, index) for source in sources for index in range(source.count)]


def _one(plan: list[tuple[Source, int]], number: int, header: HeaderLine | None,
         geometry: Geometry) -> EncodedPage:
    source, index = plan[number]
    try:
        content = source.page(index)
        band = header.page(number + 1) if header is not None else None
        return finish_page(content, band, geometry)
    except BaseException as exc:
        raise as_render_error(source.name, "document", exc) from exc


def draw_and_encode(sources: list[Source], geometry: Geometry,
                    header: HeaderLine | None) -> list[EncodedPage]:
    """Every page of ``sources`` in order, with the header line, G4-encoded."""
    plan = _plan(sources)
    if (
        len(plan) >= FORK_MIN_PAGES
        and (os.cpu_count() or 1) >= 2
        and threading.active_count() == 1
        and hasattr(os, "fork")
    ):
        return _forked(plan, geometry, header)
    return _threaded(plan, geometry, header)


def _forked(plan: list[tuple[Source, int]], geometry: Geometry,
            header: HeaderLine | None) -> list[EncodedPage]:
    """Odd pages in a forked helper, even pages here; the helper's come back in an
    in-memory file both processes hold open."""
    with scratch_file() as (fd, _path):
        return _forked_into(fd, plan, geometry, header)


def _forked_into(fd: int, plan: list[tuple[Source, int]], geometry: Geometry,
                 header: HeaderLine | None) -> list[EncodedPage]:
    pid = os.fork()
    if pid == 0:  # helper: no return from here
        code = 0
        try:
            result: tuple[str, object] = (
                "ok",
                [(n, _one(plan, n, header, geometry)) for n in range(1, len(plan), 2)],
            )
        except RenderError as exc:
            result = ("error", exc)
        except BaseException as exc:
            result = ("error", as_render_error("mail", "document", exc))
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            code = 1
        os._exit(code)
    pages: dict[int, EncodedPage] = {}
    try:
        for n in range(0, len(plan), 2):
            pages[n] = _one(plan, n, header, geometry)
        os.waitpid(pid, 0)
        pid = 0
        kind, value = pickle.loads(read_all(fd))
        if kind != "ok":
            assert isinstance(value, RenderError)
            raise value
        assert isinstance(value, list)
        pages.update(value)
    except (EOFError, pickle.UnpicklingError, OSError, ValueError) as exc:
        raise cannot_convert(
            "mail", f"the page-drawing helper process failed ({type(exc).__name__})",
            "ページ描画の補助プロセスが異常終了しました",
        ) from exc
    finally:
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
    return [pages[n] for n in range(len(plan))]


def _threaded(plan: list[tuple[Source, int]], geometry: Geometry,
              header: HeaderLine | None) -> list[EncodedPage]:
    """One thread draws (PDFium releases the GIL) while two stamp and encode."""
    drawn: queue.Queue[object] = queue.Queue(maxsize=3)
    stop = threading.Event()

    def produce() -> None:
        for source, index in plan:
            if stop.is_set():
                return
            try:
                drawn.put(source.page(index))
            except BaseException as exc:
                drawn.put(as_render_error(source.name, "document", exc))
                return
        drawn.put(_DONE)

    worker = threading.Thread(target=produce, daemon=True, name="fax-render-draw")
    worker.start()
    futures: list[Future[EncodedPage]] = []
    encoders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fax-render-encode")
    try:
        while True:
            item = drawn.get()
            if item is _DONE:
                break
            if isinstance(item, RenderError):
                raise item
            assert isinstance(item, Image.Image)
            band = header.page(len(futures) + 1) if header is not None else None
            futures.append(encoders.submit(finish_page, item, band, geometry))
        return [future.result() for future in futures]
    finally:
        stop.set()
        for future in futures:
            future.cancel()
        encoders.shutdown(wait=True)
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                drawn.get(timeout=0.05)
        worker.join()
