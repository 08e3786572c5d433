"""Error messages, asserted to the character, in the style of Catala's tests of error messages.

Each `tests/rulebooks/bad/NN-name.rules` is a small broken rulebook (one kind of mistake, or a
few reported together in one run); `NN-name.expected` beside it holds exactly what
`claimlint lint tests/rulebooks/bad/NN-name.rules` prints on stderr from the repository root:
position, message, source line, caret and hint.

After a deliberate change of wording, regenerate the expected files and review their diff:

    CLAIMLINT_REGEN=1 .venv/bin/pytest tests/dsl/test_bad_rulebooks.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimlint.cli import main

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "rulebooks" / "bad"
CASES = sorted(BAD.glob("*.rules"))
REGEN = os.environ.get("CLAIMLINT_REGEN") == "1"


def _lint(monkeypatch: pytest.MonkeyPatch, case: Path):
    monkeypatch.chdir(ROOT)  # paths in the messages are relative to the repository root
    return CliRunner().invoke(main, ["lint", case.relative_to(ROOT).as_posix()])


def test_there_are_enough_cases():
    assert len(CASES) >= 10
    orphans = sorted(p.name for p in BAD.glob("*.expected") if not p.with_suffix(".rules").exists())
    assert not orphans, f"expected files without their rulebook: {orphans}"


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_bad_rulebook_message(monkeypatch: pytest.MonkeyPatch, case: Path):
    result = _lint(monkeypatch, case)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    expected_file = case.with_suffix(".expected")
    if REGEN:
        expected_file.write_text(result.stderr, encoding="utf-8")
    assert expected_file.exists(), f"missing {expected_file.name}: run with CLAIMLINT_REGEN=1"
    assert result.stderr == expected_file.read_text(encoding="utf-8")


def test_every_pattern_the_parser_may_expect_has_a_french_name():
    """A terminal written as a pattern is named in French in « attendu : … », never by its
    grammar name (date_fn, hit_policy…); the ones the lexer skips are never expected."""
    from claimlint.dsl.parser import _TERMINAL_NAMES, _lark

    parser = _lark()
    unnamed = [
        t.name
        for t in parser.terminals
        if t.pattern.type == "re"
        and t.name not in parser.lexer_conf.ignore
        and t.name not in _TERMINAL_NAMES
    ]
    assert unnamed == []
