"""Statistics for the reward-and-penalty review (奖惩, PRODUCT.md §2.7): per unit and person, the
on-time rate of each kind of deadline, the median time to report and to respond, and every
deadline that was missed."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from yuqing.cases.models import Case, CaseAction, Deadline, DeadlineState
from yuqing.cases.plan import DeadlineKind
from yuqing.org.models import Person, Unit
from yuqing.org.scope import EVERYTHING, Scope
from yuqing.runtime import Runtime

__all__ = ["statistics_report"]

_DONE = (DeadlineState.MET.value, DeadlineState.MISSED.value, DeadlineState.OVERDUE.value)


def _minutes(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds() / 60


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def statistics_report(
    rt: Runtime,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    include_drills: bool = False,
    scope: Scope = EVERYTHING,
) -> dict[str, Any]:
    """Figures over cases opened between `start` and `end` (local dates, inclusive). The figures
    cover every unit (an office compares itself with the others); the list of missed clocks names
    only the cases of units in `scope` — another unit's case is listed by its unit and clock alone."""
    tz = ZoneInfo(rt.settings.timezone)
    with rt.sessions() as session:
        query = select(Case)
        if start:
            query = query.where(Case.opened_at >= dt.datetime.combine(start, dt.time(), tz))
        if end:
            query = query.where(
                Case.opened_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
            )
        if not include_drills:
            query = query.where(Case.is_drill.is_(False))
        cases = {c.id: c for c in session.scalars(query)}
        units = {u.id: u.name for u in session.scalars(select(Unit))}
        people = {p.id: p.name for p in session.scalars(select(Person))}
        ids = list(cases)
        clocks: list[Deadline] = []
        actions: list[CaseAction] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            clocks.extend(session.scalars(select(Deadline).where(Deadline.case_id.in_(chunk))))
            actions.extend(
                session.scalars(
                    select(CaseAction).where(CaseAction.case_id.in_(chunk)).order_by(CaseAction.id)
                )
            )
    # Who did the act that ended each clock: the person of the action that completed it.
    by_case_actions: dict[int, list[CaseAction]] = defaultdict(list)
    for action in actions:
        by_case_actions[action.case_id].append(action)
    finishing_action = {
        DeadlineKind.REPORT: ("advance",),
        DeadlineKind.RELEASE: ("release",),
        DeadlineKind.PRESS_CONFERENCE: ("release",),
        DeadlineKind.FIRST_RESPONSE: ("respond", "release"),
        DeadlineKind.FORMAL_REPLY: ("respond",),
        DeadlineKind.TASK: ("task_done",),
    }

    def actor(deadline: Deadline) -> int | None:
        if deadline.done_at is None:
            return None
        for action in by_case_actions[deadline.case_id]:
            if action.at == deadline.done_at and action.action in finishing_action.get(deadline.kind, ()):
                return action.person_id
        return None

    unit_kinds: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # met, missed, overdue
    person_kinds: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    missed: list[dict[str, Any]] = []
    report_minutes: dict[str, list[float]] = defaultdict(list)
    respond_minutes: dict[str, list[float]] = defaultdict(list)
    now = rt.clock()
    for deadline in clocks:
        if deadline.state not in _DONE:
            continue
        unit = units.get(deadline.unit_id, str(deadline.unit_id))
        slot = (DeadlineState.MET.value, DeadlineState.MISSED.value, DeadlineState.OVERDUE.value).index(
            deadline.state
        )
        unit_kinds[(unit, deadline.kind)][slot] += 1
        person_id = actor(deadline)
        if person_id is not None:
            person_kinds[(people.get(person_id, str(person_id)), deadline.kind)][slot] += 1
        case = cases[deadline.case_id]
        if deadline.done_at is not None and deadline.kind == DeadlineKind.REPORT:
            report_minutes[unit].append(_minutes(case.detected_at, deadline.done_at))
        if deadline.done_at is not None and deadline.kind == DeadlineKind.FIRST_RESPONSE:
            respond_minutes[unit].append(_minutes(case.known_at, deadline.done_at))
        if deadline.state != DeadlineState.MET.value:
            late_by = (deadline.done_at or now) - deadline.due_at
            seen = scope.sees(case.unit_id)
            missed.append(
                {
                    "case_id": deadline.case_id if seen else None,
                    "case": case.title if seen else "（其他单位的工单）",
                    "unit": unit,
                    "kind": deadline.kind,
                    "label": DeadlineKind.LABELS.get(deadline.kind, deadline.kind),
                    "due_at": deadline.due_at.astimezone(tz).isoformat(),
                    "done_at": deadline.done_at.astimezone(tz).isoformat() if deadline.done_at else None,
                    "state": deadline.state,
                    "late_minutes": round(late_by.total_seconds() / 60, 1),
                    "person": people.get(person_id) if person_id else None,
                }
            )

    def rows(table: dict[tuple[str, str], list[int]], key: str) -> list[dict[str, Any]]:
        out = []
        for (name, kind), (met, late, overdue) in sorted(table.items()):
            total = met + late + overdue
            out.append(
                {
                    key: name,
                    "kind": kind,
                    "label": DeadlineKind.LABELS.get(kind, kind),
                    "met": met,
                    "missed": late,
                    "overdue": overdue,
                    "on_time_rate": round(met / total, 4) if total else None,
                }
            )
        return out

    unit_names = sorted({u for u, _ in unit_kinds} | set(report_minutes) | set(respond_minutes))
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "cases": len(cases),
        "units": rows(unit_kinds, "unit"),
        "people": rows(person_kinds, "person"),
        "timeliness": [
            {
                "unit": unit,
                "median_minutes_to_report": _median(report_minutes.get(unit, [])),
                "median_minutes_to_respond": _median(respond_minutes.get(unit, [])),
            }
            for unit in unit_names
        ],
        "missed": sorted(missed, key=lambda m: m["due_at"]),
    }
