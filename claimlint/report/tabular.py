"""The violations as a spreadsheet (`--format csv`): one row per violation, header first.

Columns are the violation record's, in the contract's order; `details` is compact JSON. Two
dialects: `standard` (`,` separator, decimal point) and `fr` (`;` separator, decimal comma in
`amount_at_stake`, a UTF-8 byte order mark so that Excel reads accents right). Rows come in the
violations' deterministic order, so the same run gives the same bytes.
"""

from __future__ import annotations

import csv
import json
from typing import IO, Any

from claimlint.checker.run import CheckRun
from claimlint.checker.violations import RECORD_FIELDS

COLUMNS = RECORD_FIELDS
DIALECTS = ("standard", "fr")
BOM = "\ufeff"


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def write_csv(run: CheckRun, out: IO[str], dialect: str = "standard") -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown CSV dialect {dialect!r}")
    fr = dialect == "fr"
    if fr:
        out.write(BOM)
    writer = csv.writer(out, delimiter=";" if fr else ",", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for v in run.violations:
        record = v.record()
        record["details"] = json.dumps(record["details"], ensure_ascii=False, separators=(",", ":"))
        if fr:
            record["amount_at_stake"] = record["amount_at_stake"].replace(".", ",")
        writer.writerow([_cell(record[c]) for c in COLUMNS])
    out.flush()
