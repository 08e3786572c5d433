"""The claim history: past batches kept in a DuckDB file, so that weekly and yearly caps count
what was billed before today's batch.

One file holds a `meta` table (schema version, claimlint version, the input schema it keeps)
and a `lines` table (the input schema's columns, the batch file and row each line came from,
when it was added). DuckDB lets one process at a time write a file: writers and readers wait
for its lock up to a timeout. An `add` is one transaction: a crash or a kill leaves the store as
it was. Every statement is a sqlglot expression; values travel as typed literals or as
registered Arrow tables, never as SQL text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import duckdb
from sqlglot import exp

from claimlint import __version__
from claimlint.checker import run
from claimlint.checker.context import HistorySource, counts_history
from claimlint.checker.readers import Batch, Rejection
from claimlint.checker.sql import COMPARISONS, col, literal, sql_type
from claimlint.dsl import model as m
from claimlint.dsl.schema import Field, Role, Schema
from claimlint.dsl.types import Type
from claimlint.errors import Diagnostic, InputError

if TYPE_CHECKING:  # Arrow serves the columnar engine and `add`; a small check never needs it
    import pyarrow as pa

SCHEMA_VERSION = 1  # of the store's own tables; bumped (with a migration) when they change
DEFAULT_PATH = ".claimlint/history.duckdb"
DEFAULT_LOCK_TIMEOUT = 10.0  # seconds
LINES, META = "lines", "meta"
BATCH, ROW, ADDED = "_batch", "_row", "_added_at"
NEW, FILE = "claimlint_new", "_file"
TODAY = "claimlint_today"
DIALECT = "duckdb"
PERIODS = {"iso_week", "month", "year"}
ROWID = exp.column("rowid")  # DuckDB's row number of a stored row


def _run(con: duckdb.DuckDBPyConnection, query: exp.Expression) -> list[tuple]:
    return con.execute(query.sql(dialect=DIALECT)).fetchall()


def _table_def(name: str, columns: Sequence[tuple[str, exp.DataType]]) -> exp.Create:
    schema = exp.Schema(
        this=exp.to_table(name),
        expressions=[
            exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=t) for c, t in columns
        ],
    )
    return exp.Create(this=schema, kind="TABLE")


@attrs.define
class Store:
    """An open history: its connection, and which of the schema's columns the file holds."""

    path: Path
    con: duckdb.DuckDBPyConnection
    schema: Schema
    stored: frozenset[str]

    @property
    def line(self) -> str:
        field = self.schema.by_role(Role.LINE)
        assert field is not None  # open_store refuses a schema without line ids
        return field.name

    def column(self, field: Field, table: str | None = None) -> exp.Expression:
        """A schema column of `lines`: the stored one, else its default (an older store)."""
        if field.name in self.stored:
            return col(field.name, table)
        return exp.alias_(literal(field.default, field.type), field.name, quoted=True)

    def count(self) -> int:
        return _run(self.con, exp.select(exp.Count(this=exp.Star())).from_(LINES))[0][0]


def _connect(path: Path, write: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """DuckDB's file lock is held by one writer (or by readers): wait for it, then give up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return duckdb.connect(str(path), read_only=not write)
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                raise InputError(f"{path} : historique illisible ({err})") from None
            if time.monotonic() >= deadline:
                raise InputError(
                    Diagnostic(
                        f"{path} : historique verrouillé par un autre processus depuis plus de "
                        f"{timeout:g} s",
                        hint="réessayez quand l'autre commande claimlint sera finie, ou "
                        "allongez l'attente avec --lock-timeout",
                    )
                ) from None
            time.sleep(0.1)
        except duckdb.Error as err:
            raise InputError(
                f"{path} : ce fichier n'est pas un historique claimlint ({err})"
            ) from None


@contextlib.contextmanager
def open_store(
    path: str | Path, schema: Schema, *, write: bool, timeout: float = DEFAULT_LOCK_TIMEOUT
) -> Iterator[Store]:
    """The store at `path`, created on first write, checked against the rulebook's input."""
    path = Path(path)
    if schema.by_role(Role.LINE) is None:
        raise InputError(
            f"l'entrée « {schema.name} » n'a pas d'identifiant de ligne : pas d'historique possible"
        )
    if not path.exists():
        if not write:
            raise InputError(
                Diagnostic(
                    f"{path} : historique introuvable",
                    hint="créez-le en y ajoutant un lot : claimlint history add LOT",
                )
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"{path} : création impossible ({err.strerror or err})") from None
    con = _connect(path, write, timeout)
    try:
        stored = _prepare(con, path, schema, write)
        yield Store(path, con, schema, stored)
    finally:
        con.close()


def _fields_json(schema: Schema, names: Iterable[str] | None = None) -> str:
    kept = set(names) if names is not None else None
    return json.dumps(
        [[f.name, f.type.value] for f in schema.fields if kept is None or f.name in kept]
    )


def _prepare(con: duckdb.DuckDBPyConnection, path: Path, schema: Schema, write: bool):
    """Create the tables of a new store; check (and, writing, migrate) an existing one."""
    tables_query = (
        exp.select(col("table_name"))
        .from_(exp.to_table("information_schema.tables"))
        .where(exp.EQ(this=col("table_catalog"), expression=exp.func("current_database")))
    )
    tables = {name for (name,) in _run(con, tables_query)}
    if not tables and write:
        _create(con, schema)
        return frozenset(schema.names)
    if META not in tables or LINES not in tables:
        raise InputError(f"{path} : ce fichier n'est pas un historique claimlint")
    meta = dict(_run(con, exp.select(col("key"), col("value")).from_(META)))
    version = int(meta.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise InputError(
            Diagnostic(
                f"{path} : historique écrit par claimlint {meta.get('claimlint_version', '?')} "
                f"(format n° {version}) ; cette version ({__version__}) lit le format n° "
                f"{SCHEMA_VERSION} au plus",
                hint="mettez claimlint à jour",
            )
        )
    if version < 1:
        raise InputError(f"{path} : format d'historique n° {version} inconnu, non migrable")
    if meta.get("input") != schema.name:
        raise InputError(
            f"{path} : historique des lignes « {meta.get('input')} », le recueil lit "
            f"« {schema.name} »"
        )
    stored = {name: type_ for name, type_ in json.loads(meta["fields"])}
    for f in schema.fields:
        if f.name in stored and stored[f.name] != f.type.value:
            raise InputError(
                f"{path} : la colonne {f.name} y est de type {stored[f.name]}, le recueil "
                f"l'attend de type {f.type.value}"
            )
    missing = [f for f in schema.fields if f.name not in stored]
    required = [f.name for f in missing if f.required]
    if required:
        raise InputError(
            Diagnostic(
                f"{path} : colonnes obligatoires absentes de l'historique : {', '.join(required)}",
                hint="créez un nouvel historique (--history AUTRE_CHEMIN)",
            )
        )
    if missing and write:
        _migrate(con, schema, missing, [*stored, *(f.name for f in missing)])
        return frozenset(schema.names)
    return frozenset(name for name in schema.names if name in stored)


def _set_meta(con: duckdb.DuckDBPyConnection, values: Mapping[str, str]) -> None:
    for key, value in values.items():
        con.execute(
            exp.delete(META, where=exp.EQ(this=col("key"), expression=literal(key))).sql(DIALECT)
        )
        con.execute(
            exp.insert(exp.values([(key, value)]), META, columns=["key", "value"]).sql(DIALECT)
        )


def _create(con: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    text = exp.DataType.build("VARCHAR")
    columns = [(f.name, sql_type(f.type)) for f in schema.fields]
    columns += [
        (BATCH, text),
        (ROW, exp.DataType.build("BIGINT")),
        (ADDED, exp.DataType.build("TIMESTAMP")),
    ]
    con.begin()
    con.execute(_table_def(META, [("key", text), ("value", text)]).sql(DIALECT))
    con.execute(_table_def(LINES, columns).sql(DIALECT))
    _set_meta(
        con,
        {
            "schema_version": str(SCHEMA_VERSION),
            "claimlint_version": __version__,
            "input": schema.name,
            "fields": _fields_json(schema),
        },
    )
    con.commit()


def _migrate(
    con: duckdb.DuckDBPyConnection, schema: Schema, missing: list[Field], names: list[str]
) -> None:
    """Columns a newer rulebook added to its input, each filled with its default."""
    con.begin()
    for f in missing:
        column = exp.ColumnDef(
            this=exp.to_identifier(f.name, quoted=True),
            kind=sql_type(f.type),
            constraints=[
                exp.ColumnConstraint(
                    kind=exp.DefaultColumnConstraint(this=literal(f.default, f.type))
                )
            ],
        )
        alter = exp.Alter(this=exp.to_table(LINES), kind="TABLE", actions=[column])
        con.execute(alter.sql(DIALECT))
    _set_meta(con, {"fields": _fields_json(schema, names), "claimlint_version": __version__})
    con.commit()


# ----------------------------------------------------------------------------- add


@attrs.frozen
class Added:
    """What `history add` did: rows read, lines added, lines already there, rows rejected."""

    read: int
    added: int
    known: int
    rejected: tuple[Rejection, ...]


def _stage(
    store: Store, paths: Sequence[Path], fmt: str, mapping: Mapping[str, str] | None
) -> tuple[int, list[Rejection]]:
    """The batch's valid rows as the temporary relation NEW (schema columns, _file, _row)."""
    import pyarrow as pa

    from claimlint.checker.columnar import arrow_table
    from claimlint.checker.columnar_input import load_parquet

    schema = store.schema
    if fmt == "parquet":
        return load_parquet(store.con, [str(p) for p in paths], schema, NEW, mapping)
    tables, read, rejected = [], 0, []
    for path in paths:
        batch = run.read_table(schema, [path], fmt, mapping)
        read += batch.read
        rejected += batch.rejected
        table = arrow_table(schema, batch.rows)
        table = table.append_column(FILE, pa.array([str(path)] * len(batch.rows), pa.string()))
        tables.append(table.append_column("_row", pa.array(batch.lines, pa.int64())))
    store.con.register(NEW, pa.concat_tables(tables))
    return read, rejected


def _more(count: int) -> str:
    return f" (et {count} autre(s))" if count > 0 else ""


def _refuse_conflicts(store: Store) -> None:
    """A line id twice in the new rows, or already stored with another content: nothing is
    written, and the message names both places."""
    line = store.line
    repeated = (
        exp.select(col(line))
        .from_(NEW)
        .group_by(col(line))
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    )
    twice = (
        exp.select(col(line), col(FILE), col("_row"))
        .from_(NEW)
        .where(exp.In(this=col(line), query=exp.Subquery(this=repeated)))
        .order_by(col(line), col(FILE), col("_row"))
    )
    found = _run(store.con, twice)
    if found:
        key = found[0][0]
        first, second = (f"{file}:{row}" for _, file, row in found[:2])
        others = len({k for k, _, _ in found}) - 1
        raise InputError(
            f"{second} : la ligne « {key} » est aussi en {first} dans les lots ajoutés ; "
            f"rien n'a été ajouté{_more(others)}"
        )
    fields = [f for f in store.schema.fields if f.name in store.stored]
    differs = exp.Case()
    for f in fields:
        distinct = exp.NullSafeEQ(this=col(f.name, "n"), expression=col(f.name, "h"))
        differs = differs.when(exp.not_(distinct), literal(f.name))
    conflicts = (
        exp.select(col(line, "n"), col(FILE, "n"), col("_row", "n"), col(BATCH, "h"), col(ROW, "h"))
        .select(exp.alias_(differs, "_column", quoted=True))
        .from_(exp.alias_(exp.to_table(NEW), "n", quoted=True))
        .join(
            exp.alias_(exp.to_table(LINES), "h", quoted=True),
            on=exp.EQ(this=col(line, "n"), expression=col(line, "h")),
        )
        .where(exp.not_(exp.Is(this=col("_column"), expression=exp.null())))
        .order_by(col(FILE, "n"), col("_row", "n"))
    )
    found = _run(store.con, conflicts)
    if found:
        key, file, row, batch, batch_row, column = found[0]
        raise InputError(
            Diagnostic(
                f"{file}:{row} : la ligne « {key} » est déjà dans l'historique avec un autre "
                f"contenu (ajoutée depuis {batch}:{batch_row}, colonne {column} différente) ; "
                f"rien n'a été ajouté{_more(len(found) - 1)}",
                hint="si la facture a été annulée : claimlint history remove --claim ID",
            )
        )


def add(
    path: str | Path,
    schema: Schema,
    inputs: Sequence[str | Path],
    mapping: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> Added:
    """Append the batch's valid lines in one transaction; lines already there are skipped."""
    paths = run.expand_inputs(inputs)
    seen: set[Path] = set()
    for p in paths:
        if p.resolve() in seen:
            raise InputError(f"{p} : lot donné deux fois ; rien n'a été ajouté")
        seen.add(p.resolve())
    fmt = run.input_format(paths)
    with open_store(path, schema, write=True, timeout=timeout) as store:
        read, rejected = _stage(store, paths, fmt, mapping)
        con, line = store.con, store.line
        con.begin()
        try:
            _refuse_conflicts(store)
            known = exp.select(col(line)).from_(LINES)
            new = (
                exp.select(
                    *(col(f.name) for f in schema.fields),
                    col(FILE),
                    col("_row"),
                    exp.cast(literal(dt.datetime.now().isoformat(sep=" ")), "TIMESTAMP"),
                )
                .from_(NEW)
                .where(exp.not_(exp.In(this=col(line), query=exp.Subquery(this=known))))
            )
            date = schema.by_role(Role.DATE)
            if date is not None:  # dated rows stored in date order: reads skip whole blocks
                new = new.order_by(col(date.name), col(line))
            columns = [*schema.names, BATCH, ROW, ADDED]
            insert = exp.insert(
                new, LINES, columns=[exp.to_identifier(c, quoted=True) for c in columns]
            )
            added = con.execute(insert.sql(DIALECT)).fetchone()[0]
            staged = _run(con, exp.select(exp.Count(this=exp.Star())).from_(NEW))[0][0]
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return Added(read, int(added), int(staged) - int(added), tuple(rejected))


# ----------------------------------------------------------------------------- management


def stats(store: Store) -> list[tuple[str, str, int]]:
    """Lines per provider and per month, in that order."""
    provider = store.schema.by_role(Role.PROVIDER)
    date = store.schema.by_role(Role.DATE)
    who = col(provider.name) if provider else exp.null()
    month = exp.func("strftime", col(date.name), literal("%Y-%m")) if date else exp.null()
    query = (
        exp.select(
            exp.alias_(who, "p", quoted=True),
            exp.alias_(month, "m", quoted=True),
            exp.Count(this=exp.Star()),
        )
        .from_(LINES)
        .group_by(col("p"), col("m"))
        .order_by(exp.Ordered(this=col("p"), nulls_first=False), exp.Ordered(this=col("m")))
    )
    return [(p or "", m or "", int(n)) for p, m, n in _run(store.con, query)]


def _delete(store: Store, where: exp.Expression) -> int:
    store.con.begin()
    try:
        removed = store.con.execute(exp.delete(LINES, where=where).sql(DIALECT)).fetchone()[0]
        store.con.commit()
    except BaseException:
        store.con.rollback()
        raise
    return int(removed)


def remove_claims(store: Store, claims: Sequence[str]) -> int:
    """Drop the lines of cancelled invoices; returns how many lines went."""
    claim = store.schema.by_role(Role.CLAIM)
    if claim is None:
        raise InputError(f"l'entrée « {store.schema.name} » n'a pas d'identifiant de facture")
    return _delete(store, exp.column(claim.name).isin(*(literal(c) for c in claims)))


def remove_batch(
    store: Store, inputs: Sequence[str | Path], mapping: Mapping[str, str] | None = None
) -> int:
    """Drop the lines whose ids the batch file holds (the batch was cancelled)."""
    import pyarrow as pa

    paths = run.expand_inputs(inputs)
    batch = run.read_table(store.schema, paths, run.input_format(paths), mapping)
    ids = pa.table({"id": pa.array([str(row[store.line]) for row in batch.rows], pa.string())})
    store.con.register("claimlint_removed", ids)
    gone = exp.select(col("id")).from_("claimlint_removed")
    return _delete(store, exp.In(this=col(store.line), query=exp.Subquery(this=gone)))


def prune(store: Store, before: dt.date) -> int:
    """Drop the lines dated before `before` (older than any period a cap looks at)."""
    date = store.schema.by_role(Role.DATE)
    if date is None:
        raise InputError(f"l'entrée « {store.schema.name} » n'a pas de date")
    return _delete(store, exp.LT(this=col(date.name), expression=literal(before)))


EXPORTS = {".parquet": "parquet", ".csv": "csv"}


def export(store: Store, target: str | Path) -> int:
    """Every stored line (schema columns) to a Parquet or CSV file, replaced at the end."""
    target = Path(target)
    kind = EXPORTS.get(target.suffix.lower())
    if kind is None:
        raise InputError(f"{target} : exportez vers un fichier .parquet ou .csv")
    order = [col(store.line)]
    date = store.schema.by_role(Role.DATE)
    if date is not None:
        order.insert(0, col(date.name))
    query = exp.select(*(store.column(f) for f in store.schema.fields)).from_(LINES)
    relation = store.con.sql(query.order_by(*order).sql(DIALECT))
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            if kind == "parquet":
                relation.write_parquet(temp)
            else:
                relation.write_csv(temp, header=True)
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
    except OSError as err:
        raise InputError(f"{target} : écriture impossible ({err.strerror or err})") from None
    return len(relation)


# ----------------------------------------------------------------------------- check


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


def probe(rulebook: m.Rulebook, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Today's values of probe_fields, as an Arrow table (the columnar engine's probe)."""
    from claimlint.checker.columnar import arrow_table

    names = set(probe_fields(rulebook))
    schema = attrs.evolve(
        rulebook.input, fields=tuple(f for f in rulebook.input.fields if f.name in names)
    )
    return arrow_table(schema, rows)


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


def _picked(store: Store, rulebook: m.Rulebook) -> bool:
    """Which stored rows each rule that counts_history reads, as the temporary table PICKED
    (row id, rule id); False when no rule reads any. TODAY holds today's probe values.

    A rule reads the lines that can be in its population (its period, the simple tests of
    its condition) whose plain key columns (provider_id, patient_id…) hold values today's
    lines hold, dated within the ISO weeks, months or years today's dates touch (any date
    for a rule without a period); with `claim has` conditions, the whole invoices of those
    lines. One filtered scan per rule, of the columns its tests read only.
    """
    con = store.con
    claim = store.schema.by_role(Role.CLAIM)
    picks: list[exp.Select] = []
    for number, rule in enumerate(filter(counts_history, rulebook.rules)):
        parts = _population_tests(rule, store.schema)
        for key in rule.aggregate.keys:
            name = _plain(key)
            if name is not None and store.schema.field(name) is not None:
                seen = exp.select(col(name)).from_(TODAY).distinct()
                parts.append(exp.In(this=col(name), query=exp.Subquery(this=seen)))
        period = _period_field(rule)
        if period is not None:
            function, date = period
            days = _run(con, exp.select(col(date)).distinct().from_(TODAY))
            windows = _merged({_window(function, d) for (d,) in days if d is not None})
            if not windows:
                continue
            parts.append(
                exp.or_(
                    *(
                        exp.Between(this=col(date), low=literal(a), high=literal(b))
                        for a, b in windows
                    )
                )
            )
        where = exp.and_(*parts)
        if claim is not None and _needs_claims([rule]):
            # The invoices first, then their lines: most rules of this kind find none, and
            # then the invoice column of the whole store is never read.
            claims = f"{CLAIMS}_{number}"
            found = exp.select(col(claim.name)).distinct().from_(LINES).where(where)
            con.execute(_temporary(claims, found).sql(DIALECT))
            bounds = exp.select(
                exp.func("min", col(claim.name)), exp.func("max", col(claim.name))
            ).from_(claims)
            low, high = _run(con, bounds)[0]
            if low is None:
                continue
            # DuckDB tests the invoices' range while it scans, skipping the blocks outside it;
            # the membership test, a join, then keeps the invoices themselves.
            where = exp.and_(
                exp.Between(
                    this=col(claim.name),
                    low=literal(low, claim.type),
                    high=literal(high, claim.type),
                ),
                exp.In(
                    this=col(claim.name),
                    query=exp.Subquery(this=exp.select(col(claim.name)).from_(claims)),
                ),
            )
        rule_id = exp.alias_(literal(rule.id), RULE, quoted=True)
        picks.append(
            exp.select(exp.alias_(ROWID, "_id", quoted=True), rule_id).from_(LINES).where(where)
        )
    if not picks:
        return False
    con.execute(_temporary(PICKED, _union(picks)).sql(DIALECT))
    return True


def _temporary(name: str, query: exp.Expression) -> exp.Create:
    return exp.Create(
        this=exp.to_table(name),
        kind="TABLE",
        expression=query,
        replace=True,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


def _lines(store: Store, columns: list[exp.Expression]) -> exp.Select:
    """The picked rows (their `columns`), less the lines whose id is in today's batch:
    today's copy counts."""
    picked = exp.select(col("_id")).from_(PICKED)
    today_ids = exp.select(col(store.line)).from_(TODAY)
    return (
        exp.select(*columns)
        .from_(LINES)
        .where(
            exp.and_(
                exp.In(this=ROWID.copy(), query=exp.Subquery(this=picked)),
                exp.not_(exp.In(this=col(store.line), query=exp.Subquery(this=today_ids))),
            )
        )
    )


def fetch(store: Store, rulebook: m.Rulebook, today: pa.Table) -> pa.Table:
    """The history lines today's aggregates need (see `_picked`), as an Arrow table of the
    input schema: the columnar engine's context lines."""
    con = store.con
    con.register(TODAY, today)
    columns = [store.column(f) for f in store.schema.fields]
    if not _picked(store, rulebook):
        query = exp.select(*columns).from_(LINES).where(exp.false())
        return con.sql(query.sql(DIALECT)).to_arrow_table()
    return con.sql(_lines(store, columns).sql(DIALECT)).to_arrow_table()


@attrs.frozen
class HistoryLines:
    """The history lines today's aggregates need, as the interpreter's context lines: a
    batch of rows holding the columns the rules counting history read (the others None:
    nothing reads them), and for each such rule the positions of the rows it reads."""

    batch: Batch
    reads: dict[str, tuple[int, ...]]


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
        _temporary(TODAY, exp.select(*columns)).sql(DIALECT),
        [[row[f.name] for row in rows] for f in schema.fields],
    )


def fetch_lines(store: Store, rulebook: m.Rulebook, today: Iterable[Mapping]) -> HistoryLines:
    """The history lines today's aggregates need (see `_picked`), for the interpreter."""
    names = set(probe_fields(rulebook))
    fields = tuple(f for f in store.schema.fields if f.name in names)
    probe = {tuple(row[f.name] for f in fields) for row in today}
    rows = [dict(zip((f.name for f in fields), values, strict=True)) for values in probe]
    _load_today(store.con, attrs.evolve(store.schema, fields=fields), rows)
    schema = store.schema
    if not _picked(store, rulebook):
        return HistoryLines(Batch(schema, str(store.path), (), (), (), 0), {})
    read = read_columns(rulebook)
    columns = [store.column(schema.field(name)) for name in read]
    records = _run(store.con, _lines(store, [exp.alias_(ROWID, "_id", quoted=True), *columns]))
    empty = dict.fromkeys(schema.names)
    lines, position = [], {}
    for record in records:
        position[record[0]] = len(lines)
        line = dict(empty)
        line.update(zip(read, record[1:], strict=True))
        lines.append(line)
    reads: dict[str, list[int]] = {}
    for row_id, rule in _run(store.con, exp.select(col("_id"), col(RULE)).from_(PICKED)):
        if row_id in position:  # not a line of today's batch
            reads.setdefault(rule, []).append(position[row_id])
    batch = Batch(
        schema, str(store.path), tuple(lines), tuple(range(1, len(lines) + 1)), (), len(lines)
    )
    return HistoryLines(batch, {rule: tuple(at) for rule, at in reads.items()})


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
) -> HistoryLines:
    """The history at `path`: the interpreter's context lines for today's rows."""
    with open_store(path, rulebook.input, write=False, timeout=timeout) as store:
        return fetch_lines(store, rulebook, today)


def ensure(path: str | Path, schema: Schema, timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
    """An empty store where there is none yet: the first batch of `check --add-on-success`
    is checked against an empty history."""
    if not Path(path).exists():
        with open_store(path, schema, write=True, timeout=timeout):
            pass
