"""网络舆情预警响应情况表: one row per alert (and per case opened without one) in a date range,
with the times of detection, report, response, release and closing and whether each clock of
the plan was met — the form a superior office collects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from yuqing.alerts.models import Alert
from yuqing.analysis.models import Event
from yuqing.cases.deadlines import compute_due
from yuqing.cases.models import STAGE_LABELS, Case, Deadline, DeadlineState
from yuqing.cases.plan import DeadlineKind, ResponsePlan, load_plan
from yuqing.cases.service import event_known_at
from yuqing.org.models import Unit
from yuqing.reports.common import (
    ReportError,
    actions_of,
    alerts_between,
    clip,
    day_text,
    released_statements,
    time_text,
    unit_scope,
)
from yuqing.reports.document import Document, Paragraph, Table
from yuqing.reports.periodic import Period
from yuqing.runtime import Runtime
from yuqing.workcal.clock import WorkCalendar
from yuqing.workcal.service import load_calendar

__all__ = ["COLUMNS", "build_response_table"]

COLUMNS = (
    "序号",
    "舆情事件",
    "责任单位",
    "等级",
    "发现时间",
    "报告时间",
    "报告是否按时",
    "首次回应时间",
    "回应是否按时",
    "发布时间",
    "发布是否按时",
    "结案时间",
    "当前状态",
)


@dataclass(frozen=True)
class _Subject:
    """One row: an alert (with its case, if one was opened) or a case opened without an alert."""

    detected: dt.datetime
    title: str
    grade: str
    unit_id: int
    alert: Alert | None
    case: Case | None


def _verdict(clocks: list[Deadline], now: dt.datetime) -> str:
    """是 / 否 / 超时未办 / 未到期 / 不适用 for the clocks of one kind."""
    live = [d for d in clocks if d.state != DeadlineState.CANCELLED.value]
    if not live:
        return "不适用"
    states = {d.state for d in live}
    if DeadlineState.MISSED.value in states:
        return "否（超时完成）"
    if DeadlineState.OVERDUE.value in states or any(d.done_at is None and d.due_at < now for d in live):
        return "否（超时未办）"
    if states <= {DeadlineState.MET.value}:
        return "是"
    return "未到期"


def _alert_verdict(
    plan: ResponsePlan,
    calendar: WorkCalendar,
    kind: str,
    grade_code: str,
    start: dt.datetime,
    now: dt.datetime,
) -> str:
    """For an alert nobody opened a case on: whether the plan's clock of this kind, counted as a
    case's would be (report and release from the alert, first response from when the event became
    known), has run out (「否（超时未办）」) or not yet (「未到期」)."""
    duration = plan.duration(kind, grade_code)
    if duration is None:
        return "不适用"
    return "否（超时未办）" if compute_due(calendar, start, duration).at < now else "未到期"


def build_response_table(
    rt: Runtime, first: dt.date, last: dt.date, unit_ref: str | int | None = None
) -> Document:
    zone = rt.settings.timezone
    if last < first:
        raise ReportError(f"结束日期 {last} 早于开始日期 {first}")
    period = Period("range", first, (last - first).days + 1, zone)
    now = rt.clock()
    plan, calendar = load_plan(rt.settings.plan_profile or None), load_calendar(rt)
    with rt.sessions() as session:
        unit, units = unit_scope(session, unit_ref)
        unit_ids = [u.id for u in units]
        names = {u.id: u.name for u in session.scalars(select(Unit))}
        alerts = alerts_between(session, unit_ids, period.start, period.end)
        cases = list(
            session.scalars(
                select(Case).where(
                    Case.unit_id.in_(unit_ids),
                    Case.is_drill.is_(False),
                    Case.detected_at >= period.start,
                    Case.detected_at < period.end,
                )
            )
        )
        alert_ids = [a.id for a in alerts]
        # a case a unit above opened on the unit's alert is that unit's: only its existence shows
        taken_over: set[int | None] = set()
        if alert_ids:
            for on_alert in session.scalars(
                select(Case).where(Case.alert_id.in_(alert_ids), Case.is_drill.is_(False))
            ):
                if on_alert.unit_id in unit_ids:
                    cases.append(on_alert)
                else:
                    taken_over.add(on_alert.alert_id)
        by_id = {c.id: c for c in cases}
        case_ids = list(by_id)
        clocks = (
            list(session.scalars(select(Deadline).where(Deadline.case_id.in_(case_ids)))) if case_ids else []
        )
        # when the events of alerts without a case became known (their first-response clock's start)
        with_case = {c.alert_id for c in cases} | {(c.event_id, c.unit_id) for c in cases}
        known = {
            a.id: event_known_at(session, event)
            for a in alerts
            if a.id not in with_case
            and (a.event_id, a.unit_id) not in with_case
            and (event := session.get(Event, a.event_id)) is not None
        }
        reports = actions_of(session, case_ids, "advance")
        statements = released_statements(session, case_ids)
        responses = actions_of(session, case_ids, "respond")

    def first_at(items: list, case_id: int, attr: str = "at") -> dt.datetime | None:  # type: ignore[type-arg]
        for item in items:
            if item.case_id == case_id:
                value: dt.datetime | None = getattr(item, attr)
                return value
        return None

    def reported_at(case_id: int) -> dt.datetime | None:
        for action in reports:
            if action.case_id == case_id and (action.detail or {}).get("to") == "reported":
                return action.at
        return None

    def kind_clocks(case_id: int, kind: str) -> list[Deadline]:
        return [d for d in clocks if d.case_id == case_id and d.kind == kind]

    def responded_at(case_id: int) -> dt.datetime | None:
        """The first reply, or what completed the first-response clock (a released statement)."""
        times = [first_at(responses, case_id)] + [
            d.done_at for d in kind_clocks(case_id, DeadlineKind.FIRST_RESPONSE)
        ]
        known = [t for t in times if t is not None]
        return min(known) if known else None

    rows: list[tuple[str, ...]] = []
    seen_cases: set[int] = set()
    subjects: list[_Subject] = []
    for alert in alerts:
        case = next((c for c in sorted(by_id.values(), key=lambda c: c.id) if c.alert_id == alert.id), None)
        if case is None:
            case = next(
                (c for c in by_id.values() if c.event_id == alert.event_id and c.unit_id == alert.unit_id),
                None,
            )
        if case is not None:
            seen_cases.add(case.id)
            subjects.append(_Subject(alert.created_at, case.title, case.grade, case.unit_id, alert, case))
        else:
            subjects.append(_Subject(alert.created_at, alert.title, alert.grade, alert.unit_id, alert, None))
    for case in sorted(by_id.values(), key=lambda c: c.detected_at):
        if case.id not in seen_cases and period.contains(case.detected_at):
            subjects.append(_Subject(case.detected_at, case.title, case.grade, case.unit_id, None, case))
    subjects.sort(key=lambda s: s.detected)
    for number, subject in enumerate(subjects, start=1):
        row_alert, case = subject.alert, subject.case
        detected, title, grade, unit_id = subject.detected, subject.title, subject.grade, subject.unit_id
        if case is None:
            verdicts = {DeadlineKind.REPORT: "—", DeadlineKind.FIRST_RESPONSE: "—", DeadlineKind.RELEASE: "—"}
            if row_alert is not None and row_alert.id in taken_over:
                status = "上级单位已开立工单"  # the clocks are that unit's case's
            else:
                status = "预警已确认，未开立工单" if row_alert and row_alert.acknowledged_at else "预警未确认"
                if row_alert is not None:
                    # nothing was reported, answered or released: the plan's clocks still ran
                    starts = {
                        DeadlineKind.REPORT: row_alert.created_at,
                        DeadlineKind.FIRST_RESPONSE: known.get(row_alert.id, row_alert.created_at),
                        DeadlineKind.RELEASE: row_alert.created_at,
                    }
                    verdicts = {
                        kind: _alert_verdict(plan, calendar, kind, row_alert.grade_code, start, now)
                        for kind, start in starts.items()
                    }
            rows.append(
                (
                    str(number),
                    clip(title, 50),
                    names.get(unit_id, ""),
                    grade,
                    time_text(detected, zone),
                    "—",
                    verdicts[DeadlineKind.REPORT],
                    "—",
                    verdicts[DeadlineKind.FIRST_RESPONSE],
                    "—",
                    verdicts[DeadlineKind.RELEASE],
                    "—",
                    status,
                )
            )
            continue
        released = first_at(statements, case.id, "released_at")
        rows.append(
            (
                str(number),
                clip(title, 50),
                names.get(unit_id, ""),
                grade,
                time_text(detected, zone),
                time_text(reported_at(case.id), zone),
                _verdict(kind_clocks(case.id, DeadlineKind.REPORT), now),
                time_text(responded_at(case.id), zone),
                _verdict(kind_clocks(case.id, DeadlineKind.FIRST_RESPONSE), now),
                time_text(released, zone),
                _verdict(kind_clocks(case.id, DeadlineKind.RELEASE), now),
                time_text(case.closed_at, zone),
                f"工单第{case.id}号 {STAGE_LABELS[case.stage]}",
            )
        )
    table = Table(COLUMNS, tuple(rows), (0.5, 3, 1.6, 0.7, 1.5, 1.5, 1, 1.5, 1, 1.5, 1, 1.5, 1.5))
    doc = Document(
        kind="response_table",
        banner="网络舆情预警响应情况表",
        title=f"{unit.name}网络舆情预警响应情况表（{day_text(first)}—{day_text(last)}）",
        issuer=unit.name,
        issued_at=now,
        zone=zone,
        meta=[
            ("统计期间", f"{day_text(first)}至{day_text(last)}"),
            ("统计范围", f"{unit.name}及所属单位，不含演练"),
        ],
        sheets=[("响应情况表", table)],
        landscape=True,
    )
    section = doc.section("响应情况")
    if rows:
        on_time = sum(1 for row in rows if row[6] == "是")
        section.add(
            Paragraph(
                f"统计期间共发出预警或开立工单{len(rows)}起，其中按时向上级报告{on_time}起；"
                "“不适用”表示该等级在预案中不设此项时限，“未到期”表示时限尚在进行。"
            ),
            table,
        )
    else:
        section.add(Paragraph("统计期间未发出预警，也未开立工单（零报告）。"), table)
    return doc
