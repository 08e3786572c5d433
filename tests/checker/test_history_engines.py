"""Both engines give the same violations with history lines (issue #9).

1. Every example of an aggregate rule in the shipped rulebooks, every other claim moved to
   the history: the same records (history counts in `details` and messages included).
2. Random batches (hypothesis) drawn around the aggregates' groups and periods (ISO weeks
   across a year end, calendar years, shares of teleconsultations), split at random between
   today and the history, checked with every rule: line rules must ignore history lines.
3. The whole path (store, fetch, `check_files`) with both engines.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimlint.checker import examples, history, history_reads, interpreter
from claimlint.checker.arrow import arrow_table
from claimlint.checker.context import HistorySource
from claimlint.checker.duckdb_engine import DuckDBEngine
from claimlint.checker.readers import Batch
from claimlint.checker.run import check_files
from claimlint.checker.violations import Violation
from claimlint.dsl import model as m
from claimlint.dsl.loader import load, shipped_names
from claimlint.dsl.schema import Role


@cache
def rulebook(name: str = "convention-2024") -> m.Rulebook:
    return load(name)


def duckdb_check(
    book: m.Rulebook, today: Batch, past: Batch, refs: Mapping[str, Batch], only
) -> list[Violation]:
    source = HistorySource(
        tuple(history_reads.probe_fields(book)), lambda probe: arrow_table(book.input, past.rows)
    )
    engine = DuckDBEngine(book)
    engine.history = source
    engine.load_batch(today, refs, only)
    return engine.run_all()


def agree(
    book: m.Rulebook, today: Batch, past: Batch, refs: Mapping[str, Batch], only=None
) -> list[Violation]:
    expected = interpreter.check(book, today, refs, only=only, context=past)
    actual = duckdb_check(book, today, past, refs, only)
    assert actual == expected
    return expected


def split(batch: Batch, to_history: set[int]) -> tuple[Batch, Batch]:
    """The batch's rows at the positions of `to_history` as the history, the rest today."""

    def part(keep: bool, label: str) -> Batch:
        rows = tuple(r for i, r in enumerate(batch.rows) if (i in to_history) == keep)
        return Batch(batch.schema, label, rows, tuple(range(2, len(rows) + 2)), (), len(rows))

    return part(False, "aujourd'hui"), part(True, "historique")


# ------------------------------------------------------------------------------ 1. examples


def aggregate_examples() -> Iterator[Any]:
    for name in shipped_names():
        book = rulebook(name)
        aggregates = {r.id for r in book.rules if r.aggregate is not None}
        for index, example in enumerate(book.examples):
            if aggregates & set(example.rules):
                yield pytest.param(
                    name, index, id=f"{name} {','.join(example.rules)}: {example.title}"
                )


@pytest.mark.parametrize(("name", "index"), list(aggregate_examples()))
def test_aggregate_examples_agree_with_half_in_history(name: str, index: int) -> None:
    book = rulebook(name)
    example = book.examples[index]
    batch, refs = examples.example_batches(book, example)
    claim = book.input.by_role(Role.CLAIM) or book.input.by_role(Role.LINE)
    claims = sorted({str(r[claim.name]) for r in batch.rows})
    moved = set(claims[::2])
    today, past = split(batch, {i for i, r in enumerate(batch.rows) if str(r[claim.name]) in moved})
    expected = agree(book, today, past, refs, example.rules)
    # The same through a real store: the groups it figures, the lines it picks.
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "history.duckdb"
        history.ensure(store, book.input)
        if past.rows:
            stored = Path(folder) / "past.parquet"
            pq.write_table(arrow_table(book.input, past.rows), stored)
            history.add(store, book.input, [stored])
        got = history_reads.history_lines(store, book, today.rows)
    found = interpreter.check(
        book,
        today,
        refs,
        only=example.rules,
        context=got.batch,
        reads=got.reads,
        groups=got.groups,
    )
    assert found == expected


# ------------------------------------------------------------------------------ 2. random

DAYS = [
    dt.date(2024, 12, 29),  # Sunday of 2024-W52
    dt.date(2024, 12, 30),  # Monday of 2025-W01
    dt.date(2025, 1, 2),
    dt.date(2025, 1, 5),
    dt.date(2025, 1, 6),  # 2025-W02
    dt.date(2025, 3, 3),
    dt.date(2025, 12, 28),  # Sunday of 2025-W52
    dt.date(2025, 12, 29),  # Monday of 2026-W01
    dt.date(2026, 1, 1),
    dt.date(2026, 3, 10),
    dt.date(2026, 6, 16),
]
ACTS = [
    ("SNP", Decimal("15.00")),
    ("GL1", Decimal("60.00")),
    ("GL2", Decimal("60.00")),
    ("APY", Decimal("67.50")),
    ("G", Decimal("30.00")),
    ("GLQP012", Decimal("40.28")),
    ("TCG", Decimal("30.00")),
]


@st.composite
def claim_lines(draw: st.DrawFn) -> tuple[list[dict[str, Any]], set[int]]:
    """Lines of two providers (a GP, a psychiatrist) and two patients, and which of them go
    to the history."""
    n = draw(st.integers(1, 40))
    rows = []
    for i in range(n):
        code, amount = draw(st.sampled_from(ACTS))
        provider = draw(st.sampled_from(["P1", "P2"]))
        rows.append(
            {
                "line_id": f"L{i:02d}",
                "claim_id": f"C{draw(st.integers(0, n // 2 + 1))}",
                "provider_id": provider,
                "provider_specialty": "01" if provider == "P1" else "33",
                "provider_sector": "1",
                "provider_option": "",
                "patient_id": draw(st.sampled_from(["PA", "PB"])),
                "patient_birth_date": draw(
                    st.sampled_from([dt.date(1940, 1, 1), dt.date(1980, 1, 1)])
                ),
                "service_date": draw(st.sampled_from(DAYS)),
                "service_time": draw(st.sampled_from([None, dt.time(10, 0), dt.time(21, 30)])),
                "act_code": code,
                "modifiers": "",
                "quantity": 1,
                "amount": amount,
                "opposable": None,
                "setting": draw(st.sampled_from(["cabinet", "teleconsultation"])),
                "regulation": draw(st.sampled_from(["", "SAS"])),
                "treating_doctor": draw(st.booleans()),
                "urgent": False,
                "followup": "",
                "referral_date": None,
                "referral_time": None,
            }
        )
    to_history = {i for i in range(n) if draw(st.booleans())}
    return rows, to_history


# Every aggregate rule, and line rules that fire on these lines (they must not on history's).
RANDOM_RULES = sorted(
    {r.id for r in rulebook().rules if r.aggregate is not None}
    | {"TARIF", "SNP-REG", "GL-AGE", "CUMUL-CCAM"}
)


def providers() -> dict[str, Batch]:
    """P1, a GP with a teleconsultation derogation (TLC-DEROG flags it once per check)."""
    ref = rulebook().references[0]
    row = {f.name: f.default for f in ref.schema.fields}
    rows = (
        {**row, "provider_id": "P1", "tlc_cap_derogation": Decimal(30), "provider_sector": "1"},
        {**row, "provider_id": "P2", "tlc_cap_derogation": Decimal(45), "provider_sector": "1"},
    )
    return {ref.name: Batch(ref.schema, "médecins", rows, (2, 3), (), 2)}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim_lines())
def test_random_batches_agree_with_history(drawn: tuple[list[dict[str, Any]], set[int]]) -> None:
    rows, to_history = drawn
    batch = Batch(
        rulebook().input, "tirage", tuple(rows), tuple(range(2, len(rows) + 2)), (), len(rows)
    )
    today, past = split(batch, to_history)
    found = agree(rulebook(), today, past, providers(), RANDOM_RULES)
    past_ids = {r["line_id"] for r in past.rows}
    assert not any(v.line_id in past_ids for v in found)  # history lines are never flagged


# ------------------------------------------------------------------------------ 3. whole path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    names = rulebook().input.names

    def cell(value: Any) -> str:
        return (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )

    lines = [",".join(names)] + [",".join(cell(r[c]) for c in names) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_check_files_with_a_store_agrees(tmp_path: Path) -> None:
    base = {
        "claim_id": "",
        "provider_id": "P1",
        "provider_specialty": "01",
        "provider_sector": "1",
        "provider_option": "",
        "patient_id": "PA",
        "patient_birth_date": dt.date(1940, 1, 1),
        "service_time": None,
        "modifiers": "",
        "quantity": 1,
        "opposable": None,
        "setting": "cabinet",
        "regulation": "SAS",
        "treating_doctor": False,
        "urgent": False,
        "followup": "",
        "referral_date": None,
        "referral_time": None,
    }
    past = [
        {
            **base,
            "line_id": f"H{i}",
            "claim_id": f"CH{i}",
            "patient_id": f"PH{i}",
            "service_date": dt.date(2026, 3, 2),
            "act_code": "SNP",
            "amount": Decimal("15.00"),
        }
        for i in range(19)
    ] + [
        {
            **base,
            "line_id": "HG",
            "claim_id": "CHG",
            "service_date": dt.date(2026, 3, 10),
            "act_code": "GL1",
            "amount": Decimal("60.00"),
        }
    ]
    today = [
        {
            **base,
            "line_id": f"T{i}",
            "claim_id": f"CT{i}",
            "patient_id": f"PT{i}",
            "service_date": dt.date(2026, 3, 4),
            "act_code": "SNP",
            "amount": Decimal("15.00"),
        }
        for i in range(2)
    ] + [
        {
            **base,
            "line_id": "TG",
            "claim_id": "CTG",
            "service_date": dt.date(2026, 6, 16),
            "act_code": "GL1",
            "amount": Decimal("60.00"),
        }
    ]
    store = tmp_path / "history.duckdb"
    history.add(store, rulebook().input, [write_csv(tmp_path / "past.csv", past)])
    batch = write_csv(tmp_path / "today.csv", today)
    runs = [check_files(rulebook(), [batch], engine=e, history=store) for e in ("python", "duckdb")]
    assert runs[0].violations == runs[1].violations
    flagged = {(v.rule, v.line_id, dict(v.details).get("history")) for v in runs[0].violations}
    assert {("SNP-CAP", "T1", 19), ("GL-FREQ", "TG", 1)} <= flagged
