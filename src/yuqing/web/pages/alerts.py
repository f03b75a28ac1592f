"""预警: alerts with their state, and 「确认」 (htmx: the row is replaced; without JavaScript: the
page again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yuqing.alerts.service import acknowledge
from yuqing.org.scope import scope_of
from yuqing.runtime import Runtime
from yuqing.web.api.errors import error_status
from yuqing.web.auth import User, audit, current_user, verify_csrf
from yuqing.web.pages import queries
from yuqing.web.pages.common import is_htmx, pager, render

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
            return render(request, rt, user, "_alert_row.html", {"alert": row, "unread": 0})
        return RedirectResponse("/alerts?done=ack", status_code=303)

    return router
