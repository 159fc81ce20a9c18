"""The Prefect UI as the operator sees it, in headless Chromium, against a real local Prefect server.

One module-scoped server (``prefect server start`` on a free port, its database under tmp) and a
small demo world: a sync whose kintone token is refused, a sync with rejected rows only, a backfill,
and the five deployments. Each test asserts what a person would see and keeps a screenshot under
``var/screenshots`` for a reviewer.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from prefect.client.schemas.objects import State
from prefect.logging.handlers import APILogWorker

from deployments.serve import build_deployments
from deployments.server import local_server
from flows.extract import backfill
from flows.sync import sync
from sandbox.common import free_port
from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes
from schemas.clock import now
from schemas.staging import JST
from tests.flows.test_run_states import spec_file

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parents[2] / "var" / "screenshots"
REFUSED = {"kintone-customers": {"auth": {"api_token": "refusedToken0000000000000000000000000001"}}}
TARGETS = ["kintone-customers", "salesforce-leads", "sansan-cards"]
expect.set_options(timeout=30_000)  # the UI polls; a loaded 2-core machine answers slowly


class World:
    """The server's UI URL and the runs made against it."""

    def __init__(self, ui: str, env: DemoEnvironment, folder: Path):
        self.ui, self.env, self.folder = ui, env, folder
        self.runs: dict[str, UUID] = {}

    def spec(self, name: str, **changes: dict[str, Any]) -> str:
        (self.folder / name).mkdir(exist_ok=True)
        return spec_file(self.env, self.folder / name, **changes)

    def keep(self, name: str, state: State[Any]) -> None:
        run_id = state.state_details.flow_run_id
        assert isinstance(run_id, UUID)
        self.runs[name] = run_id

    def api(self, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(f"{self.ui}/api{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("prefect-ui")
    sizes = DemoSizes(customers=40, actions=300, cards=20)
    with (
        local_server(free_port(), folder / "prefect") as ui,
        DemoEnvironment(folder / "env", sizes, ports=DemoPorts.free()) as env,
    ):
        made = World(ui, env, folder)
        made.keep("failed", sync(made.spec("failed", **REFUSED), ["kintone-customers"], return_state=True))
        made.keep("rejections", sync(made.spec("clean"), ["sansan-cards"], return_state=True))
        today = now().astimezone(JST).date()  # the spec's days, not UTC's
        made.keep("backfill", backfill(made.spec("clean"), today - timedelta(days=1), today,
                                       ["kintone-customers"], return_state=True))  # fmt: skip
        for deployment in build_deployments(made.folder / "clean" / "spec.yaml"):
            deployment.apply()
        APILogWorker.drain_all(timeout=60)  # the runs' last log lines are on the server before a page asks
        yield made


@pytest.fixture(scope="module")
def browser_page(world: World) -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(
            viewport={"width": 1400, "height": 1000}, locale="ja-JP", timezone_id="Asia/Tokyo"
        )
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def shot(page: Page, name: str) -> None:
    page.wait_for_timeout(1_000)  # let the charts settle before the picture
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_the_failed_sync_is_shown_failed_with_its_step(world: World, browser_page: Page) -> None:
    page = browser_page
    page.goto(f"{world.ui}/runs/flow-run/{world.runs['failed']}")
    header = page.get_by_role("banner")
    expect(header).to_contain_text("sync demo ")
    expect(header).to_contain_text("Failed")
    expect(page.get_by_text("kintone-customers: load failed — ").first).to_be_visible()
    shot(page, "failed-run")

    page.goto(f"{world.ui}/runs")
    expect(page.get_by_text("sync demo ").first).to_be_visible()
    expect(page.get_by_text("Completed with rejections").first).to_be_visible()
    expect(page.get_by_text("Failed", exact=True).first).to_be_visible()
    shot(page, "runs")


def test_the_counts_table_has_a_row_per_target_and_stream(world: World, browser_page: Page) -> None:
    (artifact,) = world.api(
        "/artifacts/filter",
        {
            "artifacts": {
                "key": {"any_": ["demo-counts"]},
                "flow_run_id": {"any_": [str(world.runs["rejections"])]},
            }
        },
    )
    page = browser_page
    page.goto(f"{world.ui}/artifacts/artifact/{artifact['id']}")
    table = page.locator("table").first
    expect(table).to_contain_text("反映 loaded")
    expect(table).to_contain_text("変更なし unchanged")
    expect(table).to_contain_text("sansan-cards")
    shot(page, "counts-table")


def test_the_backfill_form_offers_the_specs_targets_and_days(world: World, browser_page: Page) -> None:
    (deployment,) = world.api("/deployments/filter", {"deployments": {"name": {"any_": ["demo-backfill"]}}})
    page = browser_page
    page.goto(f"{world.ui}/deployments/deployment/{deployment['id']}/run")
    expect(page.get_by_text("start (Asia/Tokyo)")).to_be_visible()
    picker = page.locator("button.p-select-button__control").filter(has_text="No items selected")
    picker.focus()
    page.keyboard.press("ArrowDown")  # opens the choice of targets
    for name in TARGETS:
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    shot(page, "backfill-form")


def test_the_backfill_run_is_named_by_its_days(world: World, browser_page: Page) -> None:
    page = browser_page
    page.goto(f"{world.ui}/runs/flow-run/{world.runs['backfill']}")
    today = now().astimezone(JST).date()  # the spec's days, not UTC's
    title = f"backfill demo {today - timedelta(days=1):%Y-%m-%d}…{today:%m-%d}"
    header = page.get_by_role("banner")
    expect(header).to_contain_text(title)
    expect(header).to_contain_text("Completed")
    shot(page, "backfill-run")


def test_the_sync_deployment_runs_next_at_a_cut(world: World, browser_page: Page) -> None:
    (deployment,) = world.api("/deployments/filter", {"deployments": {"name": {"any_": ["demo-sync"]}}})
    page = browser_page
    page.goto(f"{world.ui}/deployments/deployment/{deployment['id']}")
    expect(page.get_by_text("At 02:00 AM and 11:00 AM").first).to_be_visible()
    scheduled = page.get_by_text("Scheduled for").first  # the browser's zone is Asia/Tokyo
    expect(scheduled).to_contain_text(":00:00")
    assert any(hour in scheduled.inner_text() for hour in ("02:00:00 AM", "11:00:00 AM"))
    shot(page, "sync-deployment")
