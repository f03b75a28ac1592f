"""API of the organisation: the unit tree, people with roles, and the duty roster (who is on duty
now or at a time, the shifts of a period, the gaps that need cover)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from yuqing.org import duty
from yuqing.org.scope import scope_of
from yuqing.org.service import contact_view, contacts_of, find_person, find_unit, person_view, tree_view
from yuqing.runtime import Runtime
from yuqing.web.api.errors import service_errors
from yuqing.web.api.params import FIRST_YEAR, LAST_YEAR, Offset, in_calendar
from yuqing.web.api.responses import errors
from yuqing.web.auth import User, current_user
from yuqing.web.pages import queries
from yuqing.workcal.service import load_calendar

SHANGHAI = duty.SHANGHAI
UnitRef = Annotated[str, Query(description="单位名称或编号")]
CurrentUser = Annotated[User, Depends(current_user)]
# A robot webhook URL carries its access token: only an administrator (or the person) sees it.
PRIVATE_CONTACTS = frozenset({"dingtalk", "wecom", "feishu"})


def visible_contacts(user: User, person_id: int, contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if user.is_admin or user.person_id == person_id:
        return contacts
    return [c for c in contacts if c["kind"] not in PRIVATE_CONTACTS]


def moment(text: str | None, what: str, default: dt.datetime) -> dt.datetime:
    """An ISO 8601 time or date; without an offset it is Shanghai time."""
    if not text:
        return default
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise HTTPException(
            400, f"{what} 无法识别：{text!r}；应为 ISO 8601 时间，例如 2026-11-23T18:00"
        ) from None
    if not in_calendar(value.year):
        raise HTTPException(400, f"{what} 超出范围：{text!r}；年份应在 {FIRST_YEAR} 到 {LAST_YEAR} 之间")
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def period(now: dt.datetime, start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    """from/to: dates (the `to` day included) or times; by default the seven days from today."""
    today = dt.datetime.combine(now.astimezone(SHANGHAI).date(), dt.time(0), tzinfo=SHANGHAI)
    first = moment(start, "from", today)
    last = moment(end, "to", first + dt.timedelta(days=7))
    if end and "T" not in end and " " not in end.strip():
        last += dt.timedelta(days=1)  # a date: up to the end of that day
    if last <= first:
        raise HTTPException(400, "to 必须晚于 from")
    if last - first > dt.timedelta(days=92):
        raise HTTPException(400, "一次最多查询 92 天")
    return first, last


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["org"])

    @router.get("/org/units", summary="单位树（含区域和预警起点）")
    def units() -> list[dict[str, Any]]:
        with rt.sessions() as session:
            return tree_view(session)

    @router.get("/org/people", summary="人员及其角色（可按单位筛选）", responses=errors(404))
    def people(
        unit: Annotated[str | None, Query(description="单位名称或编号")] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="每页条数")] = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        with service_errors(), rt.sessions() as session:
            unit_id = find_unit(session, unit).id if unit else None
            rows = queries.people_with_roles(session, unit_id=unit_id, limit=limit + 1, offset=offset)
        return {"items": rows[:limit], "limit": limit, "offset": offset, "has_more": len(rows) > limit}

    @router.get("/org/people/{person}", summary="一个人：单位、角色、联系方式", responses=errors(404))
    def person(person: str, user: CurrentUser) -> dict[str, Any]:
        with service_errors(), rt.sessions() as session:
            view = person_view(session, find_person(session, person))
        view["contacts"] = visible_contacts(user, view["id"], view["contacts"])
        return view

    @router.get("/org/duty/now", summary="此刻（或指定时间）谁在值班", responses=errors(400, 404))
    def duty_now(
        user: CurrentUser,
        unit: UnitRef,
        at: Annotated[str | None, Query(description="ISO 8601 时间，默认现在")] = None,
    ) -> dict[str, Any]:
        when = moment(at, "at", rt.clock())
        calendar = load_calendar(rt)
        with service_errors(), rt.sessions() as session:
            target = find_unit(session, unit)
            answer = duty.duty_at(session, target.id, when, is_working_time=calendar.is_working_time)
            return {
                "at": when.astimezone(SHANGHAI).isoformat(),
                "unit": target.name,
                "answered_by": answer.unit.name if answer.unit else None,
                "round_the_clock": answer.round_the_clock,
                "reasons": [duty.reason_seen(p, scope_of(session, user.person_id)) for p in answer.periods],
                "people": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "contacts": visible_contacts(
                            user, p.id, [contact_view(c) for c in contacts_of(session, p.id)]
                        ),
                    }
                    for p in answer.people
                ],
            }

    @router.get("/org/duty/shifts", summary="值班表（默认从今天起 7 天）", responses=errors(400, 404))
    def duty_shifts(
        unit: UnitRef,
        start: Annotated[str | None, Query(alias="from", description="起始日期或时间")] = None,
        end: Annotated[str | None, Query(alias="to", description="结束日期（含当天）或时间")] = None,
    ) -> list[dict[str, Any]]:
        first, last = period(rt.clock(), start, end)
        with service_errors(), rt.sessions() as session:
            target = find_unit(session, unit)
            return [s.as_dict() for s in duty.shifts(session, target.id, first, last)]

    @router.get("/org/duty/gaps", summary="需要值守却无人值班的时段", responses=errors(400, 404))
    def duty_gaps(
        unit: UnitRef,
        start: Annotated[str | None, Query(alias="from", description="起始日期或时间")] = None,
        end: Annotated[str | None, Query(alias="to", description="结束日期（含当天）或时间")] = None,
    ) -> list[dict[str, Any]]:
        first, last = period(rt.clock(), start, end)
        calendar = load_calendar(rt)
        with service_errors(), rt.sessions() as session:
            target = find_unit(session, unit)
            found = duty.gaps(session, target.id, first, last, is_working_time=calendar.is_working_time)
            return [g.as_dict() for g in found]

    return router
