"""值班: a unit's duty roster as a month calendar — working days, weekends, holidays and 调休 from the
working-day calendar, who is on duty each day (rotations, 临时安排, 调班), the times that need cover
and have nobody (「无人值班」, in red), and the 24-hour duty periods (a serious case's among them).

管理员, and 办公室 of the unit or of a unit above it, may put someone on duty for a time
(`yuqing.org.duty.add_override`), swap two shifts (`swap`) and take either back; the roster rules
are the org domain's, and its Chinese message reaches the user unchanged."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from yuqing.cases.service import PermissionDenied
from yuqing.db import transaction
from yuqing.org import duty
from yuqing.org import service as org
from yuqing.org.models import DutyHours, DutyOverride, DutySwap, NotFound, Unit
from yuqing.org.roles import Role
from yuqing.org.scope import EVERYTHING, Scope, scope_of
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user, verify_csrf
from yuqing.web.pages.common import act, render
from yuqing.web.pages.org import flatten
from yuqing.workcal.clock import WorkCalendar, uncovered_warning
from yuqing.workcal.service import load_calendar

CurrentUser = Annotated[User, Depends(current_user)]
Text = Annotated[str, Form()]
MANAGE_ROLE = Role.OFFICE.value
SHANGHAI = duty.SHANGHAI
WEEKDAYS = "一二三四五六日"
SOURCE_LABELS = {"rotation": "", "override": "临时安排", "swap": "调班"}
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
# How far around the month the roster is read, so a weekly shift that began before it still shows
# and the last shift of the month shows where it ends.
ROSTER_MARGIN = dt.timedelta(days=7)


def parse_month(text: str, today: dt.date) -> dt.date:
    """The first day of `YYYY-MM` (empty: this month); ValueError in Chinese otherwise."""
    if not text.strip():
        return today.replace(day=1)
    found = _MONTH.match(text.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12 or not 1900 < int(found.group(1)) < 2200:
        raise ValueError(f"月份应写作 YYYY-MM，例如 2026-11，实为 {text!r}")
    return dt.date(int(found.group(1)), int(found.group(2)), 1)


def next_month(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(first: dt.date) -> dt.date:
    return (first - dt.timedelta(days=1)).replace(day=1)


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=SHANGHAI)


def parse_day(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}应写作 YYYY-MM-DD，实为 {text!r}") from None


def parse_clock(text: str, what: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}应写作 HH:MM，实为 {text!r}") from None


def parse_id(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"请选择{what}") from None


def may_manage(session: Session, user: User, unit_id: int) -> bool:
    return user.is_admin or org.has_role(session, user.person_id, MANAGE_ROLE, unit_id)


def check_may_manage(rt: Runtime, user: User, unit_id: int) -> None:
    with rt.sessions() as session:
        unit = org.get_unit(session, unit_id)
        if not may_manage(session, user, unit.id):
            raise PermissionDenied(
                f"{user.name} 不是 {unit.name} 或其上级单位的办公室人员或管理员，不能调整值班"
            )


def time_range(start: dt.datetime, end: dt.datetime, day: dt.date) -> str:
    """「08:30–次日08:30」 as seen from `day`: a time on another day says which day it is."""

    def when(moment: dt.datetime, *, is_end: bool) -> str:
        local = moment.astimezone(SHANGHAI)
        offset = (local.date() - day).days
        if is_end and offset == 1 and local.time() == dt.time(0):
            return "24:00"
        if offset == 0:
            return f"{local:%H:%M}"
        if offset == 1:
            return f"次日{local:%H:%M}"
        return f"{local:%m-%d %H:%M}"

    return f"{when(start, is_end=False)}–{when(end, is_end=True)}"


def roster_working_time(calendar: WorkCalendar) -> Callable[[dt.datetime], bool]:
    """The calendar's working time as the roster counts it: half-open, like `duty.office_hours`.
    The calendar counts the end of each period as working (its deadlines may fall on it), which
    would make every gap end a minute after the working hours do."""

    def working(at: dt.datetime) -> bool:
        return calendar.is_working_time(at) and calendar.is_working_time(at + dt.timedelta(microseconds=1))

    return working


def month_view(
    session: Session,
    unit_id: int,
    first: dt.date,
    calendar: WorkCalendar,
    today: dt.date,
    scope: Scope = EVERYTHING,
) -> dict[str, Any]:
    """The calendar of one unit's month: weeks of days, each with its kind, shifts, gaps and
    whether 24-hour duty is on."""
    last = next_month(first)
    start, end = local_midnight(first), local_midnight(last)
    roster = duty.shifts(session, unit_id, start - ROSTER_MARGIN, end + ROSTER_MARGIN)
    holes = duty.gaps(session, unit_id, start, end, is_working_time=roster_working_time(calendar))
    periods = duty.duty_24h_periods_between(session, unit_id, start, end)
    month_days = calendar.days(first.year, first.month)
    days = []
    for info in month_days:
        window_start, window_end = local_midnight(info.day), local_midnight(info.day + dt.timedelta(days=1))
        # A shift is listed on the day it starts, and on every later day it covers whole.
        on_day = [
            s
            for s in roster
            if window_start <= s.start < window_end or (s.start < window_start and s.end >= window_end)
        ]
        gaps_of_day = [
            (max(g.start, window_start), min(g.end, window_end))
            for g in holes
            if g.start < window_end and g.end > window_start
        ]
        in_24h = [
            p
            for p in periods
            if p.started_at < window_end and (p.ended_at is None or p.ended_at > window_start)
        ]
        days.append(
            {
                "day": info.day,
                "weekday": WEEKDAYS[info.day.weekday()],
                "kind": info.kind,
                "name": info.name,
                "is_workday": info.is_workday,
                "today": info.day == today,
                "shifts": [
                    {
                        "person": s.person_name,
                        "time": time_range(s.start, s.end, info.day),
                        # A day-long shift that counts only in working hours reads 「工作时间」.
                        "whole_day": s.end - s.start >= dt.timedelta(hours=20),
                        "source": s.source,
                        "source_label": SOURCE_LABELS[s.source],
                        "rotation": s.rotation,
                        "hours_label": s.hours.label,
                        "all_day": s.hours == DutyHours.ALL_DAY,
                        "override_id": s.override_id if s.source == "override" else None,
                        "swap_id": s.swap_id,
                        "own": s.unit_id == unit_id,
                    }
                    for s in on_day
                ],
                "gaps": [time_range(a, b, info.day) for a, b in gaps_of_day],
                "duty_24h": bool(in_24h),
            }
        )
    padding = first.weekday()
    cells: list[dict[str, Any] | None] = [None] * padding + days
    cells += [None] * (-len(cells) % 7)
    uncovered = sorted({d.day.year for d in month_days if d.source == "weekends"})
    return {
        "weeks": [cells[i : i + 7] for i in range(0, len(cells), 7)],
        "inherited_from": roster[0].unit_name if roster and roster[0].unit_id != unit_id else None,
        "gap_days": sum(1 for d in days if d["gaps"]),
        "periods": [
            {
                "reason": duty.reason_seen(p, scope),
                "key": p.key,
                "case_id": int(p.key.split(":", 1)[1])
                if p.key
                and p.key.startswith("case:")
                and p.key.split(":", 1)[1].isdigit()
                and scope.sees(p.unit_id)
                else None,
                "started_at": p.started_at.isoformat(),
                "ended_at": p.ended_at.isoformat() if p.ended_at else None,
                "end_reason": duty.end_reason_seen(p, scope),
            }
            for p in periods
        ],
        "calendar_warning": uncovered_warning(uncovered) if uncovered else None,
    }


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def today() -> dt.date:
        return rt.clock().astimezone(SHANGHAI).date()

    def page(
        request: Request,
        user: User,
        unit_ref: str,
        month: str,
        *,
        error: str | None = None,
        code: int = 200,
    ) -> HTMLResponse:
        try:
            first = parse_month(month, today())
        except ValueError as exc:
            error, code, first = str(exc), 400, today().replace(day=1)
        with rt.sessions() as session:
            units = flatten(org.tree_view(session))
            if not units:
                context: dict[str, Any] = {"units": [], "unit": None, "error": error}
                return render(request, rt, user, "duty.html", context, active="duty", status_code=code)
            unit = None
            if unit_ref.strip():
                try:
                    unit = org.find_unit(session, unit_ref.strip())
                except NotFound as exc:
                    return render(request, rt, user, "error.html", {"message": str(exc)}, status_code=404)
            unit = unit or session.get(Unit, user.unit_id) or org.get_unit(session, units[0]["id"])
            view = month_view(
                session, unit.id, first, load_calendar(rt), today(), scope_of(session, user.person_id)
            )
            managing = may_manage(session, user, unit.id)
            people = [  # only those the roster may take: people of the unit or below
                {"id": p.id, "name": p.name, "unit": name, "own": p.unit_id == unit.id}
                for p, name in duty.eligible_people(session, unit.id)
            ]
            rotations = sorted({r.name for r in duty.rotations_of(session, unit.id)})
            shown = {"id": unit.id, "name": unit.name}
        context = {
            "units": units,
            "unit": shown,
            "month": first,
            "month_text": f"{first:%Y-%m}",
            "previous": f"{previous_month(first):%Y-%m}",
            "next": f"{next_month(first):%Y-%m}",
            "this_month": f"{today():%Y-%m}",
            "weekdays": WEEKDAYS,
            "view": view,
            "may_manage": managing,
            "people": people if managing else [],
            "rotations": rotations,
            "default_day": today().isoformat()
            if f"{today():%Y-%m}" == f"{first:%Y-%m}"
            else first.isoformat(),
            "error": error,
        }
        return render(request, rt, user, "duty.html", context, active="duty", status_code=code)

    def back_to(unit_id: int, month: str) -> str:
        shown = month.strip() if _MONTH.match(month.strip()) else f"{today():%Y-%m}"
        return f"/duty?unit={unit_id}&month={shown}"

    @router.get("/duty", response_class=HTMLResponse)
    def duty_calendar(
        request: Request, user: CurrentUser, unit: str = "", month: Annotated[str, Query(max_length=20)] = ""
    ) -> HTMLResponse:
        return page(request, user, unit, month)

    @router.post("/duty/{unit_id}/override", dependencies=[Depends(verify_csrf)])
    def override_add(
        request: Request,
        unit_id: int,
        user: CurrentUser,
        person: Text = "",
        day: Text = "",
        start: Text = "08:30",
        end: Text = "08:30",
        hours: Text = "all_day",
        note: Text = "",
        month: Text = "",
    ) -> Response:
        def call() -> None:
            check_may_manage(rt, user, unit_id)
            person_id = parse_id(person, "值班人员")
            first_day = parse_day(day, "日期")
            begins = dt.datetime.combine(first_day, parse_clock(start, "开始时间"), tzinfo=SHANGHAI)
            ends = dt.datetime.combine(first_day, parse_clock(end, "结束时间"), tzinfo=SHANGHAI)
            if ends <= begins:  # 08:30 to 08:30: until the next morning's handover
                ends += dt.timedelta(days=1)
            if hours not in {h.value for h in DutyHours}:
                raise ValueError("值班时段应为全天或工作时间")
            with transaction(rt.sessions) as session:
                duty.add_override(
                    session, unit_id, person_id, begins, ends, note=note.strip() or None, hours=hours
                )

        return act(
            request,
            rt,
            user,
            action="duty.override",
            target=f"unit:{unit_id}",
            call=call,
            done="duty_override",
            redirect_to=back_to(unit_id, month or day[:7]),
            on_error=lambda message, status: page(
                request, user, str(unit_id), month, error=message, code=status
            ),
            detail={"person": person, "day": day, "start": start, "end": end, "hours": hours},
        )

    @router.post("/duty/{unit_id}/swap", dependencies=[Depends(verify_csrf)])
    def swap_add(
        request: Request,
        unit_id: int,
        user: CurrentUser,
        person_a: Text = "",
        day_a: Text = "",
        person_b: Text = "",
        day_b: Text = "",
        rotation: Text = "",
        month: Text = "",
    ) -> Response:
        def call() -> None:
            check_may_manage(rt, user, unit_id)
            with transaction(rt.sessions) as session:
                duty.swap(
                    session,
                    unit_id,
                    parse_id(person_a, "调班人甲"),
                    parse_day(day_a, "甲的值班日期"),
                    parse_id(person_b, "调班人乙"),
                    parse_day(day_b, "乙的值班日期"),
                    rotation_name=rotation.strip() or None,
                )

        return act(
            request,
            rt,
            user,
            action="duty.swap",
            target=f"unit:{unit_id}",
            call=call,
            done="duty_swap",
            redirect_to=back_to(unit_id, month or day_a[:7]),
            on_error=lambda message, status: page(
                request, user, str(unit_id), month, error=message, code=status
            ),
            detail={"person_a": person_a, "day_a": day_a, "person_b": person_b, "day_b": day_b},
        )

    @router.post("/duty/overrides/{override_id}/delete", dependencies=[Depends(verify_csrf)])
    def override_remove(request: Request, override_id: int, user: CurrentUser, month: Text = "") -> Response:
        with rt.sessions() as session:
            row = session.get(DutyOverride, override_id)
            unit_id = row.unit_id if row is not None else user.unit_id

        def call() -> None:
            if row is None:
                raise NotFound(f"找不到值班调整 {override_id}")
            check_may_manage(rt, user, unit_id)
            with transaction(rt.sessions) as session:
                duty.remove_override(session, override_id)

        return act(
            request,
            rt,
            user,
            action="duty.override_remove",
            target=f"duty_override:{override_id}",
            call=call,
            done="duty_override_removed",
            redirect_to=back_to(unit_id, month),
            on_error=lambda message, status: page(
                request, user, str(unit_id), month, error=message, code=status
            ),
        )

    @router.post("/duty/swaps/{swap_id}/undo", dependencies=[Depends(verify_csrf)])
    def swap_undo(request: Request, swap_id: int, user: CurrentUser, month: Text = "") -> Response:
        with rt.sessions() as session:
            row = session.get(DutySwap, swap_id)
            unit_id = row.unit_id if row is not None else user.unit_id

        def call() -> None:
            if row is None:
                raise NotFound(f"找不到调班 {swap_id}")
            check_may_manage(rt, user, unit_id)
            with transaction(rt.sessions) as session:
                duty.undo_swap(session, swap_id)

        return act(
            request,
            rt,
            user,
            action="duty.unswap",
            target=f"duty_swap:{swap_id}",
            call=call,
            done="duty_unswap",
            redirect_to=back_to(unit_id, month),
            on_error=lambda message, status: page(
                request, user, str(unit_id), month, error=message, code=status
            ),
        )

    return router
