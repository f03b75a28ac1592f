"""Tables of the cases domain: cases, their timeline, tasks, deadlines, statements, approvals,
replies waiting to be settled."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime, utcnow


class Stage(enum.StrEnum):
    """PRODUCT.md §2.1, in order."""

    DETECTED = "detected"
    REPORTED = "reported"
    ASSESSED = "assessed"
    DISPOSING = "disposing"
    FOLLOWING = "following"
    SUMMARISED = "summarised"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]


STAGE_LABELS: dict[str, str] = {
    "detected": "发现",
    "reported": "报告",
    "assessed": "研判",
    "disposing": "处置",
    "following": "跟踪",
    "summarised": "总结",
    "closed": "结案",
}


class DeadlineState(enum.StrEnum):
    PENDING = "pending"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"  # past due and not yet done
    MET = "met"  # done in time
    MISSED = "missed"  # done late
    CANCELLED = "cancelled"  # no longer applies (replaced by a tighter clock, case closed)

    @property
    def label(self) -> str:
        return {
            "pending": "未到期",
            "due_soon": "即将到期",
            "overdue": "已超时",
            "met": "按时完成",
            "missed": "超时完成",
            "cancelled": "已取消",
        }[self.value]


OPEN_DEADLINE_STATES = (
    DeadlineState.PENDING.value,
    DeadlineState.DUE_SOON.value,
    DeadlineState.OVERDUE.value,
)


class Case(Base):
    """The office's handling of one event (or of one post, when opened by hand)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20), default=Stage.DETECTED.value, index=True)
    grade_code: Mapped[str] = mapped_column(String(4))
    grade: Mapped[str] = mapped_column(String(10))
    category: Mapped[str | None] = mapped_column(String(40))
    # When the event was detected (the alert's time) and when its first post became known:
    # the clocks of PRODUCT.md §2.3 start there, not when someone opened the case.
    detected_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    known_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    stage_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    summary: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # closed as withdrawn (撤销: a false alarm, nothing to respond to), with its reason in `summary`
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    # Follow-up: the event's size when it entered 跟踪, and whether closing was proposed.
    followed_posts: Mapped[int] = mapped_column(Integer, default=0)
    calm_proposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    is_drill: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseAction(Base):
    """The timeline: every action on a case — who, when, what, from where."""

    __tablename__ = "case_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor: Mapped[str] = mapped_column(String(200))  # the person's name, or 系统
    action: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)  # one readable Chinese line
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    via: Mapped[str] = mapped_column(String(20), default="system")  # cli | web | api | system


class Deadline(Base):
    """A clock of the plan, stored as a due time and swept idempotently."""

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("case_tasks.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    owner_role: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(40))  # the duration as written: "2h", "3wh", "5wd"
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    original_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default=DeadlineState.PENDING.value)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Years the clock computed into without an entered holiday schedule (weekends only).
    calendar_warning: Mapped[str | None] = mapped_column(Text)
    is_drill: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseTask(Base):
    """Work assigned to a department, with its own due time."""

    __tablename__ = "case_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)


class Statement(Base):
    """A statement draft: facts, causes and progress kept apart (快报事实，慎报原因，重报进展)."""

    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    facts: Mapped[str] = mapped_column(Text)
    causes: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[str | None] = mapped_column(Text)
    drafted_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    drafted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The roles whose approval the case's grade required when the draft was written.
    required_roles: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | approved | rejected | released
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str | None] = mapped_column(String(40))


class Approval(Base):
    """One decision on a statement by a person acting in a role."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    decision: Mapped[str] = mapped_column(String(10))  # approved | rejected
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reply(Base):
    """A formal reply to the people who posted (答复意见) drafted by someone who may not settle it:
    it is given only once a leader of the case's unit has settled it (经本单位负责人审定后答复,
    seeds 000 and 003; the profile's `reply_approvers`). Replies given at once (初步回应, or a
    formal reply written by such a leader) are on the timeline only."""

    __tablename__ = "case_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    drafted_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    drafted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending | approved | rejected | superseded (a newer draft came before a decision)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(Text)


class CaseEvidence(Base):
    """A post attached to a case as evidence (its raw bytes and hash are in the ingest store)."""

    __tablename__ = "case_evidence"
    __table_args__ = (UniqueConstraint("case_id", "post_id", name="uq_case_evidence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    note: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
