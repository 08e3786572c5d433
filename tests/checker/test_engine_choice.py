"""`--engine auto`: the interpreter for a small batch, the columnar engine for a large one;
Parquet, compressed, is measured in rows (read from the files' footers), other inputs in
bytes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from claimlint.checker import run


def parquet(path: Path, rows: int) -> Path:
    pq.write_table(pa.table({"line_id": [f"L{i}" for i in range(rows)]}), path)
    return path


def test_a_small_parquet_batch_goes_to_the_interpreter(tmp_path: Path):
    files = [parquet(tmp_path / "a.parquet", 3), parquet(tmp_path / "b.parquet", 2)]
    assert run.choose_engine("auto", "parquet", files) == "python"
    assert run.choose_engine("duckdb", "parquet", files) == "duckdb"


def test_parquet_rows_above_the_threshold_go_to_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(run, "AUTO_DUCKDB_ROWS", 4)
    files = [parquet(tmp_path / "a.parquet", 3), parquet(tmp_path / "b.parquet", 2)]
    assert run.choose_engine("auto", "parquet", files) == "duckdb"
    assert run.choose_engine("auto", "parquet", files[:1]) == "python"


def test_an_unreadable_parquet_file_goes_to_duckdb_which_says_why(tmp_path: Path):
    broken = tmp_path / "broken.parquet"
    broken.write_text("line_id\nL1\n", encoding="utf-8")
    assert run.choose_engine("auto", "parquet", [broken]) == "duckdb"


def test_csv_is_measured_in_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "claims.csv"
    path.write_text("line_id\nL1\n", encoding="utf-8")
    assert run.choose_engine("auto", "csv", [path]) == "python"
    monkeypatch.setitem(run.AUTO_DUCKDB_BYTES, "csv", 5)
    assert run.choose_engine("auto", "csv", [path]) == "duckdb"


def test_json_lines_take_more_bytes_than_csv_to_go_to_duckdb(tmp_path: Path):
    """Both engines read JSON Lines in Python, and a JSON line spells out every column's
    name: the same batch is about four times its CSV's bytes."""
    size = 2 * 1024 * 1024
    csv, jsonl = tmp_path / "claims.csv", tmp_path / "claims.jsonl"
    csv.write_bytes(b"x" * size)
    jsonl.write_bytes(b"x" * size)
    assert run.choose_engine("auto", "csv", [csv]) == "duckdb"
    assert run.choose_engine("auto", "jsonl", [jsonl]) == "python"
