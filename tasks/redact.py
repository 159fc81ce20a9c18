"""Secrets are collected once and masked in every log line, wherever the line comes from."""

from __future__ import annotations

import logging

MASK = "********"
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret (short values are ignored: masking 'a' would mangle every line)."""
    if value and len(value) >= 4:
        _secrets.add(value)
        _install()


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = redact(record.getMessage())
            record.args = None
        return True


_FILTER = RedactingFilter()


def _install() -> None:
    for name in ("", "prefect", "renkei", "httpx", "uvicorn", "sqlalchemy"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
