"""The columnar engine on DuckDB: the plan of checker/columnar.py run by an embedded DuckDB.

Inputs come as rows already read in Python (CSV, JSON Lines, examples: registered as Arrow),
or as Parquet files read and validated inside DuckDB (checker/columnar_input.py). Reference
tables, read in Python, are passed as lists when small (see LIST_VALUES).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import duckdb
from sqlglot import exp

from claimlint.checker import sql_json
from claimlint.checker.columnar import INPUT, ColumnarEngine, Found, Shape
from claimlint.checker.columnar_input import load_arrow, load_parquet
from claimlint.checker.progress import Progress
from claimlint.checker.readers import Batch, Rejection
from claimlint.checker.sql import alias, create_as, relation, sql_type
from claimlint.checker.violations import JsonLines, Rendered, Violation, names_patient
from claimlint.dsl import model as m
from claimlint.dsl.schema import Schema

if TYPE_CHECKING:
    import pyarrow as pa

# Up to this many values (rows x columns), a reference table is passed to DuckDB as one list
# per column: 0.3 us a value, 0.16 s at the limit. Through Arrow it costs 0.03 us a value,
# after pyarrow's import: 0.1 s, 0.3 s with the pandas its first conversion imports when
# pandas is installed.
LIST_VALUES = 500_000
# A rule's flagged rows, when the engine writes their records (checker/sql_json.py).
FOUND = "claimlint_found"
# Rules whose queries run at once, each on a cursor of its own. A line rule's query reads a
# few thousand flagged lines, one row group, so DuckDB runs it on one thread: a second query
# beside it uses the other core (at 1M lines, the rules took 1.13 s instead of 1.42 s).
WORKERS = 2


class DuckDBEngine(ColumnarEngine):
    dialect = "duckdb"
    wide_products = True
    background = True  # DuckDB lets go of Python's lock while it works

    def __init__(
        self,
        rulebook: m.Rulebook,
        con: duckdb.DuckDBPyConnection | None = None,
        own: bool | None = None,
    ):
        """`own`: whether the connection is the engine's alone (so by default when it opens
        it). Its relations are then tables and views of the database rather than temporary
        ones, and the rules' queries run on several cursors at once, which read them; on a
        connection of the caller's, they are temporary and the rules run one at a time."""
        super().__init__(rulebook)
        self.shared = con is None if own is None else own
        if con is None:
            con = duckdb.connect()
            con.execute("SET enable_progress_bar_print = false")  # see run.connect
        # DuckDB turns a long IN list into a join with every line, even inside a CASE branch
        # that few lines reach (a decision table's rows, a rule's later tests): the plan's
        # CASEs exist so that those tests run only where needed.
        con.execute("SET disabled_optimizers = 'in_clause'")
        self.con = con
        # An Arrow table registered (a large reference, history lines) is a view of this
        # connection alone: the rules then run on it, one at a time.
        self._registered = False
        self._cursors: list[duckdb.DuckDBPyConnection] = []  # the rule threads'
        self._idle: list[duckdb.DuckDBPyConnection] = []  # not yet given to a rule thread
        self._worker = threading.local()  # a rule thread's cursor
        self._warm_calendar()

    # -- loading
    def load_batch(
        self,
        batch: Batch | None,
        references: Mapping[str, Batch],
        only: Iterable[str] | None = None,
    ) -> None:
        """Rows already read and validated in Python (JSON Lines, examples); None when the
        input table is already filled (CSV streamed in chunks by columnar_csv.load_csv).
        On the engine's own connection the rows are copied into a table, which the rule
        threads' cursors read (a registered Arrow table is a view of one connection)."""
        if batch is not None:
            from claimlint.checker.arrow import arrow_table, create_table

            rows = arrow_table(self.rulebook.input, batch.rows)
            self._drop(INPUT)
            if self.shared:
                create_table(self.con, INPUT, rows, temporary=False)
            else:
                self._register(INPUT, rows)
        self._prepare_shown(references, only)

    def load_parquet(
        self,
        paths: list[str],
        references: Mapping[str, Batch],
        mapping: Mapping[str, str] | None = None,
        only: Iterable[str] | None = None,
    ) -> tuple[int, list[Rejection]]:
        """Parquet files read and validated inside DuckDB; returns rows read and rejections."""
        self._drop(INPUT)
        read, rejected = load_parquet(
            self.con, paths, self.rulebook.input, INPUT, mapping, temporary=not self.shared
        )
        self._prepare_shown(references, only)
        return read, rejected

    def load_arrow(
        self,
        table: pa.Table,
        references: Mapping[str, Batch],
        name: str = "<arrow>",
        mapping: Mapping[str, str] | None = None,
        only: Iterable[str] | None = None,
    ) -> tuple[int, list[Rejection]]:
        """An Arrow table from the caller's pipeline, validated as a Parquet file would be."""
        self._drop(INPUT)
        read, rejected = load_arrow(
            self.con, table, name, self.rulebook.input, INPUT, mapping, temporary=not self.shared
        )
        self._prepare_shown(references, only)
        return read, rejected

    def _prepare_shown(self, references: Mapping[str, Batch], only: Iterable[str] | None) -> None:
        with Progress(self.con, 1) as progress:
            progress.step("lecture des lignes")
            self._prepare(references, only)

    def _drop(self, name: str) -> None:
        """Drop `name`, an Arrow view, a view or a table: an engine loaded again may meet the
        other kind under a name, which DuckDB replaces with neither of the others."""
        self.con.unregister(name)
        for kind in ("VIEW", "TABLE"):
            drop = exp.Drop(tables=[relation(name)], kind=kind, exists=True)
            with contextlib.suppress(duckdb.CatalogException):  # of the other kind
                self.con.execute(drop.sql(dialect=self.dialect))

    # -- hooks
    def _register(self, name: str, table: pa.Table) -> None:
        self._registered = True
        self.con.register(name, table)

    def _register_rows(self, name: str, schema: Schema, rows: Sequence[Mapping[str, Any]]) -> None:
        self._drop(name)
        if len(rows) * len(schema.fields) > LIST_VALUES:
            super()._register_rows(name, schema, rows)
            return
        columns = []
        for f in schema.fields:
            array = exp.DataType(
                this=exp.DataType.Type.ARRAY, expressions=[sql_type(f.type)], nested=True
            )
            column = exp.Unnest(expressions=[exp.cast(exp.Placeholder(), array, copy=False)])
            columns.append(alias(column, f.name))
        # The lists are parameters, never SQL text: a value is data whatever it holds.
        self._create(
            name,
            exp.select(*columns, copy=False),
            "TABLE",
            [[row[f.name] for row in rows] for f in schema.fields],
        )

    def _materialize(self, name: str, query: exp.Expression) -> None:
        self._create(name, query, "TABLE")

    def _view(self, name: str, query: exp.Expression) -> None:
        self._create(name, query, "VIEW")

    def _create(
        self,
        name: str,
        query: exp.Expression,
        kind: str,
        parameters: list | None = None,
        temporary: bool = False,
    ) -> None:
        """`temporary`: the connection's own, whatever the engine's relations are."""
        self._con().execute(self._statement(name, query, kind, temporary), parameters)

    def _statement(self, name: str, query: exp.Expression, kind: str, temporary: bool) -> str:
        temporary = temporary or not self.shared
        return create_as(name, query, kind, temporary).sql(dialect=self.dialect, copy=False)

    def _printed(self, name: str, query: exp.Expression) -> Callable[[], None]:
        statement = self._statement(name, query, "TABLE", temporary=False)
        return lambda: self._con().execute(statement)

    def _fetch(self, query: exp.Expression) -> list[tuple]:
        return self._con().execute(query.sql(dialect=self.dialect, copy=False)).fetchall()

    def _con(self) -> duckdb.DuckDBPyConnection:
        """The connection of this thread: a rule thread's cursor, else the engine's."""
        return getattr(self._worker, "con", None) or self.con

    def _workers(self) -> int:
        return WORKERS if self.shared and not self._registered else 1

    def _worker_started(self) -> None:
        if self._idle:  # else the one rule thread uses the engine's connection
            self._worker.con = self._idle.pop()

    def run_all(self, sink=None, json_lines: JsonLines | None = None) -> list[Violation | Rendered]:
        if self._workers() > 1:
            # Made here: a connection refuses a call from one thread while it serves another.
            self._cursors = [self.con.cursor() for _ in range(self._workers())]
            for cursor in self._cursors:
                cursor.execute("SET enable_progress_bar_print = false")  # see run.connect
            self._idle = list(self._cursors)
        try:
            return super().run_all(sink, json_lines)
        finally:  # the rule threads have ended
            for cursor in self._cursors:
                cursor.close()
            self._cursors = self._idle = []

    def _found(self, rule: m.Rule, shape: Shape, query: exp.Expression) -> Found:
        """In a JSON Lines run, the records' lines written by DuckDB from the rule's rows,
        kept in a table so that their types are known; the rows themselves when a type
        (or a patient named where reports pseudonymise) keeps the records in Python."""
        wanted = self._json_lines
        if (
            wanted is None
            or self.history is not None
            or (wanted.pseudonymised and names_patient(rule))
        ):
            return super()._found(rule, shape, query)
        self._create(FOUND, query, "TABLE", temporary=True)  # each rule thread's own
        described = exp.Describe(this=relation(FOUND)).sql(dialect=self.dialect)
        columns = [(name, type_) for name, type_, *_ in self._con().execute(described).fetchall()]
        lines = sql_json.line_query(rule, shape.placeholders, shape.calls, FOUND, columns)
        if lines is None:
            return Found(self._fetch(exp.select(exp.Star()).from_(relation(FOUND))), rendered=False)
        return Found(self._fetch(lines), rendered=True)

    def _connections(self) -> tuple[duckdb.DuckDBPyConnection, ...]:
        """The engine's connection and its rule threads' cursors."""
        return (self.con, *self._cursors)

    def _interrupt(self) -> None:
        for con in self._connections():
            con.interrupt()

    def _progress(self, steps: int) -> Progress:
        return Progress(_Connections(self), steps)


class _Connections:
    """The engine's connection and its rule threads' cursors, seen by `Progress` as one
    connection: settings go to each, and the progress shown is the furthest of their
    queries'."""

    def __init__(self, engine: DuckDBEngine):
        self.engine = engine

    def execute(self, statement: str) -> None:
        for con in self.engine._connections():
            con.execute(statement)

    def query_progress(self) -> float:
        return max(con.query_progress() for con in self.engine._connections())


def check(
    rulebook: m.Rulebook,
    batch: Batch,
    references: Mapping[str, Batch] | None = None,
    only: Iterable[str] | None = None,
    json_lines: JsonLines | None = None,
) -> list[Violation | Rendered]:
    """Every violation of the rulebook's rules (or of `only` those), as the interpreter's;
    with `json_lines`, those the engine writes itself as `Rendered` records."""
    engine = DuckDBEngine(rulebook)
    engine.load_batch(batch, references or {}, only)
    return engine.run_all(json_lines=json_lines)
