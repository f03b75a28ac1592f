"""演练 in the console and /api/v1/drills through the real app over real databases: the shipped
scenarios listed, an office starting a drill from the form, the server's drill worker replaying it
while the watch page (and its reloaded panel) shows the posts, events and alerts it produces;
pausing, resuming and stopping as the state table allows; who is refused; the 演练总结 generated
from the drill's page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import FakeClock
from tests.drills.conftest import setup_org
from tests.web.test_pages import PASSWORD, audit_actions, csrf_of
from yuqing.accounts import service as accounts
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.cases import followup
from yuqing.cases import service as cases
from yuqing.db import transaction
from yuqing.drills import service as drills
from yuqing.drills.models import Drill
from yuqing.drills.runner import DrillWorker, step
from yuqing.drills.scenario import load_scenario
from yuqing.ingest.store import PostWriter
from yuqing.org import service as org
from yuqing.reports.models import Report
from yuqing.runtime import Runtime
from yuqing.web.app import create_app

LOGINS = {"王值班": "duty", "李办公室": "office", "赵分管": "deputy", "钱联络": "liaison"}
HOSPITAL, _ = load_scenario("hospital_rumour")
REFRESH = 'hx-trigger="every 5s"'


@pytest.fixture(autouse=True)
def _quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with parameters cheap enough for a test suite."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class DrillWorld:
    rt: Runtime
    clock: FakeClock
    clients: list[TestClient] = field(default_factory=list)

    def login(self, login: str) -> TestClient:
        client = TestClient(create_app(self.rt), follow_redirects=False)
        self.clients.append(client)
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        signed_in = client.post(
            "/login", data={"login": login, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
        )
        assert signed_in.status_code == 303, signed_in.text
        return client

    def person(self, name: str) -> int:
        with self.rt.sessions() as session:
            return org.find_person(session, name).id

    def drill(self, drill_id: int) -> Drill:
        with self.rt.sessions() as session:
            found = session.get(Drill, drill_id)
            assert found is not None
            return found

    def drill_count(self) -> int:
        with self.rt.sessions() as session:
            return session.scalar(select(func.count()).select_from(Drill)) or 0

    def serve(self, **forward: float) -> None:
        """What `yuqing serve` does meanwhile: the clock moves, the drill worker feeds what fell
        due, the pipeline analyses it and the response duties raise the alerts."""
        self.clock.advance(**forward)
        DrillWorker(self.rt).work()
        AnalysisPipeline(self.rt).run()
        followup.run_once(self.rt)


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> Iterator[DrillWorld]:
    """The drill tests' organisation (with the topic that catches the hospital scenario), people
    who sign in, and an administrator (login `admin`)."""
    setup_org(rt)
    with transaction(rt.sessions) as session:
        for name, login in LOGINS.items():
            accounts.create_account(session, org.find_person(session, name).id, login, PASSWORD, now=clock())
        city = org.find_unit(session, "演练市人民政府")
        admin = org.add_person(session, "刘管理", city.id)
        org.grant_role(session, admin.id, "admin", city.id)
        accounts.create_account(session, admin.id, "admin", PASSWORD, now=clock())
    built = DrillWorld(rt, clock)
    yield built
    for client in built.clients:
        client.close()


def start_form(client: TestClient, **fields: str | list[str]) -> dict[str, str | list[str]]:
    return {"scenario": "hospital_rumour", "speed": "60", **fields, "csrf_token": csrf_of(client)}


def drill_id_of(location: str) -> int:
    found = re.fullmatch(r"/drills/(\d+)\?done=drill_start", location)
    assert found is not None, location
    return int(found.group(1))


def buttons(page: str) -> list[str]:
    """The state buttons on a drill's page, in order."""
    return re.findall(r'action="/drills/\d+/(start|pause|resume|stop)"', page)


def test_the_drills_page_lists_the_shipped_scenarios_and_offers_the_form_to_the_office(
    world: DrillWorld,
) -> None:
    with transaction(world.rt.sessions) as session:
        city = org.find_unit(session, "演练市人民政府")
        schools = org.create_unit(session, "市教育局", parent_id=city.id, kind="bureau")
        org.add_person(session, "孔教育", schools.id)
    office = world.login("office")
    page = office.get("/drills")
    assert page.status_code == 200
    # In the bar, right after 报告.
    assert re.search(r'href="/reports"[^>]*>报告</a>\s*<a href="/drills" class="active"', page.text)
    for scenario in drills.list_scenarios():
        row = page.text.split(f'id="scenario-{scenario["key"]}"', 1)[1].split("</tr>", 1)[0]
        assert scenario["name"] in row and f"{scenario['posts']} 条" in row
        grade = scenario["expect_grade"] or "—"  # a scenario the pipeline grades by itself, or none
        assert f"等级：{grade}" in row and f"类别：{scenario['expect_category']}" in row
    hospital = page.text.split('id="scenario-hospital_rumour"', 1)[1].split("</tr>", 1)[0]
    assert f"{len(HOSPITAL.posts)} 条" in hospital and "22.7 小时" in hospital
    assert "信息报送：60 分钟内向上级报告（工单进入「报告」）" in hospital
    assert "自情景注入「上级要求报送」送达起" in hospital and "自首条预警起" in hospital
    assert "社会稳定评估：120 分钟内完成研判（工单进入「研判」）" in hospital
    assert "第 30 分钟 记者来电" in hospital
    assert "创建并开始演练" in page.text and "演练由后台（yuqing serve）按设定倍速回放" in page.text
    # Participants come from the people; outside channels stay off, only an administrator may tick them.
    option = f'<option value="{world.person("赵分管")}">赵分管（市卫生健康委员会 · 分管领导）</option>'
    assert option in page.text
    # another bureau's people are not offered: the drill would refuse them
    assert "孔教育" not in page.text and "刘管理" in page.text
    assert re.search(r'name="allow_external" value="1"\s+disabled>', page.text)
    assert "仅管理员可以勾选" in page.text
    assert "尚无演练" in page.text

    duty = world.login("duty").get("/drills")
    assert duty.status_code == 200 and "医院" in duty.text
    assert "创建并开始演练" not in duty.text and "开始、暂停和结束演练需要办公室或管理员角色" in duty.text
    admin = world.login("admin").get("/drills")
    assert re.search(r'name="allow_external" value="1"\s*>', admin.text)
    assert "仅管理员可以勾选" not in admin.text


def test_an_office_starts_a_drill_the_server_replays_it_and_the_page_watches_it(world: DrillWorld) -> None:
    office = world.login("office")
    participants = [str(world.person("李办公室")), str(world.person("赵分管"))]
    made = office.post("/drills", data=start_form(office, participants=participants))
    assert made.status_code == 303
    drill_id = drill_id_of(made.headers["location"])
    stored = world.drill(drill_id)
    assert (stored.state, stored.runner, stored.speed) == ("running", "server", 60.0)
    assert stored.participants == [int(p) for p in participants] and stored.allow_external is False

    page = office.get(made.headers["location"])
    assert page.status_code == 200
    assert "演练已开始" in page.text and '<span class="drill-state state-running">进行中</span>' in page.text
    assert "演练由后台（yuqing serve）按设定倍速回放" in page.text
    assert buttons(page.text) == ["pause", "stop"] and ">暂停</button>" in page.text
    assert f'hx-get="/drills/{drill_id}/panel" {REFRESH}' in page.text
    assert f"信息 0 / {len(HOSPITAL.posts)} 条" in page.text and "尚无预警" in page.text
    assert "演练开始（系统后台回放），60 倍速" in page.text and "（操作：李办公室，控制台）" in page.text
    assert '李办公室<span class="meta">（办公室（市卫生健康委员会））</span>' in page.text
    assert "不允许（仅站内通知）" in page.text
    # Nothing was replayed inside the request: the server's worker does that.
    assert world.drill(drill_id).posts_fed == 0

    # Two scenario hours at 60×: two real minutes.
    world.serve(minutes=2)
    status = drills.drill_status(world.rt, drill_id)
    fed = status["posts_fed"]
    assert 0 < fed < len(HOSPITAL.posts) and status["events"] and status["alerts"], status["log"]
    assert status["injects_fed"] == 3  # 30, 60 and 90 scenario minutes
    alert_id, event_id = status["alerts"][0], status["events"][0]

    for shown in (office.get(f"/drills/{drill_id}"), office.get(f"/drills/{drill_id}/panel")):
        assert shown.status_code == 200
        assert f"信息 {fed} / {len(HOSPITAL.posts)} 条" in shown.text
        assert f'href="/events/{event_id}"' in shown.text
        row = shown.text.split(f'id="alert-{alert_id}"', 1)[1].split("</tr>", 1)[0]
        assert '<span class="tag drill">演练</span>' in row and "待确认" in row
        assert "情景注入「上级要求报送」" in shown.text and "通知：李办公室" in shown.text
        assert "回放信息" in shown.text
        # The score is live: the subjects' clocks started with the first alert.
        assert "信息报送" in shown.text and "进行中" in shown.text
    # A case the city opened on the drill's event is the city's: the commission's office watching
    # the drill sees neither it nor its timeline lines, the administrator sees both.
    above = cases.open_case(world.rt, "刘管理", event_id=event_id, unit_ref="演练市人民政府")
    assert above["unit"] == "演练市人民政府"
    hidden = office.get(f"/drills/{drill_id}").text
    assert f'href="/cases/{above["id"]}"' not in hidden and f"工单 #{above['id']}" not in hidden
    seen = world.login("admin").get(f"/drills/{drill_id}").text
    assert f'href="/cases/{above["id"]}"' in seen and f"工单 #{above['id']}" in seen
    panel = office.get(f"/drills/{drill_id}/panel")
    assert 'id="drill-panel"' in panel.text
    assert REFRESH in panel.text and "<html" not in panel.text

    paused = office.post(f"/drills/{drill_id}/pause", data={"csrf_token": csrf_of(office)})
    assert paused.status_code == 303 and paused.headers["location"] == f"/drills/{drill_id}?done=drill_pause"
    page = office.get(paused.headers["location"])
    assert "演练已暂停" in page.text and '<span class="drill-state state-paused">已暂停</span>' in page.text
    assert buttons(page.text) == ["resume", "stop"] and ">继续</button>" in page.text
    assert ">暂停</button>" not in page.text
    world.serve(minutes=30)  # the paused drill's clock stands still
    assert world.drill(drill_id).posts_fed == fed

    resumed = office.post(f"/drills/{drill_id}/resume", data={"csrf_token": csrf_of(office)})
    assert resumed.status_code == 303
    assert buttons(office.get(f"/drills/{drill_id}").text) == ["pause", "stop"]
    world.serve(minutes=1)
    assert world.drill(drill_id).posts_fed > fed

    stopped = office.post(f"/drills/{drill_id}/stop", data={"csrf_token": csrf_of(office)})
    assert stopped.status_code == 303
    page = office.get(stopped.headers["location"])
    assert "演练已结束" in page.text and '<span class="drill-state state-stopped">已停止</span>' in page.text
    assert buttons(page.text) == [] and REFRESH not in page.text  # the panel stops reloading
    assert REFRESH not in office.get(f"/drills/{drill_id}/panel").text
    # Stopping twice is refused with what the state table allows.
    again = office.post(f"/drills/{drill_id}/stop", data={"csrf_token": csrf_of(office)})
    assert again.status_code == 409 and f"演练 #{drill_id} 已停止，不能「停止」；演练已结束" in again.text

    listed = office.get("/drills").text
    row = listed.split(f'id="drill-{drill_id}"', 1)[1].split("</tr>", 1)[0]
    score = drills.score_drill(world.rt, drill_id)
    assert "已停止" in row and f"{world.drill(drill_id).posts_fed}/{len(HOSPITAL.posts)}" in row
    assert f"{score['overall']:g} 分（{score['rating']}）" in row and "3/3" in row
    logged = [(a, t) for a, t, _ in audit_actions(world.rt) if a.startswith("drill.")]
    assert logged == [
        ("drill.create", f"drill:{drill_id}"),
        ("drill.pause", f"drill:{drill_id}"),
        ("drill.resume", f"drill:{drill_id}"),
        ("drill.stop", f"drill:{drill_id}"),
        ("drill.stop", f"drill:{drill_id}"),
    ]


def test_people_without_the_role_or_the_token_are_refused_and_nothing_changes(world: DrillWorld) -> None:
    duty = world.login("duty")
    refused = duty.post("/drills", data=start_form(duty))
    assert refused.status_code == 403
    assert "王值班 不是办公室人员或管理员，不能开始、暂停或结束演练" in refused.text
    assert world.drill_count() == 0

    office = world.login("office")
    no_token = office.post("/drills", data={"scenario": "hospital_rumour", "speed": "60"})
    assert no_token.status_code == 403 and "安全令牌" in no_token.text and world.drill_count() == 0
    outside = office.post("/drills", data=start_form(office, allow_external="1"))
    assert outside.status_code == 403 and "只有管理员可以允许演练通知发送到外部渠道" in outside.text
    # Only the shipped scenarios: a browser cannot name a file on the server.
    path = office.post("/drills", data=start_form(office, scenario="/etc/hosts"))
    assert path.status_code == 400 and "未知的内置场景 &#39;/etc/hosts&#39;（可选：" in path.text
    slow = office.post("/drills", data=start_form(office, speed="0"))
    assert slow.status_code == 400 and "倍速应为大于 0 的数" in slow.text
    nobody = office.post("/drills", data=start_form(office, participants=["没这个人"]))
    assert nobody.status_code == 404 and "找不到人员 没这个人" in nobody.text
    assert world.drill_count() == 0

    drill_id = drill_id_of(office.post("/drills", data=start_form(office)).headers["location"])
    paused = duty.post(f"/drills/{drill_id}/pause", data={"csrf_token": csrf_of(duty)})
    assert paused.status_code == 403 and "王值班 不是办公室人员或管理员" in paused.text
    assert world.drill(drill_id).state == "running"
    # Everyone may watch; only the buttons are withheld.
    watched = duty.get(f"/drills/{drill_id}")
    assert watched.status_code == 200 and "进行中" in watched.text and buttons(watched.text) == []
    assert "生成演练总结" not in watched.text
    tokenless = office.post(f"/drills/{drill_id}/stop")
    assert tokenless.status_code == 403 and world.drill(drill_id).state == "running"
    assert office.get("/drills/999").status_code == 404
    assert "找不到演练 #999" in office.post("/drills/999/pause", data={"csrf_token": csrf_of(office)}).text

    admin = world.login("admin")
    allowed = admin.post("/drills", data=start_form(admin, allow_external="1"))
    assert allowed.status_code == 303
    assert world.drill(drill_id_of(allowed.headers["location"])).allow_external is True

    refusals = [
        (a, (d or {}).get("status")) for a, _t, d in audit_actions(world.rt) if (d or {}).get("refused")
    ]
    assert refusals == [
        ("drill.create", 403),
        ("drill.create", 403),
        ("drill.create", 400),
        ("drill.create", 400),
        ("drill.create", 404),
        ("drill.pause", 403),
        ("drill.pause", 404),
    ]


def test_the_api_lists_creates_pauses_and_stops_drills(world: DrillWorld) -> None:
    office = world.login("office")
    token = {"X-CSRF-Token": csrf_of(office)}
    scenarios = office.get("/api/v1/drills/scenarios").json()["items"]
    assert [s["key"] for s in scenarios] == ["chemical_plant_rumour", "hospital_rumour", "school_food_rumour"]
    body = {"scenario": "school_food_rumour", "speed": 12, "participants": [world.person("李办公室"), "zhao"]}
    assert office.post("/api/v1/drills", json=body).status_code == 403  # no token
    unknown_person = office.post("/api/v1/drills", json=body, headers=token)
    assert unknown_person.status_code == 404
    assert "找不到人员 zhao" in unknown_person.json()["error"]["message"]
    body["participants"] = [world.person("李办公室"), "赵分管"]
    made = office.post("/api/v1/drills", json=body, headers=token)
    assert made.status_code == 201
    created = made.json()
    assert created["state"] == "running" and created["participants"] == ["李办公室", "赵分管"]
    drill_id = created["id"]
    assert office.post("/api/v1/drills", json={**body, "speed": 0}, headers=token).status_code == 422

    world.serve(minutes=5)
    shown = office.get(f"/api/v1/drills/{drill_id}").json()
    assert shown["posts_fed"] > 0 and shown["log"][0]["text"].startswith("创建演练：场景「")
    assert "（操作：李办公室，接口）" in shown["log"][0]["text"]
    assert [s["name"] for s in shown["score"]["subjects"]][:4] == [
        "现场信息发布",
        "重大事件信息发布",
        "突发事件现场协调",
        "社会稳定评估",
    ]
    assert [d["id"] for d in office.get("/api/v1/drills").json()["items"]] == [drill_id]

    duty = world.login("duty")
    refused = duty.post(f"/api/v1/drills/{drill_id}/pause", headers={"X-CSRF-Token": csrf_of(duty)})
    assert refused.status_code == 403 and "不能开始、暂停或结束演练" in refused.json()["error"]["message"]
    paused = office.post(f"/api/v1/drills/{drill_id}/pause", headers=token)
    assert paused.status_code == 200 and paused.json()["state_label"] == "已暂停"
    assert office.post(f"/api/v1/drills/{drill_id}/pause", headers=token).status_code == 409
    assert office.post(f"/api/v1/drills/{drill_id}/jump", headers=token).status_code == 422
    stopped = office.post(f"/api/v1/drills/{drill_id}/stop", headers=token)
    assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
    assert office.get("/api/v1/drills/999").json()["error"]["status"] == 404
    actions = [a for a, _t, _d in audit_actions(world.rt) if a.startswith("drill.")]
    assert actions == [
        "drill.create",  # refused: nobody called zhao
        "drill.create",
        "drill.pause",  # refused: the duty officer
        "drill.pause",
        "drill.pause",  # refused: already paused
        "drill.stop",
    ]


def test_the_drill_report_is_generated_from_the_drill_page(world: DrillWorld) -> None:
    office = world.login("office")
    made = office.post("/drills", data=start_form(office, participants=[str(world.person("李办公室"))]))
    drill_id = drill_id_of(made.headers["location"])
    world.serve(minutes=2)
    page = office.get(f"/drills/{drill_id}").text
    assert "生成演练总结" in page and f'name="drill_id" value="{drill_id}"' in page
    generated = office.post(
        "/reports",
        data={"kind": "drill", "drill_id": str(drill_id), "format": "html", "csrf_token": csrf_of(office)},
    )
    assert generated.status_code == 303
    location = generated.headers["location"]
    assert re.fullmatch(r"/reports/\d+\?done=report", location)
    shown = office.get(location)
    assert "报告已生成并归档" in shown.text and f"{HOSPITAL.name}应急演练总结" in shown.text
    with world.rt.sessions() as session:
        report = session.scalars(select(Report)).one()
        assert report.kind == "drill" and report.is_drill and report.via == "web"
    missing = office.post("/reports", data={"kind": "drill", "format": "html", "csrf_token": csrf_of(office)})
    assert missing.status_code == 400 and "演练总结需要演练编号" in missing.text
    assert "（drill_id）" not in missing.text  # the console names no API field
    wrong = office.post(
        "/reports", data={"kind": "drill", "drill_id": "x", "format": "html", "csrf_token": csrf_of(office)}
    )
    assert wrong.status_code == 400 and "演练编号应为数字" in wrong.text
    api = office.post(
        "/api/v1/reports",
        json={"kind": "drill", "drill_id": drill_id, "format": "html"},
        headers={"X-CSRF-Token": csrf_of(office)},
    )
    assert api.status_code == 200 and api.json()["kind"] == "drill" and api.json()["is_drill"] is True


def test_a_drill_created_at_the_command_line_is_started_from_its_page(world: DrillWorld) -> None:
    # The command line names the unit that runs the drill (without one it is the top unit's).
    created = drills.create_drill(world.rt, "hospital_rumour", speed=60, unit="市卫生健康委员会")
    office = world.login("office")
    page = office.get(f"/drills/{created['id']}")
    assert "未开始" in page.text and buttons(page.text) == ["start", "stop"]
    assert REFRESH not in page.text and "生成演练总结" not in page.text
    started = office.post(f"/drills/{created['id']}/start", data={"csrf_token": csrf_of(office)})
    assert started.status_code == 303 and started.headers["location"].endswith("?done=drill_start")
    writer = PostWriter(world.rt.sessions, world.rt.settings, world.rt.clock)
    assert step(world.rt, created["id"], writer).posts == 1  # the original, at scenario second 0
    page = office.get(f"/drills/{created['id']}")
    assert f"信息 1 / {len(HOSPITAL.posts)} 条" in page.text and REFRESH in page.text
