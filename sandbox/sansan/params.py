"""Query parameters of the card and tag endpoints, checked strictly: a bad value is a 400 naming it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.datastructures import QueryParams

from sandbox.sansan.store import CardQuery, User
from sandbox.sansan.wire import ApiError, parse_instant

ENTRY_STATUSES = ("processing", "completed", "unreadable")
TAG_TYPES = ("private", "public", "shared")
MAX_CARDS_PER_PAGE = 300
MAX_TAGS_PER_PAGE = 100


def flag(params: QueryParams, name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false: got {raw!r}", name)
    return raw.lower() == "true"


def choice(params: QueryParams, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = params.get(name, default)
    if raw not in allowed:
        raise ApiError(400, f"{name} must be one of {', '.join(allowed)}: got {raw!r}", name)
    return raw


def limit(params: QueryParams, most: int, default: int) -> int:
    raw = params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ApiError(400, f"limit must be a whole number from 1 to {most}: got {raw!r}", "limit")
    return int(raw)


def statuses(params: QueryParams) -> tuple[str, ...] | None:
    """The repeatable ``entryStatus`` (default completed); ``all`` (or every status) means no filter."""
    raw = [part for value in params.getlist("entryStatus") for part in value.split(",") if part]
    if not raw:
        return ("completed",)
    unknown = sorted(set(raw) - {*ENTRY_STATUSES, "all"})
    if unknown:
        raise ApiError(
            400, f"entryStatus must be {', '.join(ENTRY_STATUSES)} or all: got {unknown}", "entryStatus"
        )
    if "all" in raw or set(raw) == set(ENTRY_STATUSES):
        return None
    return tuple(sorted(set(raw)))


def tag_types(params: QueryParams) -> tuple[str, ...]:
    """The repeatable ``type`` of `GET /tags`; none means every type."""
    types = tuple(sorted(set(params.getlist("type"))))
    unknown = [kind for kind in types if kind not in TAG_TYPES]
    if unknown:
        raise ApiError(400, f"type must be {', '.join(TAG_TYPES)}: got {unknown}", "type")
    return types


def owner_filter(params: QueryParams, user: User) -> str | None:
    """``range=me`` (the default) keeps the key's own cards; ``all`` needs a user who may see all."""
    scope = choice(params, "range", ("me", "all"), "me")
    if scope == "me":
        return user.id
    if not user.can_read_all:
        raise ApiError(403, "this API key's user may not read every card: use range=me", "range")
    return None


def window(params: QueryParams) -> tuple[int, int]:
    """The required, inclusive ``updatedFrom``/``updatedTo`` window."""
    bounds = []
    for name in ("updatedFrom", "updatedTo"):
        raw = params.get(name)
        if not raw:
            raise ApiError(400, f"{name} is required (ISO 8601 with an offset)", name)
        bounds.append(parse_instant(raw, name, upper=name == "updatedTo"))
    if bounds[0] > bounds[1]:
        raise ApiError(400, "updatedFrom must not be later than updatedTo", "updatedFrom")
    return bounds[0], bounds[1]


def _common(params: QueryParams, user: User, orders: tuple[str, ...]) -> tuple[CardQuery, dict[str, Any]]:
    query = CardQuery(
        limit=limit(params, MAX_CARDS_PER_PAGE, 100),
        order_by=choice(params, "orderBy", orders, orders[-1]),
        descending=choice(params, "orderDirection", ("asc", "desc"), "asc") == "desc",
        owner_id=owner_filter(params, user),
        statuses=statuses(params),
        latest_only=not flag(params, "includePastBizCards", False),
    )
    filters = {
        "user": user.id,
        "orderBy": query.order_by,
        "desc": query.descending,
        "owner": query.owner_id,
        "statuses": query.statuses,
        "latestOnly": query.latest_only,
    }
    return query, filters


def list_query(params: QueryParams, user: User) -> tuple[CardQuery, dict[str, Any]]:
    """`GET /bizCards`: the query and the filters a page token is bound to."""
    updated_from, updated_to = window(params)
    query, filters = _common(params, user, ("registeredAt", "completedAt", "updatedAt"))
    filters.update(updatedFrom=updated_from, updatedTo=updated_to)
    return replace(query, updated_from=updated_from, updated_to=updated_to), filters


def search_query(params: QueryParams, user: User) -> tuple[CardQuery, dict[str, Any]]:
    """`GET /bizCards/search`: criteria ANDed; tag ids ORed among themselves."""
    query, filters = _common(params, user, ("registeredAt", "updatedAt"))
    criteria: dict[str, Any] = {
        "company_name": params.get("companyName") or None,
        "name": "".join((params.get("name") or "").split()) or None,
        "email": params.get("email") or None,
        "tel": params.get("tel") or None,
        "mobile": params.get("mobile") or None,
        "tag_ids": tuple(sorted(params.getlist("tagId"))),
    }
    filters.update(criteria)
    return replace(query, **criteria), filters
