"""API of alerts: the list (by status), one alert with its recipients, acknowledging."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from yuqing.alerts import service
from yuqing.org.scope import scope_of
from yuqing.runtime import Runtime
from yuqing.web.api.errors import audited, service_errors
from yuqing.web.api.params import AlertId, Offset
from yuqing.web.api.responses import REFUSED
from yuqing.web.auth import User, current_user, verify_csrf
from yuqing.web.pages import queries

CurrentUser = Annotated[User, Depends(current_user)]
Limit = Annotated[int, Query(ge=1, le=500, description="每页条数")]


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["alerts"])

    @router.get("/alerts", summary="预警列表（最新在前，可按状态筛选）")
    def alert_list(
        user: CurrentUser,
        status: Literal["open", "acknowledged", "closed"] | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        with rt.sessions() as session:
            page = queries.alert_page(
                session,
                rt.settings.timezone,
                status=status,
                limit=limit,
                offset=offset,
                scope=scope_of(session, user.person_id),  # only the alerts of units the reader sees
            )
        return {"items": page.rows, "limit": limit, "offset": offset, "has_more": page.has_more}

    @router.get("/alerts/{alert_id}", summary="一条预警：定级依据、升级链、通知对象", responses=REFUSED)
    def alert_show(alert_id: AlertId, user: CurrentUser) -> dict[str, Any]:
        with service_errors():
            return service.show(rt, alert_id, str(user.person_id))

    @router.post(
        "/alerts/{alert_id}/ack",
        summary="确认预警（停止升级通知）",
        dependencies=[Depends(verify_csrf)],
        responses=REFUSED,
    )
    def alert_ack(request: Request, alert_id: AlertId, user: CurrentUser) -> dict[str, Any]:
        return audited(
            rt,
            user,
            request,
            "alert.ack",
            f"alert:{alert_id}",
            lambda: service.acknowledge(rt, alert_id, str(user.person_id), via="api"),
        )

    return router
