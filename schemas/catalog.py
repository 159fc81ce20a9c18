"""The MA customer field catalog (顧客項目): default fields and custom-field declarations.

Names follow the MA's public API v4 where it names them (``last_name``, ``lead_company_name`` …);
custom fields are addressed as ``custom:<識別名>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

CUSTOM_PREFIX = "custom:"
CUSTOM_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class FieldType(StrEnum):
    """Value types of MA customer fields; custom fields use the first eight."""

    TEXT = "text"
    TEXTAREA = "textarea"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    SELECT = "select"
    MULTI_SELECT = "multi_select"
    EMAIL = "email"
    BOOLEAN = "boolean"


CUSTOM_FIELD_TYPES: frozenset[FieldType] = frozenset(
    {
        FieldType.TEXT,
        FieldType.TEXTAREA,
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.SELECT,
        FieldType.MULTI_SELECT,
    }
)


@dataclass(frozen=True)
class FieldDef:
    """One MA customer field: its API name, value type, Japanese label and limits."""

    name: str
    type: FieldType
    label: str
    max_length: int | None = None
    options: tuple[str, ...] = ()
    system: bool = False  # assigned by the MA itself; nobody outside writes it
    unique: bool = False  # the MA refuses duplicate values (重複不可)

    @property
    def is_custom(self) -> bool:
        return self.name.startswith(CUSTOM_PREFIX)


DELIVERY_STATUSES = ("未確認", "正常", "アドレス不正", "エラー", "一時エラー", "スパム")

_T = FieldType
DEFAULT_FIELDS: tuple[FieldDef, ...] = (
    FieldDef("email", _T.EMAIL, "メールアドレス", 255, unique=True),
    FieldDef("last_name", _T.TEXT, "姓", 255),
    FieldDef("first_name", _T.TEXT, "名", 255),
    FieldDef("last_name_reading", _T.TEXT, "姓（ふりがな）", 255),
    FieldDef("first_name_reading", _T.TEXT, "名（ふりがな）", 255),
    FieldDef("lead_company_name", _T.TEXT, "会社名", 255),
    FieldDef("department", _T.TEXT, "部署", 255),
    FieldDef("title", _T.TEXT, "役職", 255),
    FieldDef("phone_number", _T.TEXT, "電話番号", 32),
    FieldDef("mobile_phone_number", _T.TEXT, "携帯電話番号", 32),
    FieldDef("fax", _T.TEXT, "FAX番号", 32),
    FieldDef("postcode", _T.TEXT, "郵便番号", 16),
    FieldDef("address", _T.TEXTAREA, "住所", 1000),
    FieldDef("url", _T.TEXT, "URL", 2048),
    FieldDef("collection_route", _T.TEXT, "情報獲得経路", 255),
    FieldDef("collection_date", _T.DATE, "情報獲得日"),
    FieldDef("memo", _T.TEXTAREA, "メモ", 10000),
    FieldDef("star", _T.BOOLEAN, "スター"),
    FieldDef("status", _T.SELECT, "ステータス", options=("見込み客", "商談中", "顧客", "失注", "対象外")),
    FieldDef("score", _T.INTEGER, "スコア", system=True),
    FieldDef("hashcode", _T.TEXT, "ハッシュコード", 64, system=True, unique=True),
    FieldDef("customer_id", _T.TEXT, "顧客ID", 64, system=True, unique=True),
    FieldDef("delivery_permission", _T.SELECT, "配信許可", options=("approval", "reject")),
    FieldDef("delivery_status", _T.SELECT, "配信ステータス", options=DELIVERY_STATUSES, system=True),
    FieldDef("mail_status", _T.SELECT, "メール状況", system=True),
    FieldDef("tags", _T.MULTI_SELECT, "タグ"),
    FieldDef("segments", _T.MULTI_SELECT, "セグメント", system=True),
    FieldDef("created_at", _T.DATETIME, "作成日時", system=True),
    FieldDef("updated_at", _T.DATETIME, "更新日時", system=True),
)
DEFAULT_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in DEFAULT_FIELDS)
_BY_NAME = {f.name: f for f in DEFAULT_FIELDS}


@dataclass(frozen=True)
class CustomFieldSpec:
    """A custom field as the company defined it in the MA (カスタマーカスタム項目)."""

    identifier: str
    type: FieldType
    unique: bool = False
    label: str = ""
    options: tuple[str, ...] = ()
    max_length: int | None = None

    def as_field(self) -> FieldDef:
        return FieldDef(
            CUSTOM_PREFIX + self.identifier,
            self.type,
            self.label or self.identifier,
            self.max_length,
            self.options,
            unique=self.unique,
        )


def is_custom_name(name: str) -> bool:
    return name.startswith(CUSTOM_PREFIX)


def custom_identifier(name: str) -> str:
    """``custom:sales_stage`` → ``sales_stage``."""
    return name.removeprefix(CUSTOM_PREFIX)


def lookup_field(name: str, custom: dict[str, CustomFieldSpec] | None = None) -> FieldDef | None:
    """The definition of a default field or a declared custom field, or None when unknown."""
    if is_custom_name(name):
        spec = (custom or {}).get(custom_identifier(name))
        return spec.as_field() if spec else None
    return _BY_NAME.get(name)


def catalog(custom: dict[str, CustomFieldSpec] | None = None) -> list[FieldDef]:
    """Every field of one company: the defaults, then its custom fields in declaration order."""
    return [*DEFAULT_FIELDS, *(spec.as_field() for spec in (custom or {}).values())]
