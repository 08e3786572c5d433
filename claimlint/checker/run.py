"""One check, end to end: read the inputs, run an engine, account for every row."""

from __future__ import annotations

import contextlib
import gc
import glob
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import attrs

from claimlint.checker import interpreter
from claimlint.checker.readers import Batch, Rejection, read_csv_files, read_jsonl
from claimlint.checker.violations import JsonLines, Rendered, Violation
from claimlint.dsl import model as m
from claimlint.dsl.schema import Role, Schema
from claimlint.errors import Diagnostic, EvaluationError, InputError, engine_detail


@attrs.frozen
class CheckRun:
    """The outcome of a check: what was read, what was rejected and why, what was found."""

    rulebook: m.Rulebook
    inputs: tuple[str, ...]
    read: int
    rejected: tuple[Rejection, ...]
    # Rendered records only in a streamed JSON Lines run (`check_files(json_lines=...)`).
    violations: tuple[Violation | Rendered, ...]
    waived: int = 0  # violations suppressed by a waiver (--waivers): counted, not listed
    baselined: int = 0  # violations already in the baseline (--baseline): counted, not listed

    @classmethod
    def of(
        cls,
        rulebook: m.Rulebook,
        inputs: Sequence[str | Path],
        read: int,
        rejected: Iterable[Rejection],
        violations: Iterable[Violation | Rendered],
    ) -> CheckRun:
        """An engine's outcome, rejections in file and line order."""
        return cls(
            rulebook=rulebook,
            inputs=tuple(str(p) for p in inputs),
            read=read,
            rejected=tuple(sorted(rejected, key=lambda r: (r.file, r.line))),
            violations=tuple(violations),
        )

    @property
    def checked(self) -> int:
        return self.read - len(self.rejected)

    def count(self, severity: m.Severity) -> int:
        return sum(1 for v in self.violations if v.severity is severity)

    @property
    def amount_at_stake(self) -> Decimal:
        return sum((v.amount_at_stake for v in self.violations), Decimal("0.00"))

    def failed(self, fail_on: m.Severity) -> bool:
        """Whether the exit code says "violations": severities at or above `fail_on`."""
        return any(v.severity.rank <= fail_on.rank for v in self.violations)


def _merge(batches: Sequence[Batch]) -> Batch:
    """One batch from several files; a line id present in two files rejects all its rows."""
    if len(batches) == 1:
        return batches[0]
    schema = batches[0].schema
    line_field = schema.by_role(Role.LINE)
    where: dict[object, list[tuple[int, str, int]]] = defaultdict(list)
    if line_field is not None:
        for index, b in enumerate(batches):
            for row, line in zip(b.rows, b.lines, strict=True):
                where[row[line_field.name]].append((index, b.file, line))
    rows, lines, rejected = [], [], []
    for index, b in enumerate(batches):
        rejected.extend(b.rejected)
        for row, line in zip(b.rows, b.lines, strict=True):
            places = where.get(row[line_field.name], []) if line_field else []
            if len({i for i, _, _ in places}) > 1:
                others = ", ".join(f"{f}:{n}" for i, f, n in places if i != index)
                rejected.append(
                    Rejection(
                        b.file,
                        line,
                        line_field.name,
                        None,
                        f"identifiant de ligne « {row[line_field.name]} » en double (aussi en {others})",
                        tuple((k, str(v)) for k, v in row.items()),
                    )
                )
            else:
                rows.append(row)
                lines.append(line)
    return Batch(
        schema=schema,
        file=", ".join(b.file for b in batches),
        rows=tuple(rows),
        lines=tuple(lines),
        rejected=tuple(sorted(rejected, key=lambda r: (r.file, r.line))),
        read=sum(b.read for b in batches),
    )


def read_references(
    rulebook: m.Rulebook, files: Mapping[str, str | Path], con=None
) -> dict[str, Batch]:
    """Reference tables must be clean: one bad row stops the run (exit 2), with its place.
    A Parquet table is read on `con` when given (a new DuckDB connection costs 20-40 ms)."""
    batches = {}
    for name, path in files.items():
        ref = rulebook.reference(name)
        if ref is None:
            raise InputError(f"le recueil {rulebook.name} ne déclare pas de table « {name} »")
        paths = expand_inputs([path])
        batch = read_table(ref.schema, paths, input_format(paths), con=con)
        if batch.rejected:
            first = batch.rejected[0]
            raise InputError(
                f"{first.file}:{first.line}: {first.reason}"
                + (
                    f" (et {len(batch.rejected) - 1} autre(s) ligne(s))"
                    if len(batch.rejected) > 1
                    else ""
                )
            )
        counts = Counter(row[ref.key] for row in batch.rows)
        dup = sorted(str(k) for k, n in counts.items() if n > 1)
        if dup:
            raise InputError(
                f"{path} : {ref.key} en double dans la table de référence : {', '.join(dup)}"
            )
        batches[name] = batch
    return batches


FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
ENGINES = ("auto", "python", "duckdb", "spark")
ROWS = "claimlint_rows"  # Parquet rows read by DuckDB for Python (read_table)
# Above this much input, `auto` picks the columnar engine; below, the interpreter answers
# sooner because it needs no SQL set-up: about where the two take the same time
# (benchmarks/engine_choice.py; BENCHMARKS.md, "Which engine `auto` picks"). DuckDB costs
# 1.2-1.9 s whatever the size; the interpreter about 0.1 ms a line. JSON Lines are read in
# Python by both engines, and a JSON line holds four to five times a CSV line's bytes.
AUTO_DUCKDB_BYTES = {"csv": 3 * 512 * 1024, "jsonl": 8 * 1024 * 1024}
# The same for Parquet, compressed, counted in rows.
AUTO_DUCKDB_ROWS = 6_000


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files, folders (every known input file inside, sorted) and glob patterns."""
    found: list[Path] = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix.lower() in FORMATS)
            if not inside:
                raise InputError(
                    f"{spec} : aucun fichier CSV, Parquet ou JSON Lines dans ce dossier"
                )
            found += inside
        elif any(c in str(spec) for c in "*?[") and not path.exists():
            matches = sorted(Path(p) for p in glob.glob(str(spec), recursive=True))
            if not matches:
                raise InputError(f"{spec} : aucun fichier ne correspond à ce motif")
            found += matches
        else:
            if not path.is_file():
                raise InputError(f"{spec} : fichier introuvable")
            found.append(path)
    return found


def input_format(paths: Sequence[Path]) -> str:
    kinds = {FORMATS.get(p.suffix.lower(), "csv") for p in paths}
    if len(kinds) > 1:
        raise InputError(
            "formats d'entrée mélangés (" + ", ".join(sorted(kinds)) + ") : "
            "vérifiez un format à la fois"
        )
    return kinds.pop()


def choose_engine(engine: str, fmt: str, paths: Sequence[Path], con=None) -> str:
    """`auto`: DuckDB for large batches (Parquet rows counted from the files' footers, read
    with `con` when given), the interpreter for small ones."""
    if engine != "auto":
        return engine
    if fmt == "parquet":
        rows = _parquet_rows(paths, con)
        return "duckdb" if rows is None or rows > AUTO_DUCKDB_ROWS else "python"
    if sum(p.stat().st_size for p in paths) > AUTO_DUCKDB_BYTES[fmt]:
        return "duckdb"
    return "python"


def _parquet_rows(paths: Sequence[Path], con=None) -> int | None:
    """The files' rows, from their footers; None when one cannot be read (the reader will
    say why, whichever the engine)."""
    import duckdb
    from sqlglot import exp

    files = exp.Array(expressions=[exp.Literal.string(str(p)) for p in paths])
    query = exp.select(exp.func("sum", exp.column("num_rows"))).from_(
        exp.func("parquet_file_metadata", files)
    )
    own = con is None
    con = duckdb.connect() if own else con
    try:
        (rows,) = con.execute(query.sql(dialect="duckdb")).fetchone()
    except duckdb.Error:
        return None
    finally:
        if own:
            con.close()
    return None if rows is None else int(rows)


def connect(memory_limit: str | None = None):
    """A DuckDB connection that spills to a private temporary folder beyond its memory limit."""
    import atexit
    import shutil
    import tempfile

    import duckdb

    spill = tempfile.mkdtemp(prefix="claimlint-")
    atexit.register(shutil.rmtree, spill, ignore_errors=True)  # spilled pages end with us
    config = {"temp_directory": spill}
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        con = duckdb.connect(config=config)
    except duckdb.Error as err:
        raise InputError(f"configuration DuckDB refusée : {engine_detail(err)}") from None
    # DuckDB draws its own progress bar past two seconds, even into a pipe: never;
    # checker/progress.py shows progress on a terminal only.
    con.execute("SET enable_progress_bar_print = false")
    return con


def read_table(
    schema: Schema,
    paths: Sequence[Path],
    fmt: str,
    mapping: Mapping[str, str] | None = None,
    memory_limit: str | None = None,
    con=None,
) -> Batch:
    """Typed rows in Python, whatever the format (Parquet goes through DuckDB's validation,
    on `con` when given)."""
    if fmt == "csv":
        return read_csv_files(paths, schema, mapping)
    if fmt == "jsonl":
        return _merge([read_jsonl(p, schema, mapping) for p in paths])
    from sqlglot import exp

    from claimlint.checker.columnar_input import load_parquet, unload
    from claimlint.checker.sql import relation

    con = con if con is not None else connect(memory_limit)
    read, rejected = load_parquet(con, [str(p) for p in paths], schema, ROWS, mapping)
    names = [f.name for f in schema.fields]
    rows, lines = [], []
    for record in con.execute(
        exp.select(exp.Star()).from_(relation(ROWS)).sql(dialect="duckdb")
    ).fetchall():
        rows.append(dict(zip(names, record[: len(names)], strict=True)))
        lines.append(int(record[-1]))
    # The connection may go on to the DuckDB engine, whose relations have the same names.
    unload(con, ROWS)
    return Batch(
        schema, ", ".join(map(str, paths)), tuple(rows), tuple(lines), tuple(rejected), read
    )


# Objects allocated between two collections of the youngest generation (CPython: 700).
GC_THRESHOLD = 10_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """A check allocates rows, lines and reference rows by the ten thousand, alive until its
    end: the cycle collector, run every 700 allocations, would walk them again and again to
    free nothing (the interpreter's lines of 24,000 history rows took twice as long to
    build). It runs less often during the check."""
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@_fewer_collections()
def check_files(
    rulebook: m.Rulebook,
    inputs: Sequence[str | Path],
    references: Mapping[str, str | Path] | None = None,
    mapping: Mapping[str, str] | None = None,
    engine: str = "auto",
    memory_limit: str | None = None,
    sink=None,
    history: str | Path | None = None,
    lock_timeout: float = 10.0,
    spark_master: str | None = None,
    json_lines: JsonLines | None = None,
) -> CheckRun:
    """Read, check and account; `sink` receives each rule's violations as soon as found.
    With `json_lines`, the DuckDB engine may hand it records it wrote itself (`Rendered`).

    With `history` (a history store), aggregates also count its lines of the groups and
    periods today's lines touch; only today's lines are flagged.
    """
    if engine == "spark":  # inputs may be data-lake URLs: Spark lists and reads them
        try:
            from claimlint.checker.spark_engine import check_on_spark
        except ImportError:
            raise InputError(
                "--engine spark demande PySpark : pip install 'claimlint[spark]'"
            ) from None
        if history:
            raise InputError("--history n'est pas disponible avec --engine spark")
        refs = read_references(rulebook, references or {})
        return check_on_spark(rulebook, inputs, refs, mapping, spark_master, sink)
    paths = expand_inputs(inputs)
    seen: set[Path] = set()
    for path in paths:
        resolved = path.resolve()
        if resolved in seen:
            raise InputError(
                f"{path} : fichier donné deux fois ; ses lignes seraient comptées deux fois"
            )
        seen.add(resolved)
    fmt = input_format(paths)
    # A Parquet batch is read by DuckDB whichever the engine: one database for the footers
    # (the engine's choice) and the rows (each new one costs 20-40 ms).
    con = connect(memory_limit) if fmt == "parquet" else None
    chosen = choose_engine(engine, fmt, paths, con)
    if chosen != "duckdb" and history:
        return _check_with_history(
            rulebook,
            inputs,
            paths,
            fmt,
            references,
            mapping,
            memory_limit,
            sink,
            history,
            lock_timeout,
            con,
        )
    refs = read_references(rulebook, references or {}, con)
    if chosen == "duckdb":
        return _check_on_duckdb(
            rulebook, inputs, paths, fmt, refs, mapping, memory_limit, sink, history,
            lock_timeout, con, json_lines,
        )  # fmt: skip
    batch = read_table(rulebook.input, paths, fmt, mapping, memory_limit, con)
    read, rejected = batch.read, list(batch.rejected)
    violations = interpreter.check(rulebook, batch, refs, sink=sink)
    return CheckRun.of(rulebook, inputs, read, rejected, violations)


def _check_on_duckdb(
    rulebook: m.Rulebook,
    inputs: Sequence[str | Path],
    paths: Sequence[Path],
    fmt: str,
    refs: Mapping[str, Batch],
    mapping: Mapping[str, str] | None,
    memory_limit: str | None,
    sink,
    history: str | Path | None,
    lock_timeout: float,
    con,
    json_lines: JsonLines | None,
) -> CheckRun:
    """The check on the DuckDB engine. A number beyond DuckDB's (integers of 64 bits,
    decimals of 38 digits; Python's have no limit) is the data meeting the engine's limit:
    an error naming the remedy, not a traceback."""
    import duckdb

    from claimlint.checker.duckdb_engine import DuckDBEngine

    try:
        con = con if con is not None else connect(memory_limit)
        engine_ = DuckDBEngine(rulebook, con, own=True)  # `check`'s connection, or a new one
        if history:
            from claimlint.checker.history_reads import source

            engine_.history = source(history, rulebook, lock_timeout)
        if fmt == "parquet":
            read, rejected = engine_.load_parquet([str(p) for p in paths], refs, mapping)
        elif fmt == "csv":
            from claimlint.checker.columnar import INPUT
            from claimlint.checker.columnar_csv import load_csv

            read, rejected = load_csv(
                con, paths, rulebook.input, INPUT, mapping, temporary=not engine_.shared
            )
            engine_.load_batch(None, refs)
        else:
            batch = read_table(rulebook.input, paths, fmt, mapping, memory_limit)
            engine_.load_batch(batch, refs)
            read, rejected = batch.read, list(batch.rejected)
        violations = engine_.run_all(sink=sink, json_lines=json_lines)
    except duckdb.OutOfRangeException as err:
        raise EvaluationError(
            Diagnostic(
                f"un calcul dépasse les nombres de DuckDB ({engine_detail(err)})",
                hint="le moteur de référence (--engine python) calcule sans cette limite",
            )
        ) from None
    return CheckRun.of(rulebook, inputs, read, rejected, violations)


def _check_with_history(
    rulebook: m.Rulebook,
    inputs: Sequence[str | Path],
    paths: Sequence[Path],
    fmt: str,
    references: Mapping[str, str | Path] | None,
    mapping: Mapping[str, str] | None,
    memory_limit: str | None,
    sink,
    history: str | Path,
    lock_timeout: float,
    con=None,
) -> CheckRun:
    """The interpreter's check with a history: today's lines first, then the store queried
    for them while the reference files are read. DuckDB scans the store without Python's
    lock: the references are read once the scan has started, so that the two share the
    machine's cores rather than the lock."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from claimlint.checker.history_reads import history_lines

    batch = read_table(rulebook.input, paths, fmt, mapping, memory_limit, con)
    scanning = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        fetched = pool.submit(
            history_lines, history, rulebook, batch.rows, lock_timeout, scanning.set
        )
        fetched.add_done_callback(lambda _: scanning.set())  # failed before its scan
        scanning.wait()
        refs = read_references(rulebook, references or {})
        past = fetched.result()
    violations = interpreter.check(
        rulebook,
        batch,
        refs,
        sink=sink,
        context=past.batch,
        reads=past.reads,
        groups=past.groups,
    )
    return CheckRun.of(rulebook, inputs, batch.read, list(batch.rejected), violations)
