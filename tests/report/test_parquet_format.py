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


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_folder_receives_the_records_as_part_files(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from claimlint import cli

    monkeypatch.setattr(cli._PartsFolder, "PART", 3)  # 4 records: two parts
    runner = CliRunner()
    folder = tmp_path / "out"
    result = runner.invoke(main, ["check", *BATCH, "--format", fmt, "-o", f"{folder}/"])
    assert result.exit_code == 1
    assert sorted(p.name for p in folder.iterdir()) == [f"part-00000.{fmt}", f"part-00001.{fmt}"]
    lines = runner.invoke(main, ["check", *BATCH, "--format", "jsonl"])
    expected = [json.loads(line) for line in lines.stdout.splitlines()]
    if fmt == "jsonl":
        found = [
            json.loads(line)
            for part in sorted(folder.iterdir())
            for line in part.read_text(encoding="utf-8").splitlines()
        ]
        assert found == expected
    else:
        rows = [r for part in sorted(folder.iterdir()) for r in pq.read_table(part).to_pylist()]
        assert [(r["rule"], r["line_id"]) for r in rows] == [
            (r["rule"], r["line_id"]) for r in expected
        ]


def test_a_folder_must_be_empty_and_take_records(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    refused = runner.invoke(main, ["check", *BATCH, "--format", "jsonl", "-o", f"{tmp_path}/full/"])
    assert refused.exit_code == 2
    assert refused.output.endswith(
        f"{tmp_path}/full/ : ce dossier de rapport existe et n'est pas vide\n"
    )
    text = runner.invoke(main, ["check", *BATCH, "-o", f"{tmp_path}/report/"])
    assert text.exit_code == 2
    assert (
        f"{tmp_path}/report/ : un dossier reçoit --format jsonl ou parquet, pas text" in text.output
    )
    assert not (tmp_path / "report").exists()
