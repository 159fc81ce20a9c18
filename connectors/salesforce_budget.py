"""The org's daily API allocation: read from `Sforce-Limit-Info`, shared out between runs."""

from __future__ import annotations

import re
from dataclasses import dataclass

LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """(used, limit) from `api-usage=18/5000[;per-app-api-usage=…]`."""
    found = LIMIT_INFO.search(header or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass(frozen=True)
class ApiBudget:
    """How much of the daily allocation one run may use, and how much all runs together may."""

    run_share: float = 0.25
    total_share: float = 0.80

    def __post_init__(self) -> None:
        if not (0 < self.run_share <= 1 and 0 < self.total_share <= 1):
            raise ValueError("budget shares are fractions between 0 and 1")

    def allowance(self, used: int, limit: int, used_at_start: int) -> int:
        """Requests this run may still make: the tighter of its own share and the org-wide ceiling."""
        run_left = int(self.run_share * limit) - (used - used_at_start)
        total_left = int(self.total_share * limit) - used
        return max(0, min(run_left, total_left))

    def explain(self, used: int, limit: int, used_at_start: int) -> str:
        return (
            f"Salesforce API budget reached: {used}/{limit} requests used today, this run used "
            f"{used - used_at_start} (run share {self.run_share:.0%}, total share {self.total_share:.0%}); "
            "the rest is deferred to the next run"
        )
