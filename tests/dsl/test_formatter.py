"""`claimlint fmt`: one canonical layout, idempotent, comments kept, meaning unchanged.

Laws: fmt(fmt(x)) == fmt(x) and parse(fmt(x)) == parse(x) (positions aside), with the same
comments in the same order, for every shipped rulebook file and for generated ones written in
random layouts (random line breaks, indentation, comments and parentheses).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimlint.cli import main
from claimlint.dsl.formatter import format_text, strip_positions
from claimlint.dsl.parser import parse, parse_with_comments
from claimlint.errors import RulebookError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_FILES = sorted((ROOT / "rulebooks").rglob("*.rules"))


def fmt(text: str) -> str:
    return format_text(textwrap.dedent(text).lstrip("\n"), "test.rules")


def canonical(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def assert_laws(text: str) -> str:
    """The formatter's laws on one text; returns the formatted text."""
    once = format_text(text, "x.rules")
    assert format_text(once, "x.rules") == once, "fmt n'est pas idempotent"
    before, comments = parse_with_comments(text, "x.rules")
    after, comments_after = parse_with_comments(once, "x.rules")
    assert strip_positions(after) == strip_positions(before)
    assert [c.text for c in comments_after] == [c.text for c in comments]
    return once


# ----------------------------------------------------------------------------- golden snippets


def test_decision_table_is_aligned_column_by_column_with_its_double_bar():
    source = """
        table T "Tarif" hit policy U
          input code text in CODES
          input date date
          output tariff money default 0.00
          |code|date||tariff|
          | "G" | <= 2024-12-21 || 26.50 |
          | "GL1", "GL2" |>= 2026-01-01|| - |
    """
    assert fmt(source) == canonical("""
        table T "Tarif"
          hit policy U
          input  code   text  in CODES
          input  date   date
          output tariff money default 0.00
          | code         | date          || tariff |
          | "G"          | <= 2024-12-21 || 26.50  |
          | "GL1", "GL2" | >= 2026-01-01 || -      |
    """)


def test_example_tables_are_aligned_and_cells_kept_as_written():
    source = """
        example "e" for A, B claims
        | line_id | amount |
        | S{1..21} | 15.00 |
        |  | 1 |
        expect none
    """
    assert fmt(source) == canonical("""
        example "e" for A, B
          claims
            | line_id  | amount |
            | S{1..21} | 15.00  |
            |          | 1      |
          expect none
    """)


def test_comments_are_kept_before_declarations_between_rows_and_after_code():
    source = """
        # En-tête du fichier.

        # Le tarif de chaque code.
        table T hit policy U   # la politique
          input code text
          output tariff money
          | code | tariff |
          # G : comm.
          | "G" | 30.00 |  # depuis le 22/12/2024
            # APC
          | "APC" | 60.00 |
        rule A "t"
          # Avant la condition.
          when a   # après la condition
          message "m"
        # Fin du fichier.
    """
    assert fmt(source) == canonical("""
        # En-tête du fichier.

        # Le tarif de chaque code.
        table T  # la politique
          hit policy U
          input  code   text
          output tariff money
          | code  | tariff |
          # G : comm.
          | "G"   | 30.00  |  # depuis le 22/12/2024
          # APC
          | "APC" | 60.00  |

        rule A "t"
          # Avant la condition.
          when a  # après la condition
          message "m"

        # Fin du fichier.
    """)


def test_a_comment_between_the_operands_of_a_broken_condition_stays_there():
    source = """
        rule A "t"
          when act_code = "X"
           # seulement facturé
           and amount > 0
    """
    assert fmt(source) == canonical(source)


def test_a_comment_inside_an_expression_that_is_joined_goes_before_its_clause():
    source = """
        rule A "t"
          let x = f(a,
                    # le second
                    b)
    """
    assert fmt(source) == canonical("""
        rule A "t"
          # le second
          let x = f(a, b)
    """)


def test_comments_keep_their_order_when_the_code_around_them_is_joined():
    source = """
        rule A "t"
          let x = f(a,  # premier
                    # deuxième
                    b)  # troisième
          message "m"
    """
    assert fmt(source) == canonical("""
        rule A "t"
          let x = f(a, b)  # premier
          # deuxième
          # troisième
          message "m"
    """)


def test_redundant_parentheses_are_removed():
    source = 'rule A "t" when ((a = 1) and (b)) and ((c + (d * e)) > (-f)) let x = (((y)))'
    assert fmt(source) == canonical("""
        rule A "t"
          when a = 1 and b and c + d * e > -f
          let x = y
    """)


def test_parentheses_the_tree_needs_are_kept():
    source = """
        rule A "t"
          let a = (x - (y - z)) * (u + v) / (w / t)
          let b = p and (q or r) and (s and t)
          let c = -(x + y) + (if c then 1 else 2)
          let d = (if a then b else c) = 1
          when a or (b or c)
    """
    assert fmt(source) == canonical("""
        rule A "t"
          let a = (x - (y - z)) * (u + v) / (w / t)
          let b = p and (q or r) and (s and t)
          let c = -(x + y) + (if c then 1 else 2)
          let d = (if a then b else c) = 1
          when a or (b or c)
    """)


def test_an_and_inside_an_or_and_a_comparison_after_not_keep_parentheses_for_the_reader():
    source = 'rule A "t" when a and b or not c = 1 or not (d is missing) or not e in S'
    assert fmt(source) == canonical("""
        rule A "t"
          when (a and b) or not (c = 1) or not (d is missing) or not (e in S)
    """)


def test_a_long_condition_breaks_before_and_with_the_operands_lined_up():
    source = (
        'rule A "t" when provider_specialty in PSYCHIATRY and act_code not in SURCHARGES '
        'and act_code not in TELEEXPERTISE and (setting = "teleconsultation" or claim has '
        '(act_code not in SURCHARGES and setting = "teleconsultation" and regulation = "SAS"))'
    )
    assert fmt(source) == canonical("""
        rule A "t"
          when provider_specialty in PSYCHIATRY
           and act_code not in SURCHARGES
           and act_code not in TELEEXPERTISE
           and (setting = "teleconsultation"
                or claim has (act_code not in SURCHARGES
                              and setting = "teleconsultation"
                              and regulation = "SAS"))
    """)


def test_a_condition_the_author_broke_stays_broken_one_that_fits_stays_whole():
    source = """
        rule A "t"
          when act_code = "SHE" and claim has (a) and
            not (b and c)
        rule B "t"
          when act_code = "SHE" and not (b and c)
    """
    assert fmt(source) == canonical("""
        rule A "t"
          when act_code = "SHE"
           and claim has (a)
           and not (b and c)

        rule B "t"
          when act_code = "SHE" and not (b and c)
    """)


def test_a_long_let_breaks_its_conditional_one_branch_per_line():
    source = """
        rule A "t"
          let finding = if delay_minutes is missing then "date ou heure manquante, le délai ne peut être vérifié" else if delay_minutes < 0 then "visite antérieure à l'appel" else "délai dépassé"
          let label = if provider_option in OPTAM_OPTIONS then provider_option else "sans OPTAM ni OPTAM-ACO ni rien"
          let eligible = MOD_3_AVAILABLE and provider_specialty in ANAESTHESIA and ((provider_sector = "1" and provider_option != "OPTAM-ACO") or (provider_sector = "2" and provider_option = "OPTAM-ACO"))
    """
    assert fmt(source) == canonical("""
        rule A "t"
          let finding = if delay_minutes is missing
                        then "date ou heure manquante, le délai ne peut être vérifié"
                        else if delay_minutes < 0 then "visite antérieure à l'appel"
                        else "délai dépassé"
          let label = if provider_option in OPTAM_OPTIONS
                      then provider_option
                      else "sans OPTAM ni OPTAM-ACO ni rien"
          let eligible = MOD_3_AVAILABLE
                         and provider_specialty in ANAESTHESIA
                         and ((provider_sector = "1" and provider_option != "OPTAM-ACO")
                              or (provider_sector = "2" and provider_option = "OPTAM-ACO"))
    """)


def test_a_long_call_puts_one_argument_per_line():
    source = (
        'rule A "t" let tlc_cap = min(max(TLC_CAP_PSY, coalesce(provider.tlc_cap_derogation, '
        "TLC_CAP_PSY)), TLC_DEROGATION_CEILING)"
    )
    assert fmt(source) == canonical("""
        rule A "t"
          let tlc_cap = min(max(TLC_CAP_PSY, coalesce(provider.tlc_cap_derogation, TLC_CAP_PSY)),
                            TLC_DEROGATION_CEILING)
    """)


def test_rule_clauses_are_indented_one_per_line():
    source = """
        rule SNP-CAP "Au plus 20" severity warning if amount < expected else error source "s"
        from 2024-01-01 until 2024-12-31 for each provider_id,iso_week(service_date)
        when act_code="SNP" count true at most SNP_WEEKLY_CAP % stake amount-expected
        unless X "y" source "z" when a message "m"
        rule B "t" always flag once per group
    """
    assert fmt(source) == canonical("""
        rule SNP-CAP "Au plus 20"
          severity warning if amount < expected else error
          source "s"
          from 2024-01-01 until 2024-12-31
          for each provider_id, iso_week(service_date)
          when act_code = "SNP"
          count true
          at most SNP_WEEKLY_CAP percent
          stake amount - expected
          unless X "y" source "z" when a
          message "m"

        rule B "t"
          always
          flag once per group
    """)


def test_a_long_exception_takes_one_line_per_part():
    source = (
        'rule A "t" unless CPL-VALIDATED "Organisation de soins ambulatoires validée en CPL" '
        'source "circ. §6.B.2.ii, dernier alinéa" when provider.yyyy010_cpl_validated\n'
        'exception E to A "t" when a'
    )
    assert fmt(source) == canonical("""
        rule A "t"
          unless CPL-VALIDATED "Organisation de soins ambulatoires validée en CPL"
            source "circ. §6.B.2.ii, dernier alinéa"
            when provider.yyyy010_cpl_validated

        exception E to A "t" when a
    """)


def test_sets_stay_on_one_line_when_they_fit_and_wrap_when_not():
    codes = ", ".join(f'"C{i:02}"' for i in range(30))
    source = f"""
        set SHORT "Courts" = {{"MN","MM", "F"}} source "s"
        set LONG "Longs" = {{{codes}}} source "s"
        set SOURCED "Un titre assez long pour que la source de cet ensemble passe à la ligne" = {{"A"}} source "s"
    """
    assert fmt(source) == canonical("""
        set SHORT "Courts" = {"MN", "MM", "F"} source "s"

        set LONG "Longs" = {
          "C00", "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10", "C11", "C12", "C13",
          "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21", "C22", "C23", "C24", "C25", "C26", "C27",
          "C28", "C29"
        } source "s"

        set SOURCED "Un titre assez long pour que la source de cet ensemble passe à la ligne" = {"A"}
          source "s"
    """)


def test_parameter_values_take_one_line_each():
    source = """
        parameter P "Plafond" type integer value 20 until 2024-12-31 source "a" value -3
        from 2025-01-01 value 00020.50 always
    """
    assert fmt(source) == canonical("""
        parameter P "Plafond"
          type integer
          value 20 until 2024-12-31 source "a"
          value -3 from 2025-01-01
          value 20.50 always
    """)


def test_schema_fields_are_aligned_and_a_long_option_goes_under_the_first():
    source = """
        input claims "Lignes"
          line_id text required role line
          setting text optional default "cabinet" one of {"cabinet", "domicile", "teleconsultation", "etablissement"}
          quantity integer default 1
    """
    assert fmt(source) == canonical("""
        input claims "Lignes"
          line_id   text     required  role line
          setting   text     optional  default "cabinet"
                                       one of {"cabinet", "domicile", "teleconsultation", "etablissement"}
          quantity  integer  optional  default 1
    """)


def test_strings_are_requoted_with_their_escapes():
    source = r'rule A "un \"titre\" \\ et \é" message "{act_code} # pas un commentaire"'
    assert fmt(source) == canonical(r"""
        rule A "un \"titre\" \\ et é"
          message "{act_code} # pas un commentaire"
    """)


def test_define_continues_under_its_expression_or_below_a_long_title():
    long_title = "Un titre long " * 6
    source = f"""
        define SHORT = a = "1" or b in S source "s"
        define LONG "{long_title}" = coalesce(opposable, provider_sector = "1") source "s"
    """
    assert fmt(source) == canonical(f"""
        define SHORT = a = "1" or b in S source "s"

        define LONG "{long_title}" =
          coalesce(opposable, provider_sector = "1")
          source "s"
    """)


def test_blank_lines_one_between_declarations_none_inside():
    source = '\n\n\nset A = {1}\n\n\n\nset B = {2}\nrule R "t"\n\n  always\n\n\n'
    assert fmt(source) == 'set A = {1}\n\nset B = {2}\n\nrule R "t"\n  always\n'


def test_windows_line_ends_and_trailing_spaces_are_mended():
    source = 'rule A "t"   \r\n  when a   # c   \r\n  message "m"\r\n'
    assert format_text(source, "x") == 'rule A "t"\n  when a  # c\n  message "m"\n'


def test_an_empty_file_stays_empty_and_a_file_of_comments_keeps_them():
    assert format_text("", "x") == ""
    assert format_text("\n\n# a\n\n\n# b\n", "x") == "# a\n\n# b\n"


def test_a_syntax_error_is_the_usual_rulebook_error():
    with pytest.raises(RulebookError, match="parenthèse ouverte"):
        format_text('rule A "t"\n  when (a\n', "x.rules")


def test_the_canonical_layout_is_a_fixed_point():
    text = fmt('rule A "t" when a and b\n  or c  # x\nexample "e" expect\n|a|\n|1|')
    assert format_text(text, "x") == text


# ----------------------------------------------------------------------------- shipped rulebooks


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_rulebook_files_keep_their_meaning_and_comments(path: Path):
    assert_laws(path.read_text(encoding="utf-8"))


def test_shipped_rulebooks_are_all_covered():
    assert len(SHIPPED_FILES) >= 10


# ----------------------------------------------------------------------------- generated rulebooks

KEYWORDS = set(
    "rulebook version input reference joined on required optional default one of role set "
    "parameter type value from until always table hit policy output in define rule severity "
    "if else source let when unless message stake for each count at most flag once per group "
    "percent exception to example defaults expect none claim has not and or then is missing "
    "present matches true false null unique any priority first collect".split()
)
NAMES = st.sampled_from(
    [
        "a",
        "b",
        "amount",
        "act_code",
        "x_1",
        "S",
        "SNP_WEEKLY_CAP",
        "provider_specialty_label",
        "working_days_between",
        "MCU_MAX_CALENDAR_DAYS",
    ]  # fmt: skip
)
TYPES = st.sampled_from(["text", "integer", "decimal", "money", "date", "time", "boolean"])
RULE_IDS = st.sampled_from(["R", "SNP-CAP", "A1-B2-C3", "YYYY010-FOLLOWUP"])
HIT_POLICIES = st.sampled_from(["U", "first", "collect sum", "C+", "rule order", "unique", "C"])
PATTERNS = st.sampled_from([r'"[A-Z]{4}[0-9]{3}"', r'"\\d+"', r'"a|b"', r'"x\"y"'])

STRINGS = st.lists(
    st.sampled_from(["a", "é", " ", r"\"", r"\\", r"\a", "#", "|", "{act_code}", "«", "—"]),
    max_size=6,
).map(lambda parts: '"' + "".join(parts) + '"')
NUMBERS = st.one_of(
    st.integers(0, 10**6).map(str),
    st.tuples(st.integers(0, 999), st.text("0123456789", min_size=1, max_size=8)).map(
        lambda t: f"{t[0]}.{t[1]}"
    ),
)
DATES = st.dates(min_value=dt.date(1000, 1, 1)).map(lambda d: d.isoformat())
TIMES = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02}:{t[1]:02}")
LITERALS = st.one_of(STRINGS, NUMBERS, DATES, TIMES, st.sampled_from(["true", "false"]))
SIGNED = st.one_of(LITERALS, NUMBERS.map(lambda n: "- " + n))


def joined(items: list[list[str]], sep: str = ",") -> list[str]:
    out: list[str] = []
    for i, item in enumerate(items):
        if i:
            out.append(sep)
        out += item
    return out


SETS = st.lists(LITERALS, max_size=25).map(lambda xs: ["{", *joined([[x] for x in xs]), "}"])


def paren(tokens: list[str]) -> list[str]:
    """A compound operand in parentheses: always right, whatever the precedence."""
    return tokens if len(tokens) == 1 else ["(", *tokens, ")"]


def _extend(children: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    binary = st.tuples(
        children,
        st.sampled_from(["or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"]),
        children,
    ).map(lambda t: [*paren(t[0]), t[1], *paren(t[2])])
    chain = st.tuples(
        st.sampled_from(["and", "or", "+", "*"]), st.lists(children, min_size=3, max_size=6)
    ).map(lambda t: joined([paren(x) for x in t[1]], t[0]))
    else_if = st.lists(st.tuples(children, children), min_size=2, max_size=4).flatmap(
        lambda branches: children.map(
            lambda last: [
                *[w for c, x in branches for w in ("if", *c, "then", *x, "else")],
                *last,
            ]
        )
    )
    return st.one_of(
        binary,
        binary,
        chain,
        else_if,
        st.tuples(st.sampled_from(["not", "-"]), children).map(lambda t: [t[0], *paren(t[1])]),
        st.tuples(children, st.booleans(), children).map(
            lambda t: [*paren(t[0]), *(["not", "in"] if t[1] else ["in"]), *paren(t[2])]
        ),
        st.tuples(children, st.sampled_from(["missing", "present"])).map(
            lambda t: [*paren(t[0]), "is", t[1]]
        ),
        st.tuples(children, PATTERNS).map(lambda t: [*paren(t[0]), "matches", t[1]]),
        st.tuples(children, children, children).map(
            lambda t: ["if", *t[0], "then", *t[1], "else", *t[2]]
        ),
        st.tuples(NAMES, st.lists(children, max_size=3), st.none() | NAMES).map(
            lambda t: [t[0], "(", *joined(t[1]), ")", *([".", t[2]] if t[2] else [])]
        ),
        children.map(lambda c: ["claim", "has", "(", *c, ")"]),
        children.map(lambda c: ["(", *c, ")"]),
    )


EXPRS = st.recursive(
    st.one_of(
        NAMES.map(lambda n: [n]),
        NAMES.map(lambda n: ["provider", ".", n]),
        LITERALS.map(lambda x: [x]),
        SETS,
    ),
    _extend,
    max_leaves=16,
)

Row = tuple[str, str]  # ("row", text): a table row, alone on its line


@st.composite
def table_rows(draw, split: bool | None = None) -> list[Row]:
    """A header and rows; with a `||` at the same place in every row when `split`."""
    if split is None:
        split = draw(st.booleans())
    cell = st.text(alphabet='ab -,"<>=[].09é#', max_size=6).map(str.strip)
    n_rows = draw(st.integers(1, 4))
    inputs = draw(st.integers(1, 3)) if split else None
    rows = []
    for _ in range(n_rows):
        n = draw(st.integers(1, 4))
        if split:
            n = max(n, inputs)
        cells = [draw(cell) for _ in range(n)]
        pieces = []
        for k, text in enumerate(cells):
            # an empty piece between two bars is the `||`, unless it is first or after the `||`
            may_be_empty = k == 0 or (split and k > inputs)
            left = draw(st.integers(0 if (text or may_be_empty) else 1, 2))
            pieces.append(" " * left + text + " " * draw(st.integers(0, 2)))
        if split:
            body = "|".join(pieces[:inputs]) + "||" + "|".join(pieces[inputs:])
        else:
            body = "|".join(pieces)
        rows.append(("row", "|" + body + "|"))
    return rows


@st.composite
def clause(draw) -> list:
    kind = draw(
        st.sampled_from(
            [
                "severity",
                "source",
                "period",
                "let",
                "when",
                "unless",
                "message",
                "stake",
                "group",
                "count",
                "cap",
                "once",
            ]  # fmt: skip
        )
    )
    level = st.sampled_from(["error", "warning", "info"])
    if kind == "severity":
        if draw(st.booleans()):
            return ["severity", draw(level)]
        return ["severity", draw(level), "if", *paren(draw(EXPRS)), "else", draw(level)]
    if kind in ("source", "message"):
        return [kind, draw(STRINGS)]
    if kind == "period":
        return draw(period())
    if kind == "let":
        return ["let", draw(NAMES), "=", *draw(EXPRS)]
    if kind in ("when", "stake", "count"):
        return [kind, *draw(EXPRS)]
    if kind == "unless":
        source = ["source", draw(STRINGS)] if draw(st.booleans()) else []
        return ["unless", draw(RULE_IDS), draw(STRINGS), *source, "when", *draw(EXPRS)]
    if kind == "group":
        return ["for", "each", *joined(draw(st.lists(EXPRS, min_size=1, max_size=3)))]
    if kind == "cap":
        return ["at", "most", *draw(EXPRS), *draw(st.sampled_from([[], ["percent"], ["%"]]))]
    return ["flag", "once", "per", "group"]


@st.composite
def period(draw) -> list:
    return draw(
        st.one_of(
            st.just(["always"]),
            DATES.map(lambda d: ["from", d]),
            DATES.map(lambda d: ["until", d]),
            st.tuples(DATES, DATES).map(lambda t: ["from", t[0], "until", t[1]]),
        )
    )


def optional(strategy: st.SearchStrategy, *before: str) -> st.SearchStrategy[list]:
    """Nothing, or `before` then what `strategy` draws (a token or a list of tokens)."""
    present = strategy.map(lambda x: [*before, *(x if isinstance(x, list) else [x])])
    return st.one_of(st.just([]), present)


@st.composite
def declaration(draw) -> list:
    kind = draw(
        st.sampled_from(
            [
                "header",
                "input",
                "reference",
                "set",
                "parameter",
                "define",
                "table",
                "rule",
                "exception",
                "example",
                "defaults",
            ]  # fmt: skip
        )
    )
    title = optional(STRINGS)
    source = optional(STRINGS, "source")
    if kind == "header":
        book = draw(st.sampled_from(["convention-2024", "fmt-2026", "a.b_c"]))
        return ["rulebook", book, draw(STRINGS), *draw(optional(STRINGS, "version"))]
    if kind in ("input", "reference"):
        option = st.one_of(
            st.just(["required"]),
            st.just(["optional"]),
            LITERALS.map(lambda x: ["default", x]),
            SETS.map(lambda x: ["one", "of", *x]),
            NAMES.map(lambda x: ["role", x]),
        )
        field = st.tuples(NAMES, TYPES, st.lists(option, max_size=3)).map(
            lambda t: [t[0], t[1], *[w for o in t[2] for w in o]]
        )
        fields = [w for f in draw(st.lists(field, min_size=1, max_size=4)) for w in f]
        join = ["joined", "on", draw(NAMES)] if kind == "reference" else []
        return [kind, draw(NAMES), draw(STRINGS), *join, *fields]
    if kind == "set":
        return ["set", draw(NAMES), *draw(title), "=", *draw(SETS), *draw(source)]
    if kind == "parameter":
        value = st.tuples(SIGNED, optional(period()), optional(STRINGS, "source")).map(
            lambda t: ["value", t[0], *t[1], *t[2]]
        )
        values = [w for v in draw(st.lists(value, min_size=1, max_size=3)) for w in v]
        return ["parameter", draw(NAMES), *draw(title), "type", draw(TYPES), *draw(source), *values]
    if kind == "define":
        return ["define", draw(NAMES), *draw(title), "=", *draw(EXPRS), *draw(source)]
    if kind == "table":
        option = st.one_of(
            LITERALS.map(lambda x: ["default", x]),
            SETS.map(lambda x: ["one", "of", *x]),
            NAMES.map(lambda x: ["in", x]),
        )
        column = st.tuples(
            st.sampled_from(["input", "output"]), NAMES, TYPES, st.lists(option, max_size=2)
        ).map(lambda t: [t[0], t[1], t[2], *[w for o in t[3] for w in o]])
        columns = [w for c in draw(st.lists(column, min_size=1, max_size=3)) for w in c]
        head = ["table", draw(NAMES), *draw(title), "hit", "policy", draw(HIT_POLICIES)]
        return [*head, *draw(source), *columns, *draw(table_rows())]
    if kind == "rule":
        clauses = [w for c in draw(st.lists(clause(), max_size=5)) for w in c]
        return ["rule", draw(RULE_IDS), draw(STRINGS), *clauses]
    if kind == "exception":
        ids = [draw(RULE_IDS), "to", draw(RULE_IDS)]
        return ["exception", *ids, draw(STRINGS), *draw(source), "when", *draw(EXPRS)]
    example_table = st.tuples(NAMES, table_rows()).map(lambda t: [t[0], *t[1]])
    if kind == "defaults":
        tables = draw(st.lists(example_table, min_size=1, max_size=2))
        return ["example", "defaults", *[w for t in tables for w in t]]
    rules = draw(st.lists(RULE_IDS, max_size=2))
    tables = draw(st.lists(example_table, max_size=2))
    expect = draw(st.one_of(st.just(["none"]), table_rows(split=False)))
    return [
        "example",
        draw(STRINGS),
        *(["for", *joined([[r] for r in rules])] if rules else []),
        *[w for t in tables for w in t],
        "expect",
        *expect,
    ]


COMMENT = st.text(alphabet="ab #|é\"'", max_size=8).map(lambda t: "#" + t)
COMMENT_WITHOUT_BAR = st.text(alphabet="ab #é", max_size=8).map(lambda t: "#" + t)


@st.composite
def separator(draw, after_row: bool) -> str:
    """Whitespace between two tokens: spaces, line breaks, indentation, comments. After a
    table row, a line break (what follows on the row's line would be part of the row)."""
    indent = " " * draw(st.integers(0, 6))
    if after_row:
        choices = [
            st.just("\n" + indent),
            COMMENT_WITHOUT_BAR.map(lambda c: "  " + c + "\n" + indent),
            COMMENT.map(lambda c: "\n" + indent + c + "\n" + indent),
            st.just("\n\n" + indent),
        ]
    else:
        choices = [
            st.just(" "),
            st.just(" "),
            st.just("  "),
            st.just("\n" + indent),
            COMMENT.map(lambda c: " " + c + "\n" + indent),
            COMMENT.map(lambda c: "\n" + indent + c + "\n" + indent),
            st.just("\n\n" + indent),
        ]
    return draw(st.one_of(choices))


@st.composite
def rulebook_texts(draw) -> str:
    decls = draw(st.lists(declaration(), min_size=1, max_size=4))
    tokens = [t for d in decls for t in d]
    out = [draw(st.sampled_from(["", "# tête\n", "\n"]))]
    after_row = False
    for i, token in enumerate(tokens):
        if i:
            out.append(draw(separator(after_row)))
        row = isinstance(token, tuple)
        out.append(token[1] if row else token)
        after_row = row
    out.append(draw(st.sampled_from(["", "\n", "\n# fin\n", "  # fin"])))
    return "".join(out)


PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(rulebook_texts())
def test_generated_rulebooks_fmt_is_idempotent_and_keeps_meaning_and_comments(text: str):
    parse(text, "x.rules")  # the generator writes only valid rulebooks
    assert_laws(text)


@PROPERTY
@given(EXPRS, st.integers(0, 60))
def test_generated_conditions_keep_their_tree_at_any_width(tokens: list[str], indent: int):
    name = "v" * max(1, indent)  # a longer `let` name pushes the expression to the right
    text = f'rule A "t"\n  let {name} = {" ".join(tokens)}\n  when {" ".join(tokens)}\n'
    assert_laws(text)


# ----------------------------------------------------------------------------- the command

MESSY = 'rule A "t"   when a=1\nexample "e" expect\n|rule|\n|A|\n'
TIDY = 'rule A "t"\n  when a = 1\n\nexample "e"\n  expect\n    | rule |\n    | A    |\n'


def run(*args: str):
    return CliRunner().invoke(main, ["fmt", *args])


def test_fmt_rewrites_changed_files_in_place_and_counts_them(tmp_path: Path):
    (tmp_path / "a.rules").write_text(MESSY, encoding="utf-8")
    (tmp_path / "b.rules").write_text(TIDY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(MESSY, encoding="utf-8")
    result = run(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.endswith("1 fichier(s) reformaté(s), 1 déjà conformes\n")
    assert (tmp_path / "a.rules").read_text(encoding="utf-8") == TIDY
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == MESSY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.rules", "b.rules", "notes.txt"]


def test_fmt_check_lists_what_would_change_and_exits_1_without_writing(tmp_path: Path):
    messy = tmp_path / "a.rules"
    messy.write_text(MESSY, encoding="utf-8")
    result = run("--check", str(messy))
    assert result.exit_code == 1
    assert f"à reformater : {messy}" in result.output
    assert messy.read_text(encoding="utf-8") == MESSY
    messy.write_text(TIDY, encoding="utf-8")
    result = run("--check", str(messy))
    assert result.exit_code == 0
    assert "0 fichier(s) à reformater, 1 déjà conformes" in result.output


def test_fmt_diff_prints_a_unified_diff_and_exits_1_without_writing(tmp_path: Path):
    messy = tmp_path / "a.rules"
    messy.write_text(MESSY, encoding="utf-8")
    result = run("--diff", str(messy))
    assert result.exit_code == 1
    assert f"--- {messy}\n+++ {messy}\n" in result.output
    assert '-rule A "t"   when a=1\n' in result.output and "+  when a = 1\n" in result.output
    assert messy.read_text(encoding="utf-8") == MESSY
    messy.write_text(TIDY, encoding="utf-8")
    assert run("--diff", str(messy)).exit_code == 0


def test_fmt_on_a_syntax_error_exits_2_and_writes_nothing(tmp_path: Path):
    (tmp_path / "a.rules").write_text(MESSY, encoding="utf-8")
    (tmp_path / "b.rules").write_text('rule A "t"\n  when (a\n', encoding="utf-8")
    result = run(str(tmp_path))
    assert result.exit_code == 2
    assert "b.rules:2" in result.output
    assert (tmp_path / "a.rules").read_text(encoding="utf-8") == MESSY


def test_fmt_mends_windows_line_ends(tmp_path: Path):
    path = tmp_path / "a.rules"
    path.write_bytes(TIDY.replace("\n", "\r\n").encode("utf-8"))
    assert run("--check", str(path)).exit_code == 1
    assert run(str(path)).exit_code == 0
    assert path.read_bytes() == TIDY.encode("utf-8")


def test_fmt_check_accepts_a_shipped_rulebook_name():
    result = run("--check", "fmt-2026")
    assert result.exit_code in (0, 1)
    assert "déjà conformes" in result.output


def test_fmt_needs_a_rulebook_and_reports_an_unknown_one():
    assert run().exit_code == 2
    result = run("no-such-rulebook")
    assert result.exit_code == 2
    assert "introuvable" in result.output
