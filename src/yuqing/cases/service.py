"""Case actions: open, advance, categorise, statements, approvals, release, respond, extend, close.

Every action checks the person's role at the case's unit (`org.has_role`: the role held there or
at a parent unit), goes through the transition table where it moves the stage, writes one line
to the case's timeline (who, when, what, from which screen or command), and moves the clocks.
Domain errors are ValueErrors with a Chinese message saying what is missing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from yuqing.alerts.models import Alert, AlertAcknowledgement, AlertRecipient, AlertStatus, alert_duty_key
from yuqing.alerts.notices import tell
from yuqing.analysis.grading import GRADE_ORDER, official_rebuttal, rebutted_after_grading
from yuqing.analysis.models import Event, PostAnalysis
from yuqing.cases import deadlines, workflow
from yuqing.cases.models import (
    Approval,
    Case,
    CaseAction,
    CaseEvidence,
    CaseTask,
    Deadline,
    Reply,
    Stage,
    Statement,
)
from yuqing.cases.plan import (
    CATEGORIES,
    CHANNELS,
    EXTENDABLE,
    DeadlineKind,
    ResponsePlan,
    category_name,
    load_plan,
    rule_text,
)
from yuqing.db import transaction
from yuqing.drills.access import sees_drill, sees_post
from yuqing.drills.policy import ended_drill
from yuqing.ingest.models import PLATFORM_NAMES, Post, Source
from yuqing.notify.messages import Level, Message
from yuqing.org import duty
from yuqing.org.models import PermissionDenied as PermissionDenied  # the one 403 class of every domain
from yuqing.org.models import Person, RoleAssignment, Unit
from yuqing.org.roles import Role
from yuqing.org.scope import EVERYTHING, Scope, check_sees, not_found, scope_of
from yuqing.org.service import (
    ancestors,
    find_person,
    find_unit,
    get_unit,
    has_role,
    nearest_holders,
    people_with_role,
)
from yuqing.reports.common import clip, time_text
from yuqing.runtime import Runtime
from yuqing.workcal.clock import WorkCalendar
from yuqing.workcal.service import load_calendar

GRADE_NAMES = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
ACKNOWLEDGERS = ("duty_officer", "monitor", "office", "deputy_leader", "chief", "leading_group")
OPENERS = ACKNOWLEDGERS
DRAFTERS = ("office", "deputy_leader", "chief", "leading_group")
RELEASERS = ("office", "deputy_leader", "chief", "leading_group")
EXTENDERS = ("office", "deputy_leader", "chief", "leading_group")
TASKERS = ("office", "deputy_leader", "chief", "leading_group")


def may_act(session: Session, person_id: int, unit_id: int, roles: Iterable[str]) -> bool:
    return any(has_role(session, person_id, role, unit_id) for role in roles)


# Who may change a case's grade (and so its report clock, approvals and duty).
_REGRADERS = ("deputy_leader", "chief", "leading_group")


def _visible_case(session: Session, case_id: int, person: Person) -> Case:
    """The case a person acts on, refused (403) before anything about it is told when it belongs
    to a unit they may not see: a refusal naming the case's stage or the approvals it still
    needs would tell another unit what it may not read. A case of a drill that has ended takes
    no more actions (409)."""
    case = _case(session, case_id)
    check_sees(session, person.id, case.unit_id, f"工单 #{case.id}")
    _check_drill_going(session, case)
    return case


def _deciding_on(session: Session, case_id: int, person: Person) -> Case:
    """The case a person decides on (approves, releases, settles a reply, withdraws), its row
    locked first for the rest of the transaction: two decisions on one case never both read it
    before either writes. A leader's approval sent eight times at once recorded eight approvals;
    a rejection could be overwritten by an approval read before it. On SQLite the write takes the
    database's write lock (a read would not); on PostgreSQL it locks the case's row."""
    session.execute(
        update(Case).where(Case.id == case_id).values(id=Case.id).execution_options(synchronize_session=False)
    )
    return _visible_case(session, case_id, person)


def _case_drill(session: Session, case: Case) -> int | None:
    """The drill a drill case exercises: through its event, its alert's event, or its post."""
    if not case.is_drill:
        return None
    event_id = case.event_id
    if event_id is None and case.alert_id is not None:
        event_id = session.scalar(select(Alert.event_id).where(Alert.id == case.alert_id))
    if event_id is not None:
        return session.scalar(select(Event.drill_id).where(Event.id == event_id))
    if case.post_id is not None:
        return session.scalar(
            select(Source.drill_id).join(Post, Post.source_id == Source.id).where(Post.id == case.post_id)
        )
    return None


def _check_drill_going(session: Session, case: Case) -> None:
    """WorkflowError when the case's drill has ended: what is done after is no part of it (its
    score, its clocks and notices are over)."""
    ended = ended_drill(session, _case_drill(session, case))
    if ended is not None:
        raise workflow.WorkflowError(f"演练 #{ended} 已结束，工单 #{case.id} 不能再处置")


def _require(session: Session, person: Person, case: Case, roles: Iterable[str], what: str) -> None:
    roles = tuple(roles)
    if not may_act(session, person.id, case.unit_id, roles):
        names = "、".join(Role(r).label for r in roles)
        raise PermissionDenied(f"{person.name} 无权{what}：需要本单位（或上级单位）的以下角色之一：{names}")


def log(
    session: Session,
    case: Case,
    person: Person | None,
    action: str,
    text: str,
    *,
    via: str,
    at: dt.datetime,
    detail: dict[str, Any] | None = None,
) -> CaseAction:
    entry = CaseAction(
        case_id=case.id,
        at=at,
        person_id=person.id if person else None,
        actor=person.name if person else "系统",
        action=action,
        text=text,
        detail=detail or {},
        via=via,
    )
    session.add(entry)
    return entry


def _utc(text: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(not_found(f"工单 #{case_id}"))
    return case


def _local(at: dt.datetime | None, zone: str) -> str | None:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo(zone)).isoformat() if at else None


def _plan(rt: Runtime) -> ResponsePlan:
    return load_plan(rt.settings.plan_profile or None)


def _event_of(session: Session, post: Post | None) -> Event | None:
    """The event the post was clustered into, if any."""
    if post is None:
        return None
    event_id = session.scalar(select(PostAnalysis.event_id).where(PostAnalysis.post_id == post.id))
    return session.get(Event, event_id) if event_id is not None else None


def _is_drill_post(session: Session, post: Post | None) -> int | None:
    """The drill whose post this is (its source's), or None."""
    if post is None:
        return None
    return session.scalar(select(Source.drill_id).where(Source.id == post.source_id))


def _is_drill(session: Session, event: Event | None, post: Post | None) -> bool:
    """A case opened from a drill's event or post (without an alert) is a drill case too."""
    if event is not None:
        return bool(event.is_drill)
    if post is not None:
        return session.scalar(select(Source.drill_id).where(Source.id == post.source_id)) is not None
    return False


def _duty_24h(session: Session, case: Case, plan: ResponsePlan, at: dt.datetime) -> None:
    if case.grade_code in plan.twenty_four_hour_duty and not case.is_drill:
        duty.start_24h_duty(
            session, case.unit_id, f"{case.grade}事件处置中（工单 #{case.id}）", at, key=f"case:{case.id}"
        )


# ---- telling the people who must act ------------------------------------------------------------


def console_link(rt: Runtime, path: str) -> str:
    """The console's address of `path`, as notices link to it (`public_url`, else host and port)."""
    base = rt.settings.public_url or f"http://{rt.settings.host}:{rt.settings.port}"
    return f"{base.rstrip('/')}{path}"


def _internal_only(session: Session, case: Case) -> bool:
    from yuqing.drills.policy import notices_internal_only

    return case.is_drill and notices_internal_only(session, case.event_id)


def _holders_at(session: Session, role: str, unit_id: int) -> list[Person]:
    """The active holders of `role` at exactly this unit (not above it)."""
    return list(
        session.scalars(
            select(Person)
            .join(RoleAssignment, RoleAssignment.person_id == Person.id)
            .where(RoleAssignment.role == role, RoleAssignment.unit_id == unit_id, Person.active.is_(True))
            .order_by(Person.id)
        )
    )


def task_recipients(session: Session, unit_id: int) -> list[Person]:
    """Who hears of a task given to a department: its liaisons (联络员), else its office, else the
    nearest office above it."""
    return (
        _holders_at(session, Role.LIAISON.value, unit_id)
        or _holders_at(session, Role.OFFICE.value, unit_id)
        or people_with_role(session, Role.OFFICE, unit_id)
    )


def _tell_task(
    rt: Runtime, session: Session, case: Case, task: CaseTask, unit: Unit, now: dt.datetime
) -> None:
    owner = session.get(Unit, case.unit_id)
    owner_name = owner.name if owner else "工单承办单位"
    prefix = "【演练】" if case.is_drill else ""
    due = time_text(task.due_at, rt.settings.timezone)
    tell(
        session,
        task_recipients(session, unit.id),
        Message(
            title=f"{prefix}【部门任务】工单 #{case.id}："
            + ("本单位内部分派任务" if unit.id == case.unit_id else f"{owner_name}向{unit.name}分派任务"),
            body=f"任务：{task.text}\n请于 {due} 前办结，并在控制台「待办」中填写办理结果。",
            at=now,
            level=Level.for_grade(case.grade_code),
            link=console_link(rt, "/me/todo"),
            facts=(("工单", f"#{case.id}"), ("分派单位", owner_name), ("完成时限", due)),
            internal_only=_internal_only(session, case),
        ),
        key=f"task:{task.id}:assigned",
        subject=("task", task.id),
    )


def _tell_case(
    rt: Runtime,
    session: Session,
    case: Case,
    people: list[Person],
    title: str,
    body: str,
    key: str,
    now: dt.datetime,
) -> None:
    """A notice about the case, with its grade, a link to it and the drill mark, to `people`."""
    tell(
        session,
        people,
        Message(
            title=("【演练】" if case.is_drill else "") + title,
            body=body,
            at=now,
            level=Level.for_grade(case.grade_code),
            link=console_link(rt, f"/cases/{case.id}"),
            facts=(("工单", f"#{case.id}"), ("等级", case.grade)),
            internal_only=_internal_only(session, case),
        ),
        key=key,
        subject=("case", case.id),
    )


def _tell_office(
    rt: Runtime,
    session: Session,
    case: Case,
    title: str,
    body: str,
    key: str,
    now: dt.datetime,
    *,
    actor: Person | None = None,
) -> None:
    """The case's office (办公室, who runs it) hears what others did to it."""
    people = [
        p for p in people_with_role(session, Role.OFFICE, case.unit_id) if actor is None or p.id != actor.id
    ]
    _tell_case(rt, session, case, people, title, body, key, now)


def _tell_drafter(
    rt: Runtime, session: Session, case: Case, statement: Statement, title: str, body: str, now: dt.datetime
) -> None:
    """The approvers' decision, to whoever drafted the statement (they release it or redraft)."""
    drafter = session.get(Person, statement.drafted_by)
    if drafter is not None:
        key = f"statement:{statement.id}:decided:{statement.status}"
        _tell_case(rt, session, case, [drafter], title, body, key, now)


def _withdraw_approval_requests(
    session: Session, statement: Statement, keep: Iterable[str], now: dt.datetime
) -> None:
    """Requests to approve this draft in roles it no longer needs (the grade changed, the draft
    was decided or replaced) leave the unread inbox: nobody is asked for what is not wanted."""
    from yuqing.notify.models import Notification

    kept = [~Notification.dedup_key.like(f"statement:{statement.id}:approve:{role}:%") for role in keep]
    _withdraw_requests(session, f"statement:{statement.id}:approve:%", now, *kept)


def _withdraw_requests(session: Session, keys: str, now: dt.datetime, *also: Any) -> None:
    """Unread in-app requests whose key is like `keys` (and meet `also`) are marked read: what
    they asked for is no longer wanted."""
    from yuqing.notify.models import Notification

    session.execute(
        update(Notification)
        .where(
            Notification.dedup_key.like(keys),
            *also,
            Notification.kind == "in_app",
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )


def _tell_approvers(
    rt: Runtime, session: Session, case: Case, statement: Statement, roles: Iterable[str], now: dt.datetime
) -> None:
    """Ask the holders of each role still missing (at the case's unit or, failing that, above it:
    the city's chief approves its bureau's 特别重大 statement) to read and approve the draft."""
    prefix = "【演练】" if case.is_drill else ""
    # one request per person: whoever holds two of the roles may approve in only one of them
    asked: set[int] = {statement.drafted_by}
    for role in roles:
        people = [p for p in people_with_role(session, role, case.unit_id) if p.id not in asked]
        asked.update(p.id for p in people)
        label = Role(role).label
        tell(
            session,
            people,
            Message(
                title=f"{prefix}【待审批】工单 #{case.id} 第 {statement.version} 稿声明待{label}审批",
                body=f"工单「{case.title[:60]}」（{case.grade}）的声明第 {statement.version} 稿已起草，"
                f"须经{label}审批后方可发布。已核实的事实：{statement.facts[:120]}",
                at=now,
                level=Level.for_grade(case.grade_code),
                link=console_link(rt, f"/cases/{case.id}"),
                facts=(("工单", f"#{case.id}"), ("等级", case.grade), ("审批", label)),
                internal_only=_internal_only(session, case),
            ),
            key=f"statement:{statement.id}:approve:{role}",
            subject=("case", case.id),
        )


# ---- opening ------------------------------------------------------------------------------------


def event_known_at(session: Session, event: Event) -> dt.datetime:
    """When the event became known to the office: its first post's publication, or when yuqing
    collected its first post if that was later (old posts collected now: a backfill must not
    open a case whose first-response clock ran out a year ago)."""
    collected = session.scalar(
        select(func.min(Post.fetched_at))
        .join(PostAnalysis, PostAnalysis.post_id == Post.id)
        .where(PostAnalysis.event_id == event.id)
    )
    return max(event.first_seen, collected) if collected is not None else event.first_seen


def event_alert(session: Session, event_id: int) -> Alert | None:
    """The alert a case opened on the event takes up (its first: one per event and unit), whose
    unit is responsible for it. The event page asks the same to know whom to offer 开立工单."""
    return session.scalars(select(Alert).where(Alert.event_id == event_id).order_by(Alert.id)).first()


def _opening_unit(
    session: Session,
    person: Person,
    alert: Alert | None,
    event: Event | None,
    unit_ref: str | None,
    *,
    by_hand: bool = False,
) -> Unit:
    """The unit a new case belongs to, and the check that the person may open it there.

    An alert (or, without one, the event's routing) names the responsible unit: the case is that
    unit's, opened by its people or by a unit above it (roles are inherited downwards). A unit
    above may take the case over by naming itself (`unit_ref`); no other unit may, so one unit
    cannot take another's alert. A case opened by hand from a post (`by_hand`) of an event no unit
    is responsible for, or of no event, belongs to the named unit or the person's own."""
    routed: Unit | None = None
    source = ""
    if alert is not None:
        routed = session.get(Unit, alert.unit_id)
        # an alert the person does not see is not named (its number would tell it exists); the
        # event's responsible unit is no secret: it follows from the event and the topics
        seen = scope_of(session, person.id).sees(alert.unit_id)
        source = f"预警 #{alert.id}" if seen else f"事件 #{alert.event_id}"
    elif event is not None:
        from yuqing.alerts.service import route

        routed, source = route(session, event), f"事件 #{event.id}"
    if unit_ref:
        unit = find_unit(session, unit_ref)
        if routed is not None and unit.id not in {u.id for u in ancestors(session, routed.id)}:
            raise PermissionDenied(
                f"{source}的责任单位是 {routed.name}：工单只能开立给该单位或由其上级单位接手，"
                f"不能开立给 {unit.name}"
            )
    elif routed is not None:
        unit = routed
    elif event is not None and not by_hand:
        raise ValueError("无法确定该事件的责任单位，请用 --unit 指定")
    else:
        unit = get_unit(session, person.unit_id)
    if not may_act(session, person.id, unit.id, OPENERS):
        raise PermissionDenied(
            f"{person.name} 不是 {unit.name}（或其上级单位）的监测、值班、办公室人员或领导，不能开立工单"
        )
    return unit


def open_case(
    rt: Runtime,
    person_ref: str,
    *,
    event_id: int | None = None,
    alert_id: int | None = None,
    post_id: int | None = None,
    unit_ref: str | None = None,
    grade_code: str | None = None,
    via: str = "cli",
) -> dict[str, Any]:
    """Open a case from an alert, an event (its alert when there is one), or by hand from a post."""
    now = rt.clock()
    plan, calendar = _plan(rt), load_calendar(rt)
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        alert: Alert | None = None
        event: Event | None = None
        post: Post | None = None
        if alert_id is not None:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise LookupError(not_found(f"预警 #{alert_id}"))
            # another unit's alert is answered as a missing one, before its unit is named
            check_sees(session, person.id, alert.unit_id, f"预警 #{alert_id}")
            event_id = alert.event_id
        scope = scope_of(session, person.id)
        if event_id is not None:
            event = session.get(Event, event_id)
            # another unit's drill event is answered as a missing one
            if event is None or not sees_drill(session, scope, event.drill_id):
                raise LookupError(f"找不到事件 {event_id}")
            if alert is None:
                alert = event_alert(session, event_id)
        elif post_id is not None:
            post = session.get(Post, post_id)
            if post is None or not sees_post(session, scope, post):
                raise LookupError(f"找不到信息 {post_id}")
            # a post of an event opens the event's case (its grade, its unit, one open case at a
            # time), with the post as the evidence it was opened on
            event = _event_of(session, post)
            if event is not None and alert is None:
                alert = event_alert(session, event.id)
        else:
            raise ValueError("请指定 --event、--alert 或 --post")
        drill_id = event.drill_id if event is not None else _is_drill_post(session, post)
        ended = ended_drill(session, drill_id)
        if ended is not None:
            raise workflow.WorkflowError(f"演练 #{ended} 已结束，不能再开立演练工单")
        # may they open it at all, and for which unit
        unit = _opening_unit(session, person, alert, event, unit_ref, by_hand=post is not None)
        if event is not None:
            existing = session.scalars(
                select(Case).where(Case.event_id == event.id, Case.stage != Stage.CLOSED.value)
            ).first()
            if existing is not None:
                if scope_of(session, person.id).sees(existing.unit_id):
                    raise ValueError(f"事件 {event.id} 已有未结案的工单 #{existing.id}")
                # a case of a unit the person does not see: neither its number nor its unit
                raise ValueError(f"事件 {event.id} 已由其他单位开立未结案的工单")
        # a post of a graded event carries its event's grade: opening from the post is no way
        # around it
        graded = event.grade_code if event is not None and event.grade_code else None
        code = (grade_code or "").strip().upper() or graded or "IV"
        if code not in GRADE_ORDER:
            raise ValueError(f"等级代码应为 I、II、III 或 IV，实为 {code!r}")
        if graded is not None and code != graded and not may_act(session, person.id, unit.id, _REGRADERS):
            # The grade sets the report clock, the approvals and the duty: a case of a graded event
            # starts at the event's grade, and only those who may regrade a case may start it
            # elsewhere (a 监测员 opening a 特别重大 alert as 一般 would skip the chief's approval).
            names = "、".join(Role(r).label for r in _REGRADERS)
            assert event is not None
            what = f"该信息所属的事件 #{event.id}" if post is not None else "事件"
            raise PermissionDenied(
                f"{person.name} 无权改变等级：{what}已定为{GRADE_NAMES[graded]}，"
                f"按其他等级开立工单需要本单位（或上级单位）的以下角色之一：{names}"
            )
        if event is not None:
            title = event.title
            known = event_known_at(session, event)
        else:
            assert post is not None
            title = (post.title or post.text or "")[:80]
            known = post.fetched_at or now
        detected = alert.created_at if alert is not None else now
        case = Case(
            title=title[:200] or "（无标题）",
            event_id=event.id if event else None,
            post_id=post.id if post else None,
            alert_id=alert.id if alert else None,
            unit_id=unit.id,
            stage=Stage.DETECTED.value,
            grade_code=code,
            grade=GRADE_NAMES[code],
            detected_at=min(detected, now),
            known_at=min(known, now),
            opened_at=now,
            opened_by=person.id,
            stage_changed_at=now,
            followed_posts=event.post_count if event else 0,
            is_drill=bool(alert.is_drill) if alert else _is_drill(session, event, post),
        )
        session.add(case)
        session.flush()
        if post is not None:
            source = f"信息 #{post.id}" + (f"（事件 #{event.id}）" if event is not None else "")
        else:
            source = f"预警 #{alert.id}" if alert else f"事件 #{event.id}" if event else ""
        log(session, case, person, "open", f"由{source}开立工单，等级 {case.grade}", via=via, at=now)
        started = deadlines.start_case_clocks(session, case, plan, calendar)
        for clock in started:
            if clock.calendar_warning:
                log(session, case, None, "calendar_warning", clock.calendar_warning, via="system", at=now)
        if post is not None:
            session.add(
                CaseEvidence(
                    case_id=case.id,
                    post_id=post.id,
                    note="开立工单所据信息",
                    added_by=person.id,
                    added_at=now,
                )
            )
        _duty_24h(session, case, plan, now)
        if case.grade_code in plan.twenty_four_hour_duty and not case.is_drill:
            log(session, case, None, "duty", f"{case.grade}事件：本单位转入24小时值班", via="system", at=now)
        _acknowledge_on_opening(session, case, person, alert, now, via)
        return case_view(session, case, rt.settings.timezone)


def _acknowledge_on_opening(
    session: Session, case: Case, person: Person, alert: Alert | None, now: dt.datetime, via: str
) -> None:
    """Opening a case on an alert is taking it in hand: its escalation stops, as if acknowledged
    (the duty officer, then the office and the leaders were being told nobody had)."""
    waiting = [alert] if alert is not None else []
    if case.event_id is not None:
        waiting += list(
            session.scalars(
                select(Alert).where(Alert.event_id == case.event_id, Alert.unit_id == case.unit_id)
            )
        )
    for taken in {a.id: a for a in waiting}.values():
        # the 24-hour duty the alert started goes with the case from now (its own, by its grade)
        duty.end_24h_duty(
            session,
            taken.unit_id,
            f"预警 #{taken.id} 已开立工单 #{case.id}，值班安排随工单",
            now,
            key=alert_duty_key(taken.id),
        )
    for open_alert in {a.id: a for a in waiting}.values():
        if open_alert.status != AlertStatus.OPEN.value:
            continue
        open_alert.status = AlertStatus.ACKNOWLEDGED.value
        open_alert.acknowledged_at, open_alert.acknowledged_by = now, person.id
        session.add(AlertAcknowledgement.of(open_alert, person.id, now))
        open_alert.next_escalation_at = None
        log(
            session,
            case,
            person,
            "alert_ack",
            f"开立工单即确认预警 #{open_alert.id}，停止升级通知",
            via=via,
            at=now,
        )


# ---- the stages ---------------------------------------------------------------------------------


def _facts(session: Session, case: Case) -> workflow.CaseFacts:
    released = session.scalar(
        select(func.count())
        .select_from(Statement)
        .where(Statement.case_id == case.id, Statement.status == "released")
    )
    open_tasks = session.scalar(
        select(func.count())
        .select_from(CaseTask)
        .where(CaseTask.case_id == case.id, CaseTask.done_at.is_(None))
    )
    return workflow.CaseFacts(
        case.stage, case.category, int(released or 0), case.summary, int(open_tasks or 0)
    )


def _move(
    session: Session,
    rt: Runtime,
    case: Case,
    target: Stage,
    person: Person | None,
    *,
    via: str,
    at: dt.datetime,
    note: str = "",
    withdrawing: bool = False,
) -> None:
    move = workflow.transition(case.stage, target.value)
    if move.withdraw and not withdrawing:
        raise workflow.WorkflowError(
            f"「{Stage(case.stage).label}」阶段的工单须先处置、发布权威信息、跟踪和总结后结案；"
            "不需要处置的工单（误报等）可由领导写明理由后撤销"
        )
    if person is not None:
        _require(session, person, case, move.roles, f"将工单转入「{target.label}」")
    workflow.check(move, _facts(session, case))
    source = Stage(case.stage)
    case.stage, case.stage_changed_at = target.value, at
    text = f"{source.label} → {target.label}" + (f"：{note}" if note else "")
    log(
        session,
        case,
        person,
        "reopen" if move.reopen else "advance",
        text,
        via=via,
        at=at,
        detail={"from": source.value, "to": target.value},
    )
    if target == Stage.REPORTED:
        _complete_clocks(session, case, [DeadlineKind.REPORT], at)
        _report_up(rt, session, case, person, at)
    if target == Stage.FOLLOWING:
        event = session.get(Event, case.event_id) if case.event_id else None
        case.followed_posts = event.post_count if event else 0
        case.calm_proposed_at = None
    if move.reopen:
        case.reopened += 1
        case.closed_at = case.withdrawn_at = None
        event = session.get(Event, case.event_id) if case.event_id else None
        case.followed_posts = event.post_count if event else case.followed_posts
        _duty_24h(session, case, _plan(rt), at)
    if target == Stage.CLOSED:
        case.closed_at = at
        _supersede_replies(session, case, at)
        if not withdrawing:  # a withdrawal reports its end itself, with its reason (`withdraw`)
            unsettled = _not_calm(session, rt, case, at)
            if unsettled:
                log(session, case, None, "calm_warning", unsettled, via="system", at=at)
            _report_end(rt, session, case, person, at, unsettled=unsettled)
        ending = "撤销" if withdrawing else "结案"
        for ended in deadlines.cancel_open(session, case.id):
            # said on the case and in its 总结评估: a press conference not held is not 按时完成
            label = deadline_label(ended, task_unit_names(session, [ended]))
            due = time_text(ended.due_at, rt.settings.timezone, year=False)
            log(
                session,
                case,
                None,
                "deadline_ended",
                f"{ending}时{label}尚未完成（应于{due}前），该时限随{ending}终止",
                via="system",
                at=at,
                detail={"deadline_id": ended.id},
            )
        duty.end_24h_duty(session, case.unit_id, f"工单 #{case.id} {ending}", at, key=f"case:{case.id}")
        if case.alert_id is not None:
            alert = session.get(Alert, case.alert_id)
            if alert is not None:
                alert.status, alert.next_escalation_at = "closed", None


# Whom a report up reaches at the unit above, by grade (PRODUCT.md §2.4): its office always; for
# 较大 its deputy leader; for 重大 and 特别重大 its chief. The unit's own chief leads a 重大+ case;
# its own deputy leader, who approves a 较大 case's statements and answers for the rest, hears of
# every report of 较大 and above.
_REPORT_UP_ROLES: dict[str, tuple[Role, ...]] = {
    "I": (Role.OFFICE, Role.CHIEF),
    "II": (Role.OFFICE, Role.CHIEF),
    "III": (Role.OFFICE, Role.DEPUTY_LEADER),
    "IV": (Role.OFFICE,),
}


def _report_recipients(
    session: Session, case: Case, person: Person | None
) -> tuple[Unit | None, list[Person]]:
    """Who hears a report up (报告, and each 续报): at the unit above its office and, by grade, its
    deputy leader or chief; for 较大 and above the unit's own deputy leader, and for 重大 and
    特别重大 its own chief, who leads the response. Not the reporter. ``(unit above, people)``."""
    unit = session.get(Unit, case.unit_id)
    above = session.get(Unit, unit.parent_id) if unit is not None and unit.parent_id is not None else None
    people: dict[int, Person] = {}
    if above is not None:
        for role in _REPORT_UP_ROLES.get(case.grade_code, (Role.OFFICE,)):
            people.update((p.id, p) for p in people_with_role(session, role, above.id))
    if case.grade_code in ("I", "II", "III"):
        people.update((p.id, p) for p in people_with_role(session, Role.DEPUTY_LEADER, case.unit_id))
    if case.grade_code in ("I", "II"):
        people.update((p.id, p) for p in people_with_role(session, Role.CHIEF, case.unit_id))
    people.pop(person.id if person is not None else 0, None)
    return above, list(people.values())


def _report_up(rt: Runtime, session: Session, case: Case, person: Person | None, at: dt.datetime) -> None:
    """报告: the case goes up the chain (`_report_recipients`) with the facts the unit above needs.
    A top unit reports outside yuqing: the timeline says so."""
    unit = session.get(Unit, case.unit_id)
    if unit is None:
        return
    above, people = _report_recipients(session, case, person)
    event = session.get(Event, case.event_id) if case.event_id else None
    facts = [f"等级：{case.grade}"]
    if event is not None:
        from yuqing.alerts.jurisdiction import locate

        facts.append(f"事发地：{locate(session, event).text or '信息中未写明'}")
        first = time_text(event.first_seen, rt.settings.timezone)
        last = time_text(event.last_seen, rt.settings.timezone)
        facts.append(f"相关信息 {event.post_count} 条，首见于{first}，最新一条见于{last}")
        reasons = "；".join(str(r.get("text", "")) for r in (event.reasons or [])[:3] if r.get("text"))
        if event.grade_set_by:
            # a leader's grade: its reason, not the system's figures for another grade, tells the
            # chief woken for a 重大 why it is 重大
            note = (event.grade_note or "").split("：", 1)[-1] if "：" in (event.grade_note or "") else ""
            facts.append(
                f"等级由{event.grade_set_by}调整为{case.grade}" + (f"，理由：{note}" if note else "")
            )
            if reasons:
                facts.append(f"系统定级依据：{reasons}")
        elif reasons:
            facts.append(f"定级依据：{reasons}")
    facts.append(f"类别：{case.category or '尚未研判'}")
    who = f"{person.name}（{unit.name}）" if person is not None else unit.name
    body = f"{who}报告：工单「{case.title[:60]}」。" + "；".join(facts) + "。"
    if people:
        _tell_case(
            rt,
            session,
            case,
            people,
            f"【舆情报告】{unit.name}报告{case.grade}舆情：{clip(case.title, 30)}（工单 #{case.id}）",
            body,
            f"case:{case.id}:reported:{case.reopened}",
            at,
        )
    told = "、".join(sorted({p.name for p in people}))
    where = f"已报告{above.name}" if above is not None else "本单位为最高层级，请按规定向系统外上级报告"
    text = where + (f"，已通知：{told}" if told else "")
    detail = {"posts": event.post_count if event is not None else None}
    log(session, case, None, "report_up", text, via="system", at=at, detail=detail)


def _not_calm(session: Session, rt: Runtime, case: Case, at: dt.datetime) -> str | None:
    """When a case closes while its event has not calmed down by the plan's calm rule (a leader
    may close right after the release): what the record says, for the timeline and the 终报."""
    from yuqing.cases.followup import _posts_last_day

    event = session.get(Event, case.event_id) if case.event_id else None
    if event is None:
        return None
    plan = _plan(rt)
    quiet = (at - event.last_seen).total_seconds() / 3600
    daily = _posts_last_day(event, at)
    if quiet >= plan.calm_quiet_hours and daily < plan.calm_daily_posts:
        return None
    return (
        f"结案时舆情尚未平息：最近一条信息距结案{_duration_words(quiet)}"
        f"（平息条件：{plan.calm_quiet_hours:g} 小时无新增），近一日 {daily} 条"
        f"（条件：少于 {plan.calm_daily_posts} 条）；结案后新增 {plan.flare_up_posts} 条以上"
        f"且每小时增速达到结案前的 {plan.flare_up_rate:g} 倍时将重新处置（舆情反复），请继续关注"
    )


def _duration_words(hours: float) -> str:
    """「35 分钟」, 「5.5 小时」, 「3 天」."""
    if hours < 1:
        return f"{max(hours * 60, 0):.0f} 分钟"
    if hours < 48:
        return f"{hours:.1f} 小时".replace(".0 ", " ")
    return f"{hours / 24:.0f} 天"


def _report_end(
    rt: Runtime,
    session: Session,
    case: Case,
    person: Person | None,
    at: dt.datetime,
    *,
    reason: str | None = None,
    told: Iterable[int] = (),
    unsettled: str | None = None,
) -> None:
    """终报: a case that was reported up (报告) tells those the report reached how it ended —
    closed after its response, with its category, duration, statement and summary, or withdrawn
    with the reason (`reason`) — so the unit above does not keep a 特别重大 open in its mind that
    this unit has long closed. People in `told` already heard it otherwise. Nothing for a case
    never reported (its unit above never heard of it)."""
    reported = session.scalar(
        select(CaseAction.id).where(CaseAction.case_id == case.id, CaseAction.action == "report_up").limit(1)
    )
    if reported is None:
        return
    from yuqing.reports.summary import duration_text

    zone = rt.settings.timezone
    unit = session.get(Unit, case.unit_id)
    unit_name = unit.name if unit is not None else ""
    above, people = _report_recipients(session, case, person)
    skip = set(told)
    people = [p for p in people if p.id not in skip]
    who = f"{person.name}（{unit_name}）" if person is not None else unit_name
    if reason is not None:
        title = f"【工单撤销】{unit_name}撤销此前报告的{case.grade}舆情：工单 #{case.id}"
        body = (
            f"{who}撤销工单「{case.title[:60]}」：{reason.rstrip('。')}。"
            "该工单此前已报告，各项时限随撤销终止。"
        )
        key, action = f"case:{case.id}:withdrawn_up:{case.reopened}", "撤销情况"
    else:
        facts = [f"等级：{case.grade}", f"类别：{case.category or '未研判'}"]
        facts.append(f"历时{duration_text((at - case.detected_at).total_seconds() / 60)}（自发现起）")
        event = session.get(Event, case.event_id) if case.event_id else None
        if event is not None:
            facts.append(f"相关信息 {event.post_count} 条，最近一条见于{time_text(event.last_seen, zone)}")
        released = session.scalar(
            select(Statement)
            .where(Statement.case_id == case.id, Statement.status == "released")
            .order_by(Statement.version.desc())
            .limit(1)
        )
        if released is not None:
            facts.append(f"权威信息：第 {released.version} 稿已于{time_text(released.released_at, zone)}发布")
        if unsettled:
            facts.append(unsettled)
        summary = " ".join((case.summary or "").split())
        if summary:
            facts.append(f"总结：{summary[:300]}{'…' if len(summary) > 300 else ''}")
        title = f"【舆情终报】{unit_name}{case.grade}舆情处置完毕：工单 #{case.id}"
        body = f"{who}终报：工单「{case.title[:60]}」已结案。" + "；".join(facts).rstrip("。；") + "。"
        key, action = f"case:{case.id}:closed_up:{case.reopened}", "终报"
    if people:
        _tell_case(rt, session, case, people, title, body, key, at)
    names = "、".join(sorted({p.name for p in people}))
    where = (
        f"已向{above.name}报告{action}"
        if above is not None
        else f"本单位为最高层级，请按规定向系统外上级报告{action}"
    )
    log(
        session,
        case,
        None,
        "report_end",
        where + (f"，已通知：{names}" if names else ""),
        via="system",
        at=at,
    )


# 续报 may be sent once the case has been reported and until it is closed.
_FOLLOW_UP_STAGES = frozenset(
    {
        Stage.REPORTED.value,
        Stage.ASSESSED.value,
        Stage.DISPOSING.value,
        Stage.FOLLOWING.value,
        Stage.SUMMARISED.value,
    }
)
FOLLOW_UP_MAX_CHARS = 1000
# A reply to posters, or a formal 答复意见 of several pages: what the case record and its reports hold.
RESPONSE_MAX_CHARS = 10_000
_STATEMENT_STATES = {"draft": "审批中", "approved": "已审批、待发布", "rejected": "被退回修改"}


def _follow_up_facts(session: Session, case: Case, zone: str, last: CaseAction | None) -> list[str]:
    """The state a 续报 carries besides the sender's words: stage, grade, spread since the last
    report, the authoritative statement and the departments' tasks."""
    facts = [f"当前阶段：{Stage(case.stage).label}", f"等级：{case.grade}"]
    event = session.get(Event, case.event_id) if case.event_id else None
    if event is not None:
        before = (last.detail or {}).get("posts") if last is not None else None
        grown = ""
        if isinstance(before, int):
            change = "增加" if event.post_count >= before else "减少"
            grown = f"（较上次报告{change} {abs(event.post_count - before)} 条）"
        facts.append(f"相关信息 {event.post_count} 条{grown}，最近一条见于{time_text(event.last_seen, zone)}")
    statement = _latest_statement(session, case.id)
    if statement is None:
        facts.append("权威信息：尚未起草")
    elif statement.status == "released":
        facts.append(f"权威信息：第 {statement.version} 稿已于{time_text(statement.released_at, zone)}发布")
    else:
        missing = "、".join(Role(r).label for r in missing_roles(session, statement))
        state = _STATEMENT_STATES.get(statement.status, statement.status)
        facts.append(
            f"权威信息：第 {statement.version} 稿{state}"
            + (f"，待{missing}审批" if missing and statement.status == "draft" else "")
        )
    tasks = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).all()
    if tasks:
        done = sum(t.done_at is not None for t in tasks)
        facts.append(f"部门任务 {len(tasks)} 项，已完成 {done} 项")
    return facts


def follow_up(rt: Runtime, case_id: int, text: str, person_ref: str, *, via: str = "cli") -> dict[str, Any]:
    """续报: during the response the unit keeps those it reported to informed (「在应急处置过程中，
    要及时续报有关情况」). The sender's words go with the case's state (`_follow_up_facts`), to
    the people the report reached; the timeline numbers each 续报."""
    words = " ".join(text.split())
    if not words:
        raise ValueError("续报须写明进展情况（--text）")
    if len(words) > FOLLOW_UP_MAX_CHARS:
        raise ValueError(f"续报不超过 {FOLLOW_UP_MAX_CHARS} 字（现为 {len(words)} 字）")
    now = rt.clock()
    zone = rt.settings.timezone
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _require(session, person, case, DRAFTERS, "续报")
        if case.stage == Stage.DETECTED.value:
            raise workflow.WorkflowError("工单尚未报告：请先转入「报告」阶段，再续报")
        if case.stage not in _FOLLOW_UP_STAGES:
            raise workflow.WorkflowError("工单已结案，无需续报")
        reports = session.scalars(
            select(CaseAction)
            .where(CaseAction.case_id == case.id, CaseAction.action.in_(("report_up", "follow_up")))
            .order_by(CaseAction.id)
        ).all()
        number = sum(a.action == "follow_up" for a in reports) + 1
        facts = _follow_up_facts(session, case, zone, reports[-1] if reports else None)
        unit = session.get(Unit, case.unit_id)
        unit_name = unit.name if unit is not None else ""
        above, people = _report_recipients(session, case, person)
        if people:
            _tell_case(
                rt,
                session,
                case,
                people,
                f"【舆情续报】{unit_name}第 {number} 次续报{case.grade}舆情：{clip(case.title, 30)}"
                f"（工单 #{case.id}）",
                f"{person.name}（{unit_name}）续报：工单「{case.title[:60]}」。{words}\n"
                + "；".join(facts)
                + "。",
                f"case:{case.id}:follow_up:{number}",
                now,
            )
        # after an upgrade, the 续报 is the report at the new grade (`deadlines.retime_for_grade`)
        _complete_clocks(session, case, [DeadlineKind.REPORT], now)
        told = "、".join(sorted({p.name for p in people}))
        where = f"已续报{above.name}" if above is not None else "本单位为最高层级，请按规定向系统外上级续报"
        event = session.get(Event, case.event_id) if case.event_id else None
        log(
            session,
            case,
            person,
            "follow_up",
            f"第 {number} 次续报：{words}（{where}" + (f"，已通知：{told}" if told else "") + "）",
            via=via,
            at=now,
            detail={
                "number": number,
                "posts": event.post_count if event is not None else None,
                "facts": facts,
            },
        )
        return case_view(session, case, zone)


def _complete_clocks(session: Session, case: Case, kinds: Iterable[str], at: dt.datetime) -> None:
    """Mark the case's running clocks of these kinds done at `at`, with a timeline line each."""
    for kind in kinds:
        for done in deadlines.complete(session, case.id, kind, at):
            text = f"{DeadlineKind.LABELS[kind]}时限：{_state_label(done.state)}"
            log(session, case, None, "deadline", text, via="system", at=at)


def _state_label(state: str) -> str:
    from yuqing.cases.models import DeadlineState

    return DeadlineState(state).label


PHONE_TO_MAX_CHARS = 200


def phone_report_required(rt: Runtime, case: Case) -> bool:
    """Whether the plan wants this case's report made by telephone as well (重大, 特别重大)."""
    return (case.grade_code or "IV") in _plan(rt).phone_report


def _call_time(text: str | None, now: dt.datetime, zone: str, since: dt.datetime | None) -> dt.datetime:
    """When a call was made, as the person gives it: 「10:05」 (today), 「2026-11-20 10:05」, or
    nothing (now). Never later than now, nor before the case was detected."""
    if not text or not text.strip():
        return now
    raw = text.strip().replace("：", ":").replace("T", " ")
    local_now = now.astimezone(ZoneInfo(zone))
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}", raw):
            hour, minute = (int(x) for x in raw.split(":"))
            when = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if when > now + dt.timedelta(minutes=1):  # 「23:55」 recorded at 00:10: yesterday's call
                when -= dt.timedelta(days=1)
        else:
            when = dt.datetime.fromisoformat(raw)
            if when.tzinfo is None:
                when = when.replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        raise ValueError(f"电话报告时间「{text.strip()}」无法识别，应如 10:05 或 2026-11-20 10:05") from None
    if when > now + dt.timedelta(minutes=1):
        raise ValueError(f"电话报告时间 {time_text(when, zone)} 晚于现在，请填写已经打过电话的时间")
    if since is not None and when < since - dt.timedelta(minutes=1):
        raise ValueError(f"电话报告时间 {time_text(when, zone)} 早于发现时间 {time_text(since, zone)}")
    return when


def _log_phone_report(
    session: Session,
    rt: Runtime,
    case: Case,
    person: Person,
    to: str,
    called_at: str | None,
    *,
    via: str,
    now: dt.datetime,
) -> None:
    to = " ".join(to.split())
    if not to:
        raise ValueError("请写明电话报告了谁（单位和姓名，如「市政府总值班室 张某」）")
    if len(to) > PHONE_TO_MAX_CHARS:
        raise ValueError(f"电话报告对象不超过 {PHONE_TO_MAX_CHARS} 字")
    zone = rt.settings.timezone
    when = _call_time(called_at, now, zone, case.detected_at)
    log(
        session,
        case,
        person,
        "phone_report",
        f"{time_text(when, zone, year=False)} 已电话报告{to}",
        via=via,
        at=now,
        detail={"to": to, "called_at": when.astimezone(dt.UTC).isoformat()},
    )


def record_phone_report(
    rt: Runtime,
    case_id: int,
    person_ref: str,
    to: str,
    *,
    called_at: str | None = None,
    via: str = "cli",
) -> dict[str, Any]:
    """Log that the case was reported up by telephone (重大 and 特别重大 are reported 「同时电话报
    告」): whom, and when the call was made (now unless given). Anyone who may report the case
    records it; it can be recorded for any grade, and more than once (several people called)."""
    now = rt.clock()
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _require(session, person, case, OPENERS, "记录电话报告")
        _log_phone_report(session, rt, case, person, to, called_at, via=via, now=now)
        return case_view(session, case, rt.settings.timezone)


def advance(
    rt: Runtime,
    case_id: int,
    stage: str,
    person_ref: str,
    *,
    category: str | None = None,
    summary: str | None = None,
    note: str = "",
    phone_to: str | None = None,
    phone_at: str | None = None,
    via: str = "cli",
) -> dict[str, Any]:
    """Move a case to `stage` (English name or 报告/研判/处置/跟踪/总结/结案) through the table.
    `phone_to` (with `phone_at`, the call's time) records a telephone report on the way to 报告."""
    now = rt.clock()
    target = workflow.parse_stage(stage)
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        if category and category_name(category) != case.category:
            # the stage form offers the current category again: unchanged, it is not recorded again
            _set_category(session, rt, case, person, category, via=via, at=now)
        # the stage form sends the summary box with every move: it is the summary only on the
        # way to 总结 or 结案 (a duty officer's 报告 with text in it writes no summary)
        if summary and target in (Stage.SUMMARISED, Stage.CLOSED):
            _record_summary(session, case, person, summary, via=via, at=now)
        _move(session, rt, case, target, person, via=via, at=now, note=note)
        if phone_to and phone_to.strip() and target == Stage.REPORTED:
            _log_phone_report(session, rt, case, person, phone_to, phone_at, via=via, now=now)
        return case_view(session, case, rt.settings.timezone)


def _record_summary(
    session: Session, case: Case, person: Person, text: str, *, via: str, at: dt.datetime
) -> None:
    """The case's 总结评估. A later text (the leader's 「同意结案。」 when closing) is added under its
    author's name; it used to replace the office's summary, which was then lost. Only the office
    and the leaders write it: a duty officer's text would otherwise stand as the case's summary."""
    text = text.replace("\r\n", "\n").strip()  # a browser's textarea sends CRLF line breaks
    if not text or (case.summary and text in case.summary):
        return
    _require(session, person, case, DRAFTERS, "提交总结评估")
    if case.summary:
        case.summary = f"{case.summary}\n{person.name}：{text}"
        log(session, case, person, "summary", f"补充总结：{text}", via=via, at=at)
    else:
        case.summary = text
        log(session, case, person, "summary", f"提交总结评估：{text}", via=via, at=at)


def _set_category(
    session: Session, rt: Runtime, case: Case, person: Person, value: str, *, via: str, at: dt.datetime
) -> None:
    _require(session, person, case, DRAFTERS, "研判舆情类别")
    name = category_name(value)
    case.category = name
    log(
        session, case, person, "categorize", f"研判类别：{name}；建议措施：{CATEGORIES[name]}", via=via, at=at
    )
    if name == "询问/质疑/诉求":
        plan, calendar = _plan(rt), load_calendar(rt)
        duration = plan.duration(DeadlineKind.FORMAL_REPLY, case.grade_code)
        if duration is not None:
            clock = deadlines.start_clock(
                session, case, DeadlineKind.FORMAL_REPLY, case.known_at, duration, calendar
            )
            if clock.calendar_warning:
                log(session, case, None, "calendar_warning", clock.calendar_warning, via="system", at=at)


def categorize(
    rt: Runtime, case_id: int, category: str, person_ref: str, *, via: str = "cli"
) -> dict[str, Any]:
    now = rt.clock()
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _set_category(session, rt, case, person, category, via=via, at=now)
        return case_view(session, case, rt.settings.timezone)


# Grades whose response the unit's 主要领导 leads (the plan's 重大 and 特别重大).
_LED_BY_CHIEF = frozenset({"I", "II"})


def apply_grade(
    session: Session,
    rt: Runtime,
    case: Case,
    code: str,
    plan: ResponsePlan,
    calendar: WorkCalendar,
    *,
    alert: Alert | None = None,
    person: Person | None = None,
    reason: str = "",
    via: str = "system",
) -> bool:
    """The event was upgraded (or a person regraded the case): the clocks, approvals and 24-hour
    duty of the new grade. Raised: tighter clocks, 24-hour duty for 重大 and above. Lowered by a
    person (never by the pipeline): looser clocks, the clocks the lower grade does not have
    cancelled, the case's 24-hour duty ended; what was missed stays in the log."""
    now = rt.clock()
    if code == case.grade_code:
        return False
    lowered = GRADE_ORDER[code] < GRADE_ORDER[case.grade_code]
    if person is None and lowered:
        return False
    old, old_code = case.grade, case.grade_code
    case.grade_code, case.grade = code, GRADE_NAMES[code]
    if alert is not None and case.alert_id is None:
        case.alert_id = alert.id
    text = f"等级 {old} → {case.grade}" + (f"：{reason}" if reason else "（事件升级）")
    log(session, case, person, "regrade", text, via=via, at=now)
    if person is not None and case.event_id is not None:
        _set_event_grade(session, case, person, reason)
    if person is not None:
        _tell_office(
            rt,
            session,
            case,
            f"【等级调整】工单 #{case.id}：{old} → {case.grade}",
            f"{person.name}将工单「{case.title[:60]}」的等级由{old}调整为{case.grade}"
            + (f"，理由：{reason}" if reason else "")
            + "。时限、审批和值班已按新等级调整。",
            f"case:{case.id}:regrade:{int(now.timestamp())}:{code}",
            now,
            actor=person,
        )
        if lowered and old_code in _LED_BY_CHIEF:
            # the 主要领导 leads a 重大 or 特别重大 response: he hears it was lowered, and by whom
            chiefs = [p for p in people_with_role(session, Role.CHIEF, case.unit_id) if p.id != person.id]
            _tell_case(
                rt,
                session,
                case,
                chiefs,
                f"【等级下调】工单 #{case.id}：{old} → {case.grade}",
                f"{person.name}将您牵头处置的工单「{case.title[:60]}」由{old}下调为{case.grade}"
                + (f"，理由：{reason}" if reason else "")
                + "。如不同意，可在工单页重新调整等级。",
                f"case:{case.id}:lowered:{int(now.timestamp())}:{code}",
                now,
            )
    zone = rt.settings.timezone
    if lowered:
        moved, cancelled = deadlines.relax_for_grade(session, case, plan, calendar, now)
        word = "放宽"
    else:
        moved, restored = deadlines.retime_for_grade(session, case, plan, calendar, now)
        cancelled = []
        word = "提前"
        for deadline in restored:
            due = time_text(deadline.due_at, zone, year=False)
            if deadline.kind == DeadlineKind.REPORT and deadline.started_at == now:
                text = f"等级升为{case.grade}，须按新等级向上级报告：请于{due}前续报（续报即按新等级报告）"
                _tell_office(
                    rt,
                    session,
                    case,
                    f"【须按新等级报告】工单 #{case.id}：{old} → {case.grade}",
                    f"工单「{case.title[:60]}」已按{old}报告，现升为{case.grade}，"
                    f"须于{due}前按新等级向上级报告：在工单页「续报」即按新等级报告。",
                    f"case:{case.id}:report_again:{code}",
                    now,
                )
            else:
                label = DeadlineKind.LABELS.get(deadline.kind, deadline.kind)
                text = f"{case.grade}事件须{label}，该时限恢复：应于{due}前完成"
            log(session, case, None, "deadline", text, via="system", at=now)
    for deadline, old_due in moved:
        log(
            session,
            case,
            None,
            "deadline",
            f"{DeadlineKind.LABELS.get(deadline.kind, deadline.kind)}时限按新等级{word}："
            f"{time_text(old_due, zone, year=False)} → {time_text(deadline.due_at, zone, year=False)}",
            via="system",
            at=now,
        )
    for deadline in cancelled:
        log(
            session,
            case,
            None,
            "deadline",
            f"{case.grade}事件无需{DeadlineKind.LABELS.get(deadline.kind, deadline.kind)}，该时限取消",
            via="system",
            at=now,
        )
    if lowered and code not in plan.twenty_four_hour_duty:
        for _ in duty.end_24h_duty(
            session, case.unit_id, f"工单 #{case.id} 等级调整为{case.grade}", now, key=f"case:{case.id}"
        ):
            log(
                session,
                case,
                None,
                "duty",
                f"等级调整为{case.grade}，本单位因该工单开启的24小时值班结束",
                via="system",
                at=now,
            )
    else:
        if (
            code in plan.twenty_four_hour_duty
            and old_code not in plan.twenty_four_hour_duty
            and not case.is_drill
        ):
            log(
                session,
                case,
                None,
                "duty",
                f"等级升为{case.grade}，本单位转入24小时值班",
                via="system",
                at=now,
            )
        _duty_24h(session, case, plan, now)
    _reapprove_for_grade(rt, session, case, plan, now)
    return True


def _set_event_grade(session: Session, case: Case, person: Person, reason: str) -> None:
    """A person's grade of a case is the event's grade too (the dashboard, the event page and the
    special report say it, with who and why), not a system grade beside a case that says otherwise.
    The pipeline's own grade is kept, so that only evidence past it raises the event again."""
    event = session.get(Event, case.event_id)
    if event is None or event.is_drill != case.is_drill:
        return
    if event.grade_set_by is None:
        event.system_grade_code = event.grade_code
    event.grade_code, event.grade = case.grade_code, case.grade
    event.grade_set_by = person.name
    event.grade_note = f"工单 #{case.id}：{reason}" if reason else f"工单 #{case.id}"


_NOTE_CASE = re.compile(r"^工单 #(\d+)")


def grade_note_for(session: Session, event: Event, scope: Scope) -> str | None:
    """The reason a person gave for the event's grade (「工单 #3：经核实无人死亡」), for a reader
    who sees the case it was given on; None for others. Who set the grade is every unit's to read,
    the reason is the case's."""
    note = event.grade_note
    if not note:
        return None
    found = _NOTE_CASE.match(note)
    case = session.get(Case, int(found.group(1))) if found else None
    return note if case is not None and scope.sees(case.unit_id) else None


def _reapprove_for_grade(
    rt: Runtime, session: Session, case: Case, plan: ResponsePlan, now: dt.datetime
) -> None:
    """A statement not yet released needs the approvals of the case's new grade: one approved by
    分管领导 for a 一般 case goes back to draft when the case becomes 特别重大 and waits for the
    chief (approvals already given still count)."""
    statement = _latest_statement(session, case.id)
    if statement is None or statement.status not in ("draft", "approved"):
        return
    roles = list(plan.required_approvals(case.grade_code))
    if roles == list(statement.required_roles):
        return
    statement.required_roles = roles
    missing = missing_roles(session, statement)
    statement.status = "draft" if missing else "approved"
    text = f"第 {statement.version} 稿按新等级须经{'、'.join(Role(r).label for r in roles)}审批" + (
        f"，尚需{'、'.join(Role(r).label for r in missing)}审批" if missing else "，审批齐全"
    )
    log(session, case, None, "statement", text, via="system", at=now, detail={"statement_id": statement.id})
    _withdraw_approval_requests(session, statement, missing, now)
    _tell_approvers(rt, session, case, statement, missing, now)


def regrade(
    rt: Runtime, case_id: int, code: str, reason: str, person_ref: str, *, via: str = "cli"
) -> dict[str, Any]:
    """A person changes the grade, with a reason (PRODUCT.md §2.2)."""
    if not reason.strip():
        raise ValueError("调整等级须写明理由（--reason）")
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _require(session, person, case, _REGRADERS, "调整工单等级")
        code = code.strip().upper()
        if code not in GRADE_ORDER:
            raise ValueError(f"等级代码应为 I、II、III 或 IV，实为 {code!r}")
        apply_grade(
            session, rt, case, code, _plan(rt), load_calendar(rt), person=person, reason=reason, via=via
        )
        return case_view(session, case, rt.settings.timezone)


# ---- statements, approvals, release -------------------------------------------------------------


def _latest_statement(session: Session, case_id: int) -> Statement | None:
    return session.scalars(
        select(Statement).where(Statement.case_id == case_id).order_by(Statement.version.desc())
    ).first()


def draft_statement(
    rt: Runtime,
    case_id: int,
    person_ref: str,
    *,
    facts: str,
    causes: str | None = None,
    progress: str | None = None,
    via: str = "cli",
) -> dict[str, Any]:
    """A new statement version: facts (快报事实), causes (慎报原因), progress (重报进展) kept apart."""
    if not facts.strip():
        raise ValueError("声明须写明已核实的事实（--facts）")
    now = rt.clock()
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _require(session, person, case, DRAFTERS, "起草声明")
        if case.stage == Stage.CLOSED.value:
            raise ValueError("工单已结案，不能再起草声明")
        previous = _latest_statement(session, case.id)
        if previous is not None:
            _withdraw_approval_requests(session, previous, (), now)
        statement = Statement(
            case_id=case.id,
            version=(previous.version + 1) if previous else 1,
            facts=facts.strip(),
            causes=(causes or "").strip() or None,
            progress=(progress or "").strip() or None,
            drafted_by=person.id,
            drafted_at=now,
            required_roles=list(_plan(rt).required_approvals(case.grade_code)),
            status="draft",
        )
        session.add(statement)
        session.flush()
        needed = "、".join(Role(r).label for r in statement.required_roles)
        log(
            session,
            case,
            person,
            "statement",
            f"起草声明第 {statement.version} 稿，待{needed}审批",
            via=via,
            at=now,
            detail={"statement_id": statement.id},
        )
        _tell_approvers(rt, session, case, statement, statement.required_roles, now)
        return case_view(session, case, rt.settings.timezone)


def _approvals(session: Session, statement: Statement) -> list[Approval]:
    return list(
        session.scalars(select(Approval).where(Approval.statement_id == statement.id).order_by(Approval.id))
    )


def missing_roles(session: Session, statement: Statement, also: Iterable[str] = ()) -> list[str]:
    """The roles the statement (and `also`: roles the case's grade asks now) still lacks."""
    approved = {a.role for a in _approvals(session, statement) if a.decision == "approved"}
    return list(dict.fromkeys(r for r in (*statement.required_roles, *also) if r not in approved))


def _approving_role(
    session: Session,
    plan: ResponsePlan,
    person: Person,
    case: Case,
    statement: Statement,
    missing: list[str],
) -> str:
    """The one missing role in which this person approves (or rejects) the statement, or
    PermissionDenied saying why they may not.

    The plan means different people: the drafter does not approve their own statement, one person
    gives one approval of a draft (holding both 主要领导 and 领导小组成员 does not make two), and
    管理员 manages rather than approves unless the profile says so (`administrator_approves`)."""
    needed = "、".join(Role(r).label for r in missing) or "无（已全部审批）"
    if statement.drafted_by == person.id:
        raise PermissionDenied(
            f"{person.name} 是第 {statement.version} 稿的起草人，不能审批自己起草的声明："
            f"尚需 {needed} 由他人审批"
        )
    earlier = [a for a in _approvals(session, statement) if a.person_id == person.id]
    if earlier:
        raise PermissionDenied(
            f"{person.name} 已以{Role(earlier[0].role).label}身份审批第 {statement.version} 稿，"
            f"每项审批须由不同的人作出：尚需 {needed} 由他人审批"
        )
    admin_counts = plan.administrator_approves
    mine = [r for r in missing if has_role(session, person.id, r, case.unit_id, admin_counts=admin_counts)]
    if not mine:
        if missing and any(has_role(session, person.id, r, case.unit_id) for r in missing):
            raise PermissionDenied(
                f"{person.name} 不能审批此声明：管理员负责管理，不代替领导审批（预案未开启 "
                f"administrator_approves）；尚需 {needed} 审批"
            )
        raise PermissionDenied(f"{person.name} 不能审批此声明：尚需 {needed} 审批，而其不具备这些角色")
    return mine[0]


def approve(
    rt: Runtime,
    case_id: int,
    person_ref: str,
    *,
    reject: bool = False,
    comment: str | None = None,
    version: int | None = None,
    via: str = "cli",
) -> dict[str, Any]:
    """Record a decision on the latest statement in one still-missing role the person holds (the
    first in the plan's order); see `_approving_role` for who may not. `version`, the draft the
    approver read (the console and API send it): refused when a newer draft has come since, so a
    leader's approval never lands on a text they have not seen."""
    now = rt.clock()
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _deciding_on(session, case_id, person)
        statement = _latest_statement(session, case.id)
        if statement is None:
            raise ValueError("该工单还没有声明稿，请先起草（yuqing cases statement）")
        if version is not None and version != statement.version:
            raise workflow.WorkflowError(
                f"第 {version} 稿已不是最新稿：其后已起草第 {statement.version} 稿，请阅读最新稿后再审批"
            )
        if statement.status in ("released", "rejected"):
            raise ValueError(
                f"第 {statement.version} 稿已{'发布' if statement.status == 'released' else '被驳回'}，"
                "请起草新稿"
            )
        if reject and not (comment or "").strip():
            # the drafter redrafts from the reason: a rejection without one leaves them guessing
            raise ValueError("驳回须写明理由（审批意见），以便起草人修改")
        missing = missing_roles(session, statement)
        role = _approving_role(session, _plan(rt), person, case, statement, missing)
        decision = "rejected" if reject else "approved"
        session.add(
            Approval(
                statement_id=statement.id,
                role=role,
                person_id=person.id,
                decision=decision,
                comment=comment,
                at=now,
            )
        )
        session.flush()
        roles = Role(role).label
        if reject:
            statement.status = "rejected"
            _withdraw_approval_requests(session, statement, (), now)
            log(
                session,
                case,
                person,
                "reject",
                f"以{roles}身份驳回第 {statement.version} 稿" + (f"：{comment}" if comment else ""),
                via=via,
                at=now,
            )
            _tell_drafter(
                rt,
                session,
                case,
                statement,
                f"【声明被驳回】工单 #{case.id} 第 {statement.version} 稿",
                f"{person.name}以{roles}身份驳回了第 {statement.version} 稿"
                + (f"：{comment.rstrip('。.')}" if comment else "")
                + "。请修改后起草新稿。",
                now,
            )
        else:
            left = missing_roles(session, statement)
            _withdraw_approval_requests(session, statement, left, now)
            if not left:
                statement.status = "approved"
            tail = (
                "，审批齐全，可以发布"
                if not left
                else f"，尚需{'、'.join(Role(r).label for r in left)}审批（须由另一人审批）"
            )
            log(
                session,
                case,
                person,
                "approve",
                f"以{roles}身份批准第 {statement.version} 稿{tail}",
                via=via,
                at=now,
            )
            if not left:
                _tell_drafter(
                    rt,
                    session,
                    case,
                    statement,
                    f"【可以发布】工单 #{case.id} 第 {statement.version} 稿审批齐全",
                    f"工单「{case.title[:60]}」的声明第 {statement.version} 稿已由"
                    f"{'、'.join(Role(r).label for r in statement.required_roles)}审批同意，可以发布。",
                    now,
                )
        return case_view(session, case, rt.settings.timezone)


def release(rt: Runtime, case_id: int, channel: str, person_ref: str, *, via: str = "cli") -> dict[str, Any]:
    """Mark the approved statement released on a channel. Refused until every approval is in."""
    now = rt.clock()
    if channel not in CHANNELS:
        raise ValueError(f"未知的发布渠道 {channel!r}；可选：{'、'.join(CHANNELS)}")
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _deciding_on(session, case_id, person)
        _require(session, person, case, RELEASERS, "发布声明")
        statement = _latest_statement(session, case.id)
        if statement is None:
            raise ValueError("该工单还没有声明稿，不能发布")
        if statement.status == "released":
            raise ValueError(
                f"第 {statement.version} 稿已于 {time_text(statement.released_at, rt.settings.timezone)} 发布"
            )
        missing = missing_roles(session, statement, _plan(rt).required_approvals(case.grade_code))
        if statement.status != "approved" or missing:
            needed = "、".join(Role(r).label for r in missing) or "（稿件被驳回）"
            raise PermissionDenied(f"不能发布：第 {statement.version} 稿尚未获得全部审批，缺少：{needed}")
        statement.status = "released"
        statement.released_at, statement.released_by, statement.channel = now, person.id, channel
        log(
            session,
            case,
            person,
            "release",
            f"经审批的第 {statement.version} 稿通过「{channel}」发布",
            via=via,
            at=now,
            detail={"statement_id": statement.id, "channel": channel},
        )
        kinds = [DeadlineKind.RELEASE, DeadlineKind.FIRST_RESPONSE]
        if channel == "新闻发布会":
            kinds.append(DeadlineKind.PRESS_CONFERENCE)
        _complete_clocks(session, case, kinds, now)
        return case_view(session, case, rt.settings.timezone)


REPLY_STATUS_LABELS = {
    "pending": "待审定",
    "approved": "已审定并答复",
    "rejected": "已退回",
    "superseded": "已被新稿替代",
}


def _settles_replies(session: Session, plan: ResponsePlan, person: Person, case: Case) -> bool:
    """Whether this person's formal reply is given at once: they settle replies at the case's unit
    (profile `reply_approvers`), or the profile names nobody."""
    if not plan.reply_approvers:
        return True
    admin_counts = plan.administrator_approves
    return any(
        has_role(session, person.id, role, case.unit_id, admin_counts=admin_counts)
        for role in plan.reply_approvers
    )


def _reply_approver_labels(plan: ResponsePlan) -> str:
    return "或".join(Role(r).label for r in plan.reply_approvers)


def _tell_reply_approvers(
    rt: Runtime, session: Session, case: Case, reply: Reply, plan: ResponsePlan, now: dt.datetime
) -> None:
    """Ask those who settle replies at the case's unit (else the nearest unit above that has one)
    to read it: any one of them settles it."""
    prefix = "【演练】" if case.is_drill else ""
    people = [
        person
        for person in nearest_holders(session, plan.reply_approvers, case.unit_id)
        if person.id != reply.drafted_by
    ]
    tell(
        session,
        people,
        Message(
            title=f"{prefix}【待审定】工单 #{case.id} 正式答复意见待审定",
            body=f"工单「{case.title[:60]}」（{case.grade}）的正式答复意见已起草，须经"
            f"{_reply_approver_labels(plan)}审定后方可答复网民：{reply.text[:120]}",
            at=now,
            level=Level.for_grade(case.grade_code),
            link=console_link(rt, f"/cases/{case.id}"),
            facts=(("工单", f"#{case.id}"), ("等级", case.grade), ("审定", _reply_approver_labels(plan))),
            internal_only=_internal_only(session, case),
        ),
        key=f"reply:{reply.id}:settle",
        subject=("case", case.id),
    )


def _withdraw_reply_requests(session: Session, reply: Reply, now: dt.datetime) -> None:
    """A reply decided or replaced leaves the unread inbox of those asked to settle it."""
    _withdraw_requests(session, f"reply:{reply.id}:settle%", now)


def respond(
    rt: Runtime, case_id: int, person_ref: str, text: str, *, formal: bool = False, via: str = "cli"
) -> dict[str, Any]:
    """Record an answer to the people who posted (跟帖回应); `formal` for the 答复意见.

    A first response is given at once. A formal reply is given at once only by someone who settles
    replies at the case's unit (profile `reply_approvers`: 分管领导 or 主要领导 by default); from
    anyone else (the office) it is a draft that waits for them (`decide_reply`), and its clocks run
    on until it is settled. A newer draft replaces one still waiting."""
    if not text.strip():
        raise ValueError("回应内容不能为空（--text）")
    if len(text.strip()) > RESPONSE_MAX_CHARS:
        raise ValueError(
            f"回应内容不超过 {RESPONSE_MAX_CHARS} 字（现为 {len(text.strip())} 字）；附件请另行存档"
        )
    now = rt.clock()
    plan = _plan(rt)
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _require(session, person, case, DRAFTERS, "回应网民")
        settler_exists = bool(_reply_settlers(session, plan, case, exclude=person.id))
        if formal and not _settles_replies(session, plan, person, case) and settler_exists:
            _supersede_replies(session, case, now)
            reply = Reply(case_id=case.id, text=text.strip(), drafted_by=person.id, drafted_at=now)
            session.add(reply)
            session.flush()
            log(
                session,
                case,
                person,
                "reply_draft",
                f"起草正式答复意见（待{_reply_approver_labels(plan)}审定后答复）：{reply.text}",
                via=via,
                at=now,
                detail={"reply_id": reply.id},
            )
            _tell_reply_approvers(rt, session, case, reply, plan, now)
            view = case_view(session, case, rt.settings.timezone)
            view["reply_pending"] = True
            return view
        if formal:
            # given now: a draft still waiting would be a second answer
            _supersede_replies(session, case, now)
        text_given = ("正式答复：" if formal else "初步回应：") + text.strip()
        if formal and plan.reply_approvers and not _settles_replies(session, plan, person, case):
            # nobody in the unit's chain can settle it (no 分管领导 or 主要领导 account): given by
            # the office, and the record says so, rather than waiting for ever
            text_given += f"（本单位及上级单位没有{_reply_approver_labels(plan)}账号，未经审定）"
        log(session, case, person, "respond", text_given, via=via, at=now)
        kinds = [DeadlineKind.FIRST_RESPONSE] + ([DeadlineKind.FORMAL_REPLY] if formal else [])
        _complete_clocks(session, case, kinds, now)
        return case_view(session, case, rt.settings.timezone)


def _reply_settlers(session: Session, plan: ResponsePlan, case: Case, *, exclude: int) -> list[Person]:
    """Who would be asked to settle a reply of this case (not its drafter)."""
    found: dict[int, Person] = {}
    for role in plan.reply_approvers:
        for person in people_with_role(session, role, case.unit_id):
            if person.id != exclude:
                found.setdefault(person.id, person)
    return list(found.values())


def _supersede_replies(session: Session, case: Case, now: dt.datetime) -> None:
    """Drafts still waiting on the case are replaced (a newer draft, a reply given, the case
    closed): they leave the settlers' 待办 and inbox."""
    waiting = list(
        session.scalars(
            select(Reply).where(Reply.case_id == case.id, Reply.status == "pending").with_for_update()
        )
    )
    for reply in waiting:
        reply.status, reply.decided_at = "superseded", now
        _withdraw_reply_requests(session, reply, now)


def decide_reply(
    rt: Runtime,
    case_id: int,
    reply_id: int,
    person_ref: str,
    *,
    reject: bool = False,
    comment: str | None = None,
    via: str = "cli",
) -> dict[str, Any]:
    """Settle (审定) a formal reply drafted by the office: approved, it is given to the posters
    under the settler's name and completes the first-response and formal-reply clocks; sent back,
    it needs a reason, and the drafter is told both ways."""
    now = rt.clock()
    plan = _plan(rt)
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _deciding_on(session, case_id, person)
        reply = session.get(Reply, reply_id, with_for_update=True)
        if reply is None or reply.case_id != case.id:
            raise LookupError(f"工单 #{case.id} 没有编号为 {reply_id} 的答复意见")
        if case.stage == Stage.CLOSED.value:
            raise workflow.WorkflowError(f"工单 #{case.id} 已结案或撤销，其答复意见不再审定")
        if reply.status != "pending":
            done = {"approved": "审定答复", "rejected": "退回", "superseded": "被新稿替代"}
            raise ValueError(f"该答复意见已{done.get(reply.status, reply.status)}，不能再审定")
        if not plan.reply_approvers or not _settles_replies(session, plan, person, case):
            raise PermissionDenied(
                f"{person.name} 不能审定答复意见：须由{_reply_approver_labels(plan) or '办公室'}审定"
            )
        if reply.drafted_by == person.id:
            raise PermissionDenied(f"{person.name} 是该答复意见的起草人，不能审定自己起草的答复意见")
        if reject and not (comment or "").strip():
            raise ValueError("退回须写明理由（审定意见），以便起草人修改")
        # claimed by a guarded update: two leaders settling at once give one answer, not two
        claimed = session.execute(
            update(Reply)
            .where(Reply.id == reply.id, Reply.status == "pending")
            .values(
                status="rejected" if reject else "approved",
                decided_by=person.id,
                decided_at=now,
                comment=(comment or "").strip() or None,
            )
            .execution_options(synchronize_session="fetch")
        )
        if cast(CursorResult[Any], claimed).rowcount != 1:
            raise ValueError("该答复意见刚刚已由他人审定或被新稿替代，请刷新后查看")
        session.refresh(reply)
        _withdraw_reply_requests(session, reply, now)
        drafter = session.get(Person, reply.drafted_by)
        drafter_name = drafter.name if drafter else "起草人"
        if reject:
            log(
                session,
                case,
                person,
                "reply_rejected",
                f"退回{drafter_name}起草的正式答复意见：{reply.comment}",
                via=via,
                at=now,
                detail={"reply_id": reply.id},
            )
            title = f"【答复意见被退回】工单 #{case.id}"
            body = f"{person.name}退回了您起草的正式答复意见：{reply.comment}。请修改后重新起草。"
        else:
            log(
                session,
                case,
                person,
                "respond",
                f"正式答复：{reply.text}",
                via=via,
                at=now,
                detail={"reply_id": reply.id, "drafted_by": drafter_name, "settled_by": person.name},
            )
            _complete_clocks(session, case, [DeadlineKind.FIRST_RESPONSE, DeadlineKind.FORMAL_REPLY], now)
            title = f"【答复意见已审定】工单 #{case.id}"
            body = f"您起草的正式答复意见已由{person.name}审定，已记为正式答复网民。"
        if drafter is not None:
            _tell_case(rt, session, case, [drafter], title, body, f"reply:{reply.id}:decided", now)
        return case_view(session, case, rt.settings.timezone)


def extend(
    rt: Runtime,
    case_id: int,
    reason: str,
    person_ref: str,
    *,
    kind: str | None = None,
    days: int | None = None,
    via: str = "cli",
) -> dict[str, Any]:
    """Extend the formal reply's clock once, with a reason, to at most 10 working days in all
    (`plan.EXTENDABLE`); other clocks are refused."""
    now = rt.clock()
    plan, calendar = _plan(rt), load_calendar(rt)
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _require(session, person, case, EXTENDERS, "延长时限")
        running = [
            d
            for d in session.scalars(
                select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.id)
            )
            if d.state in ("pending", "due_soon", "overdue")
        ]
        wanted = kind or DeadlineKind.FORMAL_REPLY
        if wanted not in EXTENDABLE:
            # the hour clocks of reporting up and releasing are what the plan is for: an extension
            # of 10 working days would void a 特别重大's one-hour report
            raise ValueError(
                f"「{DeadlineKind.LABELS.get(wanted, wanted)}」时限不能延期：按预案，只有出具答复意见的时限"
                "可以延期一次（须写明理由，累计不超过 10 个工作日）"
            )
        chosen = [d for d in running if d.kind == wanted]
        if not chosen:
            names = (
                "、".join(sorted({f"{DeadlineKind.LABELS.get(d.kind, d.kind)}（{d.kind}）" for d in running}))
                or "无"
            )
            raise ValueError(
                f"工单没有正在计时的「{DeadlineKind.LABELS.get(wanted, wanted)}」时限；正在计时：{names}"
            )
        target = chosen[0]
        old = target.due_at
        new = deadlines.extend(target, reason, plan, calendar, days=days)
        zone = rt.settings.timezone
        log(
            session,
            case,
            person,
            "extend",
            f"{DeadlineKind.LABELS.get(target.kind, target.kind)}时限延期："
            f"{time_text(old, zone, year=False)} → {time_text(new, zone, year=False)}；"
            f"理由：{reason.strip()}",
            via=via,
            at=now,
        )
        return case_view(session, case, rt.settings.timezone)


def close(
    rt: Runtime, case_id: int, person_ref: str, *, summary: str | None = None, via: str = "cli"
) -> dict[str, Any]:
    """Close a case: through 总结 when it is still in 跟踪; refused without a summary."""
    now = rt.clock()
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        if summary:
            _record_summary(session, case, person, summary, via=via, at=now)
        if case.stage == Stage.FOLLOWING.value:
            _move(session, rt, case, Stage.SUMMARISED, person, via=via, at=now)
        _move(session, rt, case, Stage.CLOSED, person, via=via, at=now)
        return case_view(session, case, rt.settings.timezone)


def withdraw(rt: Runtime, case_id: int, reason: str, person_ref: str, *, via: str = "cli") -> dict[str, Any]:
    """撤销: a leader closes a case that needs no response (误报, not the unit's matter, a
    duplicate) with a reason, before any statement was released. Its clocks end, its alert is
    closed, 24-hour duty ends; the office, and for 重大+ the chief, are told."""
    if not reason.strip():
        raise ValueError("撤销工单须写明理由（--reason）")
    now = rt.clock()
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _deciding_on(session, case_id, person)
        if case.stage == Stage.CLOSED.value:
            raise workflow.WorkflowError("工单已结案，无需撤销")
        reason = reason.strip()[:500]
        _move(
            session, rt, case, Stage.CLOSED, person, via=via, at=now, note=f"撤销：{reason}", withdrawing=True
        )
        case.withdrawn_at, case.summary = now, f"撤销：{reason}"
        told = {p.id: p for p in people_with_role(session, Role.OFFICE, case.unit_id)}
        if case.grade_code in _LED_BY_CHIEF:
            told.update((p.id, p) for p in people_with_role(session, Role.CHIEF, case.unit_id))
        told.pop(person.id, None)
        if told:
            _tell_case(
                rt,
                session,
                case,
                list(told.values()),
                f"【工单撤销】工单 #{case.id}（{case.grade}）已撤销",
                f"{person.name}撤销了工单「{case.title[:60]}」：{reason}",
                f"case:{case.id}:withdrawn:{case.reopened}",
                now,
            )
        _report_end(rt, session, case, person, now, reason=reason, told=told)
        return case_view(session, case, rt.settings.timezone)


# ---- tasks and evidence -------------------------------------------------------------------------


# A department's task is due within a year: longer is a typing error (「99999」 gave 2410).
MAX_TASK_WORKING_DAYS = 250
MAX_TASK_HOURS = 366 * 24


def _check_drill_reach(session: Session, case: Case, unit: Unit) -> None:
    """A drill stays inside its unit (docs/drills.md): a drill case's task goes to the drill's
    unit, a unit above it or one below it, never to a department that takes no part and cannot
    even see the drill (its 待办 would offer to finish a task of an exercise it knows nothing of)."""
    if not case.is_drill:
        return
    from yuqing.drills.models import Drill

    event_id = case.event_id
    if event_id is None and case.alert_id is not None:
        event_id = session.scalar(select(Alert.event_id).where(Alert.id == case.alert_id))
    drill_id = session.scalar(select(Event.drill_id).where(Event.id == event_id)) if event_id else None
    drill = session.get(Drill, drill_id) if drill_id is not None else None
    if drill is not None and drill.unit_id is None:
        return  # a drill of the top unit (`yuqing drill run` without --unit): every unit is inside it
    home = drill.unit_id if drill is not None and drill.unit_id is not None else case.unit_id
    above = {u.id for u in ancestors(session, home)}  # the drill's unit and those above it
    below = home in {u.id for u in ancestors(session, unit.id)}  # the unit is under the drill's
    if unit.id not in above and not below:
        home_name = u.name if (u := session.get(Unit, home)) else "演练单位"
        raise ValueError(f"演练工单的任务只能分派给{home_name}及其上级、下级单位；{unit.name}未参加本次演练")


def add_task(
    rt: Runtime,
    case_id: int,
    unit_ref: str,
    text: str,
    person_ref: str,
    *,
    hours: float | None = None,
    working_days: int | None = None,
    via: str = "cli",
) -> dict[str, Any]:
    """Assign work to a department with a due time (working days, or calendar hours)."""
    from yuqing.cases.plan import Duration

    now = rt.clock()
    calendar = load_calendar(rt)
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _require(session, person, case, TASKERS, "分派任务")
        unit = find_unit(session, unit_ref)
        _check_drill_reach(session, case, unit)
        if working_days is not None and hours is not None:
            raise ValueError("完成时限只能填一项：工作日数或小时数")
        if working_days is not None and not 1 <= working_days <= MAX_TASK_WORKING_DAYS:
            raise ValueError(
                f"完成时限应为 1 至 {MAX_TASK_WORKING_DAYS} 个工作日（一年），实为 {working_days}"
            )
        if hours is not None and not (math.isfinite(hours) and 0 < hours <= MAX_TASK_HOURS):
            raise ValueError(f"完成时限应大于 0 小时、不超过 {MAX_TASK_HOURS} 小时（一年），实为 {hours:g}")
        duration = Duration(float(working_days), "wd") if working_days else Duration(float(hours or 24), "h")
        due = deadlines.compute_due(calendar, now, duration)
        task = CaseTask(case_id=case.id, unit_id=unit.id, text=text.strip(), due_at=due.at, created_at=now)
        session.add(task)
        session.flush()
        deadlines.start_clock(
            session, case, DeadlineKind.TASK, now, duration, calendar, task_id=task.id, unit_id=unit.id
        )
        log(
            session,
            case,
            person,
            "task",
            ("本单位内部分派任务" if unit.id == case.unit_id else f"向{unit.name}分派任务")
            + f"：{task.text}（{duration}内完成）",
            via=via,
            at=now,
            detail={"task_id": task.id},
        )
        _tell_task(rt, session, case, task, unit, now)
        return case_view(session, case, rt.settings.timezone)


def complete_task(
    rt: Runtime, case_id: int, task_id: int, person_ref: str, result: str, *, via: str = "cli"
) -> dict[str, Any]:
    now = rt.clock()
    with transaction(rt.sessions) as session:
        case = _case(session, case_id)
        person = find_person(session, person_ref)
        sees_case = scope_of(session, person.id).sees(case.unit_id)
        if not sees_case:
            # a liaison of a department the case gave a task to may finish it; anyone else of
            # another unit is refused before learning which tasks the case has
            units = set(session.scalars(select(CaseTask.unit_id).where(CaseTask.case_id == case.id)))
            if not any(may_act(session, person.id, u, ("liaison", "office")) for u in units if u):
                check_sees(session, person.id, case.unit_id, f"工单 #{case.id}")
        _check_drill_going(session, case)
        task = session.get(CaseTask, task_id)
        if task is None or task.case_id != case.id:
            raise LookupError(f"工单 #{case_id} 没有任务 {task_id}，或该任务不由本单位承办")
        if not sees_case and not may_act(session, person.id, task.unit_id, ("liaison", "office")):
            # another department's task on a case the person does not see: as if there were none
            raise LookupError(f"工单 #{case_id} 没有任务 {task_id}，或该任务不由本单位承办")
        if not (
            may_act(session, person.id, task.unit_id, ("liaison", "office"))
            or may_act(session, person.id, case.unit_id, TASKERS)
        ):
            raise PermissionDenied(f"{person.name} 不是承办部门的联络员，也不是本单位办公室人员或领导")
        if task.done_at is not None:
            # the first result stands: a second one would overwrite what the case was told
            done = time_text(task.done_at, rt.settings.timezone)
            raise workflow.WorkflowError(
                f"任务 {task.id} 已于 {done} 办结（结果：{task.result}），不能再次办结；"
                "补充情况请联系工单承办单位"
            )
        if case.stage == Stage.CLOSED.value:
            raise workflow.WorkflowError(f"工单 #{case.id} 已结案，其任务不能再办结")
        task.done_at, task.result = now, result.strip()
        for deadline in session.scalars(select(Deadline).where(Deadline.task_id == task.id)):
            if deadline.state in ("pending", "due_soon", "overdue"):
                deadline.done_at = now
                deadline.state = "met" if now <= deadline.due_at else "missed"
        log(
            session, case, person, "task_done", f"任务完成：{task.text}；结果：{task.result}", via=via, at=now
        )
        done_by = session.get(Unit, task.unit_id)
        _tell_office(
            rt,
            session,
            case,
            f"【任务办结】工单 #{case.id}：{done_by.name if done_by else '承办部门'}已办结任务",
            f"任务：{task.text}\n办理结果：{task.result}（{person.name}）",
            f"task:{task.id}:done",
            now,
            actor=person,
        )
        if not sees_case:
            # a department's liaison sees the task it finished, not the case of another unit
            # (its drafts, approvals and evidence)
            return {"id": case.id, "task": _task_view(session, task, rt.settings.timezone)}
        return case_view(session, case, rt.settings.timezone)


def attach_evidence(
    rt: Runtime, case_id: int, post_id: int, person_ref: str, note: str | None = None, *, via: str = "cli"
) -> dict[str, Any]:
    now = rt.clock()
    with transaction(rt.sessions) as session:
        person = find_person(session, person_ref)
        case = _visible_case(session, case_id, person)
        _require(session, person, case, OPENERS, "添加证据")
        post = session.get(Post, post_id)
        if post is None or not sees_post(session, scope_of(session, person.id), post):
            raise LookupError(f"找不到信息 {post_id}")
        if post.is_drill and not case.is_drill:
            # a drill's scenario post is no proof of what was online: it would enter the real
            # case's 总结评估 and 专报 as evidence
            raise ValueError(f"信息 #{post_id} 是演练情景中的信息，不能作为真实工单的证据")
        exists = session.scalar(
            select(CaseEvidence.id).where(CaseEvidence.case_id == case.id, CaseEvidence.post_id == post_id)
        )
        if exists is None:
            session.add(
                CaseEvidence(case_id=case.id, post_id=post_id, note=note, added_by=person.id, added_at=now)
            )
            where = post.url or PLATFORM_NAMES.get(post.platform, post.platform)
            log(
                session,
                case,
                person,
                "evidence",
                f"添加证据：信息 #{post_id}（{where}）",
                via=via,
                at=now,
            )
        return case_view(session, case, rt.settings.timezone)


# ---- views --------------------------------------------------------------------------------------


def task_unit_names(session: Session, clocks: Iterable[Deadline]) -> dict[int, str]:
    """The departments of the task clocks among `clocks`, for `deadline_view`."""
    ids = {d.unit_id for d in clocks if d.kind == DeadlineKind.TASK}
    if not ids:
        return {}
    return {row.id: row.name for row in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))}


def deadline_label(deadline: Deadline, unit_names: Mapping[int, str] | None = None) -> str:
    """The clock's Chinese name. With `unit_names`, a task's clock names its department
    (「部门任务（市教育局）」), so two tasks' clocks can be told apart."""
    label = DeadlineKind.LABELS.get(deadline.kind, deadline.kind)
    if deadline.kind == DeadlineKind.TASK and unit_names and deadline.unit_id in unit_names:
        label = f"{label}（{unit_names[deadline.unit_id]}）"
    return label


def deadline_view(
    deadline: Deadline, zone: str, unit_names: Mapping[int, str] | None = None
) -> dict[str, Any]:
    """One clock for pages and the API, labelled by `deadline_label`."""
    from yuqing.cases.models import DeadlineState

    return {
        "id": deadline.id,
        "kind": deadline.kind,
        "label": deadline_label(deadline, unit_names),
        "rule": deadline.rule,
        "rule_text": rule_text(deadline.rule),
        "started_at": _local(deadline.started_at, zone),
        "due_at": _local(deadline.due_at, zone),
        "original_due_at": _local(deadline.original_due_at, zone),
        "state": deadline.state,
        "state_label": DeadlineState(deadline.state).label,
        "done_at": _local(deadline.done_at, zone),
        "extended": deadline.extended,
        "extension_reason": deadline.extension_reason,
        "task_id": deadline.task_id,
        "calendar_warning": deadline.calendar_warning,
    }


def _task_view(session: Session, t: CaseTask, zone: str) -> dict[str, Any]:
    return {
        "id": t.id,
        "unit": (u.name if (u := session.get(Unit, t.unit_id)) else None),
        "text": t.text,
        "due_at": _local(t.due_at, zone),
        "done_at": _local(t.done_at, zone),
        "result": t.result,
    }


def case_view(session: Session, case: Case, zone: str, *, full: bool = True) -> dict[str, Any]:
    unit = session.get(Unit, case.unit_id)
    view: dict[str, Any] = {
        "id": case.id,
        "title": case.title,
        "event_id": case.event_id,
        "post_id": case.post_id,
        "alert_id": case.alert_id,
        "unit": unit.name if unit else None,
        "stage": case.stage,
        "stage_label": Stage(case.stage).label,
        "grade": case.grade,
        "grade_code": case.grade_code,
        "category": case.category,
        "measures": CATEGORIES.get(case.category or ""),
        "detected_at": _local(case.detected_at, zone),
        "opened_at": _local(case.opened_at, zone),
        "closed_at": _local(case.closed_at, zone),
        "withdrawn_at": _local(case.withdrawn_at, zone),
        "reopened": case.reopened,
        "is_drill": case.is_drill,
    }
    if not full:
        return view
    people = {p.id: p.name for p in session.scalars(select(Person))}
    statements = session.scalars(
        select(Statement).where(Statement.case_id == case.id).order_by(Statement.version)
    ).all()
    clocks = session.scalars(
        select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.due_at, Deadline.id)
    ).all()
    unit_names = task_unit_names(session, clocks)
    view["deadlines"] = [deadline_view(d, zone, unit_names) for d in clocks]
    view["statements"] = [
        {
            "id": s.id,
            "version": s.version,
            "facts": s.facts,
            "causes": s.causes,
            "progress": s.progress,
            "status": s.status,
            "drafted_by": people.get(s.drafted_by),
            "drafted_at": _local(s.drafted_at, zone),
            "required_roles": s.required_roles,
            "missing_roles": missing_roles(session, s) if s.status in ("draft", "approved") else [],
            "released_at": _local(s.released_at, zone),
            "channel": s.channel,
        }
        for s in statements
    ]
    view["approvals"] = [
        {
            "statement_version": s.version,
            "role": a.role,
            "role_label": Role(a.role).label,
            "person": people.get(a.person_id),
            "decision": a.decision,
            "comment": a.comment,
            "at": _local(a.at, zone),
        }
        for s in statements
        for a in _approvals(session, s)
    ]
    view["replies"] = [
        {
            "id": r.id,
            "text": r.text,
            "status": r.status,
            "status_label": REPLY_STATUS_LABELS.get(r.status, r.status),
            "drafted_by": people.get(r.drafted_by),
            "drafted_at": _local(r.drafted_at, zone),
            "decided_by": people.get(r.decided_by) if r.decided_by else None,
            "decided_at": _local(r.decided_at, zone),
            "comment": r.comment,
        }
        for r in session.scalars(select(Reply).where(Reply.case_id == case.id).order_by(Reply.id))
    ]
    view["tasks"] = [
        _task_view(session, t, zone)
        for t in session.scalars(select(CaseTask).where(CaseTask.case_id == case.id).order_by(CaseTask.id))
    ]
    view["evidence"] = [
        {"post_id": e.post_id, "note": e.note, "added_at": _local(e.added_at, zone)}
        for e in session.scalars(
            select(CaseEvidence).where(CaseEvidence.case_id == case.id).order_by(CaseEvidence.id)
        )
    ]
    view["phone_reports"] = [
        {"to": a.detail.get("to"), "called_at": _local(_utc(a.detail.get("called_at")), zone), "by": a.actor}
        for a in session.scalars(
            select(CaseAction)
            .where(CaseAction.case_id == case.id, CaseAction.action == "phone_report")
            .order_by(CaseAction.id)
        )
    ]
    view["summary"] = case.summary
    event = session.get(Event, case.event_id) if case.event_id is not None else None
    view["rebutted"] = (
        rebutted_after_grading(event.metrics or {}, event.reasons or [])
        if event is not None and case.stage != Stage.CLOSED.value
        else None
    )
    view["rebuttal"] = official_rebuttal(event.metrics or {}, event.reasons or []) if event else None
    view["timeline"] = [
        {"at": _local(a.at, zone), "actor": a.actor, "action": a.action, "text": a.text, "via": a.via}
        for a in session.scalars(
            select(CaseAction).where(CaseAction.case_id == case.id).order_by(CaseAction.id)
        )
    ]
    return view


def reader_scope(session: Session, person_ref: str | None) -> Scope:
    """What a reader may see (`yuqing.org.scope`); None is the server's operator (the CLI): all."""
    return EVERYTHING if person_ref is None else scope_of(session, find_person(session, person_ref).id)


def show(rt: Runtime, case_id: int, person_ref: str | None = None) -> dict[str, Any]:
    """One case in full; with `person_ref`, only when the case's unit is within what they may see."""
    with rt.sessions() as session:
        case = _case(session, case_id)
        if person_ref is not None:
            check_sees(session, find_person(session, person_ref).id, case.unit_id, f"工单 #{case.id}")
        return case_view(session, case, rt.settings.timezone)


# ---- a person's to-do list ----------------------------------------------------------------------


def _my_tasks(session: Session, person: Person, scope: Scope, zone: str) -> list[dict[str, Any]]:
    """Open tasks of open cases given to a unit where the person is 联络员 or office."""
    rows = session.execute(
        select(CaseTask, Case)
        .join(Case, Case.id == CaseTask.case_id)
        .where(CaseTask.done_at.is_(None), Case.stage != Stage.CLOSED.value)
        .order_by(CaseTask.due_at, CaseTask.id)
    ).all()
    mine: list[dict[str, Any]] = []
    # the units where the person is 联络员 or office themselves: a task given to a bureau is the
    # bureau's to do, not its superior's (who may still finish it from the case)
    own = set(
        session.scalars(
            select(RoleAssignment.unit_id).where(
                RoleAssignment.person_id == person.id, RoleAssignment.role.in_(("liaison", "office"))
            )
        )
    )
    for task, case in rows:
        if task.unit_id not in own:
            continue
        deadline = session.scalars(select(Deadline).where(Deadline.task_id == task.id)).first()
        owner, unit = session.get(Unit, case.unit_id), session.get(Unit, task.unit_id)
        mine.append(
            {
                **_task_view(session, task, zone),
                "case_id": case.id,
                "case_title": case.title,
                "case_unit": owner.name if owner else None,
                "unit": unit.name if unit else None,
                "grade": case.grade,
                "grade_code": case.grade_code,
                "is_drill": case.is_drill,
                "state": deadline.state if deadline else "pending",
                "sees_case": scope.sees(case.unit_id),
            }
        )
    return mine


def _my_approvals(session: Session, rt: Runtime, person: Person, scope: Scope) -> list[dict[str, Any]]:
    """Latest drafts of open cases the person sees that wait for a role they may approve in."""
    plan = _plan(rt)
    rows = session.execute(
        select(Statement, Case)
        .join(Case, Case.id == Statement.case_id)
        .where(Statement.status == "draft", Case.stage != Stage.CLOSED.value, scope.where(Case.unit_id))
        .order_by(Statement.drafted_at, Statement.id)
    ).all()
    waiting: list[dict[str, Any]] = []
    for statement, case in rows:
        latest = _latest_statement(session, case.id)
        if latest is None or latest.id != statement.id:
            continue
        missing = missing_roles(session, statement)
        try:
            role = _approving_role(session, plan, person, case, statement, missing)
        except PermissionDenied:
            continue
        waiting.append(
            {
                "case_id": case.id,
                "case_title": case.title,
                "grade": case.grade,
                "grade_code": case.grade_code,
                "is_drill": case.is_drill,
                "version": statement.version,
                "facts": statement.facts,
                "drafted_at": _local(statement.drafted_at, rt.settings.timezone),
                "role": role,
                "role_label": Role(role).label,
                "missing": [Role(r).label for r in missing],
            }
        )
    return waiting


def _my_replies(session: Session, rt: Runtime, person: Person, scope: Scope) -> list[dict[str, Any]]:
    """Formal replies of cases the person sees that wait for them to settle (审定)."""
    plan = _plan(rt)
    if not plan.reply_approvers:
        return []
    rows = session.execute(
        select(Reply, Case)
        .join(Case, Case.id == Reply.case_id)
        .where(
            Reply.status == "pending",
            Reply.drafted_by != person.id,
            Case.stage != Stage.CLOSED.value,
            scope.where(Case.unit_id),
        )
        .order_by(Reply.drafted_at, Reply.id)
    ).all()
    return [
        {
            "id": reply.id,
            "case_id": case.id,
            "case_title": case.title,
            "grade": case.grade,
            "grade_code": case.grade_code,
            "is_drill": case.is_drill,
            "text": reply.text,
            "drafted_by": (d.name if (d := session.get(Person, reply.drafted_by)) else ""),
            "drafted_at": _local(reply.drafted_at, rt.settings.timezone),
        }
        for reply, case in rows
        if _settles_replies(session, plan, person, case)
    ]


def _my_alerts(session: Session, person: Person, scope: Scope, zone: str) -> list[dict[str, Any]]:
    """Alerts still waiting for acknowledgement that reached this person (on duty, or by an
    escalation step) at a unit where they may acknowledge them, the gravest and oldest first."""
    rows = session.execute(
        select(Alert, func.max(AlertRecipient.notified_at), func.max(AlertRecipient.level))
        .join(AlertRecipient, AlertRecipient.alert_id == Alert.id)
        .where(
            Alert.status == AlertStatus.OPEN.value,
            AlertRecipient.person_id == person.id,
            scope.where(Alert.unit_id),
        )
        .group_by(Alert.id)
        .order_by(Alert.created_at, Alert.id)
    ).all()
    waiting: list[dict[str, Any]] = [
        {
            "id": alert.id,
            "title": alert.title,
            "grade": alert.grade,
            "grade_code": alert.grade_code,
            "unit": (u.name if (u := session.get(Unit, alert.unit_id)) else ""),
            "is_drill": alert.is_drill,
            "repeats": alert.repeats,
            "created_at": _local(alert.created_at, zone),
            "told_at": _local(told, zone),
            "level": level,
        }
        for alert, told, level in rows
        if may_act(session, person.id, alert.unit_id, ACKNOWLEDGERS)
    ]
    waiting.sort(key=lambda a: -GRADE_ORDER.get(str(a["grade_code"]), 0))  # stable: oldest first within
    return waiting


def todo(rt: Runtime, person_ref: str) -> dict[str, Any]:
    """What waits for this person: alerts that reached them and wait for acknowledgement, tasks
    given to their department, drafts waiting for their approval."""
    with rt.sessions() as session:
        person = find_person(session, person_ref)
        scope = scope_of(session, person.id)
        alerts = _my_alerts(session, person, scope, rt.settings.timezone)
        tasks = _my_tasks(session, person, scope, rt.settings.timezone)
        approvals = _my_approvals(session, rt, person, scope)
        replies = _my_replies(session, rt, person, scope)
        return {
            "alerts": alerts,
            "tasks": tasks,
            "approvals": approvals,
            "replies": replies,
            "count": len(alerts) + len(tasks) + len(approvals) + len(replies),
        }


def permissions(rt: Runtime, case_id: int, person_ref: str) -> dict[str, Any]:
    """What the console offers this person on the case: forms for what they may do only (a
    drafter is not offered to approve their own draft, an office not to regrade, a duty officer
    not to release or close). `moves` are the stages they may move it to from its stage."""
    with rt.sessions() as session:
        person = find_person(session, person_ref)
        case = _case(session, case_id)
        statement = _latest_statement(session, case.id)
        may_approve = False
        if statement is not None and statement.status == "draft":
            try:
                _approving_role(
                    session, _plan(rt), person, case, statement, missing_roles(session, statement)
                )
                may_approve = True
            except PermissionDenied:
                pass
        # the roles the person holds for the case's unit (there or above it); none on the case of
        # a drill that has ended, which takes no more actions (`_check_drill_going`)
        drill_ended = ended_drill(session, _case_drill(session, case))
        roles = {role.value for role in Role if has_role(session, person.id, role.value, case.unit_id)}
        if drill_ended is not None:
            roles, may_approve = set(), False

        def may(allowed: Iterable[str]) -> bool:
            return bool(roles & set(allowed))

        moves = [t for t in workflow.TRANSITIONS if t.source.value == case.stage]
        closing = next(
            (t for t in workflow.TRANSITIONS if t.source == Stage.SUMMARISED and t.target == Stage.CLOSED),
            None,
        )
        plan = _plan(rt)
        settles = (
            bool(plan.reply_approvers)
            and drill_ended is None
            and _settles_replies(session, plan, person, case)
        )
        return {
            "drill_ended": drill_ended,
            "regrade": may(_REGRADERS),
            "approve": may_approve,
            "phone_report": may(OPENERS),
            "phone_report_required": (case.grade_code or "IV") in plan.phone_report,
            "reply_approvers": _reply_approver_labels(plan),
            "settles_replies": settles,
            # the waiting replies this person may settle (not their own draft)
            "settle_replies": [
                r.id
                for r in session.scalars(
                    select(Reply).where(Reply.case_id == case.id, Reply.status == "pending")
                )
                if settles and r.drafted_by != person.id and case.stage != Stage.CLOSED.value
            ],
            "follow_up": case.stage in _FOLLOW_UP_STAGES and may(DRAFTERS),
            "draft": may(DRAFTERS),
            "release": may(RELEASERS),
            "respond": may(DRAFTERS),
            "categorize": may(DRAFTERS),
            "extend": may(EXTENDERS),
            "task": may(TASKERS),
            "evidence": may(OPENERS),
            "moves": [t.target.value for t in moves if not t.withdraw and may(t.roles)],
            "withdraw": any(t.withdraw and may(t.roles) for t in moves),
            "close": case.stage in (Stage.FOLLOWING.value, Stage.SUMMARISED.value)
            and closing is not None
            and may(closing.roles),
        }


def task_case_id(rt: Runtime, task_id: int, person_id: int) -> int:
    """The case of a task the person may finish from 待办: its department's liaison or office, or
    someone who sees the case. A task of anyone else is refused in the same words as a missing
    one, so that a task id tells another unit neither that it exists nor which case it is of."""
    with rt.sessions() as session:
        task = session.get(CaseTask, task_id)
        case = session.get(Case, task.case_id) if task is not None else None
        if (
            task is None
            or case is None
            or not (
                may_act(session, person_id, task.unit_id, ("liaison", "office"))
                or scope_of(session, person_id).sees(case.unit_id)
            )
        ):
            raise LookupError(f"找不到任务 {task_id}，或该任务不由本单位承办")
        return task.case_id


def list_cases(
    rt: Runtime, *, stage: str | None = None, include_drills: bool = False, person_ref: str | None = None
) -> list[dict[str, Any]]:
    with rt.sessions() as session:
        query = (
            select(Case).where(reader_scope(session, person_ref).where(Case.unit_id)).order_by(Case.id.desc())
        )
        if stage:
            query = query.where(Case.stage == workflow.parse_stage(stage).value)
        if not include_drills:
            query = query.where(Case.is_drill.is_(False))
        out = []
        for case in session.scalars(query):
            view = case_view(session, case, rt.settings.timezone, full=False)
            next_due = session.scalars(
                select(Deadline)
                .where(Deadline.case_id == case.id, Deadline.state.in_(("pending", "due_soon", "overdue")))
                .order_by(Deadline.due_at)
            ).first()
            view["next_deadline"] = deadline_view(next_due, rt.settings.timezone) if next_due else None
            out.append(view)
        return out
