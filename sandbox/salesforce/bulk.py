"""Bulk API 2.0: ingest jobs (CSV upload, states, per-row result CSVs) and query jobs (locator paging)."""

from __future__ import annotations

import csv
import io
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.rest import BASE, run_soql
from sandbox.salesforce.soql_exec import Executor, format_datetime
from sandbox.salesforce.soql_parser import parse
from sandbox.salesforce.store import Org, RecordFailure, SeveralMatches
from schemas import clock

OPERATIONS = ("insert", "update", "upsert", "delete")
CHUNK = 1000
SERVER_CHUNK = 10_000  # Salesforce splits a Bulk 2.0 ingest job into batches of 10,000 rows, run in parallel
QUERY_STATES = {"UploadComplete": "InProgress", "InProgress": "JobComplete"}
RESULT_FILES = {"successfulresults": "ok", "failedresults": "failed", "unprocessedrecords": "unprocessed"}


@dataclass
class BulkFaults:
    """Sandbox faults: stop a job after ``fail_after`` rows; leave ``lose_rows`` out of every result."""

    fail_after: int | None = None
    lose_rows: int = 0


@dataclass
class Job:
    id: str
    info: dict[str, Any]
    data: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    ok: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Bulk:
    """Ingest and query jobs; ingest jobs are processed in a worker thread after UploadComplete."""

    def __init__(self, org: Org):
        self.org = org
        self.jobs: dict[str, Job] = {}
        self.numbers = itertools.count(1)
        self.faults = BulkFaults()

    def new_job(self, version: str, info: dict[str, Any], query: bool) -> Job:
        job_id = make_id("750", next(self.numbers))
        now = format_datetime(clock.now())
        kind = "query" if query else "ingest"
        base = {
            "id": job_id,
            "createdDate": now,
            "systemModstamp": now,
            "createdById": "0055g0000000001AAA",
            "apiVersion": float(version),
            "jobType": "V2Query" if query else "V2Ingest",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
            "numberRecordsProcessed": 0,
            "numberRecordsFailed": 0,
            "retries": 0,
            "totalProcessingTime": 0,
        }
        if not query:
            base["contentUrl"] = f"services/data/v{version}/jobs/{kind}/{job_id}/batches"
        job = Job(job_id, {**base, **info})
        self.jobs[job_id] = job
        return job

    def job(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", 404)
        return self.jobs[job_id]

    def process(self, job: Job, per_record_ms: float = 0.0) -> None:
        """Apply every uploaded row; each lands in exactly one results file (unless a fault loses it).

        ``per_record_ms`` (the stand-in's latency setting) keeps the job InProgress for that long per
        row of its largest internal batch (10,000 rows, processed in parallel), as a real org would.
        """
        started = time.monotonic()
        job.info["state"] = "InProgress"
        reader = csv.reader(io.StringIO("".join(job.data)))
        job.header = next(reader, [])
        rows = list(reader)
        operation, obj = job.info["operation"], job.info["object"]
        ext = job.info.get("externalIdFieldName", "Id")
        stop = self.faults.fail_after
        if operation == "upsert" and ext.lower() not in (h.lower() for h in job.header):
            job.info.update(state="Failed", errorMessage=f"InvalidBatch : Field name not found : {ext}")
            job.unprocessed = rows
            return
        for start in range(0, len(rows), CHUNK):
            with self.org.batch():
                for row in rows[start : start + CHUNK]:
                    if stop is not None and job.info["numberRecordsProcessed"] >= stop:
                        job.unprocessed.append(row)
                        continue
                    self._apply(job, operation, obj, ext, row)
        lost = min(self.faults.lose_rows, len(job.ok))
        if lost:
            del job.ok[-lost:]
        random.Random(job.id).shuffle(job.ok)
        busy = min(len(rows), SERVER_CHUNK) * per_record_ms / 1000
        time.sleep(max(0.0, busy - (time.monotonic() - started)))
        if stop is not None and job.unprocessed:
            job.info.update(
                state="Failed", errorMessage="InternalServerError : job stopped by a sandbox fault"
            )
        else:
            job.info["state"] = "JobComplete"

    def _apply(self, job: Job, operation: str, obj: str, ext: str, row: list[str]) -> None:
        values = dict(zip(job.header, row, strict=False))
        job.info["numberRecordsProcessed"] += 1
        record_id, created = "", False
        try:
            if operation == "insert":
                record_id, created = self.org.create(obj, values, from_csv=True), True
            elif operation == "upsert":
                key = next((v for k, v in values.items() if k.lower() == ext.lower()), "")
                record_id, created = self.org.upsert(obj, ext, key, values, from_csv=True)
            elif operation == "update":
                record_id = values.get("Id", "")
                self.org.update(obj, record_id, values, from_csv=True)
            else:
                record_id = values.get("Id", "")
                self.org.delete(obj, record_id)
        except RecordFailure as exc:
            job.failed.append(["", exc.errors[0].bulk_text(), *row])
        except SeveralMatches as exc:
            job.failed.append(
                ["", f"DUPLICATE_EXTERNAL_ID:more than one record found: {exc.ids}:{ext} --", *row]
            )
        except SalesforceError as exc:
            job.failed.append([record_id, f"{exc.code}:{exc.message}: --", *row])
        else:
            job.ok.append([record_id, "true" if created else "false", *row])
            return
        job.info["numberRecordsFailed"] += 1

    def results(self, job: Job, which: str) -> str:
        kind = RESULT_FILES[which.lower()]
        if kind == "ok":
            return _csv(["sf__Id", "sf__Created", *job.header], job.ok)
        if kind == "failed":
            return _csv(["sf__Id", "sf__Error", *job.header], job.failed)
        return _csv(job.header, job.unprocessed)


def build_bulk_router(bulk: Bulk) -> APIRouter:
    router = APIRouter()
    org = bulk.org

    @router.post(BASE + "/jobs/ingest")
    async def create_ingest(version: str, request: Request) -> JSONResponse:
        body = await request.json()
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise SalesforceError("INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        spec = org.spec(str(body.get("object", "")))
        info = {"operation": operation, "object": spec.name, "state": "Open"}
        if operation == "upsert":
            info["externalIdFieldName"] = body.get("externalIdFieldName") or "Id"
            org.match(spec.name, info["externalIdFieldName"], None)
        return JSONResponse(bulk.new_job(version, info, query=False).info)

    @router.put(BASE + "/jobs/ingest/{job_id}/batches")
    async def upload(job_id: str, request: Request) -> Response:
        job = bulk.job(job_id)
        if job.info["state"] != "Open":
            raise SalesforceError("INVALIDJOBSTATE", "Job is not open for uploads")
        job.data.append((await request.body()).decode("utf-8-sig"))
        return Response(status_code=201)

    @router.patch(BASE + "/jobs/ingest/{job_id}")
    async def change_state(job_id: str, request: Request) -> JSONResponse:
        job = bulk.job(job_id)
        state = (await request.json()).get("state")
        if state == "Aborted" and job.info["state"] in ("Open", "UploadComplete"):
            job.info["state"] = "Aborted"
        elif state == "UploadComplete" and job.info["state"] == "Open":
            job.info["state"] = "UploadComplete"
            answer = dict(job.info)
            per_record_ms = request.app.state.latency.per_record_ms
            threading.Thread(target=bulk.process, args=(job, per_record_ms), daemon=True).start()
            return JSONResponse(answer)
        else:
            raise SalesforceError(
                "INVALIDJOBSTATE", f"Cannot change job state from {job.info['state']} to {state}"
            )
        return JSONResponse(job.info)

    @router.get(BASE + "/jobs/ingest/{job_id}")
    @router.get(BASE + "/jobs/query/{job_id}")
    def get_job(job_id: str) -> JSONResponse:
        job = bulk.job(job_id)
        if job.info["jobType"] == "V2Query":
            job.info["state"] = QUERY_STATES.get(job.info["state"], job.info["state"])
        return JSONResponse(job.info)

    @router.delete(BASE + "/jobs/ingest/{job_id}")
    @router.delete(BASE + "/jobs/query/{job_id}")
    def delete_job(job_id: str) -> Response:
        bulk.jobs.pop(bulk.job(job_id).id)
        return Response(status_code=204)

    @router.get(BASE + "/jobs/ingest/{job_id}/{which}")
    def ingest_results(job_id: str, which: str) -> Response:
        job = bulk.job(job_id)
        if which.lower() not in RESULT_FILES:  # Salesforce documents lower case; clients send either
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", 404)
        return Response(bulk.results(job, which), media_type="text/csv")

    @router.post(BASE + "/jobs/query")
    async def create_query(version: str, request: Request) -> JSONResponse:
        body = await request.json()
        operation = body.get("operation", "query")
        rows, _ = run_soql(org, str(body.get("query", "")), version, include_deleted=operation == "queryAll")
        query = parse(str(body.get("query", "")))
        info = {
            "operation": operation,
            "object": query.sobject,
            "query": body.get("query"),
            "state": "UploadComplete",
        }
        job = bulk.new_job(version, info, query=True)
        job.rows = [{k: v for k, v in r.items() if k != "attributes"} for r in rows]
        job.header = Executor(query, org.spec(query.sobject)).columns()
        job.info["numberRecordsProcessed"] = len(rows)
        return JSONResponse(job.info)

    @router.get(BASE + "/jobs/query/{job_id}/results")
    def query_results(job_id: str, maxRecords: int = 50000, locator: str | None = None) -> Response:
        job = bulk.job(job_id)
        if job.info["state"] != "JobComplete":
            raise SalesforceError("INVALIDJOBSTATE", "the job is not complete yet")
        start = int(locator) if locator and locator.isdigit() else 0
        page = job.rows[start : start + maxRecords]
        end = start + len(page)
        text = _csv(job.header, [[_cell(r.get(h)) for h in job.header] for r in page])
        headers = {
            "Sforce-Locator": str(end) if end < len(job.rows) else "null",
            "Sforce-NumberOfRecords": str(len(page)),
        }
        return Response(text, media_type="text/csv", headers=headers)

    return router
