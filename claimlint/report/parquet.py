"""`--format parquet`: the violation records as a Parquet file, for a data lake or a notebook.

One row a record, the contract's fields in its order (DESIGN.md); `amount_at_stake` stays a
DECIMAL(18, 2), `service_date` a DATE, and `details` is the record's JSON object as text (its
keys vary by rule). Written in row groups of 100,000 records.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import IO, Any

from claimlint.checker.run import CheckRun
from claimlint.checker.violations import Violation
from claimlint.errors import ClaimlintError

ROW_GROUP = 100_000


def write_parquet(run: CheckRun, out: IO[str]) -> None:
    """The records into the binary file under `out` (a terminal is refused)."""
    if out is sys.stdout and out.isatty():
        raise ClaimlintError(
            "--format parquet écrit un fichier binaire : donnez -o FICHIER.parquet"
        )
    out.flush()
    write_violations(run.violations, out.buffer)


def write_violations(violations: Sequence[Violation], target: Any) -> None:
    """The records as one Parquet file, into a binary file object or a path."""
    import pyarrow as pa  # imported here: a small text check never pays for pyarrow
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("rule", pa.string()),
            ("severity", pa.string()),
            ("message", pa.string()),
            ("line_id", pa.string()),
            ("claim_id", pa.string()),
            ("provider_id", pa.string()),
            ("service_date", pa.date32()),
            ("amount_at_stake", pa.decimal128(18, 2)),
            ("source", pa.string()),
            ("location", pa.string()),
            ("details", pa.string()),
        ]
    )
    columns: dict[str, list] = {name: [] for name in schema.names}
    for v in violations:
        columns["rule"].append(v.rule)
        columns["severity"].append(v.severity.value)
        columns["message"].append(v.message)
        columns["line_id"].append(v.line_id)
        columns["claim_id"].append(v.claim_id)
        columns["provider_id"].append(v.provider_id)
        columns["service_date"].append(v.service_date)
        columns["amount_at_stake"].append(v.amount_at_stake)
        columns["source"].append(v.source)
        columns["location"].append(v.location)
        columns["details"].append(json.dumps(v.record()["details"], ensure_ascii=False))
    pq.write_table(pa.table(columns, schema=schema), target, row_group_size=ROW_GROUP)
