"""Properties of a whole check run on random batches (hypothesis).

1. Same input, same output, byte for byte, whatever the row order (text, json, jsonl).
2. SNP-CAP flags exactly max(0, count - 20) lines per provider and ISO week, and they are the
   last ones of the week in chronological order (date, time with missing last, line id).
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimlint.checker.run import CheckRun, check_files
from claimlint.dsl import model as m
from claimlint.dsl.loader import load
from claimlint.report.records import write_json, write_jsonl
from claimlint.report.text import write_text

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WRITERS: dict[str, Callable[[CheckRun, io.StringIO], None]] = {
    "text": write_text,
    "json": write_json,
    "jsonl": write_jsonl,
}

# Provider id -> specialty: two general practitioners and a psychiatrist.
PROVIDERS = {"P1": "01", "P2": "01", "P3": "33"}
DAYS = [dt.date(2025, 12, 22) + dt.timedelta(days=i) for i in range(21)]  # W52, 2026-W01, W02
TIMES = [None, None, "00:00", "08:30", "10:00", "10:00", "19:45", "23:30", "23:59"]
CODES = ["SNP", "SNP", "G", "MN", "YYYY010", "APY"]
AMOUNTS = {"SNP": "15,00", "G": "30,00", "MN": "35,00", "YYYY010": "60,00", "APY": "67,50"}


@cache
def rulebook() -> m.Rulebook:
    return load("convention-2024")


def csv_text(rows: Sequence[Mapping[str, str]]) -> str:
    columns = rulebook().input.names
    lines = [";".join(columns)]
    lines += [";".join(row.get(c, "") for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def base_row(line_id: str, provider: str, day: dt.date, time: str | None) -> dict[str, str]:
    return {
        "line_id": line_id,
        "claim_id": line_id,
        "provider_id": provider,
        "provider_specialty": PROVIDERS[provider],
        "provider_sector": "1",
        "patient_id": "PAT1",
        "patient_birth_date": "1970-01-01",
        "service_date": day.isoformat(),
        "service_time": time or "",
    }


@st.composite
def mixed_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    """Random lines of the four headline rules' codes, with shared claims and a SNP burst."""
    count = draw(st.integers(min_value=1, max_value=40))
    rows = []
    for i in range(count):
        provider = draw(st.sampled_from(sorted(PROVIDERS)))
        code = draw(st.sampled_from(CODES))
        row = base_row(
            f"L{i:03d}", provider, draw(st.sampled_from(DAYS)), draw(st.sampled_from(TIMES))
        )
        row.update(
            claim_id=draw(st.sampled_from([row["line_id"], "C1", "C2", "C3"])),
            act_code=code,
            amount=AMOUNTS[code],
            setting=draw(st.sampled_from(["cabinet", "teleconsultation", "domicile", ""])),
            regulation=draw(st.sampled_from(["", "SAS"])),
            treating_doctor=draw(st.sampled_from(["", "true", "false"])),
            followup=draw(st.sampled_from(["", "urgences", "hospitalisation"])),
        )
        rows.append(row)
    # Sometimes a burst of SNP for one provider-week, so that SNP-CAP fires.
    burst = draw(st.integers(min_value=0, max_value=24))
    if burst >= 15:
        provider = draw(st.sampled_from(sorted(PROVIDERS)))
        monday = draw(st.sampled_from([DAYS[0], DAYS[7], DAYS[14]]))
        for j in range(burst):
            day = monday + dt.timedelta(days=draw(st.integers(min_value=0, max_value=6)))
            row = base_row(f"B{j:03d}", provider, day, draw(st.sampled_from(TIMES)))
            row.update(act_code="SNP", amount="15,00", regulation="SAS")
            rows.append(row)
    return rows


@st.composite
def rows_and_permutation(
    draw: st.DrawFn, rows: st.SearchStrategy[list[dict[str, str]]]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    original = draw(rows)
    return original, draw(st.permutations(original))


PROVIDERS_CSV = (
    "provider_id;tlc_cap_derogation;yyyy010_cpl_validated\nP1;;true\nP2;;false\nP3;45;false\n"
)


def outputs(directory: Path, rows: Sequence[Mapping[str, str]]) -> dict[str, bytes]:
    """Every writer's bytes for the batch written at `directory`/claims.csv."""
    claims = directory / "claims.csv"
    claims.write_text(csv_text(rows), encoding="utf-8")
    providers = directory / "providers.csv"
    providers.write_text(PROVIDERS_CSV, encoding="utf-8")
    run = check_files(rulebook(), [claims], {"provider": providers})
    assert run.read == len(rows) and not run.rejected
    result = {}
    for name, writer in WRITERS.items():
        out = io.StringIO()
        writer(run, out)
        result[name] = out.getvalue().encode("utf-8")
    return result


@SETTINGS
@given(rows_and_permutation(mixed_rows()))
def test_output_is_byte_identical_whatever_the_row_order(
    batches: tuple[list[dict[str, str]], list[dict[str, str]]],
) -> None:
    original, permuted = batches
    # The same path for both runs: the text report's header names the input file.
    with tempfile.TemporaryDirectory() as tmp:
        first = outputs(Path(tmp), original)
        second = outputs(Path(tmp), permuted)
    for name in WRITERS:
        assert first[name] == second[name], name


# ---------------------------------------------------------------------------- SNP-CAP count


@st.composite
def snp_weeks(draw: st.DrawFn) -> list[dict[str, str]]:
    """Per provider and ISO week (around the new year), 0-26 SNP lines, plus other codes."""
    rows: list[dict[str, str]] = []
    n = 0
    for provider in ("P1", "P2"):
        for monday in (DAYS[0], DAYS[7]):  # 2025-W52 and 2026-W01
            count = draw(st.sampled_from([0, 3, 19, 20, 21, 22, 26]))
            for _ in range(count):
                day = monday + dt.timedelta(days=draw(st.integers(min_value=0, max_value=6)))
                row = base_row(f"S{n:03d}", provider, day, draw(st.sampled_from(TIMES)))
                row.update(act_code="SNP", amount="15,00", regulation="SAS")
                rows.append(row)
                n += 1
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        row = base_row(f"G{n:03d}", "P1", draw(st.sampled_from(DAYS)), "10:00")
        row.update(act_code=draw(st.sampled_from(["G", "SHE", "MN"])), amount="30,00")
        rows.append(row)
        n += 1
    return rows


def iso_week(day: str) -> str:
    year, week, _ = dt.date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def chronological(row: Mapping[str, str]) -> tuple[Any, ...]:
    time = row["service_time"]
    return (row["service_date"], time == "", time.zfill(5), row["line_id"])


@SETTINGS
@given(rows_and_permutation(snp_weeks()))
def test_snp_cap_flags_count_minus_20_per_provider_week(
    batches: tuple[list[dict[str, str]], list[dict[str, str]]],
) -> None:
    original, permuted = batches
    with tempfile.TemporaryDirectory() as tmp:
        claims = Path(tmp) / "claims.csv"
        claims.write_text(csv_text(permuted), encoding="utf-8")
        run = check_files(rulebook(), [claims])
    snp_rows: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in original:
        if row["act_code"] == "SNP":
            snp_rows[(row["provider_id"], iso_week(row["service_date"]))].append(row)
    flagged = [v for v in run.violations if v.rule == "SNP-CAP"]
    per_group = Counter((v.provider_id, iso_week(v.service_date.isoformat())) for v in flagged)
    for key, group in snp_rows.items():
        assert per_group[key] == max(0, len(group) - 20), key
        expected = sorted(group, key=chronological)[20:]
        got = [v.line_id for v in flagged if (v.provider_id, dict(v.details)["period"]) == key]
        assert got == [r["line_id"] for r in expected], key
    assert set(per_group) <= set(snp_rows)
