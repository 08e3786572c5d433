"""Arrow tables as input of the columnar engine: validated as Parquet files are, same results."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from claimlint.checker import interpreter
from claimlint.checker.arrow import arrow_table
from claimlint.checker.duckdb_engine import DuckDBEngine
from claimlint.checker.readers import read_csv
from claimlint.checker.run import read_references
from claimlint.dsl.loader import load

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_an_arrow_table_checks_like_the_same_rows_read_from_csv() -> None:
    book = load("convention-2024")
    batch = read_csv(EXAMPLES / "claims.csv", book.input)
    refs = read_references(book, {"provider": EXAMPLES / "providers.csv"})
    engine = DuckDBEngine(book)
    read, rejected = engine.load_arrow(arrow_table(book.input, batch.rows), refs, name="lot")
    assert (read, rejected) == (batch.read, [])
    assert engine.run_all() == interpreter.check(book, batch, refs)


def test_a_bad_cell_of_an_arrow_table_is_rejected_with_its_row_number() -> None:
    book = load("convention-2024")
    batch = read_csv(EXAMPLES / "claims.csv", book.input)
    table = arrow_table(book.input, batch.rows)
    # The amounts as text, one of them unreadable: its row is rejected, the others checked.
    amounts = [str(a) for a in table.column("amount").to_pylist()]
    amounts[2] = "douze"
    index = table.schema.get_field_index("amount")
    table = table.set_column(index, "amount", pa.array(amounts, pa.string()))
    engine = DuckDBEngine(book)
    read, rejected = engine.load_arrow(table, {}, name="lot du jour")
    assert read == batch.read
    assert [(r.file, r.line, r.column) for r in rejected] == [("lot du jour", 3, "amount")]
    assert rejected[0].reason.startswith("montant invalide « douze »")
    checked = {v.line_id for v in engine.run_all()}
    assert batch.rows[2]["line_id"] not in checked
