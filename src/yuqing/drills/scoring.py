"""Scoring a drill from the record: what the team did, when, against the scenario and the plan.

Rules (docs/drills.md explains them to users):

- **Detection** is the drill's first alert. Each subject's clock starts there (or when the inject
  it names arrived) and stops at the first recorded action that completes it (a release, an
  advance to 研判, a finished task, …) on any of the drill's cases.
- **A subject's score**: 100 when done within its limit; falling linearly to 0 at twice the limit
  (done 1.5× the limit: 50); 0 when done later or not at all. An action done before its clock
  started (a report made before the superior asked) counts as done at once.
- **Checks of the plan**: the case's grade and category against the scenario's expectations;
  the released statement approved by every role the *expected* grade requires; the release
  itself. Each failed check takes its points off (default 10 each).
- **Deadlines** of the drill's cases: each missed (done late) or still overdue takes 5 points
  off, at most 20.
- **Overall** = the subjects' weighted average − the deductions, between 0 and 100; 优秀 from 90,
  良好 from 75, 合格 from 60, else 不合格.

Every figure comes with a Chinese reason, and the shortcomings and suggested improvements are
derived from the same findings, so the drill report can say why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yuqing.alerts.models import Alert, AlertAcknowledgement, AlertRecipient
from yuqing.analysis.models import Event
from yuqing.cases.models import (
    OPEN_DEADLINE_STATES,
    Approval,
    Case,
    CaseAction,
    CaseTask,
    Deadline,
    DeadlineState,
    Statement,
)
from yuqing.cases.plan import DeadlineKind, ResponsePlan
from yuqing.drills.models import Drill, DrillLogEntry, DrillState
from yuqing.drills.scenario import DETECTION, GRADE_NAMES, Scenario, Subject
from yuqing.org.models import Person
from yuqing.org.roles import Role

__all__ = ["DrillRecord", "DrillScore", "load_record", "score", "subject_points"]

RATINGS = ((90.0, "优秀"), (75.0, "良好"), (60.0, "合格"), (0.0, "不合格"))

# What to improve, by the subject's completing action, the failed check or the missed clock.
IMPROVEMENTS: dict[str, str] = {
    "detection": "检查监测专题规则能否覆盖此类信息，并确认责任单位的预警阈值设置合理",
    "acknowledged": "值班员应随时关注预警并及时确认，避免预警逐级升级；核对值班表和联系方式",
    "case_opened": "收到预警后立即开立工单、启动预案流程，避免处置延误",
    "reported": "完善信息报送流程：发现后立即向上级报告，按等级时限（特别重大 1 小时、重大 2 小时）提醒督办，"
    "必要时先电话报告",
    "categorized": "研判小组在发现后及时会商，对照预案明确舆情类别和应对措施",
    "assessed": "研判小组在发现后及时会商，对照预案明确舆情类别和应对措施，形成研判意见",
    "disposing": "研判结束后立即进入处置，明确牵头部门和处置措施",
    "statement_drafted": "预先准备常见事件的声明模板，按“快报事实，慎报原因，重报进展”起草，缩短起草用时",
    "statement_approved": "打通声明审批通道：按等级明确审批人及其代理人，审批齐全后第一时间发布",
    "released": "打通声明审批通道，审批齐全后第一时间通过新闻通稿、官方微博/微信等渠道发布权威信息",
    "responded": "指定专人负责跟帖回应，发现后尽快作出初步回应；声明未发布前先行简要回应",
    "task_assigned": "明确业务部门联络员，发现后及时向相关部门分派核查和处置任务",
    "task_done": "明确业务部门联络员和任务时限，分派任务后跟踪督办，完成后及时反馈结果",
    "summarised": "处置结束后及时开展总结评估，形成书面总结",
    "closed": "处置结束后及时开展总结评估并结案",
    "check:grade": "加强分级标准培训：对照预案的阅读量、转发量、跨站传播、伤亡和公共安全等条件定级；"
    "定级与实际不符时由领导调整等级并写明理由",
    "check:category": "对照预案的舆情分类研判（询问/质疑/诉求、属实批评、恶意传播/炒作、捏造/歪曲/谣言/诽谤、"
    "建设性建议），按类别采取相应措施",
    "check:approvals": "按等级落实审批：较大及以下由分管领导审批，重大及以上由主要领导和领导小组审批；"
    "定级偏低会导致审批层级不足",
    "check:release": "按“快报事实，慎报原因，重报进展”及时发布权威信息，重大及以上事件 5 小时内发布",
    "deadline:press_conference": "重大及以上事件 24 小时内召开新闻发布会，提前准备发布会方案",
    "deadline:formal_reply": "询问类信息 5 个工作日内出具正式答复意见",
    "unfinished": "演练应进行至各项时限完成或届满；提前结束时未检验的环节（如新闻发布会）应在下次演练中补练",
}
_DEADLINE_ACTIONS = {
    DeadlineKind.REPORT: "reported",
    DeadlineKind.RELEASE: "released",
    DeadlineKind.FIRST_RESPONSE: "responded",
    DeadlineKind.TASK: "task_done",
}


@dataclass
class DrillRecord:
    """Everything the drill produced, read from the tables of the other domains."""

    events: list[Event]
    alerts: list[Alert]
    cases: list[Case]
    actions: list[CaseAction]
    statements: list[Statement]
    approvals: list[Approval]
    tasks: list[CaseTask]
    deadlines: list[Deadline]
    injects: dict[str, dt.datetime]  # inject id → when it reached the participants
    people: dict[int, str]
    # every acknowledgement of the drill's alerts (an upgrade re-opens an alert; the alert keeps
    # only the latest)
    acknowledgements: list[AlertAcknowledgement] = field(default_factory=list)

    @property
    def detection(self) -> Alert | None:
        return min(self.alerts, key=lambda a: (a.created_at, a.id), default=None)

    @property
    def main_case(self) -> Case | None:
        return min(self.cases, key=lambda c: (c.opened_at, c.id), default=None)


def load_record(session: Session, drill: Drill) -> DrillRecord:
    events = list(session.scalars(select(Event).where(Event.drill_id == drill.id).order_by(Event.id)))
    event_ids = [e.id for e in events]
    alerts = list(session.scalars(select(Alert).where(Alert.event_id.in_(event_ids)).order_by(Alert.id)))
    alert_ids = [a.id for a in alerts]
    cases = list(
        session.scalars(
            select(Case)
            .where(or_(Case.event_id.in_(event_ids), Case.alert_id.in_(alert_ids)))
            .order_by(Case.id)
        )
    )
    case_ids = [c.id for c in cases]
    statements = list(
        session.scalars(select(Statement).where(Statement.case_id.in_(case_ids)).order_by(Statement.id))
    )
    injects: dict[str, dt.datetime] = {}
    for entry in session.scalars(
        select(DrillLogEntry)
        .where(DrillLogEntry.drill_id == drill.id, DrillLogEntry.kind == "inject")
        .order_by(DrillLogEntry.id)
    ):
        injects.setdefault(str(entry.detail.get("inject")), entry.at)
    return DrillRecord(
        acknowledgements=list(
            session.scalars(
                select(AlertAcknowledgement)
                .where(AlertAcknowledgement.alert_id.in_(alert_ids))
                .order_by(AlertAcknowledgement.at, AlertAcknowledgement.id)
            )
        ),
        events=events,
        alerts=alerts,
        cases=cases,
        actions=list(
            session.scalars(
                select(CaseAction)
                .where(CaseAction.case_id.in_(case_ids))
                .order_by(CaseAction.at, CaseAction.id)
            )
        ),
        statements=statements,
        approvals=list(
            session.scalars(
                select(Approval)
                .where(Approval.statement_id.in_([s.id for s in statements]))
                .order_by(Approval.id)
            )
        ),
        tasks=list(
            session.scalars(select(CaseTask).where(CaseTask.case_id.in_(case_ids)).order_by(CaseTask.id))
        ),
        deadlines=list(
            session.scalars(select(Deadline).where(Deadline.case_id.in_(case_ids)).order_by(Deadline.id))
        ),
        injects=injects,
        people={p.id: p.name for p in session.scalars(select(Person))},
    )


@dataclass(frozen=True)
class Completion:
    at: dt.datetime
    by: str | None
    case_id: int | None


def completions(record: DrillRecord) -> dict[str, Completion]:
    """The first time each completing action was recorded, and who did it."""
    found: dict[str, Completion] = {}

    def note(action: str, at: dt.datetime | None, person: int | None, case_id: int | None) -> None:
        if at is None:
            return
        current = found.get(action)
        if current is None or at < current.at:
            found[action] = Completion(at, record.people.get(person) if person else None, case_id)

    for ack in record.acknowledgements:
        note("acknowledged", ack.at, ack.person_id, None)
    for alert in record.alerts:  # acknowledged before each acknowledgement was kept
        note("acknowledged", alert.acknowledged_at, alert.acknowledged_by, None)
    for case in record.cases:
        note("case_opened", case.opened_at, case.opened_by, case.id)
    stage_actions = {
        "reported": "reported",
        "assessed": "assessed",
        "disposing": "disposing",
        "summarised": "summarised",
        "closed": "closed",
    }
    for action in record.actions:
        target = (action.detail or {}).get("to")
        if action.action in ("advance", "reopen") and target in stage_actions:
            note(stage_actions[target], action.at, action.person_id, action.case_id)
        elif action.action == "categorize":
            note("categorized", action.at, action.person_id, action.case_id)
        elif action.action in ("respond", "release"):
            note("responded", action.at, action.person_id, action.case_id)
        elif action.action == "summary":
            note("summarised", action.at, action.person_id, action.case_id)
    approvals: dict[int, list[Approval]] = {}
    for approval in record.approvals:
        approvals.setdefault(approval.statement_id, []).append(approval)
    for statement in record.statements:
        note("statement_drafted", statement.drafted_at, statement.drafted_by, statement.case_id)
        note("released", statement.released_at, statement.released_by, statement.case_id)
        given = [a for a in approvals.get(statement.id, []) if a.decision == "approved"]
        if statement.status in ("approved", "released") and given:
            last = max(given, key=lambda a: a.at)
            note("statement_approved", last.at, last.person_id, statement.case_id)
    # who assigned and who finished a task: the timeline names them (the task row does not)
    by_action = {
        (a.action, a.case_id, a.at): a.person_id for a in record.actions if a.action in ("task", "task_done")
    }
    for task in record.tasks:
        note(
            "task_assigned",
            task.created_at,
            by_action.get(("task", task.case_id, task.created_at)),
            task.case_id,
        )
        done_by = by_action.get(("task_done", task.case_id, task.done_at)) if task.done_at else None
        note("task_done", task.done_at, done_by, task.case_id)
    return found


def subject_points(minutes: float | None, limit: float) -> float:
    """100 within the limit, linearly down to 0 at twice the limit, 0 later or never."""
    if minutes is None or minutes >= 2 * limit:
        return 0.0
    if minutes <= limit:
        return 100.0
    return round(100.0 * (2.0 - minutes / limit), 1)


@dataclass
class SubjectScore:
    name: str
    action: str
    action_label: str
    limit_minutes: float
    weight: float
    start: str  # what started its clock, in words
    started_at: str | None
    done_at: str | None
    done_by: str | None
    minutes: float | None
    score: float
    status: str  # 按时完成 | 超时完成 | 未完成 | 进行中 | 未计时
    reason: str


@dataclass
class CheckResult:
    name: str
    label: str
    passed: bool | None  # None: the scenario expects nothing here
    expected: str | None
    actual: str | None
    deduction: float
    reason: str


@dataclass
class DeadlineOutcome:
    case_id: int
    kind: str
    label: str
    rule: str
    due_at: str
    done_at: str | None
    state: str  # met | missed | overdue | pending
    state_label: str
    late_minutes: float | None
    reason: str


@dataclass
class DrillScore:
    drill_id: int
    scored_at: str
    detected_at: str | None
    detection_alert_id: int | None
    subjects: list[SubjectScore]
    subject_average: float
    checks: list[CheckResult]
    deadlines: list[DeadlineOutcome]
    deadline_counts: dict[str, int]
    deduction_total: float
    overall: float
    rating: str
    reasons: list[str]
    shortcomings: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(
    session: Session, drill: Drill, scenario: Scenario, plan: ResponsePlan, now: dt.datetime, zone: str
) -> DrillScore:
    """The drill's score as of `now`, from the record."""
    record = load_record(session, drill)
    tz = ZoneInfo(zone)

    def local(at: dt.datetime | None) -> str | None:
        return at.astimezone(tz).isoformat(timespec="seconds") if at else None

    def clock(at: dt.datetime) -> str:
        return at.astimezone(tz).strftime("%H:%M")

    detection = record.detection
    done = completions(record)
    shortcomings: list[str] = []
    improve: list[str] = []
    if detection is None:
        shortcomings.append("演练信息未触发预警：监测没有发现本场景的舆情，各科目无法计时")
        hint = f"（本场景建议的专题规则：{scenario.expect.topic_hint}）" if scenario.expect.topic_hint else ""
        improve.append(IMPROVEMENTS["detection"] + hint)

    # a drill ended (stopped early, or closed after its replay) is over: what was not done by then is
    # not done (a finished replay goes on being worked by the team, and is scored as of now)
    ended = drill.ended_at if drill.state in (DrillState.STOPPED.value, DrillState.CLOSED.value) else None
    early = drill.state == DrillState.STOPPED.value
    subjects = [
        _score_subject(
            subject, detection, done, record, scenario, now, local, clock, ended=ended, early=early
        )
        for subject in scenario.subjects
    ]
    for subject in subjects:
        if subject.status in ("超时完成", "未完成") or (subject.status == "未计时" and detection is not None):
            shortcomings.append(f"「{subject.name}」{subject.reason}")
            improve.append(IMPROVEMENTS[subject.action])
    weights = sum(s.weight for s in subjects)
    average = round(sum(s.score * s.weight for s in subjects) / weights, 1) if weights else 0.0

    checks = _checks(record, scenario, plan, clock)
    for check in checks:
        if check.passed is False:
            shortcomings.append(f"{check.label}：{check.reason}")
            improve.append(IMPROVEMENTS[f"check:{check.name}"])

    # an ended drill's clocks are read as of its end: nobody works them afterwards
    outcomes = _deadlines(record, ended or now, local)
    counts = {
        state: sum(1 for o in outcomes if o.state == state)
        for state in ("met", "missed", "overdue", "pending")
    }
    late = counts["missed"] + counts["overdue"]
    deadline_points = min(late * scenario.deductions.deadline, scenario.deductions.deadline_cap)
    for outcome in outcomes:
        if outcome.state in ("missed", "overdue"):
            shortcomings.append(f"工单 #{outcome.case_id} {outcome.reason}")
            action = _DEADLINE_ACTIONS.get(outcome.kind)
            improve.append(IMPROVEMENTS[action] if action else IMPROVEMENTS[f"deadline:{outcome.kind}"])
    # the clocks the drill's end cancelled (its cases still open) were not exercised: not late,
    # but a summary must not read 「未发现明显不足」 over a 特别重大's press conference never held
    open_cases = {c.id for c in record.cases if c.closed_at is None}
    unfinished = (
        sorted(
            (
                d
                for d in record.deadlines
                if d.state == DeadlineState.CANCELLED.value and d.case_id in open_cases
            ),
            key=lambda d: (d.due_at, d.id),
        )
        if ended is not None
        else []
    )
    if unfinished:
        shortcomings.append(
            ("演练提前结束" if early else "演练结束")
            + "时以下时限尚未完成、未经检验："
            + "；".join(
                f"工单 #{d.case_id} {DeadlineKind.LABELS.get(d.kind, d.kind)}"
                f"（截止 {_short(local(d.due_at) or '')}）"
                for d in unfinished
            )
        )
        improve.append(IMPROVEMENTS["unfinished"])
    # escalation notices that went out (a level whose holders were told already is passed over:
    # the alert's level can jump 0 → 2 in one notice)
    alert_ids = [a.id for a in record.alerts]
    escalated = (
        len(
            set(
                session.execute(
                    select(AlertRecipient.alert_id, AlertRecipient.level).where(
                        AlertRecipient.alert_id.in_(alert_ids), AlertRecipient.level > 0
                    )
                ).all()
            )
        )
        if alert_ids
        else 0
    )
    if escalated:
        shortcomings.append(f"预警未及时确认，已逐级升级 {escalated} 次")
        improve.append(IMPROVEMENTS["acknowledged"])

    deductions = round(sum(c.deduction for c in checks) + deadline_points, 1)
    overall = round(min(max(average - deductions, 0.0), 100.0), 1)
    rating = next(label for bound, label in RATINGS if overall >= bound)
    reasons = [
        f"科目加权平均 {average:g} 分（{len(subjects)} 个科目，每科目按时完成 100 分，超时按比例扣分）"
    ]
    reasons += [f"{c.label}不符扣 {c.deduction:g} 分：{c.reason}" for c in checks if c.deduction]
    if late:
        reasons.append(
            f"时限超时 {late} 项扣 {deadline_points:g} 分"
            f"（每项 {scenario.deductions.deadline:g} 分，最多 {scenario.deductions.deadline_cap:g} 分）"
        )
    reasons.append(f"总分 {overall:g} 分，评定为「{rating}」")
    return DrillScore(
        drill_id=drill.id,
        scored_at=local(now) or "",
        detected_at=local(detection.created_at) if detection else None,
        detection_alert_id=detection.id if detection else None,
        subjects=subjects,
        subject_average=average,
        checks=checks,
        deadlines=outcomes,
        deadline_counts=counts,
        deduction_total=deductions,
        overall=overall,
        rating=rating,
        reasons=reasons,
        shortcomings=shortcomings,
        improvements=list(dict.fromkeys(improve)),
    )


def _score_subject(
    subject: Subject,
    detection: Alert | None,
    done: dict[str, Completion],
    record: DrillRecord,
    scenario: Scenario,
    now: dt.datetime,
    local: Callable[[dt.datetime | None], str | None],
    clock: Callable[[dt.datetime], str],
    *,
    ended: dt.datetime | None = None,
    early: bool = True,
) -> SubjectScore:
    limit = subject.limit_minutes
    if subject.start == DETECTION:
        started = detection.created_at if detection else None
        start_label = "首条预警"
        missing = "演练未产生预警，无法计时"
    else:
        inject = scenario.inject(subject.start)
        started = record.injects.get(subject.start)
        start_label = f"情景注入「{inject.kind if inject else subject.start}」送达"
        missing = f"情景注入「{inject.kind if inject else subject.start}」尚未送达，尚未计时"
    completion = done.get(subject.done_when)

    def result(minutes: float | None, points: float, status: str, reason: str) -> SubjectScore:
        return SubjectScore(
            name=subject.name,
            action=subject.done_when,
            action_label=subject.action_label,
            limit_minutes=limit,
            weight=subject.weight,
            start=start_label,
            started_at=local(started),
            done_at=local(completion.at) if completion else None,
            done_by=completion.by if completion else None,
            minutes=None if minutes is None else round(minutes, 1),
            score=points,
            status=status,
            reason=reason,
        )

    if started is None:
        return result(None, 0.0, "未计时", missing)
    if ended is not None and completion is not None and completion.at > ended:
        completion = None  # done after the drill was ended: not part of the drill
    if completion is None:
        used = (now - started).total_seconds() / 60
        if ended is not None:
            return result(
                None,
                0.0,
                "未完成",
                f"演练于{clock(ended)}{'提前' if early else ''}结束时尚未{subject.action_label}，得 0 分",
            )
        if used <= limit:
            return result(
                None,
                0.0,
                "进行中",
                f"尚未{subject.action_label}"
                f"（自{start_label}已过 {used:.0f} 分钟，时限 {limit:g} 分钟内仍可完成）",
            )
        return result(None, 0.0, "未完成", f"超过时限 {limit:g} 分钟仍未{subject.action_label}，得 0 分")
    minutes = max((completion.at - started).total_seconds() / 60, 0.0)
    points = subject_points(minutes, limit)
    who = f"（{completion.by}）" if completion.by else ""
    when = f"{clock(completion.at)}{who}{subject.action_label}"
    if minutes <= limit:
        return result(
            minutes,
            points,
            "按时完成",
            f"{when}，自{start_label}用时 {round(minutes, 1):g} 分钟，在 {limit:g} 分钟时限内",
        )
    over = minutes - limit
    if points > 0:
        reason = (
            f"{when}，用时 {round(minutes, 1):g} 分钟，超过 {limit:g} 分钟时限 {round(over, 1):g} 分钟，"
            f"按超时比例得 {points:g} 分"
        )
    else:
        reason = f"{when}，用时 {round(minutes, 1):g} 分钟，超过时限两倍，得 0 分"
    return result(minutes, points, "超时完成", reason)


def _grade_label(code: str | None) -> str | None:
    return f"{GRADE_NAMES[code]}（{code}）" if code in GRADE_NAMES else None


def _checks(
    record: DrillRecord, scenario: Scenario, plan: ResponsePlan, clock: Callable[[dt.datetime], str]
) -> list[CheckResult]:
    expect, points = scenario.expect, scenario.deductions
    case = record.main_case
    out: list[CheckResult] = []
    no_case = "演练中未开立工单"
    if expect.grade:
        wanted = _grade_label(expect.grade)
        if case is None:
            out.append(CheckResult("grade", "定级", False, wanted, None, points.grade, no_case))
        else:
            actual = _grade_label(case.grade_code)
            ok = case.grade_code == expect.grade
            reason = (
                f"工单等级 {actual}，与预期一致"
                if ok
                else f"工单等级 {actual}，预案对本场景的预期为 {wanted}"
                + ("，定级偏低" if _order(case.grade_code) < _order(expect.grade) else "，定级偏高")
            )
            out.append(CheckResult("grade", "定级", ok, wanted, actual, 0.0 if ok else points.grade, reason))
    if expect.category:
        if case is None or case.category is None:
            reason = no_case if case is None else "工单未研判舆情类别"
            out.append(CheckResult("category", "类别", False, expect.category, None, points.category, reason))
        else:
            ok = case.category == expect.category
            reason = (
                f"研判为「{case.category}」，与预期一致"
                if ok
                else f"研判为「{case.category}」，预期为「{expect.category}」"
            )
            deduction = 0.0 if ok else points.category
            out.append(CheckResult("category", "类别", ok, expect.category, case.category, deduction, reason))

    code = expect.grade or (case.grade_code if case else None) or "IV"
    required = list(plan.required_approvals(code))
    needed = "、".join(Role(r).label for r in required) or "无"
    released = [s for s in record.statements if s.status == "released"]
    approved = [s for s in record.statements if s.status == "approved"]
    chosen: Statement | None = (released or approved)[0] if released or approved else None
    if chosen is None:
        reason = f"没有审批齐全的声明稿（按{GRADE_NAMES[code]}事件应由{needed}审批）"
        out.append(CheckResult("approvals", "审批", False, needed, None, points.approvals, reason))
    else:
        given = [a for a in record.approvals if a.statement_id == chosen.id and a.decision == "approved"]
        roles = {a.role for a in given}
        missing = [r for r in required if r not in roles]
        who = "、".join(
            f"{Role(a.role).label}{record.people.get(a.person_id, '')}（{clock(a.at)}）" for a in given
        )
        actual = who or "无"
        if missing:
            lacking = "、".join(Role(r).label for r in missing)
            reason = f"第 {chosen.version} 稿由 {actual} 审批；按{GRADE_NAMES[code]}事件还应由{lacking}审批"
            out.append(CheckResult("approvals", "审批", False, needed, actual, points.approvals, reason))
        else:
            reason = f"第 {chosen.version} 稿由 {actual} 审批，符合{GRADE_NAMES[code]}事件的审批要求"
            out.append(CheckResult("approvals", "审批", True, needed, actual, 0.0, reason))

    if expect.released:
        if released:
            first = min(released, key=lambda s: s.released_at or s.drafted_at)
            at = first.released_at or first.drafted_at
            reason = f"{clock(at)} 通过「{first.channel}」发布第 {first.version} 稿"
            out.append(CheckResult("release", "发布", True, "发布权威信息", first.channel, 0.0, reason))
        else:
            out.append(
                CheckResult(
                    "release", "发布", False, "发布权威信息", None, points.release, "未发布经审批的权威信息"
                )
            )
    return out


def _order(code: str | None) -> int:
    return {"IV": 1, "III": 2, "II": 3, "I": 4}.get(code or "", 0)


def _short(local_iso: str) -> str:
    """「12-05 10:00」 from a local ISO time."""
    return local_iso[5:16].replace("T", " ") if len(local_iso) >= 16 else local_iso


def _deadlines(
    record: DrillRecord, now: dt.datetime, local: Callable[[dt.datetime | None], str | None]
) -> list[DeadlineOutcome]:
    out: list[DeadlineOutcome] = []
    for deadline in record.deadlines:
        if deadline.state == DeadlineState.CANCELLED.value:
            continue
        label = DeadlineKind.LABELS.get(deadline.kind, deadline.kind)
        late: float | None = None
        if deadline.state == DeadlineState.MET.value:
            state, reason = "met", f"{label}时限按时完成"
        elif deadline.state == DeadlineState.MISSED.value and deadline.done_at is not None:
            late = (deadline.done_at - deadline.due_at).total_seconds() / 60
            state, reason = "missed", f"{label}时限超时完成，超时 {late:.0f} 分钟"
        elif deadline.state in OPEN_DEADLINE_STATES and deadline.due_at < now:
            late = (now - deadline.due_at).total_seconds() / 60
            state, reason = "overdue", f"{label}时限已超过 {late:.0f} 分钟，尚未完成"
        else:
            state, reason = "pending", f"{label}时限未到期"
        out.append(
            DeadlineOutcome(
                case_id=deadline.case_id,
                kind=deadline.kind,
                label=label,
                rule=deadline.rule,
                due_at=local(deadline.due_at) or "",
                done_at=local(deadline.done_at),
                state=state,
                state_label={
                    "met": "按时完成",
                    "missed": "超时完成",
                    "overdue": "超时未完成",
                    "pending": "未到期",
                }[state],
                late_minutes=None if late is None else round(late, 1),
                reason=reason,
            )
        )
    return out
