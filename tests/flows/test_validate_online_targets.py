"""`renkei validate --online` reads every target's own fields, over real HTTP against the demo stand-ins.

kintone's form and Salesforce's describe(): a mapped field the target does not have is named at the
spec entry to fix, with the field the target has that it most likely means; a target that does not
answer is one line, and the other targets are still checked.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from deployments.cli import app
from sandbox.common import free_port
from sandbox.demo_env import DemoEnvironment, DemoSizes
from tests.flows.conftest import demo_world

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
runner = CliRunner()
ENGLISH = {"LANG": "en_US.UTF-8"}
JAPANESE = {"LANG": "ja_JP.UTF-8"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    with demo_world(tmp_path_factory, "online", DemoSizes(customers=20, actions=40, cards=5)) as running:
        yield running


def spec_file(
    env: DemoEnvironment, folder: Path, change: Callable[[dict[str, Any]], None] | None = None
) -> Path:
    """The shipped demo spec pointed at this environment, changed by ``change(doc)``."""
    doc = env.spec_document(DEMO)
    if change is not None:
        change(doc)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def lines_of(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("error ", "エラー "))]


def test_two_key_typos_a_wrong_field_name_and_a_wrong_kintone_code_all_in_one_online_run(
    env: DemoEnvironment, tmp_path: Path
) -> None:
    """The issue's Done-when, exactly: all reported by one `validate --online`, each with a suggestion."""

    def typos(doc: dict[str, Any]) -> None:
        doc["cutz"] = doc.pop("cuts")  # key typo 1
        doc["notify"]["smtp"]["hots"] = doc["notify"]["smtp"].pop("host")  # key typo 2
        doc["fields"]["departmnet"] = doc["fields"].pop("department")  # wrong MA field name
        doc["targets"][0]["map"]["last_name"]["target"] = "姓氏"  # a kintone field code the app lacks

    result = runner.invoke(app, ["validate", str(spec_file(env, tmp_path, typos)), "--online"], env=ENGLISH)
    assert result.exit_code == 2, result.output
    errors = lines_of(result.output)
    expected = {
        "cutz: cutz: unknown_key": "(did you mean cuts?)",
        "notify.smtp.hots: hots: unknown_key": "(did you mean host?)",
        "fields.departmnet: departmnet: unknown_field": "(did you mean department?)",
        "targets[0].map.last_name: 姓氏: field_missing": "(did you mean 姓?)",
    }
    for head, suggestion in expected.items():
        line = next(x for x in errors if x.startswith(f"error {head}"))
        assert line.endswith(suggestion), line
    # department is still mapped while fields lacks it: the fifth error follows from the third
    assert [x.split(": ")[0] for x in errors if not any(x.startswith(f"error {h}") for h in expected)] == [
        "error targets[0].map.department"
    ]
    japanese = runner.invoke(
        app, ["validate", str(spec_file(env, tmp_path, typos)), "--online"], env=JAPANESE
    )
    ja = next(x for x in lines_of(japanese.output) if "姓氏" in x)
    assert "連携先にこの項目がありません" in ja and ja.endswith("（もしかして: 姓）")
    assert "mapped but" not in japanese.output  # the English hint stays out of the Japanese lines


def test_a_salesforce_field_the_object_lacks_is_named_with_the_closest_it_has(
    env: DemoEnvironment, tmp_path: Path
) -> None:
    def typo(doc: dict[str, Any]) -> None:
        doc["targets"][1]["map"]["first_name"]["target"] = "FristName"
        doc["targets"][1]["match"]["target"] = "SATORI_CustomerID__c"

    result = runner.invoke(app, ["validate", str(spec_file(env, tmp_path, typo)), "--online"], env=ENGLISH)
    assert result.exit_code == 2
    errors = [x for x in lines_of(result.output) if "Lead has no" in x]  # (the action object follows)
    assert errors == [
        "error targets[1].match.target: SATORI_CustomerID__c: field_missing: SATORI_CustomerID__c is mapped "
        "but Lead has no field with this code (did you mean SATORI_Customer_ID__c?)",
        "error targets[1].map.first_name: FristName: field_missing: FristName is mapped but Lead has no "
        "field with this code (did you mean FirstName?)",
    ]


def relabel(env: DemoEnvironment, app_id: int, code: str, label: str) -> None:
    """A kintone administrator gives a field another label (preview, then deploy)."""
    login = base64.b64encode(b"Administrator:renkei-demo").decode()
    base, headers = f"{env.servers['kintone'].url}/k/v1", {"X-Cybozu-Authorization": login}
    field = {"type": "SINGLE_LINE_TEXT", "code": code, "label": label}
    body = {"app": app_id, "properties": {code: field}}
    httpx.put(f"{base}/preview/app/form/fields.json", json=body, headers=headers).raise_for_status()
    deploy = {"apps": [{"app": app_id}]}
    httpx.post(f"{base}/preview/app/deploy.json", json=deploy, headers=headers).raise_for_status()


def test_a_label_written_for_a_code_and_an_action_app_field_are_found_where_the_spec_names_them(
    env: DemoEnvironment, tmp_path: Path
) -> None:
    relabel(env, 1, "電話番号", "TEL")

    def change(doc: dict[str, Any]) -> None:
        doc["targets"][0]["map"]["phone_number"] = "TEL"  # the label, where kintone wants the code
        doc["targets"][0]["actions"]["form"]["fields"] = {"email": "顧客メールアドレス"}

    result = runner.invoke(app, ["validate", str(spec_file(env, tmp_path, change)), "--online"], env=ENGLISH)
    assert result.exit_code == 2
    assert [x.split(" is mapped")[0] for x in lines_of(result.output)] == [
        "error targets[0].map.phone_number: TEL: field_missing: TEL",
        "error targets[0].actions.form.fields.email: 顧客メールアドレス: field_missing: 顧客メールアドレス",
    ]
    assert lines_of(result.output)[0].endswith("(did you mean 電話番号?)")
    assert lines_of(result.output)[1].endswith("(did you mean 顧客メール?)")


def test_a_target_that_does_not_answer_is_one_line_and_the_others_are_still_checked(
    env: DemoEnvironment, tmp_path: Path
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["targets"][1]["url"] = f"https://127.0.0.1:{free_port()}"  # nothing listens there
        doc["targets"][0]["map"]["department"] = "部 署"

    result = runner.invoke(app, ["validate", str(spec_file(env, tmp_path, change)), "--online"], env=ENGLISH)
    assert result.exit_code == 2
    errors = lines_of(result.output)
    assert [x.split(": ")[0:3] for x in errors] == [
        ["error targets[0].map.department", "部 署", "field_missing"],
        ["error targets[1].url", "salesforce-leads", "catalog_unreadable"],
    ]
    assert "Traceback" not in result.output


def test_the_shipped_demo_spec_is_valid_online_with_only_its_explained_warnings(
    env: DemoEnvironment, tmp_path: Path
) -> None:
    path = spec_file(env, tmp_path)
    offline = runner.invoke(app, ["validate", str(path)], env=ENGLISH)
    online = runner.invoke(app, ["validate", str(path), "--online"], env=ENGLISH)
    assert online.exit_code == 0, online.output
    assert "checked against the field catalogs of the MA and the targets" in online.output
    warnings = [x for x in online.output.splitlines() if x.startswith("warning ")]
    assert warnings == [x for x in offline.output.splitlines() if x.startswith("warning ")]
    assert all("readable_writable" in x for x in warnings)  # each explained on its line of the file


def test_a_salesforce_action_objects_field_is_checked_too(env: DemoEnvironment, tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["targets"][1]["actions"]["form"]["fields"] = {"name": "Form_Nmae__c"}

    result = runner.invoke(app, ["validate", str(spec_file(env, tmp_path, change)), "--online"], env=ENGLISH)
    assert result.exit_code == 2
    (line,) = lines_of(result.output)
    assert line.startswith("error targets[1].actions.form.fields.name: Form_Nmae__c: field_missing:")
    assert "SATORI_Action__c has no field" in line and line.endswith("?)")


def test_an_ma_that_does_not_answer_is_one_line_and_the_targets_are_still_checked(
    env: DemoEnvironment, tmp_path: Path
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["ma"]["url"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        doc["targets"][0]["map"]["department"] = "部 署"

    result = runner.invoke(app, ["validate", str(spec_file(env, tmp_path, change)), "--online"], env=ENGLISH)
    assert result.exit_code == 2
    assert [x.split(": ")[0:3] for x in lines_of(result.output)] == [
        ["error ma.url", "ma", "catalog_unreadable"],
        ["error targets[0].map.department", "部 署", "field_missing"],
    ]
