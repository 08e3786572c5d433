"""The checked rule model compiled to SQL, as sqlglot expressions (never strings).

One compiler serves every SQL engine: DuckDB today, Spark SQL through sqlglot's dialects.
The SQL mirrors the interpreter's semantics exactly:

- a missing value makes arithmetic missing and comparisons false (`COALESCE(cmp, FALSE)`);
- a missing boolean counts as false; `x not in S` is true when x is missing;
- `claim has (c)` is a column of the base relation (`BOOL_OR(c)` per claim, joined back);
- decision tables become CASE expressions built from their rows (U, A and F take the first
  match, P the first in priority order, C+ C< C> C# aggregate the matches);
- calendar functions do the interpreter's arithmetic (weekdays counted from 0001-01-01)
  with the French public holidays of checker/calendar.py written in as date literals.

Rulebook values reach SQL only as sqlglot literals; column names only as quoted identifiers.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlglot import exp

from claimlint.checker.functions import WORD_SEPARATORS
from claimlint.dsl import model as m
from claimlint.dsl.schema import Role, Schema
from claimlint.dsl.types import Type

SQL_TYPES = {
    Type.TEXT: "VARCHAR",
    Type.INTEGER: "BIGINT",
    Type.DECIMAL: "DECIMAL(18, 6)",  # dsl.types.PLACES: what the readers admit
    Type.MONEY: "DECIMAL(18, 2)",
    Type.DATE: "DATE",
    Type.TIME: "TIME",
    Type.BOOLEAN: "BOOLEAN",
}

DAY = "_day"
# Functions whose SQL needs the holidays (ExprCompiler.set_holidays).
CALENDAR_FUNCTIONS = {"is_public_holiday", "working_days_between", "is_out_of_hours"}
CHRONO = "_chrono"
FALSE = exp.false()
COMPARISONS = {
    "=": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def ref_column(reference: str, field: str) -> str:
    """The column of the base relation holding a reference field: "provider.zone"."""
    return f"{reference}.{field}"


def sql_type(type_: Type) -> exp.DataType:
    return data_type(SQL_TYPES[type_])


def data_type(name: str) -> exp.DataType:
    """The SQL type `name` ("DATE", "DECIMAL(18, 2)"…). sqlglot parses a type's name each
    time it builds one, and a rulebook's literals and casts build thousands: each name is
    parsed once."""
    return _parsed_type(name).copy()


@functools.cache
def _parsed_type(name: str) -> exp.DataType:
    return exp.DataType.build(name)


def relation(name: str) -> exp.Table:
    """The table or view `name`, one identifier. `exp.to_table`, and a builder given a name
    as a string (`.from_(name)`), run sqlglot's parser on it."""
    return exp.Table(this=exp.to_identifier(name))


def literal(value: Any, type_: Type | None = None) -> exp.Expression:
    """A rulebook or input value as a typed SQL literal."""
    if value is None:
        return exp.null() if type_ is None else exp.cast(exp.null(), sql_type(type_))
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        lit = exp.Literal.number(value)
        return lit if type_ in (None, Type.INTEGER) else exp.cast(lit, sql_type(type_))
    if isinstance(value, Decimal):
        text = f"{value:f}"
        places = max(0, -value.as_tuple().exponent)
        digits = max(1, len(text.replace("-", "").replace(".", "")))
        wanted = data_type(f"DECIMAL({max(digits, places + 1)}, {places})")
        return exp.cast(exp.Literal.string(text), wanted)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), data_type("DATE"))
    if isinstance(value, dt.time):
        return exp.cast(exp.Literal.string(value.isoformat()), data_type("TIME"))
    return exp.Literal.string(str(value))


def truth(e: exp.Expression) -> exp.Expression:
    """A condition where missing counts as false."""
    return exp.Coalesce(this=e, expressions=[FALSE])


def _unwrapped(e: exp.Expression) -> exp.Expression | None:
    """The `x` of a `truth(x)` wrapper, else None."""
    if (
        isinstance(e, exp.Coalesce)
        and len(e.expressions) == 1
        and isinstance(e.expressions[0], exp.Boolean)
        and not e.expressions[0].this
    ):
        return e.this
    return None


def when(case: exp.Case, condition: exp.Expression, then: exp.Expression) -> exp.Case:
    """`case` with one more branch, owning its operands. A CASE takes a NULL condition as
    false: a `truth` wrapper around the condition goes, one pass over the lines less (a
    tenth of the convention's flag scan)."""
    inner = condition
    while isinstance(inner, exp.Paren):
        inner = inner.this
    unwrapped = _unwrapped(inner)
    return case.when(condition if unwrapped is None else unwrapped, then, copy=False)


def and_(*conditions: exp.Expression) -> exp.Expression:
    """exp.and_ taking ownership of its operands: the compiler always passes fresh trees, and
    copying them again at every level made compiling a rulebook quadratic."""
    return exp.and_(*conditions, copy=False)


def or_(*conditions: exp.Expression) -> exp.Expression:
    return exp.or_(*conditions, copy=False)


def not_(condition: exp.Expression) -> exp.Expression:
    return exp.not_(condition, copy=False)


def alias(e: exp.Expression, name: str) -> exp.Expression:
    """`e AS "name"`, owning `e`."""
    return exp.alias_(e, name, quoted=True, copy=False)


def _two_valued(e: exp.Expression) -> bool:
    """Whether a boolean expression is never NULL (as the compiler builds them)."""
    if isinstance(e, exp.Boolean | exp.Is):
        return True
    if isinstance(e, exp.Paren | exp.Not):
        return _two_valued(e.this)
    if isinstance(e, exp.Coalesce):
        return any(isinstance(x, exp.Boolean) for x in e.expressions)
    if isinstance(e, exp.And | exp.Or):
        return _two_valued(e.this) and _two_valued(e.expression)
    if isinstance(e, exp.Case):
        default = e.args.get("default")
        return (
            e.this is None
            and default is not None
            and _two_valued(default)
            and all(_two_valued(branch.args["true"]) for branch in e.args.get("ifs", []))
        )
    return False


def tighten(e: exp.Expression) -> exp.Expression:
    """`COALESCE(x, FALSE)` as `x` where `x` is never NULL: the compiler wraps every operand
    in `truth` to be safe, and each wrapper is one more pass over every line."""
    root = e
    for node in reversed(list(e.find_all(exp.Coalesce, bfs=True))):
        inner = _unwrapped(node)
        if inner is not None and _two_valued(inner):
            if node is root:
                root = inner
                inner.pop()
            else:
                node.replace(inner)
    return root


def short_circuit(e: exp.Expression) -> exp.Expression:
    """`a AND b` as `CASE WHEN a THEN b ELSE FALSE END` (and OR alike), so that an engine
    evaluating a projection runs `b` only on the rows `a` leaves open.

    Only for a condition read as true/false: the compiler makes every operand of AND/OR
    two-valued (see `truth`), where both forms agree.
    """

    root = e = tighten(e)
    # Breadth-first order reversed: every node is rewritten after the nodes below it.
    for node in reversed(list(e.find_all(exp.And, exp.Or, bfs=True))):
        if isinstance(node, exp.And):
            case = when(exp.Case(), node.this, node.expression).else_(exp.false(), copy=False)
        else:
            case = when(exp.Case(), node.this, exp.true()).else_(node.expression, copy=False)
        if node is root:
            root = case
        else:
            node.replace(case)
    return root


def _without_implied_presence(items: tuple[m.Expr, ...]) -> tuple[m.Expr, ...]:
    """The operands of an AND but `x is present` where another compares `x`: a comparison
    with a missing value is false, so the AND is false where `x` is missing either way.
    TARIF's `expected is present and amount != expected` then works out its expected
    amount (a chain of tariffs) once per line, not twice: its flag took 0.13 s on one thread
    at 1M lines, 0.17 s before (medians of nine alternated runs)."""
    compared = {side for i in items if isinstance(i, m.Compare) for side in (i.left, i.right)}
    return tuple(
        i for i in items if not (isinstance(i, m.IsPresent) and i.present and i.operand in compared)
    )


def _exact_reciprocal(value: Decimal | int) -> Decimal:
    """1/value as an exact decimal (the resolver only allows such divisors)."""
    return Decimal(1) / Decimal(value)


class ExprCompiler:
    """Model expressions -> sqlglot expressions over the base relation's columns."""

    def __init__(
        self,
        rulebook: m.Rulebook,
        claim_flags: dict[m.Expr, str] | None = None,
        wide_products: bool = False,
    ):
        self.rulebook = rulebook
        self.claim_flags = claim_flags if claim_flags is not None else {}
        # DuckDB keeps the widest operand's width for a product of decimals and fails beyond
        # it (9999999999999999.99 * 0.125 overflows DECIMAL(18)): its products are made on
        # 38 digits, at the same scale. Spark widens them itself. (Integers stay 64-bit: a
        # 128-bit result would not bind where DuckDB wants a BIGINT, make_date's year.)
        self.wide_products = wide_products
        # A `let` or `define` is inlined wherever it is used: compile each model node once.
        self._compiled: dict[m.Expr, exp.Expression] = {}
        # The public holidays of the years the batch spans, set (see `set_holidays`) before
        # any calendar function is compiled.
        self._holidays: tuple[dt.date, ...] | None = None

    def set_holidays(self, holidays: tuple[dt.date, ...]) -> None:
        """Holidays go into the SQL as literals: a test on a line's date then costs only
        where the line needs it, where a holiday table would be joined with every line."""
        self._holidays = tuple(sorted(holidays))
        self._compiled.clear()

    def compile(self, e: m.Expr) -> exp.Expression:
        """The SQL of a model expression; the caller owns the returned tree.

        The first caller gets the tree itself, later ones a copy of it: a tree is then
        copied once per use beyond the first, not once per level of the expressions above
        it. A caller may have rewritten its tree in place since (`short_circuit`); the
        rewrites keep the meaning, so the copies do too.
        """
        node = self._compiled.get(e)
        if node is None:
            node = getattr(self, "_" + type(e).__name__)(e)
            self._compiled[e] = node
            return node
        return node.copy()

    def condition(self, e: m.Expr) -> exp.Expression:
        compiled = self.compile(e)
        return compiled if _two_valued(compiled) else truth(compiled)

    def _Const(self, e: m.Const) -> exp.Expression:
        return literal(e.value, e.type)

    def _FieldRef(self, e: m.FieldRef) -> exp.Expression:
        return col(e.name if e.table is None else ref_column(e.table, e.name))

    def _ParamRef(self, e: m.ParamRef) -> exp.Expression:
        param = self.rulebook.parameters[e.name]
        case = exp.Case()
        day = col(DAY)
        for value in param.values:
            tests = [day.is_(exp.null()).not_()]
            if value.period.start is not None:
                tests.append(day >= literal(value.period.start))
            if value.period.end is not None:
                tests.append(day <= literal(value.period.end))
            case = when(case, and_(*tests), literal(value.value, param.type))
        return case.else_(literal(None, param.type), copy=False)

    def _Arith(self, e: m.Arith) -> exp.Expression:
        left = self.compile(e.left)
        if self.wide_products and e.op in "*/" and e.type in (Type.MONEY, Type.DECIMAL):
            left = exp.Mul(
                this=left, expression=exp.cast(exp.Literal.number(1), data_type("DECIMAL(38, 0)"))
            )
        if e.op == "/":
            assert isinstance(e.right, m.Const), "the resolver only allows constant divisors"
            return exp.Paren(
                this=exp.Mul(this=left, expression=literal(_exact_reciprocal(e.right.value)))
            )
        right = self.compile(e.right)
        node = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[e.op]
        return exp.Paren(this=node(this=left, expression=right))

    def _Negate(self, e: m.Negate) -> exp.Expression:
        return exp.Neg(this=exp.Paren(this=self.compile(e.operand)))

    def _Compare(self, e: m.Compare) -> exp.Expression:
        node = COMPARISONS[e.op]
        return truth(node(this=self.compile(e.left), expression=self.compile(e.right)))

    def _Logic(self, e: m.Logic) -> exp.Expression:
        operands = _without_implied_presence(e.items) if e.op == "and" else e.items
        items = [self.condition(i) for i in operands]
        return exp.Paren(this=(and_ if e.op == "and" else or_)(*items))

    def _Not(self, e: m.Not) -> exp.Expression:
        return not_(self.condition(e.operand))

    def _InSet(self, e: m.InSet) -> exp.Expression:
        operand = self.compile(e.operand)
        values = sorted(e.values, key=lambda v: (str(type(v)), v))
        member = truth(exp.In(this=operand, expressions=[literal(v) for v in values]))
        return not_(member) if e.negated else member

    def _IsPresent(self, e: m.IsPresent) -> exp.Expression:
        test = exp.Is(this=self.compile(e.operand), expression=exp.null())
        return not_(test) if e.present else test

    def _Match(self, e: m.Match) -> exp.Expression:
        match = exp.RegexpFullMatch(
            this=self.compile(e.operand), expression=exp.Literal.string(e.pattern)
        )
        return truth(match)

    def _Cond(self, e: m.Cond) -> exp.Expression:
        return when(exp.Case(), self.condition(e.condition), self.compile(e.then)).else_(
            self.compile(e.otherwise), copy=False
        )

    def _ClaimAny(self, e: m.ClaimAny) -> exp.Expression:
        return col(self.claim_flags[e])

    def _TableCall(self, e: m.TableCall) -> exp.Expression:
        return TableCompiler(self, e).value()

    def _Call(self, e: m.Call) -> exp.Expression:
        args = [self.compile(a) for a in e.args]
        if e.function == "coalesce":
            return exp.Coalesce(this=args[0], expressions=args[1:])
        value = getattr(self, "_fn_" + e.function)(*args)
        # Every function but coalesce is missing when an argument is missing.
        missing = or_(*(exp.Is(this=a.copy(), expression=exp.null()) for a in args))
        return exp.Case().when(missing, literal(None, e.type), copy=False).else_(value, copy=False)

    # -- functions (signatures in dsl/functions.py, Python twins in checker/functions.py)
    def _fn_iso_week(self, d):
        return exp.Anonymous(this="strftime", expressions=[d, exp.Literal.string("%G-W%V")])

    def _fn_month(self, d):
        return exp.Anonymous(this="strftime", expressions=[d, exp.Literal.string("%Y-%m")])

    def _fn_year(self, d):
        return exp.Year(this=d)

    def _fn_end_of_year(self, y):
        in_range = and_(y >= exp.Literal.number(1), y <= exp.Literal.number(9999))
        made = exp.Anonymous(
            this="make_date", expressions=[y.copy(), exp.Literal.number(12), exp.Literal.number(31)]
        )
        return (
            exp.Case()
            .when(in_range, made, copy=False)
            .else_(exp.cast(exp.null(), data_type("DATE")), copy=False)
        )

    def _fn_weekday(self, d):
        return exp.Anonymous(this="isodow", expressions=[d])

    def _fn_days_between(self, a, b):
        return exp.Anonymous(this="date_diff", expressions=[exp.Literal.string("day"), a, b])

    def _fn_minutes_between(self, d1, t1, d2, t2):
        """Whole minutes, rounded down like the interpreter: seconds elapsed, floor-divided."""
        seconds = exp.Anonymous(
            this="date_diff",
            expressions=[
                exp.Literal.string("second"),
                exp.Add(this=d1, expression=t1),
                exp.Add(this=d2, expression=t2),
            ],
        )
        sixty = exp.Literal.number(60)
        negative = exp.Neg(
            this=exp.Paren(
                this=exp.IntDiv(
                    this=exp.Paren(
                        this=exp.Sub(this=exp.Literal.number(59), expression=seconds.copy())
                    ),
                    expression=sixty.copy(),
                )
            )
        )
        return (
            exp.Case()
            .when(
                exp.GTE(this=seconds.copy(), expression=exp.Literal.number(0)),
                exp.Paren(this=exp.IntDiv(this=seconds, expression=sixty)),
                copy=False,
            )
            .else_(negative, copy=False)
        )

    def _fn_age(self, birth, on):
        """Completed years; a 29 February birthday falls on 1 March in other years."""

        def month_day(d):
            return exp.Add(
                this=exp.Mul(this=exp.Month(this=d.copy()), expression=exp.Literal.number(100)),
                expression=exp.Day(this=d.copy()),
            )

        year = exp.Year(this=on.copy())

        def divisible(n: int) -> exp.Expression:
            return exp.EQ(
                this=exp.Mod(this=year.copy(), expression=exp.Literal.number(n)),
                expression=exp.Literal.number(0),
            )

        leap = and_(divisible(4), or_(not_(divisible(100)), divisible(400)))
        birthday = (
            exp.Case()
            .when(
                and_(
                    exp.EQ(this=month_day(birth), expression=exp.Literal.number(229)),
                    not_(leap),
                ),
                exp.Literal.number(301),
                copy=False,
            )
            .else_(month_day(birth), copy=False)
        )
        years = exp.Sub(this=exp.Year(this=on.copy()), expression=exp.Year(this=birth.copy()))
        before = (
            exp.Case()
            .when(
                exp.LT(this=month_day(on), expression=birthday), exp.Literal.number(1), copy=False
            )
            .else_(exp.Literal.number(0), copy=False)
        )
        return (
            exp.Case()
            .when(
                exp.LT(this=on.copy(), expression=birth.copy()),
                exp.cast(exp.null(), data_type("BIGINT")),
                copy=False,
            )
            .else_(exp.Sub(this=years, expression=before), copy=False)
        )

    # -- calendar: the same arithmetic as checker/calendar.py over a table of holidays
    def _known_holidays(self) -> tuple[dt.date, ...]:
        if self._holidays is None:
            raise RuntimeError("calendar function compiled before set_holidays()")
        return self._holidays

    def _holiday(self, day: exp.Expression) -> exp.Expression:
        holidays = self._known_holidays()
        if not holidays:
            return FALSE.copy()
        return truth(exp.In(this=day, expressions=[literal(h) for h in holidays]))

    def _weekday_holidays_through(self, day: exp.Expression) -> exp.Expression:
        """How many Monday-Friday holidays fall on or before `day` (NULL stays NULL)."""
        weekdays = [h for h in self._known_holidays() if h.isoweekday() <= 5]
        count = exp.Case()
        for n, holiday in enumerate(weekdays):
            count = when(
                count, exp.LT(this=day.copy(), expression=literal(holiday)), exp.Literal.number(n)
            )
        last = exp.Literal.number(len(weekdays))
        return count.else_(last, copy=False) if weekdays else last

    def _shifted(self, day: exp.Expression, days: int) -> exp.Expression:
        return exp.cast(
            exp.Add(
                this=day.copy(),
                expression=exp.Interval(
                    this=exp.Literal.string(str(days)), unit=exp.Var(this="DAY")
                ),
            ),
            data_type("DATE"),
        )

    def _weekdays_through(self, day: exp.Expression) -> exp.Expression:
        """Monday-Friday count from 0001-01-01 (the ordinal's weeks and remainder)."""
        # sqlglot prints the tree as built: every operation is parenthesised explicitly.
        ordinal = exp.Paren(
            this=exp.Add(
                this=exp.Anonymous(
                    this="date_diff",
                    expressions=[exp.Literal.string("day"), literal(dt.date(1, 1, 1)), day],
                ),
                expression=exp.Literal.number(1),
            )
        )
        weeks = exp.Paren(this=exp.IntDiv(this=ordinal, expression=exp.Literal.number(7)))
        rest = exp.Paren(this=exp.Mod(this=ordinal.copy(), expression=exp.Literal.number(7)))
        return exp.Paren(
            this=exp.Add(
                this=exp.Paren(this=exp.Mul(this=exp.Literal.number(5), expression=weeks)),
                expression=exp.Anonymous(this="least", expressions=[rest, exp.Literal.number(5)]),
            )
        )

    def _fn_is_public_holiday(self, d):
        return self._holiday(d)

    def _fn_working_days_between(self, a, b):
        """Working days in (a, b]: weekdays counted arithmetically, weekday holidays removed."""
        on_weekdays = exp.Paren(
            this=exp.Sub(
                this=self._weekday_holidays_through(b), expression=self._weekday_holidays_through(a)
            )
        )
        count = exp.Sub(
            this=exp.Paren(
                this=exp.Sub(
                    this=self._weekdays_through(b.copy()),
                    expression=self._weekdays_through(a.copy()),
                )
            ),
            expression=on_weekdays,
        )
        return (
            exp.Case()
            .when(exp.LTE(this=b, expression=a), exp.Literal.number(0), copy=False)
            .else_(count, copy=False)
        )

    def _bridge(self, d: exp.Expression) -> exp.Expression:
        """Monday before a holiday; Friday after one; Saturday after a Friday or Thursday one."""
        dow = exp.Anonymous(this="isodow", expressions=[d.copy()])

        def on(n: int) -> exp.Expression:
            return exp.EQ(this=dow.copy(), expression=exp.Literal.number(n))

        return or_(
            and_(on(1), self._holiday(self._shifted(d, 1))),
            and_(on(5), self._holiday(self._shifted(d, -1))),
            and_(
                on(6),
                or_(self._holiday(self._shifted(d, -1)), self._holiday(self._shifted(d, -2))),
            ),
        )

    def _fn_is_out_of_hours(self, d, t, saturday, bridge):
        def at(text):
            return exp.cast(exp.Literal.string(text), data_type("TIME"))

        dow = exp.Anonymous(this="isodow", expressions=[d.copy()])
        return or_(
            t.copy() >= at("20:00:00"),
            t.copy() < at("08:00:00"),
            exp.EQ(this=dow.copy(), expression=exp.Literal.number(7)),
            self._holiday(d.copy()),
            and_(
                truth(saturday),
                exp.EQ(this=dow.copy(), expression=exp.Literal.number(6)),
                t.copy() >= at("14:00:00"),
            ),
            and_(truth(bridge), exp.Paren(this=self._bridge(d))),
        )

    def _fn_has_word(self, text, word):
        words = exp.Anonymous(
            this="regexp_split_to_array",
            expressions=[text.copy(), exp.Literal.string(WORD_SEPARATORS)],
        )
        # A word of the text is a substring of it: the cheap substring test spares most
        # lines the split.
        return (
            exp.Case()
            .when(
                exp.Anonymous(this="contains", expressions=[text, word.copy()]),
                exp.Anonymous(this="list_contains", expressions=[words, word]),
                copy=False,
            )
            .else_(FALSE.copy(), copy=False)
        )

    def _fn_min(self, *args):
        return exp.Anonymous(this="least", expressions=list(args))

    def _fn_max(self, *args):
        return exp.Anonymous(this="greatest", expressions=list(args))


class TableCompiler:
    """A decision-table call as CASE expressions over its rows' tests.

    When every row tests one input column by equality only (the act code of a tariff
    table), the expression first dispatches on that column's value, and each branch tests
    only the rows naming that value: a line runs the tests of a handful of rows, not all.
    """

    def __init__(self, compiler: ExprCompiler, call: m.TableCall):
        self.table = compiler.rulebook.tables[call.table]
        self.call = call
        self.args = [compiler.compile(a) for a in call.args]
        self._index = _equality_column(self.table)

    def _cell(
        self, cell: m.CellTest, value: exp.Expression, column: m.TableColumn
    ) -> exp.Expression:
        if cell.kind == "any":
            return exp.true()
        equal = [t for t in cell.tests if t.op == "=" and t.value is not None]
        if len(equal) > 1:  # "GL1", "GL2", "GL3": one IN list
            members = [literal(t.value, column.type) for t in equal]
            tests = [truth(exp.In(this=value.copy(), expressions=members))]
            tests += [self._test(t, value, column) for t in cell.tests if t not in equal]
        else:
            tests = [self._test(t, value, column) for t in cell.tests]
        found = exp.Paren(this=or_(*tests)) if len(tests) > 1 else tests[0]
        if cell.kind == "not":
            return and_(not_(exp.Is(this=value.copy(), expression=exp.null())), not_(found))
        return found

    def _test(self, t: m.Test, value: exp.Expression, column: m.TableColumn) -> exp.Expression:
        v = value.copy()
        if t.value is None:
            return exp.Is(this=v, expression=exp.null())
        if t.op == "range":
            low = (exp.GTE if t.low_closed else exp.GT)(
                this=v, expression=literal(t.value, column.type)
            )
            high = (exp.LTE if t.high_closed else exp.LT)(
                this=v.copy(), expression=literal(t.high, column.type)
            )
            return truth(and_(low, high))
        node = COMPARISONS[t.op]
        return truth(node(this=v, expression=literal(t.value, column.type)))

    def row_match(self, row: m.TableRow, dispatched: bool = False) -> exp.Expression:
        """The row's tests; a dispatched row skips the column the dispatch already tested."""
        tests = [
            self._cell(cell, arg, column)
            for i, (cell, arg, column) in enumerate(
                zip(row.tests, self.args, self.table.inputs, strict=True)
            )
            if not (dispatched and i == self._index)
        ]
        tests = [t for t in tests if not (isinstance(t, exp.Boolean) and t.this)]
        return exp.Paren(this=and_(*tests)) if tests else exp.true()

    def _dispatch(
        self,
        rows: list[m.TableRow],
        build: Callable[[list[m.TableRow], bool], exp.Expression],
    ) -> exp.Expression:
        """build(rows) directly, or a CASE on the equality column whose branches build
        from the rows naming each value (order kept); no value: build([])."""
        if self._index is None:
            return build(rows, False)
        column = self.table.inputs[self._index]
        by_value: dict[Any, list[m.TableRow]] = {}
        for row in rows:
            for t in row.tests[self._index].tests:
                by_value.setdefault(t.value, []).append(row)
        case = exp.Case()
        for value in sorted(by_value, key=lambda v: (str(type(v)), v)):
            same = exp.EQ(
                this=self.args[self._index].copy(), expression=literal(value, column.type)
            )
            case = when(case, same, build(by_value[value], True))
        return case.else_(build([], True), copy=False)

    def _ordered_rows(self) -> list[m.TableRow]:
        """Rows in the order a single hit picks them: priority order for P, else row order."""
        rows = list(self.table.rows)
        if self.table.hit.policy is m.HitPolicy.PRIORITY:
            from claimlint.checker.tables import _priority  # the evaluator's own ordering

            rows.sort(key=lambda r: (_priority(self.table, r), r.number))
        return rows

    def _output_index(self) -> int:
        return [c.name for c in self.table.outputs].index(self.call.output)

    def value(self) -> exp.Expression:
        table, index = self.table, self._output_index()
        out_type = table.outputs[index].type
        aggregator = table.hit.aggregator
        if aggregator is None:  # single hit: first match in pick order, else the default

            def first(rows: list[m.TableRow], dispatched: bool) -> exp.Expression:
                default = literal(table.outputs[index].default, out_type)
                if not rows:
                    return default
                case = exp.Case()
                for row in rows:
                    case = when(
                        case, self.row_match(row, dispatched), literal(row.outputs[index], out_type)
                    )
                return case.else_(default, copy=False)

            return self._dispatch(self._ordered_rows(), first)
        if aggregator == "count":

            def count(rows: list[m.TableRow], dispatched: bool) -> exp.Expression:
                return self._count(rows, dispatched)

            return self._dispatch(list(table.rows), count)

        def gathered(rows: list[m.TableRow], dispatched: bool) -> exp.Expression:
            values = [
                when(
                    exp.Case(), self.row_match(r, dispatched), literal(r.outputs[index], out_type)
                ).else_(literal(None, out_type), copy=False)
                for r in rows
                if r.outputs[index] is not None
            ]
            if not values:
                return literal(None, out_type)
            fn = {"sum": "list_sum", "min": "list_min", "max": "list_max"}[aggregator]
            return exp.Anonymous(this=fn, expressions=[exp.Array(expressions=values)])

        return self._dispatch(list(table.rows), gathered)

    def _count(self, rows: list[m.TableRow], dispatched: bool) -> exp.Expression:
        terms = [
            when(exp.Case(), self.row_match(r, dispatched), exp.Literal.number(1)).else_(
                exp.Literal.number(0), copy=False
            )
            for r in rows
        ]
        return _sum(terms) if terms else exp.Literal.number(0)

    def rows(self) -> exp.Expression:
        """The matched rows as the interpreter reports them: a list of DMN row numbers."""
        hit = self.table.hit
        none = exp.cast(exp.Array(expressions=[]), data_type("BIGINT[]"))
        if hit.single and hit.aggregator is None:

            def first(rows: list[m.TableRow], dispatched: bool) -> exp.Expression:
                if not rows:
                    return none.copy()
                case = exp.Case()
                for row in rows:
                    number = exp.Array(expressions=[exp.Literal.number(row.number)])
                    case = when(case, self.row_match(row, dispatched), number)
                return case.else_(none.copy(), copy=False)

            return self._dispatch(self._ordered_rows(), first)
        rows = list(self.table.rows)
        if hit.policy is m.HitPolicy.OUTPUT_ORDER:
            rows = self._ordered_rows_by_priority()

        def matched(rows: list[m.TableRow], dispatched: bool) -> exp.Expression:
            if not rows:
                return none.copy()
            numbers = [
                when(exp.Case(), self.row_match(r, dispatched), exp.Literal.number(r.number)).else_(
                    exp.cast(exp.null(), data_type("BIGINT")), copy=False
                )
                for r in rows
            ]
            return exp.Anonymous(
                this="list_filter",
                expressions=[
                    exp.Array(expressions=numbers),
                    exp.Lambda(
                        this=not_(exp.Is(this=exp.to_identifier("x"), expression=exp.null())),
                        expressions=[exp.to_identifier("x")],
                    ),
                ],
            )

        return self._dispatch(rows, matched)

    def _ordered_rows_by_priority(self) -> list[m.TableRow]:
        from claimlint.checker.tables import _priority

        return sorted(self.table.rows, key=lambda r: (_priority(self.table, r), r.number))

    def conflict(self) -> exp.Expression:
        """True on a line where a U table matches several rows, or an A table differing ones."""
        if self.table.hit.policy is m.HitPolicy.UNIQUE:
            count = self._dispatch(list(self.table.rows), self._count)
            return exp.GT(this=count, expression=exp.Literal.number(1))

        # ANY: several distinct output tuples among the matches
        def outputs(rows: list[m.TableRow], dispatched: bool) -> exp.Expression:
            by_outputs: dict[tuple, list[m.TableRow]] = {}
            for r in rows:
                by_outputs.setdefault(r.outputs, []).append(r)
            groups = [
                when(
                    exp.Case(),
                    or_(*(self.row_match(r, dispatched) for r in same)),
                    exp.Literal.number(1),
                ).else_(exp.Literal.number(0), copy=False)
                for same in by_outputs.values()
            ]
            return _sum(groups) if groups else exp.Literal.number(0)

        count = self._dispatch(list(self.table.rows), outputs)
        return exp.GT(this=count, expression=exp.Literal.number(1))


def _equality_column(table: m.DecisionTable) -> int | None:
    """The first input column that every row (two or more) tests by equality alone."""
    if len(table.rows) < 2:
        return None
    for i, _ in enumerate(table.inputs):
        if all(
            row.tests[i].kind == "tests"
            and all(t.op == "=" and t.value is not None for t in row.tests[i].tests)
            for row in table.rows
        ):
            return i
    return None


def _sum(terms: list[exp.Expression]) -> exp.Expression:
    total = terms[0]
    for t in terms[1:]:
        total = exp.Add(this=total, expression=t)
    return exp.Paren(this=total)


def claim_conditions(rulebook: m.Rulebook) -> list[m.ClaimAny]:
    """Every distinct `claim has` of the rulebook: each becomes one window column."""
    found: list[m.ClaimAny] = []
    for rule in rulebook.rules:
        for expr in rule.expressions():
            for node in m.walk(expr):
                if isinstance(node, m.ClaimAny) and node not in found:
                    found.append(node)
    for define in rulebook.defines.values():
        for node in m.walk(define.expr):
            if isinstance(node, m.ClaimAny) and node not in found:
                found.append(node)
    return found


def role_column(schema: Schema, role: Role) -> str | None:
    field = schema.by_role(role)
    return field.name if field else None


def create_as(
    name: str, query: exp.Expression, kind: str = "TABLE", temporary: bool = True
) -> exp.Create:
    """CREATE OR REPLACE [TEMPORARY] TABLE|VIEW name AS query. A temporary relation is its
    connection's alone; an ordinary one is the database's, read by its other connections
    (a DuckDB connection's cursors) too."""
    return exp.Create(
        this=relation(name),
        kind=kind,
        expression=query,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]) if temporary else None,
        replace=True,
    )


def day_expr(schema: Schema, table: str | None = None) -> exp.Expression:
    """The date that decides effective periods (`interpreter.Roles.day`): the line's date,
    or 1 January of its year."""
    date, year = role_column(schema, Role.DATE), role_column(schema, Role.YEAR)
    if date:
        return col(date, table)
    if year:
        value = col(year, table)
        made = exp.func("make_date", value, exp.Literal.number(1), exp.Literal.number(1))
        in_range = and_(value >= exp.Literal.number(1), value <= exp.Literal.number(9999))
        return (
            exp.Case()
            .when(in_range, made, copy=False)
            .else_(exp.cast(exp.null(), data_type("DATE")), copy=False)
        )
    return exp.cast(exp.null(), data_type("DATE"))


def applies(exprs: ExprCompiler, schema: Schema, rule: m.Rule) -> exp.Expression:
    """A line is in the rule's population: dated in its effective period, meeting its
    condition, lifted by none of its exceptions (`DAY` holds the line's day)."""
    date = schema.by_role(Role.DATE)
    tests: list[exp.Expression] = []
    if date is None or not (date.required or date.default is not None):
        tests.append(not_(exp.Is(this=col(DAY), expression=exp.null())))  # no date: no rule
    if rule.period.start is not None:
        tests.append(col(DAY) >= literal(rule.period.start))
    if rule.period.end is not None:
        tests.append(col(DAY) <= literal(rule.period.end))
    if rule.condition is not None:
        tests.append(exprs.condition(rule.condition))
    tests += [not_(exprs.condition(e.condition)) for e in rule.exceptions]
    return and_(*tests) if tests else exp.true()
