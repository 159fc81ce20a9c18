"""Flow run names a person can read: ``sync acme 2026-12-08 02:00 JST``, ``backfill acme 2026-11-25…11-28``.

Prefect calls these when a run starts; they read the run's parameters and scheduled time, so a
scheduled run is named after the cut it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect.runtime import flow_run

from schemas import clock
from schemas.validate import load_spec

DEFAULT_ZONE = "Asia/Tokyo"


def _company_and_zone() -> tuple[str, ZoneInfo]:
    path = str(flow_run.parameters.get("spec_path", ""))
    try:
        spec = load_spec(path)
    except Exception:  # a name never stops a run: the flow itself reports a bad spec
        return Path(path).stem or "renkei", ZoneInfo(DEFAULT_ZONE)
    return spec.company, ZoneInfo(spec.timezone)


def timed(flow: str) -> Callable[[], str]:
    """``<flow> <company> <scheduled time in the spec's zone>``."""

    def name() -> str:
        company, zone = _company_and_zone()
        at = _run_time().astimezone(zone)
        return f"{flow} {company} {at:%Y-%m-%d %H:%M} {at.tzname()}"

    return name


def backfill_name() -> str:
    """``backfill <company> <first day>…<last day>`` (the range in the spec's zone)."""
    company, zone = _company_and_zone()
    today = _run_time().astimezone(zone).date()
    first = _as_date(flow_run.parameters.get("start"), today)
    last = _as_date(flow_run.parameters.get("end"), first)  # as the flow reads them: one day by default
    tail = f"{last:%m-%d}" if last.year == first.year else f"{last:%Y-%m-%d}"
    return f"backfill {company} {first:%Y-%m-%d}…{tail}"


def _run_time() -> datetime:
    """When the run was due (a scheduled run: its cut), or the moved clock's now in a trial."""
    return clock.now() if clock.moved() else flow_run.scheduled_start_time


def _as_date(value: object, default: date) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10]) if value else default


def artifact_key(company: str, what: str) -> str:
    """Prefect artifact keys take lower-case letters, digits and dashes only."""
    safe = "".join(ch if ch.isalnum() and ch.isascii() else "-" for ch in company.lower()).strip("-")
    return f"{safe or 'company'}-{what}"
