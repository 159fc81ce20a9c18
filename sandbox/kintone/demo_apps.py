"""The demo kintone apps: a customer app 顧客, the action apps フォーム履歴 and メール履歴, and the
master app フォームマスタ (forms by id, so the form actions' names can be looked up in kintone).

Built through the stand-in's own model (no HTTP), each with an API token that has every record right.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.kintone.apps import build_app
from sandbox.kintone.fields import FieldDef, Option
from sandbox.kintone.store import Store

STAGES = ("未接触", "アプローチ中", "商談中", "受注", "失注")


@dataclass(frozen=True)
class DemoApp:
    id: int
    token: str


@dataclass(frozen=True)
class DemoApps:
    customers: DemoApp
    form_history: DemoApp
    mail_history: DemoApp
    form_master: DemoApp


def _text(code: str, **rules: object) -> FieldDef:
    return FieldDef.model_validate({"type": "SINGLE_LINE_TEXT", "code": code, "label": code, **rules})


def _typed(kind: str, code: str, **rules: object) -> FieldDef:
    return FieldDef.model_validate({"type": kind, "code": code, "label": code, **rules})


def customer_fields() -> list[FieldDef]:
    """顧客: メールアドレス is the unique, required match key; 顧客ハッシュ is unique too."""
    return [
        _text("メールアドレス", required=True, unique=True, maxLength="254"),
        *(_text(code) for code in ("姓", "名", "姓かな", "名かな", "会社名", "部署", "役職", "電話番号")),
        _typed("MULTI_LINE_TEXT", "住所"),
        _typed("NUMBER", "スコア"),
        _text("顧客ハッシュ", unique=True),
        _typed(
            "DROP_DOWN",
            "商談ステージ",
            options={s: Option(label=s, index=str(i)) for i, s in enumerate(STAGES)},
        ),
        _text("業種"),
        _typed("MULTI_LINE_TEXT", "最終更新者メモ"),
    ]


def action_fields() -> list[FieldDef]:
    """An action-history app keyed by イベントID so a re-run never duplicates an event."""
    return [
        _text("イベントID", required=True, unique=True),
        *(
            _text(code)
            for code in ("種別", "顧客メール", "顧客ハッシュ", "マスタID", "マスタ名", "イベント種別")
        ),
        _typed("DATETIME", "発生日時"),
        _typed("LINK", "URL"),
    ]


def master_fields() -> list[FieldDef]:
    """A master app keyed by マスタID so a re-run updates a master, never duplicates it."""
    return [
        _text("マスタID", required=True, unique=True),
        *(_text(code) for code in ("種別", "名称", "状態")),
        _typed("MULTI_LINE_TEXT", "説明"),
        _typed("DATETIME", "マスタ更新日時"),
    ]


def build_demo_apps(store: Store) -> DemoApps:
    """Create the four demo apps in ``store`` and issue one API token for each."""
    built = []
    for name, fields in (
        ("顧客", customer_fields()),
        ("フォーム履歴", action_fields()),
        ("メール履歴", action_fields()),
        ("フォームマスタ", master_fields()),
    ):
        app = build_app(store, name, fields)
        built.append(DemoApp(app.id, store.issue_token(app.id)))
    return DemoApps(*built)
