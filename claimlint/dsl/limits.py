"""Bounds on what one rulebook file may hold, so a hostile or broken file fails with a clear
error instead of a RecursionError, a hang or an exhausted memory.

Lark's LALR parser keeps its stack in a list, but the steps after it (tree -> syntax,
resolution, both engines, the formatter) walk expressions recursively: the parser measures
nesting before any of them runs.
"""

from __future__ import annotations

from claimlint.dsl import model as m
from claimlint.errors import Diagnostic, Position, RulebookError

MAX_FILE_CHARS = 2_000_000  # the whole shipped convention is under 150,000
MAX_LINE_CHARS = 10_000
MAX_DEPTH = 64  # nested parentheses, or operators of an expression, one inside the other
MAX_TABLE_ROWS = 10_000  # rows of one table (decision table or example)
MAX_TABLE_COLUMNS = 200  # cells of one table row
MAX_NODES = 10_000  # nodes of one resolved expression, once defines and lets are put in


def _number(n: int) -> str:
    """10000 -> "10 000", as French writes counts."""
    return f"{n:,}".replace(",", "\u202f")


def check_size(size: int, label: str) -> None:
    """A file too large to be a rulebook is refused before it is read."""
    if size > MAX_FILE_CHARS:
        raise RulebookError(
            Diagnostic(
                f"{label} : fichier trop volumineux ({_number(size)} caractères, "
                f"au plus {_number(MAX_FILE_CHARS)})",
                hint="un recueil se découpe en plusieurs fichiers .rules dans un dossier",
            )
        )


def check_text(text: str, path: str) -> None:
    """The file's size and the length of each line, checked before the lexer sees them."""
    check_size(len(text), path)
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise RulebookError(
                Diagnostic(
                    f"ligne trop longue : {_number(len(line))} caractères "
                    f"(au plus {_number(MAX_LINE_CHARS)})",
                    Position(path, number, MAX_LINE_CHARS + 1),
                    "coupez la ligne : un ensemble ou une condition peut s'écrire sur "
                    "plusieurs lignes",
                )
            )


def too_deep(position: Position) -> RulebookError:
    return RulebookError(
        Diagnostic(
            f"expression trop imbriquée : plus de {MAX_DEPTH} niveaux de parenthèses "
            "ou d'opérateurs",
            position,
            "nommez une partie de l'expression avec « let » ou « define »",
        )
    )


def expression_shape(expr: m.Expr) -> tuple[int, int]:
    """Depth (levels of operators, as the parser counts them) and size of a resolved
    expression, as the engines will walk it.

    A define (or let) used twice is one shared node here but walked twice by the engines:
    the size counts it each time, without walking it again (a chain of `D2 = D1 + D1` would
    otherwise take exponential time to measure, as it would to run).
    """
    shape: dict[int, tuple[int, int]] = {}
    stack: list[tuple[m.Expr, bool]] = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in shape:
            continue
        children = m.children(node)
        if ready:
            measured = [shape[id(c)] for c in children]
            depth = 1 + max(d for d, _ in measured) if measured else 0  # leaves: no level
            shape[id(node)] = (depth, 1 + sum(n for _, n in measured))
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in shape)
    return shape[id(expr)]


def nesting_problem(expr: m.Expr) -> str | None:
    """Why a resolved expression is too deep or too large for the engines, if it is."""
    depth, size = expression_shape(expr)
    if depth > MAX_DEPTH:
        return (
            f"expression trop imbriquée : plus de {MAX_DEPTH} niveaux une fois remplacés "
            "les noms qu'elle emploie (define, let)"
        )
    if size > MAX_NODES:
        return (
            f"expression trop grande : plus de {_number(MAX_NODES)} éléments une fois "
            "remplacés les noms qu'elle emploie (define, let)"
        )
    return None


def too_many_rows(position: Position) -> RulebookError:
    return RulebookError(
        Diagnostic(
            f"tableau trop grand : plus de {_number(MAX_TABLE_ROWS)} lignes",
            position,
            "découpez le tableau en plusieurs tables",
        )
    )


def too_many_columns(position: Position) -> RulebookError:
    return RulebookError(
        Diagnostic(
            f"ligne de tableau trop large : plus de {MAX_TABLE_COLUMNS} cellules",
            position,
            "découpez le tableau en plusieurs tables",
        )
    )
