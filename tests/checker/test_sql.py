"""sql.tighten, sql.short_circuit and sql.when: rewrites of compiled conditions that keep
their meaning; sql.data_type and sql.relation, trees built without sqlglot's parser."""

from __future__ import annotations

import itertools

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from claimlint.checker.sql import data_type, relation, short_circuit, tighten, truth, when


def sql(e: exp.Expression) -> str:
    return e.sql("duckdb")


def test_a_wrapper_around_a_two_valued_condition_goes():
    compare = truth(exp.column("a").eq(1))
    assert sql(tighten(truth(compare.copy()))) == "COALESCE(a = 1, FALSE)"
    negated = truth(exp.not_(compare.copy()))
    assert sql(tighten(negated)) == "NOT COALESCE(a = 1, FALSE)"
    null_test = truth(exp.column("a").is_(exp.null()))
    assert sql(tighten(null_test)) == "a IS NULL"


def test_a_wrapper_around_a_condition_that_may_be_missing_stays():
    assert sql(tighten(truth(exp.column("a").eq(1)))) == "COALESCE(a = 1, FALSE)"
    case = exp.Case().when(exp.column("b"), exp.column("a").eq(1)).else_(exp.false())
    assert sql(tighten(truth(case))).startswith("COALESCE(CASE")


def test_a_case_branch_takes_its_condition_without_the_wrapper():
    """CASE takes a missing condition as false, as the wrapper makes it."""
    one, zero = exp.Literal.number(1), exp.Literal.number(0)
    wrapped = truth(exp.Paren(this=exp.column("a").eq(1)))
    bare = when(exp.Case(), wrapped.copy(), one.copy()).else_(zero.copy())
    assert sql(bare) == "CASE WHEN (a = 1) THEN 1 ELSE 0 END"
    kept = exp.Case().when(wrapped, one).else_(zero)
    query = exp.select(bare, kept).from_("t")
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (NULL), (0), (1)) AS v(a)")
    assert con.execute(sql(query)).fetchall() == [(0, 0), (0, 0), (1, 1)]
    negated = exp.not_(truth(exp.column("a").eq(1)))  # only the condition's own wrapper goes
    assert sql(when(exp.Case(), negated, one.copy())).startswith("CASE WHEN NOT COALESCE")


# Conditions over two nullable integer columns, built as the compiler builds them: comparisons
# may be missing, `truth` makes them two-valued, AND/OR/NOT combine two-valued operands.
COLUMNS = ("a", "b")


@st.composite
def conditions(draw: st.DrawFn, depth: int = 3) -> exp.Expression:
    if depth == 0 or draw(st.booleans()):
        column = exp.column(draw(st.sampled_from(COLUMNS)))
        value = exp.Literal.number(draw(st.integers(0, 2)))
        leaf = draw(st.sampled_from(["eq", "gt", "null"]))
        if leaf == "null":
            return exp.Is(this=column, expression=exp.null())
        compared = exp.EQ if leaf == "eq" else exp.GT
        test = compared(this=column, expression=value)
        return truth(test) if draw(st.booleans()) else test
    shape = draw(st.sampled_from(["and", "or", "not", "truth"]))
    inner = [truth(draw(conditions(depth - 1))) for _ in range(2)]
    if shape == "and":
        return exp.Paren(this=exp.and_(*inner, copy=False))
    if shape == "or":
        return exp.Paren(this=exp.or_(*inner, copy=False))
    if shape == "not":
        return exp.not_(inner[0], copy=False)
    return truth(inner[0])


VALUES = list(itertools.product([None, 0, 1, 2], repeat=2))


@settings(max_examples=60, deadline=None)
@given(conditions())
def test_tightened_and_short_circuited_conditions_mean_the_same(condition: exp.Expression):
    """On every pair of values, missing ones included, the rewrites give the same truth."""
    con = duckdb.connect()
    rows = ", ".join(
        f"({'NULL' if a is None else a}, {'NULL' if b is None else b})" for a, b in VALUES
    )
    con.execute(f"CREATE TABLE t AS SELECT * FROM (VALUES {rows}) AS v(a, b)")
    wanted = truth(condition.copy())
    forms = [wanted, tighten(wanted.copy()), short_circuit(wanted.copy())]
    query = exp.select(*(exp.alias_(f, f"f{i}") for i, f in enumerate(forms))).from_("t")
    for row in con.execute(sql(query)).fetchall():
        assert len(set(row)) == 1, (sql(condition), row)
        assert row[0] is not None


def test_a_type_is_parsed_once_and_each_use_gets_its_own_tree(monkeypatch):
    """A type goes into a tree, whose later rewrites must not reach the other uses."""
    first = data_type("DECIMAL(18, 2)")
    parses = []
    real = exp.DataType.build
    monkeypatch.setattr(exp.DataType, "build", lambda *a, **k: parses.append(a) or real(*a, **k))
    second = data_type("DECIMAL(18, 2)")
    assert parses == []
    assert first == second and first is not second
    second.set("expressions", [])
    assert sql(data_type("DECIMAL(18, 2)")) == "DECIMAL(18, 2)"
    assert sql(exp.cast(exp.null(), data_type("BIGINT[]"))) == "CAST(NULL AS BIGINT[])"


def test_a_relation_is_the_table_sqlglot_would_parse():
    for name in ("claimlint_flagged", "lines", "t1"):
        assert sql(relation(name)) == sql(exp.to_table(name))
        assert relation(name) == exp.to_table(name)
    # One identifier whatever it holds: quoted, never read as SQL.
    assert sql(relation('a "b"; DROP TABLE x')) == '"a ""b""; DROP TABLE x"'
