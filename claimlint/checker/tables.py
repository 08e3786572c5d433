"""Decision-table evaluation with the DMN 1.3 hit-policy semantics.

One evaluator serves the rules (a table used as a lookup or a condition) and the DMN TCK
runner, so the conformance suite tests the very code that checks claims.

- U: at most one row may match; several is an error naming the rows and the inputs.
- A: several rows may match if their outputs are equal; otherwise an error.
- P: the match whose outputs come first in the outputs' value lists (first output first).
- F: the first match in row order.
- R: the outputs of every match, in row order; O: sorted by output priority.
- C: the outputs of every match (row order); C+ sum, C< min, C> max, C# count.
- No match: single-hit tables give the outputs' defaults (missing when none); lists are
  empty; C+ C< C> give missing and C# gives 0.
A missing input matches only `-` (and `null`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from claimlint.checker.values import french
from claimlint.dsl import model as m
from claimlint.errors import Diagnostic, EvaluationError


@attrs.frozen
class TableResult:
    """The table's value (one value, a dict for several outputs, or a list) and the rows used."""

    value: Any
    rows: tuple[int, ...]


def matching_rows(table: m.DecisionTable, values: Sequence[Any]) -> list[m.TableRow]:
    return [
        row
        for row in table.rows
        if all(c.matches(v) for c, v in zip(row.tests, values, strict=True))
    ]


def _outputs(table: m.DecisionTable, row: m.TableRow) -> Any:
    if len(table.outputs) == 1:
        return row.outputs[0]
    return {c.name: v for c, v in zip(table.outputs, row.outputs, strict=True)}


def _priority(table: m.DecisionTable, row: m.TableRow) -> tuple[int, ...]:
    """Lower is higher priority: the index of each output in its ordered value list."""
    return tuple(
        c.allowed.index(v) if c.allowed and v in c.allowed else len(c.allowed or ())
        for c, v in zip(table.outputs, row.outputs, strict=True)
    )


def _conflict(table: m.DecisionTable, rows: list[m.TableRow], values: Sequence[Any], why: str):
    inputs = ", ".join(f"{c.name} = {french(v)}" for c, v in zip(table.inputs, values, strict=True))
    numbers = ", ".join(f"{r.number} ({r.position.file}:{r.position.line})" for r in rows)
    raise EvaluationError(
        Diagnostic(
            f"table {table.name} (politique {table.hit}) : {why} pour {inputs} — lignes {numbers}",
            table.position,
            "corrigez les lignes qui se recouvrent, ou changez de politique (F, P, C…)",
        )
    )


def _default(table: m.DecisionTable) -> Any:
    if len(table.outputs) == 1:
        return table.outputs[0].default
    return {c.name: c.default for c in table.outputs}


def evaluate(table: m.DecisionTable, values: Sequence[Any]) -> TableResult:
    rows = matching_rows(table, values)
    policy, aggregator = table.hit.policy, table.hit.aggregator
    numbers = tuple(r.number for r in rows)
    if policy in (m.HitPolicy.UNIQUE, m.HitPolicy.ANY, m.HitPolicy.PRIORITY, m.HitPolicy.FIRST):
        if not rows:
            return TableResult(_default(table), ())
        if policy is m.HitPolicy.UNIQUE and len(rows) > 1:
            _conflict(table, rows, values, "plusieurs lignes s'appliquent")
        if policy is m.HitPolicy.ANY and len({r.outputs for r in rows}) > 1:
            _conflict(table, rows, values, "des lignes aux sorties différentes s'appliquent")
        if policy is m.HitPolicy.PRIORITY:
            best = min(rows, key=lambda r: (_priority(table, r), r.number))
            return TableResult(_outputs(table, best), (best.number,))
        return TableResult(_outputs(table, rows[0]), (rows[0].number,))
    if policy is m.HitPolicy.OUTPUT_ORDER:
        rows = sorted(rows, key=lambda r: (_priority(table, r), r.number))
        numbers = tuple(r.number for r in rows)
    results = [_outputs(table, r) for r in rows]
    if aggregator is None:
        return TableResult(results, numbers)
    if aggregator == "count":
        return TableResult(len(results), numbers)
    present = [v for v in results if v is not None]
    if not present:
        return TableResult(None, numbers)
    if aggregator == "sum":
        return TableResult(sum(present[1:], present[0]), numbers)
    return TableResult(min(present) if aggregator == "min" else max(present), numbers)
