"""The spec's cut times (02:00 and 11:00 by default): the sync schedule's cron lines and the next cut."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas import clock
from schemas.spec import Spec
from schemas.staging import format_cut


def cron_for_cuts(cuts: list[str]) -> list[str]:
    """``["02:00", "11:00"]`` → ``["0 2,11 * * *"]``; cut times with other minutes get their own line."""
    hours_by_minute: dict[int, list[int]] = defaultdict(list)
    for cut in cuts:
        hour, minute = (int(part) for part in cut.split(":"))
        hours_by_minute[minute].append(hour)
    return [
        f"{minute} {','.join(str(h) for h in sorted(hours))} * * *"
        for minute, hours in sorted(hours_by_minute.items())
    ]


def next_cut(spec: Spec, now: datetime | None = None) -> str:
    """The next scheduled cut after ``now`` in the spec's timezone."""
    zone = ZoneInfo(spec.timezone)
    moment = (now or clock.now()).astimezone(zone)
    for days in range(3):
        day = moment.date() + timedelta(days=days)
        for at in sorted(time.fromisoformat(c) for c in spec.cuts):
            candidate = datetime.combine(day, at, zone)
            if candidate > moment:
                return format_cut(candidate)
    raise ValueError("the spec has no cut times")
