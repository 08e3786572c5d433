"""`check --select/--ignore/--severity/--statistics` on the sample claims."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from claimlint.cli import main

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "examples" / "claims.csv"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["check", str(CLAIMS), *map(str, args)])


def by_rule(result: Result) -> dict[str, dict]:
    return json.loads(result.stdout)["summary"]["by_rule"]


def test_select_keeps_only_the_prefix() -> None:
    result = invoke("--select", "SNP", "--format", "json")
    assert result.exit_code == 1
    assert set(by_rule(result)) == {"SNP-CAP"}


def test_ignore_drops_the_prefix() -> None:
    result = invoke("--ignore", "TLC", "--format", "json")
    assert result.exit_code == 1
    assert set(by_rule(result)) == {"SNP-CAP", "YYYY010-FOLLOWUP"}


def test_codes_are_comma_separated_and_repeatable() -> None:
    result = invoke("--select", "SNP,TLC-URG", "--select", "TLC-CAP-PSY", "--format", "json")
    assert set(by_rule(result)) == {"SNP-CAP", "TLC-URG", "TLC-CAP-PSY"}
    result = invoke("--ignore", "TLC", "--select", "ALL,TLC-URG", "--format", "json")
    assert set(by_rule(result)) == {"SNP-CAP", "TLC-URG", "YYYY010-FOLLOWUP"}


def test_severity_override() -> None:
    result = invoke("--severity", "SNP-CAP=warning", "--format", "json")
    summary = json.loads(result.stdout)["summary"]
    assert summary["by_severity"] == {"error": 5, "warning": 1, "info": 0}
    assert result.exit_code == 1  # the other rules still find errors
    result = invoke("--select", "SNP", "--severity", "SNP-CAP=warning")
    assert result.exit_code == 0
    result = invoke("--select", "SNP", "--severity", "SNP-CAP=warning", "--fail-on", "warning")
    assert result.exit_code == 1


def test_unknown_code() -> None:
    result = invoke("--select", "SPN")
    assert result.exit_code == 2
    assert "--select « SPN » : aucune règle du recueil ne correspond" in result.stderr
    assert "vouliez-vous dire « SNP » ?" in result.stderr
    assert "Traceback" not in result.output


def test_bad_severity() -> None:
    result = invoke("--severity", "SNP-CAP")
    assert result.exit_code == 2
    assert "RÈGLE=GRAVITÉ" in result.stderr


def test_statistics() -> None:
    result = invoke("--statistics")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split()[:3] for line in lines[:4]] == [
        ["SNP-CAP", "1", "15,00"],
        ["TLC-CAP-PSY", "2", "135,00"],
        ["TLC-URG", "1", "35,00"],
        ["YYYY010-FOLLOWUP", "2", "120,00"],
    ]
    assert lines[0].endswith("€  Au plus 20 majorations SNP par médecin et par semaine")
    assert lines[4] == ""
    assert lines[5].startswith("6 violations (6 erreurs, 0 avertissement, 0 information)")
    assert "305,00 € en jeu" in lines[5]
    assert len(lines) == 6


def test_statistics_with_selection_and_override() -> None:
    result = invoke("--statistics", "--select", "SNP", "--severity", "SNP=warning")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].split()[:3] == ["SNP-CAP", "1", "15,00"]
    assert lines[2].startswith("1 violation (0 erreur, 1 avertissement, 0 information)")


def test_statistics_without_violations() -> None:
    result = invoke("--statistics", "--select", "GL")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("0 violation (0 erreur, 0 avertissement, 0 information)")


def test_statistics_is_text_only() -> None:
    result = invoke("--statistics", "--format", "json")
    assert result.exit_code == 2
    assert "--statistics" in result.stderr
