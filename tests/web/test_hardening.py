"""The web app under hostile or failing conditions: numbers no row can have, methods a path does
not take, the API description kept for signed-in people, the Content-Security-Policy of every
page, and a disk that is full or a database that is read-only."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.conftest import FakeClock
from tests.web.test_api import Api, api, error_of
from tests.web.test_pages import PASSWORD, World, _quick_hashing, build_world, csrf_of
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import load_settings
from yuqing.storage import StorageProblem
from yuqing.web.app import create_app

__all__ = ["_quick_hashing"]  # the fixture, used by every test here

BIG = "99999999999999999999999"  # beyond 2^64: no database integer holds it
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> Iterator[World]:
    built = build_world(rt, clock)
    yield built
    for client in built.clients:
        client.close()


# ---- numbers and methods --------------------------------------------------------------------------


def test_numbers_no_row_can_have_are_refused_not_crashed(world: World) -> None:
    office = api(world, "office")
    for path in (f"/cases/{BIG}", f"/alerts/{BIG}", f"/reports/{BIG}", f"/drills/{BIG}", f"/cases/{2**31}"):
        assert "请求参数有误" in error_of(office.get(path), 422), path
    assert "offset" in error_of(office.get("/cases", offset=BIG), 422)
    assert "offset" in error_of(office.get("/alerts", offset=BIG), 422)
    assert "offset" in error_of(office.get("/org/people", offset=BIG), 422)
    assert "task_id" in error_of(office.post(f"/cases/1/tasks/{BIG}/done", {"result": "办结"}), 422)
    # Names or ids given as text, and the routes of other domains: nothing of that number exists.
    error_of(office.get("/org/people", unit=BIG), 404)
    error_of(office.get(f"/posts/{BIG}"), 404)
    error_of(office.get(f"/events/{BIG}"), 404)
    hook = office.client.post(f"/api/v1/webhooks/{BIG}", json={"text": "x"}, headers={"X-Yuqing-Token": "t"})
    error_of(hook, 404)
    page = office.client.get(f"/cases/{BIG}")
    assert page.status_code == 404 and "找不到" in page.text


def test_ids_in_a_body_are_json_integers_in_range(world: World) -> None:
    office = api(world, "office")
    for body in (
        {"post_id": False},
        {"post_id": True},
        {"event_id": "1"},
        {"alert_id": 1.5},
        {"post_id": BIG},
    ):
        assert "请求参数有误" in error_of(office.post("/cases", body), 422), body
    assert "ids" in error_of(office.post("/me/notifications/read", {"ids": [False]}), 422)
    assert office.get("/cases").json()["items"] == []  # nothing was opened


def test_a_method_a_path_does_not_take_is_405_with_every_allowed_method(world: World) -> None:
    office = api(world, "office")
    for method, path, allowed in (
        ("TRACE", "/api/v1/cases", "GET, POST"),
        ("DELETE", f"/api/v1/cases/{1}", "GET"),
        ("PUT", f"/api/v1/alerts/{world.alert_id}/ack", "POST"),
    ):
        response = office.client.request(method, path)
        message = error_of(response, 405)
        assert response.headers["allow"] == allowed, path
        assert message == f"{path} 不接受 {method} 请求（可用：{allowed}）"
    unknown = office.client.get("/api/v1/nowhere")
    assert error_of(unknown, 404) == "找不到 /api/v1/nowhere"


def test_a_browser_gets_a_page_for_an_unknown_address_or_a_reloaded_form_address(world: World) -> None:
    """A person who mistypes a console address, or reloads the address a form posted to, reads a
    page in Chinese with a way back, not a JSON body; the API keeps its JSON answers."""
    browser = world.login("office")
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    unknown = browser.get("/casess", headers=html)
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
    assert "找不到页面" in unknown.text and "找不到 /casess" in unknown.text and 'href="/"' in unknown.text
    reloaded = browser.get("/cases/1/approve", headers=html)
    assert reloaded.status_code == 405 and "allow" in reloaded.headers
    assert "用于提交表单" in reloaded.text and "回到上一页" in reloaded.text
    api_answer = browser.get("/api/v1/nowhere", headers=html)
    assert api_answer.headers["content-type"] == "application/json"
    fragment = browser.get("/casess", headers={**html, "HX-Request": "true"})
    assert fragment.headers["content-type"] == "application/json"


# ---- the API description and the pages' policy ----------------------------------------------------


def test_the_api_description_is_for_signed_in_people(world: World) -> None:
    stranger = world.browser()
    for path in ("/docs", "/openapi.json"):
        refused = stranger.get(path)
        assert refused.status_code == 303 and refused.headers["location"] == f"/login?next={path}"
    assert stranger.get("/redoc").status_code == 404
    office = world.login("office")
    docs = office.get("/docs")
    assert docs.status_code == 200 and '<script src="/static/vendor/swagger-ui-bundle.js">' in docs.text
    assert office.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
    schema = office.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/cases/{case_id}"]["get"]
    assert {"401", "403", "404", "422", "503", "507"} <= set(operation["responses"])
    assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_every_page_carries_a_content_security_policy_and_runs_no_inline_code(world: World) -> None:
    stranger = world.browser()
    office = world.login("office")
    pages = [(stranger, "/login")] + [
        (office, path)
        for path in (
            "/",
            "/alerts",
            "/alerts?status=open",
            "/cases",
            f"/events/{world.event_id}",
            "/events",
            "/org",
            "/topics",
            "/sources",
            "/posts",
            "/reports",
            "/drills",
            "/duty",
            "/me/notifications",
            "/docs",
        )
    ]
    for client, path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert (
            "script-src 'self'" in policy
            and "'unsafe-inline'" not in policy
            and "'unsafe-eval'" not in policy
        )
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        page = response.text
        assert not INLINE_SCRIPT.search(page), path
        assert not INLINE_STYLE.search(page), path
        assert not EVENT_HANDLER.search(page), path
    assert office.get("/api/v1/cases").headers["x-content-type-options"] == "nosniff"


# ---- a full disk, a read-only database -----------------------------------------------------------


def fill_the_disk(rt: Runtime) -> None:
    """From now on the database file cannot grow by a page: SQLite answers "database or disk is
    full" exactly as on a full disk."""
    with rt.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(rt.engine, "connect")
    def full(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={int(pages or 1)}")  # type: ignore[attr-defined]

    rt.engine.dispose()


def test_a_full_disk_answers_507_in_chinese_and_is_logged_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    if world.rt.engine.dialect.name != "sqlite":
        pytest.skip("the page limit is SQLite's")
    office = api(world, "office")
    case_id = office.post("/cases", {"event_id": world.event_id}).json()["id"]
    fill_the_disk(world.rt)
    text = "已联系家属。" * 1_600  # 29 kB (within the 10,000 characters of a reply): needs new pages

    with caplog.at_level(logging.INFO):
        for _ in range(3):
            refused = office.post(f"/cases/{case_id}/respond", {"text": text})
            assert error_of(refused, 507) == StorageProblem.DISK_FULL.message
        page = office.client.post(
            f"/cases/{case_id}/respond", data={"text": text, "csrf_token": csrf_of(office.client)}
        )
    assert page.status_code == 507 and "磁盘空间已满" in page.text
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and "磁盘空间已满" in logged[0].getMessage()
    assert logged[0].exc_info is None  # one line, no traceback
    assert office.get(f"/cases/{case_id}").json()["id"] == case_id  # reading still works


def test_a_read_only_database_says_so_when_a_write_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "yuqing.db"
    rt = open_runtime(load_settings(database_url=f"sqlite:///{path}"), clock=clock)
    build_world(rt, clock)
    rt.close()
    read_only = open_runtime(
        load_settings(database_url=f"sqlite:///file:{path}?mode=ro&uri=true"), clock=clock, upgrade=False
    )
    try:
        client = TestClient(create_app(read_only), follow_redirects=False)
        form = client.get("/login")
        assert form.status_code == 200  # pages that only read still work
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        login = client.post(
            "/login", data={"login": "office", "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert login.status_code == 503 and StorageProblem.READ_ONLY.message in login.text
        assert "unable to open" not in login.text and "readonly" not in login.text
    finally:
        read_only.close()


def test_api_answers_503_when_the_database_turned_read_only(world: World) -> None:
    if world.rt.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite read-only connection")
    office: Api = api(world, "office")

    @event.listens_for(world.rt.engine, "connect")
    def read_only(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute("PRAGMA query_only=1")  # type: ignore[attr-defined]

    world.rt.engine.dispose()
    refused = office.post("/cases", {"event_id": world.event_id})
    assert error_of(refused, 503) == StorageProblem.READ_ONLY.message
    assert office.get("/cases").status_code == 200


@pytest.mark.parametrize(("trusted", "seen"), [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.66")])
def test_a_forwarded_client_address_is_believed_from_trusted_proxies_only(trusted: str, seen: str) -> None:
    """A real uvicorn with `yuqing serve`'s options: X-Forwarded-For from the server's own host is
    ignored unless that host is a configured proxy (it feeds the login limits and the audit log)."""
    import socket
    import threading

    import httpx
    import uvicorn

    from yuqing.settings import Settings
    from yuqing.web.server import proxy_options

    async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = str(scope["client"][0]).encode()
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = proxy_options(Settings(trusted_proxies=trusted))
    server = uvicorn.Server(uvicorn.Config(echo, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.66"})
        assert answer.text == seen
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_body_over_the_request_limit_is_refused_before_it_is_read(rt: Runtime) -> None:
    """`/login` reads a form from anyone: a body of any size used to be read whole into memory.
    A real uvicorn: a declared length over `request_max_bytes` is answered 413 in Chinese, a body
    sent in chunks without one is cut off where it passes the bound, the server stays up, and a
    webhook keeps its own, larger bound."""
    import socket
    import threading

    import httpx
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limit = rt.settings.request_max_bytes
    server = uvicorn.Server(uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        big = b"username=a&password=" + b"x" * limit
        form = httpx.post(
            f"{base}/login", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert form.status_code == 413 and form.text == f"请求内容过大：超过 {limit // 1024} KB 的上限"
        api = httpx.post(f"{base}/api/v1/cases", content=b"[" + b"1," * limit + b"1]")
        assert api.status_code == 413 and api.json()["error"]["message"].startswith("请求内容过大")

        sent = 0
        huge = 64 * 1024 * 1024

        def chunks() -> Iterator[bytes]:
            nonlocal sent
            while sent < huge:
                sent += 65536
                yield b"x" * 65536

        cut = httpx.post(
            f"{base}/api/v1/cases", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert cut.status_code == 413 and cut.json()["error"]["message"].startswith("请求内容过大")
        assert httpx.get(f"{base}/healthz").status_code == 200
        field = httpx.post(
            f"{base}/login",
            content=b"username=a&password=" + b"x" * (limit // 2 + 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert field.json()["error"]["message"] == "表单中的一项内容过大：超过 1024 KB 的上限"
        hook = httpx.post(f"{base}/api/v1/webhooks/1", content=b"{}" + b" " * limit)
        assert hook.status_code != 413  # refused for its missing token, not its size
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_push_while_another_writer_holds_the_lock_is_asked_to_come_back(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A webhook delivery during an import that held SQLite's write lock past the wait answered
    500 with an English body: the sender could not tell that trying again later was all it took."""
    import sqlite3

    from yuqing.ingest import service

    path = tmp_path / "yuqing.db"
    rt = open_runtime(
        load_settings(database_url=f"sqlite:///{path}", sqlite_busy_timeout_ms=100), clock=clock
    )
    source, token = service.add_source(rt, "webhook", None, name="推送")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        client = TestClient(create_app(rt), raise_server_exceptions=False)
        other.execute("BEGIN IMMEDIATE")
        body = {"id": "p1", "text": "某医院门口发生纠纷，家属聚集讨说法，医院尚未回应。"}
        busy = client.post(
            f"/api/v1/webhooks/{source.id}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert busy.json()["error"]["message"] == StorageProblem.BUSY.message
        other.execute("COMMIT")
        again = client.post(
            f"/api/v1/webhooks/{source.id}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert again.status_code == 200, again.text
    finally:
        other.close()
        rt.close()


def test_a_browser_gets_a_page_for_a_malformed_address_and_no_option_names(world: World) -> None:
    """/events/abc or ?offset=-1 typed by hand: a Chinese page, not a JSON list of validation errors;
    a refused form shows the service's message without the command line's option names."""
    browser = world.login("office")
    html = {"Accept": "text/html"}
    for path in ("/events/abc", "/alerts?offset=-1"):
        page = browser.get(path, headers=html)
        assert page.status_code == 422 and page.headers["content-type"].startswith("text/html"), path
        assert "参数有误" in page.text and "Input should" not in page.text
    assert browser.get("/api/v1/events/abc").headers["content-type"] == "application/json"
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', browser.get("/").text)
    assert csrf is not None
    case_id = api(world, "office").post("/cases", {"alert_id": world.alert_id}).json()["id"]
    empty = browser.post(f"/cases/{case_id}/statement", data={"facts": " ", "csrf_token": csrf.group(1)})
    assert "声明须写明已核实的事实" in empty.text and "--facts" not in empty.text
    both = browser.post(
        f"/cases/{case_id}/tasks",
        data={"unit": "市教育局", "text": "核查", "working_days": "2", "hours": "4"}
        | {"csrf_token": csrf.group(1)},
    )
    assert "完成时限只能填一项" in both.text
    # nor the command line's commands: 「找不到事件 99999」, not 「（可用 yuqing events list 查看）」
    report = {"kind": "special", "event_id": "99999", "format": "html", "csrf_token": csrf.group(1)}
    missing = browser.post("/reports", data=report)
    assert "找不到事件 99999" in missing.text and "yuqing events list" not in missing.text


def test_a_task_due_time_out_of_range_is_refused_in_words(world: World) -> None:
    """-3 working days, 99999 working days (due in 2410), 1e9 hours (a 500 before) and 0 hours (24
    hours before, silently): each is refused with the range, and no task is added."""
    browser = world.login("office")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', browser.get("/").text)
    assert csrf is not None
    office = api(world, "office")
    case_id = office.post("/cases", {"alert_id": world.alert_id}).json()["id"]
    for field, value, words in (
        ("working_days", "-3", "完成时限应为 1 至 250 个工作日（一年），实为 -3"),
        ("working_days", "99999", "完成时限应为 1 至 250 个工作日（一年），实为 99999"),
        ("hours", "1e9", "完成时限应大于 0 小时、不超过 8784 小时（一年），实为 1e+09"),
        ("hours", "0", "完成时限应大于 0 小时、不超过 8784 小时（一年），实为 0"),
        ("hours", "nan", "完成时限应大于 0 小时"),
    ):
        refused = browser.post(
            f"/cases/{case_id}/tasks",
            data={"unit": "市教育局", "text": "核查", field: value, "csrf_token": csrf.group(1)},
        )
        assert refused.status_code == 400 and words in refused.text, (field, value)
    assert office.get(f"/cases/{case_id}").json()["tasks"] == []


def test_a_wrong_parameter_is_named_in_chinese(world: World) -> None:
    office = api(world, "office")
    assert error_of(office.get("/alerts/abc"), 422) == "请求参数有误：alert_id：应为整数"
    assert error_of(office.get("/alerts", offset=-1), 422) == "请求参数有误：offset：应不小于 0"
    assert "status：应为以下之一" in error_of(office.get("/alerts", status="x"), 422)
