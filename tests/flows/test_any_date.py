"""The suite on any date: the demo world synced with the clock moved to the instants that bite.

Each test moves renkei's one clock (``schemas.clock``) — the stand-ins, the seeders and the pipeline
read it — and seeds the world relative to it, so the data is always recent for the cut being staged:
today, a month ahead, both sides of a cut (01:59:59 / 02:00:00 JST) and of kintone's budget day
(08:59:59 / 09:00:00 JST, the UTC midnight), the last day of a month and of a year, a leap day.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.sync import sync_report
from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes
from sandbox.satori.clock import cut_after, cut_at_or_before
from schemas import clock
from schemas.report import RunReport
from schemas.staging import JST, format_cut
from schemas.validate import load_spec
from tasks.clients import state_store

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
SIZES = DemoSizes(customers=40, actions=600, cards=12, recent=0.2)
TODAY = clock.now().astimezone(JST).replace(microsecond=0)
INSTANTS = {
    "today": TODAY,
    "in 30 days": TODAY + timedelta(days=30),
    "01:59:59 before a cut": datetime(2027, 3, 15, 1, 59, 59, tzinfo=JST),
    "02:00:00 a cut": datetime(2027, 3, 15, 2, 0, tzinfo=JST),
    "08:59:59 before kintone's day": datetime(2027, 3, 15, 8, 59, 59, tzinfo=JST),
    "09:00:00 kintone's new day": datetime(2027, 3, 15, 9, 0, tzinfo=JST),
    "last day of a month": datetime(2027, 4, 30, 23, 59, 59, tzinfo=JST),
    "last day of a year": datetime(2027, 12, 31, 23, 59, 59, tzinfo=JST),
    "leap day": datetime(2028, 2, 29, 12, 0, tzinfo=JST),
}


@contextmanager
def world_at(at: datetime, folder: Path, sizes: DemoSizes = SIZES, **kintone: Any) -> Iterator[Path]:
    """The demo world seeded up to ``at`` with the clock standing there; yields its spec's path."""
    with clock.clock_at(at), DemoEnvironment(folder / "env", sizes, ports=DemoPorts.free()) as env:
        doc = env.spec_document(DEMO)
        doc["storage"] = {"staging": str(folder / "staging"), "state": f"sqlite:///{folder / 'state.db'}"}
        for target in doc["targets"]:
            if target["kind"] == "kintone":
                target.update(kintone)
        path = folder / "spec.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        yield path


def counts(report: RunReport) -> dict[tuple[str, str], Any]:
    return {(line.target, line.stream): line.counts for line in report.lines}


@pytest.mark.parametrize("at", INSTANTS.values(), ids=INSTANTS.keys())
def test_a_sync_on_any_date_delivers_the_newest_cut_once(
    prefect_harness: None, tmp_path: Path, at: datetime
) -> None:
    with world_at(at, tmp_path) as spec:
        report = sync_report(str(spec))
        again = sync_report(str(spec))
    assert report.cuts == [format_cut(cut_at_or_before(at))]  # the newest cut, by the moved clock
    assert report.next_cut == format_cut(cut_after(at))
    lines = counts(report)
    for stream in ("actions:form", "actions:email"):
        assert lines[("kintone-customers", stream)].loaded > 0, (stream, report.table())
    assert lines[("salesforce-leads", "actions:form")].loaded > 0
    assert lines[("kintone-customers", "customers:snapshot")].loaded == SIZES.customers
    assert report.balanced and not report.failures, report.table()
    assert again.cuts == [] and again.balanced and not again.failures
    assert all(line.counts.loaded == 0 for line in again.lines), again.table()


def test_a_cut_reached_between_two_runs_is_staged_once_with_only_its_rows(
    prefect_harness: None, tmp_path: Path
) -> None:
    before, cut = INSTANTS["01:59:59 before a cut"], INSTANTS["02:00:00 a cut"]
    with world_at(before, tmp_path) as spec:
        first = sync_report(str(spec))
        with clock.clock_at(cut):
            second = sync_report(str(spec))
    assert first.cuts == [format_cut(cut_at_or_before(before))] == ["20270314T1100+0900"]
    assert second.cuts == [format_cut(cut)] == ["20270315T0200+0900"]
    for report in (first, second):
        assert report.balanced and not report.failures, report.table()
        assert counts(report)[("kintone-customers", "actions:email")].loaded > 0
    # the second run sends no snapshot again, only the customers changed in between: those the
    # first run's Sansan import created in the MA before 02:00
    created = counts(first)[("sansan-cards", "inbound")].loaded
    assert ("kintone-customers", "customers:snapshot") not in counts(second)
    assert counts(second)[("kintone-customers", "customers")].loaded == created > 0, second.table()


def test_kintones_budget_day_turns_at_0900_jst(prefect_harness: None, tmp_path: Path) -> None:
    """Rows deferred at 08:59:59 for a spent budget go at 09:00:00, charged to the new day."""
    before, after = INSTANTS["08:59:59 before kintone's day"], INSTANTS["09:00:00 kintone's new day"]
    sizes = DemoSizes(customers=150, actions=600, cards=12, recent=0.2)
    # a day's budget: the form, the app's first page (the email-uniqueness guard), one batch of 100
    with world_at(before, tmp_path, sizes, daily_request_budget=3, concurrency=1) as spec:
        first = sync_report(str(spec))
        with clock.clock_at(after):
            second = sync_report(str(spec))
    customers = ("kintone-customers", "customers:snapshot")
    assert counts(first)[customers].deferred > 0, first.table()
    done, rest = counts(first)[customers], counts(second)[customers]
    # what was loaded before 09:00 is not sent again; the rest (and customers new since) goes after it
    assert (rest.skipped, rest.deferred, rest.loaded) == (done.loaded, 0, rest.received - done.loaded)
    state = state_store(load_spec(spec))
    used = {
        day: state.requests_used("kintone-customers", "app:1", day) for day in ("2027-03-14", "2027-03-15")
    }
    assert used == {"2027-03-14": 3, "2027-03-15": 3}  # each day's whole budget, on its own day
