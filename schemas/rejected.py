"""Rejected rows a person can fix (エラー行一覧): who the record is, where it lives, what was refused, why.

The quarantine keeps a row's key (often a hashcode) and the payload sent; an admin needs the
person's email, name and company, the target's record id and link, the field, the refused value,
the reason in their language and the fix. ``fixable_rows`` builds that table once; the CSV and the
Excel workbook attached to the failure email both write it. The raw payload stays last, for replay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.actions import DEFAULT_ACTION_FIELDS, action_fields
from schemas.cards import CARD_PERSON
from schemas.csvsafe import escape_surrogates
from schemas.messages import Language, in_language, lookup
from schemas.spec import Spec, Target
from schemas.targets import KintoneSettings, SalesforceSettings

NAME_FIELDS = ("last_name", "first_name")
COMPANY_FIELD = "lead_company_name"


@dataclass(frozen=True)
class Column:
    key: str
    ja: str
    en: str

    def header(self, language: Language) -> str:
        return in_language(self.ja, self.en, language)


COLUMNS: tuple[Column, ...] = (
    Column("target", "連携先", "target"),
    Column("stream", "データ", "stream"),
    Column("email", "メールアドレス", "email"),
    Column("name", "氏名", "name"),
    Column("company", "会社名", "company"),
    Column("record_id", "連携先のレコードID", "record id"),
    Column("link", "レコードのリンク", "record link"),
    Column("field", "項目", "field"),
    Column("value", "拒否された値", "refused value"),
    Column("reason", "理由", "reason"),
    Column("fix", "直し方", "what to do"),
    Column("code", "ルールコード（replay --rule 用）", "rule code (for replay --rule)"),
    Column("message", "連携先のメッセージ", "message"),
    Column("key", "再送用のキー", "key (for replay)"),
    Column("payload", "送信した値 (JSON)", "payload (JSON)"),
)


class RejectedRow(Protocol):
    """A quarantined row as the state store keeps it (connectors.state.QuarantinedRow fits)."""

    @property
    def target(self) -> str: ...
    @property
    def stream(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def field(self) -> str | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class PersonFields:
    """Where one target's payloads keep a person (payload keys per MA field) and how to link a record."""

    keys: Mapping[str, tuple[str, ...]]
    record_link: str | None = None  # a URL with ``{id}``

    def value(self, payload: Mapping[str, Any], ma_field: str) -> str:
        found = (payload.get(k) for k in (ma_field, *self.keys.get(ma_field, ())))
        return next((str(v) for v in found if v not in (None, "")), "")

    def name(self, payload: Mapping[str, Any]) -> str:
        """``姓 名`` as the payload holds them."""
        return " ".join(v for v in (self.value(payload, f) for f in NAME_FIELDS) if v)


@dataclass(frozen=True)
class RowContext:
    """What the quarantine alone does not know: each target's fields, and known record ids."""

    people: Mapping[str, PersonFields]
    record_ids: Mapping[tuple[str, str, str], str]  # (target, stream, key) → the target's record id


NO_CONTEXT = RowContext({}, {})


def person_fields(spec: Spec) -> dict[str, PersonFields]:
    """Per target: the target fields that carry email, name and company (the spec's map and actions)."""
    return {target.name: _person_fields(target) for target in spec.targets}


def _person_fields(target: Target) -> PersonFields:
    mapped = {ma: (entry.target,) for ma, entry in target.mappings().items()}
    if target.kind == "sansan":  # a refused card always shows whose it is (tasks/targets/sansan.py)
        for ma, card_field in CARD_PERSON.items():
            mapped.setdefault(ma, (card_field,))
    if target.match is not None:
        mapped.setdefault(target.match.ma, (target.match.target,))
    action_email = {action_fields(target.kind, a).get("email") for a in target.actions.values()}
    action_email.add(DEFAULT_ACTION_FIELDS.get(target.kind, {}).get("email"))
    emails = (*mapped.get("email", ()), *sorted(e for e in action_email if e))
    keys = {**mapped, "email": emails}
    return PersonFields(keys, _record_link(target))


def _record_link(target: Target) -> str | None:
    base = target.url.rstrip("/")
    if isinstance(target, KintoneSettings) and target.app is not None:
        return f"{base}/k/{target.app}/show#record={{id}}"
    if isinstance(target, SalesforceSettings):
        return f"{base}/lightning/r/{target.object or 'Lead'}/{{id}}/view"
    return None


def fixable_rows(
    rows: Iterable[RejectedRow],
    language: Language,
    context: RowContext = NO_CONTEXT,
    redact: Callable[[str], str] = str,
) -> list[dict[str, str]]:
    """One dict per rejected row, keyed by ``COLUMNS``; every text passes through ``redact``."""
    table = []
    for row in rows:
        fields = context.people.get(row.target, PersonFields({}))
        payload = dict(row.payload)
        entry = lookup(row.code)
        record_id = context.record_ids.get((row.target, row.stream, row.key), "")
        cells = {
            "target": row.target,
            "stream": stream_label(row.stream, language),
            "email": fields.value(payload, "email") or (row.key if "@" in row.key else ""),
            "name": fields.name(payload),
            "company": fields.value(payload, COMPANY_FIELD),
            "record_id": record_id,
            "link": fields.record_link.format(id=record_id) if fields.record_link and record_id else "",
            "field": row.field or "",
            "value": _text(payload.get(row.field)) if row.field else "",
            "reason": entry.reason(language),
            "fix": entry.fix(language),
            "code": row.code,
            "message": row.reason if entry.theirs or language != "ja" else "",
            "key": row.key,
            "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
        }
        table.append({k: escape_surrogates(redact(v)) for k, v in cells.items()})
    return table


STREAM_FAMILIES = {
    "customers": ("顧客", "customers"),
    "actions": ("行動履歴", "actions"),
    "masters": ("マスタ", "masters"),
    "inbound": ("書き戻し（連携先→MA）", "write-back (target → MA)"),
}
STREAM_KINDS = {
    "snapshot": "初回の全件",
    "form": "フォーム",
    "campaign": "キャンペーン",
    "tag": "タグ",
    "segment": "セグメント",
    "segment_added": "セグメント追加",
    "segment_removed": "セグメント解除",
    "email": "メール",
}


def stream_label(stream: str, language: Language) -> str:
    """``actions:form`` as a person reads it: 行動履歴（フォーム） in Japanese, the stream's own name in
    English (what `renkei replay` and the Prefect UI show)."""
    family, _, kind = stream.partition(":")
    words = STREAM_FAMILIES.get(family)
    if words is None or (kind and kind not in STREAM_KINDS):
        return stream
    japanese = f"{words[0]}（{STREAM_KINDS[kind]}）" if kind else words[0]
    return in_language(japanese, stream, language)


def person_label(
    context: RowContext, target: str, payload: Mapping[str, Any], *, company: bool = False
) -> str:
    """``email 姓 名`` of a refused row (``（会社名）`` after it with ``company``), as far as its values
    tell; empty when they tell nothing."""
    fields = context.people.get(target, PersonFields({}))
    label = " ".join(v for v in (fields.value(payload, "email"), fields.name(payload)) if v)
    held = fields.value(payload, COMPANY_FIELD) if company and label else ""
    return f"{label}（{held}）" if held else label


def column_headers(language: Language) -> list[str]:
    return [column.header(language) for column in COLUMNS]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
