"""The FastAPI application: the domains' routers and the console pages, composed."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from yuqing import __version__
from yuqing.ingest.store import PostWriter
from yuqing.ingest.views import build_router
from yuqing.runtime import Runtime


def create_app(rt: Runtime, writer: PostWriter | None = None) -> FastAPI:
    writer = writer or PostWriter(rt.sessions, rt.settings, rt.clock)
    app = FastAPI(title="yuqing 网络舆情监测与应急处置平台", version=__version__)
    app.state.runtime = rt
    app.state.writer = writer
    from fastapi import Depends

    from yuqing.analysis.views import build_router as analysis_router
    from yuqing.web import auth

    logged_in = [Depends(auth.current_user)]
    for router in build_router(rt, writer, guard=logged_in):
        app.include_router(router)
    app.include_router(analysis_router(rt, guard=logged_in))

    auth.install(app)  # /login, /logout; LoginRequired → login page or 401, Forbidden → 403
    from yuqing.web import api, pages
    from yuqing.web.templating import STATIC_DIR

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.build_router(rt))  # alerts, cases, org, stats, my notifications
    app.include_router(pages.build_router(rt))  # the console; "/" is the dashboard
    from yuqing.web import live

    app.include_router(live.build_router(rt))  # /live: server-sent alerts and deadline changes

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": {"status": exc.status_code, "message": exc.detail}}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # The same error shape as every other refusal, naming the parameters that were wrong.
        problems = "；".join(
            f"{'.'.join(str(part) for part in error['loc'][1:]) or error['loc'][0]}：{error['msg']}"
            for error in exc.errors()
        )
        message = f"请求参数有误：{problems}"
        body = {"status": 422, "message": message, "detail": jsonable_encoder(exc.errors())}
        return JSONResponse({"error": body}, 422)

    from yuqing import observability

    observability.install(app, rt)  # /readyz, and /metrics with request timing when enabled

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    return app
