"""Holiday schedules entered by an administrator: import, validation, replacement, the calendar in force."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import FakeClock
from yuqing.runtime import Runtime
from yuqing.workcal.clock import SHANGHAI, CalendarError
from yuqing.workcal.models import HolidayScheduleDay
from yuqing.workcal.service import (
    delete_year,
    import_holidays,
    list_years,
    load_calendar,
    parse_holiday_file,
)

# TEST DATA ONLY — invented dates, not the State Council's 2027 schedule.
TEST_2027_TOML = """
year = 2027
source = "测试数据（非官方安排）"
workdays = [{ date = "2027-02-06", name = "测试节" }]

[[holidays]]
name = "元旦"
start = "2027-01-01"
end = "2027-01-03"

[[holidays]]
name = "测试节"
start = 2027-02-08
end = 2027-02-12
"""

TEST_2027_JSON = {
    "year": 2027,
    "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}],
    "workdays": ["2027-01-09"],
}


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_an_imported_year_changes_due_times_and_clears_the_warning(rt: Runtime, clock: FakeClock) -> None:
    before = load_calendar(rt).add_working_days(sh(2026, 12, 30, 10), 5)
    assert before.at == sh(2027, 1, 6, 17, 30) and before.uncovered_years == (2027,)

    result = import_holidays(rt, TEST_2027_TOML.encode(), entered_by="管理员")
    assert (result.year, result.holidays, result.workdays, result.replaced) == (2027, 8, 1, None)

    calendar = load_calendar(rt)
    after = calendar.add_working_days(sh(2026, 12, 30, 10), 5)
    assert after.at == sh(2027, 1, 7, 17, 30)  # Fri 2027-01-01 is now a holiday
    assert after.uncovered_years == () and after.warning is None
    # The make-up Saturday counts; the Monday–Friday holiday does not.
    assert calendar.add_working_days(sh(2027, 2, 5, 10), 1).at == sh(2027, 2, 6, 17, 30)
    assert calendar.add_working_days(sh(2027, 2, 6, 10), 1).at == sh(2027, 2, 15, 17, 30)
    assert calendar.describe(dt.date(2027, 2, 8)).name == "测试节"

    years = list_years(rt)
    entered = [y for y in years if y.source == "entered"]
    assert [y.year for y in entered] == [2027]
    assert entered[0].entered_by == "管理员" and entered[0].entered_at == clock.now
    assert entered[0].note == "测试数据（非官方安排）"
    assert [y.year for y in years if y.source == "chinese_calendar"] == list(range(2004, 2027))


def test_reimporting_a_year_replaces_it(rt: Runtime, clock: FakeClock, tmp_path: Path) -> None:
    import_holidays(rt, TEST_2027_TOML.encode(), entered_by="甲")
    first_entered = clock.now
    clock.advance(days=1)
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(TEST_2027_JSON, ensure_ascii=False), encoding="utf-8")

    result = import_holidays(rt, path, entered_by="乙")
    assert result.replaced is not None
    assert result.replaced.entered_by == "甲" and result.replaced.entered_at == first_entered
    assert (result.holidays, result.workdays) == (3, 1)

    with rt.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(HolidayScheduleDay))
    assert stored == 4
    calendar = load_calendar(rt)
    assert calendar.is_workday(dt.date(2027, 2, 8))  # the old 测试节 is gone
    assert not calendar.is_workday(dt.date(2027, 2, 6))  # so is the old make-up day
    assert calendar.is_workday(dt.date(2027, 1, 9))
    [entered] = [y for y in list_years(rt) if y.source == "entered"]
    assert entered.entered_by == "乙" and entered.entered_at == clock.now


def test_a_bad_file_leaves_the_entered_schedule_alone(rt: Runtime) -> None:
    import_holidays(rt, TEST_2027_TOML.encode(), entered_by="甲")
    bad = TEST_2027_TOML.replace('end = "2027-01-03"', 'end = "2026-12-31"')
    with pytest.raises(CalendarError, match="元旦"):
        import_holidays(rt, bad.encode(), entered_by="乙")
    assert not load_calendar(rt).is_workday(dt.date(2027, 2, 8))


def test_deleting_a_year_brings_the_warning_back(rt: Runtime) -> None:
    import_holidays(rt, TEST_2027_TOML.encode(), entered_by="甲")
    removed = delete_year(rt, 2027)
    assert removed.year == 2027 and removed.holidays == 8
    assert load_calendar(rt).add_working_days(sh(2026, 12, 30, 10), 5).uncovered_years == (2027,)
    with pytest.raises(CalendarError, match="2027 年没有录入"):
        delete_year(rt, 2027)
    with pytest.raises(CalendarError, match="chinese-calendar"):
        delete_year(rt, 2026)


def test_an_entered_year_overrides_chinese_calendar(rt: Runtime) -> None:
    correction = 'year = 2026\n[[holidays]]\nname = "元旦"\nstart = "2026-01-01"\n'
    import_holidays(rt, correction.encode(), entered_by="甲")
    calendar = load_calendar(rt)
    assert not calendar.is_workday(dt.date(2026, 1, 1))
    assert calendar.is_workday(dt.date(2026, 1, 2))  # chinese-calendar had 1-02 off
    [row] = [y for y in list_years(rt) if y.year == 2026]
    assert row.source == "entered" and row.holidays == 1


def test_working_hours_come_from_settings(rt: Runtime) -> None:
    custom = dataclasses.replace(rt, settings=rt.settings.model_copy(update={"working_hours": "09:00-17:00"}))
    assert load_calendar(custom).end_of_working_day(sh(2026, 11, 20, 10)).at == sh(2026, 11, 20, 17, 0)
    broken = dataclasses.replace(rt, settings=rt.settings.model_copy(update={"working_hours": "9-5"}))
    with pytest.raises(CalendarError, match="working_hours"):
        load_calendar(broken)


# ----- validation of the file (no database) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[holidays]]\nname="元旦"\nstart="2027-01-01"', "缺少 year"),
        ("year = 2027\n", "没有 holidays"),
        (
            'year=2027\n[[holidays]]\nname="春节"\nstart="2027-02-13"\nend="2027-02-06"',
            "holidays 第 1 项（春节）的 end",
        ),
        (
            'year=2027\n[[holidays]]\nname="元旦"\nstart="2026-12-31"',
            "holidays 第 1 项（元旦）的 start（2026-12-31）不在 2027 年内",
        ),
        (
            'year=2027\n[[holidays]]\nname="元旦"\nstart="2027-13-01"',
            "holidays 第 1 项（元旦）的 start（'2027-13-01'）不是有效日期",
        ),
        ('year=2027\n[[holidays]]\nstart="2027-01-01"', "holidays 第 1 项缺少 name"),
        ('year=2027\n[[holidays]]\nname="春节"\nstart="2027-02-01"\nend="2027-03-30"', "超过 15 天"),
        (
            'year=2027\nworkdays=["2027-01-02"]\n[[holidays]]\nname="元旦"\nstart="2027-01-01"\nend="2027-01-03"',
            "2027-01-02 既是放假日又是调休上班日：见 holidays 第 1 项（元旦）和 workdays 第 1 项",
        ),
        (
            'year=2027\n[[holidays]]\nname="元旦"\nstart="2027-01-01"\n[[holidays]]\nname="又一个"\nstart="2027-01-01"',
            "2027-01-01 重复出现：见 holidays 第 1 项（元旦）和 holidays 第 2 项（又一个）",
        ),
        (
            'year=2027\n[[holidays]]\nname="元旦"\nstart="2027-01-01"\nworkdays=["2027-01-09"]',
            "写在第一个 [[holidays]] 之前",
        ),
        ('year=2027\nholiday=[]\n[[holidays]]\nname="元旦"\nstart="2027-01-01"', "未知字段 holiday"),
        (
            'year=2027\n[[holidays]]\nname="元旦"\nbegin="2027-01-01"',
            "holidays 第 1 项（元旦）含有未知字段 begin",
        ),
        ("year = 2027\n[[holidays]\n", "不是有效的 TOML"),
    ],
)
def test_errors_name_the_bad_entry(text: str, expected: str) -> None:
    with pytest.raises(CalendarError) as excinfo:
        parse_holiday_file(text.encode())
    assert expected in str(excinfo.value)


def test_json_errors_name_the_bad_entry() -> None:
    bad = {**TEST_2027_JSON, "workdays": ["2027-01-09", {"date": "2028-01-08", "name": "错年"}]}
    with pytest.raises(CalendarError, match="workdays 第 2 项（2028-01-08）不在 2027 年内"):
        parse_holiday_file(json.dumps(bad).encode())
    with pytest.raises(CalendarError, match="不是有效的 JSON：第 1 行"):
        parse_holiday_file(b'{"year": 2027,,}')


def test_toml_and_json_of_the_same_schedule_agree() -> None:
    as_json = parse_holiday_file(json.dumps(TEST_2027_JSON).encode())
    as_toml = parse_holiday_file(
        'year = 2027\nworkdays = ["2027-01-09"]\n[[holidays]]\nname = "元旦"\n'
        "start = 2027-01-01\nend = 2027-01-03\n".encode()
    )
    assert as_json == as_toml
    assert as_toml.days[dt.date(2027, 1, 2)].name == "元旦"
