"""Rights by unit, through the real app over real databases: a unit acts on and reads only its own
subtree (its superiors everything below them, administrators everything); approvals are given by
different people; word groups and topics belong to units; a roster takes only the unit's people.

The world of test_pages (南京市人民政府 above 市卫生健康委员会 and 市教育局, a 特别重大 alert routed
to 市卫生健康委员会), plus a monitor of 市教育局 and an administrator of the city."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import FakeClock
from tests.web.test_api import Api, api, error_of
from tests.web.test_pages import PASSWORD, World, _quick_hashing, build_world, csrf_of
from yuqing.accounts import service as accounts
from yuqing.analysis import topics
from yuqing.analysis.grading import PROFILES_DIR
from yuqing.analysis.models import PostAnalysis
from yuqing.cases import plan
from yuqing.cases.models import Deadline
from yuqing.db import transaction
from yuqing.org import service as org
from yuqing.org.models import DutyOverride
from yuqing.org.scope import not_found
from yuqing.reports.models import Report
from yuqing.runtime import Runtime

__all__ = ["_quick_hashing"]  # the fixture, used by every test here


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> Iterator[World]:
    built = build_world(rt, clock)
    with transaction(rt.sessions) as session:
        city = org.find_unit(session, "南京市人民政府")
        education = org.find_unit(session, "市教育局")
        for name, role, unit, login in (
            ("孔监测", "monitor", education, "edumonitor"),
            ("刘管理", "admin", city, "admin"),
        ):
            person = org.add_person(session, name, unit.id)
            org.grant_role(session, person.id, role, unit.id)
            accounts.create_account(session, person.id, login, PASSWORD, now=clock())
    yield built
    for client in built.clients:
        client.close()
    plan.forget_loaded_profiles()


def form(client: Any, **fields: str) -> dict[str, str]:
    return {**fields, "csrf_token": csrf_of(client)}


def opened_case(world: World, who: Api) -> int:
    response = who.post("/cases", {"alert_id": world.alert_id})
    assert response.status_code == 201, response.text
    case_id: int = response.json()["id"]
    return case_id


def person_id(world: World, name: str) -> int:
    with world.rt.sessions() as session:
        return org.find_person(session, name).id


# ---- item 2: a case is opened by the unit the alert was routed to, or a unit above it -----------


def test_another_unit_cannot_take_over_an_alert(world: World) -> None:
    edu_office, edu_monitor, office = api(world, "edu"), api(world, "edumonitor"), api(world, "office")
    # another unit's alert is answered as a missing one, whatever is asked of it
    hidden, missing = not_found(f"预警 #{world.alert_id}"), not_found("预警 #99999")
    taken = edu_monitor.post("/cases", {"alert_id": world.alert_id, "unit": "市教育局"})
    assert error_of(taken, 404) == hidden
    assert error_of(edu_monitor.post("/cases", {"alert_id": 99999, "unit": "市教育局"}), 404) == missing
    unrelated = edu_office.post("/cases", {"alert_id": world.alert_id})
    assert error_of(unrelated, 404) == hidden
    acknowledged = edu_office.post(f"/alerts/{world.alert_id}/ack")
    assert error_of(acknowledged, 404) == hidden
    # the event is public and so is the unit responsible for it; its alert's number is not
    by_event = edu_office.post("/cases", {"event_id": world.event_id, "unit": "市教育局"})
    assert error_of(by_event, 403) == (
        f"事件 #{world.event_id}的责任单位是 市卫生健康委员会：工单只能开立给该单位或由其上级单位接手，"
        "不能开立给 市教育局"
    )
    assert office.get("/cases").json()["items"] == []  # nothing was opened
    # The owning unit still opens its case and acts on it.
    mine = office.post("/cases", {"alert_id": world.alert_id})
    assert mine.status_code == 201 and mine.json()["unit"] == "市卫生健康委员会"
    assert office.post(f"/cases/{mine.json()['id']}/categorize", {"category": "询问"}).status_code == 200


def test_a_superior_unit_takes_a_case_over_by_naming_itself(world: World) -> None:
    chief, office = api(world, "chief"), api(world, "office")
    sideways = office.post("/cases", {"alert_id": world.alert_id, "unit": "市教育局"})
    assert "不能开立给 市教育局" in error_of(sideways, 403)  # not even the owner may hand it sideways
    taken = chief.post("/cases", {"alert_id": world.alert_id, "unit": "南京市人民政府"})
    assert taken.status_code == 201 and taken.json()["unit"] == "南京市人民政府"
    # The bureau below does not read the city's case; the city reads it.
    case_id = taken.json()["id"]
    assert error_of(office.get(f"/cases/{case_id}"), 404) == not_found(f"工单 #{case_id}")
    assert chief.get(f"/cases/{case_id}").json()["unit"] == "南京市人民政府"


# ---- item 3: a word group belongs to a unit; changing it needs the rights of its users ----------


def test_a_monitor_cannot_rewrite_word_groups_other_units_topics_use(world: World) -> None:
    edu, monitor, admin = world.login("edumonitor"), world.login("monitor"), world.login("admin")
    # @主体 (the top unit's) is used by 市卫生健康委员会's topic 医疗.
    refused = edu.post("/topics/groups", data=form(edu, name="主体", kind="主体", words="学校"))
    assert refused.status_code == 403
    assert (
        "孔监测 不能修改词组 @主体：它属于 南京市人民政府，市卫生健康委员会 的专题在使用它；"
        "修改须是这些单位（或其上级单位）的监测员，而其不是 南京市人民政府、市卫生健康委员会 的监测员"
    ) in refused.text
    assert topics.word_groups(world.rt)["主体"] == ["医院", "学校"]

    # A group of one's own unit is one's own, until another unit's topic uses it.
    made = edu.post("/topics/groups", data=form(edu, name="校园", kind="主体", words="学校、幼儿园"))
    assert made.status_code == 303
    assert "<td>@校园</td><td>主体</td><td>市教育局</td>" in edu.get("/topics").text
    assert (
        edu.post(
            "/topics/groups", data=form(edu, name="校园", kind="主体", words="学校、幼儿园、中学")
        ).status_code
        == 303
    )
    used = monitor.post(
        "/topics", data=form(monitor, name="校医院", rule="@校园 + 医院", unit="市卫生健康委员会")
    )
    assert used.status_code == 303
    again = edu.post("/topics/groups", data=form(edu, name="校园", kind="主体", words="学校"))
    assert again.status_code == 403 and "市卫生健康委员会 的专题在使用它" in again.text
    by_user = monitor.post("/topics/groups", data=form(monitor, name="校园", kind="主体", words="学校"))
    assert by_user.status_code == 403 and "而其不是 市教育局 的监测员" in by_user.text
    assert topics.word_groups(world.rt)["校园"] == ["学校", "幼儿园", "中学"]
    # An administrator (or a monitor of the city above both) may.
    assert (
        admin.post("/topics/groups", data=form(admin, name="校园", kind="主体", words="学校")).status_code
        == 303
    )
    assert topics.word_groups(world.rt)["校园"] == ["学校"]


# ---- item 4: only an administrator leaves a topic without a unit ---------------------------------


def test_a_monitor_cannot_create_a_topic_without_a_unit(world: World) -> None:
    monitor, admin = world.login("monitor"), world.login("admin")
    refused = monitor.post("/topics", data=form(monitor, name="全市舆情", rule="南京 + 事故", unit=""))
    assert refused.status_code == 403 and "孙监测 不能建立或保留不属于任何单位的专题" in refused.text
    assert "全市舆情" not in [t["name"] for t in topics.list_topics(world.rt)]
    [medical] = [t for t in topics.list_topics(world.rt) if t["name"] == "医疗"]
    dropped = monitor.post(f"/topics/{medical['id']}", data=form(monitor, rule=medical["rule"], unit=""))
    assert (
        dropped.status_code == 403 and topics.get_topic(world.rt, medical["id"])["unit"] == "市卫生健康委员会"
    )
    by_admin = admin.post("/topics", data=form(admin, name="全市舆情", rule="南京 + 事故", unit=""))
    assert by_admin.status_code == 303
    assert [t["unit"] for t in topics.list_topics(world.rt) if t["name"] == "全市舆情"] == [None]


# ---- item 9: approvals by different people, not the drafter, not the administrator ---------------


def draft(who: Api, case_id: int) -> None:
    response = who.post(f"/cases/{case_id}/statement", {"facts": "产妇术中死亡，医院已停诊涉事医生。"})
    assert response.status_code == 200, response.text


def test_one_person_holding_both_roles_gives_one_approval(world: World) -> None:
    with transaction(world.rt.sessions) as session:
        chief = org.find_person(session, "陈市长")
        org.grant_role(session, chief.id, "leading_group", chief.unit_id)
    office, chief_api, group = api(world, "office"), api(world, "chief"), api(world, "group")
    case_id = opened_case(world, office)
    draft(office, case_id)
    first = chief_api.post(f"/cases/{case_id}/approve", {})
    assert first.status_code == 200, first.text
    statement = first.json()["statements"][0]
    assert statement["status"] == "draft" and statement["missing_roles"] == ["leading_group"]
    assert (
        "以主要领导身份批准第 1 稿，尚需领导小组成员审批（须由另一人审批）"
        in first.json()["timeline"][-1]["text"]
    )
    twice = chief_api.post(f"/cases/{case_id}/approve", {})
    assert error_of(twice, 403) == (
        "陈市长 已以主要领导身份审批第 1 稿，每项审批须由不同的人作出：尚需 领导小组成员 由他人审批"
    )
    assert "缺少：领导小组成员" in error_of(
        office.post(f"/cases/{case_id}/release", {"channel": "新闻通稿"}), 403
    )
    assert group.post(f"/cases/{case_id}/approve", {}).json()["statements"][0]["status"] == "approved"
    assert office.post(f"/cases/{case_id}/release", {"channel": "新闻通稿"}).status_code == 200


def test_the_drafter_does_not_approve_their_own_statement(world: World) -> None:
    office, group, chief = api(world, "office"), api(world, "group"), api(world, "chief")
    case_id = opened_case(world, office)
    draft(group, case_id)
    own = group.post(f"/cases/{case_id}/approve", {})
    assert error_of(own, 403) == (
        "周组员 是第 1 稿的起草人，不能审批自己起草的声明：尚需 主要领导、领导小组成员 由他人审批"
    )
    assert chief.post(f"/cases/{case_id}/approve", {}).json()["statements"][0]["missing_roles"] == [
        "leading_group"
    ]


def test_the_administrator_approves_only_when_the_profile_says_so(world: World) -> None:
    office, admin, group = api(world, "office"), api(world, "admin"), api(world, "group")
    case_id = opened_case(world, office)
    draft(office, case_id)
    refused = admin.post(f"/cases/{case_id}/approve", {})
    assert "刘管理 不能审批此声明：管理员负责管理，不代替领导审批" in error_of(refused, 403)
    assert "缺少：主要领导、领导小组成员" in error_of(
        admin.post(f"/cases/{case_id}/release", {"channel": "新闻通稿"}), 403
    )

    text = (PROFILES_DIR / "default.toml").read_text(encoding="utf-8")
    switched = admin.client.post(
        "/settings/profile",
        data=form(admin.client, text=text + "\n[response]\nadministrator_approves = true\n"),
    )
    assert switched.status_code == 303, switched.text
    allowed = admin.post(f"/cases/{case_id}/approve", {})
    assert allowed.status_code == 200 and allowed.json()["statements"][0]["missing_roles"] == [
        "leading_group"
    ]
    assert "刘管理 已以主要领导身份审批第 1 稿" in error_of(admin.post(f"/cases/{case_id}/approve", {}), 403)
    assert group.post(f"/cases/{case_id}/approve", {}).json()["statements"][0]["status"] == "approved"


def test_a_profile_with_a_bad_administrator_switch_is_refused(world: World) -> None:
    admin = world.login("admin")
    text = (PROFILES_DIR / "default.toml").read_text(encoding="utf-8")
    refused = admin.post(
        "/settings/profile", data=form(admin, text=text + '\n[response]\nadministrator_approves = "yes"\n')
    )
    assert refused.status_code == 400 and "administrator_approves 应为 true 或 false" in refused.text


# ---- item 10: reading by unit ---------------------------------------------------------------------


def test_alerts_and_cases_are_read_by_unit(world: World) -> None:
    office, edu, chief, admin = (
        api(world, "office"),
        api(world, "edu"),
        api(world, "chief"),
        api(world, "admin"),
    )
    case_id = opened_case(world, office)
    assert edu.get("/alerts").json()["items"] == []
    # another unit's alert and case are answered as missing ones are: ids tell it nothing
    assert error_of(edu.get(f"/alerts/{world.alert_id}"), 404) == not_found(f"预警 #{world.alert_id}")
    assert error_of(edu.get("/alerts/99999"), 404) == not_found("预警 #99999")
    assert edu.get("/cases").json()["items"] == []
    assert error_of(edu.get(f"/cases/{case_id}"), 404) == not_found(f"工单 #{case_id}")
    assert error_of(edu.get("/cases/99999"), 404) == not_found("工单 #99999")
    for reader in (office, chief, admin):  # the unit itself, the city above it, the administrator
        assert [a["id"] for a in reader.get("/alerts").json()["items"]] == [world.alert_id]
        assert [c["id"] for c in reader.get("/cases").json()["items"]] == [case_id]
        assert reader.get(f"/cases/{case_id}").status_code == 200
    # The console reads the same way.
    page = edu.client.get(f"/cases/{case_id}")
    assert page.status_code == 404 and f"找不到工单 #{case_id}" in page.text
    assert "南京鼓楼医院发生医疗事故" not in edu.client.get("/cases").text
    assert "南京鼓楼医院发生医疗事故" not in edu.client.get("/alerts").text
    assert "南京鼓楼医院发生医疗事故" in office.client.get("/alerts").text
    # A post is everyone's to read; the cases that use it as evidence, and their notes, are not.
    with world.rt.sessions() as session:
        post_id = session.scalars(
            select(PostAnalysis.post_id).where(PostAnalysis.event_id == world.event_id)
        ).first()
    added = office.post(f"/cases/{case_id}/evidence", {"post_id": post_id, "note": "内部：拟约谈涉事医生"})
    assert added.status_code == 200, added.text
    for reader, sees in ((office, True), (chief, True), (edu, False)):
        page = reader.client.get(f"/posts/{post_id}")
        assert page.status_code == 200
        assert (f"/cases/{case_id}" in page.text, "拟约谈涉事医生" in page.text) == (sees, sees)
    # The statistics compare every unit; a missed clock of another unit's case is not named.
    with transaction(world.rt.sessions) as session:
        session.execute(
            update(Deadline).where(Deadline.case_id == case_id).values(state="missed", done_at=world.clock())
        )
    for reader, title in ((office, "南京鼓楼医院发生医疗事故"), (edu, "（其他单位的工单）")):
        missed = reader.get("/stats").json()["missed"]
        assert missed and all(m["unit"] == "市卫生健康委员会" for m in missed)
        assert all(m["case"].startswith(title) for m in missed)
        assert {m["case_id"] for m in missed} == ({case_id} if reader is office else {None})


def test_another_unit_learns_nothing_of_a_case_from_a_refusal(world: World) -> None:
    """Acting on another unit's case is refused before the case's stage, its missing approvals or
    its existence is told."""
    office, edu = api(world, "office"), api(world, "edu")
    case_id = opened_case(world, office)
    office.post(f"/cases/{case_id}/statement", {"facts": "产妇术中死亡。"})
    expected = not_found(f"工单 #{case_id}")
    for action, body in (
        ("advance", {"stage": "closed"}),
        ("approve", {}),
        ("release", {"channel": "新闻通稿"}),
        ("regrade", {"grade": "IV", "reason": "试探"}),
        ("evidence", {"post_id": 1}),
    ):
        assert error_of(edu.post(f"/cases/{case_id}/{action}", body), 404) == expected, action
    again = error_of(edu.post("/cases", {"event_id": world.event_id}), 403)
    assert "不能开立工单" in again and f"#{case_id}" not in again
    assert error_of(edu.post(f"/cases/{case_id}/tasks/99/done", {"result": "完成"}), 404) == expected


def test_a_department_finishing_its_task_sees_the_task_not_the_case(world: World) -> None:
    """The education bureau's office finishes the task the health commission gave it: it gets its
    task back, not the commission's unreleased draft, approvals or evidence; and it cannot
    overwrite its result afterwards."""
    office, edu = api(world, "office"), api(world, "edu")
    case_id = opened_case(world, office)
    office.post(f"/cases/{case_id}/statement", {"facts": "内部草稿：医院确认一例死亡，原因待查（未公开）"})
    tasked = office.post(
        f"/cases/{case_id}/tasks", {"unit": "市教育局", "text": "请核查涉事学校情况", "hours": 24}
    )
    assert tasked.status_code == 200, tasked.text
    task_id = tasked.json()["tasks"][0]["id"]

    done = edu.post(f"/cases/{case_id}/tasks/{task_id}/done", {"result": "已核查，学校无关"})
    assert done.status_code == 200, done.text
    assert done.json() == {
        "id": case_id,
        "task": {
            "id": task_id,
            "unit": "市教育局",
            "text": "请核查涉事学校情况",
            "due_at": done.json()["task"]["due_at"],
            "done_at": done.json()["task"]["done_at"],
            "result": "已核查，学校无关",
        },
    }
    assert "未公开" not in done.text

    again = edu.post(f"/cases/{case_id}/tasks/{task_id}/done", {"result": "再次提交"})
    assert "不能再次办结" in error_of(again, 409)
    seen = office.get(f"/cases/{case_id}").json()
    assert [t["result"] for t in seen["tasks"]] == ["已核查，学校无关"]
    assert "草稿" in seen["statements"][0]["facts"]  # the unit itself still sees everything


def test_a_summary_report_refusal_tells_another_unit_nothing_of_the_case(world: World) -> None:
    """Asking for another unit's case summary used to answer with the case's stage, and a missing
    case with 「找不到工单」: both are now the same refusal, before anything is built."""
    office, edu = api(world, "office"), api(world, "edu")
    case_id = opened_case(world, office)
    for subject, kind, key in (
        (case_id, "summary", "case_id"),
        (99, "summary", "case_id"),
        (98, "drill", "drill_id"),
    ):
        refused = edu.post("/reports", {"kind": kind, "format": "html", key: subject})
        label = "工单" if kind == "summary" else "演练"
        assert error_of(refused, 404) == not_found(f"{label} #{subject}")
    own = office.post("/reports", {"kind": "summary", "format": "html", "case_id": case_id})
    assert "提交总结或结案后才能生成总结评估" in error_of(own, 400)  # the unit itself is told why


def test_reports_are_read_and_written_by_unit(world: World) -> None:
    office, edu, chief = api(world, "office"), api(world, "edu"), api(world, "chief")
    special = office.post("/reports", {"kind": "special", "format": "html", "event_id": world.event_id})
    assert special.status_code == 200, special.text
    report_id = special.json()["id"]
    assert edu.get("/reports").json()["items"] == []
    assert error_of(edu.get(f"/reports/{report_id}/file"), 404) == not_found(f"报告 #{report_id}")
    assert error_of(edu.get("/reports/99999/file"), 404) == not_found("报告 #99999")
    assert edu.client.get(f"/reports/{report_id}/file").status_code == 404
    assert edu.client.get(f"/reports/{report_id}").status_code == 404
    assert chief.get(f"/reports/{report_id}/file").status_code == 200  # the city above reads it

    others = edu.post("/reports", {"kind": "daily", "format": "html", "unit": "市卫生健康委员会"})
    assert error_of(others, 403).startswith("钱教育 不能生成市卫生健康委员会的日报")
    top = edu.post("/reports", {"kind": "daily", "format": "html", "unit": "南京市人民政府"})
    assert error_of(top, 403).startswith("钱教育 不能生成南京市人民政府的日报")
    own = edu.post("/reports", {"kind": "daily", "format": "html"})  # without a unit: one's own
    assert own.status_code == 200 and "市教育局" in own.json()["title"]
    assert [r["id"] for r in edu.get("/reports").json()["items"]] == [own.json()["id"]]
    assert [r["id"] for r in office.get("/reports").json()["items"]] == [report_id]
    assert {r["id"] for r in chief.get("/reports").json()["items"]} == {report_id, own.json()["id"]}


def test_drills_are_read_and_operated_by_unit(world: World) -> None:
    office, edu, admin = api(world, "office"), api(world, "edu"), api(world, "admin")
    created = office.post("/drills", {"scenario": "hospital_rumour", "speed": 60})
    assert created.status_code == 201, created.text
    drill = created.json()
    assert edu.get("/drills").json()["items"] == []
    hidden = not_found(f"演练 #{drill['id']}")
    assert error_of(edu.get(f"/drills/{drill['id']}"), 404) == hidden
    # operating it is refused in the same words, before its unit is named
    assert error_of(edu.post(f"/drills/{drill['id']}/pause"), 404) == hidden
    assert error_of(edu.post("/drills/99999/pause"), 404) == not_found("演练 #99999")
    assert edu.client.get(f"/drills/{drill['id']}").status_code == 404
    refused = edu.client.post(f"/drills/{drill['id']}/stop", data=form(edu.client))
    assert refused.status_code == 404 and f"找不到演练 #{drill['id']}" in refused.text
    shown = office.get(f"/drills/{drill['id']}").json()
    assert shown["state"] == "running" and shown["unit"] == "市卫生健康委员会"
    assert office.post(f"/drills/{drill['id']}/pause").json()["state"] == "paused"
    assert admin.post(f"/drills/{drill['id']}/resume").json()["state"] == "running"
    # The drill's record is the unit's that ran it, whatever unit its alerts go to.
    refused_report = edu.post("/reports", {"kind": "drill", "format": "html", "drill_id": drill["id"]})
    assert error_of(refused_report, 404) == hidden
    report = office.post("/reports", {"kind": "drill", "format": "html", "drill_id": drill["id"]})
    assert report.status_code == 200, report.text


# ---- item 13: a roster takes only people of the unit or below ---------------------------------------


def test_an_office_puts_only_its_own_people_on_duty(world: World) -> None:
    office = world.login("office")
    with world.rt.sessions() as session:
        health = org.find_unit(session, "市卫生健康委员会").id
    outsider = person_id(world, "钱教育")
    refused = office.post(
        f"/duty/{health}/override",
        data=form(
            office, person=str(outsider), day="2026-11-21", start="08:30", end="08:30", hours="all_day"
        ),
    )
    assert refused.status_code == 400
    assert (
        "钱教育（市教育局） 不是 市卫生健康委员会 或其下级单位的人员，不能排入 市卫生健康委员会 的值班表"
        in refused.text
    )
    with world.rt.sessions() as session:
        assert session.scalars(select(DutyOverride)).all() == []
    page = office.get(f"/duty?unit={health}&month=2026-11")
    assert "孙监测" in page.text and "钱教育" not in page.text  # not offered
    own = office.post(
        f"/duty/{health}/override",
        data=form(
            office, person=str(person_id(world, "孙监测")), day="2026-11-21", start="08:30", end="08:30"
        ),
    )
    assert own.status_code == 303


def test_a_department_is_told_of_its_task_and_finishes_it_from_its_to_do_page(world: World) -> None:
    """The health commission gives the education bureau a task: the bureau's office is notified,
    sees the task under 待办 (not the commission's case or its draft) and finishes it there; the
    chief and the leading group are asked to approve the commission's draft and find it under 待办."""
    from yuqing.notify.models import Notification

    office = api(world, "office")
    case_id = opened_case(world, office)
    office.post(f"/cases/{case_id}/statement", {"facts": "内部草稿：医院确认一例死亡（未公开）"})
    tasked = office.post(
        f"/cases/{case_id}/tasks", {"unit": "市教育局", "text": "请核查涉事学校情况", "hours": 24}
    )
    task_id = tasked.json()["tasks"][0]["id"]
    labels = [d["label"] for d in tasked.json()["deadlines"] if d["kind"] == "task"]
    assert labels == ["部门任务（市教育局）"]  # the clock names its department
    with world.rt.sessions() as session:
        told = {
            (n.person_id, n.title)
            for n in session.scalars(select(Notification).where(Notification.kind == "in_app"))
        }
    titles = {title for pid, title in told if pid == person_id(world, "钱教育")}
    assert any("【部门任务】" in t and "市卫生健康委员会向市教育局分派任务" in t for t in titles)
    assert not any("待审批" in t for t in titles)
    for leader in ("陈市长", "周组员"):
        assert any(pid == person_id(world, leader) and "【待审批】" in t for pid, t in told)
    assert not any(pid == person_id(world, "李办公室") and "待审批" in t for pid, t in told)  # the drafter

    from yuqing.cases import service as case_service

    assert case_service.todo(world.rt, "刘管理")["tasks"] == []  # the city's admin: not the bureau's task
    edu = world.login("edu")
    home = edu.get("/")
    assert "待办 1" in home.text
    page = edu.get("/me/todo")
    assert page.status_code == 200
    assert "请核查涉事学校情况" in page.text and "市卫生健康委员会" in page.text
    assert "未公开" not in page.text and f'href="/cases/{case_id}"' not in page.text
    empty = edu.post(f"/me/todo/tasks/{task_id}/done", data=form(edu, result=" "))
    assert empty.status_code == 400 and "请写明办理结果" in empty.text
    done = edu.post(f"/me/todo/tasks/{task_id}/done", data=form(edu, result="已核查，学校无关"))
    assert done.status_code == 303 and done.headers["location"] == "/me/todo?done=task_done"
    after = edu.get(done.headers["location"])
    assert "任务已办结" in after.text and "没有待办的部门任务" in after.text and "待办 0" in after.text
    with world.rt.sessions() as session:
        told_office = [
            n.title
            for n in session.scalars(select(Notification).where(Notification.kind == "in_app"))
            if n.person_id == person_id(world, "李办公室")
        ]
    assert f"【任务办结】工单 #{case_id}：市教育局已办结任务" in told_office
    again = edu.post(f"/me/todo/tasks/{task_id}/done", data=form(edu, result="再次提交"))
    assert again.status_code == 409 and "不能再次办结" in again.text
    assert [t["result"] for t in office.get(f"/cases/{case_id}").json()["tasks"]] == ["已核查，学校无关"]

    chief = world.login("chief")
    waiting = chief.get("/me/todo")
    assert f"/cases/{case_id}#h-statements" in waiting.text and "主要领导身份审批" in waiting.text
    api(world, "chief").post(f"/cases/{case_id}/approve", {"version": 1})
    assert "没有待审批的声明" in chief.get("/me/todo").text
    assert "领导小组成员身份审批" in world.login("group").get("/me/todo").text
    api(world, "group").post(f"/cases/{case_id}/approve", {"version": 1})
    with world.rt.sessions() as session:
        ready = [
            n.title
            for n in session.scalars(select(Notification).where(Notification.kind == "in_app"))
            if n.person_id == person_id(world, "李办公室")
        ]
    assert any(t.startswith(f"【可以发布】工单 #{case_id} 第 1 稿审批齐全") for t in ready)


# ---- what one unit's case tells another unit through reports, the event page and task ids ------


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _close_health_case(world: World, office: Api) -> int:
    """The commission opens its case on the alert and takes it all the way to 结案."""
    chief, group, deputy = api(world, "chief"), api(world, "group"), api(world, "deputy")
    case_id = opened_case(world, office)
    _ok(office.post(f"/cases/{case_id}/categorize", {"category": "询问"}))
    for stage in ("reported", "assessed", "disposing"):
        _ok(office.post(f"/cases/{case_id}/advance", {"stage": stage}))
    _ok(office.post(f"/cases/{case_id}/statement", {"facts": "医院已停诊涉事医生。"}))
    _ok(chief.post(f"/cases/{case_id}/approve", {"version": 1}))
    _ok(group.post(f"/cases/{case_id}/approve", {"version": 1}))
    _ok(office.post(f"/cases/{case_id}/release", {"channel": "新闻通稿"}))
    _ok(office.post(f"/cases/{case_id}/advance", {"stage": "following"}))
    _ok(office.post(f"/cases/{case_id}/advance", {"stage": "summarised", "summary": "已处置"}))
    _ok(deputy.post(f"/cases/{case_id}/close", {}))
    return case_id


def test_a_bureaus_reports_leave_out_the_case_the_city_opened_on_the_same_event(world: World) -> None:
    """The city takes the event over in a case of its own, rejects a draft with a confidential
    comment, replies and gives a task. The commission may not read that case, so its 舆情专报 of
    the event and its 响应情况表 hold none of it; the city's own 专报 does."""
    office, chief, group = api(world, "office"), api(world, "chief"), api(world, "group")
    own_case = _close_health_case(world, office)
    city_case = _ok(chief.post("/cases", {"event_id": world.event_id, "unit": "南京市人民政府"}))["id"]
    _ok(chief.post(f"/cases/{city_case}/statement", {"facts": "市级草稿"}))
    _ok(group.post(f"/cases/{city_case}/approve", {"reject": True, "comment": "机密：实际死亡3人，暂不公开"}))
    _ok(chief.post(f"/cases/{city_case}/respond", {"text": "市里内部口径ABC"}))
    _ok(chief.post(f"/cases/{city_case}/tasks", {"unit": "市教育局", "text": "市级任务XYZ", "hours": 24}))
    assert error_of(office.get(f"/cases/{city_case}"), 404) == not_found(f"工单 #{city_case}")

    def report_text(who: Api, **params: Any) -> str:
        made = _ok(who.post("/reports", {"format": "html", **params}))
        return str(who.client.get(f"/api/v1/reports/{made['id']}/file").content.decode())

    special = report_text(office, kind="special", event_id=world.event_id)
    for secret in ("机密：实际死亡3人", "市里内部口径ABC", "市级任务XYZ", f"第{city_case}号"):
        assert secret not in special
    assert f"第{own_case}号" in special and "编发：市卫生健康委员会" in special
    city = report_text(chief, kind="special", event_id=world.event_id)
    assert "市里内部口径ABC" in city and f"第{city_case}号" in city

    table = report_text(
        office, kind="response_table", unit="市卫生健康委员会", **{"from": "2026-11-01", "to": "2026-11-30"}
    )
    assert f"工单第{city_case}号" not in table and f"工单第{own_case}号" in table


def test_a_case_page_offers_each_person_the_forms_they_may_use(world: World) -> None:
    """The duty officer may move a new case to 报告 and add evidence, not draft, release, task,
    withdraw or close; the office drafts and tasks; the deputy leader also withdraws."""
    case_id = opened_case(world, api(world, "office"))

    def forms(login: str) -> set[str]:
        page = world.login(login).get(f"/cases/{case_id}").text
        return set(re.findall(rf'action="/cases/{case_id}/([a-z-]+)"', page))

    assert forms("duty") == {"advance", "evidence"}
    assert {"statement", "tasks", "categorize", "respond", "advance", "evidence"} <= forms("office")
    assert "withdraw" not in forms("office") and "close" not in forms("office")
    assert {"statement", "withdraw", "regrade"} <= forms("deputy")


def test_an_event_page_offers_a_case_only_to_those_who_may_open_one(world: World) -> None:
    """The event's alert is the health commission's: its office is offered 开立工单; the education
    bureau's office, who would be refused, is told whose it is instead."""
    own = world.login("office").get(f"/events/{world.event_id}").text
    assert ">开立工单</button>" in own and 'id="not-ours"' not in own
    other = world.login("edu").get(f"/events/{world.event_id}").text
    assert ">开立工单</button>" not in other
    assert "本事件的责任单位为市卫生健康委员会，工单由该单位或其上级单位开立" in other


def test_the_reason_for_a_regrade_is_shown_only_to_those_who_see_the_case(world: World) -> None:
    """Who set the event's grade is on the event page for every unit; why (the case's words) only
    for the units that see the case."""
    office, deputy = api(world, "office"), api(world, "deputy")
    case_id = opened_case(world, office)
    _ok(deputy.post(f"/cases/{case_id}/regrade", {"grade": "II", "reason": "内部核实：死亡3人，暂不公开"}))
    own = world.login("office").get(f"/events/{world.event_id}").text
    assert f"工单 #{case_id}：内部核实：死亡3人，暂不公开" in own
    other = world.login("edu").get(f"/events/{world.event_id}").text
    assert "等级由 赵分管 调整" in other
    assert "内部核实" not in other and f"工单 #{case_id}" not in other


def test_a_task_id_of_another_units_case_reads_as_a_missing_one(world: World) -> None:
    office = api(world, "office")
    case_id = opened_case(world, office)
    task = {"unit": "市卫生健康委员会", "text": "核查", "hours": 24}
    tasked = _ok(office.post(f"/cases/{case_id}/tasks", task))
    task_id = tasked["tasks"][0]["id"]
    edu = world.login("edu")
    real = edu.post(f"/me/todo/tasks/{task_id}/done", data=form(edu, result="x"))
    missing = edu.post("/me/todo/tasks/99999/done", data=form(edu, result="x"))
    assert (real.status_code, missing.status_code) == (404, 404)
    assert f"找不到任务 {task_id}，或该任务不由本单位承办" in real.text
    assert f"工单 #{case_id}" not in real.text
    assert "找不到任务 99999，或该任务不由本单位承办" in missing.text


def test_an_alert_a_unit_above_took_over_does_not_name_the_case(world: World) -> None:
    """The city takes the commission's alert over in a case of its own, which the commission may
    not read: its alert says 上级单位已开立工单 and names no case, and opening another says so."""
    office, chief = api(world, "office"), api(world, "chief")
    city_case = _ok(chief.post("/cases", {"alert_id": world.alert_id, "unit": "南京市人民政府"}))["id"]
    shown = office.get(f"/alerts/{world.alert_id}").json()
    assert (shown["case_id"], shown["taken_over"]) == (None, True)
    [listed] = office.get("/alerts").json()["items"]
    assert (listed["case_id"], listed["taken_over"]) == (None, True)
    page = world.login("office").get("/alerts").text
    assert "上级单位已开立工单" in page and f"工单 #{city_case}" not in page
    again = office.post("/cases", {"event_id": world.event_id})
    assert error_of(again, 400) == f"事件 {world.event_id} 已由其他单位开立未结案的工单"
    # the city itself reads its case on the alert
    assert chief.get(f"/alerts/{world.alert_id}").json()["case_id"] == city_case


def test_another_departments_task_on_a_case_is_answered_as_a_missing_one(world: World) -> None:
    office, edu = api(world, "office"), api(world, "edu")
    case_id = opened_case(world, office)
    _ok(office.post(f"/cases/{case_id}/tasks", {"unit": "市教育局", "text": "核查学校", "hours": 24}))
    tasked = _ok(
        office.post(
            f"/cases/{case_id}/tasks", {"unit": "市卫生健康委员会", "text": "内部：约谈医生", "hours": 24}
        )
    )
    other = next(t["id"] for t in tasked["tasks"] if t["unit"] == "市卫生健康委员会")
    real = edu.post(f"/cases/{case_id}/tasks/{other}/done", {"result": "x"})
    missing = edu.post(f"/cases/{case_id}/tasks/99999/done", {"result": "x"})
    assert error_of(real, 404) == f"工单 #{case_id} 没有任务 {other}，或该任务不由本单位承办"
    assert error_of(missing, 404) == f"工单 #{case_id} 没有任务 99999，或该任务不由本单位承办"


def test_each_unit_numbers_its_own_special_reports(world: World) -> None:
    """「2026年第N期」 counts the issuing unit's own reports: another unit's neither take its numbers
    nor show through them; a re-issue about the same event keeps its number."""
    office, edu = api(world, "office"), api(world, "edu")
    first = _ok(office.post("/reports", {"kind": "special", "format": "html", "event_id": world.event_id}))
    assert first["number"] == "2026年第1期"
    with transaction(world.rt.sessions) as session:  # as if the commission had reported another event
        session.execute(update(Report).where(Report.id == first["id"]).values(subject_id=424242))
    mine = _ok(edu.post("/reports", {"kind": "special", "format": "html", "event_id": world.event_id}))
    assert mine["number"] == "2026年第1期"
    again = _ok(office.post("/reports", {"kind": "special", "format": "html", "event_id": world.event_id}))
    assert again["number"] == "2026年第2期"
    assert (
        _ok(edu.post("/reports", {"kind": "special", "format": "html", "event_id": world.event_id}))["number"]
        == "2026年第1期"
    )


def test_a_unit_never_issues_a_number_twice(world: World) -> None:
    """Numbers given while every unit's reports were counted together may run ahead of the unit's
    own count: the next one follows the highest, so 第3期 does not come twice."""
    office = api(world, "office")
    first = _ok(office.post("/reports", {"kind": "special", "format": "html", "event_id": world.event_id}))
    with transaction(world.rt.sessions) as session:
        session.execute(
            update(Report).where(Report.id == first["id"]).values(subject_id=424242, number="2026年第3期")
        )
    again = _ok(office.post("/reports", {"kind": "special", "format": "html", "event_id": world.event_id}))
    assert again["number"] == "2026年第4期"


def test_another_units_24_hour_duty_shows_its_grade_but_not_its_case_number(world: World) -> None:
    """A 特别重大 case puts its unit on 24-hour duty 「特别重大事件处置中（工单 #N）」: the organisation
    sees the duty and the grade; only the unit and those above it see which case."""
    case_id = opened_case(world, api(world, "office"))
    with world.rt.sessions() as session:
        health = org.find_unit(session, "市卫生健康委员会").id
    reference = f"工单 #{case_id}"
    edu, office = world.login("edu"), world.login("office")
    assert "24小时值班：特别重大事件处置中" in edu.get("/org").text
    assert reference not in edu.get("/org").text and reference in office.get("/org").text
    asked = api(world, "edu").get("/org/duty/now", unit=str(health)).json()
    assert asked["round_the_clock"] and asked["reasons"] == ["特别重大事件处置中"]
    assert api(world, "office").get("/org/duty/now", unit=str(health)).json()["reasons"] == [
        f"特别重大事件处置中（{reference}）"
    ]
    month = f"/duty?unit={health}&month={world.rt.clock():%Y-%m}"
    assert reference not in edu.get(month).text and f'href="/cases/{case_id}"' not in edu.get(month).text
    # the alert's own 24-hour period, ended when the case took over: numbers left out alike
    assert "特别重大预警待处置" in edu.get(month).text and "预警 #" not in edu.get(month).text
    assert "（预警已开立工单，值班安排随工单）" in edu.get(month).text
    assert f"预警 #{world.alert_id} 已开立{reference}" in office.get(month).text
    assert f'href="/cases/{case_id}"' in office.get(month).text


def test_the_deputy_leader_settles_the_offices_formal_reply_from_the_case_page(world: World) -> None:
    """The office's 正式答复意见 is listed as 待审定 on the case page and in the deputy leader's 待办;
    only the deputy is offered the settling form, and settling it gives the reply."""
    case_id = opened_case(world, api(world, "office"))
    office = world.login("office")
    page = office.get(f"/cases/{case_id}").text
    assert "正式答复意见须经分管领导或主要领导审定后方为答复" in page
    sent = office.post(
        f"/cases/{case_id}/respond",
        data=form(office, text="经核查，医院已成立调查组，3日内公布结果。", formal="1"),
        follow_redirects=True,
    )
    assert "正式答复意见已提交审定" in sent.text and "待审定" in sent.text
    reply_id = int(
        re.findall(
            rf'action="/cases/{case_id}/replies/(\d+)"', world.login("deputy").get(f"/cases/{case_id}").text
        )[0]
    )
    assert f"/cases/{case_id}/replies/" not in office.get(f"/cases/{case_id}").text
    deputy = world.login("deputy")
    assert "待我审定的答复意见" in deputy.get("/me/todo").text
    refused = office.post(f"/cases/{case_id}/replies/{reply_id}", data=form(office, decision="approve"))
    assert refused.status_code == 403 and "不能审定答复意见" in refused.text
    settled = deputy.post(
        f"/cases/{case_id}/replies/{reply_id}",
        data=form(deputy, decision="approve", comment="同意"),
        follow_redirects=True,
    )
    assert "审定意见已记录" in settled.text and "已审定并答复" in settled.text
    assert "正式答复：经核查，医院已成立调查组，3日内公布结果。" in settled.text
    assert "待我审定的答复意见" not in deputy.get("/me/todo").text


def test_the_case_page_asks_for_the_telephone_report_of_a_grave_case_and_shows_it(world: World) -> None:
    case_id = opened_case(world, api(world, "office"))
    duty = world.login("duty")
    page = duty.get(f"/cases/{case_id}").text
    assert "须在书面报告的同时电话报告上级，尚未记录电话报告" in page
    assert 'name="phone_to"' in page and f'action="/cases/{case_id}/phone-report"' not in page
    moved = duty.post(
        f"/cases/{case_id}/advance",
        data=form(duty, stage="reported", phone_to="市政府总值班室 张某"),
        follow_redirects=True,
    )
    assert moved.status_code == 200, moved.text
    assert "电话报告市政府总值班室 张某（王值班记录）" in moved.text
    assert "尚未记录电话报告" not in moved.text
    office = world.login("office")
    recorded = office.post(
        f"/cases/{case_id}/phone-report",
        data=form(office, to="陈市长", called_at="25:00"),
        follow_redirects=True,
    )
    assert recorded.status_code == 400 and "无法识别" in recorded.text


def test_another_units_drill_is_not_read_reported_or_worked_through_its_posts(world: World) -> None:
    """A drill's posts, source and event are read only by those who see the drill's unit: by id, by
    source, in the post search, through a case opened on them or a 专报 written on its event."""
    from yuqing.analysis.models import Event
    from yuqing.analysis.pipeline import AnalysisPipeline
    from yuqing.drills.runner import step
    from yuqing.ingest.models import Post, Source
    from yuqing.ingest.store import PostWriter

    rt = world.rt
    office, chief, edu = api(world, "office"), api(world, "chief"), api(world, "edu")
    topics.add_topic(rt, "传染病", "(医院 | 卫生院) + (死亡 | H7N9 | 禽流感)", "市卫生健康委员会")
    drill = office.post("/drills", {"scenario": "hospital_rumour", "speed": 3600}).json()
    world.clock.advance(minutes=5)
    assert step(rt, drill["id"], PostWriter(rt.sessions, rt.settings, rt.clock)).posts > 0
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        source = session.scalars(select(Source.id).where(Source.drill_id == drill["id"])).one()
        post = session.scalars(
            select(Post.id).where(Post.source_id == source).order_by(Post.id.desc())
        ).first()
        event = session.scalars(select(Event.id).where(Event.drill_id == drill["id"])).first()
    assert post is not None and event is not None

    # the drill's unit and the unit above it read everything of it
    for reader in (office, chief):
        assert reader.get(f"/posts/{post}").status_code == 200
        assert reader.get(f"/events/{event}").json()["is_drill"] is True
        assert any(s["id"] == source for s in reader.get("/sources").json())
        assert reader.get("/posts", source=source).json()
    # another unit: as if none of it existed
    assert error_of(edu.get(f"/posts/{post}"), 404) == f"找不到信息 {post}"
    assert error_of(edu.get(f"/events/{event}"), 404) == f"找不到事件 {event}"
    assert error_of(edu.get("/posts", source=source), 404) == f"找不到信息源 {source}"
    assert all(s["id"] != source for s in edu.get("/sources").json())
    assert all(r["source_id"] != source for r in edu.get("/runs").json())
    assert edu.client.get(f"/posts/{post}").status_code == 404
    assert edu.client.get(f"/events/{event}").status_code == 404
    search = edu.client.get("/posts", params={"q": "演练", "source": source})
    assert search.status_code == 200 and f'href="/posts/{post}"' not in search.text
    assert f'href="/posts/{post}"' in office.client.get("/posts", params={"q": "演练", "source": source}).text
    assert error_of(edu.post("/cases", {"post_id": post, "grade": "IV"}), 404) == f"找不到信息 {post}"
    assert error_of(edu.post("/cases", {"event_id": event}), 404) == f"找不到事件 {event}"
    refused = edu.post("/reports", {"kind": "special", "format": "html", "event_id": event})
    assert error_of(refused, 400) == f"找不到事件 {event}（可用 yuqing events list 查看）"
    with rt.sessions() as session:
        assert session.scalars(select(Report)).all() == []

    # the drill's own 专报 is a drill's, numbered apart, whoever of those who see it writes it
    made = chief.post("/reports", {"kind": "special", "format": "html", "event_id": event}).json()
    assert made["is_drill"] is True and "演练" in made["number"]


def test_a_case_opened_from_a_post_keeps_its_events_grade(world: World) -> None:
    """Opening from one of a graded event's posts is opening the event's case: a monitor cannot
    open it lower (the 特别重大 approvals, clocks and duty would be skipped), nor a second one, nor
    one for another unit."""
    monitor, office = api(world, "monitor"), api(world, "office")
    with world.rt.sessions() as session:
        post = session.scalars(
            select(PostAnalysis.post_id).where(PostAnalysis.event_id == world.event_id)
        ).first()
    lower = monitor.post("/cases", {"post_id": post, "grade": "IV"})
    assert error_of(lower, 403).startswith(
        f"孙监测 无权改变等级：该信息所属的事件 #{world.event_id}已定为特别重大，按其他等级开立工单需要"
    )
    opened = monitor.post("/cases", {"post_id": post})
    assert opened.status_code == 201 and opened.json()["grade"] == "特别重大"
    case = office.get(f"/cases/{opened.json()['id']}").json()
    assert (case["grade"], case["event_id"], case["unit"]) == ("特别重大", world.event_id, "市卫生健康委员会")
    # it is the event's case: one open at a time, and only for the unit responsible for it
    again = office.post("/cases", {"post_id": post})
    assert error_of(again, 400) == f"事件 {world.event_id} 已有未结案的工单 #{case['id']}"
    elsewhere = api(world, "edumonitor").post("/cases", {"post_id": post})
    assert error_of(elsewhere, 403) == (
        "孔监测 不是 市卫生健康委员会（或其上级单位）的监测、值班、办公室人员或领导，不能开立工单"
    )
