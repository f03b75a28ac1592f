"""Tables of the alerts domain."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime, utcnow


class AlertStatus(enum.StrEnum):
    OPEN = "open"  # waiting for acknowledgement; escalates
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"  # its case is closed, or dismissed


ALERT_DUTY_PREFIX = "alert:"


def alert_duty_key(alert_id: int) -> str:
    """The key of the 24-hour duty period a 重大+ alert starts (`org.duty.start_24h_duty`)."""
    return f"{ALERT_DUTY_PREFIX}{alert_id}"


class Alert(Base):
    """One alert per event and unit: repeats (an upgrade, a flare-up) are merged into it."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_next", "status", "next_escalation_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # "event:<id>:unit:<id>" while the alert is open or acknowledged; merged repeats find it.
    merge_key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # new | upgrade | flare_up (the latest)
    grade_code: Mapped[str] = mapped_column(String(4))
    grade: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.OPEN.value)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    # The escalation chain as it was when the alert started: editing the plan later does not
    # change a running escalation.
    chain: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    level: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    is_drill: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertAcknowledgement(Base):
    """One acknowledgement of an alert: who, when, the grade and escalation level it answered.
    An upgrade re-opens the alert; each acknowledgement stays on record (the alert itself holds
    only the latest)."""

    __tablename__ = "alert_acknowledgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    grade_code: Mapped[str] = mapped_column(String(4))
    grade: Mapped[str] = mapped_column(String(10))
    level: Mapped[int] = mapped_column(Integer, default=0)

    @classmethod
    def of(cls, alert: Alert, person_id: int, at: dt.datetime) -> AlertAcknowledgement:
        """The acknowledgement of `alert` as it stands (its grade and escalation level) now."""
        return cls(
            alert_id=alert.id,
            person_id=person_id,
            at=at,
            grade_code=alert.grade_code,
            grade=alert.grade,
            level=alert.level,
        )


class AlertRecipient(Base):
    """Who was told about an alert, at which escalation level, and when."""

    __tablename__ = "alert_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    level: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(100))  # "值班员" / "升级：分管领导" / …
    notified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
