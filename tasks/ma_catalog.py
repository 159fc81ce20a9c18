"""The MA's field catalog, read once per run: the spec a run uses follows it (schemas.ma_catalog)."""

from __future__ import annotations

from typing import Any

from connectors.http import HttpError, HttpPolicy
from schemas.ma_catalog import MaCatalog, catalog_problems, follow_catalog
from schemas.spec import Problem, Spec
from tasks.clients import ma_client


def read_catalog(spec: Spec, policy: HttpPolicy | None = None) -> MaCatalog:
    """One request to the MA's ``/fields``."""
    with ma_client(spec, policy) as ma:
        return ma.catalog()


def online_spec(
    spec: Spec, wire: dict[str, Any] | None = None, policy: HttpPolicy | None = None
) -> tuple[Spec, list[Problem], MaCatalog]:
    """The spec as the MA defines its fields, every difference found, and the catalog (``wire``: one
    already read by this run, so a subflow does not ask again; ``policy``: how long to insist)."""
    catalog = MaCatalog.from_wire(wire) if wire is not None else read_catalog(spec, policy)
    return follow_catalog(spec, catalog), catalog_problems(spec, catalog), catalog


def run_spec(spec: Spec) -> tuple[Spec, dict[str, Any] | None, list[str]]:
    """The spec a run (or a plan, an audit) uses, the catalog it read, and one line per difference.

    When the catalog cannot be read the run goes on with the spec alone (checked offline) and says so.
    """
    try:
        followed, problems, catalog = online_spec(spec)
    except (HttpError, KeyError, ValueError) as exc:  # unreachable, or a catalog renkei cannot read
        return spec, None, [f"the MA's field catalog could not be read ({exc}): the spec alone was used"]
    errors = [str(p) for p in problems if p.severity == "error"]
    return followed, catalog.to_wire(), errors
