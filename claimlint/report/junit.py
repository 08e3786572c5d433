"""The check as JUnit XML (`--format junit`), for CI dashboards that read test reports.

One `<testsuite>` per rule of the rulebook, in rule-ID order: `tests` is the number of lines
checked, `failures` the rule's violations. Each violation is a failing `<testcase>` (classname
the rule ID, name the line, or the provider for a provider-level record); a rule without a
violation is a passing suite holding one passing testcase. No timestamps, no host names: the
same run gives the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import IO

from claimlint.checker.run import CheckRun
from claimlint.checker.values import euros
from claimlint.checker.violations import Violation


def _failure_text(v: Violation) -> str:
    lines = [
        v.message,
        f"Montant en jeu : {euros(v.amount_at_stake)} €",
        f"Source : {v.source}",
        f"Règle : {v.location}",
    ]
    if v.claim_id:
        lines.append(f"Facture : {v.claim_id}")
    if v.provider_id:
        lines.append(f"Médecin : {v.provider_id}")
    if v.service_date:
        lines.append(f"Date de soins : {v.service_date.isoformat()}")
    return "\n".join(lines)


def build(run: CheckRun) -> ET.Element:
    by_rule: dict[str, list[Violation]] = defaultdict(list)
    for v in run.violations:
        by_rule[v.rule].append(v)
    book = run.rulebook
    rules = sorted(book.rules, key=lambda r: r.id)
    root = ET.Element(
        "testsuites",
        {
            "name": f"{book.name} {book.version}",
            "tests": str(sum(max(len(by_rule[r.id]), 1) for r in rules)),
            "failures": str(len(run.violations)),
            "errors": "0",
        },
    )
    for rule in rules:
        found = by_rule.get(rule.id, [])
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": rule.id,
                "tests": str(run.checked),
                "failures": str(len(found)),
                "errors": "0",
                "skipped": "0",
            },
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("title", rule.title),
            ("severity", rule.severity.value),
            ("source", rule.source),
            ("location", rule.location),
        ):
            ET.SubElement(props, "property", {"name": name, "value": value})
        if not found:
            ET.SubElement(suite, "testcase", {"classname": rule.id, "name": rule.title})
            continue
        for v in found:
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": rule.id, "name": v.line_id or v.provider_id or "—"},
            )
            failure = ET.SubElement(
                case, "failure", {"message": v.message, "type": v.severity.value}
            )
            failure.text = _failure_text(v)
    return root


def write_junit(run: CheckRun, out: IO[str]) -> None:
    root = build(run)
    ET.indent(root, space="  ")
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")
