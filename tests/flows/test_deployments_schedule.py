"""Deployments: sync at 02:00 and 11:00 Asia/Tokyo, the on-demand flows with described parameters."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prefect.server.schemas.schedules import CronSchedule

from deployments.serve import build_deployments
from schemas.schedule import cron_for_cuts

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("cuts", "cron"),
    [
        (["02:00", "11:00"], ["0 2,11 * * *"]),
        (["11:00", "02:00"], ["0 2,11 * * *"]),
        (["02:30", "11:00", "18:30"], ["0 11 * * *", "30 2,18 * * *"]),
    ],
)
def test_cron_for_cuts(cuts: list[str], cron: list[str]) -> None:
    assert cron_for_cuts(cuts) == cron


def test_sync_runs_next_at_02_and_11_tokyo() -> None:
    deployments = {d.name: d for d in build_deployments(DEMO)}
    (schedule,) = deployments["demo-sync"].schedules
    client_side = schedule.schedule
    server_side = CronSchedule(cron=client_side.cron, timezone=client_side.timezone)
    start = datetime(2026, 11, 28, 3, 0, tzinfo=TOKYO)  # after the 02:00 run
    dates = asyncio.run(server_side.get_dates(n=4, start=start))
    assert [(d.astimezone(TOKYO).day, d.astimezone(TOKYO).hour, d.minute) for d in dates] == [
        (28, 11, 0), (29, 2, 0), (29, 11, 0), (30, 2, 0),
    ]  # fmt: skip
    assert all(d.utcoffset().total_seconds() == 9 * 3600 for d in dates)  # type: ignore[union-attr]
    assert deployments["demo-sync"].concurrency_limit == 1


def test_on_demand_deployments_have_described_parameters() -> None:
    deployments = {d.name: d for d in build_deployments(DEMO)}
    assert set(deployments) == {"demo-sync", "demo-backfill", "demo-plan", "demo-replay", "demo-audit"}
    for name in ("demo-backfill", "demo-plan", "demo-replay", "demo-audit"):
        assert deployments[name].schedules == []
        schema = deployments[name]._parameter_openapi_schema
        assert schema is not None
        for parameter, definition in schema.properties.items():
            assert definition.get("description"), f"{name}.{parameter} has no description for the UI form"
    backfill = deployments["demo-backfill"]._parameter_openapi_schema.properties
    assert backfill["start"]["format"] == "date" and backfill["end"]["format"] == "date"  # whole days
    assert backfill["start"]["title"] == "start (Asia/Tokyo)"
    assert backfill["targets"]["items"]["enum"] == ["kintone-customers", "salesforce-leads", "sansan-cards"]
    for deployment in deployments.values():  # the spec is the deployment's, not the form's
        assert deployment.parameters["spec_path"] == str(DEMO.resolve())
        assert deployment._parameter_openapi_schema.properties["spec_path"]["readOnly"] is True
