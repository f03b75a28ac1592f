"""The FastAPI application: the domains' routers and the console pages, composed; how refusals,
unknown paths and a failing disk are answered; the API's description (behind the login)."""

from __future__ import annotations

import html
import http
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from yuqing import __version__
from yuqing.ingest.store import PostWriter
from yuqing.ingest.views import build_router
from yuqing.runtime import Runtime
from yuqing.storage import BUSY_RETRY_AFTER, StorageAlarm, StorageProblem, storage_problem
from yuqing.web.api.responses import SIGNED_IN, describe_errors
from yuqing.web.csp import SecurityHeaders
from yuqing.web.limits import BodyLimit

# What the routes of the ingest domain answer besides success (its module declares none yet):
# the login (read routes) or the source's token (webhook), an unknown source or post, a push over
# the size limit, and the storage conditions every request can meet.
INGEST_READ_ERRORS = SIGNED_IN
INGEST_EXTRA_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("get", "/api/v1/posts"): (404,),
    ("post", "/api/v1/webhooks/{source_id}"): (401, 413, 503, 507),
}


# FastAPI's own refusals, in the users' language.
FRAMEWORK_MESSAGES = {
    "There was an error parsing the body": "请求内容无法解析：应为 UTF-8 编码的 JSON",
}
# Starlette's bound on one form field (1 MB), met before `request_max_bytes` by a form of one field.
_FORM_FIELD_LIMIT = re.compile(r"Field exceeded maximum size of (\d+)KB\.")


def create_app(rt: Runtime, writer: PostWriter | None = None) -> FastAPI:
    writer = writer or PostWriter(rt.sessions, rt.settings, rt.clock)
    # The description and its pages are served by `yuqing.web.docs`, to signed-in people only.
    app = FastAPI(
        title="yuqing 网络舆情监测与应急处置平台",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = rt
    app.state.writer = writer
    alarm = StorageAlarm()  # a full disk is logged once, not once per request
    from fastapi import Depends

    from yuqing.analysis.views import build_router as analysis_router
    from yuqing.org.scope import reader_scope as scope_reader
    from yuqing.web import auth

    logged_in = [Depends(auth.current_user)]
    read_routes, webhook_routes = build_router(rt, writer, guard=logged_in)
    app.include_router(read_routes, responses=INGEST_READ_ERRORS)
    app.include_router(webhook_routes)
    app.include_router(analysis_router(rt, guard=logged_in), responses=SIGNED_IN)
    # the domain routers' reader is the signed-in person (what they may see, `yuqing.org.scope`)
    app.dependency_overrides[scope_reader] = auth.reader_scope

    auth.install(app)  # /login, /logout; LoginRequired → login page or 401, Forbidden → 403
    from yuqing.web import api, docs, pages
    from yuqing.web.templating import STATIC_DIR

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.build_router(rt))  # alerts, cases, org, stats, my notifications
    app.include_router(pages.build_router(rt))  # the console; "/" is the dashboard
    from yuqing.web import live

    app.include_router(live.build_router(rt))  # /live: server-sent alerts and deadline changes
    app.include_router(docs.router)  # /openapi.json and /docs, for signed-in people
    app.add_middleware(SecurityHeaders)  # the Content-Security-Policy of every page
    app.add_middleware(BodyLimit, limit=rt.settings.request_max_bytes)  # forms and JSON read whole

    def described() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_errors(FastAPI.openapi(app), also=INGEST_EXTRA_ERRORS)
        return app.openapi_schema

    app.openapi = described  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Headers go along; a 405 says every method the path takes (Allow), not only those of the
        # first route that matched it.
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(app, request)
        message = _chinese(request, exc, headers.get("Allow", ""))
        if _wants_page(request):
            # a person typed or followed a console address: a page, not a JSON body
            if exc.status_code == 405 and request.method == "GET":
                message = (
                    "这个地址用于提交表单，不能直接打开（可能是刷新或收藏了提交后的地址）。"
                    "请回到上一页重新操作。"
                )
            title = {404: "找不到页面", 405: "无法打开"}.get(exc.status_code, "无法完成")
            return HTMLResponse(_plain_page(title, str(message)), exc.status_code, headers=headers)
        return JSONResponse(
            {"error": {"status": exc.status_code, "message": message}}, exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # The same error shape as every other refusal, naming the parameters that were wrong.
        problems = "；".join(
            f"{'.'.join(str(part) for part in error['loc'][1:]) or error['loc'][0]}：{validation_text(error)}"
            for error in exc.errors()
        )
        message = f"请求参数有误：{problems}"
        if _wants_page(request):
            # an address typed or edited by hand (/events/abc, ?offset=-1): a page, not JSON
            shown = "地址或表单中的参数有误（如编号应为数字），请回到上一页重新操作。"
            return HTMLResponse(_plain_page("无法打开", shown), 422)
        body = {"status": 422, "message": message, "detail": jsonable_encoder(exc.errors())}
        return JSONResponse({"error": body}, 422)

    async def storage_failed(request: Request, exc: Exception) -> Response:
        """A full disk, a read-only database, a number no row can have: a clear answer, logged
        once per condition instead of a traceback per request. Anything else stays a 500."""
        problem = storage_problem(exc)
        if problem is None:
            raise exc
        if problem is not StorageProblem.OUT_OF_RANGE:
            await run_in_threadpool(alarm.report, problem, exc, f"{request.method} {request.url.path}")
        status = problem.http_status
        # a webhook sender, or a browser, may come back: the store only waits for another writer
        headers = {"Retry-After": str(BUSY_RETRY_AFTER)} if problem is StorageProblem.BUSY else None
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"error": {"status": status, "message": problem.message}}, status, headers=headers
            )
        title = "找不到" if status == 404 else "暂时无法完成"
        return HTMLResponse(_plain_page(title, problem.message), status, headers=headers)

    for kind in (DBAPIError, OSError, OverflowError):
        app.add_exception_handler(kind, storage_failed)

    from yuqing import observability

    observability.install(app, rt)  # /readyz, and /metrics with request timing when enabled

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    return app


def _allowed_methods(app: FastAPI, request: Request) -> str:
    """The methods some route of the app takes at this request's path."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


# pydantic's error types as the office reads them; others keep pydantic's (English) message
_VALIDATION_TEXT = {
    "missing": "缺少此项",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为文本",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "datetime_parsing": "应为时间（如 2026-12-01T08:00:00+08:00）",
    "datetime_from_date_parsing": "应为时间（如 2026-12-01T08:00:00+08:00）",
    "date_parsing": "应为日期（如 2026-12-01）",
    "date_from_datetime_parsing": "应为日期（如 2026-12-01）",
    "json_invalid": "不是有效的 JSON",
    "extra_forbidden": "不认识此项",
}
_VALIDATION_BOUNDS = {
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "string_pattern_mismatch": "格式不符（{pattern}）",
}


def validation_text(error: Any) -> str:
    """One validation error in Chinese where its kind is known."""
    kind = str(error.get("type", ""))
    if kind in _VALIDATION_TEXT:
        return _VALIDATION_TEXT[kind]
    template = _VALIDATION_BOUNDS.get(kind)
    context = error.get("ctx") or {}
    if template is not None:
        try:
            return template.format(**{k: str(v) for k, v in context.items()})
        except (KeyError, IndexError):
            pass
    return str(error.get("msg", "参数有误"))


def _chinese(request: Request, exc: StarletteHTTPException, allowed: str) -> Any:
    """The router's own refusals (no such path, a method the path does not take) in Chinese; a
    route's message is already in Chinese and passes unchanged."""
    if isinstance(exc.detail, str) and exc.detail in FRAMEWORK_MESSAGES:
        return FRAMEWORK_MESSAGES[exc.detail]
    if isinstance(exc.detail, str) and (oversize := _FORM_FIELD_LIMIT.fullmatch(exc.detail)):
        return f"表单中的一项内容过大：超过 {oversize[1]} KB 的上限"
    try:
        phrase = http.HTTPStatus(exc.status_code).phrase
    except ValueError:
        return exc.detail
    if exc.detail != phrase:
        return exc.detail
    if exc.status_code == 404:
        return f"找不到 {request.url.path}"
    if exc.status_code == 405:
        hint = f"（可用：{allowed}）" if allowed else ""
        return f"{request.url.path} 不接受 {request.method} 请求{hint}"
    return exc.detail


def _wants_page(request: Request) -> bool:
    """A browser asking for a console page (not the API, not an HTMX fragment)."""
    return (
        not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
        and "hx-request" not in request.headers
    )


def _plain_page(title: str, message: str) -> str:
    """A page for the console when even rendering a page may fail: no template, no database."""
    return (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>'
        f'<link rel="stylesheet" href="/static/console.css"></head><body><main><h1>{title}</h1>'
        f'<p>{html.escape(message)}</p><p><a href="/">返回首页</a></p></main></body></html>'
    )
