"""--select / --ignore / --severity: ruff-style codes, the most specific code wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimlint.checker.run import check_files
from claimlint.checker.selection import Selection, matches, parse_severities, split_codes
from claimlint.dsl.loader import DEFAULT_RULEBOOK, load
from claimlint.dsl.model import Severity
from claimlint.errors import ClaimlintError

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "examples" / "claims.csv"


@pytest.fixture(scope="module")
def rulebook():
    return load(DEFAULT_RULEBOOK)


def ids(rulebook, selection: Selection) -> set[str]:
    return {r.id for r in selection.apply(rulebook).rules}


@pytest.mark.parametrize(
    ("code", "rule_id", "expected"),
    [
        ("TLC-CAP", "TLC-CAP", True),
        ("TLC", "TLC-URG", True),
        ("TLC", "TLC-CAP-PSY", True),
        ("TLC-", "TLC-CAP", True),
        ("TLC-CAP", "TLC-CAP-PSY", True),
        ("TLC-CAP-PSY", "TLC-CAP", False),
        ("TL", "TLC-URG", False),  # a prefix stops at a dash
        ("GL", "GL-AGE", True),
        ("ALL", "YYYY010-FOLLOWUP", True),
        ("SNP", "SHE-WITH", False),
    ],
)
def test_matching(code: str, rule_id: str, expected: bool) -> None:
    assert matches(code, rule_id) is expected


def test_default_selects_everything(rulebook) -> None:
    selection = Selection()
    assert selection.apply(rulebook) is rulebook
    assert all(selection.applies(r.id) for r in rulebook.rules)


def test_select_prefix(rulebook) -> None:
    assert ids(rulebook, Selection(select=("SNP",))) == {"SNP-CAP", "SNP-MT", "SNP-REG"}


def test_ignore_prefix(rulebook) -> None:
    kept = ids(rulebook, Selection(ignore=("TLC",)))
    assert not any(i.startswith("TLC-") for i in kept)
    assert len(kept) == len(rulebook.rules) - 4


def test_most_specific_code_wins() -> None:
    s = Selection(select=("TLC-CAP-PSY",), ignore=("TLC",))
    assert s.applies("TLC-CAP-PSY")
    assert not s.applies("TLC-CAP") and not s.applies("TLC-URG")
    s = Selection(select=("TLC",), ignore=("TLC-CAP",))
    assert s.applies("TLC-URG") and not s.applies("TLC-CAP") and not s.applies("TLC-CAP-PSY")
    s = Selection(select=("ALL",), ignore=("ALL",))
    assert not s.applies("SNP-CAP")  # a tie goes to --ignore
    assert not Selection(select=("SNP",)).applies("TLC-URG")  # not selected at all


@pytest.mark.parametrize(
    ("option", "code", "hint"),
    [("select", "SPN", "SNP"), ("ignore", "TLC-CAPS", "TLC-CAP"), ("ignore", "snp-cap", "SNP-CAP")],
)
def test_unknown_code_is_an_error_with_a_hint(rulebook, option, code, hint) -> None:
    with pytest.raises(ClaimlintError) as err:
        Selection(**{option: (code,)}).apply(rulebook)
    text = err.value.render()
    assert f"--{option} « {code} »" in text
    assert f"vouliez-vous dire « {hint} »" in text


def test_unknown_severity_code(rulebook) -> None:
    with pytest.raises(ClaimlintError, match="--severity « SNQ »"):
        Selection(severities={"SNQ": Severity.WARNING}).apply(rulebook)


def test_option_parsing() -> None:
    assert split_codes(["SNP, TLC-URG", "GL"]) == ("SNP", "TLC-URG", "GL")
    assert parse_severities(["SNP=warning", "SNP-CAP=INFO", "TLC=avertissement"]) == {
        "SNP": Severity.WARNING,
        "SNP-CAP": Severity.INFO,
        "TLC": Severity.WARNING,
    }
    for bad in ("SNP", "=warning", "SNP=fatal"):
        with pytest.raises(ClaimlintError):
            parse_severities([bad])


def test_severity_most_specific_wins(rulebook) -> None:
    s = Selection(severities={"SNP": Severity.INFO, "SNP-CAP": Severity.WARNING})
    assert s.severity_of(rulebook.rule("SNP-CAP")) is Severity.WARNING
    assert s.severity_of(rulebook.rule("SNP-MT")) is Severity.INFO
    assert s.severity_of(rulebook.rule("TLC-URG")) is rulebook.rule("TLC-URG").severity
    book = s.apply(rulebook)
    assert book.rule("SNP-CAP").severity is Severity.WARNING
    assert book.rule("SNP-CAP").severity_if is None


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_severity_override_changes_the_exit(rulebook, engine) -> None:
    only_snp = Selection(select=("SNP",))
    run = check_files(only_snp.apply(rulebook), [CLAIMS], engine=engine)
    assert [v.rule for v in run.violations] == ["SNP-CAP"]
    assert run.failed(Severity.ERROR)
    softened = Selection(select=("SNP",), severities={"SNP-CAP": Severity.WARNING})
    run = check_files(softened.apply(rulebook), [CLAIMS], engine=engine)
    assert [v.severity for v in run.violations] == [Severity.WARNING]
    assert not run.failed(Severity.ERROR)
    assert run.failed(Severity.WARNING)
