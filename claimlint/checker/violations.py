"""The violation record: what every engine produces and every report reads (DESIGN.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs

from claimlint.checker.values import plain
from claimlint.dsl.model import Severity


@attrs.frozen
class Violation:
    rule: str
    severity: Severity
    message: str
    line_id: str | None  # None for a provider-level record
    claim_id: str | None
    provider_id: str | None
    service_date: dt.date | None
    service_time: dt.time | None  # not in the record: the second key of chronological order
    amount_at_stake: Decimal
    source: str
    location: str
    details: tuple[tuple[str, Any], ...] = ()

    def sort_key(self) -> tuple:
        """Rule, provider, then chronological order (date, time with missing last, line)."""
        return (
            self.rule,
            self.provider_id or "",
            self.service_date or dt.date.min,
            self.service_time is None,
            self.service_time or dt.time.min,
            self.line_id or "",
        )

    def record(self) -> dict[str, Any]:
        """The public record, in the contract's field order (json and jsonl formats)."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "line_id": self.line_id,
            "claim_id": self.claim_id,
            "provider_id": self.provider_id,
            "service_date": plain(self.service_date),
            "amount_at_stake": plain(self.amount_at_stake),
            "source": self.source,
            "location": self.location,
            "details": {k: plain(v) for k, v in self.details},
        }


def ordered(violations: list[Violation]) -> list[Violation]:
    return sorted(violations, key=Violation.sort_key)
