"""The admin screen's customer CSV export (カスタマー検索 → CSV ダウンロード), as the MA writes it.

An MA user without the Data Integration Option reads the MA only through this file, so the stand-in
writes it in the admin screen's shape: a header of Japanese labels (default fields first, then each
custom field by its label), times as ``YYYY/MM/DD HH:MM:SS`` in Japan time without an offset, tags
comma-joined, CRLF line ends, and Shift_JIS (CP932) — what Excel opens in Japan — or UTF-8 with a
BOM (a character Shift_JIS cannot carry becomes ``?``, as in any Shift_JIS export).

Sources: the vendor's help centre (articles 226402127, 115002127293) describes the CSV download from
a customer search and its labels (苗字, 名前, 苗字(ふりがな), …) but not the export's exact columns
or encoding; those are our decision [?], and renkei reads both encodings.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select
from starlette.responses import Response

from sandbox.satori import db
from sandbox.satori.deps import Company, StoreDep
from sandbox.satori.store import Store, customers_json
from schemas.catalog import CUSTOM_PREFIX, DEFAULT_FIELDS, FieldDef, FieldType
from schemas.staging import JST

router = APIRouter(prefix="/_sandbox", include_in_schema=False)
Encoding = Literal["cp932", "utf-8-sig"]
# the admin screen's search result columns; the integration API's own fields (segments, delivery and
# mail status are shown in the screen but are not part of the download) are left out
EXPORTED = (
    "customer_id",
    "hashcode",
    "email",
    "last_name",
    "first_name",
    "last_name_reading",
    "first_name_reading",
    "lead_company_name",
    "department",
    "title",
    "phone_number",
    "mobile_phone_number",
    "fax",
    "postcode",
    "address",
    "url",
    "collection_route",
    "collection_date",
    "memo",
    "star",
    "status",
    "score",
    "delivery_permission",
    "tags",
    "created_at",
    "updated_at",
)
_BY_NAME = {f.name: f for f in DEFAULT_FIELDS}


def _cell(field: FieldDef, value: Any) -> str:
    """A value as the admin screen shows it: dates ``YYYY/MM/DD``, times ``YYYY/MM/DD HH:MM:SS`` (Japan
    time, no offset), lists comma-joined, flags 1/0."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if field.type is FieldType.DATETIME:
        return datetime.fromisoformat(str(value)).astimezone(JST).strftime("%Y/%m/%d %H:%M:%S")
    if field.type is FieldType.DATE:
        return str(value)[:10].replace("-", "/")
    return str(value)


def export_csv(store: Store, company: str, encoding: Encoding = "cp932") -> bytes:
    """Every customer of ``company`` as the admin screen's CSV download."""
    with store.engine.connect() as conn:
        specs = store.custom_specs(conn, company)
        rows = conn.execute(
            select(db.customers).where(db.customers.c.company_id == company).order_by(db.customers.c.pk)
        )
        customers = customers_json(conn, company, rows, specs)
    columns: list[FieldDef] = [_BY_NAME[n] for n in EXPORTED] + [s.as_field() for s in specs.values()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f.label for f in columns])
    for customer in customers:
        custom = customer.get("custom") or {}
        writer.writerow(
            [
                _cell(
                    f, custom.get(f.name.removeprefix(CUSTOM_PREFIX)) if f.is_custom else customer.get(f.name)
                )
                for f in columns
            ]
        )
    return buffer.getvalue().encode(encoding, errors="replace")


@router.get("/admin/customers.csv")
def download(company: Company, store: StoreDep, encoding: Annotated[Encoding, Query()] = "cp932") -> Response:
    """The admin screen's download for the Bearer token's company (a sandbox control, not an MA API)."""
    media = "text/csv; charset=shift_jis" if encoding == "cp932" else "text/csv; charset=utf-8"
    return Response(export_csv(store, company, encoding), media_type=media)
