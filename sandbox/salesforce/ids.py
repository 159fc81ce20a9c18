"""Salesforce record ids: 15 case-sensitive characters plus the 3-character case-safe suffix."""

from __future__ import annotations

import itertools
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
POD = "5g"


def case_safe(id15: str) -> str:
    """The 18-character form: each 5-character chunk's upper-case positions encoded as one letter."""
    suffix = ""
    for start in (0, 5, 10):
        chunk = id15[start : start + 5]
        flags = sum(1 << i for i, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += SUFFIX_ALPHABET[flags]
    return id15 + suffix


def make_id(prefix: str, number: int) -> str:
    """An 18-character id with the object's key prefix (00Q Lead, 003 Contact …)."""
    body = ""
    for _ in range(10):
        number, digit = divmod(number, 62)
        body = BASE62[digit] + body
    return case_safe(prefix + POD + body)


class IdSequence:
    """Hands out increasing record numbers; seeded from the store so ids never repeat."""

    def __init__(self, start: int = 1):
        self._counter = itertools.count(start)
        self.last = start - 1

    def next(self) -> int:
        self.last = next(self._counter)
        return self.last
