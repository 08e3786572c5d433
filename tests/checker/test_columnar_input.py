"""Parquet and Arrow inputs are validated inside DuckDB with the CSV reader's own reasons."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from claimlint.checker.duckdb_engine import DuckDBEngine
from claimlint.checker.readers import read_csv
from claimlint.dsl.loader import load
from claimlint.errors import InputError

EXAMPLES = Path(__file__).parents[2] / "examples"

BAD_CELLS = {
    1: ("service_date", "2025-02-30"),
    2: ("amount", "douze"),
    3: ("amount", "123456789012345678.00"),
    4: ("amount", "15,123"),
    5: ("setting", "domicile?"),
    6: ("act_code", ""),
    7: ("quantity", "1.5"),
    8: ("quantity", "99999999999999999999"),
    9: ("service_time", "25:00"),
    10: ("treating_doctor", "peut-être"),
    11: ("line_id", "L0001"),
}


def _rows() -> list[dict[str, str]]:
    with open(EXAMPLES / "claims.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))[:14]
    for number, (column, value) in BAD_CELLS.items():
        rows[number][column] = value
    return rows


def test_text_parquet_rejects_each_bad_cell_with_the_csv_readers_reason(tmp_path: Path) -> None:
    book = load("convention-2024")
    rows = _rows()
    names = list(rows[0])
    with open(tmp_path / "lot.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, names, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    pq.write_table(pa.table({n: [r[n] for r in rows] for n in names}), tmp_path / "lot.parquet")

    from_csv = read_csv(tmp_path / "lot.csv", book.input)
    read, rejected = DuckDBEngine(book).load_parquet([str(tmp_path / "lot.parquet")], {})

    assert read == from_csv.read == len(rows)
    # A CSV line is its Parquet row plus one: the header.
    assert [(r.line, r.column, r.reason) for r in rejected] == [
        (
            r.line - 1,
            r.column,
            r.reason.replace("ligne 13", "ligne 12").replace("ligne 2", "ligne 1"),
        )
        for r in from_csv.rejected
    ]
    assert {r.line for r in rejected} == {n + 1 for n in BAD_CELLS} | {1}


def test_typed_parquet_columns_keep_exact_values_and_refuse_what_would_be_rounded(
    tmp_path: Path,
) -> None:
    book = load("convention-2024")
    rows = _rows()[12:14]  # two valid rows
    table = pa.table({n: [r[n] for r in rows] for n in rows[0]})
    amounts = pa.array([Decimal("30.000"), Decimal("30.005")], pa.decimal128(20, 3))
    table = table.set_column(table.schema.get_field_index("amount"), "amount", amounts)
    quantities = pa.array([1, 2], pa.int64())
    table = table.set_column(table.schema.get_field_index("quantity"), "quantity", quantities)
    pq.write_table(table, tmp_path / "typed.parquet")
    engine = DuckDBEngine(book)
    read, rejected = engine.load_parquet([str(tmp_path / "typed.parquet")], {})
    assert read == 2
    assert [(r.line, r.column, r.reason) for r in rejected] == [
        (2, "amount", "montant invalide « 30.005 » (2 décimales au plus)")
    ]
    kept = engine.con.execute("SELECT amount, quantity FROM claimlint_input").fetchall()
    assert kept == [(Decimal("30.00"), 1)]


@pytest.mark.parametrize("width", [(18, 2), (10, 0)])
def test_a_decimal_column_that_always_fits_needs_no_text_check(
    tmp_path: Path, width: tuple[int, int]
) -> None:
    book = load("convention-2024")
    rows = _rows()[12:14]
    table = pa.table({n: [r[n] for r in rows] for n in rows[0]})
    amounts = pa.array([Decimal(30), Decimal(26)], pa.decimal128(*width))
    table = table.set_column(table.schema.get_field_index("amount"), "amount", amounts)
    pq.write_table(table, tmp_path / "typed.parquet")
    read, rejected = DuckDBEngine(book).load_parquet([str(tmp_path / "typed.parquet")], {})
    assert (read, rejected) == (2, [])


def _reason_sql(name: str, source_type: str) -> str | None:
    from claimlint.checker.columnar_input import cell_reason, cell_value

    field = load("convention-2024").input.field(name)
    value = cell_value(field, name, source_type)
    reason = cell_reason(field, name, value, source_type)
    return None if reason is None else reason.sql("duckdb")


def test_a_typed_column_whose_every_value_converts_is_tested_only_for_emptiness() -> None:
    # An optional column of the field's own type: no test at all.
    assert _reason_sql("service_time", "TIME") is None
    assert _reason_sql("quantity", "BIGINT") is None
    # A required one: only the empty cell.
    required = _reason_sql("service_date", "DATE")
    assert required is not None and "champ obligatoire vide" in required
    assert "date invalide" not in required
    # Text, or a type that may not convert, or a list of allowed values: every test stays.
    assert "date invalide" in (_reason_sql("service_date", "VARCHAR") or "")
    assert "trop grand" in (_reason_sql("quantity", "HUGEINT") or "")
    assert "valeur non admise" in (_reason_sql("setting", "VARCHAR") or "")


def test_typed_columns_still_reject_empty_required_and_oversized_cells(tmp_path: Path) -> None:
    book = load("convention-2024")
    rows = _rows()[12:14]
    rows.append({**rows[1], "line_id": "L-TROIS"})
    table = pa.table({n: [r[n] for r in rows] for n in rows[0]})
    typed = {
        "service_date": pa.array([None, "2025-03-04", "2025-03-04"]).cast(pa.date32()),
        "service_time": pa.array([None, None, None], pa.time64("us")),
        "quantity": pa.array([1, 1, 10**20], pa.decimal128(38, 0)),
    }
    for name, values in typed.items():
        table = table.set_column(table.schema.get_field_index(name), name, values)
    pq.write_table(table, tmp_path / "typed.parquet")
    engine = DuckDBEngine(book)
    read, rejected = engine.load_parquet([str(tmp_path / "typed.parquet")], {})
    assert read == 3
    assert [(r.line, r.column, r.reason) for r in rejected] == [
        (1, "service_date", "champ obligatoire vide"),
        (3, "quantity", "entier invalide « 100000000000000000000 » (trop grand)"),
    ]
    kept = engine.con.execute("SELECT service_time, quantity FROM claimlint_input").fetchall()
    assert kept == [(None, 1)]


def test_rejections_of_several_files_name_each_file_in_name_order(tmp_path: Path) -> None:
    """The staged rows carry their file's number; rejections name the file, in name and row
    order whatever the order the files were given in, and a line id repeated across files
    says where else it is."""
    book = load("convention-2024")
    rows = _rows()[12:14]
    first, second = dict(rows[0]), dict(rows[1])
    for path, lines in (
        (tmp_path / "b.parquet", [first, {**second, "service_date": "2025-02-30"}]),
        (tmp_path / "a.parquet", [{**second, "line_id": first["line_id"]}]),
    ):
        pq.write_table(pa.table({n: [r[n] for r in lines] for n in lines[0]}), path)
    a, b = str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")
    read, rejected = DuckDBEngine(book).load_parquet([b, a], {})
    line_id = first["line_id"]
    assert read == 3
    assert [(r.file, r.line, r.column, r.reason) for r in rejected] == [
        (a, 1, "line_id", f"identifiant de ligne « {line_id} » en double (aussi ligne {b}:1)"),
        (b, 1, "line_id", f"identifiant de ligne « {line_id} » en double (aussi ligne {a}:1)"),
        (b, 2, "service_date", "date invalide « 2025-02-30 » (attendu AAAA-MM-JJ ou JJ/MM/AAAA)"),
    ]


def test_a_file_duckdb_cannot_read_is_named_with_its_reason_and_not_our_sql(
    tmp_path: Path,
) -> None:
    """DuckDB's error goes on with the statement it ran and a caret under it: the user gets
    the file and DuckDB's reason, never claimlint's SQL."""
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"garbage")
    with pytest.raises(InputError) as raised:
        DuckDBEngine(load("convention-2024")).load_parquet([str(bad)], {})
    message = raised.value.render()
    assert message.startswith(f"{bad} : lecture Parquet impossible (")
    assert "too small to be a Parquet file" in message
    assert "\n" not in message
    assert "SELECT" not in message.upper()
