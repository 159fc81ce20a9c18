"""The shared caps of schemas/service_limits.py as Prefect global concurrency limits.

``renkei serve`` (and a step that finds one missing) creates each limit at the service's cap; a limit
that exists is left as the operator set it (lowered to spare the domain for other tools, say). A step
calling a capped service holds its slots while it runs, on whichever worker and for whichever
company: the server counts them, so all runs together stay under the cap. A slot is leased: one
whose worker died is freed when its lease runs out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from schemas.service_limits import service_limit
from schemas.spec import Target

SLOT_LEASE_SECONDS = 60.0  # renewed while the step lives; a killed worker's slots return this soon


def ensure_limits(caps: dict[str, int]) -> dict[str, int]:
    """Create the limits that do not exist yet; return every limit's size on the server."""
    sizes: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for name, cap in caps.items():
            try:
                sizes[name] = client.read_global_concurrency_limit_by_name(name).limit
                continue
            except ObjectNotFound:
                pass
            with suppress(ObjectAlreadyExists):  # another step or serve created it meanwhile
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=cap))
            sizes[name] = client.read_global_concurrency_limit_by_name(name).limit
    return sizes


@contextmanager
def calls_to(target: Target) -> Iterator[None]:
    """Hold the target's share of its service's shared cap (nothing when the service has none)."""
    limit = service_limit(target)
    if limit is None:
        yield
        return
    size = ensure_limits({limit.name: limit.cap})[limit.name]
    occupy = max(1, min(limit.occupy, size))  # a limit lowered below the target's calls still admits it
    with concurrency(
        limit.name,
        occupy=occupy,
        lease_duration=SLOT_LEASE_SECONDS,
        strict=True,  # the limit exists (just ensured): a missing one is an error, not "no limit"
        raise_on_lease_renewal_failure=False,  # a server hiccup never stops a load half way
    ):
        yield
