"""Row outcomes: every input row ends loaded, skipped (unchanged), rejected or deferred."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # the target already holds these values: nothing sent
    REJECTED = "rejected"  # kept in the quarantine with its reason, replayable
    DEFERRED = "deferred"  # left for the next run (budget, lock, limit)

    @property
    def loaded(self) -> bool:
        return self in (Status.CREATED, Status.UPDATED)


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one row: its natural key, the target's id, and the target's own words."""

    key: str
    status: Status
    target_id: str | None = None
    code: str | None = None  # the target's error code (CB_VA01, REQUIRED_FIELD_MISSING …) or our rule
    message: str | None = None
    field: str | None = None
    # the refused row's values, when it was refused before anything was sent (a read-side rule)
    payload: Mapping[str, Any] | None = dataclass_field(default=None, compare=False)

    def showing(self, payload: Mapping[str, Any]) -> RowOutcome:
        """This outcome carrying the values it refused, for the quarantine and the email."""
        return replace(self, payload=payload)

    @classmethod
    def created(cls, key: str, target_id: str | None = None) -> RowOutcome:
        return cls(key, Status.CREATED, target_id)

    @classmethod
    def updated(cls, key: str, target_id: str | None = None) -> RowOutcome:
        return cls(key, Status.UPDATED, target_id)

    @classmethod
    def unchanged(cls, key: str, target_id: str | None = None) -> RowOutcome:
        return cls(key, Status.UNCHANGED, target_id)

    @classmethod
    def rejected(cls, key: str, code: str, message: str, field: str | None = None) -> RowOutcome:
        return cls(key, Status.REJECTED, None, code, message, field)

    @classmethod
    def deferred(cls, key: str, reason: str) -> RowOutcome:
        return cls(key, Status.DEFERRED, None, "deferred", reason)


@dataclass(frozen=True)
class Counts:
    """Per target and stream: in = loaded + skipped + rejected + deferred, always."""

    received: int = 0
    loaded: int = 0
    skipped: int = 0
    rejected: int = 0
    deferred: int = 0

    @property
    def balanced(self) -> bool:
        return self.received == self.loaded + self.skipped + self.rejected + self.deferred

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.received + other.received,
            self.loaded + other.loaded,
            self.skipped + other.skipped,
            self.rejected + other.rejected,
            self.deferred + other.deferred,
        )


def count_outcomes(outcomes: Iterable[RowOutcome]) -> Counts:
    by_status = Counter(o.status for o in outcomes)
    loaded = by_status[Status.CREATED] + by_status[Status.UPDATED]
    skipped = by_status[Status.UNCHANGED]
    rejected = by_status[Status.REJECTED]
    deferred = by_status[Status.DEFERRED]
    return Counts(loaded + skipped + rejected + deferred, loaded, skipped, rejected, deferred)
