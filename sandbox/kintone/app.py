"""The kintone stand-in as a FastAPI app: `/k/v1/…` and `/k/guest/{space}/v1/…`, plus `/_sandbox` controls."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.common import (
    FaultConfig,
    Latency,
    LoggedRequest,
    RequestLog,
    charge_records,
    install_sandbox_tools,
    serve_foreground,
)
from sandbox.kintone import CONCURRENCY_LIMIT, api_apps, api_comments, api_files, api_records
from sandbox.kintone.auth import authenticate
from sandbox.kintone.context import Context, State
from sandbox.kintone.cursors import Cursors
from sandbox.kintone.errors import KintoneError, render_error
from sandbox.kintone.store import RECORD_RIGHTS, Store

Handler = Callable[[Context], dict[str, Any] | Response]
ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "record.json"): api_records.get_record,
    ("POST", "record.json"): api_records.post_record,
    ("PUT", "record.json"): api_records.put_record,
    ("GET", "records.json"): api_records.get_records,
    ("POST", "records.json"): api_records.post_records,
    ("PUT", "records.json"): api_records.put_records,
    ("DELETE", "records.json"): api_records.delete_records,
    ("POST", "records/cursor.json"): api_records.post_cursor,
    ("GET", "records/cursor.json"): api_records.get_cursor,
    ("DELETE", "records/cursor.json"): api_records.delete_cursor,
    ("POST", "file.json"): api_files.upload,
    ("GET", "file.json"): api_files.download,
    ("GET", "app.json"): api_apps.get_app,
    ("GET", "apps.json"): api_apps.get_apps,
    ("GET", "app/settings.json"): api_apps.get_settings,
    ("GET", "preview/app/settings.json"): api_apps.get_preview_settings,
    ("GET", "app/views.json"): api_apps.get_views,
    ("GET", "preview/app/views.json"): api_apps.get_preview_views,
    ("GET", "app/status.json"): api_apps.get_status,
    ("GET", "preview/app/status.json"): api_apps.get_preview_status,
    ("GET", "app/form/fields.json"): api_apps.get_fields,
    ("GET", "app/form/layout.json"): api_apps.get_layout,
    ("GET", "preview/app/form/fields.json"): api_apps.get_preview_fields,
    ("POST", "preview/app/form/fields.json"): api_apps.post_preview_fields,
    ("PUT", "preview/app/form/fields.json"): api_apps.put_preview_fields,
    ("DELETE", "preview/app/form/fields.json"): api_apps.delete_preview_fields,
    ("POST", "preview/app.json"): api_apps.post_preview_app,
    ("POST", "preview/app/deploy.json"): api_apps.post_deploy,
    ("GET", "preview/app/deploy.json"): api_apps.get_deploy,
    ("GET", "preview/app/form/layout.json"): api_apps.get_preview_layout,
    ("PUT", "preview/app/form/layout.json"): api_apps.put_preview_layout,
    ("PUT", "preview/app/settings.json"): api_apps.put_preview_settings,
    ("PUT", "preview/app/views.json"): api_apps.put_preview_views,
    ("POST", "record/comment.json"): api_comments.post_comment,
    ("DELETE", "record/comment.json"): api_comments.delete_comment,
    ("GET", "record/comments.json"): api_comments.get_comments,
}
BULK_RESOURCES = frozenset({"record.json", "records.json"})
MAX_BULK = 20
INDEXED = re.compile(r"^(.+?)\[(\d*)\]$")
API_PATH = re.compile(r"^/k/(?:guest/(\d+)/)?v1/(.+)$")


def query_params(items: list[tuple[str, str]]) -> dict[str, Any]:
    """``fields[0]=a&fields[1]=b`` (or ``fields[]=…``, or a repeated key) as lists, the rest as strings."""
    out: dict[str, Any] = {}
    indexed: dict[str, list[tuple[int, str]]] = {}
    for key, value in items:
        match = INDEXED.match(key)
        if match:
            bucket = indexed.setdefault(match[1], [])
            bucket.append((int(match[2]) if match[2] else len(bucket), value))
        elif key in out:
            out[key] = [*(out[key] if isinstance(out[key], list) else [out[key]]), value]
        else:
            out[key] = value
    out.update({name: [v for _, v in sorted(pairs)] for name, pairs in indexed.items()})
    return out


async def request_params(request: Request) -> dict[str, Any]:
    """Parameters from the JSON body and the query string; bad JSON is kintone's CB_IJ01."""
    params = query_params(list(request.query_params.multi_items()))
    if request.headers.get("content-type", "").startswith("multipart/form-data"):  # file.json uploads
        params.update((await request.form()).items())
        return params
    raw = await request.body()
    if raw.strip():
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise KintoneError("CB_IJ01") from None
        if not isinstance(body, dict):
            raise KintoneError("CB_IJ01")
        params.update(body)
    return params


def bulk_request(ctx: Context) -> dict[str, Any]:
    """Up to 20 record writes in one transaction; a failure rolls back all, its error at its index."""
    requests = ctx.params.get("requests")
    if not isinstance(requests, list) or not requests or len(requests) > MAX_BULK:
        raise KintoneError("CB_VA01", errors={"requests": [f"1件以上{MAX_BULK}件以下で指定してください。"]})
    results: list[dict[str, Any]] = []
    try:
        with ctx.store.transaction():
            for item in requests:
                match = API_PATH.match(str(item.get("api", ""))) if isinstance(item, dict) else None
                method = str(item.get("method", "")).upper() if isinstance(item, dict) else ""
                if match is None or match[2] not in BULK_RESOURCES or method == "GET":
                    raise KintoneError(
                        "CB_VA01", errors={f"requests[{len(results)}].api": ["指定できないAPIです。"]}
                    )
                space = int(match[1]) if match[1] else None
                sub = Context(ctx.state, ctx.caller, space, dict(item.get("payload") or {}))
                result = ROUTES[(method, match[2])](sub)
                assert isinstance(result, dict)  # record APIs answer JSON
                results.append(result)
    except KintoneError as exc:
        failed = len(results)
        bodies: list[dict[str, Any]] = [{} for _ in requests]
        bodies[failed] = exc.body()
        raise BulkFailure(exc.status, bodies) from exc
    return {"results": results}


def records_written(method: str, resource: str, params: dict[str, Any]) -> int:
    """How many records a write touches (the per-record latency charges them); reads cost none."""
    if method == "GET":
        return 0
    if resource == "bulkRequest.json":
        items = params.get("requests")
        return sum(
            records_written(str(i.get("method", "")).upper(), "records.json", dict(i.get("payload") or {}))
            for i in (items if isinstance(items, list) else [])
            if isinstance(i, dict)
        )
    if resource == "records.json":
        many = params.get("records") or params.get("ids") or []
        return len(many) if isinstance(many, list) else 0
    return 1 if resource == "record.json" else 0


class BulkFailure(Exception):
    def __init__(self, status: int, results: list[dict[str, Any]]):
        self.status = status
        self.results = results


ROUTES[("POST", "bulkRequest.json")] = bulk_request


class ConcurrencyLimit:
    """kintone's limit on API requests in progress at once (100 a domain): the next is refused with
    429 GAIA_TO04, and every API response tells the limit and how many are running. Outermost, so a
    slow request (an injected delay too) holds its place for as long as it takes."""

    def __init__(self, app: ASGIApp, limit: int, log: RequestLog):
        self.app = app
        self.limit = limit
        self.log = log  # a refusal is answered here, outside the request-log middleware: log it too
        self.running = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/k/"):
            await self.app(scope, receive, send)
            return
        self.running += 1
        running = self.running

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts = [(b"x-concurrencylimit-limit", b"%d" % self.limit)]
                counts.append((b"x-concurrencylimit-running", b"%d" % running))
                message = {**message, "headers": [*message.get("headers", []), *counts]}
            await send(message)

        try:
            if running > self.limit:
                self.log.entries.append(LoggedRequest(scope["method"], scope["path"], 429, time.time()))
                refused = KintoneError("GAIA_TO04").response()
                refused.headers["X-Cybozu-Error"] = "GAIA_TO04"
                await refused(scope, receive, send_counted)
            else:
                await self.app(scope, receive, send_counted)
        finally:
            self.running -= 1


def create_app(
    data_dir: Path,
    user: str,
    password: str,
    faults: FaultConfig | None = None,
    concurrency_limit: int = CONCURRENCY_LIMIT,
    latency: Latency | None = None,
) -> FastAPI:
    """The stand-in over ``<data_dir>/kintone.db``; ``user``/``password`` is the one password login."""
    store = Store(Path(data_dir) / "kintone.db")
    state = State(store, Cursors(), user, password)
    app = FastAPI(title="kintone REST API (renkei stand-in)", docs_url=None, redoc_url=None)
    app.state.kintone = state
    install_sandbox_tools(app, render_error, faults, latency)
    app.add_middleware(ConcurrencyLimit, limit=concurrency_limit, log=app.state.request_log)  # outermost

    async def dispatch(request: Request, resource: str, space: int | None) -> Response:
        method = request.method
        if method == "POST" and request.headers.get("X-HTTP-Method-Override") == "GET":
            method = "GET"
        handler = ROUTES.get((method, resource))
        if handler is None:
            return JSONResponse(
                {"code": "CB_NF01", "id": "", "message": "APIが見つかりません。"}, status_code=404
            )
        try:
            params = await request_params(request)
            charge_records(request.scope, records_written(method, resource, params))
            with store.lock:
                caller = authenticate(request.headers, store, user, password)
                body = handler(Context(state, caller, space, params))
        except KintoneError as exc:
            return exc.response()
        except BulkFailure as exc:
            return JSONResponse({"results": exc.results}, status_code=exc.status)
        if isinstance(body, Response):  # a file download
            return body
        return Response(orjson.dumps(body), media_type="application/json")

    methods = ["GET", "POST", "PUT", "DELETE"]

    @app.api_route("/k/v1/{resource:path}", methods=methods, include_in_schema=False)
    async def api(request: Request, resource: str) -> Response:
        return await dispatch(request, resource, None)

    @app.api_route("/k/guest/{space}/v1/{resource:path}", methods=methods, include_in_schema=False)
    async def guest_api(request: Request, space: int, resource: str) -> Response:
        return await dispatch(request, resource, space)

    @app.post("/_sandbox/apps/{app_id}/tokens", include_in_schema=False)
    async def issue_token(app_id: int, request: Request) -> Response:
        params = await request.json() if (await request.body()).strip() else {}
        if app_id not in store.apps:
            return KintoneError("GAIA_AP01", app_id).response()
        rights = [r for r in params.get("rights", RECORD_RIGHTS) if r in RECORD_RIGHTS]
        return JSONResponse({"token": store.issue_token(app_id, rights, params.get("token"))})

    @app.get("/_sandbox/usage", include_in_schema=False)
    async def usage() -> Response:
        with store.lock:
            days = {day: {str(a): n for a, n in per_app.items()} for day, per_app in store.usage.items()}
        return JSONResponse({"usage": days})

    @app.get("/_sandbox/cursors", include_in_schema=False)
    async def live_cursors() -> Response:
        with store.lock:
            return JSONResponse({"live": state.cursors.live_ids()})

    @app.post("/_sandbox/clock", include_in_schema=False)
    async def advance_clock(request: Request) -> Response:
        state.cursors.clock_offset += float((await request.json()).get("advance_seconds", 0))
        return JSONResponse({"offset": state.cursors.clock_offset})

    @app.on_event("shutdown")
    def _close() -> None:
        store.close()

    return app


def serve(
    port: int,
    data: Path,
    user: str,
    password: str,
    faults: FaultConfig | None = None,
    concurrency_limit: int = CONCURRENCY_LIMIT,
    latency: Latency | None = None,
) -> None:
    """`renkei sandbox kintone`: the stand-in in the foreground on 127.0.0.1:port."""
    app = create_app(data, user, password, faults, concurrency_limit, latency)
    state: State = app.state.kintone
    for token, grant in state.store.tokens.items():
        print(f"app {grant.app} ({state.store.apps[grant.app].name}): API token {token}")
    print(f"kintone stand-in on http://127.0.0.1:{port} (password login: {user})")
    serve_foreground(app, port)
