"""Values as French readers expect them: 15,00 ; 22/12/2024 ; 19:30 ; oui/non."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from claimlint.dsl.types import Type


def french(value: Any, type_: Type | None = None) -> str:
    """A value for a French message; decimals that are not money print without padding."""
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
    if isinstance(value, dt.date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    return str(value)


def euros(value: Decimal) -> str:
    """A decimal with a decimal comma and at least two places: 15,00 ; -3,50 ; 0,125."""
    if value == value.quantize(Decimal("0.01")):
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}".replace(".", ",")


def plain(value: Any) -> Any:
    """A value as JSON carries it: decimals as strings, dates and times in ISO form."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.date | dt.time):
        return (
            value.isoformat(timespec="minutes") if isinstance(value, dt.time) else value.isoformat()
        )
    return value
