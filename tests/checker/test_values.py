"""Values as French messages print them, and as JSON carries them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimlint.checker.values import euros, french, plain
from claimlint.dsl.types import Type


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("15", "15,00"),
        ("15.0", "15,00"),
        ("15.00", "15,00"),
        ("15.000", "15,00"),
        ("0.125", "0,125"),
        ("3.12500", "3,125"),  # DuckDB's DECIMAL(x, 5) for 25.00 / 8
        ("-0.01250", "-0,0125"),
        ("-3.5", "-3,50"),
        ("-0.00", "-0,00"),
        ("1E+2", "100,00"),
        ("123456789012.10", "123456789012,10"),
    ],
)
def test_euros_have_a_decimal_comma_and_at_least_two_places(value: str, shown: str) -> None:
    assert euros(Decimal(value)) == shown


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12
    )
)
def test_euros_agree_with_their_definition(value: Decimal) -> None:
    # The definition: the value to the cent when that loses nothing, else the places it
    # needs (the same text whatever places the engine kept).
    cents = value.quantize(Decimal("0.01"))
    shown = cents if cents == value else value.normalize()
    assert euros(value) == f"{shown:f}".replace(".", ",")
    assert euros(value.quantize(Decimal("1E-8"))) == euros(value)


@pytest.mark.parametrize(
    ("value", "type_", "shown"),
    [
        (None, Type.TEXT, "—"),
        ("GLQP012", Type.TEXT, "GLQP012"),
        (True, Type.BOOLEAN, "oui"),
        (False, Type.BOOLEAN, "non"),
        (30, Type.MONEY, "30,00"),
        (7, Type.INTEGER, "7"),
        (Decimal("40.500000"), Type.DECIMAL, "40,5"),
        (dt.date(2024, 12, 22), Type.DATE, "22/12/2024"),
        (dt.date(999, 1, 2), Type.DATE, "02/01/999"),
        (dt.time(8, 5, 59), Type.TIME, "08:05"),
    ],
)
def test_french_values(value: object, type_: Type, shown: str) -> None:
    assert french(value, type_) == shown


@given(st.dates(min_value=dt.date(1000, 1, 1)), st.times())
def test_dates_and_times_print_as_strftime_does(day: dt.date, time: dt.time) -> None:
    assert french(day) == f"{day:%d/%m/%Y}"
    assert french(time) == f"{time:%H:%M}"


def test_plain_values_for_json() -> None:
    assert plain(Decimal("30.00")) == "30.00"
    assert plain(dt.date(2025, 3, 4)) == "2025-03-04"
    assert plain(dt.time(19, 30, 12)) == "19:30"
    assert [plain(v) for v in ("a", 3, True, None)] == ["a", 3, True, None]
