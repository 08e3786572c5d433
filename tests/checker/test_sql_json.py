"""The records DuckDB writes itself as JSON lines (checker/sql_json.py) are the bytes Python
writes for the same violations.

test_engines_agree.py holds both paths to the same bytes on every example and random batch;
here: a rulebook with a value of every type in its messages and details, hostile texts, which
rules are written by DuckDB and which keep Python's records, and the CLI.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from claimlint.checker import duckdb_engine, examples, interpreter, sql_json
from claimlint.checker.readers import Batch
from claimlint.checker.violations import JsonLines, Rendered, Violation, names_patient
from claimlint.cli import main
from claimlint.dsl.loader import load
from claimlint.report.privacy import Pseudonymiser
from claimlint.report.records import write_records

ROOT = Path(__file__).resolve().parents[2]

KINDS_RULEBOOK = r"""
rulebook kinds "Une valeur de chaque type" version "1"

input claims "Lignes"
  line_id       text    required  role line
  claim_id      text    optional  role claim
  provider_id   text    required  role provider
  service_date  date    required  role date
  service_time  time    optional  role time
  act_code      text    required
  quantity      integer optional
  amount        money   required  role amount
  rate          decimal optional
  urgent        boolean optional
  referral_date date    optional
  patient_id    text    optional

parameter SHARE "Part maximale (en %)"
  type decimal
  value 33.5 source "t"

parameter WEEKLY "Plafond hebdomadaire"
  type integer
  value 1 source "t"

rule KINDS "Chaque type dans le message et les détails"
  severity warning if urgent else error
  source "t ; « cité »"
  always
  stake amount * rate
  let q = quantity
  let q2 = quantity * quantity
  let share = rate
  let twice = amount * 2
  let scaled = amount * rate
  let per_unit = amount / 8
  let when_referred = referral_date
  let at = service_time
  let flag = urgent
  let code = act_code
  let none = if act_code = "X" then referral_date else referral_date
  when act_code != "Z"
  message "{act_code} ; {quantity} ; {amount} ; {rate} ; {urgent} ; {referral_date} ; {service_time} ; {scaled} ; {per_unit} ; {twice} ; {claim_id}"

rule KINDS-SHARE "Part décimale, par année"
  severity warning
  source "t"
  always
  for each provider_id, year(service_date)
  count act_code = "X"
  at most SHARE percent
  message "{count} X sur {total} en {period} : plafond {cap} % ({allowed}), {excess} de trop, le {rank}e"

rule KINDS-WEEK "Plafond entier, par semaine ISO"
  severity info
  source "t"
  always
  for each provider_id, iso_week(service_date)
  when act_code = "X"
  at most WEEKLY
  message "{count} X la semaine {period}, plafond {cap} : le {rank}e"

rule KINDS-MONTH "Plafond décimal, par mois"
  severity error
  source "t"
  always
  for each provider_id, month(service_date)
  when act_code = "X"
  at most rate
  message "{count} X le {period}, plafond {cap} : le {rank}e"

rule KINDS-PATIENT "Le patient dans le message et les détails"
  severity info
  source "t"
  always
  let patient = patient_id
  when act_code = "Y"
  message "Y pour {patient_id}"

rule KINDS-GROUP "Un enregistrement par médecin"
  severity info
  source "t"
  always
  for each provider_id
  when act_code = "Y"
  flag once per group
  message "Y chez {provider_id}"
"""

# Texts DuckDB's JSON writer escapes otherwise than Python's (capitals), quotes, backslashes,
# separators, and characters beyond the basic plane.
HOSTILE = ["a\x0bb", "\x1f", "\x0e\x0f\x1a", 'x"y', "back\\slash", "\\u000B", "L\u2028S", "🩺;'"]


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("kinds") / "kinds.rules"
    path.write_text(KINDS_RULEBOOK, encoding="utf-8")
    return load(str(path))


def batch(book: Any, rows: list[dict[str, Any]]) -> Batch:
    full = [{f.name: row.get(f.name) for f in book.input.fields} for row in rows]
    return Batch(book.input, "t", tuple(full), tuple(range(2, len(full) + 2)), (), len(full))


def jsonl(found: list) -> str:
    out = io.StringIO()
    write_records(found, out)
    return out.getvalue()


def both(book: Any, rows: list[dict[str, Any]], pseudonymised: bool = False) -> tuple[list, list]:
    """The interpreter's violations, and the DuckDB engine's records writing JSON lines."""
    b = batch(book, rows)
    expected = interpreter.check(book, b, {})
    found = duckdb_engine.check(book, b, {}, None, JsonLines(pseudonymised=pseudonymised))
    return expected, found


def line(n: int, **values: Any) -> dict[str, Any]:
    row = {
        "line_id": f"L{n:02d}",
        "claim_id": f"C{n:02d}",
        "provider_id": "P1",
        "service_date": dt.date(2025, 3, 4),
        "service_time": dt.time(9, 5),
        "act_code": "X",
        "quantity": 2,
        "amount": Decimal("25.00"),
        "rate": Decimal("1.5"),
        "urgent": False,
        "referral_date": dt.date(999, 1, 2),
        "patient_id": "PAT-1",
    }
    return row | values


KINDS_ROWS = [
    line(1),
    line(2, quantity=None, rate=None, urgent=None, referral_date=None, service_time=None),
    line(3, amount=Decimal("0.05"), rate=Decimal("0.125"), urgent=True, claim_id=None),
    line(4, amount=Decimal("-3.50"), rate=Decimal("100"), quantity=-7),
    line(5, amount=Decimal("9999999999999999.99"), rate=Decimal("0.000001")),  # / 8 overflowed
    line(6, amount=Decimal("0.01"), rate=Decimal("0.5"), service_date=dt.date(2025, 3, 9)),
    line(7, amount=Decimal("0.03"), rate=Decimal("0.5"), act_code="Y"),
    line(8, provider_id="P2", service_date=dt.date(2026, 1, 1), rate=Decimal("2.25")),
    line(9, provider_id="P2", service_date=dt.date(2026, 1, 1), service_time=dt.time(0, 0)),
    line(10, provider_id="P2", service_date=dt.date(2026, 1, 1), service_time=None),
    # Zeros with a sign in Python's arithmetic, none in SQL's: 0 × -1, and -0.00000001 to the
    # cent.
    line(19, provider_id="P3", amount=Decimal("0.00"), rate=Decimal(-1), act_code="Z1"),
    line(20, provider_id="P3", amount=Decimal("0.01"), rate=Decimal("-0.000001"), act_code="Z2"),
    *(
        line(11 + i, line_id=text, claim_id=text, provider_id=text, act_code=text)
        for i, text in enumerate(HOSTILE)
    ),
]


def test_every_type_prints_as_python_prints_it(kinds: Any) -> None:
    expected, found = both(kinds, KINDS_ROWS)
    assert jsonl(found) == jsonl(expected)
    # And DuckDB's rows made into Violations by Python, the path of the other formats.
    assert duckdb_engine.check(kinds, batch(kinds, KINDS_ROWS), {}) == expected
    assert [v.severity for v in found] == [v.severity for v in expected]
    assert [v.amount_at_stake for v in found] == [v.amount_at_stake for v in expected]
    # Every record of a line is DuckDB's; a record per group stays Python's.
    rendered = {v.rule for v in found if isinstance(v, Rendered)}
    assert rendered == {"KINDS", "KINDS-SHARE", "KINDS-WEEK", "KINDS-MONTH", "KINDS-PATIENT"}
    assert {v.rule for v in found if isinstance(v, Violation)} == {"KINDS-GROUP"}


def test_records_naming_a_patient_stay_python_s_when_pseudonymised(kinds: Any) -> None:
    """The writer replaces patient identifiers in Violations: a rule whose record names a
    patient keeps Python's records, the others are written by DuckDB as before."""
    private = Pseudonymiser(b"key")
    expected, found = both(kinds, KINDS_ROWS, pseudonymised=True)
    assert jsonl(private.violations(found)) == jsonl(private.violations(expected))
    assert "PAT-1" not in jsonl(private.violations(found))
    assert {v.rule for v in found if isinstance(v, Violation)} == {"KINDS-GROUP", "KINDS-PATIENT"}
    assert names_patient(next(r for r in kinds.rules if r.id == "KINDS-PATIENT"))


def test_the_rulebook_shows_what_it_means_to_show(kinds: Any) -> None:
    """The values the test above compares are the hard ones: padded, trimmed and extra
    places, signs, missing values, an unpadded year, the JSON escapes."""
    expected, _ = both(kinds, KINDS_ROWS)
    records = {(v.rule, v.line_id): v.record() for v in expected}
    first = records[("KINDS", "L01")]
    assert first["message"] == (
        "X ; 2 ; 25,00 ; 1,5 ; non ; 02/01/999 ; 09:05 ; 37,50 ; 3,125 ; 50,00 ; C01"
    )
    assert first["details"]["scaled"] == "37.50"
    assert first["details"]["when_referred"] == "0999-01-02"
    assert records[("KINDS", "L02")]["message"].startswith("X ; — ; 25,00 ; — ; — ; — ; —")
    assert records[("KINDS", "L03")]["amount_at_stake"] == "0.01"  # 0.00625, half to even
    assert records[("KINDS", "L03")]["claim_id"] is None
    assert records[("KINDS-SHARE", "L04")]["message"] == (
        "6 X sur 7 en 2025 : plafond 33,5 % (2), 4 de trop, le 3e"
    )
    assert records[("KINDS-SHARE", "L04")]["details"]["cap"] == "33.5"
    assert records[("KINDS-WEEK", "L02")]["details"]["period"] == "2025-W10"
    # Missing time last: L09 (00:00) is the first of P2's day, L08 (09:05) then L10.
    assert [k[1] for k in records if k[0] == "KINDS-MONTH"][-2:] == ["L08", "L10"]
    assert records[("KINDS-MONTH", "L08")]["message"] == "3 X le 2026-01, plafond 1,5 : le 2e"
    for n in ("L19", "L20"):
        assert records[("KINDS", n)]["amount_at_stake"] == "0.00"
        assert records[("KINDS", n)]["details"]["scaled"] == "0.00"
    assert " ; 0,00 ; " in records[("KINDS", "L19")]["message"]
    text = jsonl(expected)
    assert "\\u000b" in text and "\\u001f" in text and "\\\\u000B" in text


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2", "é"]),
            st.dates(dt.date(2024, 12, 28), dt.date(2025, 1, 6)),
            st.one_of(st.none(), st.times().map(lambda t: t.replace(microsecond=0))),
            st.sampled_from(["X", "X", "Y", "Z", "G"]),
            st.one_of(st.none(), st.integers(-3, 3)),
            st.integers(-(10**6), 10**6).map(lambda c: Decimal(c) / 100),
            st.one_of(st.none(), st.decimals(-5, 5, places=6, allow_nan=False)),
            st.one_of(st.none(), st.booleans()),
            st.text(max_size=4),
        ),
        max_size=12,
    )
)
def test_random_lines_print_the_same(kinds: Any, drawn: list[tuple]) -> None:
    rows = [
        {
            "line_id": f"{text}#{n}",
            "claim_id": text or None,
            "provider_id": provider,
            "service_date": day,
            "service_time": time,
            "act_code": code,
            "quantity": quantity,
            "amount": amount,
            "rate": rate,
            "urgent": urgent,
            "referral_date": day,
        }
        for n, (provider, day, time, code, quantity, amount, rate, urgent, text) in enumerate(drawn)
    ]
    expected, found = both(kinds, rows)
    assert jsonl(found) == jsonl(expected)


def test_shipped_rulebook_records_of_lines_are_written_by_duckdb() -> None:
    """On the convention's examples run as one batch (without their provider tables), every
    rule that fires has its records written by DuckDB. No rule of it names a patient, so
    pseudonymised reports are written by DuckDB alike."""
    book = load("convention-2024")
    rows: list[dict[str, Any]] = []
    for n, example in enumerate(book.examples):
        claims, _ = examples.example_batches(book, example)
        rows += [dict(r) | {"line_id": f"{n}-{r['line_id']}"} for r in claims.rows]
    b = Batch(book.input, "t", tuple(rows), tuple(range(2, len(rows) + 2)), (), len(rows))
    expected = interpreter.check(book, b, {})
    found = duckdb_engine.check(book, b, {}, None, JsonLines(pseudonymised=True))
    assert jsonl(found) == jsonl(expected)
    rules = {v.rule for v in expected}
    assert len(rules) >= 25
    assert all(isinstance(v, Rendered) for v in found)
    assert not any(names_patient(r) for r in book.rules)


@pytest.mark.parametrize(
    ("duck_type", "kind", "scale"),
    [
        ("VARCHAR", "text", 0),
        ("BOOLEAN", "bool", 0),
        ("HUGEINT", "int", 0),
        ("UTINYINT", "int", 0),
        ("DECIMAL(18,2)", "decimal", 2),
        ("DECIMAL(38,6)", "decimal", 6),
        ("DATE", "date", 0),
        ("TIME", "time", 0),
        ('"NULL"', "null", 0),
        ("BIGINT[]", "ints", 0),
    ],
)
def test_a_column_is_read_as_the_python_type_duckdb_fetches(
    duck_type: str, kind: str, scale: int
) -> None:
    cell = sql_json.Cell.of("c", duck_type)
    assert (cell.kind, cell.scale) == (kind, scale)


@pytest.mark.parametrize("duck_type", ["DOUBLE", "FLOAT", "TIMESTAMP", "INTERVAL", "VARCHAR[]"])
def test_another_type_keeps_the_records_in_python(kinds: Any, duck_type: str) -> None:
    """A rule with a value of a type the SQL does not print gets no query: its rows are
    fetched and Python makes the records."""
    with pytest.raises(sql_json.Unsupported):
        sql_json.Cell.of("c", duck_type)
    rule = next(r for r in kinds.rules if r.id == "KINDS-WEEK")
    head = [
        ("_v0", "VARCHAR"),
        ("_v1", "VARCHAR"),
        ("_v2", "VARCHAR"),
        ("_v3", "TIME"),
        ("_v4", "DATE"),
        ("_v5", "DECIMAL(18,2)"),
        ("_v6", "BOOLEAN"),
    ]
    figures = [("_count", "HUGEINT"), ("_total", "BIGINT"), ("_cap", "INTEGER")]
    good = head + figures + [("_rank", "HUGEINT"), ("_k1", "VARCHAR")]
    assert sql_json.line_query(rule, (), (), "t", good) is not None
    bad = head + figures + [("_rank", "HUGEINT"), ("_k1", duck_type)]
    assert sql_json.line_query(rule, (), (), "t", bad) is None


def test_duckdb_escapes_in_capitals_become_python_escapes() -> None:
    """DuckDB's JSON writer and Python's differ on nine control characters, and only there
    over every code point: `as_python` writes those lines again."""
    con = duckdb.connect()
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    written = con.execute(
        "SELECT CAST(to_json(c) AS TEXT) FROM unnest(CAST(? AS TEXT[])) AS t(c)", [chars]
    ).fetchall()
    differ = [
        c for c, (w,) in zip(chars, written, strict=True) if w != json.dumps(c, ensure_ascii=False)
    ]
    assert [hex(ord(c)) for c in differ] == [
        "0xb", "0xe", "0xf", "0x1a", "0x1b", "0x1c", "0x1d", "0x1e", "0x1f"
    ]  # fmt: skip
    for c in differ + ["\\", "é", "\\u000B"]:
        (line,) = con.execute(
            "SELECT '{\"a\": ' || CAST(to_json(?) AS TEXT) || '}'", [c]
        ).fetchone()
        assert sql_json.as_python(line) == json.dumps({"a": c}, ensure_ascii=False)


@pytest.mark.parametrize("show", [False, True])
def test_the_cli_writes_the_same_jsonl_with_either_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, show: bool
) -> None:
    """The console streams the records DuckDB writes (the queries below are run)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("CLAIMLINT_PSEUDONYM_KEY", "k")
    written = []
    query = sql_json.line_query

    def spy(rule: Any, *args: Any) -> Any:
        found = query(rule, *args)
        written.append((rule.id, found is not None))
        return found

    monkeypatch.setattr(sql_json, "line_query", spy)
    outputs = []
    for engine in ("python", "duckdb"):
        out = tmp_path / f"{engine}.jsonl"
        args = ["check", "examples/claims.csv", "--providers", "examples/providers.csv"]
        args += ["--format", "jsonl", "--engine", engine, "-o", str(out)]
        done = CliRunner().invoke(main, args + (["--show-patient-ids"] if show else []))
        assert done.exit_code == 1, done.output
        outputs.append((out.read_bytes(), done.output))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].count(b"\n") >= 4
    # Every rule gets its query but TLC-DEROG, whose record is a provider's.
    assert len(written) == 33
    assert {rule for rule, query in written if not query} == {"TLC-DEROG"}
