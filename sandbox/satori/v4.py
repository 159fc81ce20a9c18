"""The public Web API v4 write shapes: single customer (form-encoded) and bulk CSV (multipart).

Auth is the four form fields; ``company_key`` is the company id and ``company_secret`` the company's
public key (its own credential: the integration API's Bearer token does not open v4, nor this key
the integration API).
Blank values never overwrite; registration on an existing customer only fills blank fields,
adds tags and changes the delivery permission. Bulk jobs run at once; status.json reports them.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse

from sandbox.satori.rules import Rejection, validate_row
from sandbox.satori.store import Store, find_customer
from sandbox.satori.writes import Key, WriteOptions, Written, delete_customer, key_email, upsert_one

router = APIRouter(prefix="/api/v4/public", tags=["public API v4"])
BULK_ROW_LIMIT = 10_000
AUTH_FIELDS = ("user_key", "user_secret", "company_key", "company_secret")
_AUTH_SCHEMA = {name: {"type": "string"} for name in AUTH_FIELDS}
FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **_AUTH_SCHEMA,
                        "customer[identity_type]": {"type": "string", "enum": ["email", "hashcode"]},
                    },
                    "additionalProperties": {"type": "string"},
                }
            }
        },
    }
}
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **_AUTH_SCHEMA,
                        "identity_type": {"type": "string", "enum": ["email", "hashcode"]},
                        "customer_csv_file": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


class V4Reply(BaseModel):
    """`{"status": 200, "message": {"customer[hashcode]": "..."}}`; on error status ≠ 200 and text."""

    status: int
    message: dict[str, str] | str
    body: dict[str, Any] | None = None


REPLIES: dict[int | str, dict[str, Any]] = {s: {"model": V4Reply} for s in (400, 401, 404, 413)}


class V4Error(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _reply(status: int, message: dict[str, str] | str, body: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(
        V4Reply(status=status, message=message, body=body).model_dump(exclude_none=True), status_code=status
    )


def _company(store: Store, values: Mapping[str, Any]) -> str:
    """The company named by the four key fields, or a 401."""
    given = {name: values.get(name) for name in AUTH_FIELDS}
    if not all(isinstance(v, str) and v for v in given.values()):
        raise V4Error(401, f"send all of {', '.join(AUTH_FIELDS)}")
    company = store.company_for_public_key(str(given["company_secret"]))
    if company is None or company != given["company_key"]:
        raise V4Error(401, "company_key and company_secret do not match")
    return company


def _tags(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def write_fields(
    store: Store, company: str, fields: dict[str, str], identity: str, registration: bool
) -> Written:
    """One customer from v4 text fields; blank values are left out, so they never overwrite."""
    if identity not in ("email", "hashcode"):
        raise Rejection("invalid_identity_type", "identity_type must be email or hashcode", "identity_type")
    key: Key = "email" if identity == "email" else "hashcode"
    values = {k: v for k, v in fields.items() if v.strip() != ""}
    key_value = values.get(key)
    if key_value is None:
        raise Rejection(f"{key}_missing", f"{key} is required for identity_type {key}", key)
    if key == "hashcode":
        values.pop("hashcode")
    options = WriteOptions(
        fill_blank_only=registration,
        add_tags=_tags(values.pop("append_tags", None)),
        remove_tags=_tags(values.pop("delete_tags", None)),
        overwrite_always=frozenset({"delivery_permission", "star"}),
    )
    with store.write_lock, store.engine.begin() as conn:
        specs = store.custom_specs(conn, company)
        return upsert_one(
            conn,
            company,
            key,
            key_value,
            validate_row(values, specs, from_text=True),
            specs,
            store.now_micros(),
            options,
        )


async def _form(request: Request) -> Any:
    try:
        return await request.form(max_files=1, max_fields=500)
    except Exception as exc:  # malformed bodies of any kind are the caller's error, never a 5xx
        raise V4Error(400, f"the body is not a valid form: {exc}") from None


def _customer_fields(form: Mapping[str, Any]) -> dict[str, str]:
    return {
        k[len("customer[") : -1]: v
        for k, v in form.items()
        if k.startswith("customer[") and k.endswith("]") and isinstance(v, str)
    }


async def _single(request: Request, registration: bool) -> JSONResponse:
    store: Store = request.app.state.store
    try:
        form = await _form(request)
        company = _company(store, form)
        fields = _customer_fields(form)
        written = write_fields(store, company, fields, fields.pop("identity_type", "email"), registration)
    except V4Error as exc:
        return _reply(exc.status, str(exc))
    except Rejection as exc:
        return _reply(404 if exc.code == "not_found" else 400, f"customer[{exc.field}]: {exc.message}")
    return _reply(200, {"customer[hashcode]": written.hashcode})


@router.post(
    "/customer/registration.json", response_model=V4Reply, responses=REPLIES, openapi_extra=FORM_BODY
)
async def register(request: Request) -> JSONResponse:
    """Register a customer; an existing one only gets blank fields filled, tags added, permission changed."""
    return await _single(request, registration=True)


@router.post("/customer/upsert.json", response_model=V4Reply, responses=REPLIES, openapi_extra=FORM_BODY)
async def upsert(request: Request) -> JSONResponse:
    """Create or update a customer; blank values do not overwrite."""
    return await _single(request, registration=False)


@router.post("/customer/delete.json", response_model=V4Reply, responses=REPLIES, openapi_extra=FORM_BODY)
async def delete(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    try:
        form = await _form(request)
        company = _company(store, form)
        fields = _customer_fields(form)
        identity = fields.get("identity_type", "email")
        with store.write_lock, store.engine.begin() as conn:
            if identity == "hashcode":
                row = find_customer(conn, company, hashcode=fields.get("hashcode", ""))
            else:
                row = find_customer(conn, company, email=key_email(fields.get("email", "")))
            if row is None:
                raise V4Error(404, "customer not found")
            delete_customer(conn, company, row)
    except V4Error as exc:
        return _reply(exc.status, str(exc))
    except Rejection as exc:
        return _reply(400, f"customer[{exc.field}]: {exc.message}")
    return _reply(200, {"customer[hashcode]": row.hashcode})


async def _bulk(request: Request, registration: bool) -> JSONResponse:
    store: Store = request.app.state.store
    try:
        form = await _form(request)
        company = _company(store, form)
        upload = form.get("customer_csv_file")
        if not isinstance(upload, UploadFile):
            raise V4Error(400, "customer_csv_file: attach the CSV as a file")
        try:
            text = (await upload.read()).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise V4Error(400, "customer_csv_file: the CSV must be UTF-8") from None
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        if len(rows) > BULK_ROW_LIMIT:
            raise V4Error(413, f"customer_csv_file: at most {BULK_ROW_LIMIT} rows per request")
        identity = str(form.get("identity_type") or "email")
    except (V4Error, csv.Error) as exc:
        return _reply(exc.status if isinstance(exc, V4Error) else 400, str(exc))
    failed = []
    for number, row in enumerate(rows, start=2):
        fields = {str(k): v for k, v in row.items() if k is not None and isinstance(v, str)}
        try:
            write_fields(store, company, fields, identity, registration)
        except Rejection as exc:
            failed.append({"row_number": number, "message": f"{exc.field}: {exc.message}"})
    code = uuid.uuid4().hex
    # the real service processes a job in the background: the first status read says "processing"
    request.app.state.v4_processes[code] = (
        company,
        {
            "process_code": code,
            "process_status": "processing",
            "total_rows": len(rows),
            "failed_rows": failed,
        },
    )
    return _reply(202, "Accepted", {"process_code": code})


@router.post(
    "/bulk_customers/registration.json",
    response_model=V4Reply,
    status_code=202,
    responses=REPLIES,
    openapi_extra=CSV_BODY,
)
async def bulk_register(request: Request) -> JSONResponse:
    """Bulk registration from a CSV of at most 10,000 rows; header names as in the single API."""
    return await _bulk(request, registration=True)


@router.post(
    "/bulk_customers/upsert.json",
    response_model=V4Reply,
    status_code=202,
    responses=REPLIES,
    openapi_extra=CSV_BODY,
)
async def bulk_upsert(request: Request) -> JSONResponse:
    """Bulk upsert from a CSV; blank cells do not overwrite, unknown emails are created."""
    return await _bulk(request, registration=False)


@router.get("/bulk_customers/status.json", response_model=V4Reply, responses=REPLIES)
def bulk_status(
    request: Request,
    user_key: str = "",
    user_secret: str = "",
    company_key: str = "",
    company_secret: str = "",
    process_code: str = "",
) -> JSONResponse:
    """A bulk job: process_status and failed_rows [{row_number (header = 1), message}]."""
    store: Store = request.app.state.store
    auth = {
        "user_key": user_key,
        "user_secret": user_secret,
        "company_key": company_key,
        "company_secret": company_secret,
    }
    try:
        company = _company(store, auth)
    except V4Error as exc:
        return _reply(exc.status, str(exc))
    found = request.app.state.v4_processes.get(process_code)
    if found is None or found[0] != company:
        return _reply(404, f"no process {process_code!r}")
    job = dict(found[1])
    found[1]["process_status"] = "finished"
    if job["process_status"] != "finished":
        job.pop("failed_rows")
    return _reply(200, "OK", job)
