"""CSV files streamed into DuckDB, for batches too large to hold as Python rows.

The Python reader (readers.CsvReader) types and validates the rows, so both engines see the
same rows and the same rejections; here its chunks are appended to a DuckDB table as Arrow
batches, and the line ids shared by several rows are found by one aggregation in DuckDB
instead of a Python dictionary of every id. Memory stays bounded by a chunk, whatever the
file's size (DuckDB spills to disk beyond its memory limit).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlglot import exp

from claimlint.checker.arrow import ARROW_TYPES, arrow_table, create_table
from claimlint.checker.readers import (
    CHUNK_ROWS,
    CsvReader,
    Place,
    Rejection,
    duplicate_rejections,
)
from claimlint.checker.sql import col, relation
from claimlint.dsl.schema import Role, Schema

DIALECT = "duckdb"
FILE, LINE, KEY, KEPT = "_file", "_line", "_key", "_kept"
CHUNK, REJECTED_KEYS, DROPPED = "claimlint_chunk", "claimlint_rejected_keys", "claimlint_dropped"


def load_csv(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    schema: Schema,
    table: str,
    mapping: Mapping[str, str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    temporary: bool = True,
) -> tuple[int, list[Rejection]]:
    """Create `table` with the valid rows (schema columns, plus _file and _line); rejections.

    Every file's header is checked before any row is read: a whole-file error costs nothing.
    Not `temporary`: the table is the database's (sql.create_as).
    """
    readers = [CsvReader(p, schema, mapping) for p in paths]
    create_table(con, table, _with_place(arrow_table(schema, []), 0, []), temporary)
    insert = exp.insert(exp.select(exp.Star()).from_(relation(CHUNK)), relation(table)).sql(DIALECT)
    for number, reader in enumerate(readers):
        for rows, lines in reader.chunks(chunk_rows):
            con.register(CHUNK, _with_place(arrow_table(schema, rows), number, lines))
            con.execute(insert)
            con.unregister(CHUNK)
    rejected = [r for reader in readers for r in reader.rejected]
    line = schema.by_role(Role.LINE)
    if line is not None:
        groups = _shared_line_ids(con, readers, table, line.name, ARROW_TYPES[line.type])
        if groups:
            rejected += duplicate_rejections(readers, groups)
            _drop(con, table, [(f, n) for group in groups for f, n, kept in group if kept])
    return sum(reader.read for reader in readers), rejected


def _with_place(rows: pa.Table, number: int, lines: list[int]) -> pa.Table:
    """The rows with their file's index and their first physical line."""
    files = pa.array([number] * len(lines), pa.int32())
    return rows.append_column(FILE, files).append_column(LINE, pa.array(lines, pa.int64()))


def _shared_line_ids(
    con: duckdb.DuckDBPyConnection,
    readers: Sequence[CsvReader],
    table: str,
    line: str,
    key_type: pa.DataType,
) -> list[list[Place]]:
    """The places of each line id carried by several rows, kept or rejected, in file order."""
    keys = [(key, number, n) for number, r in enumerate(readers) for key, n in r.rejected_keys]
    con.register(
        REJECTED_KEYS,
        pa.table(
            {
                KEY: pa.array([k for k, _, _ in keys], key_type),
                FILE: pa.array([f for _, f, _ in keys], pa.int32()),
                LINE: pa.array([n for _, _, n in keys], pa.int64()),
            }
        ),
    )
    every = exp.union(
        exp.select(
            exp.alias_(col(line), KEY, quoted=True),
            col(FILE),
            col(LINE),
            exp.alias_(exp.true(), KEPT, quoted=True),
        ).from_(relation(table)),
        exp.select(
            col(KEY), col(FILE), col(LINE), exp.alias_(exp.false(), KEPT, quoted=True)
        ).from_(relation(REJECTED_KEYS)),
        distinct=False,
    )
    shared = (
        exp.select(col(KEY))
        .from_(relation("k"))
        .group_by(col(KEY))
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    )
    query = (
        exp.select(col(KEY), col(FILE), col(LINE), col(KEPT))
        .from_(relation("k"))
        .where(exp.In(this=col(KEY), query=exp.Subquery(this=shared)))
        .order_by(col(KEY), col(FILE), col(LINE))
        .with_("k", as_=every)
    )
    found = con.execute(query.sql(DIALECT)).fetchall()
    con.unregister(REJECTED_KEYS)
    return [
        [(f, n, kept) for _, f, n, kept in places]
        for _, places in itertools.groupby(found, key=lambda t: t[0])
    ]


def _drop(con: duckdb.DuckDBPyConnection, table: str, places: list[tuple[int, int]]) -> None:
    """Delete the rows at these (file index, line) places."""
    con.register(
        DROPPED,
        pa.table(
            {
                FILE: pa.array([f for f, _ in places], pa.int32()),
                LINE: pa.array([n for _, n in places], pa.int64()),
            }
        ),
    )
    where = exp.In(
        this=exp.Tuple(expressions=[col(FILE), col(LINE)]),
        query=exp.Subquery(this=exp.select(col(FILE), col(LINE)).from_(relation(DROPPED))),
    )
    con.execute(exp.delete(relation(table), where=where).sql(DIALECT))
    con.unregister(DROPPED)
