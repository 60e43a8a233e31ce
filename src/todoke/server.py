"""The running gateway: SMTP ingest and the HTTP API in one asyncio loop, extra SMTP ingest
processes sharing the listening socket (TODOKE_SMTP_PROCESSES), and the workers either in a
process of their own (TODOKE_WORKER_PROCESS=yes, the default on more than one core: intake
and delivery then use different cores) or in the same loop.

Ports are bound before anything starts, so a port in use stops the program at once with a
message naming it (exit code 3); an unreachable store likewise (exit code 4). The ingest
processes are forked before any thread or loop exists, each opens its own store and group
committer, and each dies with the parent (PR_SET_PDEATHSIG), so a killed gateway leaves
nothing holding its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import uvicorn

from todoke import log
from todoke.api.app import create_app
from todoke.config import Settings
from todoke.errorlog.schedule import Housekeeper
from todoke.fax.transport import make_transport
from todoke.ingest.smtp import make_smtp_factory
from todoke.mail.delivery.worker import MailWorker
from todoke.mail.outbox import OutboxSender
from todoke.queue.worker import FaxWorker
from todoke.store.db import Store
from todoke.webhooks.dispatch import WebhookDispatcher

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
        MailWorker(settings, store).run(stop),  # mail delivery (issue 5)
        Housekeeper(settings, store).run(stop),  # retention purge (issue 6)
        WebhookDispatcher(settings, store).run(stop),  # webhooks (issue 6)
    )


def run_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (faster sockets), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
        return
    uvloop.run(coroutine)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


async def _ingest_only(settings: Settings, store: Store, smtp_sock: socket.socket) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    factory, handler = make_smtp_factory(settings, store)
    server = await asyncio.get_running_loop().create_server(factory, sock=smtp_sock)
    await stop.wait()
    server.close()
    await server.wait_closed()
    await asyncio.to_thread(handler.close)


def _fork(what: str, settings: Settings, body: Callable[[Store], Coroutine[Any, Any, None]]
          ) -> int:
    """A child process that runs ``body`` on its own store and dies with its parent."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _die_with_parent()
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
            run_loop(body(Store(settings.database_url)))
        except BaseException:
            log.error(f"{what}.process_error", exc_info=True)
            code = 1
        finally:
            os._exit(code)
    return pid


def fork_ingest(settings: Settings, store: Store, smtp_sock: socket.socket,
                count: int) -> list[int]:
    """Start ``count`` more SMTP ingest processes on the same socket; return their pids."""
    if count <= 0 or not hasattr(os, "fork"):
        return []
    store.engine.dispose()  # no pooled connection may be shared with a child
    return [_fork("ingest", settings, lambda own: _ingest_only(settings, own, smtp_sock))
            for _ in range(count)]


def fork_worker(settings: Settings, store: Store) -> list[int]:
    """Run the workers (fax, mail, outbox, housekeeping, webhooks) in a process of their own,
    so that delivery and intake use different cores; returns its pid."""
    if not hasattr(os, "fork"):
        return []
    store.engine.dispose()
    return [_fork("worker", settings, lambda own: work(settings, own))]


def stop_children(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


async def serve(settings: Settings, store: Store, with_worker: bool = True,
                sockets: tuple[socket.socket, socket.socket] | None = None) -> None:
    smtp_sock, http_sock = sockets or (bind(settings.smtp_listen, "SMTP"),
                                       bind(settings.http_listen, "HTTP"))
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
    await asyncio.to_thread(handler.close)


async def work(settings: Settings, store: Store) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    await run_workers(settings, store, stop)
