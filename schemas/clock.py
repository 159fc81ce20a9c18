"""One clock for renkei and its stand-ins (時計): the business time of cuts, windows and dates.

Everything that asks "what time is it?" for a business reason — which cuts exist, the window of
changed records, the timestamp a stand-in gives a record, kintone's budget day, a run's name, the
seeded sample data — reads ``now()``. By default that is the wall clock. Two variables move it, for
a trial or a test, in every renkei process that inherits them:

- ``RENKEI_NOW``: an ISO 8601 instant with its offset; the clock stands still there.
- ``RENKEI_CLOCK_OFFSET``: seconds to add to the wall clock; the clock runs on from there.

Transport time (Retry-After dates, token expiry, timeouts) stays on the wall clock on purpose:
the real services keep real time. This is the one module of ``schemas`` that reads the world.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

NOW_ENV = "RENKEI_NOW"
OFFSET_ENV = "RENKEI_CLOCK_OFFSET"


class ClockSettingError(ValueError):
    """A clock variable that cannot be read; the message names the variable and the form it takes."""


def _fixed() -> datetime | None:
    text = os.environ.get(NOW_ENV, "").strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ClockSettingError(
            f"{NOW_ENV}={text!r}: 日時はオフセット付きで指定してください / give an instant with its offset,"
            " e.g. 2027-01-01T01:59:59+09:00"
        )
    return at.astimezone(UTC)


def _offset() -> timedelta:
    text = os.environ.get(OFFSET_ENV, "").strip()
    if not text:
        return timedelta(0)
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        raise ClockSettingError(
            f"{OFFSET_ENV}={text!r}: 秒数で指定してください / give seconds, e.g. 86400 for a day ahead"
        ) from None


def now() -> datetime:
    """The current instant as renkei sees it: timezone-aware, in UTC."""
    return _fixed() or datetime.now(UTC) + _offset()


def moved() -> bool:
    """Whether the clock is not the wall clock (say so where a person reads times)."""
    return bool(os.environ.get(NOW_ENV, "").strip() or os.environ.get(OFFSET_ENV, "").strip())


@contextmanager
def clock_at(at: datetime, *, running: bool = False) -> Iterator[None]:
    """Inside the block the clock reads ``at`` (standing still, or running on from it when ``running``).

    It sets the variables above, so stand-ins in threads and child processes see the same time.
    """
    if at.tzinfo is None:
        raise ClockSettingError("the clock needs an instant with its offset")
    saved = {name: os.environ.get(name) for name in (NOW_ENV, OFFSET_ENV)}
    os.environ.pop(NOW_ENV, None)
    os.environ.pop(OFFSET_ENV, None)
    if running:
        os.environ[OFFSET_ENV] = repr((at - datetime.now(UTC)).total_seconds())
    else:
        os.environ[NOW_ENV] = at.isoformat()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
