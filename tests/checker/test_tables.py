"""DMN hit policies, pinned one by one on small tables (DMN 1.3 semantics)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from claimlint.checker.tables import evaluate
from claimlint.dsl.parser import parse
from claimlint.dsl.resolve import resolve
from claimlint.errors import EvaluationError

HEADER = """
rulebook t "tables"
input claims "c"
  line_id text required role line
"""


def table(policy: str, body: str, outputs: str = "output out text"):
    text = HEADER + f'table T "t" hit policy {policy}\n  input age integer\n  {outputs}\n{body}'
    return resolve([parse(text, "t.rules")]).tables["T"]


AGES = """
  | age      || out   |
  | < 18     || "kid" |
  | [18..65) || "adult" |
  | >= 60    || "senior" |
"""


def test_unique_returns_the_only_matching_row_and_names_it():
    result = evaluate(table("U", AGES), [30])
    assert (result.value, result.rows) == ("adult", (2,))


def test_unique_with_two_matches_is_a_positioned_error_not_a_pick():
    with pytest.raises(EvaluationError) as err:
        evaluate(table("U", AGES), [62])
    text = err.value.render()
    assert "plusieurs lignes s'appliquent pour age = 62" in text
    assert "lignes 2 (t.rules:" in text and "3 (t.rules:" in text


def test_no_match_gives_missing_or_the_default_output():
    assert evaluate(table("U", AGES), [None]).value is None
    defaulted = table("U", AGES, 'output out text default "inconnu"')
    assert evaluate(defaulted, [None]).value == "inconnu"
    assert evaluate(defaulted, [None]).rows == ()


def test_any_accepts_equal_outputs_and_refuses_different_ones():
    body = """
  | age   || out |
  | < 10  || "a" |
  | < 20  || "a" |
  | >= 15 || "b" |
"""
    assert evaluate(table("A", body), [5]).value == "a"
    with pytest.raises(EvaluationError, match="sorties différentes"):
        evaluate(table("A", body), [16])


def test_first_takes_the_first_match_in_row_order():
    assert evaluate(table("F", AGES), [62]).rows == (2,)


def test_priority_takes_the_output_listed_first():
    outputs = 'output out text one of {"senior", "adult", "kid"}'
    result = evaluate(table("P", AGES, outputs), [62])
    assert (result.value, result.rows) == ("senior", (3,))


def test_rule_order_and_output_order_lists():
    outputs = 'output out text one of {"senior", "adult", "kid"}'
    assert evaluate(table("R", AGES, outputs), [62]).value == ["adult", "senior"]
    assert evaluate(table("O", AGES, outputs), [62]).value == ["senior", "adult"]
    assert evaluate(table("R", AGES, outputs), [None]).value == []


NUMBERS = """
  | age || out |
  | > 1 || 100 |
  | > 2 || 200 |
  | > 5 || 500 |
"""


@pytest.mark.parametrize(
    ("policy", "age", "expected"),
    [
        ("C", 3, [Decimal(100), Decimal(200)]),
        ("C+", 6, Decimal(800)),
        ("C<", 6, Decimal(100)),
        ("C>", 6, Decimal(500)),
        ("C#", 6, 3),
        ("C#", 0, 0),
        ("C+", 0, None),
        ("C<", 0, None),
    ],
)
def test_collect_and_its_aggregators(policy, age, expected):
    assert evaluate(table(policy, NUMBERS, "output out decimal"), [age]).value == expected


def test_several_outputs_give_a_record():
    text = (
        HEADER
        + """
table T "t" hit policy U
  input day date
  output code text
  output rate decimal
  | day                      || code | rate |
  | < 2024-12-22             || "a"  | 1    |
  | >= 2024-12-22            || "b"  | 2.5  |
"""
    )
    t = resolve([parse(text, "t.rules")]).tables["T"]
    assert evaluate(t, [dt.date(2024, 12, 22)]).value == {"code": "b", "rate": Decimal("2.5")}


def test_not_and_lists_and_open_ranges():
    body = """
  | age              || out |
  | not(1, 2, 3)     || "x" |
  | ]0..3]           || "y" |
"""
    t = table("C", body)
    assert evaluate(t, [2]).value == ["y"]
    assert evaluate(t, [0]).value == ["x"]
    assert evaluate(t, [4]).value == ["x"]
    assert evaluate(t, [None]).value == []
