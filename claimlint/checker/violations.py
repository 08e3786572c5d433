"""The violation record: what every engine produces and every report reads (DESIGN.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs

from claimlint.checker.values import french, plain
from claimlint.dsl import model as m
from claimlint.dsl.model import Severity
from claimlint.dsl.types import Type


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


# The public record's fields, in the contract's order (json, jsonl, csv).
RECORD_FIELDS = (
    "rule",
    "severity",
    "message",
    "line_id",
    "claim_id",
    "provider_id",
    "service_date",
    "amount_at_stake",
    "source",
    "location",
    "details",
)


def ordered(violations: list[Violation]) -> list[Violation]:
    return sorted(violations, key=Violation.sort_key)


def canonical(value: Any, type_: Type | None) -> Any:
    """One spelling per value whatever the engine: money to cents, decimals without padding."""
    if value is None or type_ is None:
        return value
    if type_ is Type.MONEY:
        return m.money(Decimal(value))
    if type_ is Type.DECIMAL:
        d = Decimal(value).normalize()
        return d.quantize(Decimal(1)) if d == d.to_integral_value() else d
    if type_ is Type.INTEGER:
        return int(value)
    return value


FIGURE_TYPES = {
    "count": Type.INTEGER,
    "total": Type.INTEGER,
    "allowed": Type.INTEGER,
    "excess": Type.INTEGER,
    "rank": Type.INTEGER,
    "period": Type.TEXT,
}


def render_message(rule: m.Rule, placeholders: dict[str, Any], figures: dict[str, Any]) -> str:
    cap_type = rule.aggregate.cap.type if rule.aggregate and rule.aggregate.cap else None
    out = []
    for part in rule.message.parts:
        if isinstance(part, str):
            out.append(part)
        elif part.expr is None:
            out.append(french(figures[part.name], cap_type if part.name == "cap" else None))
        else:
            out.append(french(placeholders[part.name], part.expr.type))
    return "".join(out)


def make_violation(
    rule: m.Rule,
    *,
    line_id: Any,
    claim_id: Any,
    provider_id: Any,
    day: dt.date | None,
    time: dt.time | None,
    stake: Any,
    severity: Severity,
    placeholders: dict[str, Any],
    lets: list[Any],
    figures: dict[str, Any],
    table_rows: list[tuple[str, list[int]]],
    group_level: bool = False,
) -> Violation:
    """The record of a flagged line (or group), the same bytes whichever engine found it."""
    cap_type = rule.aggregate.cap.type if rule.aggregate and rule.aggregate.cap else None
    figures = {
        k: canonical(v, cap_type if k == "cap" else FIGURE_TYPES[k]) for k, v in figures.items()
    }
    details: list[tuple[str, Any]] = [
        (name, canonical(value, expr.type))
        for (name, expr), value in zip(rule.lets, lets, strict=True)
    ]
    details += list(figures.items())
    details += [(f"{table}.rows", [int(r) for r in rows]) for table, rows in table_rows]
    line_level = not group_level
    return Violation(
        rule=rule.id,
        severity=severity,
        message=render_message(rule, placeholders, figures),
        line_id=None if group_level or line_id is None else str(line_id),
        claim_id=None if group_level or claim_id is None else str(claim_id),
        provider_id=None if provider_id is None else str(provider_id),
        service_date=day if line_level else None,
        service_time=time if line_level else None,
        amount_at_stake=m.money(stake if stake is not None else 0),
        source=rule.source,
        location=rule.location,
        details=tuple(details),
    )
