"""Syntax tree -> canonical text: the one layout `claimlint fmt` writes.

The formatter never edits the author's text: it parses the file, prints the syntax tree again
in the canonical layout and puts the comments back. The grammar ignores comments, so the
parser hands them over apart (`parse_with_comments`), each with its position; every printed
line knows the source lines its code came from, and a comment goes back beside the code it
was beside: a comment on its own line before the first printed line that reaches its line, a
comment after code at the end of the printed line holding that code. Before returning, the
result is parsed again and must give the same tree (positions aside) and the same comments:
a formatter that changed a rule's meaning would be worse than none.

The layout is the shipped rulebooks' own, made uniform:

- one blank line between top-level declarations; a comment block before a declaration keeps
  its blank lines (one at most); no blank line inside a declaration;
- clauses, fields, columns, `type`, `value`, `source` and `hit policy` lines indented 2
  spaces, example tables 2 and their rows 4;
- schema fields in aligned columns (name, type, required/optional, two spaces apart), the
  other options after them, an option that would pass column 100 on a line of its own under
  the first; decision-table columns aligned likewise, one space apart;
- tables aligned column by column: cells padded, one space each side of the bars, `||`
  between inputs and outputs; cells are kept as written;
- a set on one line if it fits in 100 columns, else its values filled over indented lines;
- expressions with canonical spacing and only the parentheses the tree needs, plus two kept
  for the reader: around an `and` inside an `or`, and around a comparison after `not`;
- an expression that does not fit in 100 columns is broken: an `and`/`or` chain one operand
  per line, before the operator (under `when`, the operators hang left so that the operands
  line up: `when a` / ` and b`; elsewhere they stand at the operand's column); a plain
  if/else on three lines (`if c` / `then a` / `else b`); an else-if chain one branch per line
  (`else if c then a`), a branch that does not fit on two (`else if c` / `then a`), and then
  the first one too; a call one argument per line, under the first. A chain or a conditional that the author wrote over several
  lines stays broken even when it would fit: the split between what a rule is about and what
  makes a line wrong (`when act_code = "SHE"` / ` and not …`) is the author's to make (as
  black keeps a "magic trailing comma"). Decisions depend on the tree, the widths and those
  author's breaks only, never on comments: formatting twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs

from claimlint.dsl import syntax as s
from claimlint.dsl.parser import parse_with_comments

WIDTH = 100
INDENT = "  "


def format_text(text: str, path: str) -> str:
    """The canonical layout of one rulebook file. Raises RulebookError on a syntax error."""
    source, comments = parse_with_comments(text, path)
    result = _Printer(text, source, comments).render()
    _check_same(source, comments, result, path)
    return result


def strip_positions(node: Any) -> Any:
    """A syntax tree without its positions (nor the file's path and text), to compare two
    trees for meaning: nested tuples of class names, field names and typed values."""
    if isinstance(node, s.SourceFile):
        return ("SourceFile", strip_positions(node.decls))
    if attrs.has(type(node)):
        return (
            type(node).__name__,
            tuple(
                (f.name, strip_positions(getattr(node, f.name)))
                for f in attrs.fields(type(node))
                if f.name != "pos"
            ),
        )
    if isinstance(node, tuple | list):
        return tuple(strip_positions(x) for x in node)
    if isinstance(node, Decimal):
        return ("Decimal", str(node))
    return (type(node).__name__, node)


def _check_same(
    source: s.SourceFile, comments: Sequence[s.Comment], result: str, path: str
) -> None:
    again, again_comments = parse_with_comments(result, path)
    if strip_positions(again) != strip_positions(source):
        raise RuntimeError(f"{path} : le formatage changerait le sens du recueil (bogue)")
    if [c.text for c in again_comments] != [c.text for c in comments]:
        raise RuntimeError(f"{path} : le formatage perdrait ou déplacerait un commentaire (bogue)")


# ----------------------------------------------------------------------------- lines


@attrs.define
class _Line:
    """One printed line (or, inside an expression's layout, the rest of one) and the source
    lines of the code on it: `lo`..`hi`, None when the line's code has no position."""

    text: str
    lo: int | None = None
    hi: int | None = None

    def mark(self, lo: int | None, hi: int | None = None) -> _Line:
        for n in (lo, hi if hi is not None else lo):
            if n is not None:
                self.lo = n if self.lo is None else min(self.lo, n)
                self.hi = n if self.hi is None else max(self.hi, n)
        return self


Frag = list[_Line]  # the first line continues the current one; the others are whole lines


def _one(text: str, lo: int | None = None, hi: int | None = None) -> Frag:
    return [_Line(text).mark(lo, hi)]


def _prefix(text: str, frag: Frag) -> Frag:
    frag[0].text = text + frag[0].text
    return frag


def _suffix(frag: Frag, text: str) -> Frag:
    frag[-1].text += text
    return frag


def _concat(left: Frag, right: Frag) -> Frag:
    """`right` continues the last line of `left`."""
    last = left[-1]
    last.text += right[0].text
    last.mark(right[0].lo, right[0].hi)
    return left + right[1:]


def _end_col(frag: Frag, col: int) -> int:
    return col + len(frag[0].text) if len(frag) == 1 else len(frag[-1].text)


# ----------------------------------------------------------------------------- atoms


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return format(value, "f")  # never 1E-7; trailing zeros kept as written
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return f"{value.hour:02}:{value.minute:02}"
    assert isinstance(value, str), value
    return _quote(value)


def _set_text(items: Iterable[s.Literal]) -> str:
    return "{" + ", ".join(_literal(i.value) for i in items) + "}"


def _pieces(items: Iterable[s.Literal]) -> list[tuple[str, int, int]]:
    return [(_literal(i.value), i.pos.line, i.pos.end_line or i.pos.line) for i in items]


def _period(period: s.Period) -> str:
    if period.start and period.end:
        return f"from {period.start.isoformat()} until {period.end.isoformat()}"
    if period.start:
        return f"from {period.start.isoformat()}"
    if period.end:
        return f"until {period.end.isoformat()}"
    return "always"


def _fill(pieces: Sequence[tuple[str, int, int]], first_col: int, cont: str) -> Frag:
    """Pieces (text, lo, hi) joined by ", " and filled greedily: the first line starts at
    `first_col`, the next ones with `cont`; each line but the last ends with a comma."""
    lines: Frag = []
    current: _Line | None = None
    col = first_col
    for i, (text, lo, hi) in enumerate(pieces):
        comma = "," if i < len(pieces) - 1 else ""
        if current is None:
            current = _Line(text + comma).mark(lo, hi)
            lines.append(current)
        elif col + len(current.text) + 1 + len(text + comma) <= WIDTH:
            current.text += " " + text + comma
            current.mark(lo, hi)
        else:
            current = _Line(cont + text + comma).mark(lo, hi)
            lines.append(current)
            col = 0
    return lines or [_Line("")]


# ----------------------------------------------------------------------------- expressions

_PRECEDENCE = {"or": 1, "and": 2, "+": 5, "-": 5, "*": 6, "/": 6}
_COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}


def _prec(e: s.Expr) -> int:
    """or 1 < and 2 < not 3 < comparisons 4 < + - 5 < * / 6 < unary minus 7 < atoms 8;
    a conditional (0) is parenthesised wherever an operand is expected."""
    if isinstance(e, s.Conditional):
        return 0
    if isinstance(e, s.Binary):
        return 4 if e.op in _COMPARISONS else _PRECEDENCE[e.op]
    if isinstance(e, s.Unary):
        return 3 if e.op == "not" else 7
    if isinstance(e, s.Membership | s.Presence | s.Matches):
        return 4
    return 8


def _needs_parens(e: s.Expr, min_prec: int, parent: str | None) -> bool:
    if _prec(e) < min_prec:
        return True
    if parent == "or" and isinstance(e, s.Binary) and e.op == "and":
        return True  # a and b or c  ->  (a and b) or c
    return parent == "not" and _prec(e) == 4  # not a = b  ->  not (a = b)


def _operands(e: s.Expr) -> list[tuple[s.Expr, int, str | None]]:
    """Each operand with the least precedence it may have unparenthesised there."""
    if isinstance(e, s.Binary):
        op = e.op
        if op in ("or", "and"):
            p = _PRECEDENCE[op]
            return [(e.left, p, op), (e.right, p + 1, op)]
        if op in _COMPARISONS:
            return [(e.left, 5, op), (e.right, 5, op)]
        p = _PRECEDENCE[op]
        return [(e.left, p, op), (e.right, p + 1, op)]
    if isinstance(e, s.Unary):
        return [(e.operand, 3, "not")] if e.op == "not" else [(e.operand, 7, "-")]
    if isinstance(e, s.Membership):
        return [(e.operand, 5, None), (e.collection, 5, None)]
    if isinstance(e, s.Presence | s.Matches):
        return [(e.operand, 5, None)]
    if isinstance(e, s.Conditional):
        return [(e.condition, 1, None), (e.then, 1, None), (e.otherwise, 0, None)]
    if isinstance(e, s.Call):
        return [(a, 0, None) for a in e.args]
    if isinstance(e, s.ClaimHas):
        return [(e.condition, 0, None)]
    return []


def _start(e: s.Expr) -> int:
    # The inner links of a chain `a + b + c` carry the whole chain's position: ask the ends.
    return _start(e.left) if isinstance(e, s.Binary) else e.pos.line


def _end(e: s.Expr) -> int:
    if isinstance(e, s.Binary):
        return _end(e.right)
    return e.pos.end_line or e.pos.line


def _chain(e: s.Binary) -> list[s.Expr]:
    """`a and b and c` (left-nested) as [a, b, c]; a right operand of the same operator
    stays one operand (it is parenthesised)."""
    items: list[s.Expr] = []
    node: s.Expr = e
    while isinstance(node, s.Binary) and node.op == e.op:
        items.append(node.right)
        node = node.left
    items.append(node)
    return items[::-1]


def _branches(e: s.Conditional) -> tuple[list[tuple[s.Expr, s.Expr]], s.Expr]:
    """`if a then x else if b then y else z` as [(a, x), (b, y)] and z."""
    branches = []
    node: s.Expr = e
    while isinstance(node, s.Conditional):
        branches.append((node.condition, node.then))
        node = node.otherwise
    return branches, node


def _is_logic(e: s.Expr) -> bool:
    return isinstance(e, s.Binary) and e.op in ("and", "or")


class _Expressions:
    """Prints expressions flat, or broken over lines when they do not fit."""

    def __init__(self) -> None:
        self._flat: dict[int, str] = {}
        self._broken: dict[int, bool] = {}
        self._keep: list[s.Expr] = []  # the memo is keyed by id: keep the nodes alive

    # -- flat
    def flat(self, e: s.Expr, min_prec: int = 0, parent: str | None = None) -> str:
        text = self._flat_inner(e)
        return f"({text})" if _needs_parens(e, min_prec, parent) else text

    def _flat_inner(self, e: s.Expr) -> str:
        key = id(e)
        if key not in self._flat:
            self._keep.append(e)
            self._flat[key] = self._render(e)
        return self._flat[key]

    def _render(self, e: s.Expr) -> str:
        subs = [self.flat(x, p, parent) for x, p, parent in _operands(e)]
        if isinstance(e, s.Literal):
            return _literal(e.value)
        if isinstance(e, s.SetLiteral):
            return _set_text(e.items)
        if isinstance(e, s.Name):
            return e.name
        if isinstance(e, s.Dotted):
            return f"{e.base}.{e.attr}"
        if isinstance(e, s.Call):
            output = f".{e.output}" if e.output else ""
            return f"{e.function}({', '.join(subs)}){output}"
        if isinstance(e, s.ClaimHas):
            return f"claim has ({subs[0]})"
        if isinstance(e, s.Unary):
            if e.op == "not":
                return f"not {subs[0]}"
            return f"- {subs[0]}" if subs[0].startswith("-") else f"-{subs[0]}"
        if isinstance(e, s.Binary):
            return f"{subs[0]} {e.op} {subs[1]}"
        if isinstance(e, s.Membership):
            return f"{subs[0]} {'not in' if e.negated else 'in'} {subs[1]}"
        if isinstance(e, s.Presence):
            return f"{subs[0]} is {'present' if e.present else 'missing'}"
        if isinstance(e, s.Matches):
            return f"{subs[0]} matches {_quote(e.pattern)}"
        if isinstance(e, s.Conditional):
            return f"if {subs[0]} then {subs[1]} else {subs[2]}"
        raise TypeError(f"expression inconnue : {type(e).__name__}")

    # -- written over several lines by the author
    def authored_broken(self, e: s.Expr) -> bool:
        """An and/or chain or a conditional the author wrote over several lines, here or
        inside: it stays broken."""
        key = id(e)
        if key not in self._broken:
            self._keep.append(e)
            here = False
            if _is_logic(e):
                assert isinstance(e, s.Binary)
                here = len({_start(x) for x in _chain(e)}) > 1
            elif isinstance(e, s.Conditional):
                branches, last = _branches(e)
                parts = [x for pair in branches for x in pair] + [last]
                here = len({_start(x) for x in parts}) > 1
            self._broken[key] = here or any(self.authored_broken(x) for x, _, _ in _operands(e))
        return self._broken[key]

    # -- layout
    def layout(
        self,
        e: s.Expr,
        col: int,
        min_prec: int = 0,
        parent: str | None = None,
        reserve: int = 0,
        hanging: bool = False,
    ) -> Frag:
        """`e` printed from column `col`, broken if it does not fit before column WIDTH less
        `reserve` (what will follow it on its last line)."""
        text = self.flat(e, min_prec, parent)
        if not self.authored_broken(e) and col + len(text) + reserve <= WIDTH:
            return _one(text, _start(e), _end(e))
        if _needs_parens(e, min_prec, parent):
            inner = self.layout(e, col + 1, reserve=reserve + 1)
            return _suffix(_prefix("(", inner), ")")
        frag = self._break(e, col, reserve, hanging)
        frag[0].mark(_start(e))
        frag[-1].mark(_end(e))
        return frag

    def _break(self, e: s.Expr, col: int, reserve: int, hanging: bool) -> Frag:
        if _is_logic(e):
            assert isinstance(e, s.Binary)
            return self._break_chain(e, col, reserve, hanging)
        if isinstance(e, s.Conditional):
            return self._break_conditional(e, col, reserve)
        if isinstance(e, s.Call) and e.args:
            return self._break_call(e, col, reserve)
        if isinstance(e, s.ClaimHas):
            inner = self.layout(e.condition, col + len("claim has ("), reserve=reserve + 1)
            return _suffix(_prefix("claim has (", inner), ")")
        if isinstance(e, s.SetLiteral) and e.items:
            frag = _fill(_pieces(e.items), col + 1, " " * (col + 1))
            return _suffix(_prefix("{", frag), "}")
        if isinstance(e, s.Unary):
            head = "not " if e.op == "not" else "-"
            ((operand, p, parent),) = _operands(e)
            inner = self.layout(operand, col + len(head), p, parent, reserve)
            if head == "-" and inner[0].text.startswith("-"):
                head = "- "
            return _prefix(head, inner)
        if isinstance(e, s.Binary | s.Membership | s.Presence | s.Matches):
            return self._break_infix(e, col, reserve)
        return _one(self.flat(e), _start(e), _end(e))

    def _break_chain(self, e: s.Binary, col: int, reserve: int, hanging: bool) -> Frag:
        op = e.op
        items = _chain(e)
        p = _PRECEDENCE[op]
        frag = self.layout(items[0], col, p, op)
        for i, item in enumerate(items[1:], start=1):
            last = i == len(items) - 1
            rest = reserve if last else 0
            if hanging and col > len(op):
                sub = self.layout(item, col, p + 1, op, rest)
                frag += _prefix(" " * (col - len(op) - 1) + op + " ", sub)
            else:
                sub = self.layout(item, col + len(op) + 1, p + 1, op, rest)
                frag += _prefix(" " * col + op + " ", sub)
        return frag

    def _break_conditional(self, e: s.Conditional, col: int, reserve: int) -> Frag:
        branches, last = _branches(e)
        pad = " " * col

        def compact(i: int, cond: s.Expr, then: s.Expr) -> str | None:
            if self.authored_broken(cond) or self.authored_broken(then):
                return None
            head = "if " if i == 0 else "else if "
            text = f"{head}{self.flat(cond, 1)} then {self.flat(then, 1)}"
            return text if col + len(text) <= WIDTH else None

        # A plain if/else takes three lines. In an else-if chain a branch takes one line
        # when it fits; once a branch needs two, so does the first, which carries the `if`.
        lines = [compact(i, c, t) for i, (c, t) in enumerate(branches)]
        if len(branches) == 1 or None in lines:
            lines[0] = None
        frag: Frag = []
        for i, (cond, then) in enumerate(branches):
            head = "if " if i == 0 else "else if "
            lead = "" if i == 0 else pad
            if lines[i] is not None:
                line = _Line(lead + str(lines[i])).mark(_start(cond), _end(then))
                frag.append(line)
                continue
            frag += _prefix(lead + head, self.layout(cond, col + len(head), 1))
            frag += _prefix(pad + "then ", self.layout(then, col + 5, 1))
        frag += _prefix(pad + "else ", self.layout(last, col + 5, 0, reserve=reserve))
        return frag

    def _break_call(self, e: s.Call, col: int, reserve: int) -> Frag:
        head = e.function + "("
        inner = col + len(head)
        tail = ")" + (f".{e.output}" if e.output else "")
        frag: Frag = []
        for i, arg in enumerate(e.args):
            last = i == len(e.args) - 1
            end = tail if last else ","
            sub = self.layout(arg, inner, 0, reserve=len(end) + (reserve if last else 0))
            _suffix(sub, end)
            frag += _prefix(head if i == 0 else " " * inner, sub)
        return frag

    def _break_infix(self, e: s.Expr, col: int, reserve: int) -> Frag:
        ops = _operands(e)
        left = self.layout(ops[0][0], col, ops[0][1], ops[0][2])
        if isinstance(e, s.Presence):
            return _suffix(left, " is present" if e.present else " is missing")
        if isinstance(e, s.Matches):
            return _suffix(left, f" matches {_quote(e.pattern)}")
        if isinstance(e, s.Membership):
            op = " not in " if e.negated else " in "
        else:
            assert isinstance(e, s.Binary)
            op = f" {e.op} "
        _suffix(left, op)
        right_col = _end_col(left, col)
        right = self.layout(ops[1][0], right_col, ops[1][1], ops[1][2], reserve)
        return _concat(left, right)


# ----------------------------------------------------------------------------- declarations


class _Printer:
    def __init__(self, text: str, source: s.SourceFile, comments: Sequence[s.Comment]):
        self.source_lines = text.splitlines()
        self.source = source
        self.comments = comments
        self.x = _Expressions()

    # -- the file
    def render(self) -> str:
        blocks = [self._decl(d) for d in self.source.decls]
        lines = [line for block in blocks for line in block]
        self._infer_spans(lines)
        before, trailing, at_end = self._place_comments(lines)
        out: list[str] = []
        i = 0
        for n, block in enumerate(blocks):
            if n:
                out.append("")
            for j in range(len(block)):
                group = before.get(i, [])
                if j == 0:
                    self._comment_block(out, group, 0, leading=True)
                else:
                    indent = len(block[j].text) - len(block[j].text.lstrip(" "))
                    out += [" " * indent + c.text for c in group]
                text = block[j].text.rstrip()
                if i in trailing:
                    text += "  " + trailing[i].text
                out.append(text)
                i += 1
        if at_end:
            if out:
                out.append("")
            self._comment_block(out, at_end, 0, leading=False)
        return "\n".join(out) + "\n" if out else ""

    def _blank(self, line: int) -> bool:
        return 0 < line <= len(self.source_lines) and not self.source_lines[line - 1].strip()

    def _comment_block(
        self, out: list[str], group: list[s.Comment], indent: int, leading: bool
    ) -> None:
        """Comments before a declaration (or at the end of the file), with one blank line
        where the source had one or more."""
        for k, comment in enumerate(group):
            if k and self._blank(comment.pos.line - 1):
                out.append("")
            out.append(" " * indent + comment.text)
        if leading and group and self._blank(group[-1].pos.line + 1):
            out.append("")

    def _code_lines(self) -> set[int]:
        starts = {c.pos.line: c.pos.column for c in self.comments}
        found = set()
        for n, line in enumerate(self.source_lines, start=1):
            code = line[: starts[n] - 1] if n in starts else line
            if code.strip():
                found.add(n)
        return found

    def _infer_spans(self, lines: list[_Line]) -> None:
        """A line whose code has no position (`expect`) gets the source lines of code found
        between its neighbours'."""
        if all(line.lo is not None for line in lines):
            return
        code = sorted(self._code_lines())
        for i, line in enumerate(lines):
            if line.lo is not None:
                continue
            after = max((x.hi for x in lines[:i] if x.hi is not None), default=0)
            before = min((x.lo for x in lines[i + 1 :] if x.lo is not None), default=10**9)
            found = [n for n in code if after < n < before]
            if found:
                line.mark(found[0], found[-1])

    def _place_comments(
        self, lines: list[_Line]
    ) -> tuple[dict[int, list[s.Comment]], dict[int, s.Comment], list[s.Comment]]:
        """Where each comment goes: on its own line before a printed line, after the code of
        a printed line, or at the end of the file; always in the source's order."""
        before: dict[int, list[s.Comment]] = {}
        trailing: dict[int, s.Comment] = {}
        at_end: list[s.Comment] = []
        last = (0, 0)  # (line index, 0 before it / 1 after its code) of the previous comment
        for comment in self.comments:
            n = comment.pos.line
            row = self.source_lines[n - 1] if n <= len(self.source_lines) else ""
            slot = None
            if row[: comment.pos.column - 1].strip():  # after code on the same line
                i = next(
                    (i for i, x in enumerate(lines) if x.lo is not None and x.lo <= n <= x.hi), None
                )
                if i is not None:
                    slot = (i, 1)
            if slot is None:
                i = next((i for i, x in enumerate(lines) if x.hi is not None and x.hi >= n), None)
                slot = (len(lines) if i is None else i, 0)
            if slot < last or slot in ((i, 1) for i in trailing):
                # Code joined on one line, or a second comment after it: on its own line after
                # the previous comment, so that the comments keep their order.
                slot = (last[0] + 1, 0) if last[1] else last
            last = slot
            i, after_code = slot
            if after_code:
                trailing[i] = comment
            elif i == len(lines):
                at_end.append(comment)
            else:
                before.setdefault(i, []).append(comment)
        return before, trailing, at_end

    # -- declarations
    def _decl(self, d: object) -> Frag:
        if isinstance(d, s.Header):
            version = f" version {_quote(d.version.value)}" if d.version else ""
            return _one(
                f"rulebook {d.name.name} {_quote(d.title.value)}{version}",
                d.pos.line,
                d.pos.end_line,
            )
        if isinstance(d, s.SchemaDecl):
            return self._schema(d)
        if isinstance(d, s.SetDecl):
            return self._set(d)
        if isinstance(d, s.ParameterDecl):
            return self._parameter(d)
        if isinstance(d, s.DefineDecl):
            return self._define(d)
        if isinstance(d, s.TableDecl):
            return self._table_decl(d)
        if isinstance(d, s.RuleDecl):
            return self._rule(d)
        if isinstance(d, s.ExceptionDecl):
            return self._exception(d, "")
        if isinstance(d, s.ExampleDecl):
            return self._example(d)
        if isinstance(d, s.ExampleDefaults):
            lines = _one("example defaults", d.pos.line)
            for table in d.tables:
                lines += self._example_table(table)
            lines[-1].mark(d.pos.end_line)
            return lines
        raise TypeError(f"déclaration inconnue : {type(d).__name__}")

    def _schema(self, d: s.SchemaDecl) -> Frag:
        head = f"{d.kind} {d.name.name} {_quote(d.title.value)}"
        last = d.title.pos
        if d.join_on is not None:
            head += f" joined on {d.join_on.name}"
            last = d.join_on.pos
        lines = _one(head, d.pos.line, last.end_line)
        name_w = max(len(f.name.name) for f in d.fields) + 2
        type_w = max(len(f.type_name.name) for f in d.fields) + 2
        for f in d.fields:
            base = (
                INDENT
                + f.name.name.ljust(name_w)
                + f.type_name.name.ljust(type_w)
                + ("required" if f.required else "optional")
            )
            options: list[tuple[str, s.Position]] = []
            if f.role is not None:
                options.append((f"role {f.role.name}", f.role.pos))
            if f.default is not None:
                options.append((f"default {_literal(f.default.value)}", f.default.pos))
            if f.allowed is not None:
                options.append((f"one of {_set_text(f.allowed.items)}", f.allowed.pos))
            field_lines = _one(base, f.pos.line)
            column = len(base) + 2
            for k, (option, pos) in enumerate(options):
                current = field_lines[-1]
                if k and len(current.text) + 2 + len(option) > WIDTH:
                    field_lines.append(_Line(" " * column + option).mark(pos.line, pos.end_line))
                else:
                    current.text += "  " + option
                    current.mark(pos.line, pos.end_line)
            field_lines[-1].mark(f.pos.end_line)
            lines += field_lines
        lines[-1].mark(d.pos.end_line)
        return lines

    def _set(self, d: s.SetDecl) -> Frag:
        title = f" {_quote(d.title.value)}" if d.title else ""
        head = f"set {d.name.name}{title} = "
        values = _set_text(d.items.items)
        source = f" source {_quote(d.source.value)}" if d.source else ""
        if len(head + values + source) <= WIDTH:
            return _one(head + values + source, d.pos.line, d.pos.end_line)
        if len(head + values) <= WIDTH:
            lines = _one(head + values, d.pos.line, d.items.pos.end_line)
            assert d.source is not None
            return lines + self._source_line(d.source, INDENT)
        lines = _one(head + "{", d.pos.line, d.items.pos.line)
        lines += _prefix(INDENT, _fill(_pieces(d.items.items), len(INDENT), INDENT))
        lines.append(_Line("}" + source).mark(d.items.pos.end_line, d.pos.end_line))
        return lines

    def _source_line(self, source: s.Text, indent: str) -> Frag:
        return _one(f"{indent}source {_quote(source.value)}", source.pos.line, source.pos.end_line)

    def _parameter(self, d: s.ParameterDecl) -> Frag:
        title = f" {_quote(d.title.value)}" if d.title else ""
        lines = _one(
            f"parameter {d.name.name}{title}", d.pos.line, (d.title or d.name).pos.end_line
        )
        lines += _one(f"{INDENT}type {d.type_name.name}", d.type_name.pos.line)
        if d.source is not None:
            lines += self._source_line(d.source, INDENT)
        for v in d.values:
            text = f"{INDENT}value {_literal(v.value.value)}"
            if v.period is not None:
                text += " " + _period(v.period)
            if v.source is not None:
                text += f" source {_quote(v.source.value)}"
            lines += _one(text, v.pos.line, v.pos.end_line)
        lines[-1].mark(d.pos.end_line)
        return lines

    def _define(self, d: s.DefineDecl) -> Frag:
        title = f" {_quote(d.title.value)}" if d.title else ""
        head = f"define {d.name.name}{title} = "
        source = f" source {_quote(d.source.value)}" if d.source else ""
        flat = self.x.flat(d.expr)
        broken = self.x.authored_broken(d.expr)
        if not broken and len(head + flat + source) <= WIDTH:
            return _one(head + flat + source, d.pos.line, d.pos.end_line)
        expr = self.x.layout(d.expr, len(head))
        if len(head) + len(expr[0].text) <= WIDTH and all(len(x.text) <= WIDTH for x in expr[1:]):
            lines = _prefix(head, expr)  # continued under the expression, as a `let`
            lines[0].mark(d.pos.line)
        else:  # the expression on lines of its own, under a long title
            lines = _one(head.rstrip(), d.pos.line)
            lines += _prefix(INDENT, self.x.layout(d.expr, len(INDENT)))
        if d.source is not None:
            lines += self._source_line(d.source, INDENT)
        lines[-1].mark(d.pos.end_line)
        return lines

    def _table_decl(self, d: s.TableDecl) -> Frag:
        title = f" {_quote(d.title.value)}" if d.title else ""
        lines = _one(f"table {d.name.name}{title}", d.pos.line, (d.title or d.name).pos.end_line)
        lines += _one(f"{INDENT}hit policy {d.hit_policy.name}", d.hit_policy.pos.line)
        if d.source is not None:
            lines += self._source_line(d.source, INDENT)
        if d.columns:
            name_w = max(len(c.name.name) for c in d.columns) + 1
            type_w = max(len(c.type_name.name) for c in d.columns) + 1
            for c in d.columns:
                options = []
                if c.domain is not None:
                    options.append(f"in {c.domain.name}")
                if c.allowed is not None:
                    options.append(f"one of {_set_text(c.allowed.items)}")
                if c.default is not None:
                    options.append(f"default {_literal(c.default.value)}")
                text = (
                    INDENT
                    + c.kind.ljust(len("output") + 1)
                    + c.name.name.ljust(name_w)
                    + c.type_name.name.ljust(type_w)
                    + " ".join(options)
                )
                lines += _one(text.rstrip(), c.pos.line, c.pos.end_line)
        lines += self._table(d.table, INDENT)
        lines[-1].mark(d.pos.end_line)
        return lines

    def _table(self, table: s.Table, indent: str) -> Frag:
        rows = [table.header, *table.rows]
        widths: list[int] = []
        for row in rows:
            for k, cell in enumerate(row):
                if k == len(widths):
                    widths.append(0)
                widths[k] = max(widths[k], len(cell.text))
        lines: Frag = []
        for row in rows:
            text = indent + "|"
            for k, cell in enumerate(row):
                if k == table.inputs:
                    text += "|"
                text += " " + cell.text.ljust(widths[k]) + " |"
            if table.inputs is not None and table.inputs == len(row):
                text += "|"
            lines += _one(text.rstrip(), row[0].pos.line, row[-1].pos.end_line)
        return lines

    def _rule(self, d: s.RuleDecl) -> Frag:
        lines = _one(f"rule {d.id.name} {_quote(d.title.value)}", d.pos.line, d.title.pos.end_line)
        for clause in d.clauses:
            if isinstance(clause, s.ExceptionDecl):
                lines += self._exception(clause, INDENT)
            else:
                lines += self._clause(clause)
        lines[-1].mark(d.pos.end_line)
        return lines

    def _clause(self, c: s.Clause) -> Frag:
        kind, value = c.kind, c.value
        if kind in ("source", "message"):
            assert isinstance(value, s.Text)
            frag = _one(f"{INDENT}{kind} {_quote(value.value)}")
        elif kind == "period":
            assert isinstance(value, s.Period)
            frag = _one(INDENT + _period(value))
        elif kind == "severity":
            if isinstance(value, s.Ident):
                frag = _one(f"{INDENT}severity {value.name}")
            else:
                when_true, cond, otherwise = value  # type: ignore[misc]
                head = f"{INDENT}severity {when_true.name} if "
                tail = f" else {otherwise.name}"
                frag = _prefix(head, self.x.layout(cond, len(head), 1, reserve=len(tail)))
                _suffix(frag, tail)
        elif kind == "let":
            assert c.name is not None
            head = f"{INDENT}let {c.name.name} = "
            frag = _prefix(head, self.x.layout(value, len(head)))  # type: ignore[arg-type]
        elif kind == "when":
            head = f"{INDENT}when "
            frag = _prefix(head, self.x.layout(value, len(head), hanging=True))  # type: ignore[arg-type]
        elif kind in ("stake", "count"):
            head = f"{INDENT}{kind} "
            frag = _prefix(head, self.x.layout(value, len(head)))  # type: ignore[arg-type]
        elif kind == "group":
            frag = self._group(value)  # type: ignore[arg-type]
        elif kind == "cap":
            if value is None:
                frag = _one(f"{INDENT}flag once per group")
            else:
                head = f"{INDENT}at most "
                tail = " percent" if c.flag else ""
                frag = _prefix(head, self.x.layout(value, len(head), reserve=len(tail)))  # type: ignore[arg-type]
                _suffix(frag, tail)
        else:
            raise TypeError(f"clause inconnue : {kind}")
        frag[0].mark(c.pos.line)
        frag[-1].mark(c.pos.end_line)
        return frag

    def _group(self, exprs: tuple[s.Expr, ...]) -> Frag:
        head = f"{INDENT}for each "
        flat = ", ".join(self.x.flat(e) for e in exprs)
        if len(head + flat) <= WIDTH and not any(self.x.authored_broken(e) for e in exprs):
            return _one(head + flat, _start(exprs[0]), _end(exprs[-1]))
        frag: Frag = []
        for i, e in enumerate(exprs):
            last = i == len(exprs) - 1
            sub = self.x.layout(e, len(head), reserve=0 if last else 1)
            if not last:
                _suffix(sub, ",")
            frag += _prefix(head if i == 0 else " " * len(head), sub)
        return frag

    def _exception(self, d: s.ExceptionDecl, indent: str) -> Frag:
        if d.rule is None:
            head = f"{indent}unless {d.id.name} {_quote(d.title.value)}"
        else:
            head = f"{indent}exception {d.id.name} to {d.rule.name} {_quote(d.title.value)}"
        source = f" source {_quote(d.source.value)}" if d.source else ""
        one = f"{head}{source} when {self.x.flat(d.condition)}"
        if not self.x.authored_broken(d.condition) and len(one) <= WIDTH:
            return _one(one, d.pos.line, d.pos.end_line)
        inner = indent + INDENT
        lines = _one(head, d.pos.line, d.title.pos.end_line)
        if d.source is not None:
            lines += self._source_line(d.source, inner)
        when = f"{inner}when "
        lines += _prefix(when, self.x.layout(d.condition, len(when), hanging=True))
        lines[-1].mark(d.pos.end_line)
        return lines

    def _example(self, d: s.ExampleDecl) -> Frag:
        head = f"example {_quote(d.title.value)}"
        last = d.title.pos
        if d.rules:
            head += " for " + ", ".join(r.name for r in d.rules)
            last = d.rules[-1].pos
        lines = _one(head, d.pos.line, last.end_line)
        for table in d.tables:
            lines += self._example_table(table)
        if d.expect is None:
            lines += _one(f"{INDENT}expect none")
        else:
            lines += _one(f"{INDENT}expect")  # the keyword has no position: inferred later
            lines += self._table(d.expect, INDENT * 2)
        lines[-1].mark(d.pos.end_line)
        return lines

    def _example_table(self, t: s.ExampleTable) -> Frag:
        lines = _one(f"{INDENT}{t.name.name}", t.name.pos.line, t.name.pos.end_line)
        return lines + self._table(t.table, INDENT * 2)
