"""工单: the board by stage, one case with its clocks, statements, approvals, tasks, evidence and
timeline, and a form for every action. Each action calls the cases service as the signed-in
person (`via="web"`); a refusal shows the page again with the service's reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from yuqing.cases import service as cases
from yuqing.cases.models import Case, Stage
from yuqing.cases.plan import CATEGORIES, CHANNELS
from yuqing.cases.workflow import TRANSITIONS
from yuqing.org.models import Unit
from yuqing.org.scope import scope_of
from yuqing.org.service import ancestors
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user, verify_csrf
from yuqing.web.pages import queries
from yuqing.web.pages.common import act, render
from yuqing.web.pages.events import event_context

CurrentUser = Annotated[User, Depends(current_user)]
Text = Annotated[str, Form()]
GRADE_CHOICES = tuple((code, queries.GRADE_NAMES[code]) for code in queries.GRADES)


def parse_int(value: str, what: str) -> int | None:
    """A whole number typed into a form; empty means not given."""
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what}应为整数，实为「{value}」") from None


def parse_float(value: str, what: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{what}应为数字，实为「{value}」") from None


def case_context(rt: Runtime, case_id: int, person_ref: str | None = None) -> dict[str, Any]:
    """Everything the case page shows; LookupError when there is no such case, PermissionDenied
    when it belongs to a unit the person (`person_ref`) may not see."""
    view = cases.show(rt, case_id, person_ref)
    with rt.sessions() as session:
        # a task goes to the case's unit, its departments or another body, not to a unit above it
        # (a bureau's case offered 市人民政府 as 承办单位): the unit above is reported to
        own = session.get(Case, case_id)
        above = {u.id for u in ancestors(session, own.unit_id)[1:]} if own is not None else set()
        units = [
            (unit_id, name)
            for unit_id, name in session.execute(select(Unit.id, Unit.name).order_by(Unit.id))
            if unit_id not in above
        ]
        clocks = queries.running_clock_kinds(session, case_id)
    stage = view["stage"]
    statements = view["statements"]
    latest = statements[-1] if statements else None
    may = cases.permissions(rt, case_id, person_ref) if person_ref is not None else {}
    return {
        "case": view,
        "moves": [
            {"stage": t.target.value, "label": t.target.label, "reopen": t.reopen}
            for t in TRANSITIONS
            # 结案 before the response is 撤销, a leader's act with a reason: its own form
            if t.source.value == stage
            and not t.withdraw
            and (person_ref is None or t.target.value in may["moves"])
        ],
        "categories": list(CATEGORIES.items()),
        "channels": CHANNELS,
        "units": units,
        "clocks": clocks,
        "grades": GRADE_CHOICES,
        "latest": latest,
        "open_tasks": [t for t in view["tasks"] if not t["done_at"]],
        "may": may,
        "is_closed": stage == Stage.CLOSED.value,
    }


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def case_page(
        request: Request, user: User, case_id: int, *, error: str | None = None, code: int = 200
    ) -> HTMLResponse:
        try:
            context = case_context(rt, case_id, str(user.person_id))
        except LookupError as exc:
            return render(request, rt, user, "error.html", {"message": str(exc)}, status_code=404)
        except cases.PermissionDenied as exc:
            # A refused action on a case one may not see: its own reason, else why it is not shown.
            shown = {"message": error or str(exc)}
            return render(request, rt, user, "error.html", shown, status_code=code if error else 403)
        context["error"] = error
        return render(request, rt, user, "case.html", context, active="cases", status_code=code)

    def case_action(
        request: Request,
        user: User,
        case_id: int,
        action: str,
        call: Callable[[], Any],
        detail: dict[str, Any] | None = None,
        done: str | Callable[[], str] | None = None,
    ) -> Response:
        return act(
            request,
            rt,
            user,
            action=f"case.{action}",
            target=f"case:{case_id}",
            call=call,
            done=done or action,
            redirect_to=f"/cases/{case_id}",
            on_error=lambda message, status: case_page(request, user, case_id, error=message, code=status),
            detail=detail,
        )

    @router.get("/cases", response_class=HTMLResponse)
    def board(request: Request, user: CurrentUser) -> HTMLResponse:
        with rt.sessions() as session:
            columns = queries.case_board(
                session, rt.settings.timezone, scope=scope_of(session, user.person_id)
            )
        context = {"columns": [(stage, columns[stage.value]) for stage in Stage]}
        return render(request, rt, user, "cases.html", context, active="cases")

    @router.get("/cases/{case_id}", response_class=HTMLResponse)
    def detail(request: Request, case_id: int, user: CurrentUser) -> HTMLResponse:
        return case_page(request, user, case_id)

    @router.post("/cases/open", dependencies=[Depends(verify_csrf)])
    def open_case(
        request: Request,
        user: CurrentUser,
        event_id: Text = "",
        alert_id: Text = "",
        post_id: Text = "",
        unit: Text = "",
        grade: Text = "",
    ) -> Response:
        opened: dict[str, Any] = {}

        def call() -> None:
            opened.update(
                cases.open_case(
                    rt,
                    str(user.person_id),
                    event_id=parse_int(event_id, "事件编号"),
                    alert_id=parse_int(alert_id, "预警编号"),
                    post_id=parse_int(post_id, "信息编号"),
                    unit_ref=unit.strip() or None,
                    grade_code=grade.strip() or None,
                    via="web",
                )
            )

        def on_error(message: str, status: int) -> Response:
            existing = re.search(r"已有未结案的工单 #(\d+)", message)
            if existing:  # opened twice (two tabs, two people): the open case is one click away
                link = {"href": f"/cases/{existing.group(1)}", "text": f"查看工单 #{existing.group(1)}"}
                return render(
                    request, rt, user, "error.html", {"message": message, "link": link}, status_code=status
                )
            if event_id.strip().isdigit():
                context = event_context(rt, int(event_id), person_id=user.person_id)
                if context is not None:
                    context["error"] = message
                    return render(
                        request, rt, user, "event.html", context, active="events", status_code=status
                    )
            return render(request, rt, user, "error.html", {"message": message}, status_code=status)

        source = {"event_id": event_id, "alert_id": alert_id, "post_id": post_id}
        response = act(
            request,
            rt,
            user,
            action="case.open",
            target="case:new",
            call=call,
            done="open",
            redirect_to="/cases",
            on_error=on_error,
            detail={k: v for k, v in source.items() if v},
        )
        if opened:
            response.headers["location"] = f"/cases/{opened['id']}?done=open"
        return response

    @router.post("/cases/{case_id}/advance", dependencies=[Depends(verify_csrf)])
    def advance(
        request: Request,
        case_id: int,
        user: CurrentUser,
        stage: Text = "",
        category: Text = "",
        summary: Text = "",
        note: Text = "",
        phone_to: Text = "",
        phone_at: Text = "",
    ) -> Response:
        def call() -> None:
            if not stage.strip():
                raise ValueError("请选择要转入的阶段")
            cases.advance(
                rt,
                case_id,
                stage,
                str(user.person_id),
                category=category.strip() or None,
                summary=summary.strip() or None,
                note=note.strip(),
                phone_to=phone_to.strip() or None,
                phone_at=phone_at.strip() or None,
                via="web",
            )

        return case_action(request, user, case_id, "advance", call, {"stage": stage})

    @router.post("/cases/{case_id}/categorize", dependencies=[Depends(verify_csrf)])
    def categorize(request: Request, case_id: int, user: CurrentUser, category: Text = "") -> Response:
        def call() -> None:
            cases.categorize(rt, case_id, category, str(user.person_id), via="web")

        return case_action(request, user, case_id, "categorize", call, {"category": category})

    @router.post("/cases/{case_id}/statement", dependencies=[Depends(verify_csrf)])
    def statement(
        request: Request,
        case_id: int,
        user: CurrentUser,
        facts: Text = "",
        causes: Text = "",
        progress: Text = "",
    ) -> Response:
        def call() -> None:
            cases.draft_statement(
                rt, case_id, str(user.person_id), facts=facts, causes=causes, progress=progress, via="web"
            )

        return case_action(request, user, case_id, "statement", call)

    @router.post("/cases/{case_id}/approve", dependencies=[Depends(verify_csrf)])
    def approve(
        request: Request,
        case_id: int,
        user: CurrentUser,
        decision: Text = "approve",
        comment: Text = "",
        version: Text = "",
    ) -> Response:
        reject = decision == "reject"

        def call() -> None:
            if version.strip() and not version.strip().isdigit():
                raise ValueError(f"稿号应为数字，实为 {version!r}")
            cases.approve(
                rt,
                case_id,
                str(user.person_id),
                reject=reject,
                comment=comment.strip() or None,
                version=int(version) if version.strip() else None,
                via="web",
            )

        detail = {"decision": decision, "version": version}
        return case_action(request, user, case_id, "approve", call, detail)

    @router.post("/cases/{case_id}/release", dependencies=[Depends(verify_csrf)])
    def release(request: Request, case_id: int, user: CurrentUser, channel: Text = "") -> Response:
        def call() -> None:
            cases.release(rt, case_id, channel, str(user.person_id), via="web")

        return case_action(request, user, case_id, "release", call, {"channel": channel})

    @router.post("/cases/{case_id}/respond", dependencies=[Depends(verify_csrf)])
    def respond(
        request: Request, case_id: int, user: CurrentUser, text: Text = "", formal: Text = ""
    ) -> Response:
        outcome = {"done": "respond"}

        def call() -> None:
            view = cases.respond(rt, case_id, str(user.person_id), text, formal=bool(formal), via="web")
            if view.get("reply_pending"):
                outcome["done"] = "reply_draft"

        detail = {"formal": bool(formal)}
        return case_action(request, user, case_id, "respond", call, detail, done=lambda: outcome["done"])

    @router.post("/cases/{case_id}/phone-report", dependencies=[Depends(verify_csrf)])
    def phone_report(
        request: Request, case_id: int, user: CurrentUser, to: Text = "", called_at: Text = ""
    ) -> Response:
        def call() -> None:
            cases.record_phone_report(
                rt, case_id, str(user.person_id), to, called_at=called_at.strip() or None, via="web"
            )

        return case_action(request, user, case_id, "phone_report", call, {"to": to})

    @router.post("/cases/{case_id}/replies/{reply_id}", dependencies=[Depends(verify_csrf)])
    def settle_reply(
        request: Request,
        case_id: int,
        reply_id: int,
        user: CurrentUser,
        decision: Text = "",
        comment: Text = "",
    ) -> Response:
        def call() -> None:
            if decision not in ("approve", "reject"):
                raise ValueError("请选择审定同意或退回")
            cases.decide_reply(
                rt,
                case_id,
                reply_id,
                str(user.person_id),
                reject=decision == "reject",
                comment=comment.strip() or None,
                via="web",
            )

        detail = {"reply_id": reply_id, "decision": decision}
        return case_action(request, user, case_id, "reply_settle", call, detail)

    @router.post("/cases/{case_id}/extend", dependencies=[Depends(verify_csrf)])
    def extend(
        request: Request, case_id: int, user: CurrentUser, reason: Text = "", kind: Text = "", days: Text = ""
    ) -> Response:
        def call() -> None:
            cases.extend(
                rt,
                case_id,
                reason,
                str(user.person_id),
                kind=kind.strip() or None,
                days=parse_int(days, "延期后的工作日数"),
                via="web",
            )

        return case_action(request, user, case_id, "extend", call, {"kind": kind, "days": days})

    @router.post("/cases/{case_id}/tasks", dependencies=[Depends(verify_csrf)])
    def task(
        request: Request,
        case_id: int,
        user: CurrentUser,
        unit: Text = "",
        text: Text = "",
        working_days: Text = "",
        hours: Text = "",
    ) -> Response:
        def call() -> None:
            if not unit.strip():
                raise ValueError("请选择承办单位")
            if not text.strip():
                raise ValueError("请写明任务内容")
            cases.add_task(
                rt,
                case_id,
                unit,
                text,
                str(user.person_id),
                hours=parse_float(hours, "完成时限（小时）"),
                working_days=parse_int(working_days, "完成时限（工作日）"),
                via="web",
            )

        return case_action(request, user, case_id, "task", call, {"unit": unit})

    @router.post("/cases/{case_id}/tasks/{task_id}/done", dependencies=[Depends(verify_csrf)])
    def task_done(
        request: Request, case_id: int, task_id: int, user: CurrentUser, result: Text = ""
    ) -> Response:
        def call() -> None:
            if not result.strip():
                raise ValueError("请写明办理结果")
            cases.complete_task(rt, case_id, task_id, str(user.person_id), result, via="web")

        return case_action(request, user, case_id, "task_done", call, {"task_id": task_id})

    @router.post("/cases/{case_id}/evidence", dependencies=[Depends(verify_csrf)])
    def evidence(
        request: Request, case_id: int, user: CurrentUser, post_id: Text = "", note: Text = ""
    ) -> Response:
        def call() -> None:
            number = parse_int(post_id, "信息编号")
            if number is None:
                raise ValueError("请填写作为证据的信息编号")
            cases.attach_evidence(rt, case_id, number, str(user.person_id), note.strip() or None, via="web")

        return case_action(request, user, case_id, "evidence", call, {"post_id": post_id})

    @router.post("/cases/{case_id}/regrade", dependencies=[Depends(verify_csrf)])
    def regrade(
        request: Request, case_id: int, user: CurrentUser, grade: Text = "", reason: Text = ""
    ) -> Response:
        def call() -> None:
            cases.regrade(rt, case_id, grade, reason, str(user.person_id), via="web")

        return case_action(request, user, case_id, "regrade", call, {"grade": grade})

    @router.post("/cases/{case_id}/follow-up", dependencies=[Depends(verify_csrf)])
    def follow_up(request: Request, case_id: int, user: CurrentUser, text: Text = "") -> Response:
        def call() -> None:
            cases.follow_up(rt, case_id, text, str(user.person_id), via="web")

        return case_action(request, user, case_id, "follow_up", call)

    @router.post("/cases/{case_id}/withdraw", dependencies=[Depends(verify_csrf)])
    def withdraw(request: Request, case_id: int, user: CurrentUser, reason: Text = "") -> Response:
        def call() -> None:
            cases.withdraw(rt, case_id, reason, str(user.person_id), via="web")

        return case_action(request, user, case_id, "withdraw", call)

    @router.post("/cases/{case_id}/close", dependencies=[Depends(verify_csrf)])
    def close(request: Request, case_id: int, user: CurrentUser, summary: Text = "") -> Response:
        def call() -> None:
            cases.close(rt, case_id, str(user.person_id), summary=summary.strip() or None, via="web")

        return case_action(request, user, case_id, "close", call)

    return router
