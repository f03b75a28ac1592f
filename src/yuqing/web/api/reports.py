"""API of reports: the archive (list, one entry, its file) and generating a report."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from yuqing.reports import service
from yuqing.reports.fonts import FontMissing
from yuqing.reports.render import MEDIA_TYPES
from yuqing.runtime import Runtime
from yuqing.web.api.errors import audited, service_errors
from yuqing.web.api.params import Body, BodyId, Offset, ReportId
from yuqing.web.api.responses import REFUSED, errors
from yuqing.web.auth import User, current_user, require_roles, verify_csrf

CurrentUser = Annotated[User, Depends(current_user)]
# Who may write reports: the people who watch, handle and lead (at the report's unit: the service
# checks); everyone signed in may read those of the units they see.
WRITERS = service.WRITERS
Writer = Annotated[User, Depends(require_roles(*WRITERS))]
Kind = Literal["special", "daily", "weekly", "response_table", "summary", "drill"]
# The file as archived: Word, PDF, HTML or Excel.
REPORT_FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "报告文件", "content": {media_type: {} for media_type in MEDIA_TYPES.values()}}
}


class ReportRequest(Body):
    kind: Kind = Field(
        description="special 舆情专报 | daily 日报 | weekly 周报 | response_table 响应情况表 | "
        "summary 总结评估 | drill 演练总结"
    )
    format: Literal["docx", "pdf", "html", "xlsx"] = "docx"
    event_id: BodyId | None = Field(default=None, description="special：事件编号")
    case_id: BodyId | None = Field(default=None, description="summary：工单编号")
    drill_id: BodyId | None = Field(default=None, description="drill：演练编号")
    date: str | None = Field(default=None, description="daily：日期 YYYY-MM-DD（默认今天）")
    week: str | None = Field(default=None, description="weekly：2026-W47 或该周内某日（默认上周）")
    date_from: str | None = Field(default=None, alias="from", description="response_table：起始日期")
    date_to: str | None = Field(default=None, alias="to", description="response_table：截止日期")
    unit: str | None = Field(default=None, description="daily/weekly/response_table：单位（默认最上级单位）")

    model_config = ConfigDict(populate_by_name=True)

    def params(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "case_id": self.case_id,
            "drill_id": self.drill_id,
            "date": self.date,
            "week": self.week,
            "from": self.date_from,
            "to": self.date_to,
            "unit": self.unit,
        }


def make_report(
    rt: Runtime, user: User, kind: str, params: dict[str, Any], fmt: str, via: str
) -> dict[str, Any]:
    """Generate and archive; a missing required id is a 400 with a Chinese reason."""
    if kind == "special" and not params.get("event_id"):
        raise ValueError("舆情专报需要事件编号（event_id）")
    if kind == "summary" and not params.get("case_id"):
        raise ValueError("总结评估需要工单编号（case_id）")
    if kind == "drill" and not params.get("drill_id"):
        raise ValueError("演练总结需要演练编号（drill_id）")
    try:
        return service.generate(rt, kind, params, fmt, person_id=user.person_id, via=via).report
    except FontMissing as exc:
        raise HTTPException(503, str(exc)) from exc


def file_response(view: dict[str, Any], content: bytes, *, inline: bool = False) -> Response:
    disposition = "inline" if inline else "attachment"
    ascii_name = f"report-{view['id']}.{view['format']}"
    return Response(
        content,
        media_type=view["media_type"],
        headers={
            "Content-Disposition": (
                f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(view['filename'])}"
            ),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            # An archived HTML report is shown as a document: no scripts, no outside requests.
            "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
        },
    )


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["reports"])

    @router.get("/reports", summary="已归档的报告（最新在前）")
    def report_list(
        user: CurrentUser,
        kind: Kind | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        rows, total = service.list_reports(
            rt, kind=kind, limit=limit, offset=offset, person_id=user.person_id
        )
        return {"items": rows, "total": total, "limit": limit, "offset": offset}

    @router.get("/reports/{report_id}", summary="一份已归档报告的信息", responses=REFUSED)
    def report_show(report_id: ReportId, user: CurrentUser) -> dict[str, Any]:
        with service_errors():
            view, _ = service.get_report(rt, report_id, user.person_id)
        return view

    @router.get(
        "/reports/{report_id}/file",
        summary="下载报告文件（与生成时完全一致）",
        response_class=Response,
        responses={**REPORT_FILE, **REFUSED},
    )
    def report_file(report_id: ReportId, user: CurrentUser) -> Response:
        with service_errors():
            view, content = service.get_report(rt, report_id, user.person_id)
        return file_response(view, content)

    @router.post(
        "/reports",
        summary="生成报告并归档",
        dependencies=[Depends(verify_csrf)],
        responses=REFUSED | errors(503),  # 503 also: a font the PDF needs is missing
    )
    def report_make(request: Request, body: ReportRequest, user: Writer) -> dict[str, Any]:
        params = body.params()
        return audited(
            rt,
            user,
            request,
            "report.generate",
            f"report:{body.kind}",
            lambda: make_report(rt, user, body.kind, params, body.format, "api"),
            {k: v for k, v in params.items() if v is not None} | {"format": body.format},
        )

    return router
