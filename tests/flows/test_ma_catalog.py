"""The MA's field catalog decides, over real HTTP against the demo stand-ins.

`validate --online` names a field the MA marks unique (and cuts it does not generate); a run never
sends that field whatever the spec says; `plan` predicts the option rejection the run then makes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from connectors.kintone import KintoneClient
from connectors.kintone_model import record_values
from connectors.satori import SatoriClient
from deployments.cli import app
from flows.plan import plan
from flows.sync import sync_report
from sandbox.demo_env import KINTONE_TOKENS, MA_TOKEN, DemoEnvironment, DemoPorts, DemoSizes

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
KINTONE = "kintone-customers"
runner = CliRunner()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    with DemoEnvironment(
        tmp_path_factory.mktemp("catalog") / "env", DemoSizes(customers=120, actions=600, cards=10),
        ports=DemoPorts.free(),
    ) as running:  # fmt: skip
        yield running


def write(env: DemoEnvironment, folder: Path, change: Any = None) -> Path:
    """The demo spec (only its kintone target) with its own storage, changed by ``change(doc)``."""
    doc = env.spec_document(DEMO)
    doc["storage"] = {"staging": str(folder / "staging"), "state": f"sqlite:///{folder / 'state.db'}"}
    doc["targets"] = [t for t in doc["targets"] if t["name"] == KINTONE]
    if change is not None:
        change(doc)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def integrate_customer_code(doc: dict[str, Any]) -> None:
    """The issue's case: `unique: true` left off customer_code, which is then mapped readable."""
    doc["custom_fields"]["customer_code"] = {"type": "text", "label": "顧客コード"}
    doc["fields"]["custom:customer_code"] = "readable"
    doc["targets"][0]["map"]["custom:customer_code"] = "最終更新者メモ"


def kintone_records(env: DemoEnvironment) -> list[dict[str, Any]]:
    with KintoneClient(env.servers["kintone"].url, api_tokens=KINTONE_TOKENS) as client:
        return [record_values(r) for r in client.iter_records_seek(1)]


def test_validate_online_names_the_unique_field_offline_says_it_checked_offline(
    env: DemoEnvironment, tmp_path: Path
) -> None:
    path = write(env, tmp_path, integrate_customer_code)
    offline = runner.invoke(app, ["validate", str(path)])
    assert offline.exit_code == 0, offline.output
    assert "checked offline" in offline.output
    online = runner.invoke(app, ["validate", str(path), "--online"], env={"LANG": "en_US.UTF-8"})
    assert online.exit_code == 2
    line = next(x for x in online.output.splitlines() if "ma_unique_field" in x)
    assert "custom:customer_code" in line and "unique: false" in line and "重複不可" in line


def test_validate_online_names_cuts_and_options_with_both_values(
    env: DemoEnvironment, tmp_path: Path
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["cuts"] = ["05:00", "17:30"]
        doc["custom_fields"]["sales_stage"]["options"] = ["未接触", "商談中", "受注"]
        doc["custom_fields"]["first_contact"]["type"] = "text"
        doc["custom_fields"]["budget"] = {"type": "integer"}

    path = write(env, tmp_path, change)
    online = runner.invoke(app, ["validate", str(path), "--online"], env={"LANG": "en_US.UTF-8"})
    assert online.exit_code == 2
    text = " ".join(online.output.split())
    japanese = runner.invoke(app, ["validate", str(path), "--online"], env={"LANG": "ja_JP.UTF-8"})
    ja = " ".join(japanese.output.split())  # Japanese first, the MA's own values kept beside
    assert "ma_cut_mismatch: MA はこの時刻にカットを作りません" in ja and "spec: 05:00, MA:" in ja
    assert "cuts[0]: 05:00: ma_cut_mismatch: spec: 05:00, MA: generates action histories" in text
    assert "at 02:00, 11:00 only" in text and "cuts[1]: 17:30" in text
    assert "spec: ['未接触', '商談中', '受注'], MA: ['リード', 'MQL', 'SQL', '商談', '受注', '失注']" in text
    assert "custom:first_contact: ma_type_mismatch: spec: text, MA: date" in text
    assert "custom:budget: ma_field_missing" in text
    assert runner.invoke(app, ["validate", str(write(env, tmp_path)), "--online"]).exit_code == 0


def test_a_run_never_sends_a_field_the_ma_marks_unique(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    report = sync_report(str(write(env, tmp_path, integrate_customer_code)), [KINTONE])
    records = kintone_records(env)
    assert len(records) == 120
    assert not [r for r in records if r.get("最終更新者メモ")]  # no C000000001… anywhere
    assert report.outcome == "failed"
    assert [f.step for f in report.failures] == ["field catalog"]
    assert "custom:customer_code" in report.failures[0].message


def set_stage_options(env: DemoEnvironment, options: list[str]) -> None:
    """A kintone administrator gives 商談ステージ other options than the MA's (preview, then deploy)."""
    login = base64.b64encode(b"Administrator:renkei-demo").decode()
    field = {
        "type": "DROP_DOWN",
        "code": "商談ステージ",
        "label": "商談ステージ",
        "options": {o: {"label": o, "index": str(i)} for i, o in enumerate(options)},
    }
    for path, body in (
        ("preview/app/form/fields.json", {"app": 1, "properties": {"商談ステージ": field}}),
        ("preview/app/deploy.json", {"apps": [{"app": 1}]}),
    ):
        method = "PUT" if "fields" in path else "POST"
        httpx.request(
            method,
            f"{env.servers['kintone'].url}/k/v1/{path}",
            json=body,
            headers={"X-Cybozu-Authorization": login},
        ).raise_for_status()


def test_plan_predicts_the_option_rejection_the_run_makes(
    prefect_harness: None, env: DemoEnvironment, tmp_path: Path
) -> None:
    def spec_options(doc: dict[str, Any]) -> None:
        doc["custom_fields"]["sales_stage"]["options"] = ["未接触", "商談中", "受注"]

    path = write(env, tmp_path, spec_options)
    sync_report(str(path), [KINTONE])  # the first sync links every customer
    set_stage_options(env, ["未接触", "商談中", "受注", "SQL"])
    chosen = sorted(r["メールアドレス"] for r in kintone_records(env))[:2]
    with SatoriClient(env.servers["satori"].url, MA_TOKEN) as ma:
        now = ma.get_customer(email=chosen[1])["custom"]["sales_stage"]
    taken = "受注" if now == "SQL" else "SQL"  # an option of both the MA and the kintone app
    with KintoneClient(env.servers["kintone"].url, api_tokens=KINTONE_TOKENS) as client:
        client.update_records(
            1,
            "メールアドレス",
            [
                {"メールアドレス": chosen[0], "商談ステージ": "商談中"},
                {"メールアドレス": chosen[1], "商談ステージ": taken},
            ],
        )
    ids = {r["メールアドレス"]: r["$id"] for r in kintone_records(env)}

    predicted = plan(str(path), [KINTONE])
    assert any("ma_options_mismatch" in d for d in predicted.differences)
    changes = [c for c in pq.read_table(predicted.changes).to_pylist() if c["direction"] == "inbound"]
    planned = {(c["key"], c["reason"].split(":")[0]) for c in changes if c["action"] == "reject"}
    assert planned == {(ids[chosen[0]], "unknown_option")}
    planned_writes = {
        (c["key"], c["field"], c["after"])
        for c in pq.read_table(predicted.changes).to_pylist()
        if c["direction"] == "target → MA"
    }
    assert planned_writes == {(chosen[1], "custom:sales_stage", taken)}

    report = sync_report(str(path), [KINTONE])
    inbound = next(line for line in report.lines if line.stream == "inbound")
    made = {(e.key, e.code) for e in inbound.errors}
    assert made == planned
    assert inbound.counts.loaded == 1  # the one the MA takes
    with SatoriClient(env.servers["satori"].url, MA_TOKEN) as ma:
        assert ma.get_customer(email=chosen[1])["custom"]["sales_stage"] == taken
