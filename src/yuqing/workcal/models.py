"""Tables of the working-day calendar: holiday schedules entered by an administrator, one per year."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, UTCDateTime


class HolidaySchedule(Base):
    """A year's holiday schedule as published by the State Council and entered by an administrator.

    An entered year replaces chinese-calendar's data for that whole year."""

    __tablename__ = "holiday_schedules"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    entered_by: Mapped[str] = mapped_column(String(200))
    # Where the schedule comes from, e.g. the notice's title and number (国办发明电〔…〕…号).
    source: Mapped[str] = mapped_column(Text, default="")


class HolidayScheduleDay(Base):
    """One listed day of an entered schedule: a holiday (放假) or a make-up working day (调休上班)."""

    __tablename__ = "holiday_schedule_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("holiday_schedules.year"), index=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(100), default="")
