"""Masters delivered, over real HTTP with the demo stand-ins: the form master fills its kintone app and
a Salesforce object (upserted by master id), and the kintone form actions show the form's name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from connectors.kintone import KintoneClient
from connectors.kintone_model import record_values
from connectors.satori import SatoriClient
from flows.sync import sync
from sandbox.demo_env import KINTONE_TOKENS, MA_TOKEN, DemoEnvironment, DemoSizes
from tests.flows.conftest import demo_world

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
TARGETS = ["kintone-customers", "salesforce-leads"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    with demo_world(tmp_path_factory, "masters", DemoSizes(100, 800, 5)) as running:
        yield running


def kintone_rows(env: DemoEnvironment, app: int) -> list[dict[str, object]]:
    with KintoneClient(env.servers["kintone"].url, api_tokens=KINTONE_TOKENS) as client:
        return [record_values(r) for r in client.iter_records_seek(app)]


def test_the_form_master_fills_its_app_and_form_actions_show_its_name(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    doc = env.spec_document(DEMO)
    doc["storage"] = {"staging": str(tmp_path / "staging"), "state": f"sqlite:///{tmp_path / 'state.db'}"}
    salesforce = next(t for t in doc["targets"] if t["name"] == "salesforce-leads")
    salesforce["masters"] = {"form": {"object": "SATORI_Master__c"}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    report = sync(str(path), TARGETS)
    assert not report.failures and report.cuts
    with SatoriClient(env.servers["satori"].url, MA_TOKEN) as ma:
        forms = {m["id"]: m["name"] for cut in report.cuts for m in ma.iter_masters_jsonl(cut, "form")}
    assert forms
    lines = {(line.target, line.stream): line.counts for line in report.lines}
    assert lines[("kintone-customers", "masters:form")].loaded == len(forms)

    app = kintone_rows(env, 4)
    assert {r["マスタID"]: r["名称"] for r in app} == forms  # one record per master, by id
    actions = kintone_rows(env, 2)
    assert actions and all(r["マスタ名"] == forms[str(r["マスタID"])] for r in actions)
    org = env.servers["salesforce"].app.state.org
    assert {r["Master_ID__c"]: r["Name"] for r in org.rows("SATORI_Master__c")} == forms

    again = sync(str(path), TARGETS)
    assert not again.failures
    assert len(kintone_rows(env, 4)) == len(forms)  # upserted by master id: never duplicated
