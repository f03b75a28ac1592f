"""The working-day clock: properties every due time must have, and the real 2026 schedule."""

from __future__ import annotations

import datetime as dt

import chinese_calendar  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yuqing.workcal
from yuqing.workcal.clock import (
    SHANGHAI,
    CalendarError,
    DayOverride,
    WorkCalendar,
    WorkingPeriod,
    parse_working_hours,
)

CAL = WorkCalendar()
H = dt.timedelta(hours=1)


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=SHANGHAI)


# Starts from late 2025 into 2027 (uncovered: weekends only), in Shanghai time and in UTC.
starts = st.datetimes(
    min_value=dt.datetime(2025, 12, 1),
    max_value=dt.datetime(2027, 3, 1),
    timezones=st.sampled_from([SHANGHAI, dt.UTC]),
)
amounts = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(hours=120))
positive = st.timedeltas(min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(hours=60))
modest = settings(max_examples=200, deadline=None)


def test_public_api_is_pinned() -> None:
    assert set(yuqing.workcal.__all__) == {
        "SHANGHAI",
        "CalendarError",
        "DayInfo",
        "DayOverride",
        "Due",
        "WorkCalendar",
        "WorkingPeriod",
        "parse_working_hours",
        "uncovered_warning",
    }


# ----- properties -----------------------------------------------------------------------------------


@modest
@given(starts, amounts)
def test_due_time_is_never_in_non_working_time(start: dt.datetime, amount: dt.timedelta) -> None:
    due = CAL.add_working_time(start, amount)
    assert CAL.is_working_time(due.at)
    assert due.at >= start
    assert due.at.tzinfo is SHANGHAI
    assert CAL.is_working_time(CAL.add_working_days(start, 1).at)
    assert CAL.is_working_time(CAL.end_of_working_day(start).at)


@modest
@given(starts, st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=5)), amounts)
def test_a_later_start_is_never_due_earlier(
    start: dt.datetime, later_by: dt.timedelta, amount: dt.timedelta
) -> None:
    assert CAL.add_working_time(start, amount).at <= CAL.add_working_time(start + later_by, amount).at


@modest
@given(starts, amounts, amounts)
def test_more_working_time_is_never_due_earlier(start: dt.datetime, a: dt.timedelta, b: dt.timedelta) -> None:
    low, high = sorted((a, b))
    assert CAL.add_working_time(start, low).at <= CAL.add_working_time(start, high).at


@modest
@given(starts, positive, positive)
def test_adding_working_time_is_additive(start: dt.datetime, a: dt.timedelta, b: dt.timedelta) -> None:
    step_by_step = CAL.add_working_time(CAL.add_working_time(start, a).at, b).at
    assert step_by_step == CAL.add_working_time(start, a + b).at


@modest
@given(starts, amounts)
def test_working_time_between_undoes_adding(start: dt.datetime, amount: dt.timedelta) -> None:
    due = CAL.add_working_time(start, amount).at
    assert CAL.working_time_between(start, due) == amount
    assert CAL.working_time_between(due, start) == -amount


@modest
@given(starts, st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12))
def test_working_days_compose_and_invert(start: dt.datetime, a: int, b: int) -> None:
    first = CAL.add_working_days(start, a).at
    assert CAL.working_days_between(start, first) == a
    assert CAL.add_working_days(first, b).at == CAL.add_working_days(start, a + b).at


# ----- the real 2026 schedule (chinese-calendar) ------------------------------------------------------


def test_three_working_hours_before_national_day_land_after_the_break() -> None:
    # 2026: Mid-Autumn 9-25..27, National Day 10-01..07, make-up days Sun 9-20 and Sat 10-10.
    assert not chinese_calendar.is_workday(dt.date(2026, 10, 7))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 8))
    # Wed 9-30 17:00: half an hour that day, then 2.5 h from 08:30 on Thu 10-08.
    due = CAL.add_working_time(sh(2026, 9, 30, 17, 0), 3 * H)
    assert due.at == sh(2026, 10, 8, 11, 0)
    assert due.uncovered_years == ()
    assert due.at.isoformat() == "2026-10-08T11:00:00+08:00"
    # The same instant given in UTC gives the same due time.
    assert CAL.add_working_time(dt.datetime(2026, 9, 30, 9, 0, tzinfo=dt.UTC), 3 * H).at == due.at


def test_friday_before_the_break_is_itself_mid_autumn_holiday() -> None:
    # Fri 2026-09-25 is 中秋 in 2026: counting starts Mon 9-28 08:30.
    assert CAL.describe(dt.date(2026, 9, 25)).name == "中秋"
    assert CAL.add_working_time(sh(2026, 9, 25, 17, 0), 3 * H).at == sh(2026, 9, 28, 11, 30)


def test_working_time_ending_at_a_period_end_is_due_at_that_end() -> None:
    half_hour = CAL.add_working_time(sh(2026, 9, 30, 17, 0), dt.timedelta(minutes=30))
    assert half_hour.at == sh(2026, 9, 30, 17, 30)
    just_over = CAL.add_working_time(sh(2026, 9, 30, 17, 0), dt.timedelta(minutes=30, microseconds=1))
    assert just_over.at == sh(2026, 10, 8, 8, 30, 0, 1)
    # Lunch break: 3 h from 10:00 is 12:00 + 1 h → 15:00.
    assert CAL.add_working_time(sh(2026, 11, 20, 10, 0), 3 * H).at == sh(2026, 11, 20, 15, 0)
    # From the lunch break, counting starts at 14:00.
    assert CAL.add_working_time(sh(2026, 11, 20, 12, 30), dt.timedelta(0)).at == sh(2026, 11, 20, 14, 0)


def test_five_working_days_across_spring_festival_count_make_up_saturdays() -> None:
    # 2026 Spring Festival: 2-15..2-23 off, Saturdays 2-14 and 2-28 are working days.
    assert chinese_calendar.is_workday(dt.date(2026, 2, 14))
    assert chinese_calendar.is_workday(dt.date(2026, 2, 28))
    assert not chinese_calendar.is_workday(dt.date(2026, 2, 23))
    # Known Thu 2-12 (not counted): Fri 2-13, Sat 2-14, Tue 2-24, Wed 2-25, Thu 2-26 → 17:30 on 2-26.
    assert CAL.add_working_days(sh(2026, 2, 12, 10, 0), 5).at == sh(2026, 2, 26, 17, 30)
    # Known on a holiday, Mon 2-23: 2-24, 2-25, 2-26, 2-27 and make-up Sat 2-28.
    assert CAL.add_working_days(sh(2026, 2, 23, 10, 0), 5).at == sh(2026, 2, 28, 17, 30)
    # Known late on Thu 2-12 (after hours): the day is still not counted, same due time.
    assert CAL.add_working_days(sh(2026, 2, 12, 23, 0), 5).at == sh(2026, 2, 26, 17, 30)
    assert CAL.working_days_between(sh(2026, 2, 12, 10, 0), sh(2026, 2, 26, 17, 30)) == 5


def test_same_working_day() -> None:
    assert CAL.end_of_working_day(sh(2026, 11, 20, 7, 0)).at == sh(2026, 11, 20, 17, 30)
    assert CAL.end_of_working_day(sh(2026, 11, 20, 17, 29)).at == sh(2026, 11, 20, 17, 30)
    # At or after the end of Friday: the end of Monday.
    assert CAL.end_of_working_day(sh(2026, 11, 20, 17, 30)).at == sh(2026, 11, 23, 17, 30)
    assert CAL.end_of_working_day(sh(2026, 11, 20, 21, 0)).at == sh(2026, 11, 23, 17, 30)
    # On a holiday: the first working day after it (the make-up Saturday 10-10 comes after 10-08/09).
    assert CAL.end_of_working_day(sh(2026, 10, 3, 9, 0)).at == sh(2026, 10, 8, 17, 30)


def test_plain_hours_count_nights_and_holidays() -> None:
    due = CAL.add_hours(sh(2026, 9, 30, 23, 30), 1)
    assert due.at == sh(2026, 10, 1, 0, 30) and due.uncovered_years == ()
    assert CAL.add_hours(sh(2027, 5, 1, 10, 0), 24).uncovered_years == ()


def test_working_time_between_for_statistics() -> None:
    # Fri 2026-11-20 16:00 → Mon 11-23 09:30: 1.5 h on Friday, 1 h on Monday.
    assert CAL.working_time_between(sh(2026, 11, 20, 16, 0), sh(2026, 11, 23, 9, 30)) == 2.5 * H
    # A whole working day is seven hours with the default working hours.
    assert CAL.working_time_between(sh(2026, 11, 20), sh(2026, 11, 21)) == 7 * H


# ----- years without a known schedule ----------------------------------------------------------------


def test_an_uncovered_year_warns_and_falls_back_to_weekends() -> None:
    calendar = WorkCalendar()
    within_2026 = calendar.add_working_days(sh(2026, 12, 1, 10, 0), 5)
    assert within_2026.uncovered_years == () and within_2026.warning is None
    assert not calendar.uncovered_years
    # Wed 2026-12-30: Thu 12-31, Fri 2027-01-01 (New Year unknown: a weekday counts), Mon 1-4, 1-5, 1-6.
    due = calendar.add_working_days(sh(2026, 12, 30, 10, 0), 5)
    assert due.at == sh(2027, 1, 6, 17, 30)
    assert due.uncovered_years == (2027,)
    assert due.warning is not None
    assert "2027 年的节假日安排尚未录入" in due.warning and "holidays import" in due.warning
    assert calendar.uncovered_years == (2027,)
    assert calendar.is_workday(dt.date(2028, 1, 3))
    assert list(calendar.uncovered_years) == [2027, 2028]


def test_an_entered_year_replaces_the_fallback_and_clears_the_warning() -> None:
    # Test data, not the official 2027 schedule.
    overrides = {dt.date(2027, 1, d): DayOverride(False, "元旦") for d in (1, 2, 3)}
    overrides[dt.date(2027, 1, 9)] = DayOverride(True, "测试调休")
    calendar = WorkCalendar(overrides=overrides, entered_years=[2027])
    due = calendar.add_working_days(sh(2026, 12, 30, 10, 0), 5)
    assert due.at == sh(2027, 1, 7, 17, 30)
    assert due.uncovered_years == () and calendar.uncovered_years == ()
    assert calendar.describe(dt.date(2027, 1, 9)).kind == "makeup"
    assert calendar.add_working_days(sh(2027, 1, 8, 10, 0), 1).at == sh(2027, 1, 9, 17, 30)


def test_an_entered_year_overrides_chinese_calendar_for_that_year() -> None:
    calendar = WorkCalendar(overrides={dt.date(2026, 1, 1): DayOverride(False, "元旦")})
    assert calendar.is_workday(dt.date(2026, 2, 16))  # no longer Spring Festival: only 元旦 entered
    assert not calendar.is_workday(dt.date(2026, 2, 14))  # nor a make-up Saturday
    assert calendar.describe(dt.date(2026, 1, 1)).source == "entered"


# ----- inputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda t: CAL.add_working_time(t, H),
        lambda t: CAL.add_working_days(t, 1),
        lambda t: CAL.add_hours(t, 1),
        lambda t: CAL.end_of_working_day(t),
        lambda t: CAL.working_time_between(t, t),
        lambda t: CAL.working_days_between(t, t),
        lambda t: CAL.is_working_time(t),
    ],
)
def test_naive_times_are_refused(call: object) -> None:
    with pytest.raises(ValueError, match="没有时区"):
        call(dt.datetime(2026, 11, 20, 9, 0))  # type: ignore[operator]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="负数"):
        CAL.add_working_time(sh(2026, 11, 20, 9, 0), -H)
    with pytest.raises(ValueError, match="正整数"):
        CAL.add_working_days(sh(2026, 11, 20, 9, 0), 0)
    with pytest.raises(ValueError, match="非负数"):
        CAL.add_hours(sh(2026, 11, 20, 9, 0), -1)


def test_working_hours_are_parsed_and_validated() -> None:
    assert parse_working_hours("08:30-12:00,14:00-17:30") == (
        WorkingPeriod(dt.time(8, 30), dt.time(12, 0)),
        WorkingPeriod(dt.time(14, 0), dt.time(17, 30)),
    )
    nine_to_five = WorkCalendar("09:00-17:00")
    assert nine_to_five.add_working_time(sh(2026, 11, 20, 16, 0), 2 * H).at == sh(2026, 11, 23, 10, 0)
    for bad, named in [
        ("08:30-12:00,11:00-17:30", "11:00-17:30"),
        ("14:00-17:30,08:30-12:00", "08:30-12:00"),
        ("12:00-08:30", "12:00-08:30"),
        ("8.30-12", "8.30-12"),
        ("08:30-25:00", "08:30-25:00"),
        ("", "没有时段"),
    ]:
        with pytest.raises(CalendarError, match="working_hours") as excinfo:
            parse_working_hours(bad)
        assert named in str(excinfo.value)
