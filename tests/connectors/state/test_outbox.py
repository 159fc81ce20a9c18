"""The outbox keeps one entry per run (also when workers record it at once) and marks the rows a
delivered report named as reported."""

from __future__ import annotations

from email.message import EmailMessage

from connectors.state import Rejection, StateStore
from connectors.state.outbox import Outbox
from tests.connectors.state.conftest import race


def message(subject: str) -> EmailMessage:
    built = EmailMessage()
    built["Subject"] = subject
    built.set_content("本文 / body")
    return built


def test_a_delivered_report_marks_its_rows_reported(store: StateStore) -> None:
    store.quarantine_rows("r1", "kintone", "customers", [Rejection("a@example.jp", {}, "C", "必須です。")])
    outbox = Outbox(store)
    (row,) = outbox.unreported()
    entry = outbox.record("r1", message("first"), [row.id])
    assert outbox.record("r1", message("second"), []).id == entry.id  # the run's first record stands
    assert [e.run_id for e in outbox.pending()] == ["r1"]
    outbox.not_delivered(entry, "relay refused")
    assert outbox.entry("r1").attempts == 1 and outbox.unreported() == [row]  # type: ignore[union-attr]
    outbox.delivered(entry)
    assert outbox.pending() == [] and outbox.unreported() == []
    assert outbox.entry("r1").message["Subject"] == "first"  # type: ignore[union-attr]


def test_workers_recording_one_runs_report_at_once_keep_one_entry(pg_stores: list[StateStore]) -> None:
    ids = race(pg_stores, lambda i, s: Outbox(s).record("run-1", message(f"from {i}"), []).id)
    assert len(set(ids)) == 1 and len(Outbox(pg_stores[0]).pending()) == 1
