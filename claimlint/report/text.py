"""The report for a person: grouped by rule, in French, with the money at stake."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from itertools import groupby
from typing import IO

from claimlint.checker.run import CheckRun
from claimlint.checker.values import euros, french
from claimlint.dsl.model import Severity
from claimlint.report.rulebook import severity_text

MAX_REJECTIONS_SHOWN = 20


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n <= 1 else (plural or word + 's')}"


def summary_line(run: CheckRun) -> str:
    counts = ", ".join(
        _plural(run.count(s), name, plural)
        for s, name, plural in (
            (Severity.ERROR, "erreur", None),
            (Severity.WARNING, "avertissement", None),
            (Severity.INFO, "information", None),
        )
    )
    return (
        f"{_plural(len(run.violations), 'violation')} ({counts}) ; "
        f"{euros(run.amount_at_stake)} € en jeu ; "
        f"lignes : {run.read} lues, {run.checked} vérifiées, "
        f"{_plural(len(run.rejected), 'rejetée')}."
    )


def write_text(run: CheckRun, out: IO[str]) -> None:
    book = run.rulebook
    out.write(f"{book.title} ({book.name} {book.version}) — {', '.join(run.inputs)}\n")
    rules = {r.id: r for r in book.rules}
    for rule_id, group in groupby(run.violations, key=lambda v: v.rule):
        items = list(group)
        rule = rules[rule_id]
        total = sum((v.amount_at_stake for v in items), Decimal("0.00"))
        out.write(
            f"\n{rule_id} — {rule.title}\n"
            f"  {severity_text(rule, french=True)} · {rule.source} · {rule.location}\n"
            f"  {_plural(len(items), 'violation')}, {euros(total)} € en jeu\n"
        )
        for v in items:
            where = "  ".join(
                x for x in (v.line_id or "—", v.provider_id or "", french(v.service_date)) if x
            )
            out.write(f"    {where}  {euros(v.amount_at_stake):>9} €  {v.message}\n")
    _write_rejections(run.rejected, len(run.rejected), out)
    out.write("\n" + summary_line(run) + "\n")
    if run.waived or run.baselined:
        out.write(
            f"{run.waived} violation(s) levée(s) par dérogation, "
            f"{run.baselined} dans la ligne de base.\n"
        )


def _write_rejections(rejected: Iterable, count: int, out: IO[str]) -> None:
    if not count:
        return
    out.write(f"\nLignes rejetées ({count}) :\n")
    for r in list(rejected)[:MAX_REJECTIONS_SHOWN]:
        column = f" colonne {r.column}" if r.column else ""
        out.write(f"    {r.file}:{r.line}{column} : {r.reason}\n")
    if count > MAX_REJECTIONS_SHOWN:
        out.write(f"    … et {count - MAX_REJECTIONS_SHOWN} autres\n")
