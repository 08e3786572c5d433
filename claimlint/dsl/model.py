"""The checked rule model: the only thing engines ever see.

Every name is resolved, every expression typed, every date range checked. Expressions are a
small closed set of immutable nodes that each engine knows how to evaluate or compile.

Semantics shared by all engines (the interpreter is their executable definition):
- a missing value (empty optional column, no reference row, no parameter value at that date)
  makes arithmetic missing and comparisons false; a missing boolean counts as false;
- `x not in S` is `not (x in S)`: true when x is missing;
- `claim has (c)` looks at every line of the same claim, the line itself included.
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs

from claimlint.dsl import syntax
from claimlint.dsl.schema import Schema
from claimlint.dsl.types import Type
from claimlint.errors import Position

# ----------------------------------------------------------------------------- expressions


@attrs.frozen
class Const:
    value: Any
    type: Type


@attrs.frozen
class FieldRef:
    """A column of the line (`table` None) or of a reference row joined to it."""

    name: str
    type: Type
    table: str | None = None


@attrs.frozen
class ParamRef:
    """A dated parameter, read at the line's date."""

    name: str
    type: Type


@attrs.frozen
class Arith:
    op: str  # + - * /
    left: Expr
    right: Expr
    type: Type


@attrs.frozen
class Negate:
    operand: Expr
    type: Type


@attrs.frozen
class Compare:
    op: str  # = != < <= > >=
    left: Expr
    right: Expr
    type: Type = Type.BOOLEAN


@attrs.frozen
class Logic:
    op: str  # and / or
    items: tuple[Expr, ...]
    type: Type = Type.BOOLEAN


@attrs.frozen
class Not:
    operand: Expr
    type: Type = Type.BOOLEAN


@attrs.frozen
class InSet:
    operand: Expr
    values: frozenset
    negated: bool
    set_name: str | None = None  # for messages and traces
    type: Type = Type.BOOLEAN


@attrs.frozen
class IsPresent:
    operand: Expr
    present: bool
    type: Type = Type.BOOLEAN


@attrs.frozen
class Match:
    """The whole text matches a regular expression (a rulebook constant, never user input)."""

    operand: Expr
    pattern: str
    type: Type = Type.BOOLEAN


@attrs.frozen
class Call:
    function: str
    args: tuple[Expr, ...]
    type: Type


@attrs.frozen
class TableCall:
    """A decision table used as a function: `TARIFF(act_code, service_date)` (one output)."""

    table: str
    args: tuple[Expr, ...]
    output: str
    type: Type


@attrs.frozen
class Cond:
    """`if condition then a else b`: a missing condition counts as false."""

    condition: Expr
    then: Expr
    otherwise: Expr
    type: Type


@attrs.frozen
class ClaimAny:
    """Some line of the same claim (the line itself included) meets the condition."""

    condition: Expr
    type: Type = Type.BOOLEAN


Expr = (
    Const
    | FieldRef
    | ParamRef
    | Arith
    | Negate
    | Compare
    | Logic
    | Not
    | InSet
    | IsPresent
    | Match
    | Call
    | TableCall
    | ClaimAny
    | Cond
)


def children(expr: Expr) -> tuple[Expr, ...]:
    """The sub-expressions of a node, for walks over a rule (tables used, coverage...)."""
    if isinstance(expr, Arith | Compare):
        return (expr.left, expr.right)
    if isinstance(expr, Logic):
        return expr.items
    if isinstance(expr, Not | Negate | InSet | IsPresent | Match):
        return (expr.operand,)
    if isinstance(expr, Call | TableCall):
        return expr.args
    if isinstance(expr, ClaimAny):
        return (expr.condition,)
    if isinstance(expr, Cond):
        return (expr.condition, expr.then, expr.otherwise)
    return ()


def walk(expr: Expr):
    """Every node of an expression, the root first."""
    yield expr
    for child in children(expr):
        yield from walk(child)


# ----------------------------------------------------------------------------- declarations


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]

    @property
    def french(self) -> str:
        return {"error": "erreur", "warning": "avertissement", "info": "information"}[self.value]


@attrs.frozen
class Period:
    """Both ends included; None is open. The default period is `always`."""

    start: dt.date | None = None
    end: dt.date | None = None

    def contains(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def overlaps(self, other: Period) -> bool:
        lo = max((d for d in (self.start, other.start) if d is not None), default=None)
        hi = min((d for d in (self.end, other.end) if d is not None), default=None)
        return lo is None or hi is None or lo <= hi

    def french(self) -> str:
        if self.start and self.end:
            return f"du {self.start:%d/%m/%Y} au {self.end:%d/%m/%Y}"
        if self.start:
            return f"à partir du {self.start:%d/%m/%Y}"
        if self.end:
            return f"jusqu'au {self.end:%d/%m/%Y}"
        return "toujours"


@attrs.frozen
class DatedValue:
    value: Any
    period: Period
    source: str


@attrs.frozen
class Parameter:
    """A value that changes on dates (OpenFisca style); missing outside its periods."""

    name: str
    title: str
    type: Type
    values: tuple[DatedValue, ...]
    position: Position

    def at(self, day: dt.date) -> DatedValue | None:
        for value in self.values:
            if value.period.contains(day):
                return value
        return None


@attrs.frozen
class CodeSet:
    name: str
    title: str
    type: Type
    values: frozenset
    source: str | None
    position: Position


@attrs.frozen
class Reference:
    """A reference table joined to each line: `join_field` of the line = `key` of the row."""

    name: str
    schema: Schema
    join_field: str
    key: str


@attrs.frozen
class RuleException:
    """A named case lifting the rule for the lines that meet `condition` (Catala style)."""

    id: str
    title: str
    source: str | None
    condition: Expr
    position: Position


@attrs.frozen
class Placeholder:
    """`{name}` in a message: an expression on the line, or a group figure (expr None)."""

    name: str
    expr: Expr | None


@attrs.frozen
class Template:
    text: str
    parts: tuple[str | Placeholder, ...]


# Group figures a message of an aggregate rule may name.
GROUP_FIGURES = {
    "count": "lignes comptées dans le groupe",
    "total": "lignes du groupe (dénominateur d'un plafond en pourcentage)",
    "cap": "plafond",
    "allowed": "nombre de lignes autorisées",
    "excess": "lignes au-delà du plafond",
    "rank": "rang chronologique de la ligne parmi les lignes comptées",
    "period": "période du groupe (semaine ISO, mois, année)",
}

PERIOD_FUNCTIONS = ("iso_week", "month", "year")

# The group figures only a capped group has.
CAP_FIGURES = frozenset({"cap", "allowed", "excess", "rank"})

# What a group figure needs, said when a message names one its rule does not compute.
FIGURE_NEEDS = {
    **dict.fromkeys(CAP_FIGURES, "un plafond « at most » (pas avec « flag once per group »)"),
    "period": "une clé iso_week(…), month(…) ou year(…) dans « for each »",
}


@attrs.frozen
class Aggregate:
    """Group lines by keys, count some, cap the count, flag the excess chronologically.

    population = lines in the period meeting `when` and no exception (N, `total`);
    counted    = those meeting `count` (T, `count`), all of them if no `count`;
    allowed    = floor(cap × N / 100) with `percent`, else cap; the cap is read on the
                 group's first population line in chronological order;
    flagged    = the last (T − allowed) counted lines in chronological order.
    Without a cap (`flag once per group`), every group with a counted line gives one record
    without a line (provider-level findings such as an invalid derogation).
    """

    keys: tuple[Expr, ...]
    period_key: int | None  # index in keys of iso_week/month/year, for `{period}`
    counted: Expr | None
    cap: Expr | None  # None: `flag once per group`, one record per group, no line
    percent: bool


def available_figures(aggregate: Aggregate | None) -> frozenset[str]:
    """The group figures a rule's message may name: every one while the group is unknown
    (its errors are reported already)."""
    if aggregate is None:
        return frozenset(GROUP_FIGURES)
    names = {"count", "total"}
    if aggregate.cap is not None:
        names |= CAP_FIGURES
    if aggregate.period_key is not None:
        names.add("period")
    return frozenset(names)


# ----------------------------------------------------------------------------- decision tables


class HitPolicy(enum.Enum):
    """DMN 1.3 hit policies."""

    UNIQUE = "U"
    ANY = "A"
    PRIORITY = "P"
    FIRST = "F"
    RULE_ORDER = "R"
    OUTPUT_ORDER = "O"
    COLLECT = "C"


AGGREGATORS = {"+": "sum", "<": "min", ">": "max", "#": "count"}


@attrs.frozen
class Hit:
    policy: HitPolicy
    aggregator: str | None = None  # sum, min, max, count (COLLECT only)

    @property
    def single(self) -> bool:
        """Whether the table gives one result (not a list)."""
        return (
            self.policy in (HitPolicy.UNIQUE, HitPolicy.ANY, HitPolicy.PRIORITY, HitPolicy.FIRST)
            or self.aggregator is not None
        )

    def __str__(self) -> str:
        symbol = {v: k for k, v in AGGREGATORS.items()}.get(self.aggregator or "", "")
        return self.policy.value + symbol


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@attrs.frozen
class Test:
    """One S-FEEL unary test: `op value` (op = != < <= > >=) or a range `[low..high)`."""

    op: str
    value: Any
    high: Any = None
    low_closed: bool = True
    high_closed: bool = True

    def matches(self, value: Any) -> bool:
        """A missing value matches only `null` (`= null`)."""
        if value is None or self.value is None:
            return self.op == "=" and value is None and self.value is None
        if self.op == "range":
            low_ok = value >= self.value if self.low_closed else value > self.value
            high_ok = value <= self.high if self.high_closed else value < self.high
            return low_ok and high_ok
        return COMPARISONS[self.op](value, self.value)


@attrs.frozen
class CellTest:
    """An input cell: `-` (any), tests (any of them matches), or `not(tests)`."""

    kind: str  # "any", "tests", "not"
    tests: tuple[Test, ...]
    text: str
    position: Position

    def matches(self, value: Any) -> bool:
        """The cell's meaning, shared by every engine and by the table analysis."""
        if self.kind == "any":
            return True
        found = any(t.matches(value) for t in self.tests)
        if self.kind == "not":
            return value is not None and not found
        return found


@attrs.frozen
class TableColumn:
    name: str
    type: Type
    allowed: tuple[Any, ...] | None = None  # ordered: the priority order of P and O
    default: Any = None
    domain: frozenset | None = None  # inputs: the values it can take, for gap analysis


@attrs.frozen
class TableRow:
    number: int  # 1-based, as DMN numbers rules
    tests: tuple[CellTest, ...]
    outputs: tuple[Any, ...]
    position: Position


@attrs.frozen
class DecisionTable:
    name: str
    title: str
    hit: Hit
    inputs: tuple[TableColumn, ...]
    outputs: tuple[TableColumn, ...]
    rows: tuple[TableRow, ...]
    source: str | None
    position: Position

    def result_type(self, output: str) -> Type:
        if self.hit.aggregator == "count":
            return Type.INTEGER
        return next(c.type for c in self.outputs if c.name == output)


@attrs.frozen
class Define:
    """A named expression shared by the rules (`define NAME = expr`)."""

    name: str
    title: str
    expr: Expr
    source: str | None
    position: Position


@attrs.frozen
class Rule:
    id: str
    title: str
    severity: Severity
    source: str
    period: Period
    condition: Expr | None  # None: every line
    exceptions: tuple[RuleException, ...]
    message: Template
    stake: Expr
    aggregate: Aggregate | None
    lets: tuple[tuple[str, Expr], ...]
    position: Position
    location: str  # "convention-2024/headline.rules:12", stable across machines
    severity_if: tuple[Expr, Severity] | None = None  # `severity A if cond else B`: (cond, A)

    def expressions(self) -> list[Expr]:
        """Every expression of the rule, in one canonical order all engines share."""
        exprs = [self.stake, *(e for _, e in self.lets), *(e.condition for e in self.exceptions)]
        if self.severity_if is not None:
            exprs.append(self.severity_if[0])
        if self.condition is not None:
            exprs.append(self.condition)
        exprs += [p.expr for p in self.message.parts if isinstance(p, Placeholder) and p.expr]
        if self.aggregate is not None:
            agg = self.aggregate
            exprs += [*agg.keys, *(e for e in (agg.cap, agg.counted) if e is not None)]
        return exprs

    def table_calls(self) -> list[TableCall]:
        """Every distinct table call of the rule outside `claim has`, in canonical order."""
        calls: list[TableCall] = []
        for expr in self.expressions():
            stack = [expr]
            while stack:
                node = stack.pop(0)
                if isinstance(node, ClaimAny):
                    continue  # evaluated on the claim's other lines, not on this one
                if isinstance(node, TableCall) and node not in calls:
                    calls.append(node)
                stack = list(children(node)) + stack
        return calls

    def reported_calls(self) -> list[TableCall]:
        """The first call of each table: the one whose matched rows the details report."""
        first: dict[str, TableCall] = {}
        for call in self.table_calls():
            first.setdefault(call.table, call)
        return [first[name] for name in sorted(first)]


@attrs.frozen
class Example:
    """Claim lines in, violations expected out; cells stay text until a checker reads them."""

    title: str
    rules: tuple[str, ...]
    tables: tuple[syntax.ExampleTable, ...]
    expect: syntax.Table | None
    position: Position


@attrs.frozen
class Rulebook:
    name: str
    title: str
    version: str
    input: Schema
    references: tuple[Reference, ...]
    sets: dict[str, CodeSet] = attrs.field(hash=False)
    parameters: dict[str, Parameter] = attrs.field(hash=False)
    tables: dict[str, DecisionTable] = attrs.field(hash=False, factory=dict)
    defines: dict[str, Define] = attrs.field(hash=False, factory=dict)
    rules: tuple[Rule, ...] = ()
    examples: tuple[Example, ...] = ()
    example_defaults: tuple[syntax.ExampleTable, ...] = ()
    files: tuple[str, ...] = ()

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def reference(self, name: str) -> Reference | None:
        return next((r for r in self.references if r.name == name), None)


CENT = Decimal("0.01")


def unsigned(value: Any) -> Any:
    """A zero without its sign: Python's decimals have a -0 (0 × -1, -0.004 to the cent),
    SQL's do not, and every engine must print 0,00."""
    return value.copy_abs() if type(value) is Decimal and not value else value


def money(value: Decimal | int) -> Decimal:
    """Money to two places, exactly; -0.004 is 0.00, not -0.00."""
    return unsigned(Decimal(value).quantize(CENT))
