"""SMTP delivery: STARTTLS or implicit TLS, optional auth, verified certificates, bounded retries.

A 4xx reply, a dropped connection or a timeout is transient and retried with backoff; a 5xx reply,
a certificate that does not verify or a server without STARTTLS is not. Errors name host:port and
the server's reply, never the password.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from connectors.http import HttpPolicy
from schemas.spec import SmtpSettings, is_loopback_host

log = logging.getLogger("renkei.smtp")

RETRY = HttpPolicy(max_attempts=4, backoff_base=1.0, backoff_cap=20.0)  # the shared backoff, SMTP's numbers


class SmtpError(Exception):
    """A message that could not be delivered: where, the server's reply, and whether a retry may help."""

    def __init__(self, server: str, reply: str, transient: bool, attempts: int):
        self.server = server
        self.reply = reply
        self.transient = transient
        self.attempts = attempts
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"SMTP {server}: {reply}{tries}")

    def __reduce__(self) -> tuple[type[SmtpError], tuple[str, str, bool, int]]:
        """Survives pickling (Prefect keeps a failed task's exception)."""
        return (SmtpError, (self.server, self.reply, self.transient, self.attempts))


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to deliver; the password is resolved already and never shown in a repr."""

    host: str
    port: int
    starttls: bool = True
    ssl: bool = False
    timeout: float = 30.0
    cafile: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(
        cls, settings: SmtpSettings, username: str | None = None, password: str | None = None
    ) -> SmtpServer:
        return cls(
            settings.host,
            settings.port,
            settings.starttls,
            settings.ssl,
            settings.timeout,
            settings.cafile,
            username,
            password,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def deliver(
    message: EmailMessage,
    server: SmtpServer,
    *,
    policy: HttpPolicy = RETRY,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Send ``message`` to its To/Cc/Bcc; returns the recipients the server refused (address → reply)."""
    attempt = 1
    while True:
        try:
            return _send_once(message, server)
        except SmtpError as exc:
            if not exc.transient or attempt >= policy.max_attempts:
                raise SmtpError(exc.server, exc.reply, exc.transient, attempt) from None
            wait = policy.backoff(attempt)
            log.warning("SMTP %s: %s; retry %d in %.1f s", server.address, exc.reply, attempt, wait)
            sleep(wait)
            attempt += 1


def _send_once(message: EmailMessage, server: SmtpServer) -> dict[str, str]:
    try:
        with _connect(server) as client:
            if server.starttls and not server.ssl:
                client.starttls(context=_tls_context(server))
            if server.username:
                client.login(server.username, server.password or "")
            refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        replies = {rcpt: _reply(code, text) for rcpt, (code, text) in exc.recipients.items()}
        transient = all(400 <= code < 500 for code, _ in exc.recipients.values())
        raise _error(server, f"every recipient refused: {replies}", transient) from None
    except smtplib.SMTPNotSupportedError as exc:
        hint = "compare notify.smtp (starttls, ssl, username) with what the server offers"
        raise _error(server, f"{exc}: {hint}", False) from None
    except smtplib.SMTPResponseException as exc:
        raise _error(server, _reply(exc.smtp_code, exc.smtp_error), 400 <= exc.smtp_code < 500) from None
    except ssl.SSLCertVerificationError as exc:
        hint = "set notify.smtp.cafile to the CA that signed it"
        raise _error(server, f"TLS certificate not trusted ({exc.verify_message}): {hint}", False) from None
    except ssl.SSLError as exc:
        raise _error(server, f"TLS failed: {exc.reason or exc}", False) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise _error(server, f"{type(exc).__name__}: {exc}", True) from None
    return {rcpt: _reply(code, text) for rcpt, (code, text) in refused.items()}


def _connect(server: SmtpServer) -> smtplib.SMTP:
    local = "localhost" if is_loopback_host(server.host) else None  # no name lookup for a loopback relay
    if server.ssl:
        return smtplib.SMTP_SSL(
            server.host, server.port, local, timeout=server.timeout, context=_tls_context(server)
        )
    return smtplib.SMTP(server.host, server.port, local, timeout=server.timeout)


def _tls_context(server: SmtpServer) -> ssl.SSLContext:
    """Certificates are always verified; ``cafile`` trusts a private CA as well."""
    return ssl.create_default_context(cafile=server.cafile)


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}".strip()


def _error(server: SmtpServer, reply: str, transient: bool) -> SmtpError:
    if server.password:
        reply = reply.replace(server.password, "********")
    return SmtpError(server.address, reply, transient, 1)
