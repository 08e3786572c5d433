"""The DuckDB engine's own parts: how reference rows read in Python reach DuckDB, which
relations its queries read, what it prepares while DuckDB works."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from claimlint.checker import calendar, duckdb_engine, interpreter, sql
from claimlint.checker.columnar import CLAIMS, FLAGGED, LINES, OWN_LINES
from claimlint.checker.duckdb_engine import DuckDBEngine
from claimlint.checker.readers import read_csv
from claimlint.checker.run import check_files, read_table
from claimlint.dsl import model as m
from claimlint.dsl.loader import DEFAULT_RULEBOOK, load
from claimlint.dsl.schema import Field, Schema
from claimlint.dsl.types import Type
from claimlint.errors import EvaluationError
from claimlint.generate import generate

ROOT = Path(__file__).resolve().parents[2]
TYPES = [
    ("code", Type.TEXT),
    ("count", Type.INTEGER),
    ("rate", Type.DECIMAL),
    ("fee", Type.MONEY),
    ("since", Type.DATE),
    ("opens", Type.TIME),
    ("active", Type.BOOLEAN),
]
SCHEMA = Schema("ref", "référence", tuple(Field(name, type_, False) for name, type_ in TYPES))
ROWS = [
    {
        "code": "'; DROP TABLE claimlint_input; --",
        "count": 2**62,
        "rate": Decimal("-123456789012.123456"),
        "fee": Decimal("9999999999999999.99"),
        "since": dt.date(1, 1, 1),
        "opens": dt.time(23, 59, 59, 999999),
        "active": True,
    },
    {
        "code": "é « ? » $1 \x00 ' \"",
        "count": -1,
        "rate": Decimal("0.5"),
        "fee": Decimal("0.00"),
        "since": dt.date(9999, 12, 31),
        "opens": dt.time(0, 0),
        "active": False,
    },
    dict.fromkeys(SCHEMA.names),  # every cell missing
]


def registered(engine: DuckDBEngine, rows: list[dict]) -> tuple[list, list]:
    engine._register_rows("ref", SCHEMA, rows)
    types = engine.con.execute("DESCRIBE ref").fetchall()
    return [t[:2] for t in types], engine.con.execute("SELECT * FROM ref").fetchall()


@pytest.mark.parametrize("rows", [ROWS, []], ids=["edge values", "no rows"])
def test_reference_rows_as_lists_are_the_same_table_as_through_arrow(
    rows: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = load("convention-2024")
    as_lists = registered(DuckDBEngine(book), rows)
    monkeypatch.setattr(duckdb_engine, "LIST_VALUES", -1)  # every table through Arrow
    assert registered(DuckDBEngine(book), rows) == as_lists
    assert as_lists[1] == [tuple(row[name] for name in SCHEMA.names) for row in rows]


def test_an_engine_loaded_again_passes_its_references_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = DuckDBEngine(load("convention-2024"))
    for limit in (-1, duckdb_engine.LIST_VALUES, -1):  # Arrow, lists, Arrow again
        monkeypatch.setattr(duckdb_engine, "LIST_VALUES", limit)
        rows = ROWS[: 2 if limit < 0 else 1]
        assert registered(engine, rows)[1] == [tuple(r[n] for n in SCHEMA.names) for r in rows]


def test_a_parquet_check_never_imports_pyarrow(tmp_path: Path) -> None:
    """Half a second saved: pyarrow and the pandas its first conversion imports."""
    claims = tmp_path / "lot.parquet"
    providers = tmp_path / "providers.parquet"
    generate(300, 1, claims, providers)
    script = (
        "import sys\n"
        "from claimlint.cli import main\n"
        "try:\n"
        f"    main(['check', {str(claims)!r}, '--providers', {str(providers)!r},"
        " '--engine', 'duckdb', '--format', 'jsonl', '-o', 'out.jsonl'])\n"
        "except SystemExit as end:\n"
        "    print(end.code, sorted(m for m in ('pyarrow', 'pandas') if m in sys.modules))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert shown.stdout.splitlines()[-1] == "1 []", shown.stderr  # 1: violations found
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8").count("\n") > 0


class _Recording(DuckDBEngine):
    """The engine, keeping the SQL of every query it fetches."""

    def __init__(self, rulebook: m.Rulebook) -> None:
        super().__init__(rulebook)
        self.fetched: list[exp.Expression] = []

    def _fetch(self, query: exp.Expression) -> list[tuple]:
        self.fetched.append(sqlglot.parse_one(query.sql("duckdb"), read="duckdb"))
        return super()._fetch(query)


class _Connections(DuckDBEngine):
    """The engine, noting the connections its rule threads query."""

    def __init__(self, rulebook: m.Rulebook, con: duckdb.DuckDBPyConnection | None) -> None:
        super().__init__(rulebook, con)
        self.used: set[int] = set()

    def _fetch(self, query: exp.Expression) -> list[tuple]:
        if threading.current_thread() is not threading.main_thread():
            self.used.add(id(self._con()))
        return super()._fetch(query)


def test_on_its_own_connection_the_engine_runs_two_rules_at_a_time(tmp_path: Path) -> None:
    """A line rule's query runs on one DuckDB thread (its flagged lines are one row group).
    On a connection of its own, the engine keeps its relations in the database and runs two
    rules' queries at once, each on a cursor that reads them, whether the rows come from a
    file or from Python; on the caller's connection, it leaves nothing there but temporary
    relations and runs one rule at a time. All find the interpreter's violations."""
    claims, providers = tmp_path / "lot.parquet", tmp_path / "providers.parquet"
    generate(3000, 5, claims, providers)
    book = load("convention-2024")
    references = {"provider": read_table(book.references[0].schema, [providers], "parquet")}
    found = {}
    for own in (True, False):
        con = duckdb.connect()
        engine = _Connections(book, None if own else con)
        engine.load_parquet([str(claims)], references)
        found[own] = engine.run_all()
        assert len(engine.used) == (2 if own else 1)
        assert (id(engine.con) in engine.used) is not own
        assert engine._cursors == []  # closed with the run
        lasting = engine.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary UNION ALL "
            "SELECT view_name FROM duckdb_views() WHERE NOT temporary AND NOT internal"
        ).fetchall()
        assert bool(lasting) is own
    batch = read_table(book.input, [claims], "parquet")
    assert found[True] == found[False] == interpreter.check(book, batch, references)
    assert found[True]
    # Rows read in Python are copied into a table there, which the cursors read too.
    engine = _Connections(book, None)
    engine.load_batch(batch, references)
    assert engine.run_all() == found[True]
    assert len(engine.used) == 2


class _Materializing(DuckDBEngine):
    """The engine, noting the thread that runs each statement printed ahead."""

    def __init__(self, rulebook: m.Rulebook) -> None:
        super().__init__(rulebook)
        self.threads: dict[str, threading.Thread] = {}

    def _printed(self, name: str, query: exp.Expression) -> Callable[[], None]:
        run = super()._printed(name, query)

        def noted() -> None:
            self.threads[name] = threading.current_thread()
            run()

        return noted


def test_python_builds_the_next_statements_while_duckdb_runs_one(tmp_path: Path) -> None:
    """DuckDB groups the claims, then keeps the flagged lines, in a thread, while Python
    builds the scan, then every rule's query: the rules' threads find them built."""
    claims, providers = tmp_path / "lot.csv", tmp_path / "providers.csv"
    generate(500, 2, claims, providers)
    book = load("convention-2024")
    batch = read_csv(claims, book.input)
    references = {"provider": read_csv(providers, book.references[0].schema)}
    engine = _Materializing(book)
    engine.load_batch(batch, references)
    assert threading.main_thread() not in (engine.threads[CLAIMS], engine.threads[FLAGGED])
    assert set(engine._queries) == {rule.id for rule in book.rules}
    found = engine.run_all()
    assert engine._queries == {}
    assert found == interpreter.check(book, batch, references)


def test_only_the_callers_thread_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiled tree goes to its first use and is copied for the next ones (through the
    compiler's cache): so that a rule thread never copies a tree another thread is printing,
    every rule's queries are built in the caller's thread, at load or when a second run
    starts."""
    claims, providers = tmp_path / "lot.parquet", tmp_path / "providers.parquet"
    generate(1500, 7, claims, providers)
    book = load("convention-2024")
    references = {"provider": read_table(book.references[0].schema, [providers], "parquet")}
    compiling = set()
    compile_ = sql.ExprCompiler.compile

    def spy(self: sql.ExprCompiler, e: m.Expr) -> exp.Expression:
        compiling.add(threading.current_thread())
        return compile_(self, e)

    monkeypatch.setattr(sql.ExprCompiler, "compile", spy)
    engine = DuckDBEngine(book)
    engine.load_parquet([str(claims)], references)
    assert engine._workers() == 2
    first = engine.run_all()
    assert engine.run_all() == first and first
    assert compiling == {threading.main_thread()}


@pytest.mark.parametrize("own", [True, False], ids=["own connection", "caller's connection"])
def test_an_engine_loaded_again_from_another_kind_of_input(tmp_path: Path, own: bool) -> None:
    """The input is a view over the staged rows of a Parquet file, or the rows read in Python
    (a table, or an Arrow view on a caller's connection): DuckDB replaces none of them with
    another, so each load drops what the one before left under the name."""
    claims, providers = tmp_path / "lot.parquet", tmp_path / "providers.parquet"
    generate(600, 4, claims, providers)
    book = load("convention-2024")
    references = {"provider": read_table(book.references[0].schema, [providers], "parquet")}
    batch = read_csv(ROOT / "examples" / "claims.csv", book.input)
    expected = {
        "parquet": interpreter.check(book, read_table(book.input, [claims], "parquet"), references),
        "rows": interpreter.check(book, batch, references),
    }
    engine = DuckDBEngine(book, None if own else duckdb.connect())
    for kind in ("parquet", "rows", "parquet", "rows"):
        if kind == "parquet":
            engine.load_parquet([str(claims)], references)
        else:
            engine.load_batch(batch, references)
        assert engine.run_all() == expected[kind], kind


def test_parquet_references_read_on_the_engines_connection_leave_nothing_behind(
    tmp_path: Path,
) -> None:
    """A Parquet check reads its Parquet references on the connection the engine then uses:
    their staged rows, under the names the engine gives its own, would hide the batch's."""
    claims, providers = tmp_path / "lot.parquet", tmp_path / "providers.parquet"
    generate(2000, 6, claims, providers)
    book = load("convention-2024")
    runs = [
        check_files(book, [claims], {"provider": providers}, engine=engine)
        for engine in ("python", "duckdb")
    ]
    assert runs[0] == runs[1]
    assert runs[0].violations


def test_aggregates_join_the_reference_tables_only_when_they_read_them(tmp_path: Path) -> None:
    """A LEFT JOIN on every line is the cost of a reference column: an aggregate reading none
    (TLC-CAP) reads the lines alone; one reading a provider's derogation (TLC-CAP-PSY) pays
    it. Lines without a reference row count either way: with half the providers unknown, the
    violations are the interpreter's."""
    claims, providers = tmp_path / "lot.csv", tmp_path / "providers.csv"
    generate(4000, 3, claims, providers)
    rows = providers.read_text(encoding="utf-8").splitlines()
    providers.write_text("\n".join(rows[:1] + rows[1::2]) + "\n", encoding="utf-8")
    book = load("convention-2024")
    batch = read_csv(claims, book.input)
    references = {"provider": read_csv(providers, book.references[0].schema)}
    engine = _Recording(book)
    engine.load_batch(batch, references)
    read = {}
    for rule in (r for r in engine._rules if r.aggregate is not None):
        engine.fetched = []
        engine._rows(rule)
        (query,) = engine.fetched
        lines = {t.name for t in query.find_all(exp.Table)} & {LINES, OWN_LINES}
        joined = any(c.name.startswith("provider.") for c in query.find_all(exp.Column))
        assert lines == {LINES if joined else OWN_LINES}, rule.id
        read[rule.id] = lines
    assert read["TLC-CAP"] == {OWN_LINES}
    assert read["TLC-CAP-PSY"] == {LINES}
    found = engine.run_all()
    assert any(v.rule.startswith("TLC-CAP") for v in found)
    assert found == interpreter.check(book, batch, references)


def test_the_holiday_calendar_is_loaded_while_the_engine_reads_the_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The calendar's first use (0.1 s) is paid by a thread started with the engine, when the
    rules use working days, and waited for before the holidays are read."""
    started = []
    monkeypatch.setattr(calendar, "warm", lambda: started.append("warm"))
    engine = DuckDBEngine(load("convention-2024"))
    assert engine._calendar_warm is not None
    engine._calendar_warm.join(timeout=10)
    assert started == ["warm"]
    without = DuckDBEngine(load("fmt-2026"))
    assert not without._uses_calendar() and without._calendar_warm is None


CLAIMS_INPUT = """
input claims "Lignes"
  line_id       text    required  role line
  claim_id      text    required  role claim
  service_date  date    required  role date
  quantity      integer required
  amount        money   required  role amount
"""

POWERS_RULEBOOK = (
    '\nrulebook powers "Puissances" version "1"\n'
    + CLAIMS_INPUT
    + """
rule POWER "Huitième du montant, carré de la quantité"
  severity error
  source "t"
  always
  let eighth = amount / 8
  let square = SQUARE
  when quantity > 0
  message "{eighth} ; {square}"
"""
)


@pytest.mark.parametrize("square", [False, True])
def test_the_largest_values_are_computed_or_the_limit_reported(
    tmp_path: Path, square: bool
) -> None:
    """A product of decimals of the readers' largest values (18-digit amounts) is computed
    by DuckDB as by the interpreter. A product of two of the largest integers (64 bits)
    exceeds DuckDB's: the check stops with an error naming the remedy, not a traceback."""
    rules = tmp_path / "powers.rules"
    rules.write_text(
        POWERS_RULEBOOK.replace("SQUARE", "quantity * quantity" if square else "quantity"),
        encoding="utf-8",
    )
    claims = tmp_path / "claims.csv"
    big = 2**63 - 1
    rows = f"L1,C1,2025-01-02,{big},9999999999999999.99\nL2,C2,2025-01-02,3,1.00\n"
    claims.write_text("line_id,claim_id,service_date,quantity,amount\n" + rows, encoding="utf-8")
    book = load(str(rules))
    reference = check_files(book, [claims], engine="python")
    assert reference.violations[0].message == (
        f"1249999999999999,99875 ; {big * big if square else big}"
    )
    if not square:
        assert check_files(book, [claims], engine="duckdb") == reference
        return
    with pytest.raises(EvaluationError, match="dépasse les nombres de DuckDB") as raised:
        check_files(book, [claims], engine="duckdb")
    assert "--engine python" in raised.value.render()


def test_a_check_builds_its_sql_from_trees_not_text(monkeypatch, tmp_path):
    """sqlglot parses a type or a table given by name each time it meets one: a 1M-line
    check parsed 1,335 of them, a quarter of a second. The plan names them with trees
    (sql.data_type, sql.relation); what sqlglot still parses is its own (a join's kind, the
    dialect's first use)."""
    from sqlglot.dialects.dialect import Dialect

    generate(3000, 7, tmp_path / "claims.parquet")
    book = load(DEFAULT_RULEBOOK)
    parsed: list[str] = []
    for method in ("parse", "parse_into"):
        real = getattr(Dialect, method)

        def noting(self, *args, _real=real, **kwargs):
            parsed.append(str(args[-1]))
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Dialect, method, noting)
    providers = {"provider": tmp_path / "claims-providers.parquet"}
    run = check_files(book, [tmp_path / "claims.parquet"], providers, engine="duckdb")
    assert run.violations  # the whole plan was built and run
    assert len(parsed) < 100, sorted(set(parsed))  # 778 before sql.data_type and sql.relation
    assert parsed.count("DATE") <= 1  # the first use in the process
    assert "FROM claimlint_flagged" not in parsed


def test_claim_conditions_beyond_one_mask_column(tmp_path: Path) -> None:
    """CLAIMS holds a claim's `claim has` conditions as bits, 63 to a column: 70 of them
    take two columns, and the conditions on either side of the boundary keep their own."""
    rules = [
        f'rule Q{k:02} "Quantité {k} sur la facture"\n  severity error\n  source "t"\n'
        f'  when claim has (quantity = {k})\n  message "{{claim_id}}"\n'
        for k in range(1, 71)
    ]
    book_file = tmp_path / "many.rules"
    book_file.write_text(POWERS_RULEBOOK.split("rule POWER")[0] + "\n".join(rules), "utf-8")
    claims = tmp_path / "claims.csv"
    lines = [("C1", 1), ("C1", 63), ("C2", 62), ("C3", 70), ("C3", 5), ("C4", 64), ("C5", 71)]
    claims.write_text(
        "line_id,claim_id,service_date,quantity,amount\n"
        + "".join(f"L{i},{c},2025-01-02,{q},1.00\n" for i, (c, q) in enumerate(lines)),
        encoding="utf-8",
    )
    book = load(str(book_file))
    found = check_files(book, [claims], engine="duckdb")
    assert found == check_files(book, [claims], engine="python")
    fired = sorted((v.rule, v.line_id) for v in found.violations)
    assert fired == [
        ("Q01", "L0"), ("Q01", "L1"), ("Q05", "L3"), ("Q05", "L4"), ("Q62", "L2"),
        ("Q63", "L0"), ("Q63", "L1"), ("Q64", "L5"), ("Q70", "L3"), ("Q70", "L4"),
    ]  # fmt: skip


PRESENCE_RULEBOOK = (
    '\nrulebook presence "Présences" version "1"\n'
    + CLAIMS_INPUT
    + """  fee           money   optional

rule DUE "Le montant dû, quand il est connu"
  severity error
  source "t"
  always
  let due = quantity * fee
  when due is present and amount != due
  message "{amount} pour {due}"

rule FEE "Un autre montant que le tarif connu, ou pas de tarif"
  severity error
  source "t"
  always
  when fee is missing or amount != fee
  message "{amount}"

rule DUE-FEE "Un tarif connu, un autre montant que le tarif"
  severity error
  source "t"
  always
  let due = quantity * fee
  when due is present and amount != fee
  message "{amount}"
"""
)


def test_a_presence_test_a_comparison_implies_is_left_out(tmp_path: Path) -> None:
    """`x is present and y != x`: the comparison is false where x is missing, so the SQL
    tests x once (TARIF's expected amount). Tests the AND does not imply stay (an OR, another
    operand), and both engines give the same records."""
    book_file = tmp_path / "presence.rules"
    book_file.write_text(PRESENCE_RULEBOOK, "utf-8")
    book = load(str(book_file))
    rules = {r.id: r for r in book.rules}
    exprs = sql.ExprCompiler(book, wide_products=True)
    due = exprs.condition(rules["DUE"].condition).sql("duckdb")
    assert "IS NULL" not in due and due.count('"fee"') == 1
    for kept in ("FEE", "DUE-FEE"):
        assert "IS NULL" in exprs.condition(rules[kept].condition).sql("duckdb")
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "line_id,claim_id,service_date,quantity,amount,fee\n"
        "L1,C1,2025-01-02,2,30.00,15.00\n"  # as due
        "L2,C2,2025-01-02,2,15.00,15.00\n"  # below due, at the fee
        "L3,C3,2025-01-02,2,15.00,\n"  # no fee
        "L4,C4,2025-01-02,1,9.00,10.00\n",  # below both
        encoding="utf-8",
    )
    found = check_files(book, [claims], engine="duckdb")
    assert found == check_files(book, [claims], engine="python")
    assert sorted((v.rule, v.line_id) for v in found.violations) == [
        ("DUE", "L2"), ("DUE", "L4"), ("DUE-FEE", "L1"), ("DUE-FEE", "L4"),
        ("FEE", "L1"), ("FEE", "L3"), ("FEE", "L4"),
    ]  # fmt: skip
