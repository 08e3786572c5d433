"""Golden files for every `claimlint check --format` on the example batch, and `--output`.

The golden files in `golden/` are the exact bytes expected; `CLAIMLINT_REGEN=1 pytest
tests/report/test_formats.py` rewrites them after an intended change (review the diff).
"""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimlint.cli import main
from claimlint.dsl.loader import DEFAULT_RULEBOOK, load
from claimlint.report.tabular import BOM, COLUMNS

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
BATCH = ["examples/claims.csv", "--providers", "examples/providers.csv"]

CASES = {
    "text.txt": ["--format", "text"],
    "json.json": ["--format", "json"],
    "jsonl.jsonl": ["--format", "jsonl"],
    "csv-standard.csv": ["--format", "csv"],
    "csv-fr.csv": ["--format", "csv", "--csv-dialect", "fr"],
    "junit.xml": ["--format", "junit"],
    "html.html": ["--format", "html"],
}


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def check(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", *BATCH, *args])


def violations() -> list[dict]:
    result = check("--format", "jsonl")
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("golden", sorted(CASES))
def test_golden(golden: str) -> None:
    result = check(*CASES[golden])
    assert result.exit_code == 1, result.output  # the example batch has errors
    path = GOLDEN / golden
    if os.environ.get("CLAIMLINT_REGEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(result.stdout_bytes)
    assert result.stdout_bytes == path.read_bytes(), f"{golden} differs (CLAIMLINT_REGEN=1)"


@pytest.mark.parametrize("golden", sorted(CASES))
def test_output_file_is_the_same_report(golden: str, tmp_path: Path) -> None:
    target = tmp_path / golden
    result = check(*CASES[golden], "--output", str(target))
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert target.read_bytes() == (GOLDEN / golden).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [golden]  # no temp file left


def test_output_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "report.jsonl"
    target.write_text("old\n", encoding="utf-8")
    assert check("--format", "jsonl", "-o", str(target)).exit_code == 1
    assert target.read_bytes() == (GOLDEN / "jsonl.jsonl").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["report.jsonl"]


@pytest.mark.parametrize("where", ["missing/report.csv", "a-file/report.csv"])
def test_unwritable_output_is_a_french_error(where: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    target = tmp_path / where
    result = check("--format", "csv", "--output", str(target))
    assert result.exit_code == 2
    assert "écriture du rapport impossible" in result.stderr
    assert "Traceback" not in result.output
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_failed_check_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    result = CliRunner().invoke(
        main, ["check", str(tmp_path / "nowhere.csv"), "--output", str(target)]
    )
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_junit_has_one_suite_per_rule() -> None:
    result = check("--format", "junit")
    root = ET.fromstring(result.stdout_bytes)
    rulebook = load(DEFAULT_RULEBOOK)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == sorted(r.id for r in rulebook.rules)
    found = violations()
    assert root.get("failures") == str(len(found))
    for suite in suites:
        rule = suite.get("name")
        mine = [v for v in found if v["rule"] == rule]
        cases = suite.findall("testcase")
        assert suite.get("failures") == str(len(mine))
        assert int(suite.get("tests")) > 0
        if not mine:
            assert len(cases) == 1 and cases[0].find("failure") is None
            continue
        assert len(cases) == len(mine)
        for case, v in zip(cases, mine, strict=True):
            assert case.get("classname") == rule
            assert case.get("name") == (v["line_id"] or v["provider_id"])
            failure = case.find("failure")
            assert failure.get("type") == v["severity"]
            assert failure.get("message") == v["message"]
            assert v["source"] in failure.text


@pytest.mark.parametrize("dialect", ["standard", "fr"])
def test_csv_reads_back_one_row_per_violation(dialect: str) -> None:
    result = check("--format", "csv", "--csv-dialect", dialect)
    text = result.stdout_bytes.decode("utf-8")
    if dialect == "fr":
        assert text.startswith(BOM)
        text = text[len(BOM) :]
    else:
        assert not text.startswith(BOM)
    rows = list(
        csv.DictReader(io.StringIO(text, newline=""), delimiter=";" if dialect == "fr" else ",")
    )
    found = violations()
    assert len(rows) == len(found) > 0
    for row, v in zip(rows, found, strict=True):
        assert list(row) == list(COLUMNS)
        assert json.loads(row["details"]) == v["details"]
        amount = v["amount_at_stake"].replace(".", ",") if dialect == "fr" else v["amount_at_stake"]
        assert row["amount_at_stake"] == amount
        for column in ("rule", "severity", "message", "source", "location"):
            assert row[column] == v[column]
        assert row["line_id"] == (v["line_id"] or "")
