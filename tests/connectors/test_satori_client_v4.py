"""The public API v4 shapes (single form posts, bulk CSV + status) through connectors.satori.V4Writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.http import HttpError, HttpPolicy
from connectors.satori import SatoriClient, V4Credentials, V4Writer
from sandbox.common import BackgroundServer
from sandbox.satori.app import create_app
from schemas.outcomes import Status

TOKEN = "tok-v4"
PUBLIC_KEY = "acme-public-key"  # the v4 company_secret: a credential of its own
CREDENTIALS = V4Credentials("user-key", "user-secret", "acme", PUBLIC_KEY)
FAST = HttpPolicy(max_attempts=2, backoff_base=0.01)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    with BackgroundServer(
        create_app(Path(tmp_path_factory.mktemp("v4")), {TOKEN: "acme"}, public_keys={PUBLIC_KEY: "acme"})
    ) as running:
        yield running


@pytest.fixture(scope="module")
def writer(server: BackgroundServer) -> Iterator[V4Writer]:
    v4 = V4Writer(server.url, CREDENTIALS, FAST)
    yield v4
    v4.close()


@pytest.fixture(scope="module")
def reader(server: BackgroundServer) -> Iterator[SatoriClient]:
    with SatoriClient(server.url, TOKEN, FAST) as client:
        yield client


def test_upsert_creates_then_blank_values_do_not_overwrite(writer: V4Writer, reader: SatoriClient) -> None:
    created = writer.upsert(
        {"email": "Ｖ4@example.jp", "last_name": "鈴木", "memo": "初回", "append_tags": "展示会,資料請求"}
    )
    assert created.status is Status.UPDATED and created.target_id
    again = writer.upsert({"email": "v4@example.jp", "last_name": "", "memo": "二回目"})
    assert again.target_id == created.target_id
    customer = reader.get_customer(email="v4@example.jp")
    assert (customer["last_name"], customer["memo"]) == ("鈴木", "二回目")
    assert customer["tags"] == ["展示会", "資料請求"]
    writer.upsert({"email": "v4@example.jp", "delete_tags": "展示会"})
    assert reader.get_customer(email="v4@example.jp")["tags"] == ["資料請求"]


def test_registration_only_fills_blank_fields_and_changes_permission(
    writer: V4Writer, reader: SatoriClient
) -> None:
    writer.register({"email": "reg@example.jp", "last_name": "高橋", "collection_route": "展示会"})
    writer.register(
        {
            "email": "reg@example.jp",
            "last_name": "上書きしない",
            "department": "営業部",
            "delivery_permission": "reject",
            "append_tags": "ウェビナー参加",
        }
    )
    customer = reader.get_customer(email="reg@example.jp")
    assert customer["last_name"] == "高橋"
    assert customer["department"] == "営業部"
    assert customer["delivery_permission"] == "reject"
    assert customer["tags"] == ["ウェビナー参加"]


def test_rejections_and_delete(writer: V4Writer, reader: SatoriClient) -> None:
    bad = writer.upsert({"email": "not-an-email"})
    assert bad.status is Status.REJECTED and "email" in (bad.message or "")
    unknown = writer.upsert({"email": "x@example.jp", "nickname": "x"})
    assert unknown.status is Status.REJECTED and "nickname" in (unknown.message or "")
    writer.upsert({"email": "gone@example.jp"})
    assert writer.delete(email="gone@example.jp").status is Status.UPDATED
    with pytest.raises(HttpError):
        reader.get_customer(email="gone@example.jp")
    assert writer.delete(email="gone@example.jp").status is Status.REJECTED


def test_wrong_keys_are_refused(server: BackgroundServer) -> None:
    wrong = V4Writer(server.url, V4Credentials("u", "s", "acme", "not-the-token"), FAST)
    with pytest.raises(HttpError) as caught:
        wrong.upsert({"email": "a@example.jp"})
    assert caught.value.status == 401
    other_company = V4Writer(server.url, V4Credentials("u", "s", "beta", PUBLIC_KEY), FAST)
    with pytest.raises(HttpError):
        other_company.upsert({"email": "a@example.jp"})


def test_each_api_opens_only_with_its_own_credentials(server: BackgroundServer) -> None:
    """The integration API's token does not open v4; v4's company_secret does not open the integration API."""
    token_as_v4_key = V4Writer(server.url, V4Credentials("u", "s", "acme", TOKEN), FAST)
    with pytest.raises(HttpError) as caught:
        token_as_v4_key.upsert({"email": "a@example.jp"})
    assert caught.value.status == 401
    with SatoriClient(server.url, PUBLIC_KEY, FAST) as key_as_token, pytest.raises(HttpError) as refused:
        key_as_token.get_customer(email="a@example.jp")
    assert refused.value.status == 401


def test_bulk_csv_upsert_reports_failed_rows_and_keeps_blank_cells(
    writer: V4Writer, reader: SatoriClient
) -> None:
    writer.upsert({"email": "bulk1@example.jp", "last_name": "伊藤", "department": "総務部"})
    outcomes = writer.bulk(
        [
            {"email": "bulk1@example.jp", "last_name": "", "department": "経理部"},
            {"email": "broken", "last_name": "x", "department": ""},
            {"email": "bulk2@example.jp", "last_name": "渡辺", "department": ""},
        ]
    )
    assert [o.status for o in outcomes] == [Status.UPDATED, Status.REJECTED, Status.UPDATED]
    assert "email" in (outcomes[1].message or "")
    first = reader.get_customer(email="bulk1@example.jp")
    assert (first["last_name"], first["department"]) == ("伊藤", "経理部")
    assert reader.get_customer(email="bulk2@example.jp")["last_name"] == "渡辺"
    registered = writer.bulk(
        [{"email": "bulk1@example.jp", "department": "人事部", "memo": "メモ"}], registration=True
    )
    assert registered[0].status is Status.UPDATED
    after = reader.get_customer(email="bulk1@example.jp")
    assert (after["department"], after["memo"]) == ("経理部", "メモ")


def test_bulk_job_is_polled_until_finished(writer: V4Writer, server: BackgroundServer) -> None:
    server.request_log.entries.clear()
    assert writer.bulk([{"email": "poll@example.jp", "last_name": "待機"}])[0].status is Status.UPDATED
    polls = [e for e in server.request_log.entries if e.path.endswith("/bulk_customers/status.json")]
    assert len(polls) == 2  # "processing" first, then "finished"


def test_bulk_status_of_an_unknown_process_is_404(writer: V4Writer) -> None:
    with pytest.raises(HttpError) as caught:
        writer.bulk_status("no-such-process")
    assert caught.value.status == 404
