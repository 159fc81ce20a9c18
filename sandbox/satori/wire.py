"""Pydantic models of the integration API's requests and responses (they drive /openapi.json)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from schemas.catalog import DEFAULT_FIELDS, FieldType

BULK_LIMIT = 1_000
PAGE_LIMIT = 500
ANY_OF_LIMIT = 1_000


class ActionKind(StrEnum):
    FORM = "form"
    CAMPAIGN = "campaign"
    TAG = "tag"
    SEGMENT_ADDED = "segment_added"
    SEGMENT_REMOVED = "segment_removed"
    EMAIL = "email"


class MasterKind(StrEnum):
    FORM = "form"
    CAMPAIGN = "campaign"
    TAG = "tag"
    SEGMENT = "segment"
    EMAIL = "email"


MASTER_OF_ACTION: dict[ActionKind, MasterKind] = {
    ActionKind.FORM: MasterKind.FORM,
    ActionKind.CAMPAIGN: MasterKind.CAMPAIGN,
    ActionKind.TAG: MasterKind.TAG,
    ActionKind.SEGMENT_ADDED: MasterKind.SEGMENT,
    ActionKind.SEGMENT_REMOVED: MasterKind.SEGMENT,
    ActionKind.EMAIL: MasterKind.EMAIL,
}
ACTION_COLUMNS = (
    "event_id",
    "kind",
    "customer_id",
    "hashcode",
    "email",
    "master_id",
    "master_name",
    "event_type",
    "occurred_at",
    "recorded_at",
    "url",
)
MASTER_COLUMNS = ("id", "kind", "name", "description", "status", "created_at", "updated_at")


class ErrorBody(BaseModel):
    """Every 4xx of the integration API: a stable code, a message, and the field at fault."""

    code: str
    message: str
    field: str | None = None


_WIRE_TYPES: dict[FieldType, Any] = {
    FieldType.INTEGER: int | None,
    FieldType.DECIMAL: float | None,
    FieldType.BOOLEAN: bool | None,
    FieldType.MULTI_SELECT: list[str],
}
Customer: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Customer",
    __doc__="A customer: every default field, then custom field values by identifier.",
    **{f.name: (_WIRE_TYPES.get(f.type, str | None), ...) for f in DEFAULT_FIELDS},
    custom=(dict[str, Any], ...),
)


class CustomerKeys(BaseModel):
    """Either emails or hashcodes (at most 1,000)."""

    model_config = ConfigDict(extra="forbid")
    emails: list[str] | None = Field(None, max_length=BULK_LIMIT)
    hashcodes: list[str] | None = Field(None, max_length=BULK_LIMIT)


class CustomerList(BaseModel):
    customers: list[Customer]  # type: ignore[valid-type]
    not_found: list[str] = Field(default_factory=list, description="keys that matched no customer")


class BulkUpsert(BaseModel):
    """Rows are objects of default fields and ``custom: {identifier: value}``; at most 1,000 per call."""

    model_config = ConfigDict(extra="forbid")
    key: Literal["email", "hashcode"]
    customers: list[dict[str, Any]] = Field(..., max_length=BULK_LIMIT)


class RowResult(BaseModel):
    index: int
    key: str | None
    status: Literal["created", "updated", "unchanged", "rejected"]
    hashcode: str | None = None
    code: str | None = None
    message: str | None = None
    field: str | None = None


class BulkResults(BaseModel):
    results: list[RowResult]


class Condition(BaseModel):
    """One search condition; conditions are ANDed. ``range`` bounds are inclusive, either may be open."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    field: str = Field(..., description="a default field, custom:<identifier>, created_at, updated_at, tags")
    op: Literal["contains", "not_contains", "any_of", "range"]
    value: str | int | float | bool | None = None
    values: list[str | int | float | bool] | None = Field(None, max_length=ANY_OF_LIMIT)
    from_: str | int | float | None = Field(None, alias="from")
    to: str | int | float | None = None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conditions: list[Condition] = Field(default_factory=list, max_length=50)
    order: Literal["updated_at", "customer_id"] = Field(
        "updated_at",
        description=(
            "updated_at pages by (updated_at, customer_id): a customer updated while paging moves past the "
            "cursor and may appear again on a later page, never skipped. customer_id pages by id: each "
            "customer at most once, with its values as of the page that holds it."
        ),
    )
    page_size: int = Field(PAGE_LIMIT, ge=1, le=PAGE_LIMIT)
    page_token: str | None = None


class SearchPage(BaseModel):
    customers: list[Customer]  # type: ignore[valid-type]
    next_page_token: str | None


class FieldInfo(BaseModel):
    name: str
    type: str
    label: str
    unique: bool
    custom: bool
    writable: bool
    max_length: int | None
    options: list[str]


class FieldCatalog(BaseModel):
    fields: list[FieldInfo]
    cut_times: list[str] = Field(description="when histories and masters are generated (HH:MM, Tokyo)")


ACTION_PAGE_LIMIT = 5_000


class ActionRow(BaseModel):
    event_id: str
    kind: str
    customer_id: str | None
    hashcode: str | None
    email: str | None
    master_id: str
    master_name: str | None
    event_type: str
    occurred_at: str
    recorded_at: str
    url: str | None


class ActionPage(BaseModel):
    actions: list[ActionRow]
    next_page_token: str | None = Field(
        None, description="the last event_id of this page; absent on the last page"
    )


class CutInfo(BaseModel):
    cut: str = Field(..., description="YYYYMMDDTHHMM+0900")
    at: str
    previous: str


class CutList(BaseModel):
    cuts: list[CutInfo]
