"""The columnar plan: the rule model as SQL statements, for any SQL engine sqlglot speaks.

Three relations are built once. LINES: the input lines with their reference columns (defaults
applied) and their date. CLAIMS: one row per claim with its `claim has` conditions as the
bits of a mask. FLAGGED: the few lines some line rule or U/A table call the analysis cannot prove
unbreakable flags, picked out by one scan that computes every flag (LINES joined with CLAIMS,
the flags as columns of the base). Each rule is then one query: a line rule reads its lines in
FLAGGED; an aggregate rule reads LINES (OWN_LINES, without the reference tables, when it
reads none of their columns; joined with CLAIMS only if it tests a claim), finds the groups
that may break their cap with a hash aggregate, then ranks only their lines with one
window. Flagged lines come back with the values their record needs and go through the
same `make_violation` as the interpreter's, so every engine writes the same bytes; the next
rule's query runs while Python builds this rule's records. In a streamed JSON Lines run the
DuckDB engine writes most records itself, the same bytes (checker/sql_json.py).

An engine subclass says how to run SQL (its dialect, how to make an Arrow table or typed rows
readable, how to materialise a query as a table or name it as a view, how to fetch rows); the
statements are the same for all.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from sqlglot import exp

from claimlint.checker import calendar, sql, sql_json, tables
from claimlint.checker.context import HistorySource, counts_history, note_history
from claimlint.checker.readers import Batch
from claimlint.checker.sql import (
    CALENDAR_FUNCTIONS,
    CHRONO,
    DAY,
    ExprCompiler,
    TableCompiler,
    alias,
    and_,
    col,
    literal,
    not_,
    or_,
    relation,
    short_circuit,
    truth,
)
from claimlint.checker.violations import (
    JsonLines,
    Rendered,
    Violation,
    make_violation,
    ordered,
)
from claimlint.dsl import analysis
from claimlint.dsl import model as m
from claimlint.dsl.schema import Role, Schema
from claimlint.dsl.types import Type

if TYPE_CHECKING:
    import pyarrow as pa

INPUT = "claimlint_input"
LINES = "claimlint_lines"  # input lines, reference columns, date
OWN_LINES = "claimlint_own_lines"  # LINES without the reference columns (a view)
CLAIMS = "claimlint_claims"  # each claim's `claim has` flags, as bits
# `claim has` conditions per mask column of CLAIMS (a BIGINT; its sign bit is left alone).
MASK_BITS = 63
FLAGGED = "claimlint_flagged"  # the base lines some line rule or table conflict flags
CONTEXT = "claimlint_context"  # history lines (checker/context.py)
IS_CONTEXT = "_context"


T = TypeVar("T")


def _mask_column(index: int) -> str:
    """The CLAIMS column holding the bit of the `index`th `claim has` condition."""
    return f"_claims_{index // MASK_BITS}"


def _claim_flag(index: int) -> exp.Expression:
    """The `index`th `claim has` flag of a line's claim (CLAIMS as "f"); missing where the
    line's claim is missing."""
    bit = exp.Literal.number(1 << (index % MASK_BITS))
    masked = exp.BitwiseAnd(this=col(_mask_column(index), "f"), expression=bit)
    return exp.NEQ(this=exp.Paren(this=masked), expression=exp.Literal.number(0))


def ref_table(name: str) -> str:
    return f"claimlint_ref_{name}"


@attrs.frozen
class Shape:
    """What a rule's result rows hold beyond the fixed head (see `_values`)."""

    placeholders: tuple[m.Placeholder, ...]
    calls: tuple[m.TableCall, ...]
    names: tuple[str, ...]  # the placeholders'
    lets_at: int  # where the lets' values start in a row, then the table calls' rows
    calls_at: int

    @classmethod
    def of(cls, rule: m.Rule) -> Shape:
        placeholders = tuple(
            p for p in rule.message.parts if isinstance(p, m.Placeholder) and p.expr is not None
        )
        lets_at = HEAD + len(placeholders)
        return cls(
            placeholders,
            tuple(rule.reported_calls()),
            tuple(p.name for p in placeholders),
            lets_at,
            lets_at + len(rule.lets),
        )


# A row's fixed head: line, claim, provider, time, day, stake, severe (see `_values`).
HEAD = len(sql_json.HEAD)


@attrs.frozen
class RuleQueries:
    """A rule's queries: each breakable table call's first broken line, then its rows."""

    conflicts: list[tuple[m.TableCall, exp.Expression]]
    rows: exp.Expression


@attrs.frozen
class Found:
    """What a rule's query brought back: its rows, or its records' JSON lines (`rendered`)."""

    rows: list[tuple]
    rendered: bool


class ColumnarEngine:
    """One check of one batch as SQL: build LINES, CLAIMS and FLAGGED, run each rule's query.

    Subclasses provide the dialect and the four hooks below; loading the input into the
    `INPUT` relation is theirs too, after which they call `_prepare`.
    """

    dialect: str = ""
    wide_products = False  # see sql.ExprCompiler
    background = False  # see _meanwhile

    def __init__(self, rulebook: m.Rulebook):
        self.rulebook = rulebook
        self.roles = {role: sql.role_column(rulebook.input, role) for role in Role}
        self.claim_flags = {c: f"_claim_{i}" for i, c in enumerate(sql.claim_conditions(rulebook))}
        self.exprs = ExprCompiler(rulebook, self.claim_flags, self.wide_products)
        self._breakable = {
            name for name, table in rulebook.tables.items() if analysis.may_conflict(table)
        }
        # Set by _prepare(): the base column flagging each line rule and each U/A call.
        self._flag: dict[tuple, str] = {}
        self._rules: list[m.Rule] = []
        # Each rule's queries (its tables' conflicts, its rows), built in the caller's thread
        # (_prepare, run_all): a compiled tree is shared with later uses through the
        # compiler's cache, so the rule threads only print and run their own.
        self._queries: dict[str, RuleQueries] = {}
        # Where context lines come from (check --history): aggregates count them with
        # today's lines; nothing flags them. Set before loading.
        self.history: HistorySource | None = None
        self._calendar_warm: threading.Thread | None = None
        self._json_lines: JsonLines | None = None  # set by run_all

    def _warm_calendar(self) -> None:
        """Start paying the holiday calendar's first use (its library and French names, 0.1
        s) in a thread, when the rules use it: an engine calls this before it loads the
        input, which leaves Python idle while the engine works."""
        if self._uses_calendar():
            self._calendar_warm = threading.Thread(target=calendar.warm, name="claimlint-calendar")
            self._calendar_warm.start()

    # -- hooks
    def _register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table (input rows read in Python, history lines) readable as `name`."""
        raise NotImplementedError

    def _register_rows(self, name: str, schema: Schema, rows: Sequence[Mapping[str, Any]]) -> None:
        """Make typed rows read in Python (a reference table) readable as `name`."""
        from claimlint.checker.arrow import arrow_table

        self._register(name, arrow_table(schema, rows))

    def _materialize(self, name: str, query: exp.Expression) -> None:
        """Create (or replace) the temporary table `name` holding the query's rows."""
        raise NotImplementedError

    def _view(self, name: str, query: exp.Expression) -> None:
        """Name a query whose rows each reader computes again (a table by default)."""
        self._materialize(name, query)

    def _fetch(self, query: exp.Expression) -> list[tuple]:
        raise NotImplementedError

    def _progress(self, steps: int) -> contextlib.AbstractContextManager:
        """An object with `step(label)`, shown while the rules run (silent by default)."""
        return _Silent()

    # -- the base relation
    def _prepare(self, references: Mapping[str, Batch], only: Iterable[str] | None = None) -> None:
        """References and calendar registered, then the base relation built for the rules
        of `only` (every rule when None)."""
        wanted = set(only) if only is not None else None
        self._rules = sorted(
            (r for r in self.rulebook.rules if wanted is None or r.id in wanted),
            key=lambda r: r.id,
        )
        self._queries = {}
        for ref in self.rulebook.references:
            ref_batch = references.get(ref.name)
            rows = ref_batch.rows if ref_batch is not None else ()
            self._register_rows(ref_table(ref.name), ref.schema, rows)
        if self.history is not None:
            self._load_context(self.history)
        if self._uses_calendar():
            self._load_calendar()
        # Without a line id, lines are told apart by their input position: numbered once.
        if self.roles[Role.LINE]:
            self._view(LINES, self._lines())
            if self.rulebook.references:  # for the aggregates that read no reference
                self._view(OWN_LINES, self._joined(references=False))
        else:
            self._materialize(LINES, self._lines())
        # Line rules and table conflicts read only the lines their flag marks: a few
        # thousand in a million. One scan computes every flag and keeps those lines; the
        # flags of the other lines are never stored.
        # The base is a subquery, not a view: the engine would parse and bind its thousands of
        # expressions once more (0.04 s for the convention rulebook).
        if self.claim_flags:
            base = self._meanwhile(CLAIMS, self._claims(), self._base)
        else:
            base = self._base()
        flags = sorted(set(self._flag.values()))
        if flags:
            picked = or_(*(col(f) for f in flags))
            flagged = (
                exp.select(exp.Star(), copy=False)
                .from_(alias(exp.Subquery(this=base), "b"), copy=False)
                .where(picked, copy=False)
            )
            self._queries = self._meanwhile(FLAGGED, flagged, self._rule_queries)
        else:
            self._queries = self._rule_queries()

    def _meanwhile(self, name: str, query: exp.Expression, python: Callable[[], T]) -> T:
        """Materialise `query` as `name` and return `python()`, which builds the next
        statements: at once, when the engine does not hold Python's lock as it works
        (`background`); the claims are grouped while the scan is built, the scan runs while
        the rules' queries are. The statement is printed first, in this thread: `python()`
        copies trees of the compiler's cache that the statement may hold."""
        if not self.background:
            self._materialize(name, query)
            return python()
        run = self._printed(name, query)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="claimlint-sql") as pool:
            running = pool.submit(run)
            built = python()
            running.result()
        return built

    def _printed(self, name: str, query: exp.Expression) -> Callable[[], None]:
        """`_materialize(name, query)`, its SQL printed now, to be run later (`_meanwhile`)."""
        raise NotImplementedError

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
        if self._calendar_warm is not None:
            self._calendar_warm.join()
        args = [a for call in self._calendar_calls() for a in call.args if a.type is Type.DATE]
        if all(isinstance(a, m.FieldRef) and a.table is None for a in args):
            date_columns = sorted({a.name for a in args})
        else:
            date_columns = [f.name for f in self.rulebook.input.fields if f.type is Type.DATE]
        bounds = exp.select(
            *(exp.func("min", col(c)) for c in date_columns),
            *(exp.func("max", col(c)) for c in date_columns),
            copy=False,
        ).from_(alias(self._input(), "i"), copy=False)
        found = [d for d in self._fetch(bounds)[0] if d is not None]
        # Holidays of the years the dates span, a year either side for bridge days.
        first = max(min((d.year for d in found), default=dt.date.today().year) - 1, 1)
        last = min(max((d.year for d in found), default=dt.date.today().year) + 1, 9999)
        self.exprs.set_holidays(tuple(calendar.public_holidays(first, last)))

    def _load_context(self, source: HistorySource) -> None:
        """The history lines of the groups and periods today's lines touch, as CONTEXT."""
        from claimlint.checker.arrow import arrow_table

        schema = self.rulebook.input
        fields = tuple(f for f in schema.fields if f.name in source.fields)
        probe = (
            exp.select(*(col(f.name) for f in fields), copy=False)
            .from_(relation(INPUT), copy=False)
            .distinct()
        )
        rows = [dict(zip(source.fields, row, strict=True)) for row in self._fetch(probe)]
        today = arrow_table(attrs.evolve(schema, fields=fields), rows)
        self._register(CONTEXT, source.fetch(today))

    def _input(self) -> exp.Expression:
        """Today's lines; with a history, followed by its context lines (IS_CONTEXT)."""
        if self.history is None:
            return relation(INPUT)
        names = self.rulebook.input.names

        def part(name: str, context: bool) -> exp.Select:
            flag = alias(exp.true() if context else exp.false(), IS_CONTEXT)
            return exp.select(*(col(n) for n in names), flag, copy=False).from_(
                relation(name), copy=False
            )

        return exp.Subquery(this=exp.union(part(INPUT, False), part(CONTEXT, True), distinct=False))

    def _joined(self, references: bool = True) -> exp.Select:
        """Input lines with their reference columns (defaults applied) and their date."""
        schema = self.rulebook.input
        joined = exp.select(*(col(f.name, "i") for f in schema.fields), copy=False).from_(
            alias(self._input(), "i"), copy=False
        )
        if self.history is not None:
            joined = joined.select(col(IS_CONTEXT, "i"), copy=False)
        for n, ref in enumerate(self.rulebook.references if references else ()):
            name = f"r{n}"
            for f in ref.schema.fields:
                value = (
                    exp.Coalesce(this=col(f.name, name), expressions=[literal(f.default, f.type)])
                    if f.default is not None
                    else col(f.name, name)
                )
                joined = joined.select(alias(value, sql.ref_column(ref.name, f.name)), copy=False)
            joined = joined.join(
                alias(relation(ref_table(ref.name)), name),
                on=exp.EQ(this=col(ref.join_field, "i"), expression=col(ref.key, name)),
                join_type="left",
                copy=False,
            )
        return joined.select(alias(sql.day_expr(self.rulebook.input, "i"), DAY), copy=False)

    def _lines(self) -> exp.Expression:
        """LINES: the joined lines, numbered in input order when there is no line id."""
        joined = self._joined()
        if not self.roles[Role.LINE]:
            joined = joined.select(alias(exp.Window(this=exp.RowNumber()), CHRONO), copy=False)
        return joined

    def _claims(self) -> exp.Expression:
        """CLAIMS: every `claim has` condition aggregated per claim, in one pass, as a bit of
        a mask (`_claim_flag` reads it). A claim is today's or the history's: the two never
        share a `claim has`."""
        claim = self.roles[Role.CLAIM]
        # Reference tables are joined there only if a condition reads them.
        read = any(
            isinstance(node, m.FieldRef) and node.table is not None
            for condition in self.claim_flags
            for node in m.walk(condition)
        )
        sides = [col(IS_CONTEXT)] if self.history is not None else []
        flags = (
            exp.select(col(claim), *(c.copy() for c in sides), copy=False)
            .from_(alias(exp.Subquery(this=self._joined(references=read)), "j"), copy=False)
            .group_by(col(claim), *sides, copy=False)
        )
        # One BIT_OR of the conditions' bits, not one BOOL_OR each: the hash aggregate
        # updates one state a line, not one per condition (the convention rulebook's nine:
        # 0.42 CPU-s against 0.63 at 1M lines).
        conditions = list(self.claim_flags)
        for start in range(0, len(conditions), MASK_BITS):
            bits = [
                exp.Case()
                .when(self.exprs.condition(c.condition), exp.Literal.number(1 << k), copy=False)
                .else_(exp.Literal.number(0), copy=False)
                for k, c in enumerate(conditions[start : start + MASK_BITS])
            ]
            mask = bits[0]
            for bit in bits[1:]:
                mask = exp.BitwiseOr(this=mask, expression=bit)
            flags = flags.select(
                alias(exp.func("bit_or", mask, copy=False), _mask_column(start)), copy=False
            )
        return flags

    def _lines_reading(self, names: set[str]) -> str:
        """LINES, or OWN_LINES when the columns `names` include no reference column: LINES
        joins the reference tables on every line, a LEFT JOIN the engine cannot drop as it
        does not know their keys unique."""
        if not (self.roles[Role.LINE] and self.rulebook.references):
            return LINES
        refs = {
            sql.ref_column(ref.name, f.name)
            for ref in self.rulebook.references
            for f in ref.schema.fields
        }
        return LINES if names & refs else OWN_LINES

    def _with_claims(self, names: Iterable[str], source: str = LINES) -> exp.Select:
        """`source` (LINES by default), with the claim flags among `names` read on each
        line's claim (`source` alone when there are none)."""
        # "l".*, not *: the join key would come twice (Spark refuses that).
        every = exp.Column(this=exp.Star(), table=exp.to_identifier("l", quoted=True))
        lines = exp.select(every, copy=False).from_(alias(relation(source), "l"), copy=False)
        read = [
            alias(_claim_flag(i), name)
            for i, name in enumerate(self.claim_flags.values())
            if name in names
        ]
        if not read:
            return lines
        claim = self.roles[Role.CLAIM]
        keys = [claim] + ([IS_CONTEXT] if self.history is not None else [])
        same = and_(*(exp.EQ(this=col(k, "l"), expression=col(k, "f")) for k in keys))
        return lines.select(*read, copy=False).join(
            alias(relation(CLAIMS), "f"), on=same, join_type="left", copy=False
        )

    def _base(self) -> exp.Expression:
        """The base: the lines with their claim flags and the scan's flag columns."""
        lines = self._with_claims(self.claim_flags.values())
        return exp.select(exp.Star(), *self._scan_flags(), copy=False).from_(
            alias(exp.Subquery(this=lines), "j"), copy=False
        )

    def _scan_flags(self) -> list[exp.Expression]:
        """One boolean column per line rule (it applies) and per U/A table call (the table
        is broken there). Conjunctions become CASEs so each test runs only on the lines the
        earlier ones kept: most lines fail a rule's first, cheap test on the act code."""
        flags: list[exp.Expression] = []
        self._flag.clear()
        conflicts: dict[m.TableCall, str] = {}  # a call several rules make is tested once
        for i, rule in enumerate(self._rules):
            if rule.aggregate is None:
                self._flag[(rule.id,)] = f"_r{i}"
                applies = sql.applies(self.exprs, self.rulebook.input, rule)
                if self.history is not None:  # line rules never see the history
                    applies = and_(not_(col(IS_CONTEXT)), applies)
                flags.append(alias(short_circuit(applies), f"_r{i}"))
            for j, call in enumerate(self._conflict_calls(rule)):
                if call not in conflicts:
                    conflicts[call] = f"_c{i}_{j}"
                    conflict = truth(TableCompiler(self.exprs, call).conflict())
                    flags.append(alias(short_circuit(conflict), conflicts[call]))
                self._flag[(rule.id, j)] = conflicts[call]
        return flags

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

    # -- rules
    def _values(self, rule: m.Rule, shape: Shape) -> list[exp.Expression]:
        """What a record needs from its line, in a fixed order (see _record)."""
        values: list[exp.Expression] = [
            col(self.roles[r]) if self.roles[r] else exp.null()
            for r in (Role.LINE, Role.CLAIM, Role.PROVIDER, Role.TIME)
        ]
        values += [col(DAY), self.exprs.compile(rule.stake)]
        values.append(
            self.exprs.condition(rule.severity_if[0]) if rule.severity_if else exp.false()
        )
        values += [self.exprs.compile(p.expr) for p in shape.placeholders]
        values += [self.exprs.compile(e) for _, e in rule.lets]
        values += [TableCompiler(self.exprs, c).rows() for c in shape.calls]
        # Named, so that a table of them can be read by position (checker/sql_json.py).
        return [alias(v, f"_v{i}") for i, v in enumerate(values)]

    def _record(
        self,
        rule: m.Rule,
        shape: Shape,
        row: tuple,
        figures: dict[str, Any],
        group: bool = False,
    ) -> Violation:
        line_id, claim_id, provider_id, time, day, stake, severe = row[:HEAD]
        return make_violation(
            rule,
            line_id=line_id,
            claim_id=claim_id,
            provider_id=provider_id,
            day=day,
            time=time,
            stake=stake,
            severity=rule.severity_if[1] if rule.severity_if and severe else rule.severity,
            placeholders=dict(zip(shape.names, row[HEAD : shape.lets_at], strict=True)),
            lets=list(row[shape.lets_at : shape.calls_at]),
            figures=figures,
            table_rows=[
                (c.table, list(r)) for c, r in zip(shape.calls, row[shape.calls_at :], strict=True)
            ],
            group_level=group,
        )

    def _conflict_calls(self, rule: m.Rule) -> list[m.TableCall]:
        """The rule's calls of U and A tables that some input could break: a table the
        analysis proves unbreakable needs no test per line."""
        return [call for call in rule.table_calls() if call.table in self._breakable]

    def _conflict_queries(self, rule: m.Rule) -> list[tuple[m.TableCall, exp.Expression]]:
        """For each call of a breakable table, the first line (chronologically) it breaks."""
        queries = []
        for j, call in enumerate(self._conflict_calls(rule)):
            compiled = TableCompiler(self.exprs, call)
            where = col(self._flag[(rule.id, j)])
            if self.history is not None and not counts_history(rule):
                where = and_(where, not_(col(IS_CONTEXT)))  # the lines the rule reads
            query = (
                exp.select(*compiled.args, copy=False)
                .from_(relation(FLAGGED), copy=False)
                .where(where, copy=False)
            )
            query = query.order_by(*self._chronological(), copy=False)
            queries.append((call, query.limit(1, copy=False)))
        return queries

    def _query(self, rule: m.Rule) -> exp.Expression:
        """The rule's query: a line rule's flagged lines, an aggregate's lines beyond their
        group's cap; with the values of their records."""
        shape = Shape.of(rule)
        if rule.aggregate is not None:
            return self._aggregate_query(rule, shape)
        return (
            exp.select(*self._values(rule, shape), copy=False)
            .from_(relation(FLAGGED), copy=False)
            .where(col(self._flag[(rule.id,)]), copy=False)
        )

    def _rule_queries(self) -> dict[str, RuleQueries]:
        """The queries of the rules that have none built (see `_queries`)."""
        return {
            rule.id: RuleQueries(self._conflict_queries(rule), self._query(rule))
            for rule in self._rules
            if rule.id not in self._queries
        }

    def _rows(self, rule: m.Rule) -> Found:
        """The engine's part of a rule, from its queries: its flagged rows; a broken U or A
        table is an error on the first line it breaks, the interpreter's own."""
        queries = self._queries.pop(rule.id)
        for call, query in queries.conflicts:
            found = self._fetch(query)
            if found:
                table = self.rulebook.tables[call.table]
                tables.evaluate(table, list(found[0]))  # raises the interpreter's own error
        return self._found(rule, Shape.of(rule), queries.rows)

    def _found(self, rule: m.Rule, shape: Shape, query: exp.Expression) -> Found:
        """The rows of the rule's query; an engine that writes records itself
        (`_json_lines`) may return their lines instead."""
        return Found(self._fetch(query), rendered=False)

    def _records(self, rule: m.Rule, found: Found) -> list[Violation | Rendered]:
        """Python's part: the rows as violation records, in their order."""
        if found.rendered:  # (severe, stake, line), already in order
            severe_as = rule.severity_if[1] if rule.severity_if else rule.severity
            return [
                Rendered(
                    rule.id,
                    severe_as if severe else rule.severity,
                    Decimal(stake),
                    sql_json.as_python(line),
                )
                for severe, stake, line in found.rows
            ]
        shape = Shape.of(rule)
        if rule.aggregate is None:
            return ordered([self._record(rule, shape, row, {}) for row in found.rows])
        return ordered(self._aggregate_records(rule, shape, found.rows))

    def _counts_history(self, rule: m.Rule) -> bool:
        return self.history is not None and counts_history(rule)

    def _aggregate_query(self, rule: m.Rule, shape: Shape) -> exp.Expression:
        agg = rule.aggregate
        assert agg is not None
        keys = [f"_k{i}" for i in range(len(agg.keys))]
        history = self._counts_history(rule)
        values = self._values(rule, shape)
        # The lines, with the claim flags the rule reads (most aggregates read none).
        read = {c.name for v in values for c in v.find_all(exp.Column)}

        def population() -> exp.Select:
            counted = self.exprs.condition(agg.counted) if agg.counted else exp.true()
            cap = self.exprs.compile(agg.cap) if agg.cap else exp.null()
            pop = exp.select(
                exp.Star(),
                *(
                    alias(self.exprs.compile(k), name)
                    for k, name in zip(agg.keys, keys, strict=True)
                ),
                alias(counted, "_counted"),
                alias(cap, "_cap_line"),
                copy=False,
            ).where(sql.applies(self.exprs, self.rulebook.input, rule), copy=False)
            if self.history is not None and not history:  # a rule of today's lines only
                pop = pop.where(not_(col(IS_CONTEXT)), copy=False)
            names = read | {c.name for c in pop.find_all(exp.Column)}
            lines = self._with_claims(names, self._lines_reading(names))
            source = exp.Subquery(this=lines)
            return pop.from_(alias(source, "b"), copy=False)

        def ones(test: exp.Expression) -> exp.Expression:
            return (
                exp.Case()
                .when(test, exp.Literal.number(1), copy=False)
                .else_(exp.Literal.number(0), copy=False)
            )

        def limit(cap: exp.Expression, total: exp.Expression) -> exp.Expression:
            """What the group may hold: the cap, or that percentage of the total."""
            if agg.percent:
                cap = exp.Mul(
                    this=exp.Mul(this=cap, expression=total),
                    expression=literal(Decimal("0.01")),
                )
            return exp.func("floor", cap)

        # Most groups hold no violation. A hash aggregate (no sort) finds the groups that
        # may: with a cap, more counted lines than the group's lowest cap allows (the first
        # line's cap decides, and it is never lower; no cap at all, no violation); without
        # one, a counted line. Only their lines are ranked in chronological order below.
        group = [col(k) for k in keys]
        sums = (
            exp.select(*(g.copy() for g in group), copy=False)
            .from_(alias(exp.Subquery(this=population()), "p"), copy=False)
            .group_by(*(g.copy() for g in group), copy=False)
        )
        count = exp.Sum(this=ones(col("_counted")))
        if agg.cap is None:
            open_ = exp.GTE(this=count, expression=exp.Literal.number(1))
        else:
            lowest = limit(exp.Min(this=col("_cap_line")), exp.Count(this=exp.Star()))
            open_ = exp.GT(this=count, expression=lowest)
        candidates = sums.having(open_, copy=False)
        same_group = and_(*(exp.NullSafeEQ(this=col(k, "p"), expression=col(k, "g")) for k in keys))
        pop = (
            exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("p", quoted=True)))
            .from_(alias(exp.Subquery(this=population()), "p"), copy=False)
            .join(
                alias(exp.Subquery(this=candidates), "g"),
                on=same_group,
                join_type="inner",
                copy=False,
            )
        )

        # Every figure from one window (partition and chronological order), so the lines
        # are sorted once: totals over the whole partition, the rank as a running count.
        def window(fn: exp.Expression, spec: exp.WindowSpec) -> exp.Window:
            return exp.Window(
                this=fn,
                partition_by=[g.copy() for g in group],
                order=exp.Order(expressions=self._chronological()),
                spec=spec,
            )

        def frame(end: str, end_side: str | None) -> exp.WindowSpec:
            return exp.WindowSpec(
                kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end=end, end_side=end_side
            )

        whole, so_far = frame("UNBOUNDED", "FOLLOWING"), frame("CURRENT ROW", None)

        ranked = exp.select(
            exp.Star(),
            alias(window(exp.Count(this=exp.Star()), whole.copy()), "_total"),
            alias(window(exp.Sum(this=ones(col("_counted"))), whole.copy()), "_count"),
            # A counted line's rank: the counted lines up to it.
            alias(window(exp.Sum(this=ones(col("_counted"))), so_far), "_rank"),
            # The cap is read on the group's first line in chronological order.
            alias(window(exp.FirstValue(this=col("_cap_line")), whole.copy()), "_cap"),
            copy=False,
        ).from_(alias(exp.Subquery(this=pop), "p"), copy=False)
        past: list[exp.Expression] = []
        if history:  # counted lines of the group that came from the history
            from_history = ones(and_(col("_counted"), col(IS_CONTEXT)))
            ranked = ranked.select(
                alias(window(exp.Sum(this=from_history), whole.copy()), "_history"), copy=False
            )
            past = [col("_history")]
        if agg.cap is None:
            flagged = exp.EQ(this=col("_rank"), expression=exp.Literal.number(1))
        else:
            flagged = and_(
                not_(exp.Is(this=col("_cap"), expression=exp.null())),
                exp.GT(this=col("_rank"), expression=limit(col("_cap"), col("_total"))),
            )
        if history:  # only today's lines are flagged
            flagged = and_(not_(col(IS_CONTEXT)), flagged)
        period = [col(keys[agg.period_key])] if agg.period_key is not None else []
        return (
            exp.select(
                *values,
                col("_count"),
                col("_total"),
                col("_cap"),
                col("_rank"),
                *period,
                *past,
                copy=False,
            )
            .from_(alias(exp.Subquery(this=ranked), "c"), copy=False)
            .where(and_(col("_counted"), flagged), copy=False)
        )

    def _aggregate_records(self, rule: m.Rule, shape: Shape, rows: list[tuple]) -> list[Violation]:
        """Each row: the record's values, then count, total, cap, rank, [period], [history]."""
        agg = rule.aggregate
        assert agg is not None
        history = self._counts_history(rule)
        period = agg.period_key is not None
        found = []
        extra = 4 + period + history
        for row in rows:
            head, tail = row[:-extra], row[-extra:]
            count, total, cap, rank = tail[:4]
            figures: dict[str, Any] = {"count": count, "total": total}
            if agg.cap is not None:
                allowed = math.floor(Decimal(cap) * total / 100) if agg.percent else math.floor(cap)
                figures.update(cap=cap, allowed=allowed, excess=count - allowed, rank=rank)
            if period:
                figures["period"] = str(tail[4])
            record = self._record(rule, shape, head, figures, group=agg.cap is None)
            found.append(note_history(record, int(tail[-1])) if history else record)
        return found

    def _interrupt(self) -> None:
        """Stop the SQL under way (the user pressed Ctrl-C or a rule failed)."""

    def _workers(self) -> int:
        """How many rules' queries may run at once, each in a thread of its own."""
        return 1

    def _worker_started(self) -> None:
        """Run in each rule thread before its first query."""

    def _rows_ahead(self, pool: ThreadPoolExecutor, workers: int) -> Iterator[Found]:
        """Each rule's rows, in order. The pool's threads run the next rules' SQL while the
        caller builds and writes the records of this one (the engines do not hold Python's
        lock while they work); `workers` rules ahead at most, so rows do not pile up in
        memory."""
        running: collections.deque[Future[Found]] = collections.deque()
        for rule in self._rules:
            running.append(pool.submit(self._rows, rule))
            if len(running) > workers:
                yield running.popleft().result()
        while running:
            yield running.popleft().result()

    def run_all(self, sink=None, json_lines: JsonLines | None = None) -> list[Violation | Rendered]:
        """The rules `_prepare` was given, in rule-ID order; `sink` receives each rule's
        violations as they come. With `json_lines`, the records the engine can write itself
        come as `Rendered` (checker/sql_json.py)."""
        self._json_lines = json_lines
        self._queries.update(self._rule_queries())  # those a run before has used
        found: list[Violation | Rendered] = []
        workers = self._workers()
        pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="claimlint-sql",
            initializer=self._worker_started,
        )
        try:
            with self._progress(len(self._rules)) as progress:
                ahead = self._rows_ahead(pool, workers)
                for rule, rows in zip(self._rules, ahead, strict=True):
                    progress.step(rule.id)
                    violations = self._records(rule, rows)
                    if sink is not None:
                        sink(violations)
                    found.extend(violations)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            self._interrupt()
            raise
        finally:
            pool.shutdown()
        return found


class _Silent:
    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def step(self, label: str) -> None:
        pass
