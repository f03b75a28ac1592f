"""The console: server-rendered pages (Jinja2 + HTMX) over the domain services, one module per
part of the navigation bar."""

from __future__ import annotations

from fastapi import APIRouter

from yuqing.runtime import Runtime

__all__ = ["build_router"]


def build_router(rt: Runtime) -> APIRouter:
    """Every console page; each requires a signed-in user and each POST a CSRF token."""
    from yuqing.web.pages import (
        account,
        alerts,
        cases,
        dashboard,
        drills,
        duty,
        events,
        notifications,
        org,
        posts,
        reports,
        settings,
        todo,
        topics,
    )

    router = APIRouter(include_in_schema=False)
    for module in (
        dashboard,
        events,
        alerts,
        cases,
        org,
        duty,
        topics,
        posts,
        settings,
        notifications,
        todo,
        account,
        reports,
        drills,
    ):
        router.include_router(module.build_router(rt))
    return router
