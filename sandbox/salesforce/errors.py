"""Salesforce's error shapes: the REST error array and the per-record errors of Collections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

STATUS_OF = {
    "INVALID_SESSION_ID": 401,
    "REQUEST_LIMIT_EXCEEDED": 403,
    "NOT_FOUND": 404,
    "ENTITY_IS_DELETED": 404,
    "METHOD_NOT_ALLOWED": 405,
    "SERVER_UNAVAILABLE": 503,
}


@dataclass(frozen=True)
class RecordError:
    """One problem with one record, as Collections and Bulk results report it."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def collection_item(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def bulk_text(self) -> str:
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


@dataclass
class SalesforceError(Exception):
    """An error answered as `[{"message","errorCode","fields"}]` with its HTTP status."""

    code: str
    message: str
    status: int = 400
    fields: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")

    @classmethod
    def of_record(cls, errors: list[RecordError]) -> SalesforceError:
        first = errors[0]
        return cls(first.code, first.message, STATUS_OF.get(first.code, 400), list(first.fields))

    def response(self, headers: dict[str, str] | None = None) -> Response:
        body = [{"message": self.message, "errorCode": self.code, "fields": self.fields}]
        return JSONResponse(body, status_code=self.status, headers=headers)


def render_error(status: int, message: str) -> Response:
    """Injected faults in Salesforce's words: a 429-like fault is 403 REQUEST_LIMIT_EXCEEDED."""
    if status == 429:
        return SalesforceError(
            "REQUEST_LIMIT_EXCEEDED", f"ConcurrentPerOrgLongTxn Limit exceeded ({message})", 403
        ).response()
    if status >= 500:
        return SalesforceError("SERVER_UNAVAILABLE", message, 503).response()
    return SalesforceError("BAD_REQUEST", message, status).response()
