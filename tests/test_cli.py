"""The command-line contract: commands, formats, exit codes (README.md, DESIGN.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimlint.cli import main

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "examples" / "claims.csv"
PROVIDERS = ROOT / "examples" / "providers.csv"
SHIPPED = ROOT / "rulebooks" / "convention-2024"
HEADLINE = ("SNP-CAP", "TLC-URG", "YYYY010-FOLLOWUP", "TLC-CAP-PSY")

RECORD_KEYS = [
    "rule",
    "severity",
    "message",
    "line_id",
    "claim_id",
    "provider_id",
    "service_date",
    "amount_at_stake",
    "source",
    "location",
    "details",
]
AMOUNT = re.compile(r"-?[0-9]+\.[0-9]{2}")

CLAIMS_HEADER = (
    "line_id;claim_id;provider_id;provider_specialty;provider_sector;patient_id;"
    "patient_birth_date;service_date;act_code;amount"
)

MINI_HEADER = """\
rulebook mini "Recueil minimal" version "1"

input claims "Lignes"
  line_id       text   required  role line
  claim_id      text   required  role claim
  provider_id   text   required  role provider
  service_date  date   required  role date
  act_code      text   required
  amount        money  required  role amount

rule ACT-X "Le code X est à vérifier"
  severity warning
  source "test"
  always
  when act_code = "X"
  message "code {act_code} à vérifier"
"""

PASSING_EXAMPLE = """
example "X est signalé" for ACT-X
  claims
    | line_id | claim_id | provider_id | service_date | act_code | amount |
    | L1      | C1       | P1          | 2025-01-01   | X        | 1.00   |
  expect
    | rule  | line_id |
    | ACT-X | L1      |
"""

FAILING_EXAMPLE = """
example "Y serait signalé (à tort)" for ACT-X
  claims
    | line_id | claim_id | provider_id | service_date | act_code | amount |
    | L1      | C1       | P1          | 2025-01-01   | Y        | 1.00   |
  expect
    | rule  | line_id |
    | ACT-X | L1      |
"""


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def write_mini(tmp_path: Path, *examples: str, name: str = "mini.rules") -> Path:
    path = tmp_path / name
    path.write_text(MINI_HEADER + "".join(examples), encoding="utf-8")
    return path


def write_claims(tmp_path: Path, *lines: str, name: str = "claims.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([CLAIMS_HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def mini_claims(tmp_path: Path, code: str) -> Path:
    path = tmp_path / f"mini-{code}.csv"
    path.write_text(
        f"line_id;claim_id;provider_id;service_date;act_code;amount\nL1;C1;P1;2025-01-01;{code};1,00\n",
        encoding="utf-8",
    )
    return path


# ---------------------------------------------------------------------------- check


def test_check_sample_batch_exits_1_and_reports_the_four_headline_rules() -> None:
    result = invoke("check", CLAIMS, "--providers", PROVIDERS)
    no_traceback(result)
    assert result.exit_code == 1
    for rule in HEADLINE:
        assert rule in result.stdout
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert re.match(r"4 violations \(4 erreurs, 0 avertissement, 0 information\) ; ", last)
    assert "177,50 € en jeu" in last
    assert "lignes : 76 lues, 76 vérifiées, 0 rejetée" in last


def test_check_json_has_summary_and_contract_records() -> None:
    result = invoke("check", CLAIMS, "--providers", PROVIDERS, "--format", "json")
    no_traceback(result)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert list(document) == ["summary", "violations"]
    summary, violations = document["summary"], document["violations"]
    assert summary["violations"] == len(violations) == 4
    assert summary["read"] == summary["checked"] == 76
    assert summary["rejected"] == 0
    assert summary["amount_at_stake"] == "177.50"
    assert sorted(v["rule"] for v in violations) == sorted(HEADLINE)
    for record in violations:
        assert list(record) == RECORD_KEYS
        assert isinstance(record["amount_at_stake"], str)
        assert AMOUNT.fullmatch(record["amount_at_stake"]), record["amount_at_stake"]
        assert record["severity"] == "error"
        assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", record["service_date"])
        assert isinstance(record["details"], dict)
        assert record["line_id"] and record["provider_id"] and record["claim_id"]
    by_rule = {v["rule"]: v for v in violations}
    assert by_rule["SNP-CAP"]["line_id"] == "L0042"
    assert by_rule["SNP-CAP"]["amount_at_stake"] == "15.00"
    assert by_rule["SNP-CAP"]["details"]["count"] == 21
    assert by_rule["TLC-CAP-PSY"]["amount_at_stake"] == "67.50"
    for key in ("count", "total", "cap", "allowed"):
        assert key in by_rule["TLC-CAP-PSY"]["details"]


def test_check_jsonl_is_one_record_per_line_in_the_json_order() -> None:
    jsonl = invoke("check", CLAIMS, "--providers", PROVIDERS, "--format", "jsonl")
    no_traceback(jsonl)
    assert jsonl.exit_code == 1
    lines = jsonl.stdout.splitlines()
    assert len(lines) == 4
    records = [json.loads(line) for line in lines]
    for record in records:
        assert list(record) == RECORD_KEYS
        assert AMOUNT.fullmatch(record["amount_at_stake"])
    document = json.loads(
        invoke("check", CLAIMS, "--providers", PROVIDERS, "--format", "json").stdout
    )
    assert records == document["violations"]


def test_check_clean_batch_exits_0(tmp_path: Path) -> None:
    claims = write_claims(tmp_path, "L1;C1;P1;01;1;PAT1;1970-01-01;2025-03-03;G;30,00")
    result = invoke("check", claims, "--providers", PROVIDERS)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "0 violation" in result.stdout
    jsonl = invoke("check", claims, "--format", "jsonl")
    assert jsonl.exit_code == 0
    assert jsonl.stdout == ""


def test_check_warning_exits_0_by_default_and_1_with_fail_on_warning(tmp_path: Path) -> None:
    rulebook = write_mini(tmp_path)
    claims = mini_claims(tmp_path, "X")
    default = invoke("check", claims, "--rulebook", rulebook)
    no_traceback(default)
    assert default.exit_code == 0, default.output
    assert "ACT-X" in default.stdout
    assert "1 avertissement" in default.stdout
    strict = invoke("check", claims, "--rulebook", rulebook, "--fail-on", "warning")
    assert strict.exit_code == 1
    explicit = invoke("check", claims, "--rulebook", rulebook, "--fail-on", "error")
    assert explicit.exit_code == 0


def test_check_fail_on_warning_without_violation_exits_0(tmp_path: Path) -> None:
    result = invoke(
        "check",
        mini_claims(tmp_path, "Y"),
        "--rulebook",
        write_mini(tmp_path),
        "--fail-on",
        "warning",
    )
    assert result.exit_code == 0, result.output


def test_check_fail_on_warning_still_fails_on_errors() -> None:
    result = invoke("check", CLAIMS, "--providers", PROVIDERS, "--fail-on", "warning")
    assert result.exit_code == 1


def test_check_missing_required_columns_exits_2_with_their_list(tmp_path: Path) -> None:
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "line_id;claim_id;provider_id;service_date;act_code;amount\nL1;C1;P1;2025-03-03;G;30,00\n",
        encoding="utf-8",
    )
    result = invoke("check", claims)
    no_traceback(result)
    assert result.exit_code == 2
    for column in ("provider_specialty", "provider_sector", "patient_id", "patient_birth_date"):
        assert column in result.stderr
    assert "absentes" in result.stderr
    assert result.stdout == ""


def test_check_missing_claims_file_exits_2(tmp_path: Path) -> None:
    result = invoke("check", tmp_path / "absent.csv")
    no_traceback(result)
    assert result.exit_code == 2
    assert "absent.csv" in result.stderr


def test_check_unknown_rulebook_name_exits_2() -> None:
    result = invoke("check", CLAIMS, "--rulebook", "convention-1999")
    no_traceback(result)
    assert result.exit_code == 2
    assert "convention-1999" in result.stderr
    assert "convention-2024" in result.stderr  # the shipped names are suggested


def test_check_unknown_format_is_a_usage_error() -> None:
    result = invoke("check", CLAIMS, "--format", "xml")
    assert result.exit_code == 2


def test_check_split_batch_gives_the_same_records_as_the_whole(tmp_path: Path) -> None:
    header, *rows = CLAIMS.read_text(encoding="utf-8").splitlines()
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("\n".join([header, *rows[:39]]) + "\n", encoding="utf-8")
    second.write_text("\n".join([header, *rows[39:]]) + "\n", encoding="utf-8")
    split = invoke("check", first, second, "--providers", PROVIDERS, "--format", "jsonl")
    whole = invoke("check", CLAIMS, "--providers", PROVIDERS, "--format", "jsonl")
    assert split.exit_code == whole.exit_code == 1
    assert split.stdout == whole.stdout


def test_check_same_file_given_twice_does_not_count_its_lines_twice(tmp_path: Path) -> None:
    # line_id is the unique id of a billed line: the second copy of each line must not be
    # checked as a new line (it is rejected as a duplicate, or the run is refused).
    # Bug: `_merge` only compares file *names*, so both copies are kept and the 19 SNP of
    # P004's week 2025-W10 become 38: 18 spurious SNP-CAP violations.
    header, *rows = CLAIMS.read_text(encoding="utf-8").splitlines()
    half = tmp_path / "half.csv"
    half.write_text("\n".join([header, *rows[:39]]) + "\n", encoding="utf-8")
    result = invoke("check", half, half, "--format", "json")
    no_traceback(result)
    if result.exit_code != 2:
        summary = json.loads(result.stdout)["summary"]
        assert summary["read"] == 78
        assert summary["checked"] <= 39, summary
        assert summary["by_rule"].get("SNP-CAP") is None, summary["by_rule"]


def test_check_rulebook_as_folder_path_matches_the_default() -> None:
    default = invoke("check", CLAIMS, "--providers", PROVIDERS, "--format", "jsonl")
    folder = invoke(
        "check", CLAIMS, "--providers", PROVIDERS, "--format", "jsonl", "--rulebook", SHIPPED
    )
    no_traceback(folder)
    assert folder.exit_code == 1
    assert folder.stdout == default.stdout


def test_check_rulebook_as_single_file(tmp_path: Path) -> None:
    rulebook = write_mini(tmp_path, PASSING_EXAMPLE)
    result = invoke(
        "check", mini_claims(tmp_path, "X"), "--rulebook", rulebook, "--format", "jsonl"
    )
    no_traceback(result)
    assert result.exit_code == 0
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["rule"] == "ACT-X"
    assert record["severity"] == "warning"
    assert record["amount_at_stake"] == "1.00"
    assert record["location"].endswith("mini.rules:11")


def test_check_rulebook_as_folder_of_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    write_mini(folder, PASSING_EXAMPLE)
    result = invoke(
        "check", mini_claims(tmp_path, "X"), "--rulebook", folder, "--fail-on", "warning"
    )
    no_traceback(result)
    assert result.exit_code == 1
    assert "ACT-X" in result.stdout


# ---------------------------------------------------------------------------- lint


def test_lint_shipped_rulebook_exits_0() -> None:
    result = invoke("lint")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "convention-2024" in result.stdout
    assert invoke("lint", "convention-2024").exit_code == 0
    assert invoke("lint", SHIPPED).exit_code == 0


def test_lint_broken_rulebook_exits_2_with_a_position(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rules"
    broken.write_text(
        MINI_HEADER.replace('when act_code = "X"', "when act_code = = 1"), encoding="utf-8"
    )
    result = invoke("lint", broken)
    no_traceback(result)
    assert result.exit_code == 2
    assert "broken.rules:" in result.stderr


# ---------------------------------------------------------------------------- test


def test_test_shipped_rulebook_all_pass() -> None:
    result = invoke("test")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    last = result.stdout.rstrip("\n").splitlines()[-1]
    match = re.fullmatch(r"([0-9]+) passed, 0 failed", last)
    assert match, last
    assert int(match[1]) >= 15


@pytest.mark.parametrize("spec", ["convention-2024", str(SHIPPED)])
def test_test_shipped_rulebook_by_name_or_path(spec: str) -> None:
    result = invoke("test", spec)
    assert result.exit_code == 0
    assert result.stdout.rstrip("\n").endswith(" passed, 0 failed")


def test_test_failing_example_exits_1(tmp_path: Path) -> None:
    rulebook = write_mini(tmp_path, PASSING_EXAMPLE, FAILING_EXAMPLE)
    result = invoke("test", rulebook)
    no_traceback(result)
    assert result.exit_code == 1
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert last == "1 passed, 1 failed"
    assert "Y serait signalé (à tort)" in result.stdout


def test_test_passing_custom_rulebook_exits_0(tmp_path: Path) -> None:
    result = invoke("test", write_mini(tmp_path, PASSING_EXAMPLE))
    assert result.exit_code == 0
    assert result.stdout.rstrip("\n").splitlines()[-1] == "1 passed, 0 failed"


def test_check_map_renames_the_users_columns(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "claims.csv").read_text(encoding="utf-8")
    renamed = tmp_path / "export.csv"
    renamed.write_text(
        text.replace("line_id;", "ligne;", 1).replace(";amount;", ";Montant;", 1), encoding="utf-8"
    )
    args = ["check", str(renamed), "--providers", str(ROOT / "examples" / "providers.csv")]
    missing = CliRunner().invoke(main, args)
    assert missing.exit_code == 2 and "line_id" in missing.stderr
    mapped = CliRunner().invoke(main, [*args, "--map", "ligne=line_id", "--map", "Montant=amount"])
    assert mapped.exit_code == 1
    assert "lignes : 76 lues, 76 vérifiées, 0 rejetée" in mapped.stdout
    bad = CliRunner().invoke(main, [*args, "--map", "ligne"])
    assert bad.exit_code == 2 and "écrivez COLONNE=NOM" in bad.stderr
