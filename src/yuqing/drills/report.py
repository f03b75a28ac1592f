"""What the drill report (演练总结) says, as data: scenario, participants, the timeline of what was
done when, the scores with their reasons, deadlines met and missed, shortcomings found and the
improvements suggested. The reports domain renders it as a document (Word, PDF, HTML).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from yuqing.alerts.models import AlertAcknowledgement, AlertRecipient
from yuqing.analysis.models import GradeSignal
from yuqing.cases.models import STAGE_LABELS
from yuqing.cases.plan import load_plan
from yuqing.cases.service import GRADE_NAMES
from yuqing.drills.models import DrillLogEntry
from yuqing.drills.runner import drill_scenario
from yuqing.drills.scoring import load_record, score
from yuqing.drills.service import _drill, drill_view
from yuqing.org.models import Person, RoleAssignment, Unit
from yuqing.org.roles import Role
from yuqing.runtime import Runtime

__all__ = ["drill_report_data"]


def drill_report_data(rt: Runtime, drill_id: int) -> dict[str, Any]:
    """Everything the drill report needs, as plain data (times in the configured zone).

    Keys: `title`, `generated_at`, `drill` (state, speed, times, progress), `scenario` (name,
    description, provenance, size, injects, subjects, expectations), `participants` (name, unit,
    roles), `detection` (the first alert), `events`, `alerts`, `cases`, `timeline` (every drill
    log line, alert and case action in time order, with who did it), `score` (the full score:
    subjects, checks, deadlines, deductions, overall, rating, reasons), `deadlines` (counts and
    each outcome), `shortcomings` and `improvements`.
    """
    zone = rt.settings.timezone
    tz = ZoneInfo(zone)
    now = rt.clock()
    plan = load_plan(rt.settings.plan_profile or None)

    def local(at: dt.datetime | None) -> str | None:
        return at.astimezone(tz).isoformat(timespec="seconds") if at else None

    with rt.sessions() as session:
        drill = _drill(session, drill_id)
        scenario = drill_scenario(drill)
        view = drill_view(session, drill, now, zone)
        record = load_record(session, drill)
        result = score(session, drill, scenario, plan, now, zone).as_dict()
        units = {u.id: u.name for u in session.scalars(select(Unit))}
        participants: list[dict[str, Any]] = []
        for person in session.scalars(select(Person).where(Person.id.in_(drill.participants))):
            roles = session.scalars(select(RoleAssignment).where(RoleAssignment.person_id == person.id))
            participants.append(
                {
                    "id": person.id,
                    "name": person.name,
                    "unit": units.get(person.unit_id),
                    "roles": sorted({f"{Role(r.role).label}（{units.get(r.unit_id, '')}）" for r in roles}),
                }
            )
        participants.sort(key=lambda p: drill.participants.index(p["id"]))

        timeline: list[tuple[dt.datetime, int, dict[str, Any]]] = []
        for entry in session.scalars(
            select(DrillLogEntry).where(DrillLogEntry.drill_id == drill.id).order_by(DrillLogEntry.id)
        ):
            minutes = None if entry.scenario_seconds is None else round(entry.scenario_seconds / 60, 1)
            item = {
                "at": local(entry.at),
                "scenario_minutes": minutes,
                "actor": "演练",
                "kind": entry.kind,
                "unit_id": None,
            }
            timeline.append((entry.at, 0, {**item, "text": entry.text}))
        names = record.people
        raised_as: dict[int, str] = {}
        for alert in record.alerts:
            unit = units.get(alert.unit_id, "")
            # the grade it was raised at, and each upgrade after (the alert holds only the latest)
            signals = [
                sig
                for sig in session.scalars(
                    select(GradeSignal)
                    .where(GradeSignal.event_id == alert.event_id, GradeSignal.handled_at.is_not(None))
                    .order_by(GradeSignal.id)
                )
                if sig.handled_at is not None
                and sig.kind != "rebutted"
                and sig.handled_at >= alert.created_at - dt.timedelta(seconds=1)
            ]
            first = GRADE_NAMES.get(signals[0].to_code, alert.grade) if signals else alert.grade
            raised_as[alert.id] = first
            text = f"预警 #{alert.id}【{first}】发给{unit}：{alert.title[:60]}"
            timeline.append(
                (alert.created_at, 1, _line(local(alert.created_at), "系统", "alert", text, alert.unit_id))
            )
            for sig in signals[1:]:
                if sig.kind != "upgraded" or sig.handled_at is None:
                    continue
                grade = GRADE_NAMES.get(sig.to_code, sig.to_code)
                text = f"预警 #{alert.id} 等级提升为【{grade}】，须重新确认"
                line = _line(local(sig.handled_at), "系统", "alert", text, alert.unit_id)
                timeline.append((sig.handled_at, 1, line))
            for recipient in session.scalars(
                select(AlertRecipient).where(AlertRecipient.alert_id == alert.id, AlertRecipient.level > 0)
            ):
                who = names.get(recipient.person_id, "")
                text = f"预警 #{alert.id} 未确认，升级通知{who}（{recipient.reason}）"
                line = _line(local(recipient.notified_at), "系统", "escalate", text, alert.unit_id)
                timeline.append((recipient.notified_at, 1, line))
            acks = list(
                session.scalars(
                    select(AlertAcknowledgement)
                    .where(AlertAcknowledgement.alert_id == alert.id)
                    .order_by(AlertAcknowledgement.at, AlertAcknowledgement.id)
                )
            )
            if not acks and alert.acknowledged_at is not None and alert.acknowledged_by is not None:
                # acknowledged before each acknowledgement was kept
                acks = [AlertAcknowledgement.of(alert, alert.acknowledged_by, alert.acknowledged_at)]
            for ack in acks:
                who = names.get(ack.person_id, "")
                text = f"确认预警 #{alert.id}" + (f"（{ack.grade}）" if len(acks) > 1 else "")
                line = _line(local(ack.at), who, "alert_ack", text, alert.unit_id)
                timeline.append((ack.at, 2, line))
        case_units = {case.id: case.unit_id for case in record.cases}
        for action in record.actions:
            if action.action == "alert_ack":
                continue  # already on the timeline from the alert
            text = f"工单 #{action.case_id}：{action.text}"
            line = _line(local(action.at), action.actor, action.action, text, case_units.get(action.case_id))
            timeline.append((action.at, 3, line))
        timeline.sort(key=lambda row: (row[0], row[1]))

        detection = record.detection
        return {
            "title": f"{drill.name}应急演练总结",
            "generated_at": local(now),
            "drill": view,
            "scenario": {
                "name": scenario.name,
                "description": scenario.description,
                "source": scenario.provenance,
                "posts": len(scenario.posts),
                "duration_minutes": round(scenario.duration / 60, 1),
                "first_post": scenario.posts[0].text[:200],
                "injects": [
                    {
                        "at_minutes": round(i.at / 60, 1),
                        "kind": i.kind,
                        "text": i.text,
                        "to": [Role(r).label for r in i.to],
                    }
                    for i in scenario.injects
                ],
                "subjects": [
                    {
                        "name": s.name,
                        "action": s.done_when,
                        "action_label": s.action_label,
                        "limit_minutes": s.limit_minutes,
                        "start": s.start,
                        "weight": s.weight,
                    }
                    for s in scenario.subjects
                ],
                "expect": {
                    "grade": scenario.expect.grade,
                    "grade_name": scenario.expect.grade_name,
                    "category": scenario.expect.category,
                    "released": scenario.expect.released,
                },
            },
            "participants": participants,
            "detection": {
                "at": local(detection.created_at),
                "alert_id": detection.id,
                "grade": raised_as.get(detection.id, detection.grade),
                "unit": units.get(detection.unit_id),
            }
            if detection
            else None,
            "events": [
                {"id": e.id, "title": e.title, "grade": e.grade, "posts": e.post_count} for e in record.events
            ],
            "alerts": [
                {
                    "id": a.id,
                    "event_id": a.event_id,
                    "unit": units.get(a.unit_id),
                    "grade": a.grade,
                    "created_at": local(a.created_at),
                    "acknowledged_at": local(a.acknowledged_at),
                    "acknowledged_by": names.get(a.acknowledged_by or 0),
                    "escalation_level": a.level,
                }
                for a in record.alerts
            ],
            "cases": [
                {
                    "id": c.id,
                    "title": c.title,
                    "unit": units.get(c.unit_id),
                    "unit_id": c.unit_id,
                    "grade": c.grade,
                    "category": c.category,
                    "stage": c.stage,
                    "stage_label": STAGE_LABELS[c.stage],
                    "opened_at": local(c.opened_at),
                    "opened_by": names.get(c.opened_by or 0),
                    "summary": c.summary,
                }
                for c in record.cases
            ],
            "timeline": [item for _, _, item in timeline],
            "score": result,
            "deadlines": {"counts": result["deadline_counts"], "items": result["deadlines"]},
            "shortcomings": result["shortcomings"],
            "improvements": result["improvements"],
        }


def _line(at: str | None, actor: str, kind: str, text: str, unit_id: int | None) -> dict[str, Any]:
    """A timeline line; `unit_id` is the unit of its alert or case (None: the drill's own log), so a
    viewer's page can leave out what belongs to units they may not see."""
    return {
        "at": at,
        "scenario_minutes": None,
        "actor": actor,
        "kind": kind,
        "text": text,
        "unit_id": unit_id,
    }
