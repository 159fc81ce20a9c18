"""Time in the stand-in: a settable "now", UTC microseconds, and the 02:00 / 11:00 JST cuts.

A cut holds the actions *recorded* in [previous cut, this cut), so an action recorded at a cut
instant belongs to the next cut and a late-recorded action is never lost.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas import clock

TOKYO = ZoneInfo("Asia/Tokyo")
CUT_HOURS = (2, 11)
CUT_ID_FORMAT = "%Y%m%dT%H%M%z"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(at: datetime) -> int:
    """A timezone-aware instant as UTC epoch microseconds."""
    if at.tzinfo is None:
        raise ValueError("a timestamp needs a timezone offset")
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def iso_tokyo(micros: int | None) -> str | None:
    """ISO 8601 with the +09:00 offset, the form every timestamp takes on the wire."""
    return None if micros is None else from_micros(micros).astimezone(TOKYO).isoformat()


def cut_id(at: datetime) -> str:
    """``20261128T0200+0900``."""
    return at.astimezone(TOKYO).strftime(CUT_ID_FORMAT)


def parse_cut_id(text: str) -> datetime | None:
    """The cut instant an id names, or None when it is not a well-formed 02:00/11:00 cut id."""
    try:
        at = datetime.strptime(text, CUT_ID_FORMAT)
    except ValueError:
        return None
    if at.utcoffset() != timedelta(hours=9) or at.hour not in CUT_HOURS or at.minute or cut_id(at) != text:
        return None
    return at.astimezone(TOKYO)


def _cuts_of_day(day: date) -> list[datetime]:
    return [datetime.combine(day, time(hour), tzinfo=TOKYO) for hour in CUT_HOURS]


def cut_after(at: datetime) -> datetime:
    """The first cut instant strictly after ``at``: the cut that holds an action recorded at ``at``."""
    local = at.astimezone(TOKYO)
    for day in (local.date(), local.date() + timedelta(days=1)):
        for cut in _cuts_of_day(day):
            if cut > local:
                return cut
    raise AssertionError("unreachable")  # pragma: no cover


def cut_at_or_before(at: datetime) -> datetime:
    """The latest cut instant at or before ``at``."""
    local = at.astimezone(TOKYO)
    for day in (local.date(), local.date() - timedelta(days=1)):
        for cut in reversed(_cuts_of_day(day)):
            if cut <= local:
                return cut
    raise AssertionError("unreachable")  # pragma: no cover


def previous_cut(cut: datetime) -> datetime:
    return cut_at_or_before(cut - timedelta(microseconds=1))


def cuts_between(start: datetime, end: datetime) -> list[datetime]:
    """Every cut instant in [start, end], oldest first."""
    found: list[datetime] = []
    cut = cut_at_or_before(end)
    while cut >= start:
        found.append(cut)
        cut = previous_cut(cut)
    return found[::-1]


_DAY_US = 86_400_000_000
_CUTS_UTC_US = tuple(((h - 9) % 24) * 3_600_000_000 for h in sorted(CUT_HOURS, key=lambda h: (h - 9) % 24))


def cut_micros_for(recorded_micros: int) -> int:
    """The cut (as microseconds) that holds an action recorded at ``recorded_micros``.

    Plain arithmetic (Tokyo has no daylight saving: the cuts are 17:00 and 02:00 UTC) because
    the seeder calls it for millions of rows; ``cut_after`` is the readable reference.
    """
    day, into = divmod(recorded_micros, _DAY_US)
    for offset in _CUTS_UTC_US:
        if into < offset:
            return day * _DAY_US + offset
    return (day + 1) * _DAY_US + _CUTS_UTC_US[0]


@dataclass
class Clock:
    """The service's "now": the wall clock unless a test or trial fixed it (PUT /_sandbox/clock)."""

    fixed: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def now(self) -> datetime:
        return self.fixed if self.fixed is not None else clock.now()

    def set(self, at: datetime | None) -> None:
        with self._lock:
            self.fixed = at
