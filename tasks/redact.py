"""Secrets are collected once and masked in every log line, wherever the line comes from.

Masking happens where a log record is made (a record factory), not in one logger's filter: a
record made on a child logger (``prefect.flow_runs``, ``renkei.report``) reaches handlers — the
Prefect API's among them — that a filter on a parent logger never sees. The message and the
formatted traceback are both masked.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from connectors.http import MASK

__all__ = ["MASK", "masked_failures", "redact", "register_secret"]

P = ParamSpec("P")
R = TypeVar("R")
_secrets: set[str] = set()
_made = logging.getLogRecordFactory()


def register_secret(value: str | None) -> None:
    """Remember a secret and each part of a joined one (kintone's tokens are given as ``a,b,c``);
    short values are ignored: masking 'a' would mangle every line."""
    if not value:
        return
    for part in (value, *value.split(",")):
        if len(part.strip()) >= 4:
            _secrets.add(part.strip())
    if logging.getLogRecordFactory() is not _masked_record:
        logging.setLogRecordFactory(_masked_record)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _holds_secret(text: str) -> bool:
    return any(secret in text for secret in _secrets)


def _masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """The standard record, its message and traceback masked when they hold a secret."""
    record = _made(*args, **kwargs)
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a broken format string: logging reports it when emitted
        return record
    if _holds_secret(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        formatted = logging.Formatter().formatException(record.exc_info)
        if _holds_secret(formatted):
            record.exc_text, record.exc_info = redact(formatted), None
    return record


class MaskedError(RuntimeError):
    """An exception whose own text held a secret and could not be masked in place."""


def masked_failures(step: Callable[P, R]) -> Callable[P, R]:
    """A step whose exceptions leave it masked: Prefect keeps ``str(exc)`` as the failed state's
    message (and may store the exception), which no log-record factory sees. The exception keeps its
    type (so retry rules still apply) unless its text cannot be masked through its arguments."""

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return step(*args, **kwargs)
        except Exception as exc:
            text = str(exc)
            if not _holds_secret(text):
                raise
            exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
            if _holds_secret(str(exc)):
                raise MaskedError(f"{type(exc).__name__}: {redact(text)}") from None
            raise

    return run
