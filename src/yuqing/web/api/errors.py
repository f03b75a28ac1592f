"""How the domains' errors reach a user of the console or the API: one status per kind of error,
the service's Chinese message unchanged; and the audit record every API action leaves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import HTTPException, Request

from yuqing.alerts.service import AlertError
from yuqing.cases.deadlines import DeadlineError
from yuqing.cases.service import PermissionDenied
from yuqing.cases.workflow import WorkflowError
from yuqing.drills.errors import DrillStateError
from yuqing.runtime import Runtime

__all__ = ["audited", "error_status", "service_errors"]

T = TypeVar("T")


def error_status(exc: Exception) -> int:
    """403 for a missing role, 404 for something that does not exist, 409 for a step the plan
    does not allow now, 400 for bad input."""
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, LookupError):
        return 404
    if isinstance(exc, WorkflowError | AlertError | DeadlineError | DrillStateError):
        return 409
    return 400


@contextmanager
def service_errors() -> Iterator[None]:
    """Turn a domain error into an HTTP error carrying its message (the API's JSON error shape)."""
    try:
        yield
    except (ValueError, LookupError) as exc:
        raise HTTPException(error_status(exc), str(exc)) from exc


def audited(
    rt: Runtime,
    user: Any,
    request: Request,
    action: str,
    target: str,
    call: Callable[[], T],
    detail: dict[str, Any] | None = None,
) -> T:
    """Run one action of the user and record it in the audit log, refused or done."""
    from yuqing.web.auth import audit

    try:
        result = call()
    except (ValueError, LookupError) as exc:
        status = error_status(exc)
        audit(
            rt,
            user,
            action,
            target,
            {**(detail or {}), "refused": str(exc), "status": status},
            request=request,
        )
        raise HTTPException(status, str(exc)) from exc
    audit(rt, user, action, target, detail, request=request)
    return result
