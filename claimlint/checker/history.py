"""The claim history: past batches kept in a DuckDB file, so that weekly and yearly caps count
what was billed before today's batch.

One file holds a `meta` table (schema version, claimlint version, the input schema it keeps)
and a `lines` table (the input schema's columns, the batch file and row each line came from,
when it was added). DuckDB lets one process at a time write a file: writers and readers wait
for its lock up to a timeout. An `add` is one transaction: a crash or a kill leaves the store as
it was. Every statement is a sqlglot expression; values travel as typed literals or as
registered Arrow tables, never as SQL text. What a check reads from the store is in
checker/history_reads.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import duckdb
from sqlglot import exp

from claimlint import __version__
from claimlint.checker import run
from claimlint.checker.readers import Rejection
from claimlint.checker.sql import (
    col,
    data_type,
    literal,
    relation,
    sql_type,
)
from claimlint.dsl.schema import Field, Role, Schema
from claimlint.errors import Diagnostic, InputError, engine_detail

if TYPE_CHECKING:  # Arrow serves the columnar engine and `add`; a small check never needs it
    pass

# Of the store's own tables; bumped (with a migration) when they change. 2: the invoice index.
SCHEMA_VERSION = 2
DEFAULT_PATH = ".claimlint/history.duckdb"
DEFAULT_LOCK_TIMEOUT = 10.0  # seconds
LINES, META = "lines", "meta"
BATCH, ROW, ADDED = "_batch", "_row", "_added_at"
NEW, FILE = "claimlint_new", "_file"
DIALECT = "duckdb"
CLAIM_INDEX = "claimlint_claim"


def run_sql(con: duckdb.DuckDBPyConnection, query: exp.Expression) -> list[tuple]:
    """The rows of a query built with sqlglot."""
    return con.execute(query.sql(dialect=DIALECT)).fetchall()


def _table_def(name: str, columns: Sequence[tuple[str, exp.DataType]]) -> exp.Create:
    schema = exp.Schema(
        this=relation(name),
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
        ((count,),) = run_sql(
            self.con, exp.select(exp.Count(this=exp.Star())).from_(relation(LINES))
        )
        return count


def _connect(path: Path, write: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """DuckDB's file lock is held by one writer (or by readers): wait for it, then give up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            con = duckdb.connect(str(path), read_only=not write)
            # DuckDB draws its own progress bar past two seconds (a large `add`), even
            # into a pipe: never (see run.connect).
            con.execute("SET enable_progress_bar_print = false")
            return con
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                raise InputError(f"{path} : historique illisible ({engine_detail(err)})") from None
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
                f"{path} : ce fichier n'est pas un historique claimlint ({engine_detail(err)})"
            ) from None


@contextlib.contextmanager
def open_store(
    path: str | Path,
    schema: Schema,
    *,
    write: bool,
    create: bool = False,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> Iterator[Store]:
    """The store at `path`, checked against the rulebook's input; `create`: made where there
    is none (adding a batch). Only adding creates one: removing from a mistyped path must
    say so, not create an empty store there and report nothing removed."""
    path = Path(path)
    if schema.by_role(Role.LINE) is None:
        raise InputError(
            f"l'entrée « {schema.name} » n'a pas d'identifiant de ligne : pas d'historique possible"
        )
    if not path.exists():
        if not create:
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
        stored = _prepare(con, path, schema, write, create)
        yield Store(path, con, schema, stored)
    finally:
        con.close()


def _fields_json(schema: Schema, names: Iterable[str] | None = None) -> str:
    kept = set(names) if names is not None else None
    return json.dumps(
        [[f.name, f.type.value] for f in schema.fields if kept is None or f.name in kept]
    )


def _prepare(con: duckdb.DuckDBPyConnection, path: Path, schema: Schema, write: bool, create: bool):
    """Create the tables of a new store; check (and, writing, migrate) an existing one."""
    tables_query = (
        exp.select(col("table_name"))
        .from_(exp.to_table("information_schema.tables"))
        .where(exp.EQ(this=col("table_catalog"), expression=exp.func("current_database")))
    )
    tables = {name for (name,) in run_sql(con, tables_query)}
    if not tables and create:
        _create(con, schema)
        return frozenset(schema.names)
    if META not in tables or LINES not in tables:
        raise InputError(f"{path} : ce fichier n'est pas un historique claimlint")
    meta = dict(run_sql(con, exp.select(col("key"), col("value")).from_(relation(META))))
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
    if version < SCHEMA_VERSION and write:
        _upgrade(con, schema)
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
    meta = relation(META)
    for key, value in values.items():
        same_key = exp.EQ(this=col("key"), expression=literal(key))
        con.execute(exp.delete(meta.copy(), where=same_key).sql(DIALECT))
        insert = exp.insert(exp.values([(key, value)]), meta.copy(), columns=["key", "value"])
        con.execute(insert.sql(DIALECT))


def _create(con: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    text = data_type("VARCHAR")
    columns = [(f.name, sql_type(f.type)) for f in schema.fields]
    columns += [
        (BATCH, text),
        (ROW, data_type("BIGINT")),
        (ADDED, data_type("TIMESTAMP")),
    ]
    con.begin()
    con.execute(_table_def(META, [("key", text), ("value", text)]).sql(DIALECT))
    con.execute(_table_def(LINES, columns).sql(DIALECT))
    _index_claims(con, schema)
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


def _index_claims(con: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """An index on the invoice column. Lines are kept in date order, an invoice's lines
    anywhere: without it, finding the lines of a few invoices (`claim has` rules, `history
    remove --claim`) reads the invoice column of the whole store."""
    claim = schema.by_role(Role.CLAIM)
    if claim is None:
        return
    index = exp.Index(
        this=exp.to_identifier(CLAIM_INDEX, quoted=True),
        table=relation(LINES),
        params=exp.IndexParameters(columns=[exp.Ordered(this=col(claim.name))]),
    )
    con.execute(exp.Create(this=index, kind="INDEX", exists=True).sql(DIALECT))


def _upgrade(con: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """A store of format 1 (no invoice index) brought to the current format by a write;
    read only, it is read as it is."""
    con.begin()
    _index_claims(con, schema)
    _set_meta(con, {"schema_version": str(SCHEMA_VERSION), "claimlint_version": __version__})
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
        alter = exp.Alter(this=relation(LINES), kind="TABLE", actions=[column])
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

    from claimlint.checker.arrow import arrow_table
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
        .from_(relation(NEW))
        .group_by(col(line))
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    )
    twice = (
        exp.select(col(line), col(FILE), col("_row"))
        .from_(relation(NEW))
        .where(exp.In(this=col(line), query=exp.Subquery(this=repeated)))
        .order_by(col(line), col(FILE), col("_row"))
    )
    found = run_sql(store.con, twice)
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
        .from_(exp.alias_(relation(NEW), "n", quoted=True))
        .join(
            exp.alias_(relation(LINES), "h", quoted=True),
            on=exp.EQ(this=col(line, "n"), expression=col(line, "h")),
        )
        .where(exp.not_(exp.Is(this=col("_column"), expression=exp.null())))
        .order_by(col(FILE, "n"), col("_row", "n"))
    )
    found = run_sql(store.con, conflicts)
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
    with open_store(path, schema, write=True, create=True, timeout=timeout) as store:
        read, rejected = _stage(store, paths, fmt, mapping)
        con, line = store.con, store.line
        con.begin()
        try:
            _refuse_conflicts(store)
            known = exp.select(col(line)).from_(relation(LINES))
            new = (
                exp.select(
                    *(col(f.name) for f in schema.fields),
                    col(FILE),
                    col("_row"),
                    exp.cast(literal(dt.datetime.now().isoformat(sep=" ")), "TIMESTAMP"),
                )
                .from_(relation(NEW))
                .where(exp.not_(exp.In(this=col(line), query=exp.Subquery(this=known))))
            )
            date = schema.by_role(Role.DATE)
            if date is not None:  # dated rows stored in date order: reads skip whole blocks
                new = new.order_by(col(date.name), col(line))
            columns = [*schema.names, BATCH, ROW, ADDED]
            insert = exp.insert(
                new, relation(LINES), columns=[exp.to_identifier(c, quoted=True) for c in columns]
            )
            added = con.execute(insert.sql(DIALECT)).fetchone()[0]
            staged = run_sql(con, exp.select(exp.Count(this=exp.Star())).from_(relation(NEW)))[0][0]
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
        .from_(relation(LINES))
        .group_by(col("p"), col("m"))
        .order_by(exp.Ordered(this=col("p"), nulls_first=False), exp.Ordered(this=col("m")))
    )
    return [(p or "", m or "", int(n)) for p, m, n in run_sql(store.con, query)]


def _delete(store: Store, where: exp.Expression) -> int:
    store.con.begin()
    try:
        removed = store.con.execute(
            exp.delete(relation(LINES), where=where).sql(DIALECT)
        ).fetchone()[0]
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
    gone = exp.select(col("id")).from_(relation("claimlint_removed"))
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
    query = exp.select(*(store.column(f) for f in store.schema.fields)).from_(relation(LINES))
    rows = store.con.sql(query.order_by(*order).sql(DIALECT))
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            if kind == "parquet":
                rows.write_parquet(temp)
            else:
                rows.write_csv(temp, header=True)
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
    except OSError as err:
        raise InputError(f"{target} : écriture impossible ({err.strerror or err})") from None
    return len(rows)


def ensure(path: str | Path, schema: Schema, timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
    """An empty store where there is none yet: the first batch of `check --add-on-success`
    is checked against an empty history."""
    if not Path(path).exists():
        with open_store(path, schema, write=True, create=True, timeout=timeout):
            pass
