"""The working-day clock: working days (China's official holidays and 调休), working hours, due times.

``clock`` is pure (no database); ``service`` builds the calendar from settings and the holiday
schedules an administrator entered, and keeps those schedules.
"""

from yuqing.workcal.clock import (
    SHANGHAI,
    CalendarError,
    DayInfo,
    DayOverride,
    Due,
    WorkCalendar,
    WorkingPeriod,
    parse_working_hours,
    uncovered_warning,
)

__all__ = [
    "SHANGHAI",
    "CalendarError",
    "DayInfo",
    "DayOverride",
    "Due",
    "WorkCalendar",
    "WorkingPeriod",
    "parse_working_hours",
    "uncovered_warning",
]
