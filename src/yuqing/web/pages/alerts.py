"""预警: alerts with their state, and 「确认」 (htmx: the row is replaced; without JavaScript: the
page again); one alert's page: why it was raised, whom it told and when, and who is next."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.alerts.models import Alert
from yuqing.alerts.service import acknowledge, alert_view
from yuqing.cases.deadlines import compute_due
from yuqing.cases.plan import DeadlineKind, load_plan
from yuqing.org.models import Person
from yuqing.org.roles import Role
from yuqing.org.scope import scope_of
from yuqing.runtime import Runtime
from yuqing.web.api.errors import error_status
from yuqing.web.auth import User, audit, current_user, verify_csrf
from yuqing.web.pages import queries
from yuqing.web.pages.common import is_htmx, pager, render
from yuqing.workcal.service import load_calendar

CurrentUser = Annotated[User, Depends(current_user)]
STATUS_CHOICES = (("open", "待确认"), ("acknowledged", "已确认"), ("closed", "已关闭"), ("", "全部"))


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(
        request: Request, user: User, status: str, offset: int, *, error: str | None = None, code: int = 200
    ) -> HTMLResponse:
        with rt.sessions() as session:
            found = queries.alert_page(
                session,
                rt.settings.timezone,
                status=status or None,
                limit=30,
                offset=offset,
                scope=scope_of(session, user.person_id),
            )
        context = {
            "page": found,
            "status": status,
            "status_choices": STATUS_CHOICES,
            "error": error,
            "next_url": pager(request, found.next_offset),
            "previous_url": pager(request, found.previous_offset),
        }
        return render(request, rt, user, "alerts.html", context, active="alerts", status_code=code)

    @router.get("/alerts", response_class=HTMLResponse)
    def alert_list(
        request: Request, user: CurrentUser, status: str = "", offset: Annotated[int, Query(ge=0)] = 0
    ) -> HTMLResponse:
        status = status if status in {s for s, _ in STATUS_CHOICES} else ""
        return page(request, user, status, offset)

    @router.get("/alerts/{alert_id}", response_class=HTMLResponse)
    def alert_page(request: Request, alert_id: int, user: CurrentUser) -> HTMLResponse:
        with rt.sessions() as session:
            context = alert_detail(session, alert_id, rt.settings.timezone, user.person_id)
        if context is not None and not context["alert"]["case_id"] and not context["alert"]["is_drill"]:
            context["report_due"] = report_due(rt, context["alert"], rt.clock())
        if context is None:
            message = f"找不到预警 #{alert_id}，或它不属于您可查看的单位"
            return render(request, rt, user, "error.html", {"message": message}, status_code=404)
        return render(request, rt, user, "alert.html", context, active="alerts")

    @router.post("/alerts/{alert_id}/ack", dependencies=[Depends(verify_csrf)])
    def alert_ack(request: Request, alert_id: int, user: CurrentUser) -> Response:
        target = f"alert:{alert_id}"
        try:
            acknowledge(rt, alert_id, str(user.person_id), via="web")
        except (ValueError, LookupError) as exc:
            status = error_status(exc)
            audit(rt, user, "alert.ack", target, {"refused": str(exc), "status": status}, request=request)
            if is_htmx(request):
                # The message goes to the page's message box, not into the row.
                return render(
                    request,
                    rt,
                    user,
                    "_message.html",
                    {"error": str(exc)},
                    status_code=status,
                    headers={"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"},
                )
            return page(request, user, "", 0, error=str(exc), code=status)
        audit(rt, user, "alert.ack", target, request=request)
        if is_htmx(request):
            with rt.sessions() as session:
                scope = scope_of(session, user.person_id)
                row = queries.alert_page(
                    session, rt.settings.timezone, alert_id=alert_id, limit=1, scope=scope
                ).rows[0]
            from yuqing.cases.service import todo

            # the top bar's 待办 follows: the alert acknowledged leaves it
            mine = todo(rt, str(user.person_id))["count"]
            return render(request, rt, user, "_alert_row.html", {"alert": row, "unread": 0, "todo_oob": mine})
        back = request.headers.get("referer", "")
        if back.rstrip("/").endswith(f"/alerts/{alert_id}"):
            return RedirectResponse(f"/alerts/{alert_id}", status_code=303)
        return RedirectResponse("/alerts?done=ack", status_code=303)

    return router


def alert_detail(session: Session, alert_id: int, zone: str, person_id: int) -> dict[str, Any] | None:
    """What the alert's page shows, or None when there is no such alert or the reader's units do
    not include its unit (one message for both: the page does not tell that it exists)."""
    scope = scope_of(session, person_id)
    rows = queries.alert_page(session, zone, alert_id=alert_id, limit=1, scope=scope).rows
    alert = session.get(Alert, alert_id)
    if not rows or alert is None:
        return None
    view = alert_view(session, alert, zone, scope)
    ids = {r["person_id"] for r in view["recipients"]}
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())
    told: dict[int, list[dict[str, Any]]] = {}
    for r in view["recipients"]:
        told.setdefault(r["level"], []).append({**r, "name": names.get(r["person_id"], "（已删除）")})
    return {
        "alert": rows[0],
        "recipients": [p for level in sorted(told) for p in told[level]],
        "chain": chain_view(alert, told, ZoneInfo(zone)),
    }


def report_due(rt: Runtime, alert: dict[str, Any], now: dt.datetime) -> dict[str, Any] | None:
    """Before a case is opened: when the plan wants the event reported up, counted, as the case's
    clock will be, from the alert (PRODUCT.md §2.3), and whether that time has passed."""
    plan = load_plan(rt.settings.plan_profile or None)
    duration = plan.duration(DeadlineKind.REPORT, alert["grade_code"])
    if duration is None:
        return None
    start = dt.datetime.fromisoformat(alert["created_at"])
    due = compute_due(load_calendar(rt), start, duration).at
    late = now - due
    return {
        "at": due.astimezone(ZoneInfo(rt.settings.timezone)).strftime("%m-%d %H:%M"),
        "rule": str(duration),
        "late_minutes": int(late.total_seconds() // 60) if late.total_seconds() > 0 else 0,
    }


def chain_view(alert: Alert, told: dict[int, list[dict[str, Any]]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """The escalation chain as steps: whom each level tells, whether it has been told, and when the
    next is due while the alert waits for someone to acknowledge it."""
    steps = []
    for level, step in enumerate(alert.chain):
        role = step.get("role", "")
        label = Role(role).label if role in {r.value for r in Role} else str(role)
        state, due = "未到", None
        if level in told:
            state = "已通知"
        elif level <= alert.level:
            state = "已跳过（均已收到通知）"
        elif level == alert.level + 1 and alert.status == "open" and alert.next_escalation_at:
            state = "待升级"
            due = alert.next_escalation_at.astimezone(tz)
        elif alert.status != "open":
            state = "无需升级"
        steps.append(
            {
                "level": level,
                "label": label,
                "wait_minutes": step.get("wait_minutes"),
                "state": state,
                "due": due.strftime("%m-%d %H:%M") if isinstance(due, dt.datetime) else None,
                # once each: a repeat of the alert (an upgrade) tells the same people again
                "people": list(dict.fromkeys(p["name"] for p in told.get(level, []))),
            }
        )
    return steps
