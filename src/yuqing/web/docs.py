"""The HTTP API's description for people who are signed in: `/openapi.json` and `/docs` (Swagger UI
served from `/static/vendor`, so it works without internet access and under the console's
Content-Security-Policy). A stranger is sent to the login page like on every console page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from yuqing.web.auth import User, csrf_token, current_user
from yuqing.web.templating import templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(current_user)]


@router.get("/openapi.json")
def openapi_json(request: Request, _user: SignedIn) -> JSONResponse:
    return JSONResponse(request.app.openapi(), headers={"Cache-Control": "no-store"})


@router.get("/docs")
def api_docs(request: Request, _user: SignedIn) -> Response:
    return templates.TemplateResponse(
        request,
        "api_docs.html",
        {"csrf_token": csrf_token(request), "openapi_url": "/openapi.json"},
        headers={"Cache-Control": "no-store"},
    )
