"""The corpus over real HTTP: query literals against the kintone stand-in, bad rows beside good
ones in the MA stand-in's bulk upsert. One stand-in per module; every case is a few requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.http import HttpPolicy
from connectors.kintone import KintoneClient
from connectors.kintone_model import escape_query_value, record_values
from connectors.satori import SatoriClient
from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app as create_kintone
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from sandbox.satori.app import create_app as create_ma
from sandbox.satori.seed import seed
from schemas.outcomes import Status
from tests.corpus.corpus_cases import load, params

FAST = HttpPolicy(backoff_base=0.001, backoff_cap=0.01, max_attempts=3)
TOKEN = "tok-corpus"
QUERY_VALUES = load("query_values")


@pytest.fixture(scope="module")
def kintone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KintoneClient, DemoApps]]:
    app = create_kintone(tmp_path_factory.mktemp("kintone"), "admin", "pw")
    demo = build_demo_apps(app.state.kintone.store)
    with (
        BackgroundServer(app) as srv,
        KintoneClient(srv.url, api_tokens=[demo.customers.token], policy=FAST) as c,
    ):
        rows: list[dict[str, object]] = [
            {"メールアドレス": f"q{i}@corpus.example.jp", "姓": case["value"]}
            for i, case in enumerate(QUERY_VALUES)
        ]
        rows.append({"メールアドレス": "plain@corpus.example.jp", "姓": "山田"})
        assert {o.status for o in c.upsert_records(demo.customers.id, "メールアドレス", rows)} == {
            Status.CREATED
        }
        yield c, demo


@pytest.mark.parametrize("case", params("query_values"))
def test_kintone_query_finds_exactly_the_literal(
    case: dict[str, Any], kintone: tuple[KintoneClient, DemoApps]
) -> None:
    client, demo = kintone
    index = next(i for i, c in enumerate(QUERY_VALUES) if c["id"] == case["id"])
    found = client.get_records(demo.customers.id, f"姓 = {escape_query_value(case['value'])}").records
    assert [record_values(r)["メールアドレス"] for r in found] == [f"q{index}@corpus.example.jp"]
    assert record_values(found[0])["姓"] == case["value"]  # stored and returned unchanged


@pytest.fixture(scope="module")
def ma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SatoriClient]:
    root: Path = tmp_path_factory.mktemp("ma")
    seed(root, 3, 0, company="acme", token=TOKEN)
    with (
        BackgroundServer(create_ma(root, {TOKEN: "acme"})) as srv,
        SatoriClient(srv.url, TOKEN, FAST) as client,
    ):
        yield client


BAD_MA_ROWS = [
    ({"email": "taro@@corpus.example.jp", "last_name": "悪"}, "email"),
    ({"email": "ta\u200bro@corpus.example.jp", "last_name": "悪"}, "email"),
    ({"email": "bad-len@corpus.example.jp", "last_name": "長" * 256}, "last_name"),
    ({"email": "bad-score@corpus.example.jp", "score": 10}, "score"),
    ({"email": "bad-field@corpus.example.jp", "no_such_field": "x"}, "no_such_field"),
    ({"email": "bad-date@corpus.example.jp", "collection_date": "2024-13-01"}, "collection_date"),
    ({"email": "bad-surrogate@corpus.example.jp", "memo": "半分\ud800"}, "memo"),
    ({"email": "bad-nul@corpus.example.jp", "department": "営業\x00部"}, "department"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_MA_ROWS, ids=[f for _, f in BAD_MA_ROWS])
def test_ma_bulk_upsert_rejects_the_bad_row_and_creates_the_good_ones(
    bad: dict[str, Any], field: str, ma: SatoriClient, request: pytest.FixtureRequest
) -> None:
    name = request.node.callspec.id.replace("_", "-")
    good = [
        {"email": f"{name}-before@corpus.example.jp", "last_name": "=SUM(A1)"},
        {"email": f"{name}-after@corpus.example.jp", "last_name": '😀" or 1=1 --'},
    ]
    outcomes = ma.bulk_upsert([good[0], bad, good[1]])
    assert [o.status for o in outcomes] == [Status.CREATED, Status.REJECTED, Status.CREATED]
    rejected = outcomes[1]
    assert rejected.field == field and rejected.code and rejected.message
    for row in good:  # stored exactly as sent: no neutralising, no replacement
        assert ma.get_customer(email=row["email"])["last_name"] == row["last_name"]
