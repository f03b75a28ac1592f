"""The HTTP API of the response side under /api/v1: alerts, cases, organisation and duty,
statistics, the signed-in person's notifications, reports, drills. Every route needs a signed-in
user, every POST a CSRF token (header `X-CSRF-Token`) and leaves an audit record; errors are
`{"error": {"status": N, "message": "…"}}` with the service's Chinese message."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from yuqing.runtime import Runtime
from yuqing.web.api.responses import SIGNED_IN
from yuqing.web.auth import current_user

__all__ = ["build_router"]


def build_router(rt: Runtime) -> APIRouter:
    from yuqing.web.api import alerts, cases, drills, notifications, org, reports, stats

    router = APIRouter(prefix="/api/v1", dependencies=[Depends(current_user)], responses=SIGNED_IN)
    for module in (alerts, cases, org, stats, notifications, reports, drills):
        router.include_router(module.build_router(rt))
    return router
