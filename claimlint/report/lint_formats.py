"""`claimlint lint` findings as SARIF 2.1.0 and as GitHub Actions workflow commands.

Both take the decision-table findings (`claimlint.dsl.analysis.Finding`) and the diagnostics
of a rulebook that does not load (`ClaimlintError.diagnostics`), the latter under the rule
`rulebook-error`. Paths are the rulebook-relative ones of `Position.file`; the output depends
on its arguments only (no clock, no absolute path), so it can be compared from run to run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from claimlint import __version__
from claimlint.dsl.analysis import Finding, describe
from claimlint.dsl.model import DecisionTable, Severity
from claimlint.errors import Diagnostic, Position

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
RULEBOOK_ERROR = "rulebook-error"

#: Every rule `lint` reports, in a fixed order: (id, French short description, default level).
RULES: tuple[tuple[str, str, str], ...] = (
    (RULEBOOK_ERROR, "Recueil invalide : syntaxe, noms, types ou exemples", "error"),
    ("unanalysable", "Table de décision non analysable", "note"),
    ("gap", "Lacune : des entrées ne correspondent à aucune ligne de la table", "warning"),
    ("overlap", "Chevauchement : des entrées correspondent à plusieurs lignes", "error"),
    ("duplicate", "Lignes en double : mêmes conditions", "warning"),
    ("masked", "Ligne masquée : jamais retenue par la politique de la table", "warning"),
    ("subsumed", "Ligne englobée par une autre ligne de même résultat", "warning"),
)
_RULE_INDEX = {rule_id: i for i, (rule_id, _, _) in enumerate(RULES)}
_SHORT = {rule_id: text for rule_id, text, _ in RULES}

_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def finding_text(finding: Finding, table: DecisionTable | None = None) -> str:
    """The finding's French line without its place, severity and kind (carried apart)."""
    text = describe(finding, table)
    head = f"{finding.position}: {finding.severity.french} [{finding.kind}] "
    return text[len(head) :] if text.startswith(head) else text


def diagnostic_text(diagnostic: Diagnostic) -> str:
    """A diagnostic's message, with its hint when it has one."""
    if diagnostic.hint:
        return f"{diagnostic.message} (aide : {diagnostic.hint})"
    return diagnostic.message


# ----------------------------------------------------------------------------- SARIF


def _location(position: Position) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(1, position.line)}
    region["startColumn"] = max(1, position.column)
    if position.end_line is not None and position.end_line >= position.line:
        region["endLine"] = position.end_line
        if position.end_column is not None and position.end_column >= 1:
            region["endColumn"] = position.end_column
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": position.file},
            "region": region,
        }
    }


def _result(
    rule_id: str, level: str, text: str, position: Position | None, **properties: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": _RULE_INDEX[rule_id],
        "level": level,
        "message": {"text": text},
    }
    if position is not None:
        result["locations"] = [_location(position)]
    if properties:
        result["properties"] = properties
    return result


def lint_sarif(
    findings: Sequence[Finding],
    diagnostics: Sequence[Diagnostic],
    rulebook_name: str,
    tables: Mapping[str, DecisionTable] | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run: the diagnostics first, then the findings, in order.

    `tables` (the rulebook's, by name) lets a finding's example name its columns in order.
    """
    tables = tables or {}
    results = [
        _result(RULEBOOK_ERROR, "error", diagnostic_text(d), d.position) for d in diagnostics
    ]
    results += [
        _result(
            f.kind,
            _SARIF_LEVEL[f.severity],
            finding_text(f, tables.get(f.table)),
            f.position,
            table=f.table,
            rows=list(f.rows),
        )
        for f in findings
    ]
    rules = [
        {
            "id": rule_id,
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level},
        }
        for rule_id, text, level in RULES
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "claimlint",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
                "properties": {"rulebook": rulebook_name},
            }
        ],
    }


# ----------------------------------------------------------------------------- GitHub


def _escape_data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped (as @actions/core does)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value: also ':' and ','."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, title: str, text: str, position: Position | None) -> str:
    props: list[tuple[str, str]] = []
    if position is not None:
        props += [
            ("file", position.file),
            ("line", str(position.line)),
            ("col", str(position.column)),
        ]
        if position.end_line is not None:
            props.append(("endLine", str(position.end_line)))
            if position.end_column is not None:
                props.append(("endColumn", str(position.end_column)))
    props.append(("title", title))
    joined = ",".join(f"{key}={_escape_property(value)}" for key, value in props)
    return f"::{level} {joined}::{_escape_data(text)}"


def lint_github(
    findings: Sequence[Finding],
    diagnostics: Sequence[Diagnostic],
    tables: Mapping[str, DecisionTable] | None = None,
) -> str:
    """One GitHub Actions annotation (`::error …::`) a line; "" when there is nothing."""
    tables = tables or {}
    lines = [
        _command("error", f"claimlint {RULEBOOK_ERROR}", diagnostic_text(d), d.position)
        for d in diagnostics
    ]
    lines += [
        _command(
            _GITHUB_LEVEL[f.severity],
            f"claimlint {f.kind} : {_SHORT.get(f.kind, f.kind)}",
            finding_text(f, tables.get(f.table)),
            f.position,
        )
        for f in findings
    ]
    return "".join(line + "\n" for line in lines)
