"""The FastAPI application: the domains' routers and the console pages, composed."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
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
    app.include_router(build_router(rt, writer))
    from yuqing.analysis.views import build_router as analysis_router

    app.include_router(analysis_router(rt))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": {"status": exc.status_code, "message": exc.detail}}, exc.status_code)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
