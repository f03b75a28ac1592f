"""The rest of the console through the real app over real databases, with people who sign in through
/login: the 专题 editor and its rule tester, the 值班 calendar and roster changes, 设置 (the plan
profile, the settings in force, the holiday calendar), changing one's own password, and one post."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from tests.conftest import FakeClock
from tests.web.test_pages import PASSWORD, World, audit_actions, build_world, csrf_of, import_posts
from yuqing.accounts import service as accounts
from yuqing.accounts.models import AccountLocked, AuditEntry, AuthenticationFailed
from yuqing.analysis import topics
from yuqing.analysis.grading import DEFAULT_PROFILE
from yuqing.cases import plan
from yuqing.cases import service as cases
from yuqing.db import transaction
from yuqing.ingest.models import Post, Source
from yuqing.org import duty
from yuqing.org import service as org
from yuqing.runtime import Runtime
from yuqing.workcal.service import import_holidays

SHANGHAI = duty.SHANGHAI
HOSPITAL_RULE = "@地域 + @主体 + (投诉|事故|死亡) - 招聘"


@pytest.fixture(autouse=True)
def _quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with parameters cheap enough for a test suite."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> Iterator[World]:
    """The graded event of test_pages, plus an administrator (login `admin`)."""
    built = build_world(rt, clock)
    with transaction(rt.sessions) as session:
        city = org.find_unit(session, "南京市人民政府")
        person = org.add_person(session, "刘管理", city.id)
        org.grant_role(session, person.id, "admin", city.id)
        accounts.create_account(session, person.id, "admin", PASSWORD, now=clock())
    yield built
    for client in built.clients:
        client.close()
    plan.forget_loaded_profiles()


def unit_id(rt: Runtime, name: str) -> int:
    with rt.sessions() as session:
        return org.find_unit(session, name).id


def person_id(rt: Runtime, name: str) -> int:
    with rt.sessions() as session:
        return org.find_person(session, name).id


def post_id(rt: Runtime, external_id: str) -> int:
    with rt.sessions() as session:
        return session.scalars(select(Post.id).where(Post.external_id == external_id)).one()


def form(client: TestClient, **fields: str) -> dict[str, str]:
    return {**fields, "csrf_token": csrf_of(client)}


def htmx(client: TestClient) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": csrf_of(client)}


# ---- 专题 ----------------------------------------------------------------------------------------


def test_a_monitor_adds_changes_and_switches_off_a_topic(world: World) -> None:
    monitor = world.login("monitor")
    page = monitor.get("/topics")
    assert page.status_code == 200 and "新建专题" in page.text and "医疗" in page.text
    assert "新建或替换词组" in page.text and "@地域" in page.text and "南京" in page.text

    added = monitor.post(
        "/topics",
        data=form(monitor, name="学校食堂", rule="@地域 + 学校 + (食堂|中毒)", unit="市卫生健康委员会"),
    )
    assert added.status_code == 303 and added.headers["location"] == "/topics?done=topic_add"
    shown = monitor.get(added.headers["location"]).text
    assert "专题已添加" in shown and "学校食堂" in shown
    [new] = [t for t in topics.list_topics(world.rt) if t["name"] == "学校食堂"]
    assert (
        new["rule"] == "@地域 + 学校 + (食堂|中毒)" and new["unit"] == "市卫生健康委员会" and new["enabled"]
    )

    refused = monitor.post("/topics", data=form(monitor, name="坏规则", rule="南京 + + 医院", unit=""))
    assert refused.status_code == 400
    assert "第 6 个字符处的“+”紧跟在“+”后，中间缺少词语" in refused.text
    assert 'value="南京 + + 医院"' in refused.text  # what was typed is kept for correcting
    assert "坏规则" not in [t["name"] for t in topics.list_topics(world.rt)]

    edit = monitor.get(f"/topics/{new['id']}")
    assert edit.status_code == 200 and "规则与单位" in edit.text and "停用专题" in edit.text
    saved = monitor.post(
        f"/topics/{new['id']}",
        data=form(monitor, rule="@地域 + 学校 + (食堂|中毒|腹泻)", unit="市卫生健康委员会"),
    )
    assert saved.status_code == 303 and "专题规则已保存" in monitor.get(saved.headers["location"]).text
    assert topics.get_topic(world.rt, new["id"])["rule"] == "@地域 + 学校 + (食堂|中毒|腹泻)"
    assert topics.get_topic(world.rt, new["id"])["unit"] == "市卫生健康委员会"

    broken = monitor.post(f"/topics/{new['id']}", data=form(monitor, rule="@地域 + (学校", unit=""))
    assert broken.status_code == 400 and "第 7 个字符处的左括号缺少对应的右括号" in broken.text
    assert topics.get_topic(world.rt, new["id"])["rule"] == "@地域 + 学校 + (食堂|中毒|腹泻)"
    unknown = monitor.post(f"/topics/{new['id']}", data=form(monitor, rule="@人物 + 学校", unit=""))
    assert unknown.status_code == 400 and "词组“@人物”未定义" in unknown.text

    off = monitor.post(f"/topics/{new['id']}/enabled", data=form(monitor, enabled="0"))
    assert off.status_code == 303 and "专题已停用" in monitor.get(off.headers["location"]).text
    assert topics.get_topic(world.rt, new["id"])["enabled"] is False
    assert "启用专题" in monitor.get(f"/topics/{new['id']}").text
    assert monitor.get("/topics/99999").status_code == 404

    logged = [(a, d) for a, _t, d in audit_actions(world.rt) if a.startswith("topic.")]
    assert [a for a, _ in logged] == [
        "topic.add",
        "topic.add",
        "topic.update",
        "topic.update",
        "topic.update",
        "topic.disable",
    ]
    assert logged[1][1] and logged[1][1]["status"] == 400 and "中间缺少词语" in str(logged[1][1]["refused"])


def test_only_monitors_and_administrators_change_topics(world: World) -> None:
    office, monitor, admin = world.login("office"), world.login("monitor"), world.login("admin")
    page = office.get("/topics")
    assert page.status_code == 200 and "新建专题" not in page.text and "查看 / 测试" in page.text
    refused = office.post("/topics", data=form(office, name="办公室专题", rule="南京 + 医院", unit=""))
    assert refused.status_code == 403 and "李办公室 不是监测员或管理员，不能修改专题和词组" in refused.text
    medical = next(t for t in topics.list_topics(world.rt) if t["name"] == "医疗")
    assert office.post(f"/topics/{medical['id']}/enabled", data=form(office, enabled="0")).status_code == 403
    assert topics.get_topic(world.rt, medical["id"])["enabled"] is True

    # A monitor of the health commission cannot give a topic to the education bureau, nor take one of its.
    other_unit = monitor.post(
        "/topics", data=form(monitor, name="教育专题", rule="学校 + 投诉", unit="市教育局")
    )
    assert other_unit.status_code == 403
    assert "孙监测 不是 市教育局 或其上级单位的监测员，不能修改该单位的专题" in other_unit.text
    by_admin = admin.post("/topics", data=form(admin, name="教育专题", rule="学校 + 投诉", unit="市教育局"))
    assert by_admin.status_code == 303
    education = next(t for t in topics.list_topics(world.rt) if t["name"] == "教育专题")
    taken = monitor.post(f"/topics/{education['id']}", data=form(monitor, rule="学校", unit=""))
    assert taken.status_code == 403 and topics.get_topic(world.rt, education["id"])["rule"] == "学校 + 投诉"

    no_token = monitor.post("/topics", data={"name": "无令牌", "rule": "南京", "unit": ""})
    assert no_token.status_code == 403 and "安全令牌" in no_token.text
    assert "无令牌" not in [t["name"] for t in topics.list_topics(world.rt)]
    refusals = [
        d for a, _t, d in audit_actions(world.rt) if a == "topic.add" and d and d.get("status") == 403
    ]
    assert len(refusals) == 2


def test_word_groups_are_edited_and_used_by_rules(world: World) -> None:
    monitor, office = world.login("monitor"), world.login("office")
    saved = monitor.post(
        "/topics/groups",
        data=form(monitor, name="@学校", kind="主体", words='学校\n幼儿园、 中学, 小学；"职业 学校"'),
    )
    assert saved.status_code == 303 and "词组已保存" in monitor.get(saved.headers["location"]).text
    assert topics.word_groups(world.rt)["学校"] == ["学校", "幼儿园", "中学", "小学", '"职业 学校"']
    page = monitor.get("/topics").text
    assert "@学校" in page and "幼儿园" in page
    tested = monitor.post(
        "/topics/test",
        data={"rule": "@地域 + @学校", "text": "南京一所幼儿园发生食物中毒", "mode": "text"},
        headers=htmx(monitor),
    )
    assert "命中" in tested.text and '<span class="tag">幼儿园</span>' in tested.text
    phrase = monitor.post(
        "/topics/test",
        data={"rule": "@学校", "text": "南京一所职业 学校", "mode": "text"},
        headers=htmx(monitor),
    )
    assert "命中" in phrase.text and '<span class="tag">职业 学校</span>' in phrase.text

    empty = monitor.post("/topics/groups", data=form(monitor, name="空", kind="事件", words=" 、 "))
    assert empty.status_code == 400 and "词组 空 至少需要一个词" in empty.text
    refused = office.post("/topics/groups", data=form(office, name="学校", kind="主体", words="大学"))
    assert refused.status_code == 403
    assert topics.word_groups(world.rt)["学校"] == ["学校", "幼儿园", "中学", "小学", '"职业 学校"']


def test_the_rule_tester_answers_as_one_types(world: World) -> None:
    office = world.login("office")  # testing changes nothing: everyone signed in may
    page = office.get("/topics").text
    assert (
        'hx-post="/topics/test"' in page
        and 'hx-trigger="keyup changed delay:300ms, input changed delay:300ms, change"' in page
    )

    def test(rule: str, text: str = "", mode: str = "text") -> str:
        response = office.post(
            "/topics/test", data={"rule": rule, "text": text, "mode": mode}, headers=htmx(office)
        )
        fragment: str = response.text
        assert response.status_code == 200 and "<html" not in fragment
        return fragment

    hit = test(HOSPITAL_RULE, "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡。")
    assert "命中。触发的词" in hit
    for word in ("南京", "医院", "事故", "死亡"):
        assert f'<span class="tag">{word}</span>' in hit
    assert "规则解读" in hit and "词组 @地域: 南京 | 江苏" in hit
    assert "未命中" in test(HOSPITAL_RULE, "南京鼓楼医院招聘护士，投诉电话 12345。")
    # Traditional characters are matched as the pipeline matches them.
    assert "命中。" in test(HOSPITAL_RULE, "南京鼓樓醫院發生醫療事故")

    broken = test("南京 + (医院")
    assert "规则有误：第 6 个字符处的左括号缺少对应的右括号" in broken
    assert '<code>南京 + <mark title="第 6 个字符">(</mark>医院</code>' in broken
    assert "规则有误" in test("@人物 + 医院") and "词组“@人物”未定义" in test("@人物 + 医院")

    recent = test("产妇", mode="recent")
    assert "最新 3 条信息中命中 <strong>3</strong> 条" in recent
    for external in ("o1", "r1", "x1"):
        assert f'href="/posts/{post_id(world.rt, external)}"' in recent
    hostile = test("alert", mode="recent")
    assert "命中 <strong>1</strong> 条" in hostile and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile
    assert "<script>alert" not in hostile
    assert "命中 <strong>0</strong> 条" in test("学校 + 食堂", mode="recent")
    # A drill's posts are no real posts: the tester leaves them out, as every list of posts does.
    with world.rt.sessions.begin() as session:
        session.get(Post, post_id(world.rt, "o1")).is_drill = True
    drill_left_out = test("产妇", mode="recent")
    assert "最新 2 条信息中命中 <strong>2</strong> 条" in drill_left_out
    assert f'href="/posts/{post_id(world.rt, "o1")}"' not in drill_left_out

    without_js = office.post(
        "/topics/test", data=form(office, rule="南京 + 医院", text="南京医院", mode="text")
    )
    assert (
        without_js.status_code == 200 and "<html" in without_js.text and "命中。触发的词" in without_js.text
    )
    no_token = office.post(
        "/topics/test", data={"rule": "南京", "text": "南京"}, headers={"HX-Request": "true"}
    )
    assert no_token.status_code == 403
    assert not [a for a, _t, _d in audit_actions(world.rt) if a.startswith("topic.")]


# ---- 值班 ----------------------------------------------------------------------------------------


def cell(page: str, day: int) -> str:
    """The calendar cell of one day of the month shown."""
    found = re.search(
        rf'<td class="day[^"]*">\s*<div class="date"><strong>{day}</strong>(.*?)</td>', page, re.S
    )
    assert found is not None, f"no cell for day {day}"
    return found.group(0)


def test_the_duty_calendar_shows_the_roster_working_days_and_gaps(world: World) -> None:
    office = world.login("office")
    home = office.get("/")
    assert '<a href="/duty">值班</a>' in home.text

    health = unit_id(world.rt, "市卫生健康委员会")
    page = office.get("/duty").text  # the person's own unit, this month
    assert "值班表：市卫生健康委员会 · 2026 年 11 月" in page
    assert "王值班" in cell(page, 23) and "08:30–次日08:30" in cell(page, 23)
    assert "08:30–次日08:30" in cell(page, 30)  # the month's last shift, to its real end
    assert "无人值班" not in page  # an all-day rotation covers every hour
    assert f'href="/duty?unit={health}&amp;month=2026-10"' in page
    assert f'href="/duty?unit={health}&amp;month=2026-12"' in page

    education = unit_id(world.rt, "市教育局")
    edu = office.get("/duty", params={"unit": "市教育局", "month": "2026-10"}).text
    assert "值班表：市教育局 · 2026 年 10 月" in edu
    national_day = cell(edu, 5)  # Monday 5 October 2026: 国庆节
    assert "kind-holiday" in national_day and "国庆节" in national_day and "无人值班" not in national_day
    makeup = cell(edu, 10)  # Saturday 10 October 2026: 调休上班
    assert "调休上班（国庆节）" in makeup
    assert "无人值班 08:30–12:00" in makeup and "无人值班 14:00–17:30" in makeup
    assert "无人值班" not in cell(edu, 11)  # an ordinary Sunday
    assert 'class="day kind-weekend off' in cell(edu, 11)
    assert "本月有 18 天存在无人值班的时段" in edu  # 17 working days and the 调休 Saturday
    assert "尚未录入" not in edu
    # A working-hours rotation: each day reads 「工作时间」, not 「08:30–次日08:30 工作时间」.
    from yuqing.org.models import Person

    with transaction(world.rt.sessions) as session:
        qian = session.scalars(select(Person).where(Person.name == "钱教育")).one()
        duty.set_rotation(session, education, [qian.id], dt.date(2026, 10, 1), hours="working")
    edu = office.get("/duty", params={"unit": "市教育局", "month": "2026-10"}).text
    shown = re.sub(r"<[^>]+>", "", cell(edu, 12))  # the text, not the tooltip
    assert "钱教育" in shown and "工作时间" in shown and "次日" not in shown
    assert "无人值班" not in edu

    with transaction(world.rt.sessions) as session:
        duty.start_24h_duty(
            session,
            health,
            "特别重大事件处置中",
            dt.datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI),
            key="case:7",
        )
    on_call = office.get("/duty", params={"unit": str(health), "month": "2026-11"}).text
    assert "24小时值班" in cell(on_call, 20) and "24小时值班" not in cell(on_call, 19)
    assert "特别重大事件处置中" in on_call and 'href="/cases/7"' in on_call

    later = office.get("/duty", params={"unit": str(education), "month": "2027-02"}).text
    assert "2027 年的节假日安排尚未录入，按周末双休计算" in later
    bad = office.get("/duty", params={"month": "2026-13"})
    assert bad.status_code == 400 and "月份应写作 YYYY-MM" in bad.text
    assert office.get("/duty", params={"unit": "不存在的单位"}).status_code == 404


def test_the_office_covers_a_day_and_swaps_shifts(world: World) -> None:
    rt = world.rt
    health = unit_id(rt, "市卫生健康委员会")
    wang, sun, zhao = person_id(rt, "王值班"), person_id(rt, "孙监测"), person_id(rt, "赵分管")
    with transaction(rt.sessions) as session:
        duty.set_rotation(session, health, [wang, sun], dt.date(2026, 11, 1), hours="all_day")

    def who(day: int) -> list[str]:
        with rt.sessions() as session:
            moment = dt.datetime(2026, 11, day, 12, 0, tzinfo=SHANGHAI)
            return [p.name for p in duty.on_duty(session, health, moment)]

    assert who(23) == ["王值班"] and who(24) == ["孙监测"] and who(25) == ["王值班"]
    office, duty_officer, edu = world.login("office"), world.login("duty"), world.login("edu")
    page = office.get("/duty", params={"unit": str(health), "month": "2026-11"}).text
    assert "临时安排（顶班）" in page and "调班" in page

    covered = office.post(
        f"/duty/{health}/override",
        data=form(office, person=str(zhao), day="2026-11-25", start="08:30", end="08:30", note="王值班出差"),
    )
    assert covered.status_code == 303
    assert covered.headers["location"] == f"/duty?unit={health}&month=2026-11&done=duty_override"
    shown = office.get(covered.headers["location"]).text
    assert "临时值班安排已保存" in shown
    assert "赵分管" in cell(shown, 25) and "临时安排" in cell(shown, 25)
    assert who(25) == ["赵分管"]

    swapped = office.post(
        f"/duty/{health}/swap",
        data=form(office, person_a=str(wang), day_a="2026-11-23", person_b=str(sun), day_b="2026-11-24"),
    )
    assert swapped.status_code == 303
    shown = office.get(swapped.headers["location"]).text
    assert "调班已保存" in shown and "孙监测" in cell(shown, 23) and "调班" in cell(shown, 23)
    assert who(23) == ["孙监测"] and who(24) == ["王值班"]

    wrong = office.post(
        f"/duty/{health}/swap",
        data=form(office, person_a=str(wang), day_a="2026-11-26", person_b=str(sun), day_b="2026-11-25"),
    )
    assert wrong.status_code == 400
    assert (
        "市卫生健康委员会 的轮值表里 王值班 不在 2026-11-26 值班，或 孙监测 不在 2026-11-25 值班"
        in wrong.text
    )
    bad_day = office.post(f"/duty/{health}/override", data=form(office, person=str(zhao), day="11/25"))
    assert bad_day.status_code == 400 and "日期应写作 YYYY-MM-DD" in bad_day.text

    for client, name in ((duty_officer, "王值班"), (edu, "钱教育")):
        refused = client.post(
            f"/duty/{health}/override", data=form(client, person=str(wang), day="2026-11-27")
        )
        assert refused.status_code == 403
        assert f"{name} 不是 市卫生健康委员会 或其上级单位的办公室人员或管理员，不能调整值班" in refused.text
    assert "临时安排（顶班）" not in duty_officer.get("/duty").text
    no_token = office.post(f"/duty/{health}/override", data={"person": str(zhao), "day": "2026-11-28"})
    assert no_token.status_code == 403
    assert who(27) == ["王值班"] and who(28) == ["孙监测"]

    with rt.sessions() as session:
        [swap_id] = {
            s.swap_id
            for s in duty.shifts(
                session,
                health,
                dt.datetime(2026, 11, 23, tzinfo=SHANGHAI),
                dt.datetime(2026, 11, 25, tzinfo=SHANGHAI),
            )
            if s.swap_id
        }
        [override_id] = {
            s.override_id
            for s in duty.shifts(
                session,
                health,
                dt.datetime(2026, 11, 25, tzinfo=SHANGHAI),
                dt.datetime(2026, 11, 26, tzinfo=SHANGHAI),
            )
            if s.source == "override"
        }
    assert edu.post(f"/duty/swaps/{swap_id}/undo", data=form(edu, month="2026-11")).status_code == 403
    undone = office.post(f"/duty/swaps/{swap_id}/undo", data=form(office, month="2026-11"))
    assert undone.status_code == 303 and "调班已撤销" in office.get(undone.headers["location"]).text
    assert who(23) == ["王值班"]
    removed = office.post(f"/duty/overrides/{override_id}/delete", data=form(office, month="2026-11"))
    assert removed.status_code == 303 and who(25) == ["王值班"]

    logged = [(a, (d or {}).get("status")) for a, _t, d in audit_actions(rt) if a.startswith("duty.")]
    assert ("duty.override", None) in logged and ("duty.swap", None) in logged
    assert ("duty.override", 403) in logged and ("duty.swap", 400) in logged
    assert ("duty.unswap", None) in logged and ("duty.override_remove", None) in logged


# ---- 设置 ----------------------------------------------------------------------------------------


def test_settings_are_for_administrators_only(world: World) -> None:
    office, admin = world.login("office"), world.login("admin")
    assert "/settings" not in office.get("/").text
    assert '<a href="/settings">设置</a>' in admin.get("/").text
    refused = office.get("/settings")
    assert refused.status_code == 403 and "此操作需要以下角色之一：管理员" in refused.text
    text = DEFAULT_PROFILE.read_text(encoding="utf-8")
    posted = office.post("/settings/profile", data=form(office, text=text))
    assert posted.status_code == 403 and "李办公室 不是管理员，不能修改设置" in posted.text
    assert "四级分级" not in posted.text  # a refusal shows nobody the profile
    assert not Path("plan_profile.toml").exists()
    assert ("settings.profile", 403) in [(a, (d or {}).get("status")) for a, _t, d in audit_actions(world.rt)]


def test_an_administrator_edits_the_plan_profile(world: World, tmp_path: Path) -> None:
    world.rt.settings = world.rt.settings.model_copy(update={"smtp_password": "s3cret-smtp"})
    admin = world.login("admin")
    page = admin.get("/settings")
    assert page.status_code == 200
    default = DEFAULT_PROFILE.read_text(encoding="utf-8")
    assert "四级分级（默认，预案 003）" in page.text and "随软件提供的预案" in page.text
    assert "name = &#34;四级分级（默认，预案 003）&#34;" in page.text  # the file, in the textarea
    assert "<code>session_hours</code>" in page.text and "<code>12.0</code>" in page.text
    assert "PydanticUndefined" not in page.text  # a list's default comes from a factory
    assert "滑动过期" in page.text and "<code>yuqing serve</code>" in page.text  # described in Chinese
    assert "s3cret-smtp" not in page.text and "（已设置，不显示）" in page.text
    assert re.search(r"<td>2026</td>\s*<td>内置数据</td>", page.text)
    assert re.search(r"<td>2027</td>\s*<td><span class=\"warning\">未录入：仅按周末双休</span>", page.text)
    assert "2027 年的节假日安排尚未录入" in page.text

    store = tmp_path / "plan_profile.toml"
    bad_grade = default.replace('code = "I"\n', 'code = "V"\n', 1)
    refused = admin.post("/settings/profile", data=form(admin, text=bad_grade))
    assert refused.status_code == 400
    assert escape(f"{store} grades[0].code 应为 I、II、III 或 IV，实为 'V'") in refused.text
    assert "code = &#34;V&#34;" in refused.text  # the edit is kept for correcting
    bad_clock = default + '\n[response]\ndeadlines = { report = { I = "soon" } }\n'
    refused = admin.post("/settings/profile", data=form(admin, text=bad_clock))
    assert (
        refused.status_code == 400
        and escape("response.deadlines.report.I：无法识别的时限 'soon'") in refused.text
    )
    for misspelt, key in (
        (default + "\n[respons]\ndue_soon_minutes = 5\n", "respons"),
        (default.replace("\nmin_posts =", "\nmin_postz =", 1), "min_postz"),
    ):
        refused = admin.post("/settings/profile", data=form(admin, text=misspelt))
        assert refused.status_code == 400 and escape(f"未知的键 '{key}'") in refused.text, key
    not_toml = admin.post("/settings/profile", data=form(admin, text="name = \n"))
    assert not_toml.status_code == 400 and "不是合法的 TOML：第 1 行第 8 列：值无效" in not_toml.text
    assert "Invalid" not in not_toml.text  # tomllib's own English words are not shown
    assert not store.exists() and list(tmp_path.glob(".plan_profile-*")) == []
    no_token = admin.post("/settings/profile", data={"text": default})
    assert no_token.status_code == 403 and not store.exists()

    faster = (
        default + '\n[response]\ndeadlines = { report = { I = "30m", II = "2h", III = "4h", IV = "swd" } }\n'
    )
    saved = admin.post("/settings/profile", data=form(admin, text=faster.replace("\n", "\r\n")))
    assert saved.status_code == 303 and saved.headers["location"] == "/settings?done=profile"
    assert store.read_text(encoding="utf-8") == faster
    shown = admin.get(saved.headers["location"]).text
    assert "预案已保存" in shown and "控制台保存的预案" in shown and str(store) in shown
    # It takes effect: a case opened now gets the new reporting clock.
    opened = cases.open_case(world.rt, "李办公室", event_id=world.event_id)
    report = next(d for d in cases.show(world.rt, opened["id"])["deadlines"] if d["kind"] == "report")
    due = dt.datetime.fromisoformat(report["due_at"]) - dt.datetime.fromisoformat(report["started_at"])
    assert due == dt.timedelta(minutes=30)

    reset = admin.post("/settings/profile/reset", data=form(admin))
    assert reset.status_code == 303 and not store.exists()
    assert "随软件提供的预案" in admin.get(reset.headers["location"]).text
    assert plan.load_plan(world.rt.settings.plan_profile or None).duration("report", "I") == plan.Duration(
        1, "h"
    )
    again = admin.post("/settings/profile/reset", data=form(admin))
    assert again.status_code == 400 and "没有控制台保存的预案" in again.text

    logged = [
        (a, (d or {}).get("status")) for a, _t, d in audit_actions(world.rt) if a.startswith("settings.")
    ]
    assert logged == [
        ("settings.profile", 400),
        ("settings.profile", 400),
        ("settings.profile", 400),
        ("settings.profile", 400),
        ("settings.profile", 400),
        ("settings.profile", None),
        ("settings.profile_reset", None),
        ("settings.profile_reset", 400),
    ]


def test_settings_show_which_years_have_a_holiday_schedule(world: World) -> None:
    schedule = (
        'year = 2027\nsource = "2027年部分节假日安排（测试）"\n'
        '[[holidays]]\nname = "元旦"\nstart = "2027-01-01"\nend = "2027-01-03"\n'
    )
    import_holidays(world.rt, schedule.encode(), entered_by="刘管理", file_format="toml")
    page = world.login("admin").get("/settings").text
    assert re.search(r"<td>2027</td>\s*<td>已录入</td>\s*<td>3</td>\s*<td>0</td>", page)
    assert "2027年部分节假日安排（测试）（刘管理 录入于 2026-11-20 09:00）" in page
    assert "尚未录入，相关时限按周末双休计算" not in page


def test_a_profile_named_by_the_settings_is_edited_in_place_or_not_at_all(
    world: World, tmp_path: Path
) -> None:
    own = tmp_path / "our_plan.toml"
    own.write_text(DEFAULT_PROFILE.read_text(encoding="utf-8"), encoding="utf-8")
    world.rt.settings = world.rt.settings.model_copy(update={"plan_profile": str(own)})
    admin = world.login("admin")
    assert "设置 plan_profile 指定的文件" in admin.get("/settings").text
    renamed = own.read_text(encoding="utf-8").replace("四级分级（默认，预案 003）", "四级分级（本市修订）")
    assert admin.post("/settings/profile", data=form(admin, text=renamed)).status_code == 303
    assert (
        "四级分级（本市修订）" in own.read_text(encoding="utf-8") and not Path("plan_profile.toml").exists()
    )

    world.rt.settings = world.rt.settings.model_copy(update={"plan_profile": "two_level"})
    page = admin.get("/settings").text
    assert "两级分级（预案 000）" in page and "不能在此修改" in page and "readonly" in page
    refused = admin.post("/settings/profile", data=form(admin, text=renamed))
    assert (
        refused.status_code == 400
        and "设置 plan_profile 指定了随软件提供的预案 two_level.toml" in refused.text
    )


# ---- 修改密码 ------------------------------------------------------------------------------------


def test_a_person_changes_their_own_password(world: World) -> None:
    here, elsewhere = world.login("duty"), world.login("duty")
    name_link = r'<a class="name" href="/me/password" title="值班员（[^"]*）；点击修改密码">王值班</a>'
    assert re.search(name_link, here.get("/").text)
    assert "再次输入新密码" in here.get("/me/password").text

    def change(current: str, new: str, again: str | None = None) -> tuple[int, str]:
        response = here.post(
            "/me/password",
            data=form(here, current_password=current, new_password=new, new_password_again=again or new),
        )
        return response.status_code, response.text

    status, text = change("wrong-password", "new-pass-2026")
    assert status == 400 and "当前密码不正确" in text
    status, text = change(PASSWORD, "new-pass-2026", "new-pass-2027")
    assert status == 400 and "两次输入的新密码不一致" in text
    status, text = change(PASSWORD, "short")
    assert status == 400 and "密码至少需要 10 个字符" in text
    status, text = change(PASSWORD, PASSWORD)
    assert status == 400 and "新密码不能与当前密码相同" in text
    no_token = here.post(
        "/me/password",
        data={
            "current_password": PASSWORD,
            "new_password": "new-pass-2026",
            "new_password_again": "new-pass-2026",
        },
    )
    assert no_token.status_code == 403
    assert accounts.authenticate(world.rt, "duty", PASSWORD).login == "duty"  # nothing changed yet

    done = here.post(
        "/me/password",
        data=form(
            here, current_password=PASSWORD, new_password="new-pass-2026", new_password_again="new-pass-2026"
        ),
    )
    assert done.status_code == 303 and "密码已更改" in here.get(done.headers["location"]).text
    assert here.get("/").status_code == 200  # this browser stays signed in
    assert elsewhere.get("/").headers["location"] == "/login"  # every other session ended
    assert accounts.authenticate(world.rt, "duty", "new-pass-2026").login == "duty"
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate(world.rt, "duty", PASSWORD)

    with world.rt.sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(["password_changed", "password_change_failed"]))
        ).all()
        lines = [(e.action, (e.detail or {}).get("reason"), e.target) for e in entries]
    assert lines == [
        ("password_change_failed", "wrong_password", "duty"),
        ("password_change_failed", "mismatch", "duty"),
        ("password_change_failed", "policy", "duty"),
        ("password_change_failed", "policy", "duty"),
        ("password_changed", None, "duty"),
    ]


def test_guessing_the_current_password_locks_the_account(world: World) -> None:
    browser = world.login("monitor")
    for attempt in range(world.rt.settings.login_max_failures):
        refused = browser.post(
            "/me/password",
            data=form(
                browser,
                current_password=f"guess-{attempt}",
                new_password="x-pass-2026",
                new_password_again="x-pass-2026",
            ),
        )
        assert refused.status_code == 400
    assert "账户已锁定" in refused.text
    right = browser.post(
        "/me/password",
        data=form(
            browser, current_password=PASSWORD, new_password="x-pass-2026", new_password_again="x-pass-2026"
        ),
    )
    assert right.status_code == 400 and "账户已锁定" in right.text
    with pytest.raises(AccountLocked):
        accounts.authenticate(world.rt, "monitor", PASSWORD)


# ---- one post ------------------------------------------------------------------------------------


def test_the_post_page_shows_the_post_its_analysis_event_and_cases(world: World) -> None:
    rt = world.rt
    original, repost = post_id(rt, "o1"), post_id(rt, "r1")
    case = cases.open_case(rt, "李办公室", event_id=world.event_id)
    cases.attach_evidence(rt, case["id"], original, "李办公室", "首发帖")
    office = world.login("office")

    page = office.get(f"/posts/{original}")
    assert page.status_code == 200
    with rt.sessions() as session:
        post = session.get(Post, original)
        assert post is not None
        raw_sha256, item_sha256 = post.raw_sha256, post.item_sha256
    for text in (
        "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡",
        "微博 · 原创",
        "导入:a.jsonl",
        "2026-11-20 08:00:00",  # published, Asia/Shanghai
        "2026-11-20 09:00:00",  # fetched: the clock, 01:00 UTC
        "转发 620",
        "其他",  # media tier
        "人员伤亡",
        "医疗纠纷",
        f'<a href="/events/{world.event_id}">#{world.event_id}',
        f'<a href="/cases/{case["id"]}">工单 #{case["id"]}',
        "证据说明：首发帖",
    ):
        assert text in page.text, text
    assert re.search(
        r'<a href="/topics/\d+">医疗</a>：(<span class="tag">(南京|医院|事故|死亡)</span> ){4}', page.text
    )
    assert "负面" in page.text and "负面分值 0.62" in page.text
    assert raw_sha256 and raw_sha256 in page.text and item_sha256 and item_sha256 in page.text

    copy = office.get(f"/posts/{repost}").text
    assert f'与 <a href="/posts/{original}">信息 #{original}</a> 近似（相似度 0.89）' in copy
    assert "未作为任何工单的证据" in copy
    assert office.get("/posts/999999").status_code == 404

    # The console's other pages link to this page, not to the JSON API.
    case_page = office.get(f"/cases/{case['id']}").text
    assert f'<a href="/posts/{original}">#{original}</a>' in case_page and "/api/v1/posts" not in case_page
    assert f'href="/posts/{original}"' in office.get(f"/events/{world.event_id}").text
    assert f'href="/posts/{original}"' in office.get("/posts", params={"q": "产妇"}).text


def test_collected_text_on_the_post_page_is_escaped_and_links_only_http(world: World) -> None:
    import_posts(
        world.rt,
        [
            {
                "id": "j1",
                "url": "javascript:alert(document.cookie)",
                "author": "<img src=x onerror=alert(2)>",
                "text": "江苏南京某学校食堂发生投诉事故。",
                "published_at": "2026-11-20T08:30:00+08:00",
            },
            {
                "id": "h1",
                "url": "https://weibo.com/123/abc",
                "text": "南京某医院门口有人聚集。",
                "published_at": "2026-11-20T08:35:00+08:00",
            },
        ],
        "d.jsonl",
    )
    office = world.login("office")
    hostile = office.get(f"/posts/{post_id(world.rt, 'x1')}").text
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile and "&lt;img src=x onerror=alert(1)&gt;" in hostile
    )
    assert "<script>alert(1)" not in hostile and "<img src=x" not in hostile

    link = office.get(f"/posts/{post_id(world.rt, 'j1')}").text
    assert 'href="javascript:' not in link and "非 http(s) 链接，不可点击" in link
    assert "&lt;img src=x onerror=alert(2)&gt;" in link and "<img src=x onerror=alert(2)>" not in link
    assert "尚未分析" in link
    good = office.get(f"/posts/{post_id(world.rt, 'h1')}").text
    assert '<a href="https://weibo.com/123/abc" rel="noopener noreferrer nofollow" target="_blank">' in good


def test_what_could_not_be_stored_is_listed_in_the_console_with_why_and_where(world: World) -> None:
    """The dead letters were only in `yuqing deadletters list` and the JSON API: an office saw a
    source's last error and nothing of the lines refused. The sources page counts them and links
    to the list, which says where (line, item), why, how often and what came, by source or run."""
    from yuqing.ingest import service as ingest
    from yuqing.ingest.models import DeadLetter, FetchRun
    from yuqing.ingest.store import PostWriter

    rt = world.rt
    lines = [
        '{"id": "d1", "text": "医院门口有人拉横幅，家属要求医院给个说法。"}',
        "{这不是 JSON",
        '{"id": "d2"}',
    ]
    ingest.import_data(
        rt, PostWriter(rt.sessions, rt.settings, rt.clock), "\n".join(lines).encode(), origin="坏文件.jsonl"
    )
    with rt.sessions() as session:
        source = session.scalars(select(Source).where(Source.name == "导入:坏文件.jsonl")).one()
        run = session.scalars(select(FetchRun).where(FetchRun.source_id == source.id)).one()
        assert len(session.scalars(select(DeadLetter)).all()) == 2
    office = world.login("office")
    sources = office.get("/sources")
    assert f'<a href="/deadletters?source={source.id}">2 条</a>' in sources.text
    page = office.get(f"/deadletters?source={source.id}")
    assert page.status_code == 200
    for text in (
        "第 2 行",
        "不是合法 JSON",
        "{这不是 JSON",
        "第 3 行",
        "没有标题和正文",
        "导入:坏文件.jsonl",
        "解析",
    ):
        assert str(escape(text)) in page.text, text
    assert office.get(f"/deadletters?run={run.id}").text.count("<tr>") == 3  # the head and two
    assert "没有符合条件的死信" in office.get(f"/deadletters?run={run.id + 1}").text
    unknown = office.get("/deadletters?source=不存在的源")
    assert unknown.status_code == 404 and "不存在的源" in unknown.text


def test_administrators_add_sources_in_the_console_and_keys_stay_secret(world: World) -> None:
    """The console form (platform sources issue, item 1): an RSSHub preset, a webhook whose token is
    shown once, refusals in Chinese, and no one but an administrator."""
    admin, office = world.login("admin"), world.login("office")
    refused = office.post(
        "/sources", data=form(office, kind="rss", name="新闻", url="https://example.cn/rss")
    )
    assert refused.status_code == 403 and "只有管理员" in refused.text
    page = admin.get("/sources")
    assert page.status_code == 200 and "添加信息源" in page.text and "weibo-hot" in page.text
    assert "添加信息源" not in office.get("/sources").text
    key = "hub-Secret-42"
    added = admin.post(
        "/sources",
        data=form(
            admin,
            kind="rsshub",
            name="微博热搜",
            url="weibo-hot",
            instance="https://rsshub.example.cn",
            key=key,
        ),
    )
    assert added.status_code == 200 and "已添加信息源" in added.text and key not in added.text
    hook = admin.post("/sources", data=form(admin, kind="webhook", name="推送", platform="weibo"))
    token = re.search(r"推送令牌（只显示这一次，请立即保存）：<code>([^<]+)</code>", hook.text)
    assert token is not None and len(token.group(1)) > 20
    listed = admin.get("/sources").text
    assert token.group(1) not in listed  # shown once
    assert re.search(r"<td>推送（webhook）</td><td>微博</td>", listed)  # in words, not codes
    assert "（推送（webhook））" in hook.text
    bad = admin.post(
        "/sources",
        data=form(admin, kind="rsshub", name="坏", url="zhihu/hot", instance="https://rsshub.example.cn"),
    )
    assert bad.status_code == 400 and "未知的 RSSHub 预设" in bad.text
    fast = admin.post(
        "/sources",
        data=form(
            admin, kind="rsshub", name="快", url="/zhihu/hot", instance="https://h.example.cn", schedule="1m"
        ),
    )
    assert fast.status_code == 400 and "缓存 5 分钟" in fast.text
    wewe_form = {
        "kind": "wewe",
        "name": "卫健委公众号",
        "url": "MP_WXS_3941633310",
        "instance": "http://127.0.0.1:4000",
        "include": "医院|疫情",
        "exclude": "招聘",
    }
    unlisted = admin.post("/sources", data=form(admin, **wewe_form))
    assert unlisted.status_code == 400 and "robots.txt 禁止一切抓取" in unlisted.text
    assert "加入 bridge_instances" in unlisted.text
    assert "尚未登记本单位自建的桥接服务" in unlisted.text
    world.rt.settings.bridge_instances = ["http://127.0.0.1:4000"]  # what YUQING_BRIDGE_INSTANCES sets
    assert '<option value="http://127.0.0.1:4000">' in admin.get("/sources").text
    wechat = admin.post("/sources", data=form(admin, **wewe_form))
    assert wechat.status_code == 200 and "已添加信息源" in wechat.text
    with world.rt.sessions() as session:
        feed = session.scalars(select(Source).where(Source.name == "卫健委公众号")).one()
        assert feed.kind == "rss" and feed.platform == "wechat"
        assert feed.url == (
            "http://127.0.0.1:4000/feeds/MP_WXS_3941633310.atom"
            "?title_include=%E5%8C%BB%E9%99%A2%7C%E7%96%AB%E6%83%85&title_exclude=%E6%8B%9B%E8%81%98"
        )
    misplaced = admin.post(
        "/sources", data=form(admin, kind="rss", name="新闻", url="https://example.cn/rss", include="医院")
    )
    assert misplaced.status_code == 400 and "只用于 WeWe RSS" in misplaced.text
    listed = admin.get("/sources").text
    assert "微博热搜" in listed and "推送" in listed and key not in listed
    actions = audit_actions(world.rt)
    assert [a[1] for a in actions if a[0] == "sources.add"][:1] == ["source:2"]
    assert key not in str(actions)


def test_the_settings_page_shows_the_analysis_pipeline_and_its_workers(world: World) -> None:
    import json as _json

    from yuqing.analysis.models import PipelineState
    from yuqing.analysis.stream import WORKER_PREFIX

    admin = world.login("admin")
    page = admin.get("/settings")
    assert "分析流水线" in page.text and "嵌入式（本进程分析）" in page.text
    assert "node-7" not in page.text
    with transaction(world.rt.sessions) as session:  # a worker's heartbeat, as `yuqing worker` writes it
        session.add(
            PipelineState(
                name=f"{WORKER_PREFIX}node-7:4242:ab12cd34",
                cursor=0,
                data=_json.dumps({"state": "standby", "analysed": 1234}).encode(),
                updated_at=world.rt.clock(),
            )
        )
    page = admin.get("/settings")
    row = re.search(r"<tr><td>node-7</td><td>4242</td><td>待命</td><td>否</td><td>1234</td>", page.text)
    assert row, page.text[page.text.index("分析流水线") :][:1500]


def test_a_short_time_shows_its_year_when_it_is_not_this_years() -> None:
    from yuqing.web.templating import local_time

    now = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
    this_year = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
    last_year = dt.datetime(2025, 9, 26, 22, 8, tzinfo=dt.UTC)
    assert local_time(this_year, "%m-%d %H:%M", now) == "11-20 09:00"
    assert local_time(last_year, "%m-%d %H:%M", now) == "2025-09-27 06:08"
    assert local_time(last_year, "%H:%M", now) == "06:08"  # a time of day alone stays alone
    assert local_time(last_year, "%m-%d %H:%M") == "09-27 06:08"  # no page clock: as asked
