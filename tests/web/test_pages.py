"""The console pages through the real app over real databases: a graded event from imported posts,
its alert and case, people who log in through /login; what they see and what they may do."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import FakeClock
from yuqing.accounts import service as accounts
from yuqing.accounts.models import AuditEntry
from yuqing.alerts import service as alerts
from yuqing.analysis import topics
from yuqing.analysis.models import Event, PostAnalysis
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.cases import followup
from yuqing.cases import service as cases
from yuqing.db import transaction
from yuqing.ingest import service as ingest
from yuqing.ingest.models import Post
from yuqing.ingest.store import PostWriter
from yuqing.notify import outbox
from yuqing.notify.models import Notification
from yuqing.org import duty
from yuqing.org import service as org
from yuqing.runtime import Runtime
from yuqing.web.app import create_app

HOSPITAL = "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡，家属在医院门口拉横幅讨说法，医院至今未回应。"
# Entities inside HTML: the normaliser turns them into literal tags in the stored text.
HOSTILE = (
    "<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt; 转发：" + HOSPITAL + "</p>"
)
PASSWORD = "console-pass-9"
# name: (role, unit, login)
PEOPLE = {
    "王值班": ("duty_officer", "市卫生健康委员会", "duty"),
    "孙监测": ("monitor", "市卫生健康委员会", "monitor"),
    "李办公室": ("office", "市卫生健康委员会", "office"),
    "赵分管": ("deputy_leader", "市卫生健康委员会", "deputy"),
    "陈市长": ("chief", "南京市人民政府", "chief"),
    "周组员": ("leading_group", "南京市人民政府", "group"),
    "钱教育": ("office", "市教育局", "edu"),
}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture(autouse=True)
def _quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with parameters cheap enough for a test suite."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class World:
    rt: Runtime
    clock: FakeClock
    event_id: int
    alert_id: int
    clients: list[TestClient] = field(default_factory=list)

    def browser(self) -> TestClient:
        client = TestClient(create_app(self.rt), follow_redirects=False)
        self.clients.append(client)
        return client

    def login(self, login: str) -> TestClient:
        """A browser in which `login` has signed in through the login form."""
        client = self.browser()
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        response = client.post(
            "/login", data={"login": login, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
        )
        assert response.status_code == 303, response.text
        return client


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, as a page's <meta> gives it to scripts."""
    found = CSRF_META.search(client.get("/").text)
    assert found is not None
    return found.group(1)


def import_posts(rt: Runtime, rows: list[dict[str, object]], name: str) -> None:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    ingest.import_data(
        rt, PostWriter(rt.sessions, rt.settings, rt.clock), data, origin=name, platform="weibo"
    )


def build_world(rt: Runtime, clock: FakeClock) -> World:
    with transaction(rt.sessions) as session:
        city = org.create_unit(session, "南京市人民政府", kind="government", regions=["南京"])
        health = org.create_unit(session, "市卫生健康委员会", parent_id=city.id, kind="bureau")
        education = org.create_unit(session, "市教育局", parent_id=city.id, kind="bureau")
        units = {u.name: u.id for u in (city, health, education)}
        people = {}
        for name, (role, unit, login) in PEOPLE.items():
            person = org.add_person(session, name, units[unit])
            org.grant_role(session, person.id, role, units[unit])
            accounts.create_account(session, person.id, login, PASSWORD, now=clock())
            people[name] = person
        duty.set_rotation(session, health.id, [people["王值班"].id], dt.date(2026, 11, 1), hours="all_day")
    topics.set_word_group(rt, "地域", ["南京", "江苏"], "地域")
    topics.set_word_group(rt, "主体", ["医院", "学校"], "主体")
    topics.add_topic(rt, "医疗", "@地域 + @主体 + (投诉|事故|死亡) - 招聘", "市卫生健康委员会")
    import_posts(
        rt,
        [
            {"id": "o1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00", "reposts": 620},
            {
                "id": "r1",
                "text": "太可怕了//@网友:" + HOSPITAL,
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-20T08:10:00+08:00",
            },
            {
                "id": "x1",
                "text": HOSTILE,
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-20T08:20:00+08:00",
            },
        ],
        "a.jsonl",
    )
    AnalysisPipeline(rt).run()
    followup.run_once(rt)
    with rt.sessions() as session:
        event_id = session.scalars(select(Event.id).where(Event.grade_code.is_not(None))).one()
    [alert] = alerts.list_alerts(rt)
    return World(rt, clock, event_id, alert["id"])


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> Iterator[World]:
    built = build_world(rt, clock)
    yield built
    for client in built.clients:
        client.close()


def series_of(page: str) -> dict[str, Any]:
    """The dashboard chart's data, as the page hands it to the script."""
    found = re.search(r"id=\"volume-chart\" data-chart=\"volume\" data-series='([^']*)'", page)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def audit_actions(rt: Runtime) -> list[tuple[str, str, dict[str, object] | None]]:
    with rt.sessions() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.action, e.target, e.detail) for e in entries]


# ---- signing in ---------------------------------------------------------------------------------


def test_pages_send_a_stranger_to_the_login_page_and_the_api_answers_401(world: World) -> None:
    browser = world.browser()
    assert browser.get("/").headers["location"] == "/login"
    assert browser.get("/events?grade=I").headers["location"] == "/login?next=/events%3Fgrade%3DI"
    for path in ("/alerts", "/cases/1", "/org", f"/events/{world.event_id}", "/dashboard/panels"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    refused = browser.get("/api/v1/alerts")
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "请先登录"
    # The assets are public: the login page needs them.
    assert browser.get("/static/console.css").status_code == 200


def test_every_page_renders_in_chinese_for_a_signed_in_person(world: World) -> None:
    office = world.login("office")
    home = office.get("/")
    assert home.status_code == 200
    for text in (
        "总览",
        "事件",
        "预警",
        "工单",
        "组织与人员",
        "专题",
        "信息源",
        "退出",
        "李办公室",
        "办公室（市卫生健康委员会）",
    ):
        assert text in home.text
    assert '<html lang="zh-CN">' in home.text
    # The new event is 特别重大 and its alert awaits acknowledgement.
    assert re.search(
        r'grade-red">\s*<a href="/events\?status=open&amp;grade=I"><span class="count">1<', home.text
    )
    assert "待确认的预警" in home.text and "南京鼓楼医院发生医疗事故" in home.text
    volume = series_of(home.text)
    assert len(volume["hours"]) == 72 and volume["total"] == 3 and max(volume["posts"]) == 3
    assert "/static/vendor/echarts.min.js" in home.text and "/static/vendor/htmx.min.js" in home.text

    screen = office.get("/?screen=1")
    assert 'class="dashboard screen"' in screen.text
    assert 'hx-get="/dashboard/panels?screen=1" hx-trigger="every 15s"' in screen.text
    panels = office.get("/dashboard/panels?screen=1")
    assert panels.status_code == 200 and "<html" not in panels.text and "进行中的事件" in panels.text

    events = office.get("/events")
    assert "南京鼓楼医院发生医疗事故" in events.text and "特别重大" in events.text
    assert "没有符合条件的事件" in office.get("/events?grade=IV").text

    page = office.get(f"/events/{world.event_id}")
    for text in ("定级依据", "传播趋势", "情感分布", "传播站点与平台", "开立工单", "信息（最新在前）"):
        assert text in page.text
    assert "单日转发量" in page.text  # the reason names the condition with its measured value
    assert "定级时的数值，此后的变化见上方指标" in page.text  # the values are those of the grading
    assert office.get("/events/999999").status_code == 404

    alert_page = office.get("/alerts")
    assert "确认" in alert_page.text and f'hx-post="/alerts/{world.alert_id}/ack"' in alert_page.text
    board = office.get("/cases")
    assert "工单看板" in board.text and "发现" in board.text and "结案" in board.text

    organisation = office.get("/org")
    assert "市卫生健康委员会" in organisation.text and "正在值班" in organisation.text
    assert "王值班" in organisation.text and "分管领导（市卫生健康委员会）" in organisation.text

    assert "医疗" in office.get("/topics").text
    assert "信息源" in office.get("/sources").text
    found = office.get("/posts", params={"q": "产妇"})
    assert found.status_code == 200 and found.text.count('class="post"') == 3

    for asset in ("/static/console.js", "/static/vendor/htmx.min.js", "/static/vendor/echarts.min.js"):
        assert office.get(asset).status_code == 200


def test_the_dashboard_series_follows_newly_analysed_posts(world: World) -> None:
    office = world.login("office")
    assert series_of(office.get("/").text)["total"] == 3
    assert series_of(office.get("/dashboard/panels").text)["total"] == 3  # kept, nothing changed
    row = {
        "id": "r2",
        "text": "家属再次发声：" + HOSPITAL,
        "kind": "repost",
        "cascade": "o1",
        "published_at": "2026-11-20T08:40:00+08:00",
    }
    import_posts(world.rt, [row], "c.jsonl")
    AnalysisPipeline(world.rt).run()
    volume = series_of(office.get("/").text)
    assert volume["total"] == 4 and volume["hours"][-1] == "11-20 09:00" and volume["posts"][-2] == 4


def test_scraped_text_is_always_escaped(world: World) -> None:
    with world.rt.sessions() as session:
        stored = session.scalars(select(Post.text).where(Post.external_id == "x1")).one()
    assert "<script>alert(1)</script>" in stored and "<img src=x onerror=alert(1)>" in stored
    office = world.login("office")
    for page in (office.get(f"/events/{world.event_id}"), office.get("/posts", params={"q": "alert"})):
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text


def test_an_alert_page_says_why_whom_it_told_and_who_is_next(world: World) -> None:
    office, edu = world.login("office"), world.login("edu")
    url = f"/alerts/{world.alert_id}"
    page = office.get(url)
    assert page.status_code == 200
    text = page.text
    assert f"预警 #{world.alert_id}" in text and "南京鼓楼医院发生医疗事故" in text
    assert "定级依据" in text and "转发量" in text
    # told the duty officer at once; the office is next, 6 minutes on, unless someone confirms (a
    # 特别重大 alert's profile waits, 15 + 30 + 30, shortened to reach the chief in 30 minutes)
    assert re.search(r"值班员</td>\s*<td>6 分钟</td>\s*<td>已通知</td>\s*<td>王值班</td>", text)
    assert re.search(r"办公室</td>\s*<td>12 分钟</td>\s*<td>待升级（11-20 09:06）</td>", text)
    assert f'action="/alerts/{world.alert_id}/ack"' in text and "确认预警" in text
    assert 'href="/alerts"' in text and f'href="/events/{world.event_id}"' in text
    # no case yet: the plan's clock to report a 特别重大 up runs from the alert all the same
    assert "按预案须于 11-20 10:00 前向上级报告（特别重大：1 小时，自预警发出起算）" in text
    assert f'href="{url}"' in office.get("/alerts").text  # the list links to it
    # how each notice went: a channel that gave up is on the page, not only 「已通知」
    from yuqing.notify.models import Notification

    assert "站内消息：待发送" in text
    with transaction(world.rt.sessions) as session:
        told = session.scalars(select(Notification).where(Notification.subject_id == world.alert_id)).first()
        assert told is not None
        told.status, told.attempts, told.last_error = "failed", 5, "钉钉返回 errcode 310000：关键词不匹配"
    shown = office.get(url).text
    assert "发送失败" in shown and "关键词不匹配" in shown

    world.clock.advance(minutes=16)
    alerts.escalate_due(world.rt)
    text = office.get(url).text
    assert re.search(r"办公室</td>\s*<td>12 分钟</td>\s*<td>已通知</td>\s*<td>李办公室</td>", text)
    world.clock.advance(minutes=50)
    assert "已超时 6 分钟" in office.get(url).text
    world.clock.advance(minutes=-50)
    assert "升级：办公室" in text
    assert re.search(r"分管领导</td>\s*<td>12 分钟</td>\s*<td>待升级", text)
    # the notice the office received links to this page
    outbox.deliver_due(world.rt)
    assert f'href="{url}"' in office.get("/me/notifications").text

    # confirmed from the page: back to the page, which no longer waits for anyone
    done = office.post(
        f"{url}/ack", data={"csrf_token": csrf_of(office)}, headers={"Referer": "http://testserver" + url}
    )
    assert done.status_code == 303 and done.headers["location"] == url
    text = office.get(url).text
    assert "已确认" in text and "李办公室 于" in text and "确认预警" not in text
    assert "待升级" not in text and "无需升级" in text

    # another unit's alert reads as a missing one; a number that is no number, in Chinese
    refused = edu.get(url)
    assert refused.status_code == 404
    assert f"找不到预警 #{world.alert_id}，或它不属于您可查看的单位" in refused.text
    assert "南京鼓楼医院" not in refused.text
    assert edu.get("/alerts/99999").status_code == 404
    wrong = office.get("/alerts/abc", headers={"Accept": "text/html"})
    assert wrong.status_code == 422 and "编号应为数字" in wrong.text


# ---- acting ------------------------------------------------------------------------------------


def test_acknowledging_an_alert_with_htmx(world: World) -> None:
    office, edu = world.login("office"), world.login("edu")
    htmx = {"HX-Request": "true"}
    assert office.post(f"/alerts/{world.alert_id}/ack", headers=htmx).status_code == 403  # no CSRF token

    refused = edu.post(f"/alerts/{world.alert_id}/ack", headers={**htmx, "X-CSRF-Token": csrf_of(edu)})
    # another unit's alert: answered as a missing one
    assert refused.status_code == 404 and refused.headers["HX-Retarget"] == "#messages"
    assert f"找不到预警 #{world.alert_id}，或它不属于您可查看的单位" in refused.text

    token = csrf_of(office)
    done = office.post(f"/alerts/{world.alert_id}/ack", headers={**htmx, "X-CSRF-Token": token})
    assert done.status_code == 200
    assert done.text.lstrip().startswith(f'<tr id="alert-{world.alert_id}"')
    assert "已确认" in done.text and "李办公室" in done.text and "hx-post" not in done.text
    # the top bar's 待办 follows without a reload (it kept the acknowledged alert until one)
    assert (
        '<a id="todo-badge" class="badge quiet"' in done.text and 'hx-swap-oob="true">待办 0</a>' in done.text
    )
    assert alerts.list_alerts(world.rt)[0]["status"] == "acknowledged"

    again = office.post(f"/alerts/{world.alert_id}/ack", headers={**htmx, "X-CSRF-Token": token})
    assert again.status_code == 409 and "已确认，无需再次确认" in again.text

    actions = [(a, t) for a, t, _ in audit_actions(world.rt) if a == "alert.ack"]
    assert actions == [("alert.ack", f"alert:{world.alert_id}")] * 3  # refused, done, refused


def test_a_leader_withdraws_a_false_alarm_from_the_case_page(world: World) -> None:
    office, deputy = world.login("office"), world.login("deputy")
    opened = office.post("/cases/open", data={"alert_id": str(world.alert_id), "csrf_token": csrf_of(office)})
    case_url = opened.headers["location"].split("?")[0]
    case_id = int(case_url.rsplit("/", 1)[1])
    assert "撤销工单" not in office.get(case_url).text  # the office may not withdraw
    # nor is 结案 offered among the stages before the response: that is 撤销, a leader's
    stages = re.search(r'<select name="stage">(.*?)</select>', office.get(case_url).text, re.S)
    assert stages is not None and "报告" in stages.group(1) and "结案" not in stages.group(1)
    page = deputy.get(case_url).text
    assert f'action="/cases/{case_id}/withdraw"' in page
    token = csrf_of(deputy)
    api = f"/api/v1/cases/{case_id}/withdraw"
    empty = deputy.post(api, json={"reason": ""}, headers={"X-CSRF-Token": token})
    assert empty.status_code == 422 and "reason：至少 1 个字符" in empty.json()["error"]["message"]
    done = deputy.post(f"/cases/{case_id}/withdraw", data={"reason": "经核实为误报", "csrf_token": token})
    assert done.status_code == 303
    page = deputy.get(case_url).text
    assert "（已撤销：经核实为误报）" in page and "撤销工单" not in page
    # the alert list says who acknowledged it (opening the case did) and why it closed
    listed = deputy.get("/alerts").text
    assert "随工单结案或撤销关闭" in listed and "由李办公室确认" in listed


def test_the_office_follows_up_a_reported_case_from_its_page(world: World) -> None:
    office, duty = world.login("office"), world.login("duty")
    token = csrf_of(office)
    opened = office.post("/cases/open", data={"alert_id": str(world.alert_id), "csrf_token": token})
    case_url = opened.headers["location"].split("?")[0]
    case_id = int(case_url.rsplit("/", 1)[1])
    page = office.get(case_url).text
    assert f'<a href="/alerts/{world.alert_id}">#{world.alert_id}</a>' in page
    assert 'id="follow-up"' not in page  # not reported yet
    office.post(f"{case_url}/advance", data={"stage": "reported", "csrf_token": token})
    page = office.get(case_url).text
    assert 'id="follow-up"' in page and "上次报告：" in page
    assert 'id="follow-up"' not in duty.get(case_url).text
    api = f"/api/v1/cases/{case_id}/follow-up"
    refused = duty.post(api, json={"text": "已核实"}, headers={"X-CSRF-Token": csrf_of(duty)})
    assert refused.status_code == 403 and "无权续报" in refused.json()["error"]["message"]
    done = office.post(f"{case_url}/follow-up", data={"text": "调查组已进驻医院", "csrf_token": token})
    assert done.status_code == 303
    page = office.get(done.headers["location"]).text
    assert "续报已发送" in page and "第 1 次续报：调查组已进驻医院" in page
    answer = office.post(api, json={"text": "家属情绪平稳"}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200
    assert any(e["text"].startswith("第 2 次续报：家属情绪平稳") for e in answer.json()["timeline"])


def test_the_close_form_names_the_clocks_that_closing_ends(world: World) -> None:
    """A case closed with its press conference not held and its formal reply not given ended those
    clocks with no word on the form; the form now lists what closing ends, as the case's timeline
    records it afterwards."""
    from yuqing.cases import service as cases

    case_id = int(cases.open_case(world.rt, "李办公室", event_id=world.event_id)["id"])
    cases.advance(world.rt, case_id, "报告", "孙监测")
    cases.advance(world.rt, case_id, "研判", "李办公室", category="询问/质疑/诉求")
    cases.advance(world.rt, case_id, "处置", "李办公室")
    cases.draft_statement(world.rt, case_id, "李办公室", facts="医院已向家属致歉。")
    cases.approve(world.rt, case_id, "陈市长")
    cases.approve(world.rt, case_id, "周组员")
    cases.release(world.rt, case_id, "官方微博/微信", "李办公室")
    cases.advance(world.rt, case_id, "跟踪", "李办公室")
    form = world.login("deputy").get(f"/cases/{case_id}").text.split("<h3>结案</h3>")[1].split("</form>")[0]
    # released on Weibo, so the 特别重大's press conference was never held
    assert "⚠ 尚有未完成的时限：召开新闻发布会（应于 11-21 09:00）、出具答复意见（应于 11-27 17:30）" in form
    assert "结案后这些时限随结案终止" in form


def test_a_case_goes_from_the_event_page_through_approval_to_release_by_forms(world: World) -> None:
    office, deputy = world.login("office"), world.login("deputy")
    chief, group = world.login("chief"), world.login("group")
    token = csrf_of(office)

    opened = office.post("/cases/open", data={"event_id": str(world.event_id), "csrf_token": token})
    assert opened.status_code == 303
    case_url = opened.headers["location"].split("?")[0]
    case_id = int(case_url.rsplit("/", 1)[1])
    page = office.get(opened.headers["location"])
    assert "工单已开立" in page.text and "向上级报告" in page.text and 'data-due="2026-11-20T' in page.text
    again = office.post("/cases/open", data={"event_id": str(world.event_id), "csrf_token": token})
    assert again.status_code == 400 and f"已有未结案的工单 #{case_id}" in again.text
    assert f'<a href="/cases/{case_id}">查看工单 #{case_id}</a>' in again.text
    assert "开立工单" not in office.get(f"/events/{world.event_id}").text.split("定级依据")[0]

    def post(client: TestClient, action: str, **form: str) -> str:
        response = client.post(f"{case_url}/{action}", data={**form, "csrf_token": csrf_of(client)})
        assert response.status_code == 303, response.text
        return client.get(response.headers["location"]).text

    post(office, "advance", stage="reported")
    refused = office.post(f"{case_url}/advance", data={"stage": "assessed", "csrf_token": token})
    assert refused.status_code == 409 and "尚未确定舆情类别" in refused.text
    post(office, "advance", stage="assessed", category="捏造/歪曲/谣言/诽谤")
    shown = post(office, "advance", stage="disposing")
    assert "处置" in shown and "发布事实真相" in shown
    shown = post(
        office, "statement", facts="11月20日上午，鼓楼医院一名产妇术中死亡。", progress="已成立调查组。"
    )
    assert "第 1 稿" in shown and "主要领导、领导小组成员" in shown
    # the next draft starts from this one: the office edits a rejected draft instead of retyping it
    assert "已带入第 1 稿的内容" in shown
    # a task goes to the unit, its departments or another body, not to the government above it
    offered = shown.split('<select name="unit">', 1)[1].split("</select>", 1)[0]
    assert "市教育局" in offered and "市卫生健康委员会" in offered and "南京市人民政府" not in offered
    assert ">11月20日上午，鼓楼医院一名产妇术中死亡。</textarea>" in shown
    assert ">已成立调查组。</textarea>" in shown

    early = office.post(f"{case_url}/release", data={"channel": "新闻发布会", "csrf_token": token})
    assert early.status_code == 403 and "尚未获得全部审批" in early.text
    denied = deputy.post(f"{case_url}/approve", data={"decision": "approve", "csrf_token": csrf_of(deputy)})
    assert denied.status_code == 403
    assert "赵分管 不能审批此声明：尚需 主要领导、领导小组成员 审批" in denied.text
    # the form names the draft shown; a second draft saved meanwhile is not approved unread
    page = chief.get(case_url).text
    assert '<input type="hidden" name="version" value="1">' in page
    post(office, "statement", facts="11月20日上午，鼓楼医院一名产妇术中死亡，家属情绪稳定。")
    read_first = chief.post(
        f"{case_url}/approve", data={"decision": "approve", "version": "1", "csrf_token": csrf_of(chief)}
    )
    assert read_first.status_code == 409 and "第 1 稿已不是最新稿" in read_first.text
    post(chief, "approve", decision="approve", comment="同意", version="2")
    post(group, "approve", decision="approve")
    released = post(office, "release", channel="新闻发布会")
    assert "已于" in released and "通过「新闻发布会」发布" in released

    view = cases.show(world.rt, case_id)
    states = {d["kind"]: d["state"] for d in view["deadlines"]}
    assert states["release"] == "met" and states["press_conference"] == "met"
    assert {e["via"] for e in view["timeline"]} == {"web", "system"}
    assert [e["actor"] for e in view["timeline"] if e["action"] == "approve"] == ["陈市长", "周组员"]

    post(office, "advance", stage="following")
    post(office, "tasks", unit="市卫生健康委员会", text="配合调查", hours="24")
    task_id = cases.show(world.rt, case_id)["tasks"][0]["id"]
    blocked = office.post(f"{case_url}/close", data={"summary": "已平息", "csrf_token": token})
    assert blocked.status_code == 409 and "还有 1 项部门任务未完成" in blocked.text
    post(office, f"tasks/{task_id}/done", result="已完成调查")
    closed = post(deputy, "close", summary="事件已平息。")
    assert "工单已结案" in closed and "结案时间" in closed
    # The event flares up again: its page offers to reopen the closed case (舆情反复), which goes
    # back to 处置 with its record, rather than a second case with every clock restarted.
    event_page = office.get(f"/events/{world.event_id}").text
    assert f"重新开启工单 #{case_id}" in event_page and "开立新工单" in event_page
    reopened = office.post(
        f"{case_url}/advance",
        data={"stage": "disposing", "note": "舆情反复，重新处置", "csrf_token": csrf_of(office)},
    )
    assert reopened.status_code == 303
    view = cases.show(world.rt, case_id)
    assert (view["stage"], view["reopened"]) == ("disposing", 1)
    assert any("结案 → 处置：舆情反复，重新处置" in e["text"] for e in view["timeline"])

    audited = [(a, d) for a, t, d in audit_actions(world.rt) if t == f"case:{case_id}"]
    assert ("case.release", {"channel": "新闻发布会"}) in audited
    assert any(a == "case.approve" and d and d.get("status") == 403 for a, d in audited)


def test_a_post_without_the_csrf_token_changes_nothing(world: World) -> None:
    office = world.login("office")
    case = cases.open_case(world.rt, "李办公室", event_id=world.event_id)
    for data in ({"stage": "reported"}, {"stage": "reported", "csrf_token": "forged"}):
        refused = office.post(f"/cases/{case['id']}/advance", data=data)
        assert refused.status_code == 403 and "安全令牌" in refused.text
    assert cases.show(world.rt, case["id"])["stage"] == "detected"
    assert office.post("/cases/open", data={"event_id": str(world.event_id)}).status_code == 403
    assert office.post("/logout").status_code == 403
    # Another site's form cannot log the user out either; with the token it works.
    out = office.post("/logout", data={"csrf_token": csrf_of(office)})
    assert out.status_code == 303 and office.get("/").headers["location"] == "/login"


def test_links_from_collected_data_are_only_http(world: World) -> None:
    import_posts(
        world.rt,
        [
            {
                "id": "j1",
                "url": "javascript:alert(document.cookie)",
                "text": "江苏南京某学校食堂发生投诉事故，学生家长在学校门口聚集。",
                "published_at": "2026-11-20T08:30:00+08:00",
            }
        ],
        "b.jsonl",
    )
    office = world.login("office")
    page = office.get("/posts", params={"q": "食堂"})
    assert page.text.count('class="post"') == 1 and "学生家长在学校门口聚集" in page.text
    assert "javascript:" not in page.text and "原文" not in page.text


def test_an_unacknowledged_alert_waits_in_the_to_do_of_those_it_reached(world: World) -> None:
    """待办 counts the alerts that reached a person and nobody has acknowledged: the duty officer
    first, the office once the escalation reaches it; acknowledging clears them."""
    duty_officer = world.login("duty")
    page = duty_officer.get("/me/todo").text
    assert '待我确认的预警 <span class="count">1</span>' in page
    assert f'href="/alerts/{world.alert_id}"' in page and "尚无人确认" in page
    assert "待办 1" in duty_officer.get("/").text
    listed = duty_officer.get("/api/v1/me/todo").json()  # the same for scripts and apps
    assert listed["count"] == 1 and [a["id"] for a in listed["alerts"]] == [world.alert_id]
    assert listed["alerts"][0]["grade"] == "特别重大" and listed["tasks"] == listed["approvals"] == []
    office = world.login("office")
    assert "没有待确认的预警" in office.get("/me/todo").text  # not told yet
    world.clock.advance(minutes=7)  # a 特别重大 reaches the office after 6 minutes
    assert alerts.escalate_due(world.rt) == 1
    escalated = office.get("/me/todo").text
    assert f'href="/alerts/{world.alert_id}"' in escalated and "（未确认而升级的通知）" in escalated
    alerts.acknowledge(world.rt, world.alert_id, "王值班")
    for client in (duty_officer, office):
        assert "没有待确认的预警" in client.get("/me/todo").text
    assert "没有待确认的预警" in world.login("edu").get("/me/todo").text  # another unit's alert


def test_the_dashboard_shows_the_report_clock_of_an_alert_before_its_case(world: World) -> None:
    """A 特别重大 alert's one-hour report clock runs from the alert (PRODUCT.md §2.3), before anyone
    opens a case: the dashboard's alert list says by when, and that it has passed."""
    office = world.login("office")
    panel = office.get("/").text
    assert "尚未开立工单，按预案须于 11-20 10:00 前向上级报告" in panel and "已超时" not in panel
    world.clock.advance(minutes=75)  # 10:15
    assert "按预案须于 11-20 10:00 前向上级报告，已超时 15 分钟" in office.get("/dashboard/panels").text
    office.post("/cases/open", data={"alert_id": str(world.alert_id), "csrf_token": csrf_of(office)})
    assert "尚未开立工单" not in office.get("/").text  # the case's clock counts now


def test_the_event_page_asks_for_a_new_grade_after_an_official_rebuttal(world: World) -> None:
    office = world.login("office")
    page = office.get(f"/events/{world.event_id}")
    assert "定级后出现官方辟谣" not in page.text
    import_posts(
        world.rt,
        [
            {
                "id": "g1",
                "text": "【辟谣】经查证，南京鼓楼医院未发生此事，请勿传播。//@网友:" + HOSPITAL,
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-20T09:00:00+08:00",
                "verified": True,
                "verified_type": 1,
            }
        ],
        "rebuttal.jsonl",
    )
    AnalysisPipeline(world.rt).run()
    page = office.get(f"/events/{world.event_id}")
    assert "特别重大" in page.text  # not lowered by itself
    assert "⚠ 定级后出现官方辟谣：1 条主流媒体或政务、媒体账号信息称事件不实" in page.text
    assert "系统不自动降级，请研判是否调整分级" in page.text


def test_the_event_page_shows_an_official_rebuttal_of_an_event_graded_on_its_tone(world: World) -> None:
    """A 一般 event graded on its negative posts, not on deaths: a rebuttal asks for no new grade,
    but whoever judges its category reads that it was officially denied."""
    complaint = "南京市第一医院被患者家属投诉乱收费，一次门诊收了三千多元，家属非常气愤，要求医院退费"
    rows: list[dict[str, object]] = [
        {"id": f"k{i}", "text": f"{complaint}{tail}", "published_at": f"2026-11-20T08:{10 * i:02d}:00+08:00"}
        for i, tail in enumerate(("。", "，太黑心了！", "，这样的医院怎么让人放心？"))
    ]
    rows.append(
        {
            "id": "k-denied",
            "text": "【辟谣】经查证，南京市第一医院被投诉乱收费三千多元一事与事实不符，费用均按规定收取。",
            "published_at": "2026-11-20T09:00:00+08:00",
            "verified": True,
            "verified_type": 1,
        }
    )
    import_posts(world.rt, rows[:3], "complaint.jsonl")
    AnalysisPipeline(world.rt).run()
    with world.rt.sessions() as session:
        event_id, grade = session.execute(
            select(PostAnalysis.event_id, Event.grade_code)
            .join(Post, Post.id == PostAnalysis.post_id)
            .join(Event, Event.id == PostAnalysis.event_id)
            .where(Post.external_id == "k0")
        ).one()
    assert grade == "IV"
    import_posts(world.rt, rows[3:], "denied.jsonl")
    AnalysisPipeline(world.rt).run()
    page = world.login("office").get(f"/events/{event_id}").text
    assert "定级后出现官方辟谣" not in page  # the grade never rested on what was denied
    assert "已有官方辟谣：1 条主流媒体或政务、媒体账号信息称事件不实" in page
    assert "研判舆情类别和处置措施时请参考" in page


def test_an_event_telling_a_story_told_before_links_the_earlier_event(world: World) -> None:
    """The same text about another hospital (or a rumour coming back after its event closed): the
    event page and its alert name the earlier event, whose handling the office reads first."""
    template = "患者家属投诉{}误诊，孩子高烧三天被当作普通感冒，延误治疗住进重症监护室，要求医院道歉。"
    rows: list[dict[str, object]] = [
        {
            "id": f"t{i}{j}",
            "text": template.format(hospital) + "！" * j,
            "url": f"https://site{i}{j}.cn/news/1.html",
            "published_at": f"2026-11-20T0{8 + i}:0{j}:00+08:00",
        }
        for i, hospital in enumerate(("南京市第一医院", "南京市中大医院"))
        for j in range(3)
    ]
    import_posts(world.rt, rows, "template.jsonl")
    AnalysisPipeline(world.rt).run()
    followup.run_once(world.rt)
    with world.rt.sessions() as session:
        first, second = (
            session.scalars(
                select(PostAnalysis.event_id)
                .join(Post, Post.id == PostAnalysis.post_id)
                .where(Post.external_id == external)
            ).one()
            for external in ("t00", "t10")
        )
    assert first != second
    office = world.login("office")
    assert 'id="earlier"' not in office.get(f"/events/{first}").text
    page = office.get(f"/events/{second}").text
    assert "相似信息此前出现过：" in page and f'href="/events/{first}">事件 #{first}「' in page
    with world.rt.sessions() as session:
        told = [
            str(n.payload)
            for n in session.scalars(select(Notification).where(Notification.subject_kind == "alert"))
            if "南京市中大医院" in str(n.payload)
        ]
    assert told and all(f"相似信息此前出现过：事件 #{first}（首发于 2026-11-20" in t for t in told), told


def test_a_case_is_opened_from_a_posts_page(world: World) -> None:
    """A 监测员 who spots a post in no event opens a case on it from its page (it took the API)."""
    import_posts(
        world.rt,
        [
            {
                "id": "lone",
                "text": "网友反映南京某小区垃圾堆放多日无人清理，气味很大。",
                "published_at": "2026-11-20T09:00:00+08:00",
            }
        ],
        "lone.jsonl",
    )
    AnalysisPipeline(world.rt).run()
    with world.rt.sessions() as session:
        post_id = session.scalar(select(Post.id).where(Post.external_id == "lone"))
    monitor = world.login("monitor")
    page = monitor.get(f"/posts/{post_id}")
    assert 'id="open-from-post"' in page.text and "开立工单" in page.text
    opened = monitor.post("/cases/open", data={"post_id": str(post_id), "csrf_token": csrf_of(monitor)})
    assert opened.status_code == 303
    case_url = opened.headers["location"].split("?")[0]
    case_page = monitor.get(case_url).text
    assert "网友反映南京某小区垃圾堆放多日无人清理" in case_page
    # opened once: the page no longer offers it
    assert 'id="open-from-post"' not in monitor.get(f"/posts/{post_id}").text
