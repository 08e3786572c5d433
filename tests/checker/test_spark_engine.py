"""Differential tests: the Spark engine gives the interpreter's violations, on local Spark.

A Spark job costs far more than a DuckDB query, so the examples of a rulebook run as one
batch: every example's lines, with their ids (line, claim, provider, patient) prefixed by
the example's number so that no claim or group mixes two examples. Generated batches
(`claimlint.generate`, Parquet) then go through Spark's own Parquet reading. Calendar
tests compare Spark's ISO weeks, weekdays and working days with checker/calendar.py at
year ends, 53-week years, holidays and Sundays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark")

from claimlint.checker import calendar, examples, interpreter  # noqa: E402
from claimlint.checker import spark_engine as se  # noqa: E402
from claimlint.checker.readers import Batch  # noqa: E402
from claimlint.checker.run import check_files  # noqa: E402
from claimlint.dsl import model as m  # noqa: E402
from claimlint.dsl.loader import load, shipped_names  # noqa: E402
from claimlint.dsl.types import Type  # noqa: E402
from claimlint.errors import ClaimlintError  # noqa: E402
from claimlint.generate import generate  # noqa: E402


@pytest.fixture(scope="session")
def spark():
    session = se.session("local[2]", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


@cache
def rulebook(name: str) -> m.Rulebook:
    return load(name)


def _ids(schema) -> list[str]:
    """The identifier columns an example's number is prefixed to."""
    return [f.name for f in schema.fields if f.type is Type.TEXT and f.name.endswith("_id")]


def _prefixed(batch: Batch, prefix: str) -> list[dict[str, Any]]:
    ids = _ids(batch.schema)
    return [
        {k: f"{prefix}{v}" if k in ids and v is not None else v for k, v in row.items()}
        for row in batch.rows
    ]


def _batch(schema, rows: list[dict[str, Any]], name: str) -> Batch:
    return Batch(schema, name, tuple(rows), tuple(range(2, len(rows) + 2)), (), len(rows))


def _outcome(engine_check, book: m.Rulebook, batch: Batch, refs: Mapping[str, Batch]) -> Any:
    try:
        return engine_check(book, batch, refs)
    except ClaimlintError as err:
        return (type(err).__name__, err.render())


def all_examples(book: m.Rulebook) -> tuple[Batch, dict[str, Batch], list[tuple[Batch, dict]]]:
    """The examples whose check succeeds, as one batch; those ending in an error, apart."""
    rows: list[dict[str, Any]] = []
    refs: dict[str, list[dict[str, Any]]] = {r.name: [] for r in book.references}
    failing = []
    for index, example in enumerate(book.examples):
        batch, references = examples.example_batches(book, example)
        if not isinstance(_outcome(interpreter.check, book, batch, references), list):
            failing.append((batch, references))
            continue
        rows += _prefixed(batch, f"e{index}-")
        for name, ref in references.items():
            refs[name] += _prefixed(ref, f"e{index}-")
    ref_batches = {
        ref.name: _batch(ref.schema, refs[ref.name], ref.name) for ref in book.references
    }
    return _batch(book.input, rows, book.name), ref_batches, failing


def spark_check(spark):
    def run(book, batch, refs):
        return se.check(book, batch, refs, spark=spark)

    return run


@pytest.mark.parametrize("name", shipped_names())
def test_every_example_agrees(spark, name: str) -> None:
    book = rulebook(name)
    batch, refs, failing = all_examples(book)
    expected = interpreter.check(book, batch, refs)
    assert expected, "the examples flag lines"
    assert se.check(book, batch, refs, spark=spark) == expected
    for alone, alone_refs in failing:  # the same error, in the same words
        assert _outcome(spark_check(spark), book, alone, alone_refs) == _outcome(
            interpreter.check, book, alone, alone_refs
        )


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("generated")
    claims, providers = folder / "claims.parquet", folder / "providers.parquet"
    generate(3000, 11, claims, providers)
    return claims, providers


def test_generated_batch_agrees(spark, generated, monkeypatch) -> None:
    """Spark reads the Parquet itself; the interpreter reads it through DuckDB's validation.
    The whole CheckRun (rows read, rejections, violations: the summary and the exit code)
    is the same."""
    claims, providers = generated
    book = rulebook("convention-2024")
    monkeypatch.setattr(se, "session", lambda master=None, config=None: spark)
    refs = {book.references[0].name: providers}
    expected = check_files(book, [claims], refs, engine="python")
    actual = check_files(book, [claims], refs, engine="spark")
    assert len(expected.violations) > 10, "the generator injects violations"
    assert actual == expected


def test_parquet_rejections_as_duckdb(spark, tmp_path) -> None:
    """Bad cells and a repeated line id: Spark rejects the rows DuckDB rejects, in the same
    words, and keeps the others."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from claimlint.checker.columnar_input import load_parquet

    book = rulebook("convention-2024")
    batch, _ = examples.example_batches(book, book.examples[0])
    rows = [{k: None if v is None else str(v) for k, v in r.items()} for r in batch.rows[:4]]
    for row, line_id, amount, day in zip(
        rows,
        ["A", "B", "A", "C"],
        ["12,5", "x", "1.234", "7"],
        ["2025-01-02", "", "3/4/2025", "02/01/2025"],
        strict=True,
    ):
        row.update(line_id=line_id, amount=amount, service_date=day)
    path = tmp_path / "bad.parquet"
    text = pa.schema([(name, pa.string()) for name in rows[0]])
    pq.write_table(pa.Table.from_pylist(rows, schema=text), path)
    read, rejected = se.load_parquet(spark, [str(path)], book.input)
    con = duckdb.connect()
    expected_read, expected = load_parquet(con, [str(path)], book.input, "kept")
    assert read == expected_read == 4
    assert [(r.line, r.column, r.reason) for r in rejected] == [
        (r.line, r.column, r.reason) for r in expected
    ]
    assert [(r.line, r.reason) for r in rejected] == [
        (2, "champ obligatoire vide"),
        (3, "montant invalide « 1.234 » (2 décimales au plus)"),
    ]
    kept = spark.sql("SELECT line_id, amount, service_date FROM claimlint_input").collect()
    assert sorted(tuple(r) for r in kept) == [
        ("A", Decimal("12.50"), dt.date(2025, 1, 2)),
        ("C", Decimal("7.00"), dt.date(2025, 1, 2)),
    ]


# ------------------------------------------------------------------------------ calendar
YEAR_ENDS = [
    dt.date(year, 12, 31) + dt.timedelta(days=k)
    for year in (2015, 2020, 2021, 2024, 2025, 2026, 2032)  # 2015, 2020, 2026: 53 weeks
    for k in range(-4, 5)
]
HOLIDAYS = calendar.public_holidays(2024, 2026)
AROUND_HOLIDAYS = sorted({h + dt.timedelta(days=k) for h in HOLIDAYS for k in (-2, -1, 0, 1, 2)})


def _engine(spark, **columns: list[dt.date]) -> se.SparkEngine:
    """A Spark engine with a table `claimlint_days` of these date columns and the holidays
    of 2013-2034 (as _load_calendar gives them to the compiler)."""
    import pyarrow as pa

    engine = se.SparkEngine(rulebook("convention-2024"), spark)
    days = pa.table({name: pa.array(values, pa.date32()) for name, values in columns.items()})
    engine._register("claimlint_days", days, broadcast=False)
    engine.exprs.set_holidays(tuple(calendar.public_holidays(2013, 2034)))
    return engine


def _spark_values(spark, function: str, days: list[dt.date]) -> dict[dt.date, Any]:
    """sql.py's compiled `function(d)` computed by Spark, for each day."""
    from sqlglot import exp

    from claimlint.checker.sql import col

    engine = _engine(spark, d=days)
    value = getattr(engine.exprs, f"_fn_{function}")(col("d"))
    query = exp.select(col("d"), exp.alias_(value, "v", quoted=True)).from_("claimlint_days")
    return dict(engine._fetch(query))


def test_iso_weeks_and_weekdays_at_year_ends(spark) -> None:
    weeks = _spark_values(spark, "iso_week", YEAR_ENDS)
    assert weeks == {d: calendar.iso_week_label(d) for d in YEAR_ENDS}
    assert weeks[dt.date(2021, 1, 1)] == "2020-W53"
    assert weeks[dt.date(2026, 12, 31)] == "2026-W53"
    assert weeks[dt.date(2024, 12, 30)] == "2025-W01"
    weekdays = _spark_values(spark, "weekday", YEAR_ENDS)
    assert weekdays == {d: d.isoweekday() for d in YEAR_ENDS}
    assert weekdays[dt.date(2024, 12, 29)] == 7  # a Sunday
    months = _spark_values(spark, "month", YEAR_ENDS)
    assert months == {d: calendar.month_label(d) for d in YEAR_ENDS}


def test_holidays_and_working_days_as_the_calendar(spark) -> None:
    from sqlglot import exp

    from claimlint.checker.sql import col

    days = AROUND_HOLIDAYS + YEAR_ENDS
    pairs = [(a, b) for a in days[::7] for b in days[::5]]
    engine = _engine(spark, a=[a for a, _ in pairs], b=[b for _, b in pairs])
    working = engine.exprs._fn_working_days_between(col("a"), col("b"))
    holiday = engine.exprs._fn_is_public_holiday(col("a"))
    query = exp.select(
        col("a"), col("b"), exp.alias_(working, "w", quoted=True), exp.alias_(holiday, "h")
    ).from_("claimlint_days")
    rows = engine._fetch(query)
    assert len(rows) == len(pairs)
    assert [(a, b, w, h) for a, b, w, h in rows] == [
        (a, b, calendar.working_days_between(a, b), calendar.is_public_holiday(a))
        for a, b, *_ in rows
    ]
    # Christmas 2025 is a Thursday: Wednesday 24 to Monday 29 holds Friday 26 and Monday 29.
    assert calendar.working_days_between(dt.date(2025, 12, 24), dt.date(2025, 12, 29)) == 2
    assert sum(1 for *_, h in rows if h) > 10, "the pairs start on holidays"


def test_empty_reference_table(spark) -> None:
    """A reference table without rows (no --providers) still has its typed columns."""
    import pyarrow as pa

    engine = _engine(spark, d=[])
    engine._register("claimlint_empty", pa.table({"m": pa.array([], pa.decimal128(18, 2))}))
    assert engine.spark.table("claimlint_empty").dtypes == [("m", "decimal(18,2)")]
    assert engine.spark.table("claimlint_days").count() == 0


# ------------------------------------------------------------------------------ dialect
def test_spark_spelling_of_duckdb_functions() -> None:
    from sqlglot import exp

    from claimlint.checker.sql import col

    match = exp.RegexpFullMatch(this=col("c"), expression=exp.Literal.string("[A-Z]{4}"))
    assert se.spark_sql(exp.select(match)) == "SELECT `c` RLIKE '^(?:[A-Z]{4})\\\\z'"
    time = exp.cast(exp.Literal.string("20:00:00"), "TIME")
    assert se.spark_sql(exp.select(time)) == "SELECT CAST('20:00:00' AS TIME)"
    try_cast = exp.TryCast(this=col("c"), to=exp.DataType.build("BIGINT"))
    assert se.spark_sql(exp.select(try_cast)) == "SELECT TRY_CAST(`c` AS BIGINT)"


# ------------------------------------------------------------------------------ command line
def test_check_command_on_spark(spark, monkeypatch) -> None:
    """`check --engine spark --spark-master URL`: the master reaches the session, and the
    records and the exit code are the DuckDB engine's."""
    from click.testing import CliRunner

    from claimlint.cli import main

    masters = []

    def fake_session(master=None, config=None):
        masters.append(master)
        return spark

    monkeypatch.setattr(se, "session", fake_session)
    common = ["check", "examples/claims.csv", "--providers", "examples/providers.csv"]
    common += ["--select", "SNP,TLC", "--format", "jsonl", "--no-config"]
    on_spark = CliRunner().invoke(
        main, [*common, "--engine", "spark", "--spark-master", "spark://h:7077"]
    )
    on_duckdb = CliRunner().invoke(main, [*common, "--engine", "duckdb"])
    assert masters == ["spark://h:7077"]
    assert on_spark.output == on_duckdb.output
    assert on_spark.output.count('"rule"') == 3  # SNP-CAP, TLC-CAP-PSY, TLC-URG
    assert on_spark.exit_code == on_duckdb.exit_code == 1


def test_history_is_refused_on_spark(tmp_path) -> None:
    with pytest.raises(ClaimlintError) as raised:
        check_files(
            rulebook("convention-2024"),
            ["examples/claims.csv"],
            engine="spark",
            history=tmp_path / "h.duckdb",
        )
    assert raised.value.render() == "--history n'est pas disponible avec --engine spark"
