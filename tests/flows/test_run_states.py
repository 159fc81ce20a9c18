"""A run's final state tells the truth, read back through the Prefect API (what the UI shows).

Failed when any step failed (extract, a target's load, its write back), "Completed with rejections"
when rows were only rejected, Cancelled ("Skipped") without an email when another run held the lock;
readable run names; the run's UI URL in the report; a backfill that delivers past the watermark.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.logging.handlers import APILogWorker

from flows.extract import backfill
from flows.states import report_of
from flows.sync import sync
from sandbox.common import free_port
from sandbox.demo_env import KINTONE_TOKENS, DemoEnvironment, DemoSizes
from schemas.clock import now
from schemas.report import RunReport
from schemas.staging import JST
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.flows.conftest import demo_spec_file, demo_world

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
FORM_APP = 2


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    with demo_world(
        tmp_path_factory, "run-states", DemoSizes(customers=60, actions=600, cards=20)
    ) as running:
        yield running


def spec_file(env: DemoEnvironment, folder: Path, **changes: dict[str, Any]) -> str:
    return str(demo_spec_file(env, folder, **changes))


def flow_run(state: State[Any]) -> FlowRun:
    run_id = state.state_details.flow_run_id
    assert isinstance(run_id, UUID)
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def mails(env: DemoEnvironment) -> int:
    assert env.mail is not None
    return len(env.mail.messages)


def test_rejected_rows_only_complete_under_their_own_name(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    state = sync(spec_file(env, tmp_path), ["sansan-cards"], return_state=True)
    run = flow_run(state)
    assert run.state is not None
    assert run.state.type is StateType.COMPLETED and run.state.name == "Completed with rejections"
    report = report_of(state)
    assert report is not None and report.totals.rejected > 0 and not report.failures
    assert run.name.startswith("sync demo ") and run.name.endswith(" JST")
    n = report.totals.rejected
    message = run.state.message or ""  # what the UI shows beside the state: Japanese first
    assert message.startswith(f"入力 {report.totals.received}・") and f"エラー {n}・" in message
    assert f"rejected {n}, " in message
    APILogWorker.drain_all(timeout=30)
    with get_client(sync_client=True) as client:  # the run's log says what to do, at WARNING
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    warned = [log.message for log in logs if log.level == logging.WARNING]
    assert any(m.startswith(f"エラー {n} 件: ") and "renkei replay" in m for m in warned), warned


def test_a_refused_token_fails_the_run_with_one_line_per_step(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    before = mails(env)
    broken = {"kintone-customers": {"auth": {"api_token": "refusedToken0000000000000000000000000001"}}}
    state = sync(spec_file(env, tmp_path, **broken), ["kintone-customers"], return_state=True)
    run = flow_run(state)
    assert run.state is not None and run.state.type is StateType.FAILED
    lines = (run.state.message or "").splitlines()
    assert lines and all(line.startswith("kintone-customers: ") for line in lines)
    assert "kintone-customers: load failed — " in lines[0]
    with get_client(sync_client=True) as client:  # the failed step is red in the graph too
        subflows = client.read_flow_runs()
    (load,) = [r for r in subflows if r.parent_task_run_id and r.name == "load kintone-customers"
               and r.state and r.state.timestamp >= run.start_time]  # fmt: skip
    assert load.state is not None and load.state.type is StateType.FAILED
    assert mails(env) == before + 1  # one email, the run's own report (not a crash notice)
    assert env.mail is not None
    mail = env.mail.messages[-1]
    assert "crashed" not in mail["Subject"]
    body = mail.get_body(("plain",))
    assert body is not None and f"flow-run/{run.id}" in body.get_content()  # the run's UI page


def test_an_unreachable_ma_fails_the_extract_step(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    state = sync(spec_file(env, tmp_path, ma={"token": "wrong-token"}), ["sansan-cards"], return_state=True)
    run = flow_run(state)
    assert run.state is not None and run.state.type is StateType.FAILED
    assert "MA: extract failed — " in (run.state.message or "")


def test_a_failed_write_back_fails_the_run(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    broken = {"sansan-cards": {"auth": {"api_key": "refused0000000000000000000000000"}}}
    state = sync(spec_file(env, tmp_path, **broken), ["sansan-cards"], return_state=True)
    run = flow_run(state)
    assert run.state is not None and run.state.type is StateType.FAILED
    assert (run.state.message or "").startswith("sansan-cards: write back failed — ")


def test_a_refused_failure_email_fails_the_run(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    path = spec_file(env, tmp_path)
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    data["notify"]["smtp"]["port"] = free_port()  # nothing listens there: the email cannot be sent
    Path(path).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    state = sync(path, ["sansan-cards"], return_state=True)  # rejected cards: an email is due
    run = flow_run(state)
    assert run.state is not None and run.state.type is StateType.FAILED
    assert (run.state.message or "").startswith("notify: email failed — ")


def test_a_held_lock_skips_the_run_without_failing_or_mailing(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    path = spec_file(env, tmp_path)
    store = state_store(load_spec(path))
    holder = store.start_run("sync", None, "holder-run")
    assert store.acquire_lock(holder) is None
    before = mails(env)
    state = sync(path, return_state=True)
    run = flow_run(state)
    assert run.state is not None
    assert run.state.type is StateType.CANCELLED and run.state.name == "Skipped"
    assert "a sync run (run holder-run) is writing" in (run.state.message or "")
    assert mails(env) == before and [r["id"] for r in store.runs()] == ["holder-run"]
    store.release_lock(holder)


def kintone_records(env: DemoEnvironment, app: int) -> int:
    url = f"{env.servers['kintone'].url}/k/v1/records.json"
    params: dict[str, Any] = {"app": app, "totalCount": "true", "query": "limit 1"}
    answer = httpx.get(url, params=params, headers={"X-Cybozu-API-Token": KINTONE_TOKENS[FORM_APP - 1]})
    return int(answer.json()["totalCount"])


def test_a_backfill_fills_an_empty_action_app_past_the_watermark_once(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    mail_only = {"kintone-customers": {"actions": {"email": {"app": 3}}}}
    report = report_of(sync(spec_file(env, tmp_path, **mail_only), ["kintone-customers"], return_state=True))
    assert report is not None and report.cuts and kintone_records(env, FORM_APP) == 0
    delivered = load_spec(spec_file(env, tmp_path))  # the form app is added to the spec afterwards
    mark = state_store(delivered).watermark("kintone-customers", "outbound")
    assert mark == report.cuts[-1]

    today = now().astimezone(JST).date()  # the spec's days, not UTC's
    first = backfill(str(tmp_path / "spec.yaml"), today - timedelta(days=2), today, ["kintone-customers"],
                     return_state=True)  # fmt: skip
    filled = report_of(first)
    assert isinstance(filled, RunReport) and not filled.failures and len(filled.cuts) >= 2
    lines = {line.stream: line.counts for line in filled.lines}
    assert lines["actions:form"].loaded > 0 and lines["actions:form"].loaded == kintone_records(env, FORM_APP)
    assert lines["actions:email"].skipped > 0  # the newest cut's emails: held already, not sent again
    assert flow_run(first).name == f"backfill demo {today - timedelta(days=2):%Y-%m-%d}…{today:%m-%d}"

    writes_before = len(env.servers["kintone"].request_log.writes())
    again = report_of(backfill(str(tmp_path / "spec.yaml"), today - timedelta(days=2), today,
                               ["kintone-customers"], return_state=True))  # fmt: skip
    assert again is not None and not again.failures
    assert all(line.counts.loaded == 0 for line in again.lines), again.table()
    assert sum(line.counts.skipped for line in again.lines) >= lines["actions:form"].loaded
    assert len(env.servers["kintone"].request_log.writes()) == writes_before  # nothing written twice


def test_a_backfill_without_targets_says_it_only_staged(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    today = now().astimezone(JST).date()  # the spec's days, not UTC's
    report = report_of(backfill(spec_file(env, tmp_path), today, today, return_state=True))
    assert report is not None and report.staged_only and report.lines == [] and report.cuts
