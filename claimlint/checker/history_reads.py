"""What a check reads from the history store (checker/history.py): the history lines and
group figures of the groups and periods today's lines touch, for the interpreter
(`history_lines`) and for the columnar engine (`source`).

One scan of the store keeps the candidates, the stored lines that may share a group with
today's lines for some rule counting history. A rule whose population, count and keys read
only the line is then figured in SQL, group by group (`context.GroupHistory`); the other
rules read their picked candidates as lines. Every statement is a sqlglot expression;
today's values travel as typed literals or as a table of them, never as SQL text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import duckdb
from sqlglot import exp

from claimlint.checker.context import GroupHistory, HistorySource, counts_history
from claimlint.checker.history import (
    DEFAULT_LOCK_TIMEOUT,
    DIALECT,
    LINES,
    Store,
    open_store,
    run_sql,
)
from claimlint.checker.readers import Batch
from claimlint.checker.sql import (
    CALENDAR_FUNCTIONS,
    COMPARISONS,
    DAY,
    ExprCompiler,
    alias,
    applies,
    col,
    create_as,
    day_expr,
    literal,
    relation,
    sql_type,
)
from claimlint.dsl import model as m
from claimlint.dsl.schema import Role, Schema
from claimlint.dsl.types import Type

if TYPE_CHECKING:  # Arrow serves the columnar engine; a small check never needs it
    import pyarrow as pa

TODAY = "claimlint_today"
ROWID = exp.column("rowid")  # DuckDB's row number of a stored line
PERIODS = {"iso_week", "month", "year"}


def _plain(expr: m.Expr) -> str | None:
    return expr.name if isinstance(expr, m.FieldRef) and expr.table is None else None


def _period_field(rule: m.Rule) -> tuple[str, str] | None:
    """(function, date column) of the rule's period key when it is iso_week/month/year of an
    input date; None when the rule has no period or a computed one (no date bound then)."""
    agg = rule.aggregate
    assert agg is not None
    if agg.period_key is None:
        return None
    key = agg.keys[agg.period_key]
    if isinstance(key, m.Call) and key.function in PERIODS and len(key.args) == 1:
        name = _plain(key.args[0])
        if name is not None:
            return key.function, name
    return None


def probe_fields(rulebook: m.Rulebook) -> list[str]:
    """The input columns of today's lines the history fetch reads: line id, keys, dates."""
    schema = rulebook.input
    wanted = {schema.by_role(Role.LINE).name} if schema.by_role(Role.LINE) else set()
    for rule in filter(counts_history, rulebook.rules):
        wanted |= {n for k in rule.aggregate.keys if (n := _plain(k)) is not None}
        period = _period_field(rule)
        if period is not None:
            wanted.add(period[1])
    return [f.name for f in schema.fields if f.name in wanted]


def _window(function: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last days of the ISO week, month or year holding `day`."""
    if function == "iso_week":
        monday = day - dt.timedelta(days=day.weekday())
        return monday, monday + dt.timedelta(days=6)
    if function == "month":
        following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return day.replace(day=1), following - dt.timedelta(days=1)
    return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)


def _merged(windows: set[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    merged: list[tuple[dt.date, dt.date]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1] + dt.timedelta(days=1):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _population_tests(rule: m.Rule, schema: Schema) -> list[exp.Expression]:
    """Tests every line of the rule's population passes, read from the rule: its effective
    period, and the conjuncts of its condition comparing an input column with constants.
    The rest of the condition is the engines' to decide; these only narrow the fetch."""
    tests: list[exp.Expression] = []
    date = schema.by_role(Role.DATE)
    if date is not None and rule.period.start is not None:
        tests.append(exp.GTE(this=col(date.name), expression=literal(rule.period.start)))
    if date is not None and rule.period.end is not None:
        tests.append(exp.LTE(this=col(date.name), expression=literal(rule.period.end)))
    condition = rule.condition
    items = (
        condition.items
        if isinstance(condition, m.Logic) and condition.op == "and"
        else (condition,)
        if condition is not None
        else ()
    )
    for item in items:
        if isinstance(item, m.Compare) and isinstance(item.right, m.Const):
            name = _plain(item.left)
            ordered = item.op in ("=", "!=") or item.left.type is not Type.TEXT
            if name is not None and item.right.value is not None and ordered:
                value = literal(item.right.value, item.left.type)
                tests.append(COMPARISONS[item.op](this=col(name), expression=value))
        elif isinstance(item, m.InSet) and item.values:
            name = _plain(item.operand)
            if name is not None:
                values = sorted(item.values, key=str)
                member = col(name).isin(*(literal(v, item.operand.type) for v in values))
                if item.negated:  # a missing value is outside every set
                    member = exp.or_(
                        exp.Is(this=col(name), expression=exp.null()), exp.not_(member)
                    )
                elif _orderable(values):
                    # Implied by the membership, but DuckDB tests a range while it scans (an
                    # IN list only prunes blocks): the other columns are read for few rows.
                    low, high = (literal(v, item.operand.type) for v in (min(values), max(values)))
                    tests.append(exp.Between(this=col(name), low=low, high=high))
                tests.append(member)
    return tests


def _orderable(values: list[Any]) -> bool:
    """Values of one type that Python and DuckDB order alike (text: by code point, which is
    DuckDB's byte order of UTF-8), so that their range holds every one of them."""
    kinds = {type(v) for v in values}
    return len(kinds) == 1 and kinds.pop() in (str, int, Decimal, dt.date)


def _needs_claims(rules: list[m.Rule]) -> bool:
    return any(
        isinstance(node, m.ClaimAny) for r in rules for e in r.expressions() for node in m.walk(e)
    )


PICKED, CLAIMS = "claimlint_picked", "claimlint_claims"
RULE = "_rule"
# Today's values of a column go into the SQL as literals, up to this many. Measured on a
# 10M-line store: the providers of a 200-line batch as a literal list, 0.04 s; as a subquery
# of today's table, which DuckDB plans as a join after reading the period, 0.2-0.4 s. A
# larger batch (the columnar engine's) gets the subquery.
LITERALS = 1000
# Today's distinct values of each probe column (see probe_fields), None left out.
Values = Mapping[str, Sequence[Any]]


def _values(fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    found: dict[str, set[Any]] = {name: set() for name in fields}
    for row in rows:
        for name, seen in found.items():
            seen.add(row[name])
    return {name: [v for v in seen if v is not None] for name, seen in found.items()}


def _member(store: Store, name: str, values: Values) -> exp.Expression:
    """The column holds one of today's values of it."""
    today = values[name]
    if not today:
        return exp.false()
    if len(today) <= LITERALS:
        type_ = store.schema.field(name).type
        return exp.In(this=col(name), expressions=[literal(v, type_) for v in sorted(today)])
    seen = exp.select(col(name)).from_(relation(TODAY)).distinct()
    return exp.In(this=col(name), query=exp.Subquery(this=seen))


def _windows(rule: m.Rule, values: Values) -> tuple[str, list[tuple[dt.date, dt.date]]] | None:
    """(date column, the ISO weeks, months or years today's dates touch) of a rule whose
    period key is iso_week/month/year of an input date; None for any other rule."""
    period = _period_field(rule)
    if period is None:
        return None
    function, date = period
    return date, _merged({_window(function, d) for d in values[date]})


def _within(date: str, windows: Sequence[tuple[dt.date, dt.date]]) -> exp.Expression:
    return exp.or_(
        *(exp.Between(this=col(date), low=literal(a), high=literal(b)) for a, b in windows)
    )


def _rule_filter(store: Store, rule: m.Rule, values: Values) -> exp.Expression | None:
    """The lines that can be in the rule's population and share a group with today's lines:
    its period and the simple tests of its condition, its plain key columns (provider,
    patient…) holding values today's lines hold, dated within the windows today's dates
    touch (any date for a rule without a period). None: no line can."""
    parts = _population_tests(rule, store.schema)
    for key in rule.aggregate.keys:
        name = _plain(key)
        if name is not None and store.schema.field(name) is not None:
            parts.append(_member(store, name, values))
    span = _windows(rule, values)
    if span is not None:
        date, windows = span
        if not windows:
            return None
        parts.append(_within(date, windows))
    return exp.and_(*parts, copy=False) if parts else exp.true()


CANDIDATES = "claimlint_candidates"


def _candidates(
    store: Store,
    rules: Sequence[m.Rule],
    values: Values,
    columns: Sequence[str],
    on_scan: Callable[[], None] | None = None,
) -> list[m.Rule]:
    """The temporary table CANDIDATES: row id (_id) and `columns` of the stored lines, not
    of today's batch, that may share a group with today's lines for some rule, in one scan
    of the store; returns the rules that may find any.

    Most of a scan's cost is the columns it reads over the dates it spans (a yearly cap's:
    a third of a three-year store), whatever the rule: the rules share one. It keeps the
    lines within the rules' windows whose first plain key column (provider, patient…)
    holds one of today's values: a membership test DuckDB makes with a join over every
    line of the period, so each column is tested once, for every rule keyed on it. Every
    line of a group today's lines touch is a candidate; each rule then reads candidates.
    `on_scan` is called as the scan starts (DuckDB then works without Python's lock)."""
    spans = {r.id: _windows(r, values) for r in rules}
    found = [r for r in rules if spans[r.id] is None or spans[r.id][1]]
    keyed: dict[str, exp.Expression] = {}
    unkeyed = False
    for rule in found:
        plain = [n for k in rule.aggregate.keys if (n := _plain(k)) is not None]
        if plain:
            if plain[0] not in keyed:
                keyed[plain[0]] = _member(store, plain[0], values)
        else:
            unkeyed = True
    if not found:
        where: exp.Expression = exp.false()
    else:
        where = exp.true() if unkeyed else exp.or_(*keyed.values(), copy=False)
    kept = [spans[r.id] for r in found]
    if kept and None not in kept and len({date for date, _ in kept}) == 1:
        windows = _merged({w for _, span in kept for w in span})
        where = exp.and_(_within(kept[0][0], windows), where, copy=False)
    query = exp.select(
        exp.alias_(ROWID, "_id", quoted=True),
        *(store.column(store.schema.field(name)) for name in columns),
        copy=False,
    ).from_(relation(LINES), copy=False)
    statement = create_as(CANDIDATES, query.where(where, copy=False)).sql(DIALECT)
    if on_scan is not None:
        on_scan()
    store.con.execute(statement)
    _drop_today(store, values)
    return found


def _drop_today(store: Store, values: Values) -> None:
    """Today's lines leave CANDIDATES: today's copy of a line counts, not the stored one.
    (Tested once the candidates are few: in the scan, the test would cost a join over every
    line of the period.)"""
    today = _member(store, store.line, values)
    store.con.execute(exp.delete(relation(CANDIDATES), where=today).sql(DIALECT))


def summarised(rule: m.Rule) -> bool:
    """Whether the store figures the rule's groups itself (context.GroupHistory): a rule
    counting history whose population, count and keys read only the line's own columns,
    constants and parameters. Reference columns, `claim has`, decision tables (checked on
    every line a rule reads) and calendar functions leave the rule to the interpreter, on
    the lines the store picks for it."""
    if not counts_history(rule) or rule.table_calls():
        return False
    agg = rule.aggregate
    exprs = [*agg.keys, *(e.condition for e in rule.exceptions)]
    exprs += [e for e in (rule.condition, agg.counted) if e is not None]
    for node in (n for e in exprs for n in m.walk(e)):
        if isinstance(node, m.FieldRef) and node.table is not None:
            return False
        if isinstance(node, m.ClaimAny):
            return False
        if isinstance(node, m.Call) and node.function in CALENDAR_FUNCTIONS:
            return False
    return True


def _summary_query(
    store: Store, rulebook: m.Rulebook, rule: m.Rule, values: Values, read: Sequence[str]
) -> exp.Select:
    """The rule's groups among the candidates: for each group its first line (the `read`
    columns) with the group's size, and the date, time and id of each counted line.

    Only the groups of today's lines matter, and every one of their lines is a candidate;
    the other groups come along (they cost less than tests of today's keys would)."""
    schema, agg = store.schema, rule.aggregate
    exprs = ExprCompiler(rulebook, wide_products=True)  # run by DuckDB
    source = exp.select(exp.Star(), alias(day_expr(schema), DAY), copy=False).from_(
        CANDIDATES, copy=False
    )
    span = _windows(rule, values)
    if span is not None:  # the other weeks of a weekly cap's providers are candidates too
        source = source.where(_within(*span), copy=False)
    keys = [f"_k{i}" for i in range(len(agg.keys))]
    counted = exprs.condition(agg.counted) if agg.counted is not None else exp.true()
    population = (
        exp.select(
            *(col(n) for n in read),
            col(DAY),
            *(alias(exprs.compile(k), name) for k, name in zip(agg.keys, keys, strict=True)),
            alias(counted, "_c"),
            copy=False,
        )
        .from_(alias(exp.Subquery(this=source), "i"), copy=False)
        .where(applies(exprs, schema, rule), copy=False)
    )
    # The interpreter's chronological order (Roles.chronological): day, time with missing
    # last, the line id as text.
    order = [exp.Ordered(this=col(DAY), nulls_first=False)]
    time_ = schema.by_role(Role.TIME)
    if time_ is not None:
        order.append(exp.Ordered(this=col(time_.name), nulls_first=False))
    line_text = exp.Coalesce(
        this=exp.cast(col(store.line), "VARCHAR"), expressions=[exp.Literal.string("None")]
    )
    order.append(exp.Ordered(this=line_text))
    number = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col(k) for k in keys],
        order=exp.Order(expressions=order),
    )
    size = exp.Window(this=exp.Count(this=exp.Star()), partition_by=[col(k) for k in keys])
    ranked = exp.select(
        *(col(n) for n in read),
        *(col(k) for k in keys),
        col("_c"),
        alias(number, "_n"),
        alias(size, "_size"),
        copy=False,
    ).from_(alias(exp.Subquery(this=population), "p"), copy=False)
    first = exp.EQ(this=col("_n"), expression=exp.Literal.number(1))
    # A counted line brings its order home, its other columns only when it is a first line.
    ordering = {r.name for role in ORDER_ROLES if (r := schema.by_role(role)) is not None}
    shown = [
        col(n) if n in ordering else alias(exp.Case().when(first.copy(), col(n), copy=False), n)
        for n in read
    ]
    return (
        exp.select(
            *shown,
            *(col(k) for k in keys),
            col("_c"),
            alias(first.copy(), "_first"),
            col("_size"),
            copy=False,
        )
        .from_(alias(exp.Subquery(this=ranked), "r"), copy=False)
        .where(exp.or_(first, col("_c"), copy=False), copy=False)
    )


ORDER_ROLES = (Role.LINE, Role.DATE, Role.TIME, Role.YEAR)  # what Roles.chronological reads


def _summaries(
    store: Store,
    rulebook: m.Rulebook,
    rules: Sequence[m.Rule],
    values: Values,
    read: Sequence[str],
) -> dict[str, dict[tuple, GroupHistory]]:
    """Each summarised rule's groups as the history holds them (see `_summary_query`);
    `read` are the candidates' columns."""
    from claimlint.checker.interpreter import Roles

    roles = Roles.of(store.schema)
    empty = dict.fromkeys(store.schema.names)
    found: dict[str, dict[tuple, GroupHistory]] = {}
    for rule in rules:
        width = len(rule.aggregate.keys)
        query = _summary_query(store, rulebook, rule, values, read)
        groups: dict[tuple, tuple[int, dict[str, Any] | None, list[tuple]]] = {}
        for record in run_sql(store.con, query):
            row = dict(zip(read, record, strict=False))
            key = record[len(read) : len(read) + width]
            counted, first, size = record[len(read) + width :]
            total, first_row, order = groups.get(key, (0, None, []))
            if first:
                total, first_row = size, {**empty, **row}
            if counted:
                order.append(roles.chronological(row))
            groups[key] = (total, first_row, order)
        found[rule.id] = {
            key: GroupHistory(total, first_row, tuple(sorted(order)))
            for key, (total, first_row, order) in groups.items()
            if first_row is not None
        }
    return found


def _picked(store: Store, rules: Sequence[m.Rule], values: Values, columns: Sequence[str]) -> bool:
    """Which candidates each of `rules` reads, as the temporary table PICKED (_id, rule id);
    False when no rule reads any. A rule reads the candidates `_rule_filter` keeps; with
    `claim has` conditions, the whole invoices of those lines: the lines of the invoices
    that are not candidates yet join CANDIDATES (found through the invoice index)."""
    con = store.con
    claim = store.schema.by_role(Role.CLAIM)
    picks: list[exp.Select] = []
    for number, rule in enumerate(rules):
        where = _rule_filter(store, rule, values)
        if where is None:
            continue
        if claim is not None and _needs_claims([rule]):
            claims = f"{CLAIMS}_{number}"
            found = exp.select(col(claim.name)).distinct().from_(relation(CANDIDATES)).where(where)
            con.execute(create_as(claims, found).sql(DIALECT))
            listed = [
                c for (c,) in run_sql(con, exp.select(col(claim.name)).from_(relation(claims)))
            ]
            if not listed:
                continue
            if len(listed) <= LITERALS:
                invoice = exp.In(
                    this=col(claim.name),
                    expressions=[literal(c, claim.type) for c in sorted(listed)],
                )
            else:
                invoice = exp.In(
                    this=col(claim.name),
                    query=exp.Subquery(this=exp.select(col(claim.name)).from_(relation(claims))),
                )
            known = exp.select(col("_id")).from_(relation(CANDIDATES))
            others = (
                exp.select(
                    exp.alias_(ROWID, "_id", quoted=True),
                    *(store.column(store.schema.field(name)) for name in columns),
                )
                .from_(relation(LINES))
                .where(
                    exp.and_(
                        invoice.copy(),
                        exp.not_(exp.In(this=ROWID.copy(), query=exp.Subquery(this=known))),
                    )
                )
            )
            con.execute(exp.insert(others, relation(CANDIDATES)).sql(DIALECT))
            _drop_today(store, values)
            where = invoice
        rule_id = exp.alias_(literal(rule.id), RULE, quoted=True)
        picks.append(exp.select(col("_id"), rule_id).from_(relation(CANDIDATES)).where(where))
    if not picks:
        return False
    con.execute(create_as(PICKED, _union(picks)).sql(DIALECT))
    return True


def _lines(columns: list[exp.Expression]) -> exp.Select:
    """The picked candidates (their `columns`)."""
    picked = exp.select(col("_id")).from_(relation(PICKED))
    return (
        exp.select(*columns)
        .from_(relation(CANDIDATES))
        .where(exp.In(this=col("_id"), query=exp.Subquery(this=picked)))
    )


def fetch(store: Store, rulebook: m.Rulebook, today: pa.Table) -> pa.Table:
    """The history lines today's aggregates need (see `_picked`), as an Arrow table of the
    input schema: the columnar engine's context lines."""
    con = store.con
    con.register(TODAY, today)
    values = {
        name: [v for v in today.column(name).unique().to_pylist() if v is not None]
        for name in today.column_names
    }
    names = store.schema.names
    rules = _candidates(store, list(filter(counts_history, rulebook.rules)), values, names)
    columns = [col(name) for name in names]
    if not _picked(store, rules, values, names):
        return con.sql(
            exp.select(*columns).from_(relation(CANDIDATES)).where(exp.false()).sql(DIALECT)
        ).to_arrow_table()
    return con.sql(_lines(columns).sql(DIALECT)).to_arrow_table()


@attrs.frozen
class HistoryLines:
    """The history today's aggregates need, for the interpreter: a batch of rows holding the
    columns the rules counting history read (the others None: nothing reads them), for each
    rule reading lines the positions of the rows it reads, and for each summarised rule its
    groups as figured in the store."""

    batch: Batch
    reads: dict[str, tuple[int, ...]]
    groups: dict[str, dict[tuple, GroupHistory]] = attrs.Factory(dict)


def read_columns(rulebook: m.Rulebook) -> list[str]:
    """The input columns a rule counting history reads on a line: those of its expressions,
    the columns that order lines and join reference tables, the invoice for `claim has`."""
    rules = list(filter(counts_history, rulebook.rules))
    wanted = {
        node.name
        for rule in rules
        for e in rule.expressions()
        for node in m.walk(e)
        if isinstance(node, m.FieldRef) and node.table is None
    }
    wanted |= {ref.join_field for ref in rulebook.references}
    roles = [Role.LINE, Role.DATE, Role.TIME, Role.YEAR]
    if _needs_claims(rules):
        roles.append(Role.CLAIM)
    wanted |= {f.name for role in roles if (f := rulebook.input.by_role(role)) is not None}
    return [f.name for f in rulebook.input.fields if f.name in wanted]


def _load_today(con: duckdb.DuckDBPyConnection, schema: Schema, rows: Sequence[Mapping]) -> None:
    """Today's probe values as the temporary table TODAY: one list per column, passed as
    query parameters (Arrow would cost its import, and pandas', for 200 lines)."""
    columns = [
        exp.alias_(
            exp.func(
                "unnest",
                exp.cast(
                    exp.Placeholder(),
                    exp.DataType(
                        this=exp.DataType.Type.ARRAY, expressions=[sql_type(f.type)], nested=True
                    ),
                ),
            ),
            f.name,
            quoted=True,
        )
        for f in schema.fields
    ]
    con.execute(
        create_as(TODAY, exp.select(*columns)).sql(DIALECT),
        [[row[f.name] for row in rows] for f in schema.fields],
    )


def fetch_lines(
    store: Store,
    rulebook: m.Rulebook,
    today: Iterable[Mapping],
    on_scan: Callable[[], None] | None = None,
) -> HistoryLines:
    """The history today's aggregates need, for the interpreter: the groups of the rules
    the store summarises (see `summarised`), the lines `_picked` picks for the others.
    `on_scan`: see `_candidates`."""
    names = probe_fields(rulebook)
    fields = tuple(f for f in store.schema.fields if f.name in names)
    probe = {tuple(row[f.name] for f in fields) for row in today}
    rows = [dict(zip((f.name for f in fields), values, strict=True)) for values in probe]
    values = _values(names, rows)
    if any(len(v) > LITERALS for v in values.values()):
        _load_today(store.con, attrs.evolve(store.schema, fields=fields), rows)
    schema = store.schema
    read = read_columns(rulebook)
    rules = _candidates(store, list(filter(counts_history, rulebook.rules)), values, read, on_scan)
    figured = {r.id for r in rules if summarised(r)}
    groups = _summaries(store, rulebook, [r for r in rules if r.id in figured], values, read)
    if not _picked(store, [r for r in rules if r.id not in figured], values, read):
        return HistoryLines(Batch(schema, str(store.path), (), (), (), 0), {}, groups)
    empty = dict.fromkeys(schema.names)
    lines, position = [], {}
    for record in run_sql(store.con, _lines([col("_id"), *(col(name) for name in read)])):
        position[record[0]] = len(lines)
        line = dict(empty)
        line.update(zip(read, record[1:], strict=True))
        lines.append(line)
    reads: dict[str, list[int]] = {}
    for row_id, rule in run_sql(
        store.con, exp.select(col("_id"), col(RULE)).from_(relation(PICKED))
    ):
        reads.setdefault(rule, []).append(position[row_id])
    batch = Batch(
        schema, str(store.path), tuple(lines), tuple(range(1, len(lines) + 1)), (), len(lines)
    )
    return HistoryLines(batch, {rule: tuple(at) for rule, at in reads.items()}, groups)


def _union(queries: list[exp.Select]) -> exp.Expression:
    united: exp.Expression = queries[0]
    for query in queries[1:]:
        united = exp.union(united, query, distinct=False)
    return united


def source(
    path: str | Path, rulebook: m.Rulebook, timeout: float = DEFAULT_LOCK_TIMEOUT
) -> HistorySource:
    """The history at `path` as the source of the columnar engine's context lines."""

    def fetch_context(today: pa.Table) -> pa.Table:
        with open_store(path, rulebook.input, write=False, timeout=timeout) as store:
            return fetch(store, rulebook, today)

    return HistorySource(tuple(probe_fields(rulebook)), fetch_context)


def history_lines(
    path: str | Path,
    rulebook: m.Rulebook,
    today: Iterable[Mapping],
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_scan: Callable[[], None] | None = None,
) -> HistoryLines:
    """The history at `path`: the interpreter's context lines for today's rows."""
    with open_store(path, rulebook.input, write=False, timeout=timeout) as store:
        return fetch_lines(store, rulebook, today, on_scan)
