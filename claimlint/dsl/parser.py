"""Text -> syntax tree. The only module that knows Lark.

Lark's errors are turned here, once, into `RulebookError` with the file, line, column, the
source line, a caret and, when the mistake is a known one, a hint in French.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import json
import re
from decimal import Decimal

import attrs
import lark
from lark import Token, Transformer, v_args

from claimlint import grammar
from claimlint.dsl import limits
from claimlint.dsl import syntax as s
from claimlint.errors import Diagnostic, Position, RulebookError

_TABLES = "rules.tables.json"  # the LALR tables, built once from rules.lark (see write_tables)


def _build(grammar: str, **options) -> lark.Lark:
    return lark.Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        start=["start", "cell_tests", "cell_output"],
        **options,
    )


# Comments are %ignore'd: the tree never sees them. The lexer hands each one to
# `_keep_comment`, which keeps it while `parse_with_comments` is reading a file.
_COMMENTS: contextvars.ContextVar[list[Token] | None] = contextvars.ContextVar(
    "claimlint_comments", default=None
)


def _keep_comment(token: Token) -> Token:
    kept = _COMMENTS.get()
    if kept is not None:
        kept.append(token)
    return token


# Parentheses open at this point of the file being read (None outside `_parse_tree`).
_DEPTH: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "claimlint_paren_depth", default=None
)


def _open_paren(token: Token) -> Token:
    depth = _DEPTH.get()
    if depth is not None:
        depth[0] += 1
        if depth[0] > limits.MAX_DEPTH:
            raise limits.too_deep(Position("", token.line, token.column))
    return token


def _close_paren(token: Token) -> Token:
    depth = _DEPTH.get()
    if depth is not None:
        depth[0] -= 1
    return token


_CALLBACKS = {"COMMENT": _keep_comment, "LPAR": _open_paren, "RPAR": _close_paren}


def _to_json(value):
    """Lark's serialised parser as JSON: dicts with non-text keys become tagged pair lists."""
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _to_json(v) for k, v in value.items()}
        return {"__pairs__": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    return value


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"__pairs__"}:
            return {_from_json(k): _from_json(v) for k, v in value["__pairs__"]}
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def write_tables(path: str | None = None) -> str:
    """Build the parser from the grammar and store its tables as JSON (data, never code).

    Building the LALR tables takes a fifth of a second, more than a small check should
    wait; loading them takes a few milliseconds. `_lark` rebuilds from the grammar whenever
    the stored tables were made from another version of it. Run after editing rules.lark:
    `python -c "from claimlint.dsl.parser import write_tables; write_tables()"`.
    """
    source = grammar.text()
    data, memo = _build(source).memo_serialize([lark.lexer.TerminalDef, lark.grammar.Rule])
    document = {
        "grammar_sha256": grammar.fingerprint(source),
        "data": _to_json(data),
        "memo": _to_json(memo),
    }
    target = path or str(grammar.FILES.joinpath(_TABLES))
    with open(target, "w", encoding="utf-8") as out:
        json.dump(document, out, separators=(",", ":"), sort_keys=True)
        out.write("\n")
    return target


@functools.cache
def _lark() -> lark.Lark:
    source = grammar.text()
    try:
        stored = json.loads(grammar.FILES.joinpath(_TABLES).read_text("utf-8"))
    except (OSError, ValueError):
        stored = None
    if stored is None or stored.get("grammar_sha256") != grammar.fingerprint(source):
        return _build(source, lexer_callbacks=_CALLBACKS)
    tables = {"data": _from_json(stored["data"]), "memo": _from_json(stored["memo"])}
    return lark.Lark.__new__(lark.Lark)._load(tables, lexer_callbacks=_CALLBACKS)


def parse(text: str, path: str = "<texte>") -> s.SourceFile:
    """Parse one rulebook file. Raises RulebookError on the first syntax error."""
    return _parse(text, path, None)


def parse_with_comments(
    text: str, path: str = "<texte>"
) -> tuple[s.SourceFile, tuple[s.Comment, ...]]:
    """Parse one rulebook file and keep its comments, in order (for `claimlint fmt`)."""
    kept: list[Token] = []
    source = _parse(text, path, kept)
    return source, tuple(s.Comment(str(t).rstrip(), _pos(path, t)) for t in kept)


def _parse_tree(text: str, comments: list[Token] | None) -> lark.Tree:
    """The file's parse tree; its comments go to `comments` (the cells' own never do)."""
    collecting = _COMMENTS.set(comments)
    counting = _DEPTH.set([0])
    try:
        return _lark().parse(text, start="start")
    finally:
        _DEPTH.reset(counting)
        _COMMENTS.reset(collecting)


# Expression nodes of the parse tree, each a level of the syntax tree built from it; a chain
# `a + b + c` is one node of Lark's but a nest of two levels once built.
_EXPRESSION_NODES = frozenset(
    "or_expr and_expr not_ compare in_ not_in is_missing is_present matches sum product neg "
    "call call_output claim_has conditional".split()
)
_CHAINS = {"or_expr": 1, "and_expr": 1, "sum": 2, "product": 2}  # step between operands


def _check_depth(tree: lark.Tree, path: str) -> None:
    """Refuse expressions nested deeper than the limit, walking the tree without recursion."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in _EXPRESSION_NODES:
            step = _CHAINS.get(node.data)
            operands = (len(node.children) + step - 1) // step if step else 2
            depth += operands - 1
            if depth > limits.MAX_DEPTH:
                raise limits.too_deep(_pos(path, node.meta))
        stack.extend((c, depth) for c in node.children if isinstance(c, lark.Tree))


def _with_source_lines(err: RulebookError, text: str) -> RulebookError:
    """The same diagnostics, each with its file's line under it (positions are in `text`)."""
    lines = text.splitlines()
    return RulebookError(
        [
            Diagnostic(d.message, d.position, d.hint, lines[d.position.line - 1])
            if d.position and d.source_line is None and 0 < d.position.line <= len(lines)
            else d
            for d in err.diagnostics
        ]
    )


def _parse(text: str, path: str, comments: list[Token] | None) -> s.SourceFile:
    limits.check_text(text, path)
    try:
        tree = _parse_tree(text, comments)
        _check_depth(tree, path)
    except lark.UnexpectedInput as err:
        raise RulebookError(_diagnostic(err, text, path)) from None
    except RulebookError as err:  # a limit: the lexer's callbacks do not know the path
        diagnostics = [
            attrs.evolve(d, position=attrs.evolve(d.position, file=path)) if d.position else d
            for d in err.diagnostics
        ]
        raise _with_source_lines(RulebookError(diagnostics), text) from None
    try:
        decls = _ToSyntax(path).transform(tree)
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, RulebookError):
            raise _with_source_lines(err.orig_exc, text) from None
        raise
    return s.SourceFile(path=path, text=text, decls=tuple(decls))


_WORDS = ("true", "false", "null", "not")  # the bare words a cell may hold


def parse_cell(cell: s.Cell, output: bool) -> s.CellTests | s.Literal | None:
    """A decision-table cell: input tests (S-FEEL unary tests) or an output value.

    Positions are those of the cell in the rulebook file. An output `-` gives None.
    """
    start = "cell_output" if output else "cell_tests"
    path, line, column = cell.pos.file, cell.pos.line, cell.pos.column
    try:
        tree = _lark().parse(cell.text, start=start)
    except lark.UnexpectedInput as err:
        offset = getattr(err, "column", 1) or 1
        token_type = getattr(getattr(err, "token", None), "type", None)
        if isinstance(err, lark.UnexpectedEOF) or token_type == "$END":
            offset = len(cell.text) + 1
        what = "valeur de sortie" if output else "test d'entrée"
        hint = (
            'un test s\'écrit -, une valeur, une liste "A", "B", < 18, [18..65), not(…)'
            if not output
            else 'une sortie s\'écrit comme une valeur ("A", 30.00, true, 2024-12-22) ou -'
        )
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", cell.text) and cell.text not in _WORDS:
            hint = f'un texte s\'écrit entre guillemets : "{cell.text}"'
        raise RulebookError(
            Diagnostic(
                f"cellule illisible « {cell.text} » : {what} attendu",
                Position(path, line, column + offset - 1),
                hint,
            )
        ) from None
    return _CellToSyntax(path, line, column).transform(tree)


def _try_cell(cell: s.Cell, output: bool):
    try:
        return parse_cell(cell, output)
    except RulebookError:
        return cell


# ----------------------------------------------------------------------------- tree -> syntax


def _pos(path: str, item: Token | lark.tree.Meta) -> Position:
    return Position(path, item.line, item.column, item.end_line, item.end_column)


def _unquote(token: Token) -> str:
    return re.sub(r"\\(.)", r"\1", str(token)[1:-1])


@v_args(meta=True)
class _ToSyntax(Transformer):
    """Builds syntax nodes bottom-up; every node gets the position Lark propagated."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _p(self, meta_or_token) -> Position:
        return _pos(self.path, meta_or_token)

    def _text(self, token: Token) -> s.Text:
        return s.Text(_unquote(token), self._p(token))

    def _ident(self, token: Token) -> s.Ident:
        return s.Ident(str(token), self._p(token))

    def _fail(self, message: str, token: Token, hint: str | None = None):
        raise RulebookError(Diagnostic(message, self._p(token), hint))

    # -- top level
    def start(self, meta, items):
        return items

    def header(self, meta, items):
        name, title, *rest = items
        version = rest[0] if rest else None
        return s.Header(self._ident(name), self._text(title), version, self._p(meta))

    def version(self, meta, items):
        return self._text(items[0])

    def input_decl(self, meta, items):
        name, title, *fields = items
        return s.SchemaDecl(
            "input", self._ident(name), self._text(title), None, tuple(fields), self._p(meta)
        )

    def reference_decl(self, meta, items):
        name, title, join_on, *fields = items
        return s.SchemaDecl(
            "reference",
            self._ident(name),
            self._text(title),
            self._ident(join_on),
            tuple(fields),
            self._p(meta),
        )

    def field_decl(self, meta, items):
        name, type_name, *options = items
        opts = dict(options)
        return s.FieldDecl(
            name=self._ident(name),
            type_name=self._ident(type_name),
            required=opts.get("required", False),
            default=opts.get("default"),
            allowed=opts.get("allowed"),
            role=opts.get("role"),
            pos=self._p(meta),
        )

    def required(self, meta, items):
        return ("required", True)

    def optional(self, meta, items):
        return ("required", False)

    def default(self, meta, items):
        return ("default", items[0])

    def allowed(self, meta, items):
        return ("allowed", items[0])

    def role(self, meta, items):
        return ("role", self._ident(items[0]))

    # -- sets and parameters
    def set_decl(self, meta, items):
        name = self._ident(items[0])
        rest = items[1:]
        title = self._text(rest.pop(0)) if isinstance(rest[0], Token) else None
        values = rest.pop(0)
        source = rest[0] if rest else None
        return s.SetDecl(name, title, values, source, self._p(meta))

    def parameter_decl(self, meta, items):
        name = self._ident(items[0])
        rest = list(items[1:])
        title = self._text(rest.pop(0)) if rest[0].type == "STRING" else None
        type_name = self._ident(rest.pop(0))
        source = rest.pop(0) if isinstance(rest[0], s.Text) else None
        return s.ParameterDecl(name, title, type_name, source, tuple(rest), self._p(meta))

    def param_value(self, meta, items):
        value, *rest = items
        period = next((x for x in rest if isinstance(x, s.Period)), None)
        source = next((x for x in rest if isinstance(x, s.Text)), None)
        return s.ParamValue(value, period, source, self._p(meta))

    def negative_number(self, meta, items):
        lit = self.number(meta, items)
        return s.Literal(-lit.value, self._p(meta))

    def period_between(self, meta, items):
        return s.Period(self._date(items[0]), self._date(items[1]), self._p(meta))

    def period_from(self, meta, items):
        return s.Period(self._date(items[0]), None, self._p(meta))

    def period_until(self, meta, items):
        return s.Period(None, self._date(items[0]), self._p(meta))

    def period_always(self, meta, items):
        return s.Period(None, None, self._p(meta))

    # -- rules
    def rule_decl(self, meta, items):
        rule_id, title, *clauses = items
        # `source` and periods are shared with other declarations: wrap them as clauses here.
        wrapped = tuple(
            s.Clause("source", c.pos, c)
            if isinstance(c, s.Text)
            else s.Clause("period", c.pos, c)
            if isinstance(c, s.Period)
            else c
            for c in clauses
        )
        return s.RuleDecl(self._ident(rule_id), self._text(title), wrapped, self._p(meta))

    def severity(self, meta, items):
        if len(items) == 1:
            return s.Clause("severity", self._p(meta), self._ident(items[0]))
        # `severity warning if cond else error`: value = (when true, condition, otherwise)
        value = (self._ident(items[0]), items[1], self._ident(items[2]))
        return s.Clause("severity", self._p(meta), value)

    def once_per_group(self, meta, items):
        return s.Clause("cap", self._p(meta), None)

    def define_decl(self, meta, items):
        name, *rest = items
        title = self._text(rest.pop(0)) if isinstance(rest[0], Token) else None
        source = rest.pop() if len(rest) > 1 else None
        return s.DefineDecl(self._ident(name), title, rest[0], source, self._p(meta))

    def source(self, meta, items):
        return self._text(items[0])

    def let(self, meta, items):
        return s.Clause("let", self._p(meta), items[1], name=self._ident(items[0]))

    def when(self, meta, items):
        return s.Clause("when", self._p(meta), items[0])

    def message(self, meta, items):
        return s.Clause("message", self._p(meta), self._text(items[0]))

    def stake(self, meta, items):
        return s.Clause("stake", self._p(meta), items[0])

    def group(self, meta, items):
        return s.Clause("group", self._p(meta), tuple(items))

    def count(self, meta, items):
        return s.Clause("count", self._p(meta), items[0])

    def cap(self, meta, items):
        return s.Clause("cap", self._p(meta), items[0], flag=len(items) > 1)

    def percent(self, meta, items):
        return True

    def inline_exception(self, meta, items):
        exc_id, title, *rest = items
        source = rest[0] if len(rest) == 2 else None
        return s.ExceptionDecl(
            self._ident(exc_id), None, self._text(title), source, rest[-1], self._p(meta)
        )

    def exception_decl(self, meta, items):
        exc_id, rule_id, title, *rest = items
        source = rest[0] if len(rest) == 2 else None
        return s.ExceptionDecl(
            self._ident(exc_id),
            self._ident(rule_id),
            self._text(title),
            source,
            rest[-1],
            self._p(meta),
        )

    # -- examples
    def example_decl(self, meta, items):
        title, *rest = items
        rules: tuple[s.Ident, ...] = ()
        if rest and isinstance(rest[0], list):
            rules = tuple(rest.pop(0))
        expect = rest.pop()
        return s.ExampleDecl(self._text(title), rules, tuple(rest), expect, self._p(meta))

    def example_defaults(self, meta, items):
        return s.ExampleDefaults(tuple(items), self._p(meta))

    def example_rules(self, meta, items):
        return [self._ident(t) for t in items]

    def example_table(self, meta, items):
        return s.ExampleTable(self._ident(items[0]), items[1], self._p(meta))

    def expect_table(self, meta, items):
        return items[0]

    def expect_none(self, meta, items):
        return None

    def table(self, meta, items):
        if len(items) > limits.MAX_TABLE_ROWS + 1:  # the header, then the rows
            first = items[limits.MAX_TABLE_ROWS + 1]
            raise limits.too_many_rows(Position(self.path, first.line, first.column))
        rows = [self._cells(token) for token in items]
        header, split = rows[0]
        for cells, row_split in rows[1:]:
            if row_split != split:
                self._fail(
                    "le séparateur « || » n'est pas à la même place que dans l'en-tête",
                    items[rows.index((cells, row_split))],
                    "chaque ligne sépare entrées et sorties au même endroit",
                )
        return s.Table(header, tuple(r for r, _ in rows[1:]), self._p(meta), split)

    def _cells(self, token: Token) -> tuple[tuple[s.Cell, ...], int | None]:
        """The cells of a row, and how many come before a `||` (None without one)."""
        text = str(token)
        cells = []
        split = None
        start = 1  # just after the opening bar
        if text.count("|") > limits.MAX_TABLE_COLUMNS + 2:  # `||` is one more bar
            raise limits.too_many_columns(Position(self.path, token.line, token.column))
        for raw in text[1:-1].split("|"):
            stripped = raw.strip()
            if not stripped and raw == "" and cells and split is None:
                split = len(cells)  # the empty piece between the bars of `||`
                start += 1
                continue
            offset = start + (len(raw) - len(raw.lstrip()))
            pos = Position(
                self.path,
                token.line,
                token.column + offset,
                token.line,
                token.column + offset + max(len(stripped), 1),
            )
            cells.append(s.Cell(stripped, pos))
            start += len(raw) + 1
        return tuple(cells), split

    # -- decision tables
    def table_decl(self, meta, items):
        name, *rest = items
        title = (
            self._text(rest.pop(0))
            if isinstance(rest[0], Token) and rest[0].type == "STRING"
            else None
        )
        hit = self._ident(rest.pop(0))
        source = rest.pop(0) if isinstance(rest[0], s.Text) else None
        table = rest.pop()
        cells = tuple(
            tuple(_try_cell(c, i >= (table.inputs or 0)) for i, c in enumerate(row))
            for row in table.rows
        )
        return s.TableDecl(
            self._ident(name), title, hit, source, tuple(rest), table, self._p(meta), cells
        )

    def _column(self, kind, meta, items):
        name, type_name, *options = items
        opts = dict(options)
        return s.TableColumn(
            kind,
            self._ident(name),
            self._ident(type_name),
            opts.get("default"),
            opts.get("allowed"),
            opts.get("domain"),
            self._p(meta),
        )

    def table_input(self, meta, items):
        return self._column("input", meta, items)

    def table_output(self, meta, items):
        return self._column("output", meta, items)

    def domain(self, meta, items):
        return ("domain", self._ident(items[0]))

    def call_output(self, meta, items):
        *call_items, output = items
        call = self.call(meta, call_items)
        return s.Call(call.function, call.args, call.pos, str(output))

    # -- expressions
    def _binary_chain(self, meta, items, op: str | None = None):
        if op is not None:  # `a or b or c`: the keyword is not kept by Lark
            result = items[0]
            for right in items[1:]:
                result = s.Binary(op, result, right, self._p(meta))
            return result
        result = items[0]
        for i in range(1, len(items), 2):
            result = s.Binary(str(items[i]), result, items[i + 1], self._p(meta))
        return result

    def or_expr(self, meta, items):
        return self._binary_chain(meta, items, "or")

    def and_expr(self, meta, items):
        return self._binary_chain(meta, items, "and")

    def sum(self, meta, items):
        return self._binary_chain(meta, items)

    def product(self, meta, items):
        return self._binary_chain(meta, items)

    def comp_op(self, meta, items):
        return items[0]

    add_op = mul_op = comp_op

    def compare(self, meta, items):
        return s.Binary(str(items[1]), items[0], items[2], self._p(meta))

    def not_(self, meta, items):
        return s.Unary("not", items[0], self._p(meta))

    def neg(self, meta, items):
        return s.Unary("-", items[0], self._p(meta))

    def in_(self, meta, items):
        return s.Membership(items[0], items[1], False, self._p(meta))

    def not_in(self, meta, items):
        return s.Membership(items[0], items[1], True, self._p(meta))

    def is_missing(self, meta, items):
        return s.Presence(items[0], False, self._p(meta))

    def is_present(self, meta, items):
        return s.Presence(items[0], True, self._p(meta))

    def matches(self, meta, items):
        pattern = _unquote(items[1])
        try:
            re.compile(pattern)
        except re.error as err:
            self._fail(f"motif invalide : {err}", items[1])
        return s.Matches(items[0], pattern, self._p(meta))

    def name(self, meta, items):
        return s.Name(str(items[0]), self._p(meta))

    def dotted(self, meta, items):
        return s.Dotted(str(items[0]), str(items[1]), self._p(meta))

    def call(self, meta, items):
        fn, *args = items
        args = [a for a in args if a is not None]  # `f()` yields one None
        return s.Call(str(fn), tuple(args), self._p(meta))

    def conditional(self, meta, items):
        return s.Conditional(items[0], items[1], items[2], self._p(meta))

    def claim_has(self, meta, items):
        return s.ClaimHas(items[0], self._p(meta))

    def set_literal(self, meta, items):
        return s.SetLiteral(tuple(i for i in items if i is not None), self._p(meta))

    # -- literals
    def string(self, meta, items):
        return s.Literal(_unquote(items[0]), self._p(meta))

    def number(self, meta, items):
        text = str(items[0])
        value = Decimal(text) if "." in text else int(text)
        return s.Literal(value, self._p(meta))

    def _date(self, token: Token) -> dt.date:
        try:
            return dt.date.fromisoformat(str(token))
        except ValueError:
            self._fail(
                f"date impossible « {token} »",
                token,
                "le mois va de 01 à 12 et le jour ne dépasse pas la fin du mois",
            )

    def date(self, meta, items):
        return s.Literal(self._date(items[0]), self._p(meta))

    def time(self, meta, items):
        hours, minutes = (int(x) for x in str(items[0]).split(":"))
        if hours > 23 or minutes > 59:
            self._fail(f"heure impossible « {items[0]} »", items[0], "une heure s'écrit HH:MM")
        return s.Literal(dt.time(hours, minutes), self._p(meta))

    def true(self, meta, items):
        return s.Literal(True, self._p(meta))

    def false(self, meta, items):
        return s.Literal(False, self._p(meta))


@v_args(meta=True)
class _CellToSyntax(_ToSyntax):
    """Cells are parsed alone: shift positions back to where the cell sits in its file."""

    def __init__(self, path: str, line: int, column: int):
        super().__init__(path)
        self.line = line
        self.column = column

    def _p(self, meta_or_token) -> Position:
        if getattr(meta_or_token, "empty", False):  # `-` alone keeps no token
            return Position(self.path, self.line, self.column, self.line, self.column + 1)
        col = self.column + meta_or_token.column - 1
        end = self.column + meta_or_token.end_column - 1
        return Position(self.path, self.line, col, self.line, end)

    def any_input(self, meta, items):
        return s.CellTests("any", (), self._p(meta))

    def positive_tests(self, meta, items):
        return s.CellTests("tests", tuple(items), self._p(meta))

    def negated_tests(self, meta, items):
        return s.CellTests("not", tuple(items), self._p(meta))

    def equals(self, meta, items):
        return s.UnaryTest("=", items[0], pos=self._p(meta))

    def unary_comparison(self, meta, items):
        return s.UnaryTest(str(items[0]), items[1], pos=self._p(meta))

    def interval(self, meta, items):
        opening, low, _dots, high, closing = items
        return s.UnaryTest(
            "range", low, high, str(opening) == "[", str(closing) == "]", self._p(meta)
        )

    def cell_output(self, meta, items):
        return items[0]

    def no_output(self, meta, items):
        return None

    def date_fn(self, meta, items):
        token = items[0]
        text = str(token)[6:-2]
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            self._fail(f"date impossible « {text} »", token, "une date s'écrit AAAA-MM-JJ")
        return s.Literal(value, self._p(meta))

    def null(self, meta, items):
        return s.Literal(None, self._p(meta))


# ----------------------------------------------------------------------------- errors

# Known mistakes, each shown by a few wrong snippets: Lark matches an error's parser state
# against them and we print the hint of the closest (as cel-python and Lark's own docs do).
_HINTS: dict[str, list[str]] = {
    "le titre s'écrit entre guillemets, après l'identifiant : rule SNP-CAP \"Titre\"": [
        "rule A-B titre",
        "rule A-B Titre",
        "rule A-B 20 SNP",
        "rule A-B when",
        "rule A-B severity error",
    ],
    "un identifiant de règle s'écrit en MAJUSCULES, chiffres et tirets (ex. SNP-CAP)": [
        'rule snp-cap "t"',
        'rule Snp "t"',
        'rule 1A "t"',
    ],
    "l'égalité s'écrit « = » (et la différence « != »)": [
        'rule A "t" when a == 1',
        'rule A "t" when a = = 1',
    ],
    "combinez les conditions avec « and », « or » et « not »": [
        'rule A "t" when a = 1 && b = 2',
        'rule A "t" when a = 1 || b = 2',
        'rule A "t" when a = "x" || b = 2',
        'rule A "t" when a || b = 2',
        'rule A "t" when f(a) || b = 2',
        'rule A "t" when a = 1 & b = 2',
        'rule A "t" when !a',
    ],
    "un regroupement s'écrit « for each clé, période », ex. for each provider_id, "
    "iso_week(service_date)": [
        'rule A "t" for provider_id',
        'rule A "t" for a, b',
    ],
    "un plafond s'écrit « at most VALEUR » (ou « at most VALEUR percent »)": [
        'rule A "t" at 20',
        'rule A "t" at least 20',
    ],
    "une date s'écrit AAAA-MM-JJ, ex. 2024-12-22": [
        'rule A "t" from 22/12/2024',
        'rule A "t" from "2024-12-22"',
        'rule A "t" until 2024',
        'rule A "t" from 2024-12-22 until "x"',
    ],
    'un ensemble s\'écrit entre accolades : {"MN", "MM", "F"}': [
        'rule A "t" when a in ["x"]',
        'set S = ["x"]',
        'set S = "x", "y"',
        'set S "t" ("x")',
    ],
    'chaque valeur d\'un paramètre commence par « value », ex. value 20 always source "…"': [
        "parameter P type integer 20",
        'parameter P "t" type integer 20',
        'parameter P type integer source "s" 20',
    ],
    "le type d'un paramètre se déclare par « type », ex. type integer": [
        "parameter P integer",
        'parameter P "t" integer',
        'parameter P "t" value 1',
    ],
    "une parenthèse ouverte n'est pas refermée": [
        'rule A "t" when (a = 1',
        'rule A "t" when f(a',
        'rule A "t" when (a = 1 message "m"',
        'rule A "t" when claim has (a = 1 message "m"',
    ],
    '« claim has » s\'écrit avec une condition entre parenthèses : claim has (act_code = "MRT")': [
        'rule A "t" when claim has a = 1',
        'rule A "t" when claim a',
    ],
    "après « severity » vient la gravité, sans guillemets : severity error (ou warning, info)": [
        'rule A "t" severity "error"',
        'rule A "t" severity',
        'rule A "t" severity source "s"',
    ],
    'un texte s\'écrit entre guillemets : source "circ. §6.A.1", message "… {act_code} …"': [
        f'rule A "t" {clause} {value}'
        for clause in ("source", "message")
        for value in ("circ", "Circ", "SNP", "20")
    ],
    "une période s'écrit from 2024-12-22 until 2025-06-30 (dates incluses), "
    "from …, until … ou always": [
        'rule A "t" from 2024-12-22 to 2025-01-01',
        'rule A "t" from 2024-12-22 au 2025-01-01',
    ],
    'une condition compare un nom à une valeur (act_code = "SNP") et ne finit pas par '
    "« and » ou « or »": [
        'rule A "t" when a and message "m"',
        'rule A "t" when a "x"',
        'rule A "t" when a b',
        'rule A "t" when a SNP',
        'rule A "t" when a 1',
    ],
    # A row without its closing bar: the bars before it made a shorter row, and what follows
    # the last bar (a cell, or the next line) is met where a new row was expected.
    "une ligne de tableau commence et finit par « | » : | L1 | SNP | 15.00 |": [
        f'example "e" {rules}claims\n| a | b |\n| 1 | {cell}'
        for rules in ("", "for A ")
        for cell in (
            "15.00",
            "2",
            "SNP",
            "2024-12-22",
            "10:00",
            '"x"',
            "x\nexpect none",
            "SNP\nexpect none",
            "x\n| 2 | y |",
        )
    ]
    + ['example "e" expect\n| a |\n| 1 | x'],
    "un exemple finit par « expect » et le tableau des violations attendues, "
    "ou par « expect none »": [
        f'example "e" {rules}claims\n| a |\n| 1 |\n{after}'
        for rules in ("", "for A ")
        for after in (
            "",
            'rule A "t"',
            'example "f" expect none',
            'exception B to A "t" when a',
            'set S = {"x"}',
            "parameter P type integer",
            "table T hit policy unique",
        )
    ],
}

_TERMINAL_NAMES = {
    "NAME": "un nom",
    "RULE_ID": "un identifiant de règle (ex. SNP-CAP)",
    "STRING": "un texte entre guillemets",
    "DATE": "une date AAAA-MM-JJ",
    "TIME": "une heure HH:MM",
    "NUMBER": "un nombre",
    "TABLE_ROW": "une ligne de tableau | … |",
    "DATE_FN": 'une date date("AAAA-MM-JJ")',
    "HIT_POLICY": "une politique de résultat (unique, any, priority, first, rule order, "
    "output order, collect)",
    "BOOK_NAME": "un nom de recueil en minuscules, sans guillemets (ex. convention-2024)",
    "$END": "la fin du fichier",
}


def _describe_expected(expected: set[str]) -> str:
    terminals = {t.name: t for t in _lark().terminals}
    if "DATE" in expected:  # a table cell's date("…") is one more spelling of a date
        expected = expected - {"DATE_FN"}
    names = set()
    for name in expected:
        if name in _TERMINAL_NAMES:
            names.add(_TERMINAL_NAMES[name])
        elif name in terminals and terminals[name].pattern.type == "str":
            names.add(f"« {terminals[name].pattern.value} »")
        else:
            names.add(name.lower())
    shown = sorted(names)
    if len(shown) > 8:
        return ", ".join(shown[:8]) + ", …"
    return ", ".join(shown)


# Words that, met where they cannot stand, are nearly always the same mistake, wherever they are.
_WORD_HINTS = {
    word: "la gravité s'écrit après le mot « severity » : severity error"
    for word in ("error", "warning", "info")
}


def _error_key(err: lark.UnexpectedInput) -> tuple[int, str, str] | None:
    """Where the parser stood (its LALR state) and what it met: a token's type and text, or
    an unknown character (type "")."""
    state = getattr(err, "state", None)
    if state is None:
        return None
    if isinstance(err, lark.UnexpectedCharacters):
        return state.position, "", err.char
    return state.position, err.token.type, str(err.token)


@functools.cache
def _hint_examples() -> tuple[tuple[str, tuple[int, str, str]], ...]:
    """Each snippet of _HINTS parsed once: (hint, key of its error)."""
    found = []
    for hint, snippets in _HINTS.items():
        for snippet in snippets:
            try:
                _lark().parse(snippet, start="start")
            except lark.UnexpectedInput as err:
                key = _error_key(err)
                if key is not None:
                    found.append((hint, key))
    return tuple(found)


def _hint(err: lark.UnexpectedInput) -> str | None:
    """The hint of a word of _WORD_HINTS, else of a snippet that failed the same way: same
    parser state and same token, else same state and same kind of token, else (an unknown
    character) the same character.

    Lark's match_examples is not used: it also compares the depth of the parser's stack, which
    depends on how many declarations and clauses come before the error, so its snippets never
    matched in a real rulebook.
    """
    try:
        key = _error_key(err)
        if key is None:
            return None
        state, type_, text = key
        if type_ == "NAME" and text in _WORD_HINTS:
            return _WORD_HINTS[text]
        tiers = (
            lambda k: k == key,
            lambda k: k[0] == state and k[1] == type_,
            lambda k: type_ == "" and k[1] == "" and k[2] == text,
        )
        for matches in tiers:
            for hint, k in _hint_examples():
                if matches(k):
                    return hint
        return None
    except Exception:  # a hint is a courtesy: never let it hide the real error
        return None


def _diagnostic(err: lark.UnexpectedInput, text: str, path: str) -> Diagnostic:
    lines = text.splitlines()
    end = None
    token = getattr(err, "token", None)
    if isinstance(err, lark.UnexpectedEOF) or getattr(token, "type", None) == "$END":
        line = max(1, len(lines))
        column = len(lines[-1]) + 1 if lines else 1
        if getattr(token, "end_line", None) and getattr(token, "end_column", None):
            line, column = token.end_line, token.end_column  # just after the last token
        message = "fin de fichier inattendue"
        expected = getattr(err, "expected", None)
        if expected:
            message += f" ; attendu : {_describe_expected(set(expected))}"
    elif isinstance(err, lark.UnexpectedCharacters):
        line, column = err.line, err.column
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        if char == '"':
            message = "texte non terminé : il manque le guillemet fermant sur cette ligne"
        elif char == "|":
            message = "ligne de tableau non terminée : elle doit finir par « | »"
        else:
            message = f"caractère inattendu « {char} »"
    else:
        assert isinstance(err, lark.UnexpectedToken)
        token = err.token
        line, column = token.line, token.column
        shown = str(token)
        word = re.match(r"\w+", lines[line - 1][column - 1 :] if 0 < line <= len(lines) else "")
        if word and len(word.group()) > len(shown) and word.group().startswith(shown):
            shown = word.group()
        if "\n" not in shown:
            end = column + len(shown)
        expected = set(err.accepts or err.expected)
        message = f"« {shown} » inattendu ; attendu : {_describe_expected(expected)}"
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    position = Position(path, line, column, line if end else None, end)
    return Diagnostic(message, position, _hint(err), source_line)
