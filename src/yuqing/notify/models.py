"""Tables of the notify domain: the outbox of notifications and the log of delivery attempts."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime, utcnow
from yuqing.notify.messages import Message


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt (next_attempt_at, or at once when None)
    SENDING = "sending"  # claimed by a worker until lease_until
    SENT = "sent"  # accepted by the channel (for in-app: shown in the person's inbox)
    FAILED = "failed"  # given up: not retryable, attempts used up, or no such channel
    CANCELLED = "cancelled"  # withdrawn before it was sent (a reminder no longer needed)


S = NotificationStatus
# Which status may follow which. Every change of status in the outbox goes through this table.
TRANSITIONS: dict[NotificationStatus, frozenset[NotificationStatus]] = {
    S.PENDING: frozenset({S.SENDING, S.CANCELLED, S.FAILED}),
    # SENDING → SENDING: another worker takes over after the lease expired (a crash mid-send).
    S.SENDING: frozenset({S.SENT, S.PENDING, S.FAILED, S.SENDING}),
    S.SENT: frozenset(),
    S.FAILED: frozenset({S.PENDING}),  # requeued by an administrator
    S.CANCELLED: frozenset(),
}


def can_transition(old: str, new: str) -> bool:
    return NotificationStatus(new) in TRANSITIONS[NotificationStatus(old)]


class Notification(Base):
    """One message to one address over one channel; the row is the durable outbox entry."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_due", "status", "next_attempt_at"),
        Index("ix_notifications_subject", "subject_kind", "subject_id"),
        Index("ix_notifications_person", "person_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(50))
    # A webhook URL (it carries the robot's token), an e-mail address, or "" for in-app.
    address: Mapped[str] = mapped_column(Text)
    # The robot's signing secret, when the channel signs its requests.
    secret: Mapped[str | None] = mapped_column(Text)
    # Plain ids, no foreign keys: people and subjects live in other domains' tables.
    person_id: Mapped[int | None] = mapped_column(Integer)
    subject_kind: Mapped[str | None] = mapped_column(String(50))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    # Enqueueing a key twice is a no-op: nothing is sent twice.
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(10))
    # The channel-neutral message, and the channel's payload rendered from it at enqueue time
    # (None when the channel could not be loaded then; rendered at the first delivery instead).
    message: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(10), default=NotificationStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the next attempt is due; None: as soon as possible (whatever the worker's clock says).
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set by the worker that claimed the row; its results are written only while it still owns it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # The claiming process (`yuqing.process.process_identity`): a restart takes over at once what a
    # dead process left `sending`, rather than after its lease.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def subject(self) -> tuple[str, int] | None:
        if self.subject_kind is None or self.subject_id is None:
            return None
        return (self.subject_kind, self.subject_id)

    def content(self) -> Message:
        """The message as enqueued."""
        return Message.from_dict(self.message)


class NotificationAttempt(Base):
    """One try to deliver a notification: the delivery log."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    retryable: Mapped[bool | None] = mapped_column(Boolean)
    http_status: Mapped[int | None] = mapped_column(Integer)
    # The vendor's error code (errcode, code, SMTP reply code) when it gave one.
    error_code: Mapped[str | None] = mapped_column(String(50))
    detail: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
