"""Errors and authentication shared by the stand-in's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import JSONResponse, Response

from sandbox.satori.store import Store
from sandbox.satori.wire import ErrorBody


class ApiError(Exception):
    """A 4xx answer of the integration API with its code, message and field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, field=field)


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(code=code, message=message, field=field).model_dump(), status_code=status)


def render_error(status: int, message: str) -> Response:
    """The body injected faults get (sandbox.common asks each stand-in for its own error shape)."""
    code = {429: "rate_limited", 413: "payload_too_large"}.get(
        status, "unavailable" if status >= 500 else "error"
    )
    return error_response(status, code, message)


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "bad request"),
        (401, "missing or wrong Bearer token"),
        (404, "not found"),
        (413, "payload too large"),
        (422, "invalid request: code, message and the field at fault"),
    )
}

bearer = HTTPBearer(auto_error=False, description="One token per company (MA account).")


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def company_of(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """The company the Bearer token belongs to; 401 without a token or with a wrong one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>", "Authorization")
    company = store_of(request).company_for_token(credentials.credentials)
    if company is None:
        raise ApiError(401, "unauthorized", "the Bearer token is not known", "Authorization")
    return company


Company = Annotated[str, Depends(company_of)]
StoreDep = Annotated[Store, Depends(store_of)]
