"""A local SMTP sink on loopback (aiosmtpd): the demo's and the tests' mail server.

Every message is kept in memory and, when a folder is given, written there as an .eml file so a
user can open what renkei would have mailed.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from sandbox.common import LOOPBACK, free_port


class _Keep:
    def __init__(self, sink: MailSink):
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.keep(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class MailSink:
    """``with MailSink() as sink:`` — a real SMTP server on 127.0.0.1:``sink.port``."""

    def __init__(self, port: int | None = None, folder: Path | None = None, **controller: Any):
        self.port = port or free_port()  # aiosmtpd's Controller(port=0) does not work: choose first
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._controller = Controller(_Keep(self), hostname=LOOPBACK, port=self.port, **controller)

    def keep(self, message: EmailMessage, recipients: list[str]) -> None:
        self.messages.append(message)
        self.recipients.append(recipients)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{len(self.messages):04d}.eml").write_bytes(message.as_bytes())

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
