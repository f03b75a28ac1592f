"""Tables of the reports domain: every generated report, archived with its file."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime, utcnow


class Report(Base):
    """One generated report: what it covers, who made it, and the file as it was handed out."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(
        String(20), index=True
    )  # special | daily | weekly | response_table | summary | drill
    title: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # The event (special), case (summary) or drill the report is about.
    subject_id: Mapped[int | None] = mapped_column(Integer)
    period_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    params: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    number: Mapped[str | None] = mapped_column(String(40))  # 2026年第3期
    format: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    # What the report says, as text: the archive's preview and search.
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    via: Mapped[str] = mapped_column(String(20), default="cli")  # cli | web | api | schedule
    # A scheduled report's occasion ("daily:unit:3:2026-11-20"): generated and sent once.
    schedule_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    is_drill: Mapped[bool] = mapped_column(Boolean, default=False)
