"""我的账户: changing one's own password (the current one, then the new one twice). The accounts
service checks the current password (a wrong one counts towards the lockout; the check waits for a
slot of the login guard's hashing pool), applies the password policy, ends the person's other
sessions and writes the audit line."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yuqing.accounts import passwords
from yuqing.accounts import service as accounts
from yuqing.accounts.models import AccountError, HashingBusy
from yuqing.runtime import Runtime
from yuqing.web.auth import SESSION_COOKIE, User, audit, current_user, login_guard, verify_csrf
from yuqing.web.pages.common import render

CurrentUser = Annotated[User, Depends(current_user)]
Secret = Annotated[str, Form()]


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(request: Request, user: User, *, error: str | None = None, code: int = 200) -> HTMLResponse:
        context = {
            "error": error,
            "min_length": passwords.PASSWORD_MIN_LENGTH,
            "max_length": passwords.PASSWORD_MAX_LENGTH,
        }
        return render(request, rt, user, "password.html", context, status_code=code)

    @router.get("/me/password", response_class=HTMLResponse)
    def password_form(request: Request, user: CurrentUser) -> HTMLResponse:
        return page(request, user)

    @router.post("/me/password", dependencies=[Depends(verify_csrf)])
    def password_change(
        request: Request,
        user: CurrentUser,
        current_password: Secret = "",
        new_password: Secret = "",
        new_password_again: Secret = "",
    ) -> Response:
        if new_password != new_password_again:
            message = "两次输入的新密码不一致"
            detail = {"via": "web", "reason": "mismatch", "refused": message}
            audit(rt, user, "password_change_failed", user.login, detail, request=request)
            return page(request, user, error=message, code=400)
        try:
            accounts.change_password(
                rt,
                user.account_id,
                current_password,
                new_password,
                keep_token=request.cookies.get(SESSION_COOKIE),
                ip=request.client.host if request.client else None,
                user_agent=request.headers.get("user-agent"),
                guard=login_guard(request),
            )
        except HashingBusy as exc:
            return page(request, user, error=str(exc), code=503)
        except AccountError as exc:
            return page(request, user, error=str(exc), code=400)
        return RedirectResponse("/me/password?done=password", status_code=303)

    return router
