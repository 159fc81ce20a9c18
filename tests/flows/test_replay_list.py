"""`renkei replay --list`: the open rejected rows as a person fixes them, on screen and as xlsx/CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from connectors.state import Rejection, StateStore
from deployments.cli import app
from tests.flows.conftest import demo_spec_with_sato

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"
runner = CliRunner()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path, store = demo_spec_with_sato(tmp_path, "run-1", "選択肢にありません。")
    cards = [
        Rejection(
            f"p-{i}",
            {"lastName": f"山田{i}", "companyName": "山田工業"},
            "email_missing",
            "no email",
            "email",
        )
        for i in range(25)
    ]
    store.quarantine_rows("run-1", "sansan-cards", "inbound", cards)
    store.close()
    return path


def test_the_list_names_person_record_field_value_reason_and_fix(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    book = tmp_path / "rejected.xlsx"
    result = runner.invoke(app, ["replay", str(spec), "--list", "--xlsx", str(book)])
    assert result.exit_code == 0, result.output
    assert (
        "- kintone-customers / sato@example.co.jp 佐藤 花子 (佐藤物産) / レコードID 42 "
        '[商談ステージ = "検討中"]: kintone が入力値を受け付けませんでした' in result.output
    )
    assert "直し方: 連携先の項目設定を確認し" in result.output
    assert "未対応のエラー行: 26 件（ほか 6 件は表示を省略）" in result.output
    sheets = pd.read_excel(book, sheet_name=None, dtype=str, keep_default_na=False)
    assert len(sheets["sansan-cards"]) == 25  # the file holds every row, the screen the first 20
    assert sheets["kintone-customers"].loc[0, "氏名"] == "佐藤 花子"


def test_the_list_filters_by_rule_and_sends_nothing(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    result = runner.invoke(app, ["replay", str(spec), "--list", "--rule", "CB_VA01"])
    assert result.exit_code == 0, result.output
    assert "kintone refused the value" in result.output and "open rejected rows: 1" in result.output
    store = StateStore(yaml.safe_load(spec.read_text())["storage"]["state"], "demo")
    assert len(store.quarantined()) == 26  # listing closed nothing
