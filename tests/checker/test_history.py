"""The claim history (issue #9): the store, and aggregates that count its lines.

Each test writes small CSV batches (columns left out take the defaults below: a G consultation
at the office of a sector-1 general practitioner, one claim per line), adds some to a history
file and checks another with the shipped `convention-2024` rulebook and the interpreter.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import duckdb
import pytest
from claim_rows import DEFAULTS, rulebook  # tests/checker/claim_rows.py

from claimlint.checker import history, history_reads
from claimlint.checker.arrow import arrow_table
from claimlint.checker.run import CheckRun, check_files
from claimlint.errors import ClaimlintError


def write_claims(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    columns = rulebook().input.names
    lines = [",".join(columns)]
    for partial in rows:
        row = {**DEFAULTS, **partial}
        row.setdefault("claim_id", row["line_id"])
        lines.append(",".join(str(row.get(c, "")) for c in columns))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snp(prefix: str, n: int, day: str, provider: str = "P1") -> list[dict[str, str]]:
    return [
        {
            "line_id": f"{prefix}{i}",
            "provider_id": provider,
            "act_code": "SNP",
            "amount": "15.00",
            "regulation": "SAS",
            "service_date": day,
            "patient_id": f"{prefix}-PAT{i}",
        }
        for i in range(1, n + 1)
    ]


def check(path: Path, store: Path | None, engine: str = "python") -> CheckRun:
    return check_files(rulebook(), [path], engine=engine, history=store)


def flagged(run: CheckRun, rule: str) -> list[tuple[str | None, str, dict[str, Any]]]:
    return [(v.line_id, v.message, dict(v.details)) for v in run.violations if v.rule == rule]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "h" / "history.duckdb"


def add(store: Path, path: Path) -> history.Added:
    return history.add(store, rulebook().input, [path])


def test_19_snp_in_history_and_2_today_flag_exactly_the_second(tmp_path: Path, store: Path):
    add(store, write_claims(tmp_path / "past.csv", snp("H", 19, "2025-03-03")))
    today = write_claims(tmp_path / "today.csv", snp("T", 2, "2025-03-07"))
    assert flagged(check(today, None), "SNP-CAP") == []
    found = flagged(check(today, store), "SNP-CAP")
    assert [(line, msg) for line, msg, _ in found] == [
        (
            "T2",
            "21 SNP facturées la semaine 2025-W10 pour un plafond de 20 : cette SNP est la 21e "
            "(dont 19 déjà facturées d'après l'historique)",
        )
    ]
    assert found[0][2]["history"] == 19 and found[0][2]["rank"] == 21


def test_history_of_another_iso_week_counts_nothing_even_across_a_year_end(
    tmp_path: Path, store: Path
):
    # 2025-12-28 is the Sunday of 2025-W52; 2025-12-29 the Monday of 2026-W01.
    add(store, write_claims(tmp_path / "past.csv", snp("H", 20, "2025-12-28")))
    today = write_claims(tmp_path / "today.csv", snp("T", 1, "2025-12-29"))
    assert flagged(check(today, store), "SNP-CAP") == []


def test_the_same_iso_week_across_a_year_end_counts(tmp_path: Path, store: Path):
    # 2024-12-30 (a Monday) and 2025-01-02 both fall in ISO week 2025-W01.
    add(store, write_claims(tmp_path / "past.csv", snp("H", 20, "2024-12-30")))
    today = write_claims(tmp_path / "today.csv", snp("T", 1, "2025-01-02"))
    found = flagged(check(today, store), "SNP-CAP")
    assert [(line, d["period"], d["history"]) for line, _, d in found] == [("T1", "2025-W01", 20)]


def test_another_provider_in_history_counts_nothing(tmp_path: Path, store: Path):
    add(store, write_claims(tmp_path / "past.csv", snp("H", 20, "2025-03-03", provider="P2")))
    today = write_claims(tmp_path / "today.csv", snp("T", 1, "2025-03-04"))
    assert flagged(check(today, store), "SNP-CAP") == []


def test_gl1_in_history_in_march_makes_todays_gl1_in_june_a_gl_freq_violation(
    tmp_path: Path, store: Path
):
    gl = {"act_code": "GL1", "amount": "60.00", "patient_birth_date": "1940-01-01"}
    add(
        store,
        write_claims(tmp_path / "past.csv", [{**gl, "line_id": "M", "service_date": "2026-03-10"}]),
    )
    today = write_claims(
        tmp_path / "today.csv", [{**gl, "line_id": "J", "service_date": "2026-06-16"}]
    )
    assert flagged(check(today, None), "GL-FREQ") == []
    assert [(line, msg) for line, msg, _ in flagged(check(today, store), "GL-FREQ")] == [
        (
            "J",
            "GL1 facturée 2 fois pour ce patient en 2026 pour un maximum de 1 : celle-ci est la 2e "
            "(dont 1 déjà facturée d'après l'historique)",
        )
    ]


def _psy(prefix: str, n: int, setting: str, day: str) -> list[dict[str, str]]:
    return [
        {
            "line_id": f"{prefix}{i}",
            "provider_specialty": "33",
            "act_code": "APY",
            "amount": "67.50",
            "setting": setting,
            "service_date": day,
        }
        for i in range(1, n + 1)
    ]


def test_a_psychiatrists_yearly_share_counts_history_and_today(tmp_path: Path, store: Path):
    past = _psy("HC", 6, "cabinet", "2025-02-03") + _psy("HT", 4, "teleconsultation", "2025-03-03")
    add(store, write_claims(tmp_path / "past.csv", past))
    # With the year's 10 acts of the history, 5 teleconsultations out of 12 acts is over
    # floor(40 % x 12) = 4: the 5th, today's, is flagged.
    today = write_claims(
        tmp_path / "today.csv",
        _psy("TC", 1, "cabinet", "2025-06-02") + _psy("TT", 1, "teleconsultation", "2025-06-02"),
    )
    found = flagged(check(today, store), "TLC-CAP-PSY")
    assert [(line, d["count"], d["total"], d["allowed"], d["history"]) for line, _, d in found] == [
        ("TT1", 5, 12, 4, 4)
    ]
    # Two more office acts in the history: 5 out of 14 is within floor(40 % x 14) = 5.
    add(store, write_claims(tmp_path / "more.csv", _psy("HC", 8, "cabinet", "2025-02-03")))
    assert flagged(check(today, store), "TLC-CAP-PSY") == []
    assert [line for line, _, _ in flagged(check(today, None), "TLC-CAP-PSY")] == ["TT1"]


def test_re_adding_a_batch_is_a_no_op(tmp_path: Path, store: Path):
    past = write_claims(tmp_path / "past.csv", snp("H", 3, "2025-03-03"))
    assert add(store, past) == history.Added(read=3, added=3, known=0, rejected=())
    assert add(store, past) == history.Added(read=3, added=0, known=3, rejected=())
    with history.open_store(store, rulebook().input, write=False) as opened:
        assert opened.count() == 3


def test_a_conflicting_line_id_is_refused_and_changes_nothing(tmp_path: Path, store: Path):
    past = write_claims(tmp_path / "past.csv", snp("H", 3, "2025-03-03"))
    add(store, past)
    changed = snp("H", 3, "2025-03-03")
    changed[1]["amount"] = "17.00"
    other = write_claims(tmp_path / "other.csv", [*snp("N", 2, "2025-03-04"), *changed])
    with pytest.raises(ClaimlintError) as err:
        add(store, other)
    assert err.value.render() == (
        f"{other}:5 : la ligne « H2 » est déjà dans l'historique avec un autre contenu "
        f"(ajoutée depuis {past}:3, colonne amount différente) ; rien n'a été ajouté\n"
        "  = aide : si la facture a été annulée : claimlint history remove --claim ID"
    )
    with history.open_store(store, rulebook().input, write=False) as opened:
        assert opened.count() == 3


def test_todays_lines_already_in_the_history_are_counted_once(tmp_path: Path, store: Path):
    today = write_claims(tmp_path / "today.csv", snp("T", 21, "2025-03-03"))
    add(store, today)
    found = flagged(check(today, store), "SNP-CAP")
    assert [(line, d["count"], d["history"]) for line, _, d in found] == [
        ("T9", 21, 0)
    ]  # line ids break the tie: "T9" is last
    assert found[0][1].endswith("cette SNP est la 21e")


def test_only_the_groups_and_periods_today_touches_are_fetched(tmp_path: Path, store: Path):
    past = [
        *snp("W", 2, "2025-03-03"),  # same provider and ISO week: fetched
        *snp("X", 2, "2025-03-03", provider="P9"),  # another provider: left out
        *snp("Y", 2, "2024-11-04"),  # another week and year: left out
        {"line_id": "G1", "service_date": "2025-01-13"},  # a consultation of P1 in 2025
    ]
    add(store, write_claims(tmp_path / "past.csv", past))
    probe = today_rows(tmp_path, snp("T", 1, "2025-03-05"))
    weekly = attrs.evolve(rulebook(), rules=tuple(r for r in rulebook().rules if r.id == "SNP-CAP"))
    with history.open_store(store, rulebook().input, write=False) as opened:
        for book, expected in [
            (weekly, ["W1", "W2"]),  # SNP-CAP counts SNP lines only
            # TLC-CAP also counts the year's consultations; TLC-DEROG (no cap) reads nothing.
            (rulebook(), ["G1", "W1", "W2"]),
        ]:
            fetched = history_reads.fetch(opened, book, arrow_table(book.input, probe))
            assert sorted(fetched.column("line_id").to_pylist()) == expected


def today_rows(tmp_path: Path, rows: list[dict[str, str]]) -> tuple[dict[str, Any], ...]:
    from claimlint.checker.run import read_table

    path = write_claims(tmp_path / "probe.csv", rows)
    return read_table(rulebook().input, [path], "csv").rows


def test_a_store_written_by_a_newer_claimlint_is_refused(tmp_path: Path, store: Path):
    add(store, write_claims(tmp_path / "past.csv", snp("H", 1, "2025-03-03")))
    con = duckdb.connect(str(store))
    con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(ClaimlintError) as err:
        check(write_claims(tmp_path / "today.csv", snp("T", 1, "2025-03-03")), store)
    assert err.value.render() == (
        f"{store} : historique écrit par claimlint 0.1.0 (format n° 7) ; cette version "
        "(0.1.0) lit le format n° 2 au plus\n  = aide : mettez claimlint à jour"
    )


def test_a_file_that_is_not_a_history_is_refused(tmp_path: Path):
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(ClaimlintError) as err:
        check(write_claims(tmp_path / "today.csv", snp("T", 1, "2025-03-03")), other)
    assert err.value.render() == f"{other} : ce fichier n'est pas un historique claimlint"


def test_a_missing_history_is_an_error_with_a_hint(tmp_path: Path, store: Path):
    with pytest.raises(ClaimlintError) as err:
        check(write_claims(tmp_path / "today.csv", snp("T", 1, "2025-03-03")), store)
    assert err.value.render() == (
        f"{store} : historique introuvable\n"
        "  = aide : créez-le en y ajoutant un lot : claimlint history add LOT"
    )


def test_a_store_older_than_the_rulebooks_input_gains_its_optional_columns(
    tmp_path: Path, store: Path
):
    schema = rulebook().input
    older = attrs.evolve(schema, fields=tuple(f for f in schema.fields if f.name != "followup"))
    past = write_claims(tmp_path / "past.csv", snp("H", 20, "2025-03-03"))
    history.add(store, older, [past])
    today = write_claims(tmp_path / "today.csv", snp("T", 1, "2025-03-04"))
    # Read as is (the missing column reads as its default), then migrated by a write.
    assert [line for line, _, _ in flagged(check(today, store), "SNP-CAP")] == ["T1"]
    add(store, today)
    with history.open_store(store, schema, write=False) as opened:
        assert opened.stored == frozenset(schema.names)
        assert opened.count() == 21
    con = duckdb.connect(str(store), read_only=True)
    fields = json.loads(con.execute("SELECT value FROM meta WHERE key = 'fields'").fetchone()[0])
    con.close()
    assert [name for name, _ in fields] == list(schema.names)


def test_a_store_of_format_1_is_read_as_it_is_and_indexed_by_a_write(tmp_path: Path, store: Path):
    """Format 2 added the index on invoices: a format-1 store (no index) is checked as it
    is, and the next write indexes it."""

    def index_and_version() -> tuple[list[str], str]:
        con = duckdb.connect(str(store), read_only=True)
        names = [n for (n,) in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()]
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        con.close()
        return names, version[0]

    add(store, write_claims(tmp_path / "past.csv", snp("H", 20, "2025-03-03")))
    assert index_and_version() == (["claimlint_claim"], "2")
    con = duckdb.connect(str(store))
    con.execute("DROP INDEX claimlint_claim")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    today = write_claims(tmp_path / "today.csv", snp("T", 1, "2025-03-04"))
    assert [line for line, _, _ in flagged(check(today, store), "SNP-CAP")] == ["T1"]
    assert index_and_version() == ([], "1")  # a check only reads
    add(store, today)
    assert index_and_version() == (["claimlint_claim"], "2")
    assert [line for line, _, _ in flagged(check(today, store), "SNP-CAP")] == ["T1"]


def test_remove_prune_and_export(tmp_path: Path, store: Path):
    rows = [*snp("A", 2, "2025-01-06"), *snp("B", 3, "2025-03-03")]
    rows[0]["claim_id"] = rows[1]["claim_id"] = "INV1"
    add(store, write_claims(tmp_path / "past.csv", rows))
    cancelled = write_claims(tmp_path / "cancelled.csv", snp("B", 1, "2025-03-03"))
    with history.open_store(store, rulebook().input, write=True) as opened:
        assert history.stats(opened) == [("P1", "2025-01", 2), ("P1", "2025-03", 3)]
        assert history.remove_claims(opened, ["INV1"]) == 2
        assert history.remove_batch(opened, [cancelled]) == 1
        assert history.prune(opened, dt.date(2025, 3, 3)) == 0
        assert history.export(opened, tmp_path / "out.csv") == 2
        assert history.prune(opened, dt.date(2025, 3, 4)) == 2
    exported = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in exported] == ["line_id", "B2", "B3"]


def test_a_line_id_in_two_added_files_is_refused(tmp_path: Path, store: Path):
    first = write_claims(tmp_path / "a.csv", snp("A", 2, "2025-03-03"))
    second = write_claims(tmp_path / "b.csv", snp("A", 1, "2025-03-03"))
    with pytest.raises(ClaimlintError) as err:
        history.add(store, rulebook().input, [first, second])
    assert err.value.render() == (
        f"{second}:2 : la ligne « A1 » est aussi en {first}:2 dans les lots ajoutés ; "
        "rien n'a été ajouté"
    )
    with pytest.raises(ClaimlintError) as err:
        history.add(store, rulebook().input, [first, first])
    assert err.value.render() == f"{first} : lot donné deux fois ; rien n'a été ajouté"
    with history.open_store(store, rulebook().input, write=False) as opened:
        assert opened.count() == 0


def test_rejected_rows_are_left_out_and_reported(tmp_path: Path, store: Path):
    rows = snp("H", 2, "2025-03-03")
    rows[1]["service_date"] = "2025-02-30"
    added = add(store, write_claims(tmp_path / "past.csv", rows))
    assert (added.read, added.added, [r.line for r in added.rejected]) == (2, 1, [3])
