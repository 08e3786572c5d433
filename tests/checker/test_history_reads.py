"""The interpreter's history lines as the store gives them (issue #9's benchmark): each rule
reads only the lines the store picked for it, with only the columns the counting rules read.

1. Random batches split between a real store and today: the interpreter given what the store
   picked (`history.fetch_lines`) finds exactly what it finds given the whole history.
2. What the store picks, rule by rule, on a small history.
3. A check with a history imports neither pandas nor Arrow's conversions of Python lists.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from claim_rows import rulebook  # tests/checker/claim_rows.py
from hypothesis import HealthCheck, given, settings
from test_history import add, snp, store, today_rows, write_claims  # noqa: F401 (fixture)
from test_history_engines import RANDOM_RULES, claim_lines, providers, write_csv

from claimlint.checker import history, interpreter
from claimlint.checker.readers import Batch
from claimlint.checker.run import read_table


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim_lines())
def test_the_lines_the_store_picks_give_the_same_violations(
    drawn: tuple[list[dict[str, Any]], set[int]],
) -> None:
    rows, to_history = drawn
    book = rulebook()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        past = [r for i, r in enumerate(rows) if i in to_history]
        today = [r for i, r in enumerate(rows) if i not in to_history]
        store = work / "history.duckdb"
        history.ensure(store, book.input)
        whole = Batch(book.input, "historique", (), (), (), 0)  # an empty store: no line
        if past:
            history.add(store, book.input, [write_csv(work / "past.csv", past)])
            whole = read_table(book.input, [work / "past.csv"], "csv")
        batch = read_table(book.input, [write_csv(work / "today.csv", today)], "csv")
        picked = history.history_lines(store, book, batch.rows)
    expected = interpreter.check(book, batch, providers(), only=RANDOM_RULES, context=whole)
    found = interpreter.check(
        book, batch, providers(), only=RANDOM_RULES, context=picked.batch, reads=picked.reads
    )
    assert found == expected
    assert len(picked.batch.rows) <= len(past)


def test_each_rule_reads_the_lines_picked_for_it(tmp_path: Path, store: Path):  # noqa: F811
    past = [
        *snp("W", 2, "2025-03-03"),  # SNP-CAP: same provider and ISO week
        *snp("X", 2, "2025-03-03", provider="P9"),  # another provider: left out
        {"line_id": "G1", "service_date": "2025-01-13"},  # TLC-CAP: P1's consultation in 2025
        {"line_id": "G2", "service_date": "2024-11-04"},  # another year: left out
        # GL-FREQ (from 2026): the same patient's GL1 of the year
        {"line_id": "GL", "act_code": "GL1", "patient_id": "PAT", "service_date": "2026-02-03"},
    ]
    add(store, write_claims(tmp_path / "past.csv", past))
    today = today_rows(
        tmp_path,
        [
            *snp("T", 1, "2025-03-05"),
            {"line_id": "TG", "act_code": "GL1", "patient_id": "PAT", "service_date": "2026-06-02"},
        ],
    )
    with history.open_store(store, rulebook().input, write=False) as opened:
        picked = history.fetch_lines(opened, rulebook(), today)
    rows = picked.batch.rows
    reads = {rule: sorted(rows[i]["line_id"] for i in at) for rule, at in picked.reads.items()}
    # GL1 is a main act: TLC-CAP counts it too, in 2026 as G1 in 2025 (today has both years).
    assert reads == {"SNP-CAP": ["W1", "W2"], "TLC-CAP": ["G1", "GL"], "GL-FREQ": ["GL"]}
    assert sorted(r["line_id"] for r in rows) == ["G1", "GL", "W1", "W2"]
    # Columns no counting rule reads are left empty; those they read are there.
    assert {r["modifiers"] for r in rows} == {None}
    assert {r["act_code"] for r in rows} == {"G", "GL1", "SNP"}


def test_a_check_with_a_history_does_not_import_pandas(tmp_path: Path, store: Path):  # noqa: F811
    add(store, write_claims(tmp_path / "past.csv", snp("H", 19, "2025-03-03")))
    today = write_claims(tmp_path / "today.csv", snp("T", 2, "2025-03-07"))
    script = (
        "import sys\n"
        "from claimlint.checker.run import check_files\n"
        "from claimlint.dsl.loader import load\n"
        f"run = check_files(load('convention-2024'), [{str(today)!r}], engine='python', "
        f"history={str(store)!r})\n"
        "print(len(run.violations), 'pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["1", "False"]
