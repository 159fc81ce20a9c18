"""The tests' SMTP peer is the product's own loopback sink: see sandbox/mailsink.py."""

from __future__ import annotations

from sandbox.mailsink import MailSink as SmtpSink
from sandbox.mailsink import SinkTls, make_tls, smtp_sink

__all__ = ["SinkTls", "SmtpSink", "make_tls", "smtp_sink"]
