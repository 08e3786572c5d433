"""Machine-readable reports: `json` (summary and violations) and `jsonl` (one record a line).

Keys are written in the contract's order and the violations in their deterministic order, so
the same input gives the same bytes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import IO, Any

from claimlint.checker.run import CheckRun
from claimlint.checker.violations import Rendered, Violation
from claimlint.dsl.model import Severity


def summary(run: CheckRun) -> dict[str, Any]:
    by_rule: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "amount": Decimal("0.00")}
    )
    for v in run.violations:
        by_rule[v.rule]["count"] += 1
        by_rule[v.rule]["amount"] += v.amount_at_stake
    return {
        "rulebook": run.rulebook.name,
        "version": run.rulebook.version,
        "inputs": list(run.inputs),
        "read": run.read,
        "checked": run.checked,
        "rejected": len(run.rejected),
        "violations": len(run.violations),
        "waived": run.waived,
        "baselined": run.baselined,
        "by_severity": {s.value: run.count(s) for s in Severity},
        "amount_at_stake": f"{run.amount_at_stake:f}",
        "by_rule": {
            rule: {"count": f["count"], "amount_at_stake": f"{f['amount']:f}"}
            for rule, f in sorted(by_rule.items())
        },
        "rejections": [
            {"file": r.file, "line": r.line, "column": r.column, "reason": r.reason}
            for r in run.rejected
        ],
    }


def write_json(run: CheckRun, out: IO[str]) -> None:
    document = {"summary": summary(run), "violations": [v.record() for v in run.violations]}
    json.dump(document, out, ensure_ascii=False, indent=2)
    out.write("\n")


# One encoder for every line: json.dumps with options builds a new one per call.
_LINE = json.JSONEncoder(ensure_ascii=False)


def write_records(violations: Iterable[Violation | Rendered], out: IO[str]) -> None:
    """JSON Lines, one record a line: what `--format jsonl` streams as rules finish (a
    `Rendered` record comes with its line)."""
    encode = _LINE.encode
    out.write(
        "".join((v.line if type(v) is Rendered else encode(v.record())) + "\n" for v in violations)
    )
    out.flush()


def write_jsonl(run: CheckRun, out: IO[str]) -> None:
    write_records(run.violations, out)
