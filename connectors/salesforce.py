"""Salesforce connector on simple-salesforce: login, describe, upsert by external id, SOQL reads.

Writes return one RowOutcome per input row, through sObject Collections (200 per request) for
small sets and Bulk API 2.0 above ``bulk_threshold``. Transient HTTP errors are retried by the
session (connectors.http.HttpPolicy); an expired session is renewed once and the call repeated.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession, SalesforceRefusedRequest

from connectors.http import HttpPolicy, chunked, gave_up
from connectors.salesforce_auth import build_session, obtain_token
from connectors.salesforce_budget import ApiBudget, parse_limit_info
from connectors.salesforce_bulk import bulk_query, bulk_upsert
from schemas.errors import Action, code_rule
from schemas.outcomes import RowOutcome, Status
from schemas.salesforce_values import FieldInfo

T = TypeVar("T")
COLLECTION_SIZE = 200
DEFAULT_BULK_THRESHOLD = 5000  # see bench/RESULTS.md "## Salesforce" (re-chosen at 150 ms latency)
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ApiLimitReached(Exception):
    """The org's daily allocation (or this run's share of it) is used up: defer, do not fail."""


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"not a Salesforce API name: {value!r}")
    return value


def _wire(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _retried_row(outcome: RowOutcome) -> bool:
    """A row refused with a code the error policy retries (a record lock)."""
    rule = code_rule(outcome.code) if outcome.status is Status.REJECTED else None
    return rule is not None and rule.retried


def _first_error(exc: SalesforceError) -> tuple[str, str]:
    content: list[Any] = exc.content if isinstance(exc.content, list) and exc.content else [{}]
    first = content[0] if isinstance(content[0], dict) else {}
    return str(first.get("errorCode", f"HTTP {exc.status}")), str(first.get("message", exc.content))


class SalesforceClient:
    """One org, logged in through its login URL; see the module docstring."""

    def __init__(
        self,
        login_url: str,
        *,
        client_id: str,
        client_secret: str | None = None,
        username: str | None = None,
        password: str | None = None,
        private_key: str | None = None,
        ca_bundle: str | None = None,
        api_version: str = "62.0",
        policy: HttpPolicy | None = None,
        bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
        budget: ApiBudget | None = None,
        lock_retries: int = 3,
        poll_seconds: float = 0.5,
        concurrency: int = 4,
    ):
        self.login_url = login_url
        self.policy = policy or HttpPolicy()
        self.api_version = api_version
        self.bulk_threshold = bulk_threshold
        self.budget = budget
        self.lock_retries = lock_retries
        self.poll_seconds = poll_seconds
        self.concurrency = max(1, concurrency)
        self._credentials = {
            "client_id": client_id,
            "client_secret": client_secret,
            "username": username,
            "password": password,
            "private_key": private_key,
        }
        self.session = build_session(self.policy, ca_bundle or self.policy.verify)
        self.session.hooks["response"].append(self._observe)
        self.requests_made = 0
        self._observed = threading.Lock()  # Collections requests run in several threads
        self._in_flight = 0  # requests sent whose usage the org has not reported back yet
        self.logins = 0
        self._usage: tuple[int, int] | None = None
        self._used_at_start: int | None = None
        self._sf: Salesforce | None = None
        self._user_id: str | None = None

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/services/oauth2/" in response.url:
            return
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        with self._observed:
            self.requests_made += 1
            if usage:
                self._usage = usage
                if self._used_at_start is None:
                    self._used_at_start = usage[0] - 1

    def login(self) -> None:
        """Obtain a fresh token and point simple-salesforce at the instance it names."""
        with self._reachable():
            token = obtain_token(self.session, self.login_url, **self._credentials)  # type: ignore[arg-type]
        self.logins += 1
        self._user_id = token.user_id
        self._sf = Salesforce(
            session_id=token.access_token,
            instance_url=token.instance_url,
            session=self.session,
            version=self.api_version,
        )

    @property
    def user_id(self) -> str | None:
        """The Id of the user this client is logged in as (None when the login did not say)."""
        _ = self.sf
        return self._user_id

    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self.login()
        assert self._sf is not None
        return self._sf

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """The session's connection errors, after its retries, as the HttpError every connector raises."""
        try:
            yield
        except (requests.ConnectionError, requests.Timeout) as exc:
            url = exc.request.url if exc.request is not None and exc.request.url else self.login_url
            raise gave_up(exc, "POST", str(url), self.policy.max_attempts) from exc

    def call(self, action: Callable[[Salesforce], T]) -> T:
        """Run one simple-salesforce call: re-login once on INVALID_SESSION_ID, wait and retry where the
        error policy says to (concurrent request limits)."""
        relogged = False
        with self._reachable():
            for attempt in range(self.policy.max_attempts):
                try:
                    return action(self.sf)
                except SalesforceExpiredSession:
                    if relogged:
                        raise
                    relogged = True
                    self.login()
                except SalesforceRefusedRequest as exc:
                    code, message = _first_error(exc)
                    rule = code_rule(code)
                    if rule is None or rule.action is not Action.WAIT_AND_RETRY:
                        raise
                    if "TotalRequests" in message:
                        raise ApiLimitReached(message) from exc
                    time.sleep(self.policy.backoff(attempt))
            return action(self.sf)

    def api_usage(self) -> tuple[int, int] | None:
        """(used, limit) from the last `Sforce-Limit-Info` seen; None before the first API call."""
        return self._usage

    def requests_allowed(self) -> int | None:
        """How many more requests this run may make under ``budget``; None when unbounded or unknown."""
        if self.budget is None or self._usage is None:
            return None
        used, limit = self._usage
        return self.budget.allowance(used, limit, self._used_at_start or used)

    def budget_spent(self) -> str | None:
        """Why no further request may start under ``budget``; None while some may."""
        allowed = self.requests_allowed()
        return None if allowed is None or allowed > 0 else self._budget_reason()

    def _budget_reason(self) -> str:
        assert self.budget is not None and self._usage is not None
        return self.budget.explain(*self._usage, self._used_at_start or 0)

    def describe(self, obj: str) -> dict[str, FieldInfo]:
        result = self.call(lambda sf: getattr(sf, _name(obj)).describe())
        return {
            f["name"]: FieldInfo(
                f["name"],
                f["type"],
                int(f.get("length") or 0),
                bool(f["nillable"]),
                bool(f["createable"]),
                bool(f["updateable"]),
                bool(f.get("unique")),
                bool(f.get("externalId")),
                bool(f.get("defaultedOnCreate")),
                tuple(p["value"] for p in f.get("picklistValues") or []),
                tuple(f.get("referenceTo") or []),
            )
            for f in result["fields"]
        }

    def upsert(self, obj: str, external_id_field: str, rows: list[dict[str, Any]]) -> list[RowOutcome]:
        """Upsert by external id; one outcome per input row, in input order."""
        _name(obj), _name(external_id_field)
        keys = [str(r.get(external_id_field) or "") for r in rows]
        counts: dict[str, int] = {}
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        outcomes: dict[str, RowOutcome] = {}
        todo = []
        for key, row in zip(keys, rows, strict=True):
            if not key:
                continue
            if counts[key] > 1:
                outcomes[key] = RowOutcome.rejected(
                    key,
                    "DUPLICATE_KEY_IN_INPUT",
                    f"{external_id_field} {key!r} appears {counts[key]} times "
                    "in one batch; none of them was sent",
                    external_id_field,
                )
            else:
                todo.append({k: _wire(v) for k, v in row.items()})
        outcomes.update(self._upsert_with_lock_retries(obj, external_id_field, todo))
        missing = RowOutcome.rejected(
            "", "MISSING_EXTERNAL_ID", f"{external_id_field} is empty", external_id_field
        )
        return [outcomes[k] if k else missing for k in keys]

    def _upsert_with_lock_retries(
        self, obj: str, ext: str, rows: list[dict[str, Any]]
    ) -> dict[str, RowOutcome]:
        outcomes: dict[str, RowOutcome] = {}
        for attempt in range(self.lock_retries + 1):
            if not rows:
                break
            if attempt:
                time.sleep(self.policy.backoff(attempt))
            if len(rows) >= self.bulk_threshold:
                outcomes.update(self._guarded_bulk(obj, ext, rows))
            else:
                outcomes.update(self._collections(obj, ext, rows))
            rows = [r for r in rows if _retried_row(outcomes[str(r[ext])])]
        for row in rows:  # still locked after every retry: transient, so the next run tries again
            key = str(row[ext])
            outcomes[key] = RowOutcome.deferred(
                key, f"{outcomes[key].code} after {self.lock_retries} retries: {outcomes[key].message}"
            )
        return outcomes

    def _guarded_bulk(self, obj: str, ext: str, rows: list[dict[str, Any]]) -> dict[str, RowOutcome]:
        allowed = self.requests_allowed()
        if allowed is not None and allowed < 8:
            return self._defer(rows, ext)
        try:
            return self.call(lambda sf: bulk_upsert(sf, obj, ext, rows, self.poll_seconds))
        except ApiLimitReached as exc:
            return {str(r[ext]): RowOutcome.deferred(str(r[ext]), str(exc)) for r in rows}

    def _collections(self, obj: str, ext: str, rows: list[dict[str, Any]]) -> dict[str, RowOutcome]:
        """200 rows a request, ``concurrency`` requests in flight (each is short: far below the org's
        limit of 25 long-running requests)."""
        chunks = [list(chunk) for chunk in chunked(rows, COLLECTION_SIZE)]
        outcomes: dict[str, RowOutcome] = {}
        if self.concurrency == 1 or len(chunks) == 1:
            for chunk in chunks:
                outcomes.update(self._collection(obj, ext, chunk))
            return outcomes
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="salesforce-write") as pool:
            for done in pool.map(lambda chunk: self._collection(obj, ext, chunk), chunks):
                outcomes.update(done)
        return outcomes

    def _collection(self, obj: str, ext: str, chunk: list[dict[str, Any]]) -> dict[str, RowOutcome]:
        with self._observed:  # requests in flight count against the budget before the org reports them
            allowed = self.requests_allowed()
            if allowed is not None and allowed - self._in_flight < 1:
                return self._defer(chunk, ext)
            self._in_flight += 1
        path = f"composite/sobjects/{obj}/{ext}"
        body = {"allOrNone": False, "records": [{"attributes": {"type": obj}, **r} for r in chunk]}
        try:
            results = self.call(partial(_patch, path=path, body=body))
        except ApiLimitReached as exc:
            return {str(r[ext]): RowOutcome.deferred(str(r[ext]), str(exc)) for r in chunk}
        except SalesforceError as exc:
            code, message = _first_error(exc)
            return {str(r[ext]): RowOutcome.rejected(str(r[ext]), code, message) for r in chunk}
        finally:
            with self._observed:
                self._in_flight -= 1
        outcomes = {
            str(row[ext]): _collection_outcome(str(row[ext]), result)
            for row, result in zip(chunk, results or [], strict=False)
        }
        for row in chunk[len(results or []) :]:
            outcomes[str(row[ext])] = RowOutcome.rejected(
                str(row[ext]), "NO_RESULT", "no result from Salesforce"
            )
        return outcomes

    def _defer(self, rows: list[dict[str, Any]], ext: str) -> dict[str, RowOutcome]:
        reason = self._budget_reason()
        return {str(r[ext]): RowOutcome.deferred(str(r[ext]), reason) for r in rows}

    def iter_query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every row of a SOQL query through REST paging (nextRecordsUrl), re-login aware per page."""
        yield from self._rest_rows(self.call(lambda sf: sf.query(soql)))

    def _rest_rows(self, page: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            for record in page["records"]:
                yield {k: v for k, v in record.items() if k != "attributes"}
            if page.get("done", True):
                return
            page = self.call(partial(_query_more, url=page["nextRecordsUrl"]))

    def bulk_query(self, soql: str, page_size: int = 50_000) -> Iterator[dict[str, Any]]:
        """Every row of a Bulk API 2.0 query job (for large reads); values are strings or None."""
        pages = self.call(lambda sf: bulk_query(sf, soql, self.poll_seconds, page_size))
        yield from pages

    def read(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every row of ``soql``: REST paging, or a Bulk 2.0 query job when the first page's totalSize
        reaches ``bulk_threshold`` (that page is dropped; the job reads from the start)."""
        page = self.call(lambda sf: sf.query(soql))
        if int(page.get("totalSize") or 0) >= self.bulk_threshold:
            yield from self.bulk_query(soql)
        else:
            yield from self._rest_rows(page)

    @property
    def rows_at_once(self) -> int:
        """Rows a loader should hand over at a time: twice the Bulk threshold, so a big load goes as
        few Bulk API 2.0 jobs (each ≥ 7 requests) while a batch's memory stays bounded."""
        return 2 * self.bulk_threshold

    def changed_since(
        self,
        obj: str,
        fields: list[str],
        since: datetime | None,
        overlap: timedelta = timedelta(minutes=5),
        others_before: datetime | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Rows modified at or after ``since - overlap`` (all rows without ``since``), ordered by
        (SystemModstamp, Id). Rows stamped before ``others_before`` — to the whole second after it,
        SOQL's precision — are read only when someone other than the logged-in user modified them last:
        what this client wrote itself, it wrote."""
        names = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *map(_name, fields)]))
        where = "" if since is None else format_soql(" WHERE SystemModstamp >= {}", since - overlap)
        if where and others_before is not None and self.user_id:
            bound = others_before + timedelta(microseconds=-others_before.microsecond % 1_000_000)
            where += format_soql(" AND (SystemModstamp >= {} OR LastModifiedById != {})", bound, self.user_id)
        soql = f"SELECT {names} FROM {_name(obj)}{where} ORDER BY SystemModstamp, Id"
        return self.read(soql)

    def find_by(
        self, obj: str, field: str, values: list[str], columns: list[str], chunk: int = 200
    ) -> list[dict[str, Any]]:
        """Records whose ``field`` is one of ``values``: one SOQL per ``chunk`` values (URL length)."""
        names = ", ".join(dict.fromkeys(["Id", _name(field), *map(_name, columns)]))
        found: list[dict[str, Any]] = []
        for part in chunked(sorted(set(values)), chunk):
            where = format_soql(" WHERE {:literal} IN {}", _name(field), part)
            found += self.iter_query(f"SELECT {names} FROM {_name(obj)}{where}")
        return found

    def duplicate_values(self, obj: str, field: str) -> dict[str, int]:
        """Values of ``field`` held by more than one record (GROUP BY … HAVING COUNT(Id) > 1)."""
        soql = format_soql(
            "SELECT {0:literal}, COUNT(Id) n FROM {1:literal} WHERE {0:literal} != null "
            "GROUP BY {0:literal} HAVING COUNT(Id) > 1",
            _name(field),
            _name(obj),
        )
        return {str(r[field]): int(r["n"]) for r in self.iter_query(soql)}

    def close(self) -> None:
        self.session.close()


def _collection_outcome(key: str, result: dict[str, Any]) -> RowOutcome:
    if result.get("success"):
        status = Status.CREATED if result.get("created") else Status.UPDATED
        return RowOutcome(key, status, result.get("id"))
    error = (result.get("errors") or [{}])[0]
    fields = error.get("fields") or []
    return RowOutcome.rejected(
        key,
        str(error.get("statusCode", "UNKNOWN")),
        str(error.get("message", result)),
        fields[0] if fields else None,
    )


def _patch(sf: Salesforce, *, path: str, body: dict[str, Any]) -> Any:
    return sf.restful(path, method="PATCH", json=body)


def _query_more(sf: Salesforce, *, url: str) -> Any:
    return sf.query_more(url, identifier_is_url=True)
