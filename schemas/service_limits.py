"""Caps shared by every company of one installation: concurrent calls per target service.

kintone allows 100 concurrent API requests per domain (more are answered 429), whichever company's
run sends them; an integration partner serving several clients on one kintone domain shares that
cap. Each cap is a Prefect global concurrency limit named after the service and its domain, and a
step calling the service holds as many slots as it sends calls at once (the target's ``concurrency``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from schemas.spec import Spec, Target

SERVICE_CAPS = {"kintone": 100}  # concurrent requests per domain (cybozu's documented limit)


@dataclass(frozen=True)
class ServiceLimit:
    name: str  # the global concurrency limit, e.g. ``kintone:acme.cybozu.com``
    cap: int  # its size when renkei creates it
    occupy: int  # slots one step holds while it runs: the calls it sends at once


def service_limit(target: Target) -> ServiceLimit | None:
    """The shared cap a target's calls count against, or None when its service has none."""
    cap = SERVICE_CAPS.get(target.kind)
    if cap is None:
        return None
    domain = urlsplit(target.url).netloc.lower()
    return ServiceLimit(f"{target.kind}:{domain}", cap, min(target.concurrency, cap))


def service_caps(specs: Iterable[Spec]) -> dict[str, int]:
    """Every limit the specs' targets need, by name (companies on one domain share one)."""
    return {
        limit.name: limit.cap
        for spec in specs
        for target in spec.targets
        if (limit := service_limit(target)) is not None
    }
