"""Alerts from the analysis signals: routing, merging, notifying whoever is on duty, escalating.

The analysis pipeline writes a durable `GradeSignal` whenever an event is graded or upgraded.
`process_signals` claims the ones not handled yet (`handled_at`, so a restart neither loses nor
repeats one, and a signal committed out of id order still counts) and, in the same transaction
that marks them handled, creates or merges the alert and queues its notices. Escalation state
lives on the alert (`level`, `next_escalation_at`); the chain it follows is copied onto the alert
when it starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from yuqing.alerts.jurisdiction import WATCH_ONLY, Locality, locate, unit_named
from yuqing.alerts.models import (
    ALERT_DUTY_PREFIX,
    Alert,
    AlertAcknowledgement,
    AlertRecipient,
    AlertStatus,
    alert_duty_key,
)
from yuqing.alerts.notices import tell
from yuqing.analysis.grading import GRADE_ORDER
from yuqing.analysis.models import Event, EventStatus, GradeSignal, PostAnalysis, Topic
from yuqing.analysis.queries import earlier_events
from yuqing.cases import service as cases
from yuqing.cases.deadlines import compute_due
from yuqing.cases.models import Case, Stage
from yuqing.cases.plan import DeadlineKind, ResponsePlan, load_plan
from yuqing.db import is_transient, transaction
from yuqing.drills.policy import drill_unit, ended_drill, notices_internal_only
from yuqing.ingest.models import Post
from yuqing.notify.messages import Level, Message
from yuqing.org import duty
from yuqing.org.models import Person, Unit
from yuqing.org.roles import Role
from yuqing.org.scope import EVERYTHING, Scope, check_sees, not_found, scope_of
from yuqing.org.service import (
    ancestors,
    common_parent,
    find_person,
    find_unit,
    people_with_role,
    unit_for_regions,
)
from yuqing.reports.common import time_text
from yuqing.runtime import Runtime
from yuqing.workcal.clock import WorkCalendar
from yuqing.workcal.service import load_calendar

log = logging.getLogger(__name__)

__all__ = [
    "AlertCounts",
    "acknowledge",
    "alert_view",
    "escalate_due",
    "list_alerts",
    "process_signals",
    "route",
    "show",
]

KIND_LABELS = {"new": "新事件", "upgrade": "等级提升", "flare_up": "舆情反复"}
GRADE_NAMES = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}


class AlertError(ValueError):
    """An alert action that cannot be done; the message says why."""


@dataclass
class AlertCounts:
    signals: int = 0
    created: int = 0
    merged: int = 0
    unrouted: int = 0
    below_threshold: int = 0
    quiet: int = 0  # graded long after its last post: listed, not alerted
    outside: int = 0  # located plainly outside every unit's places: listed, watched, not alerted
    notices: int = 0
    failed: int = 0  # signals whose handling failed: they wait for the next round

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def route(session: Session, event: Event) -> Unit | None:
    """The unit responsible for an event (PRODUCT.md §2.4).

    Candidates: the unit owning the event's topic, a unit the event's main entities name (a
    hospital or school that is itself a unit in yuqing), and the unit of the places the event is
    about (`unit_for_regions` over its main place entities, else the provinces its posts mention:
    the common parent when several units' places are involved). A named unit inside the topic's
    unit gets the event (it is the specific one); when the topic's unit lies inside the place's
    unit (the city's health commission, an event in the city), the topic's unit gets it; when
    they are apart, their common parent does.
    """
    topic_unit: Unit | None = None
    if event.topic_id is not None:
        topic = session.get(Topic, event.topic_id)
        if topic is not None and topic.unit:
            with contextlib.suppress(LookupError):  # a topic owned by a unit not set up yet
                topic_unit = find_unit(session, topic.unit)
    entities = [e for e in (event.entities or []) if isinstance(e, dict) and e.get("name")]
    named = [(str(e.get("kind")), str(e["name"])) for e in entities if e.get("kind") != "place"]
    unit = _unit_named(session, named) if named else None
    if unit is not None and (
        topic_unit is None or topic_unit.id in {u.id for u in ancestors(session, unit.id)}
    ):
        return unit
    places = [str(e["name"]) for e in entities if e.get("kind") == "place"]
    regions = places or list((event.metrics or {}).get("region_list") or [])
    region_unit = unit_for_regions(session, regions) if regions else None
    if region_unit is None and places:  # places no unit lists: the provinces may still decide
        provinces = list((event.metrics or {}).get("region_list") or [])
        region_unit = unit_for_regions(session, provinces) if provinces else None
    if topic_unit is None or region_unit is None:
        return topic_unit or region_unit
    if region_unit.id in {u.id for u in ancestors(session, topic_unit.id)}:
        return topic_unit
    return common_parent(session, [topic_unit.id, region_unit.id])


def _unit_named(session: Session, named: list[tuple[str, str]]) -> Unit | None:
    return unit_named(list(session.scalars(select(Unit))), named)


def _message(
    alert: Alert,
    event: Event,
    unit: Unit,
    at: dt.datetime,
    prefix: str = "",
    *,
    internal_only: bool = False,
    link: str | None = None,
    told_before: str = "",
    where: str = "",
    zone: str = "Asia/Shanghai",
    todo: str = "",
    late: dt.datetime | None = None,
) -> Message:
    """The notice of an alert: what happened, where and since when, how serious and why, and what
    the plan asks by when (`todo`, `_what_to_do`): a duty officer acts on the message alone."""
    reasons = "；".join(str(r.get("text", "")) for r in alert.reasons[:4]) or "见事件详情"
    metrics = event.metrics or {}
    lines = [
        f"{KIND_LABELS.get(alert.kind, alert.kind)}：{alert.title}",
        f"事发地：{where or '信息中未写明，请核实'}；首发于 {_moment(event.first_seen, at, zone)}，"
        f"最新信息 {_moment(event.last_seen, at, zone)}",
        f"定级依据（定级时）：{reasons}",
    ]
    if late is not None:
        lines.append(
            f"本次升级通知应于 {_moment(late, at, zone)} 发出（预警此前一直未确认），"
            "因系统停止运行而延迟，请即处置"
        )
    if todo:
        lines.append(todo)
    if told_before:
        lines.append(told_before)
    return Message(
        title=f"{prefix}【{alert.grade}舆情预警】{alert.title[:40]}",
        body="\n".join(lines),
        at=at,
        level=Level.for_grade(alert.grade_code),
        facts=(
            ("等级", f"{alert.grade}（{alert.grade_code} 级）"),
            ("事发地", where or "未写明"),
            ("责任单位", unit.name),
            ("当前信息量", str(metrics.get("posts", event.post_count))),
            ("预警编号", str(alert.id)),
        ),
        link=link,
        internal_only=internal_only,
    )


def _moment(when: dt.datetime, now: dt.datetime, zone: str) -> str:
    """「11月20日 08:00」, with the year when it is not this year's (a story first seen last year)."""
    tz = ZoneInfo(zone)
    return time_text(when, zone, year=when.astimezone(tz).year != now.astimezone(tz).year)


def _what_to_do(rt: Runtime, alert: Alert, calendar: WorkCalendar) -> str:
    """「按预案须于12月7日 15:21前向上级报告（1 小时），于…前发布权威信息（5 小时）；请确认预警，
    核实后开立工单」: the clocks the plan starts from the alert (a case opened on it keeps them)."""
    plan = load_plan(rt.settings.plan_profile or None)
    zone = rt.settings.timezone
    clocks = []
    for kind in (DeadlineKind.REPORT, DeadlineKind.RELEASE):
        duration = plan.duration(kind, alert.grade_code)
        if duration is None:
            continue
        due = compute_due(calendar, alert.created_at, duration).at
        clocks.append(f"于{time_text(due, zone, year=False)}前{DeadlineKind.LABELS[kind]}（{duration}）")
    head = f"按预案（自预警时起算）须{'，'.join(clocks)}；" if clocks else ""
    return f"{head}请确认预警，核实后开立工单"


def _told_before(session: Session, event: Event, zone: str) -> str:
    """「相似信息此前出现过：事件 #10（首发于 2026-03-02，一般）」 for an event telling a story told
    before (a rumour coming back): the office looks up what it did then. Empty otherwise."""
    if event.id is None:
        return ""
    earlier = earlier_events(session, event.id, limit=1)
    if not earlier:
        return ""
    first = earlier[0]
    seen = first.first_seen if first.first_seen.tzinfo else first.first_seen.replace(tzinfo=dt.UTC)
    day = seen.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")
    grade = f"，{first.grade}" if first.grade else ""
    return f"相似信息此前出现过：事件 #{first.id}（首发于 {day}{grade}），请参考此前的核实和处置"


def _first_recipients(
    session: Session, rt: Runtime, unit: Unit, calendar: WorkCalendar, at: dt.datetime
) -> list[Person]:
    on_duty = duty.on_duty(session, unit.id, at, is_working_time=calendar.is_working_time)
    return on_duty or people_with_role(session, Role.OFFICE, unit.id)


def _notify_level(
    session: Session,
    rt: Runtime,
    alert: Alert,
    event: Event,
    unit: Unit,
    calendar: WorkCalendar,
    at: dt.datetime,
    *,
    occasion: str,
    late: dt.datetime | None = None,
) -> int:
    """Tell the people of the alert's current level; `late`: when this level should have been
    told (the process was stopped), said in the notice."""
    step = alert.chain[alert.level] if alert.level < len(alert.chain) else None
    if alert.level == 0:
        people = _first_recipients(session, rt, unit, calendar, at)
        reason = "值班员"
    elif step is not None:
        people = people_with_role(session, step["role"], unit.id)
        reason = f"升级：{Role(step['role']).label}"
    else:
        return 0
    for person in people:
        session.add(
            AlertRecipient(
                alert_id=alert.id, person_id=person.id, level=alert.level, reason=reason, notified_at=at
            )
        )
    prefix = "【演练】" if alert.is_drill else ""
    if alert.level > 0 and step is not None:
        # who it has now reached, not a count: a level passed at once (its holders told already)
        # made the first notice up the chain read 「第2次升级」
        prefix += f"【未确认·已升级至{Role(step['role']).label}】"
    # A drill's notices stay in-app unless the drill allows outside channels.
    internal = alert.is_drill and notices_internal_only(session, event.id)
    return tell(
        session,
        people,
        _message(
            alert,
            event,
            unit,
            at,
            prefix,
            internal_only=internal,
            link=cases.console_link(rt, f"/alerts/{alert.id}"),
            told_before=_told_before(session, event, rt.settings.timezone),
            where=locate(session, event).text,
            zone=rt.settings.timezone,
            todo=_what_to_do(rt, alert, calendar),
            late=late,
        ),
        key=f"alert:{alert.id}:{occasion}:level:{alert.level}",
        subject=("alert", alert.id),
    )


def _schedule_next(alert: Alert, at: dt.datetime) -> None:
    if alert.level + 1 < len(alert.chain):
        alert.next_escalation_at = at + dt.timedelta(minutes=float(alert.chain[alert.level]["wait_minutes"]))
    else:
        alert.next_escalation_at = None


def long_quiet(rt: Runtime, event: Event, now: dt.datetime) -> bool:
    """Whether the event's newest post is older than `alert_max_quiet_hours`: an event that ended
    long ago (old posts collected now) is no emergency. A drill's events are never quiet."""
    hours = rt.settings.alert_max_quiet_hours
    return bool(hours) and not event.is_drill and event.last_seen < now - dt.timedelta(hours=hours)


def raise_alert(
    session: Session,
    rt: Runtime,
    event: Event,
    kind: str,
    plan: ResponsePlan,
    calendar: WorkCalendar,
    counts: AlertCounts,
    *,
    lead: dict[str, Any] | None = None,
) -> Alert | None:
    """Create the event's alert for its unit, or merge this signal into the open one. `lead` is a
    reason put before the event's own (why an old story alerts now)."""
    now = rt.clock()
    unit = route(session, event)
    exercising = drill_unit(session, event)
    inside = unit is not None and exercising in {a.id for a in ancestors(session, unit.id)}
    if exercising is not None and not inside:
        # a drill's alert stays inside the unit that runs it: another unit could neither see
        # nor stop the drill that woke its people
        unit = session.get(Unit, exercising)
    if unit is None:
        counts.unrouted += 1
        _release(event)
        return None
    code = event.grade_code or "IV"
    if GRADE_ORDER.get(code, 0) < GRADE_ORDER.get(unit.alert_threshold or "IV", 1):
        counts.below_threshold += 1
        _release(event)
        return None
    if long_quiet(rt, event, now):
        counts.quiet += 1
        _hold(event, now, elsewhere=False)
        return None
    # a drill's event alerts wherever its story happens: the drill exercises this office's response
    where = _elsewhere(session, rt, event) if not event.is_drill else None
    if where is not None:
        counts.outside += 1
        link = cases.console_link(rt, f"/events/{event.id}")
        counts.notices += _tell_watchers(session, event, unit, code, now, where, link)
        # held, not dropped: judged at three posts (two comments naming 上海), a story may turn out
        # unclear, or to touch our places, at thirty; its new posts judge it again (`_raise_held`)
        _hold(event, now, elsewhere=True)
        return None
    _release(event)
    merge_key = f"event:{event.id}:unit:{unit.id}"
    # locked (PostgreSQL): a repeat resets the escalation, and another process's `escalate_due`
    # must not move the same alert up from what it read before the reset
    alert = session.scalars(select(Alert).where(Alert.merge_key == merge_key).with_for_update()).first()
    taken = _open_case_of(session, event, unit)
    if (
        alert is None
        and taken is not None
        and GRADE_ORDER.get(taken.grade_code, 0) >= GRADE_ORDER.get(code, 0)
    ):
        # a case was opened on the event without an alert (an event held as elsewhere, opened from
        # its page): it runs the response at this grade already; an alert beside it would escalate,
        # unacknowledged and unlinked, up to the chief
        return None
    if alert is None:
        alert = Alert(
            event_id=event.id,
            unit_id=unit.id,
            merge_key=merge_key,
            # the unit's first alert on the event is news to it, whatever grade came before (one
            # held or too quiet to alert): listed 「等级提升」, it read as an alert the office missed
            kind="new" if kind == "upgrade" else kind,
            grade_code=code,
            grade=event.grade or GRADE_NAMES[code],
            title=event.title[:200],
            reasons=[*([lead] if lead else []), *(event.reasons or [])],
            status=AlertStatus.OPEN.value,
            created_at=now,
            updated_at=now,
            chain=escalation_chain(plan, code),
            level=0,
            is_drill=event.is_drill,
        )
        session.add(alert)
        session.flush()
        counts.created += 1
        if taken is not None and taken.alert_id is None:
            taken.alert_id = alert.id  # the upgrade of the case's event: acknowledged on the case's alert
    else:
        # A repeat: same alert, newer grade; an upgrade or flare-up needs acknowledging again.
        alert.repeats += 1
        alert.kind = kind
        alert.grade_code, alert.grade = code, event.grade or GRADE_NAMES[code]
        alert.reasons = [*([lead] if lead else []), *(event.reasons or [])]
        alert.updated_at = now
        alert.status = AlertStatus.OPEN.value
        alert.level, alert.chain = 0, escalation_chain(plan, code)
        counts.merged += 1
    _duty_for_alert(session, alert, plan, now)
    counts.notices += _notify_level(
        session, rt, alert, event, unit, calendar, now, occasion=f"r{alert.repeats}"
    )
    _schedule_next(alert, now)
    return alert


def _open_case_of(session: Session, event: Event, unit: Unit) -> Case | None:
    """The unit's case on the event that is not closed, if any."""
    return session.scalars(
        select(Case)
        .where(Case.event_id == event.id, Case.unit_id == unit.id, Case.stage != Stage.CLOSED.value)
        .order_by(Case.id)
        .limit(1)
    ).first()


def _duty_for_alert(session: Session, alert: Alert, plan: ResponsePlan, now: dt.datetime) -> None:
    """A 重大 or 特别重大 alert puts its unit on 24-hour duty at once (PRODUCT.md §2.7: while a
    重大+ event is open), before anyone has opened a case: at night the rotation's duty officer is
    then the one the alert reaches first, not nobody. A case opened on it keeps the duty on under
    its own key, and `end_alert_duty` ends the alert's."""
    if alert.grade_code in plan.twenty_four_hour_duty and not alert.is_drill:
        if _alert_duty_over(session, alert) is not None:
            return  # a case has it (and its own duty), or its event is over
        duty.start_24h_duty(
            session,
            alert.unit_id,
            f"{alert.grade}预警待处置（预警 #{alert.id}）",
            now,
            key=alert_duty_key(alert.id),
        )


def end_alert_duty(session: Session, now: dt.datetime) -> int:
    """End the 24-hour duty an alert started once its event has calmed down (no post for the idle
    window) or the alert is closed, or a case has taken it over (opening one ends it at once:
    `cases.service`; the case keeps its own while its grade asks for it). Returns the periods
    ended."""
    from yuqing.org.models import Duty24hPeriod

    ended = 0
    periods = session.scalars(
        select(Duty24hPeriod).where(
            Duty24hPeriod.ended_at.is_(None), Duty24hPeriod.key.startswith(ALERT_DUTY_PREFIX, autoescape=True)
        )
    )
    for period in list(periods):
        alert_id = int(str(period.key).removeprefix(ALERT_DUTY_PREFIX) or 0)
        alert = session.get(Alert, alert_id)
        reason = _alert_duty_over(session, alert)
        if reason is not None:
            ended += len(duty.end_24h_duty(session, period.unit_id, reason, now, key=period.key))
    return ended


def _alert_duty_over(session: Session, alert: Alert | None) -> str | None:
    if alert is None or alert.status == AlertStatus.CLOSED.value:
        return "预警已关闭"
    case_id = session.scalar(
        select(Case.id)
        .where(
            or_(
                Case.alert_id == alert.id,
                (Case.event_id == alert.event_id) & (Case.unit_id == alert.unit_id),
            )
        )
        .order_by(Case.id)
        .limit(1)
    )
    if case_id is not None:
        return f"预警 #{alert.id} 已开立工单 #{case_id}，值班安排随工单"
    event = session.get(Event, alert.event_id)
    if event is None or event.status == EventStatus.CLOSED.value:
        return f"预警 #{alert.id} 所涉事件已平息"
    return None


# PRODUCT.md §2.4: 一般 and 较大 are the office's and the deputy leader's to handle; the chief (and
# the leading group) lead 重大 and 特别重大. Their steps are left out of a lesser alert's chain, so
# an unacknowledged 一般 at a bureau without a chief of its own does not wake the city's at night.
_GRAVE_ONLY_ROLES = frozenset({Role.CHIEF.value, Role.LEADING_GROUP.value})
_GRAVE_CODES = frozenset({"I", "II"})


def escalation_chain(plan: ResponsePlan, code: str) -> list[dict[str, Any]]:
    """The profile's escalation chain for an alert of this grade (copied onto the alert).

    A 重大 or 特别重大 alert nobody acknowledges must reach the chief well inside its report clock:
    the default waits (15 + 30 + 30 minutes) would wake the chief of a 特别重大 after 75 minutes,
    when its one-hour report is overdue. The waits before the chief are shortened in proportion,
    so that the chief is told by half the report clock (特别重大: 6 + 12 + 12 minutes)."""
    steps = [s for s in plan.escalation if code in ("I", "II") or s.role not in _GRAVE_ONLY_ROLES]
    chain = [step.as_dict() for step in steps or plan.escalation[:1]]
    report = plan.duration(DeadlineKind.REPORT, code)
    roles = [step["role"] for step in chain]
    if code not in _GRAVE_CODES or report is None or report.unit not in ("m", "h") or Role.CHIEF not in roles:
        return chain
    before_chief = chain[: roles.index(Role.CHIEF)]
    waited = sum(float(step["wait_minutes"]) for step in before_chief)
    budget = report.amount * (60 if report.unit == "h" else 1) / 2
    if waited > budget > 0:
        for step in before_chief:
            wait = float(step["wait_minutes"])
            if wait > 0:  # a step told at once (0) stays so; the others in half minutes
                step["wait_minutes"] = max(0.5, round(wait * budget / waited * 2) / 2)
    return chain


def _elsewhere(session: Session, rt: Runtime, event: Event) -> Locality | None:
    """Where the event is, when it is plainly another place's to handle (`jurisdiction`) and has
    neither raised an alert here (one raised while it looked local stays, with its repeats and
    clocks) nor been taken up in a case."""
    if rt.settings.alert_outside_regions:
        return None
    if session.scalar(select(Alert.id).where(Alert.event_id == event.id).limit(1)) is not None:
        return None
    if session.scalar(select(Case.id).where(Case.event_id == event.id).limit(1)) is not None:
        return None
    # an event held as elsewhere stays there while the places its posts name are still elsewhere
    where = locate(session, event, held=bool(event.alert_held_elsewhere))
    return where if where.outside else None


_WATCHED_GRADES = frozenset({"I", "II"})


def _tell_watchers(
    session: Session, event: Event, unit: Unit, code: str, at: dt.datetime, where: Locality, link: str
) -> int:
    """A 重大 or 特别重大 event elsewhere in the unit's field: its office is told once per grade, in
    the console only (nobody is woken, nothing to acknowledge), so it can watch for a spill-over."""
    if code not in _WATCHED_GRADES:
        return 0
    grade = event.grade or GRADE_NAMES[code]
    message = Message(
        title=f"【外地舆情·关注】{grade}：{event.title[:40]}",
        body=f"{event.title}\n{where.note}。{WATCH_ONLY}。",
        at=at,
        level=Level.INFO,
        link=link,
        facts=(("等级", f"{grade}（{code} 级）"), ("事发地", where.text), ("信息量", str(event.post_count))),
        internal_only=True,
    )
    people = people_with_role(session, Role.OFFICE, unit.id)
    return tell(session, people, message, key=f"outside:{event.id}:{code}", subject=("event", event.id))


def _tell_rebutted(session: Session, rt: Runtime, event: Event, signal: GradeSignal) -> int:
    """An official rebuttal came after the event's grade, which leaned on the claimed deaths or
    public threat and never drops by itself: the offices of the units whose alert or case on the
    event is open are told, to judge the grade again. Nobody is woken; nothing is acknowledged."""
    units = set(
        session.scalars(
            select(Alert.unit_id).where(Alert.event_id == event.id, Alert.status != AlertStatus.CLOSED.value)
        )
    )
    units.update(
        session.scalars(
            select(Case.unit_id).where(Case.event_id == event.id, Case.stage != Stage.CLOSED.value)
        )
    )
    if not units:
        return 0
    grade = event.grade or GRADE_NAMES.get(signal.from_code or "", "")
    computed = GRADE_NAMES.get(signal.to_code, "") if signal.to_code else ""
    now_grade = f"按现有证据系统定级为{computed}，" if computed else "按现有证据已不满足任何等级条件，"
    message = Message(
        title=f"【官方辟谣】{grade}：{event.title[:40]}",
        body=(
            f"{event.title}\n定级后出现官方辟谣，现等级（{grade}）依据的伤亡或公共安全信息已被否认；"
            f"{now_grade}系统不自动降级，请研判是否调整分级。"
        ),
        at=rt.clock(),
        level=Level.INFO,
        link=cases.console_link(rt, f"/events/{event.id}"),
        facts=(("现等级", grade), ("信息量", str(event.post_count))),
        internal_only=notices_internal_only(session, event.id),
    )
    people = [p for unit_id in sorted(units) for p in people_with_role(session, Role.OFFICE, unit_id)]
    return tell(session, people, message, key=f"rebutted:{event.id}", subject=("event", event.id))


def process_signals(rt: Runtime, *, limit: int = 500) -> AlertCounts:
    """Turn waiting grade signals into alerts (and regrade open cases), oldest first.

    Each signal is claimed in the transaction that handles it (`handled_at`; on PostgreSQL with
    `FOR UPDATE SKIP LOCKED`), so two alerting loops never handle one twice and a signal committed
    after a higher id is handled too. Each signal has a transaction of its own: one whose handling
    fails (a defect met by one event) is left waiting and logged, and the others are alerted; it
    is tried again in the next round. A failure of the database stops the round."""
    counts = AlertCounts()
    plan = load_plan(rt.settings.plan_profile or None)
    calendar = load_calendar(rt)
    failed: list[int] = []
    for _ in range(limit):
        claimed: int | None = None
        try:
            with transaction(rt.sessions) as session:
                query = select(GradeSignal).where(GradeSignal.handled_at.is_(None))
                if failed:
                    query = query.where(GradeSignal.id.not_in(failed))
                signal = session.scalars(
                    query.order_by(GradeSignal.id).limit(1).with_for_update(skip_locked=True)
                ).first()
                if signal is None:
                    break
                claimed = signal.id
                _handle_signal(session, rt, signal, plan, calendar, counts)
        except Exception as exc:
            if claimed is None or is_transient(exc):
                raise
            failed.append(claimed)
            _log_failed_signal(claimed, exc)
    counts.failed = len(failed)
    with transaction(rt.sessions) as session:
        _raise_held(session, rt, plan, calendar, counts, rt.clock())
        end_alert_duty(session, rt.clock())
    return counts


def _handle_signal(
    session: Session,
    rt: Runtime,
    signal: GradeSignal,
    plan: ResponsePlan,
    calendar: WorkCalendar,
    counts: AlertCounts,
) -> None:
    counts.signals += 1
    signal.handled_at = rt.clock()
    event = session.get(Event, signal.event_id)
    if event is None or (event.is_drill and ended_drill(session, event.drill_id) is not None):
        return  # an ended drill's posts still analysed wake nobody and regrade no case
    if signal.kind == "rebutted":
        counts.notices += _tell_rebutted(session, rt, event, signal)
        return
    kind = {"graded": "new", "upgraded": "upgrade"}.get(signal.kind, signal.kind)
    alert = raise_alert(session, rt, event, kind, plan, calendar, counts)
    for case in session.scalars(
        select(Case).where(Case.event_id == event.id, Case.stage != Stage.CLOSED.value)
    ):
        cases.apply_grade(session, rt, case, event.grade_code or "IV", plan, calendar, alert=alert)


# Grade signals whose handling failed in this process, with how often: the traceback is logged the
# first time, a line after that.
_FAILED_SIGNALS: dict[int, int] = {}


def _log_failed_signal(signal_id: int, exc: Exception) -> None:
    seen = _FAILED_SIGNALS[signal_id] = _FAILED_SIGNALS.get(signal_id, 0) + 1
    if seen == 1:
        log.error("grade signal %d could not be turned into an alert; it waits", signal_id, exc_info=exc)
    else:
        log.warning("grade signal %d still fails (%d times): %s", signal_id, seen, exc)


def _raise_held(
    session: Session,
    rt: Runtime,
    plan: ResponsePlan,
    calendar: WorkCalendar,
    counts: AlertCounts,
    now: dt.datetime,
) -> None:
    """Events graded long after their last post, or located plainly elsewhere, held their alert
    back; new posts judge them again, and raise it for one active again (its newest post within
    `alert_max_quiet_hours`) that no longer looks plainly elsewhere."""
    hours = rt.settings.alert_max_quiet_hours
    query = select(Event).where(
        Event.alert_held_at.is_not(None),
        # judged again only once it has grown (a held event elsewhere is not re-read every round)
        or_(Event.alert_held_posts.is_(None), Event.post_count > Event.alert_held_posts),
    )
    if hours:
        query = query.where(Event.last_seen >= now - dt.timedelta(hours=hours))
    for event in session.scalars(query.order_by(Event.id).limit(500).with_for_update(skip_locked=True)):
        if session.scalar(select(Case.id).where(Case.event_id == event.id).limit(1)) is not None:
            _release(event)  # taken up in a case (opened from the event's page): nothing to raise
            continue
        kind, revival = "new", None
        if not event.alert_held_elsewhere and hours:
            # held because it had ended long ago: one repost of the old story today is no emergency
            # (it would wake the chief on a story years old); it is active again, 舆情反复, once it
            # has as many new posts in the window as the plan asks of a case's flare-up
            recent = _posts_since(session, event, now - dt.timedelta(hours=hours))
            if recent < plan.flare_up_posts:
                counts.quiet += 1
                _hold(event, now, elsewhere=False)
                continue
            kind = "flare_up"
            revival = _revival_reason(session, rt, event, recent, hours, now)
        raise_alert(session, rt, event, kind, plan, calendar, counts, lead=revival if kind != "new" else None)


def _posts_since(session: Session, event: Event, since: dt.datetime) -> int:
    """How many of the event's posts were published (else collected) at or after `since`."""
    when = func.coalesce(Post.published_at, Post.fetched_at)
    return int(
        session.scalar(
            select(func.count())
            .select_from(PostAnalysis)
            .join(Post, Post.id == PostAnalysis.post_id)
            .where(PostAnalysis.event_id == event.id, when >= since)
        )
        or 0
    )


def _revival_reason(
    session: Session, rt: Runtime, event: Event, recent: int, hours: float, now: dt.datetime
) -> dict[str, Any]:
    """The reason, put first, that says why a story that had ended alerts now."""
    when = func.coalesce(Post.published_at, Post.fetched_at)
    before = session.scalar(
        select(func.max(when))
        .select_from(PostAnalysis)
        .join(Post, Post.id == PostAnalysis.post_id)
        .where(PostAnalysis.event_id == event.id, when < now - dt.timedelta(hours=hours))
    )
    quiet = f"此前最后一条信息发布于 {time_text(before, rt.settings.timezone)}" if before else "此前已沉寂"
    return {
        "key": "revived",
        "text": f"旧事重提：{quiet}，近 {hours:g} 小时又有 {recent} 条相关信息",
        "value": float(recent),
        "threshold": None,
    }


def _hold(event: Event, now: dt.datetime, *, elsewhere: bool) -> None:
    """Hold the event's alert back (old, or `elsewhere`) until it has more posts than now. Once
    held as elsewhere it keeps that place (`alert_held_elsewhere`) until it is released."""
    if event.alert_held_at is None:
        event.alert_held_at = now
    event.alert_held_posts = event.post_count
    event.alert_held_elsewhere = elsewhere or bool(event.alert_held_elsewhere)


def _release(event: Event) -> None:
    event.alert_held_at = None
    event.alert_held_posts = None
    event.alert_held_elsewhere = False


# An escalation this much later than planned (the process was stopped) says so in its notice.
_LATE_ESCALATION = dt.timedelta(minutes=5)


def escalate_due(rt: Runtime) -> int:
    """Unacknowledged alerts whose wait is over go up the chain they were given. Waits run from
    when each level was due, so after the process was down every level whose time has passed is
    told in the same round (once each, with the time it should have been told), not one level a
    wait later. Two processes on PostgreSQL never escalate one alert both (row locks)."""
    now = rt.clock()
    calendar = load_calendar(rt)
    escalated = 0
    with transaction(rt.sessions) as session:
        due = session.scalars(
            select(Alert)
            .where(Alert.status == AlertStatus.OPEN.value, Alert.next_escalation_at <= now)
            .order_by(Alert.id)
            .with_for_update(skip_locked=True)
        ).all()
        for alert in due:
            event = session.get(Event, alert.event_id)
            unit = session.get(Unit, alert.unit_id)
            assert event is not None and unit is not None
            planned = alert.next_escalation_at
            while planned is not None and planned <= now:
                if alert.level + 1 >= len(alert.chain):
                    alert.next_escalation_at = None  # the top of the chain has been told
                    break
                alert.level += 1
                # a level whose holders have all been told of this alert already (in a small bureau
                # the duty officer is the office) is passed at once: its wait would only delay the leader
                while alert.level + 1 < len(alert.chain) and _all_told(session, alert, unit):
                    alert.level += 1
                late = planned if now - planned > _LATE_ESCALATION else None
                _notify_level(
                    session, rt, alert, event, unit, calendar, now, occasion=f"r{alert.repeats}", late=late
                )
                _schedule_next(alert, planned)
                planned = alert.next_escalation_at
                escalated += 1
    return escalated


def _all_told(session: Session, alert: Alert, unit: Unit) -> bool:
    """Whether everyone at the alert's current level has been told of it since it was last raised."""
    holders = {p.id for p in people_with_role(session, alert.chain[alert.level]["role"], unit.id)}
    if not holders:
        return False
    told = set(
        session.scalars(
            select(AlertRecipient.person_id).where(
                AlertRecipient.alert_id == alert.id, AlertRecipient.notified_at >= alert.updated_at
            )
        )
    )
    return holders <= told


def acknowledge(rt: Runtime, alert_id: int, person_ref: str, *, via: str = "cli") -> dict[str, Any]:
    """Acknowledge an alert: its escalation stops. The person must be able to act for its unit."""
    now = rt.clock()
    with transaction(rt.sessions) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise LookupError(not_found(f"预警 #{alert_id}"))
        person = find_person(session, person_ref)
        check_sees(session, person.id, alert.unit_id, f"预警 #{alert.id}")
        if not cases.may_act(session, person.id, alert.unit_id, cases.ACKNOWLEDGERS):
            raise cases.PermissionDenied(
                f"{person.name} 不是该单位的值班员、监测员、办公室人员或领导，不能确认此预警"
            )
        if alert.status != AlertStatus.OPEN.value:
            raise AlertError(
                f"预警 {alert_id} 已{'确认' if alert.status == 'acknowledged' else '关闭'}，无需再次确认"
            )
        alert.status = AlertStatus.ACKNOWLEDGED.value
        alert.acknowledged_at, alert.acknowledged_by = now, person.id
        session.add(AlertAcknowledgement.of(alert, person.id, now))  # kept beside the latest
        alert.next_escalation_at = None
        for case in session.scalars(select(Case).where(Case.alert_id == alert.id)):
            cases.log(session, case, person, "alert_ack", f"确认预警 #{alert.id}", via=via, at=now)
        return alert_view(session, alert, rt.settings.timezone, scope_of(session, person.id))


def alert_view(session: Session, alert: Alert, zone: str, scope: Scope = EVERYTHING) -> dict[str, Any]:
    """The alert as the API shows it; its case only when the scope sees that case (a unit above
    may have taken the alert over in a case of its own)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    unit = session.get(Unit, alert.unit_id)
    acked = session.get(Person, alert.acknowledged_by) if alert.acknowledged_by else None
    recipients = session.scalars(
        select(AlertRecipient).where(AlertRecipient.alert_id == alert.id).order_by(AlertRecipient.id)
    ).all()
    delivered = _deliveries(session, alert.id)
    case_id = session.scalar(select(Case.id).where(Case.alert_id == alert.id, scope.where(Case.unit_id)))
    any_case = session.scalar(select(Case.id).where(Case.alert_id == alert.id))
    taken_over = case_id is None and any_case is not None
    return {
        "id": alert.id,
        "event_id": alert.event_id,
        "case_id": case_id,
        "taken_over": taken_over,  # opened as a case of a unit above, which the reader does not see
        "unit": unit.name if unit else None,
        "kind": alert.kind,
        "kind_label": KIND_LABELS.get(alert.kind, alert.kind),
        "grade": alert.grade,
        "grade_code": alert.grade_code,
        "title": alert.title,
        "reasons": alert.reasons,
        "status": alert.status,
        "repeats": alert.repeats,
        "level": alert.level,
        "chain": alert.chain,
        "created_at": alert.created_at.astimezone(tz).isoformat(),
        "next_escalation_at": alert.next_escalation_at.astimezone(tz).isoformat()
        if alert.next_escalation_at
        else None,
        "acknowledged_at": alert.acknowledged_at.astimezone(tz).isoformat()
        if alert.acknowledged_at
        else None,
        "acknowledged_by": acked.name if acked else None,
        "recipients": [
            {
                "person_id": r.person_id,
                "level": r.level,
                "reason": r.reason,
                "at": r.notified_at.astimezone(tz).isoformat(),
                "deliveries": delivered.get((r.person_id, r.level), []),
            }
            for r in recipients
        ],
        "is_drill": alert.is_drill,
    }


_DELIVERY_LABELS = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已送达",
    "failed": "发送失败",
    "cancelled": "已撤回",
}


def _deliveries(session: Session, alert_id: int) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """How each notice of the alert went, by (person, level) and channel: 「钉钉 发送失败：…」 on the
    alert page, where a robot refusing every notice was invisible (its people listed as told)."""
    from yuqing.notify.models import Notification
    from yuqing.org.models import CONTACT_KIND_LABELS, ContactKind

    out: dict[tuple[int, int], list[dict[str, Any]]] = {}
    rows = session.scalars(
        select(Notification)
        .where(Notification.subject_kind == "alert", Notification.subject_id == alert_id)
        .order_by(Notification.id)
    )
    for row in rows:
        found = re.search(r":level:(\d+)", row.dedup_key or "")
        if row.person_id is None or found is None:
            continue
        try:
            channel = CONTACT_KIND_LABELS[ContactKind(row.kind)]
        except ValueError:
            channel = row.kind
        out.setdefault((row.person_id, int(found.group(1))), []).append(
            {
                "channel": channel,
                "status": row.status,
                "status_label": _DELIVERY_LABELS.get(row.status, row.status),
                "attempts": row.attempts,
                "error": row.last_error if row.status in ("failed", "pending") else None,
            }
        )
    return out


def show(rt: Runtime, alert_id: int, person_ref: str | None = None) -> dict[str, Any]:
    """One alert; with `person_ref`, only when its unit is within what they may see
    (`yuqing.org.scope`)."""
    with rt.sessions() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise LookupError(not_found(f"预警 #{alert_id}"))
        scope = EVERYTHING
        if person_ref is not None:
            person_id = find_person(session, person_ref).id
            check_sees(session, person_id, alert.unit_id, f"预警 #{alert.id}")
            scope = scope_of(session, person_id)
        return alert_view(session, alert, rt.settings.timezone, scope)


def list_alerts(
    rt: Runtime, *, status: str | None = None, limit: int = 200, person_ref: str | None = None
) -> list[dict[str, Any]]:
    """Alerts, newest first; with `person_ref`, only those of units the person may see."""
    with rt.sessions() as session:
        scope = cases.reader_scope(session, person_ref)
        query = select(Alert).where(scope.where(Alert.unit_id)).order_by(Alert.id.desc()).limit(limit)
        if status:
            query = query.where(Alert.status == status)
        return [alert_view(session, a, rt.settings.timezone, scope) for a in session.scalars(query)]
