"""`renkei audit` for kintone over real HTTP: shared and badly formed emails, schema drift, exit codes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import tasks.ma_catalog
from connectors.http import HttpPolicy
from connectors.kintone import KintoneClient
from deployments.cli import app as cli
from sandbox.common import BackgroundServer
from sandbox.kintone.app import create_app
from sandbox.kintone.demo_apps import DemoApps, build_demo_apps
from schemas.audit import DuplicateEmail
from schemas.messages import lookup
from schemas.validate import load_spec
from tasks.audit import audit_target
from tasks.clients import ma_client
from tests.flows.conftest import write_spec
from tests.flows.test_kintone_sync import ADMIN, PASSWORD, change_form

ENGLISH = {"LANG": "en_US.UTF-8"}
FAST = HttpPolicy(backoff_base=0.001, backoff_cap=0.01, max_attempts=4)
CLEAN = [f"user{i}@example.co.jp" for i in range(1_200)]
MESSY = [
    "sato@example.co.jp",
    "ＳＡＴＯ@example.co.jp",
    "yamada@@example.co.jp",
    "tanaka at example.co.jp",
    "",
]
GOOD_MAP = {"email": "メールアドレス", "last_name": "姓", "address": "住所", "score": "スコア"}


@pytest.fixture(scope="module")
def kintone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(tmp_path_factory.mktemp("kintone"), ADMIN, PASSWORD)) as srv:
        yield srv


@pytest.fixture()
def no_ma(monkeypatch: pytest.MonkeyPatch) -> None:
    """The specs' MA (a closed port) is given up on after FAST's quick retries, not the default 15 s
    of backoff: `renkei audit` then says it checked the targets against the spec alone."""
    monkeypatch.setattr(
        tasks.ma_catalog, "ma_client", lambda spec, policy=None: ma_client(spec, policy or FAST)
    )


def fill(srv: BackgroundServer, emails: list[str], *, unique: bool) -> DemoApps:
    """Fresh demo apps whose customer app holds one record per email (duplicates allowed if not unique)."""
    apps = build_demo_apps(srv.app.state.kintone.store)
    if not unique:
        change_form(srv, apps.customers.id, {"メールアドレス": {"unique": False, "required": False}})
    with KintoneClient(srv.url, api_tokens=[apps.customers.token], policy=FAST) as client:
        rows: list[dict[str, object]] = [{"メールアドレス": e, "姓": "山田"} for e in emails]
        client.add_records(apps.customers.id, rows)
    return apps


def spec_for(
    tmp_path: Path, srv: BackgroundServer, apps: DemoApps, mapping: dict[str, str], **extra: Any
) -> Path:
    target = {
        "name": "kintone-customers", "kind": "kintone", "url": srv.url, "app": apps.customers.id,
        "auth": {"api_token": ",".join((apps.customers.token, apps.form_history.token))},
        "match": {"ma": "email", "target": "メールアドレス"}, "map": mapping,
        "actions": {"form": {"app": apps.form_history.id}},
    }  # fmt: skip
    return write_spec(
        tmp_path / "spec.yaml",
        "http://127.0.0.1:9",
        "tok",
        tmp_path,
        custom_fields={"industry": {"type": "text"}},
        fields={"email": "readable", "last_name": "readable", "address": "readable", "score": "readable",
                "custom:industry": "readable"},
        targets=[target, *extra.get("more", [])],
    )  # fmt: skip


def test_a_full_scan_finds_shared_and_bad_emails_and_drift(tmp_path: Path, kintone: BackgroundServer) -> None:
    apps = fill(kintone, CLEAN + MESSY, unique=False)
    drifted = {**GOOD_MAP, "address": "電話番号", "custom:industry": "業界"}
    spec = load_spec(spec_for(tmp_path, kintone, apps, drifted))
    kintone.request_log.entries.clear()

    report = audit_target(spec, spec.targets[0])
    reads = [e.method for e in kintone.request_log.entries if e.path == "/k/v1/records.json"]

    assert report is not None and not report.clean
    assert report.scanned == len(CLEAN) + len(MESSY)
    ids = {
        r["メールアドレス"]["value"]: r["$id"]["value"]
        for r in KintoneClient(kintone.url, api_tokens=[apps.customers.token], policy=FAST).iter_records_seek(
            apps.customers.id
        )
    }
    assert report.duplicates == [
        DuplicateEmail("sato@example.co.jp", (ids["sato@example.co.jp"], ids["ＳＡＴＯ@example.co.jp"]))
    ]
    bad = {(b.record_id, b.raw, b.rule) for b in report.bad_emails}
    assert bad == {
        (ids["yamada@@example.co.jp"], "yamada@@example.co.jp", "email_invalid"),
        (ids["tanaka at example.co.jp"], "tanaka at example.co.jp", "email_invalid"),
        (ids[""], "", "email_missing"),
    }
    drift = {(d.target_field, d.rule) for d in report.drift}
    assert drift == {
        ("メールアドレス", "key_not_unique"),
        ("電話番号", "incompatible_type"),
        ("業界", "field_missing"),
    }
    # the scan read 500 records a request, plus one for the highest id (the ranges' end)
    assert reads == ["GET"] * (math.ceil(report.scanned / 500) + 1), report.scanned


def test_renkei_audit_prints_the_report_and_exits_1_on_problems(
    tmp_path: Path, kintone: BackgroundServer, no_ma: None
) -> None:
    apps = fill(kintone, ["a@example.co.jp", "Ａ@example.co.jp ", "b@example.co.jp"], unique=False)
    result = CliRunner().invoke(cli, ["audit", str(spec_for(tmp_path, kintone, apps, GOOD_MAP))], env=ENGLISH)
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "kintone-customers (kintone): 3 records scanned — problems found" in out
    assert "1 email(s) held by several records" in out and "a@example.co.jp" in out
    assert "key_not_unique" in out
    japanese = CliRunner().invoke(
        cli, ["audit", str(spec_for(tmp_path, kintone, apps, GOOD_MAP))], env={"LANG": "ja_JP.UTF-8"}
    )
    ja = " ".join(japanese.output.split())
    assert "kintone-customers (kintone): 3 件を確認 — 問題あり" in ja
    assert "1 件のメールアドレスを複数のレコードが保持" in ja and lookup("duplicate_email").fix_ja in ja
    assert lookup("key_not_unique").ja in ja and lookup("key_not_unique").fix_ja in ja
    assert "key_not_unique" not in ja and "records scanned" not in ja  # no English of ours


def test_renkei_audit_exits_0_when_clean(tmp_path: Path, kintone: BackgroundServer, no_ma: None) -> None:
    apps = fill(kintone, CLEAN[:20], unique=True)
    result = CliRunner().invoke(cli, ["audit", str(spec_for(tmp_path, kintone, apps, GOOD_MAP))], env=ENGLISH)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "kintone-customers (kintone): 20 records scanned — clean" in out
    assert "the MA's field catalog could not be read" in out  # no MA here: the spec alone is used
