"""The interpreter's history lines as the store gives them (issue #9's benchmark): each rule
reads only the lines the store picked for it, with only the columns the counting rules read.

1. Random batches split between a real store and today: the interpreter given what the store
   picked (`history_reads.fetch_lines`) finds exactly what it finds given the whole history.
2. What the store figures (groups) and picks (lines), rule by rule, on a small history.
3. A cap read on a group's first line when that line is in the history, as figured by the
   store (dated caps).
4. A check with a history imports neither pandas nor Arrow's conversions of Python lists.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from claim_rows import rulebook  # tests/checker/claim_rows.py
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engines_agree import DATED_CAP_RULEBOOK, dated_cap_rows, make_batch
from test_history import add, snp, store, today_rows, write_claims  # noqa: F401 (fixture)
from test_history_engines import RANDOM_RULES, claim_lines, providers, write_csv

from claimlint.checker import history, history_reads, interpreter
from claimlint.checker.readers import Batch
from claimlint.checker.run import read_table
from claimlint.dsl import model as m
from claimlint.dsl.loader import load


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
        picked = history_reads.history_lines(store, book, batch.rows)
    expected = interpreter.check(book, batch, providers(), only=RANDOM_RULES, context=whole)
    found = interpreter.check(
        book,
        batch,
        providers(),
        only=RANDOM_RULES,
        context=picked.batch,
        reads=picked.reads,
        groups=picked.groups,
    )
    assert found == expected
    assert len(picked.batch.rows) <= len(past)


def test_what_the_store_figures_and_picks_rule_by_rule(tmp_path: Path, store: Path):  # noqa: F811
    past = [
        *snp("W", 2, "2025-03-03"),  # SNP-CAP: same provider and ISO week
        *snp("X", 2, "2025-03-03", provider="P9"),  # another provider: left out
        {"line_id": "G1", "service_date": "2025-01-13"},  # TLC-CAP: P1's consultation in 2025
        {"line_id": "G2", "service_date": "2024-11-04"},  # another year: left out
        {"line_id": "V1", "service_date": "2025-01-14", "setting": "teleconsultation"},
        # GL-FREQ (from 2026): the same patient's GL1 of the year
        {"line_id": "GL", "act_code": "GL1", "patient_id": "PAT", "service_date": "2026-02-03"},
        # SPIRO-FREQ (`claim has`): the patient's spirometry with a consultation, in 2025
        {"line_id": "SC", "claim_id": "S", "patient_id": "PAT", "service_date": "2025-02-03"},
        {
            "line_id": "SA",
            "claim_id": "S",
            "patient_id": "PAT",
            "act_code": "GLQP012",
            "amount": "40.28",
            "service_date": "2025-02-03",
        },
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
        picked = history_reads.fetch_lines(opened, rulebook(), today)

    # The rules reading only the line's columns are figured in the store, group by group:
    # how many lines, the first one, when the counted ones were billed.
    def figures(rule: str) -> dict[tuple, tuple[int, str, list[str]]]:
        return {
            key: (group.total, group.first["line_id"], [order[-1] for order in group.counted])
            for key, group in picked.groups[rule].items()
        }

    assert sorted(picked.groups) == ["GL-FREQ", "SNP-CAP", "TLC-CAP", "TLC-CAP-PSY"]
    assert figures("SNP-CAP") == {("P1", "2025-W10"): (2, "W1", ["W1", "W2"])}
    # GL1 is a main act: TLC-CAP counts it in 2026 as G1 and T1 in 2025 (today has both
    # years); only V1, a teleconsultation, is counted; the spirometry claim is P1's too.
    assert figures("TLC-CAP") == {
        ("P1", 2025): (4, "G1", ["V1"]),
        ("P1", 2026): (1, "GL", []),
    }
    assert figures("GL-FREQ") == {("PAT", "GL1", 2026): (1, "GL", ["GL"])}
    assert figures("TLC-CAP-PSY") == {}  # no psychiatrist
    # The first line keeps the columns the counting rules read, the others are left empty.
    first = picked.groups["GL-FREQ"][("PAT", "GL1", 2026)].first
    assert (first["act_code"], first["patient_id"], first["modifiers"]) == ("GL1", "PAT", None)
    # SPIRO-FREQ reads `claim has`: the store picks whole invoices of its lines for it.
    rows = picked.batch.rows
    reads = {rule: sorted(rows[i]["line_id"] for i in at) for rule, at in picked.reads.items()}
    assert reads == {"SPIRO-FREQ": ["SA", "SC"]}


def test_a_large_batch_reads_the_store_through_subqueries_alike(
    tmp_path: Path,
    store: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
):
    """Today's values go into the SQL as literals up to history_reads.LITERALS of them, through
    a table of today's values beyond: both ways find the same groups and lines."""
    past = [
        *snp("W", 3, "2025-03-03"),
        {"line_id": "G1", "service_date": "2025-01-13", "setting": "teleconsultation"},
        {"line_id": "GL", "act_code": "GL1", "patient_id": "PAT", "service_date": "2026-02-03"},
        {"line_id": "T1", "service_date": "2025-03-05", "act_code": "SNP"},  # today's, stored
    ]
    add(store, write_claims(tmp_path / "past.csv", past))
    today = today_rows(
        tmp_path,
        [
            *snp("T", 2, "2025-03-05"),
            {"line_id": "TG", "act_code": "GL1", "patient_id": "PAT", "service_date": "2026-06-02"},
        ],
    )

    def fetched() -> tuple:
        with history.open_store(store, rulebook().input, write=False) as opened:
            got = history_reads.fetch_lines(opened, rulebook(), today)
        lines = {
            rule: sorted(got.batch.rows[i]["line_id"] for i in at) for rule, at in got.reads.items()
        }
        return got.groups, lines

    literal = fetched()
    monkeypatch.setattr(history_reads, "LITERALS", 0)
    assert fetched() == literal
    # Today's stored copy of T1 is left out: the SNP week counts W1-W3 from the history.
    assert literal[0]["SNP-CAP"][("P1", "2025-W10")].total == 3


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sets(st.integers(0, 12)))  # which of the 13 lines are in the history
def test_a_cap_read_on_a_first_line_in_the_history(to_history: set[int]) -> None:
    """The dated caps of test_engines_agree: a group's cap is read on its first line, and
    the store gives that line when it is in the history."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "caps.rules").write_text(DATED_CAP_RULEBOOK, encoding="utf-8")
        book = load(str(work / "caps.rules"))
        assert all(history_reads.summarised(rule) for rule in book.rules)
        rows = dated_cap_rows()
        past = [row for n, row in enumerate(rows) if n in to_history]
        today = [row for n, row in enumerate(rows) if n not in to_history]
        store = work / "history.duckdb"
        history.ensure(store, book.input)
        if past:
            history.add(store, book.input, [write_rows(work / "past.csv", book, past)])
        batch = read_table(book.input, [write_rows(work / "today.csv", book, today)], "csv")
        whole = make_batch(book, "claims", past)
        picked = history_reads.history_lines(store, book, batch.rows)
    expected = interpreter.check(book, batch, {}, context=whole)
    found = interpreter.check(
        book, batch, {}, context=picked.batch, reads=picked.reads, groups=picked.groups
    )
    assert found == expected


def write_rows(path: Path, book: m.Rulebook, rows: list[dict[str, Any]]) -> Path:
    names = book.input.names
    lines = [",".join(names), *(",".join(str(row[n]) for n in names) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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
