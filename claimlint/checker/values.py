"""Values as French readers expect them: 15,00 ; 22/12/2024 ; 19:30 ; oui/non."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from claimlint.dsl.model import CENT
from claimlint.dsl.types import Type


def french(value: Any, type_: Type | None = None) -> str:
    """A value for a French message; decimals that are not money print without padding."""
    if type(value) is str:  # most placeholders: codes and identifiers
        return value
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if type_ is Type.MONEY and isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal):
        if type_ is Type.DECIMAL:
            return f"{value.normalize():f}".replace(".", ",")
        return euros(value)
    # Fields, not strftime (four times slower): the year unpadded, as the C library writes it.
    if isinstance(value, dt.date):
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    if isinstance(value, dt.time):
        return f"{value.hour:02d}:{value.minute:02d}"
    return str(value)


def euros(value: Decimal) -> str:
    """A decimal with a decimal comma and at least two places: 15,00 ; -3,50 ; 0,125.
    Beyond the cents, the places the value needs: 25.00 / 8 is 3,125 whether the engine
    holds it as 3.125 (Python) or 3.12500 (DuckDB)."""
    text = f"{value:f}"
    if text[-3:-2] == ".":  # two places already (money read from a table or a file)
        return text.replace(".", ",")
    cents = value.quantize(CENT)
    value = cents if value == cents else value.normalize()
    return f"{value:f}".replace(".", ",")


def plain(value: Any) -> Any:
    """A value as JSON carries it: decimals as strings, dates and times in ISO form."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.date | dt.time):
        return (
            value.isoformat(timespec="minutes") if isinstance(value, dt.time) else value.isoformat()
        )
    return value


_AS_IS = frozenset({str, int, bool, type(None)})  # what JSON carries unchanged
