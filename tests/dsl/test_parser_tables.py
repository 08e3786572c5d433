"""The stored LALR tables are those of the current grammar, and parse as the grammar does."""

from __future__ import annotations

import json
from importlib import resources

from claimlint import grammar
from claimlint.dsl import parser


def test_stored_tables_match_the_grammar():
    stored = json.loads(
        resources.files("claimlint.grammar").joinpath("rules.tables.json").read_text()
    )
    assert stored["grammar_sha256"] == grammar.fingerprint(grammar.text()), (
        "rules.lark a changé : régénérez les tables avec "
        "python -c 'from claimlint.dsl.parser import write_tables; write_tables()'"
    )


def test_stored_tables_parse_like_a_parser_built_from_the_grammar():
    built = parser._build(grammar.text())
    text = 'rule A-B "t" severity error when x in {"a", "b"} and not (y > 2 or z is missing)'
    assert parser._lark().parse(text, start="start") == built.parse(text, start="start")
    assert parser._lark().parse("[18..65)", start="cell_tests") == built.parse(
        "[18..65)", start="cell_tests"
    )
