"""The four headline rules of the shipped rulebook, pinned case by case (CATALOGUE.md).

Each test writes a small `;` CSV batch (columns left out take the rulebook's example defaults:
a G consultation at the office of a sector-1 general practitioner, one claim per line) and,
when needed, a provider reference file, then runs the shipped `convention-2024` rulebook
through `check_files` (reader + reference interpreter).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from claim_rows import DEFAULTS, rulebook  # tests/checker/claim_rows.py

from claimlint.checker.run import CheckRun, check_files
from claimlint.checker.violations import Violation
from claimlint.dsl import model as m


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    assert ";" not in text and "\n" not in text
    return text


def write_claims(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """A `;` CSV with every column of the schema; amounts with a decimal comma."""
    columns = rulebook().input.names
    lines = [";".join(columns)]
    for partial in rows:
        row: dict[str, Any] = {**DEFAULTS, **partial}
        row.setdefault("claim_id", row["line_id"])
        row["amount"] = _cell(row["amount"]).replace(".", ",")
        unknown = set(row) - set(columns)
        assert not unknown, unknown
        lines.append(";".join(_cell(row.get(c)) for c in columns))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_providers(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    rows = list(rows)
    columns = ["provider_id"] + sorted({k for r in rows for k in r} - {"provider_id"})
    lines = [";".join(columns)] + [";".join(_cell(r.get(c)) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(
    tmp_path: Path,
    rows: Iterable[Mapping[str, Any]],
    providers: Iterable[Mapping[str, Any]] | None = None,
) -> CheckRun:
    claims = write_claims(tmp_path / "claims.csv", rows)
    references = {}
    if providers is not None:
        references["provider"] = write_providers(tmp_path / "providers.csv", providers)
    result = check_files(rulebook(), [claims], references)
    assert not result.rejected, result.rejected
    return result


def violations(result: CheckRun, rule: str) -> list[Violation]:
    return [v for v in result.violations if v.rule == rule]


def flagged(result: CheckRun, rule: str) -> list[str]:
    """Line ids flagged by `rule`, in report order."""
    return [v.line_id for v in violations(result, rule)]


def details(v: Violation) -> dict[str, Any]:
    return dict(v.details)


def snp(line_id: str, day: str, time: str | None = "10:00", **more: Any) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "act_code": "SNP",
        "service_date": day,
        "service_time": time,
        "amount": "15.00",
        "regulation": "SAS",
        **more,
    }


def psy(line_id: str, setting: str = "cabinet", **more: Any) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "provider_specialty": "33",
        "act_code": "APY",
        "setting": setting,
        "amount": "67.50",
        **more,
    }


def week_days(monday: str) -> list[str]:
    start = dt.date.fromisoformat(monday)
    assert start.weekday() == 0
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(7)]


# ============================================================================ SNP-CAP


def test_snp_cap_20_in_a_week_is_silent(tmp_path: Path) -> None:
    days = week_days("2025-03-03")
    rows = [snp(f"S{i:02d}", days[i % 7], f"{8 + i % 10:02d}:00") for i in range(20)]
    assert flagged(run(tmp_path, rows), "SNP-CAP") == []


def test_snp_cap_21st_in_chronological_order_is_flagged(tmp_path: Path) -> None:
    # File order is not chronological order: the Sunday line comes first in the file and
    # has the smallest line id; a Monday line comes last in the file.
    rows = [snp("A00", "2025-03-09", "21:30")]
    rows += [snp(f"S{i:02d}", "2025-03-04", "10:00") for i in range(1, 20)]
    rows += [snp("Z99", "2025-03-03", "08:00")]
    result = run(tmp_path, rows)
    assert flagged(result, "SNP-CAP") == ["A00"]
    (v,) = violations(result, "SNP-CAP")
    assert v.amount_at_stake == Decimal("15.00")
    assert v.service_date == dt.date(2025, 3, 9)
    assert v.provider_id == "P1"
    assert v.severity is m.Severity.ERROR


def test_snp_cap_23_in_a_week_flags_the_last_three_with_their_rank(tmp_path: Path) -> None:
    rows = [
        snp(f"S{i:02d}", "2025-03-05", f"{7 + i // 2:02d}:{(i % 2) * 30:02d}") for i in range(23)
    ]
    result = run(tmp_path, list(reversed(rows)))
    assert flagged(result, "SNP-CAP") == ["S20", "S21", "S22"]
    figures = [details(v) for v in violations(result, "SNP-CAP")]
    assert [f["rank"] for f in figures] == [21, 22, 23]
    for f in figures:
        assert (f["count"], f["cap"], f["allowed"], f["excess"]) == (23, 20, 20, 3)
        assert f["period"] == "2025-W10"


def test_snp_cap_missing_service_time_sorts_last_among_equal_dates(tmp_path: Path) -> None:
    # "A00" has no time and the smallest line id: it still comes after every timed line of
    # its date (23:59 included), but before the lines of the next day.
    rows = [snp("A00", "2025-03-05", None)]
    rows += [snp(f"S{i:02d}", "2025-03-05", "09:00") for i in range(1, 20)]
    rows += [snp("S20", "2025-03-05", "23:59"), snp("S21", "2025-03-06", "00:01")]
    result = run(tmp_path, rows)
    # 22 lines: ranks 21 and 22 are A00 (05/03, no time) then S21 (06/03).
    assert flagged(result, "SNP-CAP") == ["A00", "S21"]
    assert [details(v)["rank"] for v in violations(result, "SNP-CAP")] == [21, 22]


def test_snp_cap_ties_broken_by_line_id(tmp_path: Path) -> None:
    ids = [f"S{i:02d}" for i in range(1, 22)]
    order = ids[10:] + ids[:10]  # S11…S21, then S01…S10 in the file
    result = run(tmp_path, [snp(i, "2025-03-05", "10:00") for i in order])
    assert flagged(result, "SNP-CAP") == ["S21"]


def test_snp_cap_ties_without_time_broken_by_line_id(tmp_path: Path) -> None:
    ids = [f"S{i:02d}" for i in range(1, 22)]
    result = run(tmp_path, [snp(i, "2025-03-05", None) for i in reversed(ids)])
    assert flagged(result, "SNP-CAP") == ["S21"]


def test_snp_cap_counts_iso_week_across_new_year(tmp_path: Path) -> None:
    # 2025-12-29 (Monday) … 2026-01-04 (Sunday) is ISO week 2026-W01; 2025-12-28 is 2025-W52.
    rows = [snp(f"A{i:02d}", "2025-12-29") for i in range(10)]
    rows += [snp(f"B{i:02d}", "2026-01-02") for i in range(10)]
    rows += [snp("C01", "2026-01-04")]
    rows += [snp(f"D{i:02d}", "2025-12-28") for i in range(20)]
    result = run(tmp_path, rows)
    assert flagged(result, "SNP-CAP") == ["C01"]
    (v,) = violations(result, "SNP-CAP")
    assert details(v)["period"] == "2026-W01"
    assert details(v)["count"] == 21


def test_snp_cap_2025_12_28_is_not_in_week_2026_w01(tmp_path: Path) -> None:
    # 20 lines in 2026-W01 and one on Sunday 2025-12-28: no week holds more than 20.
    rows = [snp(f"A{i:02d}", "2025-12-29") for i in range(20)]
    rows += [snp("D01", "2025-12-28", "23:30")]
    assert flagged(run(tmp_path, rows), "SNP-CAP") == []


def test_snp_cap_week_53_spans_new_year(tmp_path: Path) -> None:
    # 2020-12-28 … 2021-01-03 is ISO week 2020-W53.
    rows = [snp(f"A{i:02d}", "2020-12-31") for i in range(15)]
    rows += [snp(f"B{i:02d}", "2021-01-03", "09:00") for i in range(6)]
    result = run(tmp_path, rows)
    assert flagged(result, "SNP-CAP") == ["B05"]
    assert details(violations(result, "SNP-CAP")[0])["period"] == "2020-W53"


def test_snp_cap_sunday_evening_line_belongs_to_the_same_week(tmp_path: Path) -> None:
    days = week_days("2025-03-03")
    rows = [snp(f"S{i:02d}", days[i % 6], "09:00") for i in range(20)]  # Monday-Saturday
    rows += [snp("SUN", "2025-03-09", "23:30")]  # Sunday evening: 21st of the week
    rows += [snp(f"N{i:02d}", "2025-03-10", "00:05") for i in range(5)]  # next Monday
    result = run(tmp_path, rows)
    assert flagged(result, "SNP-CAP") == ["SUN"]
    assert details(violations(result, "SNP-CAP")[0])["period"] == "2025-W10"


def test_snp_cap_is_per_provider(tmp_path: Path) -> None:
    rows = [snp(f"P{i:02d}", "2025-03-05", provider_id="P1") for i in range(20)]
    rows += [snp(f"Q{i:02d}", "2025-03-05", provider_id="P2") for i in range(21)]
    result = run(tmp_path, rows)
    assert flagged(result, "SNP-CAP") == ["Q20"]
    assert violations(result, "SNP-CAP")[0].provider_id == "P2"


def test_snp_cap_counts_only_snp_lines(tmp_path: Path) -> None:
    rows = [snp(f"S{i:02d}", "2025-03-05") for i in range(20)]
    rows += [{"line_id": f"G{i:02d}", "service_date": "2025-03-05"} for i in range(10)]
    rows += [{"line_id": "SHE1", "act_code": "SHE", "amount": "5.00"}]
    assert flagged(run(tmp_path, rows), "SNP-CAP") == []


def test_snp_cap_amount_at_stake_is_the_line_amount(tmp_path: Path) -> None:
    rows = [snp(f"S{i:02d}", "2025-03-05") for i in range(20)]
    rows += [snp("S20", "2025-03-06", amount="17.25")]
    (v,) = violations(run(tmp_path, rows), "SNP-CAP")
    assert v.amount_at_stake == Decimal("17.25")
    assert v.record()["amount_at_stake"] == "17.25"


def test_snp_cap_applies_always(tmp_path: Path) -> None:
    rows = [snp(f"S{i:02d}", "2023-03-08") for i in range(21)]
    assert flagged(run(tmp_path, rows), "SNP-CAP") == ["S20"]


# ============================================================================ TLC-URG


@pytest.mark.parametrize("code", ["MN", "MM", "F"])
def test_tlc_urg_flags_mn_mm_f_in_own_teleconsultation_setting(tmp_path: Path, code: str) -> None:
    rows = [{"line_id": "L1", "act_code": code, "setting": "teleconsultation", "amount": "35.00"}]
    result = run(tmp_path, rows)
    assert flagged(result, "TLC-URG") == ["L1"]
    (v,) = violations(result, "TLC-URG")
    assert v.amount_at_stake == Decimal("35.00")
    assert code in v.message


@pytest.mark.parametrize("code", ["MN", "MM", "F"])
def test_tlc_urg_flags_surcharge_when_claims_main_act_is_teleconsultation(
    tmp_path: Path, code: str
) -> None:
    rows = [
        {"line_id": "L1", "claim_id": "C1", "act_code": "G", "setting": "teleconsultation"},
        {"line_id": "L2", "claim_id": "C1", "act_code": code, "amount": "19.06"},
    ]
    result = run(tmp_path, rows)
    assert flagged(result, "TLC-URG") == ["L2"]
    assert violations(result, "TLC-URG")[0].amount_at_stake == Decimal("19.06")


def test_tlc_urg_not_flagged_when_the_teleconsultation_line_is_only_another_surcharge(
    tmp_path: Path,
) -> None:
    rows = [
        {"line_id": "L1", "claim_id": "C1", "act_code": "G", "setting": "cabinet"},
        {
            "line_id": "L2",
            "claim_id": "C1",
            "act_code": "MCY",
            "setting": "teleconsultation",
            "amount": "15.00",
        },
        {
            "line_id": "L3",
            "claim_id": "C1",
            "act_code": "SNP",
            "setting": "teleconsultation",
            "amount": "15.00",
        },
        {
            "line_id": "L4",
            "claim_id": "C1",
            "act_code": "MN",
            "setting": "cabinet",
            "amount": "35.00",
        },
    ]
    assert flagged(run(tmp_path, rows), "TLC-URG") == []


def test_tlc_urg_not_flagged_in_person(tmp_path: Path) -> None:
    rows = [
        {"line_id": "L1", "claim_id": "C1", "act_code": "G", "setting": "domicile"},
        {
            "line_id": "L2",
            "claim_id": "C1",
            "act_code": "MN",
            "setting": "domicile",
            "amount": "35.00",
        },
    ]
    assert flagged(run(tmp_path, rows), "TLC-URG") == []


def test_tlc_urg_teleconsultation_of_another_claim_does_not_count(tmp_path: Path) -> None:
    rows = [
        {"line_id": "L1", "claim_id": "C1", "act_code": "G", "setting": "teleconsultation"},
        {"line_id": "L2", "claim_id": "C2", "act_code": "F", "amount": "19.06"},
    ]
    assert flagged(run(tmp_path, rows), "TLC-URG") == []


def test_tlc_urg_does_not_flag_the_teleconsultation_act_itself(tmp_path: Path) -> None:
    rows = [
        {"line_id": "L1", "claim_id": "C1", "act_code": "G", "setting": "teleconsultation"},
        {"line_id": "L2", "claim_id": "C1", "act_code": "MM", "amount": "40.00"},
        {"line_id": "L3", "claim_id": "C1", "act_code": "MRT", "amount": "15.00"},
    ]
    assert flagged(run(tmp_path, rows), "TLC-URG") == ["L2"]


def test_tlc_urg_not_before_2024_12_22(tmp_path: Path) -> None:
    rows = [
        {
            "line_id": "L1",
            "act_code": "MN",
            "setting": "teleconsultation",
            "service_date": "2024-12-21",
            "amount": "35.00",
        },
        {
            "line_id": "L2",
            "act_code": "MN",
            "setting": "teleconsultation",
            "service_date": "2024-12-22",
            "amount": "35.00",
        },
        {
            "line_id": "L3",
            "claim_id": "C3",
            "act_code": "G",
            "setting": "teleconsultation",
            "service_date": "2024-12-21",
        },
        {
            "line_id": "L4",
            "claim_id": "C3",
            "act_code": "F",
            "service_date": "2024-12-21",
            "amount": "19.06",
        },
    ]
    assert flagged(run(tmp_path, rows), "TLC-URG") == ["L2"]


# ============================================================================ YYYY010-FOLLOWUP


def yyyy010(line_id: str, followup: str = "", **more: Any) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "act_code": "YYYY010",
        "followup": followup,
        "amount": "60.00",
        **more,
    }


def test_yyyy010_followup_urgences_ok(tmp_path: Path) -> None:
    assert flagged(run(tmp_path, [yyyy010("L1", "urgences")]), "YYYY010-FOLLOWUP") == []


def test_yyyy010_followup_hospitalisation_ok(tmp_path: Path) -> None:
    result = run(tmp_path, [yyyy010("L1", "hospitalisation")])
    assert flagged(result, "YYYY010-FOLLOWUP") == []


def test_yyyy010_followup_empty_flagged(tmp_path: Path) -> None:
    result = run(tmp_path, [yyyy010("L1", ""), {"line_id": "G1"}])
    assert flagged(result, "YYYY010-FOLLOWUP") == ["L1"]
    (v,) = violations(result, "YYYY010-FOLLOWUP")
    assert v.amount_at_stake == Decimal("60.00")
    assert v.claim_id == "L1"
    assert v.source.startswith("circ. §6.B.2.ii")
    assert v.location.startswith("convention-2024/emergencies.rules:")


def test_yyyy010_followup_other_codes_are_not_concerned(tmp_path: Path) -> None:
    rows = [{"line_id": "L1", "act_code": "YYYY011"}, {"line_id": "L2", "act_code": "G"}]
    assert flagged(run(tmp_path, rows), "YYYY010-FOLLOWUP") == []


def test_yyyy010_cpl_validated_exception_lifts_rule(tmp_path: Path) -> None:
    rows = [yyyy010("L1", provider_id="P1"), yyyy010("L2", provider_id="P2")]
    providers = [
        {"provider_id": "P1", "yyyy010_cpl_validated": "true"},
        {"provider_id": "P2", "yyyy010_cpl_validated": "false"},
    ]
    assert flagged(run(tmp_path, rows, providers), "YYYY010-FOLLOWUP") == ["L2"]


def test_yyyy010_cpl_validated_empty_cell_is_not_validated(tmp_path: Path) -> None:
    rows = [yyyy010("L1", provider_id="P1")]
    providers = [{"provider_id": "P1", "yyyy010_cpl_validated": ""}]
    assert flagged(run(tmp_path, rows, providers), "YYYY010-FOLLOWUP") == ["L1"]


def test_yyyy010_provider_absent_from_reference_file_is_not_validated(tmp_path: Path) -> None:
    rows = [yyyy010("L1", provider_id="P9"), yyyy010("L2", provider_id="P1")]
    providers = [{"provider_id": "P1", "yyyy010_cpl_validated": "true"}]
    assert flagged(run(tmp_path, rows, providers), "YYYY010-FOLLOWUP") == ["L1"]


def test_yyyy010_without_reference_file_is_not_validated(tmp_path: Path) -> None:
    assert flagged(run(tmp_path, [yyyy010("L1")]), "YYYY010-FOLLOWUP") == ["L1"]


def test_yyyy010_not_before_2024_06_22(tmp_path: Path) -> None:
    rows = [yyyy010("L1", service_date="2024-06-21"), yyyy010("L2", service_date="2024-06-22")]
    assert flagged(run(tmp_path, rows), "YYYY010-FOLLOWUP") == ["L2"]


# ============================================================================ TLC-CAP-PSY


def psy_batch(cabinet: int, tele: int, **more: Any) -> list[dict[str, Any]]:
    """`cabinet` office lines, then `tele` teleconsultations T01… on successive days."""
    rows = [psy(f"C{i:02d}", service_date="2025-02-03", **more) for i in range(1, cabinet + 1)]
    start = dt.date(2025, 3, 1)
    rows += [
        psy(
            f"T{i:02d}",
            "teleconsultation",
            service_date=(start + dt.timedelta(days=i)).isoformat(),
            **more,
        )
        for i in range(1, tele + 1)
    ]
    return rows


def test_tlc_cap_psy_40_percent_exactly_is_silent(tmp_path: Path) -> None:
    assert flagged(run(tmp_path, psy_batch(6, 4)), "TLC-CAP-PSY") == []


def test_tlc_cap_psy_flags_the_last_teleconsultations_in_chronological_order(
    tmp_path: Path,
) -> None:
    rows = psy_batch(4, 6)  # N=10, T=6, allowed 4: T05 and T06 are flagged
    result = run(tmp_path, list(reversed(rows)))
    assert flagged(result, "TLC-CAP-PSY") == ["T05", "T06"]


def test_tlc_cap_psy_flagged_records_carry_the_group_figures(tmp_path: Path) -> None:
    rows = psy_batch(5, 5)  # N=10, T=5, cap 40 %, allowed 4
    rows[-1]["amount"] = "52.30"
    result = run(tmp_path, rows)
    (v,) = violations(result, "TLC-CAP-PSY")
    assert v.line_id == "T05"
    assert v.amount_at_stake == Decimal("52.30")
    figures = details(v)
    assert figures["count"] == 5
    assert figures["total"] == 10
    assert figures["cap"] == 40
    assert figures["allowed"] == 4
    assert figures["period"] == "2025"
    record = v.record()
    assert record["amount_at_stake"] == "52.30"
    assert record["details"]["cap"] == "40"
    assert record["details"]["count"] == 5
    assert record["details"]["total"] == 10
    assert record["details"]["allowed"] == 4


def test_tlc_cap_psy_floor_at_non_integer_boundary(tmp_path: Path) -> None:
    # N=12: 40 % of 12 = 4.8, allowed = floor = 4 (not 5).
    result = run(tmp_path, psy_batch(7, 5))
    assert flagged(result, "TLC-CAP-PSY") == ["T05"]
    assert details(violations(result, "TLC-CAP-PSY")[0])["allowed"] == 4
    assert flagged(run(tmp_path, psy_batch(8, 4)), "TLC-CAP-PSY") == []


def test_tlc_cap_psy_excludes_treating_doctor_with_own_patient(tmp_path: Path) -> None:
    # N=15 (allowed 6); T=4 once the 5 treating-doctor teleconsultations are left out.
    rows = psy_batch(6, 4)
    rows += [
        psy(f"M{i}", "teleconsultation", treating_doctor=True, service_date="2025-05-01")
        for i in range(1, 6)
    ]
    assert flagged(run(tmp_path, rows), "TLC-CAP-PSY") == []


def test_tlc_cap_psy_treating_doctor_teleconsultation_is_never_flagged(tmp_path: Path) -> None:
    # N=11, allowed 4, T=5: the last counted one is flagged, not the later treating-doctor line.
    rows = psy_batch(5, 5)
    rows += [psy("M1", "teleconsultation", treating_doctor=True, service_date="2025-12-01")]
    assert flagged(run(tmp_path, rows), "TLC-CAP-PSY") == ["T05"]


def test_tlc_cap_psy_counts_sas_regulated_teleconsultations(tmp_path: Path) -> None:
    # N=11, allowed 4; the 5th teleconsultation is SAS-regulated and the latest: flagged.
    rows = psy_batch(6, 4)
    rows += [psy("S1", "teleconsultation", regulation="SAS", service_date="2025-06-01")]
    result = run(tmp_path, rows)
    assert flagged(result, "TLC-CAP-PSY") == ["S1"]
    assert details(violations(result, "TLC-CAP-PSY")[0])["count"] == 5


@pytest.mark.parametrize("code", ["RQD", "TE1", "TE2"])
def test_tlc_cap_psy_teleexpertise_excluded_from_n_and_t(tmp_path: Path, code: str) -> None:
    rows = psy_batch(5, 5)  # N=10, allowed 4, one flagged
    rows += [psy(f"X{i}", "cabinet", act_code=code, amount="20.00") for i in range(10)]
    rows += [psy(f"Y{i}", "teleconsultation", act_code=code, amount="20.00") for i in range(3)]
    result = run(tmp_path, rows)
    assert flagged(result, "TLC-CAP-PSY") == ["T05"]
    assert details(violations(result, "TLC-CAP-PSY")[0])["total"] == 10


@pytest.mark.parametrize("code", ["MCY", "MN", "SNP"])
def test_tlc_cap_psy_surcharges_excluded_from_n_and_t(tmp_path: Path, code: str) -> None:
    rows = psy_batch(5, 5)
    rows += [psy(f"X{i}", "cabinet", act_code=code, amount="15.00") for i in range(10)]
    rows += [psy(f"Y{i}", "teleconsultation", act_code=code, amount="15.00") for i in range(3)]
    result = run(tmp_path, rows)
    assert flagged(result, "TLC-CAP-PSY") == ["T05"]
    assert details(violations(result, "TLC-CAP-PSY")[0])["total"] == 10


def test_tlc_cap_psy_derogation_at_50(tmp_path: Path) -> None:
    providers = [{"provider_id": "P1", "tlc_cap_derogation": "50"}]
    assert flagged(run(tmp_path, psy_batch(5, 5), providers), "TLC-CAP-PSY") == []
    result = run(tmp_path, psy_batch(4, 6), providers)  # N=10, allowed 5
    assert flagged(result, "TLC-CAP-PSY") == ["T06"]
    assert details(violations(result, "TLC-CAP-PSY")[0])["cap"] == 50


def test_tlc_cap_psy_derogation_above_50_is_capped_at_50(tmp_path: Path) -> None:
    providers = [{"provider_id": "P1", "tlc_cap_derogation": "80"}]
    result = run(tmp_path, psy_batch(4, 6), providers)  # at 80 % nothing would be flagged
    assert flagged(result, "TLC-CAP-PSY") == ["T06"]
    figures = details(violations(result, "TLC-CAP-PSY")[0])
    assert (figures["cap"], figures["allowed"]) == (50, 5)


def test_tlc_cap_psy_derogation_below_40_keeps_40(tmp_path: Path) -> None:
    providers = [{"provider_id": "P1", "tlc_cap_derogation": "30"}]
    assert flagged(run(tmp_path, psy_batch(6, 4), providers), "TLC-CAP-PSY") == []
    result = run(tmp_path, psy_batch(5, 5), providers)
    assert flagged(result, "TLC-CAP-PSY") == ["T05"]
    assert details(violations(result, "TLC-CAP-PSY")[0])["cap"] == 40


def test_tlc_cap_psy_derogation_between_40_and_50_is_used(tmp_path: Path) -> None:
    providers = [{"provider_id": "P1", "tlc_cap_derogation": "45"}]
    # N=20: 45 % -> 9 allowed.
    assert flagged(run(tmp_path, psy_batch(11, 9), providers), "TLC-CAP-PSY") == []
    result = run(tmp_path, psy_batch(10, 10), providers)
    assert flagged(result, "TLC-CAP-PSY") == ["T10"]
    assert details(violations(result, "TLC-CAP-PSY")[0])["allowed"] == 9


def test_tlc_cap_psy_provider_without_derogation_row_keeps_40(tmp_path: Path) -> None:
    providers = [{"provider_id": "P2", "tlc_cap_derogation": "50"}]
    assert flagged(run(tmp_path, psy_batch(5, 5), providers), "TLC-CAP-PSY") == ["T05"]


def test_tlc_cap_psy_groups_per_calendar_year(tmp_path: Path) -> None:
    # P1: 2025 holds 10 office lines and 1 teleconsultation on 31/12 (fine); 2026 holds only
    #     a teleconsultation on 01/01 (N=1, allowed 0: flagged). Pooled, nothing would be.
    # P2: the other way round.
    rows = [psy(f"CA{i:02d}", provider_id="P1", service_date="2025-06-02") for i in range(10)]
    rows += [
        psy(
            "A31",
            "teleconsultation",
            provider_id="P1",
            service_date="2025-12-31",
            service_time="23:30",
        )
    ]
    rows += [
        psy(
            "A01",
            "teleconsultation",
            provider_id="P1",
            service_date="2026-01-01",
            service_time="00:30",
        )
    ]
    rows += [
        psy(
            "B31",
            "teleconsultation",
            provider_id="P2",
            service_date="2025-12-31",
            service_time="23:30",
        )
    ]
    rows += [
        psy(
            "B01",
            "teleconsultation",
            provider_id="P2",
            service_date="2026-01-01",
            service_time="00:30",
        )
    ]
    rows += [psy(f"CB{i:02d}", provider_id="P2", service_date="2026-01-01") for i in range(10)]
    result = run(tmp_path, rows)
    assert flagged(result, "TLC-CAP-PSY") == ["A01", "B31"]
    by_line = {v.line_id: details(v) for v in violations(result, "TLC-CAP-PSY")}
    assert (by_line["A01"]["period"], by_line["A01"]["total"]) == ("2026", 1)
    assert (by_line["B31"]["period"], by_line["B31"]["total"]) == ("2025", 1)


@pytest.mark.parametrize("specialty", ["33", "75", "17"])
def test_tlc_cap_psy_applies_to_every_psychiatry_specialty(tmp_path: Path, specialty: str) -> None:
    result = run(tmp_path, psy_batch(5, 5, provider_specialty=specialty))
    assert flagged(result, "TLC-CAP-PSY") == ["T05"]


def test_tlc_cap_psy_general_practitioner_is_not_concerned(tmp_path: Path) -> None:
    rows = psy_batch(1, 9, provider_specialty="01")
    assert flagged(run(tmp_path, rows), "TLC-CAP-PSY") == []


def test_tlc_cap_psy_not_before_2024_06_22(tmp_path: Path) -> None:
    early = [psy(f"T{i}", "teleconsultation", service_date="2024-06-21") for i in range(5)]
    assert flagged(run(tmp_path, early), "TLC-CAP-PSY") == []
    # Lines before the effective period are not part of N either.
    rows = [psy(f"C{i}", service_date="2024-06-21") for i in range(10)]
    rows += [psy("T9", "teleconsultation", service_date="2024-06-22")]
    result = run(tmp_path, rows)
    assert flagged(result, "TLC-CAP-PSY") == ["T9"]
    assert details(violations(result, "TLC-CAP-PSY")[0])["total"] == 1


# ============================================================================ all four at once


def test_every_violation_carries_its_rulebook_location_and_source(tmp_path: Path) -> None:
    rows = [snp(f"S{i:02d}", "2025-03-05") for i in range(21)]
    rows += [{"line_id": "U1", "act_code": "MN", "setting": "teleconsultation", "amount": "35"}]
    rows += [yyyy010("Y1")]
    rows += psy_batch(5, 5, provider_id="P3")
    headline = {"SNP-CAP", "TLC-CAP-PSY", "TLC-URG", "YYYY010-FOLLOWUP"}
    result = run(tmp_path, rows)
    found = [v for v in result.violations if v.rule in headline]  # other rules may fire too
    assert [v.rule for v in found] == sorted(headline)
    for v in found:
        assert v.source
        path, _, line = v.location.rpartition(":")
        assert path.startswith("convention-2024/") and path.endswith(".rules")
        assert line.isdigit()
