"""Decision-table analysis: gaps, overlaps, masked, duplicate and subsumed rows.

Every example the analysis reports is checked against the evaluator (`matching_rows`), and
hypothesis compares the analysis with a dense sample of inputs on random tables.
"""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimlint.checker.tables import matching_rows
from claimlint.cli import main
from claimlint.dsl import model as m
from claimlint.dsl.analysis import Finding, analyse, analyse_rulebook, describe, may_conflict
from claimlint.dsl.parser import parse
from claimlint.dsl.resolve import resolve
from claimlint.dsl.types import Type

HEADER = """\
rulebook t "Tables" version "1"

input claims "Lignes"
  line_id       text   required  role line
  service_date  date   required  role date
  amount        money  required  role amount

set CODES "Codes" = {"G", "APC", "VL"}
"""


def rulebook(text: str) -> m.Rulebook:
    return resolve([parse(HEADER + text, "t.rules")])


def table(text: str) -> m.DecisionTable:
    (only,) = rulebook(text).tables.values()
    return only


def kinds(findings: Sequence[Finding]) -> list[str]:
    return [f.kind for f in findings]


def one(findings: Sequence[Finding], kind: str) -> Finding:
    found = [f for f in findings if f.kind == kind]
    assert len(found) == 1, findings
    return found[0]


def point(t: m.DecisionTable, finding: Finding) -> list[Any]:
    example = dict(finding.example)
    assert list(example) == [c.name for c in t.inputs]
    return [example[c.name] for c in t.inputs]


def matched(t: m.DecisionTable, finding: Finding) -> set[int]:
    return {r.number for r in matching_rows(t, point(t, finding))}


def check_examples(t: m.DecisionTable, findings: Sequence[Finding]) -> None:
    """Every example exhibits its finding under the evaluator."""
    for f in findings:
        if f.kind == "gap":
            assert matched(t, f) == set(), f
        elif f.kind in ("overlap", "duplicate"):
            assert set(f.rows) <= matched(t, f), f
        elif f.kind in ("masked", "subsumed"):
            rows = matched(t, f)
            assert f.rows[0] in rows, f
            assert rows & set(f.rows[1:]), f


def integer_table(policy: str, *rows: str, output: str = "out integer") -> m.DecisionTable:
    body = "\n".join(f"  | {r} |" for r in rows)
    out = output.split()[0]
    return table(
        f'table T "t" hit policy {policy}\n  input n integer\n  output {output}\n'
        f"  | n || {out} |\n{body}\n"
    )


# ----------------------------------------------------------------------------- clean tables


def test_a_complete_disjoint_table_has_no_finding() -> None:
    t = table(
        """
table TARIFF "Tarif" hit policy U source "circ."
  input code text in CODES
  input day  date
  output tarif money
  | code       | day          || tarif |
  | "G"        | < 2024-12-22  || 25.00 |
  | "G"        | >= 2024-12-22 || 30.00 |
  | "APC"      | -             || 56.50 |
  | "VL"       | [2024-01-01..2024-12-31] || 60.00 |
  | "VL"       | not([2024-01-01..2024-12-31]) || 70.00 |
"""
    )
    assert analyse(t) == []


def test_tables_of_every_policy_without_problem_report_nothing() -> None:
    for policy in ("U", "A", "F", "P", "R", "O", "C", "C+", "C<", "C>", "C#"):
        t = integer_table(policy, "< 5 || 1", ">= 5 || 2", output="out integer one of {1, 2}")
        assert analyse(t) == [], policy


# ----------------------------------------------------------------------------- gaps


def test_gap_between_strict_comparisons_on_integers() -> None:
    t = integer_table("U", "< 5 || 1", "> 5 || 2")
    findings = analyse(t)
    gap = one(findings, "gap")
    assert kinds(findings) == ["gap"]
    assert gap.severity is m.Severity.WARNING
    assert gap.rows == ()
    assert gap.example == (("n", 5),)
    assert gap.message == "lacune : aucune ligne ne couvre n = 5"
    assert gap.position == t.position
    check_examples(t, findings)


def test_integers_are_discrete_decimals_are_not() -> None:
    assert analyse(integer_table("U", "< 1 || 0", "[1..4] || 1", "[5..9] || 2", "> 9 || 3")) == []
    assert analyse(integer_table("U", "<= 4 || 1", ">= 5 || 2")) == []
    assert analyse(integer_table("U", "[1..5) || 1", "[5..9] || 2", "not([1..9]) || 0")) == []
    t = table(
        """
table T "t" hit policy U
  input x decimal
  output out integer
  | x       || out |
  | < 1     || 0   |
  | [1..4]  || 1   |
  | [5..9]  || 2   |
  | > 9     || 3   |
"""
    )
    findings = analyse(t)
    gap = one(findings, "gap")
    assert kinds(findings) == ["gap"]
    assert gap.message == "lacune : aucune ligne ne couvre x dans ]4 ; 5["
    assert gap.example == (("x", Decimal("4.5")),)
    check_examples(t, findings)


def test_open_bounds_on_decimals_leave_the_bound() -> None:
    t = table(
        """
table T "t" hit policy U
  input x decimal
  output out integer
  | x       || out |
  | < 2.5   || 0   |
  | > 2.5   || 1   |
"""
    )
    gap = one(analyse(t), "gap")
    assert gap.message == "lacune : aucune ligne ne couvre x = 2,5"
    assert gap.example == (("x", Decimal("2.5")),)


def test_unbounded_gaps_take_a_value_just_outside_the_bound() -> None:
    t = integer_table("U", "[1..4] || 1")
    findings = analyse(t)
    assert [f.message for f in findings] == ["lacune : aucune ligne ne couvre (n < 1 ou n >= 5)"]
    assert findings[0].example == (("n", 0),)
    check_examples(t, findings)


def test_date_ranges() -> None:
    t = table(
        """
table T "t" hit policy U
  input day date
  output out integer
  | day                       || out |
  | < 2024-01-01              || 0   |
  | [2024-01-01..2024-06-30]  || 1   |
  | [2024-07-01..2024-12-21]  || 2   |
  | > 2024-12-22              || 3   |
"""
    )
    findings = analyse(t)
    gap = one(findings, "gap")
    assert kinds(findings) == ["gap"]
    assert gap.message == "lacune : aucune ligne ne couvre day = 22/12/2024"
    assert gap.example == (("day", dt.date(2024, 12, 22)),)
    check_examples(t, findings)

    t = table(
        """
table T "t" hit policy U
  input day date
  output out integer
  | day                       || out |
  | [2024-01-01..2024-07-01)  || 1   |
  | (2024-07-01..2024-12-31]  || 2   |
"""
    )
    findings = analyse(t)
    assert [f.message for f in findings] == [
        "lacune : aucune ligne ne couvre (day < 01/01/2024 ou day = 01/07/2024 ou day >= 01/01/2025)"
    ]
    assert findings[0].example == (("day", dt.date(2023, 12, 31)),)
    check_examples(t, findings)


def test_gap_on_two_columns_is_described_as_intervals_and_values() -> None:
    t = table(
        """
table TARIFF "Tarif" hit policy U
  input code text in CODES
  input day  date
  output tarif money
  | code        | day           || tarif |
  | "G"         | < 2024-12-22  || 25.00 |
  | "G", "APC"  | >= 2024-12-22 || 30.00 |
  | "VL"        | -             || 60.00 |
"""
    )
    findings = analyse(t)
    gap = one(findings, "gap")
    assert gap.message == 'lacune : aucune ligne ne couvre code = "APC", day < 22/12/2024'
    assert gap.example == (("code", "APC"), ("day", dt.date(2024, 12, 21)))
    check_examples(t, findings)
    line = describe(gap, t)
    assert line == (
        "t.rules:10:1: avertissement [gap] table TARIFF : lacune : aucune ligne ne couvre "
        'code = "APC", day < 22/12/2024 (exemple : code = "APC", day = 21/12/2024)'
    )


def test_gap_severity_follows_defaults_and_policy() -> None:
    assert one(analyse(integer_table("F", "< 5 || 1")), "gap").severity is m.Severity.WARNING
    assert one(analyse(integer_table("A", "< 5 || 1")), "gap").severity is m.Severity.WARNING
    with_default = integer_table("U", "< 5 || 1", output="out integer default 0")
    gap = one(analyse(with_default), "gap")
    assert gap.severity is m.Severity.INFO
    assert "valeur par défaut" in gap.message
    for policy in ("R", "C", "C+", "C#"):
        assert one(analyse(integer_table(policy, "< 5 || 1")), "gap").severity is m.Severity.INFO


def test_an_empty_table_is_one_gap() -> None:
    t = table('table T "t" hit policy U\n  input n integer\n  output out integer\n  | n || out |\n')
    findings = analyse(t)
    assert [f.message for f in findings] == [
        "lacune : aucune ligne ne s'applique, quelles que soient les entrées"
    ]
    check_examples(t, findings)


# ----------------------------------------------------------------------------- text, booleans


def test_text_with_a_declared_domain_is_covered_by_its_values() -> None:
    t = table(
        """
table T "t" hit policy U
  input setting text one of {"cabinet", "domicile"}
  output out integer
  | setting    || out |
  | "cabinet"  || 1   |
  | "domicile" || 2   |
"""
    )
    assert analyse(t) == []


def test_open_text_leaves_any_other_value() -> None:
    t = table(
        """
table T "t" hit policy U
  input setting text
  output out integer
  | setting    || out |
  | "cabinet"  || 1   |
  | "domicile" || 2   |
"""
    )
    findings = analyse(t)
    gap = one(findings, "gap")
    assert gap.message == 'lacune : aucune ligne ne couvre setting hors de {"cabinet", "domicile"}'
    assert gap.example == (("setting", "AUTRE"),)
    check_examples(t, findings)


def test_the_other_text_is_never_a_mentioned_value() -> None:
    t = table(
        """
table T "t" hit policy U
  input code text
  output out integer
  | code     || out |
  | "AUTRE"  || 1   |
  | "AUTRE_" || 2   |
"""
    )
    gap = one(analyse(t), "gap")
    assert gap.example == (("code", "AUTRE__"),)
    check_examples(t, [gap])


def test_declared_domain_from_a_set_leaves_its_missing_values() -> None:
    t = table(
        """
table T "t" hit policy U
  input code text in CODES
  output out integer
  | code       || out |
  | "G", "VL"  || 1   |
"""
    )
    findings = analyse(t)
    assert [f.message for f in findings] == ['lacune : aucune ligne ne couvre code = "APC"']
    check_examples(t, findings)


def test_not_in_a_text_cell() -> None:
    t = table(
        """
table T "t" hit policy U
  input code text
  output out integer
  | code          || out |
  | "G"           || 1   |
  | not("G")      || 2   |
"""
    )
    assert analyse(t) == []


def test_booleans() -> None:
    t = table(
        """
table T "t" hit policy U
  input urgent boolean
  output out integer
  | urgent || out |
  | true   || 1   |
"""
    )
    findings = analyse(t)
    assert [f.message for f in findings] == ["lacune : aucune ligne ne couvre urgent = faux"]
    assert findings[0].example == (("urgent", False),)


def test_times_are_discrete_minutes() -> None:
    t = table(
        """
table T "t" hit policy U
  input at time
  output out integer
  | at              || out |
  | < 08:00         || 1   |
  | [08:00..19:59]  || 2   |
  | >= 20:00        || 3   |
"""
    )
    assert analyse(t) == []
    t = table(
        """
table T "t" hit policy U
  input at time
  output out integer
  | at        || out |
  | < 08:00   || 1   |
  | > 08:00   || 2   |
"""
    )
    gap = one(analyse(t), "gap")
    assert gap.message == "lacune : aucune ligne ne couvre at = 08:00"
    assert gap.example == (("at", dt.time(8, 0)),)


def test_text_compared_by_order_is_unanalysable() -> None:
    t = table(
        """
table T "t" hit policy U
  input code text
  input n integer
  output out integer
  | code     | n   || out |
  | < "M"    | < 5 || 1   |
  | "Z"      | -   || 2   |
"""
    )
    findings = analyse(t)
    assert kinds(findings) == ["unanalysable"]
    assert findings[0].severity is m.Severity.INFO
    assert findings[0].rows == (1,)
    assert "code" in findings[0].message


def test_text_with_a_declared_domain_may_be_compared_by_order() -> None:
    t = table(
        """
table T "t" hit policy U
  input code text in CODES
  output out integer
  | code     || out |
  | < "H"    || 1   |
  | "VL"     || 2   |
"""
    )
    assert analyse(t) == []  # "APC" and "G" are < "H"


# ----------------------------------------------------------------------------- not(...)


def test_not_covers_the_complement() -> None:
    assert analyse(integer_table("U", "5 || 1", "not(5) || 2")) == []
    t = integer_table("U", "5 || 1", "not(5, 6) || 2")
    findings = analyse(t)
    assert [f.message for f in findings] == ["lacune : aucune ligne ne couvre n = 6"]
    check_examples(t, findings)
    t = integer_table("U", "[1..9] || 1", "not(< 3) || 2")
    overlap = one(analyse(t), "overlap")
    assert "n dans [3 ; 9]" in overlap.message
    check_examples(t, [overlap])


# ----------------------------------------------------------------------------- overlaps


def test_overlap_under_unique_is_an_error() -> None:
    t = integer_table("U", "< 5 || 1", ">= 3 || 2")
    findings = analyse(t)
    assert kinds(findings) == ["overlap"]
    overlap = findings[0]
    assert overlap.severity is m.Severity.ERROR
    assert overlap.rows == (1, 2)
    assert overlap.position == t.rows[0].position
    assert overlap.message == (
        "recouvrement : les lignes 1 et 2 s'appliquent toutes deux pour n dans [3 ; 4] "
        "avec des sorties différentes (1 ; 2)"
    )
    check_examples(t, findings)


def test_any_policy_allows_overlaps_with_equal_outputs() -> None:
    assert analyse(integer_table("A", "< 5 || 1", ">= 3 || 1")) == []
    t = integer_table("A", "< 5 || 1", ">= 3 || 2")
    overlap = one(analyse(t), "overlap")
    assert overlap.severity is m.Severity.ERROR
    check_examples(t, [overlap])


def test_overlaps_are_not_reported_for_first_priority_and_multi_hit() -> None:
    for policy in ("F", "P", "R", "O", "C", "C+"):
        t = integer_table(policy, "< 5 || 1", ">= 3 || 2", output="out integer one of {1, 2}")
        assert analyse(t) == [], policy


def test_each_overlapping_pair_is_reported_once() -> None:
    t = integer_table("U", "< 5 || 1", "> 0 || 2", "- || 3")
    findings = analyse(t)
    assert [f.rows for f in findings] == [(1, 2), (1, 3), (2, 3)]
    check_examples(t, findings)


# ----------------------------------------------------------------------------- masked


def test_first_policy_masks_a_row_covered_by_earlier_rows() -> None:
    t = integer_table("F", "< 5 || 1", ">= 5 || 2", "[3..7] || 3")
    findings = analyse(t)
    assert kinds(findings) == ["masked"]
    masked = findings[0]
    assert masked.severity is m.Severity.WARNING
    assert masked.rows == (3, 1, 2)
    assert masked.position == t.rows[2].position
    assert masked.message.startswith("ligne 3 masquée : les lignes précédentes 1 et 2 couvrent")
    check_examples(t, findings)


def test_first_policy_a_partly_covered_row_is_not_masked() -> None:
    assert analyse(integer_table("F", "< 5 || 1", "- || 2")) == []


def test_priority_policy_masks_rows_with_lower_priority_outputs() -> None:
    t = table(
        """
table T "t" hit policy P
  input n integer
  output status text one of {"refusé", "accepté"}
  | n      || status    |
  | [1..9] || "accepté" |
  | -      || "refusé"  |
"""
    )
    findings = analyse(t)
    assert kinds(findings) == ["masked"]
    assert findings[0].rows == (1, 2)
    assert "sortie prioritaire" in findings[0].message
    check_examples(t, findings)
    # the other way round the refusal takes over where it applies, and nothing is masked
    t = table(
        """
table T "t" hit policy P
  input n integer
  output status text one of {"refusé", "accepté"}
  | n      || status    |
  | [1..9] || "refusé"  |
  | -      || "accepté" |
"""
    )
    assert analyse(t) == []


# ----------------------------------------------------------------------------- duplicates


def test_duplicates_say_whether_outputs_differ() -> None:
    t = integer_table("U", "< 5 || 1", "<= 4 || 1", ">= 5 || 2")
    findings = analyse(t)
    assert kinds(findings) == ["duplicate"]  # not also an overlap
    assert findings[0].severity is m.Severity.ERROR
    assert findings[0].rows == (1, 2)
    assert findings[0].message.endswith("mêmes sorties")
    check_examples(t, findings)
    t = integer_table("U", "< 5 || 1", "< 5 || 3", ">= 5 || 2")
    duplicate = one(analyse(t), "duplicate")
    assert duplicate.message.endswith("sorties différentes (1 ; 3)")


def test_duplicate_severity_by_policy() -> None:
    expected = {
        "U": m.Severity.ERROR,
        "F": m.Severity.WARNING,
        "P": m.Severity.WARNING,
        "R": m.Severity.INFO,
        "O": m.Severity.INFO,
        "C": m.Severity.INFO,
        "C+": m.Severity.INFO,
    }
    for policy, severity in expected.items():
        t = integer_table(policy, "- || 1", "- || 2", output="out integer one of {1, 2}")
        findings = analyse(t)
        assert kinds(findings) == ["duplicate"], policy
        assert findings[0].severity is severity, policy
    assert one(analyse(integer_table("A", "- || 1", "- || 2")), "duplicate").severity is (
        m.Severity.ERROR
    )
    assert one(analyse(integer_table("A", "- || 1", "- || 1")), "duplicate").severity is (
        m.Severity.WARNING
    )


def test_rows_differing_on_missing_inputs_are_not_duplicates() -> None:
    t = integer_table("A", "< 5, null || 1", "< 5 || 1", ">= 5 || 2")
    findings = analyse(t)
    assert kinds(findings) == ["subsumed"]
    assert findings[0].rows == (2, 1)


# ----------------------------------------------------------------------------- subsumed


def test_subsumed_row_with_equal_outputs() -> None:
    t = integer_table("A", "- || 1", "[2..3] || 1")
    findings = analyse(t)
    assert kinds(findings) == ["subsumed"]
    subsumed = findings[0]
    assert subsumed.severity is m.Severity.WARNING
    assert subsumed.rows == (2, 1)
    assert subsumed.message == (
        "ligne 2 redondante : la ligne 1 couvre tous ses cas avec les mêmes sorties"
    )
    check_examples(t, findings)


def test_subsumed_severity_by_policy() -> None:
    u = analyse(integer_table("U", "- || 1", "[2..3] || 1"))
    assert kinds(u) == ["overlap", "subsumed"]
    assert one(u, "subsumed").severity is m.Severity.WARNING
    c = analyse(integer_table("C", "- || 1", "[2..3] || 1"))
    assert kinds(c) == ["subsumed"]
    assert c[0].severity is m.Severity.INFO
    # under F a later row inside an earlier one is masked, not also subsumed
    assert kinds(analyse(integer_table("F", "- || 1", "[2..3] || 1"))) == ["masked"]
    f = analyse(integer_table("F", "[2..3] || 1", "- || 1"))
    assert kinds(f) == ["subsumed"]
    assert f[0].severity is m.Severity.INFO


def test_different_outputs_are_not_subsumption() -> None:
    assert analyse(integer_table("C", "- || 1", "[2..3] || 2")) == []


# ----------------------------------------------------------------------------- rulebook, CLI


TWO_TABLES = """
table B "b" hit policy U
  input n integer
  output out integer
  | n   || out |
  | < 5 || 1   |
  | > 3 || 2   |

table A "a" hit policy U
  input n integer
  output out integer
  | n   || out |
  | < 5 || 1   |
  | > 5 || 2   |
"""


def test_analyse_rulebook_follows_the_tables_positions() -> None:
    findings = analyse_rulebook(rulebook(TWO_TABLES))
    assert [(f.table, f.kind) for f in findings] == [("B", "overlap"), ("A", "gap")]
    assert analyse_rulebook(rulebook(TWO_TABLES)) == findings


def test_lint_prints_the_findings_and_exits_2_on_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.rules"
    path.write_text(HEADER + TWO_TABLES, encoding="utf-8")
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{path}:14:5: erreur [overlap] table B, lignes 1, 2 : recouvrement : les lignes 1 et 2 "
        "s'appliquent toutes deux pour n = 4 avec des sorties différentes (1 ; 2) "
        "(exemple : n = 4)"
    )
    assert lines[1] == (
        f"{path}:17:1: avertissement [gap] table A : lacune : aucune ligne ne couvre n = 5 "
        "(exemple : n = 5)"
    )
    assert lines[2].startswith("t : 2 constats sur les tables de décision (1 erreur, ")


def test_lint_exits_0_with_warnings_only(tmp_path: Path) -> None:
    path = tmp_path / "t.rules"
    path.write_text(HEADER + TWO_TABLES.split("table A")[0].replace("> 3", "> 5"), "utf-8")
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 0, result.output
    assert "[gap]" in result.stdout
    path.write_text(HEADER + TWO_TABLES.split("table A")[0].replace("> 3", ">= 5"), "utf-8")
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("t : aucun problème")


# ----------------------------------------------------------------------------- efficiency


def test_a_few_hundred_rows_are_analysed_quickly() -> None:
    rows = []
    for i in range(300):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=i)
        rows.append(f'  | "G", "APC" | {day:%Y-%m-%d} | [{i}..{i + 10}] || {i} |')
    rows.append('  | "VL" | - | - || 0 |')
    t = table(
        'table T "t" hit policy F\n  input code text in CODES\n  input day date\n'
        "  input n integer\n  output out integer\n  | code | day | n || out |\n"
        + "\n".join(rows)
        + "\n"
    )
    start = time.perf_counter()
    findings = analyse(t)
    assert time.perf_counter() - start < 10
    assert {f.kind for f in findings} == {"gap"}
    check_examples(t, findings)


# ----------------------------------------------------------------------------- properties

BASE = dt.date(2024, 12, 22)
OPS = ("<", "<=", ">", ">=", "=", "!=")


@st.composite
def cells(draw: st.DrawFn, kind: str) -> str:
    def lit(offset: int) -> str:
        if kind == "integer":
            return str(offset)
        return f"{BASE + dt.timedelta(days=offset):%Y-%m-%d}"

    def positive() -> str:
        shape = draw(st.sampled_from(["value", "comparison", "range"]))
        a = draw(st.integers(-4, 6))
        if shape == "value":
            return lit(a)
        if shape == "comparison":
            return f"{draw(st.sampled_from(OPS[:4]))} {lit(a)}"
        b = draw(st.integers(a, 7))
        low, high = draw(st.sampled_from("[(]")), draw(st.sampled_from("])["))
        return f"{low}{lit(a)}..{lit(b)}{high}"

    shape = draw(st.sampled_from(["any", "tests", "tests", "not"]))
    if shape == "any":
        return "-"
    tests = ", ".join(positive() for _ in range(draw(st.integers(1, 2))))
    if shape == "not":
        return f"not({tests})"
    if draw(st.booleans()) and "," not in tests and tests[0] not in "<>[(]":
        return f"{draw(st.sampled_from(OPS))} {tests}"  # `!= 3`, `= 3` on a plain value
    return tests


@st.composite
def random_tables(draw: st.DrawFn) -> m.DecisionTable:
    columns = draw(st.lists(st.sampled_from(["integer", "date"]), min_size=1, max_size=2))
    names = [f"c{i}" for i in range(len(columns))]
    n_rows = draw(st.integers(0, 6))
    lines = [
        " | ".join(draw(cells(kind)) for kind in columns) + f' || "{draw(st.sampled_from("abc"))}"'
        for _ in range(n_rows)
    ]
    text = (
        'table T "t" hit policy U\n'
        + "".join(f"  input {n} {k}\n" for n, k in zip(names, columns, strict=True))
        + '  output out text one of {"a", "b", "c"}\n'
        + f"  | {' | '.join(names)} || out |\n"
        + "".join(f"  | {line} |\n" for line in lines)
    )
    return table(text)


def samples(t: m.DecisionTable, column: int) -> list[Any]:
    """Every value in a window around the cells' bounds, and far values."""
    offsets = range(-12, 15)  # bounds are within [-4, 7]
    far = (-(10**6), 10**6)
    if t.inputs[column].type is Type.INTEGER:
        return [*offsets, *far]
    return [BASE + dt.timedelta(days=d) for d in (*offsets, -3000, 3000)]


def sample_points(t: m.DecisionTable) -> list[tuple[Any, ...]]:
    return list(itertools.product(*(samples(t, d) for d in range(len(t.inputs)))))


def with_policy(t: m.DecisionTable, policy: m.HitPolicy) -> m.DecisionTable:
    return attrs.evolve(t, hit=m.Hit(policy))


def pairs_in(findings: Sequence[Finding], *kinds_: str) -> set[tuple[int, int]]:
    return {
        pair
        for f in findings
        if f.kind in kinds_
        for pair in itertools.combinations(sorted(f.rows), 2)
    }


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(random_tables())
def test_gaps_and_overlaps_agree_with_a_dense_sample(t: m.DecisionTable) -> None:
    findings = analyse(t)
    check_examples(t, findings)
    matches = [frozenset(r.number for r in matching_rows(t, p)) for p in sample_points(t)]
    some_gap = any(not rows for rows in matches)
    assert some_gap == any(f.kind == "gap" for f in findings)
    co_matching = {pair for rows in matches for pair in itertools.combinations(sorted(rows), 2)}
    # under U every overlapping pair is an overlap, or belongs to a group of duplicates
    assert pairs_in(findings, "overlap", "duplicate") == co_matching
    assert any(f.kind in ("overlap", "duplicate") for f in findings) == bool(co_matching)

    outputs = {r.number: r.outputs for r in t.rows}
    conflicting = {(i, j) for i, j in co_matching if outputs[i] != outputs[j]}
    any_findings = analyse(with_policy(t, m.HitPolicy.ANY))
    check_examples(t, any_findings)
    assert (
        pairs_in(any_findings, "overlap")
        | {p for p in pairs_in(any_findings, "duplicate") if p in conflicting}
        == conflicting
    )

    for f in findings:
        if f.kind == "subsumed":
            inner, outer = f.rows[0], set(f.rows[1:])
            assert all(outer <= rows for rows in matches if inner in rows)


@PROPERTY
@given(random_tables())
def test_masked_rows_agree_with_a_dense_sample(t: m.DecisionTable) -> None:
    points = sample_points(t)
    for policy in (m.HitPolicy.FIRST, m.HitPolicy.PRIORITY):
        pt = with_policy(t, policy)
        findings = analyse(pt)
        check_examples(pt, findings)
        rank = {r.number: ("abc".index(r.outputs[0]), r.number) for r in t.rows}
        live, shown = set(), set()
        for p in points:
            rows = [r.number for r in matching_rows(pt, p)]
            live.update(rows)
            if not rows:
                continue
            if policy is m.HitPolicy.FIRST:
                shown.add(rows[0])
            else:
                best = min(rank[r][0] for r in rows)
                shown.update(r for r in rows if rank[r][0] == best)
        masked = live - shown
        reported = {f.rows[0] for f in findings if f.kind == "masked"}
        assert reported <= masked
        # a masked row not reported is a duplicate of a row that masks it
        explained = {
            r
            for f in findings
            if f.kind == "duplicate"
            for r in f.rows
            if any(rank[o] < rank[r] if policy is m.HitPolicy.PRIORITY else o < r for o in f.rows)
        }
        assert masked - reported <= explained
        assert not any(f.kind == "overlap" for f in findings)


# ----------------------------------------------------------------------------- odds and ends


def test_money_bounds_print_as_amounts() -> None:
    t = table(
        """
table T "t" hit policy U
  input amount money
  output out integer
  | amount      || out |
  | < 15.00     || 1   |
  | > 15.00     || 2   |
"""
    )
    gap = one(analyse(t), "gap")
    assert gap.message == "lacune : aucune ligne ne couvre amount = 15,00"
    assert describe(gap, t).endswith("(exemple : amount = 15,00)")


def test_rows_for_missing_inputs_only_are_left_out() -> None:
    t = integer_table("F", "null || 0", "null || 1", "- || 2")
    assert analyse(t) == []


def test_the_analysis_does_not_import_the_checker() -> None:
    code = (
        "import sys, claimlint.dsl.analysis; "
        "sys.exit(any(n.startswith('claimlint.checker') for n in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ----------------------------------------------------------------------------- may_conflict


@PROPERTY
@given(random_tables())
def test_may_conflict_agrees_with_a_dense_sample_missing_values_included(
    t: m.DecisionTable,
) -> None:
    """False is a proof: no input, missing ones included, breaks the table."""
    columns = [[*samples(t, d), None] for d in range(len(t.inputs))]
    matches = [matching_rows(t, list(p)) for p in itertools.product(*columns)]
    assert may_conflict(t) == any(len(rows) > 1 for rows in matches)
    differing = any(len({r.outputs for r in rows}) > 1 for rows in matches)
    assert may_conflict(with_policy(t, m.HitPolicy.ANY)) == differing


def test_tables_that_pick_one_row_never_conflict() -> None:
    t = integer_table("U", "< 5 || 1", ">= 5 || 2", "null || 3")
    assert not may_conflict(t)
    for policy in (m.HitPolicy.FIRST, m.HitPolicy.PRIORITY, m.HitPolicy.COLLECT):
        assert not may_conflict(with_policy(integer_table("F", "- || 1", "- || 2"), policy))


def test_rows_meeting_only_on_a_missing_value_may_conflict() -> None:
    assert may_conflict(integer_table("U", "null || 1", "not(1) || 2", "- || 3"))
    assert not may_conflict(integer_table("U", "null || 1", "not(null) || 2"))


def test_a_declared_domain_does_not_prove_a_table_unbreakable() -> None:
    # Within {"G", "APC", "VL"} the rows are disjoint; "K" matches both.
    t = table(
        """
table T "t" hit policy U
  input code text in CODES
  output n integer
  | code        || n |
  | not("G")    || 1 |
  | "G", "K"    || 2 |
"""
    )
    assert analyse(t) == []
    assert may_conflict(t)


def test_times_are_not_analysed_for_conflicts() -> None:
    t = table(
        """
table T "t" hit policy U
  input at time
  output n integer
  | at        || n |
  | < 08:00   || 1 |
  | >= 08:00  || 2 |
"""
    )
    assert may_conflict(t)


def test_a_table_too_large_to_prove_at_start_up_may_conflict() -> None:
    """The proof is quadratic in the rows and `check` runs it at start-up: past its budget a
    table keeps its per-line test, however disjoint its rows."""
    small = integer_table("U", *(f"[{i * 10}..{i * 10 + 9}] || 1" for i in range(300)))
    assert not may_conflict(small)
    large = integer_table("U", *(f"[{i * 10}..{i * 10 + 9}] || 1" for i in range(400)))
    assert may_conflict(large)  # as disjoint as the small one, but past the budget
