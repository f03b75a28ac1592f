"""Service functions of the working-day calendar: build it from settings and the database, and keep
the administrator-entered holiday schedules (import, list, delete).

A holiday file (TOML or JSON, see docs/calendar.md)::

    year = 2027
    source = "国务院办公厅关于2027年部分节假日安排的通知"
    workdays = ["2027-02-14", { date = "2027-02-20", name = "春节" }]   # before the first [[holidays]]

    [[holidays]]
    name = "春节"
    start = "2027-02-06"
    end = "2027-02-13"

(dates invented for illustration, not the official schedule)
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import delete, select

from yuqing.db import transaction
from yuqing.runtime import Runtime
from yuqing.tomltext import toml_error
from yuqing.workcal.clock import (
    CHINESE_CALENDAR_YEARS,
    CalendarError,
    DayOverride,
    WorkCalendar,
    chinese_calendar_days,
)
from yuqing.workcal.models import HolidaySchedule, HolidayScheduleDay

__all__ = [
    "CalendarError",
    "ImportResult",
    "ParsedSchedule",
    "YearCoverage",
    "delete_year",
    "import_holidays",
    "list_years",
    "load_calendar",
    "parse_holiday_file",
]

# A single holiday longer than this is almost surely a typo in a date (the longest so far is 9 days).
MAX_HOLIDAY_DAYS = 15
_TOP_KEYS = {"year", "source", "holidays", "workdays"}
_HOLIDAY_KEYS = {"name", "start", "end"}
_WORKDAY_KEYS = {"date", "name"}


@dataclass(frozen=True)
class ParsedSchedule:
    """A validated holiday file: the year and its listed days."""

    year: int
    source: str
    days: Mapping[dt.date, DayOverride]

    @property
    def holidays(self) -> int:
        return sum(not d.is_workday for d in self.days.values())

    @property
    def workdays(self) -> int:
        return sum(d.is_workday for d in self.days.values())


@dataclass(frozen=True)
class YearCoverage:
    """Which holiday schedule a year uses: one entered by an administrator, or chinese-calendar's."""

    year: int
    source: Literal["entered", "chinese_calendar"]
    holidays: int
    workdays: int
    entered_at: dt.datetime | None = None
    entered_by: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "source": self.source,
            "holidays": self.holidays,
            "workdays": self.workdays,
            "entered_at": self.entered_at.isoformat() if self.entered_at else None,
            "entered_by": self.entered_by,
            "note": self.note,
        }


@dataclass(frozen=True)
class ImportResult:
    year: int
    holidays: int
    workdays: int
    replaced: YearCoverage | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "holidays": self.holidays,
            "workdays": self.workdays,
            "replaced": self.replaced.as_dict() if self.replaced else None,
        }


def load_calendar(rt: Runtime) -> WorkCalendar:
    """The calendar in force: working hours from settings, entered schedules from the database.

    Load it once per batch of computations: it reads the database and caches per-day intervals."""
    with rt.sessions() as session:
        years = list(session.scalars(select(HolidaySchedule.year)))
        overrides = {
            row.day: DayOverride(row.is_workday, row.name)
            for row in session.scalars(select(HolidayScheduleDay))
        }
    return WorkCalendar(rt.settings.working_hours, overrides, years)


def import_holidays(
    rt: Runtime, source: str | Path | bytes, *, entered_by: str = "", file_format: str | None = None
) -> ImportResult:
    """Validate a holiday file (a path, or its bytes) and store it, replacing any schedule already
    entered for that year, in one transaction."""
    if isinstance(source, bytes):
        data, label = source, "节假日文件"
    else:
        path = Path(source)
        label = f"节假日文件 {path}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CalendarError(f"无法读取{label}：{exc.strerror or exc}") from exc
        if file_format is None and path.suffix.lower() in {".toml", ".json"}:
            file_format = path.suffix.lower()[1:]
    schedule = parse_holiday_file(data, label=label, file_format=file_format)
    with transaction(rt.sessions) as session:
        existing = session.get(HolidaySchedule, schedule.year)
        old_days = session.scalars(
            select(HolidayScheduleDay).where(HolidayScheduleDay.year == schedule.year)
        ).all()
        replaced = _entered_coverage(existing, old_days) if existing else None
        session.execute(delete(HolidayScheduleDay).where(HolidayScheduleDay.year == schedule.year))
        if existing is None:
            existing = HolidaySchedule(year=schedule.year)
            session.add(existing)
        existing.entered_at = rt.clock()
        existing.entered_by = entered_by.strip() or "未署名"
        existing.source = schedule.source
        session.flush()
        session.add_all(
            HolidayScheduleDay(day=day, year=schedule.year, is_workday=o.is_workday, name=o.name)
            for day, o in schedule.days.items()
        )
    return ImportResult(schedule.year, schedule.holidays, schedule.workdays, replaced)


def list_years(rt: Runtime) -> list[YearCoverage]:
    """Every year with a known schedule and where it comes from, in order of year."""
    coverage: dict[int, YearCoverage] = {}
    for year in CHINESE_CALENDAR_YEARS:
        days = chinese_calendar_days(year)
        holidays = sum(not d.is_workday for d in days.values())
        coverage[year] = YearCoverage(year, "chinese_calendar", holidays, len(days) - holidays)
    with rt.sessions() as session:
        rows = session.scalars(select(HolidayScheduleDay)).all()
        for schedule in session.scalars(select(HolidaySchedule)):
            coverage[schedule.year] = _entered_coverage(
                schedule, [r for r in rows if r.year == schedule.year]
            )
    return [coverage[y] for y in sorted(coverage)]


def delete_year(rt: Runtime, year: int) -> YearCoverage:
    """Remove an entered schedule; the year falls back to chinese-calendar or to Monday–Friday."""
    with transaction(rt.sessions) as session:
        schedule = session.get(HolidaySchedule, year)
        if schedule is None:
            bundled = "（该年使用内置的 chinese-calendar 数据）" if year in CHINESE_CALENDAR_YEARS else ""
            raise CalendarError(f"{year} 年没有录入的节假日安排，无需删除{bundled}")
        rows = session.scalars(select(HolidayScheduleDay).where(HolidayScheduleDay.year == year)).all()
        removed = _entered_coverage(schedule, rows)
        session.execute(delete(HolidayScheduleDay).where(HolidayScheduleDay.year == year))
        session.delete(schedule)
    return removed


def _entered_coverage(schedule: HolidaySchedule, rows: Sequence[HolidayScheduleDay]) -> YearCoverage:
    holidays = sum(not r.is_workday for r in rows)
    return YearCoverage(
        schedule.year,
        "entered",
        holidays,
        len(rows) - holidays,
        entered_at=schedule.entered_at,
        entered_by=schedule.entered_by,
        note=schedule.source,
    )


# ----- the holiday file ---------------------------------------------------------------------------


def parse_holiday_file(
    data: bytes, *, label: str = "节假日文件", file_format: str | None = None
) -> ParsedSchedule:
    """Read and validate a holiday file; errors name the bad entry (``holidays 第 2 项（春节）…``)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalendarError(f"{label} 不是 UTF-8 编码") from exc
    if file_format is None:
        file_format = "json" if text.lstrip().startswith("{") else "toml"
    document: Any
    try:
        if file_format == "json":
            document = json.loads(text)
        elif file_format == "toml":
            document = tomllib.loads(text)
        else:
            raise CalendarError(f"不支持的文件格式 {file_format!r}：应为 toml 或 json")
    except json.JSONDecodeError as exc:
        raise CalendarError(
            f"{label} 不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列，{exc.msg}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{label} 不是有效的 TOML：{toml_error(exc)}") from exc
    if not isinstance(document, dict):
        raise CalendarError(f"{label} 的顶层应为一个对象（year、holidays、workdays）")
    return _validate(document, label)


def _validate(document: dict[str, Any], label: str) -> ParsedSchedule:
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise CalendarError(
            f"{label} 含有未知字段 {'、'.join(unknown)}；可用的字段：year、source、holidays、workdays"
        )
    year = document.get("year")
    if isinstance(year, str) and year.strip().isdigit():
        year = int(year)
    if not isinstance(year, int) or isinstance(year, bool):
        raise CalendarError(f"{label} 缺少 year（年份），例如 year = 2027")
    if not 2000 <= year <= 2200:
        raise CalendarError(f"{label} 的 year = {year} 不是合理的年份")
    source = document.get("source", "")
    if not isinstance(source, str):
        raise CalendarError(f"{label} 的 source 应为文字（例如通知的标题和文号）")

    holidays = document.get("holidays")
    if not isinstance(holidays, list) or not holidays:
        raise CalendarError(f"{label} 没有 holidays（放假安排）；每项写 name、start、end")
    days: dict[dt.date, DayOverride] = {}
    where_of: dict[dt.date, str] = {}

    def claim(day: dt.date, override: DayOverride, where: str) -> None:
        if day in days:
            both = days[day].is_workday != override.is_workday
            problem = "既是放假日又是调休上班日" if both else "重复出现"
            raise CalendarError(f"{label}：{day.isoformat()} {problem}：见 {where_of[day]}和 {where}")
        days[day] = override
        where_of[day] = where

    for index, entry in enumerate(holidays, start=1):
        where = f"holidays 第 {index} 项"
        if not isinstance(entry, dict):
            raise CalendarError(f"{label}：{where}应为含 name、start、end 的表")
        name = entry.get("name")
        if isinstance(name, str) and name.strip():
            where = f"{where}（{name.strip()}）"
        _no_unknown_keys(entry, _HOLIDAY_KEYS, label, where)
        if not isinstance(name, str) or not name.strip():
            raise CalendarError(f"{label}：{where}缺少 name（节日名称，例如 春节）")
        if "start" not in entry:
            raise CalendarError(f"{label}：{where}缺少 start（放假第一天，YYYY-MM-DD）")
        start = _date(entry["start"], year, label, f"{where}的 start")
        end = _date(entry.get("end", entry["start"]), year, label, f"{where}的 end")
        if end < start:
            raise CalendarError(f"{label}：{where}的 end {end.isoformat()} 早于 start {start.isoformat()}")
        length = (end - start).days + 1
        if length > MAX_HOLIDAY_DAYS:
            raise CalendarError(
                f"{label}：{where}从 {start.isoformat()} 到 {end.isoformat()} 共 {length} 天，"
                f"超过 {MAX_HOLIDAY_DAYS} 天，请检查日期"
            )
        for offset in range(length):
            claim(start + dt.timedelta(days=offset), DayOverride(False, name.strip()), where)

    workdays = document.get("workdays", [])
    if not isinstance(workdays, list):
        raise CalendarError(f'{label}：workdays 应为日期列表，例如 workdays = ["{year}-02-14"]')
    for index, entry in enumerate(workdays, start=1):
        where = f"workdays 第 {index} 项"
        name = ""
        value: Any = entry
        if isinstance(entry, dict):
            _no_unknown_keys(entry, _WORKDAY_KEYS, label, where)
            if "date" not in entry:
                raise CalendarError(f"{label}：{where}缺少 date（调休上班的日期，YYYY-MM-DD）")
            value = entry["date"]
            raw_name = entry.get("name", "")
            if not isinstance(raw_name, str):
                raise CalendarError(f"{label}：{where}的 name 应为文字")
            name = raw_name.strip()
        day = _date(value, year, label, where)
        claim(day, DayOverride(True, name), f"{where}（{day.isoformat()}）")
    return ParsedSchedule(year, source.strip(), dict(sorted(days.items())))


def _no_unknown_keys(entry: dict[str, Any], allowed: set[str], label: str, where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if "workdays" in unknown:
        # TOML puts every key after a [[holidays]] header into that holiday's table.
        raise CalendarError(
            f"{label}：{where}里出现了 workdays；在 TOML 中请把 workdays = [...] 写在第一个 [[holidays]] "
            "之前，或改用 [[workdays]] 表"
        )
    if unknown:
        raise CalendarError(
            f"{label}：{where}含有未知字段 {'、'.join(unknown)}；可用的字段：{'、'.join(sorted(allowed))}"
        )


def _date(value: Any, year: int, label: str, where: str) -> dt.date:
    day: dt.date | None = None
    if isinstance(value, dt.datetime):
        day = None
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            day = None
    if day is None:
        raise CalendarError(f"{label}：{where}（{value!r}）不是有效日期，应为 YYYY-MM-DD")
    if day.year != year:
        raise CalendarError(f"{label}：{where}（{day.isoformat()}）不在 {year} 年内")
    return day
