"""The running gateway: SMTP ingest, the HTTP API and the workers in one asyncio loop.

Ports are bound before anything starts, so a port in use stops the program at once with a
message naming it (exit code 3); an unreachable store likewise (exit code 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
from collections.abc import Iterator

import uvicorn

from todoke import log
from todoke.api.app import create_app
from todoke.config import Settings
from todoke.fax.transport import make_transport
from todoke.ingest.smtp import make_smtp_factory
from todoke.mail.outbox import OutboxSender
from todoke.queue.worker import FaxWorker
from todoke.store.db import Store

EXIT_PORT_IN_USE = 3
EXIT_STORE_UNAVAILABLE = 4


class StartupError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def bind(address: tuple[str, int], what: str) -> socket.socket:
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"{what} のポート {host}:{port} は使用中です / "
                f"{what} port {host}:{port} is already in use", EXIT_PORT_IN_USE) from exc
        raise StartupError(f"{what} {host}:{port}: {exc.strerror}", EXIT_PORT_IN_USE) from exc
    sock.listen(256)
    sock.setblocking(False)
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the gateway owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:
        return


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def run_workers(settings: Settings, store: Store, stop: asyncio.Event) -> None:
    transport = make_transport(settings.fax_transport, settings.fax_simulator,
                               settings.minute_seconds)
    await asyncio.gather(
        FaxWorker(settings, store, transport).run(stop),
        OutboxSender(settings, store).run(stop),
    )


async def serve(settings: Settings, store: Store, with_worker: bool = True) -> None:
    smtp_sock = bind(settings.smtp_listen, "SMTP")
    http_sock = bind(settings.http_listen, "HTTP")
    stop = asyncio.Event()
    _stop_on_signals(stop)
    loop = asyncio.get_running_loop()
    factory, handler = make_smtp_factory(settings, store)
    smtp = await loop.create_server(factory, sock=smtp_sock)
    http = _Uvicorn(uvicorn.Config(create_app(settings, store), log_config=None,
                                   access_log=False, lifespan="off"))
    tasks = [asyncio.create_task(http.serve(sockets=[http_sock]))]
    if with_worker:
        tasks.append(asyncio.create_task(run_workers(settings, store, stop)))
    host, port = settings.smtp_listen
    hhost, hport = settings.http_listen
    log.event("serve.ready", smtp=f"{host}:{port}", http=f"{hhost}:{hport}",
              store=store.dialect, fax_domain=settings.fax_domain, worker=with_worker)
    await stop.wait()
    log.event("serve.stopping")
    smtp.close()
    http.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    await smtp.wait_closed()
    await asyncio.to_thread(handler.intake.close)


async def work(settings: Settings, store: Store) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    await run_workers(settings, store, stop)
