"""Mail delivery, SMTP client: one connection to one host, reused for several deliveries.

EHLO, then STARTTLS whenever the server offers it (opportunistic, RFC 3207: certificates are
not verified, and a failed handshake falls back to plain text on a new connection), then per
delivery one transaction: MAIL FROM (the delivery's VERP return path, with SIZE when the
server announces it, RFC 1870), RCPT TO, DATA. A
refused transaction is reset (RSET) and the connection serves the next delivery; a 421 or a
broken connection ends it. Every answer comes back as a `Reply`, never as an exception.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiosmtplib

TIMEOUT = 60.0


@dataclass(frozen=True)
class Reply:
    """A server's answer (code 0: no answer, the connection failed) to ``command``."""

    code: int
    text: str
    command: str
    host: str
    source_ip: str = ""

    @property
    def line(self) -> str:
        """The reply as the log shows it: ``550 5.1.1 <x>: user unknown``."""
        return f"{self.code} {self.text}".strip() if self.code else self.text


def _text(exc: BaseException) -> str:
    message = getattr(exc, "message", "") or str(exc) or exc.__class__.__name__
    return " ".join(str(message).split())


class Connection:
    """An SMTP session with one host; open() first, then send() per delivery."""

    def __init__(self, host: str, port: int, local_hostname: str,
                 timeout: float = TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.local_hostname = local_hostname
        self.timeout = timeout
        self.client: aiosmtplib.SMTP | None = None
        self.source_ip = ""
        self.tls = False

    @property
    def alive(self) -> bool:
        return self.client is not None and self.client.is_connected

    async def _connect(self, start_tls: bool | None) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(hostname=self.host, port=self.port,
                                 local_hostname=self.local_hostname, timeout=self.timeout,
                                 start_tls=start_tls, validate_certs=False)
        await client.connect()
        return client

    async def open(self) -> Reply | None:
        """Connect, EHLO and STARTTLS if offered; None when ready, else the failure."""
        try:
            try:
                self.client = await self._connect(None)
            except (aiosmtplib.SMTPException, OSError) as exc:
                if not isinstance(exc, aiosmtplib.SMTPException) or "TLS" not in str(exc):
                    raise
                self.client = await self._connect(False)  # opportunistic: go on without
        except aiosmtplib.SMTPResponseException as exc:
            return Reply(exc.code, _text(exc), "CONN", self.host)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Reply(0, f"connect to {self.host}[{self.port}]: {_text(exc)}", "CONN",
                         self.host)
        sockname = self.client.get_transport_info("sockname")
        self.source_ip = str(sockname[0]) if sockname else ""
        self.tls = bool(self.client.get_transport_info("sslcontext"))
        return None

    async def send(self, mail_from: str, rcpt: str, raw: bytes) -> Reply:
        """One transaction for one recipient; the final answer (DATA's, or the refusal)."""
        assert self.client is not None
        command = "MAIL"
        try:
            size = [f"SIZE={len(raw)}"] if self.client.supports_extension("size") else []
            await self.client.mail(mail_from, options=size)
            command = "RCPT"
            await self.client.rcpt(rcpt)
            command = "DATA"
            response = await self.client.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            reply = Reply(exc.code, _text(exc), command, self.host, self.source_ip)
            if exc.code == 421:
                await self.close()
            else:
                await self._reset()
            return reply
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.close()
            return Reply(0, f"lost connection with {self.host} during {command}: "
                         f"{_text(exc)}", command, self.host, self.source_ip)
        return Reply(response.code, " ".join(response.message.split()), "DATA", self.host,
                     self.source_ip)

    async def _reset(self) -> None:
        assert self.client is not None
        try:
            await self.client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            await self.close()

    async def close(self) -> None:
        """QUIT politely when possible; the connection is gone afterwards either way."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await asyncio.wait_for(client.quit(), 5)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
