"""The Salesforce stand-in app: `create_app` for tests, `serve` for `renkei sandbox salesforce`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from sandbox.common import FaultConfig, Latency, install_sandbox_tools, serve_foreground
from sandbox.salesforce.auth import Credentials, Gate
from sandbox.salesforce.bulk import Bulk, BulkFaults, build_bulk_router
from sandbox.salesforce.errors import SalesforceError, render_error
from sandbox.salesforce.objects import NewField
from sandbox.salesforce.rest import API_VERSIONS, Cursors, build_router
from sandbox.salesforce.store import LockFault, Org
from sandbox.salesforce.tls import TlsFiles, ensure_tls


class Share(BaseModel):
    rate: float = 0.0
    seed: int = 0


class PersonWrite(BaseModel):
    """Body of `POST /_sandbox/sobjects/{obj}/person-create` and `…/{obj}/{id}/person-edit`: a sales
    rep's record or edit (made as another user than the API's), and the stamp it carries (now if none)."""

    fields: dict[str, Any]
    stamp: str | None = None


def create_app(
    data_dir: Path,
    username: str = "admin@renkei.example.com",
    password: str = "renkei-demo",
    client_id: str = "renkei-client",
    client_secret: str = "renkei-secret",
    daily_limit: int = 100_000,
    faults: FaultConfig | None = None,
    *,
    session_seconds: float = 7200.0,
    jwt_certificate: str | None = None,
    latency: Latency | None = None,
) -> FastAPI:
    """A Salesforce org stored in `<data>/salesforce.db`, with its TLS files in `<data>/salesforce-*.pem`."""
    data_dir = Path(data_dir)
    tls = ensure_tls(data_dir)
    org = Org(data_dir / "salesforce.db")
    if jwt_certificate:
        org.set_setting("jwt_certificate", jwt_certificate)
    gate = Gate(org, Credentials(username, password, client_id, client_secret), daily_limit, session_seconds)
    bulk = Bulk(org)
    app = FastAPI(title="Salesforce stand-in (renkei sandbox)")
    app.state.org, app.state.gate, app.state.bulk, app.state.tls = org, gate, bulk, tls
    install_sandbox_tools(app, render_error, faults, latency)

    @app.exception_handler(SalesforceError)
    async def _salesforce_error(_: Request, exc: SalesforceError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return SalesforceError("MALFORMED_QUERY", f"invalid request: {exc.errors()[0].get('msg')}").response()

    @app.exception_handler(json.JSONDecodeError)
    async def _bad_json(_: Request, exc: json.JSONDecodeError) -> Response:
        return SalesforceError("JSON_PARSER_ERROR", f"Unexpected character: {exc.msg}").response()

    @app.middleware("http")
    async def _api_gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if not path.startswith("/services/data/v"):
            return await call_next(request)
        version = path.removeprefix("/services/data/v").split("/", 1)[0]
        try:
            if version not in API_VERSIONS:
                raise SalesforceError("NOT_FOUND", "The requested resource does not exist", 404)
            gate.check(request.headers.get("Authorization"))
            gate.spend()
        except SalesforceError as exc:
            response = exc.response()
        else:
            response = await call_next(request)
        response.headers["Sforce-Limit-Info"] = gate.limit_info()
        return response

    @app.post("/services/oauth2/token")
    async def _token(request: Request) -> JSONResponse:
        _, port = request.scope.get("server") or ("127.0.0.1", 443)
        return gate.token(
            await request.body(), request.headers.get("Authorization"), f"https://127.0.0.1:{port}"
        )

    app.include_router(build_router(org, Cursors()))
    app.include_router(build_bulk_router(bulk))
    _control(app, org, gate, bulk)
    return app


def _control(app: FastAPI, org: Org, gate: Gate, bulk: Bulk) -> None:
    """`/_sandbox/…`: what an admin or a test does to the org besides calling the API."""

    @app.post("/_sandbox/expire-sessions", include_in_schema=False)
    def _expire() -> dict[str, int]:
        return {"expired": gate.expire_all()}

    @app.put("/_sandbox/session-lifetime", include_in_schema=False)
    def _lifetime(body: dict[str, float]) -> dict[str, float]:
        gate.session_seconds = float(body["seconds"])
        return {"seconds": gate.session_seconds}

    @app.get("/_sandbox/usage", include_in_schema=False)
    @app.put("/_sandbox/usage", include_in_schema=False)
    def _usage(body: dict[str, int] | None = None) -> dict[str, int]:
        if body is not None:
            gate.set_usage(int(body.get("used", 0)))
            if "limit" in body:
                gate.daily_limit = int(body["limit"])
        used, limit = gate.usage()
        return {"used": used, "limit": limit}

    @app.post("/_sandbox/leads/{lead_id}/convert", include_in_schema=False)
    def _convert(lead_id: str) -> dict[str, Any]:
        with org.batch():
            contact_id = org.convert_lead(lead_id)
        return {"leadId": lead_id, "contactId": contact_id}

    @app.post("/_sandbox/sobjects/{obj}/person-create", include_in_schema=False)
    def _person_create(obj: str, body: PersonWrite) -> dict[str, Any]:
        with org.batch():
            record_id = org.write_as_person(obj, None, body.fields, body.stamp)
        return org.get(obj, record_id)

    @app.post("/_sandbox/sobjects/{obj}/{record_id}/person-edit", include_in_schema=False)
    def _person_edit(obj: str, record_id: str, body: PersonWrite) -> dict[str, Any]:
        with org.batch():
            org.write_as_person(obj, record_id, body.fields, body.stamp)
        return org.get(obj, record_id)

    @app.post("/_sandbox/fields", include_in_schema=False)
    def _add_field(body: NewField) -> Response:
        try:
            spec = org.add_field(body)
        except ValueError as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
        return JSONResponse(spec.describe(), status_code=201)

    @app.put("/_sandbox/lock-faults", include_in_schema=False)
    def _lock_faults(body: Share) -> dict[str, float]:
        org.lock_fault = LockFault(body.rate, body.seed)
        org.lock_fault.rng.seed(body.seed)
        return {"rate": body.rate}

    @app.put("/_sandbox/bulk-faults", include_in_schema=False)
    def _bulk_faults(body: dict[str, int | None]) -> dict[str, int | None]:
        bulk.faults = BulkFaults(body.get("fail_after"), int(body.get("lose_rows") or 0))
        return {"fail_after": bulk.faults.fail_after, "lose_rows": bulk.faults.lose_rows}

    @app.put("/_sandbox/jwt-certificate", include_in_schema=False)
    def _jwt_certificate(body: dict[str, str]) -> dict[str, bool]:
        org.set_setting("jwt_certificate", body["certificate"])
        return {"configured": True}


def serve(
    port: int,
    data: Path,
    username: str,
    password: str,
    client_id: str,
    client_secret: str,
    daily_limit: int,
    faults: FaultConfig,
    latency: Latency | None = None,
) -> None:
    """`renkei sandbox salesforce`: the org on https://127.0.0.1:PORT until interrupted."""
    app = create_app(data, username, password, client_id, client_secret, daily_limit, faults, latency=latency)
    tls: TlsFiles = app.state.tls
    print(f"Salesforce stand-in on https://127.0.0.1:{port} (login URL the same); CA certificate: {tls.ca}")
    print(f"OAuth: client id {client_id!r}, user {username!r}; daily API limit {daily_limit}")
    serve_foreground(app, port, **tls.uvicorn_kwargs())
