"""The stand-in's wire forms: card JSON, timestamps in JST, the error body, opaque page tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.responses import JSONResponse

JST = timezone(timedelta(hours=9), "JST")
ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
CARD_TEXT_FIELDS = (
    "lastName",
    "firstName",
    "lastNameReading",
    "firstNameReading",
    "companyName",
    "departmentName",
    "title",
    "email",
    "tel",
    "secondTel",
    "mobile",
    "fax",
    "url",
    "countryCode",
    "postalCode",
    "prefecture",
    "city",
    "street",
    "building",
    "memo",
)


class ApiError(Exception):
    """A request the stand-in refuses; rendered as the one error body every endpoint uses."""

    def __init__(
        self, status: int, message: str, parameter: str | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter
        self.retry_after = retry_after


def error_response(
    status: int, message: str, parameter: str | None = None, retry_after: float | None = None
) -> JSONResponse:
    """``{"statusCode", "code", "message", "error": [{"code", "message", "parameter"?}], "retry_after"?}``."""
    code = ERROR_CODES.get(status, "Error")
    detail: dict[str, Any] = {"code": code, "message": message}
    if parameter is not None:
        detail["parameter"] = parameter
    body: dict[str, Any] = {"statusCode": status, "code": code, "message": message, "error": [detail]}
    if retry_after is not None:
        body["retry_after"] = retry_after
    return JSONResponse(body, status_code=status)


def render_error(status: int, message: str) -> JSONResponse:
    """The fault injector's renderer: an injected 429 asks for a short wait like a real one."""
    return error_response(status, message, retry_after=0.1 if status == 429 else None)


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, JST).isoformat()


def epoch(value: datetime) -> int:
    return int(value.timestamp())


def parse_instant(text: str, parameter: str, *, upper: bool) -> int:
    """An ISO 8601 time with offset as epoch seconds; a fraction rounds inwards (bounds are inclusive)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400,
            f"{parameter} must be ISO 8601 with an offset, e.g. 2024-04-01T00:00:00+09:00"
            f" (encode '+' as %2B): got {text!r}",
            parameter,
        ) from None
    if value.tzinfo is None:
        raise ApiError(400, f"{parameter} needs a UTC offset such as +09:00: got {text!r}", parameter)
    seconds = value.timestamp()
    return math.floor(seconds) if upper else math.ceil(seconds)


def card_json(
    row: sqlite3.Row, users: Mapping[str, sqlite3.Row], tags: Sequence[sqlite3.Row] | None
) -> dict[str, Any]:
    """One card as the Open API shows it; ``tags`` only when the caller asked for them."""
    owner = users.get(row["ownerId"])
    card: dict[str, Any] = {
        "id": row["id"],
        "personId": row["personId"],
        "companyId": row["companyId"],
        "exchangeDate": row["exchangeDate"],
        "registeredTime": iso(row["registered_s"]),
        "updatedTime": iso(row["updated_s"]),
        "owner": None
        if owner is None
        else {"id": owner["id"], "name": owner["name"], "email": owner["email"]},
        **{name: row[name] or "" for name in CARD_TEXT_FIELDS},
        "entryStatus": row["entryStatus"],
        "isLatest": bool(row["isLatest"]),
    }
    if tags is not None:
        card["tags"] = [tag_json(tag, users) for tag in tags]
    return card


def tag_json(row: sqlite3.Row, users: Mapping[str, sqlite3.Row]) -> dict[str, Any]:
    owner = users.get(row["ownerId"])
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "owner": None if owner is None else {"id": owner["id"], "name": owner["name"]},
    }


def fingerprint(filters: Mapping[str, Any]) -> str:
    """A short digest of a query's filters: a page token is only valid for the query that made it."""
    canonical = json.dumps(filters, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_token(secret: str, filters: Mapping[str, Any], after: list[Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"f": fingerprint(filters), "k": after}).encode())
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()[:16]
    return f"{payload.decode().rstrip('=')}.{signature}"


def decode_token(secret: str, filters: Mapping[str, Any], token: str) -> list[Any]:
    """The cursor inside ``token``; 400 when it was altered or made by a different query."""
    payload, _, signature = token.partition(".")
    expected = hmac.new(secret.encode(), (payload + "=" * (-len(payload) % 4)).encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest()[:16], signature):
        raise ApiError(400, "nextPageToken is not a token this API issued", "nextPageToken")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if body.get("f") != fingerprint(filters):
        raise ApiError(
            400, "nextPageToken belongs to a different query: repeat the same filters", "nextPageToken"
        )
    after: list[Any] = body["k"]
    return after
