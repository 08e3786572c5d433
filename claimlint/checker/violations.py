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


@attrs.frozen
class Rendered:
    """A violation whose public record the engine wrote itself, as its JSON line (a streamed
    `--format jsonl` run, checker/sql_json.py): what the run's accounting reads, and the
    line, the same bytes as `Violation.record()` encoded."""

    rule: str
    severity: Severity
    amount_at_stake: Decimal
    line: str  # without its newline
    patients: tuple[str, ...] = ()  # none: a record naming patients is not rendered


@attrs.frozen
class JsonLines:
    """A run whose records are only written as JSON lines, as the rules finish: an engine
    may hand over `Rendered` records. When `pseudonymised`, the writer replaces patient
    identifiers in `Violation`s, so the rules whose records name a patient keep those."""

    pseudonymised: bool


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


@attrs.frozen
class _Plan:
    """What making a rule's records needs from the rule, worked out once per rule."""

    rule: m.Rule  # kept so that its id() stays its own
    cap_type: Type | None
    # The message: text, or (placeholder name, is a figure, type to print it as).
    parts: tuple[str | tuple[str, bool, Type | None], ...]
    let_names: tuple[str, ...]
    let_types: tuple[Type, ...]
    patient_names: frozenset[str]  # placeholders that read a patient field
    patient_lets: tuple[int, ...]  # positions of the lets that do

    @classmethod
    def of(cls, rule: m.Rule) -> _Plan:
        cap_type = rule.aggregate.cap.type if rule.aggregate and rule.aggregate.cap else None
        parts: list[str | tuple[str, bool, Type | None]] = []
        for part in rule.message.parts:
            if isinstance(part, str):
                parts.append(part)
            elif part.expr is None:
                parts.append((part.name, True, cap_type if part.name == "cap" else None))
            else:
                parts.append((part.name, False, part.expr.type))
        return cls(
            rule,
            cap_type,
            tuple(parts),
            tuple(name for name, _ in rule.lets),
            tuple(expr.type for _, expr in rule.lets),
            frozenset(
                p.name
                for p in rule.message.parts
                if isinstance(p, m.Placeholder) and reads_patient(p.expr)
            ),
            tuple(i for i, (_, expr) in enumerate(rule.lets) if reads_patient(expr)),
        )


_PLANS: dict[int, _Plan] = {}  # rule id() -> its plan


def _plan(rule: m.Rule) -> _Plan:
    known = _PLANS.get(id(rule))
    if known is None or known.rule is not rule:
        if len(_PLANS) > 4096:  # a long-lived process checking many rulebooks
            _PLANS.clear()
        known = _PLANS[id(rule)] = _Plan.of(rule)
    return known


def names_patient(rule: m.Rule) -> bool:
    """Whether the rule's message or details may show a patient's identifier."""
    plan = _plan(rule)
    return bool(plan.patient_names or plan.patient_lets)


def ordered(violations: list[Violation]) -> list[Violation]:
    return sorted(violations, key=Violation.sort_key)


def canonical(value: Any, type_: Type | None) -> Any:
    """One spelling per value whatever the engine: money to cents, decimals without padding."""
    if value is None or type_ is None:
        return value
    if type_ is Type.INTEGER:
        return value if type(value) is int else int(value)
    if type_ is Type.MONEY:
        return m.money(Decimal(value))
    if type_ is Type.DECIMAL:
        d = Decimal(value).normalize()
        return d.quantize(Decimal(1)) if d == d.to_integral_value() else d
    return value


FIGURE_TYPES = {
    "count": Type.INTEGER,
    "total": Type.INTEGER,
    "allowed": Type.INTEGER,
    "excess": Type.INTEGER,
    "rank": Type.INTEGER,
    "period": Type.TEXT,
}


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
    plan = _plan(rule)
    figures = {
        k: canonical(v, plan.cap_type if k == "cap" else FIGURE_TYPES[k])
        for k, v in figures.items()
    }
    details: list[tuple[str, Any]] = [
        (name, canonical(value, type_))
        for name, type_, value in zip(plan.let_names, plan.let_types, lets, strict=True)
    ]
    details += figures.items()
    details += [(f"{table}.rows", [int(r) for r in rows]) for table, rows in table_rows]
    shown: dict[str, str] = {}  # placeholders as the message prints them
    message = []
    for part in plan.parts:
        if type(part) is str:
            message.append(part)
        else:
            name, figure, type_ = part
            text = french((figures if figure else placeholders)[name], type_)
            if not figure:
                shown[name] = text
            message.append(text)
    patients: set[str] = set()
    if plan.patient_names or plan.patient_lets:
        patients = {shown[n] for n in plan.patient_names if placeholders[n] is not None}
        patients.update(str(lets[i]) for i in plan.patient_lets if lets[i] is not None)
        patients.discard("")
    line_level = not group_level
    return Violation(
        rule=rule.id,
        severity=severity,
        message="".join(message),
        line_id=None if group_level or line_id is None else str(line_id),
        claim_id=None if group_level or claim_id is None else str(claim_id),
        provider_id=None if provider_id is None else str(provider_id),
        service_date=day if line_level else None,
        service_time=time if line_level else None,
        amount_at_stake=m.money(stake if stake is not None else 0),
        source=rule.source,
        location=rule.location,
        details=tuple(details),
        patients=tuple(sorted(patients)),
    )
