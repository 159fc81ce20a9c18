"""Email normalisation and uniqueness: in the MA an email is unique within one company.

Normalising: Unicode NFKC (full-width letters and ＠ become half-width), trimming white space
including the ideographic space and zero-width characters, lower-casing, and the domain in its
ASCII (IDNA) form. An address the MA cannot hold is reported with the reason, never guessed at.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_LENGTH = 64  # RFC 5321: no mail server takes a longer local part
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e"
_TRIM = _ZERO_WIDTH + " \t\r\n\v\f\u00a0\u3000\u2002\u2003\u2009\u202f"

T = TypeVar("T")


@dataclass(frozen=True)
class EmailProblem:
    raw: str | None
    rule: str
    message: str


@dataclass(frozen=True)
class NormalisedEmail:
    value: str | None
    problem: EmailProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _problem(raw: str | None, rule: str, message: str) -> NormalisedEmail:
    return NormalisedEmail(None, EmailProblem(raw, rule, message))


def normalise_email(raw: object) -> NormalisedEmail:
    """The canonical form of ``raw`` or the reason it is not a usable address."""
    if raw is None:
        return _problem(None, "email_missing", "no email address")
    if not isinstance(raw, str):
        return _problem(str(raw), "email_invalid", f"not text: {type(raw).__name__}")
    text = unicodedata.normalize("NFKC", raw).strip(_TRIM)
    if not text:
        return _problem(raw, "email_missing", "the email address is empty")
    if any(ch in _ZERO_WIDTH for ch in text) or any(unicodedata.category(ch) == "Cc" for ch in text):
        return _problem(raw, "email_invalid", "contains an invisible or control character")
    if any(ch.isspace() for ch in text):
        return _problem(raw, "email_invalid", "contains white space")
    try:
        checked = validate_email(
            text,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        return _problem(raw, "email_invalid", str(exc))
    value = checked.ascii_email
    if value is None:  # pragma: no cover - allow_smtputf8=False guarantees an ASCII form
        return _problem(raw, "email_invalid", "the address has no ASCII form")
    value = value.lower()
    if len(value.rpartition("@")[0]) > MAX_LOCAL_LENGTH:
        return _problem(
            raw, "email_too_long", f"the part before @ is longer than {MAX_LOCAL_LENGTH} characters"
        )
    if len(value) > MAX_EMAIL_LENGTH:
        return _problem(raw, "email_too_long", f"longer than {MAX_EMAIL_LENGTH} characters")
    return NormalisedEmail(value)


def email_key(raw: object) -> str | None:
    """The normalised address, or None when ``raw`` is not a usable address."""
    return normalise_email(raw).value


@dataclass(frozen=True)
class EmailConflict(Generic[T]):
    """One normalised email held by several records: none of them may be matched or written."""

    email: str
    rows: tuple[T, ...]


@dataclass
class EmailGrouping(Generic[T]):
    """Rows split by their email: unique ones go on, conflicts and invalid ones are reported."""

    unique: list[tuple[str, T]] = field(default_factory=list)
    conflicts: list[EmailConflict[T]] = field(default_factory=list)
    invalid: list[tuple[T, EmailProblem]] = field(default_factory=list)


def group_by_email(rows: Iterable[T], email_of: Callable[[T], object]) -> EmailGrouping[T]:
    """Group rows by normalised email; every group of two or more is a conflict with all its rows.

    Row order is kept inside each group and groups appear in the order their first row came.
    """
    groups: dict[str, list[T]] = {}
    grouping: EmailGrouping[T] = EmailGrouping()
    for row in rows:
        normalised = normalise_email(email_of(row))
        if normalised.problem is not None:
            grouping.invalid.append((row, normalised.problem))
            continue
        assert normalised.value is not None
        groups.setdefault(normalised.value, []).append(row)
    for email, members in groups.items():
        if len(members) == 1:
            grouping.unique.append((email, members[0]))
        else:
            grouping.conflicts.append(EmailConflict(email, tuple(members)))
    return grouping


def search_forms(key: str) -> tuple[str, str]:
    """The forms of a normalised address a target's text search is asked for: as it is and in full
    width (ｋａｔｏ＠…); a case-insensitive search then finds ``Kato.1@…`` too."""
    return key, "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in key)


def holders_by_email(
    keys: Iterable[str], rows: Iterable[T], email_of: Callable[[T], object]
) -> dict[str, list[T]]:
    """The rows holding each of ``keys`` after normalisation (a search may return near misses: dropped)."""
    wanted = set(keys)
    found: dict[str, list[T]] = {}
    for row in rows:
        key = email_key(email_of(row))
        if key in wanted:
            found.setdefault(key, []).append(row)
    return found


@dataclass(frozen=True)
class KeyResolution:
    """How a batch of normalised keys meets the records a target holds (MA → target).

    ``stored`` maps a key to the form the one record holding it has (``Kato.1@…`` for ``kato.1@…``),
    so that record is updated; ``shared`` maps a key held by several records to all their ids.
    """

    stored: dict[str, str]
    shared: dict[str, tuple[str, ...]]


def resolve_keys(holders: Mapping[str, list[tuple[str, str]]]) -> KeyResolution:
    """``holders``: key → (record id, email as stored) for every record holding it."""
    stored = {key: rows[0][1] for key, rows in holders.items() if len(rows) == 1 and rows[0][1] != key}
    shared = {key: tuple(rid for rid, _ in rows) for key, rows in holders.items() if len(rows) > 1}
    return KeyResolution(stored, shared)
