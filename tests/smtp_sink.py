"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for mail tests.

    with smtp_sink() as sink:              # plain SMTP
        ... send to 127.0.0.1:sink.port ...
        assert len(sink.messages) == 1

``tls=make_tls(tmp_path)`` requires STARTTLS (or, with ``implicit_tls=True``, speaks TLS from the
first byte) with a certificate from a throwaway CA whose file is ``tls.cafile``; ``credentials``
demands AUTH PLAIN/LOGIN (``exclude_auth`` hides one); ``fail_next`` answers that many DATA
commands with a transient 451.
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


@dataclass
class SmtpSink:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)  # the envelope's RCPT TO, per message
    logins: list[str] = field(default_factory=list)
    fail_next: int = 0


def make_tls(folder: Path) -> SinkTls:
    """A certificate for 127.0.0.1 and localhost from a fresh CA; the CA's PEM is written to ``folder``."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(LOOPBACK, "localhost").configure_cert(context)
    cafile = folder / "smtp-test-ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return SinkTls(context, cafile)


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.sink.fail_next > 0:
            self.sink.fail_next -= 1
            return "451 4.3.0 mailbox busy, try again later"
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.sink.messages.append(parsed)
        self.sink.recipients.append(list(envelope.rcpt_tos))
        return "250 2.0.0 OK"


def _authenticator(sink: SmtpSink, username: str, password: str) -> Any:
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
def smtp_sink(
    *,
    tls: SinkTls | None = None,
    implicit_tls: bool = False,
    credentials: tuple[str, str] | None = None,
    exclude_auth: tuple[str, ...] = (),
) -> Iterator[SmtpSink]:
    """Start the server on a free loopback port, yield what it records, stop it."""
    options: dict[str, Any] = {"server_hostname": "localhost"}
    if tls is not None and implicit_tls:
        options["ssl_context"] = tls.server_context
    elif tls is not None:
        options.update(tls_context=tls.server_context, require_starttls=True)
    sink = SmtpSink(port=0)
    if credentials is not None:
        options.update(
            authenticator=_authenticator(sink, *credentials),
            auth_required=True,
            auth_require_tls=tls is not None,
            auth_exclude_mechanism=exclude_auth,
        )
    for attempt in range(3):  # another process may take the port between the pick and the bind
        sink.port = free_port()
        controller = Controller(_Handler(sink), hostname=LOOPBACK, port=sink.port, **options)
        try:
            controller.start()
            break
        except OSError:
            if attempt == 2:
                raise
    try:
        yield sink
    finally:
        controller.stop()
