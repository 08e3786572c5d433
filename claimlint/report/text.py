"""The report for a person: grouped by rule, in French, with the money at stake."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from decimal import Decimal
from itertools import groupby
from typing import IO, Any

import click

from claimlint.checker.run import CheckRun
from claimlint.checker.values import euros, french
from claimlint.dsl.model import Severity

MAX_REJECTIONS_SHOWN = 20
SEVERITY_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def use_colour(out: IO[str]) -> bool:
    """Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _styler(colour: bool) -> Callable[..., str]:
    def style(text: str, **styles: Any) -> str:
        return click.style(text, **styles) if colour else text

    return style


def _severity(rule: Any, style: Callable[..., str]) -> str:
    def word(severity: Severity) -> str:
        return style(severity.french, fg=SEVERITY_COLOURS.get(severity), bold=True)

    if rule.severity_if is None:
        return word(rule.severity)
    return f"{word(rule.severity_if[1])} (sous condition), sinon {word(rule.severity)}"


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
        f"lignes : {_plural(run.read, 'lue')}, {_plural(run.checked, 'vérifiée')}, "
        f"{_plural(len(run.rejected), 'rejetée')}."
    )


def write_text(run: CheckRun, out: IO[str]) -> None:
    style = _styler(use_colour(out))
    book = run.rulebook
    out.write(f"{book.title} ({book.name} {book.version}) — {', '.join(run.inputs)}\n")
    rules = {r.id: r for r in book.rules}
    for rule_id, group in groupby(run.violations, key=lambda v: v.rule):
        items = list(group)
        rule = rules[rule_id]
        total = sum((v.amount_at_stake for v in items), Decimal("0.00"))
        out.write(
            "\n" + style(f"{rule_id} — {rule.title}", bold=True) + "\n"
            f"  {_severity(rule, style)} · {rule.source} · {rule.location}\n"
            f"  {_plural(len(items), 'violation')}, {style(euros(total) + ' €', fg='cyan')} "
            "en jeu\n"
        )
        for v in items:
            where = "  ".join(
                x for x in (v.line_id or "—", v.provider_id or "", french(v.service_date)) if x
            )
            amount = style(f"{euros(v.amount_at_stake):>9} €", fg="cyan")
            out.write(f"    {where}  {amount}  {v.message}\n")
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
