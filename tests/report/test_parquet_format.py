"""`--format parquet`: the same records as JSON Lines, typed, for a lake or a notebook."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from claimlint.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"
BATCH = [str(EXAMPLES / "claims.csv"), "--providers", str(EXAMPLES / "providers.csv")]


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_parquet_holds_the_jsonl_records_typed(tmp_path: Path, engine: str) -> None:
    runner = CliRunner()
    out = tmp_path / "violations.parquet"
    written = runner.invoke(
        main, ["check", *BATCH, "--engine", engine, "--format", "parquet", "-o", str(out)]
    )
    assert written.exit_code == 1
    lines = runner.invoke(main, ["check", *BATCH, "--engine", engine, "--format", "jsonl"])
    records = [json.loads(line) for line in lines.stdout.splitlines()]

    table = pq.read_table(out)
    assert str(table.schema.field("amount_at_stake").type) == "decimal128(18, 2)"
    assert str(table.schema.field("service_date").type) == "date32[day]"
    rows = table.to_pylist()
    assert [r["rule"] for r in rows] == [r["rule"] for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row["amount_at_stake"] == Decimal(record["amount_at_stake"])
        assert row["service_date"].isoformat() == record["service_date"]
        assert json.loads(row["details"]) == record["details"]
        assert {k: row[k] for k in ("message", "line_id", "source", "location")} == {
            k: record[k] for k in ("message", "line_id", "source", "location")
        }
    # Same input, same bytes.
    again = tmp_path / "again.parquet"
    runner.invoke(
        main, ["check", *BATCH, "--engine", engine, "--format", "parquet", "-o", str(again)]
    )
    assert again.read_bytes() == out.read_bytes()
