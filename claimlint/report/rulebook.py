"""Reports about a rulebook itself: its rules (`claimlint rules`), its example coverage."""

from __future__ import annotations

import json
from typing import IO, Any

from claimlint.checker.examples import Coverage
from claimlint.dsl.model import Rule, Rulebook


def severity_text(rule: Rule, french: bool = False) -> str:
    def word(severity) -> str:
        return severity.french if french else severity.value

    if rule.severity_if is None:
        return word(rule.severity)
    return f"{word(rule.severity_if[1])} (sous condition), sinon {word(rule.severity)}"


def rule_record(rule: Rule) -> dict[str, Any]:
    return {
        "rule": rule.id,
        "title": rule.title,
        "severity": severity_text(rule),
        "from": rule.period.start.isoformat() if rule.period.start else None,
        "until": rule.period.end.isoformat() if rule.period.end else None,
        "source": rule.source,
        "location": rule.location,
        "exceptions": [e.id for e in rule.exceptions],
    }


def write_rules(rulebook: Rulebook, fmt: str, out: IO[str]) -> None:
    rules = sorted(rulebook.rules, key=lambda r: r.id)
    if fmt == "json":
        document = {
            "rulebook": rulebook.name,
            "version": rulebook.version,
            "rules": [rule_record(r) for r in rules],
        }
        json.dump(document, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    plural = "s" if len(rules) > 1 else ""
    out.write(
        f"{rulebook.title} ({rulebook.name} {rulebook.version}) : {len(rules)} règle{plural}\n"
    )
    for r in rules:
        out.write(
            f"\n{r.id} — {r.title}\n"
            f"  gravité : {severity_text(r, french=True)} · en vigueur : {r.period.french()}\n"
            f"  source : {r.source} · {r.location}\n"
        )
        for e in r.exceptions:
            out.write(f"  sauf {e.id} : {e.title}\n")


def _percent(part: int, whole: int) -> str:
    return "100 %" if whole == 0 else f"{100 * part // whole} %"


def write_coverage(cov: Coverage, out: IO[str]) -> None:
    total = len(cov.rules)
    out.write(
        f"\nCouverture des règles : {cov.rules_covered}/{total} "
        f"({_percent(cov.rules_covered, total)}) montrées déclenchées et muettes\n"
    )
    for r in cov.rules:
        if not (r.fired and r.silent):
            missing = [w for w, ok in (("déclenchée", r.fired), ("muette", r.silent)) if not ok]
            out.write(f"  {r.rule} : jamais {' ni '.join(missing)}\n")
    out.write(
        f"Couverture des lignes de tables : {cov.rows_covered}/{cov.rows_total} "
        f"({_percent(cov.rows_covered, cov.rows_total)})\n"
    )
    for name, all_rows, covered in cov.table_rows:
        missing = sorted(set(all_rows) - set(covered))
        line = f"  {name} : {len(covered)}/{len(all_rows)}"
        if missing:
            line += " ; lignes jamais atteintes : " + ", ".join(map(str, missing))
        out.write(line + "\n")
