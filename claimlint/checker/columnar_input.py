"""Parquet inputs read and validated inside DuckDB, for batches too large for Python rows.

The same contract as the CSV reader: every row is kept (typed to the schema) or rejected with
a French reason naming its file, row and column; rows read = kept + rejected. Both engines
read Parquet through this module, so they see the same rows and the same rejections.

A Parquet column may be typed (DATE, DECIMAL, BOOLEAN…) or text; text is parsed with the
CSV reader's rules: ISO or DD/MM/YYYY dates, HH:MM times, decimal point or comma,
true/false/1/0/oui/non/vrai/faux.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import duckdb
from sqlglot import exp

from claimlint.checker.readers import EMPTY_REQUIRED, MAPPING_HINT, NUMBER_WORDS, Rejection
from claimlint.checker.sql import (
    alias,
    and_,
    col,
    create_as,
    data_type,
    literal,
    not_,
    or_,
    relation,
    sql_type,
    truth,
)
from claimlint.dsl.schema import Field, Role, Schema
from claimlint.dsl.types import DIGITS, PLACES, Type
from claimlint.errors import Diagnostic, InputError, engine_detail

if TYPE_CHECKING:  # Arrow input only: a Parquet check read in Python never imports it
    import pyarrow as pa

DIALECT = "duckdb"
FILE, ROW = "_file", "_row"
STAGED, REPEATED, ARROW = "claimlint_staged", "claimlint_repeated", "claimlint_arrow"
TAG = "\x1f"  # after a rejected row's column name, before its reason


def _create(
    con, name: str, query: exp.Expression, kind: str = "TABLE", temporary: bool = True
) -> None:
    con.execute(create_as(name, query, kind, temporary).sql(DIALECT))


def _text(e: exp.Expression) -> exp.Expression:
    return exp.cast(e, data_type("VARCHAR"), copy=False)


def _trimmed(name: str) -> exp.Expression:
    return exp.Trim(this=_text(col(name, "s")))


def _empty(name: str, typed: bool) -> exp.Expression:
    is_null = exp.Is(this=col(name, "s"), expression=exp.null())
    if typed:
        return is_null
    return or_(is_null, exp.EQ(this=_trimmed(name), expression=exp.Literal.string("")))


def _parse_text(field: Field, name: str) -> exp.Expression:
    """A text cell parsed to the field's type (NULL when it does not parse)."""
    text = _trimmed(name)
    kind = field.type
    if kind is Type.TEXT:
        return text
    if kind is Type.INTEGER:  # digits only: a cast alone would round "1.5" to 2
        digits = exp.RegexpFullMatch(this=text, expression=exp.Literal.string(r"[+-]?[0-9]+"))
        return exp.Case().when(digits, exp.TryCast(this=text.copy(), to=sql_type(kind)), copy=False)
    if kind in (Type.DECIMAL, Type.MONEY):
        pattern = (
            r"^-?[0-9]+([.,][0-9]{1,2})?$" if kind is Type.MONEY else r"^-?[0-9]+([.,][0-9]+)?$"
        )
        number = exp.TryCast(
            this=exp.func("replace", text.copy(), exp.Literal.string(","), exp.Literal.string(".")),
            to=sql_type(kind),
        )
        return exp.Case().when(
            exp.RegexpLike(this=text, expression=exp.Literal.string(pattern)), number, copy=False
        )
    if kind is Type.DATE:
        iso = exp.func("try_strptime", text, exp.Literal.string("%Y-%m-%d"))
        french = exp.func("try_strptime", text.copy(), exp.Literal.string("%d/%m/%Y"))
        return exp.cast(exp.Coalesce(this=iso, expressions=[french]), data_type("DATE"), copy=False)
    if kind is Type.TIME:
        hhmm = exp.func("try_strptime", text, exp.Literal.string("%H:%M"))
        hhmmss = exp.func("try_strptime", text.copy(), exp.Literal.string("%H:%M:%S"))
        return exp.cast(exp.Coalesce(this=hhmm, expressions=[hhmmss]), "TIME", copy=False)
    lowered = exp.Lower(this=text)
    truthy = [exp.Literal.string(w) for w in ("true", "1", "oui", "vrai")]
    falsy = [exp.Literal.string(w) for w in ("false", "0", "non", "faux")]
    return (
        exp.Case()
        .when(exp.In(this=lowered, expressions=truthy), exp.true(), copy=False)
        .when(exp.In(this=lowered.copy(), expressions=falsy), exp.false(), copy=False)
    )


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def cell_value(field: Field, name: str, source_type: str) -> exp.Expression:
    """The typed value (NULL when empty or invalid) of a column present in the file."""
    typed = not source_type.startswith("VARCHAR")
    if not typed:
        value = _parse_text(field, name)
    elif field.type is Type.TEXT:
        value = exp.Trim(this=_text(col(name, "s")))
    else:
        value = exp.TryCast(this=col(name, "s"), to=sql_type(field.type))
    if field.allowed is not None and field.type is Type.TEXT:
        # Accents and case do not matter; the declared spelling is kept. Most cells are
        # spelt as declared: they skip the folding.
        exact = exp.In(this=value.copy(), expressions=[literal(a) for a in field.allowed])
        case = exp.Case().when(exact, value.copy(), copy=False)
        folded = exp.Lower(this=exp.func("strip_accents", value))
        for allowed in field.allowed:
            case = case.when(
                exp.EQ(this=folded.copy(), expression=literal(_fold(allowed))),
                literal(allowed),
                copy=False,
            )
        value = case
    return value


def _always_fits(source_type: str, places: int, whole: int) -> bool:
    """A DECIMAL column no wider than DECIMAL(18, places) holds only values that fit."""
    found = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", source_type)
    return found is not None and (
        int(found[2]) <= places and int(found[1]) - int(found[2]) <= whole
    )


# Typed integer columns whose every value fits the schema's 64-bit integers.
FITTING_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
)

# What the CSV reader says after "invalide « … »" for a cell that does not parse.
EXPECTED = {
    Type.INTEGER: f"attendu {NUMBER_WORDS[Type.INTEGER][1]}",
    Type.DECIMAL: f"attendu {NUMBER_WORDS[Type.DECIMAL][1]}",
    Type.MONEY: f"attendu {NUMBER_WORDS[Type.MONEY][1]}",
    Type.DATE: "attendu AAAA-MM-JJ ou JJ/MM/AAAA",
    Type.TIME: "attendu HH:MM",
    Type.BOOLEAN: "attendu oui/non, vrai/faux, true/false ou 1/0",
}


def _said(shown: exp.Expression, before: str, after: str) -> exp.Expression:
    """before « shown » after."""
    return exp.DPipe(
        this=exp.DPipe(this=exp.Literal.string(f"{before} « "), expression=shown.copy()),
        expression=exp.Literal.string(f" »{after}"),
    )


def _matches(name: str, pattern: str) -> exp.Expression:
    return truth(exp.RegexpFullMatch(this=_trimmed(name), expression=exp.Literal.string(pattern)))


def cell_reason(
    field: Field, name: str, typed_value: exp.Expression, source_type: str
) -> exp.Expression | None:
    """NULL when the cell is fine, else the French reason, worded as the CSV reader's; None
    when no cell of the column can be wrong (an optional typed column)."""
    typed = not source_type.startswith("VARCHAR")
    empty = _empty(name, typed)
    shown = exp.func("left", _trimmed(name), exp.Literal.number(40))
    word = field.type.french
    case = exp.Case()
    if field.required and field.default is None:
        case = case.when(empty, exp.Literal.string(EMPTY_REQUIRED), copy=False)
    filled = not_(empty.copy())
    if field.type is Type.INTEGER and source_type not in FITTING_INTEGERS:
        # Digits that do not fit in 64 bits.
        case = case.when(
            and_(
                filled.copy(),
                _matches(name, r"[+-]?[0-9]+"),
                exp.Is(this=typed_value.copy(), expression=exp.null()),
            ),
            _said(shown, f"{word} invalide", " (trop grand)"),
            copy=False,
        )
    elif field.type in PLACES and not _always_fits(
        source_type, PLACES[field.type], DIGITS - PLACES[field.type]
    ):
        # The readers' capacity (dsl.types): what DECIMAL(18, places) holds exactly.
        places = PLACES[field.type]
        mark = r"\." if typed else "[.,]"
        number = and_(filled.copy(), _matches(name, f"[+-]?[0-9]+({mark}[0-9]+)?"))
        # Money is written with at most two decimals; a decimal (or a typed column) may pad.
        fraction = (
            f"[0-9]{{0,{places}}}"
            if field.type is Type.MONEY and not typed
            else (f"[0-9]{{0,{places}}}0*")
        )
        case = case.when(
            and_(number, not_(_matches(name, f"[+-]?[0-9]+({mark}{fraction})?"))),
            _said(shown, f"{word} invalide", f" ({places} décimales au plus)"),
            copy=False,
        )
        whole = DIGITS - places
        case = case.when(
            and_(number.copy(), not_(_matches(name, f"[+-]?0*[0-9]{{1,{whole}}}([.,].*)?"))),
            _said(shown, f"{word} invalide", " (trop grand)"),
            copy=False,
        )
    if field.allowed is not None:
        expected = ", ".join(str(v) for v in field.allowed)
        invalid = _said(shown, "valeur non admise", f" (attendu : {expected})")
    elif field.type in EXPECTED:
        invalid = _said(shown, f"{word} invalide", f" ({EXPECTED[field.type]})")
    else:
        invalid = _said(shown, f"{word} invalide", "")
    if _always_parses(field, source_type):  # the usual typed file: no test per cell
        return case if case.args.get("ifs") else None
    bad = and_(filled, exp.Is(this=typed_value, expression=exp.null()))
    return case.when(bad, invalid, copy=False)


# What a typed column of the file holds, as the DuckDB type name of each field type.
SAME_TYPE = {Type.DATE: "DATE", Type.TIME: "TIME", Type.BOOLEAN: "BOOLEAN"}


def _always_parses(field: Field, source_type: str) -> bool:
    """Whether every filled cell of the column has a value of the field's type: text without
    a list of allowed values, or a typed column whose every value converts."""
    if field.allowed is not None:
        return False
    if field.type is Type.TEXT:
        return True
    if field.type is Type.INTEGER:
        return source_type in FITTING_INTEGERS
    if field.type in PLACES:
        return _always_fits(source_type, PLACES[field.type], DIGITS - PLACES[field.type])
    return SAME_TYPE.get(field.type) == source_type


def require_columns(
    schema: Schema, present: set[str], source_of: Mapping[str, str], label: str
) -> None:
    """A whole-file error unless the file holds every required column (by its mapped name)."""
    missing = [
        f.name for f in schema.fields if f.required and source_of.get(f.name, f.name) not in present
    ]
    if missing:
        raise InputError(
            Diagnostic(
                f"{label} : colonnes obligatoires absentes : {', '.join(missing)}",
                hint=MAPPING_HINT,
            )
        )


def load_parquet(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    schema: Schema,
    table: str,
    mapping: Mapping[str, str] | None = None,
    temporary: bool = True,
) -> tuple[int, list[Rejection]]:
    """Create `table` with the valid rows (schema columns, plus _file and _row); rejections.

    `mapping` renames the file's columns (file name -> schema name), as for CSV. Not
    `temporary`: the relations are the database's, as the DuckDB engine's are when its
    cursors read them (sql.create_as).
    """
    source = exp.func(
        "read_parquet",
        exp.Array(expressions=[exp.Literal.string(p) for p in paths]),
        exp.EQ(this=exp.column("filename"), expression=exp.true()),
        exp.EQ(this=exp.column("file_row_number"), expression=exp.true()),
        exp.EQ(this=exp.column("union_by_name"), expression=exp.true()),
    )
    return _load(con, source, list(paths), "Parquet", schema, table, mapping, temporary)


def unload(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop what `load_parquet` or `load_arrow` created, once its rows are read."""
    for name, kind in ((table, "VIEW"), (STAGED, "TABLE"), (REPEATED, "TABLE")):
        con.execute(exp.Drop(tables=[relation(name)], kind=kind, exists=True).sql(DIALECT))


def load_arrow(
    con: duckdb.DuckDBPyConnection,
    arrow: pa.Table,
    name: str,
    schema: Schema,
    table: str,
    mapping: Mapping[str, str] | None = None,
    temporary: bool = True,
) -> tuple[int, list[Rejection]]:
    """An Arrow table (from a caller's own pipeline) validated as a Parquet file would be;
    rejections name it `name`, with its rows numbered from 1."""
    con.register(ARROW, arrow)
    source = exp.select(
        exp.Star(),
        exp.alias_(exp.Literal.string(name), "filename", quoted=True),
        exp.alias_(
            exp.Sub(this=exp.Window(this=exp.RowNumber()), expression=exp.Literal.number(1)),
            "file_row_number",
            quoted=True,
        ),
    ).from_(relation(ARROW))
    return _load(con, exp.Subquery(this=source), [name], "Arrow", schema, table, mapping, temporary)


def _load(
    con: duckdb.DuckDBPyConnection,
    source: exp.Expression,
    files: list[str],
    kind: str,
    schema: Schema,
    table: str,
    mapping: Mapping[str, str] | None,
    temporary: bool,
) -> tuple[int, list[Rejection]]:
    """Validate the rows of `source` (with filename and file_row_number columns; each
    filename one of `files`)."""
    label = ", ".join(files)
    names = exp.Array(expressions=[exp.Literal.string(f) for f in files])
    source_of = {schema_name: file_name for file_name, schema_name in (mapping or {}).items()}
    try:
        described = con.execute(
            exp.Describe(this=exp.select(exp.Star()).from_(source)).sql(DIALECT)
        ).fetchall()
    except duckdb.Error as err:
        raise InputError(f"{label} : lecture {kind} impossible ({engine_detail(err)})") from None
    file_types = {row[0]: row[1] for row in described}
    types = {
        f.name: file_types[source_of.get(f.name, f.name)]
        for f in schema.fields
        if source_of.get(f.name, f.name) in file_types
    }
    require_columns(schema, set(file_types), source_of, label)
    renamed = exp.select(
        exp.Star(),
        *(
            exp.alias_(col(source_of[f.name]), f.name, quoted=True)
            for f in schema.fields
            if f.name in types and source_of.get(f.name, f.name) != f.name
        ),
    ).from_(source)
    source = exp.Subquery(this=renamed)
    values, reasons = [], []
    for f in schema.fields:
        if f.name not in types:
            values.append(exp.alias_(literal(f.default, f.type), f.name, quoted=True))
            continue
        value = cell_value(f, f.name, types[f.name])
        problem = cell_reason(f, f.name, value.copy(), types[f.name])
        if problem is not None:
            reasons.append((f, problem))
        if f.default is not None:
            value = exp.Coalesce(this=value, expressions=[literal(f.default, f.type)])
        values.append(alias(exp.cast(value, sql_type(f.type), copy=False), f.name))
    # The first reason, tagged with its column ("column<TAG>reason"): worked out once per
    # row, split only for the few rows rejected. Its text is put together only where one of
    # the reasons' tests holds: at 1M rows the staging statement took 1.31 CPU-s with the
    # text made on every row, 1.24 with this test first.
    tagged = [
        exp.DPipe(this=exp.Literal.string(f.name + TAG), expression=r, safe=True)
        for f, r in reasons
    ]
    reason: exp.Expression = exp.null()
    if tagged:
        tests = or_(*(test.this.copy() for _, r in reasons for test in r.args["ifs"]))
        first = exp.Coalesce(this=tagged[0], expressions=tagged[1:])
        reason = exp.Case().when(tests, first, copy=False)
    staged = exp.select(
        *values,
        # The file's number, not its name: a name on every row took 400 MB at 10M rows.
        exp.alias_(exp.func("list_position", names, col("filename", "s")), FILE, quoted=True),
        exp.alias_(
            exp.Add(this=col("file_row_number", "s"), expression=exp.Literal.number(1)),
            ROW,
            quoted=True,
        ),
        alias(reason, "_reason"),
        copy=False,
    ).from_(alias(source, "s"), copy=False)
    _create(con, STAGED, staged, temporary=temporary)
    line = schema.by_role(Role.LINE)
    # Line ids seen more than once: a small set, found by one aggregation and kept aside.
    # Among the rows otherwise valid, as the CSV reader counts them.
    repeated = (
        exp.select(col(line.name) if line else exp.null())
        .from_(relation(STAGED))
        .where(exp.Is(this=col("_reason"), expression=exp.null()))
    )
    if line is not None:
        repeated = repeated.group_by(col(line.name)).having(
            exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1))
        )
    else:
        repeated = repeated.where(exp.false())
    _create(con, REPEATED, repeated, temporary=temporary)
    repeats = con.execute(
        exp.select(exp.Count(this=exp.Star())).from_(relation(REPEATED)).sql(DIALECT)
    )
    duplicate = (
        truth(
            exp.In(
                this=col(line.name),
                query=exp.Subquery(this=exp.select(exp.Star()).from_(relation(REPEATED))),
            )
        )
        if line is not None and repeats.fetchone()[0]
        else exp.false()  # no id repeated (the usual case): no lookup per row
    )
    ok = exp.and_(exp.Is(this=col("_reason"), expression=exp.null()), exp.not_(duplicate))
    # The kept rows are a view over the staged table: the engines read them once.
    keep = exp.select(*(col(f.name) for f in schema.fields), col(FILE), col(ROW))
    _create(con, table, keep.from_(relation(STAGED)).where(ok), kind="VIEW", temporary=temporary)
    read = con.execute(exp.select(exp.Count(this=exp.Star())).from_(relation(STAGED)).sql(DIALECT))
    read = read.fetchone()[0]
    tag = exp.func("strpos", col("_reason"), exp.Literal.string(TAG))
    bad = (
        exp.select(
            col(FILE),
            col(ROW),
            exp.func("left", col("_reason"), exp.Sub(this=tag, expression=exp.Literal.number(1))),
            exp.Substring(
                this=col("_reason"),
                start=exp.Add(this=tag.copy(), expression=exp.Literal.number(1)),
            ),
            *(col(line.name) for line in [line] if line is not None),
        )
        .from_(relation(STAGED))
        .where(exp.not_(ok))
    )
    found = sorted(
        ((files[number - 1], *rest) for number, *rest in con.execute(bad.sql(DIALECT)).fetchall()),
        key=lambda r: (r[0], r[1]),
    )
    return int(read), rejections(found, line.name if line else None)


def rejections(found: list[tuple], line: str | None) -> list[Rejection]:
    """Rejected rows (file, row, column, reason, line id) as the CSV reader words them: an
    id repeated among otherwise valid rows names where else it is."""
    rows_of: dict[object, list[tuple[str, int]]] = {}  # a repeated id -> where it is
    for file, row, _, reason, *key in found:
        if reason is None:
            rows_of.setdefault(key[0], []).append((file, int(row)))
    rejected = []
    for file, row, column, reason, *key in found:
        if reason is None:  # a duplicate line id, otherwise valid
            others = [
                str(n) if f == file else f"{f}:{n}"
                for f, n in rows_of[key[0]]
                if (f, n) != (file, int(row))
            ]
            also = others[0] if len(others) == 1 else ", ".join(others[:-1]) + " et " + others[-1]
            plural = "s" if len(others) > 1 else ""
            reason = f"identifiant de ligne « {key[0]} » en double (aussi ligne{plural} {also})"
            column = line
        rejected.append(Rejection(file, int(row), column, None, reason, ()))
    return rejected
