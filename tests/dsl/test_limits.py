"""Limits of a rulebook file: a hostile file fails at once with a clear, positioned error.

The positioned messages of a few cases are also asserted with their source line and caret in
tests/rulebooks/bad/42-45; these tests push each limit far past its bound.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from claimlint.checker import duckdb_engine, interpreter
from claimlint.checker.readers import Batch
from claimlint.dsl import limits
from claimlint.dsl.loader import load
from claimlint.dsl.parser import parse
from claimlint.dsl.resolve import resolve
from claimlint.errors import RulebookError

HEAD = """\
rulebook limites "Limites"

input claims "Lignes"
  line_id       text   required  role line
  claim_id      text   required  role claim
  service_date  date   required  role date
  act_code      text   required
  amount        money  required  role amount
"""

DEEP_MESSAGE = "expression trop imbriquée : plus de 64 niveaux de parenthèses ou d'opérateurs"


def _rule(condition: str) -> str:
    return f'{HEAD}\nrule DEEP "Profond"\n  severity error\n  source "s"\n  when {condition}\n  message "m"\n'


def _error(text: str) -> RulebookError:
    with pytest.raises(RulebookError) as caught:
        parse(text, "limites.rules")
    return caught.value


def test_ten_thousand_nested_parentheses_are_refused_clearly():
    body = "(" * 10_000 + 'act_code = "SNP"' + ")" * 10_000
    condition = "\n".join(body[i : i + 80] for i in range(0, len(body), 80))  # lines stay short
    err = _error(_rule(condition))
    [diagnostic] = err.diagnostics
    assert diagnostic.message == DEEP_MESSAGE
    assert str(diagnostic.position) == "limites.rules:13:72"  # the 65th parenthesis
    assert diagnostic.hint == "nommez une partie de l'expression avec « let » ou « define »"


@pytest.mark.parametrize(
    "condition",
    [
        "\n".join(["not"] * 2_000) + ' act_code = "SNP"',
        "\n- ".join(["1"] * 2_000) + " = 1",
        "\n+ ".join(["amount"] * 2_000) + " > 1",
        "\nand ".join(['act_code = "SNP"'] * 2_000),
        "".join("if true then\n" for _ in range(2_000)) + "true" + "\nelse false" * 2_000,
    ],
    ids=["not", "minus", "sum", "and", "if"],
)
def test_deep_operator_chains_are_refused_clearly(condition):
    assert _error(_rule(condition)).diagnostics[0].message == DEEP_MESSAGE


def test_a_hundred_thousand_character_line_is_refused_clearly():
    text = f'{HEAD}set S = {{"{"x" * 100_000}"}} source "s"\n'
    [diagnostic] = _error(text).diagnostics
    assert diagnostic.render() == (
        "limites.rules:9:10001: ligne trop longue : 100\u202f023 caractères (au plus 10\u202f000)\n"
        "  = aide : coupez la ligne : un ensemble ou une condition peut s'écrire sur plusieurs "
        "lignes"
    )


def test_a_table_of_more_than_ten_thousand_rows_is_refused():
    rows = "".join(f'  | "C{i}" || {i} |\n' for i in range(limits.MAX_TABLE_ROWS + 5))
    text = (
        f"{HEAD}\ntable PRICE hit policy unique\n  input code text\n  output price integer\n"
        f"  | code || price |\n{rows}"
    )
    [diagnostic] = _error(text).diagnostics
    assert diagnostic.message == "tableau trop grand : plus de 10\u202f000 lignes"
    assert str(diagnostic.position) == f"limites.rules:{14 + limits.MAX_TABLE_ROWS}:3"


def test_a_file_too_large_is_refused(tmp_path: Path):
    book = tmp_path / "gros"
    book.mkdir()
    comment = "# " + "x" * 9_000 + "\n"
    text = HEAD + comment * 250
    (book / "gros.rules").write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError) as caught:
        load(str(book))
    [diagnostic] = caught.value.diagnostics
    assert len(text) == 2_251_007
    assert diagnostic.message == (
        "gros/gros.rules : fichier trop volumineux (2\u202f251\u202f007 caractères, "
        "au plus 2\u202f000\u202f000)"
    )


def test_nesting_at_the_limit_runs_in_both_engines():
    """64 levels are accepted, and every step after the parser (resolution, both engines,
    SQL generation) gets through them without a RecursionError."""
    condition = "not " * 63 + 'act_code = "SNP"'  # 63 `not` + the comparison: 64 levels
    book = resolve([parse(_rule(condition), "limites.rules")])
    rows = [
        {
            "line_id": f"L{i}",
            "claim_id": "C1",
            "service_date": dt.date(2025, 3, 3),
            "act_code": code,
            "amount": Decimal("1.00"),
        }
        for i, code in enumerate(["SNP", "G"])
    ]
    batch = Batch(book.input, "lot", tuple(rows), (2, 3), (), 2)
    found = interpreter.check(book, batch, {})
    assert [v.line_id for v in found] == ["L1"]  # an odd number of `not`: the G line
    assert duckdb_engine.check(book, batch, {}) == found
    with pytest.raises(RulebookError):
        parse(_rule("not " + condition), "limites.rules")


def test_a_long_chain_of_defines_gives_one_error():
    defines = 'define D0 = act_code = "SNP"\n' + "".join(
        f"define D{i} = not D{i - 1}\n" for i in range(1, 1_000)
    )
    text = f"{HEAD}{defines}" + _rule("D999").removeprefix(HEAD)
    with pytest.raises(RulebookError) as caught:
        resolve([parse(text, "limites.rules")])
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message == (
        "expression trop imbriquée : plus de 64 niveaux une fois remplacés les noms qu'elle "
        "emploie (define, let)"
    )
    assert str(diagnostic.position) == "limites.rules:73:14"  # define D64


def test_defines_that_double_at_each_line_give_one_error():
    """D1 = D0 + D0, D2 = D1 + D1…: sixty lines would make an expression of 2^60 nodes."""
    defines = "define D0 = 1\n" + "".join(
        f"define D{i} = D{i - 1} + D{i - 1}\n" for i in range(1, 60)
    )
    text = f"{HEAD}{defines}" + _rule("D59 > 0").removeprefix(HEAD)
    with pytest.raises(RulebookError) as caught:
        resolve([parse(text, "limites.rules")])
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message == (
        "expression trop grande : plus de 10\u202f000 éléments une fois remplacés les noms "
        "qu'elle emploie (define, let)"
    )
    assert str(diagnostic.position) == "limites.rules:22:14"  # define D13: 16,383 nodes
