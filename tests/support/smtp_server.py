"""Fixture module: a real SMTP server (aiosmtpd) on loopback that records what it receives.

    smtp_server        plain SMTP on 127.0.0.1, no AUTH, accepts every mail
    make_smtp_server   factory: make_smtp_server(auth=("user", "pass"), tls="starttls"|"ssl")
    tls_certificate    a self-signed certificate for 127.0.0.1, made with the openssl CLI at
                       test time (tests that need it skip when openssl is missing)

A server can be told to answer an SMTP error: `server.data_reply = "451 4.3.0 try later"`
(every DATA), `server.refuse["bad@example.org"] = "550 5.1.1 no such user"` (one RCPT), or
to keep a mail and wait before saying so: `server.reply_delay = 30` (seconds; a client killed
meanwhile never learns that the mail arrived).
With `auth` set, MAIL without a successful AUTH gets 530, like a real submission server.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass
class ReceivedMail:
    """One accepted mail: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, content_type: str) -> str:
        """The decoded body of the first part of this type ('text/plain', 'text/html'),
        with the wire's CRLF line ends turned back into newlines."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content().replace("\r\n", "\n")
        raise KeyError(content_type)


@dataclass
class TLSCertificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate (and verifies it as usual)."""
        return ssl.create_default_context(cafile=str(self.cert))


class _Controller(Controller):
    """aiosmtpd's Controller, bound to port 0 and told the port the OS picked."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SMTPServer:
    auth: tuple[str, str] | None = None
    tls: str | None = None  # None | "starttls" | "ssl"
    certificate: TLSCertificate | None = None
    received: list[ReceivedMail] = field(default_factory=list)
    data_reply: str | None = None
    reply_delay: float = 0.0
    refuse: dict[str, str] = field(default_factory=dict)
    auth_attempts: list[str] = field(default_factory=list)  # logins tried, never passwords
    port: int = 0
    _controller: _Controller | None = None

    @property
    def host(self) -> str:
        return HOST

    def url(self, password: str | None = None) -> str:
        """The WATCH_SMTP_URL for this server (with the right password unless one is given)."""
        scheme = "smtps" if self.tls == "ssl" else "smtp"
        user = ""
        if self.auth:
            login, right = self.auth
            secret = right if password is None else password
            user = f"{quote(login, safe='')}:{quote(secret, safe='')}@"
        query = "?starttls=1" if self.tls == "starttls" else ""
        return f"{scheme}://{user}{HOST}:{self.port}{query}"

    def start(self) -> None:
        kwargs: dict[str, Any] = {"hostname": HOST, "port": 0, "server_hostname": "watch-test"}
        kwargs["ready_timeout"] = 60  # aiosmtpd gives its thread 5 s to start: short under load
        if self.auth:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = self.tls == "starttls"
        if self.tls == "starttls":
            assert self.certificate
            kwargs["tls_context"] = self.certificate.server_context()
            kwargs["require_starttls"] = True
        elif self.tls == "ssl":
            assert self.certificate
            kwargs["ssl_context"] = self.certificate.server_context()
        self._controller = _Controller(_Handler(self), **kwargs)
        self._controller.start()
        self.port = self._controller.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.auth
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.auth_attempts.append(auth_data.login.decode())
        ok = (auth_data.login.decode(), auth_data.password.decode()) == self.auth
        return AuthResult(success=ok, handled=False)


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.server.auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.server.refuse:
            return self.server.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.server.data_reply:
            return self.server.data_reply
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.server.received.append(
            ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message)
        )
        if self.server.reply_delay:
            await asyncio.sleep(self.server.reply_delay)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> TLSCertificate:
    """A throw-away self-signed certificate for 127.0.0.1 / localhost."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not found: cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return TLSCertificate(cert, key)


@pytest.fixture
def make_smtp_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., SMTPServer]]:
    """Start SMTP servers with options; all are stopped at the end of the test."""
    servers: list[SMTPServer] = []

    def make(*, auth: tuple[str, str] | None = None, tls: str | None = None) -> SMTPServer:
        certificate = request.getfixturevalue("tls_certificate") if tls else None
        server = SMTPServer(auth=auth, tls=tls, certificate=certificate)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(make_smtp_server: Callable[..., SMTPServer]) -> SMTPServer:
    """A plain SMTP server on loopback without AUTH that records every mail it accepts."""
    return make_smtp_server()
