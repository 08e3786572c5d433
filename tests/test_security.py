"""A rulebook is data (DESIGN.md): nothing in it, or in the input, is executed or pasted as text.

1. Every module of the package, read as an AST: no eval/exec/compile of text, no pickle,
   marshal or shelve, no unsafe YAML, no shell; SQL handed to DuckDB is never an f-string, a
   concatenation, a `%` or a `.format()` (it comes from sqlglot's `.sql()`).
2. Hostile strings in a rulebook's constants (set members, compared texts, sources) and in
   the input's values give the same violations in both engines, without an SQL error.
3. A rulebook folder cannot pull in a file from outside through a symbolic link.
"""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import claimlint
from claimlint.checker import duckdb_engine, interpreter
from claimlint.checker.readers import Batch
from claimlint.dsl.loader import load
from claimlint.dsl.parser import parse
from claimlint.dsl.resolve import resolve
from claimlint.errors import RulebookError

PACKAGE = Path(claimlint.__file__).parent

# ------------------------------------------------------------------------------ 1. source scan

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "yaml"}
SHELL_CALLS = {"system", "popen", "spawnl", "spawnlp", "spawnv", "spawnvp", "execl", "execv"}
SQL_METHODS = {"execute", "executemany", "sql", "query"}


def _dotted(node: ast.expr) -> str:
    """`a.b.c` as text (the parts that are names), for messages and matching."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "…"


def _built_text(node: ast.expr) -> bool:
    """Text assembled at run time: f-string, `+` or `%` on strings, `.format()`, `.join()`."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"format", "join", "replace"}
    )


def offences(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names.append(getattr(node, "module", None) or "")
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append((node.lineno, f"import {name}"))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = _dotted(func)
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
            found.append((node.lineno, f"{func.id}()"))
        if isinstance(func, ast.Attribute):
            if name.startswith("os.") and func.attr in SHELL_CALLS:
                found.append((node.lineno, f"{name}()"))
            if func.attr in {"load", "unsafe_load", "load_all"} and name.startswith("yaml."):
                found.append((node.lineno, f"{name}()"))
            if func.attr in SQL_METHODS and node.args and _built_text(node.args[0]):
                found.append((node.lineno, f"{name}() d'un texte assemblé"))
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append((node.lineno, f"{name}(shell=…)"))
    return found


def package_offences() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = path.relative_to(PACKAGE.parent).as_posix()
        found += [f"{rel}:{line}: {what}" for line, what in offences(tree)]
    return found


def test_the_package_never_executes_text_nor_builds_sql_by_hand():
    assert package_offences() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("eval(text)", "eval()"),
        ("exec(code)", "exec()"),
        ("compile(text, 'f', 'exec')", "compile()"),
        ("import pickle", "import pickle"),
        ("from marshal import loads", "import marshal"),
        ("import yaml\nyaml.load(text)", "import yaml"),
        ("os.system('ls ' + name)", "os.system()"),
        ("subprocess.run(cmd, shell=True)", "subprocess.run(shell=…)"),
        ("con.execute(f'SELECT * FROM {table}')", "con.execute() d'un texte assemblé"),
        ("con.execute('SELECT ' + column)", "con.execute() d'un texte assemblé"),
        ("con.sql('SELECT %s' % value)", "con.sql() d'un texte assemblé"),
        ("cur.executemany('SELECT {}'.format(v))", "cur.executemany() d'un texte assemblé"),
    ],
)
def test_the_scan_catches_each_offence(source: str, expected: str):
    assert expected in [what for _, what in offences(ast.parse(source))]


@pytest.mark.parametrize(
    "source",
    [
        "con.execute(query.sql(dialect='duckdb'))",
        "con.execute('SET enable_progress_bar = true')",
        "re.compile(pattern)",
        "subprocess.run(['ls'], shell=False)",
        "tomllib.loads(text)",
    ],
)
def test_the_scan_lets_safe_code_through(source: str):
    assert offences(ast.parse(source)) == []


# ------------------------------------------------------------------------------ 2. hostile values

HOSTILE = [
    "'; DROP TABLE x; --",
    '"; DROP TABLE claimlint_base; --',
    "O'Brien",
    "Robert'); DROP TABLE claimlint_input;--",
    "' OR '1'='1",
    "\\",
    "\\'",
    '\\"',
    "$1",
    "%s",
    "?",
    ":name",
    "{line_id}",
    "é\u0000x",
    "\u202eRTL",
    "🩺",
    "",
    "SNP",
]

# A rulebook string holds any character but a line break (the DSL's strings are one line).
rulebook_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\n"),
        max_size=12,
    ),
)
data_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)


def dsl_string(value: str) -> str:
    """`value` as a string literal of the rule language: backslash escapes the quote and itself."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hostile_rulebook(member: str, compared: str, source: str) -> str:
    return f"""\
rulebook hostile "Recueil hostile"

input claims "Lignes"
  line_id       text   required  role line
  claim_id      text   required  role claim
  provider_id   text   required  role provider
  patient_id    text   required
  service_date  date   required  role date
  act_code      text   required
  amount        money  required  role amount

set CODES "Codes" = {{{dsl_string(member)}, "SNP"}} source {dsl_string(source)}

rule IN-SET "Code de l'ensemble"
  severity error
  source {dsl_string(source)}
  when act_code in CODES
  message "code {{act_code}} sur {{claim_id}}"

rule EQUALS "Texte comparé"
  severity warning
  source "s"
  when patient_id = {dsl_string(compared)} or claim_id > {dsl_string(compared)}
  message "patient {{patient_id}}"

rule IN-LITERAL "Ensemble écrit dans la règle"
  severity info
  source "s"
  when provider_id not in {{{dsl_string(compared)}, {dsl_string(member)}}}
  message "médecin {{provider_id}}"
"""


@settings(  # as many examples as the profile says (tests/conftest.py)
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    member=rulebook_text,
    compared=rulebook_text,
    source=rulebook_text,
    values=st.lists(st.tuples(data_text, data_text, data_text, data_text), min_size=1, max_size=4),
)
def test_hostile_strings_give_the_same_violations_in_both_engines(
    member: str, compared: str, source: str, values: list[tuple[str, str, str, str]]
):
    book = resolve([parse(hostile_rulebook(member, compared, source), "hostile.rules")])
    assert book.sets["CODES"].values >= {member, "SNP"}  # the escapes read back exactly
    rows = []
    for i, (claim, provider, patient, code) in enumerate(values):
        for j, act in enumerate((code, member, compared)):
            rows.append(
                {
                    "line_id": f"{claim}#{i}.{j}",
                    "claim_id": claim,
                    "provider_id": provider,
                    "patient_id": patient if j else compared,
                    "service_date": dt.date(2025, 3, 3),
                    "act_code": act,
                    "amount": Decimal("12.34"),
                }
            )
    batch = Batch(book.input, "lot", tuple(rows), tuple(range(2, len(rows) + 2)), (), len(rows))
    expected = interpreter.check(book, batch, {})
    assert duckdb_engine.check(book, batch, {}) == expected
    flagged = {v.line_id for v in expected if v.rule == "IN-SET"}
    assert {r["line_id"] for r in rows if r["act_code"] in (member, "SNP")} == flagged


# ------------------------------------------------------------------------------ 3. paths


def _book(folder: Path) -> None:
    folder.mkdir()
    (folder / "rulebook.rules").write_text(
        'rulebook dossier "Dossier"\n\ninput claims "Lignes"\n  line_id text required role line\n',
        encoding="utf-8",
    )


def test_a_link_out_of_the_rulebook_folder_is_refused(tmp_path: Path):
    book = tmp_path / "recueil"
    _book(book)
    outside = tmp_path / "ailleurs.rules"
    outside.write_text('set S = {"x"}\n', encoding="utf-8")
    (book / "vol.rules").symlink_to(outside)
    with pytest.raises(RulebookError) as caught:
        load(str(book))
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message == (
        f"recueil/vol.rules : ce lien mène hors du dossier du recueil ({outside.resolve()})"
    )
    assert diagnostic.hint == (
        "copiez le fichier dans le dossier du recueil, ou donnez son chemin directement"
    )


def test_a_linked_folder_out_of_the_rulebook_folder_is_refused(tmp_path: Path):
    book = tmp_path / "recueil"
    _book(book)
    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir()
    (elsewhere / "s.rules").write_text('set S = {"x"}\n', encoding="utf-8")
    (book / "theme").symlink_to(elsewhere, target_is_directory=True)
    try:
        rulebook = load(str(book))
    except RulebookError as err:  # the link was followed: it must then be refused
        assert "ce lien mène hors du dossier du recueil" in err.diagnostics[0].message
    else:  # or it was not followed at all
        assert "S" not in rulebook.sets


def test_a_link_inside_the_rulebook_folder_is_read(tmp_path: Path):
    book = tmp_path / "recueil"
    _book(book)
    (book / "sets").mkdir()
    (book / "sets" / "codes.txt").write_text('set S = {"x"}\n', encoding="utf-8")
    (book / "codes.rules").symlink_to(book / "sets" / "codes.txt")
    assert load(str(book)).sets["S"].values == frozenset({"x"})
