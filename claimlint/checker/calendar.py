"""Calendar arithmetic for billing rules: periods, French public holidays, working days, ages
and out-of-hours (PDSA) periods.

Public holidays are those of metropolitan France as given by the maintained ``holidays`` library
(no regional subdivision, so Alsace-Moselle's extra days are not included). The library covers
1803-2100; outside that range, a year has no public holidays. Each year's days are kept in
claimlint's cache (claimlint/cache.py) under the library's version: its first use imports
the module of every country it knows and takes 0.2 s, reading a kept year 0.1 ms.
"""

import hashlib
import importlib.util
from calendar import isleap  # the standard library module (absolute import), not this one
from collections.abc import Mapping
from contextlib import suppress
from datetime import date, time, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType

from claimlint.cache import read as read_kept
from claimlint.cache import write as write_kept

_NIGHT_END = time(8, 0)
_NIGHT_START = time(20, 0)
_SATURDAY_AFTERNOON_START = time(14, 0)

_ONE_DAY = timedelta(days=1)
_MONDAY, _FRIDAY, _SATURDAY, _SUNDAY = 0, 4, 5, 6


def iso_week(d: date) -> tuple[int, int]:
    """Return (ISO year, ISO week): weekly caps group days by ISO week, whose year can differ
    from the calendar year around 1 January."""
    iso = d.isocalendar()
    return iso.year, iso.week


def iso_week_label(d: date) -> str:
    """Return the ISO week label, e.g. "2026-W01" for 2025-12-29 (ISO year, never calendar year)."""
    year, week = iso_week(d)
    return f"{year:04d}-W{week:02d}"


def month_label(d: date) -> str:
    """Return the month label, e.g. "2026-03"."""
    return f"{d.year:04d}-{d.month:02d}"


def year_label(d: date) -> str:
    """Return the calendar year label, e.g. "2026"."""
    return f"{d.year:04d}"


@cache
def _library_version() -> str | None:
    """A digest of the installed library's version and of its rules for France, read from
    its files without importing it; None when they cannot be read (nothing is then kept)."""
    spec = importlib.util.find_spec("holidays")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    try:
        material = (root / "version.py").read_bytes() + b"\0"
        material += (root / "countries" / "france.py").read_bytes()
    except OSError:
        return None
    return hashlib.sha256(material).hexdigest()[:32]


def _kept_year(name: str, year: int) -> dict[date, str] | None:
    """The year's holidays as the cache keeps them: [[ISO date, name], ...], each day of
    that year; None for an entry that is missing or not of that form."""
    entry = read_kept(name)
    if not isinstance(entry, list):
        return None
    try:
        days = {date.fromisoformat(day): label for day, label in entry}
    except (TypeError, ValueError):
        return None
    if any(d.year != year for d in days) or not all(type(v) is str for v in days.values()):
        return None
    return days


@cache
def _holidays_in(year: int) -> Mapping[date, str]:
    """French public holidays of one year, built once per year since every claim line asks."""
    version = _library_version()
    name = f"holidays-FR-fr-{version}-{year}.json"
    days = _kept_year(name, year) if version is not None else None
    if days is None:
        import holidays  # imported on first use: most checks never ask for a holiday

        days = dict(holidays.France(years=year, language="fr"))
        if version is not None:
            write_kept(name, [[d.isoformat(), label] for d, label in sorted(days.items())])
    return MappingProxyType(days)


def warm() -> None:
    """Pay the calendar's first use ahead (0.2 s when the year is not kept yet: the library's
    import and its French names, which every later year reuses), from a thread while the
    caller waits on something else.
    A fault is left to that first use, which meets it again and reports it: a thread's
    traceback would reach the user."""
    with suppress(Exception):
        _holidays_in(date.today().year)


def public_holidays(first_year: int, last_year: int) -> list[date]:
    """Every French public holiday of the years, in order (for SQL engines' holiday table)."""
    return sorted(d for year in range(first_year, last_year + 1) for d in _holidays_in(year))


def is_public_holiday(d: date) -> bool:
    """Tell whether ``d`` is a French public holiday (metropolitan France)."""
    return d in _holidays_in(d.year)


def public_holiday_name(d: date) -> str | None:
    """Return the French name the library gives the holiday on ``d``, or None on other days."""
    return _holidays_in(d.year).get(d)


def is_working_day(d: date) -> bool:
    """Tell whether ``d`` is a working day: Monday to Friday and not a French public holiday."""
    return d.weekday() < _SATURDAY and not is_public_holiday(d)


def _weekdays_through(ordinal: int) -> int:
    """Count the Mondays-Fridays from 0001-01-01 (ordinal 1, a Monday) through ``ordinal``."""
    weeks, rest = divmod(ordinal, 7)
    return 5 * weeks + min(rest, 5)


def _weekday_holidays(start: date, end: date) -> int:
    """Count the public holidays falling Monday-Friday in (start, end]."""
    return sum(
        1
        for year in range(start.year, end.year + 1)
        for day in _holidays_in(year)
        if start < day <= end and day.weekday() < _SATURDAY
    )


def working_days_between(start: date, end: date) -> int:
    """Count the working days in (start, end], i.e. from the day after ``start`` through ``end``
    (delays run from the day after the triggering event); 0 when ``end <= start``.

    Weekdays are counted arithmetically, so the cost grows with the number of years, not days.
    """
    if end <= start:
        return 0
    weekdays = _weekdays_through(end.toordinal()) - _weekdays_through(start.toordinal())
    return weekdays - _weekday_holidays(start, end)


def _add_weekdays(d: date, n: int) -> date:
    """Return the n-th Monday-Friday after ``d`` (n >= 1), ignoring holidays."""
    weeks, rest = divmod(_weekdays_through(d.toordinal()) + n - 1, 5)
    return date.fromordinal(7 * weeks + rest + 1)


def add_working_days(d: date, n: int) -> date:
    """Return the n-th working day after ``d`` (n >= 1), the inverse of working_days_between:
    the result is a working day and ``working_days_between(d, result) == n``.

    Raises ValueError when n < 1.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    result = d
    missing = n
    # Each pass skips `missing` weekdays; the holidays met on the way are still missing.
    while missing:
        result = _add_weekdays(result, missing)
        missing = n - working_days_between(d, result)
    return result


def days_between(start: date, end: date) -> int:
    """Return the number of calendar days from ``start`` to ``end`` (negative if end < start)."""
    return (end - start).days


def age_on(birth: date, on: date) -> int:
    """Return the age in completed years on ``on``.

    Someone born on 29 February has their birthday on 1 March in non-leap years, so they turn a
    year older on 1 March, not on 28 February. Raises ValueError when ``on`` is before ``birth``.
    """
    if on < birth:
        raise ValueError(f"date {on} is before birth date {birth}")
    birthday = (birth.month, birth.day)
    if birthday == (2, 29) and not isleap(on.year):
        birthday = (3, 1)
    return on.year - birth.year - ((on.month, on.day) < birthday)


def is_bridge_day(d: date) -> bool:
    """Tell whether ``d`` is a bridge day of art. R. 6315-1 CSP ("le lundi lorsqu'il précède un
    jour férié, le vendredi et le samedi lorsqu'ils suivent un jour férié"): a Monday whose
    Tuesday is a holiday, a Friday whose Thursday is a holiday, and a Saturday whose Friday or
    Thursday is a holiday (the Friday and Saturday after a Thursday holiday go together)."""
    weekday = d.weekday()
    if weekday == _MONDAY:
        return d < date.max and is_public_holiday(d + _ONE_DAY)
    if weekday == _FRIDAY:
        return d > date.min and is_public_holiday(d - _ONE_DAY)
    if weekday == _SATURDAY:
        return d > date.min and (
            is_public_holiday(d - _ONE_DAY) or is_public_holiday(d - 2 * _ONE_DAY)
        )
    return False


def is_out_of_hours(
    d: date,
    t: time | None,
    *,
    saturday_afternoon: bool = True,
    bridge_days: bool = True,
) -> bool:
    """Tell whether a service on ``d`` at ``t`` falls in a PDSA period (art. R. 6315-1 CSP).

    Out of hours: every day from 20:00 (included) to 08:00 (excluded); all day on Sundays and
    public holidays; Saturday from 14:00 (included) if ``saturday_afternoon``; all day on bridge
    days if ``bridge_days`` (a Monday before a Tuesday holiday, a Friday after a Thursday holiday,
    a Saturday after a Friday or Thursday holiday). Both options are regional, on by default.

    A missing time returns False, even on a Sunday or holiday: a missing time cannot justify an
    out-of-hours surcharge.
    """
    if t is None:
        return False
    if t >= _NIGHT_START or t < _NIGHT_END:
        return True
    if d.weekday() == _SUNDAY or is_public_holiday(d):
        return True
    if saturday_afternoon and d.weekday() == _SATURDAY and t >= _SATURDAY_AFTERNOON_START:
        return True
    return bridge_days and is_bridge_day(d)
