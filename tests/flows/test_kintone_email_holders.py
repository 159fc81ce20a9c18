"""Who holds an email in kintone, at the cheaper of two costs over a whole run: queries of 50 addresses,
or the whole app once (its id ranges in parallel) as soon as the run's queries would cost as much."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.http import HttpPolicy
from connectors.kintone import KintoneClient
from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from schemas.mapping import FieldMap
from tasks.targets.kintone_emails import HOLDER_QUERY, EmailHolders

FAST = HttpPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
EMAIL, STAMP = "メールアドレス", "更新日時"
RECORDS = 1_200  # three pages of 500


@pytest.fixture(scope="module")
def kintone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, DemoApps]]:
    app = create_app(tmp_path_factory.mktemp("kintone"), "admin", "pw")
    demo = build_demo_apps(app.state.kintone.store)
    with BackgroundServer(app) as srv:
        client = KintoneClient(srv.url, api_tokens=[demo.customers.token], policy=FAST)
        rows: list[dict[str, object]] = [{EMAIL: f"holder{i}@x.jp", "姓": "山田"} for i in range(RECORDS)]
        client.upsert_records(demo.customers.id, EMAIL, rows)
        yield srv, demo


def reads(srv: BackgroundServer) -> int:
    return len([e for e in srv.request_log.entries if e.path == "/k/v1/records.json"])


def test_the_app_is_read_whole_once_when_the_runs_queries_would_cost_as_much(
    kintone: tuple[BackgroundServer, DemoApps],
) -> None:
    srv, demo = kintone
    client = KintoneClient(srv.url, api_tokens=[demo.customers.token], policy=FAST)
    fmap = FieldMap("kintone-customers", "email", EMAIL, ())
    holders = EmailHolders(client, demo.customers.id, fmap)
    size = 2 * HOLDER_QUERY  # two queries a page
    pages = [[f"holder{i}@x.jp" for i in range(start, start + size)] for start in range(0, 4 * size, size)]
    said: list[int] = []
    for keys in pages:
        before = reads(srv)
        found = holders.find(keys, STAMP, [EMAIL])
        said.append(reads(srv) - before)
        assert sorted(found) == sorted(keys) and all(len(rows) == 1 for rows in found.values())
    # the first page: the app's size (one request, which also reads its first 500) and 2 queries; the
    # second would bring the run to 4 queries against 3 pages: the app is read whole (3 pages + the
    # highest id), and nothing more is asked for the pages after it
    assert said == [1 + 2, 3 + 1, 0, 0], said
