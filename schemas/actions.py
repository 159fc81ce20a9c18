"""Action histories (行動履歴) and masters (マスタ) as target records: which staged column goes to which
target field. A master is upserted by its id, so its target shows the names action rows refer to."""

from __future__ import annotations

from typing import Any

from schemas.targets import ActionTarget

DEFAULT_ACTION_FIELDS: dict[str, dict[str, str]] = {
    "kintone": {
        "event_id": "イベントID",
        "kind": "種別",
        "email": "顧客メール",
        "hashcode": "顧客ハッシュ",
        "master_id": "マスタID",
        "master_name": "マスタ名",
        "event_type": "イベント種別",
        "occurred_at": "発生日時",
        "url": "URL",
    },
    "salesforce": {
        "event_id": "Event_ID__c",
        "hashcode": "SATORI_Customer_ID__c",  # the customer's External ID: becomes the Lead/Contact lookup
        "kind": "Kind__c",
        "email": "Email__c",
        "master_name": "Master_Name__c",
        "event_type": "Event_Type__c",
        "occurred_at": "Occurred_At__c",
    },
}


DEFAULT_MASTER_FIELDS: dict[str, dict[str, str]] = {
    "kintone": {
        "id": "マスタID",
        "kind": "種別",
        "name": "名称",
        "description": "説明",
        "status": "状態",
        "updated_at": "マスタ更新日時",
    },
    "salesforce": {
        "id": "Master_ID__c",
        "kind": "Kind__c",
        "name": "Name",
        "description": "Description__c",
        "status": "Status__c",
    },
}


def master_fields(kind: str, master: ActionTarget) -> dict[str, str]:
    """Staged master column → target field for one target kind, with the spec's overrides."""
    return {**DEFAULT_MASTER_FIELDS.get(kind, {}), **master.fields}


def action_fields(kind: str, action: ActionTarget) -> dict[str, str]:
    """Staged action column → target field for one target kind, with the spec's overrides."""
    return {**DEFAULT_ACTION_FIELDS.get(kind, {}), **action.fields}


def action_record(row: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    return {target: row.get(column) for column, target in fields.items()}
