"""API of drills: the shipped scenarios, the drills with their progress, one drill with its log and
live score, and creating (and starting) a drill, starting, pausing, resuming and stopping one.

Everyone signed in may look at the drills of the units they see. Changing a drill's state needs
办公室 or 管理员 of the drill's unit or a unit above it (the drill service checks it for the
`actor`; the CLI is run by whoever runs the server); letting a drill's notices out to e-mail and
the chat robots needs 管理员, as the plan wants outside channels used in
a drill only when the administrator allows it. The console only offers the shipped scenarios: a
path on the server is not something a browser may name. The replay itself is the server's
(`yuqing.drills.runner.DrillWorker` inside `yuqing serve`), never the request's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from yuqing.cases.service import PermissionDenied
from yuqing.drills import service
from yuqing.drills.errors import DrillError
from yuqing.drills.models import DrillRunner
from yuqing.drills.scenario import shipped_scenarios
from yuqing.org.roles import Role
from yuqing.runtime import Runtime
from yuqing.web.api.errors import audited, error_status, service_errors
from yuqing.web.api.params import Body, BodyId, DrillId
from yuqing.web.api.responses import REFUSED
from yuqing.web.auth import User, audit, current_user, verify_csrf

__all__ = [
    "OPERATORS",
    "Action",
    "NewDrill",
    "build_router",
    "change_drill",
    "check_may_operate",
    "create_and_start",
    "may_operate",
    "record_creation",
]

CurrentUser = Annotated[User, Depends(current_user)]
# Who may start, pause, resume and stop drills (administrators always may).
OPERATORS: tuple[str, ...] = (Role.OFFICE.value,)
Action = Literal["start", "pause", "resume", "stop"]
# A day of scenario in under a second is already more than a drill can use.
MAX_SPEED = 100_000.0


class NewDrill(Body):
    scenario: str = Field(description="内置场景的 key（GET /api/v1/drills/scenarios）")
    speed: float = Field(1.0, gt=0, le=MAX_SPEED, description="回放倍速：12 表示场景的一小时在 5 分钟内回放")
    participants: list[BodyId | str] = Field(
        default_factory=list, description="参演人员（编号、登录名或姓名）：情景注入通知他们"
    )
    allow_external: bool = Field(
        False, description="演练通知也发送到外部渠道（邮件、钉钉、企业微信、飞书）；仅管理员可设置"
    )


def may_operate(user: User) -> bool:
    return user.holds(*OPERATORS)


def check_may_operate(user: User, *, allow_external: bool = False) -> None:
    """PermissionDenied (403) with the reason, unless the user may run drills this way."""
    if not may_operate(user):
        raise PermissionDenied(f"{user.name} 不是办公室人员或管理员，不能开始、暂停或结束演练")
    if allow_external and not user.is_admin:
        raise PermissionDenied(
            "只有管理员可以允许演练通知发送到外部渠道（邮件、钉钉、企业微信、飞书）；不勾选时演练只发站内通知"
        )


def by_line(user: User, via: str) -> str:
    """Who acted and from where, as the drill's log records it."""
    return f"{user.name}，{'控制台' if via == 'web' else '接口'}"


def create_and_start(
    rt: Runtime,
    user: User,
    *,
    scenario: str,
    speed: float,
    participants: Sequence[str],
    allow_external: bool,
    via: str,
) -> dict[str, Any]:
    """Create a drill of a shipped scenario and start it for the server's drill worker."""
    check_may_operate(user, allow_external=allow_external)
    shipped = shipped_scenarios()
    if scenario not in shipped:
        raise DrillError(f"未知的内置场景 {scenario!r}（可选：{'、'.join(shipped) or '无'}）")
    by = by_line(user, via)
    created = service.create_drill(
        rt,
        scenario,
        speed=speed,
        participants=participants,
        allow_external=allow_external,
        runner=DrillRunner.SERVER,
        by=by,
        actor=user.person_id,
    )
    return service.start_drill(rt, created["id"], runner=DrillRunner.SERVER, by=by, actor=user.person_id)


def record_creation(
    rt: Runtime, user: User, request: Request, detail: dict[str, Any], call: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run `call` (a create_and_start) and leave the audit line `drill.create` — on the new drill,
    or on `drill:new` with the reason when it was refused. The domain error goes on to the caller."""
    try:
        view = call()
    except (ValueError, LookupError) as exc:
        refused = {**detail, "refused": str(exc), "status": error_status(exc)}
        audit(rt, user, "drill.create", "drill:new", refused, request=request)
        raise
    audit(rt, user, "drill.create", f"drill:{view['id']}", detail, request=request)
    return view


def change_drill(rt: Runtime, user: User, drill_id: int, action: str, via: str) -> dict[str, Any]:
    """Start, pause, resume or stop a drill as the user (the state table decides what may follow)."""
    check_may_operate(user)
    by = by_line(user, via)
    actor = user.person_id
    if action == "start":
        return service.start_drill(rt, drill_id, runner=DrillRunner.SERVER, by=by, actor=actor)
    if action == "pause":
        return service.pause_drill(rt, drill_id, by=by, actor=actor)
    if action == "resume":
        return service.resume_drill(rt, drill_id, by=by, actor=actor)
    if action == "stop":
        return service.stop_drill(rt, drill_id, by=by, actor=actor)
    raise ValueError(f"未知的演练操作 {action!r}")


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["drills"])
    csrf = [Depends(verify_csrf)]

    @router.get("/drills/scenarios", summary="内置演练场景（信息条数、时长、情景注入、考核科目及时限、预期）")
    def scenario_list() -> dict[str, Any]:
        return {"items": service.list_scenarios()}

    @router.get("/drills", summary="演练列表（最新在前）：状态、进度、演练事件、预警和工单")
    def drill_list(user: CurrentUser) -> dict[str, Any]:
        return {"items": service.list_drills(rt, actor=user.person_id)}

    @router.get("/drills/{drill_id}", summary="一次演练：状态、进度、日志和当前评分", responses=REFUSED)
    def drill_show(drill_id: DrillId, user: CurrentUser) -> dict[str, Any]:
        with service_errors():
            view = service.drill_status(rt, drill_id, actor=user.person_id)
            view["score"] = service.score_drill(rt, drill_id, actor=user.person_id)
        return view

    @router.post(
        "/drills",
        summary="创建并开始演练（由 yuqing serve 按倍速回放；办公室或管理员）",
        status_code=201,
        dependencies=csrf,
        responses=REFUSED,
    )
    def drill_create(request: Request, body: NewDrill, user: CurrentUser) -> dict[str, Any]:
        people = [str(p) for p in body.participants]
        detail = {
            "scenario": body.scenario,
            "speed": body.speed,
            "participants": people,
            "allow_external": body.allow_external,
        }
        with service_errors():
            return record_creation(
                rt,
                user,
                request,
                detail,
                lambda: create_and_start(
                    rt,
                    user,
                    scenario=body.scenario,
                    speed=body.speed,
                    participants=people,
                    allow_external=body.allow_external,
                    via="api",
                ),
            )

    @router.post(
        "/drills/{drill_id}/{action}",
        summary="开始（start）、暂停（pause）、继续（resume）或结束（stop）演练（办公室或管理员）",
        dependencies=csrf,
        responses=REFUSED,
    )
    def drill_change(
        request: Request, drill_id: DrillId, action: Action, user: CurrentUser
    ) -> dict[str, Any]:
        return audited(
            rt,
            user,
            request,
            f"drill.{action}",
            f"drill:{drill_id}",
            lambda: change_drill(rt, user, drill_id, action, "api"),
        )

    return router
