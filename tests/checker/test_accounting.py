"""Every row is accounted for (DESIGN.md): on fuzzed CSV files, rows read = rows checked +
rows rejected, on both engines, which agree; a file that cannot be read at all exits 2 with
our message, never a traceback."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimlint.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"
LINES = (EXAMPLES / "audit-2024-2026.csv").read_text(encoding="utf-8").splitlines()[:9]
COLUMNS = LINES[0].split(";")
VALID = [line.split(";") for line in LINES[1:]]
SHARED_IDS = ["D1", "D2", ""]
REQUIRED = ["line_id", "claim_id", "provider_id", "patient_id", "service_date", "amount"]
BAD_CELLS = {
    "service_date": ["2026-02-30", "hier", "14/13/2025"],
    "patient_birth_date": ["1960-00-01"],
    "amount": ["abc", "1.234,50", "15,001", "1 234", "-"],
    "setting": ["hopital", "Cabinet médical"],
    "quantity": ["1.5", "deux"],
    "urgent": ["peut-être"],
    "service_time": ["25:00", "7h"],
    "provider_sector": ["3"],
}


@st.composite
def mutated_row(draw: st.DrawFn) -> list[str]:
    cells = list(draw(st.sampled_from(VALID)))
    kind = draw(st.sampled_from(["valid", "valid", "bad cell", "empty", "id", "short", "long"]))
    if kind == "bad cell":
        column = draw(st.sampled_from(sorted(BAD_CELLS)))
        cells[COLUMNS.index(column)] = draw(st.sampled_from(BAD_CELLS[column]))
    elif kind == "empty":
        cells[COLUMNS.index(draw(st.sampled_from(REQUIRED)))] = draw(st.sampled_from(["", " "]))
    elif kind == "id":  # an id other rows may carry too
        cells[0] = draw(st.sampled_from(SHARED_IDS))
    elif kind == "short":
        cells = cells[: draw(st.integers(1, len(cells) - 1))]
    elif kind == "long":
        cells += draw(st.lists(st.sampled_from(["", "surplus"]), min_size=1, max_size=3))
    return cells


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """Valid rows mutated cell by cell, serialised, then damaged as text and as bytes."""
    delimiter = draw(st.sampled_from([";", ","]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(COLUMNS)
    for number, cells in enumerate(draw(st.lists(mutated_row(), max_size=12))):
        if cells[0] not in SHARED_IDS:
            cells[0] = f"R{number}"  # else the sampled rows would all be duplicates
        writer.writerow(cells)
    lines = out.getvalue().splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 3))):  # stray quotes, separators, blank lines
        at = draw(st.integers(1, len(lines)))
        damage = draw(st.sampled_from(['"', delimiter, "\n", f'"{delimiter}x"']))
        if at < len(lines):
            line = lines[at]
            cut = draw(st.integers(0, len(line) - 1))
            lines[at] = line[:cut] + damage + line[cut:]
        else:
            lines.append(damage)
    text = "".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])))
    for _ in range(draw(st.integers(0, 2))):  # random bytes somewhere after the header
        start = len(LINES[0])
        at = draw(st.integers(min(start, len(data)), len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


def run(path: Path, engine: str) -> Result:
    args = ["check", str(path), "--engine", engine, "--format", "json", "--select", "SNP-CAP"]
    return CliRunner().invoke(main, args)


@settings(  # as many examples as the profile says: 30 in CI, 2,000 nightly
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=csv_files())
def test_rows_read_are_checked_or_rejected_on_both_engines(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "claims.csv"
    path.write_bytes(data)
    python, duckdb = run(path, "python"), run(path, "duckdb")
    for result in (python, duckdb):
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert python.exit_code == duckdb.exit_code
    if python.exit_code == 2:  # the whole file is refused, with our positioned message
        assert python.stderr == duckdb.stderr
        assert python.stderr.startswith(str(path)) and python.stdout == ""
        return
    assert python.exit_code in (0, 1)
    summaries = [json.loads(r.stdout)["summary"] for r in (python, duckdb)]
    assert summaries[0] == summaries[1]
    summary = summaries[0]
    assert summary["read"] == summary["checked"] + summary["rejected"]
    assert summary["rejected"] == len(summary["rejections"])
