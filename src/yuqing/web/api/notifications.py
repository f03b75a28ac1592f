"""API of the signed-in person's in-app notifications (the inbox, marking them read) and to-do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from yuqing.db import transaction
from yuqing.notify.models import Notification
from yuqing.notify.outbox import inbox, mark_read, unread_count
from yuqing.runtime import Runtime
from yuqing.web.api.params import Body, BodyId
from yuqing.web.api.responses import errors
from yuqing.web.auth import User, audit, current_user, verify_csrf

CurrentUser = Annotated[User, Depends(current_user)]


class MarkRead(Body):
    ids: list[BodyId] | None = Field(None, description="要标为已读的通知编号；不填则全部标为已读")


def notification_view(item: Notification, zone: str) -> dict[str, Any]:
    from yuqing.web.pages.queries import iso

    message = item.content()
    return {
        "id": item.id,
        "title": item.title,
        "body": message.body,
        "level": item.level,
        "subject": {"kind": item.subject_kind, "id": item.subject_id} if item.subject else None,
        "created_at": iso(item.created_at, zone),
        "sent_at": iso(item.sent_at, zone),
        "read_at": iso(item.read_at, zone),
    }


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["notifications"])

    @router.get("/me/notifications", summary="我的站内通知（最新在前）")
    def my_notifications(
        user: CurrentUser,
        unread: Annotated[bool, Query(description="只看未读")] = False,
        limit: Annotated[int, Query(ge=1, le=200, description="条数")] = 50,
    ) -> dict[str, Any]:
        with rt.sessions() as session:
            items = inbox(session, user.person_id, unread_only=unread, limit=limit)
            return {
                "unread": unread_count(session, user.person_id),
                "items": [notification_view(n, rt.settings.timezone) for n in items],
            }

    @router.post(
        "/me/notifications/read",
        summary="标为已读",
        dependencies=[Depends(verify_csrf)],
        responses=errors(400, 403),  # a body that is not JSON; the CSRF token
    )
    def read(request: Request, user: CurrentUser, body: MarkRead | None = None) -> dict[str, int]:
        ids = body.ids if body is not None else None
        with transaction(rt.sessions) as session:
            marked = mark_read(session, user.person_id, ids, at=rt.clock())
        audit(rt, user, "notifications.read", f"person:{user.person_id}", {"marked": marked}, request=request)
        return {"marked": marked}

    @router.get("/me/todo", summary="我的待办：待我确认的预警、分派给本部门的任务、待我审批的声明")
    def my_todo(user: CurrentUser) -> dict[str, Any]:
        from yuqing.cases import service as cases

        return cases.todo(rt, str(user.person_id))

    return router
