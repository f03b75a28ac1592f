"""Background duties of the response side: the deadline sweep with its escalation, follow-up of
disposed events (the calm rule proposes closing, renewed growth reopens), and the worker that
runs them with alerting inside `yuqing serve`.

Everything here is a function of the stored state and the clock, so it is safe to run twice
and after a restart: moves are guarded by the state they move from, and every notice has a
dedup key in the outbox.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yuqing.alerts.notices import tell
from yuqing.analysis.grading import GRADE_ORDER
from yuqing.analysis.models import Event
from yuqing.background import PeriodicWorker
from yuqing.cases import deadlines
from yuqing.cases.models import Case, Deadline, Stage
from yuqing.cases.plan import DeadlineKind, ResponsePlan, load_plan
from yuqing.cases.service import log
from yuqing.db import is_transient, transaction
from yuqing.drills.policy import notices_internal_only
from yuqing.notify.messages import Level, Message
from yuqing.org.models import ContactChannel, Person, Unit
from yuqing.org.service import people_with_role
from yuqing.reports.common import time_text
from yuqing.runtime import Runtime

log_ = logging.getLogger(__name__)
_T = TypeVar("_T")

# The trailing windows, in hours, over which new posts may show renewed growth (舆情反复).
FLARE_UP_WINDOWS_HOURS = (1, 6, 24)

# Who hears about an overdue clock: its owner role and the next level above it.
ESCALATE_TO: dict[str, tuple[str, ...]] = {
    "office": ("office", "deputy_leader"),
    "liaison": ("liaison", "office"),
    "deputy_leader": ("deputy_leader", "chief"),
}


@dataclass
class ResponseCounts:
    sweep: dict[str, int] = field(default_factory=dict)
    calm_proposed: int = 0
    reopened: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"sweep": self.sweep, "calm_proposed": self.calm_proposed, "reopened": self.reopened}


def sweep_deadlines(rt: Runtime) -> deadlines.SweepCounts:
    """Mark clocks due soon and overdue, remind the owners of the newly due-soon ones and tell the
    owners (and the level above) of the newly overdue ones."""
    plan = load_plan(rt.settings.plan_profile or None)
    now = rt.clock()
    with transaction(rt.sessions) as session:
        counts, overdue, due_soon = deadlines.sweep(session, now, plan.due_soon_minutes)
        recipients: dict[tuple[str, int], list[Person]] = {}
        contacts: dict[int, list[ContactChannel]] = {}

        def holders(roles: tuple[str, ...], unit_id: int) -> list[Person]:
            return [
                person
                for role in roles
                for person in (
                    recipients[(role, unit_id)]
                    if (role, unit_id) in recipients
                    else recipients.setdefault((role, unit_id), people_with_role(session, role, unit_id))
                )
            ]

        _remind(session, rt, due_soon, plan, now, holders, contacts)
        for start in range(0, len(overdue), 500):
            chunk = overdue[start : start + 500]
            rows = session.execute(
                select(Deadline, Case).join(Case, Case.id == Deadline.case_id).where(Deadline.id.in_(chunk))
            ).all()
            for deadline, case in rows:
                people = holders(
                    ESCALATE_TO.get(deadline.owner_role, (deadline.owner_role, "deputy_leader")),
                    deadline.unit_id,
                )
                label = DeadlineKind.LABELS.get(deadline.kind, deadline.kind)
                prefix = "【演练】" if case.is_drill else ""
                # when it was due and how late it is now: told after a restart, 「已超过」 alone
                # read as if it had just fallen due
                due = time_text(deadline.due_at, rt.settings.timezone, year=False)
                late = _late_words((now - deadline.due_at).total_seconds() / 60)
                tell(
                    session,
                    people,
                    Message(
                        title=f"{prefix}【时限已超】工单 #{case.id} {label}",
                        body=f"工单「{case.title[:60]}」的{label}时限（{due}）已超过{late}，尚未完成，请立即处理。",
                        at=now,
                        level=Level.for_grade(case.grade_code),
                        facts=(
                            ("工单", f"#{case.id}"),
                            ("时限", label),
                            ("截止时间", due),
                            ("已超时", late),
                            ("等级", case.grade),
                        ),
                        internal_only=case.is_drill and notices_internal_only(session, case.event_id),
                    ),
                    # a clock moved later (extended, grade lowered) and late again is told again
                    key=f"deadline:{deadline.id}:overdue:{int(deadline.due_at.timestamp())}",
                    subject=("case", case.id),
                    contacts=contacts,
                )
                log(
                    session,
                    case,
                    None,
                    "overdue",
                    f"{label}时限（{due}）已超过{late}，"
                    f"已通知{'、'.join(p.name for p in people) or '（无人可通知）'}",
                    via="system",
                    at=now,
                )
            session.execute(
                update(Deadline)
                .where(Deadline.id.in_(chunk), Deadline.escalated_at.is_(None))
                .values(escalated_at=now)
                .execution_options(synchronize_session=False)
            )
            counts.escalated += len(rows)
    return counts


def _remind(
    session: Session,
    rt: Runtime,
    due_soon: list[int],
    plan: ResponsePlan,
    now: dt.datetime,
    holders: Callable[[tuple[str, ...], int], list[Person]],
    contacts: dict[int, list[ContactChannel]],
) -> None:
    """Remind the owners of clocks that have just become due soon (`due_soon_minutes` before they
    are due) while there is still time to act: 「…时限将于 10:00 到期（还有 30 分钟）」. A clock
    that was due soon from its start (shorter than the reminder's lead) gets no reminder: the
    notice that started it said when it is due."""
    lead = dt.timedelta(minutes=plan.due_soon_minutes)
    for start in range(0, len(due_soon), 500):
        rows = session.execute(
            select(Deadline, Case)
            .join(Case, Case.id == Deadline.case_id)
            .where(Deadline.id.in_(due_soon[start : start + 500]))
        ).all()
        for deadline, case in rows:
            if deadline.due_at - deadline.started_at <= lead or deadline.due_at <= now:
                continue
            label = DeadlineKind.LABELS.get(deadline.kind, deadline.kind)
            due = time_text(deadline.due_at, rt.settings.timezone, year=False)
            left = _late_words((deadline.due_at - now).total_seconds() / 60)
            tell(
                session,
                holders((deadline.owner_role,), deadline.unit_id),
                Message(
                    title=f"{'【演练】' if case.is_drill else ''}【时限将至】工单 #{case.id} {label}",
                    body=f"工单「{case.title[:60]}」的{label}时限将于 {due} 到期（还有 {left}），"
                    "尚未完成，请抓紧处理。",
                    at=now,
                    level=Level.for_grade(case.grade_code),
                    facts=(
                        ("工单", f"#{case.id}"),
                        ("时限", label),
                        ("截止时间", due),
                        ("剩余", left),
                        ("等级", case.grade),
                    ),
                    internal_only=case.is_drill and notices_internal_only(session, case.event_id),
                ),
                key=f"deadline:{deadline.id}:due_soon:{int(deadline.due_at.timestamp())}",
                subject=("case", case.id),
                contacts=contacts,
            )


def _reopening(case: Case, event: Event, plan: ResponsePlan, now: dt.datetime) -> tuple[str, str] | None:
    """Whether a case past 处置 goes back to it, as (alert kind, timeline note).

    A flare-up (舆情反复) is renewed growth: at least ``flare_up_posts`` new posts since the case
    left 处置, coming in the last hour, 6 hours or day at least ``flare_up_rate`` times faster per
    hour than in the event's active hours of the day before it left. A hot story that goes on
    spreading as it did when the office moved it to 跟踪 is the spread the office already answered,
    not a flare-up.
    For a withdrawn case (撤销: a leader judged the event at its grade to need no response, so more
    posts of it are no flare-up) only a graver grade since. Either needs a post newer than the
    case's last move."""
    if event.last_seen <= case.stage_changed_at:
        return None
    if case.withdrawn_at is not None:
        if GRADE_ORDER.get(event.grade_code or "", 0) > GRADE_ORDER.get(case.grade_code, 0):
            return "upgrade", f"舆情升级：撤销后事件等级升至{event.grade}，工单重新进入处置"
        return None
    grown = event.post_count - case.followed_posts
    if grown < plan.flare_up_posts:
        return None
    left = _hour_of(case.stage_changed_at)
    hours = _hourly(event)
    before = [(at, posts) for at, posts in hours if left - dt.timedelta(hours=24) <= at < left and posts]
    before_hours = max(1.0, (left - before[0][0]).total_seconds() / 3600) if before else 1.0
    before_rate = sum(posts for _, posts in before) / before_hours
    label = Stage(case.stage).label
    # a burst within the hour, or a slower rise over hours: trailing windows from the last hour
    # to the last day (whole hours; the hour the case left 处置 in counts after it)
    for window in FLARE_UP_WINDOWS_HOURS:
        start = max(left, _hour_of(now - dt.timedelta(hours=window)))
        recent = min(grown, sum(posts for at, posts in hours if at >= start))
        span = max(1.0, (now - start).total_seconds() / 3600)
        rate = recent / span
        if recent >= plan.flare_up_posts and rate >= plan.flare_up_rate * before_rate:
            earlier = (
                f"为进入{label}前（每小时 {_per_hour(before_rate)} 条）的 {rate / before_rate:.1f} 倍"
                if before
                else f"进入{label}前一日无新增信息"
            )
            return "flare_up", (
                f"舆情反复：进入{label}后新增 {grown} 条信息，"
                f"近 {span:.0f} 小时每小时 {_per_hour(rate)} 条，{earlier}"
            )
    return None


def _per_hour(rate: float) -> str:
    return f"{rate:.1f}" if rate < 10 else f"{rate:.0f}"


def _hour_of(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _hourly(event: Event) -> list[tuple[dt.datetime, int]]:
    """The event's posts per hour, oldest first, from its metrics (hour keys are local hours
    with their offset; a naive key is read as UTC)."""
    points: list[tuple[dt.datetime, int]] = []
    for point in (event.metrics or {}).get("hourly") or []:
        try:
            at = dt.datetime.fromisoformat(str(point.get("hour")))
        except ValueError:
            continue
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        points.append((at, int(point.get("posts", 0))))
    points.sort(key=lambda item: item[0])
    return points


def follow_up(rt: Runtime) -> tuple[int, int]:
    """Calm rule and flare-ups for cases past 处置. Returns (closings proposed, cases reopened)."""
    from yuqing.alerts.service import AlertCounts, raise_alert
    from yuqing.cases.service import _move
    from yuqing.workcal.service import load_calendar

    plan = load_plan(rt.settings.plan_profile or None)
    calendar = load_calendar(rt)
    now = rt.clock()
    proposed = reopened = 0
    watched = (Stage.FOLLOWING.value, Stage.SUMMARISED.value, Stage.CLOSED.value)
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(Case, Event).join(Event, Event.id == Case.event_id).where(Case.stage.in_(watched))
        ).all()
        for case, event in rows:
            reopening = _reopening(case, event, plan, now)
            if reopening is not None:
                kind, note = reopening
                _move(session, rt, case, Stage.DISPOSING, None, via="system", at=now, note=note)
                raise_alert(session, rt, event, kind, plan, calendar, AlertCounts())
                reopened += 1
                continue
            if case.withdrawn_at is not None:
                continue
            if case.stage != Stage.FOLLOWING.value or case.calm_proposed_at is not None:
                continue
            quiet = now - event.last_seen
            daily = _posts_last_day(event, now)
            if quiet >= dt.timedelta(hours=plan.calm_quiet_hours) and daily < plan.calm_daily_posts:
                case.calm_proposed_at = now
                hours = quiet.total_seconds() / 3600
                text = (
                    f"平息条件已满足：{hours:.0f} 小时无新增信息（规则 {plan.calm_quiet_hours:g} 小时），"
                    f"近一日 {daily} 条（规则少于 {plan.calm_daily_posts} 条），建议总结结案"
                )
                log(session, case, None, "calm", text, via="system", at=now)
                unit = session.get(Unit, case.unit_id)
                tell(
                    session,
                    people_with_role(session, "office", case.unit_id),
                    Message(
                        title=f"{'【演练】' if case.is_drill else ''}【建议结案】工单 #{case.id}",
                        body=f"{case.title[:60]}：{text}",
                        at=now,
                        facts=(("单位", unit.name if unit else ""),),
                        internal_only=case.is_drill and notices_internal_only(session, case.event_id),
                    ),
                    key=f"case:{case.id}:calm:{case.reopened}",
                    subject=("case", case.id),
                )
                proposed += 1
    return proposed, reopened


def _posts_last_day(event: Event, now: dt.datetime) -> int:
    """Posts of the event in the last 24 hours, from its hourly series."""
    cutoff = now - dt.timedelta(hours=24)
    return sum(posts for at, posts in _hourly(event) if at >= cutoff)


def run_once(rt: Runtime) -> dict[str, Any]:
    """One round of all response duties, in order: alerts, escalation, deadlines, follow-up, and the
    alarms on sources that stopped working. A duty that fails is logged and named in `failed`;
    the others still run (a defect in the deadline sweep must not stop the alerts, nor the
    reverse). A failure of the database is raised once every duty has been tried."""
    from yuqing.alerts.service import AlertCounts, escalate_due, process_signals
    from yuqing.alerts.sources import sweep_source_health

    failed: list[str] = []
    transient: list[Exception] = []

    def attempt(name: str, work: Callable[[Runtime], _T], nothing: _T) -> _T:
        try:
            return work(rt)
        except Exception as exc:
            log_.exception("response round: %s failed; the other duties go on", name)
            failed.append(name)
            if is_transient(exc):
                transient.append(exc)
            return nothing

    alerts = attempt("alerts", process_signals, AlertCounts())
    escalated = attempt("escalation", escalate_due, 0)
    swept = attempt("deadlines", sweep_deadlines, deadlines.SweepCounts())
    proposed, reopened = attempt("follow_up", follow_up, (0, 0))
    in_alarm = attempt("sources", sweep_source_health, 0)
    if transient and len(transient) == len(failed):
        raise transient[0]  # the database is down: the caller retries the whole round
    return {
        "alerts": alerts.as_dict(),
        "alerts_escalated": escalated,
        "deadlines": swept.as_dict(),
        "calm_proposed": proposed,
        "reopened": reopened,
        "sources_in_alarm": in_alarm,
        "failed": failed,
    }


class ResponseWorker(PeriodicWorker):
    """Runs the response duties inside `yuqing serve`."""

    def __init__(self, rt: Runtime, interval: float = 15.0) -> None:
        super().__init__("yuqing-response", interval)
        self._rt = rt

    def work(self) -> bool:
        result = run_once(self._rt)
        deadlines = result["deadlines"]
        if (
            result["alerts"]["signals"]
            or result["alerts_escalated"]
            or deadlines["overdue"]
            or deadlines["due_soon"]
        ):
            log_.info("response round %s", result)
        return bool(result["alerts"]["signals"] >= 500)


def _late_words(minutes: float) -> str:
    """「5 分钟」, 「2 小时 30 分钟」, 「3 天」: how late a clock is."""
    minutes = max(0.0, minutes)
    if minutes < 60:
        return f"{minutes:.0f} 分钟"
    if minutes < 48 * 60:
        hours, rest = divmod(round(minutes), 60)
        return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")
    return f"{minutes / 1440:.0f} 天"
