"""The columnar engine: the rule model compiled to SQL (checker/sql.py) and run by DuckDB.

Lines are loaded once into a base relation (input columns, reference columns with their
defaults, the line's date, its chronological rank, one column per `claim has` condition);
each rule is then one query over it. Flagged lines come back with the values their record
needs and go through the same `make_violation` as the interpreter's, so both engines write
the same bytes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from claimlint.checker import calendar, sql, tables
from claimlint.checker.columnar_input import load_parquet
from claimlint.checker.progress import Progress
from claimlint.checker.readers import Batch, Rejection
from claimlint.checker.sql import CHRONO, DAY, ExprCompiler, TableCompiler, col, literal, truth
from claimlint.checker.violations import Violation, make_violation, ordered
from claimlint.dsl import model as m
from claimlint.dsl.schema import Role, Schema
from claimlint.dsl.types import Type

INPUT = "claimlint_input"
BASE = "claimlint_base"
HITS = "claimlint_hits"
DIALECT = "duckdb"

ARROW_TYPES = {
    Type.TEXT: pa.string(),
    Type.INTEGER: pa.int64(),
    Type.DECIMAL: pa.decimal128(18, 6),
    Type.MONEY: pa.decimal128(18, 2),
    Type.DATE: pa.date32(),
    Type.TIME: pa.time64("us"),
    Type.BOOLEAN: pa.bool_(),
}

CALENDAR_FUNCTIONS = {"is_public_holiday", "working_days_between", "is_out_of_hours"}


def arrow_table(schema: Schema, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    arrow_schema = pa.schema([(f.name, ARROW_TYPES[f.type]) for f in schema.fields])
    columns = {f.name: [] for f in schema.fields}
    for row in rows:
        for name, values in columns.items():
            values.append(row[name])
    return pa.table(columns, schema=arrow_schema)


def _run(con: duckdb.DuckDBPyConnection, query: exp.Expression) -> list[tuple]:
    return con.execute(query.sql(dialect=DIALECT)).fetchall()


class DuckDBEngine:
    """One check of one batch: load, build the base relation, run each rule's query."""

    def __init__(
        self,
        rulebook: m.Rulebook,
        con: duckdb.DuckDBPyConnection | None = None,
    ):
        self.rulebook = rulebook
        self.con = con or duckdb.connect()
        self.roles = {role: sql.role_column(rulebook.input, role) for role in Role}
        self.claim_flags = {c: f"_claim_{i}" for i, c in enumerate(sql.claim_conditions(rulebook))}
        self.exprs = ExprCompiler(rulebook, self.claim_flags)
        # Set by scan(): the hits-table column flagging each line rule and each U/A call.
        self._flag: dict[tuple, str] = {}

    # -- loading
    def load_batch(self, batch: Batch, references: Mapping[str, Batch]) -> None:
        """Rows already read and validated in Python (CSV, JSON Lines, examples)."""
        self.con.register(INPUT, arrow_table(self.rulebook.input, batch.rows))
        self._prepare(references)

    def load_parquet(
        self,
        paths: list[str],
        references: Mapping[str, Batch],
        mapping: Mapping[str, str] | None = None,
    ) -> tuple[int, list[Rejection]]:
        """Parquet files read and validated inside DuckDB; returns rows read and rejections."""
        read, rejected = load_parquet(self.con, paths, self.rulebook.input, INPUT, mapping)
        self._prepare(references)
        return read, rejected

    def _prepare(self, references: Mapping[str, Batch]) -> None:
        for ref in self.rulebook.references:
            ref_batch = references.get(ref.name)
            rows = ref_batch.rows if ref_batch is not None else ()
            self.con.register(_ref_table(ref.name), arrow_table(ref.schema, rows))
        if self._uses_calendar():
            self._load_calendar()
        self.con.execute(self._base().sql(dialect=DIALECT))

    def _calendar_calls(self) -> list[m.Call]:
        exprs = [e for r in self.rulebook.rules for e in r.expressions()]
        exprs += [d.expr for d in self.rulebook.defines.values()]
        return [
            n
            for e in exprs
            for n in m.walk(e)
            if isinstance(n, m.Call) and n.function in CALENDAR_FUNCTIONS
        ]

    def _uses_calendar(self) -> bool:
        return bool(self._calendar_calls())

    def _load_calendar(self) -> None:
        """The French public holidays over the years of the dates the calendar functions
        read; every date column's years when one of their arguments is computed."""
        args = [a for call in self._calendar_calls() for a in call.args if a.type is Type.DATE]
        if all(isinstance(a, m.FieldRef) and a.table is None for a in args):
            date_columns = sorted({a.name for a in args})
        else:
            date_columns = [f.name for f in self.rulebook.input.fields if f.type is Type.DATE]
        bounds = exp.select(
            *(exp.func("min", col(c)) for c in date_columns),
            *(exp.func("max", col(c)) for c in date_columns),
        ).from_(INPUT)
        found = [d for d in _run(self.con, bounds)[0] if d is not None]
        # Holidays of the years the dates span, a year either side for bridge days.
        first = max(min((d.year for d in found), default=dt.date.today().year) - 1, 1)
        last = min(max((d.year for d in found), default=dt.date.today().year) + 1, 9999)
        holidays = calendar.public_holidays(first, last)
        table = pa.table({"d": holidays}, schema=pa.schema([("d", pa.date32())]))
        self.con.register(sql.HOLIDAYS, table)

    def _base(self) -> exp.Expression:
        """CREATE TEMP TABLE base: lines joined to references, dated, ranked, claim flags."""
        schema = self.rulebook.input
        joined = exp.select(*(col(f.name, "i") for f in schema.fields)).from_(
            exp.alias_(exp.to_table(INPUT), "i", quoted=True)
        )
        for n, ref in enumerate(self.rulebook.references):
            alias = f"r{n}"
            for f in ref.schema.fields:
                value = (
                    exp.Coalesce(this=col(f.name, alias), expressions=[literal(f.default, f.type)])
                    if f.default is not None
                    else col(f.name, alias)
                )
                joined = joined.select(
                    exp.alias_(value, sql.ref_column(ref.name, f.name), quoted=True)
                )
            joined = joined.join(
                exp.alias_(exp.to_table(_ref_table(ref.name)), alias, quoted=True),
                on=exp.EQ(this=col(ref.join_field, "i"), expression=col(ref.key, alias)),
                join_type="left",
            )
        joined = joined.select(exp.alias_(self._day_expr(), DAY, quoted=True))
        outer = exp.select(exp.Star()).from_(exp.alias_(exp.to_table("j"), "j", quoted=True))
        if not self.roles[Role.LINE]:  # no line id: the input order tells lines apart
            outer = outer.select(exp.alias_(exp.Window(this=exp.RowNumber()), CHRONO, quoted=True))
        claim = self.roles[Role.CLAIM]
        if self.claim_flags:
            # One pass over the claims: every `claim has` condition aggregated per claim.
            flags = exp.select(col(claim)).from_("j").group_by(col(claim))
            for condition, name in self.claim_flags.items():
                flag = exp.func("bool_or", self.exprs.condition(condition.condition))
                flags = flags.select(exp.alias_(flag, name, quoted=True))
                outer = outer.select(col(name, "f"))
            outer = (
                outer.join(
                    exp.alias_(exp.to_table("f"), "f", quoted=True),
                    on=exp.EQ(this=col(claim, "j"), expression=col(claim, "f")),
                    join_type="left",
                )
                .with_("j", as_=joined)
                .with_("f", as_=flags)
            )
        else:
            outer = outer.with_("j", as_=joined)
        return exp.Create(
            this=exp.to_table(BASE),
            kind="TABLE",
            expression=outer,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )

    @property
    def key(self) -> str:
        """The column that tells lines apart: the line id, else the input position."""
        return self.roles[Role.LINE] or CHRONO

    def _chronological(self) -> list[exp.Ordered]:
        """Date, time with missing last, line (DESIGN.md's chronological order)."""
        order = [exp.Ordered(this=col(DAY), nulls_first=False)]
        if self.roles[Role.TIME]:
            order.append(exp.Ordered(this=col(self.roles[Role.TIME]), nulls_first=False))
        order.append(exp.Ordered(this=col(self.key), nulls_first=False))
        return order

    def _day_expr(self) -> exp.Expression:
        if self.roles[Role.DATE]:
            return col(self.roles[Role.DATE], "i")
        if self.roles[Role.YEAR]:
            year = col(self.roles[Role.YEAR], "i")
            made = exp.func("make_date", year, exp.Literal.number(1), exp.Literal.number(1))
            in_range = exp.and_(year >= exp.Literal.number(1), year <= exp.Literal.number(9999))
            return exp.Case().when(in_range, made).else_(exp.cast(exp.null(), "DATE"))
        return exp.cast(exp.null(), "DATE")

    # -- rules
    def _applies(self, rule: m.Rule) -> exp.Expression:
        tests = [exp.not_(exp.Is(this=col(DAY), expression=exp.null()))]
        if rule.period.start is not None:
            tests.append(col(DAY) >= literal(rule.period.start))
        if rule.period.end is not None:
            tests.append(col(DAY) <= literal(rule.period.end))
        if rule.condition is not None:
            tests.append(self.exprs.condition(rule.condition))
        tests += [exp.not_(self.exprs.condition(e.condition)) for e in rule.exceptions]
        return exp.and_(*tests)

    def _values(self, rule: m.Rule) -> list[exp.Expression]:
        """What a record needs from its line, in a fixed order (see _record)."""
        values: list[exp.Expression] = [
            col(self.roles[r]) if self.roles[r] else exp.null()
            for r in (Role.LINE, Role.CLAIM, Role.PROVIDER, Role.TIME)
        ]
        values += [col(DAY), self.exprs.compile(rule.stake)]
        values.append(
            self.exprs.condition(rule.severity_if[0]) if rule.severity_if else exp.false()
        )
        values += [self.exprs.compile(p.expr) for p in _placeholders(rule)]
        values += [self.exprs.compile(e) for _, e in rule.lets]
        values += [TableCompiler(self.exprs, c).rows() for c in rule.reported_calls()]
        return values

    def _record(
        self, rule: m.Rule, row: tuple, figures: dict[str, Any], group: bool = False
    ) -> Violation:
        line_id, claim_id, provider_id, time, day, stake, severe, *rest = row
        placeholders = _placeholders(rule)
        named = dict(zip((p.name for p in placeholders), rest, strict=False))
        rest = rest[len(placeholders) :]
        lets = list(rest[: len(rule.lets)])
        rows = rest[len(rule.lets) :]
        calls = rule.reported_calls()
        return make_violation(
            rule,
            line_id=line_id,
            claim_id=claim_id,
            provider_id=provider_id,
            day=day,
            time=time,
            stake=stake,
            severity=rule.severity_if[1] if rule.severity_if and severe else rule.severity,
            placeholders=named,
            lets=lets,
            figures=figures,
            table_rows=[(c.table, list(r)) for c, r in zip(calls, rows, strict=True)],
            group_level=group,
        )

    def _conflict_calls(self, rule: m.Rule) -> list[m.TableCall]:
        return [
            call
            for call in rule.table_calls()
            if self.rulebook.tables[call.table].hit.policy in (m.HitPolicy.UNIQUE, m.HitPolicy.ANY)
        ]

    def scan(self, rules: list[m.Rule]) -> None:
        """One pass over the lines for every line rule and every U/A table call: which
        rules each line breaks, and where a table breaks; only those lines are kept."""
        flags: list[exp.Expression] = []
        self._flag.clear()
        for i, rule in enumerate(rules):
            if rule.aggregate is None:
                self._flag[(rule.id,)] = f"_r{i}"
                flags.append(exp.alias_(self._applies(rule), f"_r{i}", quoted=True))
            for j, call in enumerate(self._conflict_calls(rule)):
                self._flag[(rule.id, j)] = f"_c{i}_{j}"
                conflict = TableCompiler(self.exprs, call).conflict()
                flags.append(exp.alias_(truth(conflict), f"_c{i}_{j}", quoted=True))
        if not flags:
            flags.append(exp.alias_(exp.false(), "_none", quoted=True))
        inner = exp.select(col(self.key), *flags).from_(BASE)
        names = [f.alias for f in flags]
        hits = (
            exp.select(exp.Star())
            .from_(exp.alias_(exp.Subquery(this=inner), "h", quoted=True))
            .where(exp.or_(*(col(n) for n in names)))
        )
        self.con.execute(
            exp.Create(
                this=exp.to_table(HITS),
                kind="TABLE",
                expression=hits,
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
                replace=True,
            ).sql(dialect=DIALECT)
        )

    def _hit(self, flag: str) -> exp.Expression:
        """Lines of the base the scan flagged: a semi-join on the small hits table."""
        flagged = exp.select(col(self.key)).from_(HITS).where(col(flag))
        return exp.In(this=col(self.key), query=exp.Subquery(this=flagged))

    def _check_conflicts(self, rule: m.Rule) -> None:
        """A broken U or A table is an error on the first line (chronologically) it breaks."""
        for j, call in enumerate(self._conflict_calls(rule)):
            compiled = TableCompiler(self.exprs, call)
            flag = self._flag.get((rule.id, j))
            where = self._hit(flag) if flag else compiled.conflict()
            query = exp.select(*compiled.args).from_(BASE).where(where)
            query = query.order_by(*self._chronological())
            found = _run(self.con, query.limit(1))
            if found:
                table = self.rulebook.tables[call.table]
                tables.evaluate(table, list(found[0]))  # raises the interpreter's own error

    def run_rule(self, rule: m.Rule) -> list[Violation]:
        self._check_conflicts(rule)
        if rule.aggregate is None:
            flag = self._flag.get((rule.id,))
            where = self._hit(flag) if flag else self._applies(rule)
            query = exp.select(*self._values(rule)).from_(BASE).where(where)
            return [self._record(rule, row, {}) for row in _run(self.con, query)]
        return self._run_aggregate(rule)

    def _run_aggregate(self, rule: m.Rule) -> list[Violation]:
        agg = rule.aggregate
        assert agg is not None
        keys = [f"_k{i}" for i in range(len(agg.keys))]
        counted = self.exprs.condition(agg.counted) if agg.counted else exp.true()
        cap = self.exprs.compile(agg.cap) if agg.cap else exp.null()
        pop = (
            exp.select(
                exp.Star(),
                *(
                    exp.alias_(self.exprs.compile(k), name, quoted=True)
                    for k, name in zip(agg.keys, keys, strict=True)
                ),
                exp.alias_(counted, "_counted", quoted=True),
                exp.alias_(cap, "_cap_line", quoted=True),
            )
            .from_(BASE)
            .where(self._applies(rule))
        )
        group = [col(k) for k in keys]

        def window(
            fn: exp.Expression, order: bool = False, extra: list | None = None, spec=None
        ) -> exp.Window:
            return exp.Window(
                this=fn,
                partition_by=[g.copy() for g in group] + (extra or []),
                order=exp.Order(expressions=self._chronological()) if order else None,
                spec=spec,
            )

        whole = exp.WindowSpec(
            kind="ROWS",
            start="UNBOUNDED",
            start_side="PRECEDING",
            end="UNBOUNDED",
            end_side="FOLLOWING",
        )

        counted_int = (
            exp.Case().when(col("_counted"), exp.Literal.number(1)).else_(exp.Literal.number(0))
        )
        ranked = exp.select(
            exp.Star(),
            exp.alias_(window(exp.Count(this=exp.Star())), "_total", quoted=True),
            exp.alias_(window(exp.Sum(this=counted_int)), "_count", quoted=True),
            exp.alias_(
                window(exp.RowNumber(), order=True, extra=[col("_counted")]), "_rank", quoted=True
            ),
            # The cap is read on the group's first line in chronological order.
            exp.alias_(
                window(exp.FirstValue(this=col("_cap_line")), order=True, spec=whole),
                "_cap",
                quoted=True,
            ),
        ).from_(exp.alias_(exp.Subquery(this=pop), "p", quoted=True))
        capped = ranked
        if agg.cap is None:
            flagged = exp.EQ(this=col("_rank"), expression=exp.Literal.number(1))
        else:
            limit = col("_cap")
            if agg.percent:
                limit = exp.Mul(
                    this=exp.Mul(this=col("_cap"), expression=col("_total")),
                    expression=literal(Decimal("0.01")),
                )
            flagged = exp.and_(
                exp.not_(exp.Is(this=col("_cap"), expression=exp.null())),
                exp.GT(this=col("_rank"), expression=exp.func("floor", limit)),
            )
        period = [col(keys[agg.period_key])] if agg.period_key is not None else []
        query = (
            exp.select(
                *self._values(rule),
                col("_count"),
                col("_total"),
                col("_cap"),
                col("_rank"),
                *period,
            )
            .from_(exp.alias_(exp.Subquery(this=capped), "c", quoted=True))
            .where(exp.and_(col("_counted"), flagged))
        )
        found = []
        for row in _run(self.con, query):
            head, tail = row[: -4 - len(period)], row[-4 - len(period) :]
            count, total, cap, rank = tail[:4]
            figures: dict[str, Any] = {"count": count, "total": total}
            if agg.cap is not None:
                allowed = math.floor(Decimal(cap) * total / 100) if agg.percent else math.floor(cap)
                figures.update(cap=cap, allowed=allowed, excess=count - allowed, rank=rank)
            if period:
                figures["period"] = str(tail[4])
            found.append(self._record(rule, head, figures, group=agg.cap is None))
        return found

    def run_all(self, only: Iterable[str] | None = None, sink=None) -> list[Violation]:
        """Every rule in rule-ID order; `sink` receives each rule's violations as they come."""
        wanted = set(only) if only is not None else None
        rules = sorted(
            (r for r in self.rulebook.rules if wanted is None or r.id in wanted),
            key=lambda r: r.id,
        )
        found: list[Violation] = []
        with Progress(self.con, len(rules) + 1) as progress:
            progress.step("lecture des lignes")
            self.scan(rules)
            for rule in rules:
                progress.step(rule.id)
                violations = ordered(self.run_rule(rule))
                if sink is not None:
                    sink(violations)
                found.extend(violations)
        return found


def _placeholders(rule: m.Rule) -> list[m.Placeholder]:
    return [p for p in rule.message.parts if isinstance(p, m.Placeholder) and p.expr is not None]


def _ref_table(name: str) -> str:
    return f"claimlint_ref_{name}"


def check(
    rulebook: m.Rulebook,
    batch: Batch,
    references: Mapping[str, Batch] | None = None,
    only: Iterable[str] | None = None,
) -> list[Violation]:
    """Every violation of the rulebook's rules (or of `only` those), as the interpreter's."""
    engine = DuckDBEngine(rulebook)
    engine.load_batch(batch, references or {})
    return engine.run_all(only)
