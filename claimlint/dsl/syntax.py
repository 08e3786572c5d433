"""The syntax tree: what the rule author wrote, as immutable nodes with source positions.

Nothing here is checked yet: names may be unknown and types wrong. `resolve.py` turns this
tree into the checked model. Every node carries `pos` so every later error can point at it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs

from claimlint.errors import Position

# ----------------------------------------------------------------------------- expressions


@attrs.frozen
class Literal:
    """A constant: text, number (exact), date, time or boolean."""

    value: str | Decimal | int | dt.date | dt.time | bool | None  # None: `null` in a table cell
    pos: Position


@attrs.frozen
class SetLiteral:
    items: tuple[Literal, ...]
    pos: Position


@attrs.frozen
class Name:
    """A bare name: a field of the line, a parameter, a set or a `let` binding."""

    name: str
    pos: Position


@attrs.frozen
class Dotted:
    """`provider.zone`: a field of a reference table joined to the line."""

    base: str
    attr: str
    pos: Position


@attrs.frozen
class Call:
    """`f(a, b)`; `TABLE(a, b).output` names one output of a decision table."""

    function: str
    args: tuple[Expr, ...]
    pos: Position
    output: str | None = None


@attrs.frozen
class Unary:
    op: str  # "not" or "-"
    operand: Expr
    pos: Position


@attrs.frozen
class Binary:
    """Arithmetic (`+ - * /`), comparison (`= != < <= > >=`) or logic (`and`, `or`)."""

    op: str
    left: Expr
    right: Expr
    pos: Position


@attrs.frozen
class Membership:
    """`x in SET` or `x not in SET`."""

    operand: Expr
    collection: Expr
    negated: bool
    pos: Position


@attrs.frozen
class Presence:
    """`x is missing` or `x is present`."""

    operand: Expr
    present: bool
    pos: Position


@attrs.frozen
class Matches:
    """`x matches "[A-Z]{4}[0-9]{3}"`: the whole value matches the pattern."""

    operand: Expr
    pattern: str
    pos: Position


@attrs.frozen
class Conditional:
    """`if cond then a else b`; a missing condition takes the else branch."""

    condition: Expr
    then: Expr
    otherwise: Expr
    pos: Position


@attrs.frozen
class ClaimHas:
    """`claim has (cond)`: some line of the same claim (the line itself included) meets cond."""

    condition: Expr
    pos: Position


Expr = (
    Literal
    | SetLiteral
    | Name
    | Dotted
    | Call
    | Unary
    | Binary
    | Membership
    | Presence
    | Matches
    | ClaimHas
    | Conditional
)

# ----------------------------------------------------------------------------- declarations


@attrs.frozen
class Text:
    """A quoted string as written (quotes removed, escapes applied), with its position."""

    value: str
    pos: Position


@attrs.frozen
class Ident:
    """A name in a declaration position (a rule ID, a type name, a role...)."""

    name: str
    pos: Position


@attrs.frozen
class Header:
    name: Ident
    title: Text
    version: Text | None
    pos: Position


@attrs.frozen
class FieldDecl:
    name: Ident
    type_name: Ident
    required: bool
    default: Literal | None
    allowed: SetLiteral | None
    role: Ident | None
    pos: Position


@attrs.frozen
class SchemaDecl:
    """`input NAME "title"` or `reference NAME "title" joined on FIELD`, then its fields."""

    kind: str  # "input" or "reference"
    name: Ident
    title: Text
    join_on: Ident | None
    fields: tuple[FieldDecl, ...]
    pos: Position


@attrs.frozen
class SetDecl:
    name: Ident
    title: Text | None
    items: SetLiteral
    source: Text | None
    pos: Position


@attrs.frozen
class Period:
    """An effective period, both ends included; None is open."""

    start: dt.date | None
    end: dt.date | None
    pos: Position


@attrs.frozen
class ParamValue:
    value: Literal
    period: Period | None
    source: Text | None
    pos: Position


@attrs.frozen
class ParameterDecl:
    name: Ident
    title: Text | None
    type_name: Ident
    source: Text | None
    values: tuple[ParamValue, ...]
    pos: Position


@attrs.frozen
class DefineDecl:
    """`define NAME "title" = expr`: a named expression shared by every rule."""

    name: Ident
    title: Text | None
    expr: Expr
    source: Text | None
    pos: Position


@attrs.frozen
class Clause:
    """One clause of a rule: `kind` names it (severity, source, when, group...)."""

    kind: str
    pos: Position
    value: object = None  # Text, Ident, Period, Expr, tuple of Expr, ...
    name: Ident | None = None  # for `let NAME = expr`
    flag: bool = False  # `at most ... percent`


@attrs.frozen
class ExceptionDecl:
    """A named case that lifts a rule: inline in the rule, or apart (`exception X to RULE`)."""

    id: Ident
    rule: Ident | None  # None when written inside its rule
    title: Text
    source: Text | None
    condition: Expr
    pos: Position


@attrs.frozen
class RuleDecl:
    id: Ident
    title: Text
    clauses: tuple[Clause | ExceptionDecl, ...]
    pos: Position


@attrs.frozen
class Cell:
    text: str
    pos: Position


@attrs.frozen
class Table:
    """A table written between bars: a header row then data rows.

    In a decision table a `||` separates the input columns from the output columns;
    `inputs` counts the columns before it (None when there is no `||`).
    """

    header: tuple[Cell, ...]
    rows: tuple[tuple[Cell, ...], ...]
    pos: Position
    inputs: int | None = None


@attrs.frozen
class TableColumn:
    """`input NAME TYPE [one of {…} | in SET]` or `output NAME TYPE [one of {…}] [default v]`."""

    kind: str  # "input" or "output"
    name: Ident
    type_name: Ident
    default: Literal | None
    allowed: SetLiteral | None
    domain: Ident | None
    pos: Position


@attrs.frozen
class TableDecl:
    name: Ident
    title: Text | None
    hit_policy: Ident
    source: Text | None
    columns: tuple[TableColumn, ...]
    table: Table
    pos: Position
    # Each row's cells parsed at parse time (tests for inputs, a Literal or None for outputs);
    # a cell that does not parse stays a Cell, for the resolver to report with the others.
    cells: tuple[tuple[Any, ...], ...] = ()


@attrs.frozen
class UnaryTest:
    """One test of an input cell: `op value` (op = < <= > >= != =) or a range."""

    op: str  # a comparison operator, or "range"
    value: Literal
    high: Literal | None = None  # for ranges
    low_closed: bool = True
    high_closed: bool = True
    pos: Position | None = None


@attrs.frozen
class CellTests:
    """An input cell: `-` (any), a list of tests (any of them), or `not(…)` of a list."""

    kind: str  # "any", "tests", "not"
    tests: tuple[UnaryTest, ...]
    pos: Position


@attrs.frozen
class ExampleTable:
    """The rows of one input or reference table inside an example."""

    name: Ident
    table: Table
    pos: Position


@attrs.frozen
class ExampleDecl:
    title: Text
    rules: tuple[Ident, ...]  # empty: all rules
    tables: tuple[ExampleTable, ...]
    expect: Table | None  # None: `expect none`
    pos: Position


@attrs.frozen
class ExampleDefaults:
    tables: tuple[ExampleTable, ...]
    pos: Position


Decl = (
    Header
    | SchemaDecl
    | SetDecl
    | ParameterDecl
    | RuleDecl
    | ExceptionDecl
    | ExampleDecl
    | ExampleDefaults
)


@attrs.frozen
class SourceFile:
    """One parsed file of a rulebook, with its text kept for error excerpts."""

    path: str
    text: str
    decls: tuple[Decl, ...]


@attrs.frozen
class Comment:
    """A `# …` comment. The grammar ignores comments: they are not in the tree, and only
    `claimlint fmt` keeps them (see parser.parse_with_comments)."""

    text: str  # from the `#`, trailing spaces removed
    pos: Position
