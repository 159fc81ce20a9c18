"""A failure report is never lost: recorded before sending, marked sent only once the server took it.

Before the fix, when the SMTP relay refused the message (554) the run exited 1 and the next run, with
mail working, sent nothing: a quarantine entry counted as "already reported" and "email sent" was
recorded per run. The same after a kill -9 while the email was being sent. The rows stayed
quarantined and no person was ever told. Now the report waits in the outbox until a server accepts
it (the next run, or `renkei notify --resend`), and a row is reported only once a message naming it
was accepted.
"""

from __future__ import annotations

import csv
import io
import signal
from email.message import EmailMessage
from pathlib import Path

import httpx
from typer.testing import CliRunner

from connectors.state.outbox import Outbox
from deployments.cli import app
from flows.sync import sync_report
from sandbox.demo_env import DemoEnvironment
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.reliability.cli_run import demo_spec, run_until


def mails(env: DemoEnvironment) -> list[EmailMessage]:
    assert env.mail is not None
    return env.mail.messages


def attached_keys(message: EmailMessage) -> list[str]:
    parts = list(message.iter_attachments())
    if not parts:
        return []
    raw = parts[0].get_payload(decode=True)
    assert isinstance(raw, bytes)
    rows = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    return [row["再送用のキー / key (for replay)"] for row in rows]  # the CSV's bilingual key column


def text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def open_keys(spec_path: Path) -> list[str]:
    return sorted(row.key for row in state_store(load_spec(spec_path)).quarantined())


def add_card_without_email(env: DemoEnvironment, name: str) -> None:
    card = {
        "email": "",
        "lastName": "未登録",
        "firstName": name,
        "companyName": "名刺株式会社",
        "exchangeDate": "2026-11-20",
        "entryStatus": "completed",
    }
    httpx.post(env.servers["sansan"].url + "/_sandbox/cards", json={"cards": [card]}).raise_for_status()


def test_a_report_the_relay_refused_goes_out_with_the_next_run(
    prefect_harness: None, small_demo: DemoEnvironment, tmp_path: Path
) -> None:
    assert small_demo.mail is not None
    path = demo_spec(small_demo, tmp_path)
    before = len(mails(small_demo))
    small_demo.mail.refuse_next = 1  # 554: the relay refuses the first report for good
    first = sync_report(str(path))
    assert [f.step for f in first.failures] == ["email"] and "554" in first.failures[0].message
    kept = open_keys(path)
    assert len(mails(small_demo)) == before and kept  # rows quarantined, nobody told

    add_card_without_email(small_demo, f"outbox-{tmp_path.name}")  # something new for the next report
    second = sync_report(str(path))
    resent, own = mails(small_demo)[before:]
    assert first.run_id in str(resent["Subject"]) and "再送 / resent" in str(resent["Subject"])
    assert sorted(attached_keys(resent)) == open_keys(path)[: len(attached_keys(resent))] or attached_keys(
        resent
    )
    assert set(attached_keys(resent)) | set(attached_keys(own)) == set(open_keys(path))
    assert second.run_id in str(own["Subject"])
    body = text(own)
    assert "届かなかった以前の通知" in body and first.run_id in body and "554" in body
    assert "Earlier reports that were not delivered" in body and "sent again with this run" in body
    assert Outbox(state_store(load_spec(path))).unreported() == []  # every row named in a delivered report

    sync_report(str(path))  # nothing new, nothing pending: no third email
    assert len(mails(small_demo)) == before + 2


def test_notify_resend_delivers_what_the_runs_could_not(
    prefect_harness: None, small_demo: DemoEnvironment, tmp_path: Path
) -> None:
    assert small_demo.mail is not None
    path = demo_spec(small_demo, tmp_path)
    before = len(mails(small_demo))
    small_demo.mail.refuse_next = 2
    first = sync_report(str(path))
    assert first.failures and len(mails(small_demo)) == before
    runner = CliRunner()
    refused = runner.invoke(app, ["notify", "--resend", str(path)])
    assert refused.exit_code == 1 and first.run_id in refused.output and "554" in refused.output
    sent = runner.invoke(app, ["notify", "--resend", str(path)])
    assert sent.exit_code == 0, sent.output
    (message,) = mails(small_demo)[before:]
    assert first.run_id in str(message["Subject"]) and sorted(attached_keys(message)) == open_keys(path)
    again = runner.invoke(app, ["notify", "--resend", str(path)])
    assert again.exit_code == 0 and len(mails(small_demo)) == before + 1


def test_a_run_killed_while_sending_is_reported_by_the_next(
    prefect_harness: None, small_demo: DemoEnvironment, tmp_path: Path
) -> None:
    path = demo_spec(small_demo, tmp_path)
    before = len(mails(small_demo))
    stopped = run_until(path, "send-email", signal.SIGKILL, tmp_path)
    assert stopped.reached, stopped.stderr[-2000:]
    assert len(mails(small_demo)) == before  # killed before the server had it
    (pending,) = Outbox(state_store(load_spec(path))).pending()
    sync_report(str(path))
    (message,) = mails(small_demo)[before:]
    assert pending.run_id in str(message["Subject"]) and sorted(attached_keys(message)) == open_keys(path)
