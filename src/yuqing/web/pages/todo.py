"""待办: what waits for the signed-in person. Alerts that reached them and nobody has
acknowledged yet (linked to the alert page, where 确认预警 stops the escalation); tasks a case
gave to their department (a liaison of another unit finishes them here without seeing that
unit's case); statement drafts waiting for their approval (linked to the case page, where the
draft is read and approved)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yuqing.cases import service as cases
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user, verify_csrf
from yuqing.web.pages.common import act, render

CurrentUser = Annotated[User, Depends(current_user)]
Text = Annotated[str, Form()]


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(request: Request, user: User, *, error: str | None = None, code: int = 200) -> HTMLResponse:
        mine = cases.todo(rt, str(user.person_id))
        context = {
            "alerts": mine["alerts"],
            "tasks": mine["tasks"],
            "approvals": mine["approvals"],
            "replies": mine["replies"],
            "todo": mine["count"],
            "error": error,
        }
        return render(request, rt, user, "todo.html", context, active="todo", status_code=code)

    @router.get("/me/todo", response_class=HTMLResponse)
    def todo(request: Request, user: CurrentUser) -> HTMLResponse:
        return page(request, user)

    @router.post("/me/todo/tasks/{task_id}/done", dependencies=[Depends(verify_csrf)])
    def task_done(request: Request, task_id: int, user: CurrentUser, result: Text = "") -> Response:
        case_id = 0

        def call() -> None:
            nonlocal case_id
            if not result.strip():
                raise ValueError("请写明办理结果")
            case_id = cases.task_case_id(rt, task_id, user.person_id)
            cases.complete_task(rt, case_id, task_id, str(user.person_id), result, via="web")

        return act(
            request,
            rt,
            user,
            action="case.task_done",
            target=f"task:{task_id}",
            call=call,
            done="task_done",
            redirect_to="/me/todo",
            on_error=lambda message, status: page(request, user, error=message, code=status),
            detail={"task_id": task_id},
        )

    return router
