"""The reference interpreter: the executable definition of the rule semantics.

Pure Python, one line at a time. Every other engine must give exactly its violations. Each
model expression is compiled once per rule into a Python closure (built from the model's
nodes; nothing from the rulebook is ever executed as code).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from claimlint.checker import tables
from claimlint.checker.context import GroupHistory, counts_history, note_history
from claimlint.checker.functions import IMPLEMENTATIONS, coalesce
from claimlint.checker.readers import Batch
from claimlint.checker.violations import Violation, make_violation, ordered
from claimlint.dsl import model as m
from claimlint.dsl.schema import Role, Schema


class Line:
    """One input row in context: its reference rows, its claim, its date."""

    __slots__ = ("row", "refs", "claim", "day", "order", "context")

    def __init__(
        self, row: dict[str, Any], refs: dict[str, dict[str, Any]], day, order, context=False
    ):
        self.row = row
        self.refs = refs
        self.claim: list[Line] = [self]
        self.day: dt.date | None = day
        self.order: tuple = order
        # A history line: counted by aggregates with today's lines, never flagged.
        self.context: bool = context


Fn = Callable[[Line], Any]


def truth(value: Any) -> bool:
    """A missing boolean counts as false."""
    return value is True


_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def _divide(a: Any, b: Any) -> Any:
    return None if b == 0 else Decimal(a) / Decimal(b)


class Compiler:
    """Model expression -> closure over a Line.

    With `coverage`, every decision-table row that matches is recorded there (table -> rows),
    for `claimlint test --coverage`.
    """

    def __init__(self, rulebook: m.Rulebook, coverage: dict[str, set[int]] | None = None):
        self.rulebook = rulebook
        self.coverage = coverage

    def compile(self, expr: m.Expr) -> Fn:
        return getattr(self, "_" + type(expr).__name__)(expr)

    def _Const(self, e: m.Const) -> Fn:
        value = e.value
        return lambda line: value

    def _FieldRef(self, e: m.FieldRef) -> Fn:
        name, table = e.name, e.table
        if table is None:
            return lambda line: line.row[name]
        return lambda line: line.refs[table][name]

    def _ParamRef(self, e: m.ParamRef) -> Fn:
        param = self.rulebook.parameters[e.name]

        def read(line: Line) -> Any:
            if line.day is None:
                return None
            value = param.at(line.day)
            return None if value is None else value.value

        return read

    def _Arith(self, e: m.Arith) -> Fn:
        left, right = self.compile(e.left), self.compile(e.right)
        op = _divide if e.op == "/" else _ARITH[e.op]

        def arith(line: Line) -> Any:
            a, b = left(line), right(line)
            if a is None or b is None:
                return None
            value = op(a, b)
            return value if value else m.unsigned(value)

        return arith

    def _Negate(self, e: m.Negate) -> Fn:
        inner = self.compile(e.operand)
        return lambda line: None if (v := inner(line)) is None else m.unsigned(-v)

    def _Compare(self, e: m.Compare) -> Fn:
        left, right, op = self.compile(e.left), self.compile(e.right), m.COMPARISONS[e.op]

        def compare(line: Line) -> bool:
            a, b = left(line), right(line)
            return a is not None and b is not None and op(a, b)

        return compare

    def _Logic(self, e: m.Logic) -> Fn:
        items = [self.compile(i) for i in e.items]
        if e.op == "and":
            return lambda line: all(truth(f(line)) for f in items)
        return lambda line: any(truth(f(line)) for f in items)

    def _Not(self, e: m.Not) -> Fn:
        inner = self.compile(e.operand)
        return lambda line: not truth(inner(line))

    def _InSet(self, e: m.InSet) -> Fn:
        inner, values, negated = self.compile(e.operand), e.values, e.negated

        def member(line: Line) -> bool:
            v = inner(line)
            found = v is not None and v in values
            return found != negated

        return member

    def _IsPresent(self, e: m.IsPresent) -> Fn:
        inner, present = self.compile(e.operand), e.present
        return lambda line: (inner(line) is not None) == present

    def _Match(self, e: m.Match) -> Fn:
        inner, pattern = self.compile(e.operand), re.compile(e.pattern)
        return lambda line: (v := inner(line)) is not None and pattern.fullmatch(v) is not None

    def _Call(self, e: m.Call) -> Fn:
        args = [self.compile(a) for a in e.args]
        if e.function == "coalesce":
            return lambda line: coalesce(*(a(line) for a in args))
        impl = IMPLEMENTATIONS[e.function]
        if e.function == "age":
            impl = _age

        def call(line: Line) -> Any:
            values = [a(line) for a in args]
            return None if any(v is None for v in values) else impl(*values)

        return call

    def _TableCall(self, e: m.TableCall) -> Fn:
        evaluate, output = self._evaluator(e), e.output
        if len(self.rulebook.tables[e.table].outputs) > 1:
            return lambda line: evaluate(line).value[output]
        return lambda line: evaluate(line).value

    def _evaluator(self, e: m.TableCall) -> Callable[[Line], tables.TableResult]:
        table = self.rulebook.tables[e.table]
        args = [self.compile(a) for a in e.args]
        covered = self.coverage.setdefault(e.table, set()) if self.coverage is not None else None

        # A table's answer depends on its inputs only, and lines repeat a few input values
        # (specialty, act code): each distinct input tuple is evaluated once. The types are
        # part of the key (True == 1); a broken U or A table raises every time.
        answers: dict[tuple, tables.TableResult] = {}

        def evaluate(line: Line) -> tables.TableResult:
            values = [a(line) for a in args]
            key = tuple((type(v), v) for v in values)
            try:
                result = answers.get(key)
            except TypeError:  # an unhashable input (a list from a collect table)
                result = key = None
            if result is None:
                result = tables.evaluate(table, values)
                if key is not None:
                    answers[key] = result
            if covered is not None:
                covered.update(result.rows)
            return result

        return evaluate

    def rows_of(self, e: m.TableCall) -> Callable[[Line], tuple[int, ...]]:
        """The rows a table call matches on a line (raises on a broken U or A table)."""
        evaluate = self._evaluator(e)
        return lambda line: evaluate(line).rows

    def _Cond(self, e: m.Cond) -> Fn:
        condition, then, otherwise = (self.compile(x) for x in (e.condition, e.then, e.otherwise))
        return lambda line: then(line) if truth(condition(line)) else otherwise(line)

    def _ClaimAny(self, e: m.ClaimAny) -> Fn:
        inner = self.compile(e.condition)
        return lambda line: any(truth(inner(other)) for other in line.claim)


def _age(birth: dt.date, on: dt.date) -> int | None:
    """Age in completed years; missing when the date precedes the birth (bad data)."""
    return None if on < birth else IMPLEMENTATIONS["age"](birth, on)


# ----------------------------------------------------------------------------- lines


@attrs.frozen
class Roles:
    """The columns engines need by meaning rather than by name."""

    line: str | None
    claim: str | None
    date: str | None
    time: str | None
    provider: str | None
    year: str | None

    @classmethod
    def of(cls, schema: Schema) -> Roles:
        def name(role: Role) -> str | None:
            f = schema.by_role(role)
            return f.name if f else None

        return cls(
            name(Role.LINE),
            name(Role.CLAIM),
            name(Role.DATE),
            name(Role.TIME),
            name(Role.PROVIDER),
            name(Role.YEAR),
        )

    def day(self, row: Mapping[str, Any]) -> dt.date | None:
        """The date that decides effective periods: the line's date, or 1 January of its year."""
        if self.date:
            return row[self.date]
        if self.year and row[self.year] is not None and dt.MINYEAR <= row[self.year] <= dt.MAXYEAR:
            return dt.date(row[self.year], 1, 1)
        return None

    def chronological(self, row: Mapping[str, Any]) -> tuple:
        day = self.day(row)
        time = row[self.time] if self.time else None
        return (
            day is None,
            day or dt.date.min,
            time is None,
            time or dt.time.min,
            str(row[self.line]) if self.line else "",
        )


def build_lines(
    rulebook: m.Rulebook, batch: Batch, references: Mapping[str, Batch], context: bool = False
) -> tuple[list[Line], Roles]:
    """Join each row to its reference rows and to the other lines of its claim."""
    roles = Roles.of(rulebook.input)
    indexes = {}
    for ref in rulebook.references:
        ref_batch = references.get(ref.name)
        rows = ref_batch.rows if ref_batch is not None else ()
        indexes[ref.name] = (
            {row[ref.key]: row for row in rows},
            {f.name: f.default for f in ref.schema.fields},
        )
    lines = []
    for row in batch.rows:
        refs = {
            name: index.get(row[ref.join_field], absent)
            for ref in rulebook.references
            for name, (index, absent) in [(ref.name, indexes[ref.name])]
        }
        lines.append(Line(row, refs, roles.day(row), roles.chronological(row), context))
    lines.sort(key=lambda line: line.order)
    if roles.claim:
        claims: dict[Any, list[Line]] = defaultdict(list)
        for line in lines:
            claims[line.row[roles.claim]].append(line)
        for line in lines:
            line.claim = claims[line.row[roles.claim]]
    return lines, roles


# ----------------------------------------------------------------------------- rules


class _CompiledRule:
    def __init__(self, rule: m.Rule, compiler: Compiler):
        self.rule = rule
        self.condition = compiler.compile(rule.condition) if rule.condition else None
        self.exceptions = [compiler.compile(e.condition) for e in rule.exceptions]
        self.stake = compiler.compile(rule.stake)
        self.lets = [(name, compiler.compile(expr)) for name, expr in rule.lets]
        self.placeholders = {
            p.name: compiler.compile(p.expr)
            for p in rule.message.parts
            if isinstance(p, m.Placeholder) and p.expr is not None
        }
        # Rows matched by the first call of each table, for the details; U and A calls are
        # checked on every line first, so a broken table is an error whatever the guards.
        self.reported = [(call.table, compiler.rows_of(call)) for call in rule.reported_calls()]
        self.checked = [
            compiler.rows_of(call)
            for call in rule.table_calls()
            if compiler.rulebook.tables[call.table].hit.policy
            in (m.HitPolicy.UNIQUE, m.HitPolicy.ANY)
        ]
        self.severity_if = (
            (compiler.compile(rule.severity_if[0]), rule.severity_if[1])
            if rule.severity_if
            else None
        )
        agg = rule.aggregate
        if agg is not None:
            self.keys = [compiler.compile(k) for k in agg.keys]
            self.counted = compiler.compile(agg.counted) if agg.counted else None
            self.cap = compiler.compile(agg.cap) if agg.cap else None

    def severity(self, line: Line) -> m.Severity:
        if self.severity_if is not None and truth(self.severity_if[0](line)):
            return self.severity_if[1]
        return self.rule.severity

    def applies(self, line: Line) -> bool:
        """In the effective period, meets the condition, and no exception lifts the rule."""
        if line.day is None or not self.rule.period.contains(line.day):
            return False
        if self.condition is not None and not truth(self.condition(line)):
            return False
        return not any(truth(exc(line)) for exc in self.exceptions)


def _violation(
    compiled: _CompiledRule,
    line: Line,
    roles: Roles,
    figures: dict[str, Any],
    group_level: bool = False,
) -> Violation:
    """The record of a flagged line; a group-level record keeps only the provider."""
    row = line.row
    return make_violation(
        compiled.rule,
        line_id=row[roles.line] if roles.line else None,
        claim_id=row[roles.claim] if roles.claim else None,
        provider_id=row[roles.provider] if roles.provider else None,
        day=line.day,
        time=row[roles.time] if roles.time else None,
        stake=compiled.stake(line),
        severity=compiled.severity(line),
        placeholders={name: fn(line) for name, fn in compiled.placeholders.items()},
        lets=[fn(line) for _, fn in compiled.lets],
        figures=figures,
        table_rows=[(table, list(rows(line))) for table, rows in compiled.reported],
        group_level=group_level,
    )


def _same(violation: Violation) -> Violation:
    return violation


def _check_aggregate(
    compiled: _CompiledRule,
    lines: Iterable[Line],
    roles: Roles,
    history: bool = False,
    past: Mapping[tuple, tuple[GroupHistory, Line]] | None = None,
) -> list[Violation]:
    """Groups, counts and caps over all lines, history lines included (a rule that
    counts_history); only today's lines are flagged. `past` holds, for a rule the history
    store figures itself, each group's history with its first line (then `lines` are
    today's). With `history`, each record of such a rule tells how many of the counted
    lines came from the history."""
    agg = compiled.rule.aggregate
    assert agg is not None
    if not counts_history(compiled.rule):
        lines, history = [line for line in lines if not line.context], False
    groups: dict[tuple, list[Line]] = defaultdict(list)
    for line in lines:  # already in chronological order
        if compiled.applies(line):
            groups[tuple(k(line) for k in compiled.keys)].append(line)
    found = []
    for key, population in groups.items():
        counted = (
            population
            if compiled.counted is None
            else [line for line in population if truth(compiled.counted(line))]
        )
        first, total, before = population[0], len(population), ()
        if past is not None and key in past:
            group, line = past[key]
            total += group.total
            before = group.counted  # the counted history lines' chronological keys
            if line.order < first.order:
                first = line
        count = len(counted) + len(before)
        period = {"period": str(key[agg.period_key])} if agg.period_key is not None else {}
        from_history = sum(line.context for line in counted) + len(before)
        noted = functools.partial(note_history, from_history=from_history) if history else _same
        if compiled.cap is None:  # flag once per group
            if counted:
                figures = {"count": count, "total": total, **period}
                found.append(_violation(compiled, counted[0], roles, figures, group_level=True))
            continue
        cap = compiled.cap(first)
        if cap is None:
            continue
        allowed = math.floor(Decimal(cap) * total / 100) if agg.percent else math.floor(cap)
        excess = count - allowed
        if excess <= 0:
            continue
        # A line's rank: the counted lines before it, today's and the history's, plus one.
        # The first `allowed - len(before)` of today's are within the cap whatever the history.
        for position in range(max(allowed - len(before), 0), len(counted)):
            line = counted[position]
            rank = position + 1 + (bisect.bisect_left(before, line.order) if before else 0)
            if rank <= allowed or line.context:
                continue
            figures: dict[str, Any] = {
                "count": count,
                "total": total,
                "cap": cap,
                "allowed": allowed,
                "excess": excess,
                "rank": rank,
                **period,
            }
            found.append(noted(_violation(compiled, line, roles, figures)))
    return found


def _first_lines(
    rulebook: m.Rulebook,
    groups: Mapping[str, Mapping[tuple, GroupHistory]],
    references: Mapping[str, Batch],
) -> dict[str, dict[tuple, tuple[GroupHistory, Line]]]:
    """Each group's history with its first line, joined to its reference rows."""
    rows = [group.first for by_key in groups.values() for group in by_key.values()]
    firsts, _ = build_lines(
        rulebook,
        Batch(rulebook.input, "", tuple(rows), tuple(range(len(rows))), (), len(rows)),
        references,
        context=True,
    )
    line_of = {id(line.row): line for line in firsts}
    return {
        rule: {key: (group, line_of[id(group.first)]) for key, group in by_key.items()}
        for rule, by_key in groups.items()
    }


def check(
    rulebook: m.Rulebook,
    batch: Batch,
    references: Mapping[str, Batch] | None = None,
    only: Iterable[str] | None = None,
    coverage: dict[str, set[int]] | None = None,
    sink=None,
    context: Batch | None = None,
    reads: Mapping[str, Iterable[int]] | None = None,
    groups: Mapping[str, Mapping[tuple, GroupHistory]] | None = None,
) -> list[Violation]:
    """Every violation of the rulebook's rules (or of `only` those) on the batch, ordered.

    Rules run in rule-ID order (the output's order); `sink` receives each rule's violations.
    `context` holds history lines: aggregates count them, nothing flags them. `reads`, when
    the history store picked the lines rule by rule, gives for each rule the positions in
    `context.rows` of those it asked for; the others cannot share a group with today's lines
    of its population, so leaving them out changes nothing but the time. `groups` holds,
    for the rules the store figures itself, their groups' history (these rules then read
    no context line).
    """
    lines, roles = build_lines(rulebook, batch, references or {})
    today = lines
    past: list[Line] = []
    if context is not None:
        past, _ = build_lines(rulebook, context, references or {}, context=True)
        lines = sorted(today + past, key=lambda line: line.order)
    if context is not None and reads is not None:
        at = {id(line.row): line for line in past}
        context_rows = context.rows

        def lines_of(rule: m.Rule) -> list[Line]:
            picked = [at[id(context_rows[i])] for i in reads.get(rule.id, ())]
            return sorted(today + picked, key=lambda line: line.order)

    else:

        def lines_of(rule: m.Rule) -> list[Line]:
            return lines

    summaries = _first_lines(rulebook, groups or {}, references or {})
    compiler = Compiler(rulebook, coverage)
    wanted = set(only) if only is not None else None
    found: list[Violation] = []
    for rule in sorted(rulebook.rules, key=lambda r: r.id):
        if wanted is not None and rule.id not in wanted:
            continue
        compiled = _CompiledRule(rule, compiler)
        # Tables are checked on the lines the rule reads: history lines only for a rule that
        # counts them.
        read = lines if counts_history(rule) else today
        for rows in compiled.checked:
            for line in read:
                rows(line)
        if rule.id in summaries:
            violations = _check_aggregate(
                compiled, today, roles, history=True, past=summaries[rule.id]
            )
        elif rule.aggregate is not None:
            violations = _check_aggregate(
                compiled, lines_of(rule), roles, history=context is not None or bool(groups)
            )
        else:
            violations = [
                _violation(compiled, line, roles, {}) for line in today if compiled.applies(line)
            ]
        violations = ordered(violations)
        if sink is not None:
            sink(violations)
        found.extend(violations)
    return found
