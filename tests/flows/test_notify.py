"""The failure email end to end: state DB → message → a real SMTP server (aiosmtpd, STARTTLS + auth)."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.smtp import SmtpError
from connectors.state import Rejection, StateStore
from connectors.state.outbox import Outbox
from deployments.cli import app
from schemas.notice import ATTACHMENT_NAME
from schemas.outcomes import Counts, RowOutcome
from schemas.rejected import column_headers
from schemas.report import RunReport, StepFailure, StreamLine
from schemas.spec import Spec
from tasks.notify import notify_run, send_run_notice, send_test_notice
from tests.flows.conftest import write_spec
from tests.smtp_sink import SinkTls, SmtpSink, make_tls, smtp_sink

SMTP_PASSWORD = "s3ntinel-smtp-PASSWORD-90ab"
MA_TOKEN = "s3ntinel-ma-TOKEN-77cd"
USER = "mailer-acme"
RECIPIENTS = ["ops@example.co.jp", "sales-ops@example.co.jp"]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> SinkTls:
    return make_tls(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def sink(tls: SinkTls) -> Iterator[SmtpSink]:
    with smtp_sink(tls=tls, credentials=(USER, SMTP_PASSWORD)) as running:
        yield running


def make_spec(sink: SmtpSink, tls: SinkTls, root: Path, password: str = SMTP_PASSWORD) -> Spec:
    return Spec.model_validate(
        {
            "company": "acme",
            "notify": {
                "error_email": RECIPIENTS,
                "sender": "renkei@example.co.jp",
                "smtp": {
                    "host": "127.0.0.1",
                    "port": sink.port,
                    "starttls": True,
                    "cafile": str(tls.cafile),
                    "username": USER,
                    "password": password,
                    "timeout": 10,
                },
            },
            "storage": {"staging": str(root / "staging"), "state": f"sqlite:///{root / 'state.db'}"},
            "ma": {"url": "http://127.0.0.1:9", "token": MA_TOKEN},
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}", "acme")
    state.quarantine_rows(
        "run-A",
        "kintone",
        "customers",
        [
            Rejection(
                "taro@example.co.jp", {"姓": "山田", "会社名": ""}, "CB_VA01", "必須です。", "company_name"
            ),
            Rejection("=cmd|' /C calc'!A0", {"token": MA_TOKEN}, "bad_key", f"echo {MA_TOKEN}"),
        ],
    )
    state.quarantine_rows(
        "run-old", "salesforce", "customers", [Rejection("old@example.co.jp", {}, "X", "old")]
    )
    return state


def failed_report(run_id: str = "run-A") -> RunReport:
    return RunReport(
        company="acme",
        run_id=run_id,
        flow="sync",
        cuts=["20261128T0200+0900"],
        lines=[
            StreamLine(
                "kintone",
                "customers",
                Counts(5, 3, 0, 2, 0),
                (RowOutcome.rejected("taro@example.co.jp", "CB_VA01", "必須です。", "company_name"),),
            )
        ],
        failures=[StepFailure("salesforce", "login", f"invalid_grant: password {SMTP_PASSWORD} rejected")],
        quarantine_open=3,
        run_url="http://127.0.0.1:4200/runs/flow-run/run-A",
    )


def attachment_rows(sink: SmtpSink) -> list[dict[str, str]]:
    part, _xlsx = list(sink.messages[0].iter_attachments())
    assert part.get_filename() == ATTACHMENT_NAME
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes)
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_exactly_one_email_per_run_to_every_error_address(
    sink: SmtpSink, tls: SinkTls, store: StateStore, tmp_path: Path
) -> None:
    spec = make_spec(sink, tls, tmp_path)
    assert send_run_notice(spec, failed_report(), store) is True
    assert send_run_notice(spec, failed_report(), store) is False
    assert notify_run.fn(spec, failed_report()) is False  # the flow's task reads the same state DB
    assert len(sink.messages) == 1 and sink.logins == [f"PLAIN:{USER}"]
    assert sink.recipients == [RECIPIENTS]
    message = sink.messages[0]
    assert "acme" in message["Subject"] and "run-A" in message["Subject"] and "failed" in message["Subject"]
    outbox = Outbox(store)
    sent = outbox.entry("run-A")
    assert sent is not None and sent.status == "sent" and outbox.entry("run-B") is None
    with store.engine.connect() as c:
        row = c.execute(sa.text("SELECT attempts, sent_at FROM outbox WHERE run_id = 'run-A'")).one()
    assert row.attempts == 1 and row.sent_at is not None


def test_the_csv_holds_every_row_not_reported_yet_readable_as_utf8_sig(
    sink: SmtpSink, tls: SinkTls, store: StateStore, tmp_path: Path
) -> None:
    send_run_notice(make_spec(sink, tls, tmp_path), failed_report(), store)
    rows = attachment_rows(sink)
    assert list(rows[0]) == column_headers("both")
    target, key, code = (
        "連携先 / target",
        "再送用のキー / key (for replay)",
        "ルールコード（replay --rule 用） / rule code (for replay --rule)",
    )
    assert [(r[target], r[key], r[code]) for r in rows] == [
        ("kintone", "taro@example.co.jp", "CB_VA01"),
        ("kintone", "'=cmd|' /C calc'!A0", "bad_key"),
        ("salesforce", "old@example.co.jp", "X"),  # an earlier run's row no message ever named
    ]
    assert rows[0]["連携先のメッセージ / message"] == "必須です。"
    assert '"姓": "山田"' in rows[0]["送信した値 (JSON) / payload (JSON)"]
    body = sink.messages[0].get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "キー taro@example.co.jp [company_name]: kintone が入力値を受け付けませんでした (CB_VA01)" in text
    assert "http://127.0.0.1:4200/runs/flow-run/run-A" in text and text.index("会社") < text.index("Company")


def test_no_secret_anywhere_in_the_delivered_message(
    sink: SmtpSink, tls: SinkTls, store: StateStore, tmp_path: Path
) -> None:
    send_run_notice(make_spec(sink, tls, tmp_path), failed_report(), store)
    message = sink.messages[0]
    raw = message.as_bytes()
    body = message.get_body(("plain",))
    assert body is not None
    readable = body.get_content() + "".join(str(r) for r in attachment_rows(sink)) + str(message["Subject"])
    for secret in (SMTP_PASSWORD, MA_TOKEN):
        assert secret not in readable and secret.encode() not in raw
    assert (
        "********" in body.get_content()
        and "********" in attachment_rows(sink)[1]["送信した値 (JSON) / payload (JSON)"]
    )


def test_no_email_when_nothing_needs_attention(
    sink: SmtpSink, tls: SinkTls, store: StateStore, tmp_path: Path
) -> None:
    clean = RunReport(
        "acme", "run-C", "sync", lines=[StreamLine("kintone", "customers", Counts(3, 2, 1, 0, 0))]
    )
    spec = make_spec(sink, tls, tmp_path)
    assert send_run_notice(spec, failed_report(), store) is True  # every open row is reported now
    assert send_run_notice(spec, clean, store) is False
    assert len(sink.messages) == 1 and Outbox(store).entry("run-C") is None


def test_a_failed_send_records_nothing_and_the_next_call_sends(
    sink: SmtpSink, tls: SinkTls, store: StateStore, tmp_path: Path
) -> None:
    with pytest.raises(SmtpError) as caught:
        send_run_notice(make_spec(sink, tls, tmp_path, password="wrong-password"), failed_report(), store)
    assert "535" in str(caught.value) and f"127.0.0.1:{sink.port}" in str(caught.value)
    pending = Outbox(store).entry("run-A")  # recorded before sending, not marked sent
    assert pending is not None and pending.status == "pending" and sink.messages == []
    assert send_run_notice(make_spec(sink, tls, tmp_path), failed_report(), store) is True
    assert len(sink.messages) == 1


def test_the_flow_and_a_state_hook_racing_still_send_one_email(
    sink: SmtpSink, tls: SinkTls, store: StateStore, tmp_path: Path
) -> None:
    spec = make_spec(sink, tls, tmp_path)
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(send_run_notice(spec, failed_report(), store)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, True] and len(sink.messages) == 1
    assert send_run_notice(spec, failed_report("run-D"), store) is True  # another run gets its own
    assert len(sink.messages) == 2


def test_the_outbox_keeps_the_first_record_of_a_run(store: StateStore, tmp_path: Path) -> None:
    outbox = Outbox(store)
    first = outbox.record("run-E", EmailMessage(), [1])
    assert outbox.record("run-E", EmailMessage(), [1, 2]).id == first.id
    assert Outbox(StateStore(store.url, "other")).entry("run-E") is None  # per company


def test_send_test_notice_reaches_every_address(sink: SmtpSink, tls: SinkTls, tmp_path: Path) -> None:
    send_test_notice(make_spec(sink, tls, tmp_path))
    (message,) = sink.messages
    assert sink.recipients == [RECIPIENTS]
    assert "テスト送信 / test message" in message["Subject"]
    body = message.get_body(("plain",))
    assert body is not None and "notify.error_email" in body.get_content()


def test_cli_notify_test(
    sink: SmtpSink, tls: SinkTls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp = {"host": "127.0.0.1", "port": sink.port, "starttls": True, "cafile": str(tls.cafile)}
    smtp |= {"username": USER, "password": "${RENKEI_TEST_SMTP_PASSWORD}"}
    notify = {"error_email": RECIPIENTS, "sender": "renkei@example.co.jp", "smtp": smtp}
    spec = write_spec(tmp_path / "spec.yaml", "http://127.0.0.1:9", MA_TOKEN, tmp_path, notify=notify)
    runner = CliRunner()

    monkeypatch.setenv("RENKEI_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    sent = runner.invoke(app, ["notify", "--test", str(spec)])
    assert sent.exit_code == 0, sent.output
    assert "test message sent to" in sent.output and len(sink.messages) == 1

    monkeypatch.setenv("RENKEI_TEST_SMTP_PASSWORD", "not-the-password")
    refused = runner.invoke(app, ["notify", "--test", str(spec)])
    assert refused.exit_code == 1 and "535" in refused.output and "not-the-password" not in refused.output
    assert len(sink.messages) == 1

    assert runner.invoke(app, ["notify", str(spec)]).exit_code == 2
