"""The rejected rows as a CSV file (`check --rejects FILE`), to mend and resubmit.

One row per rejected input row, in file and line order: where it is, why it was refused, and
the row as written in the input (for Parquet, which has no text, its cells joined by `;`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

from claimlint.checker.readers import Rejection

COLUMNS = ("file", "line", "column", "reason", "raw")


def raw_text(rejection: Rejection) -> str:
    if rejection.text is not None:
        return rejection.text
    return ";".join(cell for _, cell in rejection.raw)


def write_rejects(rejected: Iterable[Rejection], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rejected:
        writer.writerow([r.file, r.line, r.column or "", r.reason, raw_text(r)])
