"""A real SMTP server on loopback (aiosmtpd): the demo's mail server and the tests' mail peer.

    with MailSink(folder=Path("var/demo/mail")) as sink:   # plain SMTP on a free port
        ... send to 127.0.0.1:sink.port ...
        assert len(sink.messages) == 1                     # also written as 0001.eml

``tls=make_tls(folder)`` requires STARTTLS (or, with ``implicit_tls=True``, speaks TLS from the first
byte) with a certificate from a throwaway CA whose file is ``tls.cafile``; ``credentials`` demands
AUTH PLAIN/LOGIN (``exclude_auth`` hides one); ``fail_next`` answers that many DATA commands with
a transient 451.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from sandbox.common import LOOPBACK, free_port


@dataclass(frozen=True)
class SinkTls:
    server_context: ssl.SSLContext
    cafile: Path


def make_tls(folder: Path) -> SinkTls:
    """A certificate for 127.0.0.1 and localhost from a fresh CA; the CA's PEM is written to ``folder``."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(LOOPBACK, "localhost").configure_cert(context)
    cafile = folder / "smtp-test-ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return SinkTls(context, cafile)


@dataclass
class MailSink:
    """The server and what it received; ``port`` 0 picks a free one (aiosmtpd cannot bind port 0)."""

    port: int = 0
    folder: Path | None = None
    tls: SinkTls | None = None
    implicit_tls: bool = False
    credentials: tuple[str, str] | None = None
    exclude_auth: tuple[str, ...] = ()
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)  # the envelope's RCPT TO, per message
    logins: list[str] = field(default_factory=list)
    fail_next: int = 0
    refuse_next: int = 0  # messages answered 554 (a relay refusing for good)
    _controller: Controller | None = field(default=None, repr=False)

    def keep(self, message: EmailMessage, recipients: list[str]) -> None:
        self.messages.append(message)
        self.recipients.append(recipients)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{len(self.messages):04d}.eml").write_bytes(message.as_bytes())

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"server_hostname": "localhost"}
        if self.tls is not None and self.implicit_tls:
            options["ssl_context"] = self.tls.server_context
        elif self.tls is not None:
            options.update(tls_context=self.tls.server_context, require_starttls=True)
        if self.credentials is not None:
            options.update(
                authenticator=_authenticator(self, *self.credentials),
                auth_required=True,
                auth_require_tls=self.tls is not None,
                auth_exclude_mechanism=self.exclude_auth,
            )
        return options

    def __enter__(self) -> MailSink:
        fixed = self.port != 0
        for attempt in range(1 if fixed else 3):  # another process may take a picked port before the bind
            self.port = self.port if fixed else free_port()
            self._controller = Controller(
                _Handler(self), hostname=LOOPBACK, port=self.port, **self._options()
            )
            try:
                self._controller.start()
                return self
            except OSError:
                if fixed or attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()


class _Handler:
    def __init__(self, sink: MailSink):
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.sink.fail_next > 0:
            self.sink.fail_next -= 1
            return "451 4.3.0 mailbox busy, try again later"
        if self.sink.refuse_next > 0:
            self.sink.refuse_next -= 1
            return "554 5.7.1 message refused by policy"
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.sink.keep(parsed, list(envelope.rcpt_tos))
        return "250 2.0.0 OK"


def _authenticator(sink: MailSink, username: str, password: str) -> Any:
    def check(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == username
            and data.password.decode() == password
        )
        if ok:
            sink.logins.append(f"{mechanism}:{username}")
        return AuthResult(success=ok, handled=False)

    return check


@contextmanager
def smtp_sink(**options: Any) -> Iterator[MailSink]:
    """``with smtp_sink(tls=..., credentials=...) as sink:`` — a MailSink on a free port."""
    with MailSink(**options) as sink:
        yield sink
