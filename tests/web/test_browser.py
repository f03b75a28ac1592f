"""The console in a real browser: Debian's headless Chromium driven by Playwright against a real
HTTP server on 127.0.0.1. Log in, see the dashboard, open an event, acknowledge an alert, take a
case through approval to release, and be refused as a role that may not approve; read the API
description at /docs. Nothing on the way may break the pages' Content-Security-Policy.

The screenshots are kept in `tests/web/screenshots/` for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn

from yuqing.accounts import service as accounts
from yuqing.analysis import topics
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.cases import followup
from yuqing.db import transaction
from yuqing.ingest import service as ingest
from yuqing.ingest.store import PostWriter
from yuqing.org import duty
from yuqing.org import service as org
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import load_settings
from yuqing.web.app import create_app

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "yuqing-browser-test"
HOSPITAL = "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡，家属在医院门口拉横幅讨说法，医院至今未回应。"
ROLES = {
    "李办公室": ("office", "市卫生健康委员会", "li"),
    "赵分管": ("deputy_leader", "市卫生健康委员会", "zhao"),
    "陈市长": ("chief", "南京市人民政府", "chen"),
    "周组员": ("leading_group", "南京市人民政府", "zhou"),
}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fill(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        city = org.create_unit(session, "南京市人民政府", kind="government", regions=["南京"])
        health = org.create_unit(session, "市卫生健康委员会", parent_id=city.id, kind="bureau")
        ids = {"南京市人民政府": city.id, "市卫生健康委员会": health.id}
        for name, (role, unit, login) in ROLES.items():
            person = org.add_person(session, name, ids[unit])
            org.grant_role(session, person.id, role, ids[unit])
            if role == "office":
                org.grant_role(session, person.id, "duty_officer", ids[unit])
                duty.set_rotation(session, health.id, [person.id], dt.date(2026, 1, 1), hours="all_day")
            accounts.create_account(session, person.id, login, PASSWORD)
    topics.set_word_group(rt, "地域", ["南京", "江苏"], "地域")
    topics.add_topic(rt, "医疗", "@地域 + 医院 + (事故|死亡)", "市卫生健康委员会")
    now = rt.clock()
    rows = [
        {
            "id": "o1",
            "text": HOSPITAL,
            "published_at": (now - dt.timedelta(minutes=40)).isoformat(),
            "reposts": 620,
        },
        # Ingestion strips real tags; these entities stay literal text the console must escape.
        {
            "id": "x1",
            "text": "网友爆料&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;："
            + HOSPITAL,
            "kind": "repost",
            "cascade": "o1",
            "published_at": (now - dt.timedelta(minutes=30)).isoformat(),
        },
    ]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    ingest.import_data(
        rt, PostWriter(rt.sessions, rt.settings, rt.clock), data, origin="t.jsonl", platform="weibo"
    )
    AnalysisPipeline(rt).run()
    followup.run_once(rt)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[str]:
    rt = open_runtime(load_settings(database_url=f"sqlite:///{tmp_path}/browser.db"))
    _fill(rt)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the console did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        rt.close()


def test_office_works_a_case_to_release_in_the_browser(console: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    for old in SHOTS.glob("[0-9][0-9]-*.png"):  # this test's own; the phone's stay
        old.unlink()
    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def login(page: Page, who: str) -> None:
        page.goto(f"{console}/login")
        page.fill("input[name=login]", who)
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/login" not in page.url, page.content()[:2000]

    def logout(page: Page) -> None:
        page.click("form[action='/logout'] button")
        page.wait_for_load_state("networkidle")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        # Chromium reports what the policy blocked on the console: the pages must need nothing of it.
        blocked: list[str] = []
        policy = "Content Security Policy"
        page.on("console", lambda m: blocked.append(f"{page.url}: {m.text}") if policy in m.text else None)
        page.on("pageerror", lambda e: blocked.append(str(e)))

        page.goto(console)
        assert "/login" in page.url  # nothing without logging in
        shot(page, "01-login")
        login(page, "li")
        expect(page.locator("body")).to_contain_text("特别重大")
        shot(page, "02-dashboard")
        # The wall display fits its screen: nothing to scroll on a 1440×900 screen
        page.goto(f"{console}/?screen=1")
        page.wait_for_load_state("networkidle")
        expect(page.locator("#volume-chart canvas")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollHeight") <= 900
        assert page.evaluate("document.getElementById('volume-chart').clientHeight") >= 200
        page.goto(console)

        page.goto(f"{console}/events")
        page.locator("a[href^='/events/']").first.click()
        page.wait_for_load_state("networkidle")
        expect(page.locator("body")).to_contain_text("鼓楼医院")
        # The post's text is shown exactly as stored, as text: no entity decoded, no tag run.
        expect(page.locator("body")).to_contain_text("&lt;script&gt;alert(1)&lt;/script&gt;")
        expect(page.locator("body")).to_contain_text("onerror=alert(1)&gt;")
        event_id = page.url.split("?")[0].rsplit("/", 1)[1]
        shot(page, "03-event")

        page.goto(f"{console}/alerts")
        page.locator("form[action$='/ack'] button").first.click()
        expect(page.locator("body")).to_contain_text("已确认")
        shot(page, "04-alert-acknowledged")

        page.goto(f"{console}/events")
        page.locator("a[href^='/events/']").first.click()
        page.locator("form[action='/cases/open'] button").first.click()
        page.wait_for_load_state("networkidle")
        assert "/cases/" in page.url
        case_url = page.url
        # The case's clocks on a 1280-wide wall display: one line each, nothing past the panel.
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{console}/?screen=1")
        page.wait_for_load_state("networkidle")
        panel = page.locator("#panels .deadlines")
        expect(panel.locator("tbody tr")).not_to_have_count(0)
        assert panel.evaluate("p => p.scrollWidth <= p.clientWidth")
        heights = panel.locator("tbody td.case-cell").evaluate_all("cells => cells.map(c => c.clientHeight)")
        assert max(heights) < 80  # the case title gives way with an ellipsis instead of wrapping
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(case_url)

        def advance(stage: str, category: str | None = None) -> None:
            form = page.locator("form[action$='/advance']")
            form.locator("select[name=stage]").select_option(stage)
            if category:
                form.locator("select[name=category]").select_option(category)
            form.locator("button[type=submit]").click()
            page.wait_for_load_state("networkidle")

        advance("reported")
        advance("assessed", "捏造/歪曲/谣言/诽谤")
        advance("disposing")
        statement = page.locator("form[action$='/statement']")
        statement.locator("textarea[name=facts]").fill(
            "11月20日上午，鼓楼医院一名产妇术中死亡，市卫健委已介入。"
        )
        statement.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        shot(page, "05-case-statement-drafted")
        logout(page)

        login(page, "zhao")  # a deputy may not approve for a 特别重大 case: no form is offered
        page.goto(case_url)
        expect(page.locator("form[action$='/approve']")).to_have_count(0)
        expect(page.locator("body")).to_contain_text("尚缺 主要领导、领导小组成员")
        shot(page, "06-approval-refused")
        logout(page)

        for who in ("chen", "zhou"):
            login(page, who)
            page.goto(case_url)
            page.locator("form[action$='/approve'] button[value=approve]").click()
            page.wait_for_load_state("networkidle")
            logout(page)

        login(page, "li")
        page.goto(case_url)
        release = page.locator("form[action$='/release']")
        release.locator("select[name=channel]").select_option("官方微博/微信")
        release.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        expect(page.locator("body")).to_contain_text("官方微博/微信")
        expect(page.locator("body")).to_contain_text("发布")
        shot(page, "07-case-released")

        # 舆情专报 of the event, written from the record, archived and ready to download.
        page.goto(f"{console}/reports")
        form = page.locator("form[action='/reports'][method=post]")
        form.locator("select[name=kind]").select_option("special")
        form.locator("select[name=format]").select_option("docx")
        form.locator("input[name=event_id]").fill(event_id)
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        expect(page.locator("body")).to_contain_text("报告已生成并归档")
        expect(page.locator("body")).to_contain_text("通过官方微博/微信发布权威信息")
        expect(page.locator("a[href$='/file']")).to_be_visible()
        shot(page, "08-special-report")

        # A drill of a shipped scenario, started from the console and watched on its page.
        page.goto(f"{console}/drills")
        form = page.locator("form[action='/drills']")
        form.locator("select[name=scenario]").select_option("hospital_rumour")
        form.locator("input[name=speed]").fill("60")
        form.locator("select[name=participants]").select_option(label=None, index=0)
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert "/drills/" in page.url
        expect(page.locator("body")).to_contain_text("进行中")
        expect(page.locator("body")).to_contain_text("医院H7N9死亡病例谣言")
        shot(page, "09-drill-started")

        # The API description, from the vendored Swagger UI, for a signed-in person.
        page.goto(f"{console}/docs")
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
        expect(page.locator("body")).to_contain_text("/api/v1/cases/{case_id}/release")
        shot(page, "10-api-docs")
        assert not dialogs, f"scraped text ran as script: {dialogs}"
        assert not blocked, f"the Content-Security-Policy blocked: {blocked}"
        browser.close()


PHONE: ViewportSize = {"width": 390, "height": 844}


def _overflow(page: Page) -> list[str]:
    """What sticks out sideways on a phone: the page wider than the screen, and the elements
    whose right edge lies past it (tables may scroll inside their own box)."""
    return list(
        page.evaluate(
            """() => {
              const width = document.documentElement.clientWidth;
              const out = [];
              if (document.documentElement.scrollWidth > width + 1)
                out.push(`page ${document.documentElement.scrollWidth}px > ${width}px`);
              const scrolls = (el) => {  // inside a box that scrolls or clips and fits the screen
                for (let up = el.parentElement; up; up = up.parentElement) {
                  if (getComputedStyle(up).overflowX !== 'visible')
                    return up.getBoundingClientRect().right <= width + 1;
                }
                return false;
              };
              for (const el of document.querySelectorAll('body *')) {
                if (scrolls(el)) continue;
                const box = el.getBoundingClientRect();
                if (box.width && box.right > width + 1)
                  out.push(`${el.tagName.toLowerCase()}.${el.className} right ${Math.round(box.right)}px`);
              }
              return out.slice(0, 8);
            }"""
        )
    )


def test_leaders_and_the_office_work_alerts_cases_and_approvals_on_a_phone(console: str) -> None:
    """Leaders approve from their phones: at 390 px wide the alert, case and approval pages hold
    (nothing wider than the screen, the buttons reachable), as the screenshots show."""
    from playwright.sync_api import expect, sync_playwright

    phone = SHOTS / "phone"
    phone.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)

        def login(who: str) -> None:
            page.goto(f"{console}/login")
            page.fill("input[name=login]", who)
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            expect(page.locator("form[action='/logout']")).to_be_attached()

        def holds(name: str) -> None:
            page.wait_for_load_state("networkidle")
            assert _overflow(page) == [], f"{name}: {_overflow(page)}"
            page.screenshot(path=str(phone / f"{name}.png"), full_page=True)

        login("li")
        page.goto(f"{console}/alerts")
        holds("01-alerts")
        ack = page.locator("form[action$='/ack'] button").first
        # each alert is a card: 确认 is on the screen, not past its right edge in a scrolled table
        box = ack.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
        badge = page.locator("#todo-badge").inner_text()
        ack.scroll_into_view_if_needed()
        ack.tap()
        expect(page.locator("form[action$='/ack'] button")).to_have_count(0)
        # the top bar's 待办 drops with the alert acknowledged, without a reload
        expect(page.locator("#todo-badge")).to_have_text(f"待办 {int(badge.split()[-1]) - 1}")
        page.goto(f"{console}/events")
        holds("02-events")
        page.locator("a[href^='/events/']").first.tap()
        page.wait_for_url(re.compile(r"/events/\d+$"))
        holds("03-event")
        page.locator("form[action='/cases/open'] button").first.tap()
        expect(page.locator("h1")).to_contain_text("工单")
        case_url = page.url.split("?")[0]
        holds("04-case")
        page.goto(console)  # the dashboard with the case's clocks: its panels stay on the screen
        expect(page.locator("#panels .deadlines tbody tr")).not_to_have_count(0)
        holds("04-dashboard")
        page.goto(case_url)
        for stage, category in (("reported", None), ("assessed", "捏造/歪曲/谣言/诽谤"), ("disposing", None)):
            form = page.locator("form[action$='/advance']")
            form.locator("select[name=stage]").select_option(stage)
            if category:
                form.locator("select[name=category]").select_option(category)
            with page.expect_navigation():  # the form posts, then the case page comes back
                form.locator("button[type=submit]").tap()
            page.wait_for_load_state("networkidle")
        statement = page.locator("form[action$='/statement']")
        statement.locator("textarea[name=facts]").fill("鼓楼医院一名产妇术中死亡，市卫健委已介入。")
        with page.expect_navigation():
            statement.locator("button[type=submit]").tap()
        page.wait_for_load_state("networkidle")
        holds("05-case-statement-drafted")
        page.locator("form[action='/logout'] button").tap()
        expect(page.locator("form[action='/logout']")).to_have_count(0)

        for who in ("chen", "zhou"):  # the two approvals a 特别重大 statement needs, from phones
            login(who)
            page.goto(case_url)
            holds(f"06-approval-{who}")
            page.locator("form[action$='/approve'] button[value=approve]").tap()
            page.wait_for_load_state("networkidle")
            page.locator("form[action='/logout'] button").tap()
            expect(page.locator("form[action='/logout']")).to_have_count(0)
        login("li")
        page.goto(case_url)
        expect(page.locator("form[action$='/release']")).to_be_attached()  # approved: ready to publish
        holds("07-approved")
        page.goto(f"{console}/cases")
        holds("08-cases")
        browser.close()
