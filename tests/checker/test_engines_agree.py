"""Differential tests: the reference interpreter and the DuckDB engine give the same violations.

1. Every example of every shipped rulebook, built as `claimlint test` builds it.
2. Random batches (hypothesis) drawn to sit on the rules' boundaries: the codes the rulebook
   mentions, dates around its change dates, public holidays and weekends, times around the
   hour limits, amounts around the tariffs, caps just under and over their limits.
3. Hostile strings (quotes, semicolons, SQL, unicode) in the data and in a rulebook flow through
   the DuckDB engine as data.
4. The disagreements the random batches found, each cut down to one line.

The engines must agree exactly: the same ordered list of `Violation`s, or the same error type
with the same rendered message; any other exception is a bug whichever engine raises it.
Set CLAIMLINT_DIFF_EXAMPLES to draw more random batches than the few of the default (the DuckDB
engine compiles every rule on every call, so each batch costs seconds).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import re
import traceback
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimlint.checker import duckdb_engine, examples, interpreter, tables
from claimlint.checker.readers import Batch
from claimlint.checker.violations import JsonLines, Rendered, Violation
from claimlint.dsl import model as m
from claimlint.dsl.loader import load, shipped_names
from claimlint.dsl.types import Type
from claimlint.errors import ClaimlintError
from claimlint.report.records import write_records

EXAMPLES = int(os.environ.get("CLAIMLINT_DIFF_EXAMPLES", "0"))

# What the strategies draw: the input rows, and the rows of each reference table (as dicts,
# so that hypothesis prints a failing case readably; the test wraps them in `Batch`es).
Drawn = tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]

ONE_DAY = dt.timedelta(days=1)
CENT = Decimal("0.01")


def differential(default: int) -> settings:
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@cache
def rulebook(name: str) -> m.Rulebook:
    return load(name)


# ------------------------------------------------------------------------------ comparison


def outcome(engine: Any, book: m.Rulebook, batch: Batch, refs: Mapping[str, Batch], only) -> Any:
    """The violations, or the error a user would see (its type and rendered message), or the
    crash (any other exception: a bug whichever engine raises it)."""
    try:
        return engine.check(book, batch, refs, only)
    except ClaimlintError as err:
        return (type(err).__name__, err.render())
    except Exception as err:  # reported, never accepted (see engines_agree)
        where = traceback.extract_tb(err.__traceback__)[-1]
        return ("crash", f"{type(err).__name__}: {err} ({where.filename}:{where.lineno})")


def _show(v: Violation) -> str:
    return (
        f"{v.rule} line={v.line_id!r} claim={v.claim_id!r} provider={v.provider_id!r} "
        f"{v.service_date} {v.service_time} stake={v.amount_at_stake} {v.severity.value}\n"
        f"      message={v.message!r}\n      details={v.details!r}"
    )


def explain(expected: Any, actual: Any) -> str:
    if not isinstance(expected, list) or not isinstance(actual, list):
        return f"interpreter: {expected!r}\nduckdb:      {actual!r}"
    lines = [f"interpreter: {len(expected)} violations, duckdb: {len(actual)}"]
    only_i = [v for v in expected if v not in actual]
    only_d = [v for v in actual if v not in expected]
    lines += ["  only in the interpreter:"] + [f"    {_show(v)}" for v in only_i]
    lines += ["  only in duckdb:"] + [f"    {_show(v)}" for v in only_d]
    if not only_i and not only_d:
        lines.append("  same violations, different order")
    return "\n".join(lines)


def engines_agree(
    book: m.Rulebook,
    batch: Batch,
    refs: Mapping[str, Batch],
    only: Iterable[str] | None = None,
) -> list[Violation]:
    """Run both engines; fail with a readable difference unless they agree exactly."""
    wanted = tuple(only) if only is not None else None
    expected = outcome(interpreter, book, batch, refs, wanted)
    actual = outcome(duckdb_engine, book, batch, refs, wanted)
    assert actual == expected, explain(expected, actual)
    assert not (isinstance(expected, tuple) and expected[0] == "crash"), expected
    # The records DuckDB writes itself for `--format jsonl` are the same bytes.
    lines = outcome(WRITING_LINES, book, batch, refs, wanted)
    assert as_jsonl(lines) == as_jsonl(expected)
    return expected if isinstance(expected, list) else []


class WRITING_LINES:
    """The DuckDB engine writing the records' JSON lines itself (checker/sql_json.py)."""

    @staticmethod
    def check(book, batch, refs, only) -> list[Violation | Rendered]:
        return duckdb_engine.check(book, batch, refs, only, JsonLines(pseudonymised=False))


def as_jsonl(found: Any) -> Any:
    """Violations as `--format jsonl` writes them; an error as it is."""
    if not isinstance(found, list):
        return found
    out = io.StringIO()
    write_records(found, out)
    return out.getvalue()


def make_batch(book: m.Rulebook, schema_name: str, rows: list[dict[str, Any]]) -> Batch:
    schema = book.input if schema_name == book.input.name else book.reference(schema_name).schema
    for row in rows:
        assert set(row) == set(schema.names), set(row) ^ set(schema.names)
    return Batch(
        schema=schema,
        file=f"hypothesis {schema_name}",
        rows=tuple(rows),
        lines=tuple(range(2, len(rows) + 2)),
        rejected=(),
        read=len(rows),
    )


# ------------------------------------------------------------------------------ 1. examples


def example_cases() -> Iterator[Any]:
    for name in shipped_names():
        for index, example in enumerate(rulebook(name).examples):
            rules = ",".join(example.rules) or "all rules"
            yield pytest.param(name, index, id=f"{name} {rules}: {example.title}")


@pytest.mark.parametrize(("name", "index"), list(example_cases()))
def test_examples_agree(name: str, index: int) -> None:
    book = rulebook(name)
    example = book.examples[index]
    batch, references = examples.example_batches(book, example)
    engines_agree(book, batch, references, example.rules or None)


# ------------------------------------------------------------------------------ what to draw


CODE_LIKE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,9}")


def _strings(values: Iterable[Any]) -> set[str]:
    return {v for v in values if isinstance(v, str)}


def model_strings(book: m.Rulebook) -> set[str]:
    """Every text the rulebook compares data with: sets, table cells, literals in rules."""
    found: set[str] = set()
    for code_set in book.sets.values():
        found |= _strings(code_set.values)
    for table in book.tables.values():
        for row in table.rows:
            for cell in row.tests:
                for test in cell.tests:
                    found |= _strings((test.value, test.high))
    exprs = [e for rule in book.rules for e in rule.expressions()]
    exprs += [d.expr for d in book.defines.values()]
    for expr in exprs:
        for node in m.walk(expr):
            if isinstance(node, m.Const):
                found |= _strings([node.value])
            elif isinstance(node, m.InSet):
                found |= _strings(node.values)
    return found


def model_dates(book: m.Rulebook) -> set[dt.date]:
    """The rulebook's change dates (periods of rules and parameters, dates in table cells)."""
    found: set[dt.date] = set()
    periods = [rule.period for rule in book.rules]
    periods += [v.period for p in book.parameters.values() for v in p.values]
    for period in periods:
        found |= {d for d in (period.start, period.end) if d is not None}
    for table in book.tables.values():
        for row in table.rows:
            for cell in row.tests:
                for test in cell.tests:
                    found |= {v for v in (test.value, test.high) if isinstance(v, dt.date)}
    return found


def model_money(book: m.Rulebook) -> set[Decimal]:
    """Amounts the rulebook names: money outputs of its tables and money parameters."""
    found: set[Decimal] = set()
    for table in book.tables.values():
        for i, column in enumerate(table.outputs):
            if column.type is Type.MONEY:
                found |= {r.outputs[i] for r in table.rows if r.outputs[i] is not None}
    for param in book.parameters.values():
        if param.type is Type.MONEY:
            found |= {v.value for v in param.values}
    return found


def around(days: Iterable[dt.date], spread: int = 1) -> set[dt.date]:
    return {d + k * ONE_DAY for d in days for k in range(-spread, spread + 1)}


FRENCH_HOLIDAYS = sorted(holidays.France(years=range(2024, 2028)))

# The change dates of the catalogue, whether or not a rulebook spells them.
CATALOGUE_DATES = [
    dt.date(2024, 6, 21),
    dt.date(2024, 6, 22),
    dt.date(2024, 12, 21),
    dt.date(2024, 12, 22),
    dt.date(2024, 12, 31),
    dt.date(2025, 1, 1),
    dt.date(2025, 6, 30),
    dt.date(2025, 7, 1),
    *(dt.date(2025, 12, 28) + k * ONE_DAY for k in range(9)),  # to 2026-01-05
    dt.date(2026, 5, 1),
    dt.date(2026, 5, 8),
]


@cache
def boundary_dates(name: str) -> list[dt.date]:
    book = rulebook(name)
    days = around(model_dates(book)) | set(CATALOGUE_DATES) | around(FRENCH_HOLIDAYS, 2)
    # A Saturday and a Sunday near each change date (weekends decide out-of-hours and delays).
    for d in list(days):
        days.add(d + ((5 - d.weekday()) % 7) * ONE_DAY)
        days.add(d + ((6 - d.weekday()) % 7) * ONE_DAY)
    return sorted(d for d in days if dt.date(2024, 1, 1) <= d <= dt.date(2027, 12, 31))


def dates(name: str) -> st.SearchStrategy[dt.date]:
    return st.one_of(
        st.sampled_from(boundary_dates(name)),
        st.dates(dt.date(2024, 1, 1), dt.date(2027, 12, 31)),
    )


def t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


BOUNDARY_TIMES = [
    t(x)
    for x in (
        "00:00", "07:59", "07:59:59", "08:00", "10:00", "10:00:30", "13:59", "14:00", "18:59",
        "19:00", "19:59", "20:00", "20:59", "20:59:59", "21:00", "23:59",
    )
]  # fmt: skip

TIMES: st.SearchStrategy[dt.time | None] = st.one_of(
    st.none(),
    st.sampled_from(BOUNDARY_TIMES),
    st.times().map(lambda x: x.replace(second=0, microsecond=0)),
)


def shift(day: dt.date, time: dt.time, delta: dt.timedelta) -> tuple[dt.date, dt.time]:
    moment = dt.datetime.combine(day, time) + delta
    return moment.date(), moment.time()


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


MODIFIERS = ["", "", "K", "T", "3", "K 3", "J K", "7 T", "4 3", "KJ", " K ", "K\tT"]
SETTINGS = ["cabinet", "domicile", "teleconsultation", "etablissement"]
OPTIONS = ["", "OPTAM", "OPTAM-ACO"]
DEROGATIONS = [None, Decimal(30), Decimal(45), Decimal(50), Decimal(60), Decimal("42.5")]
SPECIALTIES_ALWAYS = ["01", "02", "07", "13", "42", "33", "03"]  # GP, anaesthesia, psychiatry…


@cache
def act_codes(name: str) -> list[str]:
    return sorted(c for c in model_strings(rulebook(name)) if CODE_LIKE.fullmatch(c))


@cache
def specialties(name: str) -> list[str]:
    two_digits = {c for c in act_codes(name) if re.fullmatch(r"[0-9]{2}", c)}
    return sorted(two_digits | set(SPECIALTIES_ALWAYS))


@cache
def amount_pool(name: str) -> list[Decimal]:
    base = model_money(rulebook(name)) | {Decimal("35.00"), Decimal("19.06"), Decimal("3.00")}
    pool = {a + d for a in base for d in (-CENT, 0, CENT)} | {2 * a for a in base}
    return sorted(x.quantize(CENT) for x in pool | {Decimal(0)})


def expected_tariff(book: m.Rulebook, code: str, day: dt.date) -> Decimal | None:
    """The tariff the TARIFF table gives (to bill it exactly, or a cent off)."""
    table = book.tables.get("TARIFF")
    if table is None:
        return None
    try:
        value = tables.evaluate(table, [code, day]).value
    except ClaimlintError:
        return None
    return value if isinstance(value, Decimal) else None


CCAM_CODES = st.from_regex(r"[A-Z]{4}[0-9]{3}", fullmatch=True)
RANDOM_CODES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=8
)


def codes(name: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(act_codes(name)),
        st.sampled_from(act_codes(name)),
        st.sampled_from(act_codes(name)),
        CCAM_CODES,
        st.sampled_from(["YYYY010", "HHFA016", "DEQP003", "ABCD12", "abcd123"]),
        RANDOM_CODES,
    )


def money(lo: int = -5000, hi: int = 50000) -> st.SearchStrategy[Decimal]:
    return st.integers(lo, hi).map(lambda cents: Decimal(cents) / 100)


# Codes billed together on one claim, for the rules that look at the whole claim (cumul of a
# consultation and a CCAM act, SHE with SNP or MRT, MHP and its non-cumulable surcharges, MVR
# with its home visit, GL with MIC or MSH, urgency surcharges with a teleconsultation).
COMBOS = [
    ("G", "GLQP012"),
    ("APC", "GLQP012"),
    ("APC", "KCQM001"),
    ("G", "JKLD001"),
    ("APC", "JQQM010"),
    ("G", "DEQP003"),
    ("SNP", "SHE"),
    ("MRT", "SHE"),
    ("G", "SNP", "SHE"),
    ("SHE", "MCY"),
    ("APY", "MCY", "SHE"),
    ("G", "MHP"),
    ("G", "MHP", "MN"),
    ("G", "MHP", "CRN"),
    ("G", "MVR"),
    ("G", "MVR", "MHP"),
    ("GL1", "MIC"),
    ("GL2", "MSH"),
    ("GL3",),
    ("G", "MN"),
    ("G", "F"),
    ("TE2", "MM"),
    ("YYYY010",),
    ("MCU",),
]


# Values the readers accept that sit at the edges: year 1 and 9999, the largest integers and
# amounts, decimals with six places, unusual whitespace. At most one per batch, in a tenth
# of the batches, so that ordinary boundaries keep most of the search.
CLAIM_EXTREMES: list[tuple[str, Any]] = [
    ("referral_date", dt.date(9999, 12, 31)),
    ("referral_date", dt.date(1, 1, 1)),
    ("patient_birth_date", dt.date(1, 1, 1)),
    ("patient_birth_date", dt.date(9999, 12, 31)),
    ("service_date", dt.date(9999, 12, 31)),
    ("service_date", dt.date(1, 1, 1)),
    ("quantity", 0),
    ("quantity", -1),
    ("quantity", 2**63 - 1),  # the largest the readers admit (64-bit)
    ("amount", Decimal("-15.00")),
    ("amount", Decimal("9999999999999999.99")),  # DECIMAL(18, 2), the readers' capacity
    ("modifiers", "T\u00a0K"),  # words split by a no-break space
    ("modifiers", "K\x0b3"),  # by a vertical tab
]
PROVIDER_EXTREMES: list[tuple[str, Any]] = [
    ("tlc_cap_derogation", Decimal("33.333333")),  # six places, the readers' capacity
    ("tlc_cap_derogation", Decimal("999999999999.999999")),
    ("tlc_cap_derogation", Decimal("-10")),
    ("first_installation_date", dt.date(9999, 12, 31)),
    ("birth_date", dt.date(1, 1, 1)),
]
ROSTER_EXTREMES: list[tuple[str, Any]] = [
    ("year", 0),
    ("year", 1),
    ("year", 9999),
    ("year", 20266),
    ("paid_amount", Decimal("9999999999999999.99")),
    ("patient_birth_date", dt.date(9999, 12, 31)),
]


@st.composite
def oddity(draw: st.DrawFn, rows: list[dict[str, Any]], extremes: list[tuple[str, Any]]) -> None:
    """Sometimes put one extreme value in one row (in place)."""
    if not rows or not extremes or draw(st.integers(0, 9)):
        return
    field, value = draw(st.sampled_from(extremes))
    draw(st.sampled_from(rows))[field] = value


# ------------------------------------------------------------------------------ claims batches


class Ids:
    """Unique line ids whose text order differs from their drawing order."""

    PREFIXES = ["L", "A", "z", "É"]

    def __init__(self) -> None:
        self.count = itertools.count(1)

    def next(self, draw: st.DrawFn) -> str:
        return draw(st.sampled_from(self.PREFIXES)) + str(next(self.count))


@st.composite
def providers(draw: st.DrawFn, name: str) -> list[dict[str, Any]]:
    count = draw(st.integers(2, 5))
    found = []
    for i in range(count):
        sector = draw(st.sampled_from(["1", "2"]))
        found.append(
            {
                "provider_id": f"P{i + 1}",
                "provider_specialty": draw(st.sampled_from(specialties(name))),
                "provider_sector": sector,
                "provider_option": draw(st.sampled_from(OPTIONS)),
            }
        )
    return found


@st.composite
def patients(draw: st.DrawFn, name: str) -> list[dict[str, Any]]:
    found = []
    for i in range(draw(st.integers(2, 4))):
        kind = draw(st.sampled_from(["birthday", "birthday", "leap", "after", "any"]))
        if kind == "birthday":  # around the 7th, 75th or 80th birthday on a boundary date
            day = years_before(draw(dates(name)), draw(st.sampled_from([7, 75, 80])))
            birth = day + draw(st.integers(-1, 1)) * ONE_DAY
        elif kind == "leap":
            birth = draw(st.sampled_from([dt.date(1944, 2, 29), dt.date(1948, 2, 29)]))
        elif kind == "after":  # born after the care: no age
            birth = draw(st.dates(dt.date(2025, 6, 1), dt.date(2027, 12, 31)))
        else:
            birth = draw(st.dates(dt.date(1920, 1, 1), dt.date(2027, 12, 31)))
        found.append({"patient_id": f"PAT{i + 1}", "patient_birth_date": birth})
    return found


@st.composite
def referral(draw: st.DrawFn, day: dt.date, time: dt.time | None) -> dict[str, Any]:
    """A referral (or SAS call) near the care: before, the day itself, after it, or missing."""
    kind = draw(st.sampled_from(["none", "days", "days", "hours", "hours"]))
    if kind == "none":
        return {"referral_date": None, "referral_time": draw(TIMES)}
    if kind == "days" or time is None:
        when = day - draw(st.integers(-2, 8)) * ONE_DAY
        return {"referral_date": when, "referral_time": draw(TIMES)}
    offset = draw(
        st.sampled_from(
            [dt.timedelta(0), dt.timedelta(days=1), dt.timedelta(days=2), dt.timedelta(hours=5)]
        )
    )
    jitter = draw(
        st.sampled_from([dt.timedelta(0), dt.timedelta(seconds=30), dt.timedelta(minutes=1)])
    )
    sign = draw(st.sampled_from([-1, 1]))
    when, at = shift(day, time, -offset + sign * jitter)
    return {"referral_date": when, "referral_time": at}


@st.composite
def claim_line(
    draw: st.DrawFn,
    name: str,
    ids: Ids,
    claim_id: str | None,
    provider: Mapping[str, Any],
    patient: Mapping[str, Any],
    day: dt.date,
    code: str | None = None,
) -> dict[str, Any]:
    book = rulebook(name)
    line_id = ids.next(draw)
    code = code if code is not None else draw(codes(name))
    time = draw(TIMES)
    quantity = draw(st.sampled_from([1, 1, 1, 2]))
    tariff = expected_tariff(book, code, day)
    candidates = [st.sampled_from(amount_pool(name)), money()]
    if tariff is not None:
        exact = tariff * quantity
        candidates += [st.sampled_from([exact, exact, exact - CENT, exact + CENT, tariff])]
    amount = draw(st.one_of(candidates)).quantize(CENT)
    row = {
        "line_id": line_id,
        "claim_id": claim_id if claim_id is not None else line_id,
        **provider,
        **patient,
        "service_date": day,
        "service_time": time,
        "act_code": code,
        "modifiers": draw(st.sampled_from(MODIFIERS)),
        "quantity": quantity,
        "amount": amount,
        "opposable": draw(st.sampled_from([None, None, True, False])),
        "setting": draw(st.sampled_from(SETTINGS)),
        "regulation": draw(st.sampled_from(["", "SAS", "15"])),
        "treating_doctor": draw(st.booleans()),
        "urgent": draw(st.booleans()),
        "followup": draw(st.sampled_from(["", "urgences", "hospitalisation"])),
        **draw(referral(day, time)),
    }
    if draw(st.integers(0, 9)) == 0:  # a line whose specialty differs from its provider's
        row["provider_specialty"] = draw(st.sampled_from(specialties(name)))
    return row


@st.composite
def provider_references(
    draw: st.DrawFn, name: str, provider_rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = []
    for p in provider_rows:
        if not draw(st.booleans()):
            continue
        rows.append(
            {
                "provider_id": p["provider_id"],
                "tlc_cap_derogation": draw(st.sampled_from(DEROGATIONS)),
                "yyyy010_cpl_validated": draw(st.booleans()),
                "zone": draw(st.sampled_from(["ZIP", "QPV", "ZAC", "none"])),
                "first_installation_date": draw(st.one_of(st.none(), dates(name))),
                "birth_date": draw(
                    st.one_of(st.none(), st.dates(dt.date(1940, 1, 1), dt.date(1995, 12, 31)))
                ),
                "provider_sector": draw(st.sampled_from([None, "1", "2"])),
                "provider_option": draw(st.sampled_from(OPTIONS)),
            }
        )
    return rows


@st.composite
def claims_batches(draw: st.DrawFn, name: str) -> Drawn:
    ids = Ids()
    doctors = draw(providers(name))
    people = draw(patients(name))
    rows: list[dict[str, Any]] = []

    # Claims of 1-4 lines (one encounter: one provider, patient and usually one date).
    for k in range(draw(st.integers(1, 30))):
        doctor = draw(st.sampled_from(doctors))
        person = draw(st.sampled_from(people))
        day = draw(dates(name))
        if draw(st.booleans()):  # codes that claim-level rules look at together
            claim_codes: list[str | None] = list(draw(st.sampled_from(COMBOS)))
            claim_codes += [None] * draw(st.integers(0, 1))
        else:
            claim_codes = [None] * draw(st.integers(1, 4))
        claim_id = None if len(claim_codes) == 1 and draw(st.booleans()) else f"C{k}"
        if k and not draw(st.integers(0, 7)):  # an invoice number reused by another encounter
            claim_id = f"C{draw(st.integers(0, k - 1))}"
        for code in claim_codes:
            if draw(st.integers(0, 5)) == 0:
                day = draw(dates(name))
            rows.append(draw(claim_line(name, ids, claim_id, doctor, person, day, code)))

    # A burst of SNP for one provider in one ISO week: the weekly cap, just under or over.
    if draw(st.booleans()):
        doctor = draw(st.sampled_from(doctors))
        monday = draw(dates(name))
        monday -= monday.weekday() * ONE_DAY
        for _ in range(draw(st.integers(15, 25))):
            day = monday + draw(st.integers(0, 6)) * ONE_DAY
            line = draw(
                claim_line(name, ids, None, doctor, draw(st.sampled_from(people)), day, "SNP")
            )
            if draw(st.integers(0, 3)):
                line.update(regulation="SAS", treating_doctor=False, amount=Decimal("15.00"))
            rows.append(line)

    # A year of activity for one provider, a share of it at a distance: the percent caps.
    if draw(st.booleans()):
        doctor = draw(st.sampled_from(doctors))
        year = draw(st.sampled_from([2024, 2025, 2026]))
        share = draw(st.sampled_from([0.2, 0.4, 0.5, 0.7]))
        for _ in range(draw(st.integers(5, 25))):
            day = draw(st.dates(dt.date(year, 1, 1), dt.date(year, 12, 31)))
            code = draw(st.sampled_from(["G", "APY", "APC", "TE2", "MCY", "SNP"]))
            line = draw(
                claim_line(name, ids, None, doctor, draw(st.sampled_from(people)), day, code)
            )
            line["setting"] = "teleconsultation" if draw(st.floats(0, 1)) < share else "cabinet"
            rows.append(line)

    # The same act for one patient several times in a year: the yearly frequency caps (GL per
    # code, spirometry cumulated with a consultation under a derogation).
    if draw(st.booleans()):
        person = draw(st.sampled_from(people))
        year = draw(st.sampled_from([2025, 2026, 2027]))
        claim_codes = draw(st.sampled_from([("GL1",), ("GL2",), ("GL3",), ("G", "GLQP012")]))
        for k in range(draw(st.integers(2, 4))):
            doctor = dict(draw(st.sampled_from(doctors)))
            if "GLQP012" in claim_codes:  # a specialty the derogation covers, mostly
                doctor["provider_specialty"] = draw(st.sampled_from(["13", "01", "22", "33"]))
            day = draw(st.dates(dt.date(year, 1, 1), dt.date(year, 12, 31)))
            claim_id = f"Y{k}"
            for code in claim_codes:
                rows.append(draw(claim_line(name, ids, claim_id, doctor, person, day, code)))

    references = {"provider": draw(provider_references(name, doctors))}
    draw(oddity(rows, CLAIM_EXTREMES))
    draw(oddity(references["provider"], PROVIDER_EXTREMES))
    return rows, references


# ------------------------------------------------------------------------------ rosters (FMT)


def category_births(year: int) -> list[dt.date]:
    """Births around the category boundaries (7, 75, 80 years) on 31/12 of year - 1."""
    observed = dt.date(year - 1, 12, 31)
    found = []
    for age in (7, 75, 80):
        birthday = years_before(observed, age)
        found += [birthday - ONE_DAY, birthday, birthday + ONE_DAY]
    return found + [observed, observed + ONE_DAY, dt.date(year, 6, 1)]  # 0 years, unborn


@cache
def fmt_amounts() -> list[Decimal]:
    """Expected FMT amounts (socle × majorations + C2S), exact and a cent off."""
    found = set()
    for socle in (5, 15, 55, 100):
        for rate in (0, 10, 20, 30, 40, 50, 60):
            for c2s in (0, 10):
                exact = (Decimal(socle) * (1 + Decimal(rate) / 100) + c2s).quantize(CENT)
                found |= {exact, exact - CENT, exact + CENT}
    return sorted(found | {Decimal("0.00")})


@st.composite
def roster_batches(draw: st.DrawFn, name: str) -> Drawn:
    ids = Ids()
    doctors = [f"P{i + 1}" for i in range(draw(st.integers(2, 5)))]
    rows = []
    for _ in range(draw(st.integers(1, 100))):
        year = draw(st.sampled_from([2025, 2026, 2026, 2027]))
        rows.append(
            {
                "line_id": ids.next(draw),
                "provider_id": draw(st.sampled_from(doctors)),
                "patient_id": f"PAT{draw(st.integers(1, 30))}",
                "patient_birth_date": draw(
                    st.one_of(
                        st.sampled_from(category_births(year)),
                        st.dates(dt.date(1920, 1, 1), dt.date(2027, 12, 31)),
                    )
                ),
                "ald": draw(st.booleans()),
                "c2s": draw(st.booleans()),
                "seen_last_2_years": draw(st.booleans()),
                "year": year,
                "paid_amount": draw(st.one_of(st.sampled_from(fmt_amounts()), money(0, 20000))),
            }
        )
    refs = []
    for doctor in doctors:
        if not draw(st.integers(0, 4)):
            continue  # no reference row: not eligible
        year = draw(st.sampled_from([2025, 2026, 2027]))
        observed = dt.date(year - 1, 12, 31)
        installed = draw(
            st.one_of(
                st.none(),
                st.sampled_from(
                    [dt.date(year - k, 1, 1) for k in range(4)]
                    + [dt.date(year - k, 12, 31) for k in range(4)]
                ),
                st.dates(dt.date(1980, 1, 1), dt.date(2027, 12, 31)),
            )
        )
        birthday_67 = years_before(observed, 67)
        born = draw(
            st.one_of(
                st.none(),
                st.sampled_from([birthday_67 - ONE_DAY, birthday_67, birthday_67 + ONE_DAY]),
                st.dates(dt.date(1940, 1, 1), dt.date(1995, 12, 31)),
            )
        )
        refs.append(
            {
                "provider_id": doctor,
                "tlc_cap_derogation": draw(st.sampled_from(DEROGATIONS)),
                "yyyy010_cpl_validated": draw(st.booleans()),
                "zone": draw(st.sampled_from(["ZIP", "QPV", "ZAC", "none"])),
                "first_installation_date": installed,
                "birth_date": born,
                "provider_sector": draw(st.sampled_from([None, "1", "2"])),
                "provider_option": draw(st.sampled_from(OPTIONS)),
            }
        )
    draw(oddity(rows, ROSTER_EXTREMES))
    draw(oddity(refs, PROVIDER_EXTREMES))
    return rows, {"provider": refs}


# ------------------------------------------------------------------------------ 2. properties


# The rulebooks the random batches below cover; a new shipped rulebook needs its strategy.
COVERED = {"convention-2024", "fmt-2026"}


def test_every_shipped_rulebook_has_a_strategy() -> None:
    assert set(shipped_names()) <= COVERED


def agree_on(name: str, drawn: Drawn) -> None:
    book = rulebook(name)
    rows, references = drawn
    batch = make_batch(book, book.input.name, rows)
    engines_agree(book, batch, {ref: make_batch(book, ref, r) for ref, r in references.items()})


@differential(default=6)
@given(claims_batches("convention-2024"))
def test_engines_agree_on_random_claims(drawn: Drawn) -> None:
    agree_on("convention-2024", drawn)


@differential(default=2)
@given(roster_batches("fmt-2026"))
def test_engines_agree_on_random_rosters(drawn: Drawn) -> None:
    agree_on("fmt-2026", drawn)


# ------------------------------------------------------------------------------ 3. hostile input

HOSTILE = [
    "O'Brien",
    '"; DROP TABLE claimlint_base; --',
    "'; DROP TABLE x; --",
    "Robert'); DROP TABLE claimlint_input;--",
    "' OR '1'='1",
    "a;b",
    "é\u0000",
    "🩺💉 médecin",
    "x" * 10_000,
    "\\'\\\"",
    "%_*?$1",
    "{line_id} {count}",
    "\u202eRTL",
    "line\nbreak\r\ttab",
    "",
]


def hostile_rows(book: m.Rulebook) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per hostile text h: a SNP line of a treating doctor without regulation (SNP-MT, SNP-REG),
    and a line of code h with modifiers "h K" in sector 2 (MOD-K); text fields all carry h."""
    rows, refs = [], []
    for i, h in enumerate(HOSTILE):
        common = {
            "claim_id": h,
            "provider_id": h,
            "provider_specialty": h,
            "provider_sector": "2",
            "provider_option": "",
            "patient_id": h,
            "patient_birth_date": dt.date(1970, 1, 1),
            "service_date": dt.date(2025, 3, 4),
            "service_time": dt.time(10, 0),
            "quantity": 1,
            "opposable": None,
            "setting": "cabinet",
            "regulation": "",
            "treating_doctor": True,
            "urgent": False,
            "followup": "",
            "referral_date": None,
            "referral_time": None,
        }
        snp = {"line_id": f"{h}#snp{i}", "act_code": "SNP", "modifiers": h}
        rows.append({**common, **snp, "amount": Decimal("15.00")})
        code = {"line_id": f"{h}#code{i}", "act_code": h, "modifiers": f"{h} K"}
        rows.append({**common, **code, "amount": Decimal("12.34")})
        refs.append(
            {
                "provider_id": h,
                "tlc_cap_derogation": Decimal(60),  # above the ceiling and outside psychiatry
                "yyyy010_cpl_validated": False,
                "zone": "none",
                "first_installation_date": None,
                "birth_date": None,
                "provider_sector": None,
                "provider_option": "",
            }
        )
    return rows, refs


def test_hostile_strings_in_data_are_data() -> None:
    book = rulebook("convention-2024")
    rows, refs = hostile_rows(book)
    batch = make_batch(book, "claims", rows)
    references = {"provider": make_batch(book, "provider", refs)}
    found = engines_agree(book, batch, references)

    # Every rule ran on every hostile line as on any other: nothing was cut short.
    flagged = {(v.rule, v.line_id) for v in found}
    for i, h in enumerate(HOSTILE):
        assert ("SNP-MT", f"{h}#snp{i}") in flagged
        assert ("SNP-REG", f"{h}#snp{i}") in flagged
        assert ("MOD-K", f"{h}#code{i}") in flagged
    derogations = [v for v in found if v.rule == "TLC-DEROG"]
    assert sorted(v.provider_id for v in derogations) == sorted(HOSTILE)
    mod_k = {v.line_id: v.message for v in found if v.rule == "MOD-K"}
    for i, h in enumerate(HOSTILE):  # the message quotes the code as it is, nothing more
        assert mod_k[f"{h}#code{i}"].startswith(f"Modificateur K sur {h} par un médecin")

    # On a connection holding tables the hostile texts name, the engine leaves them alone.
    con = duckdb.connect()
    for table in ("x", "t", "Students"):
        con.execute(f"CREATE TABLE {table} (v INTEGER)")
        con.execute(f"INSERT INTO {table} VALUES (42)")
    engine = duckdb_engine.DuckDBEngine(book, con)
    engine.load_batch(batch, references)
    assert engine.run_all() == found
    for table in ("x", "t", "Students"):
        assert con.execute(f"SELECT v FROM {table}").fetchall() == [(42,)]

    # The engine still works afterwards: a plain batch checks as usual.
    plain = make_batch(book, "claims", [{**rows[0], "line_id": "PLAIN", "claim_id": "PLAIN"}])
    again = engines_agree(book, plain, {})
    assert {v.rule for v in again} >= {"SNP-MT", "SNP-REG"}


@differential(default=2)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30),
        min_size=1,
        max_size=6,
        unique=True,
    )
)
def test_random_text_in_data_is_data(texts: list[str]) -> None:
    book = rulebook("convention-2024")
    rows = []
    for i, text in enumerate(texts):
        rows.append(
            {
                "line_id": f"{text}#{i}",
                "claim_id": text,
                "provider_id": text,
                "provider_specialty": text,
                "provider_sector": "2",
                "provider_option": "",
                "patient_id": text,
                "patient_birth_date": dt.date(1946, 3, 10),
                "service_date": dt.date(2026, 3, 10),
                "service_time": None,
                "act_code": text,
                "modifiers": text,
                "quantity": 1,
                "amount": Decimal("1.00"),
                "opposable": None,
                "setting": "cabinet",
                "regulation": "",
                "treating_doctor": False,
                "urgent": False,
                "followup": "",
                "referral_date": None,
                "referral_time": None,
            }
        )
    engines_agree(book, make_batch(book, "claims", rows), {})


HOSTILE_RULEBOOK = r"""
rulebook hostile "Recueil aux valeurs piégées ; DROP TABLE claimlint_base; --" version "1'; --"

input claims "Lignes"
  line_id   text   required  role line
  claim_id  text   required  role claim
  service_date date required role date
  act_code  text   required
  note      text   optional  default "'; DROP TABLE t; --"
  amount    money  required  role amount

set S "Codes « x'; DROP » et a\"b" = {"x'; DROP TABLE t; --", "a\"b", "O'Brien", "é;ü", "🩺"}
  source "source'; DROP TABLE claimlint_input; --"

rule HOSTILE-SET "Code dans S ; ou note piégée"
  severity error
  source "'; DROP TABLE claimlint_base; --"
  always
  let label = if act_code = "a\"b" then "guillemet \" ; point-virgule" else "apostrophe ' ; --"
  when act_code in S or note = "'; DROP TABLE t; --" or act_code matches "[';\"]+"
  message "Code {act_code} ({label}) ; note {note} ; \"fin\" '; DROP TABLE claimlint_base; --"

rule HOSTILE-CLAIM "La facture a un code piégé"
  severity warning
  source "--"
  always
  when act_code = "G" and claim has (act_code = "x'; DROP TABLE t; --")
  message "G avec {act_code} ; '); DROP TABLE claimlint_base; --"
"""


def test_hostile_rulebook_values_are_data(tmp_path: Path) -> None:
    path = tmp_path / "hostile.rules"
    path.write_text(HOSTILE_RULEBOOK, encoding="utf-8")
    book = load(str(path))
    assert book.sets["S"].values == {"x'; DROP TABLE t; --", 'a"b', "O'Brien", "é;ü", "🩺"}
    day = dt.date(2025, 3, 4)
    cases = [
        ("L1", "C1", "x'; DROP TABLE t; --", None),
        ("L2", "C1", "G", None),
        ("L3", "C2", 'a"b', "plain"),
        ("L4", "C3", "O'Brien", "plain"),
        ("L5", "C4", "G", "plain"),
        ("L6", "C5", "''", "plain"),
        ("L7", "C6", "é;ü", "plain"),
        ("L8", "C7", "🩺", "plain"),
        ("L9", "C8", "'; DROP TABLE t; --", "'; DROP TABLE t; --"),
    ]
    rows = [
        {
            "line_id": line,
            "claim_id": claim,
            "service_date": day,
            "act_code": code,
            "note": note if note is not None else "'; DROP TABLE t; --",
            "amount": Decimal("1.00"),
        }
        for line, claim, code, note in cases
    ]
    found = engines_agree(book, make_batch(book, "claims", rows), {})
    assert [(v.rule, v.line_id) for v in found] == [
        ("HOSTILE-CLAIM", "L2"),
        *(("HOSTILE-SET", x) for x in ("L1", "L2", "L3", "L4", "L6", "L7", "L8", "L9")),
    ]
    by_line = {v.line_id: v.message for v in found if v.rule == "HOSTILE-SET"}
    assert by_line["L3"] == (
        'Code a"b (guillemet " ; point-virgule) ; note plain ; "fin" '
        "'; DROP TABLE claimlint_base; --"
    )


# ------------------------------------------------------------------------------ 4. minimised
# Disagreements the random batches found, each cut down to one line, so that a failure names
# its cause at once (the random tests above find them too, after a long shrink).


def one_line(**values: Any) -> dict[str, Any]:
    """A G consultation at the office of a sector-1 general practitioner, then `values`."""
    row: dict[str, Any] = {
        "line_id": "L1",
        "claim_id": "L1",
        "provider_id": "P1",
        "provider_specialty": "01",
        "provider_sector": "1",
        "provider_option": "",
        "patient_id": "PAT1",
        "patient_birth_date": dt.date(1970, 1, 1),
        "service_date": dt.date(2025, 3, 4),
        "service_time": dt.time(10, 0),
        "act_code": "G",
        "modifiers": "",
        "quantity": 1,
        "amount": Decimal("30.00"),
        "opposable": None,
        "setting": "cabinet",
        "regulation": "",
        "treating_doctor": False,
        "urgent": False,
        "followup": "",
        "referral_date": None,
        "referral_time": None,
    }
    row.update(values)
    return row


@pytest.mark.parametrize(
    "modifiers",
    ["T\u00a0K", "T\x0bK", "T\u2003K", "T\x1cK", "T K", "T\tK", "T\nK", " T  K "],
    ids=repr,
)
def test_has_word_splits_words_alike(modifiers: str) -> None:
    """MOD-K and MOD-T read the modifiers' words (has_word) in both engines alike."""
    book = rulebook("convention-2024")
    row = one_line(act_code="HHFA016", modifiers=modifiers, provider_sector="2", amount=Decimal(1))
    engines_agree(book, make_batch(book, "claims", [row]), {}, ("MOD-K", "MOD-T"))


@pytest.mark.parametrize(
    ("service", "referral"),
    [
        # 24 h 00 min 30 s after the call: within 24 h counted in whole minutes, or not?
        ((dt.date(2026, 1, 6), dt.time(10, 1)), (dt.date(2026, 1, 5), dt.time(10, 0, 30))),
        # 30 s before the call, in the same minute
        ((dt.date(2026, 1, 6), dt.time(10, 0)), (dt.date(2026, 1, 6), dt.time(10, 0, 30))),
        # whole minutes: no question
        ((dt.date(2026, 1, 6), dt.time(10, 0)), (dt.date(2026, 1, 5), dt.time(10, 0))),
        ((dt.date(2026, 1, 6), dt.time(10, 1)), (dt.date(2026, 1, 5), dt.time(10, 0))),
    ],
    ids=["24h00m30s", "minus-30s", "24h", "24h01"],
)
def test_minutes_between_with_seconds(service: tuple, referral: tuple) -> None:
    """MVR-DELAY's minutes_between when a time has seconds (the readers accept HH:MM:SS)."""
    book = rulebook("convention-2024")
    row = one_line(
        act_code="MVR",
        amount=Decimal("10.00"),
        setting="domicile",
        regulation="SAS",
        service_date=service[0],
        service_time=service[1],
        referral_date=referral[0],
        referral_time=referral[1],
    )
    engines_agree(book, make_batch(book, "claims", [row]), {}, ("MVR-DELAY",))


# Which rules read each extreme field (a few, to keep each case cheap).
EXTREME_RULES = {
    "referral_date": ("MCU-DELAY",),
    "patient_birth_date": ("GL-AGE",),
    "service_date": ("SNP-MT", "MHP-HOURS"),
    "quantity": ("TARIF",),
    "amount": ("CUMUL-CCAM", "TARIF"),
    "tlc_cap_derogation": ("TLC-CAP-PSY", "TLC-DEROG"),
    "first_installation_date": ("SNP-MT",),
    "birth_date": ("SNP-MT",),
}


# One case per kind of edge the readers accept (the random batches draw the others): dates
# in year 1 or 9999, a negative percentage.
CLAIM_EDGES = [
    ("referral_date", dt.date(9999, 12, 31)),
    ("patient_birth_date", dt.date(1, 1, 1)),
    ("tlc_cap_derogation", Decimal("-10")),
    ("first_installation_date", dt.date(9999, 12, 31)),
]

# Past the types' capacity (dsl.types: DECIMAL(18, places), 64-bit integers) the readers
# refuse the value, so no engine ever sees it.
BEYOND_CAPACITY = [
    ("claims", "quantity", "10000000000000000000", "entier invalide"),
    ("claims", "amount", "100000000000000000.00", "trop grand"),
    ("provider", "tlc_cap_derogation", "33.333333333333", "6 décimales au plus"),
    ("provider", "tlc_cap_derogation", "1E+30", "nombre invalide"),
]


@pytest.mark.parametrize(
    ("table", "field", "text", "reason"),
    BEYOND_CAPACITY,
    ids=[f"{f}={t}" for _, f, t, _ in BEYOND_CAPACITY],
)
def test_values_beyond_the_types_capacity_are_rejected_by_the_readers(
    table: str, field: str, text: str, reason: str
) -> None:
    from claimlint.checker.readers import parse_value

    book = rulebook("convention-2024")
    schema = book.input if table == "claims" else book.reference(table).schema
    with pytest.raises(ValueError, match=reason):
        parse_value(text, schema.field(field), decimal_comma=False)


@pytest.mark.parametrize(
    ("field", "value"), CLAIM_EDGES, ids=[f"{f}={v!r}" for f, v in CLAIM_EDGES]
)
def test_extreme_values_in_claims(field: str, value: Any) -> None:
    """Values at the edges of what the readers accept, in both engines alike."""
    book = rulebook("convention-2024")
    code = {"referral_date": "MCU", "patient_birth_date": "GL1", "service_date": "MHP"}
    row = one_line(
        act_code=code.get(field, "APY"),
        provider_specialty="33",
        setting="teleconsultation",
        service_date=dt.date(2026, 3, 4),
        referral_date=dt.date(2026, 3, 2),
    )
    provider = {
        "provider_id": "P1",
        "tlc_cap_derogation": Decimal(45),
        "yyyy010_cpl_validated": False,
        "zone": "none",
        "first_installation_date": None,
        "birth_date": None,
        "provider_sector": None,
        "provider_option": "",
    }
    (row if field in row else provider)[field] = value
    refs = {"provider": make_batch(book, "provider", [provider])}
    engines_agree(book, make_batch(book, "claims", [row]), refs, EXTREME_RULES[field])


@pytest.mark.parametrize(("field", "value"), [("year", 20266)], ids=["year=20266"])
def test_extreme_values_in_rosters(field: str, value: Any) -> None:
    """A year outside 1..9999 (a typo the readers accept: any integer)."""
    book = rulebook("fmt-2026")
    row = {
        "line_id": "L1",
        "provider_id": "P1",
        "patient_id": "PAT1",
        "patient_birth_date": dt.date(1945, 6, 1),
        "ald": True,
        "c2s": False,
        "seen_last_2_years": True,
        "year": 2026,
        "paid_amount": Decimal("100.00"),
        field: value,
    }
    engines_agree(book, make_batch(book, "roster", [row]), {})


# ------------------------------------------------------------------------------ 5. broken tables

BREAKABLE_RULEBOOK = r"""
rulebook breakable "Table cassable" version "1"

input claims "Lignes"
  line_id      text  required  role line
  claim_id     text  required  role claim
  service_date date  required  role date
  act_code     text  required
  amount       money required  role amount

table RATE "Taux" hit policy U
  input code text
  input amount money
  output rate integer
  | code | amount  || rate |
  | "A"  | < 10    || 1    |
  | "A"  | >= 5    || 2    |
  | "B"  | -       || 3    |

table SAFE "Sûre" hit policy U
  input code text
  output rate integer
  | code || rate |
  | "A"  || 1    |
  | "B"  || 2    |

rule R1-FIRST "Toujours, sur B"
  severity warning
  source "t"
  always
  when act_code = "B"
  message "B {amount}"

rule R2-TABLE "Le taux de la table"
  severity error
  source "t"
  always
  when RATE(act_code, amount) = 2
  message "taux 2 : {amount}"

rule R3-SAFE "Taux sûr"
  severity info
  source "t"
  always
  when SAFE(act_code) = 2
  message "sûr {amount}"
"""


def test_a_broken_table_stops_both_engines_at_the_same_rule(tmp_path: Path) -> None:
    """The columnar engine runs the next rule's SQL ahead of the records: a table broken on
    some line still comes out as the interpreter's error, after the earlier rules' records."""
    path = tmp_path / "breakable.rules"
    path.write_text(BREAKABLE_RULEBOOK, encoding="utf-8")
    book = load(str(path))
    engine = duckdb_engine.DuckDBEngine(book)
    assert engine._breakable == {"RATE"}  # SAFE is proven unbreakable: no test per line

    def line(n: int, code: str, amount: str) -> dict[str, Any]:
        return {
            "line_id": f"L{n}",
            "claim_id": f"C{n}",
            "service_date": dt.date(2025, 3, 4),
            "act_code": code,
            "amount": Decimal(amount),
        }

    fine = make_batch(book, "claims", [line(1, "B", "3.00"), line(2, "A", "12.00")])
    found = engines_agree(book, fine, {})
    assert [(v.rule, v.line_id) for v in found] == [
        ("R1-FIRST", "L1"),
        ("R2-TABLE", "L2"),
        ("R3-SAFE", "L1"),
    ]
    broken = make_batch(book, "claims", [line(1, "B", "3.00"), line(2, "A", "7.00")])
    engines_agree(book, broken, {})
    error = outcome(duckdb_engine, book, broken, {}, None)
    assert error[0] == "EvaluationError" and "RATE" in error[1], error
    seen: list[str] = []
    engine.load_batch(broken, {})
    with pytest.raises(ClaimlintError):
        engine.run_all(sink=lambda violations: seen.extend(v.rule for v in violations))
    assert seen == ["R1-FIRST"]


# ------------------------------------------------------------------------------ 6. dated caps

DATED_CAP_RULEBOOK = r"""
rulebook caps "Plafonds datés" version "1"

input claims "Lignes"
  line_id      text  required  role line
  claim_id     text  required  role claim
  provider_id  text  required  role provider
  service_date date  required  role date
  act_code     text  required
  amount       money required  role amount

parameter WEEKLY_CAP "Plafond hebdomadaire"
  type integer
  value 3 until 2025-03-05 source "t"
  value 1 from 2025-03-06 source "t"

parameter SHARE "Part maximale (en %)"
  type decimal
  value 50 until 2025-03-05 source "t"
  value 20 from 2025-03-06 source "t"

rule WEEK-CAP "Plafond lu sur la première ligne de la semaine"
  severity error
  source "t"
  always
  for each provider_id, iso_week(service_date)
  when act_code = "X"
  at most WEEKLY_CAP
  message "{count} X la semaine {period}, plafond {cap} : la {rank}e"

rule SHARE-CAP "Part plafonnée, lue sur la première ligne"
  severity warning
  source "t"
  always
  for each provider_id, iso_week(service_date)
  count act_code = "X"
  at most SHARE percent
  message "{count} X sur {total}, plafond {cap} % : la {rank}e"
"""


# (provider, day of March 2025, act) of lines L01, L02…
DATED_CAP_LINES = [
    # P1, week 2025-W10: Wednesday 5 (cap 3) then Thursday 6 (cap 1), three X: the first
    # line's cap, 3, allows them all, though two lines carry a cap of 1.
    ("P1", 5, "X"),
    ("P1", 6, "X"),
    ("P1", 6, "X"),
    # P2, same week, starting on Thursday: cap 1, the second X is one too many.
    ("P2", 6, "X"),
    ("P2", 7, "X"),
    # The share: P1 starts on Wednesday (50 % of 3: one X), P2 on Thursday (20 % of 2:
    # none). P3 starts on Wednesday (50 %): two X in four lines, allowed; P4 starts on
    # Thursday with a G (20 %): one X in four lines is over floor(0.8) = 0.
    ("P3", 5, "X"),
    ("P3", 6, "X"),
    ("P3", 6, "G"),
    ("P3", 6, "G"),
    ("P4", 6, "G"),
    ("P4", 6, "X"),
    ("P4", 7, "G"),
    ("P4", 7, "G"),
]


def dated_cap_rows() -> list[dict[str, Any]]:
    return [
        {
            "line_id": f"L{n:02d}",
            "claim_id": f"C{n:02d}",
            "provider_id": provider,
            "service_date": dt.date(2025, 3, day),
            "act_code": code,
            "amount": Decimal("1.00"),
        }
        for n, (provider, day, code) in enumerate(DATED_CAP_LINES, start=1)
    ]


def test_a_cap_that_changes_within_a_group_is_read_on_its_first_line(tmp_path: Path) -> None:
    """The columnar engine ranks only the groups that may hold a violation; one whose lines
    carry different caps is always ranked, the first line's cap deciding (as the
    interpreter does)."""
    path = tmp_path / "caps.rules"
    path.write_text(DATED_CAP_RULEBOOK, encoding="utf-8")
    book = load(str(path))
    found = engines_agree(book, make_batch(book, "claims", dated_cap_rows()), {})
    assert [(v.rule, v.line_id) for v in found] == [
        ("SHARE-CAP", "L02"),
        ("SHARE-CAP", "L03"),
        ("SHARE-CAP", "L04"),
        ("SHARE-CAP", "L05"),
        ("SHARE-CAP", "L11"),
        ("WEEK-CAP", "L05"),
    ]


# ------------------------------------------------------------------------------ 7. no line id

NO_LINE_ID_RULEBOOK = r"""
rulebook sans-id "Lignes sans identifiant" version "1"

input claims "Lignes"
  claim_id     text  required  role claim
  provider_id  text  required  role provider
  service_date date  required  role date
  act_code     text  required
  amount       money required  role amount

rule X-ALONE "X seulement avec un G sur la facture"
  severity error
  source "t"
  always
  when act_code = "X" and not claim has (act_code = "G")
  message "X sans G sur la facture {claim_id}"

rule X-CAP "Au plus deux X accompagnés d'un G par médecin et par jour"
  severity warning
  source "t"
  always
  for each provider_id, service_date
  when act_code = "X" and claim has (act_code = "G")
  at most 2
  message "{count} X ce jour : le {rank}e"
"""


def test_lines_without_an_id_are_told_apart_by_their_input_order(tmp_path: Path) -> None:
    """Without a line id the columnar engine numbers the lines once, in input order (the
    chronological order's last key), and an aggregate reads the claim flags it tests."""
    path = tmp_path / "sans-id.rules"
    path.write_text(NO_LINE_ID_RULEBOOK, encoding="utf-8")
    book = load(str(path))
    day = dt.date(2025, 3, 5)
    lines = [
        ("C1", "G"),
        ("C1", "X"),
        ("C2", "X"),  # no G on C2
        ("C3", "X"),
        ("C3", "G"),
        ("C4", "X"),
        ("C4", "G"),
        ("C4", "X"),
    ]
    rows = [
        {
            "claim_id": claim,
            "provider_id": "P1",
            "service_date": day,
            "act_code": act,
            "amount": Decimal(n),
        }
        for n, (claim, act) in enumerate(lines, start=1)
    ]
    found = engines_agree(book, make_batch(book, "claims", rows), {})
    # X-CAP: four X with a G on their claim the same day; the third and fourth in input
    # order (amounts 6 and 8) are one and two too many.
    assert [(v.rule, v.claim_id, v.amount_at_stake) for v in found] == [
        ("X-ALONE", "C2", Decimal("3.00")),
        ("X-CAP", "C4", Decimal("6.00")),
        ("X-CAP", "C4", Decimal("8.00")),
    ]
