"""Fuzzing: whatever a rulebook or a claims file holds, claimlint either does its work or
reports one of its own errors (`ClaimlintError`); any other exception is a bug.

(a) Rulebooks drawn from the grammar itself (`hypothesis.extra.lark.from_lark`), with explicit
    strategies for names, texts and numbers so that most drawings lex, alone or after the
    shipped header (so that they also resolve and run): parse, format, resolve, run the
    examples, analyse the tables, and check `examples/claims.csv` with both engines.
(b) The shipped rulebook files, mutated: tokens or lines deleted, duplicated, swapped, random
    characters inserted.
(c) `examples/claims.csv`, mutated the same way, through `claimlint check`: exit code 0, 1 or 2
    and never a traceback.

The number of examples comes from the hypothesis profile (tests/conftest.py): few in CI, many
in the nightly run (README, "Fuzzing: nightly profile").
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import lark
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from claimlint.checker import duckdb_engine, interpreter
from claimlint.checker.examples import run_all
from claimlint.checker.readers import read_csv
from claimlint.cli import main
from claimlint.dsl.analysis import analyse_rulebook
from claimlint.dsl.formatter import format_text
from claimlint.dsl.loader import shipped_root
from claimlint.dsl.model import Rulebook
from claimlint.dsl.parser import parse
from claimlint.dsl.resolve import resolve
from claimlint.dsl.syntax import RuleDecl, SourceFile
from claimlint.errors import ClaimlintError

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "examples" / "claims.csv"
CONVENTION = shipped_root() / "convention-2024"

FUZZ = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)

# ------------------------------------------------------------------------------ the pipeline


def _engine_outcome(engine, book: Rulebook, only: list[str] | None):
    """The violations, or the text of our own error; any other exception escapes (a bug)."""
    try:
        batch = read_csv(CLAIMS, book.input)
        return engine.check(book, batch, {}, only)
    except ClaimlintError as err:
        return err.render()


def check_rulebook(sources: list[SourceFile], only: list[str] | None = None) -> None:
    """Everything claimlint does with a rulebook; our errors are fine, nothing else is."""
    try:
        book = resolve(sources)
        run_all(book)
        analyse_rulebook(book)
    except ClaimlintError:
        return
    if only is not None:
        only = [r for r in only if book.rule(r) is not None]
    expected = _engine_outcome(interpreter, book, only)
    actual = _engine_outcome(duckdb_engine, book, only)
    if isinstance(expected, list) and isinstance(actual, list):
        assert actual == expected


def check_text(text: str, path: str, others: tuple[SourceFile, ...] = (), only=None) -> None:
    try:
        parsed = parse(text, path)
        format_text(text, path)
    except ClaimlintError:
        return
    check_rulebook([*others, parsed], only)


# ------------------------------------------------------------------------------ (a) grammar

FIELDS = [
    "line_id", "claim_id", "provider_id", "provider_specialty", "provider_sector", "patient_id",
    "patient_birth_date", "service_date", "service_time", "act_code", "modifiers", "quantity",
    "amount", "setting", "urgent", "followup", "treating_doctor", "zone",
]  # fmt: skip
OTHER_NAMES = [
    "text", "integer", "decimal", "money", "date", "time", "boolean",  # types
    "error", "warning", "info",  # severities
    "line", "claim", "provider", "key", "year",  # roles
    "age", "iso_week", "month", "year", "coalesce", "min", "max", "days_between",
    "working_days_between", "weekday", "is_public_holiday", "has_word",  # functions
    "claims", "CODES", "CAP", "PRICE", "X", "acte_code", "count", "cap", "price", "code",
]  # fmt: skip
STRINGS = [
    '"x"', '"SNP"', '"G"', '""', '"MN"', '"{act_code} facturé"', '"{count} sur {cap}"',
    '"{inconnu}"', '"{"', '"a\\"b\\\\"', '"circ. §6.A.1"', '"01"', '"33"', '"cabinet"',
]  # fmt: skip
TABLE_ROWS = [
    "| code || price |", '| "G" || 30.00 |', "| - || 0 |", "| < 18, [18..65) || 1 |",
    '| not("G") || 2 |', "| line_id | act_code | amount |", "| L1 | SNP | 15.00 |",
    "| rule | line_id |", "| SNP-CAP | L1 |", "| a |", "| x | y || z |", "|  |",
]  # fmt: skip


@functools.cache
def rule_language() -> lark.Lark:
    """The grammar, loaded with the options `claimlint.dsl.parser` builds it with."""
    grammar = (ROOT / "claimlint" / "grammar" / "rules.lark").read_text("utf-8")
    return lark.Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        start=["start", "cell_tests", "cell_output"],
    )


def _spaced(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(lambda text: f" {text} ")


def _terminals_from(start: str) -> set[str]:
    """The terminals the grammar can reach from `start` (the cells' own are not among them)."""
    expansions: dict[str, list[str]] = {}
    for rule in rule_language().rules:
        expansions.setdefault(rule.origin.name, []).extend(s.name for s in rule.expansion)
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(expansions.get(name, []))
    return {name for name in seen if name not in expansions} | {"WS", "COMMENT"}  # %ignore'd


def _explicit(start: str) -> dict[str, st.SearchStrategy[str]]:
    """Every keyword and punctuation spaced out; names, texts and numbers drawn from lists of
    meaningful values (mostly) so the drawings get past the lexer and often resolve."""
    reachable = _terminals_from(start)
    explicit = {
        t.name: st.just(f" {t.pattern.value} ")
        for t in rule_language().terminals
        if t.pattern.type == "str" and t.name in reachable
    }
    explicit.update(
        NAME=_spaced(st.sampled_from(FIELDS + OTHER_NAMES + ["in", "or", "_", "x9", "É"])),
        RULE_ID=_spaced(st.sampled_from(["A", "SNP-CAP", "B-1", "R2", "SNP-CAP-2"])),
        BOOK_NAME=_spaced(st.sampled_from(["fuzz", "convention-2024", "a.b_c-1"])),
        STRING=_spaced(st.sampled_from(STRINGS)),
        DATE=_spaced(st.sampled_from(["2024-12-22", "2025-01-01", "2025-02-30", "0000-00-00"])),
        TIME=_spaced(st.sampled_from(["08:00", "20:00", "23:59", "24:60"])),
        NUMBER=_spaced(st.sampled_from(["0", "1", "20", "30.00", "99999999999999999999", "0.5"])),
        HIT_POLICY=_spaced(st.sampled_from(["unique", "first", "C+", "collect sum", "A", "O"])),
        TABLE_ROW=st.sampled_from(TABLE_ROWS).map(lambda row: f"\n  {row}\n"),
        COMMENT=st.just(" # note\n"),
        WS=st.sampled_from([" ", "\n", "\t"]),  # drawing it from its regex is slow
    )
    return {name: strategy for name, strategy in explicit.items() if name in reachable}


@functools.cache
def shipped_header() -> str:
    """The convention's header and input schemas: drawn declarations come after them."""
    text = (CONVENTION / "rulebook.rules").read_text("utf-8")
    return text.split("\nexample defaults")[0] + "\n"


def grammar_rulebooks() -> st.SearchStrategy[str]:
    return from_lark(rule_language(), start="start", explicit=_explicit("start"))


def grammar_expressions() -> st.SearchStrategy[str]:
    return from_lark(rule_language(), start="expr", explicit=_explicit("expr"))


def rule_with(condition: str, let: str) -> str:
    """A complete rule after the shipped header, around two drawn expressions."""
    return (
        f'{shipped_header()}\nrule FUZZ "Règle tirée"\n  severity error\n  source "s"\n'
        f"  let drawn = {let}\n  when {condition}\n"
        '  message "{act_code} : {drawn}"\n'
    )


@FUZZ
@given(grammar_rulebooks())
def test_rulebooks_drawn_from_the_grammar(text: str):
    check_text(text, "fuzz.rules")


@FUZZ
@given(grammar_rulebooks())
def test_rulebooks_drawn_from_the_grammar_after_the_shipped_header(text: str):
    check_text(shipped_header() + text, "fuzz.rules")


@settings(FUZZ, max_examples=max(3, settings.default.max_examples // 10))  # see below
@given(grammar_expressions(), grammar_expressions())
def test_rules_around_expressions_drawn_from_the_grammar(condition: str, let: str):
    """The expression grammar branches so much that most drawings overrun hypothesis's
    buffer and are drawn again: a tenth of the profile's examples costs as much as the
    other properties."""
    check_text(rule_with(condition, let), "fuzz.rules", only=["FUZZ"])


def test_the_grammar_strategies_draw_rulebooks_that_parse_and_resolve():
    """The strategies are worth their cost only if drawings get past the parser, and some
    past resolution to the engines: find one of each."""
    from hypothesis import find

    search = settings(FUZZ, max_examples=2000, database=None)
    parsed = find(grammar_rulebooks(), lambda t: "rule" in t and _parses(t), settings=search)
    assert resolve_or_none(parsed) is None or "rule" in parsed
    condition = find(
        grammar_expressions(),
        lambda e: resolve_or_none(rule_with(e, "1")) is not None,
        settings=search,
    )
    assert resolve_or_none(rule_with(condition, "1")).rule("FUZZ") is not None


def _parses(text: str) -> bool:
    try:
        parse(text, "fuzz.rules")
    except ClaimlintError:
        return False
    return True


def resolve_or_none(text: str) -> Rulebook | None:
    try:
        return resolve([parse(text, "fuzz.rules")])
    except ClaimlintError:
        return None


# ------------------------------------------------------------------------------ mutations

INSERTED = list("\"'|(){}[],.=<>!#%\\\t\n-_ ") + ["\u0000", "é", "€", "\ufeff", "||", "..", " and "]


@st.composite
def mutated(draw, text: str, pieces: str = r"\S+") -> str:
    """`text` with one to three mutations: a line or a token deleted, duplicated or moved, or
    characters inserted."""
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        tokens = [m.span() for m in re.finditer(pieces, text)] or [(0, 0)]
        kind = draw(st.sampled_from(["del-line", "dup-line", "swap-lines", "del-token",
                                     "dup-token", "swap-tokens", "insert"]))  # fmt: skip
        if kind.endswith("line") or kind == "swap-lines":
            i, j = (draw(st.integers(0, len(lines) - 1)) for _ in range(2))
            if kind == "del-line":
                del lines[i]
            elif kind == "dup-line":
                lines.insert(i, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif kind == "insert":
            at = draw(st.integers(0, len(text)))
            extra = draw(st.one_of(st.sampled_from(INSERTED), st.text(min_size=1, max_size=3)))
            text = text[:at] + extra + text[at:]
        else:
            (a, b), (c, d) = sorted(draw(st.sampled_from(tokens)) for _ in range(2))
            if kind == "del-token":
                text = text[:a] + text[b:]
            elif kind == "dup-token":
                text = text[:b] + " " + text[a:b] + text[b:]
            elif b <= c:  # swap two tokens that do not overlap
                text = text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]
    return text


# ------------------------------------------------------------------------------ (b) rulebooks

RULEBOOK_FILES = sorted(p for p in shipped_root().rglob("*.rules"))


@functools.cache
def parsed_shipped(folder: Path) -> dict[Path, SourceFile]:
    return {
        p: parse(p.read_text("utf-8"), f"{folder.name}/{p.name}")
        for p in sorted(folder.glob("*.rules"))
    }


@FUZZ
@given(st.sampled_from(RULEBOOK_FILES), st.data())
def test_mutated_shipped_rulebooks(file: Path, data: st.DataObject):
    text = data.draw(mutated(file.read_text("utf-8")), label="mutated")
    others = tuple(s for p, s in parsed_shipped(file.parent).items() if p != file)
    # The DuckDB engine compiles every rule it runs: one rule drawn per example keeps it fast.
    rule_ids = sorted(
        d.id.name for s in parsed_shipped(file.parent).values() for d in s.decls
        if isinstance(d, RuleDecl)
    )  # fmt: skip
    only = [data.draw(st.sampled_from(rule_ids), label="rule")] if rule_ids else []
    check_text(text, f"{file.parent.name}/{file.name}", others, only)


def test_the_shipped_rulebooks_pass_the_pipeline_unmutated():
    for folder in sorted({p.parent for p in RULEBOOK_FILES}):
        sources = list(parsed_shipped(folder).values())
        book = resolve(sources)
        assert book.rules
        check_rulebook(sources, [book.rules[0].id])


# ------------------------------------------------------------------------------ (c) claims


@FUZZ
@given(
    mutated(CLAIMS.read_text("utf-8"), pieces=r"[^,\n]+"),
    st.sampled_from(["python", "duckdb"]),
    st.sampled_from(["utf-8", "latin-1", "utf-8-sig"]),
)
def test_mutated_claims_files_through_check(text: str, engine: str, encoding: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lot.csv"
        path.write_bytes(text.encode(encoding, errors="replace"))
        args = ["check", str(path), "--engine", engine, "--format", "json"]
        if engine == "duckdb":
            args += ["--select", "SNP-CAP,MOD-K"]  # compiling every rule would take seconds
        result = CliRunner().invoke(main, args)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 2), result.output


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_claims_file_checks_unmutated(engine: str):
    result = CliRunner().invoke(
        main, ["check", str(CLAIMS), "--engine", engine, "--select", "SNP-CAP,MOD-K"]
    )
    assert result.exit_code in (0, 1), result.output
