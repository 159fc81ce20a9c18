"""The MA (SATORI) stand-in as a FastAPI app: integration API, public API v4 shapes, sandbox controls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sandbox.common import FaultConfig, Latency, install_sandbox_tools, serve_foreground
from sandbox.satori import admin_export, api, control, v4
from sandbox.satori.cutfiles import CutFiles
from sandbox.satori.db import database_url_for, make_engine
from sandbox.satori.deps import ApiError, error_response, render_error
from sandbox.satori.store import Store

MAX_BODY_BYTES = 32 * 1024 * 1024
DESCRIPTION = """The MA (SATORI) integration API as renkei defines it, plus the public API v4 write shapes.

Auth: `Authorization: Bearer <token>`; a token sees only its own company. Errors are
`{"code", "message", "field"}`. Bulk upsert takes at most 1,000 rows per call (422 beyond), search
at most 500 per page. Cuts are generated at 02:00 and 11:00 Asia/Tokyo; a cut holds the actions
recorded in [previous cut, this cut). Request bodies above 32 MiB get 413.

Public API v4: `company_key` is the company id and `company_secret` that company's public key, a
credential of its own (the Bearer token does not open v4, nor the public key the integration API);
`user_key` and `user_secret` must be present (any value).
"""


def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    return error_response(422, "invalid_request", f"{where}: {first.get('msg')}", where)


def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail))


def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.body.code, exc.body.message, exc.body.field)


def create_app(
    data_dir: Path,
    tokens: dict[str, str] | None = None,
    faults: FaultConfig | None = None,
    database_url: str | None = None,
    latency: Latency | None = None,
    public_keys: dict[str, str] | None = None,
) -> FastAPI:
    """The stand-in over ``<data_dir>/satori.db`` (or ``database_url``); ``tokens`` maps the integration
    API's token → company, ``public_keys`` the public API v4's company_secret → company."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(make_engine(database_url or database_url_for(data_dir)), CutFiles(data_dir / "cuts"))
    for token, company in (tokens or {}).items():
        store.ensure_company(company, token)
    for secret, company in (public_keys or {}).items():
        store.ensure_public_key(company, secret)
    app = FastAPI(title="SATORI stand-in (renkei)", version="1.0.0", description=DESCRIPTION)
    app.state.store = store
    app.state.v4_processes = {}
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)

    @app.middleware("http")
    async def _limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return error_response(
                413, "payload_too_large", f"request bodies are limited to {MAX_BODY_BYTES} bytes", "body"
            )
        return await call_next(request)

    app.include_router(api.router)
    app.include_router(v4.router)
    app.include_router(control.router)
    app.include_router(admin_export.router)
    install_sandbox_tools(app, render_error, faults, latency)
    return app


def serve(
    port: int,
    data: Path,
    token: str,
    company: str,
    faults: FaultConfig,
    latency: Latency | None = None,
    public_key: str | None = None,
) -> None:
    """`renkei sandbox satori`: the stand-in in the foreground on 127.0.0.1:``port``."""
    keys = {public_key: company} if public_key else None
    serve_foreground(create_app(data, {token: company}, faults, latency=latency, public_keys=keys), port)
