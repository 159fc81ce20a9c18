"""Bulk API 2.0 through simple-salesforce, with every input row accounted for from the result CSVs.

simple-salesforce raises on a Failed job and drops its results (cf. its issue #817); we drive the
job's steps ourselves so the job id is known, then read successful, failed and unprocessed results
and match them back to the input by external id. A row in no results file is rejected, never lost.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import SalesforceOperationError

from schemas.outcomes import RowOutcome

NO_RESULT = "no result from Salesforce for this row in any results file of bulk job {job}"
FROM_OBJECT = re.compile(r"\bFROM\s+([A-Za-z0-9_]+)", re.IGNORECASE)


@dataclass(frozen=True)
class BulkError:
    code: str
    message: str
    field: str | None


def parse_bulk_error(text: str) -> BulkError:
    """`REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --` → parts."""
    body = text.strip().removesuffix("--").strip()
    code, _, rest = body.partition(":")
    message, sep, fields = rest.rpartition(":")
    if not sep:
        message, fields = rest, ""
    return BulkError(code.strip(), message.strip() or body, fields.strip() or None)


def to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    # every field quoted: a bare \r in a value is not a line terminator here and would split the row
    writer = csv.DictWriter(
        out, fieldnames=columns, lineterminator="\n", extrasaction="ignore", quoting=csv.QUOTE_ALL
    )
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def bulk_upsert(
    sf: Salesforce, obj: str, external_id_field: str, rows: list[dict[str, Any]], poll_seconds: float
) -> dict[str, RowOutcome]:
    """One job for these rows; an outcome for each external id (rows must have distinct keys)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    handler = getattr(sf.bulk2, obj)
    client = handler._client
    job = client.create_job(Operation.upsert, external_id_field=external_id_field)
    job_id = job["id"]
    client.upload_job_data(job_id, to_csv(rows, columns))
    client.close_job(job_id)
    failure = ""
    try:
        client.wait_for_job(job_id, False, poll_seconds)
    except SalesforceOperationError as exc:
        failure = str(exc)
    outcomes: dict[str, RowOutcome] = {}
    for row in csv.DictReader(io.StringIO(handler.get_successful_records(job_id))):
        key = row[external_id_field]
        created = row["sf__Created"].lower() == "true"
        maker = RowOutcome.created if created else RowOutcome.updated
        outcomes[key] = maker(key, row["sf__Id"])
    for row in csv.DictReader(io.StringIO(handler.get_failed_records(job_id))):
        key = row[external_id_field]
        error = parse_bulk_error(row["sf__Error"])
        outcomes[key] = RowOutcome.rejected(key, error.code, error.message, error.field)
    for row in csv.DictReader(io.StringIO(handler.get_unprocessed_records(job_id))):
        key = row[external_id_field]
        outcomes[key] = RowOutcome.deferred(
            key, f"not processed by bulk job {job_id}: {failure or 'job ended'}"
        )
    for row in rows:
        key = str(row[external_id_field])
        if key not in outcomes:
            outcomes[key] = RowOutcome.rejected(key, "NO_RESULT", NO_RESULT.format(job=job_id))
    return outcomes


def bulk_query(sf: Salesforce, soql: str, poll_seconds: float, page_size: int) -> Iterator[dict[str, Any]]:
    """Rows of a Bulk 2.0 query job, page by page (Sforce-Locator); empty cells read as None."""
    found = FROM_OBJECT.search(soql)
    if not found:
        raise ValueError(f"no FROM clause in {soql!r}")
    pages = getattr(sf.bulk2, found.group(1)).query(soql, max_records=page_size, wait=poll_seconds)
    for page in pages:
        for row in csv.DictReader(io.StringIO(page)):
            yield {k: (v if v != "" else None) for k, v in row.items()}
