"""The columnar plan of checker/columnar.py run on Apache Spark (`check --engine spark`).

The statements are the DuckDB engine's, built by the same compiler (checker/sql.py); only
their spelling changes. `spark_dialect` rewrites the few functions DuckDB and Spark spell
differently into Spark's own (ISO week, weekday, date differences, list functions, full
regular-expression match), then sqlglot writes Spark SQL. Reference tables are small: they
are registered as broadcast tables, joined on every executor without a shuffle (the holiday
calendar is written into the SQL as date literals). Flagged lines come back to the driver and go through the same
`make_violation` as the other engines, so the records and the summary are the same bytes.

Inputs: Parquet files (paths, folders, globs, or data-lake URLs such as s3a://…) are read
and validated by Spark with the validation expressions of checker/columnar_input.py; CSV and
JSON Lines are read on the driver by claimlint's own readers, then handed to Spark.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_type
from pyspark.sql.types import (
    DataType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)
from sqlglot import exp

from claimlint.checker import sql
from claimlint.checker.arrow import ARROW_TYPES, arrow_table
from claimlint.checker.columnar import INPUT, ColumnarEngine
from claimlint.checker.columnar_input import (
    cell_reason,
    cell_value,
    rejections,
    require_columns,
)
from claimlint.checker.functions import WORD_SEPARATORS
from claimlint.checker.readers import Batch, Rejection
from claimlint.checker.sql import col, literal, relation, sql_type
from claimlint.checker.violations import Violation
from claimlint.dsl import model as m
from claimlint.dsl.schema import Role, Schema
from claimlint.errors import InputError

if TYPE_CHECKING:
    from claimlint.checker.run import CheckRun

DIALECT = "spark"
# Python's (and RE2's) \v is the vertical tab alone; Java's is every vertical white space.
JAVA_WORD_SEPARATORS = r"[ \t\n\r\f\x0B]+"
# strftime patterns of sql.py and columnar_input.py in Java's DateTimeFormatter letters.
# DuckDB's %d, %m, %H… read one digit or two: so do Java's single letters.
JAVA_PATTERNS = {
    "%Y-%m-%d": "yyyy-M-d",
    "%d/%m/%Y": "d/M/yyyy",
    "%H:%M": "H:m",
    "%H:%M:%S": "H:m:s",
}
ACCENTED = "àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝ"
UNACCENTED = "aaaaaaceeeeiiiinooooouuuuyyAAAAAACEEEEIIIINOOOOOUUUUY"
SOURCE, STAGED, REPEATED = "claimlint_source", "claimlint_staged", "claimlint_repeated"
FILE, ROW = "_file", "_row"

# Spark settings claimlint needs whatever the cluster: TIME columns (service_time), UTC so
# that no date moves with the driver's zone, no console progress bar over the report.
SESSION_CONFIG = {
    "spark.sql.timeType.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
}


def session(master: str | None = None, config: Mapping[str, str] | None = None) -> SparkSession:
    """The SparkSession of a check: `master` when given (local[*] by default outside
    spark-submit, which sets its own), with SESSION_CONFIG and `config` on top."""
    # PySpark warns about pandas 3 on its first use; claimlint hands it Arrow, not pandas.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    builder = SparkSession.builder.appName("claimlint")
    if master:
        builder = builder.master(master)
    for key, value in {**SESSION_CONFIG, **(config or {})}.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as err:  # no Java, a master out of reach…: the user's to mend
        raise InputError(f"Spark ne démarre pas ({_first_line(err)})") from None
    spark.sparkContext.setLogLevel("FATAL")  # errors reach the user as exceptions, in French
    return spark


# ------------------------------------------------------------------------ the Spark spelling
def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _number(n: int) -> exp.Literal:
    return exp.Literal.number(n)


def _seconds_of_day(t: exp.Expression) -> exp.Expression:
    hours = exp.Mul(this=_fn("hour", t.copy()), expression=_number(3600))
    minutes = exp.Mul(this=_fn("minute", t.copy()), expression=_number(60))
    total = exp.Add(this=exp.Add(this=hours, expression=minutes), expression=_fn("second", t))
    return exp.Paren(this=total)


def _sum_present(values: list[exp.Expression]) -> exp.Expression:
    """DuckDB's list_sum of an array literal: the sum of the present values, NULL if none."""
    missing = sql.and_(*(exp.Is(this=v.copy(), expression=exp.null()) for v in values))
    total: exp.Expression = exp.Coalesce(this=values[0], expressions=[_number(0)])
    for v in values[1:]:
        total = exp.Add(this=total, expression=exp.Coalesce(this=v, expressions=[_number(0)]))
    return exp.Case().when(missing, exp.null()).else_(exp.Paren(this=total))


def _strptime(args: list[exp.Expression]) -> exp.Expression:
    text, pattern = args
    return _fn("try_to_timestamp", text, exp.Literal.string(JAVA_PATTERNS[pattern.this]))


def _date_diff(args: list[exp.Expression]) -> exp.Expression:
    unit, start, end = args
    if unit.this == "day":
        return _fn("datediff", end, start)
    # sql.py's minutes_between: seconds from `date + time` to `date + time`.
    assert unit.this == "second" and isinstance(start, exp.Add) and isinstance(end, exp.Add)
    days = exp.Mul(this=_fn("datediff", end.this, start.this), expression=_number(86400))
    seconds = exp.Sub(
        this=exp.Add(this=days, expression=_seconds_of_day(end.expression)),
        expression=_seconds_of_day(start.expression),
    )
    return exp.Paren(this=seconds)


def _strftime(args: list[exp.Expression]) -> exp.Expression:
    day, pattern = args
    if pattern.this == "%G-W%V":  # ISO year and ISO week: 2020-W53 for 2021-01-01
        iso_year = exp.Extract(this=exp.var("YEAROFWEEK"), expression=day.copy())
        return _fn(
            "format_string", exp.Literal.string("%04d-W%02d"), iso_year, _fn("weekofyear", day)
        )
    assert pattern.this == "%Y-%m", pattern.this
    return _fn("date_format", day, exp.Literal.string("yyyy-MM"))


def _split(args: list[exp.Expression]) -> exp.Expression:
    text, separators = args
    assert separators.this == WORD_SEPARATORS
    return _fn("split", text, exp.Literal.string(JAVA_WORD_SEPARATORS), _number(-1))


ANONYMOUS = {
    "strftime": _strftime,
    "try_strptime": _strptime,
    "isodow": lambda a: exp.Paren(this=exp.Add(this=_fn("weekday", *a), expression=_number(1))),
    "date_diff": _date_diff,
    "regexp_split_to_array": _split,
    "list_contains": lambda a: _fn("array_contains", *a),
    "list_sum": lambda a: _sum_present(a[0].expressions),
    "list_min": lambda a: _fn("array_min", *a),
    "list_max": lambda a: _fn("array_max", *a),
    "list_filter": lambda a: _fn("filter", *a),
    "strip_accents": lambda a: _fn(
        "translate", *a, exp.Literal.string(ACCENTED), exp.Literal.string(UNACCENTED)
    ),
}


def _respell(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.TIME:
        # sqlglot writes TIME as Spark 3's TIMESTAMP; Spark 4 has TIME itself.
        return exp.DataType(this=exp.DataType.Type.USERDEFINED, kind="TIME")
    if isinstance(node, exp.TryCast):
        node.set("safe", True)  # TRY_CAST, not sqlglot's CAST for Spark
        return node
    if isinstance(node, exp.RegexpFullMatch):
        # Java's find() anchored at both ends: \z is the very end (Java's $ allows a newline).
        pattern = node.expression
        assert isinstance(pattern, exp.Literal)
        return exp.RegexpLike(
            this=node.this, expression=exp.Literal.string(f"^(?:{pattern.this})\\z")
        )
    if isinstance(node, exp.Anonymous) and node.name.lower() in ANONYMOUS:
        return ANONYMOUS[node.name.lower()](list(node.expressions))
    return node


def spark_dialect(tree: exp.Expression) -> exp.Expression:
    """The same statement in Spark's function names (a rewritten copy)."""
    tree = tree.copy()
    # Pre-order reversed: every node is rewritten after the nodes below it.
    for node in reversed(list(tree.walk())):
        new = _respell(node)
        if new is node:
            continue
        if node is tree:
            tree = new
        else:
            node.replace(new)
    return tree


def spark_sql(tree: exp.Expression) -> str:
    return spark_dialect(tree).sql(dialect=DIALECT)


# ------------------------------------------------------------------------------ the engine
class SparkEngine(ColumnarEngine):
    """One check on a SparkSession: the claim flags and the flagged lines cached on the
    executors (with a validated Parquet input; the lines and their references are a view
    over it), one Spark job per rule; only flagged lines travel back to the driver."""

    dialect = DIALECT

    def __init__(self, rulebook: m.Rulebook, spark: SparkSession):
        super().__init__(rulebook)
        self.spark = spark
        self._cached: dict[str, DataFrame] = {}

    # -- loading
    def load_batch(
        self, batch: Batch, references: Mapping[str, Batch], only: Iterable[str] | None = None
    ) -> None:
        """Rows already read and validated on the driver (CSV, JSON Lines, examples)."""
        self._register(INPUT, arrow_table(self.rulebook.input, batch.rows), broadcast=False)
        self._prepare(references, only)

    def load_parquet(
        self,
        paths: Sequence[str],
        references: Mapping[str, Batch],
        mapping: Mapping[str, str] | None = None,
        only: Iterable[str] | None = None,
    ) -> tuple[int, list[Rejection]]:
        """Parquet files read and validated by Spark; returns rows read and rejections."""
        read, rejected = load_parquet(self.spark, paths, self.rulebook.input, mapping, self._cached)
        self._prepare(references, only)
        return read, rejected

    def close(self) -> None:
        """Free the executors' cached tables (the session stays for the next check)."""
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()

    # -- hooks
    def _register(self, name: str, table: pa.Table, broadcast: bool = True) -> None:
        frame = self.spark.createDataFrame(table) if table.num_rows else self._empty(table)
        # References: copied whole to every executor, joined in place.
        (F.broadcast(frame) if broadcast else frame).createOrReplaceTempView(name)

    def _empty(self, table: pa.Table) -> DataFrame:
        """An empty DataFrame of the table's columns (Arrow conversion needs a row)."""
        columns = [
            exp.alias_(exp.cast(exp.null(), _spark_type(field.type)), field.name, quoted=True)
            for field in table.schema
        ]
        return self.spark.sql(spark_sql(exp.select(*columns).where(exp.false())))

    def _materialize(self, name: str, query: exp.Expression) -> None:
        previous = self._cached.pop(name, None)
        frame = self.spark.sql(spark_sql(query)).persist()
        frame.createOrReplaceTempView(name)
        self._cached[name] = frame
        if previous is not None:
            previous.unpersist()

    def _view(self, name: str, query: exp.Expression) -> None:
        self.spark.sql(spark_sql(query)).createOrReplaceTempView(name)

    def _fetch(self, query: exp.Expression) -> list[tuple]:
        return [tuple(row) for row in self.spark.sql(spark_sql(query)).collect()]

    def _interrupt(self) -> None:
        self.spark.sparkContext.cancelAllJobs()


def _spark_type(arrow: pa.DataType) -> exp.DataType:
    by_arrow = {v: k for k, v in ARROW_TYPES.items()}
    return sql_type(by_arrow[arrow])


# ------------------------------------------------------------------------------ Parquet input
def load_parquet(
    spark: SparkSession,
    paths: Sequence[str],
    schema: Schema,
    mapping: Mapping[str, str] | None = None,
    cached: dict[str, DataFrame] | None = None,
) -> tuple[int, list[Rejection]]:
    """Create the INPUT view with the valid rows; return rows read and the rejections.
    The tables it caches on the executors are added to `cached` (for the caller to free).

    The same cell rules as checker/columnar_input.py (its expressions, in Spark's spelling):
    a typed or text column converted to the field's type, a French reason when it does not
    convert, line ids seen twice rejected; each row is named by its file and row number.
    """
    shown = ", ".join(paths)
    # Rejections name a local file as it was given, not as Spark's absolute URI.
    named = {str(Path(p).resolve()): p for p in paths if not _is_url(p)}
    millis = _millisecond_times(paths)
    try:
        reader = spark.read.option("mergeSchema", "true")
        if millis:
            reader = reader.schema(millis)
        source = reader.parquet(*paths)
        for name in [f.name for f in millis or [] if isinstance(f.dataType, IntegerType)]:
            source = source.withColumn(name, _time_text(F.col(name)))
        source = source.select("*", "_metadata.file_path", "_metadata.row_index")
    except Exception as err:  # Spark's AnalysisException: missing file, not Parquet…
        raise InputError(f"{shown} : lecture Parquet impossible ({_first_line(err)})") from None
    source.createOrReplaceTempView(SOURCE)
    source_of = {target: name for name, target in (mapping or {}).items()}
    source_types = {f.name: _duckdb_type(f.dataType) for f in source.schema.fields}
    present = set(source_types)
    require_columns(schema, present, source_of, shown)
    names = {f.name: source_of.get(f.name, f.name) for f in schema.fields}
    renamed = exp.select(
        exp.Star(),
        *(
            sql.alias(col(names[f.name]), f.name)
            for f in schema.fields
            if names[f.name] in present and names[f.name] != f.name
        ),
    ).from_(relation(SOURCE))
    values, reasons = [], []
    for f in schema.fields:
        if names[f.name] not in present:
            values.append(sql.alias(literal(f.default, f.type), f.name))
            continue
        kind = source_types[names[f.name]]
        value = cell_value(f, f.name, kind)
        problem = cell_reason(f, f.name, value.copy(), kind)
        if problem is not None:
            reasons.append((f, problem))
        if f.default is not None:
            value = exp.Coalesce(this=value, expressions=[literal(f.default, f.type)])
        values.append(sql.alias(exp.cast(value, sql_type(f.type)), f.name))
    reason: exp.Expression = exp.cast(exp.null(), "STRING")  # no cell can be wrong
    column: exp.Expression = reason.copy()
    if reasons:
        reason = exp.Coalesce(this=reasons[0][1], expressions=[r for _, r in reasons[1:]])
        column = exp.Case()
        for f, r in reasons:
            column = column.when(
                exp.not_(exp.Is(this=r.copy(), expression=exp.null())), literal(f.name)
            )
    staged = exp.select(
        *values,
        sql.alias(col("file_path", "s"), FILE),
        sql.alias(exp.Add(this=col("row_index", "s"), expression=_number(1)), ROW),
        sql.alias(reason, "_reason"),
        sql.alias(column, "_column"),
    ).from_(sql.alias(exp.Subquery(this=renamed), "s"))
    kept = cached if cached is not None else {}
    kept[STAGED] = spark.sql(spark_sql(staged)).persist()
    kept[STAGED].createOrReplaceTempView(STAGED)
    line = schema.by_role(Role.LINE)
    ok: exp.Expression = exp.Is(this=col("_reason"), expression=exp.null())
    if line is not None:
        # Line ids seen more than once among the rows otherwise valid, as DuckDB counts them.
        twice = (
            exp.select(col(line.name))
            .from_(relation(STAGED))
            .where(ok.copy())
            .group_by(col(line.name))
            .having(exp.GT(this=exp.Count(this=exp.Star()), expression=_number(1)))
        )
        kept[REPEATED] = spark.sql(spark_sql(twice)).persist()
        kept[REPEATED].createOrReplaceTempView(REPEATED)
        repeated = exp.Subquery(this=exp.select(col(line.name)).from_(REPEATED))
        ok = sql.and_(ok, exp.not_(sql.truth(exp.In(this=col(line.name), query=repeated))))
    keep = (
        exp.select(*(col(f.name) for f in schema.fields)).from_(relation(STAGED)).where(ok.copy())
    )
    spark.sql(spark_sql(keep)).createOrReplaceTempView(INPUT)
    read = spark.sql(
        spark_sql(exp.select(exp.Count(this=exp.Star())).from_(relation(STAGED)))
    ).collect()
    bad = (
        exp.select(col(FILE), col(ROW), col("_column"), col("_reason"))
        .select(*([col(line.name)] if line is not None else []))
        .from_(relation(STAGED))
        .where(exp.not_(ok))
        .order_by(col(FILE), col(ROW))
    )
    found = [
        (named.get(_local(file), _local(file)), int(row), *rest)
        for file, row, *rest in spark.sql(spark_sql(bad)).collect()
    ]
    return int(read[0][0]), rejections(found, line.name if line else None)


def _millisecond_times(paths: Sequence[str]) -> StructType | None:
    """The file's schema with its TIME(MILLIS) columns as integers, when it has some.

    Spark reads Parquet TIME in microseconds only; Arrow and pandas write milliseconds
    (claimlint generate does). Read as the integer they are stored as, they become text
    (HH:MM:SS) that the validation parses like a CSV cell. Local files only: a data lake's
    files are expected in microseconds.
    """
    if any(_is_url(p) for p in paths):
        return None
    import pyarrow.parquet as pq

    try:
        arrow = pq.read_schema(paths[0])
    except (OSError, pa.ArrowException):
        return None  # Spark says what is wrong with the file
    if not any(f.type == pa.time32("ms") for f in arrow):
        return None
    # Only the millisecond times are read as IntegerType (integers become BIGINT: LongType).
    fields = []
    for f in arrow:
        if f.type == pa.time32("ms"):
            kind: DataType = IntegerType()
        else:
            kind = from_arrow_type(f.type)
            kind = LongType() if isinstance(kind, IntegerType) else kind
        fields.append(StructField(f.name, kind, True))
    return StructType(fields)


def _time_text(millis):
    """Milliseconds after midnight as HH:MM:SS (a PySpark column expression, no SQL text)."""
    seconds = F.floor(millis / 1000)
    text = F.format_string(
        "%02d:%02d:%02d", F.floor(seconds / 3600), F.floor(seconds / 60) % 60, seconds % 60
    )
    return F.when(millis.isNotNull(), text)


def _duckdb_type(kind: DataType) -> str:
    """A Spark column type in DuckDB's words, as columnar_input's expressions read them."""
    if isinstance(kind, StringType):
        return "VARCHAR"
    if isinstance(kind, DecimalType):
        return f"DECIMAL({kind.precision},{kind.scale})"
    return kind.simpleString().upper()


def _local(uri: str) -> str:
    """file:///data/a.parquet as /data/a.parquet, the way the other engines name files."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _is_url(spec: str | Path) -> bool:
    return "://" in str(spec)


def check_on_spark(
    rulebook: m.Rulebook,
    inputs: Sequence[str | Path],
    references: Mapping[str, Batch],
    mapping: Mapping[str, str] | None = None,
    master: str | None = None,
    sink=None,
) -> CheckRun:
    """`check --engine spark`: Parquet read by Spark (local files, folders, globs or
    data-lake URLs, which Spark lists itself); CSV and JSON Lines read on the driver."""
    from claimlint.checker.run import CheckRun, expand_inputs, input_format, read_table

    if any(_is_url(spec) for spec in inputs):
        paths, fmt = [str(spec) for spec in inputs], "parquet"  # files, folders or globs
    else:
        local = expand_inputs(inputs)
        seen: set[Path] = set()
        for path in local:
            if path.resolve() in seen:
                raise InputError(
                    f"{path} : fichier donné deux fois ; ses lignes seraient comptées deux fois"
                )
            seen.add(path.resolve())
        paths, fmt = [str(p) for p in local], input_format(local)
    engine = SparkEngine(rulebook, session(master))
    try:
        if fmt == "parquet":
            read, rejected = engine.load_parquet(paths, references, mapping)
        else:
            batch = read_table(rulebook.input, [Path(p) for p in paths], fmt, mapping)
            engine.load_batch(batch, references)
            read, rejected = batch.read, list(batch.rejected)
        violations = engine.run_all(sink=sink)
    finally:
        engine.close()
    return CheckRun.of(rulebook, inputs, read, rejected, violations)


def check(
    rulebook: m.Rulebook,
    batch: Batch,
    references: Mapping[str, Batch] | None = None,
    only: Iterable[str] | None = None,
    spark: SparkSession | None = None,
) -> list[Violation]:
    """Every violation of the rulebook's rules (or of `only` those), as the interpreter's."""
    engine = SparkEngine(rulebook, spark or session())
    try:
        engine.load_batch(batch, references or {}, only)
        return engine.run_all()
    finally:
        engine.close()
