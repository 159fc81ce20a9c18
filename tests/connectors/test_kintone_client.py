"""The kintone client against the stand-in over real HTTP: reads, cursors, batched writes and isolation."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.http import Action, HttpError, HttpPolicy
from connectors.kintone import KintoneClient
from connectors.kintone_model import DailyBudget, classify_kintone, escape_query_value, record_values
from sandbox.common import BackgroundServer, FaultConfig
from sandbox.kintone.app import create_app
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from schemas.outcomes import Status

FAST = HttpPolicy(backoff_base=0.001, backoff_cap=0.01, max_attempts=8)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, DemoApps]]:
    app = create_app(tmp_path_factory.mktemp("kintone"), "admin", "pw")
    demo = build_demo_apps(app.state.kintone.store)
    with BackgroundServer(app) as srv:
        yield srv, demo


def kintone(srv: BackgroundServer, *tokens: str, **kwargs: object) -> KintoneClient:
    return KintoneClient(srv.url, api_tokens=list(tokens), policy=FAST, **kwargs)  # type: ignore[arg-type]


def writes(srv: BackgroundServer) -> int:
    return len([e for e in srv.request_log.writes() if e.path.startswith("/k/")])


def customers(n: int, prefix: str) -> list[dict[str, object]]:
    return [{"メールアドレス": f"{prefix}{i}@x.jp", "姓": "山田", "スコア": i} for i in range(n)]


@pytest.mark.parametrize(
    ("status", "body", "action"),
    [
        (200, {}, Action.OK),
        (429, {"code": "GAIA_TM12"}, Action.RETRY),
        (429, {"code": "GAIA_TO04"}, Action.RETRY),
        (520, {"code": "GAIA_DA02"}, Action.RETRY),
        (400, {"code": "GAIA_RE18"}, Action.RETRY),
        (503, {"message": "down"}, Action.RETRY),
        (520, {"code": "CB_VA01"}, Action.FAIL),
        (520, {"code": "GAIA_IA02"}, Action.FAIL),
        (520, {"code": "GAIA_IQ11"}, Action.FAIL),
        (401, {"code": "CB_WA01"}, Action.FAIL),
        (404, {"code": "GAIA_RE01"}, Action.FAIL),
        (520, {"code": "UNKNOWN"}, Action.RETRY),
        (400, {"results": [{}, {"code": "GAIA_RE18"}, {}]}, Action.RETRY),  # a lock inside a bulkRequest
        (400, {"results": [{}, {"code": "CB_VA01"}, {}]}, Action.FAIL),
    ],
)
def test_error_codes_map_to_retry_or_fail(status: int, body: dict[str, object], action: Action) -> None:
    assert classify_kintone(httpx.Response(status, json=body)).action is action


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", '"plain"'),
        ('a"b', '"a\\"b"'),
        ("back\\slash", '"back\\\\slash"'),
        ('\\" or $id > "0', '"\\\\\\" or $id > \\"0"'),
        ("line\nbreak\ttab", '"line\\nbreak\\ttab"'),
        (42, '"42"'),
    ],
)
def test_escape_query_value(value: object, literal: str) -> None:
    assert escape_query_value(value) == literal


@pytest.mark.parametrize(
    ("concurrency", "calls"),
    [(1, 2), (4, 2)],  # 23 requests: 20 then 3 one at a time, or 12 and 11 at once; never more calls
    ids=["one-at-a-time", "in-flight"],
)
def test_clean_upsert_takes_one_call_per_2000_rows(
    server: tuple[BackgroundServer, DemoApps], concurrency: int, calls: int
) -> None:
    """100 rows a request, up to 20 requests a bulkRequest; the budget is charged one per request in it."""
    srv, demo = server
    budget = DailyBudget()
    client = kintone(srv, demo.customers.token, budget=budget, max_concurrency=concurrency)
    before = len(srv.request_log.entries)
    rows = customers(2250, f"clean{concurrency}-")
    outcomes = client.upsert_records(demo.customers.id, "メールアドレス", rows)
    assert [o.status for o in outcomes] == [Status.CREATED] * 2250
    assert outcomes[0].key == f"clean{concurrency}-0@x.jp" and outcomes[0].target_id
    assert [e.path for e in srv.request_log.entries[before:]] == ["/k/v1/bulkRequest.json"] * calls
    assert client.requests_made[demo.customers.id] == calls
    assert sum(budget.used.values()) == math.ceil(2250 / 100)  # the same budget either way
    again = client.upsert_records(demo.customers.id, "メールアドレス", rows)
    assert {o.status for o in again} == {Status.UPDATED}
    assert [o.target_id for o in again] == [o.target_id for o in outcomes]


def test_one_bad_row_in_100_is_isolated_and_99_load(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.customers.token)
    rows = customers(100, "iso")
    rows[37]["スコア"] = "たくさん"
    before = writes(srv)
    outcomes = client.upsert_records(demo.customers.id, "メールアドレス", rows)
    rejected = [o for o in outcomes if o.status is Status.REJECTED]
    assert len(rejected) == 1 and sum(o.status.loaded for o in outcomes) == 99
    assert (rejected[0].key, rejected[0].code, rejected[0].field) == ("iso37@x.jp", "CB_VA01", "スコア")
    assert rejected[0].message == "数字でなければなりません。"
    assert writes(srv) - before == 2  # the rejected batch and the resend of the other 99
    found = client.get_records(demo.customers.id, 'メールアドレス like "iso37"', total_count=True)
    assert found.total_count == 0


def test_a_bulk_request_refused_for_one_row_is_narrowed_and_the_rest_resent(
    server: tuple[BackgroundServer, DemoApps],
) -> None:
    """kintone rolls the whole bulkRequest back: the refused request is isolated, the others resent."""
    srv, demo = server
    budget = DailyBudget()
    client = kintone(srv, demo.customers.token, budget=budget, max_concurrency=1)
    rows = customers(500, "bulkiso")
    rows[237]["スコア"] = "たくさん"  # request 2 of 5
    before = len(srv.request_log.entries)
    outcomes = client.upsert_records(demo.customers.id, "メールアドレス", rows)
    rejected = [o for o in outcomes if o.status is Status.REJECTED]
    assert [(o.key, o.code, o.field, o.message) for o in rejected] == [
        ("bulkiso237@x.jp", "CB_VA01", "スコア", "数字でなければなりません。")
    ]
    assert sum(o.status.loaded for o in outcomes) == 499
    sent = [(e.path.rsplit("/", 1)[1], e.status) for e in srv.request_log.entries[before:]]
    assert sent == [
        ("bulkRequest.json", 400),  # all five requests, rolled back; kintone names row 37 of request 2
        ("bulkRequest.json", 200),  # requests 0 and 1 again
        ("records.json", 200),  # the other 99 rows of request 2
        ("bulkRequest.json", 200),  # requests 3 and 4
    ]
    assert sum(budget.used.values()) == 5 + 2 + 1 + 2
    assert len({o.target_id for o in outcomes if o.status.loaded}) == 499
    sample = ", ".join(f'"bulkiso{i}@x.jp"' for i in (0, 150, 236, 237, 238, 499))
    found = client.get_records(demo.customers.id, f"メールアドレス in ({sample})", ["メールアドレス"])
    assert len(found.records) == 5 and "bulkiso237@x.jp" not in str(found.records)


def test_rows_kintone_does_not_name_are_bisected(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.customers.token)
    client.upsert_records(demo.customers.id, "メールアドレス", customers(20, "bis"))
    rows = customers(20, "bis")
    rows[13]["メールアドレス"] = "missing@x.jp"  # update (no upsert) of a record that is not there: GAIA_RE20
    outcomes = client.update_records(demo.customers.id, "メールアドレス", rows)
    assert [o.status for o in outcomes].count(Status.UPDATED) == 19
    assert (outcomes[13].status, outcomes[13].code, outcomes[13].key) == (
        Status.REJECTED,
        "GAIA_RE20",
        "missing@x.jp",
    )


def test_add_records_and_delete(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.mail_history.token)
    rows: list[dict[str, object]] = [
        {"イベントID": f"add-{i}", "発生日時": "2026-11-28T11:00:59+09:00"} for i in range(150)
    ]
    rows.append({"イベントID": "add-0"})  # a duplicate of the first: rejected, the other 150 stay
    outcomes = client.add_records(demo.mail_history.id, rows, key_field="イベントID")
    assert [o.status for o in outcomes].count(Status.CREATED) == 150 and outcomes[
        -1
    ].status is Status.REJECTED
    first = client.get_records(demo.mail_history.id, 'イベントID = "add-1"').records[0]
    assert record_values(first)["発生日時"] == "2026-11-28T02:00:00Z"
    client.delete_records(demo.mail_history.id, [o.target_id for o in outcomes if o.target_id])
    assert (
        client.get_records(demo.mail_history.id, 'イベントID like "add"', total_count=True).total_count == 0
    )


def test_form_fields_are_typed(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    fields = kintone(srv, demo.customers.token).get_form_fields(demo.customers.id)
    assert fields["メールアドレス"].unique and fields["メールアドレス"].required
    assert fields["商談ステージ"].type == "DROP_DOWN" and fields["商談ステージ"].choices[0] == "未接触"
    assert fields["スコア"].type == "NUMBER"


def test_an_injected_value_stays_a_literal(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.customers.token)
    tricky = 'o"neil\\" or メールアドレス != "'
    client.upsert_records(
        demo.customers.id, "メールアドレス", [{"メールアドレス": "tricky@x.jp", "姓": tricky}]
    )
    found = client.get_records(demo.customers.id, f"姓 = {escape_query_value(tricky)}").records
    assert [record_values(r)["メールアドレス"] for r in found] == ["tricky@x.jp"]


def test_seek_paging_reads_everything_in_id_order(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.form_history.token)
    rows: list[dict[str, object]] = [{"イベントID": f"seek-{i}", "種別": "form"} for i in range(1203)]
    client.upsert_records(demo.form_history.id, "イベントID", rows)
    seen = list(client.iter_records_seek(demo.form_history.id, '種別 = "form"', ["イベントID"], page=500))
    ids = [int(r["$id"]["value"]) for r in seen]
    assert len(seen) == 1203 and ids == sorted(ids) and set(seen[0]) == {"イベントID", "$id"}


def test_spread_reads_every_record_once_over_sparse_ids_in_about_the_fewest_requests(
    server: tuple[BackgroundServer, DemoApps],
) -> None:
    srv, demo = server
    client = kintone(srv, demo.form_history.token)
    rows: list[dict[str, object]] = [{"イベントID": f"spread-{i}", "種別": "spread"} for i in range(3_700)]
    client.upsert_records(demo.form_history.id, "イベントID", rows)
    mine = list(client.iter_records_seek(demo.form_history.id, '種別 = "spread"', ["イベントID"]))
    client.delete_records(demo.form_history.id, [r["$id"]["value"] for r in mine[600:1_800]])  # a hole
    kept = {r["イベントID"]["value"] for r in mine[:600] + mine[1_800:]}
    before = client.requests_made[demo.form_history.id]
    seen = list(
        client.iter_records_spread(demo.form_history.id, '種別 = "spread"', ["イベントID"], range_pages=1)
    )
    names = [r["イベントID"]["value"] for r in seen]
    assert len(names) == len(kept) == 2_500 and set(names) == kept  # each once, none of the hole
    requests = client.requests_made[demo.form_history.id] - before
    # 5 full pages at the minimum, + the highest id, + the last page of each of the 4 ranges
    assert requests <= 5 + 1 + 4, requests


def test_spread_reads_a_small_app_in_one_request(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.form_history.token)
    client.upsert_records(demo.form_history.id, "イベントID", [{"イベントID": "one-spread", "種別": "one"}])
    before = client.requests_made[demo.form_history.id]
    seen = list(client.iter_records_spread(demo.form_history.id, '種別 = "one"', ["イベントID"]))
    assert [r["イベントID"]["value"] for r in seen] == ["one-spread"]
    assert client.requests_made[demo.form_history.id] - before == 1


def test_faults_are_retried_and_every_row_loads(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.customers.token, max_concurrency=3, requests_per_call=2)
    httpx.put(f"{srv.url}/_sandbox/faults", json={"rate": 0.4, "seed": 7, "kinds": ["429", "5xx", "reset"]})
    try:
        outcomes = client.upsert_records(demo.customers.id, "メールアドレス", customers(600, "fault"))
    finally:
        httpx.put(f"{srv.url}/_sandbox/faults", json={"rate": 0.0})
    assert all(o.status is Status.CREATED for o in outcomes)
    assert client._http.stats.retries > 0
    assert client.requests_made[demo.customers.id] == 3 + client._http.stats.retries  # 3 bulkRequests


def test_an_unavailable_service_defers_rows_instead_of_failing(
    server: tuple[BackgroundServer, DemoApps],
) -> None:
    srv, demo = server
    client = KintoneClient(
        srv.url, api_tokens=[demo.customers.token], policy=HttpPolicy(max_attempts=2, backoff_base=0.001)
    )
    httpx.put(f"{srv.url}/_sandbox/faults", json={"rate": 1.0, "kinds": ["5xx"]})
    try:
        outcomes = client.upsert_records(demo.customers.id, "メールアドレス", customers(300, "down"))
    finally:
        httpx.put(f"{srv.url}/_sandbox/faults", json={"rate": 0.0})
    assert {o.status for o in outcomes} == {Status.DEFERRED}
    assert client.requests_made[demo.customers.id] <= 6  # the first batch gave up; the others were not sent


def test_a_spent_budget_defers_the_remaining_rows(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    budget = DailyBudget(limit=5)
    client = kintone(srv, demo.customers.token, budget=budget, max_concurrency=1, requests_per_call=2)
    outcomes = client.upsert_records(demo.customers.id, "メールアドレス", customers(700, "budget"))
    statuses = [o.status for o in outcomes]
    assert statuses[:500] == [Status.CREATED] * 500 and statuses[500:] == [Status.DEFERRED] * 200
    # two bulkRequests of 2 requests; the third would cost 6 > 5, so its first request goes alone
    assert sum(budget.used.values()) == 5


def test_a_wrong_token_fails_loudly(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.mail_history.token)
    with pytest.raises(HttpError) as caught:
        client.upsert_records(demo.customers.id, "メールアドレス", customers(3, "wrong"))
    assert caught.value.code == "GAIA_IA02" and client.requests_made[demo.customers.id] == 1


def test_password_auth_and_guest_space(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, _ = server
    admin = KintoneClient(srv.url, username="admin", password="pw", policy=FAST)
    auth = {"X-Cybozu-Authorization": "YWRtaW46cHc="}
    app = int(
        httpx.post(f"{srv.url}/k/guest/3/v1/preview/app.json", json={"name": "g"}, headers=auth).json()["app"]
    )
    props = {"キー": {"type": "SINGLE_LINE_TEXT", "code": "キー", "unique": True}}
    httpx.post(
        f"{srv.url}/k/guest/3/v1/preview/app/form/fields.json",
        json={"app": app, "properties": props},
        headers=auth,
    )
    httpx.post(f"{srv.url}/k/guest/3/v1/preview/app/deploy.json", json={"apps": [{"app": app}]}, headers=auth)
    with pytest.raises(HttpError) as outside:
        admin.get_records(app)
    assert outside.value.code == "GAIA_IL23"
    guest = KintoneClient(
        srv.url, username="admin", password="pw", guest_space=3, policy=FAST, max_concurrency=1
    )
    outcomes = guest.upsert_records(app, "キー", [{"キー": "k1"}, {"キー": "k1"}])
    assert [o.status for o in outcomes] == [Status.CREATED, Status.UPDATED]
    many = guest.upsert_records(app, "キー", [{"キー": f"g{i}"} for i in range(250)])  # a bulkRequest
    assert [o.status for o in many] == [Status.CREATED] * 250
    assert srv.request_log.entries[-1].path == "/k/guest/3/v1/bulkRequest.json"


def test_parallel_writes_over_the_concurrency_limit_are_retried(tmp_path: Path) -> None:
    """4 requests in flight against a limit of 2 (each held 0.3 s): the refused are retried, none lost."""
    slow = FaultConfig(rate=1.0, kinds=("slow",), slow_seconds=0.3)
    app = create_app(tmp_path, "admin", "pw", slow, concurrency_limit=2)
    demo = build_demo_apps(app.state.kintone.store)
    patient = HttpPolicy(backoff_base=0.2, backoff_cap=1.0, max_attempts=8)  # backs off as in production
    with BackgroundServer(app) as srv:
        client = KintoneClient(
            srv.url, api_tokens=[demo.customers.token], policy=patient, requests_per_call=2
        )
        outcomes = client.upsert_records(demo.customers.id, "メールアドレス", customers(800, "limit"))
        refused = [e for e in srv.request_log.entries if e.status == 429]
    assert [o.status for o in outcomes] == [Status.CREATED] * 800
    assert refused and writes(srv) == 4 + len(refused)  # 4 bulkRequests, plus each refusal sent again


def test_changed_since_reads_past_the_first_page_once_each(server: tuple[BackgroundServer, DemoApps]) -> None:
    srv, demo = server
    client = kintone(srv, demo.customers.token)
    client.upsert_records(demo.customers.id, "メールアドレス", customers(1203, "changed"))
    every = {int(r["$id"]["value"]) for r in client.iter_records_seek(demo.customers.id)}
    seen = list(client.changed_since(demo.customers.id, ["メールアドレス"], None))
    stamps = [(r["更新日時"]["value"], int(r["$id"]["value"])) for r in seen]
    assert len(seen) == len(every) >= 1203 and {i for _, i in stamps} == every  # the ranges took the rest
    assert set(seen[0]) == {"$id", "更新日時", "メールアドレス"}
    newest = datetime.fromisoformat(max(stamps)[0].replace("Z", "+00:00"))
    assert (
        list(client.changed_since(demo.customers.id, ["メールアドレス"], newest + timedelta(minutes=1))) == []
    )
    again = list(client.changed_since(demo.customers.id, ["メールアドレス"], newest))
    assert again and {r["更新日時"]["value"] for r in again} == {max(stamps)[0]}
