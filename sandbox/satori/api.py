"""The integration API (`/api/integration/v1/`): customers, search, field catalog and cuts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy import select

from sandbox.common import charge_records
from sandbox.satori import db
from sandbox.satori.clock import CUT_HOURS, TOKYO, cut_id, cuts_between, parse_cut_id, previous_cut
from sandbox.satori.deps import ERROR_RESPONSES, ApiError, Company, StoreDep
from sandbox.satori.exports import MEDIA_TYPES, action_chunks, as_csv, as_jsonl, master_chunks
from sandbox.satori.rules import NEVER_WRITABLE, Rejection, validate_row
from sandbox.satori.search import search as run_search
from sandbox.satori.store import Store, customers_json, find_customer
from sandbox.satori.wire import (
    ACTION_COLUMNS,
    ACTION_PAGE_LIMIT,
    MASTER_COLUMNS,
    ActionKind,
    ActionPage,
    ActionRow,
    BulkResults,
    BulkUpsert,
    Customer,
    CustomerKeys,
    CustomerList,
    CutInfo,
    CutList,
    FieldCatalog,
    FieldInfo,
    MasterKind,
    RowResult,
    SearchPage,
    SearchRequest,
)
from sandbox.satori.writes import Key, key_email, upsert_one
from schemas.catalog import CUSTOM_PREFIX, catalog

router = APIRouter(prefix="/api/integration/v1", responses=ERROR_RESPONSES, tags=["integration"])
MAX_CUT_SPAN = timedelta(days=366)
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/jsonl": {"schema": {"type": "string"}},
        }
    },
    **ERROR_RESPONSES,
}


def flatten(raw: dict[str, Any]) -> dict[str, Any]:
    """A wire row (default fields + ``custom: {id: value}``) as flat ``custom:<id>`` names."""
    row = dict(raw)
    custom = row.pop("custom", None) or {}
    if not isinstance(custom, dict):
        raise Rejection("wrong_type", "custom must be an object of identifier: value", "custom")
    return {**row, **{CUSTOM_PREFIX + str(k): v for k, v in custom.items()}}


def write_row(store: Store, company: str, key: Key, key_value: str, raw: dict[str, Any]) -> RowResult:
    """One row through the write rules; a rejection becomes a rejected result, never an exception."""
    try:
        row = flatten(raw)
        if key == "hashcode" and row.pop("hashcode", key_value) != key_value:
            raise Rejection("key_mismatch", "the row's hashcode differs from the key hashcode", "hashcode")
        with store.write_lock, store.engine.begin() as conn:
            specs = store.custom_specs(conn, company)
            written = upsert_one(
                conn, company, key, key_value, validate_row(row, specs), specs, store.now_micros()
            )
    except Rejection as exc:
        return RowResult(
            index=0, key=key_value, status="rejected", code=exc.code, message=exc.message, field=exc.field
        )
    return RowResult.model_validate(
        {"index": 0, "key": key_value, "status": written.status.value, "hashcode": written.hashcode}
    )


def _one(store: Store, company: str, **key: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = find_customer(conn, company, **key)
        if row is None:
            name, value = next(iter(key.items()))
            raise ApiError(404, "not_found", f"no customer with {name} {value!r}", name)
        return customers_json(conn, company, [row], store.custom_specs(conn, company))[0]


def _email_or_404(email: str) -> str:
    try:
        return key_email(email)
    except Rejection as exc:
        raise ApiError(
            404, "not_found", f"no customer with email {email!r}: {exc.message}", "email"
        ) from None


@router.get("/customers/by-email/{email}", response_model=Customer)
def get_by_email(email: str, company: Company, store: StoreDep) -> dict[str, Any]:
    """One customer by email (normalised: full-width and upper case match)."""
    return _one(store, company, email=_email_or_404(email))


@router.get("/customers/by-hashcode/{hashcode}", response_model=Customer)
def get_by_hashcode(hashcode: str, company: Company, store: StoreDep) -> dict[str, Any]:
    return _one(store, company, hashcode=hashcode)


def _put(store: Store, company: str, key: Key, value: str, body: dict[str, Any]) -> RowResult:
    result = write_row(store, company, key, value, body)
    if result.status == "rejected":
        status = 404 if result.code == "not_found" else 422
        raise ApiError(status, result.code or "rejected", result.message or "", result.field)
    return result


@router.put("/customers/by-email/{email}", response_model=RowResult)
def put_by_email(
    email: str, body: Annotated[dict[str, Any], Body()], company: Company, store: StoreDep
) -> RowResult:
    """Register a new customer or update one; fields not sent are left as they are, null clears."""
    return _put(store, company, "email", email, body)


@router.put("/customers/by-hashcode/{hashcode}", response_model=RowResult)
def put_by_hashcode(
    hashcode: str, body: Annotated[dict[str, Any], Body()], company: Company, store: StoreDep
) -> RowResult:
    """Update an existing customer (hashcodes are assigned by the MA, so this never creates)."""
    return _put(store, company, "hashcode", hashcode, body)


@router.post("/customers/bulk-get", response_model=CustomerList)
def bulk_get(body: CustomerKeys, company: Company, store: StoreDep) -> CustomerList:
    """Many customers by emails or by hashcodes (exactly one of the two lists), at most 1,000."""
    if (body.emails is None) == (body.hashcodes is None):
        raise ApiError(422, "invalid_request", "send exactly one of emails or hashcodes", "emails")
    c = db.customers.c
    with store.engine.connect() as conn:
        if body.emails is not None:
            wanted: dict[str, str | None] = {e: _email_or_none(e) for e in body.emails}
            column, keys = c.email, [v for v in wanted.values() if v]
        else:
            wanted = {h: h for h in body.hashcodes or []}
            column, keys = c.hashcode, [v for v in wanted.values() if v]
        rows = conn.execute(
            select(db.customers).where(c.company_id == company, column.in_(keys)).order_by(c.pk)
        ).all()
        found = {getattr(r, column.key) for r in rows}
        customers = customers_json(conn, company, rows, store.custom_specs(conn, company))
    return CustomerList(customers=customers, not_found=[k for k, v in wanted.items() if v not in found])


def _email_or_none(raw: str) -> str | None:
    try:
        return key_email(raw)
    except Rejection:
        return None


@router.post("/customers/bulk-upsert", response_model=BulkResults)
def bulk_upsert(body: BulkUpsert, company: Company, store: StoreDep, request: Request) -> BulkResults:
    """Register/update up to 1,000 customers; one outcome per row, in input order; a bad row fails alone."""
    charge_records(request.scope, len(body.customers))
    results = []
    for index, raw in enumerate(body.customers):
        value = raw.get(body.key)
        if not isinstance(value, str) or not value:
            result = RowResult(
                index=index,
                key=None,
                status="rejected",
                code="key_missing",
                message=f"the row has no {body.key} text",
                field=body.key,
            )
        else:
            result = write_row(store, company, body.key, value, raw).model_copy(update={"index": index})
        results.append(result)
    return BulkResults(results=results)


@router.post("/customers/search", response_model=SearchPage)
def search_customers(body: SearchRequest, company: Company, store: StoreDep) -> SearchPage:
    """Customers matching every condition, at most 500 per page; follow next_page_token."""
    try:
        with store.engine.connect() as conn:
            return run_search(conn, company, body, store.custom_specs(conn, company))
    except Rejection as exc:
        raise ApiError(422, exc.code, exc.message, exc.field) from None


@router.get("/fields", response_model=FieldCatalog)
def fields(company: Company, store: StoreDep) -> FieldCatalog:
    """The field catalog: default fields and the company's custom fields, with types and the unique flag."""
    with store.engine.connect() as conn:
        specs = store.custom_specs(conn, company)
    return FieldCatalog(
        fields=[
            FieldInfo(
                name=f.name,
                type=f.type.value,
                label=f.label,
                unique=f.unique,
                custom=f.is_custom,
                writable=not f.system and f.name not in NEVER_WRITABLE,
                max_length=f.max_length,
                options=list(f.options),
            )
            for f in catalog(specs)
        ],
        cut_times=[f"{hour:02d}:00" for hour in CUT_HOURS],
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=TOKYO)


@router.get("/cuts", response_model=CutList)
def list_cuts(
    company: Company,
    store: StoreDep,
    from_: Annotated[datetime | None, Query(alias="from", description="default: 7 days before `to`")] = None,
    to: Annotated[datetime | None, Query(description="default and upper bound: the service's now")] = None,
) -> CutList:
    """Cuts generated at 02:00 and 11:00 Asia/Tokyo in [from, to]; at most 366 days at once."""
    now = store.clock.now()
    end = min(_aware(to), now) if to is not None else now
    start = _aware(from_) if from_ is not None else end - timedelta(days=7)
    if end - start > MAX_CUT_SPAN:
        raise ApiError(422, "range_too_long", "from and to may be at most 366 days apart", "from")
    return CutList(
        cuts=[
            CutInfo(cut=cut_id(at), at=at.isoformat(), previous=previous_cut(at).isoformat())
            for at in cuts_between(start, end)
        ]
    )


def _cut(store: Store, text: str) -> datetime:
    at = parse_cut_id(text)
    if at is None or at > store.clock.now():
        raise ApiError(
            404, "unknown_cut", f"no cut {text!r}: ids look like 20261128T0200+0900, at or before now", "cut"
        )
    return at


def _stream(chunks: Any, columns: tuple[str, ...], fmt: str) -> StreamingResponse:
    body = as_csv(columns, chunks) if fmt == "csv" else as_jsonl(chunks)
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt])


def _action_kind(kind: str) -> ActionKind:
    try:
        return ActionKind(kind)
    except ValueError:
        raise ApiError(
            404, "unknown_kind", f"no action history {kind!r}: use one of {', '.join(ActionKind)}", "kind"
        ) from None


def _action_export(store: Store, company: str, cut: str, kind: str, fmt: str) -> Response:
    at = _cut(store, cut)
    action = _action_kind(kind)
    if fmt == "csv":
        cut_name = cut_id(at)
        path = store.cut_files.ensure(
            company,
            cut_name,
            action.value,
            lambda: as_csv(ACTION_COLUMNS, action_chunks(store.engine, company, action, at)),
        )
        return FileResponse(path, media_type=MEDIA_TYPES["csv"])
    return _stream(action_chunks(store.engine, company, action, at), ACTION_COLUMNS, fmt)


def _master_export(store: Store, company: str, cut: str, kind: str, fmt: str) -> StreamingResponse:
    at = _cut(store, cut)
    try:
        master = MasterKind(kind)
    except ValueError:
        raise ApiError(
            404, "unknown_kind", f"no master {kind!r}: use one of {', '.join(MasterKind)}", "kind"
        ) from None
    return _stream(master_chunks(store.engine, company, master, at), MASTER_COLUMNS, fmt)


@router.get("/cuts/{cut}/actions/{kind}.csv", response_class=FileResponse, responses=STREAM_RESPONSES)
def actions_csv(cut: str, kind: str, company: Company, store: StoreDep) -> Response:
    """One action history of one cut as UTF-8 CSV, ordered by event_id (the cut's file, made once)."""
    return _action_export(store, company, cut, kind, "csv")


@router.get("/cuts/{cut}/actions/{kind}.jsonl", response_class=StreamingResponse, responses=STREAM_RESPONSES)
def actions_jsonl(cut: str, kind: str, company: Company, store: StoreDep) -> Response:
    return _action_export(store, company, cut, kind, "jsonl")


@router.get("/cuts/{cut}/masters/{kind}.csv", response_class=StreamingResponse, responses=STREAM_RESPONSES)
def masters_csv(cut: str, kind: str, company: Company, store: StoreDep) -> StreamingResponse:
    """One master as of the cut (entries created before the cut instant) as UTF-8 CSV."""
    return _master_export(store, company, cut, kind, "csv")


@router.get("/cuts/{cut}/masters/{kind}.jsonl", response_class=StreamingResponse, responses=STREAM_RESPONSES)
def masters_jsonl(cut: str, kind: str, company: Company, store: StoreDep) -> StreamingResponse:
    return _master_export(store, company, cut, kind, "jsonl")


# declared after the .csv/.jsonl routes so that those win for names with a suffix
@router.get("/cuts/{cut}/actions/{kind}", response_model=ActionPage)
def actions_page(
    cut: str,
    kind: str,
    company: Company,
    store: StoreDep,
    page_size: Annotated[int, Query(ge=1, le=ACTION_PAGE_LIMIT)] = ACTION_PAGE_LIMIT,
    page_token: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
) -> ActionPage:
    """One action history of one cut as JSON pages (keyset by event_id) for generic REST clients."""
    at = _cut(store, cut)
    action = _action_kind(kind)
    after = int(page_token) if page_token else -1
    rows = list(next(action_chunks(store.engine, company, action, at, after, page_size), []))
    full = len(rows) == page_size
    page = [ActionRow(**row) for row in rows]
    return ActionPage(actions=page, next_page_token=rows[-1]["event_id"] if full else None)
