"""我的通知: the signed-in person's in-app notifications, and marking them read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yuqing.db import transaction
from yuqing.notify.outbox import inbox, mark_read, unread_count
from yuqing.runtime import Runtime
from yuqing.web.api.notifications import notification_view
from yuqing.web.auth import User, audit, current_user, verify_csrf
from yuqing.web.pages.common import render

CurrentUser = Annotated[User, Depends(current_user)]


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/me/notifications", response_class=HTMLResponse)
    def notifications(request: Request, user: CurrentUser) -> HTMLResponse:
        with rt.sessions() as session:
            items = [
                notification_view(n, rt.settings.timezone) for n in inbox(session, user.person_id, limit=100)
            ]
            unread = unread_count(session, user.person_id)
        return render(request, rt, user, "notifications.html", {"items": items, "unread": unread})

    @router.post("/me/notifications/read", dependencies=[Depends(verify_csrf)])
    def read_all(request: Request, user: CurrentUser) -> Response:
        with transaction(rt.sessions) as session:
            marked = mark_read(session, user.person_id, at=rt.clock())
        audit(rt, user, "notifications.read", f"person:{user.person_id}", {"marked": marked}, request=request)
        return RedirectResponse("/me/notifications?done=read", status_code=303)

    return router
