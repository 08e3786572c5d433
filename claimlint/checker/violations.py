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
    # The texts in `message` and `details` read from a patient's identifier, so that reports
    # can pseudonymise them (report/privacy.py); not part of the public record.
    patients: tuple[str, ...] = ()

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


# Columns that identify a patient (DESIGN.md: the claims and the FMT roster's patient_id).
PATIENT_FIELDS = frozenset({"patient_id"})


def reads_patient(expr: m.Expr | None) -> bool:
    """Whether a text value computed by `expr` may hold a patient's identifier."""
    if expr is None or getattr(expr, "type", None) is not Type.TEXT:
        return False
    return any(isinstance(e, m.FieldRef) and e.name in PATIENT_FIELDS for e in m.walk(expr))


# rule id() -> (the rule, its placeholders and let positions that read a patient field):
# worked out once per rule, not once per violation. The rule is kept so its id stays its own.
_PATIENT_PARTS: dict[int, tuple[m.Rule, frozenset[str], tuple[int, ...]]] = {}


def _patient_parts(rule: m.Rule) -> tuple[frozenset[str], tuple[int, ...]]:
    known = _PATIENT_PARTS.get(id(rule))
    if known is None or known[0] is not rule:
        names = frozenset(
            p.name
            for p in rule.message.parts
            if isinstance(p, m.Placeholder) and reads_patient(p.expr)
        )
        lets = tuple(i for i, (_, expr) in enumerate(rule.lets) if reads_patient(expr))
        if len(_PATIENT_PARTS) > 4096:  # a long-lived process checking many rulebooks
            _PATIENT_PARTS.clear()
        known = _PATIENT_PARTS[id(rule)] = (rule, names, lets)
    return known[1], known[2]


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
    names, positions = _patient_parts(rule)
    patients = {
        french(placeholders[p.name], p.expr.type)
        for p in rule.message.parts
        if isinstance(p, m.Placeholder) and p.name in names and placeholders[p.name] is not None
    }
    patients.update(str(lets[i]) for i in positions if lets[i] is not None)
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
        patients=tuple(sorted(patients - {""})),
    )
