"""Deadlines of a case on the working-day clock: started, retimed on upgrade, met, extended, swept.

A deadline is stored as its due time. The sweep only compares due times with the clock, in bulk
UPDATEs whose WHERE clause is the state they move from, so it is safe to run twice, from two
processes, and after a restart: a deadline moves pending → due_soon → overdue at most once each,
and is escalated at most once (`escalated_at`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yuqing.cases.models import OPEN_DEADLINE_STATES, Case, Deadline, DeadlineState
from yuqing.cases.plan import DeadlineKind, Duration, ResponsePlan, parse_duration
from yuqing.workcal.clock import Due, WorkCalendar

__all__ = [
    "DeadlineError",
    "SweepCounts",
    "complete",
    "compute_due",
    "extend",
    "relax_for_grade",
    "retime_for_grade",
    "start_case_clocks",
    "start_clock",
    "sweep",
]

# Who owns each clock: the role told first when it runs late.
OWNER_ROLES: dict[str, str] = {
    DeadlineKind.REPORT: "office",
    DeadlineKind.FIRST_RESPONSE: "office",
    DeadlineKind.RELEASE: "office",
    DeadlineKind.PRESS_CONFERENCE: "office",
    DeadlineKind.FORMAL_REPLY: "office",
    DeadlineKind.TASK: "liaison",
}


class DeadlineError(ValueError):
    """A deadline action the plan does not allow (a second extension, too long an extension)."""


def compute_due(calendar: WorkCalendar, start: dt.datetime, duration: Duration) -> Due:
    """The due time of `duration` after `start` in the plan's units."""
    if duration.unit == "m":
        return calendar.add_hours(start, duration.amount / 60)
    if duration.unit == "h":
        return calendar.add_hours(start, duration.amount)
    if duration.unit == "wh":
        return calendar.add_working_time(start, dt.timedelta(hours=duration.amount))
    if duration.unit == "wd":
        return calendar.add_working_days(start, max(1, round(duration.amount)))
    return calendar.end_of_working_day(start)


def _open(session: Session, case_id: int, kind: str) -> Deadline | None:
    return session.scalars(
        select(Deadline).where(
            Deadline.case_id == case_id,
            Deadline.kind == kind,
            Deadline.task_id.is_(None),
            Deadline.state.in_(OPEN_DEADLINE_STATES),
        )
    ).first()


def start_clock(
    session: Session,
    case: Case,
    kind: str,
    start: dt.datetime,
    duration: Duration,
    calendar: WorkCalendar,
    *,
    task_id: int | None = None,
    unit_id: int | None = None,
) -> Deadline:
    """Store a running clock. A clock of that kind already running for the case is kept."""
    if task_id is None and (existing := _open(session, case.id, kind)) is not None:
        return existing
    due = compute_due(calendar, start, duration)
    deadline = Deadline(
        case_id=case.id,
        kind=kind,
        task_id=task_id,
        unit_id=unit_id or case.unit_id,
        owner_role=OWNER_ROLES.get(kind, "office"),
        rule=_rule_text(duration),
        started_at=start,
        due_at=due.at,
        original_due_at=due.at,
        state=DeadlineState.PENDING.value,
        calendar_warning=due.warning,
        is_drill=case.is_drill,
    )
    session.add(deadline)
    session.flush()
    return deadline


def _rule_text(duration: Duration) -> str:
    return "swd" if duration.unit == "swd" else f"{duration.amount:g}{duration.unit}"


def start_case_clocks(
    session: Session, case: Case, plan: ResponsePlan, calendar: WorkCalendar
) -> list[Deadline]:
    """The clocks of PRODUCT.md §2.3 that start with a case: report and release from detection,
    first response from when the post became known, a press conference for 重大 and above."""
    started: list[Deadline] = []
    starts = {
        DeadlineKind.REPORT: case.detected_at,
        DeadlineKind.FIRST_RESPONSE: case.known_at,
        DeadlineKind.RELEASE: case.detected_at,
        DeadlineKind.PRESS_CONFERENCE: case.detected_at,
    }
    for kind, start in starts.items():
        duration = plan.duration(kind, case.grade_code)
        if duration is not None:
            started.append(start_clock(session, case, kind, start, duration, calendar))
    return started


# The clocks whose length depends on the grade.
GRADE_CLOCKS = (DeadlineKind.REPORT, DeadlineKind.RELEASE, DeadlineKind.PRESS_CONFERENCE)


def retime_for_grade(
    session: Session, case: Case, plan: ResponsePlan, calendar: WorkCalendar, now: dt.datetime | None = None
) -> tuple[list[tuple[Deadline, dt.datetime]], list[Deadline]]:
    """After an upgrade: every running clock whose rule for the new grade ends earlier is moved
    to that earlier time; clocks the new grade adds are started, or restored when a lowering had
    cancelled them (one row per clock, not a cancelled one beside a new one). A case reported
    already at its lower grade must be reported again at the new one (the 1- or 2-hour report of
    a 特别重大 or 重大 reaches the chief, not only the office above): a report clock starts at
    `now` (`reported_again` tells). Returns the moved clocks with their old due times, and the
    restored or started ones."""
    moved: list[tuple[Deadline, dt.datetime]] = []
    restored: list[Deadline] = []
    for kind in GRADE_CLOCKS:
        duration = plan.duration(kind, case.grade_code)
        if duration is None:
            continue
        existing = _open(session, case.id, kind)
        if existing is None:
            if kind == DeadlineKind.REPORT and case.stage != "detected":
                if now is not None:  # reported at the lower grade: report again at this one
                    restored.append(start_clock(session, case, kind, now, duration, calendar))
                continue
            cancelled = session.scalars(
                select(Deadline)
                .where(
                    Deadline.case_id == case.id,
                    Deadline.kind == kind,
                    Deadline.task_id.is_(None),
                    Deadline.state == DeadlineState.CANCELLED.value,
                    Deadline.done_at.is_(None),
                )
                .order_by(Deadline.id.desc())
            ).first()
            if cancelled is None:
                start_clock(session, case, kind, case.detected_at, duration, calendar)
                continue
            due = compute_due(calendar, cancelled.started_at, duration)
            cancelled.due_at, cancelled.rule, cancelled.calendar_warning = (
                due.at,
                _rule_text(duration),
                due.warning,
            )
            cancelled.state = DeadlineState.PENDING.value  # the sweep re-derives due soon / overdue
            cancelled.escalated_at = None
            restored.append(cancelled)
            continue
        due = compute_due(calendar, existing.started_at, duration)
        if due.at < existing.due_at:
            moved.append((existing, existing.due_at))
            existing.due_at = due.at
            existing.rule = _rule_text(duration)
            existing.calendar_warning = due.warning
            if (
                existing.state == DeadlineState.OVERDUE.value
                or existing.state == DeadlineState.DUE_SOON.value
            ):
                existing.state = DeadlineState.PENDING.value  # the sweep re-derives it
    return moved, restored


def relax_for_grade(
    session: Session, case: Case, plan: ResponsePlan, calendar: WorkCalendar, now: dt.datetime
) -> tuple[list[tuple[Deadline, dt.datetime]], list[Deadline]]:
    """After a person lowers the grade (a false 特别重大 corrected with a reason): every running
    clock whose rule for the new grade ends later is moved to that later time, and clocks the new
    grade does not have (the press conference of a 一般 case) are cancelled. An extended clock
    keeps its extension. A clock moved past `now` is escalated again if it runs late again.
    Returns the moved clocks with their old due times, and the cancelled ones."""
    moved: list[tuple[Deadline, dt.datetime]] = []
    cancelled: list[Deadline] = []
    for kind in GRADE_CLOCKS:
        existing = _open(session, case.id, kind)
        if existing is None or existing.extended:
            continue
        duration = plan.duration(kind, case.grade_code)
        if duration is None:
            existing.state = DeadlineState.CANCELLED.value
            cancelled.append(existing)
            continue
        due = compute_due(calendar, existing.started_at, duration)
        if due.at <= existing.due_at:
            continue
        moved.append((existing, existing.due_at))
        existing.due_at = due.at
        existing.rule = _rule_text(duration)
        existing.calendar_warning = due.warning
        if due.at > now:
            existing.state = DeadlineState.PENDING.value  # the sweep re-derives due soon
            existing.escalated_at = None
    return moved, cancelled


def complete(session: Session, case_id: int, kind: str, at: dt.datetime) -> list[Deadline]:
    """Mark the case's running clocks of `kind` done at `at`: met when in time, else missed."""
    done: list[Deadline] = []
    for deadline in session.scalars(
        select(Deadline).where(
            Deadline.case_id == case_id,
            Deadline.kind == kind,
            Deadline.state.in_(OPEN_DEADLINE_STATES),
        )
    ):
        deadline.done_at = at
        deadline.state = DeadlineState.MET.value if at <= deadline.due_at else DeadlineState.MISSED.value
        done.append(deadline)
    return done


def cancel_open(session: Session, case_id: int) -> list[Deadline]:
    """A closed case's clocks that were never done and are not yet due no longer run; they are
    returned so that the case can say which (an overdue one stays overdue on record)."""
    ended = list(
        session.scalars(
            select(Deadline).where(Deadline.case_id == case_id, Deadline.state.in_(OPEN_DEADLINE_STATES[:2]))
        )
    )
    for deadline in ended:
        deadline.state = DeadlineState.CANCELLED.value
    return ended


def extend(
    deadline: Deadline,
    reason: str,
    plan: ResponsePlan,
    calendar: WorkCalendar,
    *,
    days: int | None = None,
) -> dt.datetime:
    """Extend a clock once, with a written reason, to at most `max_extension` working days in all
    from its start (PRODUCT.md §2.3). Returns the new due time."""
    if not reason.strip():
        raise DeadlineError("延期须写明理由（--reason）")
    if deadline.extended:
        raise DeadlineError(f"该时限已于此前延期一次（理由：{deadline.extension_reason}），不能再次延期")
    if deadline.state not in OPEN_DEADLINE_STATES:
        raise DeadlineError(f"该时限已{DeadlineState(deadline.state).label}，不能延期")
    limit = round(plan.max_extension.amount)
    total = limit if days is None else days
    if total < 1 or total > limit:
        raise DeadlineError(f"延期后的总时限应在 1 到 {limit} 个工作日之间，实为 {total}")
    due = compute_due(calendar, deadline.started_at, Duration(float(total), "wd"))
    if due.at <= deadline.due_at:
        raise DeadlineError(f"延期后的时限（{total} 个工作日）不晚于现有时限，无需延期")
    deadline.due_at = due.at
    deadline.extended = True
    deadline.extension_reason = reason.strip()
    deadline.rule = f"{total}wd"
    deadline.calendar_warning = due.warning
    if deadline.state != DeadlineState.PENDING.value:
        deadline.state = DeadlineState.PENDING.value  # the sweep re-derives due soon / overdue
    deadline.escalated_at = None  # late again after the extension: told again
    return due.at


@dataclass
class SweepCounts:
    due_soon: int = 0
    overdue: int = 0
    escalated: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"due_soon": self.due_soon, "overdue": self.overdue, "escalated": self.escalated}


def sweep(
    session: Session, now: dt.datetime, due_soon_minutes: float
) -> tuple[SweepCounts, list[int], list[int]]:
    """Move clocks forward by their due times. Returns the counts, the ids of the deadlines that
    became overdue in this sweep and still need escalating (the caller notifies, then sets
    `escalated_at` in the same transaction), and the ids of those that became due soon in it
    (the caller reminds their owners)."""
    soon = now + dt.timedelta(minutes=due_soon_minutes)
    counts = SweepCounts()
    overdue = session.execute(
        update(Deadline)
        .where(
            Deadline.state.in_((DeadlineState.PENDING.value, DeadlineState.DUE_SOON.value)),
            Deadline.due_at <= now,
        )
        .values(state=DeadlineState.OVERDUE.value)
        .execution_options(synchronize_session=False)
    )
    counts.overdue = int(overdue.rowcount or 0)  # type: ignore[attr-defined]
    due_soon = list(
        session.scalars(
            update(Deadline)
            .where(Deadline.state == DeadlineState.PENDING.value, Deadline.due_at <= soon)
            .values(state=DeadlineState.DUE_SOON.value)
            .returning(Deadline.id)
            .execution_options(synchronize_session=False)
        )
    )
    counts.due_soon = len(due_soon)
    to_escalate = list(
        session.scalars(
            select(Deadline.id).where(
                Deadline.state == DeadlineState.OVERDUE.value, Deadline.escalated_at.is_(None)
            )
        )
    )
    return counts, to_escalate, due_soon


def parse_rule(text: str) -> Duration:
    return parse_duration(text, "deadline rule")
