"""Python implementations of the rulebook functions (signatures in dsl/functions.py)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from claimlint.checker import calendar


def _minutes_between(d1: dt.date, t1: dt.time, d2: dt.date, t2: dt.time) -> int:
    """Whole minutes elapsed, rounded down (seconds count: 10:00:30 to 10:01 is 0)."""
    delta = dt.datetime.combine(d2, t2) - dt.datetime.combine(d1, t1)
    return int(delta.total_seconds() // 60)


WORD_SEPARATORS = r"[ \t\n\r\f\v]+"  # ASCII white space only, as SQL engines split


def _has_word(text: str, word: str) -> bool:
    return word in re.split(WORD_SEPARATORS, text)


# Every function but coalesce is missing when one of its arguments is missing.
IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "iso_week": calendar.iso_week_label,
    "month": calendar.month_label,
    "year": lambda d: d.year,
    "end_of_year": lambda y: dt.date(y, 12, 31) if dt.MINYEAR <= y <= dt.MAXYEAR else None,
    "weekday": lambda d: d.isoweekday(),
    "age": calendar.age_on,
    "days_between": calendar.days_between,
    "working_days_between": calendar.working_days_between,
    "minutes_between": _minutes_between,
    "is_public_holiday": calendar.is_public_holiday,
    "is_out_of_hours": lambda d, t, sat, bridge: calendar.is_out_of_hours(
        d, t, saturday_afternoon=sat, bridge_days=bridge
    ),
    "has_word": _has_word,
    "min": min,
    "max": max,
}


def coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)
