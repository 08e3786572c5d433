"""`check --statistics`: one line per rule (ID, count, money at stake, title), like ruff's."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import IO

from claimlint.checker.run import CheckRun
from claimlint.checker.values import euros
from claimlint.report.text import summary_line


def statistics(run: CheckRun) -> list[tuple[str, int, Decimal]]:
    """(rule ID, violations, amount at stake) for each rule that found something, by ID."""
    counts: Counter[str] = Counter()
    amounts: dict[str, Decimal] = {}
    for v in run.violations:
        counts[v.rule] += 1
        amounts[v.rule] = amounts.get(v.rule, Decimal("0.00")) + v.amount_at_stake
    return [(rule, counts[rule], amounts[rule]) for rule in sorted(counts)]


def write_statistics(run: CheckRun, out: IO[str]) -> None:
    rows = statistics(run)
    titles = {r.id: r.title for r in run.rulebook.rules}
    if rows:
        id_width = max(len(rule) for rule, _, _ in rows)
        count_width = max(len(str(n)) for _, n, _ in rows)
        amount_width = max(len(euros(a)) for _, _, a in rows)
        for rule, n, amount in rows:
            out.write(
                f"{rule:<{id_width}}  {n:>{count_width}}  {euros(amount):>{amount_width}} €  "
                f"{titles.get(rule, '')}\n"
            )
        out.write("\n")
    out.write(summary_line(run) + "\n")
