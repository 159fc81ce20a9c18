"""Field mapping between MA customers and one target's records, both directions, with conflict rules.

Outbound (MA → target) carries every readable field; inbound (target → MA) every writable one. A
readable_writable field follows its mapping's conflict rule:

- ``ma_wins``: always sent out, never taken in;
- ``target_wins``: sent out only to fill a new record, always taken in when the target changed it;
- ``newest_wins``: sent out with the MA's change, taken in only when the target changed it after the
  MA last did.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from schemas.policy import ConflictRule, Direction
from schemas.spec import Spec, Target


@dataclass(frozen=True)
class FieldLink:
    ma: str
    target: str
    direction: Direction
    conflict: ConflictRule | None = None


@dataclass(frozen=True)
class FieldMap:
    """One target's mapping: the match key pair and every mapped field with its direction."""

    target_name: str
    key_ma: str
    key_target: str
    links: tuple[FieldLink, ...]

    @property
    def outbound(self) -> tuple[FieldLink, ...]:
        return tuple(link for link in self.links if link.direction.reads)

    @property
    def inbound(self) -> tuple[FieldLink, ...]:
        return tuple(link for link in self.links if link.direction.writes)

    @property
    def email_target(self) -> str | None:
        """The target field that holds the customer's email, if any (for the uniqueness rule)."""
        if self.key_ma == "email":
            return self.key_target
        return next((link.target for link in self.links if link.ma == "email"), None)

    def target_fields(self) -> list[str]:
        """Every target field renkei reads or writes, the key first."""
        return [self.key_target, *(link.target for link in self.links if link.target != self.key_target)]


def field_map(spec: Spec, target: Target) -> FieldMap:
    """The mapping of ``target`` as the (already validated) spec declares it."""
    if target.match is None:
        raise ValueError(f"target {target.name} has no match key")
    links = tuple(
        FieldLink(ma, entry.target, spec.direction(ma), spec.conflict_rule(target, ma))
        for ma, entry in target.mappings().items()
        if (ma, entry.target) != (target.match.ma, target.match.target)
    )
    return FieldMap(target.name, target.match.ma, target.match.target, links)


def outbound_record(customer: dict[str, Any], fmap: FieldMap, *, new: bool) -> dict[str, Any]:
    """The target record for one MA customer (keyed by target field); ``new`` when no link exists yet."""
    record = {fmap.key_target: customer.get(fmap.key_ma)}
    for link in fmap.outbound:
        if link.conflict is ConflictRule.TARGET_WINS and not new:
            continue
        record[link.target] = customer.get(link.ma)
    return record


def inbound_changes(
    values: dict[str, Any],
    fmap: FieldMap,
    *,
    target_modified: datetime | None,
    ma_updated: datetime | None,
) -> dict[str, Any]:
    """The MA fields a target record sets (keyed by MA field), after the conflict rules."""
    changes: dict[str, Any] = {}
    for link in fmap.inbound:
        if link.target not in values:
            continue
        if link.direction is Direction.READABLE_WRITABLE:
            if link.conflict is ConflictRule.MA_WINS:
                continue
            newer = target_modified is None or ma_updated is None or target_modified > ma_updated
            if link.conflict is ConflictRule.NEWEST_WINS and not newer:
                continue
        changes[link.ma] = values[link.target]
    return changes


def flatten_customer(customer: dict[str, Any]) -> dict[str, Any]:
    """An MA customer as the API returns it (custom values nested) with ``custom:<id>`` keys instead."""
    flat = {k: v for k, v in customer.items() if k != "custom"}
    flat.update({f"custom:{k}": v for k, v in (customer.get("custom") or {}).items()})
    return flat


def values_hash(record: dict[str, Any]) -> str:
    """A stable digest of the values sent, so an unchanged record is never sent twice.

    Empty text and no value hash alike: staging reads "" as None while the MA API returns "".
    """
    canonical = json.dumps(
        {k: None if v == "" else v for k, v in record.items()},
        sort_keys=True,
        ensure_ascii=False,
        default=jsonable,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def jsonable(value: Any) -> Any:
    """A JSON-safe form of a value (dates as ISO text, sets sorted)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    return str(value)


@dataclass(frozen=True)
class TargetRecord:
    """A record read from a target: its id, last modification and values by target field."""

    id: str
    modified: datetime | None
    values: dict[str, Any]

    @cached_property
    def read_hash(self) -> str:
        """A digest of the record as read (its modification stamp and mapped values): equal digests
        mean it has not changed since the write-back last took it in. Worked out once a record."""
        return values_hash({"modified": self.modified, "values": self.values})


MAPPING_STREAM = "mapping"  # the links stream where the state DB remembers each target's outbound mapping


def mapping_rows(fmap: FieldMap) -> list[tuple[str, str | None, str]]:
    """The outbound mapping as rows the state DB keeps: (MA field, target field, direction/conflict)."""
    return [(link.ma, link.target, _signature(link)) for link in fmap.outbound]


def fields_to_resync(recorded: dict[str, tuple[str | None, str]], fmap: FieldMap) -> tuple[FieldLink, ...]:
    """Outbound fields added or changed since the mapping was recorded; none before it ever was (a
    first sync sends every field anyway)."""
    if not recorded:
        return ()
    return tuple(link for link in fmap.outbound if recorded.get(link.ma) != (link.target, _signature(link)))


def _signature(link: FieldLink) -> str:
    return f"{link.direction.value}/{link.conflict.value if link.conflict else ''}"
