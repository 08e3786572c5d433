import json
from datetime import date, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimlint.checker import calendar
from claimlint.checker.calendar import (
    add_working_days,
    age_on,
    days_between,
    is_out_of_hours,
    is_public_holiday,
    is_working_day,
    iso_week,
    iso_week_label,
    month_label,
    public_holiday_name,
    working_days_between,
    year_label,
)

# Within the holiday library's coverage (1803-2100).
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31))


def _naive_working_days(start: date, end: date) -> int:
    return sum(is_working_day(start + timedelta(days=k)) for k in range(1, (end - start).days + 1))


# --- Periods -------------------------------------------------------------------------------


def test_iso_week_straddles_new_year_2025_2026() -> None:
    for offset in range(7):
        assert iso_week(date(2025, 12, 29) + timedelta(days=offset)) == (2026, 1)
    assert iso_week(date(2025, 12, 28)) == (2025, 52)
    assert iso_week(date(2026, 1, 5)) == (2026, 2)


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (date(2025, 12, 29), "2026-W01"),
        (date(2024, 12, 30), "2025-W01"),
        (date(2021, 1, 3), "2020-W53"),
        (date(2020, 12, 31), "2020-W53"),
        (date(2026, 3, 4), "2026-W10"),
    ],
)
def test_iso_week_label_uses_iso_year_and_pads_week(day: date, label: str) -> None:
    assert iso_week_label(day) == label


def test_month_and_year_labels() -> None:
    assert month_label(date(2026, 3, 31)) == "2026-03"
    assert month_label(date(2025, 12, 29)) == "2025-12"
    assert year_label(date(2025, 12, 29)) == "2025"


@given(dates)
def test_iso_week_label_agrees_with_isocalendar(day: date) -> None:
    iso = day.isocalendar()
    assert iso_week_label(day) == f"{iso.year}-W{iso.week:02d}"


# --- Public holidays and working days ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "Jour de l'an"),
        (date(2026, 5, 1), "Fête du Travail"),
        (date(2026, 5, 8), "Fête de la Victoire"),
        (date(2026, 5, 14), "Ascension"),
        (date(2026, 5, 25), "Lundi de Pentecôte"),
        (date(2026, 11, 1), "Toussaint"),
    ],
)
def test_public_holiday_french_names(day: date, name: str) -> None:
    assert is_public_holiday(day)
    assert public_holiday_name(day) == name


@pytest.mark.parametrize("day", [date(2026, 5, 4), date(2026, 4, 3), date(2026, 12, 26)])
def test_ordinary_days_and_alsace_moselle_days_are_not_holidays(day: date) -> None:
    # 2026-04-03 (Good Friday) and 2026-12-26 are holidays only in Alsace-Moselle.
    assert not is_public_holiday(day)
    assert public_holiday_name(day) is None


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 5, 4), True),  # Monday
        (date(2026, 5, 1), False),  # Friday, Fête du Travail
        (date(2026, 5, 25), False),  # Whit Monday
        (date(2026, 5, 2), False),  # Saturday
        (date(2026, 5, 3), False),  # Sunday
    ],
)
def test_is_working_day(day: date, expected: bool) -> None:
    assert is_working_day(day) is expected


def test_working_days_skip_may_first_and_may_eighth_2026() -> None:
    # After Thursday 30 April: Fri 1 May (holiday), Mon 4-Thu 7, Fri 8 May (holiday), Mon 11.
    assert working_days_between(date(2026, 4, 30), date(2026, 5, 7)) == 4
    assert working_days_between(date(2026, 4, 30), date(2026, 5, 8)) == 4
    assert working_days_between(date(2026, 4, 30), date(2026, 5, 11)) == 5


def test_working_days_in_may_2026() -> None:
    # 21 weekdays minus 1 May, 8 May, Ascension (14) and Whit Monday (25).
    assert working_days_between(date(2026, 4, 30), date(2026, 5, 31)) == 17


def test_working_days_count_from_the_day_after_start() -> None:
    assert working_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
    assert working_days_between(date(2026, 3, 9), date(2026, 3, 10)) == 1
    assert working_days_between(date(2026, 3, 13), date(2026, 3, 15)) == 0  # Fri -> Sun
    assert working_days_between(date(2026, 3, 13), date(2026, 3, 16)) == 1  # Fri -> Mon


def test_working_days_zero_when_end_before_start() -> None:
    assert working_days_between(date(2026, 3, 16), date(2026, 3, 9)) == 0


def test_working_days_over_two_centuries_match_day_by_day_count() -> None:
    start, end = date(1900, 1, 1), date(2100, 12, 31)
    assert working_days_between(start, end) == _naive_working_days(start, end)


def test_add_working_days_mcu_delay_after_thursday_april_30_2026() -> None:
    assert add_working_days(date(2026, 4, 30), 1) == date(2026, 5, 4)
    assert add_working_days(date(2026, 4, 30), 4) == date(2026, 5, 7)
    assert add_working_days(date(2026, 4, 30), 5) == date(2026, 5, 11)


def test_add_working_days_skips_ascension_bridge_and_whit_monday_2026() -> None:
    # Wed 13 May -> Thu 14 (Ascension) skipped -> Fri 15; Fri 22 -> Mon 25 (Whit Monday) -> Tue 26.
    assert add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 15)
    assert add_working_days(date(2026, 5, 22), 1) == date(2026, 5, 26)


@pytest.mark.parametrize("n", [0, -1])
def test_add_working_days_rejects_n_below_one(n: int) -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2026, 3, 9), n)


@given(dates, st.integers(min_value=0, max_value=1000))
def test_working_days_between_matches_day_by_day_count(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    assert working_days_between(start, end) == _naive_working_days(start, end)


@given(st.lists(dates, min_size=3, max_size=3, unique=True).map(sorted))
def test_working_days_between_is_additive(days: list[date]) -> None:
    a, b, c = days
    assert working_days_between(a, c) == working_days_between(a, b) + working_days_between(b, c)


@given(dates, st.integers(min_value=1, max_value=600))
def test_add_working_days_is_inverse_of_working_days_between(start: date, n: int) -> None:
    result = add_working_days(start, n)
    assert is_working_day(result)
    assert working_days_between(start, result) == n


# --- Calendar days and ages ----------------------------------------------------------------


def test_days_between_counts_calendar_days() -> None:
    assert days_between(date(2026, 2, 27), date(2026, 3, 1)) == 2
    assert days_between(date(2026, 3, 1), date(2026, 2, 27)) == -2
    assert days_between(date(2026, 3, 1), date(2026, 3, 1)) == 0


def test_age_on_birthday_and_day_before() -> None:
    birth = date(1946, 3, 15)
    assert age_on(birth, date(2026, 3, 14)) == 79
    assert age_on(birth, date(2026, 3, 15)) == 80
    assert age_on(birth, birth) == 0


def test_age_born_february_29_ages_on_march_first_in_non_leap_years() -> None:
    birth = date(2000, 2, 29)
    assert age_on(birth, date(2025, 2, 28)) == 24
    assert age_on(birth, date(2025, 3, 1)) == 25


def test_age_born_february_29_ages_on_february_29_in_leap_years() -> None:
    birth = date(2000, 2, 29)
    assert age_on(birth, date(2024, 2, 28)) == 23
    assert age_on(birth, date(2024, 2, 29)) == 24


def test_age_on_rejects_date_before_birth() -> None:
    with pytest.raises(ValueError):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


# --- Out-of-hours (PDSA) periods -----------------------------------------------------------

WEDNESDAY = date(2026, 3, 11)
SATURDAY = date(2026, 3, 14)
SUNDAY = date(2026, 3, 15)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (time(0, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
        (time(19, 59), False),
        (time(20, 0), True),
        (time(23, 59), True),
    ],
)
def test_weekday_night_is_20_00_included_to_08_00_excluded(t: time, expected: bool) -> None:
    assert is_out_of_hours(WEDNESDAY, t) is expected


@pytest.mark.parametrize(
    ("t", "option", "expected"),
    [
        (time(13, 59), True, False),
        (time(14, 0), True, True),
        (time(13, 59), False, False),
        (time(14, 0), False, False),
        (time(20, 0), False, True),  # the night does not depend on the option
    ],
)
def test_saturday_afternoon_from_14_00_when_option_on(
    t: time, option: bool, expected: bool
) -> None:
    assert is_out_of_hours(SATURDAY, t, saturday_afternoon=option) is expected


def test_sunday_daytime_is_out_of_hours() -> None:
    assert is_out_of_hours(SUNDAY, time(10, 0))


@pytest.mark.parametrize("day", [date(2026, 5, 1), date(2026, 5, 25), date(2026, 7, 14)])
def test_public_holiday_daytime_is_out_of_hours(day: date) -> None:
    assert is_out_of_hours(day, time(10, 0), saturday_afternoon=False, bridge_days=False)


@pytest.mark.parametrize("day", [WEDNESDAY, SUNDAY, date(2026, 5, 1)])
def test_missing_time_is_never_out_of_hours(day: date) -> None:
    assert not is_out_of_hours(day, None)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 7, 13),  # Monday before Tuesday 14 July
        date(2025, 11, 10),  # Monday before Tuesday 11 November
        date(2026, 1, 2),  # Friday after Thursday 1 January
        date(2026, 5, 15),  # Friday after Ascension Thursday
        date(2026, 5, 16),  # Saturday after Ascension Thursday and its bridge Friday
        date(2026, 5, 2),  # Saturday after Friday 1 May
        date(2026, 12, 26),  # Saturday after Friday Christmas
    ],
)
def test_bridge_days_are_out_of_hours_all_day(day: date) -> None:
    assert is_out_of_hours(day, time(8, 0), saturday_afternoon=False)
    assert not is_out_of_hours(day, time(8, 0), bridge_days=False)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 5, 26),  # Tuesday after Whit Monday
        date(2026, 11, 10),  # Tuesday before Wednesday 11 November
        date(2026, 11, 12),  # Thursday after Wednesday 11 November
        date(2026, 5, 18),  # Monday, no holiday on Tuesday
        date(2026, 5, 22),  # Friday, no holiday on Thursday
        date(2026, 5, 23),  # Saturday, no holiday on Thursday or Friday
    ],
)
def test_days_next_to_no_holiday_or_outside_the_rule_are_not_bridge_days(day: date) -> None:
    assert not is_out_of_hours(day, time(10, 0))


def test_warm_loads_this_years_holidays_ahead() -> None:
    """What the DuckDB engine's thread runs while the input loads: afterwards this year's
    holidays are known without computing them again."""
    calendar._holidays_in.cache_clear()
    calendar.warm()
    before = calendar._holidays_in.cache_info()
    assert before.currsize == 1
    assert calendar.public_holidays(date.today().year, date.today().year)
    assert calendar._holidays_in.cache_info().hits == before.hits + 1


def test_warm_leaves_a_fault_to_the_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in a thread, warm() must not raise: the check's own use of the calendar reports."""

    def broken(year: int) -> None:
        raise ImportError("holidays")

    monkeypatch.setattr(calendar, "_holidays_in", broken)
    calendar.warm()
    with pytest.raises(ImportError):
        calendar.public_holidays(2025, 2025)


# --- Holidays kept in claimlint's cache -----------------------------------------------------


def _library_days(year: int) -> dict[date, str]:
    import holidays

    return dict(holidays.France(years=year, language="fr"))


@pytest.fixture
def kept_years(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """An empty cache folder, and no year known in this process."""
    monkeypatch.setenv("CLAIMLINT_CACHE_DIR", str(tmp_path))
    calendar._holidays_in.cache_clear()
    yield tmp_path
    monkeypatch.undo()  # a test's own version or spec, before they are forgotten
    calendar._holidays_in.cache_clear()
    calendar._library_version.cache_clear()


def _entry(folder, year: int):
    (entry,) = folder.glob(f"holidays-FR-fr-*-{year}.json")
    return entry


def test_a_kept_year_is_read_back_without_importing_the_library(kept_years) -> None:
    """The first check of a machine computes the years and keeps them; the next ones read
    them, the library (and its 250 country modules) not even imported."""
    import os
    import subprocess
    import sys

    years = [1802, 1803, 2024, 2025, 2026, 2100, 2101]  # the library's bounds included
    script = (
        "import json, sys\n"
        "from claimlint.checker import calendar\n"
        f"days = {{y: calendar._holidays_in(y) for y in {years}}}\n"
        "print(json.dumps({'imported': 'holidays' in sys.modules, 'days': "
        "{y: sorted((d.isoformat(), n) for d, n in v.items()) for y, v in days.items()}}))\n"
    )
    env = {**os.environ, "CLAIMLINT_CACHE_DIR": str(kept_years)}
    runs = [
        json.loads(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                  text=True, check=True).stdout)
        for _ in range(2)
    ]  # fmt: skip
    assert [run["imported"] for run in runs] == [True, False]
    expected = {
        str(y): sorted([d.isoformat(), n] for d, n in _library_days(y).items()) for y in years
    }
    assert runs[0]["days"] == runs[1]["days"] == expected
    assert expected["2025"] and not expected["1802"] and not expected["2101"]
    assert len(list(kept_years.glob("holidays-*.json"))) == len(years)


@pytest.mark.parametrize(
    "corrupt",
    [
        "{not json",
        "{}",
        "[1]",
        '[["2025-01-01"]]',
        '[["2025-13-01", "Jour de l\'an"]]',
        '[["2024-01-01", "Jour de l\'an"]]',  # another year's day
        '[["2025-01-01", 1]]',
        '[[20250101, "Jour de l\'an"]]',
    ],
)
def test_a_kept_year_not_of_its_form_is_worked_out_again(kept_years, corrupt: str) -> None:
    calendar._holidays_in(2025)
    entry = _entry(kept_years, 2025)
    entry.write_text(corrupt)
    calendar._holidays_in.cache_clear()
    assert dict(calendar._holidays_in(2025)) == _library_days(2025)
    assert json.loads(entry.read_text()) == [
        [d.isoformat(), n] for d, n in sorted(_library_days(2025).items())
    ]  # kept again, whole


def test_the_kept_years_belong_to_one_version_of_the_library(
    kept_years, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgraded library (another version or other rules for France) is asked again."""
    monkeypatch.setattr(calendar, "_library_version", lambda: "v1")
    calendar._holidays_in(2025)
    entry = _entry(kept_years, 2025)
    entry.write_text('[["2025-01-01", "Jour de l\'an"]]')  # as if v1 knew only this one
    calendar._holidays_in.cache_clear()
    assert dict(calendar._holidays_in(2025)) == {date(2025, 1, 1): "Jour de l'an"}
    monkeypatch.setattr(calendar, "_library_version", lambda: "v2")
    calendar._holidays_in.cache_clear()
    assert dict(calendar._holidays_in(2025)) == _library_days(2025)


def test_the_library_version_is_read_from_its_files(
    kept_years, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest reads the library's version and its rules for France from its files: a
    change to either is another version, the same files the same one."""
    import importlib.machinery

    root = kept_years / "holidays"
    (root / "countries").mkdir(parents=True)
    spec = importlib.machinery.ModuleSpec("holidays", None, is_package=True)
    spec.submodule_search_locations = [str(root)]
    monkeypatch.setattr(calendar.importlib.util, "find_spec", lambda name: spec)

    def version(version_py: str, france_py: str) -> str | None:
        (root / "version.py").write_text(version_py)
        (root / "countries" / "france.py").write_text(france_py)
        calendar._library_version.cache_clear()
        return calendar._library_version()

    first = version('__version__ = "1"', "class France: ...")
    assert first is not None
    assert version('__version__ = "1"', "class France: ...") == first
    assert version('__version__ = "2"', "class France: ...") != first
    assert version('__version__ = "1"', "class France: pass") != first


def test_without_the_cache_or_the_librarys_files_nothing_is_kept(
    kept_years, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMLINT_NO_CACHE", "1")
    assert dict(calendar._holidays_in(2025)) == _library_days(2025)
    monkeypatch.delenv("CLAIMLINT_NO_CACHE")
    monkeypatch.setattr(calendar.importlib.util, "find_spec", lambda name: None)
    calendar._library_version.cache_clear()
    calendar._holidays_in.cache_clear()
    assert dict(calendar._holidays_in(2026)) == _library_days(2026)
    assert not list(kept_years.iterdir())
