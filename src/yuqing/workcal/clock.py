"""The working-day clock every deadline of the emergency plan runs on (pure: no database).

Rules (see docs/calendar.md):

* Time zone: Asia/Shanghai. Inputs may be in any zone but must be aware; results are aware
  datetimes in Asia/Shanghai (they compare correctly with the UTC values read from the database).
* Working days: an administrator-entered schedule for the year if there is one, else the official
  schedule bundled in ``chinese-calendar`` (2004–2026), else Monday–Friday. A computation that had
  to fall back to Monday–Friday reports the year in ``Due.uncovered_years`` (and in
  ``WorkCalendar.uncovered_years``) so the caller can show a warning.
* Working time: the configured periods (default 08:30–12:00, 14:00–17:30) of working days, closed
  at both ends. An amount of working time that ends exactly at the end of a period is due at that
  end (17:30), never the next morning: a due time is never in non-working time.
* Working days (``add_working_days``): the day the clock starts is not counted (期间开始之日不计算在内);
  the due time is the end of working hours of the n-th working day after it.
* Same working day (``end_of_working_day``): the end of working hours of the start's day if that is a
  working day and the start is before that end, else the end of the next working day.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_WORKING_HOURS = "08:30-12:00,14:00-17:30"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_DAY = dt.timedelta(days=1)
# A walk that finds no working time within ten years means the schedule is broken, not slow.
_MAX_DAYS_WALKED = 3660
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_WEEKDAYS = "一二三四五六日"

DayKind = Literal["workday", "weekend", "holiday", "makeup"]


class CalendarError(ValueError):
    """A calendar that cannot be built or used: bad working hours, a bad holiday file, no such year."""


def _load_chinese_calendar() -> tuple[dict[dt.date, str], dict[dt.date, str], range]:
    holiday_enum: Any = chinese_calendar.Holiday
    chinese = {h.value: str(h.chinese) for h in holiday_enum}
    raw_holidays = cast(Mapping[dt.date, str], chinese_calendar.holidays)
    raw_workdays = cast(Mapping[dt.date, str], chinese_calendar.workdays)
    holidays = {d: chinese.get(name, name) for d, name in raw_holidays.items()}
    workdays = {d: chinese.get(name, name) for d, name in raw_workdays.items()}
    years = range(min(holidays).year, max(holidays).year + 1)
    return holidays, workdays, years


_CC_HOLIDAYS, _CC_WORKDAYS, CHINESE_CALENDAR_YEARS = _load_chinese_calendar()
CHINESE_CALENDAR_VERSION: str = str(chinese_calendar.__version__)


@dataclass(frozen=True)
class WorkingPeriod:
    """One period of working hours within a day, in Asia/Shanghai wall-clock time."""

    start: dt.time
    end: dt.time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class DayOverride:
    """A listed day of a holiday schedule: a holiday, or a make-up working day (调休上班)."""

    is_workday: bool
    name: str = ""


def chinese_calendar_days(year: int) -> dict[dt.date, DayOverride]:
    """The holidays and make-up working days chinese-calendar bundles for ``year`` (empty if none)."""
    days = {d: DayOverride(False, name) for d, name in _CC_HOLIDAYS.items() if d.year == year}
    days.update({d: DayOverride(True, name) for d, name in _CC_WORKDAYS.items() if d.year == year})
    return dict(sorted(days.items()))


@dataclass(frozen=True)
class Due:
    """A computed due time, with the years whose holidays were unknown when computing it."""

    at: dt.datetime
    uncovered_years: tuple[int, ...] = ()

    @property
    def warning(self) -> str | None:
        return uncovered_warning(self.uncovered_years) if self.uncovered_years else None


@dataclass(frozen=True)
class DayInfo:
    """How the calendar treats one date, for display."""

    day: dt.date
    is_workday: bool
    kind: DayKind
    name: str
    source: Literal["entered", "chinese_calendar", "weekends"]

    @property
    def label(self) -> str:
        kind = {"workday": "工作日", "weekend": "周末", "holiday": "放假", "makeup": "调休上班"}[self.kind]
        name = f"（{self.name}）" if self.name else ""
        return f"{self.day.isoformat()} 周{_WEEKDAYS[self.day.weekday()]} {kind}{name}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "workday": self.is_workday,
            "kind": self.kind,
            "name": self.name,
            "source": self.source,
        }


def uncovered_warning(years: Iterable[int]) -> str:
    """The warning shown wherever a due time was computed without a year's holiday schedule."""
    listed = "、".join(str(y) for y in sorted(set(years)))
    return (
        f"警告：{listed} 年的节假日安排尚未录入，按周末双休计算；"
        "请用 yuqing calendar holidays import 录入国务院公布的安排"
    )


def parse_working_hours(text: str) -> tuple[WorkingPeriod, ...]:
    """Parse `HH:MM-HH:MM,HH:MM-HH:MM`: periods in order of time, each non-empty, none overlapping."""
    hint = "应为按时间先后排列、互不重叠的 HH:MM-HH:MM 时段，用逗号分隔，例如 08:30-12:00,14:00-17:30"
    parts = [p for p in text.replace("，", ",").split(",") if p.strip()]
    if not parts:
        raise CalendarError(f"working_hours 设置有误：{text!r} 中没有时段；{hint}")
    periods: list[WorkingPeriod] = []
    for part in parts:
        match = _PERIOD.match(part)
        if match is None:
            raise CalendarError(f"working_hours 设置有误：无法识别时段 {part.strip()!r}；{hint}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise CalendarError(f"working_hours 设置有误：时段 {part.strip()!r} 的时间无效；{hint}")
        period = WorkingPeriod(dt.time(h1, m1), dt.time(h2, m2))
        if period.end <= period.start:
            raise CalendarError(f"working_hours 设置有误：时段 {period} 的结束时间不晚于开始时间；{hint}")
        if periods and period.start < periods[-1].end:
            raise CalendarError(
                f"working_hours 设置有误：时段 {period} 早于或重叠前一时段 {periods[-1]}；{hint}"
            )
        periods.append(period)
    return tuple(periods)


def _micros(value: dt.datetime, what: str = "时间") -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} 没有时区（需要带时区的时间，例如 +08:00）")
    return _delta_micros(value - _EPOCH)


def _delta_micros(delta: dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(us: int) -> dt.datetime:
    return (_EPOCH + dt.timedelta(microseconds=us)).astimezone(SHANGHAI)


def _local_day(value: dt.datetime) -> dt.date:
    return value.astimezone(SHANGHAI).date()


class WorkCalendar:
    """Working days and working hours; computes due times. Cheap to query: per-day intervals are cached.

    ``overrides`` are the administrator-entered days; ``entered_years`` the years they cover. An entered
    year replaces chinese-calendar for that whole year (its days not listed follow Monday–Friday).
    """

    def __init__(
        self,
        working_hours: str | Sequence[WorkingPeriod] = DEFAULT_WORKING_HOURS,
        overrides: Mapping[dt.date, DayOverride] | None = None,
        entered_years: Iterable[int] = (),
    ) -> None:
        if not isinstance(working_hours, str):
            working_hours = ",".join(str(p) for p in working_hours)
        self.periods: tuple[WorkingPeriod, ...] = parse_working_hours(working_hours)
        self.overrides: Mapping[dt.date, DayOverride] = dict(overrides or {})
        self.entered_years: frozenset[int] = frozenset(entered_years) | {d.year for d in self.overrides}
        self._days: dict[dt.date, tuple[tuple[int, int], ...]] = {}
        self._touched: set[int] = set()

    def __repr__(self) -> str:
        hours = ",".join(str(p) for p in self.periods)
        return f"WorkCalendar({hours!r}, entered_years={sorted(self.entered_years)})"

    # ----- coverage -------------------------------------------------------------------------------

    @property
    def covered_years(self) -> frozenset[int]:
        """Years whose holiday schedule is known (chinese-calendar years and entered years)."""
        return frozenset(CHINESE_CALENDAR_YEARS) | self.entered_years

    def is_covered(self, year: int) -> bool:
        return year in self.entered_years or year in CHINESE_CALENDAR_YEARS

    @property
    def uncovered_years(self) -> tuple[int, ...]:
        """Every uncovered year any computation on this calendar has touched so far."""
        return tuple(sorted(self._touched))

    def _uncovered_between(self, first: dt.date, last: dt.date) -> tuple[int, ...]:
        years = tuple(y for y in range(first.year, last.year + 1) if not self.is_covered(y))
        self._touched.update(years)
        return years

    # ----- days -----------------------------------------------------------------------------------

    def describe(self, day: dt.date) -> DayInfo:
        """How the calendar treats ``day`` (does not record warnings)."""
        weekend = day.weekday() >= 5
        if day.year in self.entered_years:
            entered = self.overrides.get(day)
            if entered is not None:
                kind: DayKind = "holiday"
                if entered.is_workday:
                    kind = "makeup" if weekend else "workday"
                return DayInfo(day, entered.is_workday, kind, entered.name, "entered")
            return DayInfo(day, not weekend, "weekend" if weekend else "workday", "", "entered")
        if day.year in CHINESE_CALENDAR_YEARS:
            if day in _CC_WORKDAYS:
                return DayInfo(day, True, "makeup", _CC_WORKDAYS[day], "chinese_calendar")
            if day in _CC_HOLIDAYS:
                return DayInfo(day, False, "holiday", _CC_HOLIDAYS[day], "chinese_calendar")
            return DayInfo(day, not weekend, "weekend" if weekend else "workday", "", "chinese_calendar")
        return DayInfo(day, not weekend, "weekend" if weekend else "workday", "", "weekends")

    def days(self, year: int, month: int | None = None) -> list[DayInfo]:
        """Every day of a year (or of one month of it), as the calendar treats it."""
        first = dt.date(year, month or 1, 1)
        whole_year = month is None or month == 12
        last = dt.date(year + 1, 1, 1) if whole_year else dt.date(year, (month or 0) + 1, 1)
        return [self.describe(first + dt.timedelta(days=i)) for i in range((last - first).days)]

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (records the year if its schedule is unknown)."""
        self._uncovered_between(day, day)
        return bool(self._intervals(day))

    def _intervals(self, day: dt.date) -> tuple[tuple[int, int], ...]:
        """The working intervals of a day as (start, end) microseconds since the epoch; cached."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        if self.describe(day).is_workday:
            intervals = tuple(
                (
                    _micros(dt.datetime.combine(day, p.start, SHANGHAI)),
                    _micros(dt.datetime.combine(day, p.end, SHANGHAI)),
                )
                for p in self.periods
            )
        else:
            intervals = ()
        self._days[day] = intervals
        return intervals

    def _day_end(self, day: dt.date) -> int:
        return self._intervals(day)[-1][1]

    def _next_workday(self, day: dt.date) -> dt.date:
        for _ in range(_MAX_DAYS_WALKED):
            day += _ONE_DAY
            if self._intervals(day):
                return day
        raise CalendarError(f"{day.isoformat()} 之前十年内没有工作日，请检查节假日安排")

    def is_working_time(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` lies inside working hours of a working day (period ends included)."""
        us = _micros(moment)
        day = _local_day(moment)
        self._uncovered_between(day, day)
        return any(s <= us <= e for s, e in self._intervals(day))

    # ----- due times ------------------------------------------------------------------------------

    def add_working_time(self, start: dt.datetime, amount: dt.timedelta) -> Due:
        """``amount`` of working time after ``start``; from non-working time, counting begins at the
        next working moment. Ends exactly at a period's end → due at that end."""
        if amount < dt.timedelta(0):
            raise ValueError(f"工作时长不能为负数：{amount}")
        t = _micros(start, "开始时间")
        remaining = _delta_micros(amount)
        first = day = _local_day(start)
        for _ in range(_MAX_DAYS_WALKED):
            for s, e in self._intervals(day):
                if e < t:
                    continue
                cur = s if s > t else t
                available = e - cur
                if remaining <= available:
                    return Due(_from_micros(cur + remaining), self._uncovered_between(first, day))
                remaining -= available
            day += _ONE_DAY
        raise CalendarError(f"{first.isoformat()} 之后十年内工作时间不足 {amount}，请检查节假日安排")

    def add_working_days(self, start: dt.datetime, days: int) -> Due:
        """End of working hours of the ``days``-th working day after the day of ``start`` (that day is
        not counted, whatever the time)."""
        if days < 1:
            raise ValueError(f"工作日数应为正整数：{days}")
        _micros(start, "开始时间")
        first = day = _local_day(start)
        for _ in range(days):
            day = self._next_workday(day)
        return Due(_from_micros(self._day_end(day)), self._uncovered_between(first + _ONE_DAY, day))

    def add_hours(self, start: dt.datetime, hours: float) -> Due:
        """Plain calendar hours (特别重大 1 h…): holidays and nights count. Never uncovered."""
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"小时数应为非负数：{hours}")
        t = _micros(start, "开始时间")
        return Due(_from_micros(t + round(hours * 3_600_000_000)))

    def end_of_working_day(self, start: dt.datetime) -> Due:
        """Same working day: the end of working hours of the start's day if it is a working day and
        ``start`` is before that end, else the end of the next working day."""
        t = _micros(start, "开始时间")
        first = day = _local_day(start)
        intervals = self._intervals(day)
        if not intervals or t >= intervals[-1][1]:
            day = self._next_workday(day)
        return Due(_from_micros(self._day_end(day)), self._uncovered_between(first, day))

    # ----- measuring ------------------------------------------------------------------------------

    def working_time_between(self, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        ta, tb = _micros(a), _micros(b)
        if tb < ta:
            return -self.working_time_between(b, a)
        first = day = _local_day(a)
        last = _local_day(b)
        total = 0
        while day <= last:
            for s, e in self._intervals(day):
                overlap = (e if e < tb else tb) - (s if s > ta else ta)
                if overlap > 0:
                    total += overlap
            day += _ONE_DAY
        self._uncovered_between(first, last)
        return dt.timedelta(microseconds=total)

    def working_days_between(self, a: dt.datetime, b: dt.datetime) -> int:
        """Working days after the day of ``a`` up to and including the day of ``b`` (negative when
        ``b`` is before ``a``): the inverse of ``add_working_days``."""
        _micros(a)
        _micros(b)
        first, last = _local_day(a), _local_day(b)
        if last < first:
            return -self.working_days_between(b, a)
        count = 0
        day = first
        while day < last:
            day += _ONE_DAY
            if self._intervals(day):
                count += 1
        if last > first:
            self._uncovered_between(first + _ONE_DAY, last)
        return count
