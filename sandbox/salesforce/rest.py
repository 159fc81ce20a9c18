"""The REST resources: versions, limits, SOQL query with paging, sObject CRUD and upsert, Collections."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from sandbox.common import charge_records
from sandbox.salesforce.errors import RecordError, SalesforceError
from sandbox.salesforce.soql_exec import Executor, Row
from sandbox.salesforce.soql_parser import parse
from sandbox.salesforce.store import Org, RecordFailure, SeveralMatches

API_VERSIONS = [f"{v}.0" for v in range(31, 63)]
MAX_BATCH = 2000
MAX_COLLECTION = 200
BASE = "/services/data/v{version}"


class Cursors:
    """Open query cursors (nextRecordsUrl): the rest of a result set, kept for a while."""

    def __init__(self, keep: int = 64):
        self.keep = keep
        self.open: OrderedDict[str, list[Row]] = OrderedDict()
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    def page(
        self, version: str, rows: list[Row], start: int, size: int, cursor: str | None
    ) -> dict[str, Any]:
        end = start + size
        body: dict[str, Any] = {"done": end >= len(rows), "records": rows[start:end]}
        if end < len(rows):
            with self.lock:
                if cursor is None:
                    cursor = f"01gRK{next(self.numbers):013d}"
                    self.open[cursor] = rows
                    while len(self.open) > self.keep:
                        self.open.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor}-{end}"
        elif cursor is not None:
            self.open.pop(cursor, None)
        return body


def record_url(version: str, obj: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{obj}/{record_id}"


def batch_size(request: Request) -> int:
    options = request.headers.get("Sforce-Query-Options", "")
    for part in options.split(","):
        key, _, value = part.strip().partition("=")
        if key == "batchSize" and value.isdigit():
            return max(200, min(MAX_BATCH, int(value)))
    return MAX_BATCH


def run_soql(org: Org, soql: str, version: str, *, include_deleted: bool) -> tuple[list[Row], int]:
    """Rows as the REST API returns them (with attributes) and totalSize."""
    query = parse(soql)
    try:
        spec = org.spec(query.sobject)
    except SalesforceError as exc:
        raise SalesforceError("INVALID_TYPE", f"sObject type '{query.sobject}' is not supported.") from exc
    with org.lock:
        source = org.rows(spec.name, include_deleted=include_deleted)
        raw = [dict(r) for r in source]
    executor = Executor(query, spec)
    rows, total = executor.run(raw)
    if query.aggregate:
        return [{"attributes": {"type": "AggregateResult"}, **r} for r in rows], total
    columns = executor.columns()
    return [
        {
            "attributes": {"type": spec.name, "url": record_url(version, spec.name, row["Id"])},
            **{c: row.get(c) for c in columns},
        }
        for row in rows
    ], total


def upsert_result(record_id: str, created: bool) -> dict[str, Any]:
    return {"id": record_id, "success": True, "errors": [], "created": created}


def failed(errors: list[RecordError]) -> dict[str, Any]:
    return {"success": False, "errors": [e.collection_item() for e in errors]}


def several(ids: list[str], field_name: str) -> RecordError:
    return RecordError(
        "DUPLICATE_EXTERNAL_ID",
        f"{field_name}: more than one record found for external id field: {ids}",
        (field_name,),
    )


def build_router(org: Org, cursors: Cursors) -> APIRouter:
    router = APIRouter()

    @router.get("/services/data")
    @router.get("/services/data/")
    def versions() -> JSONResponse:
        return JSONResponse(
            [{"label": f"API {v}", "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS]
        )

    @router.get(BASE + "/query")
    @router.get(BASE + "/query/")  # simple-salesforce's spelling: answered, not redirected (one round trip)
    @router.get(BASE + "/queryAll")
    @router.get(BASE + "/queryAll/")
    def query(version: str, q: str, request: Request) -> JSONResponse:
        include_deleted = request.url.path.rstrip("/").endswith("queryAll")
        rows, total = run_soql(org, q, version, include_deleted=include_deleted)
        body = cursors.page(version, rows, 0, batch_size(request), None)
        return JSONResponse({"totalSize": total, **body})

    @router.get(BASE + "/query/{locator}")
    @router.get(BASE + "/queryAll/{locator}")
    def query_more(version: str, locator: str, request: Request) -> JSONResponse:
        cursor, _, start = locator.rpartition("-")
        rows = cursors.open.get(cursor)
        if rows is None or not start.isdigit():
            raise SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator", 400)
        body = cursors.page(version, rows, int(start), batch_size(request), cursor)
        return JSONResponse({"totalSize": len(rows), **body})

    @router.get(BASE + "/sobjects")
    def describe_global() -> JSONResponse:
        objects = [
            {
                "name": o.name,
                "label": o.name,
                "keyPrefix": o.key_prefix,
                "custom": o.custom,
                "queryable": True,
            }
            for o in org.objects.values()
        ]
        return JSONResponse({"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION, "sobjects": objects})

    @router.get(BASE + "/sobjects/{obj}/describe")
    def describe(obj: str) -> JSONResponse:
        return JSONResponse(org.spec(obj).describe())

    @router.get(BASE + "/sobjects/{obj}")
    def object_info(obj: str) -> JSONResponse:
        spec = org.spec(obj)
        return JSONResponse(
            {"objectDescribe": {"name": spec.name, "keyPrefix": spec.key_prefix}, "recentItems": []}
        )

    @router.post(BASE + "/sobjects/{obj}")
    async def create(obj: str, request: Request) -> JSONResponse:
        body = await request.json()
        with org.batch():
            record_id = _one(lambda: org.create(obj, body))
        return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)

    @router.get(BASE + "/sobjects/{obj}/{record_id}")
    def read(version: str, obj: str, record_id: str, fields: str | None = None) -> JSONResponse:
        row = org.get(obj, record_id)
        return JSONResponse(_shape(version, org.spec(obj).name, row, fields))

    @router.patch(BASE + "/sobjects/{obj}/{record_id}")
    async def update(obj: str, record_id: str, request: Request) -> Response:
        body = await request.json()
        with org.batch():
            _one(lambda: org.update(obj, record_id, body))
        return Response(status_code=204)

    @router.delete(BASE + "/sobjects/{obj}/{record_id}")
    def delete(obj: str, record_id: str) -> Response:
        with org.batch():
            org.delete(obj, record_id)
        return Response(status_code=204)

    @router.get(BASE + "/sobjects/{obj}/{field_name}/{value:path}")
    def read_by_external_id(version: str, obj: str, field_name: str, value: str) -> JSONResponse:
        ids = org.match(obj, field_name, unquote(value))
        if not ids:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", 404)
        if len(ids) > 1:
            return JSONResponse([record_url(version, org.spec(obj).name, i) for i in ids], status_code=300)
        return JSONResponse(_shape(version, org.spec(obj).name, org.get(obj, ids[0]), None))

    @router.patch(BASE + "/sobjects/{obj}/{field_name}/{value:path}")
    async def upsert(version: str, obj: str, field_name: str, value: str, request: Request) -> Response:
        body = await request.json()
        try:
            with org.batch():
                record_id, created = _one(lambda: org.upsert(obj, field_name, unquote(value), body))
        except SeveralMatches as exc:
            return JSONResponse(
                [record_url(version, org.spec(obj).name, i) for i in exc.ids], status_code=300
            )
        if float(version) < 46:
            return Response(status_code=201 if created else 204)
        return JSONResponse(upsert_result(record_id, created), status_code=201 if created else 200)

    @router.post(BASE + "/composite/sobjects")
    @router.patch(BASE + "/composite/sobjects")
    async def collection(request: Request) -> JSONResponse:
        body = await request.json()
        charge_records(request.scope, len(body.get("records") or []))
        creating = request.method == "POST"

        def write(record: dict[str, Any]) -> dict[str, Any]:
            obj = (record.get("attributes") or {}).get("type")
            if not obj:
                raise RecordFailure([RecordError("INVALID_TYPE", "Must send a concrete entity type.")])
            if creating:
                return {"id": org.create(obj, record), "success": True, "errors": []}
            record_id = record.get("id") or record.get("Id")
            if not record_id:
                raise RecordFailure([RecordError("MISSING_ARGUMENT", "Id not specified in an update call")])
            org.update(obj, record_id, {k: v for k, v in record.items() if k != "id"})
            return {"id": record_id, "success": True, "errors": []}

        return _collection(org, body, write)

    @router.patch(BASE + "/composite/sobjects/{obj}/{field_name}")
    async def upsert_collection(obj: str, field_name: str, request: Request) -> JSONResponse:
        body = await request.json()
        charge_records(request.scope, len(body.get("records") or []))
        target = org.spec(obj).field(field_name)
        if target is None or not target.external_id:
            org.match(obj, field_name, None)

        def write(record: dict[str, Any]) -> dict[str, Any]:
            value = next((v for k, v in record.items() if k.lower() == field_name.lower()), None)
            if value in (None, ""):
                raise RecordFailure(
                    [RecordError("MISSING_ARGUMENT", f"{field_name} not specified", (field_name,))]
                )
            try:
                record_id, created = org.upsert(obj, field_name, value, record)
            except SeveralMatches as exc:
                raise RecordFailure([several(exc.ids, field_name)]) from exc
            return upsert_result(record_id, created)

        return _collection(org, body, write)

    return router


def _one(action: Any) -> Any:
    try:
        return action()
    except RecordFailure as exc:
        raise SalesforceError.of_record(exc.errors) from exc


def _shape(version: str, obj: str, row: Row, fields: str | None) -> dict[str, Any]:
    chosen = row if not fields else {k: v for k, v in row.items() if k.lower() in fields.lower().split(",")}
    return {"attributes": {"type": obj, "url": record_url(version, obj, row["Id"])}, **chosen}


def _collection(org: Org, body: Any, write: Any) -> JSONResponse:
    """Per-record results in input order; with allOrNone, any failure rolls every record back."""
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise SalesforceError("JSON_PARSER_ERROR", "records must be a JSON array")
    if len(records) > MAX_COLLECTION:
        raise SalesforceError(
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
        )
    all_or_none = bool(body.get("allOrNone", False))
    results: list[dict[str, Any]] = []
    with org.batch():
        for record in records:
            try:
                results.append(write(record))
            except RecordFailure as exc:
                results.append(failed(exc.errors))
        if all_or_none and not all(r["success"] for r in results):
            org.rollback()
            rolled = RecordError(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was using "
                "AllOrNone header",
            )
            results = [r if not r["success"] else failed([rolled]) for r in results]
    return JSONResponse(results)
