"""API of cases: the list (by stage), one case, opening, and every step of the plan — the same
service calls as `yuqing cases …`, as the signed-in person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import Field

from yuqing.cases import service as cases
from yuqing.cases.models import STAGE_LABELS
from yuqing.cases.workflow import parse_stage
from yuqing.org.scope import scope_of
from yuqing.runtime import Runtime
from yuqing.web.api.errors import audited, service_errors
from yuqing.web.api.params import Body, BodyId, CaseId, Offset, ReplyId, TaskId
from yuqing.web.api.responses import REFUSED, errors
from yuqing.web.auth import User, current_user, verify_csrf
from yuqing.web.pages import queries

CurrentUser = Annotated[User, Depends(current_user)]
Limit = Annotated[int, Query(ge=1, le=500, description="每页条数")]
CSRF = [Depends(verify_csrf)]
# The stage filter takes a stage's code or its Chinese label.
StageName = Annotated[
    str | None,
    Query(
        description="阶段：代码（reported…）或中文名（报告…）",
        json_schema_extra={"enum": [*STAGE_LABELS, *STAGE_LABELS.values()]},
    ),
]


# Bounds that keep a due time computable: no task or extension runs longer than a year (the
# service refuses the same for the console and the command line).
MAX_WORKING_DAYS = cases.MAX_TASK_WORKING_DAYS
MAX_HOURS = float(cases.MAX_TASK_HOURS)


class OpenCase(Body):
    event_id: BodyId | None = Field(None, description="由事件开立（有预警时关联其预警）")
    alert_id: BodyId | None = Field(None, description="由预警开立")
    post_id: BodyId | None = Field(None, description="由一条信息手工开立")
    unit: str | None = Field(None, description="责任单位（名称或编号；默认为预警的单位）")
    grade: str | None = Field(None, description="手工开立时的等级代码 I..IV")


class Advance(Body):
    stage: str = Field(description="reported/assessed/disposing/following/summarised/closed 或 报告…结案")
    category: str | None = Field(None, description="顺带设置的舆情类别（研判）")
    summary: str | None = Field(None, description="总结评估")
    note: str = Field("", description="写入时间线的备注")
    phone_to: str | None = Field(None, description="转入报告时同时记录的电话报告对象（重大以上须电话报告）")
    phone_at: str | None = Field(None, description="电话报告的时间（如 10:05），默认为现在")


class PhoneReport(Body):
    to: str = Field(description="电话报告了谁（单位和姓名）")
    called_at: str | None = Field(
        None, description="打电话的时间（如 10:05 或 2026-11-20 10:05），默认为现在"
    )


class Categorize(Body):
    category: str = Field(
        description="询问/质疑/诉求、属实批评、恶意传播/炒作、捏造/歪曲/谣言/诽谤、建设性建议"
    )


class DraftStatement(Body):
    facts: str = Field(description="已核实的事实（快报事实）")
    causes: str | None = Field(None, description="原因（慎报原因）")
    progress: str | None = Field(None, description="进展（重报进展）")


class Approve(Body):
    reject: bool = Field(False, description="驳回而非批准")
    comment: str | None = Field(None, description="审批意见")
    version: int | None = Field(
        None, description="所审批的稿号（所阅读的那一稿）；其后已有新稿时拒绝（409），以免批准未读过的文字"
    )


class Release(Body):
    channel: str = Field(description="新闻通稿、官方微博/微信、新闻发布会、跟帖回应、专家解读、媒体采访")


class Respond(Body):
    text: str = Field(description="回应内容")
    formal: bool = Field(False, description="正式答复意见")


class SettleReply(Body):
    reject: bool = Field(False, description="退回修改而非审定同意")
    comment: str | None = Field(None, description="审定意见（退回时必填）")


class Extend(Body):
    reason: str = Field(description="书面理由")
    kind: str | None = Field(None, description="延长哪项时限（默认 formal_reply）")
    days: int | None = Field(
        None, ge=1, le=MAX_WORKING_DAYS, description="自开始起共计的工作日数（默认上限 10）"
    )


class AddTask(Body):
    unit: str = Field(description="承办单位（名称或编号）")
    text: str = Field(description="任务内容")
    working_days: int | None = Field(
        None, ge=1, le=MAX_WORKING_DAYS, description="几个工作日内完成（至多一年）"
    )
    hours: float | None = Field(None, gt=0, le=MAX_HOURS, description="几小时内完成（至多一年）")


class TaskDone(Body):
    result: str = Field(description="办理结果")


class Evidence(Body):
    post_id: BodyId = Field(description="作为证据的信息编号")
    note: str | None = Field(None, description="说明")


class Regrade(Body):
    grade: str = Field(description="等级代码 I..IV")
    reason: str = Field(description="调整理由")


class Withdraw(Body):
    reason: str = Field(min_length=1, max_length=500, description="撤销理由（误报、非本单位事项、重复工单…）")


class FollowUp(Body):
    text: str = Field(
        min_length=1, max_length=1000, description="续报的进展情况（处置措施、事态变化、下一步安排）"
    )


class Close(Body):
    summary: str | None = Field(None, description="总结评估（尚未填写时）")


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["cases"])

    def action(
        request: Request,
        user: User,
        case_id: int | None,
        name: str,
        call: Callable[[], dict[str, Any]],
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        target = f"case:{case_id}" if case_id is not None else "case:new"
        return audited(rt, user, request, f"case.{name}", target, call, detail)

    @router.get("/cases", summary="工单列表（最新在前，可按阶段筛选），含下一个时限", responses=errors(400))
    def case_list(
        user: CurrentUser,
        stage: StageName = None,
        drills: bool = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        try:
            code = parse_stage(stage).value if stage else None
        except ValueError as exc:  # a bad filter is bad input, not a refused step
            raise HTTPException(400, str(exc)) from exc
        with rt.sessions() as session:
            page = queries.case_page(
                session,
                rt.settings.timezone,
                stage=code,
                include_drills=drills,
                limit=limit,
                offset=offset,
                scope=scope_of(session, user.person_id),  # only the cases of units the reader sees
            )
        return {"items": page.rows, "limit": limit, "offset": offset, "has_more": page.has_more}

    @router.get(
        "/cases/{case_id}", summary="一个工单：时限、声明、审批、任务、证据、时间线", responses=REFUSED
    )
    def case_show(case_id: CaseId, user: CurrentUser) -> dict[str, Any]:
        with service_errors():
            return cases.show(rt, case_id, str(user.person_id))

    @router.post(
        "/cases",
        summary="开立工单（由事件、预警或信息）",
        status_code=201,
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_open(request: Request, body: OpenCase, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            None,
            "open",
            lambda: cases.open_case(
                rt,
                str(user.person_id),
                event_id=body.event_id,
                alert_id=body.alert_id,
                post_id=body.post_id,
                unit_ref=body.unit,
                grade_code=body.grade,
                via="api",
            ),
            body.model_dump(exclude_none=True),
        )

    @router.post(
        "/cases/{case_id}/advance",
        summary="转入下一阶段（不满足条件时说明原因）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_advance(request: Request, case_id: CaseId, body: Advance, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "advance",
            lambda: cases.advance(
                rt,
                case_id,
                body.stage,
                str(user.person_id),
                category=body.category,
                summary=body.summary,
                note=body.note,
                phone_to=body.phone_to,
                phone_at=body.phone_at,
                via="api",
            ),
            {"stage": body.stage},
        )

    @router.post("/cases/{case_id}/categorize", summary="研判舆情类别", dependencies=CSRF, responses=REFUSED)
    def case_categorize(
        request: Request, case_id: CaseId, body: Categorize, user: CurrentUser
    ) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "categorize",
            lambda: cases.categorize(rt, case_id, body.category, str(user.person_id), via="api"),
            {"category": body.category},
        )

    @router.post(
        "/cases/{case_id}/statement",
        summary="起草声明（事实、原因、进展分列）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_statement(
        request: Request, case_id: CaseId, body: DraftStatement, user: CurrentUser
    ) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "statement",
            lambda: cases.draft_statement(
                rt,
                case_id,
                str(user.person_id),
                facts=body.facts,
                causes=body.causes,
                progress=body.progress,
                via="api",
            ),
        )

    @router.post(
        "/cases/{case_id}/approve", summary="审批（或驳回）最新一稿声明", dependencies=CSRF, responses=REFUSED
    )
    def case_approve(request: Request, case_id: CaseId, body: Approve, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "approve",
            lambda: cases.approve(
                rt,
                case_id,
                str(user.person_id),
                reject=body.reject,
                comment=body.comment,
                version=body.version,
                via="api",
            ),
            {"reject": body.reject, "version": body.version},
        )

    @router.post(
        "/cases/{case_id}/release",
        summary="发布经审批的声明（审批不全时拒绝）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_release(request: Request, case_id: CaseId, body: Release, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "release",
            lambda: cases.release(rt, case_id, body.channel, str(user.person_id), via="api"),
            {"channel": body.channel},
        )

    @router.post(
        "/cases/{case_id}/respond",
        summary="记录对网民的回应（初步回应或正式答复）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_respond(request: Request, case_id: CaseId, body: Respond, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "respond",
            lambda: cases.respond(rt, case_id, str(user.person_id), body.text, formal=body.formal, via="api"),
            {"formal": body.formal},
        )

    @router.post(
        "/cases/{case_id}/phone-report",
        summary="记录已电话报告上级（重大、特别重大须同时电话报告）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_phone_report(
        request: Request, case_id: CaseId, body: PhoneReport, user: CurrentUser
    ) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "phone_report",
            lambda: cases.record_phone_report(
                rt, case_id, str(user.person_id), body.to, called_at=body.called_at, via="api"
            ),
            {"to": body.to},
        )

    @router.post(
        "/cases/{case_id}/replies/{reply_id}",
        summary="审定办公室起草的正式答复意见（同意即记为答复网民，或退回修改）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_settle_reply(
        request: Request, case_id: CaseId, reply_id: ReplyId, body: SettleReply, user: CurrentUser
    ) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "reply_settle",
            lambda: cases.decide_reply(
                rt,
                case_id,
                reply_id,
                str(user.person_id),
                reject=body.reject,
                comment=body.comment,
                via="api",
            ),
            {"reply_id": reply_id, "reject": body.reject},
        )

    @router.post(
        "/cases/{case_id}/extend",
        summary="延长一项时限（仅一次，须写明理由）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_extend(request: Request, case_id: CaseId, body: Extend, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "extend",
            lambda: cases.extend(
                rt, case_id, body.reason, str(user.person_id), kind=body.kind, days=body.days, via="api"
            ),
            {"kind": body.kind, "days": body.days},
        )

    @router.post("/cases/{case_id}/tasks", summary="向部门分派任务", dependencies=CSRF, responses=REFUSED)
    def case_task(request: Request, case_id: CaseId, body: AddTask, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "task",
            lambda: cases.add_task(
                rt,
                case_id,
                body.unit,
                body.text,
                str(user.person_id),
                hours=body.hours,
                working_days=body.working_days,
                via="api",
            ),
            {"unit": body.unit},
        )

    @router.post(
        "/cases/{case_id}/tasks/{task_id}/done", summary="任务办结", dependencies=CSRF, responses=REFUSED
    )
    def case_task_done(
        request: Request, case_id: CaseId, task_id: TaskId, body: TaskDone, user: CurrentUser
    ) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "task_done",
            lambda: cases.complete_task(rt, case_id, task_id, str(user.person_id), body.result, via="api"),
            {"task_id": task_id},
        )

    @router.post(
        "/cases/{case_id}/evidence", summary="添加证据（已采集的信息）", dependencies=CSRF, responses=REFUSED
    )
    def case_evidence(request: Request, case_id: CaseId, body: Evidence, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "evidence",
            lambda: cases.attach_evidence(
                rt, case_id, body.post_id, str(user.person_id), body.note, via="api"
            ),
            {"post_id": body.post_id},
        )

    @router.post(
        "/cases/{case_id}/regrade",
        summary="调整工单等级（领导，须写明理由）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_regrade(request: Request, case_id: CaseId, body: Regrade, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "regrade",
            lambda: cases.regrade(rt, case_id, body.grade, body.reason, str(user.person_id), via="api"),
            {"grade": body.grade},
        )

    @router.post(
        "/cases/{case_id}/follow-up",
        summary="续报：向已报告的上级和领导续报处置进展（报告之后、结案之前）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_follow_up(
        request: Request, case_id: CaseId, body: FollowUp, user: CurrentUser
    ) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "follow_up",
            lambda: cases.follow_up(rt, case_id, body.text, str(user.person_id), via="api"),
        )

    @router.post(
        "/cases/{case_id}/withdraw",
        summary="撤销工单（领导，无需处置的误报等；须写明理由，已发布权威信息的不能撤销）",
        dependencies=CSRF,
        responses=REFUSED,
    )
    def case_withdraw(request: Request, case_id: CaseId, body: Withdraw, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "withdraw",
            lambda: cases.withdraw(rt, case_id, body.reason, str(user.person_id), via="api"),
        )

    @router.post(
        "/cases/{case_id}/close", summary="结案（须有总结评估）", dependencies=CSRF, responses=REFUSED
    )
    def case_close(request: Request, case_id: CaseId, body: Close, user: CurrentUser) -> dict[str, Any]:
        return action(
            request,
            user,
            case_id,
            "close",
            lambda: cases.close(rt, case_id, str(user.person_id), summary=body.summary, via="api"),
        )

    return router
