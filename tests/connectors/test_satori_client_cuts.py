"""Cuts of action histories and masters through connectors.satori: windows, boundaries, streaming."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.http import HttpError, HttpPolicy
from connectors.satori import SatoriClient
from sandbox.common import BackgroundServer
from sandbox.satori import exports
from sandbox.satori.app import create_app
from sandbox.satori.wire import ACTION_COLUMNS, MASTER_COLUMNS

TOKEN = "tok-cuts"
NOW = "2026-11-28T12:00:00+09:00"
POLICY = HttpPolicy(max_attempts=8, backoff_base=0.01, backoff_cap=0.05)


def control(server: BackgroundServer, method: str, path: str, body: Any) -> Any:
    response = httpx.request(
        method, server.url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    response.raise_for_status()
    return response.json()


def action(
    email: str, occurred: str, recorded: str, kind: str = "email", master: str = "em-1"
) -> dict[str, Any]:
    return {
        "kind": kind,
        "email": email,
        "master_id": master,
        "event_type": "opened",
        "occurred_at": occurred,
        "recorded_at": recorded,
        "url": "https://example.jp/lp?a=1,2",
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(Path(tmp_path_factory.mktemp("cuts")), {TOKEN: "acme"})) as running:
        control(running, "PUT", "/_sandbox/clock", {"now": NOW})
        control(
            running,
            "POST",
            "/_sandbox/masters",
            [
                {
                    "kind": "email",
                    "id": "em-1",
                    "name": "11月ウェビナー案内",
                    "created_at": "2026-11-01T09:00+09:00",
                },
                {
                    "kind": "form",
                    "id": "fm-1",
                    "name": "資料請求フォーム",
                    "created_at": "2026-11-27T05:00+09:00",
                },
            ],
        )
        yield running


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Iterator[SatoriClient]:
    with SatoriClient(server.url, TOKEN, POLICY) as satori:
        satori.put_customer({"last_name": "田中"}, email="tanaka@example.jp")
        yield satori


def rows_of(chunks: Iterator[bytes]) -> list[dict[str, str]]:
    text = b"".join(chunks).decode("utf-8")
    assert not text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_cuts_are_listed_at_02_and_11_tokyo_up_to_now(client: SatoriClient) -> None:
    cuts = client.list_cuts(since=datetime.fromisoformat("2026-11-26T00:00+09:00"))
    assert [c.id for c in cuts] == [
        "20261126T0200+0900",
        "20261126T1100+0900",
        "20261127T0200+0900",
        "20261127T1100+0900",
        "20261128T0200+0900",
        "20261128T1100+0900",
    ]
    assert cuts[2].at == datetime.fromisoformat("2026-11-27T02:00+09:00")
    assert cuts[2].previous == datetime.fromisoformat("2026-11-26T11:00+09:00")
    assert cuts[2].at.tzinfo is not None
    until = client.list_cuts(since=datetime.fromisoformat("2026-11-27T00:00+09:00"), until=cuts[3].at)
    assert [c.id for c in until] == ["20261127T0200+0900", "20261127T1100+0900"]


def test_a_late_recorded_action_is_in_the_next_cut_exactly_once(
    server: BackgroundServer, client: SatoriClient
) -> None:
    ids = control(
        server,
        "POST",
        "/_sandbox/actions",
        [
            action("tanaka@example.jp", "2026-11-27T01:50+09:00", "2026-11-27T01:59+09:00"),
            action("tanaka@example.jp", "2026-11-27T01:55+09:00", "2026-11-27T02:10+09:00"),
            action("tanaka@example.jp", "2026-11-27T01:58+09:00", "2026-11-27T02:00+09:00"),
            action("tanaka@example.jp", "2026-11-28T11:20+09:00", "2026-11-28T11:30+09:00"),
        ],
    )["event_ids"]
    seen: dict[str, list[str]] = {}
    for cut in client.list_cuts(since=datetime.fromisoformat("2026-11-20T00:00+09:00")):
        for row in rows_of(client.stream_actions_csv(cut.id, "email")):
            seen.setdefault(row["event_id"], []).append(cut.id)
    assert seen[ids[0]] == ["20261127T0200+0900"]
    assert seen[ids[1]] == ["20261127T1100+0900"]
    assert seen[ids[2]] == ["20261127T1100+0900"]
    assert ids[3] not in seen  # its cut (2026-11-29 02:00) is still in the future
    with pytest.raises(HttpError) as future:
        list(client.stream_actions_csv("20261129T0200+0900", "email"))
    assert future.value.status == 404 and future.value.code == "unknown_cut"
    control(server, "PUT", "/_sandbox/clock", {"now": "2026-11-29T02:00+09:00"})
    try:
        late = rows_of(client.stream_actions_csv("20261129T0200+0900", "email"))
    finally:
        control(server, "PUT", "/_sandbox/clock", {"now": NOW})
    assert [r["event_id"] for r in late] == [ids[3]]


def test_action_csv_columns_values_and_jsonl_agree(server: BackgroundServer, client: SatoriClient) -> None:
    customer = client.get_customer(email="tanaka@example.jp")
    control(
        server,
        "POST",
        "/_sandbox/actions",
        [action("tanaka@example.jp", "2026-11-25T10:00+09:00", "2026-11-25T10:05+09:00")],
    )
    cut = "20261125T1100+0900"
    raw = b"".join(client.stream_actions_csv(cut, "email")).decode("utf-8")
    assert raw.splitlines()[0] == ",".join(ACTION_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert len(rows) == 1
    row = rows[0]
    assert row["customer_id"] == customer["customer_id"] and row["hashcode"] == customer["hashcode"]
    assert row["master_name"] == "11月ウェビナー案内" and row["url"] == "https://example.jp/lp?a=1,2"
    assert row["occurred_at"] == "2026-11-25T10:00:00+09:00" and row["recorded_at"].endswith("+09:00")
    assert [{k: str(v) for k, v in r.items()} for r in client.iter_actions_jsonl(cut, "email")] == rows
    assert rows_of(client.stream_actions_csv(cut, "form")) == []


def test_master_cut_holds_what_existed_at_the_cut(client: SatoriClient) -> None:
    before = rows_of(client.stream_masters_csv("20261127T0200+0900", "form"))
    after = rows_of(client.stream_masters_csv("20261127T1100+0900", "form"))
    assert before == []
    assert [(r["id"], r["name"]) for r in after] == [("fm-1", "資料請求フォーム")]
    assert list(after[0]) == list(MASTER_COLUMNS)
    assert list(client.iter_masters_jsonl("20261127T1100+0900", "form")) == after


def test_tags_written_through_the_api_land_in_the_tag_history(
    server: BackgroundServer, client: SatoriClient
) -> None:
    client.put_customer({"tags": ["展示会"]}, email="tagged@example.jp")
    client.put_customer({"tags": []}, email="tagged@example.jp")
    control(server, "PUT", "/_sandbox/clock", {"now": "2026-11-29T02:00+09:00"})
    try:
        rows = list(client.iter_actions_jsonl("20261129T0200+0900", "tag"))
    finally:
        control(server, "PUT", "/_sandbox/clock", {"now": NOW})
    assert [(r["email"], r["master_name"], r["event_type"]) for r in rows] == [
        ("tagged@example.jp", "展示会", "added"),
        ("tagged@example.jp", "展示会", "removed"),
    ]
    assert rows[0]["recorded_at"] == "2026-11-28T12:00:00+09:00"


def test_unknown_cuts_and_kinds_are_404(client: SatoriClient) -> None:
    for cut, kind, code in (
        ("20261127T0300+0900", "email", "unknown_cut"),
        ("yesterday", "email", "unknown_cut"),
        ("20261127T0200+0900", "fax", "unknown_kind"),
    ):
        with pytest.raises(HttpError) as caught:
            list(client.stream_actions_csv(cut, kind))
        assert (caught.value.status, caught.value.code) == (404, code)
    with pytest.raises(HttpError):
        list(client.stream_masters_csv("20261127T0200+0900", "segment_added"))


def test_exports_stream_in_chunks_in_event_order_and_survive_transient_faults(
    server: BackgroundServer, client: SatoriClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "CHUNK_ROWS", 7)
    control(
        server,
        "POST",
        "/_sandbox/actions",
        [
            action(
                "tanaka@example.jp", "2026-11-24T00:00+09:00", f"2026-11-24T00:{i:02d}+09:00", kind="campaign"
            )
            for i in range(50)
        ],
    )
    control(server, "PUT", "/_sandbox/faults", {"rate": 0.5, "seed": 3, "kinds": ["5xx", "429"]})
    try:
        rows = rows_of(client.stream_actions_csv("20261124T0200+0900", "campaign"))
        jsonl = list(client.iter_actions_jsonl("20261124T0200+0900", "campaign"))
        pages = list(client.iter_action_pages("20261124T0200+0900", "campaign", page_size=7))
    finally:
        control(server, "PUT", "/_sandbox/faults", {"rate": 0})
    ids = [int(r["event_id"]) for r in rows]
    assert len(ids) == 50 and ids == sorted(ids)
    assert [r["event_id"] for r in jsonl] == [str(i) for i in ids]
    assert [len(p) for p in pages] == [7] * 7 + [1]
    assert [r for p in pages for r in p] == jsonl
    assert client.http.stats.retries > 0
