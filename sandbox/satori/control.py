"""Trial and test controls under `/_sandbox/` (not in the OpenAPI): the clock and direct inserts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert

from sandbox.satori import db
from sandbox.satori.clock import iso_tokyo, to_micros
from sandbox.satori.deps import ApiError, Company, StoreDep
from sandbox.satori.store import find_customer
from sandbox.satori.wire import ActionKind, MasterKind
from sandbox.satori.writes import record_action
from schemas.catalog import CustomFieldSpec, FieldType

router = APIRouter(prefix="/_sandbox", include_in_schema=False)


class ClockBody(BaseModel):
    now: datetime | None = Field(None, description="a fixed now (with offset), or null for the wall clock")


class CustomFieldBody(BaseModel):
    identifier: str = Field(..., pattern=r"^[A-Za-z0-9_]{1,64}$")
    type: FieldType
    unique: bool = False
    label: str = ""
    options: list[str] = Field(default_factory=list)
    max_length: int | None = None


class MasterBody(BaseModel):
    kind: MasterKind
    id: str
    name: str
    description: str = ""
    status: str = "active"
    created_at: datetime


class ActionBody(BaseModel):
    kind: ActionKind
    email: str | None = None
    hashcode: str | None = None
    master_id: str
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    url: str | None = None


class RawCustomer(BaseModel):
    """A customer inserted as given (no write rules): for system fields and edge cases in trials."""

    model_config = ConfigDict(extra="allow")
    email: str
    custom: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, description="tag master ids")
    segments: list[str] = Field(default_factory=list, description="segment master ids")
    created_at: datetime | None = None


@router.put("/clock")
def set_clock(body: ClockBody, store: StoreDep) -> dict[str, str | None]:
    if body.now is not None and body.now.tzinfo is None:
        raise ApiError(422, "invalid_request", "now needs a timezone offset", "now")
    store.clock.set(body.now)
    store.cut_files.invalidate()  # past cuts look different from another now
    return {"now": store.clock.now().isoformat()}


@router.post("/custom-fields")
def add_custom_fields(body: list[CustomFieldBody], company: Company, store: StoreDep) -> dict[str, int]:
    for item in body:
        spec = CustomFieldSpec(
            item.identifier, item.type, item.unique, item.label, tuple(item.options), item.max_length
        )
        store.define_custom_field(company, spec)
    return {"defined": len(body)}


@router.post("/masters")
def add_masters(body: list[MasterBody], company: Company, store: StoreDep) -> dict[str, int]:
    with store.write_lock, store.engine.begin() as conn:
        for m in body:
            at = to_micros(m.created_at)
            conn.execute(
                insert(db.masters).values(
                    company_id=company,
                    kind=m.kind.value,
                    id=m.id,
                    name=m.name,
                    description=m.description,
                    status=m.status,
                    created_at=at,
                    updated_at=at,
                )
            )
    return {"created": len(body)}


@router.post("/actions")
def add_actions(body: list[ActionBody], company: Company, store: StoreDep) -> dict[str, list[str]]:
    """Record action events with explicit occurred_at / recorded_at (late recording included)."""
    store.cut_files.invalidate(company)
    ids = []
    with store.write_lock, store.engine.begin() as conn:
        for a in body:
            row = (
                find_customer(conn, company, email=a.email)
                if a.email
                else find_customer(conn, company, hashcode=a.hashcode)
            )
            if row is None:
                raise ApiError(404, "not_found", f"no customer {a.email or a.hashcode!r}", "email")
            ids.append(
                str(
                    record_action(
                        conn,
                        company,
                        a.kind.value,
                        row.pk,
                        a.master_id,
                        a.event_type,
                        to_micros(a.occurred_at),
                        to_micros(a.recorded_at),
                        a.url,
                    )
                )
            )
    return {"event_ids": ids}


@router.post("/customers")
def add_customers(body: list[RawCustomer], company: Company, store: StoreDep) -> dict[str, list[str]]:
    hashcodes = []
    columns = {c.name for c in db.customers.columns} - {
        "pk",
        "company_id",
        "hashcode",
        "created_at",
        "updated_at",
    }
    with store.write_lock, store.engine.begin() as conn:
        for item in body:
            extra = {k: v for k, v in (item.model_extra or {}).items() if k in columns}
            at = to_micros(item.created_at) if item.created_at else store.now_micros()
            hashcode = uuid.uuid4().hex
            pk = conn.execute(
                insert(db.customers).values(
                    company_id=company,
                    hashcode=hashcode,
                    email=item.email,
                    custom=item.custom,
                    created_at=at,
                    updated_at=at,
                    **extra,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            members = [("tag", t) for t in item.tags] + [("segment", s) for s in item.segments]
            for kind, master_id in members:
                conn.execute(insert(db.memberships).values(customer_pk=pk, kind=kind, master_id=master_id))
            hashcodes.append(hashcode)
    return {"hashcodes": hashcodes}


@router.get("/clock")
def get_clock(store: StoreDep) -> dict[str, str | None]:
    return {"now": iso_tokyo(store.now_micros())}
