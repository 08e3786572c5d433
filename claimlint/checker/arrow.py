"""Typed Python rows as Arrow tables, the form the engines read rows from Python in.

Its own module so that importing an engine does not import pyarrow: pyarrow's first
conversion of Python values also imports pandas, half a second that a check whose rows all
come from Parquet files never needs to pay (see DuckDBEngine._register_rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
from sqlglot import exp

from claimlint.checker.sql import create_as, relation
from claimlint.dsl.schema import Schema
from claimlint.dsl.types import Type

ARROWED = "claimlint_arrowed"  # rows on their way into a table (create_table)
ARROW_TYPES = {
    Type.TEXT: pa.string(),
    Type.INTEGER: pa.int64(),
    Type.DECIMAL: pa.decimal128(18, 6),
    Type.MONEY: pa.decimal128(18, 2),
    Type.DATE: pa.date32(),
    Type.TIME: pa.time64("us"),
    Type.BOOLEAN: pa.bool_(),
}


def arrow_table(schema: Schema, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    arrow_schema = pa.schema([(f.name, ARROW_TYPES[f.type]) for f in schema.fields])
    columns: dict[str, list] = {f.name: [] for f in schema.fields}
    for row in rows:
        for name, values in columns.items():
            values.append(row[name])
    return pa.table(columns, schema=arrow_schema)


def create_table(con, name: str, rows: pa.Table, temporary: bool = True) -> None:
    """The DuckDB table `name` holding a copy of `rows` (see sql.create_as for
    `temporary`); `rows` is seen by DuckDB only for the statement."""
    con.register(ARROWED, rows)
    statement = create_as(
        name, exp.select(exp.Star()).from_(relation(ARROWED)), temporary=temporary
    )
    con.execute(statement.sql(dialect="duckdb"))
    con.unregister(ARROWED)
