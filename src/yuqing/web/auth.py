"""Who is asking, and may they: the login session of a browser (cookie `yuqing_session`), CSRF
protection, role checks, the audit log, the login and logout routes, and how "please log in" (401 /
redirect to the login page) and "not allowed" (403) are answered.

Pages and API routes depend on `current_user` (or `require_roles(...)`) and, for every POST, PUT,
PATCH and DELETE, on `verify_csrf`; they record what they changed with `audit`.

The login form, before there is a session, is bound to a pre-session: the login page sets a cookie
signed with a key of this process (a random nonce and the time it was issued), and the form's token
is derived from that cookie with the same key, so only a token served with the browser's own cookie
is accepted, and neither can be made up. Logins go through the process's `LoginGuard` (rate limits,
hashing pool, unknown names locking like real ones); the login route also waits for one of a few
login turns without holding a thread, so a flood of logins cannot take the threads every page needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import anyio
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yuqing.accounts import service as accounts
from yuqing.accounts.guard import LoginGuard
from yuqing.accounts.models import Account, AuthenticationFailed, HashingBusy, LoginThrottled
from yuqing.accounts.sessions import DEVICE_DAYS
from yuqing.db import transaction
from yuqing.org import service as org
from yuqing.org.roles import Role, parse_role
from yuqing.org.scope import Scope, scope_of
from yuqing.runtime import Runtime
from yuqing.web.templating import templates

log = logging.getLogger(__name__)

SESSION_COOKIE = "yuqing_session"
# A browser that has logged in before (`accounts.sessions.remember_device`).
DEVICE_COOKIE = "yuqing_device"
# Before there is a session, the login form is bound to a signed pre-session cookie of its own.
LOGIN_CSRF_COOKIE = "yuqing_login_csrf"
LOGIN_FORM_MAX_AGE_SECONDS = 2 * 3600  # a login page left open longer asks to be submitted again
LOGIN_EXPIRED = "登录页面已过期，请重新输入后登录"
# Threads the login route may hold at once beyond the hashing slots (for the quick refusals).
LOGIN_TURNS_EXTRA = 2
_TURN_POLL_SECONDS = 0.01
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/login"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_STATE_AUTH = "yuqing_auth"
_STATE_LOGIN_CSRF = "yuqing_login_csrf"
_APP_GUARD = "login_guard"
_APP_SIGNING_KEY = "login_signing_key"
_APP_TURNS = "login_turns"
_ROLE_ORDER = {role.value: index for index, role in enumerate(Role)}
_NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}

_FORBIDDEN_PAGE = templates.env.from_string(
    """{% extends "base.html" %}
{% block title %}无权访问{% endblock %}
{% block content %}
<section class="forbidden">
  <h1>无权访问</h1>
  <p>{{ message }}</p>
  {% if viewer %}
  <p>当前登录：{{ viewer.name }}（{{ viewer.login }}）。如需此权限，请联系管理员。</p>
  {% endif %}
  <p><a href="/">返回首页</a></p>
</section>
{% endblock %}"""
)


@dataclass(frozen=True)
class User:
    """The person behind a request, with the roles they hold (role code, unit id)."""

    account_id: int
    person_id: int
    login: str
    name: str
    unit_id: int
    roles: frozenset[tuple[str, int]]
    unit_name: str = ""
    # Names of the person's unit and of the units of their roles, for labels.
    unit_names: tuple[tuple[int, str], ...] = ()

    @property
    def is_admin(self) -> bool:
        return any(code == Role.ADMIN.value for code, _ in self.roles)

    def holds(self, *roles: str) -> bool:
        """Holds one of these role codes at some unit, or is an administrator."""
        return self.is_admin or any(code in roles for code, _ in self.roles)

    def role_labels(self) -> list[str]:
        """「办公室（市卫生健康委员会）」 for each role, in the order of the plan's roles."""
        names = dict(self.unit_names)
        ordered = sorted(self.roles, key=lambda held: (_ROLE_ORDER.get(held[0], 99), held[1]))
        labels = []
        for code, unit_id in ordered:
            label = Role(code).label if code in _ROLE_ORDER else code
            labels.append(f"{label}（{names.get(unit_id, str(unit_id))}）")
        return labels


class LoginRequired(Exception):
    """No live login session: HTML requests are sent to the login page, API requests get 401."""

    def __init__(self, message: str = "请先登录") -> None:
        super().__init__(message)


class Forbidden(Exception):
    """Logged in, but not allowed (a role is missing, or the CSRF token is): 403."""

    def __init__(self, message: str = "您没有执行此操作的权限") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class _Auth:
    user: User
    session_id: int
    csrf_token: str


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def user_of(session: Session, account: Account) -> User:
    """The User of an account: the person, their unit and their roles as they are now."""
    person = org.get_person(session, account.person_id)
    held = frozenset((a.role, a.unit_id) for a in org.roles_of(session, person.id))
    unit_ids = sorted({unit_id for _, unit_id in held} | {person.unit_id})
    names = tuple((unit_id, org.get_unit(session, unit_id).name) for unit_id in unit_ids)
    return User(
        account_id=account.id,
        person_id=person.id,
        login=account.login,
        name=person.name,
        unit_id=person.unit_id,
        roles=held,
        unit_name=dict(names)[person.unit_id],
        unit_names=names,
    )


def _load_auth(request: Request) -> _Auth | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    rt = _runtime(request)
    with transaction(rt.sessions) as session:
        found = accounts.resume_session(session, token, now=rt.clock(), hours=rt.settings.session_hours)
        if found is None:
            return None
        row, account = found
        return _Auth(user_of(session, account), row.id, row.csrf_token)


def _auth(request: Request) -> _Auth | None:
    """The request's session, looked up once per request (dependencies and templates share it)."""
    state = request.state
    if not hasattr(state, _STATE_AUTH):
        setattr(state, _STATE_AUTH, _load_auth(request))
    found: _Auth | None = getattr(state, _STATE_AUTH)
    return found


def current_user(request: Request) -> User:
    """FastAPI dependency: the logged-in user, or LoginRequired."""
    found = _auth(request)
    if found is None:
        raise LoginRequired()
    return found.user


def reader_scope(request: Request, user: Annotated[User, Depends(current_user)]) -> Scope:
    """FastAPI dependency: the units the logged-in user may see (`yuqing.org.scope`), for the
    domain routers that filter by it without importing the web layer."""
    with _runtime(request).sessions() as session:
        return scope_of(session, user.person_id)


def optional_user(request: Request) -> User | None:
    found = _auth(request)
    return None if found is None else found.user


def require_roles(*roles: str) -> Callable[..., User]:
    """Dependency factory: the logged-in user, who must hold one of these roles (code or label, at
    any unit) or be an administrator; else Forbidden. Whether the role covers the unit of the thing
    acted on is the domain services' check (`yuqing.org.service.has_role`)."""
    wanted = tuple(parse_role(role) for role in roles)
    codes = tuple(role.value for role in wanted)
    labels = "、".join(role.label for role in wanted)

    def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if not codes or user.holds(*codes):
            return user
        raise Forbidden(f"此操作需要以下角色之一：{labels}")

    return dependency


@dataclass(frozen=True)
class _PreSession:
    """The login form's pre-session: the signed cookie value and the form token derived from it."""

    cookie: str
    token: str


def _mac(request: Request, purpose: str, nonce: str, issued: int) -> str:
    key: bytes = getattr(request.app.state, _APP_SIGNING_KEY)
    digest = hmac.new(key, f"{purpose}|{nonce}|{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _pre_session(request: Request, nonce: str, issued: int) -> _PreSession:
    cookie = f"{nonce}.{issued}.{_mac(request, 'cookie', nonce, issued)}"
    return _PreSession(cookie, _mac(request, "form", nonce, issued))


def _pre_session_of(request: Request) -> _PreSession | None:
    """The pre-session of the browser's login cookie when its signature is ours and it is not too old."""
    value = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    nonce, _, rest = value.partition(".")
    issued_text, _, signature = rest.partition(".")
    if not nonce or not issued_text.isdigit() or not signature:
        return None
    issued = int(issued_text)
    if not _same(signature, _mac(request, "cookie", nonce, issued)):
        return None
    age = _runtime(request).clock().timestamp() - issued
    if not -60 <= age <= LOGIN_FORM_MAX_AGE_SECONDS:
        return None
    return _pre_session(request, nonce, issued)


def _login_pre_session(request: Request) -> _PreSession:
    """The browser's valid pre-session, or a new one that the login page sets."""
    found: _PreSession | None = getattr(request.state, _STATE_LOGIN_CSRF, None)
    if found is None:
        found = _pre_session_of(request)
    if found is None:
        issued = int(_runtime(request).clock().timestamp())
        found = _pre_session(request, secrets.token_urlsafe(18), issued)
    setattr(request.state, _STATE_LOGIN_CSRF, found)
    return found


def csrf_token(request: Request) -> str:
    """The token forms and scripts send back: the session's, or before login the login form's."""
    found = _auth(request)
    return found.csrf_token if found is not None else _login_pre_session(request).token


def _same(sent: str | None, expected: str | None) -> bool:
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


async def verify_csrf(request: Request) -> None:
    """Dependency for every state-changing request of a logged-in browser: the form field
    `csrf_token` or the header `X-CSRF-Token` must equal the session's token; else Forbidden.
    Without a session it is LoginRequired (there is nothing to act as)."""
    if request.method in _SAFE_METHODS:
        return
    found = await run_in_threadpool(_auth, request)
    if found is None:
        raise LoginRequired()
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not _same(sent, found.csrf_token):
        raise Forbidden("请求缺少有效的安全令牌（CSRF），请刷新页面后重试")


def _client_ip(request: Request | None) -> str | None:
    return request.client.host if request is not None and request.client is not None else None


def _user_agent(request: Request | None) -> str | None:
    return request.headers.get("user-agent") if request is not None else None


def audit(
    rt: Runtime,
    user: User | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    *,
    request: Request | None = None,
) -> None:
    """One line in the audit log (who, when, action, target, IP, user agent), committed at once.
    `detail` must be JSON (str, numbers, lists, dicts). It writes to the database: from an `async`
    route, call it through `run_in_threadpool`."""
    with transaction(rt.sessions) as session:
        accounts.record_audit(
            session,
            at=rt.clock(),
            action=action,
            target=target,
            account_id=None if user is None else user.account_id,
            person_name=None if user is None else user.name,
            detail=detail,
            ip=_client_ip(request),
            user_agent=_user_agent(request),
        )


def safe_next(value: str | None) -> str:
    """Where to go after login: a path on this site, never another site ("//evil", "https://…",
    "/\\evil" and paths with whitespace or control characters, which browsers rewrite, become "/")."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, "/logout"):
        return "/"
    return value


# ---- answers to LoginRequired and Forbidden -----------------------------------------------------


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _on_login_required(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"error": {"status": 401, "message": str(exc)}}, 401)
    target = LOGIN_PATH
    if request.method in ("GET", "HEAD") and request.url.path != "/":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?next=" + quote(here, safe="/")
    response = RedirectResponse(target, 303)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _on_forbidden(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"error": {"status": 403, "message": str(exc)}}, 403)
    user = await run_in_threadpool(optional_user, request)
    # `viewer`, not `user`: base.html would draw the navigation, whose context only the pages have.
    page = _FORBIDDEN_PAGE.render(request=request, message=str(exc), viewer=user)
    return HTMLResponse(page, 403, headers=_NO_STORE)


# ---- login and logout ---------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def login_guard(request: Request) -> LoginGuard:
    """The process's defences of the login (rate limits, hashing pool, unknown login names)."""
    guard: LoginGuard = getattr(request.app.state, _APP_GUARD)
    return guard


def _login_page(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    login: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    rt = _runtime(request)
    pre_session = _login_pre_session(request)
    demo: list[dict[str, Any]] = []
    if rt.settings.demo_logins:
        with rt.sessions() as session:
            for account, person in accounts.demo_accounts(session):
                labels = user_of(session, account).role_labels()
                demo.append({"login": account.login, "name": person.name, "roles": labels})
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf_token": pre_session.token,
            "next": safe_next(next_path),
            "error": error,
            "login": login,
            "demo_accounts": demo,
            "demo_password": accounts.DEMO_PASSWORD,
        },
        status_code=status,
        headers={**_NO_STORE, **(headers or {})},
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        pre_session.cookie,
        max_age=LOGIN_FORM_MAX_AGE_SECONDS,
        path=LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=rt.settings.secure_cookies,
    )
    return response


@router.get(LOGIN_PATH)
def login_form(request: Request, next: str = "/") -> Response:
    if optional_user(request) is not None:
        return RedirectResponse(safe_next(next), 303)
    return _login_page(request, next_path=next)


class _LoginTurns:
    """At most `size` logins in the threads of the shared pool at once; the others wait here, off
    any thread, for at most `wait` seconds. A threading semaphore polled from the event loop, as the
    test client runs each request in a loop of its own."""

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)

    async def acquire(self, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while not self._slots.acquire(blocking=False):
            if time.monotonic() >= deadline:
                return False
            await anyio.sleep(_TURN_POLL_SECONDS)
        return True

    def release(self) -> None:
        self._slots.release()


@router.post(LOGIN_PATH)
async def login_submit(
    request: Request,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    sent_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    pre_session = _pre_session_of(request)
    if pre_session is None or not _same(sent_token, pre_session.token):
        return await run_in_threadpool(
            _login_page, request, next_path=next_path, login=login, status=403, error=LOGIN_EXPIRED
        )
    rt = _runtime(request)
    turns: _LoginTurns = getattr(request.app.state, _APP_TURNS)
    if not await turns.acquire(rt.settings.login_hashing_wait_seconds):
        busy = HashingBusy("服务器正忙于处理其他登录，请稍后再试", retry_after=5, scope="turns")
        return await run_in_threadpool(_refused_login, request, busy, next_path=next_path, login=login)
    try:
        return await run_in_threadpool(_login, request, login, password, next_path)
    finally:
        turns.release()


def _refused_login(request: Request, exc: LoginThrottled, *, next_path: str, login: str) -> Response:
    """429 for too many attempts, 503 while every password-checking slot is busy; with Retry-After."""
    busy = isinstance(exc, HashingBusy)
    if busy:
        log.warning("login refused: the password-checking slots stayed busy (%s)", exc.scope)
    elif exc.first:  # one audit line per run of refusals, not one per request of a flood
        detail = {"reason": "throttled", "scope": exc.scope}
        audit(_runtime(request), None, "login_throttled", login.strip()[:100], detail, request=request)
    return _login_page(
        request,
        next_path=next_path,
        login=login,
        status=503 if busy else 429,
        error=str(exc),
        headers={"Retry-After": str(exc.retry_after)},
    )


def _login(request: Request, login: str, password: str, next_path: str) -> Response:
    rt = _runtime(request)
    try:
        account = accounts.authenticate(
            rt,
            login,
            password,
            guard=login_guard(request),
            address=_client_ip(request),
            device=request.cookies.get(DEVICE_COOKIE),
        )
    except LoginThrottled as exc:
        return _refused_login(request, exc, next_path=next_path, login=login)
    except AuthenticationFailed as exc:
        detail: dict[str, Any] = {"reason": exc.reason}
        if exc.account_id is not None:
            detail["account_id"] = exc.account_id
        audit(rt, None, "login_failed", login.strip()[:100], detail, request=request)
        return _login_page(request, next_path=next_path, login=login, status=401, error=str(exc))
    previous = request.cookies.get(SESSION_COOKIE)
    with transaction(rt.sessions) as session:
        if previous:
            accounts.end_session(session, previous)  # a fresh token at every login: no session fixation
        token, _row = accounts.start_session(
            session,
            account,
            now=rt.clock(),
            hours=rt.settings.session_hours,
            ip=_client_ip(request),
            user_agent=_user_agent(request),
        )
        user = user_of(session, account)
        device = accounts.remember_device(
            session, account.id, request.cookies.get(DEVICE_COOKIE), now=rt.clock()
        )
    audit(rt, user, "login", account.login, request=request)
    response = RedirectResponse(safe_next(next_path), 303)
    response.set_cookie(
        SESSION_COOKIE, token, path="/", httponly=True, samesite="lax", secure=rt.settings.secure_cookies
    )
    # sent to the login page only: this browser may log in to the account while strangers' guesses
    # have locked it (`accounts.service.authenticate`)
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        path=LOGIN_PATH,
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=rt.settings.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request, user: Annotated[User, Depends(current_user)]) -> Response:
    rt = _runtime(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with transaction(rt.sessions) as session:
            accounts.end_session(session, token)
    audit(rt, user, "logout", user.login, request=request)
    response = RedirectResponse(LOGIN_PATH, 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def install(app: FastAPI) -> None:
    """Add the login and logout routes and the answers to LoginRequired and Forbidden to the app, with
    the defences of its login: the guard, the key that signs login pre-sessions (new at each start,
    so a login page served before a restart asks to be submitted again) and the login turns."""
    rt: Runtime = app.state.runtime
    setattr(app.state, _APP_GUARD, LoginGuard(rt))
    setattr(app.state, _APP_SIGNING_KEY, secrets.token_bytes(32))
    setattr(app.state, _APP_TURNS, _LoginTurns(rt.settings.login_hashing_slots + LOGIN_TURNS_EXTRA))
    app.include_router(router)
    app.add_exception_handler(LoginRequired, _on_login_required)
    app.add_exception_handler(Forbidden, _on_forbidden)
