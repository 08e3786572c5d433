"""The CSV reader in chunks: the rows streamed into DuckDB, in chunks of any size, are the
rows and rejections the Python reader gives in one piece, duplicates across chunks and files
included."""

from __future__ import annotations

from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimlint.checker.columnar_csv import load_csv
from claimlint.checker.readers import CsvReader, read_csv_files
from claimlint.dsl.schema import Field, Role, Schema
from claimlint.dsl.types import Type

SCHEMA = Schema(
    name="claims",
    title="Lignes facturées",
    fields=(
        Field("line_id", Type.TEXT, required=True, role=Role.LINE),
        Field("claim_id", Type.TEXT, required=True, role=Role.CLAIM),
        Field("service_date", Type.DATE, required=True, role=Role.DATE),
        Field("amount", Type.MONEY, required=True, role=Role.AMOUNT),
        Field("quantity", Type.INTEGER, required=False, default=1),
    ),
)
HEADER = "line_id;claim_id;service_date;amount;quantity"
ROWS = st.lists(
    st.tuples(
        st.sampled_from(["L1", "L2", "L3", "L4", "L5", "L6", ""]),
        st.sampled_from(["2025-03-04", "04/03/2025", "hier"]),
        st.sampled_from(["15,00", "7", "abc"]),
    ).map(lambda t: f"{t[0]};C1;{t[1]};{t[2]};"),
    max_size=12,
)


def streamed(paths: list[Path], chunk_rows: int) -> tuple[int, list, list]:
    con = duckdb.connect()
    read, rejected = load_csv(con, paths, SCHEMA, "lines", chunk_rows=chunk_rows)
    # Each row: the schema's columns, then the file's index and the line.
    rows = [(*r[:-2], r[-1]) for r in con.execute("SELECT * FROM lines").fetchall()]
    return read, sorted(rows), sorted(rejected, key=lambda r: (r.file, r.line))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=ROWS, second=ROWS, chunk_rows=st.integers(1, 4))
def test_chunks_streamed_into_duckdb_equal_the_rows_read_at_once(
    tmp_path_factory, first: list[str], second: list[str], chunk_rows: int
) -> None:
    folder = tmp_path_factory.mktemp("chunks")
    paths = []
    for name, rows in (("a.csv", first), ("b.csv", second)):
        path = folder / name
        path.write_text("\n".join([HEADER, *rows, ""]), encoding="utf-8")
        paths.append(path)
    batch = read_csv_files(paths, SCHEMA)
    read, rows, rejected = streamed(paths, chunk_rows)
    assert read == batch.read == len(first) + len(second)
    names = [f.name for f in SCHEMA.fields]
    assert rows == sorted(
        (*(row[n] for n in names), line) for row, line in zip(batch.rows, batch.lines, strict=True)
    )
    assert rejected == sorted(batch.rejected, key=lambda r: (r.file, r.line))
    assert read == len(rows) + len(rejected)


def test_chunks_have_the_size_asked(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    rows = [f"L{i};C1;2025-03-04;15,00;" for i in range(7)]
    path.write_text("\n".join([HEADER, *rows, "bad;C1;hier;1;"]), encoding="utf-8")
    reader = CsvReader(path, SCHEMA)
    sizes = [(len(chunk), lines) for chunk, lines in reader.chunks(3)]
    assert sizes == [(3, [2, 3, 4]), (3, [5, 6, 7]), (1, [8])]
    assert (reader.read, [r.line for r in reader.rejected]) == (8, [9])
    assert reader.rejected_keys == [("bad", 9)]
