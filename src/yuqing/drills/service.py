"""Service functions of the drills domain: create, start, pause, resume, stop, status, score.

The CLI and the console call these; the replay itself is `yuqing.drills.runner`. The state
changes take an optional `by` (who did it, and from where) that the drill's log records; the
console passes it, the CLI does not.

A drill belongs to a unit (`Drill.unit_id`: the unit of the 办公室 who created it; None, from the
command line: the top unit). With an `actor` (the person acting; the console and the API pass
one, the CLI runs as the server's operator), creating, starting, pausing, resuming and stopping
need 办公室 (or 管理员) of the drill's unit or of a unit above it, and reading a drill needs to
see its unit (`yuqing.org.scope`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yuqing.alerts.models import Alert, AlertStatus
from yuqing.analysis.models import Event
from yuqing.analysis.topics import compile_matcher
from yuqing.cases.models import Case
from yuqing.cases.plan import DeadlineKind, load_plan
from yuqing.db import transaction
from yuqing.drills.errors import DrillError, DrillNotFound
from yuqing.drills.models import Drill, DrillLogEntry, DrillRunner, DrillState
from yuqing.drills.runner import add_log, drill_scenario, real_time, scenario_seconds
from yuqing.drills.scenario import DETECTION, Scenario, load_scenario, shipped_scenarios
from yuqing.drills.scoring import score
from yuqing.drills.states import transition
from yuqing.ingest.models import MediaTier, Platform, Source, SourceKind
from yuqing.org.models import PermissionDenied, Person, RoleAssignment, Unit
from yuqing.org.roles import Role
from yuqing.org.scope import EVERYTHING, check_sees, scope_of
from yuqing.org.service import ancestors, find_person, find_unit, get_person, get_unit, has_role
from yuqing.runtime import Runtime

__all__ = [
    "OPERATORS",
    "check_may_see",
    "create_drill",
    "drill_log",
    "drill_status",
    "list_drills",
    "list_scenarios",
    "pause_drill",
    "resume_drill",
    "score_drill",
    "start_drill",
    "stop_drill",
]


# Who may create and operate a drill, at its unit or above (管理员 holds every role).
OPERATORS: tuple[str, ...] = (Role.OFFICE.value,)


def _top(session: Session) -> Unit:
    top = session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()
    if top is None:
        raise DrillError("尚未建立组织机构：请先用 yuqing org add 添加单位")
    return top


def _check_operator(session: Session, actor: int, unit_id: int | None, what: str) -> None:
    """PermissionDenied unless the actor is 办公室 (or 管理员) of the unit (None: the top unit) or
    of a unit above it."""
    unit = get_unit(session, unit_id) if unit_id is not None else _top(session)
    if not any(has_role(session, actor, role, unit.id) for role in OPERATORS):
        raise PermissionDenied(
            f"{get_person(session, actor).name} 不是 {unit.name}（或其上级单位）的办公室人员或管理员，"
            f"不能{what}该单位的演练"
        )


def _related(session: Session, person: Person, unit_id: int) -> bool:
    """Whether the person's unit is the unit, one above it or one below it."""
    return unit_id in {u.id for u in ancestors(session, person.unit_id)} or person.unit_id in {
        u.id for u in ancestors(session, unit_id)
    }


def _operator_unit(session: Session, actor: int) -> int:
    """The unit a person's new drill belongs to: their own unit when they may run drills there,
    else the first unit where they hold 办公室."""
    person = get_person(session, actor)
    if any(has_role(session, actor, role, person.unit_id) for role in OPERATORS):
        return person.unit_id
    held = session.scalar(
        select(RoleAssignment.unit_id)
        .where(RoleAssignment.person_id == actor, RoleAssignment.role.in_(OPERATORS))
        .order_by(RoleAssignment.id)
    )
    if held is None:
        _check_operator(session, actor, person.unit_id, "创建")
    return held if held is not None else person.unit_id


def eligible_participants(session: Session, actor: int) -> set[int]:
    """The people the actor's new drill may exercise (`create_drill` refuses anyone else): those of
    the unit it belongs to, the units above it and below it. Empty when the actor runs no drills."""
    try:
        unit_id = _operator_unit(session, actor)
    except PermissionDenied:
        return set()
    return {
        person.id
        for person in session.scalars(select(Person).where(Person.active.is_(True)))
        if _related(session, person, unit_id)
    }


def check_may_see(rt: Runtime, drill_id: int, actor: int) -> None:
    """DrillNotFound, or NotVisible (in the same words) unless the actor may see the drill's unit."""
    with rt.sessions() as session:
        drill = _drill(session, drill_id)
        check_sees(session, actor, drill.unit_id, f"演练 #{drill.id}")


def _by(by: str | None) -> str:
    return f"（操作：{by}）" if by else ""


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    return f"{seconds / 60:.0f} 分钟" if seconds < 7200 else f"{seconds / 3600:.1f} 小时"


def coverage_warnings(rt: Runtime, scenario: Scenario, participants: Sequence[int]) -> list[str]:
    """What would make the drill fall flat: no monitored topic catches its posts, or its injects
    would reach nobody."""
    warnings: list[str] = []
    matcher = compile_matcher(rt)
    texts = [f"{p.title}\n{p.text}" if p.title else p.text for p in scenario.posts]
    matched = sum(1 for hits in matcher.match_batch(texts) if hits) if matcher is not None else 0
    if not matched:
        hint = (
            f"；可按场景建议添加专题，规则如：{scenario.expect.topic_hint}"
            if scenario.expect.topic_hint
            else ""
        )
        warnings.append(
            f"场景的 {len(scenario.posts)} 条信息没有一条命中已启用的监测专题，演练不会产生预警"
            f"（这本身也是演练要发现的问题）{hint}"
        )
    if scenario.injects and not participants:
        warnings.append("未指定参演人员（--participants）：情景注入只记入演练日志，不会通知任何人")
    return warnings


def create_drill(
    rt: Runtime,
    scenario_ref: str,
    *,
    speed: float = 1.0,
    participants: Sequence[str] = (),
    allow_external: bool = False,
    runner: DrillRunner = DrillRunner.SERVER,
    by: str | None = None,
    actor: int | None = None,
    unit: str | int | None = None,
) -> dict[str, Any]:
    """A new drill of the scenario (a shipped scenario's name or a file), not yet started. It is
    the drill of `unit` (name or id); without one, of the actor's unit (`_operator_unit`), or of
    the top unit when the operator creates it at the command line."""
    if speed <= 0:
        raise DrillError(f"演练速度应大于 0（--speed），实为 {speed:g}")
    scenario, label = load_scenario(scenario_ref)
    now = rt.clock()
    with transaction(rt.sessions) as session:
        if unit is not None:
            unit_id: int | None = find_unit(session, unit).id
            if actor is not None:
                _check_operator(session, actor, unit_id, "创建")
        else:
            unit_id = _operator_unit(session, actor) if actor is not None else None
        people: list[Person] = []
        for ref in participants:
            person = find_person(session, ref)
            if actor is not None and unit_id is not None and not _related(session, person, unit_id):
                # a unit exercises its own people, its departments and the leaders above it who
                # approve its cases; another unit's would be woken by a drill it cannot stop
                owner = get_unit(session, unit_id).name
                raise PermissionDenied(
                    f"{person.name} 不属于 {owner} 及其上级、下级单位，不能参加该单位的演练"
                )
            if person.id not in {p.id for p in people}:
                people.append(person)
        warnings = coverage_warnings(rt, scenario, [p.id for p in people])
        drill = Drill(
            name=scenario.name[:200],
            scenario_ref=label,
            scenario=scenario.raw,
            state=DrillState.CREATED.value,
            runner=runner.value,
            speed=float(speed),
            allow_external=allow_external,
            participants=[p.id for p in people],
            unit_id=unit_id,
            created_at=now,
            scenario_offset=0.0,
            segments=[],
            posts_fed=0,
            injects_fed=0,
            warnings=warnings,
        )
        session.add(drill)
        session.flush()
        source = Source(
            name=f"演练#{drill.id}：{scenario.name}"[:200],
            kind=SourceKind.FILE.value,
            url=None,
            platform=Platform.WEIBO.value,
            media_tier=MediaTier.OTHER.value,
            config={},
            created_at=now,
            consecutive_failures=0,
            empty_runs=0,
            enabled=True,
            drill_id=drill.id,
        )
        session.add(source)
        session.flush()
        drill.source_id = source.id
        who = "、".join(p.name for p in people) or "未指定"
        outside = "允许" if allow_external else "不允许（仅站内通知）"
        add_log(
            session,
            drill.id,
            now,
            0.0,
            "state",
            f"创建演练：场景「{scenario.name}」，{len(scenario.posts)} 条信息、"
            f"{len(scenario.injects)} 个情景注入，{speed:g} 倍速；参演人员：{who}；外部通知渠道：{outside}"
            + _by(by),
        )
        for warning in warnings:
            add_log(session, drill.id, now, 0.0, "warning", warning)
        return drill_view(session, drill, now, rt.settings.timezone)


def _drill(session: Session, drill_id: int) -> Drill:
    drill = session.get(Drill, drill_id)
    if drill is None:
        raise DrillNotFound(drill_id)
    return drill


def start_drill(
    rt: Runtime,
    drill_id: int,
    *,
    runner: DrillRunner | None = None,
    by: str | None = None,
    actor: int | None = None,
) -> dict[str, Any]:
    """Start the replay: the server's drill worker (or `drill run` in the foreground) feeds it."""
    now = rt.clock()
    with transaction(rt.sessions) as session:
        drill = _drill(session, drill_id)
        if actor is not None:
            check_sees(session, actor, drill.unit_id, f"演练 #{drill.id}")
            _check_operator(session, actor, drill.unit_id, "开始")
        drill.state = transition(drill.state, "start", drill.id).value
        if runner is not None:
            drill.runner = runner.value
        drill.started_at = drill.segment_started_at = now
        drill.scenario_offset = 0.0
        drill.segments = [{"started_at": now.isoformat(), "offset": 0.0}]
        scenario = drill_scenario(drill)
        how = "系统后台回放" if drill.runner == DrillRunner.SERVER.value else "命令行前台回放"
        add_log(
            session,
            drill.id,
            now,
            0.0,
            "state",
            f"演练开始（{how}），{drill.speed:g} 倍速；场景共 {_span(scenario.duration)}，"
            f"约 {_span(scenario.duration / drill.speed)}后回放完毕" + _by(by),
        )
        return drill_view(session, drill, now, rt.settings.timezone)


def pause_drill(
    rt: Runtime, drill_id: int, *, by: str | None = None, actor: int | None = None
) -> dict[str, Any]:
    """Stop the drill's clock where it stands; nothing more is fed until it is resumed."""
    now = rt.clock()
    with transaction(rt.sessions) as session:
        drill = _drill(session, drill_id)
        if actor is not None:
            check_sees(session, actor, drill.unit_id, f"演练 #{drill.id}")
            _check_operator(session, actor, drill.unit_id, "暂停")
        seconds = scenario_seconds(drill, now)
        drill.state = transition(drill.state, "pause", drill.id).value
        drill.scenario_offset, drill.segment_started_at = seconds, None
        text = f"演练暂停，场景时间停在第 {seconds / 60:.1f} 分钟" + _by(by)
        add_log(session, drill.id, now, seconds, "state", text)
        return drill_view(session, drill, now, rt.settings.timezone)


def resume_drill(
    rt: Runtime, drill_id: int, *, by: str | None = None, actor: int | None = None
) -> dict[str, Any]:
    """Run the drill's clock on from where it was paused; the rest of the replay moves by the pause."""
    now = rt.clock()
    with transaction(rt.sessions) as session:
        drill = _drill(session, drill_id)
        if actor is not None:
            check_sees(session, actor, drill.unit_id, f"演练 #{drill.id}")
            _check_operator(session, actor, drill.unit_id, "继续")
        drill.state = transition(drill.state, "resume", drill.id).value
        paused_at = _last_pause(session, drill.id)
        drill.segment_started_at = now
        drill.segments = [*drill.segments, {"started_at": now.isoformat(), "offset": drill.scenario_offset}]
        pause = f"，暂停了 {(now - paused_at).total_seconds() / 60:.1f} 分钟" if paused_at else ""
        add_log(
            session,
            drill.id,
            now,
            drill.scenario_offset,
            "state",
            f"演练继续，自场景第 {drill.scenario_offset / 60:.1f} 分钟起{pause}" + _by(by),
        )
        return drill_view(session, drill, now, rt.settings.timezone)


def _last_pause(session: Session, drill_id: int) -> dt.datetime | None:
    return session.scalar(
        select(DrillLogEntry.at)
        .where(
            DrillLogEntry.drill_id == drill_id,
            DrillLogEntry.kind == "state",
            DrillLogEntry.text.like("演练暂停%"),
        )
        .order_by(DrillLogEntry.id.desc())
        .limit(1)
    )


def stop_drill(
    rt: Runtime, drill_id: int, *, by: str | None = None, actor: int | None = None
) -> dict[str, Any]:
    """End the drill. A replay still going is ended early: what was fed stays, and the team's work
    can still be scored. A finished replay's drill is closed: the team's work on it is over. Either
    way what was not done by now is not done, and the drill's case clocks end."""
    now = rt.clock()
    with transaction(rt.sessions) as session:
        drill = _drill(session, drill_id)
        if actor is not None:
            check_sees(session, actor, drill.unit_id, f"演练 #{drill.id}")
            _check_operator(session, actor, drill.unit_id, "结束")
        seconds = scenario_seconds(drill, now)
        replayed = drill.state == DrillState.FINISHED.value
        drill.state = transition(drill.state, "stop", drill.id).value
        drill.scenario_offset, drill.segment_started_at, drill.ended_at = seconds, None, now
        if replayed:
            text = "演练结束（情景已回放完毕），未完成的科目不再计时" + _by(by)
        else:
            text = f"演练停止，场景时间停在第 {seconds / 60:.1f} 分钟" + _by(by)
        add_log(session, drill.id, now, seconds, "state", text)
        _end_case_clocks(session, drill, now)
        return drill_view(session, drill, now, rt.settings.timezone)


def _end_case_clocks(session: Session, drill: Drill, now: dt.datetime) -> None:
    """An ended drill's cases stop counting: their clocks not yet due are cancelled, so they
    neither sit among the office's coming deadlines nor escalate to anyone tomorrow, and its alerts
    still open are closed (they escalate no further and wait for no one). A clock already overdue
    stays so: it is the drill's record, and its score (the dashboard leaves it out)."""
    from yuqing.cases import deadlines
    from yuqing.cases.service import log

    events = select(Event.id).where(Event.drill_id == drill.id)
    alerts = select(Alert.id).where(Alert.event_id.in_(events))
    cases = session.scalars(
        select(Case).where(Case.is_drill.is_(True), or_(Case.event_id.in_(events), Case.alert_id.in_(alerts)))
    )
    for alert in session.scalars(select(Alert).where(Alert.event_id.in_(events), Alert.status == "open")):
        # nobody is woken for an exercise that has ended, nor asked to acknowledge it any more
        alert.status, alert.next_escalation_at = AlertStatus.CLOSED.value, None
    for case in cases:
        ended = deadlines.cancel_open(session, case.id)
        if ended:
            names = "、".join(dict.fromkeys(DeadlineKind.LABELS.get(d.kind, d.kind) for d in ended))
            text = f"演练已结束，{names}时限随之终止"
            log(session, case, None, "deadline_ended", text, via="system", at=now)


# ---- views --------------------------------------------------------------------------------------


def _local(at: dt.datetime | None, zone: str) -> str | None:
    return at.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds") if at else None


def drill_view(session: Session, drill: Drill, now: dt.datetime, zone: str) -> dict[str, Any]:
    scenario = drill_scenario(drill)
    seconds = scenario_seconds(drill, now)
    events = list(session.scalars(select(Event.id).where(Event.drill_id == drill.id).order_by(Event.id)))
    alerts = list(session.scalars(select(Alert.id).where(Alert.event_id.in_(events)).order_by(Alert.id)))
    cases = list(
        session.scalars(
            select(Case.id).where((Case.event_id.in_(events)) | (Case.alert_id.in_(alerts))).order_by(Case.id)
        )
    )
    people = session.scalars(select(Person).where(Person.id.in_(drill.participants))).all()
    finish_at = None
    if drill.state == DrillState.RUNNING.value and drill.segments:
        finish_at = _local(real_time(drill, scenario.duration), zone)
    unit = session.get(Unit, drill.unit_id) if drill.unit_id is not None else None
    return {
        "id": drill.id,
        "name": drill.name,
        "unit": unit.name if unit is not None else None,
        "scenario": drill.scenario_ref,
        "state": drill.state,
        "state_label": DrillState(drill.state).label,
        "runner": drill.runner,
        "speed": drill.speed,
        "allow_external": drill.allow_external,
        "participants": [p.name for p in sorted(people, key=lambda p: drill.participants.index(p.id))],
        "created_at": _local(drill.created_at, zone),
        "started_at": _local(drill.started_at, zone),
        "ended_at": _local(drill.ended_at, zone),
        "expected_finish_at": finish_at,
        "scenario_seconds": round(min(seconds, scenario.duration), 1),
        "scenario_duration_seconds": scenario.duration,
        "posts_fed": drill.posts_fed,
        "posts_total": len(scenario.posts),
        "injects_fed": drill.injects_fed,
        "injects_total": len(scenario.injects),
        "source_id": drill.source_id,
        "events": events,
        "alerts": alerts,
        "cases": cases,
        "warnings": list(drill.warnings or []),
    }


def drill_status(rt: Runtime, drill_id: int, *, actor: int | None = None) -> dict[str, Any]:
    """One drill with its log; with an `actor`, only when they may see the drill's unit."""
    with rt.sessions() as session:
        drill = _drill(session, drill_id)
        if actor is not None:
            check_sees(session, actor, drill.unit_id, f"演练 #{drill.id}")
        view = drill_view(session, drill, rt.clock(), rt.settings.timezone)
        view["log"] = drill_log(session, drill.id, rt.settings.timezone)
        return view


def drill_log(session: Session, drill_id: int, zone: str) -> list[dict[str, Any]]:
    return [
        {
            "at": _local(entry.at, zone),
            "scenario_minutes": None
            if entry.scenario_seconds is None
            else round(entry.scenario_seconds / 60, 1),
            "kind": entry.kind,
            "text": entry.text,
        }
        for entry in session.scalars(
            select(DrillLogEntry)
            .where(DrillLogEntry.drill_id == drill_id)
            .order_by(DrillLogEntry.at, DrillLogEntry.id)
        )
    ]


def list_drills(rt: Runtime, *, actor: int | None = None) -> list[dict[str, Any]]:
    """The drills, newest first; with an `actor`, those of the units they may see."""
    now = rt.clock()
    with rt.sessions() as session:
        scope = EVERYTHING if actor is None else scope_of(session, actor)
        drills = session.scalars(select(Drill).where(scope.where(Drill.unit_id)).order_by(Drill.id.desc()))
        return [drill_view(session, d, now, rt.settings.timezone) for d in drills]


def _subject_start(scenario: Scenario, start: str) -> str:
    """What starts a subject's clock, in words."""
    if start == DETECTION:
        return "首条预警"
    inject = scenario.inject(start)
    return f"情景注入「{inject.kind if inject else start}」送达"


def list_scenarios() -> list[dict[str, Any]]:
    """The shipped scenarios, each with its size and what it expects."""
    out = []
    for stem in shipped_scenarios():
        scenario, _ = load_scenario(stem)
        out.append(
            {
                "key": stem,
                "name": scenario.name,
                "description": scenario.description,
                "posts": len(scenario.posts),
                "injects": [{"at_minutes": round(i.at / 60, 1), "kind": i.kind} for i in scenario.injects],
                "duration_seconds": scenario.duration,
                "subjects": [s.name for s in scenario.subjects],
                # Each subject with its limit and what starts and completes it (for the console).
                "subject_limits": [
                    {
                        "name": s.name,
                        "limit_minutes": s.limit_minutes,
                        "action_label": s.action_label,
                        "start": _subject_start(scenario, s.start),
                    }
                    for s in scenario.subjects
                ],
                "expect_grade": scenario.expect.grade_name,
                "expect_category": scenario.expect.category,
                "source": scenario.provenance,
            }
        )
    return out


def score_drill(rt: Runtime, drill_id: int, *, actor: int | None = None) -> dict[str, Any]:
    """The drill's score as of now (see `yuqing.drills.scoring`)."""
    plan = load_plan(rt.settings.plan_profile or None)
    now = rt.clock()
    with rt.sessions() as session:
        drill = _drill(session, drill_id)
        if actor is not None:
            check_sees(session, actor, drill.unit_id, f"演练 #{drill.id}")
        result = score(session, drill, drill_scenario(drill), plan, now, rt.settings.timezone).as_dict()
        result["drill"] = {
            "id": drill.id,
            "name": drill.name,
            "state": drill.state,
            "state_label": DrillState(drill.state).label,
        }
        return result
