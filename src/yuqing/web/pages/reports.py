"""报告: the archive of every generated report, generating one, and downloading it as issued."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yuqing.org.models import PermissionDenied
from yuqing.reports import service
from yuqing.runtime import Runtime
from yuqing.web.api.errors import error_status
from yuqing.web.api.reports import WRITERS, file_response, make_report
from yuqing.web.auth import User, audit, current_user, verify_csrf
from yuqing.web.pages.common import pager, render

CurrentUser = Annotated[User, Depends(current_user)]
PAGE = 30


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(
        request: Request,
        user: User,
        *,
        kind: str | None,
        offset: int,
        error: str | None = None,
        status: int = 200,
        form: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        rows, total = service.list_reports(
            rt, kind=kind or None, limit=PAGE, offset=offset, person_id=user.person_id
        )
        context = {
            "reports": rows,
            "total": total,
            "kind": kind or "",
            "kinds": service.KIND_LABELS,
            "may_write": user.holds(*WRITERS),
            "error": error,
            "form": form or {},
            "next_page": pager(request, offset + PAGE) if offset + PAGE < total else None,
            "prev_page": pager(request, max(0, offset - PAGE)) if offset else None,
        }
        return render(request, rt, user, "reports.html", context, active="reports", status_code=status)

    @router.get("/reports", response_class=HTMLResponse)
    def report_list(request: Request, user: CurrentUser, kind: str = "", offset: int = 0) -> HTMLResponse:
        return page(request, user, kind=kind, offset=max(0, offset))

    @router.post("/reports", dependencies=[Depends(verify_csrf)])
    def report_make(
        request: Request,
        user: CurrentUser,
        kind: Annotated[str, Form()],
        format: Annotated[str, Form()] = "docx",
        event_id: Annotated[str, Form()] = "",
        case_id: Annotated[str, Form()] = "",
        drill_id: Annotated[str, Form()] = "",
        date: Annotated[str, Form()] = "",
        week: Annotated[str, Form()] = "",
        date_from: Annotated[str, Form(alias="from")] = "",
        date_to: Annotated[str, Form(alias="to")] = "",
        unit: Annotated[str, Form()] = "",
    ) -> Response:
        form = {
            "kind": kind,
            "format": format,
            "event_id": event_id,
            "case_id": case_id,
            "drill_id": drill_id,
            "date": date,
            "week": week,
            "from": date_from,
            "to": date_to,
            "unit": unit,
        }
        params = {k: v for k, v in form.items() if k not in ("kind", "format") and v.strip()}
        if not user.holds(*WRITERS):
            audit(
                rt,
                user,
                "report.generate",
                f"report:{kind}",
                {"refused": "无权生成报告", "status": 403},
                request=request,
            )
            return page(
                request,
                user,
                kind=None,
                offset=0,
                status=403,
                form=form,
                error="您没有生成报告的权限：需要监测员、办公室、分管领导、主要领导或领导小组成员角色",
            )
        try:
            for key, what in (("event_id", "事件"), ("case_id", "工单"), ("drill_id", "演练")):
                if key in params and not params[key].strip().isdigit():
                    raise ValueError(f"{what}编号应为数字")
            made = make_report(rt, user, kind, params, format, "web")
        except (ValueError, LookupError) as exc:
            status = error_status(exc)
            audit(
                rt,
                user,
                "report.generate",
                f"report:{kind}",
                {**params, "refused": str(exc), "status": status},
                request=request,
            )
            return page(request, user, kind=None, offset=0, status=status, error=str(exc), form=form)
        except HTTPException as exc:
            audit(
                rt,
                user,
                "report.generate",
                f"report:{kind}",
                {**params, "refused": exc.detail, "status": exc.status_code},
                request=request,
            )
            return page(
                request, user, kind=None, offset=0, status=exc.status_code, error=str(exc.detail), form=form
            )
        audit(
            rt, user, "report.generate", f"report:{made['id']}", {**params, "format": format}, request=request
        )
        return RedirectResponse(f"/reports/{made['id']}?done=report", status_code=303)

    @router.get("/reports/{report_id}", response_class=HTMLResponse)
    def report_show(request: Request, user: CurrentUser, report_id: int) -> HTMLResponse:
        try:
            view, _ = service.get_report(rt, report_id, user.person_id)
        except (LookupError, PermissionDenied) as exc:
            return render(
                request, rt, user, "error.html", {"message": str(exc)}, status_code=error_status(exc)
            )
        preview = service.report_text(rt, report_id, user.person_id)
        return render(
            request, rt, user, "report.html", {"report": view, "preview": preview}, active="reports"
        )

    @router.get("/reports/{report_id}/file")
    def report_file(user: CurrentUser, report_id: int) -> Response:
        try:
            view, content = service.get_report(rt, report_id, user.person_id)
        except (LookupError, PermissionDenied) as exc:
            raise HTTPException(error_status(exc), str(exc)) from exc
        return file_response(view, content)

    return router
