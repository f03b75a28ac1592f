"""The response API under /api/v1 through the real app: alerts, a case from opening to closing,
the organisation and duty roster, statistics, one's notifications; errors in one JSON shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from tests.conftest import FakeClock
from tests.web.test_pages import World, _quick_hashing, build_world, csrf_of, import_posts
from yuqing.ingest.models import Post
from yuqing.notify.outbox import deliver_due
from yuqing.org.scope import not_found
from yuqing.runtime import Runtime

__all__ = ["_quick_hashing"]  # the fixture, used by every test here


class Api:
    """A signed-in API client: JSON in and out, the CSRF header on every POST."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = csrf_of(client)

    def get(self, path: str, **params: Any) -> Response:
        return self.client.get(f"/api/v1{path}", params=params)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Response:
        return self.client.post(f"/api/v1{path}", json=body or {}, headers={"X-CSRF-Token": self.token})


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> Iterator[World]:
    built = build_world(rt, clock)
    yield built
    for client in built.clients:
        client.close()


def api(world: World, login: str) -> Api:
    return Api(world.login(login))


def error_of(response: Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["status"] == status
    message: str = body["error"]["message"]
    return message


def test_the_api_needs_a_login_and_a_csrf_token(world: World) -> None:
    stranger = world.browser()
    assert error_of(stranger.get("/api/v1/cases"), 401) == "请先登录"
    assert error_of(stranger.post(f"/api/v1/alerts/{world.alert_id}/ack"), 401) == "请先登录"
    office = api(world, "office")
    forged = office.client.post(f"/api/v1/alerts/{world.alert_id}/ack", headers={"X-CSRF-Token": "forged"})
    assert "安全令牌" in error_of(forged, 403)
    assert "安全令牌" in error_of(office.client.post("/api/v1/cases", json={"event_id": world.event_id}), 403)
    assert office.get("/alerts", status="open").json()["items"][0]["status"] == "open"  # nothing changed


def test_alerts_list_show_and_acknowledge(world: World) -> None:
    office, edu = api(world, "office"), api(world, "edu")
    listed = office.get("/alerts", status="open").json()
    assert listed["has_more"] is False and [a["id"] for a in listed["items"]] == [world.alert_id]
    item = listed["items"][0]
    assert (
        item["grade"] == "特别重大"
        and item["unit"] == "市卫生健康委员会"
        and item["status_label"] == "待确认"
    )
    shown = office.get(f"/alerts/{world.alert_id}").json()
    assert [r["reason"] for r in shown["recipients"]] == ["值班员"] and shown["chain"][0][
        "role"
    ] == "duty_officer"
    assert error_of(office.get("/alerts/999"), 404) == not_found("预警 #999")
    assert error_of(office.get("/alerts", status="maybe"), 422)  # not one of the statuses

    assert error_of(edu.post(f"/alerts/{world.alert_id}/ack"), 404) == not_found(f"预警 #{world.alert_id}")
    acked = office.post(f"/alerts/{world.alert_id}/ack")
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "李办公室"
    assert "无需再次确认" in error_of(office.post(f"/alerts/{world.alert_id}/ack"), 409)
    assert office.get("/alerts", status="open").json()["items"] == []


def test_a_case_through_the_api_from_opening_to_closing(world: World) -> None:
    office, monitor, deputy = api(world, "office"), api(world, "monitor"), api(world, "deputy")
    chief, group = api(world, "chief"), api(world, "group")

    opened = office.post("/cases", {"event_id": world.event_id})
    assert opened.status_code == 201
    case = opened.json()
    case_id = case["id"]
    assert case["grade_code"] == "I" and case["stage"] == "detected" and case["alert_id"] == world.alert_id
    assert {d["kind"] for d in case["deadlines"]} == {
        "report",
        "first_response",
        "release",
        "press_conference",
    }
    assert "已有未结案的工单" in error_of(office.post("/cases", {"event_id": world.event_id}), 400)
    assert error_of(office.post("/cases", {"event_id": 424242}), 404) == "找不到事件 424242"

    def step(who: Api, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = who.post(f"/cases/{case_id}/{action}", body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    assert step(monitor, "advance", {"stage": "报告"})["stage"] == "reported"
    assert "尚未确定舆情类别" in error_of(office.post(f"/cases/{case_id}/advance", {"stage": "研判"}), 409)
    assert "权" in error_of(monitor.post(f"/cases/{case_id}/categorize", {"category": "谣言"}), 403)
    assert step(office, "categorize", {"category": "询问"})["category"] == "询问/质疑/诉求"
    step(office, "advance", {"stage": "assessed"})
    step(office, "advance", {"stage": "disposing"})
    shown = step(office, "statement", {"facts": "产妇术中死亡，医院已停诊涉事医生。", "causes": "待调查"})
    assert shown["statements"][0]["required_roles"] == ["chief", "leading_group"]
    assert "缺少：主要领导、领导小组成员" in error_of(
        office.post(f"/cases/{case_id}/release", {"channel": "新闻通稿"}), 403
    )
    refusal = error_of(deputy.post(f"/cases/{case_id}/approve", {}), 403)
    assert refusal == "赵分管 不能审批此声明：尚需 主要领导、领导小组成员 审批，而其不具备这些角色"
    stale = error_of(chief.post(f"/cases/{case_id}/approve", {"version": 0}), 409)
    assert stale == "第 0 稿已不是最新稿：其后已起草第 1 稿，请阅读最新稿后再审批"
    step(chief, "approve", {"comment": "同意发布", "version": 1})
    approved = step(group, "approve", {})
    assert approved["statements"][0]["status"] == "approved"
    assert "未知的发布渠道" in error_of(office.post(f"/cases/{case_id}/release", {"channel": "传单"}), 400)
    released = step(office, "release", {"channel": "官方微博/微信"})
    assert released["statements"][0]["channel"] == "官方微博/微信"
    states = {d["kind"]: d["state"] for d in released["deadlines"]}
    assert states["release"] == "met"

    drafted = step(office, "respond", {"text": "已联系家属", "formal": True})
    # the office's formal reply waits for a leader's settling (经本单位负责人审定后答复)
    assert [(r["status"], r["drafted_by"]) for r in drafted["replies"]] == [("pending", "李办公室")]
    assert {d["kind"]: d["state"] for d in drafted["deadlines"]}["formal_reply"] == "pending"
    reply_id = drafted["replies"][0]["id"]
    assert "不能审定答复意见" in error_of(office.post(f"/cases/{case_id}/replies/{reply_id}", {}), 403)
    responded = step(deputy, f"replies/{reply_id}", {"comment": "同意"})
    assert responded["replies"][0]["status"] == "approved"
    assert any(
        d["kind"] == "formal_reply" and d["state"] in ("met", "missed") for d in responded["deadlines"]
    )
    assert "没有正在计时" in error_of(office.post(f"/cases/{case_id}/extend", {"reason": "调取病历"}), 400)
    step(office, "evidence", {"post_id": 1, "note": "首发微博"})
    evidence = step(office, "evidence", {"post_id": 1})["evidence"]  # the same post twice is one piece
    assert [(e["post_id"], e["note"]) for e in evidence] == [(1, "首发微博")]
    tasked = step(office, "tasks", {"unit": "市卫生健康委员会", "text": "组织专家调查", "working_days": 2})
    task_id = tasked["tasks"][0]["id"]
    assert "调整工单等级" in error_of(
        office.post(f"/cases/{case_id}/regrade", {"grade": "II", "reason": "x"}), 403
    )
    assert step(chief, "regrade", {"grade": "II", "reason": "经核实无其他伤亡"})["grade"] == "重大"
    step(office, "advance", {"stage": "following"})
    assert "部门任务未完成" in error_of(office.post(f"/cases/{case_id}/close", {"summary": "已平息"}), 409)
    step(office, f"tasks/{task_id}/done", {"result": "调查报告已提交"})
    closed = step(deputy, "close", {"summary": "事件平息，处置及时。"})
    assert closed["stage"] == "closed" and closed["closed_at"]
    assert {e["via"] for e in closed["timeline"]} == {"api", "system"}

    listed = office.get("/cases", stage="结案").json()
    assert [c["id"] for c in listed["items"]] == [case_id] and listed["items"][0]["next_deadline"] is None
    assert office.get("/cases", stage="disposing").json()["items"] == []
    assert "未知的阶段" in error_of(office.get("/cases", stage="nowhere"), 400)
    assert office.get(f"/cases/{case_id}").json()["summary"] == "事件平息，处置及时。"
    assert error_of(office.get("/cases/999"), 404) == not_found("工单 #999")


def test_case_list_is_paginated(world: World) -> None:
    office = api(world, "office")
    # three posts of no event (no topic takes them): three cases opened by hand
    rows = [
        {"id": f"m{n}", "text": f"第{n}条：某小区楼道堆放杂物，居民投诉多日无人处理。"} for n in (1, 2, 3)
    ]
    import_posts(world.rt, rows, "manual.jsonl")
    with world.rt.sessions() as session:
        posts = session.scalars(select(Post.id).where(Post.external_id.in_(["m1", "m2", "m3"]))).all()
    ids = [office.post("/cases", {"post_id": n}).json()["id"] for n in sorted(posts)]
    first = office.get("/cases", limit=2).json()
    assert [c["id"] for c in first["items"]] == ids[::-1][:2] and first["has_more"] is True
    rest = office.get("/cases", limit=2, offset=2).json()
    assert [c["id"] for c in rest["items"]] == ids[:1] and rest["has_more"] is False
    assert first["items"][0]["next_deadline"]["kind"] in {"report", "first_response", "release"}


def test_organisation_duty_and_statistics(world: World) -> None:
    office = api(world, "office")
    [city] = office.get("/org/units").json()
    assert city["name"] == "南京市人民政府"
    assert [u["name"] for u in city["children"]] == ["市卫生健康委员会", "市教育局"]
    people = office.get("/org/people", unit="市卫生健康委员会").json()
    assert {p["name"] for p in people["items"]} == {"王值班", "孙监测", "李办公室", "赵分管"}
    paged = office.get("/org/people", limit=5, offset=5).json()
    assert len(paged["items"]) == 2 and paged["has_more"] is False  # seven people in all
    assert error_of(office.get("/org/people", unit="火星局"), 404).startswith("找不到单位 火星局")
    assert office.get("/org/people/duty").json()["roles"][0]["label"] == "值班员"

    now = office.get("/org/duty/now", unit="市卫生健康委员会").json()
    # the open 特别重大 alert has put the unit on 24-hour duty before any case (PRODUCT.md §2.7)
    assert [p["name"] for p in now["people"]] == ["王值班"] and now["round_the_clock"] is True
    assert now["reasons"] == [f"特别重大预警待处置（预警 #{world.alert_id}）"]
    night = office.get("/org/duty/now", unit="市教育局", at="2026-11-21T23:00").json()
    assert night["people"] == [] and night["answered_by"] is None
    shifts = office.get(
        "/org/duty/shifts", unit="市卫生健康委员会", **{"from": "2026-11-23", "to": "2026-11-24"}
    )
    assert [s["person"] for s in shifts.json()] == ["王值班"] * 3  # 22nd's, 23rd's and 24th's shifts
    gaps = office.get("/org/duty/gaps", unit="市教育局", **{"from": "2026-11-23", "to": "2026-11-23"}).json()
    assert gaps and all(g["hours"] > 0 for g in gaps)
    assert "无法识别" in error_of(office.get("/org/duty/now", unit="市教育局", at="昨天"), 400)

    office.post("/cases", {"event_id": world.event_id})
    report = office.get("/stats", **{"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert report["cases"] == 1
    assert office.get("/stats", **{"from": "2026-12-01"}).json()["cases"] == 0
    assert "应为日期" in error_of(office.get("/stats", **{"from": "11月"}), 400)


def test_my_notifications_and_marking_them_read(world: World) -> None:
    deliver_due(world.rt)  # the alert's in-app notice reaches the duty officer's inbox
    duty, office = api(world, "duty"), api(world, "office")
    mine = duty.get("/me/notifications").json()
    assert mine["unread"] == 1 and "特别重大舆情预警" in mine["items"][0]["title"]
    assert mine["items"][0]["subject"] == {"kind": "alert", "id": world.alert_id}
    assert office.get("/me/notifications").json() == {"unread": 0, "items": []}  # one's own only
    assert duty.client.get("/").text.count("1 条未读") == 1
    assert duty.post("/me/notifications/read").json() == {"marked": 1}
    assert duty.get("/me/notifications", unread=True).json()["items"] == []


def test_openapi_lists_the_routes_with_chinese_summaries(world: World) -> None:
    schema = world.login("office").get("/openapi.json").json()  # the description is for signed-in people
    paths = schema["paths"]
    assert paths["/api/v1/cases/{case_id}/release"]["post"]["summary"] == "发布经审批的声明（审批不全时拒绝）"
    assert paths["/api/v1/alerts/{alert_id}/ack"]["post"]["summary"] == "确认预警（停止升级通知）"
    for path in (
        "/api/v1/org/duty/now",
        "/api/v1/stats",
        "/api/v1/me/notifications",
        "/api/v1/cases/{case_id}/tasks/{task_id}/done",
    ):
        assert path in paths
    assert not any(
        p.startswith(("/cases", "/events", "/alerts")) for p in paths
    )  # pages stay out of the schema
