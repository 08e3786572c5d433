"""Parquet inputs read and validated inside DuckDB, for batches too large for Python rows.

The same contract as the CSV reader: every row is kept (typed to the schema) or rejected with
a French reason naming its file, row and column; rows read = kept + rejected. Both engines
read Parquet through this module, so they see the same rows and the same rejections.

A Parquet column may be typed (DATE, DECIMAL, BOOLEAN…) or text; text is parsed with the
CSV reader's rules: ISO or DD/MM/YYYY dates, HH:MM times, decimal point or comma,
true/false/1/0/oui/non/vrai/faux.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

import duckdb
from sqlglot import exp

from claimlint.checker.readers import EMPTY_REQUIRED, MAPPING_HINT, Rejection
from claimlint.checker.sql import col, literal, sql_type, truth
from claimlint.dsl.schema import Field, Role, Schema
from claimlint.dsl.types import DIGITS, PLACES, Type
from claimlint.errors import Diagnostic, InputError

DIALECT = "duckdb"
FILE, ROW = "_file", "_row"
STAGED, REPEATED = "claimlint_staged", "claimlint_repeated"


def _create(con, name: str, query: exp.Expression, kind: str = "TABLE") -> None:
    """CREATE OR REPLACE TEMPORARY TABLE|VIEW name AS query."""
    statement = exp.Create(
        this=exp.to_table(name),
        kind=kind,
        expression=query,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        replace=True,
    )
    con.execute(statement.sql(DIALECT))


def _text(e: exp.Expression) -> exp.Expression:
    return exp.cast(e, "VARCHAR")


def _trimmed(name: str) -> exp.Expression:
    return exp.Trim(this=_text(col(name, "s")))


def _empty(name: str, typed: bool) -> exp.Expression:
    is_null = exp.Is(this=col(name, "s"), expression=exp.null())
    if typed:
        return is_null
    return exp.or_(is_null, exp.EQ(this=_trimmed(name), expression=exp.Literal.string("")))


def _parse_text(field: Field, name: str) -> exp.Expression:
    """A text cell parsed to the field's type (NULL when it does not parse)."""
    text = _trimmed(name)
    kind = field.type
    if kind is Type.TEXT:
        return text
    if kind is Type.INTEGER:
        return exp.TryCast(this=text, to=sql_type(kind))
    if kind in (Type.DECIMAL, Type.MONEY):
        pattern = (
            r"^-?[0-9]+([.,][0-9]{1,2})?$" if kind is Type.MONEY else r"^-?[0-9]+([.,][0-9]+)?$"
        )
        number = exp.TryCast(
            this=exp.func("replace", text.copy(), exp.Literal.string(","), exp.Literal.string(".")),
            to=sql_type(kind),
        )
        return exp.Case().when(
            exp.RegexpLike(this=text, expression=exp.Literal.string(pattern)), number
        )
    if kind is Type.DATE:
        iso = exp.func("try_strptime", text, exp.Literal.string("%Y-%m-%d"))
        french = exp.func("try_strptime", text.copy(), exp.Literal.string("%d/%m/%Y"))
        return exp.cast(exp.Coalesce(this=iso, expressions=[french]), "DATE")
    if kind is Type.TIME:
        hhmm = exp.func("try_strptime", text, exp.Literal.string("%H:%M"))
        hhmmss = exp.func("try_strptime", text.copy(), exp.Literal.string("%H:%M:%S"))
        return exp.cast(exp.Coalesce(this=hhmm, expressions=[hhmmss]), "TIME")
    lowered = exp.Lower(this=text)
    truthy = [exp.Literal.string(w) for w in ("true", "1", "oui", "vrai")]
    falsy = [exp.Literal.string(w) for w in ("false", "0", "non", "faux")]
    return (
        exp.Case()
        .when(exp.In(this=lowered, expressions=truthy), exp.true())
        .when(exp.In(this=lowered.copy(), expressions=falsy), exp.false())
    )


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _converted(field: Field, name: str, source_type: str) -> exp.Expression:
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
        case = exp.Case().when(exact, value.copy())
        folded = exp.Lower(this=exp.func("strip_accents", value))
        for allowed in field.allowed:
            case = case.when(
                exp.EQ(this=folded.copy(), expression=literal(_fold(allowed))), literal(allowed)
            )
        value = case
    return value


def _reason(field: Field, name: str, typed_value: exp.Expression, typed: bool) -> exp.Expression:
    """NULL when the cell is fine, else the French reason."""
    empty = _empty(name, typed)
    shown = exp.func("left", _trimmed(name), exp.Literal.number(40))
    case = exp.Case()
    if field.required and field.default is None:
        case = case.when(empty, exp.Literal.string(EMPTY_REQUIRED))
    if field.allowed is not None:
        expected = ", ".join(str(v) for v in field.allowed)
        invalid = exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string("valeur non admise « "), expression=shown),
            expression=exp.Literal.string(f" » (attendu : {expected})"),
        )
    else:
        invalid = exp.DPipe(
            this=exp.DPipe(
                this=exp.Literal.string(f"{field.type.french} invalide « "), expression=shown
            ),
            expression=exp.Literal.string(" »"),
        )
    if field.type in PLACES:
        # The readers' capacity (dsl.types): what DECIMAL(18, places) holds exactly.
        places = PLACES[field.type]
        whole = DIGITS - places
        mark = r"\." if typed else "[.,]"
        fraction = (
            f"[0-9]{{1,{places}}}"
            if field.type is Type.MONEY and not typed
            else (f"[0-9]{{0,{places}}}0*")
        )
        pattern = f"[+-]?0*[0-9]{{1,{whole}}}({mark}{fraction})?"
        fits = exp.RegexpFullMatch(this=_trimmed(name), expression=exp.Literal.string(pattern))
        too_big = exp.DPipe(
            this=exp.DPipe(
                this=exp.Literal.string(f"{field.type.french} invalide « "), expression=shown.copy()
            ),
            expression=exp.Literal.string(
                f" » ({places} décimales et {whole} chiffres avant la virgule au plus)"
            ),
        )
        case = case.when(exp.and_(exp.not_(empty.copy()), exp.not_(truth(fits))), too_big)
    bad = exp.and_(exp.not_(empty.copy()), exp.Is(this=typed_value, expression=exp.null()))
    return case.when(bad, invalid)


def load_parquet(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str],
    schema: Schema,
    table: str,
    mapping: Mapping[str, str] | None = None,
) -> tuple[int, list[Rejection]]:
    """Create `table` with the valid rows (schema columns, plus _file and _row); rejections.

    `mapping` renames the file's columns (file name -> schema name), as for CSV.
    """
    source_of = {schema_name: file_name for file_name, schema_name in (mapping or {}).items()}
    source = exp.func(
        "read_parquet",
        exp.Array(expressions=[exp.Literal.string(p) for p in paths]),
        exp.EQ(this=exp.column("filename"), expression=exp.true()),
        exp.EQ(this=exp.column("file_row_number"), expression=exp.true()),
        exp.EQ(this=exp.column("union_by_name"), expression=exp.true()),
    )
    try:
        described = con.execute(
            exp.Describe(this=exp.select("*").from_(source)).sql(DIALECT)
        ).fetchall()
    except duckdb.Error as err:
        raise InputError(f"{', '.join(paths)} : lecture Parquet impossible ({err})") from None
    file_types = {row[0]: row[1] for row in described}
    types = {
        f.name: file_types[source_of.get(f.name, f.name)]
        for f in schema.fields
        if source_of.get(f.name, f.name) in file_types
    }
    missing = [f.name for f in schema.fields if f.required and f.name not in types]
    if missing:
        raise InputError(
            Diagnostic(
                f"{', '.join(paths)} : colonnes obligatoires absentes : {', '.join(missing)}",
                hint=MAPPING_HINT,
            )
        )
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
        typed = not types[f.name].startswith("VARCHAR")
        value = _converted(f, f.name, types[f.name])
        reasons.append((f, _reason(f, f.name, value.copy(), typed)))
        if f.default is not None:
            value = exp.Coalesce(this=value, expressions=[literal(f.default, f.type)])
        values.append(exp.alias_(exp.cast(value, sql_type(f.type)), f.name, quoted=True))
    reason = (
        exp.Coalesce(this=reasons[0][1], expressions=[r for _, r in reasons[1:]])
        if reasons
        else exp.null()
    )
    column = exp.Case()
    for f, r in reasons:
        column = column.when(
            exp.not_(exp.Is(this=r.copy(), expression=exp.null())), exp.Literal.string(f.name)
        )
    staged = exp.select(
        *values,
        exp.alias_(col("filename", "s"), FILE, quoted=True),
        exp.alias_(
            exp.Add(this=col("file_row_number", "s"), expression=exp.Literal.number(1)),
            ROW,
            quoted=True,
        ),
        exp.alias_(reason, "_reason", quoted=True),
        exp.alias_(column, "_column", quoted=True),
    ).from_(exp.alias_(source, "s", quoted=True))
    _create(con, STAGED, staged)
    line = schema.by_role(Role.LINE)
    # Line ids seen more than once: a small set, found by one aggregation and kept aside.
    repeated = exp.select(col(line.name) if line else exp.null()).from_(STAGED)
    if line is not None:
        repeated = repeated.group_by(col(line.name)).having(
            exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1))
        )
    else:
        repeated = repeated.where(exp.false())
    _create(con, REPEATED, repeated)
    duplicate = (
        truth(exp.In(this=col(line.name), query=exp.Subquery(this=exp.select("*").from_(REPEATED))))
        if line is not None
        else exp.false()
    )
    ok = exp.and_(exp.Is(this=col("_reason"), expression=exp.null()), exp.not_(duplicate))
    # The kept rows are a view over the staged table: the engines read them once.
    keep = exp.select(*(col(f.name) for f in schema.fields), col(FILE), col(ROW))
    _create(con, table, keep.from_(STAGED).where(ok), kind="VIEW")
    read = con.execute(exp.select(exp.Count(this=exp.Star())).from_(STAGED).sql(DIALECT))
    read = read.fetchone()[0]
    bad = (
        exp.select(
            col(FILE),
            col(ROW),
            col("_column"),
            col("_reason"),
            *(col(line.name) for line in [line] if line is not None),
        )
        .from_(STAGED)
        .where(exp.not_(ok))
        .order_by(col(FILE), col(ROW))
    )
    rejections = []
    for file, row, column, reason, *key in con.execute(bad.sql(DIALECT)).fetchall():
        if reason is None:  # a duplicate line id, otherwise valid
            reason = f"identifiant de ligne « {key[0]} » en double"
            column = line.name if line else None
        rejections.append(Rejection(file, int(row), column, None, reason, ()))
    return int(read), rejections
