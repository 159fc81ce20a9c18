"""kintone REST API client: records (read by $id ranges), form fields, on the shared HTTP policy.

Authenticate with API tokens (one per app, several joined) or a login and password; ``guest_space``
switches every path to ``/k/guest/{space}/v1``. Writes go 100 rows a request, up to 20 requests a
bulkRequest, and return one RowOutcome per row; see kintone_batches for how a refused request is
narrowed to its bad rows.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.http import Decision, HttpError, HttpPolicy, RetryingClient
from connectors.kintone_batches import MAX_BULK, MAX_WRITE, BatchWriter
from connectors.kintone_model import (
    BudgetExhausted,
    FieldInfo,
    KintoneApiError,
    KintoneRecord,
    RecordPage,
    RequestBudget,
    classify_kintone,
    escape_query_value,
)
from connectors.parallel import spread
from schemas.outcomes import RowOutcome

MAX_GET = 500
RANGE_PAGES = 10  # full pages of one id range read by iter_records_spread (results held a range at a time)
MAX_URL = 4000  # longer GETs go as POST + X-HTTP-Method-Override (kintone allows 8 KB URIs)
Row = dict[str, object]


class _Http(RetryingClient):
    def _error(
        self, method: str, url: str, response: httpx.Response, decision: Decision, attempts: int
    ) -> HttpError:
        base = super()._error(method, url, response, decision, attempts)
        return KintoneApiError.from_response(base, response)


class KintoneClient:
    """A typed kintone client; thread-safe, so writes run up to ``max_concurrency`` calls at once.

    ``requests_per_call`` (1–20) is how many 100-row requests go in one bulkRequest; 1 sends plain PUTs.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_tokens: Sequence[str] = (),
        username: str | None = None,
        password: str | None = None,
        guest_space: int | None = None,
        policy: HttpPolicy | None = None,
        max_concurrency: int = 4,
        budget: RequestBudget | None = None,
        requests_per_call: int = MAX_BULK,
    ):
        if username and password:
            login = base64.b64encode(f"{username}:{password}".encode()).decode()
            headers = {"X-Cybozu-Authorization": login}
        elif api_tokens:
            headers = {"X-Cybozu-API-Token": ",".join(api_tokens)}
        else:
            raise ValueError("kintone needs API tokens or a username and password")
        self.requests_made: Counter[int] = Counter()  # HTTP requests per app, retries included
        self.max_concurrency = max_concurrency
        self.requests_per_call = requests_per_call
        self.budget = budget
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self._http = _Http(
            base_url.rstrip("/"),
            policy,
            headers=headers,
            classify=classify_kintone,
            event_hooks={"request": [self._count]},
        )
        self._prefix = f"/k/guest/{guest_space}/v1" if guest_space is not None else "/k/v1"

    def _count(self, _request: httpx.Request) -> None:
        app = getattr(self._local, "app", None)
        if app is not None:
            with self._count_lock:
                self.requests_made[app] += 1

    def _call(self, method: str, resource: str, app: int, body: dict[str, Any], cost: int = 1) -> Any:
        """One API call against ``app``: ``cost`` charged to the budget, counted, GET parameters in the
        query string."""
        if self.budget is not None and not self.budget.try_spend(app, cost):
            raise BudgetExhausted(app)
        self._local.app = app
        url = f"{self._prefix}/{resource}"
        try:
            if method != "GET":
                response = self._http.request(method, url, json=body)
            else:
                query = httpx.QueryParams(_flatten(body))
                if len(str(query)) <= MAX_URL:
                    response = self._http.request("GET", url, params=query)
                else:
                    override = {"X-HTTP-Method-Override": "GET"}
                    response = self._http.request("POST", url, json=body, headers=override)
        finally:
            self._local.app = None
        return response.json()

    def get_form_fields(self, app: int) -> dict[str, FieldInfo]:
        """The app's live form: field code → FieldInfo (type, required, unique, options)."""
        body = self._call("GET", "app/form/fields.json", app, {"app": app})
        return {code: FieldInfo.model_validate(p) for code, p in body["properties"].items()}

    def get_records(
        self, app: int, query: str = "", fields: Sequence[str] | None = None, total_count: bool = False
    ) -> RecordPage:
        """One page (≤ 500, the query's own limit/offset) of records as kintone returns them."""
        body: dict[str, Any] = {"app": app, "query": query}
        if fields:
            body["fields"] = list(fields)
        if total_count:
            body["totalCount"] = True
        data = self._call("GET", "records.json", app, body)
        total = data.get("totalCount")
        return RecordPage(data["records"], int(total) if total is not None else None)

    def iter_records_seek(
        self,
        app: int,
        query_condition: str = "",
        fields: Sequence[str] | None = None,
        page: int = MAX_GET,
        *,
        after: int = 0,
        upto: int | None = None,
    ) -> Iterator[KintoneRecord]:
        """Every matching record in ``$id`` order by seek paging (``$id > last``): no offset cap;
        ``after``/``upto`` bound the ids read (``after < $id <= upto``)."""
        wanted, where = _by_id(query_condition, fields)
        below = f"$id <= {upto} and " if upto is not None else ""
        last = after
        while True:
            query = f"{where}{below}$id > {last} order by $id asc limit {page}"
            records = self.get_records(app, query, wanted).records
            yield from records
            if len(records) < page or (upto is not None and int(records[-1]["$id"]["value"]) >= upto):
                return
            last = int(records[-1]["$id"]["value"])

    def iter_records_spread(
        self,
        app: int,
        query_condition: str = "",
        fields: Sequence[str] | None = None,
        range_pages: int = RANGE_PAGES,
    ) -> Generator[KintoneRecord, None, None]:
        """Every matching record, in no particular order, read as ``$id`` ranges ``max_concurrency`` at
        a time: a large app takes about its slowest range's round trips instead of one after another.

        The first page also gives the count, the next request the highest id; the ranges between are
        sized from the ids' density to about ``range_pages`` full pages each (fewer when there are not
        enough to keep every call in flight busy), so the requests stay near the minimum (one per 500
        records) even where records were deleted.
        """
        wanted, where = _by_id(query_condition, fields)
        first = self.get_records(app, f"{where}$id > 0 order by $id asc limit {MAX_GET}", wanted, True)
        yield from first.records
        if len(first.records) < MAX_GET:
            return
        low = int(first.records[-1]["$id"]["value"])
        (top,) = self.get_records(app, f"{where}$id > 0 order by $id desc limit 1", ["$id"]).records
        high, left = int(top["$id"]["value"]), (first.total_count or 0) - MAX_GET
        # at most range_pages full pages a range, and fewer when that leaves a call in flight idle
        pages = max(1, min(range_pages, -(-left // (MAX_GET * self.max_concurrency))))
        width = max(MAX_GET, (high - low) * pages * MAX_GET // max(1, left))
        bounds = [*range(low, high, width), high]

        def part(after: int, upto: int) -> Callable[[], list[KintoneRecord]]:
            return lambda: list(self.iter_records_seek(app, query_condition, fields, after=after, upto=upto))

        parts = (part(a, b) for a, b in itertools.pairwise(bounds))
        for records in spread(parts, self.max_concurrency, "kintone-read"):
            yield from records

    @property
    def rows_at_once(self) -> int:
        """Rows one round of calls in flight writes (100 a request, requests_per_call a call): a
        loader that hands over this many at a time lets every write go in the fewest round trips."""
        return MAX_WRITE * self.requests_per_call * self.max_concurrency

    def changed_since(
        self, app: int, fields: Sequence[str], since: datetime | None, stamp: str = "更新日時"
    ) -> Generator[KintoneRecord, None, None]:
        """Records updated at or after ``since`` (all without it), in no particular order: the first
        page (most runs end there), then ``$id`` ranges several at a time (``iter_records_spread``).
        A record changed while the read runs may be read as it was; the watermark's overlap reads it
        again next run."""
        where = f"{stamp} >= {escape_query_value(kintone_minute(since))}" if since else ""
        return self.iter_records_spread(app, where, [stamp, *fields])

    def add_records(self, app: int, rows: Sequence[Row], key_field: str | None = None) -> list[RowOutcome]:
        """Insert rows (not idempotent: prefer upsert_records when rows have a unique key)."""
        keys = [str(r.get(key_field, i)) if key_field else str(i) for i, r in enumerate(rows)]

        def payload(positions: list[int]) -> dict[str, Any]:
            return {"app": app, "records": [_wrap(rows[i]) for i in positions]}

        def outcomes(positions: list[int], result: dict[str, Any]) -> list[RowOutcome]:
            return [RowOutcome.created(keys[i], rid) for i, rid in zip(positions, result["ids"], strict=True)]

        ordered = key_field is not None and len(set(keys)) < len(keys)  # the first of a key wins
        return self._write(app, "POST", keys, payload, outcomes, ordered)

    def update_records(self, app: int, key_field: str, rows: Sequence[Row]) -> list[RowOutcome]:
        """Update records found by the unique ``key_field``; a missing one is rejected (GAIA_RE20)."""
        return self._put(app, key_field, rows, upsert=False)

    def upsert_records(self, app: int, key_field: str, rows: Sequence[Row]) -> list[RowOutcome]:
        """Insert or update by the unique ``key_field``; kintone's ``operation`` says created or updated."""
        return self._put(app, key_field, rows, upsert=True)

    def _put(self, app: int, key_field: str, rows: Sequence[Row], *, upsert: bool) -> list[RowOutcome]:
        keys = [str(r.get(key_field, "")) for r in rows]

        def payload(positions: list[int]) -> dict[str, Any]:
            items = [
                {
                    "updateKey": {"field": key_field, "value": keys[i]},
                    "record": _wrap({k: v for k, v in rows[i].items() if k != key_field}),
                }
                for i in positions
            ]
            return {"app": app, "upsert": upsert, "records": items}

        def outcomes(positions: list[int], result: dict[str, Any]) -> list[RowOutcome]:
            return [
                RowOutcome.created(keys[i], r["id"])
                if r.get("operation") == "INSERT"
                else RowOutcome.updated(keys[i], r["id"])
                for i, r in zip(positions, result["records"], strict=True)
            ]

        ordered = len(set(keys)) < len(keys)  # the same key twice: keep the input order
        return self._write(app, "PUT", keys, payload, outcomes, ordered)

    def _write(
        self,
        app: int,
        method: str,
        keys: list[str],
        payload: Callable[[list[int]], dict[str, Any]],
        outcomes: Callable[[list[int], dict[str, Any]], list[RowOutcome]],
        ordered: bool,
    ) -> list[RowOutcome]:
        """records.json writes of 100 rows, several at once in a bulkRequest (kintone runs its requests
        in order, as one transaction)."""

        def send(batches: list[list[int]]) -> list[list[RowOutcome]]:
            if len(batches) == 1:
                return [outcomes(batches[0], self._call(method, "records.json", app, payload(batches[0])))]
            api = f"{self._prefix}/records.json"
            body = {"requests": [{"method": method, "api": api, "payload": payload(b)} for b in batches]}
            # the daily budget: kintone's documentation does not say how a bulkRequest counts against
            # the 10,000 requests a day of an app, so we count each request inside it as one (the most
            # it can cost), never the bulkRequest as a single request
            results = self._call("POST", "bulkRequest.json", app, body, cost=len(batches))["results"]
            return [outcomes(b, r) for b, r in zip(batches, results, strict=True)]

        writer = BatchWriter(keys, send, self.max_concurrency, self.requests_per_call)
        return writer.run(ordered=ordered)

    def delete_records(self, app: int, ids: Sequence[str | int]) -> None:
        """Delete records by id, 100 a request."""
        for start in range(0, len(ids), 100):
            chunk = [str(i) for i in ids[start : start + 100]]
            self._call("DELETE", "records.json", app, {"app": app, "ids": chunk})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KintoneClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _by_id(condition: str, fields: Sequence[str] | None) -> tuple[Sequence[str] | None, str]:
    """The fields of a read by ``$id`` (with ``$id``), and its condition as a prefix to ``and``."""
    wanted = [*fields, "$id"] if fields and "$id" not in fields else fields
    return wanted, f"({condition}) and " if condition.strip() else ""


def _wrap(row: Row) -> dict[str, dict[str, object]]:
    return {code: {"value": value} for code, value in row.items()}


def _flatten(body: dict[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    """GET parameters as kintone reads them: lists as ``fields[0]=…``, booleans as true/false."""
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in body.items():
        if isinstance(value, list):
            out.extend((f"{key}[{i}]", str(v)) for i, v in enumerate(value))
        elif isinstance(value, bool):
            out.append((key, json.dumps(value)))
        else:
            out.append((key, str(value)))
    return out


def kintone_minute(moment: datetime) -> str:
    """An instant as a kintone datetime literal, floored to the minute (kintone keeps no seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
