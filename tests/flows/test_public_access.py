"""``ma.access: public``: an MA user without the Data Integration Option, end to end on the stand-ins.

The sync reads the MA only from the customer CSV its admin screen exports (dropped in a folder) and
writes only through the public API v4: the MA stand-in's request log shows no integration-API call.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from connectors.kintone import KintoneClient
from connectors.kintone_model import record_values
from connectors.satori import SatoriClient
from flows.sync import sync_report
from sandbox.demo_env import KINTONE_TOKENS, MA_TOKEN, DemoEnvironment, DemoPorts, DemoSizes
from schemas.report import RunReport
from schemas.validate import load_spec, validate_spec_file
from tasks.targets import adapter_for
from tasks.targets.salesforce import SalesforceTarget

PUBLIC = Path(__file__).parents[2] / "examples" / "public.yaml"
INTEGRATION_API = "/api/integration/"
CARD = {
    "personId": "F" * 32,
    "exchangeDate": "2026-11-20",
    "lastName": "佐藤",
    "firstName": "花子",
    "lastNameReading": "サトウ",
    "firstNameReading": "ハナコ",
    "companyName": "株式会社サンプル",
    "title": "課長",
    "email": "hanako.public@sample.co.jp",
}
SECOND_CARD = {**CARD, "personId": "E" * 32, "lastName": "田中", "email": "tanaka.public@sample.co.jp"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    folder = tmp_path_factory.mktemp("public-access")
    with DemoEnvironment(
        folder / "env", DemoSizes(customers=40, actions=200, cards=0), ports=DemoPorts.free()
    ) as running:
        yield running


def public_spec(env: DemoEnvironment, folder: Path) -> Path:
    data = env.spec_document(PUBLIC)
    data["ma"]["exports"] = str(folder / "exports" / "*.csv")
    path = folder / "public.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def drop_export(env: DemoEnvironment, folder: Path, name: str, encoding: str = "cp932") -> bytes:
    """The admin screen's customer CSV download, saved where the spec's ma.exports looks."""
    ma = env.servers["satori"].url
    body = httpx.get(
        f"{ma}/_sandbox/admin/customers.csv",
        params={"encoding": encoding},
        headers={"Authorization": f"Bearer {MA_TOKEN}"},
    )
    body.raise_for_status()
    (folder / "exports").mkdir(exist_ok=True)
    (folder / "exports" / name).write_bytes(body.content)
    return body.content


def kintone_customers(env: DemoEnvironment) -> dict[str, dict[str, Any]]:
    with KintoneClient(env.servers["kintone"].url, api_tokens=[KINTONE_TOKENS[0]]) as client:
        rows = [record_values(r) for r in client.iter_records_seek(1)]
    return {str(r["メールアドレス"]): r for r in rows if r.get("メールアドレス")}


def ma_paths(env: DemoEnvironment) -> list[str]:
    return [e.path for e in env.servers["satori"].request_log.entries]


def line(report: RunReport, target: str, stream: str) -> Any:
    return next(x.counts for x in report.lines if x.target == target and x.stream == stream)


def test_public_access_reads_the_export_and_writes_through_v4_only(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    spec = public_spec(env, tmp_path)
    exported = drop_export(env, tmp_path, "customers_20261207.csv")
    header, first_row, *_ = csv.reader(io.StringIO(exported.decode("cp932")))  # the admin screen's format
    assert header[:5] == ["顧客ID", "ハッシュコード", "メールアドレス", "姓", "名"]
    updated = first_row[header.index("更新日時")]
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", updated), updated  # Japan time, no offset
    httpx.post(
        f"{env.servers['sansan'].url}/_sandbox/cards", json={"cards": [CARD, SECOND_CARD]}
    ).raise_for_status()
    env.servers["satori"].request_log.entries.clear()

    first = sync_report(str(spec))

    assert not first.failures, first.failures
    # the dropped export reached kintone, and the file was archived after it was staged
    in_kintone = kintone_customers(env)
    assert len(in_kintone) == 40
    assert not list((tmp_path / "exports").glob("*.csv"))
    assert [
        p.name.endswith("_customers_20261207.csv") for p in (tmp_path / "exports" / "archive").iterdir()
    ] == [True]
    assert line(first, "salesforce-leads", "customers").loaded == 40  # and Salesforce
    # the Sansan cards became MA customers through v4
    assert line(first, "sansan-cards", "inbound").loaded == 2

    # a sales stage changed in kintone goes back into the MA through v4
    email, record = next(iter(sorted(in_kintone.items())))
    stage = "受注" if record.get("商談ステージ") != "受注" else "失注"
    with KintoneClient(env.servers["kintone"].url, api_tokens=[KINTONE_TOKENS[0]]) as client:
        client.update_records(1, "メールアドレス", [{"メールアドレス": email, "商談ステージ": stage}])
    # and a title changed on a Salesforce lead goes back by hashcode
    leads = adapter_for(load_spec(spec), load_spec(spec).target("salesforce-leads"))
    assert isinstance(leads, SalesforceTarget)
    try:
        found = leads.client.call(lambda sf: sf.query(f"SELECT Id FROM Lead WHERE Email = '{email}'"))
        lead_id = found["records"][0]["Id"]
        leads.client.call(
            lambda sf: sf.restful(f"sobjects/Lead/{lead_id}", method="PATCH", json={"Title": "部長"})
        )
    finally:
        leads.close()
    second = sync_report(str(spec))
    assert not second.failures, second.failures
    assert line(second, "sansan-cards", "inbound").loaded == 0  # the cards again: nothing written twice
    assert line(second, "kintone-customers", "inbound").loaded == 1
    assert line(second, "salesforce-leads", "inbound").loaded == 1

    paths = ma_paths(env)
    assert not [p for p in paths if p.startswith(INTEGRATION_API)]
    # the two cards as one bulk CSV job (its status polled); the stage and the title one row each
    assert [p for p in paths if p.startswith("/api/") and not p.endswith("status.json")] == [
        "/api/v4/public/bulk_customers/upsert.json",
        "/api/v4/public/customer/upsert.json",
        "/api/v4/public/customer/upsert.json",
    ]
    assert "/api/v4/public/bulk_customers/status.json" in paths
    with SatoriClient(env.servers["satori"].url, MA_TOKEN) as ma:  # checked afterwards, as the operator
        card = ma.get_customer(email=CARD["email"])
        assert (card["last_name_reading"], card["title"]) == ("サトウ", "課長")
        assert card["custom"]["first_contact"] == "2026-11-20"
        changed = ma.get_customer(email=email)
        assert (changed["custom"]["sales_stage"], changed["title"]) == (stage, "部長")


def test_validate_refuses_action_histories_and_masters_under_public_access(tmp_path: Path) -> None:
    spec, problems = validate_spec_file(PUBLIC, {})
    assert spec is not None and not problems, problems
    data = yaml.safe_load(PUBLIC.read_text(encoding="utf-8"))
    data["targets"][0]["actions"] = {"form": {"app": 2}}
    data["targets"][0]["masters"] = {"form": {"app": 4}}
    path = tmp_path / "with-actions.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _, problems = validate_spec_file(path, {})
    found = {(p.path, p.rule): p.hint for p in problems}
    assert set(found) == {
        ("targets[0].actions.form", "public_no_actions"),
        ("targets[0].masters.form", "public_no_masters"),
    }
    assert (
        "exist only inside the Data Integration Option"
        in found[("targets[0].actions.form", "public_no_actions")]
    )
