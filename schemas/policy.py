"""The field-direction policy (連携種別) and its fixed exceptions.

Readable means read from the MA and written into a target; Writable means written into the MA from a
target. The exceptions are fixed by the MA vendor and cannot be configured away.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.catalog import FieldDef


class Direction(StrEnum):
    NG = "ng"
    READABLE = "readable"
    WRITABLE = "writable"
    READABLE_WRITABLE = "readable_writable"

    @property
    def reads(self) -> bool:
        """MA → target."""
        return self in (Direction.READABLE, Direction.READABLE_WRITABLE)

    @property
    def writes(self) -> bool:
        """target → MA."""
        return self in (Direction.WRITABLE, Direction.READABLE_WRITABLE)


class ConflictRule(StrEnum):
    """How a readable_writable field settles two writers."""

    MA_WINS = "ma_wins"
    TARGET_WINS = "target_wins"
    NEWEST_WINS = "newest_wins"


NEVER_WRITABLE: frozenset[str] = frozenset({"score", "status", "hashcode", "customer_id"})
NEVER_INTEGRATED: frozenset[str] = frozenset({"delivery_status", "mail_status"})


@dataclass(frozen=True)
class PolicyViolation:
    rule: str
    message: str
    hint: str


def never_integrated(field: FieldDef) -> bool:
    """Delivery status, mail status and every custom field that refuses duplicates."""
    return field.name in NEVER_INTEGRATED or (field.is_custom and field.unique)


def never_writable(field: FieldDef) -> bool:
    """Fields the MA alone maintains: the fixed four plus values it assigns itself."""
    return field.name in NEVER_WRITABLE or field.system


def check_direction(field: FieldDef, direction: Direction) -> PolicyViolation | None:
    """The fixed exception that forbids ``direction`` for ``field``, if any."""
    if direction is Direction.NG:
        return None
    if never_integrated(field):
        why = "it refuses duplicate values" if field.is_custom else "the MA keeps it to itself"
        return PolicyViolation(
            "never_integrated",
            f"{field.name} can never be integrated ({why})",
            "set it to ng and remove it from every target's map",
        )
    if direction.writes and never_writable(field):
        return PolicyViolation(
            "never_writable",
            f"{field.name} is maintained by the MA and can never be written into it",
            "set it to readable (or ng)",
        )
    return None
