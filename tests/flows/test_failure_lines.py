"""Failures in one line, as a person sees them: `renkei run` with the Salesforce stand-in stopped, a
refused kintone token, a held lock — one line each, the spec entry to fix, no traceback, and the
failure email saying the same in Japanese and English."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from prefect.settings import get_current_settings

from flows.sync import sync_report
from sandbox.demo_env import DemoEnvironment, DemoSizes
from schemas.failures import failure_lines
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.flows.conftest import demo_spec_file, demo_world

RENKEI = Path(sys.executable).with_name("renkei")
NOISE = ("Traceback", "HTTPSConnectionPool", "PolicyRetry", "urllib3", "MaxRetryError")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    with demo_world(
        tmp_path_factory, "failure-lines", DemoSizes(customers=40, actions=200, cards=10)
    ) as running:
        yield running


def renkei_run(spec: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """`renkei run SPEC` as a person runs it, on the test's Prefect server, LANG naming no language."""
    environment = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url), "LANG": "C.UTF-8"}
    environment.pop("COLUMNS", None)
    return subprocess.run(
        [str(RENKEI), "run", str(spec)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
    )


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_refused_kintone_token_names_the_spec_entry_to_fix(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    broken = {"kintone-customers": {"auth": {"api_token": "refusedToken0000000000000000000000000001"}}}
    report = sync_report(str(demo_spec_file(env, tmp_path, **broken)), ["kintone-customers"])
    (line,) = failure_lines(report, "en")
    assert line.startswith(
        "kintone-customers (targets[0].auth (kintone)): the target refused the credentials ("
    )
    assert "check this target's auth" in line and "next cut" not in line  # fixed by a person, not by waiting
    (ja,) = failure_lines(report, "ja")
    assert ja.startswith("kintone-customers（targets[0].auth (kintone)）: 連携先が認証情報を拒否しました")
    assert {f.step for f in report.failures} == {"load", "write back"}  # a refusal is asked once per step


def test_a_held_lock_is_one_line_without_a_traceback(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    spec = demo_spec_file(env, tmp_path)
    store = state_store(load_spec(spec))
    holder = store.start_run("sync", None, "holder-run")
    assert store.acquire_lock(holder) is None
    try:
        done = renkei_run(spec, tmp_path)
    finally:
        store.release_lock(holder)
    printed = (done.stdout + done.stderr).strip()
    assert done.returncode == 3, printed
    assert len(printed.splitlines()) == 1 and "a sync run (run holder-run) is writing" in printed, printed


def test_a_stopped_target_is_one_line_in_the_terminal_and_in_each_language_of_the_email(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    assert env.mail is not None
    spec = demo_spec_file(env, tmp_path)
    env.servers["salesforce"].stop()  # for good: this test comes last in the module
    before = len(env.mail.messages)
    done = renkei_run(spec, tmp_path)
    printed = done.stdout + done.stderr
    assert done.returncode == 1, printed
    about = [line for line in printed.splitlines() if "salesforce" in line.lower()]
    assert 1 <= len(about) <= 3, printed
    assert not [noise for noise in NOISE if noise in printed], printed
    (final,) = [line for line in about if "targets[1].url (salesforce)" in line]
    assert "連携先に接続できません" in final and "the target did not answer" in final
    assert "load: 12 attempt(s) in" in final and "(write back not attempted)" in final and "next cut" in final
    (mail,) = env.mail.messages[before:]
    ja, en = body(mail).split("-" * 60)
    where = "salesforce-leads（targets[1].url (salesforce)）"
    assert f"- {where}: 連携先に接続できません（応答なし） — 送信: 12 回試行" in ja
    assert "- salesforce-leads (targets[1].url (salesforce)): the target did not answer (no connection)" in en
    assert "Traceback" not in body(mail) and "HTTPSConnectionPool" not in body(mail)
