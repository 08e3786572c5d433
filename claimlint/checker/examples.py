"""Examples written in a rulebook, run as tests (`claimlint test`).

An example gives a few rows per table and the violations expected. Cells are read with the
same parsers as input files. Two conveniences keep examples short:
- a cell `S{1..21}` expands its row into 21 rows (S1 … S21; every `{a..b}` of the row takes
  the same number, zero-padded to the width of `a`);
- a cell `{line_id}` copies another column of the same row (claim_id defaults that way).
Columns an example leaves out take the rulebook's `example defaults`, then the schema default.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from claimlint.checker import interpreter
from claimlint.checker.readers import Batch, parse_value
from claimlint.checker.violations import Violation
from claimlint.dsl import model as m
from claimlint.dsl import syntax as s
from claimlint.dsl.schema import Role, Schema
from claimlint.errors import ClaimlintError, Diagnostic

_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_COPY = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@attrs.frozen
class ExampleResult:
    example: m.Example
    expected: tuple[tuple[str, ...], ...]  # projected on the expect table's columns
    actual: tuple[tuple[str, ...], ...]
    columns: tuple[str, ...]
    violations: tuple[Violation, ...]
    line_ids: tuple[str, ...]  # the input rows the example fed to the rules

    def silent_lines(self, rule_id: str) -> tuple[str, ...]:
        """Input lines the rule did not flag: the example shows the rule staying silent."""
        flagged = {v.line_id for v in self.violations if v.rule == rule_id}
        return tuple(i for i in self.line_ids if i not in flagged)

    @property
    def passed(self) -> bool:
        return Counter(self.expected) == Counter(self.actual)

    def explain(self) -> str:
        """What differs, in French, one line per unexpected or missing violation."""
        missing = Counter(self.expected) - Counter(self.actual)
        extra = Counter(self.actual) - Counter(self.expected)
        out = []
        for row in sorted(missing.elements()):
            out.append("    attendue, absente : " + _show(self.columns, row))
        for row in sorted(extra.elements()):
            out.append("    inattendue        : " + _show(self.columns, row))
        return "\n".join(out)


def _show(columns: tuple[str, ...], row: tuple[str, ...]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, row, strict=True))


def _schema_for(rulebook: m.Rulebook, name: str) -> Schema:
    if name == rulebook.input.name:
        return rulebook.input
    ref = rulebook.reference(name)
    assert ref is not None, "the resolver checked example table names"
    return ref.schema


def _expand(table: s.Table) -> list[list[s.Cell]]:
    """Rows with `{a..b}` ranges expanded."""
    rows = []
    for row in table.rows:
        ranges = {(int(a), int(b), len(a)) for c in row for a, b in _RANGE.findall(c.text)}
        if not ranges:
            rows.append(list(row))
            continue
        if len(ranges) > 1 or any(a > b for a, b, _ in ranges):
            raise ClaimlintError(
                Diagnostic(
                    "plages {a..b} différentes ou vides sur une même ligne d'exemple",
                    row[0].pos,
                )
            )
        ((start, end, width),) = ranges
        for n in range(start, end + 1):
            number = str(n).zfill(width)
            rows.append([attrs.evolve(c, text=_RANGE.sub(number, c.text)) for c in row])
    return rows


def _rows(
    schema: Schema, table: s.Table | None, defaults: Mapping[str, s.Cell]
) -> list[dict[str, Any]]:
    """The rows of one table; a reference table the example leaves out is its default row."""
    if table is None and defaults:
        names: list[str] = []
        raw_rows: list[list[s.Cell]] = [[]]  # one row, all from the defaults
    else:
        names = [c.text for c in table.header] if table else []
        raw_rows = _expand(table) if table else []
    result = []
    for cells in raw_rows:
        texts: dict[str, s.Cell] = dict(defaults)
        texts.update(zip(names, cells, strict=True))
        row: dict[str, Any] = {}
        for field in schema.fields:
            cell = texts.get(field.name)
            text = cell.text if cell else ""
            text = _COPY.sub(functools.partial(_copy_cell, texts), text)
            if not text:
                if field.required and field.default is None:
                    raise ClaimlintError(
                        Diagnostic(
                            f"exemple : colonne obligatoire « {field.name} » sans valeur",
                            cells[0].pos if cells else None,
                            "donnez-la dans l'exemple ou dans « example defaults »",
                        )
                    )
                row[field.name] = field.default
                continue
            try:
                row[field.name] = parse_value(text, field, decimal_comma=False)
            except ValueError as err:
                raise ClaimlintError(
                    Diagnostic(f"exemple : {err}", cell.pos if cell else None)
                ) from None
        result.append(row)
    return result


def _copy_cell(texts: Mapping[str, s.Cell], match: re.Match) -> str:
    cell = texts.get(match[1])
    return cell.text if cell else ""


def _batch(schema: Schema, rows: list[dict[str, Any]], label: str) -> Batch:
    return Batch(
        schema=schema,
        file=label,
        rows=tuple(rows),
        lines=tuple(range(1, len(rows) + 1)),
        rejected=(),
        read=len(rows),
    )


def _project(v: Violation, columns: tuple[str, ...]) -> tuple[str, ...]:
    record = v.record()
    return tuple("" if record[c] is None else str(record[c]) for c in columns)


def _expected(table: s.Table | None, columns: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    if table is None:
        return ()
    rows = []
    for cells in _expand(table):
        by_name = {h.text: c.text for h, c in zip(table.header, cells, strict=True)}
        rows.append(tuple(_canonical(c, by_name.get(c, "")) for c in columns))
    return tuple(rows)


def _canonical(column: str, text: str) -> str:
    """Expected cells as the record writes them (amounts with two places)."""
    if column == "amount_at_stake" and text:
        try:
            return f"{m.money(Decimal(text.replace(',', '.'))):f}"
        except InvalidOperation:
            return text
    return text


def example_batches(rulebook: m.Rulebook, example: m.Example) -> tuple[Batch, dict[str, Batch]]:
    """The claim lines and reference rows an example feeds to the engines."""
    tables = {t.name.name: t.table for t in example.tables}
    defaults = {
        t.name.name: dict(zip((c.text for c in t.table.header), t.table.rows[0], strict=True))
        for t in rulebook.example_defaults
    }
    label = f"exemple « {example.title} »"
    name = rulebook.input.name
    batch = _batch(
        rulebook.input, _rows(rulebook.input, tables.get(name), defaults.get(name, {})), label
    )
    references = {
        ref.name: _batch(
            ref.schema, _rows(ref.schema, tables.get(ref.name), defaults.get(ref.name, {})), label
        )
        for ref in rulebook.references
    }
    return batch, references


def run_example(
    rulebook: m.Rulebook, example: m.Example, coverage: dict[str, set[int]] | None = None
) -> ExampleResult:
    batch, references = example_batches(rulebook, example)
    violations = interpreter.check(rulebook, batch, references, example.rules or None, coverage)
    key = rulebook.input.by_role(Role.LINE)
    columns = (
        tuple(c.text for c in example.expect.header) if example.expect else ("rule", "line_id")
    )
    return ExampleResult(
        example=example,
        expected=_expected(example.expect, columns),
        actual=tuple(_project(v, columns) for v in violations),
        columns=columns,
        violations=tuple(violations),
        line_ids=tuple(str(row[key.name]) for row in batch.rows) if key else (),
    )


def run_all(
    rulebook: m.Rulebook, coverage: dict[str, set[int]] | None = None
) -> list[ExampleResult]:
    return [run_example(rulebook, e, coverage) for e in rulebook.examples]


@attrs.frozen
class RuleCoverage:
    rule: str
    fired: bool  # some example makes it fire
    silent: bool  # some example feeds it a line it leaves alone


@attrs.frozen
class Coverage:
    """What the examples exercise: each rule firing and silent, each decision-table row."""

    rules: tuple[RuleCoverage, ...]
    table_rows: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # table, all, covered

    @property
    def rules_covered(self) -> int:
        return sum(1 for r in self.rules if r.fired and r.silent)

    @property
    def rows_total(self) -> int:
        return sum(len(all_rows) for _, all_rows, _ in self.table_rows)

    @property
    def rows_covered(self) -> int:
        return sum(len(covered) for _, _, covered in self.table_rows)


def coverage(rulebook: m.Rulebook) -> tuple[list[ExampleResult], Coverage]:
    rows: dict[str, set[int]] = {}
    results = run_all(rulebook, rows)
    rules = []
    for rule in rulebook.rules:
        covering = [r for r in results if not r.example.rules or rule.id in r.example.rules]
        rules.append(
            RuleCoverage(
                rule.id,
                fired=any(v.rule == rule.id for r in covering for v in r.violations),
                silent=any(r.silent_lines(rule.id) for r in covering),
            )
        )
    tables = tuple(
        (
            name,
            tuple(row.number for row in table.rows),
            tuple(sorted(rows.get(name, set()))),
        )
        for name, table in sorted(rulebook.tables.items())
    )
    return results, Coverage(tuple(rules), tables)
