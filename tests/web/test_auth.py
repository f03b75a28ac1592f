"""Logins, sessions, CSRF, role checks and the audit log of the console and the HTTP API, through the
real app over real databases; time moves with the FakeClock."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import FakeClock
from yuqing.accounts import service as accounts
from yuqing.accounts.models import Account, AuditEntry, LoginSession, PasswordPolicyError
from yuqing.cli.main import app as cli_app
from yuqing.db import transaction
from yuqing.org import service as org
from yuqing.org.models import Person, RoleAssignment
from yuqing.runtime import Runtime
from yuqing.web.app import create_app
from yuqing.web.auth import (
    SESSION_COOKIE,
    User,
    audit,
    csrf_token,
    current_user,
    require_roles,
    safe_next,
    user_of,
    verify_csrf,
)

PASSWORDS = {"admin": "city-keeper-pass-1", "wangfang": "office-pass-1", "lilei": "monitor-pass-1"}
OFFICE_ONLY = require_roles("office", "分管领导")


@pytest.fixture(autouse=True)
def _quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with parameters cheap enough for a test suite (production: 64 MiB, t=3, p=4)."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class Seeded:
    rt: Runtime
    client: TestClient
    clock: FakeClock
    ids: dict[str, int]
    others: list[TestClient]

    def new_client(self) -> TestClient:
        """Another browser, with cookies of its own."""
        client = TestClient(self.client.app, follow_redirects=False)
        self.others.append(client)
        return client


def _test_app(rt: Runtime) -> FastAPI:
    app = create_app(rt)

    @app.get("/_test/page")
    def page(request: Request, user: Annotated[User, Depends(current_user)]) -> PlainTextResponse:
        return PlainTextResponse(f"{user.name}|{csrf_token(request)}")

    @app.post("/_test/form", dependencies=[Depends(verify_csrf)])
    def form(
        request: Request, user: Annotated[User, Depends(current_user)], note: Annotated[str, Form()]
    ) -> PlainTextResponse:
        audit(request.app.state.runtime, user, "note_added", "note:1", {"note": note}, request=request)
        return PlainTextResponse(f"ok {note}")

    @app.get("/_test/office")
    def office_page(user: Annotated[User, Depends(OFFICE_ONLY)]) -> PlainTextResponse:
        return PlainTextResponse(user.login)

    @app.get("/api/v1/_test/office")
    def office_api(user: Annotated[User, Depends(OFFICE_ONLY)]) -> dict[str, str]:
        return {"login": user.login}

    @app.post("/api/v1/_test/echo", dependencies=[Depends(verify_csrf)])
    def echo(user: Annotated[User, Depends(current_user)]) -> dict[str, str]:
        return {"login": user.login}

    return app


@pytest.fixture
def seeded(rt: Runtime, clock: FakeClock) -> Iterator[Seeded]:
    with transaction(rt.sessions) as session:
        city = org.create_unit(session, "南京市人民政府")
        health = org.create_unit(session, "市卫生健康委员会", parent_id=city.id, kind="bureau")
        admin = org.add_person(session, "管理员", city.id)
        org.grant_role(session, admin.id, "admin", city.id)
        wang = org.add_person(session, "王芳", health.id)
        org.grant_role(session, wang.id, "office", health.id)
        li = org.add_person(session, "李雷", health.id)
        org.grant_role(session, li.id, "monitor", health.id)
        ids = {"city": city.id, "health": health.id}
        for person, login in [(admin, "admin"), (wang, "wangfang"), (li, "lilei")]:
            ids[login] = accounts.create_account(session, person.id, login, PASSWORDS[login], now=clock()).id
    client = TestClient(_test_app(rt), follow_redirects=False)
    result = Seeded(rt, client, clock, ids, [])
    try:
        yield result
    finally:
        for each in [client, *result.others]:
            each.close()


def _login(client: TestClient, login: str, password: str | None = None, next_path: str = "/") -> Response:
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    form = {"login": login, "password": password or PASSWORDS.get(login, "x"), "next": next_path}
    response: Response = client.post("/login", data={**form, "csrf_token": match.group(1)})
    return response


def _session_csrf(client: TestClient) -> str:
    page: Response = client.get("/_test/page")
    assert page.status_code == 200, page.text
    return str(page.text.split("|")[1])


def _audit(rt: Runtime, action: str) -> list[AuditEntry]:
    return accounts.list_audit(rt, 100, action=action)


# ---- login and logout ---------------------------------------------------------------------------


def test_login_sets_a_protected_session_cookie_redirects_to_next_and_is_audited(seeded: Seeded) -> None:
    response = _login(seeded.client, "wangfang", next_path="/cases/3?tab=timeline")
    assert response.status_code == 303
    assert response.headers["location"] == "/cases/3?tab=timeline"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    assert seeded.client.get("/_test/page").text.startswith("王芳|")
    [entry] = _audit(seeded.rt, "login")
    assert (entry.person_name, entry.target, entry.ip) == ("王芳", "wangfang", "testclient")
    assert entry.at == seeded.clock()
    with seeded.rt.sessions() as session:
        row = session.scalars(select(LoginSession)).one()
        token = seeded.client.cookies[SESSION_COOKIE]
        assert row.token_sha256 == accounts.token_digest(token) and token not in row.token_sha256
        assert session.get(Account, seeded.ids["wangfang"]).last_login_at == seeded.clock()  # type: ignore[union-attr]


def test_secure_cookies_setting_marks_the_cookie_secure(seeded: Seeded) -> None:
    seeded.rt.settings = seeded.rt.settings.model_copy(update={"secure_cookies": True})
    assert _login(seeded.client, "wangfang").status_code == 403  # over http the cookies do not come back
    browser = seeded.new_client()
    browser.base_url = browser.base_url.copy_with(scheme="https")
    response = _login(browser, "wangfang")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "Secure" in cookie


def test_wrong_password_and_unknown_login_get_the_same_answer_and_are_audited(seeded: Seeded) -> None:
    wrong = _login(seeded.client, "wangfang", "not-her-password")
    unknown = _login(seeded.client, "nobody", "whatever-123")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "用户名或密码错误" in response.text
        assert SESSION_COOKIE not in response.cookies
    assert 'value="wangfang"' in wrong.text  # the login name is kept, the password is not
    assert "not-her-password" not in wrong.text
    failures = _audit(seeded.rt, "login_failed")
    assert [(e.target, e.detail["reason"], e.account_id) for e in failures] == [
        ("nobody", "unknown_login", None),
        ("wangfang", "wrong_password", None),
    ]
    assert seeded.client.get("/_test/page").status_code == 303


def test_five_failures_lock_the_account_for_fifteen_minutes(seeded: Seeded) -> None:
    for attempt in range(4):
        assert "用户名或密码错误" in _login(seeded.client, "lilei", f"wrong-{attempt}-xx").text
    locked = _login(seeded.client, "lilei", "wrong-5-xxxx")
    assert locked.status_code == 401 and "已锁定" in locked.text and "15 分钟" in locked.text
    refused = _login(seeded.client, "lilei")  # even the right password, while locked
    assert refused.status_code == 401 and "已锁定" in refused.text
    seeded.clock.advance(minutes=14)
    assert _login(seeded.client, "lilei").status_code == 401
    seeded.clock.advance(minutes=2)
    assert _login(seeded.client, "lilei").status_code == 303
    reasons = [e.detail["reason"] for e in _audit(seeded.rt, "login_failed")]
    assert reasons.count("locked") == 3 and reasons.count("wrong_password") == 4


def test_login_form_without_its_csrf_cookie_is_refused(seeded: Seeded) -> None:
    form = {"login": "wangfang", "password": PASSWORDS["wangfang"], "csrf_token": "forged"}
    response = seeded.client.post("/login", data=form)
    assert response.status_code == 403
    assert "登录页面已过期" in response.text
    assert SESSION_COOKIE not in seeded.client.cookies


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/login",
    ],
)
def test_next_never_leaves_the_site(target: str) -> None:
    assert safe_next(target) == "/"


def test_open_redirect_is_refused_at_login(seeded: Seeded) -> None:
    response = _login(seeded.client, "wangfang", next_path="//evil.example/phish")
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_session_slides_while_used_and_expires_after_twelve_idle_hours(seeded: Seeded) -> None:
    _login(seeded.client, "wangfang")
    for _ in range(3):  # 33 hours in all, never 12 idle
        seeded.clock.advance(hours=11)
        assert seeded.client.get("/_test/page").status_code == 200
    seeded.clock.advance(hours=12, minutes=1)
    expired = seeded.client.get("/_test/page?x=1")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?next=/_test/page%3Fx%3D1"
    with seeded.rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 0


def test_logout_needs_the_csrf_token_then_ends_the_session(seeded: Seeded) -> None:
    _login(seeded.client, "wangfang")
    token = _session_csrf(seeded.client)
    assert seeded.client.post("/logout").status_code == 403
    assert seeded.client.get("/_test/page").status_code == 200  # still logged in
    response = seeded.client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert seeded.client.get("/_test/page").status_code == 303
    with seeded.rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 0
    [entry] = _audit(seeded.rt, "logout")
    assert entry.person_name == "王芳"


def test_a_stolen_cookie_stops_working_after_logout(seeded: Seeded) -> None:
    _login(seeded.client, "wangfang")
    stolen = seeded.client.cookies[SESSION_COOKIE]
    seeded.client.post("/logout", data={"csrf_token": _session_csrf(seeded.client)})
    other = seeded.new_client()
    other.cookies.set(SESSION_COOKIE, stolen)
    assert other.get("/_test/page").status_code == 303


def test_logged_in_user_visiting_login_page_goes_on(seeded: Seeded) -> None:
    _login(seeded.client, "wangfang")
    response = seeded.client.get("/login?next=/events")
    assert response.status_code == 303 and response.headers["location"] == "/events"


# ---- CSRF, roles, 401 vs redirect ---------------------------------------------------------------


def test_csrf_token_required_for_form_posts_and_api_calls(seeded: Seeded) -> None:
    _login(seeded.client, "wangfang")
    token = _session_csrf(seeded.client)
    assert seeded.client.post("/_test/form", data={"note": "hi"}).status_code == 403
    forged = seeded.client.post("/_test/form", data={"note": "hi", "csrf_token": "x" * len(token)})
    assert forged.status_code == 403 and "CSRF" in forged.text
    accepted = seeded.client.post("/_test/form", data={"note": "hi", "csrf_token": token})
    assert accepted.status_code == 200 and accepted.text == "ok hi"

    refused = seeded.client.post("/api/v1/_test/echo", json={})
    assert refused.status_code == 403 and refused.json()["error"]["status"] == 403
    by_header = seeded.client.post("/api/v1/_test/echo", json={}, headers={"X-CSRF-Token": token})
    assert by_header.status_code == 200 and by_header.json() == {"login": "wangfang"}
    [entry] = _audit(seeded.rt, "note_added")
    assert (entry.target, entry.detail, entry.user_agent) == ("note:1", {"note": "hi"}, "testclient")


def test_each_session_has_its_own_csrf_token(seeded: Seeded) -> None:
    _login(seeded.client, "wangfang")
    mine = _session_csrf(seeded.client)
    other = seeded.new_client()
    _login(other, "lilei")
    assert _session_csrf(other) != mine
    assert other.post("/api/v1/_test/echo", headers={"X-CSRF-Token": mine}).status_code == 403


def test_without_login_api_gets_401_json_and_pages_redirect_to_login(seeded: Seeded) -> None:
    api = seeded.client.get("/api/v1/_test/office")
    assert api.status_code == 401
    assert api.json() == {"error": {"status": 401, "message": "请先登录"}}
    assert seeded.client.post("/api/v1/_test/echo").status_code == 401
    page = seeded.client.get("/_test/office")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/_test/office"


def test_role_check_refuses_and_allows(seeded: Seeded) -> None:
    _login(seeded.client, "lilei")  # 监测员 only
    api = seeded.client.get("/api/v1/_test/office")
    assert api.status_code == 403
    assert "办公室" in api.json()["error"]["message"]
    page = seeded.client.get("/_test/office")
    assert page.status_code == 403
    assert "无权访问" in page.text and "李雷" in page.text and "<html" in page.text

    for login in ("wangfang", "admin"):  # 办公室 at a unit, and 管理员 who holds every role
        client = seeded.new_client()
        _login(client, login)
        assert client.get("/api/v1/_test/office").json() == {"login": login}


def test_user_carries_roles_and_labels(seeded: Seeded) -> None:
    with seeded.rt.sessions() as session:
        wang = user_of(session, session.get(Account, seeded.ids["wangfang"]))  # type: ignore[arg-type]
        admin = user_of(session, session.get(Account, seeded.ids["admin"]))  # type: ignore[arg-type]
    assert wang.roles == frozenset({("office", seeded.ids["health"])})
    assert wang.role_labels() == ["办公室（市卫生健康委员会）"]
    assert not wang.is_admin and admin.is_admin
    assert wang.unit_name == "市卫生健康委员会"


def test_disabling_an_account_ends_its_sessions_and_refuses_login(seeded: Seeded) -> None:
    _login(seeded.client, "wangfang")
    with transaction(seeded.rt.sessions) as session:
        accounts.set_active(session, seeded.ids["wangfang"], False)
    assert seeded.client.get("/_test/page").status_code == 303
    assert "用户名或密码错误" in _login(seeded.client, "wangfang").text


def test_an_inactive_person_is_logged_out_and_cannot_log_in(seeded: Seeded) -> None:
    _login(seeded.client, "lilei")
    with transaction(seeded.rt.sessions) as session:
        person = session.scalars(select(Person).where(Person.login == "lilei")).one()
        org.update_person(session, person.id, active=False)
    assert seeded.client.get("/_test/page").status_code == 303
    assert _login(seeded.client, "lilei").status_code == 401
    with transaction(seeded.rt.sessions) as session:
        org.update_person(session, person.id, active=True)
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 0


# ---- passwords ----------------------------------------------------------------------------------


def test_only_an_argon2id_hash_is_stored_and_old_parameters_are_rehashed(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    with seeded.rt.sessions() as session:
        stored = session.get(Account, seeded.ids["wangfang"]).password_hash  # type: ignore[union-attr]
    assert stored.startswith("$argon2id$") and PASSWORDS["wangfang"] not in stored
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", stronger)
    accounts.authenticate(seeded.rt, "wangfang", PASSWORDS["wangfang"])
    with seeded.rt.sessions() as session:
        rehashed = session.get(Account, seeded.ids["wangfang"]).password_hash  # type: ignore[union-attr]
    assert rehashed != stored and "m=2048,t=2" in rehashed
    assert not stronger.check_needs_rehash(rehashed)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "至少需要 10 个字符"),
        ("          ", "不能全是空格"),
        ("aaaaaaaaaa", "过于简单"),
        ("WangFang", "至少需要 10 个字符"),
        ("abcdabcdabcd", "过于简单"),
        ("wangfang-2026!", "不能包含登录名"),
    ],
)
def test_password_policy_explains_in_chinese(password: str, message: str) -> None:
    with pytest.raises(PasswordPolicyError, match=message):
        accounts.check_password(password, login="wangfang")


def test_new_password_ends_the_other_sessions_but_not_this_one(seeded: Seeded) -> None:
    _login(seeded.client, "wangfang")
    other = seeded.new_client()
    _login(other, "wangfang")
    token = seeded.client.cookies[SESSION_COOKIE]
    with transaction(seeded.rt.sessions) as session:
        here = session.scalar(
            select(LoginSession.id).where(LoginSession.token_sha256 == accounts.token_digest(token))
        )
        accounts.set_password(
            session, seeded.ids["wangfang"], "brand-new-pass", now=seeded.clock(), keep_session_id=here
        )
    assert other.get("/_test/page").status_code == 303
    assert seeded.client.get("/_test/page").status_code == 200
    assert _login(seeded.new_client(), "wangfang").status_code == 401
    assert _login(seeded.new_client(), "wangfang", "brand-new-pass").status_code == 303


def test_one_account_per_person_and_unique_logins(seeded: Seeded) -> None:
    with transaction(seeded.rt.sessions) as session:
        wang = session.scalars(select(Person).where(Person.login == "wangfang")).one()
        with pytest.raises(ValueError, match="已有账户"):
            accounts.create_account(session, wang.id, "wang2", "another-pass-1")
        zhao = org.add_person(session, "赵六", seeded.ids["health"])
        with pytest.raises(ValueError, match="已被占用"):
            accounts.create_account(session, zhao.id, "wangfang", "another-pass-1")
        account = accounts.create_account(session, zhao.id, "zhaoliu", "another-pass-1")
        assert org.find_person(session, "zhaoliu").id == account.person_id == zhao.id


# ---- demo logins --------------------------------------------------------------------------------


def test_demo_accounts_are_listed_only_when_the_setting_is_on(seeded: Seeded) -> None:
    with transaction(seeded.rt.sessions) as session:
        zhao = org.add_person(session, "赵六", seeded.ids["health"])
        org.grant_role(session, zhao.id, "duty_officer", seeded.ids["health"])
        org.add_person(session, "无角色", seeded.ids["health"])
        created = accounts.create_demo_accounts(session, now=seeded.clock())
    assert [a.login for a in created] == ["赵六"]
    assert accounts.DEMO_PASSWORD not in seeded.client.get("/login").text
    # a database the demo built, served for real: its published password opens nothing
    refused = _login(seeded.client, "赵六", accounts.DEMO_PASSWORD)
    assert refused.status_code == 401 and "演示密码" in refused.text and "yuqing users passwd" in refused.text
    seeded.rt.settings = seeded.rt.settings.model_copy(update={"demo_logins": True})
    page = seeded.client.get("/login").text
    assert "演示账户" in page and accounts.DEMO_PASSWORD in page and "值班员（市卫生健康委员会）" in page
    assert "wangfang" not in page  # real passwords are never suggested
    assert _login(seeded.client, "赵六", accounts.DEMO_PASSWORD).status_code == 303


# ---- yuqing init and yuqing users ---------------------------------------------------------------


def _admins(rt: Runtime) -> list[str]:
    with rt.sessions() as session:
        query = (
            select(Account.login)
            .join(RoleAssignment, RoleAssignment.person_id == Account.person_id)
            .where(RoleAssignment.role == "admin")
        )
        return list(session.scalars(query))


def test_init_creates_one_administrator_and_shows_the_password_once(rt: Runtime) -> None:
    runner = CliRunner()
    first = runner.invoke(cli_app, ["init"])
    assert first.exit_code == 0, first.output
    match = re.search(r"初始管理员密码（只显示一次）：(\S+)", first.output)
    assert match is not None
    second = runner.invoke(cli_app, ["init"])
    assert second.exit_code == 0 and "初始管理员密码" not in second.output
    assert _admins(rt) == ["admin"]
    with rt.sessions() as session:
        person = session.scalars(select(Person).where(Person.login == "admin")).one()
        assert person.name == "管理员" and org.get_unit(session, person.unit_id).name == "本单位"
    assert accounts.authenticate(rt, "admin", match.group(1)).login == "admin"


def test_init_takes_the_administrator_password_from_the_environment(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(rt.sessions) as session:
        org.create_unit(session, "南京市人民政府")
    monkeypatch.setenv("YUQING_ADMIN_PASSWORD", "from-the-env-1")
    result = CliRunner().invoke(cli_app, ["init"])
    assert result.exit_code == 0, result.output
    assert "初始管理员密码" not in result.output and "from-the-env-1" not in result.output
    assert accounts.authenticate(rt, "admin", "from-the-env-1").login == "admin"
    with rt.sessions() as session:
        person = session.scalars(select(Person).where(Person.login == "admin")).one()
        assert org.get_unit(session, person.unit_id).name == "南京市人民政府"  # no 本单位 needed


def test_first_administrator_is_an_existing_管理员_without_an_account(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        city = org.create_unit(session, "演示市人民政府")
        admin = org.add_person(session, "管理员", city.id)
        org.grant_role(session, admin.id, "admin", city.id)
        made = accounts.ensure_first_admin(session, password="given-pass-1")
        assert made is not None
        account, generated = made
        assert (account.person_id, account.login, generated) == (admin.id, "admin", None)
        assert accounts.ensure_first_admin(session) is None
    assert _admins(rt) == ["admin"]


def test_users_commands_add_list_passwd_disable_and_audit(seeded: Seeded) -> None:
    runner = CliRunner()
    with transaction(seeded.rt.sessions) as session:
        org.add_person(session, "赵六", seeded.ids["health"])
    added = runner.invoke(
        cli_app, ["users", "add", "赵六", "--login", "zhaoliu"], input="zhao-pass-1\nzhao-pass-1\n"
    )
    assert added.exit_code == 0, added.output
    short = runner.invoke(cli_app, ["users", "passwd", "zhaoliu", "--password", "short"])
    assert short.exit_code == 1 and "至少需要 10 个字符" in short.output
    assert runner.invoke(cli_app, ["users", "passwd", "zhaoliu", "--password", "zhao-pass-2"]).exit_code == 0
    assert runner.invoke(cli_app, ["users", "disable", "lilei"]).exit_code == 0
    listed = runner.invoke(cli_app, ["users", "list", "--json"])
    views = {v["login"]: v for v in json.loads(listed.stdout)}
    assert set(views) == {"admin", "wangfang", "lilei", "zhaoliu"}
    assert views["lilei"]["active"] is False and views["zhaoliu"]["name"] == "赵六"
    assert accounts.authenticate(seeded.rt, "zhaoliu", "zhao-pass-2").login == "zhaoliu"
    log = runner.invoke(cli_app, ["audit", "list", "--json"])
    actions = [e["action"] for e in json.loads(log.stdout)]
    assert actions == ["account_disabled", "password_changed", "account_created"]
    missing = runner.invoke(cli_app, ["users", "disable", "nobody"])
    assert missing.exit_code == 1 and "找不到账户" in missing.output
