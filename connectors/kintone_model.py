"""kintone's wire shapes for the client: error codes as retry / fail, the budget, query-value escaping.

``FieldInfo`` (an app's form field) lives in schemas.kintone_values, beside the value rules that use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import httpx

from connectors.http import (
    MASK,
    Decision,
    HttpError,
    decide,
    retry_after_seconds,
    sent_credentials,
    service_message,
)
from schemas import clock
from schemas.errors import Action, rule_for
from schemas.kintone_values import FieldInfo as FieldInfo  # re-exported for the client's callers

# records[3].code.value, records[3].record.code.value, and for a number that is not one the bracket
# form kintone uses there: records[3][code].value, records[3].record[code].value
ROW_PATH = re.compile(r"^records\[(\d+)\](?:\.record)?(?:\.([^.\[]+)|\[([^\]]+)\])")
KintoneRecord = dict[str, dict[str, Any]]


def bulk_failure(body: Any) -> tuple[int, dict[str, Any]] | None:
    """A refused bulkRequest: the index of the request kintone refused and its error body.

    kintone runs a bulkRequest's requests in order as one transaction and rolls all of them back when
    one fails; it answers ``{"results": [{}, …, {"code", "message", "errors"}, {}, …]}``.
    """
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        return None
    return next(((i, r) for i, r in enumerate(results) if isinstance(r, dict) and r.get("code")), None)


def _code(response: httpx.Response) -> str | None:
    """kintone's error code, from the refused request of a bulkRequest too."""
    try:
        failure = bulk_failure(response.json())
    except ValueError:
        failure = None
    return str(failure[1]["code"]) if failure else service_message(response)[0]


def classify_kintone(response: httpx.Response) -> Decision:
    """kintone's codes before its statuses (schemas/errors.py): a CB_VA01 sent as 520 still fails, a
    lock error retries."""
    if response.status_code < 400:
        return decide(None)
    rule = rule_for(response.status_code, _code(response))
    return decide(rule, retry_after_seconds(response.headers.get("Retry-After")))


class KintoneApiError(HttpError):
    """An HttpError that keeps kintone's per-field ``errors`` (``records[3].メールアドレス.value``).

    For a refused bulkRequest, ``bulk_index`` is the position of the request kintone refused, and the
    code, message and errors are that request's own.
    """

    def __init__(self, base: HttpError, errors: dict[str, list[str]], bulk_index: int | None = None):
        super().__init__(base.method, base.url, base.status, base.code, base.message, attempts=base.attempts)
        self.errors = errors
        self.bulk_index = bulk_index

    @classmethod
    def from_response(cls, base: HttpError, response: httpx.Response) -> KintoneApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        failure = bulk_failure(body)
        bulk_index = None
        if failure is not None:
            bulk_index, body = failure
            message = str(body.get("message", base.message))
            for credential in sent_credentials(response.request):  # as HttpError's own message is
                message = message.replace(credential, MASK)
            base = HttpError(
                base.method, base.url, base.status, str(body["code"]), message, attempts=base.attempts
            )
        raw = body.get("errors") if isinstance(body, dict) else None
        errors = {
            str(path): [str(m) for m in (detail or {}).get("messages", [])]
            for path, detail in (raw or {}).items()
            if isinstance(detail, dict)
        }
        return cls(base, errors, bulk_index)

    @property
    def blames_rows(self) -> bool:
        rule = rule_for(None, self.code)
        return (
            rule is not None
            and rule.action is Action.REJECT_ROW
            and not any(p in ("app", "records", "upsert") for p in self.errors)
        )

    def row_errors(self) -> dict[int, tuple[str, str]]:
        """Position in the batch → (field code, messages) for every record kintone named."""
        out: dict[int, tuple[str, str]] = {}
        for path, messages in self.errors.items():
            match = ROW_PATH.match(path)
            if match:
                index, code = int(match[1]), match[2] or match[3]
                previous = out.get(index)
                text = " ".join(messages)
                out[index] = (previous[0], f"{previous[1]} {code}: {text}") if previous else (code, text)
        return out


class BudgetExhausted(Exception):
    """The app's daily request budget is spent: the caller defers the remaining work to the next run."""

    def __init__(self, app: int):
        super().__init__(f"the daily kintone request budget of app {app} is spent")
        self.app = app


class RequestBudget(Protocol):
    """Where the per-app daily request count lives (the state DB in production)."""

    def try_spend(self, app: int, requests: int = 1) -> bool: ...


def budget_day(now: datetime | None = None) -> date:
    """kintone's request day runs 09:00–08:59 JST, which is exactly the UTC calendar day."""
    return (now or clock.now()).astimezone(UTC).date()


@dataclass
class DailyBudget:
    """An in-memory RequestBudget: ``limit`` requests per app per kintone day (default 10,000)."""

    limit: int = 10_000
    used: dict[tuple[date, int], int] = field(default_factory=dict)

    def try_spend(self, app: int, requests: int = 1) -> bool:
        key = (budget_day(), app)
        if self.used.get(key, 0) + requests > self.limit:
            return False
        self.used[key] = self.used.get(key, 0) + requests
        return True


@dataclass(frozen=True)
class RecordPage:
    records: list[KintoneRecord]
    total_count: int | None


def escape_query_value(value: object) -> str:
    """A value as a quoted query literal: quotes, backslashes and line breaks can never end it early."""
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\t", "\\t"), ("\r", "\\r")):
        text = text.replace(raw, escaped)
    return f'"{text}"'


def record_values(record: KintoneRecord) -> dict[str, Any]:
    """``{code: {"type", "value"}}`` → ``{code: value}``."""
    return {code: cell.get("value") for code, cell in record.items()}
