"""Tables of the organisation domain (units, people, roles, contact channels, the duty roster), the
enums their columns hold, and the domain's errors."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime

# Alert grades from the least to the most serious (PRODUCT.md §2.2).
GRADE_CODES: tuple[str, ...] = ("IV", "III", "II", "I")


class OrgError(ValueError):
    """Base of the organisation domain's errors; messages are shown to users as they are."""


class NotFound(OrgError, LookupError):
    """A unit, person, contact or roster entry that does not exist."""


class PermissionDenied(OrgError):
    """The person may not do this: a role is missing at the unit concerned, or the thing belongs to a
    unit outside what the person may see (`yuqing.org.scope`). The message says which, in Chinese.
    Every domain raises this one class (the cases domain re-exports it), so the console and the API
    answer 403 to all of them alike."""


class UnitKind(enum.StrEnum):
    GOVERNMENT = "government"
    BUREAU = "bureau"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    COMPANY = "company"
    DEPARTMENT = "department"

    @property
    def label(self) -> str:
        return UNIT_KIND_LABELS[self]


UNIT_KIND_LABELS: dict[UnitKind, str] = {
    UnitKind.GOVERNMENT: "政府",
    UnitKind.BUREAU: "委办局",
    UnitKind.SCHOOL: "学校",
    UnitKind.HOSPITAL: "医院",
    UnitKind.COMPANY: "企业",
    UnitKind.DEPARTMENT: "部门",
}


class ContactKind(enum.StrEnum):
    EMAIL = "email"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    FEISHU = "feishu"
    SMS = "sms"
    PHONE = "phone"
    IN_APP = "in_app"

    @property
    def label(self) -> str:
        return CONTACT_KIND_LABELS[self]


CONTACT_KIND_LABELS: dict[ContactKind, str] = {
    ContactKind.EMAIL: "邮箱",
    ContactKind.DINGTALK: "钉钉",
    ContactKind.WECOM: "企业微信",
    ContactKind.FEISHU: "飞书",
    ContactKind.SMS: "短信",
    ContactKind.PHONE: "电话",
    ContactKind.IN_APP: "站内消息",
}


class ShiftLength(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"

    @property
    def days(self) -> int:
        return 7 if self is ShiftLength.WEEKLY else 1

    @property
    def label(self) -> str:
        return "每周轮换" if self is ShiftLength.WEEKLY else "每日轮换"


class DutyHours(enum.StrEnum):
    WORKING = "working"  # on duty only in working hours (unless 24-hour duty is on)
    ALL_DAY = "all_day"  # on duty for the whole shift

    @property
    def label(self) -> str:
        return "全天" if self is DutyHours.ALL_DAY else "工作时间"


class Unit(Base):
    """A unit (单位) in the tree: a government, a bureau, a school, a hospital, a company, a department."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=UnitKind.DEPARTMENT.value)
    # Place names the unit answers for ("南京市", "鼓楼区"): events there are its business.
    regions: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # The least serious grade the unit is alerted for; "IV" means every graded event.
    alert_threshold: Mapped[str] = mapped_column(String(4), default="IV")


class Person(Base):
    """A person of a unit. Leavers are made inactive, never deleted, so history keeps their name."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    login: Mapped[str | None] = mapped_column(String(100), unique=True)


class RoleAssignment(Base):
    """A role a person holds at a unit (which may differ from the unit the person belongs to)."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("person_id", "role", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)


class ContactChannel(Base):
    """How to reach a person: an email address, a robot webhook, a phone number; lowest priority first."""

    __tablename__ = "contact_channels"
    __table_args__ = (UniqueConstraint("person_id", "kind", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(500))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class DutyRotation(Base):
    """People taking turns on duty for a unit: shift n (from start_date at the handover time, local
    Shanghai time) belongs to member n mod len(members). end_date (exclusive) is set when the rotation
    of the same name is replaced, so the roster of the past stays as it was."""

    __tablename__ = "duty_rotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="值班")
    shift: Mapped[str] = mapped_column(String(10), default=ShiftLength.DAILY.value)
    hours: Mapped[str] = mapped_column(String(10), default=DutyHours.WORKING.value)
    handover: Mapped[dt.time] = mapped_column(Time)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class DutyRotationMember(Base):
    __tablename__ = "duty_rotation_members"

    rotation_id: Mapped[int] = mapped_column(ForeignKey("duty_rotations.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)


class DutySwap(Base):
    """Two people exchanging two shifts of one rotation; carried out by two overrides that point here."""

    __tablename__ = "duty_swaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    rotation_id: Mapped[int] = mapped_column(ForeignKey("duty_rotations.id"))
    person_a_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    shift_a_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    person_b_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    shift_b_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DutyOverride(Base):
    """A person on duty for a unit over an explicit time range, replacing the rotations there (or, with
    rotation_id, only that rotation: how a swap leaves a parallel rotation alone)."""

    __tablename__ = "duty_overrides"
    __table_args__ = (Index("ix_duty_overrides_unit_starts", "unit_id", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    hours: Mapped[str] = mapped_column(String(10), default=DutyHours.ALL_DAY.value)
    rotation_id: Mapped[int | None] = mapped_column(ForeignKey("duty_rotations.id"))
    swap_id: Mapped[int | None] = mapped_column(ForeignKey("duty_swaps.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)


class Duty24hPeriod(Base):
    """A period of 24-hour duty (24小时值班) at a unit, e.g. while a 重大 case is open. The unit is on
    24-hour duty while any of its periods is open; `key` lets a caller (a case) end only its own."""

    __tablename__ = "duty_24h_periods"
    __table_args__ = (Index("ix_duty_24h_periods_unit_started", "unit_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    key: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)
