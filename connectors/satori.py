"""The MA (SATORI) client: the integration API and the public API v4 write shapes.

Every call goes through the shared HTTP policy (connectors.http); a 4xx raises HttpError with the
service's own code and message. Pointing the client at another endpoint is configuration.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from connectors.http import (
    Action,
    Decision,
    HttpError,
    HttpPolicy,
    RetryingClient,
    chunked,
    classify_status,
    decide,
)
from schemas.errors import status_rule
from schemas.ma_catalog import MaCatalog
from schemas.outcomes import RowOutcome, Status
from schemas.staging import check_cut_id

API = "/api/integration/v1"
BULK_LIMIT = 1_000
PAGE_LIMIT = 500
STREAM_CHUNK = 1 << 20
Key = Literal["email", "hashcode"]


@dataclass(frozen=True)
class Cut:
    """One action-history / master cut: its id (``20261128T0200+0900``) and its window [previous, at)."""

    id: str
    at: datetime
    previous: datetime


def _outcome(result: dict[str, Any], key: str) -> RowOutcome:
    status = Status(result["status"])
    if status is Status.REJECTED:
        return RowOutcome.rejected(
            key, result.get("code") or "rejected", result.get("message") or "", result.get("field")
        )
    return RowOutcome(key, status, result.get("hashcode"))


def json_body(document: Any) -> dict[str, Any]:
    """Request arguments for a JSON body. Text that UTF-8 cannot carry (a lone surrogate) is sent
    escaped, so the service refuses that one row instead of the client failing the whole batch."""
    try:
        content = json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        content = json.dumps(document, ensure_ascii=True).encode("ascii")
    return {"content": content, "headers": {"Content-Type": "application/json"}}


class SatoriClient:
    """The integration API (Bearer token) of one MA company."""

    def __init__(self, base_url: str, token: str, policy: HttpPolicy | None = None):
        self.http = RetryingClient(base_url, policy, headers={"Authorization": f"Bearer {token}"})

    def get_customer(self, *, email: str | None = None, hashcode: str | None = None) -> dict[str, Any]:
        """One customer by email or hashcode; HttpError 404 when there is none."""
        return self.http.get(f"{API}/customers/{self._key_path(email, hashcode)}").json()

    def put_customer(
        self, fields: dict[str, Any], *, email: str | None = None, hashcode: str | None = None
    ) -> RowOutcome:
        """Register or update one customer; a rejection raises HttpError (422) with the rule broken."""
        result = self.http.put(
            f"{API}/customers/{self._key_path(email, hashcode)}", **json_body(fields)
        ).json()
        return _outcome(result, str(email or hashcode))

    def bulk_get(self, *, emails: Iterable[str] = (), hashcodes: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Customers for many emails or hashcodes (one of the two), fetched 1,000 at a time."""
        name, keys = ("emails", list(emails)) if emails else ("hashcodes", list(hashcodes))
        found: list[dict[str, Any]] = []
        for batch in chunked(keys, BULK_LIMIT):
            found.extend(
                self.http.post(f"{API}/customers/bulk-get", **json_body({name: batch})).json()["customers"]
            )
        return found

    def bulk_upsert(self, rows: Iterable[dict[str, Any]], key: Key = "email") -> list[RowOutcome]:
        """One outcome per row in input order; rows go 1,000 per call and a bad row fails alone."""
        outcomes: list[RowOutcome] = []
        for batch in chunked(rows, BULK_LIMIT):
            results = self.http.post(
                f"{API}/customers/bulk-upsert", **json_body({"key": key, "customers": batch})
            ).json()
            for row, result in zip(batch, results["results"], strict=True):
                outcomes.append(_outcome(result, str(row.get(key))))
        return outcomes

    def iter_search(
        self,
        conditions: list[dict[str, Any]],
        page_size: int = PAGE_LIMIT,
        order: Literal["updated_at", "customer_id"] = "updated_at",
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of customers matching every condition, following the pager until the end."""
        token: str | None = None
        while True:
            body = {"conditions": conditions, "page_size": page_size, "order": order, "page_token": token}
            page = self.http.post(f"{API}/customers/search", **json_body(body)).json()
            yield page["customers"]
            token = page["next_page_token"]
            if token is None:
                return

    def fields(self) -> list[dict[str, Any]]:
        """The field catalog: default and custom fields with types and the unique flag."""
        return self.http.get(f"{API}/fields").json()["fields"]

    def catalog(self) -> MaCatalog:
        """The company's custom fields and cut times: the truth a spec is checked against."""
        return MaCatalog.from_wire(self.http.get(f"{API}/fields").json())

    def list_cuts(self, since: datetime | None = None, until: datetime | None = None) -> list[Cut]:
        """Cuts (02:00 / 11:00 JST) in [since, until], oldest first; the service's now caps ``until``.

        A listed id that is not a cut id (``../x``) fails the listing: it would name a folder."""
        params = {k: v.isoformat() for k, v in (("from", since), ("to", until)) if v is not None}
        cuts = self.http.get(f"{API}/cuts", params=params).json()["cuts"]
        return [
            Cut(
                check_cut_id(str(c["cut"])),
                datetime.fromisoformat(c["at"]),
                datetime.fromisoformat(c["previous"]),
            )
            for c in cuts
        ]

    def stream_actions_csv(self, cut_id: str, kind: str) -> Iterator[bytes]:
        """Raw UTF-8 CSV chunks of one action history of one cut (for a streaming CSV reader)."""
        return self._stream(f"{API}/cuts/{quote(cut_id)}/actions/{quote(kind)}.csv")

    def stream_masters_csv(self, cut_id: str, kind: str) -> Iterator[bytes]:
        return self._stream(f"{API}/cuts/{quote(cut_id)}/masters/{quote(kind)}.csv")

    def iter_actions_jsonl(self, cut_id: str, kind: str) -> Iterator[dict[str, Any]]:
        """Action rows of one cut, one dict per line, in event-id order."""
        return self._jsonl(f"{API}/cuts/{quote(cut_id)}/actions/{quote(kind)}.jsonl")

    def iter_action_pages(
        self, cut_id: str, kind: str, page_size: int = 5_000
    ) -> Iterator[list[dict[str, Any]]]:
        """Action rows of one cut as JSON pages (keyset by event id), for clients that cannot stream."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {"page_size": page_size, **({"page_token": token} if token else {})}
            page = self.http.get(f"{API}/cuts/{quote(cut_id)}/actions/{quote(kind)}", params=params).json()
            yield page["actions"]
            token = page["next_page_token"]
            if token is None:
                return

    def iter_masters_jsonl(self, cut_id: str, kind: str) -> Iterator[dict[str, Any]]:
        """Master entries as of one cut, one dict per line, in id order."""
        return self._jsonl(f"{API}/cuts/{quote(cut_id)}/masters/{quote(kind)}.jsonl")

    def _jsonl(self, url: str) -> Iterator[dict[str, Any]]:
        pending = b""
        for chunk in self._stream(url):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            yield from (json.loads(line) for line in lines if line)
        if pending.strip():
            yield json.loads(pending)

    def _stream(self, url: str) -> Iterator[bytes]:
        """The body of a GET as it arrives; opening the stream is retried by the shared policy."""
        response = self.http.request("GET", url, stream=True)
        try:
            yield from response.iter_bytes(chunk_size=STREAM_CHUNK)
        finally:
            response.close()

    @staticmethod
    def _key_path(email: str | None, hashcode: str | None) -> str:
        if (email is None) == (hashcode is None):
            raise ValueError("name exactly one of email or hashcode")
        return (
            f"by-email/{quote(email, safe='')}"
            if email is not None
            else f"by-hashcode/{quote(str(hashcode), safe='')}"
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SatoriClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def classify_v4(response: httpx.Response) -> Decision:
    """Public API v4 answers carry their own ``status``: a 200 whose body says 4xx is still a failure,
    decided by the policy's rule for that status."""
    decision = classify_status(response)
    if decision.action is Action.OK:
        try:
            status = response.json().get("status", 200)
        except (ValueError, AttributeError):
            return decision
        if isinstance(status, int):
            return decide(status_rule(status))
    return decision


@dataclass(frozen=True)
class V4Credentials:
    """The four key fields of the admin screen (the stand-in: company id and token as the company pair)."""

    user_key: str
    user_secret: str
    company_key: str
    company_secret: str

    def form(self) -> dict[str, str]:
        return {
            "user_key": self.user_key,
            "user_secret": self.user_secret,
            "company_key": self.company_key,
            "company_secret": self.company_secret,
        }


class V4Writer:
    """Writes through the public Web API v4 (single customer and bulk CSV), as the real service takes them."""

    def __init__(self, base_url: str, credentials: V4Credentials, policy: HttpPolicy | None = None):
        self.credentials = credentials
        self.http = RetryingClient(base_url, policy, classify=classify_v4)

    def _single(self, action: str, fields: dict[str, str], key: str, identity_type: Key) -> RowOutcome:
        form = {**self.credentials.form(), "customer[identity_type]": identity_type}
        form.update({f"customer[{name}]": value for name, value in fields.items()})
        try:
            reply = self.http.post(f"/api/v4/public/customer/{action}.json", data=form).json()
        except HttpError as exc:
            if exc.status in (400, 404):
                return RowOutcome.rejected(key, str(exc.status), exc.message, None)
            raise
        return RowOutcome.updated(key, reply["message"].get("customer[hashcode]"))

    def upsert(self, fields: dict[str, str], identity_type: Key = "email") -> RowOutcome:
        """Create or update one customer; blank values do not overwrite (v4 does not say which of the two)."""
        return self._single("upsert", fields, fields.get(identity_type, ""), identity_type)

    def register(self, fields: dict[str, str], identity_type: Key = "email") -> RowOutcome:
        """Register one customer; an existing one only gets blank fields filled and tags added."""
        return self._single("registration", fields, fields.get(identity_type, ""), identity_type)

    def delete(self, *, email: str | None = None, hashcode: str | None = None) -> RowOutcome:
        identity: Key = "email" if email is not None else "hashcode"
        key = str(email if email is not None else hashcode)
        return self._single("delete", {identity: key}, key, identity)

    def bulk(
        self, rows: list[dict[str, str]], identity_type: Key = "email", registration: bool = False
    ) -> list[RowOutcome]:
        """Send rows as one CSV (at most 10,000) and read the job's failed_rows: one outcome per row."""
        columns = list(dict.fromkeys(name for row in rows for name in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        action = "registration" if registration else "upsert"
        reply = self.http.post(
            f"/api/v4/public/bulk_customers/{action}.json",
            data={**self.credentials.form(), "identity_type": identity_type},
            files={"customer_csv_file": ("customers.csv", buffer.getvalue().encode("utf-8"), "text/csv")},
        ).json()
        status = self.bulk_status(reply["body"]["process_code"])
        failed = {f["row_number"] - 2: f["message"] for f in status.get("failed_rows", [])}
        return [
            RowOutcome.rejected(row.get(identity_type, ""), "bulk_row_failed", failed[i])
            if i in failed
            else RowOutcome.updated(row.get(identity_type, ""))
            for i, row in enumerate(rows)
        ]

    def bulk_status(self, process_code: str) -> dict[str, Any]:
        """A bulk job's body: process_status and failed_rows [{row_number (header = 1), message}]."""
        params = {**self.credentials.form(), "process_code": process_code}
        body: dict[str, Any] = self.http.get(
            "/api/v4/public/bulk_customers/status.json", params=params
        ).json()["body"]
        return body

    def close(self) -> None:
        self.http.close()
