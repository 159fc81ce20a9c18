"""The spec's cut times (02:00 and 11:00 by default) as cron expressions for the sync schedule."""

from __future__ import annotations

from collections import defaultdict


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
