"""`renkei audit`: each target kind scans its whole customer set; the findings are schemas/audit.py's."""

from __future__ import annotations

from typing import Protocol, cast

from schemas.audit import AuditReport
from schemas.spec import Spec, Target
from tasks.targets import adapter_for


class Auditable(Protocol):
    def audit(self) -> AuditReport: ...

    def close(self) -> None: ...


def audit_target(spec: Spec, target: Target) -> AuditReport:
    """The audit of one target: every kind scans its whole customer set."""
    adapter = cast(Auditable, adapter_for(spec, target))
    try:
        return adapter.audit()
    finally:
        adapter.close()
