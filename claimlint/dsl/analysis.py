"""Static analysis of decision tables: gaps, overlaps, masked, duplicate and subsumed rows.

In the spirit of Drools' DMN validation and of the sweep of Calvanese et al. ("Semantic DMN:
formalizing and reasoning about decision models"). Each input column gets a domain
cut into *atoms*, elementary pieces on which every cell of the column is either true or false:

- integer, date (as an ordinal) and time (in minutes) are discrete: `< 5` and `>= 5` leave no
  gap, `[1..4]` and `[5..9]` leave none either, `< 5` and `> 5` leave 5;
- decimal and money are dense: the atoms are the bounds themselves and the open intervals
  between them, so `[1..4]` and `[5..9]` leave (4, 5);
- boolean is {true, false}; a declared domain (`one of {…}`, `in SET`) is that finite set;
- undeclared text is the values the cells mention plus one "any other value" atom; a text
  column without a declared domain tested with `<`, `>` or ranges is not analysed.

Every atom carries a representative, a real input value, and which rows cover an atom is
decided by evaluating the cell on that representative with the evaluator's semantics (see
`CellTest.matches`, the model's own meaning of a cell), so examples reported here match exactly the rows the
evaluator says. A row's region is then a product of atom sets. Missing (null) inputs are
outside the analysis.

The sweep walks the columns one by one, grouping the atoms of the current column by the set of
rows still active on them (merging pieces with identical outcomes) and recursing on each group:
an empty set is a gap; with the first-hit and priority policies the rows that win somewhere
are recorded, the others are masked. Overlaps, duplicates and subsumption are pairwise
products of atom sets. This module reads only the model: the dependency direction is
grammar -> dsl -> checker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import attrs

from claimlint.dsl.model import (
    CellTest,
    DecisionTable,
    HitPolicy,
    Rulebook,
    Severity,
    TableColumn,
)
from claimlint.dsl.types import Type
from claimlint.errors import Position

KINDS = ("unanalysable", "gap", "overlap", "duplicate", "masked", "subsumed")
MAX_GAPS = 20  # per table; the last reported gap says how many more there are

SINGLE_HIT = (HitPolicy.UNIQUE, HitPolicy.ANY, HitPolicy.PRIORITY, HitPolicy.FIRST)
# may_conflict's budget (a tenth of a second or so): pairs of rows, cells tested on atoms.
MAX_PROOF_PAIRS = 50_000
MAX_PROOF_TESTS = 200_000


@attrs.frozen
class Finding:
    """One thing the analysis found in a table."""

    kind: str  # "gap", "overlap", "masked", "duplicate", "subsumed", "unanalysable"
    severity: Severity
    table: str
    rows: tuple[int, ...]  # DMN row numbers; the row at fault first for masked and subsumed
    message: str  # French
    example: tuple[tuple[str, Any], ...]  # an input (column name -> value) exhibiting it
    position: Position  # the table's (gap) or the first row's


# ----------------------------------------------------------------------------- evaluation

# ----------------------------------------------------------------------------- French values


def french(value: Any, type_: Type | None = None) -> str:
    """A value in a message: 22/12/2024, 19:30, 4,5, 15,00, "G", vrai."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "vrai" if value else "faux"
    if isinstance(value, Decimal):
        if type_ is Type.MONEY and value == value.quantize(Decimal("0.01")):
            value = value.quantize(Decimal("0.01"))
        else:
            value = value.normalize()
        return f"{value:f}".replace(".", ",")
    if isinstance(value, dt.date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    if isinstance(value, str):
        return '"' + value + '"'
    return str(value)


def _numbers(rows: Sequence[int]) -> str:
    items = [str(r) for r in rows]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


# ----------------------------------------------------------------------------- domains


@attrs.frozen
class _Atom:
    """An elementary piece of a column's domain and a real value inside it.

    shape: ("value", v) a single value of a finite domain or a mentioned text;
    ("other",) any text not mentioned; ("range", lo, hi) discrete keys, both included, None
    at the domain's ends; ("point", b) and ("open", lo, hi) dense pieces, None unbounded.
    """

    shape: tuple
    value: Any


@attrs.frozen
class _Axis:
    column: TableColumn
    kind: str  # "finite", "text", "discrete", "dense"
    atoms: tuple[_Atom, ...]
    to_value: Callable[[int], Any] | None = None  # discrete: key -> value


def _time_key(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _time_value(key: int) -> dt.time:
    return dt.time(key // 60, key % 60)


# type -> (value -> key, key -> value, lowest key, highest key, a value for an unsplit domain)
_DISCRETE: dict[Type, tuple[Callable[[Any], int], Callable[[int], Any], Any, Any, Any]] = {
    Type.INTEGER: (int, int, None, None, 0),
    Type.DATE: (
        dt.date.toordinal,
        dt.date.fromordinal,
        dt.date.min.toordinal(),
        dt.date.max.toordinal(),
        dt.date(2000, 1, 1),
    ),
    Type.TIME: (_time_key, _time_value, 0, 24 * 60 - 1, dt.time(12, 0)),
}


def _discrete_axis(column: TableColumn, cells: Sequence[CellTest]) -> _Axis:
    key, to_value, lowest, highest, anywhere = _DISCRETE[column.type]
    cuts: set[int] = set()  # keys where a new atom starts
    for cell in cells:
        for t in cell.tests:
            if t.value is None:
                continue
            k = key(t.value)
            if t.op in ("=", "!="):
                cuts.update((k, k + 1))
            elif t.op == "<":
                cuts.add(k)
            elif t.op in ("<=", ">"):
                cuts.add(k + 1)
            elif t.op == ">=":
                cuts.add(k)
            else:  # range
                cuts.add(k if t.low_closed else k + 1)
                h = key(t.high)
                cuts.add(h + 1 if t.high_closed else h)
    starts = sorted(
        c for c in cuts if (lowest is None or c > lowest) and (highest is None or c <= highest)
    )
    bounds = [lowest, *starts]
    atoms = []
    for i, lo in enumerate(bounds):
        hi = bounds[i + 1] - 1 if i + 1 < len(bounds) else highest
        lo_edge = lo is None or lo == lowest
        hi_edge = hi is None or hi == highest
        if not lo_edge:
            value = to_value(lo)
        elif not hi_edge:
            value = to_value(hi)  # just below the lowest bound
        else:
            value = anywhere
        atoms.append(_Atom(("range", None if lo_edge else lo, None if hi_edge else hi), value))
    return _Axis(column, "discrete", tuple(atoms), to_value)


def _dense_axis(column: TableColumn, cells: Sequence[CellTest]) -> _Axis:
    bounds: set[Decimal] = set()
    for cell in cells:
        for t in cell.tests:
            for v in (t.value, t.high):
                if v is not None:
                    bounds.add(Decimal(v))
    ordered = sorted(bounds)
    if not ordered:
        return _Axis(column, "dense", (_Atom(("open", None, None), Decimal(0)),))
    atoms = [_Atom(("open", None, ordered[0]), ordered[0] - 1)]
    for i, b in enumerate(ordered):
        atoms.append(_Atom(("point", b), b))
        if i + 1 < len(ordered):
            nxt = ordered[i + 1]
            atoms.append(_Atom(("open", b, nxt), (b + nxt) / 2))
    atoms.append(_Atom(("open", ordered[-1], None), ordered[-1] + 1))
    return _Axis(column, "dense", tuple(atoms))


def _sort_key(value: Any) -> tuple:
    return (str(type(value)), value)


def _other_text(taken: set[str]) -> str:
    other = "AUTRE"
    while other in taken:
        other += "_"
    return other


def _axis(column: TableColumn, cells: Sequence[CellTest]) -> _Axis:
    if column.domain is not None:
        values = sorted(column.domain, key=_sort_key)
        return _Axis(column, "finite", tuple(_Atom(("value", v), v) for v in values))
    if column.type is Type.BOOLEAN:
        return _Axis(column, "finite", tuple(_Atom(("value", v), v) for v in (True, False)))
    if column.type in _DISCRETE:
        return _discrete_axis(column, cells)
    if column.type in (Type.DECIMAL, Type.MONEY):
        return _dense_axis(column, cells)
    mentioned = sorted({t.value for c in cells for t in c.tests if t.value is not None})
    atoms = [_Atom(("value", v), v) for v in mentioned]
    atoms.append(_Atom(("other",), _other_text(set(mentioned))))
    return _Axis(column, "text", tuple(atoms))


def _ordering_tests(column: TableColumn, cells: Sequence[CellTest]) -> list[int]:
    """Indexes of the cells comparing an undeclared text column by order."""
    if column.type is not Type.TEXT or column.domain is not None:
        return []
    return [
        i
        for i, c in enumerate(cells)
        if any(t.op not in ("=", "!=") and t.value is not None for t in c.tests)
    ]


# ----------------------------------------------------------------------------- descriptions


def _runs(atoms: int, count: int) -> list[tuple[int, int]]:
    """Maximal runs of consecutive atom indexes in a bitset, as (first, last)."""
    runs: list[tuple[int, int]] = []
    k = 0
    while k < count:
        if atoms >> k & 1:
            first = k
            while k + 1 < count and atoms >> (k + 1) & 1:
                k += 1
            runs.append((first, k))
        k += 1
    return runs


def _values(name: str, values: Sequence[Any], type_: Type, negated: bool) -> str:
    if len(values) == 1:
        return f"{name} {'!=' if negated else '='} {french(values[0], type_)}"
    listed = ", ".join(french(v, type_) for v in values)
    return f"{name} {'hors de' if negated else 'dans'} {{{listed}}}"


def _describe_axis(axis: _Axis, atoms: int) -> str | None:
    """The atoms in French, None when they are the whole domain."""
    count = len(axis.atoms)
    if atoms == (1 << count) - 1:
        return None
    name, type_ = axis.column.name, axis.column.type
    chosen = [a for k, a in enumerate(axis.atoms) if atoms >> k & 1]
    if axis.kind in ("finite", "text"):
        values = [a.value for a in chosen if a.shape[0] == "value"]
        if axis.kind == "text" and any(a.shape[0] == "other" for a in chosen):
            left = [a.value for a in axis.atoms if a.shape[0] == "value" and a not in chosen]
            return _values(name, left, type_, negated=True)
        if axis.kind == "finite" and len(values) > 1 and count - len(values) == 1:
            left = [a.value for a in axis.atoms if a not in chosen]
            return _values(name, left, type_, negated=True)
        return _values(name, values, type_, negated=False)
    parts = []
    for first, last in _runs(atoms, count):
        if axis.kind == "discrete":
            assert axis.to_value is not None
            lo, hi = axis.atoms[first].shape[1], axis.atoms[last].shape[2]
            if lo is None and hi is None:
                continue
            if lo is None:
                parts.append(f"{name} < {french(axis.to_value(hi + 1), type_)}")
            elif hi is None:
                parts.append(f"{name} >= {french(axis.to_value(lo), type_)}")
            elif lo == hi:
                parts.append(f"{name} = {french(axis.to_value(lo), type_)}")
            else:
                low, high = french(axis.to_value(lo), type_), french(axis.to_value(hi), type_)
                parts.append(f"{name} dans [{low} ; {high}]")
            continue
        a, b = axis.atoms[first].shape, axis.atoms[last].shape
        lo, lo_closed = (a[1], True) if a[0] == "point" else (a[1], False)
        hi, hi_closed = (b[1], True) if b[0] == "point" else (b[2], False)
        if lo is not None and lo == hi:
            parts.append(f"{name} = {french(lo, type_)}")
        elif lo is None:
            parts.append(f"{name} {'<=' if hi_closed else '<'} {french(hi, type_)}")
        elif hi is None:
            parts.append(f"{name} {'>=' if lo_closed else '>'} {french(lo, type_)}")
        else:
            parts.append(
                f"{name} dans {'[' if lo_closed else ']'}{french(lo, type_)} ; "
                f"{french(hi, type_)}{']' if hi_closed else '['}"
            )
    if len(parts) > 1:
        return "(" + " ou ".join(parts) + ")"
    return parts[0] if parts else None


def _describe(axes: Sequence[_Axis], region: Sequence[int]) -> str:
    parts = [_describe_axis(ax, atoms) for ax, atoms in zip(axes, region, strict=True)]
    return ", ".join(p for p in parts if p)


def _example(axes: Sequence[_Axis], region: Sequence[int]) -> tuple[tuple[str, Any], ...]:
    """A point of the region: the representative of its first atom on each column."""
    return tuple(
        (ax.column.name, ax.atoms[(atoms & -atoms).bit_length() - 1].value)
        for ax, atoms in zip(axes, region, strict=True)
    )


def _show_example(example: Sequence[tuple[str, Any]], columns: Sequence[TableColumn]) -> str:
    types = {c.name: c.type for c in columns}
    return ", ".join(f"{name} = {french(v, types.get(name))}" for name, v in example)


# ----------------------------------------------------------------------------- the sweep


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class _Sweep:
    """Gaps, and for F and P the rows that decide the result somewhere."""

    def __init__(
        self,
        axes: Sequence[_Axis],
        cover: Sequence[Sequence[int]],
        winners: str | None,  # None, "first" or "priority"
        priority: Sequence[tuple[int, ...]],
    ):
        self.axes = axes
        self.n = len(cover)
        self.full = [(1 << len(ax.atoms)) - 1 for ax in axes]
        # atom_rows[d][k]: the rows whose cell on column d covers atom k
        self.atom_rows = [
            [
                sum(1 << r for r in range(self.n) if cover[r][d] >> k & 1)
                for k in range(len(ax.atoms))
            ]
            for d, ax in enumerate(axes)
        ]
        # full_rows[d]: the rows covering every atom of columns d, d+1, ...
        self.full_rows = [0] * (len(axes) + 1)
        self.full_rows[len(axes)] = (1 << self.n) - 1
        for d in range(len(axes) - 1, -1, -1):
            whole = sum(1 << r for r in range(self.n) if cover[r][d] == self.full[d])
            self.full_rows[d] = self.full_rows[d + 1] & whole
        self.winners = winners
        self.priority = priority
        self.gaps: list[tuple[int, ...]] = []
        self.effective = 0  # rows that decide the result at some point

    def run(self) -> None:
        self._visit(0, (1 << self.n) - 1, [])

    def _best(self, rows: int) -> int:
        """The rows of best (lowest) priority among `rows`."""
        indexes = _bits(rows)
        best = min(self.priority[r] for r in indexes)
        return sum(1 << r for r in indexes if self.priority[r] == best)

    def _visit(self, d: int, active: int, prefix: list[int]) -> None:
        if not active:
            self.gaps.append((*prefix, *self.full[d:]))
            return
        catch = active & self.full_rows[d]
        if catch:  # these rows hold on all that is left: no gap below
            if self.winners is None:
                return
            if self.winners == "first":
                first = catch & -catch
                active &= (first << 1) - 1  # later rows never come first below
                if active == first:
                    self.effective |= first
                    return
            else:
                top = min(self.priority[r] for r in _bits(catch))
                active = sum(1 << r for r in _bits(active) if self.priority[r] <= top)
                if not active & ~self.full_rows[d]:
                    self.effective |= self._best(active)
                    return
        if d == len(self.axes):
            if self.winners == "first":
                self.effective |= active & -active
            elif self.winners == "priority":
                self.effective |= self._best(active)
            return
        groups: dict[int, int] = {}
        for k, rows in enumerate(self.atom_rows[d]):
            key = active & rows
            groups[key] = groups.get(key, 0) | (1 << k)
        for key, atoms in groups.items():
            prefix.append(atoms)
            self._visit(d + 1, key, prefix)
            prefix.pop()


def _merge_regions(regions: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Merge the regions equal on every column but one, column by column, until stable."""
    regions = list(dict.fromkeys(regions))
    width = len(regions[0]) if regions else 0
    changed = True
    while changed:
        changed = False
        for d in range(width):
            merged: dict[tuple[int, ...], int] = {}
            for region in regions:
                rest = region[:d] + region[d + 1 :]
                merged[rest] = merged.get(rest, 0) | region[d]
            if len(merged) < len(regions):
                changed = True
                regions = [rest[:d] + (atoms,) + rest[d:] for rest, atoms in merged.items()]
    return regions


# ----------------------------------------------------------------------------- analysis


def _priority(table: DecisionTable, outputs: tuple[Any, ...]) -> tuple[int, ...]:
    """As `claimlint.checker.tables._priority`: lower is higher priority."""
    return tuple(
        c.allowed.index(v) if c.allowed and v in c.allowed else len(c.allowed or ())
        for c, v in zip(table.outputs, outputs, strict=True)
    )


def _show_outputs(table: DecisionTable, outputs: tuple[Any, ...]) -> str:
    shown = [
        "-" if v is None else french(v, c.type) for c, v in zip(table.outputs, outputs, strict=True)
    ]
    return shown[0] if len(shown) == 1 else "(" + ", ".join(shown) + ")"


def analyse(table: DecisionTable) -> list[Finding]:
    """What the table's rows leave uncovered, cover twice, hide or repeat.

    Severities by hit policy (— : not reported):

    | finding      | U       | A                        | F, P    | R, O, C (aggregators too) |
    |--------------|---------|--------------------------|---------|---------------------------|
    | gap          | warning | warning                  | warning | info                      |
    | overlap      | error   | error if outputs differ  | —       | —                         |
    | masked       | —       | —                        | warning | —                         |
    | duplicate    | error   | error if outputs differ, | warning | info                      |
    |              |         | else warning             |         |                           |
    | subsumed     | warning | warning                  | info    | info                      |
    | unanalysable | info, and the table is not analysed further                              |

    A gap is only info under U, A, F, P when every output has a default (it then applies).
    A pair of duplicate rows is not also an overlap; a row masked only by its own duplicate
    (F: an earlier copy, P: a copy with a prioritary output) is not also masked; a masked row
    is not also subsumed. Rows that match no non-missing input (`null` only) are left out.
    """
    policy = table.hit.policy
    columns = [[row.tests[d] for row in table.rows] for d in range(len(table.inputs))]

    for d, column in enumerate(table.inputs):
        bad = _ordering_tests(column, columns[d])
        if bad:
            rows = tuple(table.rows[i].number for i in bad)
            cell = columns[d][bad[0]]
            return [
                Finding(
                    "unanalysable",
                    Severity.INFO,
                    table.name,
                    rows,
                    f"table non analysée : l'entrée texte « {column.name} » sans domaine déclaré "
                    f"est comparée par ordre (« {cell.text} », ligne {rows[0]}) ; déclarez ses "
                    f"valeurs (one of {{…}} ou in ENSEMBLE) pour l'analyser",
                    (),
                    cell.position,
                )
            ]

    axes = [_axis(c, columns[d]) for d, c in enumerate(table.inputs)]
    rows = table.rows
    cover = [
        [
            sum(1 << k for k, atom in enumerate(ax.atoms) if row.tests[d].matches(atom.value))
            for d, ax in enumerate(axes)
        ]
        for row in rows
    ]
    nulls = [tuple(c.matches(None) for c in row.tests) for row in rows]
    live = [all(cover[r]) for r in range(len(rows))]  # matches some non-missing input
    priority = [_priority(table, row.outputs) for row in rows]

    def inside(i: int, j: int) -> bool:  # region of row i within that of row j
        return all(a & ~b == 0 for a, b in zip(cover[i], cover[j], strict=True))

    def meet(i: int, j: int) -> tuple[int, ...] | None:
        region = tuple(a & b for a, b in zip(cover[i], cover[j], strict=True))
        return region if all(region) else None

    def finding(
        kind: str,
        severity: Severity,
        numbers: tuple[int, ...],
        message: str,
        region: Sequence[int] | None,
    ) -> Finding:
        example = _example(axes, region) if region is not None else ()
        position = rows[numbers[0] - 1].position if numbers else table.position
        return Finding(kind, severity, table.name, numbers, message, example, position)

    # --- gaps and masked rows, by the sweep
    winners = {HitPolicy.FIRST: "first", HitPolicy.PRIORITY: "priority"}.get(policy)
    sweep = _Sweep(axes, cover, winners, priority)
    sweep.run()
    gaps: list[Finding] = []
    has_defaults = all(c.default is not None for c in table.outputs)
    gap_severity = Severity.WARNING if policy in SINGLE_HIT and not has_defaults else Severity.INFO
    regions = _merge_regions(sweep.gaps)
    for region in regions[:MAX_GAPS]:
        where = _describe(axes, region)
        if where:
            message = f"lacune : aucune ligne ne couvre {where}"
        else:
            message = "lacune : aucune ligne ne s'applique, quelles que soient les entrées"
        if policy in SINGLE_HIT and has_defaults:
            message += " (la valeur par défaut s'applique)"
        gaps.append(finding("gap", gap_severity, (), message, region))
    if len(regions) > MAX_GAPS:
        last = gaps[-1]
        more = len(regions) - MAX_GAPS
        gaps[-1] = attrs.evolve(last, message=f"{last.message} (et {more} autres lacunes)")

    # --- duplicates: the same region and the same answer to missing inputs
    groups: dict[tuple, list[int]] = {}
    for r in range(len(rows)):
        if live[r]:
            groups.setdefault((tuple(cover[r]), nulls[r]), []).append(r)
    duplicates: list[Finding] = []
    twin: dict[int, int] = {}  # row index -> index of the first row of its group
    for members in groups.values():
        if len(members) < 2:
            continue
        for r in members:
            twin[r] = members[0]
        same = len({rows[r].outputs for r in members}) == 1
        numbers = tuple(rows[r].number for r in members)
        if policy is HitPolicy.UNIQUE:
            severity = Severity.ERROR
        elif policy is HitPolicy.ANY:
            severity = Severity.WARNING if same else Severity.ERROR
        elif policy in (HitPolicy.FIRST, HitPolicy.PRIORITY):
            severity = Severity.WARNING
        else:
            severity = Severity.INFO
        outcome = (
            "mêmes sorties"
            if same
            else "sorties différentes ("
            + " ; ".join(_show_outputs(table, rows[r].outputs) for r in members)
            + ")"
        )
        duplicates.append(
            finding(
                "duplicate",
                severity,
                numbers,
                f"lignes {_numbers(numbers)} en double : mêmes tests d'entrée, {outcome}",
                cover[members[0]],
            )
        )

    # --- overlaps (U: every one; A: different outputs), pairwise
    overlaps: list[Finding] = []
    if policy in (HitPolicy.UNIQUE, HitPolicy.ANY):
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                if i in twin and twin.get(j) == twin[i]:
                    continue  # reported as a duplicate
                differ = rows[i].outputs != rows[j].outputs
                if policy is HitPolicy.ANY and not differ:
                    continue
                region = meet(i, j)
                if region is None:
                    continue
                numbers = (rows[i].number, rows[j].number)
                where = _describe(axes, region) or "toutes les entrées"
                message = (
                    f"recouvrement : les lignes {_numbers(numbers)} s'appliquent toutes deux "
                    f"pour {where}"
                )
                if policy is HitPolicy.ANY or differ:
                    message += (
                        f" avec des sorties différentes ({_show_outputs(table, rows[i].outputs)}"
                        f" ; {_show_outputs(table, rows[j].outputs)})"
                    )
                overlaps.append(finding("overlap", Severity.ERROR, numbers, message, region))

    # --- masked rows (F, P)
    masked: list[Finding] = []

    def _explained(j: int) -> bool:  # masked by a duplicate of its own, reported as such
        group = [i for i in range(len(rows)) if i != j and j in twin and twin.get(i) == twin[j]]
        if policy is HitPolicy.FIRST:
            return any(i < j for i in group)
        return any(priority[i] < priority[j] for i in group)

    hidden: set[int] = set()
    if winners is not None:
        for j in range(len(rows)):
            if not live[j] or sweep.effective >> j & 1 or _explained(j):
                continue
            hidden.add(j)
            if policy is HitPolicy.FIRST:
                by = [i for i in range(j) if meet(i, j) is not None]
                others = _numbers([rows[i].number for i in by])
                message = (
                    f"ligne {rows[j].number} masquée : "
                    + (
                        f"les lignes précédentes {others} couvrent"
                        if len(by) > 1
                        else f"la ligne précédente {others} couvre"
                    )
                    + " déjà tous ses cas (politique F)"
                )
            else:
                by = [
                    i
                    for i in range(len(rows))
                    if priority[i] < priority[j] and meet(i, j) is not None
                ]
                others = _numbers([rows[i].number for i in by])
                message = (
                    f"ligne {rows[j].number} masquée : partout où elle s'applique, "
                    + (
                        f"les lignes {others} donnent"
                        if len(by) > 1
                        else f"la ligne {others} donne"
                    )
                    + " une sortie prioritaire (politique P)"
                )
            numbers = (rows[j].number, *(rows[i].number for i in by))
            masked.append(finding("masked", Severity.WARNING, numbers, message, cover[j]))

    # --- subsumed rows: within another row with the same outputs
    subsumed: list[Finding] = []
    severity = Severity.WARNING if policy in (HitPolicy.UNIQUE, HitPolicy.ANY) else Severity.INFO
    for i in range(len(rows)):
        if not live[i] or i in hidden:
            continue
        by = [
            j
            for j in range(len(rows))
            if j != i
            and live[j]
            and rows[j].outputs == rows[i].outputs
            and not (i in twin and twin.get(j) == twin[i])
            and inside(i, j)
            and not (j > i and inside(j, i))  # equal regions: the later row is the redundant one
        ]
        if not by:
            continue
        numbers = (rows[i].number, *(rows[j].number for j in by))
        others = _numbers([rows[j].number for j in by])
        message = (
            f"ligne {rows[i].number} redondante : "
            + (f"les lignes {others} couvrent" if len(by) > 1 else f"la ligne {others} couvre")
            + " tous ses cas avec les mêmes sorties"
        )
        subsumed.append(finding("subsumed", severity, numbers, message, cover[i]))

    return gaps + overlaps + duplicates + masked + subsumed


def may_conflict(table: DecisionTable) -> bool:
    """Whether some input could break a U table (two rows match) or an A table (two rows
    with different outputs match). False is a proof over every input, missing values and
    text outside a declared domain included: an engine may then skip the test per line.

    Declared domains are set aside (a computed input may fall outside them) and a time or
    an ordered undeclared text column is not analysed (seconds and text order fall between
    the atoms): such tables may conflict. So may a table too large to prove at once (the
    proof is quadratic in its rows): `check` calls this at start-up.
    """
    policy = table.hit.policy
    if policy not in (HitPolicy.UNIQUE, HitPolicy.ANY):
        return False
    rows = len(table.rows)
    if rows * (rows - 1) // 2 > MAX_PROOF_PAIRS:
        return True
    columns = [[row.tests[d] for row in table.rows] for d in range(len(table.inputs))]
    free = [attrs.evolve(c, domain=None) for c in table.inputs]
    if any(c.type is Type.TIME or _ordering_tests(c, columns[d]) for d, c in enumerate(free)):
        return True
    axes = [_axis(c, columns[d]) for d, c in enumerate(free)]
    if rows * sum(len(ax.atoms) for ax in axes) > MAX_PROOF_TESTS:
        return True
    # Per row and column: the atoms the cell matches, and whether it matches a missing value.
    cover = [
        [
            (
                sum(1 << k for k, a in enumerate(ax.atoms) if row.tests[d].matches(a.value)),
                row.tests[d].matches(None),
            )
            for d, ax in enumerate(axes)
        ]
        for row in table.rows
    ]
    for i, first in enumerate(table.rows):
        for j in range(i + 1, len(table.rows)):
            if policy is HitPolicy.ANY and first.outputs == table.rows[j].outputs:
                continue
            if all(
                (a & b) or (a_null and b_null)
                for (a, a_null), (b, b_null) in zip(cover[i], cover[j], strict=True)
            ):
                return True
    return False


def analyse_rulebook(rulebook: Rulebook) -> list[Finding]:
    """Every table's findings, tables in the order of their position."""
    tables = sorted(
        rulebook.tables.values(),
        key=lambda t: (t.position.file, t.position.line, t.position.column, t.name),
    )
    return [f for t in tables for f in analyse(t)]


def describe(finding: Finding, table: DecisionTable | None = None) -> str:
    """One line for a terminal: place, severity, kind, table, rows, message and example."""
    head = f"{finding.position}: {finding.severity.french} [{finding.kind}] table {finding.table}"
    if finding.rows:
        head += f", ligne{'s' if len(finding.rows) > 1 else ''} " + ", ".join(
            str(r) for r in finding.rows
        )
    text = f"{head} : {finding.message}"
    if finding.example:
        columns = table.inputs if table is not None else ()
        text += f" (exemple : {_show_example(finding.example, columns)})"
    return text
