"""The Sansan Open API stand-in: `renkei sandbox sansan --port N --data DIR [--api-key K]`.

Every call needs `X-Sansan-Api-Key` (a user's key, 32 letters and digits) and counts against that
key's limit of ``rate_per_second`` requests in any one-second window; beyond it the answer is 429
with ``retry_after`` (seconds) in the body. `/_sandbox/...` endpoints change data at run time.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from sandbox.common import FaultConfig, Latency, install_sandbox_tools, serve_foreground
from sandbox.sansan import params
from sandbox.sansan.limits import SlidingWindowLimiter
from sandbox.sansan.seed import DEMO_CARDS, apply_changes, seed
from sandbox.sansan.store import ADMIN_ID, ORDER_COLUMNS, USER_KEYS, CardQuery, SansanStore, User
from sandbox.sansan.wire import (
    ApiError,
    card_json,
    decode_token,
    encode_token,
    error_response,
    render_error,
    tag_json,
)

API_KEY = re.compile(r"^[A-Za-z0-9]{32}$")


def _caller(request: Request) -> User:
    """The key's user, or 401; then the key's rate limit, or 429."""
    key = request.headers.get("X-Sansan-Api-Key", "")
    state = request.app.state
    user = state.store.user_for_key(key) if API_KEY.match(key) else None
    if user is None:
        raise ApiError(401, "X-Sansan-Api-Key is missing or not a valid key")
    wait = state.limiter.admit(key)
    if wait is not None:
        raise ApiError(429, f"more than {state.limiter.rate} requests per second", retry_after=wait)
    return user


Caller = Annotated[User, Depends(_caller)]


def _page(request: Request, query: CardQuery, filters: dict[str, Any], include_tags: bool) -> JSONResponse:
    """One keyset page of cards: ``data``, ``hasMore`` and the token for the next page."""
    store: SansanStore = request.app.state.store
    secret: str = request.app.state.secret
    token = request.query_params.get("nextPageToken")
    if token:
        after = decode_token(secret, filters, token)
        query = replace(query, after=(int(after[0]), str(after[1])))
    rows = store.find_cards(query)
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    users = store.users()
    tags = store.tags_of([row["id"] for row in rows]) if include_tags else {}
    body: dict[str, Any] = {
        "data": [card_json(row, users, tags[row["id"]] if include_tags else None) for row in rows],
        "hasMore": has_more,
        "nextPageToken": None,
    }
    if has_more:
        last = rows[-1]
        body["nextPageToken"] = encode_token(
            secret, filters, [last[ORDER_COLUMNS[query.order_by]], last["id"]]
        )
    return JSONResponse(body)


def _visible_card(store: SansanStore, user: User, card_id: str) -> Any:
    row = store.card(card_id)
    if row is None or not (user.can_read_all or row["ownerId"] == user.id):
        raise ApiError(404, f"no business card with id {card_id!r}")
    return row


def _api() -> APIRouter:
    api = APIRouter()

    @api.get("/me")
    def me(user: Caller) -> JSONResponse:
        return JSONResponse({"item": {"id": user.id, "name": user.name, "email": user.email}})

    @api.get("/bizCards")
    def biz_cards(request: Request, user: Caller) -> JSONResponse:
        query, filters = params.list_query(request.query_params, user)
        return _page(request, query, filters, params.flag(request.query_params, "includeTags", False))

    @api.get("/bizCards/search")
    def search(request: Request, user: Caller) -> JSONResponse:
        query, filters = params.search_query(request.query_params, user)
        return _page(request, query, filters, params.flag(request.query_params, "includeTags", False))

    @api.get("/bizCards/{card_id}")
    def biz_card(request: Request, card_id: str, user: Caller) -> JSONResponse:
        store: SansanStore = request.app.state.store
        row = _visible_card(store, user, card_id)
        include_tags = params.flag(request.query_params, "includeTags", False)
        tags = store.tags_of([card_id])[card_id] if include_tags else None
        return JSONResponse({"item": card_json(row, store.users(), tags)})

    @api.get("/persons/{person_id}")
    def person(request: Request, person_id: str, user: Caller) -> JSONResponse:
        store: SansanStore = request.app.state.store
        head = store.head_card(person_id)
        if head is None or not (user.can_read_all or head["ownerId"] == user.id):
            raise ApiError(404, f"no person with id {person_id!r}")
        return JSONResponse({"item": {"id": person_id, "headBizCard": card_json(head, store.users(), None)}})

    @api.get("/tags")
    def tags(request: Request, user: Caller) -> JSONResponse:
        store: SansanStore = request.app.state.store
        query = request.query_params
        scope = params.choice(query, "range", ("me", "all"), "all")
        types = params.tag_types(query)
        owner = user.id if scope == "me" else query.get("ownerUserId") or None
        filters = {"user": user.id, "owner": owner, "types": types, "name": query.get("tagName")}
        token = query.get("nextPageToken")
        after = decode_token(request.app.state.secret, filters, token)[0] if token else None
        size = params.limit(query, params.MAX_TAGS_PER_PAGE, params.MAX_TAGS_PER_PAGE)
        rows = store.find_tags(
            owner_id=owner, viewer_id=user.id, types=types, name=query.get("tagName"), after=after, limit=size
        )
        users = store.users()
        has_more = len(rows) > size
        rows = rows[:size]
        next_token = encode_token(request.app.state.secret, filters, [rows[-1]["id"]]) if has_more else None
        return JSONResponse(
            {"data": [tag_json(row, users) for row in rows], "hasMore": has_more, "nextPageToken": next_token}
        )

    return api


def _control(app: FastAPI) -> None:
    """`/_sandbox` endpoints tests use to change data between runs and to learn the demo keys."""

    @app.post("/_sandbox/cards", include_in_schema=False)
    def put_cards(cards: Annotated[list[dict[str, Any]], Body(embed=True)]) -> JSONResponse:
        store: SansanStore = app.state.store
        ids = apply_changes(store, cards)
        users = store.users()
        return JSONResponse(
            {"data": [card_json(row, users, None) for i in ids if (row := store.card(i)) is not None]}
        )

    @app.get("/_sandbox/users", include_in_schema=False)
    def users() -> JSONResponse:
        rows = app.state.store.users().values()
        return JSONResponse(
            [
                {
                    "id": u["id"],
                    "name": u["name"],
                    "apiKey": USER_KEYS[u["id"]],
                    "canReadAll": bool(u["can_read_all"]),
                }
                for u in rows
            ]
        )


def create_app(
    data_dir: Path,
    api_key: str,
    faults: FaultConfig | None = None,
    version: str = "v3.2",
    rate_per_second: int = 10,
    latency: Latency | None = None,
) -> FastAPI:
    """The stand-in over ``<data_dir>/sansan.db``; ``api_key`` belongs to the admin user (range=all)."""
    if not API_KEY.match(api_key):
        raise ValueError("a Sansan API key is 32 letters and digits")
    store = SansanStore(Path(data_dir))
    store.add_key(api_key, ADMIN_ID)
    app = FastAPI(title="Sansan Open API (renkei stand-in)", version=version)
    app.state.store = store
    app.state.secret = store.secret()
    app.state.limiter = SlidingWindowLimiter(rate_per_second)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.parameter, exc.retry_after)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(400, "; ".join(str(e.get("msg")) for e in exc.errors()))

    install_sandbox_tools(app, render_error, faults, latency)
    app.include_router(_api(), prefix="/" + version.strip("/"))
    _control(app)
    return app


def serve(port: int, data: Path, api_key: str, faults: FaultConfig, latency: Latency | None = None) -> None:
    """`renkei sandbox sansan`: seed demo cards into a new data directory, then serve in the foreground."""
    if not (Path(data) / "sansan.db").exists():
        seed(Path(data), cards=DEMO_CARDS)
    serve_foreground(create_app(Path(data), api_key, faults, latency=latency), port)
