"""Records written as JSON lines by DuckDB, for a streamed `check --format jsonl`.

A record costs Python about 30 us: its values fetched, `make_violation`, the JSON encoder. At
10M lines that is a third of the check. When a run's records only become JSON lines, the
DuckDB engine writes each line in SQL from the same values, and Python fetches one string
per violation. The line must be the bytes `json.dumps(violation.record(), ensure_ascii=False)`
gives, so each value is printed from its DuckDB type as `values.french`, `values.plain` and
`violations.canonical` print the Python value DuckDB turns that type into.

A rule keeps Python's records when one of its values has another type (a float, a
timestamp...), when its record names a patient and reports pseudonymise them, and when it
reports groups rather than lines (no line id, so no total order to sort by in SQL).
tests/checker/test_sql_json.py holds both paths to the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs
from sqlglot import exp

from claimlint.checker.sql import alias, col, data_type, relation
from claimlint.dsl import model as m
from claimlint.dsl.types import Type

_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
# The record's figures (violations.FIGURE_TYPES), in the order make_violation lists them.
_FIGURES = ("count", "total", "cap", "allowed", "excess", "rank", "period")


class Unsupported(Exception):
    """A value whose Python form the SQL below does not print: the rule keeps Python's records."""


@attrs.frozen
class Cell:
    """A value of the row, with the Python type DuckDB fetches it as (`kind`) and, for a
    decimal, its number of places (DuckDB prints them all, as Python prints the Decimal)."""

    expr: exp.Expression
    kind: str  # text, bool, int, decimal, date, time, null (only NULLs), ints (a list)
    scale: int = 0

    @classmethod
    def of(cls, name: str, duck_type: str) -> Cell:
        c = col(name)
        if duck_type == "VARCHAR":
            return cls(c, "text")
        if duck_type == "BOOLEAN":
            return cls(c, "bool")
        if duck_type in _INTEGERS:
            return cls(c, "int")
        if duck_type.startswith("DECIMAL(") and duck_type.endswith(")"):
            return cls(c, "decimal", int(duck_type[:-1].split(",")[1]))
        if duck_type in ("DATE", "TIME"):
            return cls(c, duck_type.lower())
        if duck_type == '"NULL"':  # a column of NULLs only
            return cls(c, "null")
        if duck_type.endswith("[]") and duck_type[:-2] in _INTEGERS:
            return cls(c, "ints")
        raise Unsupported(duck_type)

    def __call__(self) -> exp.Expression:
        return self.expr.copy()


# ------------------------------------------------------------------------------ SQL pieces


def _s(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def _f(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _cat(*parts: exp.Expression | str) -> exp.Expression:
    """The parts end to end; adjacent constant texts are joined first. One concat() call,
    which copies each part once (`a || b || c` copies the text so far at each step); every
    part is a text, never NULL (a missing value is shown as such)."""
    merged: list[exp.Expression | str] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    exprs = [_s(p) if isinstance(p, str) else p for p in merged]
    return exprs[0] if len(exprs) == 1 else _f("concat", *exprs)


def _case(
    test: exp.Expression, then: exp.Expression | str, other: exp.Expression | str
) -> exp.Case:
    then = _s(then) if isinstance(then, str) else then
    other = _s(other) if isinstance(other, str) else other
    return exp.Case().when(test, then, copy=False).else_(other, copy=False)


def _text(c: exp.Expression) -> exp.Expression:
    return exp.cast(c.copy(), data_type("TEXT"))


def _is_null(c: exp.Expression) -> exp.Expression:
    return exp.Is(this=c.copy(), expression=exp.null())


def _unless_null(c: exp.Expression, shown: exp.Expression | str, null: str) -> exp.Expression:
    return _case(_is_null(c), null, shown)


def json_text(c: exp.Expression) -> exp.Expression:
    """A text as a JSON string. DuckDB's writer escapes as Python's does (ensure_ascii off)
    but for nine control characters, in capitals (\\u000B): see `as_python`."""
    return exp.cast(_f("to_json", c.copy()), data_type("TEXT"))


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # report.records' settings


def as_python(line: str) -> str:
    """The line as Python's encoder writes it. Only a line holding an escape (a backslash
    then u, hardly ever) may differ, and is read and written again: its values are texts,
    integers, booleans, nulls and lists, which read back as they were written."""
    return line if "\\u" not in line else _ENCODER.encode(json.loads(line))


def _in_cents(v: Cell) -> exp.Expression:
    """The value with two places, when it has no more (printed as DuckDB's DECIMAL)."""
    if v.kind == "decimal" and v.scale == 2:
        return _text(v())
    return _text(exp.cast(v(), data_type("DECIMAL(38, 2)")))


def _numeric(v: Cell) -> None:
    if v.kind not in ("int", "decimal"):
        raise Unsupported(v.kind)


def _cents(v: Cell) -> exp.Expression:
    """`model.money`: to two places, half to even (Decimal's quantize)."""
    _numeric(v)
    if v.kind == "decimal" and v.scale > 2:
        rounded = _f("round_even", v(), exp.Literal.number(2))
        return _text(exp.cast(rounded, data_type("DECIMAL(38, 2)")))
    return _in_cents(v)


def _normalized(v: Cell) -> exp.Expression:
    """A decimal without trailing zeros (Decimal.normalize printed with "f")."""
    _numeric(v)
    if v.kind == "int" or v.scale == 0:
        return _text(v())
    return _f("rtrim", _f("rtrim", _text(v()), _s("0")), _s("."))


def _euros(v: Cell) -> exp.Expression:
    """`values.euros`: two places as they are; fewer padded; more trimmed of their zeros,
    kept unless they were all zeros."""
    _numeric(v)
    shown = _in_cents(v)
    if v.kind == "decimal" and v.scale > 2:
        in_cents = exp.EQ(this=_f("round", v(), exp.Literal.number(2)), expression=v())
        shown = _case(in_cents, shown, _f("rtrim", _text(v()), _s("0")))
    return _comma(shown)


def _comma(text: exp.Expression) -> exp.Expression:
    return _f("replace", text, _s("."), _s(","))


def _minutes(v: Cell) -> exp.Expression:
    return _f("substr", _text(v()), exp.Literal.number(1), exp.Literal.number(5))


def french(v: Cell, type_: Type | None) -> exp.Expression:
    """`values.french` of the value (the model's type `type_`)."""
    k = v.kind
    if k == "null":
        return _s("—")
    if k == "text":
        shown = v()
    elif k == "bool":
        shown = _case(v(), "oui", "non")
    elif k == "int":
        shown = _euros(v) if type_ is Type.MONEY else _text(v())
    elif k == "decimal":
        shown = _comma(_normalized(v)) if type_ is Type.DECIMAL else _euros(v)
    elif k == "date":
        day, month, year = (_f(part, v()) for part in ("day", "month", "year"))
        shown = _f("printf", _s("%02d/%02d/%d"), day, month, year)  # the year unpadded
    elif k == "time":
        shown = _minutes(v)
    else:
        raise Unsupported(k)
    return _unless_null(v(), shown, "—")


def plain(v: Cell, type_: Type | None) -> exp.Expression:
    """The JSON of `values.plain(violations.canonical(value, type_))`."""
    k = v.kind
    if k == "null":
        return _s("null")
    if type_ in (Type.INTEGER, Type.MONEY, Type.DECIMAL):
        _numeric(v)
        if type_ is Type.INTEGER:
            shown = _text(v() if k == "int" else _f("trunc", v()))
        elif type_ is Type.MONEY:
            shown = _cat('"', _cents(v), '"')
        else:
            shown = _cat('"', _normalized(v), '"')
    elif k == "text":
        shown = json_text(v())
    elif k == "int":
        shown = _text(v())
    elif k == "bool":
        shown = _case(v(), "true", "false")
    elif k in ("decimal", "date"):
        shown = _cat('"', _text(v()), '"')
    elif k == "time":
        shown = _cat('"', _minutes(v), '"')
    else:
        raise Unsupported(k)
    return _unless_null(v(), shown, "null")


def _identifier(v: Cell) -> exp.Expression:
    """`str(value)` of a line, claim or provider id, or a period key."""
    if v.kind == "text":
        return v()
    if v.kind in ("int", "date"):
        return _text(v())
    raise Unsupported(v.kind)


def _figure_french(v: Cell, type_: Type | None) -> exp.Expression:
    """`values.french` of a figure once `violations.canonical` has made it one value."""
    if type_ is Type.MONEY:
        return _unless_null(v(), _comma(_cents(v)), "—")
    if type_ is Type.DECIMAL:
        return _unless_null(v(), _comma(_normalized(v)), "—")
    if type_ is Type.INTEGER and v.kind == "decimal":
        return _unless_null(v(), _text(_f("trunc", v())), "—")
    return french(v, type_)


# ------------------------------------------------------------------------------ the query


# A row's head (columnar.HEAD, columnar._values).
HEAD = ("line", "claim", "provider", "time", "day", "stake", "severe")


def line_query(
    rule: m.Rule,
    placeholders: Sequence[m.Placeholder],
    calls: Sequence[m.TableCall],
    table: str,
    columns: Sequence[tuple[str, str]],
) -> exp.Select | None:
    """The rule's severity flag, stake in cents and JSON line for each row of `table`, in the
    records' order; None when a value's type keeps the rule's records in Python.

    `placeholders` and `calls`: the message's computed placeholders and the table calls
    whose rows the details list (columnar.Shape). `columns`: the table's names and DuckDB
    types: the values of columnar._values (HEAD, then the placeholders, the lets and the
    calls' rows), then for an aggregate _count, _total, _cap, _rank and the period key.
    """
    try:
        return _line_query(rule, placeholders, calls, table, columns)
    except Unsupported:
        return None


def _line_query(
    rule: m.Rule,
    placeholders: Sequence[m.Placeholder],
    calls: Sequence[m.TableCall],
    table: str,
    columns: Sequence[tuple[str, str]],
) -> exp.Select:
    agg = rule.aggregate
    if agg is not None and agg.cap is None:
        raise Unsupported("a record per group")
    cells = [Cell.of(name, duck_type) for name, duck_type in columns]
    head = dict(zip(HEAD, cells, strict=False))
    at = len(HEAD)
    named = dict(zip((p.name for p in placeholders), cells[at:], strict=False))
    placeholder_types = {p.name: p.expr.type for p in placeholders if p.expr is not None}
    at += len(placeholders)
    lets = cells[at : at + len(rule.lets)]
    at += len(rule.lets)
    rows = cells[at : at + len(calls)]
    at += len(calls)

    # The details, by name in first-seen order (a later value of the same name replaces it).
    details: dict[str, exp.Expression] = {}
    for (name, expr), v in zip(rule.lets, lets, strict=True):
        details[name] = plain(v, expr.type)
    figures_fr: dict[str, exp.Expression] = {}
    if agg is not None:
        count, total, cap, rank = cells[at : at + 4]
        _numeric(cap)
        if agg.percent:
            product = exp.Mul(
                this=exp.Mul(this=cap(), expression=total()),
                expression=exp.Literal.number("0.01"),
            )
            allowed = _f("floor", product)
        else:  # floor() of an integer is a DOUBLE in DuckDB
            allowed = cap() if cap.kind == "int" else _f("floor", cap())
        allowed_v = Cell(exp.cast(allowed, data_type("HUGEINT")), "int")
        figures = {
            "count": (count, Type.INTEGER),
            "total": (total, Type.INTEGER),
            "cap": (cap, agg.cap.type if agg.cap is not None else None),
            "allowed": (allowed_v, Type.INTEGER),
            "excess": (Cell(exp.Sub(this=count(), expression=allowed_v()), "int"), Type.INTEGER),
            "rank": (rank, Type.INTEGER),
        }
        if agg.period_key is not None:
            # str(value): a missing key prints as Python's None.
            period = _f("coalesce", _identifier(cells[at + 4]), _s("None"))
            figures["period"] = (Cell(period, "text"), Type.TEXT)
        for name in _FIGURES:
            if name in figures:
                v, type_ = figures[name]
                details[name] = plain(v, type_)
                figures_fr[name] = _figure_french(v, type_)
    for call, v in zip(calls, rows, strict=True):
        if v.kind != "ints":
            raise Unsupported(v.kind)
        details[f"{call.table}.rows"] = _cat("[", _f("array_to_string", v(), _s(", ")), "]")

    message: list[exp.Expression | str] = []
    for part in rule.message.parts:
        if isinstance(part, str):
            message.append(part)
        elif part.expr is None:
            if part.name not in figures_fr:
                raise Unsupported(f"figure {part.name}")
            message.append(figures_fr[part.name])
        else:
            message.append(french(named[part.name], placeholder_types[part.name]))

    line, day, time = head["line"], head["day"], head["time"]
    provider, severe = head["provider"], head["severe"]
    if line.kind == "null":  # no line id: records would tie in the sort
        raise Unsupported("no line id")
    if day.kind not in ("date", "null") or time.kind not in ("time", "null"):
        raise Unsupported(f"{day.kind}, {time.kind}")
    stake_v = head["stake"]
    stake = _cents(attrs.evolve(stake_v, expr=_f("coalesce", stake_v(), exp.Literal.number(0))))
    severity: exp.Expression | str = _json(rule.severity.value)
    if rule.severity_if:
        severity = _case(severe(), _json(rule.severity_if[1].value), severity)
    record: list[exp.Expression | str] = [
        f'{{"rule": {_json(rule.id)}, "severity": ',
        severity,
        ', "message": ',
        json_text(_cat(*message))
        if any(isinstance(p, exp.Expression) for p in message)
        else _json("".join(message)),
        ', "line_id": ',
        _string_or_null(line),
        ', "claim_id": ',
        _string_or_null(head["claim"]),
        ', "provider_id": ',
        _string_or_null(provider),
        ', "service_date": ',
        _unless_null(day(), _cat('"', _text(day()), '"'), "null"),
        ', "amount_at_stake": "',
        stake.copy(),
        f'", "source": {_json(rule.source)}, "location": {_json(rule.location)}, "details": {{',
    ]
    for i, (name, value) in enumerate(details.items()):
        record += [(", " if i else "") + f"{_json(name)}: ", value]
    record.append("}}")

    # violations.Violation.sort_key: provider, date, time with missing last, line.
    order = []
    if provider.kind != "null":
        order.append(_f("coalesce", _identifier(provider), _s("")))
    order.append(_f("coalesce", day(), exp.cast(_s("0001-01-01"), data_type("DATE"))))
    if time.kind == "time":
        order += [
            _is_null(time()),
            _f("coalesce", time(), exp.cast(_s("00:00"), data_type("TIME"))),
        ]
    order.append(_f("coalesce", _identifier(line), _s("")))
    return (
        exp.select(
            alias(severe(), "severe"),
            alias(stake, "stake"),
            alias(_cat(*record), "line"),
            copy=False,
        )
        .from_(relation(table), copy=False)
        .order_by(*order, copy=False)
    )


def _json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _string_or_null(v: Cell) -> exp.Expression:
    if v.kind == "null":
        return _s("null")
    return _unless_null(v(), json_text(_identifier(v)), "null")
